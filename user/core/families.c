/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one table of store families. Export names follow the OpenTelemetry
 * semantic conventions where one exists (http.server.request.duration,
 * db.client.operation.duration, process.pid, ...); probe's own figures use
 * the probe. prefix. Units are UCUM as OpenTelemetry expects them; the
 * Prometheus exporter derives suffixes (_seconds, _bytes, _total) from them.
 */
#include <errno.h>
#include <string.h>

#include "core/families.h"
#include "proc/attrib.h"

#define L(k, a)		{ .key = (k), .attr = (a) }
#define L_HP(k, a, p)	{ .key = (k), .attr = (a), .attr_port = (p), .flags = LABEL_HOSTPORT }
#define L_N(k, a)	{ .key = (k), .attr = (a), .flags = LABEL_NUMBER }

/* Labels shared by the per-process families. */
#define L_PID		L_N("pid", "process.pid")
#define L_COMM		L("comm", "process.executable.name")
#define L_START		L_N("start", "process.start_time")
/*
 * Where the process runs (proc/attrib.h), last in every per-process
 * family; "" when not in a container or not in Kubernetes.
 */
#define L_ATTRIB	L("container_id", "container.id"), L("k8s_pod_name", "k8s.pod.name"), \
			L("k8s_namespace_name", "k8s.namespace.name"), \
			L("k8s_node_name", "k8s.node.name")

