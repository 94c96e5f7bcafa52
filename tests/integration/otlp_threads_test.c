/*
 * Several producer threads -> batch processor -> OTLP/HTTP -> test receiver,
 * then a shutdown that cuts a hanging export from another thread.
 *
 * A plain main() rather than Criterion tests: Criterion's runner cannot
 * start under ThreadSanitizer (its shared arena mapping fails), and this
 * file exists to be run under it (BATON_SANITIZER=thread). Exits non-zero
 * on the first failed check.
 */
#include "otlp_receiver.h"

#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
			        #cond);                                                  \
			fprintf(stderr, __VA_ARGS__);                                    \
			fprintf(stderr, "\n");                                           \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

enum { THREADS = 4, EACH = 3000 };

static void *producer(void *arg)
{
	baton_tracer *t = baton_tracer_get("threads", NULL);
	for (int i = 0; i < EACH; i++) {
		baton_span s = baton_span_start(t, (const char *)arg);
		baton_span_set_int(s, "i", i);
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_end(s);
	}
	return NULL;
}

static baton_processor init(const char *url, uint32_t queue, uint32_t batch,
                            int compression)
{
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = url,
	                              .timeout_ms = 60000,
	                              .compression = compression,
	                              .retry_initial_ms = 5};
	baton_exporter e;
	CHECK(baton_otlp_http_exporter_create(&oo, &e) == BATON_OK, "exporter");
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = queue,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = 20};
	baton_processor p;
	CHECK(baton_batch_processor_create(e, &bo, &p) == BATON_OK, "processor");
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 1 << 16;
	CHECK(baton_init(&o) == BATON_OK, "init");
	return p;
}

static void run_producers(const char *name)
{
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, producer, (void *)name) == 0,
		      "thread");
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
}

int main(void)
{
	baton_batch_stats s;
	tu_otlp_receiver *r = tu_otlp_start();
	CHECK(r != NULL, "receiver");

	/* A ring that holds everything: no span may be lost. */
	baton_processor p = init(tu_otlp_url(r), THREADS * EACH, 256, 2);
	tu_otlp_set_mode(r, TU_OTLP_503, 2); /* and the collector needs two retries */
	run_producers("all");
	CHECK(baton_force_flush(60000) == BATON_OK, "flush");
	CHECK(baton_batch_processor_stats(p, &s) == BATON_OK, "stats");
	CHECK(s.spans_received == THREADS * EACH, "received %llu",
	      (unsigned long long)s.spans_received);
	CHECK(s.spans_exported == THREADS * EACH, "exported %llu",
	      (unsigned long long)s.spans_exported);
	CHECK(s.export_retries == 2, "retries %llu",
	      (unsigned long long)s.export_retries);
	CHECK(tu_otlp_spans_named(r, "all") == THREADS * EACH, "receiver got %llu",
	      (unsigned long long)tu_otlp_spans_named(r, "all"));
	CHECK(baton_fini(10000) == BATON_OK, "fini");

	/* A small ring: drops, but every span accounted for once. */
	p = init(tu_otlp_url(r), 64, 16, 1);
	run_producers("some");
	CHECK(baton_force_flush(60000) == BATON_OK, "flush");
	baton_batch_processor_stats(p, &s);
	CHECK(s.spans_received == THREADS * EACH, "received");
	CHECK(s.spans_exported + s.dropped_queue_full == THREADS * EACH, "accounting");
	CHECK(tu_otlp_spans_named(r, "some") == s.spans_exported, "receiver");
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	CHECK(ss.spans_live == 0, "live %llu", (unsigned long long)ss.spans_live);
	CHECK(baton_fini(10000) == BATON_OK, "fini");

	/* A hanging collector: shutdown cuts the export from this thread. */
	p = init(tu_otlp_url(r), 4096, 64, 1);
	tu_otlp_set_mode(r, TU_OTLP_HANG, -1);
	run_producers("hang");
	uint64_t t0 = baton_time_mono_ns();
	baton_err e = p.ops->shutdown(p.arg, 300);
	CHECK(e == BATON_ETIMEDOUT, "shutdown returned %d", (int)e);
	CHECK(baton_time_mono_ns() - t0 < 20000000000ull, "shutdown was not bounded");
	baton_batch_processor_stats(p, &s);
	CHECK(s.spans_exported == 0, "exported");
	CHECK(s.dropped_shutdown + s.dropped_export_failure + s.dropped_queue_full ==
	          THREADS * EACH,
	      "accounting after cut");
	baton_fini(1000);
	tu_otlp_stop(r);
	printf("otlp_threads: ok\n");
	return 0;
}
