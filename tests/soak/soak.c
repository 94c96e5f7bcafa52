/*
 * baton_soak: producer threads end spans as fast as they can into the
 * batch processor and the OTLP/HTTP exporter while the collector (a local
 * test receiver) is down, then up, then flapping, then answering 429 with
 * "Retry-After: 0" (which must not turn retries into a storm), then up
 * again while a fanout broadcasts to recipients of which some are dead.
 * At the end it checks:
 *   - every span is accounted for: ended = exported + dropped (by reason),
 *     and the collector received at least every span reported exported;
 *   - resident memory stayed under a bound worked out from the span store
 *     and queue capacities;
 *   - shutdown finished within its timeout even with the collector hanging;
 *   - under "Retry-After: 0" the exporter kept its backoff: a few requests
 *     per second, not hundreds;
 *   - no broadcast took much more than one send timeout although a quarter
 *     of its recipients were dead, and the live ones got every message.
 * Prints one JSON line of figures and "1 passed, 0 failed" or the reason.
 *
 *   build/bin/baton_soak                 (CI: 2 s per phase)
 *   build/bin/baton_soak --seconds 60    (a long run: 60 s per phase)
 */
#include "otlp_receiver.h"

#include <baton/baton.h>
#include <baton/nng.h>
#include <baton/otlp_http.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <baton/processor.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE     8192
#define MAX_SPANS (QUEUE + 4096)
#define ARENA     2048
#define PRODUCERS 2

/* Sanitizers keep shadow memory that RSS counts: the memory bound is checked without
 * them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RSS_CHECKED 0
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED 1
#endif

static _Atomic bool stop;
static _Atomic uint64_t produced;

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void *producer(void *arg)
{
	baton_tracer *t = baton_tracer_get("soak", NULL);
	uint64_t n = 0;
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		baton_span s = baton_span_start(t, "soak.work");
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_set_int(s, "soak.seq", (int64_t)n);
		baton_span_set_bool(s, "soak.flag", (n & 1) != 0);
		baton_span_end(s);
		n++;
	}
	atomic_fetch_add(&produced, n);
	return NULL;
}

/* The fanout phase: FAN recipients, every fourth one dead (no peer). */
#define FAN         20
#define FAN_TIMEOUT 200 /* ms: the dead recipients' send timeout */
static nng_socket fan_tx[FAN], fan_rx[FAN];
static _Atomic bool fan_stop;
static uint64_t fan_broadcasts, fan_worst_ms, fan_expected, fan_delivered;

static bool fan_dead(int i)
{
	return i % 4 == 3;
}

static void *fan_drain(void *arg)
{
	(void)arg;
	while (!atomic_load(&fan_stop)) {
		bool any = false;
		for (int i = 0; i < FAN; i++) {
			nng_msg *m;
			if (fan_dead(i) ||
			    nng_recvmsg(fan_rx[i], &m, NNG_FLAG_NONBLOCK) != 0)
				continue;
			nng_msg_free(m);
			fan_delivered++;
			any = true;
		}
		if (!any)
			sched_yield();
	}
	return NULL;
}

static int fan_open(void)
{
	char url[64];
	for (int i = 0; i < FAN; i++) {
		if (nng_push0_open(&fan_tx[i]) != 0)
			return -1;
		nng_socket_set_ms(fan_tx[i], NNG_OPT_SENDTIMEO, FAN_TIMEOUT);
		if (fan_dead(i))
			continue;
		snprintf(url, sizeof(url), "inproc://soak-fan-%d", i);
		if (nng_pull0_open(&fan_rx[i]) != 0 ||
		    nng_listen(fan_rx[i], url, NULL, 0) != 0 ||
		    nng_dial(fan_tx[i], url, NULL, 0) != 0)
			return -1;
	}
	return 0;
}

