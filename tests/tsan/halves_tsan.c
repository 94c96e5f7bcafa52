/*
 * The batch processor with an exporter in two halves, under
 * ThreadSanitizer (a plain program; it runs in every build too):
 *   - two producer threads end spans into a sharded queue, pausing now
 *     and then (partial batches leave after the delay), while the main
 *     thread flushes;
 *   - the exporter reads each span in export_begin (the worker must see it
 *     whole), delays some ends at random and fails some of them.
 * Checks that every begin is answered by one end, two at most in flight,
 * export_spans is never called, and that what the exporter delivered and
 * failed is what the processor counted, every span ended accounted for
 * once. Exits 0 and prints "N passed, 0 failed" when every count adds up.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsan_check.h"

#define THREADS 2
#define SPANS   20000
#define FLUSHES 20

/* Touched by the worker only, but read by main after flushes: under mtx. */
static struct {
	pthread_mutex_t mtx;
	unsigned seed;
	uint64_t begins, ends, pending, max_pending;
	uint64_t fifo_n[3]; /* sizes of the batches in flight, oldest first */
	uint64_t ok, failed, export_spans_calls, bad_spans, flush_in_flight;
} fx = {.mtx = PTHREAD_MUTEX_INITIALIZER, .seed = 12345};

static void fx_begin(void *arg, const baton_span_data *const *spans, size_t n)
{
	(void)arg;
	uint64_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		/* What the producer wrote: its name and its two attributes. */
		if (strcmp(spans[i]->name, "produced") != 0 ||
		    baton_attr_find(spans[i]->attrs, "k") == NULL ||
		    baton_attr_find(spans[i]->attrs, "i") == NULL)
			bad++;
	}
	pthread_mutex_lock(&fx.mtx);
	fx.bad_spans += bad;
	if (fx.pending < 3)
		fx.fifo_n[fx.pending] = n;
	fx.pending++;
	fx.begins++;
	if (fx.pending > fx.max_pending)
		fx.max_pending = fx.pending;
	pthread_mutex_unlock(&fx.mtx);
}

static baton_export_result fx_end(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fx.mtx);
	unsigned r = (unsigned)rand_r(&fx.seed);
	pthread_mutex_unlock(&fx.mtx);
	/* Some ends wait for a receiver that is slow. */
	if (r % 8 == 0) {
		struct timespec ts = {0, (long)(r % 100) * 1000};
		nanosleep(&ts, NULL);
	}
	baton_export_result res = BATON_EXPORT_RESULT(BATON_OK);
	if (r % 7 == 0) {
		res.err = BATON_EREJECTED;
		res.reason = "collector said no";
	}
	pthread_mutex_lock(&fx.mtx);
	if (fx.pending == 0) {
		fx.bad_spans++; /* an end with nothing begun */
	} else {
		uint64_t n = fx.fifo_n[0];
		fx.fifo_n[0] = fx.fifo_n[1];
		fx.fifo_n[1] = fx.fifo_n[2];
		fx.pending--;
		if (res.err == BATON_OK)
			fx.ok += n;
		else
			fx.failed += n;
	}
	fx.ends++;
	pthread_mutex_unlock(&fx.mtx);
	return res;
}

