/*
 * The batch processor's lanes under ThreadSanitizer (a plain program; it
 * runs in every build too):
 *   - waves of threads end spans into their lanes and exit, while the
 *     worker drains the lanes, frees those of threads that are gone, and
 *     a flushing thread marks and waits for them;
 *   - more threads than the lanes' share of the queue: the rest go to the
 *     ring, at the same time;
 *   - a second processor after baton_fini: the threads' lane tables let go
 *     of lanes into the processor that is gone.
 * Exits 0 and prints "N passed, 0 failed" when every count adds up.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "tsan_check.h"

#define WAVES   5
#define THREADS 6
#define SPANS   3000

static _Atomic uint64_t exported;

static baton_export_result count_export(void *arg, const baton_span_data *const *spans,
                                        size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		/* Read what the producer wrote: the worker must see it whole. */
		if (spans[i]->nattrs != 3 || spans[i]->name[0] != 'l')
			abort();
	}
	atomic_fetch_add(&exported, n);
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops count_ops = {
    sizeof(baton_exporter_ops), "count", count_export, NULL, NULL, NULL};

static void *producer(void *arg)
{
	(void)arg;
	baton_tracer *t = baton_tracer_get("tsan", NULL);
	for (int i = 0; i < SPANS; i++) {
		baton_span s = baton_span_start(t, "lane");
		baton_span_set_str(s, "k", "v");
		baton_span_set_int(s, "i", i);
		baton_span_end(s);
	}
	return NULL;
}

static _Atomic bool flushing_done;

static void *flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&flushing_done))
		baton_force_flush(10000);
	return NULL;
}

/* One provider: waves of producers with a flusher; checks every count. */
static void one_provider(uint32_t queue, uint32_t batch)
{
	baton_processor p;
	atomic_store(&exported, 0);
	if (!tsan_init_batch((baton_exporter){&count_ops, NULL}, queue, batch, 1, 0, &p))
		exit(1);
	atomic_store(&flushing_done, false);
	pthread_t fl;
	pthread_create(&fl, NULL, flusher, NULL);
	for (int w = 0; w < WAVES; w++) {
		pthread_t th[THREADS];
		for (int i = 0; i < THREADS; i++)
			pthread_create(&th[i], NULL, producer, NULL);
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
	}
	/* This thread too: its lane outlives the provider. */
	producer(NULL);
	atomic_store(&flushing_done, true);
	pthread_join(fl, NULL);
	CHECK(baton_force_flush(10000) == BATON_OK, "flush");
	baton_batch_stats bs;
	baton_batch_processor_stats(p, &bs);
	uint64_t want = ((uint64_t)WAVES * THREADS + 1) * SPANS;
	CHECK(bs.spans_received == want, "received %llu of %llu",
	      (unsigned long long)bs.spans_received, (unsigned long long)want);
	CHECK(atomic_load(&exported) + bs.dropped_queue_full == want,
	      "exported %llu + dropped %llu != %llu",
	      (unsigned long long)atomic_load(&exported),
	      (unsigned long long)bs.dropped_queue_full, (unsigned long long)want);
	CHECK(bs.queue_size == 0, "%u still queued", bs.queue_size);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	CHECK(ss.spans_live == 0, "%llu records not given back",
	      (unsigned long long)ss.spans_live);
	baton_fini(5000);
}

int main(void)
{
	/* Batch 64: lanes of 512, 8 of them in a queue of 16384. */
	one_provider(16384, 64);
	/* A new processor: this thread's lane table lets go of the old lane. */
	one_provider(4096, 128);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures != 0;
}