static void fan_close(void)
{
	for (int i = 0; i < FAN; i++) {
		nng_close(fan_tx[i]);
		if (!fan_dead(i))
			nng_close(fan_rx[i]);
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	unsigned phase_s = 2;
	int c;
	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		if (c == 's' && atoi(optarg) > 0) {
			phase_s = (unsigned)atoi(optarg);
		} else {
			printf("usage: baton_soak [--seconds S]  (seconds per phase: "
			       "down, up, "
			       "flapping; default 2)\n");
			return c == 'h' ? 0 : 2;
		}
	}

	tu_otlp_receiver *rx = tu_otlp_start();
	if (rx == NULL) {
		fprintf(stderr, "soak: cannot start the test collector\n");
		return 1;
	}
	baton_otlp_http_options eo = {.size = sizeof(eo),
	                              .endpoint = tu_otlp_url(rx),
	                              .timeout_ms = 500,
	                              .retry_initial_ms = 20,
	                              .retry_max_ms = 200};
	baton_exporter exp;
	baton_processor proc;
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = QUEUE,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = 100,
	                          .export_timeout_ms = 1000};
	if (baton_otlp_http_exporter_create(&eo, &exp) != BATON_OK ||
	    baton_batch_processor_create(exp, &bo, &proc) != BATON_OK) {
		fprintf(stderr, "soak: cannot create the exporter\n");
		return 1;
	}
	baton_options o = {.size = sizeof(o),
	                   .service_name = "soak",
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = MAX_SPANS;
	o.limits.span_arena_bytes = ARENA;
	if (baton_init(&o) != BATON_OK) {
		fprintf(stderr, "soak: baton_init failed\n");
		return 1;
	}
	uint64_t rss0 = rss_bytes();
	/*
	 * The bound: every span record the store may hold, the ring, an encoded
	 * batch or two, and 64 MiB for libcurl, thread stacks and the allocator.
	 */
	uint64_t bound = rss0 + (uint64_t)MAX_SPANS * (ARENA + 512) +
	                 (uint64_t)QUEUE * 16 + (64u << 20);
	uint64_t rss_max = rss0;

	pthread_t th[PRODUCERS];
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, NULL);

	/* Phase 1: the collector is down (503 to everything). */
	tu_otlp_set_mode(rx, TU_OTLP_503, -1);
	for (unsigned i = 0; i < phase_s * 10; i++) {
		sleep_ms(100);
		uint64_t r = rss_bytes();
		rss_max = r > rss_max ? r : rss_max;
	}
	/* Phase 2: up. */
	tu_otlp_set_mode(rx, TU_OTLP_OK, -1);
	for (unsigned i = 0; i < phase_s * 10; i++) {
		sleep_ms(100);
		uint64_t r = rss_bytes();
		rss_max = r > rss_max ? r : rss_max;
	}
	/* Phase 3: flapping every 100 ms through refusals, drops, hangs and success. */
	static const tu_otlp_mode flap[] = {TU_OTLP_503,  TU_OTLP_OK,
	                                    TU_OTLP_DROP, TU_OTLP_429_SECONDS,
	                                    TU_OTLP_OK,   TU_OTLP_HANG};
	for (unsigned i = 0; i < phase_s * 10; i++) {
		tu_otlp_set_mode(rx, flap[i % (sizeof(flap) / sizeof(flap[0]))], -1);
		sleep_ms(100);
		uint64_t r = rss_bytes();
		rss_max = r > rss_max ? r : rss_max;
	}
	/* Phase 4: "429, Retry-After: 0" to everything. */
	tu_otlp_set_mode(rx, TU_OTLP_429_ZERO, -1);
	uint64_t req0 = tu_otlp_get_counts(rx).requests;
	uint64_t ra0_t0 = baton_time_mono_ns();
	for (unsigned i = 0; i < phase_s * 10; i++) {
		sleep_ms(100);
		uint64_t r = rss_bytes();
		rss_max = r > rss_max ? r : rss_max;
	}
	double ra0_s = (double)(baton_time_mono_ns() - ra0_t0) / 1e9;
	double ra0_rate = (double)(tu_otlp_get_counts(rx).requests - req0) / ra0_s;
	/* Phase 5: up, while a fanout keeps broadcasting to partly dead recipients. */
	tu_otlp_set_mode(rx, TU_OTLP_OK, -1);
	bool fan_ok = fan_open() == 0;
	pthread_t drain;
	pthread_create(&drain, NULL, fan_drain, NULL);
	uint64_t fan_end = baton_time_mono_ns() + (uint64_t)phase_s * 1000000000u;
	while (fan_ok && baton_time_mono_ns() < fan_end) {
		size_t sent = 0;
		uint64_t b0 = baton_time_mono_ns();
		baton_nng_broadcast(fan_tx, FAN, "fan", 3, 0, NULL, &sent);
		uint64_t took = (baton_time_mono_ns() - b0) / 1000000u;
		fan_worst_ms = took > fan_worst_ms ? took : fan_worst_ms;
		fan_expected += FAN - FAN / 4;
		fan_broadcasts++;
		if (sent != FAN - FAN / 4)
			fan_ok = false;
		uint64_t r = rss_bytes();
		rss_max = r > rss_max ? r : rss_max;
	}
	sleep_ms(100); /* the drain catches up */
	atomic_store(&fan_stop, true);
	pthread_join(drain, NULL);
	fan_close();
	atomic_store(&stop, true);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);

	/* Shut down while the collector hangs: must return within its timeout. */
	tu_otlp_set_mode(rx, TU_OTLP_HANG, -1);
	const uint32_t timeout_ms = 3000;
	uint64_t t0 = baton_time_mono_ns();
	proc.ops->shutdown(proc.arg, timeout_ms);
	uint64_t shut_ms = (baton_time_mono_ns() - t0) / 1000000u;

	baton_batch_stats bs;
	baton_sdk_stats ss;
	baton_batch_processor_stats(proc, &bs);
	baton_sdk_stats_get(&ss);
	baton_fini(1000);
	tu_otlp_counts rc = tu_otlp_get_counts(rx);
	tu_otlp_stop(rx);

	uint64_t dropped =
	    bs.dropped_queue_full + bs.dropped_shutdown + bs.dropped_export_failure;
	printf(
	    "{\"soak_seconds_per_phase\": %u, \"produced\": %" PRIu64
	    ", \"started\": %" PRIu64 ", \"no_record\": %" PRIu64 ", \"ended\": %" PRIu64
	    ", \"received\": %" PRIu64 ", \"exported\": %" PRIu64
	    ", \"dropped_queue_full\": %" PRIu64 ", \"dropped_shutdown\": %" PRIu64
	    ", \"dropped_export_failure\": %" PRIu64 ", \"collector_spans\": %" PRIu64
	    ", \"export_requests\": %" PRIu64 ", \"retries\": %" PRIu64
	    ", \"rss_start_mib\": %.1f, \"rss_max_mib\": %.1f"
	    ", \"rss_bound_mib\": %.1f, \"rss_checked\": %s, \"shutdown_ms\": %" PRIu64
	    ", \"retry_after_0_requests_per_s\": %.1f, \"fanout_broadcasts\": %" PRIu64
	    ", \"fanout_worst_ms\": %" PRIu64 ", \"fanout_delivered\": %" PRIu64 " }\n",
	    phase_s, produced, ss.spans_started, ss.spans_dropped_no_store,
	    ss.spans_ended, bs.spans_received, bs.spans_exported, bs.dropped_queue_full,
	    bs.dropped_shutdown, bs.dropped_export_failure, rc.spans, bs.export_requests,
	    bs.export_retries, rss0 / 1048576.0, rss_max / 1048576.0, bound / 1048576.0,
	    RSS_CHECKED ? "true" : "false", shut_ms, ra0_rate, fan_broadcasts,
	    fan_worst_ms, fan_delivered);

	const char *fail = NULL;
	/* One producer span per broadcast besides the producers' spans. */
	if (produced + fan_broadcasts != ss.spans_started + ss.spans_dropped_no_store)
		fail = "spans produced != started + refused by the span store";
	else if (ss.spans_started != ss.spans_ended ||
	         ss.spans_ended != bs.spans_received)
		fail = "spans started != ended != received by the processor";
	else if (bs.spans_received != bs.spans_exported + dropped)
		fail = "received != exported + dropped: spans unaccounted for";
	else if (rc.spans < bs.spans_exported || rc.spans > bs.spans_received)
		/* At least once: a reply lost to a timeout can make a retried batch count
		 * twice. */
		fail = "the collector got fewer spans than reported exported, or more "
		       "than sent";
	else if (RSS_CHECKED && rss_max > bound)
		fail = "resident memory passed its bound";
	else if (shut_ms > timeout_ms + 500)
		fail = "shutdown overran its timeout";
	else if (ra0_rate > 20.0)
		/* Backoff from 20 ms to 200 ms with jitter: at most ~10 a second. */
		fail = "Retry-After: 0 made the exporter retry in a storm";
	else if (!fan_ok || fan_broadcasts == 0 || fan_delivered != fan_expected)
		fail = "the fanout lost a live recipient's message";
	else if (fan_worst_ms > 4 * FAN_TIMEOUT + 500)
		/* Five dead recipients one after another would take 5 timeouts. */
		fail = "a broadcast to dead recipients took more than about one timeout";
	else if (bs.spans_exported == 0 || dropped == 0)
		fail = "the run did not both export (collector up) and drop (collector "
		       "down)";
	if (fail != NULL) {
		printf("soak: FAILED: %s\n0 passed, 1 failed\n", fail);
		return 1;
	}
	printf("1 passed, 0 failed\n");
	return 0;
}
