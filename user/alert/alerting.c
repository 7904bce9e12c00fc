/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "alert/alerting.h"
#include "alert/deliver.h"
#include "alert/engine.h"
#include "cli.h"
#include "config.h"
#include "core/families.h"

struct alerting {
	const struct alert_config *cfg;
	struct alerts *engine;
	struct deliver *deliver;
	uint64_t next_eval, eval_ns;
	int eval_errors;
	struct deliver_stats last[ALERT_MAX_SINKS];	/* already added to the store */
};

/* Delivery counts into the store (family alert_sink), as deltas. */
static void publish(struct alerting *a, struct store *st, uint64_t now_ns)
{
	struct family *f = families__lookup(st, FAM_ALERT_SINK);
	unsigned int i;

	if (!f)
		f = families__register(st, FAM_ALERT_SINK, 0);
	for (i = 0; f && i < a->cfg->nsinks; i++) {
		struct label l[2] = { { "sink", a->cfg->sinks[i].name },
				      { "type", alert_rules__sink_type_name(a->cfg->sinks[i].type) } };
		struct series *se = family__series(f, l, 2);
		struct deliver_stats ds, *p = &a->last[i];

		if (!se)
			continue;	/* ENOMEM: the deltas wait for the next round */
		deliver__stats(a->deliver, i, &ds);
		series__add(se, now_ns, ASK_QUEUED, ds.queued - p->queued);
		series__add(se, now_ns, ASK_SENT, ds.sent - p->sent);
		series__add(se, now_ns, ASK_FAILED, ds.failed - p->failed);
		series__add(se, now_ns, ASK_DROPPED, ds.dropped - p->dropped);
		series__add(se, now_ns, ASK_RETRIES, ds.retries - p->retries);
		*p = ds;
	}
}

int alerting__start(struct alerting **out, struct probe_config *cfg, const struct cli *cli,
		    FILE *stdout_sink, char *err, size_t errlen)
{
	struct alert_config *ac = &cfg->alerts;
	struct alerting *a;
	unsigned int i;
	int ret;

	*out = NULL;
	for (i = 0; i < cli->nalertmanager; i++)
		if ((ret = alert_sinks__add(ac, SINK_ALERTMANAGER, cli->alertmanager[i], err, errlen)))
			return ret;
	for (i = 0; i < cli->nwebhook; i++)
		if ((ret = alert_sinks__add(ac, SINK_WEBHOOK, cli->webhook[i], err, errlen)))
			return ret;
	if (ac->enabled == CFG_OFF && ac->nsinks)
		fprintf(stderr, "probe: alerts: alerts.enabled is false; %u sink(s) unused\n",
			ac->nsinks);
	if (ac->enabled == CFG_OFF || !ac->nsinks)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto nomem;
	a->cfg = ac;
	a->eval_ns = (uint64_t)(ac->eval_s * 1e9);
	a->deliver = deliver__new(ac, stdout_sink);
	if (!a->deliver) {
		ret = -errno;
		snprintf(err, errlen, "alert delivery: %s", strerror(errno));
		free(a);
		return ret;
	}
	a->engine = alerts__new(ac, deliver__notify, a->deliver);
	if (!a->engine) {
		deliver__free(a->deliver);
		free(a);
		goto nomem;
	}
	*out = a;
	fprintf(stderr, "probe: alerts: %u rule(s), every %g s, to", ac->nrules, ac->eval_s);
	for (i = 0; i < ac->nsinks; i++)
		fprintf(stderr, " %s", ac->sinks[i].name);
	fputc('\n', stderr);
	return 0;
nomem:
	snprintf(err, errlen, "alerts: out of memory");
	return -ENOMEM;
}

void alerting__tick(struct alerting *a, struct store *st, uint64_t now_ns)
{
	struct timespec ts;

	if (!a || now_ns < a->next_eval)
		return;
	a->next_eval = now_ns + a->eval_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (alerts__evaluate(a->engine, st, now_ns, (double)ts.tv_sec + ts.tv_nsec / 1e9) &&
	    !a->eval_errors++)
		fprintf(stderr, "probe: alerts: evaluation ran out of memory; some rules skipped\n");
	publish(a, st, now_ns);
}

static void alerting__report(struct alerting *a, FILE *out, int json)
{
	struct alerts_stats as;
	cJSON *o, *sinks;
	unsigned int i;
	char *text;

	if (!a)
		return;
	alerts__stats(a->engine, &as);
	if (!json) {
		fprintf(out, "probe: alerts: %llu evaluation(s), %llu triggered, %llu repeated, "
			"%llu resolved, %u firing, %llu untracked (max_alerts)\n",
			(unsigned long long)as.evaluations, (unsigned long long)as.triggers,
			(unsigned long long)as.repeats, (unsigned long long)as.resolves, as.firing,
			(unsigned long long)as.dropped);
		for (i = 0; i < a->cfg->nsinks; i++) {
			struct deliver_stats ds;

			deliver__stats(a->deliver, i, &ds);
			fprintf(out, "probe: alerts: %s: %llu queued, %llu sent, %llu failed, "
				"%llu dropped (queue full or shutdown), %llu retries\n",
				a->cfg->sinks[i].name, (unsigned long long)ds.queued,
				(unsigned long long)ds.sent, (unsigned long long)ds.failed,
				(unsigned long long)ds.dropped, (unsigned long long)ds.retries);
		}
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "alerts");
	cJSON_AddNumberToObject(o, "evaluations", (double)as.evaluations);
	cJSON_AddNumberToObject(o, "triggered", (double)as.triggers);
	cJSON_AddNumberToObject(o, "repeated", (double)as.repeats);
	cJSON_AddNumberToObject(o, "resolved", (double)as.resolves);
	cJSON_AddNumberToObject(o, "firing", as.firing);
	cJSON_AddNumberToObject(o, "untracked", (double)as.dropped);
	cJSON_AddNumberToObject(o, "queue_bound", a->cfg->queue);
	cJSON_AddNumberToObject(o, "queue_max_depth", deliver__max_depth(a->deliver));
	sinks = cJSON_AddObjectToObject(o, "sinks");
	for (i = 0; i < a->cfg->nsinks; i++) {
		struct deliver_stats ds;
		cJSON *s = cJSON_AddObjectToObject(sinks, a->cfg->sinks[i].name);

		deliver__stats(a->deliver, i, &ds);
		cJSON_AddStringToObject(s, "type", alert_rules__sink_type_name(a->cfg->sinks[i].type));
		cJSON_AddNumberToObject(s, "queued", (double)ds.queued);
		cJSON_AddNumberToObject(s, "sent", (double)ds.sent);
		cJSON_AddNumberToObject(s, "failed", (double)ds.failed);
		cJSON_AddNumberToObject(s, "dropped", (double)ds.dropped);
		cJSON_AddNumberToObject(s, "retries", (double)ds.retries);
	}
	text = cJSON_PrintUnformatted(o);
	if (text)
		fprintf(out, "%s\n", text);
	free(text);
	cJSON_Delete(o);
}

void alerting__stop(struct alerting *a, int json)
{
	if (!a)
		return;
	/* finish delivery first, so the report counts its last attempts */
	deliver__shutdown(a->deliver);
	alerting__report(a, stderr, 0);
	if (json)
		alerting__report(a, stdout, 1);
	deliver__free(a->deliver);
	alerts__free(a->engine);
	free(a);
}
