/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The body each receiver expects:
 *  - Alertmanager API v2: POST /api/v2/alerts, an array of alerts; labels
 *    identify the alert (alertname, severity, the group's labels, the
 *    rule's labels), annotations carry the text and current value. While
 *    firing, endsAt is 4 keep-alive periods ahead, so a probe that dies
 *    lets its alerts expire; a resolve sets endsAt to now.
 *  - Slack incoming webhook: {"text": ...}.
 *  - PagerDuty Events v2: trigger and resolve with the same dedup_key.
 *  - generic webhook and stdout: one flat object, "status" firing/resolved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "alert/deliver.h"

static void iso8601(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;
	int ms = (int)((t - (double)s) * 1000);
	char date[32];

	gmtime_r(&s, &tm);

	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.24s.%03dZ", date, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

static void add_labels(cJSON *o, const struct alert_event *ev)
{
	const struct alert_rule *r = ev->rule;
	unsigned int i;

	cJSON_AddStringToObject(o, "alertname", r->name);
	cJSON_AddStringToObject(o, "severity", alert_rules__severity_name(r->severity));
	for (i = 0; i < ev->nlabels; i++)
		if (!cJSON_GetObjectItemCaseSensitive(o, ev->labels[i].key))
			cJSON_AddStringToObject(o, ev->labels[i].key, ev->labels[i].value);
	for (i = 0; i < r->nlabels; i++)
		if (!cJSON_GetObjectItemCaseSensitive(o, r->labels[i].key))
			cJSON_AddStringToObject(o, r->labels[i].key, r->labels[i].value);
}

static cJSON *alertmanager(const struct alert_event *ev, double keepalive_s, const char *host)
{
	cJSON *arr = cJSON_CreateArray(), *a = cJSON_CreateObject(), *l, *an;
	char t[40];

	cJSON_AddItemToArray(arr, a);
	l = cJSON_AddObjectToObject(a, "labels");
	add_labels(l, ev);
	if (!cJSON_GetObjectItemCaseSensitive(l, "instance"))
		cJSON_AddStringToObject(l, "instance", host);
	an = cJSON_AddObjectToObject(a, "annotations");
	cJSON_AddStringToObject(an, "summary", ev->summary);
	cJSON_AddStringToObject(an, "value", ev->value_text);
	cJSON_AddStringToObject(an, "threshold", ev->threshold_text);
	cJSON_AddStringToObject(an, "dedup_key", ev->dedup_key);
	iso8601(ev->starts_at, t, sizeof(t));
	cJSON_AddStringToObject(a, "startsAt", t);
	iso8601(ev->action == ALERT_RESOLVE ? ev->now : ev->now + 4 * keepalive_s, t, sizeof(t));
	cJSON_AddStringToObject(a, "endsAt", t);
	return arr;
}

static cJSON *slack(const struct alert_event *ev)
{
	cJSON *o = cJSON_CreateObject();
	char text[ALERT_SUMMARY_MAX + 160];

	snprintf(text, sizeof(text), "[%s %s] %s: %s",
		 ev->action == ALERT_RESOLVE ? "RESOLVED" : ev->action == ALERT_REPEAT ? "STILL FIRING"
		 : "FIRING", alert_rules__severity_name(ev->rule->severity), ev->rule->name,
		 ev->summary);
	cJSON_AddStringToObject(o, "text", text);
	return o;
}

static cJSON *pagerduty(const struct alert_sink *s, const struct alert_event *ev, const char *host)
{
	cJSON *o = cJSON_CreateObject(), *p, *cd;
	char t[40], summary[1024];

	cJSON_AddStringToObject(o, "routing_key", s->routing_key);
	cJSON_AddStringToObject(o, "event_action", ev->action == ALERT_RESOLVE ? "resolve" : "trigger");
	cJSON_AddStringToObject(o, "dedup_key", ev->dedup_key);
	if (ev->action == ALERT_RESOLVE)
		return o;
	p = cJSON_AddObjectToObject(o, "payload");
	/* PagerDuty caps the summary at 1024 characters */
	snprintf(summary, sizeof(summary), "%s: %s", ev->rule->name, ev->summary);
	cJSON_AddStringToObject(p, "summary", summary);
	cJSON_AddStringToObject(p, "source", host);
	cJSON_AddStringToObject(p, "severity", alert_rules__severity_name(ev->rule->severity));
	iso8601(ev->starts_at, t, sizeof(t));
	cJSON_AddStringToObject(p, "timestamp", t);
	cJSON_AddStringToObject(p, "component", ev->rule->family);
	cJSON_AddStringToObject(p, "class", ev->rule->name);
	cd = cJSON_AddObjectToObject(p, "custom_details");
	add_labels(cd, ev);
	cJSON_AddStringToObject(cd, "value", ev->value_text);
	cJSON_AddStringToObject(cd, "threshold", ev->threshold_text);
	return o;
}

static cJSON *generic(const struct alert_event *ev, const char *host, int stdout_line)
{
	cJSON *o = cJSON_CreateObject(), *l;
	char t[40];

	if (stdout_line)
		cJSON_AddStringToObject(o, "type", "alert");
	cJSON_AddStringToObject(o, "status", ev->action == ALERT_RESOLVE ? "resolved" : "firing");
	cJSON_AddBoolToObject(o, "repeat", ev->action == ALERT_REPEAT);
	cJSON_AddStringToObject(o, "rule", ev->rule->name);
	cJSON_AddStringToObject(o, "severity", alert_rules__severity_name(ev->rule->severity));
	cJSON_AddStringToObject(o, "summary", ev->summary);
	cJSON_AddNumberToObject(o, "value", ev->value);
	cJSON_AddStringToObject(o, "value_text", ev->value_text);
	cJSON_AddNumberToObject(o, "threshold", ev->rule->above);
	cJSON_AddStringToObject(o, "threshold_text", ev->threshold_text);
	l = cJSON_AddObjectToObject(o, "labels");
	add_labels(l, ev);
	cJSON_AddStringToObject(o, "dedup_key", ev->dedup_key);
	cJSON_AddStringToObject(o, "host", host);
	iso8601(ev->starts_at, t, sizeof(t));
	cJSON_AddStringToObject(o, "startsAt", t);
	if (ev->action == ALERT_RESOLVE) {
		iso8601(ev->now, t, sizeof(t));
		cJSON_AddStringToObject(o, "endsAt", t);
	}
	return o;
}

char *alert_payload__render(const struct alert_sink *s, const struct alert_event *ev,
			    double keepalive_s, const char *host)
{
	cJSON *o = NULL;
	char *text;

	errno = 0;
	if (ev->rule->severity > s->min_severity)
		return NULL;
	if (ev->action == ALERT_KEEPALIVE && s->type != SINK_ALERTMANAGER)
		return NULL;
	switch (s->type) {
	case SINK_ALERTMANAGER:
		o = alertmanager(ev, keepalive_s, host);
		break;
	case SINK_SLACK:
		o = slack(ev);
		break;
	case SINK_PAGERDUTY:
		o = pagerduty(s, ev, host);
		break;
	case SINK_WEBHOOK:
	case SINK_STDOUT:
		o = generic(ev, host, s->type == SINK_STDOUT);
		break;
	default:
		return NULL;
	}
	text = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!text)
		errno = ENOMEM;
	return text;
}
