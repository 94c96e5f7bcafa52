/*
 * Threaded checks meant for ThreadSanitizer (Criterion's runner cannot run
 * under TSan, so this is a plain program; it runs in every build too):
 *   - 4 producer threads start, annotate and end spans into the batch
 *     processor while the worker exports and releases them to the store;
 *   - spans started on one thread and ended on another (actors hop threads);
 *   - the per-thread current span stays per thread;
 *   - the wall clock is read from every thread while it re-anchors;
 *   - fanout decisions and stats reads run concurrently with all of it.
 * Exits 0 and prints "N passed, 0 failed" when every count adds up.
 */
#include <baton/baton.h>

#include "memory_exporter.h"
#include <baton/processor.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define SPANS   20000

static tu_memory_exporter *mem;
#include "tsan_check.h"

/* A hand-off box: spans started by producers, ended by the "other actor". */
#define BOX 256
static baton_span box[BOX];
static uint32_t box_head, box_tail; /* under box_mtx */
static bool producers_done;         /* under box_mtx */
static pthread_mutex_t box_mtx = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int context_errors;

static void *producer(void *arg)
{
	baton_tracer *t = baton_tracer_get("tsan", NULL);
	intptr_t id = (intptr_t)arg;
	for (int i = 0; i < SPANS; i++) {
		baton_span parent = baton_span_start(t, "parent");
		uint32_t tok = baton_span_attach(parent);
		baton_span child = baton_span_start(t, "child");
		baton_span_set_int(child, "producer", id);
		baton_span_set_str(child, "k", "v");
		baton_kv kv[] = {BATON_KV_INT("i", i)};
		baton_span_add_event(child, "tick", 0, kv, 1);
		if (baton_span_current().id != parent.id)
			atomic_fetch_add(&context_errors, 1);
		baton_span_end(child);
		baton_span_detach(tok);
		(void)baton_fanout_keep(NULL, (uint64_t)i + 1);
		bool handed = false;
		if (i % 4 == 0) {
			/* Hand the parent to the other thread to end, if there is room.
			 */
			pthread_mutex_lock(&box_mtx);
			if (box_head - box_tail < BOX) {
				box[box_head++ % BOX] = parent;
				handed = true;
			}
			pthread_mutex_unlock(&box_mtx);
		}
		if (!handed)
			baton_span_end(parent);
	}
	return NULL;
}

static void *finisher(void *arg)
{
	(void)arg;
	uint64_t last = 0;
	for (;;) {
		baton_span s = BATON_SPAN_NONE;
		bool done;
		pthread_mutex_lock(&box_mtx);
		if (box_tail != box_head)
			s = box[box_tail++ % BOX];
		done = producers_done && box_tail == box_head;
		pthread_mutex_unlock(&box_mtx);
		if (s.id != 0)
			baton_span_end(s);
		else if (done)
			break;
		uint64_t now = baton_time_unix_ns();
		if (now + 2000000 <
		    last) /* re-anchoring may step back a little, never by ms */
			atomic_fetch_add(&context_errors, 1);
		last = now;
		baton_sdk_stats st;
		baton_sdk_stats_get(&st);
	}
	return NULL;
}

int main(void)
{
	baton_exporter exp;
	baton_processor proc;
	if (tu_memory_exporter_create(1, &exp, &mem) != BATON_OK ||
	    !tsan_init_batch(exp, 4096, 256, 2, 8192, &proc))
		return 1;

	pthread_t th[THREADS], fin;
	pthread_create(&fin, NULL, finisher, NULL);
	for (intptr_t i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, producer, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_lock(&box_mtx);
	producers_done = true;
	pthread_mutex_unlock(&box_mtx);
	pthread_join(fin, NULL);

	baton_force_flush(10000);
	baton_batch_stats bs;
	baton_sdk_stats ss;
	baton_batch_processor_stats(proc, &bs);
	baton_sdk_stats_get(&ss);
	uint64_t want = (uint64_t)THREADS * SPANS * 2;
	CHECK(ss.spans_started + ss.spans_dropped_no_store == want,
	      "started %llu + refused %llu != %llu", (unsigned long long)ss.spans_started,
	      (unsigned long long)ss.spans_dropped_no_store, (unsigned long long)want);
	CHECK(ss.spans_ended == ss.spans_started, "ended %llu != started %llu",
	      (unsigned long long)ss.spans_ended, (unsigned long long)ss.spans_started);
	CHECK(bs.spans_received == ss.spans_ended, "processor received %llu of %llu",
	      (unsigned long long)bs.spans_received, (unsigned long long)ss.spans_ended);
	CHECK(bs.spans_exported + bs.dropped_queue_full == bs.spans_received,
	      "exported %llu + dropped %llu != received %llu",
	      (unsigned long long)bs.spans_exported,
	      (unsigned long long)bs.dropped_queue_full,
	      (unsigned long long)bs.spans_received);
	CHECK(bs.spans_exported > 0, "nothing exported");
	CHECK(ss.spans_live == 0, "%llu span records not returned to the store",
	      (unsigned long long)ss.spans_live);
	CHECK(atomic_load(&context_errors) == 0, "%d context or clock errors",
	      atomic_load(&context_errors));
	baton_fini(5000);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures == 0 ? 0 : 1;
}
