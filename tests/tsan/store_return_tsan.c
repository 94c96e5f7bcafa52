/*
 * Records going back to the thread that started them, under
 * ThreadSanitizer (a plain program; it runs in every build too):
 *   - waves of producer threads start spans and end them into a batch
 *     processor, whose worker gives the records back to their starters'
 *     slots in bundles; each wave's threads exit and the next wave's take
 *     the slots (and what was returned to them);
 *   - some spans are ended by another thread than their starter;
 *   - a small store (BATON_MAX_SPANS) makes threads that run dry take the
 *     other slots' returned records.
 * Exits 0 and prints "N passed, 0 failed" when every count adds up.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "tsan_check.h"

#define WAVES   4
#define THREADS 3
#define SPANS   5000

static _Atomic uint64_t exported;

static baton_export_result count_export(void *arg, const baton_span_data *const *spans,
                                        size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		/* Read what the producer wrote: the worker must see it whole. */
		if (spans[i]->nattrs != 3 || spans[i]->name[0] != 's')
			abort();
	}
	atomic_fetch_add(&exported, n);
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops count_ops = {
    sizeof(baton_exporter_ops), "count", count_export, NULL, NULL, NULL};

/* Spans handed to another thread to end. */
#define BOX 64
static baton_span box[BOX];
static unsigned box_n;
static pthread_mutex_t box_mtx = PTHREAD_MUTEX_INITIALIZER;

static void *producer(void *arg)
{
	baton_tracer *t = arg;
	for (int i = 0; i < SPANS; i++) {
		baton_span s = baton_span_start(t, "span");
		baton_span_set_str(s, "k", "v");
		baton_span_set_int(s, "i", i);
		if (i % 16 == 0) {
			pthread_mutex_lock(&box_mtx);
			if (box_n < BOX) {
				box[box_n++] = s;
				s = BATON_SPAN_NONE;
			}
			pthread_mutex_unlock(&box_mtx);
		} else if (i % 16 == 1) {
			/* End one that another producer started. */
			pthread_mutex_lock(&box_mtx);
			baton_span o = box_n > 0 ? box[--box_n] : BATON_SPAN_NONE;
			pthread_mutex_unlock(&box_mtx);
			baton_span_end(o);
		}
		baton_span_end(s);
	}
	return NULL;
}

int main(void)
{
	/* A small store (2,048 spans): threads run dry and reclaim. */
	baton_processor p;
	if (!tsan_init_batch((baton_exporter){&count_ops, NULL}, 512, 256, 1, 2048, &p))
		return 1;
	baton_tracer *t = baton_tracer_get("tsan", NULL);
	for (int w = 0; w < WAVES; w++) {
		pthread_t th[THREADS];
		for (int i = 0; i < THREADS; i++)
			pthread_create(&th[i], NULL, producer, t);
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
	}
	for (unsigned i = 0; i < box_n; i++)
		baton_span_end(box[i]);
	CHECK(baton_force_flush(10000) == BATON_OK, "flush");
	baton_sdk_stats ss;
	baton_batch_stats bs;
	baton_sdk_stats_get(&ss);
	baton_batch_processor_stats(p, &bs);
	uint64_t want = (uint64_t)WAVES * THREADS * SPANS;
	CHECK(ss.spans_started + ss.spans_dropped_no_store == want,
	      "started %llu + refused %llu != %llu", (unsigned long long)ss.spans_started,
	      (unsigned long long)ss.spans_dropped_no_store, (unsigned long long)want);
	CHECK(ss.spans_ended == ss.spans_started, "ended %llu of %llu",
	      (unsigned long long)ss.spans_ended, (unsigned long long)ss.spans_started);
	CHECK(atomic_load(&exported) + bs.dropped_queue_full == ss.spans_ended,
	      "exported %llu + dropped %llu != ended %llu",
	      (unsigned long long)atomic_load(&exported),
	      (unsigned long long)bs.dropped_queue_full,
	      (unsigned long long)ss.spans_ended);
	CHECK(ss.spans_live == 0, "%llu records not given back",
	      (unsigned long long)ss.spans_live);
	/* The queue (512), a batch and what threads hold fit in the store. */
	CHECK(ss.spans_dropped_no_store == 0, "%llu refused at span start",
	      (unsigned long long)ss.spans_dropped_no_store);
	CHECK(ss.store_records <= 2048, "%llu records",
	      (unsigned long long)ss.store_records);
	baton_fini(5000);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures != 0;
}