static const struct family_desc table[FAM_MAX] = {
	[FAM_PROBE_SIGNAL] = {
		.name = "probe_signal",
		.help = "events each signal saw and lost",
		.max_series = 64,
		.nlabels = 1,
		.labels = { L("signal", "signal") },
		.ncounters = PROBE_SIGNAL_NCOUNTERS,
		.counters = {
			[PROBE_SIGNAL_EVENTS] = { "events", "{event}",
				"events each signal decoded", "probe.events" },
			[PROBE_SIGNAL_LOST] = { "lost", "{event}",
				"events each signal lost (ring buffer full, map full, sampled away)",
				"probe.events.lost" },
		},
		.ngauges = PROBE_SIGNAL_NGAUGES,
		.gauges = {
			[PROBE_SIGNAL_LIVE] = { "live", "", "1 while the signal is loaded and attached, "
				"0 when off, unavailable or failed", "probe.signal.live" },
		},
	},
	[FAM_SYSCALL] = {
		.name = "syscall",
		.help = "syscalls per process: calls, errors, latency",
		.max_series = 20000,
		.nlabels = 3 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L("syscall", "syscall"), L_ATTRIB },
		.ncounters = SYSCALL_NCOUNTERS,
		.counters = {
			[SYSCALL_CALLS] = { "calls", "{call}", "syscalls made",
				"probe.syscall.calls" },
			[SYSCALL_ERRORS] = { "errors", "{call}", "syscalls that returned an error",
				"probe.syscall.errors" },
		},
		.hist_unit = "ns",
		.hist_help = "syscall latency",
		.hist_export = "probe.syscall.duration",
	},
	[FAM_SYSCALL_ERRNO] = {
		.name = "syscall_errno",
		.help = "failed syscalls per process by errno",
		.max_series = 4096,
		.nlabels = 4 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L("syscall", "syscall"), L_N("errno", "error.type"), L_ATTRIB },
		.ncounters = SYSCALL_ERRNO_NCOUNTERS,
		.counters = {
			[SYSCALL_ERRNO_CALLS] = { "calls", "{call}", "failed syscalls by errno",
				"probe.syscall.failures" },
		},
	},
	[FAM_HTTP_SERVER] = {
		.name = "http_server",
		.help = "HTTP requests served per service, method, route and status class",
		/* the cap comes from the config (store.max_series) */
		.max_series = 5000,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L("comm", "service.name"), L("exe", "process.executable.name"),
			    L("method", "http.request.method"), L("route", "http.route"),
			    L("status_class", "http.response.status_code"), L_ATTRIB },
		.ncounters = HTTP_NCOUNTERS,
		/* requests and errors are the histogram's count by status */
		.counters = {
			[HTTP_REQUESTS] = { "requests", "{request}", "requests served" },
			[HTTP_ERRORS_4XX] = { "errors_4xx", "{request}", "requests answered 4xx" },
			[HTTP_ERRORS_5XX] = { "errors_5xx", "{request}", "requests answered 5xx" },
		},
		.hist_unit = "ns",
		.hist_help = "duration of HTTP server requests",
		.hist_export = "http.server.request.duration",
	},
	[FAM_HTTP_CLIENT] = {
		.name = "http_client",
		.help = "HTTP requests made per process, host, peer, method, status class and route",
		.max_series = 5000,
		.nlabels = 7 + ATTRIB_NLABELS,
		.labels = { L("comm", "service.name"), L("exe", "process.executable.name"),
			    L("host", "server.address"),
			    L_HP("peer", "network.peer.address", "network.peer.port"),
			    L("method", "http.request.method"),
			    L("status_class", "http.response.status_code"),
			    L("route", "http.route"), L_ATTRIB },
		.ncounters = HTTP_NCOUNTERS,
		.counters = {
			[HTTP_REQUESTS] = { "requests", "{request}", "requests made" },
			[HTTP_ERRORS_4XX] = { "errors_4xx", "{request}", "requests answered 4xx" },
			[HTTP_ERRORS_5XX] = { "errors_5xx", "{request}", "requests answered 5xx" },
		},
		.hist_unit = "ns",
		.hist_help = "duration of HTTP client requests",
		.hist_export = "http.client.request.duration",
	},
	[FAM_HTTP_STATS] = {
		.name = "http_stats",
		.help = "HTTP capture: what could not be parsed or timed",
		.max_series = 32,
		.nlabels = 1,
		.labels = { L("what", "reason") },
		.ncounters = STATS_NCOUNTERS,
		.counters = {
			[STATS_COUNT] = { "count", "{event}",
				"HTTP capture problems by reason: not parsed, not timed, "
				"routes past the per-service cap, request targets cut "
				"(route_cut)", "probe.http.capture.problems" },
		},
	},
	[FAM_TLS_HANDSHAKE] = {
		.name = "tls_handshake",
		.help = "TLS handshakes per process, side, server name (SNI, else peer) and peer",
		.max_series = 4096,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L("comm", "service.name"), L("exe", "process.executable.name"),
			    L("role", "probe.tls.role"), L("host", "server.address"),
			    L_HP("peer", "network.peer.address", "network.peer.port"), L_ATTRIB },
		.ncounters = TLS_HS_NCOUNTERS,
		.counters = {
			/* handshakes: the histogram's count */
			[TLS_HS_HANDSHAKES] = { "handshakes", "{handshake}", "TLS handshakes completed" },
			[TLS_HS_FAILURES] = { "failures", "{handshake}",
				"TLS handshakes that failed or were abandoned",
				"probe.tls.handshake.failures" },
		},
		.hist_unit = "ns",
		.hist_help = "duration of completed TLS handshakes",
		.hist_export = "probe.tls.handshake.duration",
	},
	[FAM_TLS_STATS] = {
		.name = "tls_stats",
		.help = "TLS capture: libraries attached, plaintext lost",
		.max_series = 16,
		.nlabels = 1,
		.labels = { L("what", "reason") },
		.ncounters = STATS_NCOUNTERS,
		.counters = {
			[STATS_COUNT] = { "count", "{event}",
				"TLS capture events by reason: libraries attached and detached, "
				"plaintext seen and lost", "probe.tls.capture.events" },
		},
	},
	[FAM_TCP_CONNECT] = {
		.name = "tcp_connect",
		.help = "outbound TCP connects per process and destination: outcome, duration",
		.max_series = 5000,
		.nlabels = 4 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L_HP("dest", "server.address", "server.port"),
			    L("kind", "network.protocol.name"), L_ATTRIB },
		.ncounters = CC_MAX,
		.counters = {
			[CC_ATTEMPTS] = { "attempts", "{connect}", "outbound TCP connects begun",
				"probe.tcp.connect.attempts" },
			[CC_ESTABLISHED] = { "established", "{connect}",
				"outbound TCP connects that established",
				"probe.tcp.connect.established" },
			[CC_FAILED] = { "failed", "{connect}", "outbound TCP connects that failed" },
			[CC_REFUSED] = { "refused", "{connect}", "failed outbound TCP connects by reason",
				"probe.tcp.connect.errors", "error.type", "refused" },
			[CC_TIMEOUT] = { "timeout", "{connect}", "failed outbound TCP connects by reason",
				"probe.tcp.connect.errors", "error.type", "timeout" },
			[CC_UNREACHABLE] = { "unreachable", "{connect}",
				"failed outbound TCP connects by reason",
				"probe.tcp.connect.errors", "error.type", "unreachable" },
			[CC_ABORTED] = { "aborted", "{connect}", "failed outbound TCP connects by reason",
				"probe.tcp.connect.errors", "error.type", "aborted" },
			[CC_OTHER] = { "other", "{connect}", "failed outbound TCP connects by reason",
				"probe.tcp.connect.errors", "error.type", "other" },
		},
		.hist_unit = "ns",
		.hist_help = "duration of outbound TCP connects that established",
		.hist_export = "probe.tcp.connect.duration",
	},
	[FAM_TCP_CONNECT_ERRNO] = {
		.name = "tcp_connect_errno",
		.help = "failed outbound TCP connects per process, destination and errno",
		.max_series = 2000,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L_HP("dest", "server.address", "server.port"),
			    L("kind", "network.protocol.name"), L_N("errno", "errno"), L_ATTRIB },
		.ncounters = CE_NCOUNTERS,
		.counters = {
			[CE_CONNECTS] = { "connects", "{connect}", "failed outbound TCP connects by errno",
				"probe.tcp.connect.failures" },
		},
	},
	[FAM_TCP_CONN] = {
		.name = "tcp_conn",
		.help = "outbound TCP connections per process and destination: open now, "
			"highest seen, lifetime, resets, retransmits",
		.max_series = 5000,
		.nlabels = 4 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L_HP("dest", "server.address", "server.port"),
			    L("kind", "network.protocol.name"), L_ATTRIB },
		.ncounters = KC_MAX,
		.counters = {
			[KC_OPENS] = { "opens", "{connection}", "outbound TCP connections opened",
				"probe.tcp.connections.opened" },
			[KC_CLOSES] = { "closes", "{connection}", "outbound TCP connections closed",
				"probe.tcp.connections.closed" },
			[KC_RESETS_IN] = { "resets_in", "{reset}", "TCP resets by direction",
				"probe.tcp.resets", "direction", "in" },
			[KC_RESETS_OUT] = { "resets_out", "{reset}", "TCP resets by direction",
				"probe.tcp.resets", "direction", "out" },
			[KC_RETRANSMITS] = { "retransmits", "{segment}", "TCP segments retransmitted",
				"probe.tcp.retransmits" },
			[KC_ERRORS] = { "errors", "{connection}",
				"outbound TCP connections that ended with an error",
				"probe.tcp.connections.errors" },
		},
		.ngauges = KG_MAX,
		.gauges = {
			[KG_ACTIVE] = { "active", "{connection}", "outbound TCP connections open now",
				"probe.tcp.connections.active" },
			[KG_ACTIVE_HIGHEST] = { "active_highest", "{connection}",
				"most outbound TCP connections open at once since start",
				"probe.tcp.connections.active.highest" },
			[KG_CONNECTING] = { "connecting", "{connection}",
				"outbound TCP connects waiting for an answer now",
				"probe.tcp.connections.connecting" },
			[KG_CONNECTING_HIGHEST] = { "connecting_highest", "{connection}",
				"most outbound TCP connects waiting at once since start",
				"probe.tcp.connections.connecting.highest" },
		},
		.hist_unit = "ns",
		.hist_help = "lifetime of outbound TCP connections",
		.hist_export = "probe.tcp.connection.lifetime",
	},
	[FAM_DB_QUERY] = {
		.name = "db_query",
		.help = "database queries per process, destination, kind and operation (client side)",
		/* the cap comes from the config (store.max_series) */
		.max_series = 5000,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L_PID, L("comm", "service.name"),
			    L_HP("dest", "server.address", "server.port"),
			    L("kind", "db.system.name"), L("op", "db.operation.name"), L_ATTRIB },
		.ncounters = DQ_MAX,
		.counters = {
			/* queries: the histogram's count */
			[DQ_QUERIES] = { "queries", "{query}", "database queries" },
			[DQ_ERRORS] = { "errors", "{query}", "database queries answered with an error",
				"probe.db.client.errors" },
			[DQ_HITS] = { "hits", "{query}", "cache reads that found the key",
				"probe.db.client.cache.hits" },
			[DQ_MISSES] = { "misses", "{query}", "cache reads that missed",
				"probe.db.client.cache.misses" },
		},
		.hist_unit = "ns",
		.hist_help = "duration of database client operations",
		.hist_export = "db.client.operation.duration",
	},
	[FAM_DB_STATS] = {
		.name = "db_stats",
		.help = "database query capture: what could not be parsed or timed",
		.max_series = 16,
		.nlabels = 1,
		.labels = { L("what", "reason") },
		.ncounters = STATS_NCOUNTERS,
		.counters = {
			[STATS_COUNT] = { "count", "{event}",
				"database capture problems by reason: not parsed or not timed",
				"probe.db.capture.problems" },
		},
	},
	[FAM_MEM_GROWTH] = {
		.name = "mem_growth",
		.help = "memory per process and its growth trend",
		.max_series = 4096,
		.nlabels = 2 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L_ATTRIB },
		.ngauges = MG_NGAUGES,
		.gauges = {
			[MG_RSS] = { "rss_bytes", "By", "resident memory", "probe.process.memory.rss" },
			[MG_RSS_ANON] = { "rss_anon_bytes", "By", "resident anonymous memory",
				"probe.process.memory.rss.anon" },
			[MG_HEAP] = { "heap_bytes", "By", "brk heap size",
				"probe.process.memory.heap" },
			[MG_ANON] = { "anon_bytes", "By", "private anonymous mappings beyond the heap",
				"probe.process.memory.anon" },
			[MG_RATE] = { "growth_bytes_per_s", "By/s", "memory growth trend (slope)",
				"probe.process.memory.growth" },
			[MG_FIT] = { "fit", "1", "how well a line fits the growth (0..1)",
				"probe.process.memory.growth.fit" },
			[MG_SUSPECT] = { "suspect", "", "1 when the process is a leak suspect",
				"probe.process.memory.leak.suspect" },
			[MG_ALIVE] = { "alive", "", "1 while the process runs, 0 after it exits",
				"probe.process.alive" },
		},
	},
	[FAM_MEM_LEAK] = {
		.name = "mem_leak",
		.help = "memory-growth suspects and sampled processes: the leak report",
		.max_series = 512,
		.nlabels = 3 + ATTRIB_NLABELS,
		.labels = { L_PID, L_START, L_COMM, L_ATTRIB },
		.ngauges = ML_NGAUGES,
		.gauges = {
			[ML_RATE] = { "growth_bytes_per_s", "By/s", "memory growth trend (slope)",
				"probe.memory.leak.growth" },
			[ML_OUTSTANDING] = { "outstanding_bytes", "By",
				"memory grown since the trend began", "probe.memory.leak.outstanding" },
			[ML_GROWTH_S] = { "growth_s", "s", "how long the process has been growing",
				"probe.memory.leak.growth.time" },
			[ML_SUSPECT] = { "suspect", "", "1 when the process is a leak suspect",
				"probe.memory.leak.suspect" },
			[ML_TIER2] = { "tier2", "", "1 when growth stacks are sampled",
				"probe.memory.leak.sampling" },
			[ML_SAMPLED] = { "sampled_bytes", "By", "growth bytes seen in sampled stacks",
				"probe.memory.leak.sampled" },
			[ML_FIT] = { "fit", "1", "how well a line fits the growth (0..1)",
				"probe.memory.leak.fit" },
			[ML_RSS] = { "rss_bytes", "By", "resident memory", "probe.memory.leak.rss" },
		},
	},
	[FAM_MEM_STACK] = {
		.name = "mem_stack",
		.help = "bytes of memory growth by user stack (sampled)",
		.max_series = 4096,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L_PID, L_START, L_COMM, L("kind", "probe.memory.kind"),
			    L("stack", "code.stacktrace"), L_ATTRIB },
		.ncounters = MS_NCOUNTERS,
		.counters = {
			[MS_BYTES] = { "bytes", "By", "memory growth by user stack (sampled)",
				"probe.memory.growth.stack" },
			[MS_SAMPLES] = { "samples", "{sample}", "growth samples by user stack",
				"probe.memory.growth.stack.samples" },
		},
	},
	[FAM_ALLOC_TARGET] = {
		.name = "alloc_target",
		.help = "processes whose allocator is traced (tier 3), with the estimated cost",
		.max_series = 256,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L("instance", "process.instance"), L("libc", "libc"),
			    L("probes", "probes"), L_ATTRIB },
		.ncounters = AT_NCOUNTERS,
		.counters = {
			[AT_CALLS] = { "calls", "{call}", "allocator calls traced",
				"probe.alloc.calls" },
			[AT_FREES] = { "frees", "{call}", "free calls traced", "probe.alloc.frees" },
		},
		.ngauges = TG_NGAUGES,
		.gauges = {
			[TG_ATTACHED] = { "attached", "", "1 while the allocator uprobes are attached",
				"probe.alloc.attached" },
			[TG_EXITED] = { "exited", "", "1 after the process exited",
				"probe.alloc.exited" },
			[TG_AUTO] = { "auto", "", "1 when attached automatically to a suspect",
				"probe.alloc.auto" },
			[TG_RATE] = { "calls_per_s", "{call}/s", "allocator calls per second",
				"probe.alloc.call.rate" },
			[TG_PCT] = { "est_cpu_pct", "%", "estimated CPU the tracing costs the process",
				"probe.alloc.cpu.estimate" },
			[TG_TRAP] = { "trap_us", "us", "measured cost of one uprobe trap",
				"probe.alloc.trap.cost" },
			[TG_TRACKED] = { "tracked", "{allocation}", "live allocations tracked",
				"probe.alloc.tracked" },
		},
	},
	[FAM_ALLOC_SITE] = {
		.name = "alloc_site",
		.help = "outstanding heap allocations by allocating call site (allocator uprobes)",
		.max_series = 4096,
		.nlabels = 4 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L("instance", "process.instance"),
			    L("site", "code.function.name"), L_ATTRIB },
		.ncounters = AS_NCOUNTERS,
		.counters = {
			[AS_ALLOCS] = { "allocs", "{allocation}", "allocations by call site",
				"probe.alloc.site.allocations" },
			[AS_FREES] = { "frees", "{allocation}", "frees of allocations by call site",
				"probe.alloc.site.frees" },
		},
		.ngauges = AS_NGAUGES,
		.gauges = {
			[AS_BYTES] = { "bytes", "By", "outstanding heap bytes by call site",
				"probe.alloc.site.outstanding" },
			[AS_COUNT] = { "count", "{allocation}", "outstanding allocations by call site",
				"probe.alloc.site.outstanding.allocations" },
			[AS_OLD_BYTES] = { "old_bytes", "By", "outstanding bytes older than the age threshold",
				"probe.alloc.site.outstanding.old" },
			[AS_OLDEST_S] = { "oldest_s", "s", "age of the oldest outstanding allocation",
				"probe.alloc.site.oldest" },
			[AS_GROWTH] = { "growth_bps", "By/s", "outstanding bytes growth trend",
				"probe.alloc.site.growth" },
			[AS_SUSPECT] = { "suspect", "", "1 when the site is a leak suspect",
				"probe.alloc.site.suspect" },
		},
	},
	[FAM_ALLOC_STACK] = {
		.name = "alloc_stack",
		.help = "outstanding heap bytes by allocating stack, estimated from sampled stacks",
		.max_series = 8192,
		.nlabels = 5 + ATTRIB_NLABELS,
		.labels = { L_PID, L_COMM, L("instance", "process.instance"),
			    L("site", "code.function.name"), L("stack", "code.stacktrace"), L_ATTRIB },
		.ngauges = AK_NGAUGES,
		.gauges = {
			[AK_BYTES] = { "bytes", "By", "outstanding heap bytes by stack (estimated)",
				"probe.alloc.stack.outstanding" },
			[AK_SAMPLED] = { "sampled", "{sample}", "sampled allocations by stack",
				"probe.alloc.stack.samples" },
		},
	},
	[FAM_ALERT_SINK] = {
		.name = "alert_sink",
		.help = "alert notifications per sink: queued, sent, failed, dropped, retried",
		.max_series = 16,
		.nlabels = 2,
		.labels = { L("sink", "probe.alert.sink"), L("type", "probe.alert.sink.type") },
		.ncounters = ASK_NCOUNTERS,
		.counters = {
			[ASK_QUEUED] = { "queued", "{notification}", "alert notifications queued",
				"probe.alert.notifications.queued" },
			[ASK_SENT] = { "sent", "{notification}", "alert notifications delivered",
				"probe.alert.notifications.sent" },
			[ASK_FAILED] = { "failed", "{notification}",
				"alert notifications given up (retries exhausted, or refused)",
				"probe.alert.notifications.failed" },
			[ASK_DROPPED] = { "dropped", "{notification}",
				"alert notifications dropped (queue full, or queued at exit)",
				"probe.alert.notifications.dropped" },
			[ASK_RETRIES] = { "retries", "{attempt}", "alert delivery attempts retried",
				"probe.alert.delivery.retries" },
		},
	},
};

unsigned int families__count(void)
{
	return FAM_MAX;
}

const struct family_desc *families__get(enum family_id id)
{
	return (unsigned int)id < FAM_MAX ? &table[id] : NULL;
}

const struct family_desc *families__find(const char *name)
{
	unsigned int i;

	for (i = 0; i < FAM_MAX; i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

struct family *families__register(struct store *st, enum family_id id, unsigned int max_series)
{
	struct family_desc d;

	if ((unsigned int)id >= FAM_MAX) {
		errno = EINVAL;
		return NULL;
	}
	d = table[id];
	if (max_series)
		d.max_series = max_series;
	return store__family(st, &d);
}

struct family *families__lookup(const struct store *st, enum family_id id)
{
	if ((unsigned int)id >= FAM_MAX)
		return NULL;
	return store__find_family(st, table[id].name);
}

int families__label_index(const struct family_desc *d, const char *key)
{
	unsigned int i;

	for (i = 0; i < d->nlabels; i++)
		if (!strcmp(d->labels[i].key, key))
			return (int)i;
	return -1;
}