static baton_export_result fx_export(void *arg, const baton_span_data *const *spans,
                                     size_t n)
{
	(void)arg;
	(void)spans;
	pthread_mutex_lock(&fx.mtx);
	fx.export_spans_calls++;
	fx.ok += n;
	pthread_mutex_unlock(&fx.mtx);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static baton_err fx_flush(void *arg, uint32_t timeout_ms)
{
	(void)arg;
	(void)timeout_ms;
	pthread_mutex_lock(&fx.mtx);
	if (fx.pending != 0)
		fx.flush_in_flight++;
	pthread_mutex_unlock(&fx.mtx);
	return BATON_OK;
}

static const baton_exporter_ops fx_ops = {.size = sizeof(baton_exporter_ops),
                                          .name = "halves",
                                          .export_spans = fx_export,
                                          .force_flush = fx_flush,
                                          .export_begin = fx_begin,
                                          .export_end = fx_end};

static void *producer(void *arg)
{
	baton_tracer *t = arg;
	for (int i = 0; i < SPANS; i++) {
		baton_span s = baton_span_start(t, "produced");
		baton_span_set_str(s, "k", "v");
		baton_span_set_int(s, "i", i);
		baton_span_end(s);
		/* A pause now and then: the delay sends partial batches too. */
		if (i % 500 == 499) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int main(void)
{
	/* 4096: sharded, with lanes. */
	baton_processor p;
	if (!tsan_init_batch((baton_exporter){&fx_ops, NULL}, 4096, 32, 1, 0, &p))
		return 1;
	baton_tracer *t = baton_tracer_get("tsan", NULL);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, producer, t);
	for (int i = 0; i < FLUSHES; i++) {
		baton_err e = baton_force_flush(10000);
		CHECK(e == BATON_OK || e == BATON_EREJECTED, "flush: %s",
		      baton_strerror(e));
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	baton_err e = baton_force_flush(10000);
	CHECK(e == BATON_OK || e == BATON_EREJECTED, "flush: %s", baton_strerror(e));

	baton_batch_stats bs;
	baton_sdk_stats ss;
	baton_batch_processor_stats(p, &bs);
	baton_sdk_stats_get(&ss);
	pthread_mutex_lock(&fx.mtx);
	CHECK(fx.begins == fx.ends, "%llu begun, %llu ended",
	      (unsigned long long)fx.begins, (unsigned long long)fx.ends);
	CHECK(fx.max_pending <= 2, "%llu in flight", (unsigned long long)fx.max_pending);
	CHECK(fx.export_spans_calls == 0, "export_spans called");
	CHECK(fx.bad_spans == 0, "%llu bad spans or stray ends",
	      (unsigned long long)fx.bad_spans);
	CHECK(fx.flush_in_flight == 0, "force_flush with a batch in flight");
	CHECK(bs.spans_exported == fx.ok, "exported %llu, delivered %llu",
	      (unsigned long long)bs.spans_exported, (unsigned long long)fx.ok);
	CHECK(bs.dropped_export_failure == fx.failed, "failed %llu, refused %llu",
	      (unsigned long long)bs.dropped_export_failure,
	      (unsigned long long)fx.failed);
	CHECK(bs.export_requests == fx.ends, "%llu requests, %llu ends",
	      (unsigned long long)bs.export_requests, (unsigned long long)fx.ends);
	pthread_mutex_unlock(&fx.mtx);
	uint64_t want = (uint64_t)THREADS * SPANS;
	CHECK(bs.spans_received == want, "received %llu",
	      (unsigned long long)bs.spans_received);
	CHECK(bs.spans_exported + bs.dropped_export_failure + bs.dropped_queue_full +
	              bs.dropped_shutdown ==
	          want,
	      "exported %llu + failed %llu + full %llu + shutdown %llu != %llu",
	      (unsigned long long)bs.spans_exported,
	      (unsigned long long)bs.dropped_export_failure,
	      (unsigned long long)bs.dropped_queue_full,
	      (unsigned long long)bs.dropped_shutdown, (unsigned long long)want);
	CHECK(ss.spans_ended == want, "ended %llu", (unsigned long long)ss.spans_ended);
	CHECK(ss.spans_live == 0, "%llu records not given back",
	      (unsigned long long)ss.spans_live);
	baton_fini(5000);
	printf("%d passed, %d failed (%llu delivered, %llu failed, %llu queue full)\n",
	       checks - failures, failures, (unsigned long long)bs.spans_exported,
	       (unsigned long long)bs.dropped_export_failure,
	       (unsigned long long)bs.dropped_queue_full);
	return failures != 0;
}
