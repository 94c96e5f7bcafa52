/*
 * The batch processor's lanes: a big, paced queue gives each thread that
 * ends spans into it a lane of its own in front of the ring. What a user
 * relies on stays true with lanes: every span is counted (queued while in
 * a lane), a flush exports what was ended before it, a thread that exits
 * leaves nothing behind, the capacity is the ring's plus a lane per thread,
 * and a forked child starts empty.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include "memory_exporter.h"
#include "testutil.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A lane's spans, as baton_batch_processor_create documents them. */
static uint64_t lane_spans(uint64_t batch, uint64_t capacity)
{
	uint64_t n = 64;
	while (n < 8 * batch && n < capacity / 4)
		n <<= 1;
	return n;
}

/* A big queue (sharded: lanes) whose worker waits a minute between exports. */
static baton_processor init_lanes(baton_exporter exp, uint32_t batch, uint32_t delay_ms)
{
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 4096,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = delay_ms};
	return tu_init_batch(exp, &bo);
}

static tu_memory_exporter *new_memory(baton_exporter *exp)
{
	tu_memory_exporter *mem;
	cr_assert_eq(tu_memory_exporter_create(2000, exp, &mem), BATON_OK);
	return mem;
}

/* Waits until the worker took what is queued into its (held) batch. */
static void wait_worker_took_batch(baton_processor p)
{
	for (int i = 0; i < 5000 && tu_batch_stats(p).queue_size != 0; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(tu_batch_stats(p).queue_size, 0, "the worker took its batch");
}

Test(batch_lane, spans_in_a_lane_are_queued_and_a_flush_exports_them)
{
	baton_exporter exp;
	tu_memory_exporter *mem = new_memory(&exp);
	baton_processor p = init_lanes(exp, 512, 60000);
	/* Fewer than a lane holds: no span reaches the ring. (The worker's
	 * first look at the queue may come after them and take them.) */
	tu_make_spans("lane", 100);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, 100);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_memory_exporter_count(mem), 100);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 100);
	cr_assert_eq(s.queue_size, 0);
	TU_ASSERT_ACCOUNTED(&s);
	/* In the order they were ended. */
	for (size_t i = 0; i < 100; i++) {
		tu_memory_span ms;
		tu_memory_exporter_get(mem, i, &ms);
		char want[32];
		snprintf(want, sizeof(want), "\ni=%zu\n", i);
		cr_assert_str_eq(ms.name, "lane");
		cr_assert(strstr(ms.attrs_text, want) != NULL, "span %zu: %s", i,
		          ms.attrs_text);
	}
	baton_fini(2000);
}

/*
 * With the worker held in its first export (of 8 spans), what follows
 * stays queued: the lane's 64 spans and the ring's 36 all count in
 * queue_size.
 */
Test(batch_lane, spans_in_a_lane_count_as_queued)
{
	baton_processor p = init_lanes(tu_gate_exporter(), 8, 60000);
	tu_make_spans("first", 8); /* the lane holds the 8 the worker waits for */
	wait_worker_took_batch(p);
	tu_make_spans("held", 100);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, 108);
	cr_assert_eq(s.queue_size, 100);
	tu_gate_open();
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 108);
	cr_assert_eq(tu_gate_spans(), 108);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

static void *make_burst(void *arg)
{
	tu_make_spans("burst", *(int *)arg);
	return NULL;
}

/*
 * With the export held, two threads can queue the ring's 4096 spans, a
 * lane each (64 spans for a batch of 8), and the batch the worker holds:
 * no more, no fewer.
 */
Test(batch_lane, the_queue_holds_the_ring_and_a_lane_per_thread)
{
	enum { BATCH = 8, EACH = 6000 };
	baton_processor p = init_lanes(tu_gate_exporter(), BATCH, 60000);
	int each = EACH;
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, make_burst, &each), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.queue_capacity, 4096);
	cr_assert_eq(s.spans_received, 2 * EACH);
	uint64_t held = 2 * EACH - s.dropped_queue_full, lane = lane_spans(BATCH, 4096);
	cr_assert_eq(lane, 64);
	cr_assert_geq(held, 4096 + 2 * lane, "held %llu", (unsigned long long)held);
	cr_assert_leq(held, 4096 + 2 * lane + BATCH, "held %llu",
	              (unsigned long long)held);
	cr_assert_leq(s.queue_size, 4096 + 2 * lane);
	tu_gate_open();
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, held);
	cr_assert_eq(tu_gate_spans(), held);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

/*
 * Lanes hold a quarter of the queue at most: past 16 lanes of 64 in a
 * queue of 4096, threads use the ring alone. So with the default store
 * (twice the queue, plus room for open spans) a burst from many threads
 * is still dropped at the queue, counted, and never refused at span start.
 */
Test(batch_lane, lanes_hold_a_quarter_of_the_queue_at_most)
{
	enum { BATCH = 8, THREADS = 20, EACH = 400 };
	unsetenv("BATON_MAX_SPANS");
	baton_processor p = init_lanes(tu_gate_exporter(), BATCH, 60000);
	int each = EACH;
	for (int i = 0; i < THREADS; i++) {
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL, make_burst, &each), 0);
		pthread_join(th, NULL);
	}
	baton_batch_stats s = tu_batch_stats(p);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	uint64_t held = THREADS * EACH - s.dropped_queue_full;
	cr_assert_geq(held, 4096 + 4096 / 4, "held %llu", (unsigned long long)held);
	cr_assert_leq(held, 4096 + 4096 / 4 + BATCH, "held %llu",
	              (unsigned long long)held);
	cr_assert_eq(ss.spans_dropped_no_store, 0);
	tu_gate_open();
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, held);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

static void *make_and_exit(void *arg)
{
	tu_make_spans("gone", *(int *)arg);
	return NULL;
}

/* Threads that end spans and exit at once: their lanes are drained, not lost. */
Test(batch_lane, the_spans_of_a_thread_that_exits_are_exported)
{
	enum { THREADS = 40, EACH = 30 };
	baton_exporter exp;
	tu_memory_exporter *mem = new_memory(&exp);
	baton_processor p = init_lanes(exp, 512, 60000);
	int each = EACH;
	for (int i = 0; i < THREADS; i++) {
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL, make_and_exit, &each), 0);
		pthread_join(th, NULL);
	}
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, THREADS * EACH);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_memory_exporter_count(mem), THREADS * EACH);
	/* And after the worker freed their lanes, the counts still add up. */
	tu_make_spans("after", 5);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, THREADS * EACH + 5);
	cr_assert_eq(s.spans_exported, THREADS * EACH + 5);
	TU_ASSERT_ACCOUNTED(&s);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0);
	baton_fini(2000);
}

/*
 * A thread keeps lanes into a few processors at once; spans into more
 * processors than that go to their rings, and none is lost.
 */
Test(batch_lane, more_processors_than_a_thread_has_lanes_for_lose_nothing)
{
	enum { PROCS = 11 };
	baton_processor p[PROCS];
	tu_memory_exporter *mem[PROCS];
	for (int i = 0; i < PROCS; i++) {
		baton_exporter exp;
		mem[i] = new_memory(&exp);
		baton_batch_options bo = {.size = sizeof(bo),
		                          .max_queue_size = 4096,
		                          .max_export_batch_size = 512,
		                          .schedule_delay_ms = 60000};
		cr_assert_eq(baton_batch_processor_create(exp, &bo, &p[i]), BATON_OK);
	}
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = p,
	                   .nprocessors = PROCS,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	tu_make_spans("many", 300);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	for (int i = 0; i < PROCS; i++) {
		cr_assert_eq(tu_memory_exporter_count(mem[i]), 300, "processor %d", i);
		baton_batch_stats s = tu_batch_stats(p[i]);
		cr_assert_eq(s.spans_exported, 300);
		TU_ASSERT_ACCOUNTED(&s);
	}
	baton_fini(2000);
}

/*
 * One thread traces through many providers in turn (baton_fini, then
 * baton_init): its lane into a processor that is gone makes room for the
 * next, and each provider exports exactly its own spans.
 */
Test(batch_lane, a_thread_outlives_its_providers_lanes)
{
	for (int round = 0; round < 20; round++) {
		baton_exporter exp;
		tu_memory_exporter *mem = new_memory(&exp);
		baton_processor p = init_lanes(exp, 512, 60000);
		tu_make_spans("round", round + 1);
		cr_assert_eq(baton_force_flush(5000), BATON_OK);
		cr_assert_eq(tu_memory_exporter_count(mem), (size_t)round + 1, "round %d",
		             round);
		cr_assert_eq(tu_batch_stats(p).spans_received, (uint64_t)round + 1);
		baton_fini(2000);
	}
}

static _Atomic int lane_holders; /* threads that ended a span and wait */
static _Atomic bool holders_go;

static void *end_one_and_wait(void *arg)
{
	(void)arg;
	tu_make_spans("holder", 1);
	atomic_fetch_add(&lane_holders, 1);
	while (!atomic_load(&holders_go))
		sched_yield();
	return NULL;
}

/*
 * A thread refused a lane, because other threads' lanes held the queue's
 * quarter, asks again later: once those threads exit and their lanes are
 * freed, it gets one, and the queue holds the ring and its lane (a pool
 * that replaces its threads does not run out of lanes).
 */
Test(batch_lane, a_thread_refused_a_lane_gets_one_when_lanes_are_freed)
{
	enum { BATCH = 8, HOLDERS = 4096 / 4 / 64, EACH = 6000 };
	baton_processor p = init_lanes(tu_gate_exporter(), BATCH, 60000);
	cr_assert_eq(lane_spans(BATCH, 4096), 64);
	pthread_t th[HOLDERS];
	for (int i = 0; i < HOLDERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, end_one_and_wait, NULL), 0);
	while (atomic_load(&lane_holders) < HOLDERS)
		sched_yield();
	/* Refused: these go to the ring, and wake the worker for a batch. */
	tu_make_spans("refused", BATCH);
	atomic_store(&holders_go, true);
	for (int i = 0; i < HOLDERS; i++)
		pthread_join(th[i], NULL);
	tu_gate_open();
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_gate_spans(), HOLDERS + BATCH);
	/* The holders' lanes are freed. Hold the worker in an export again,
	 * then fill the queue from this thread alone. */
	tu_gate_close();
	tu_make_spans("first", BATCH);
	wait_worker_took_batch(p);
	tu_make_spans("burst", EACH);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, HOLDERS + 2 * BATCH + EACH);
	uint64_t held = EACH - s.dropped_queue_full, lane = 64;
	cr_assert_eq(held, 4096 + lane, "held %llu: the ring's and a lane's",
	             (unsigned long long)held);
	tu_gate_open();
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, HOLDERS + 2 * BATCH + held);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

static _Atomic int parked_state; /* 1: its spans are ended; 2: let it go */

static void *end_and_park(void *arg)
{
	(void)arg;
	tu_make_spans("other", 7);
	atomic_store(&parked_state, 1);
	while (atomic_load(&parked_state) != 2)
		sched_yield();
	return NULL;
}

/*
 * The child of a fork() has none of the parent's queued spans, in this
 * thread's lane or another thread's; it exports its own only, and the
 * parent still exports all of its.
 */
Test(batch_lane, a_forked_child_starts_with_empty_lanes)
{
	TU_SKIP_THREADED_FORK();
	baton_exporter exp;
	tu_memory_exporter *mem = new_memory(&exp);
	baton_processor p = init_lanes(exp, 512, 60000);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, end_and_park, NULL), 0);
	while (atomic_load(&parked_state) != 1)
		sched_yield();
	tu_make_spans("parent", 10);
	cr_assert_eq(tu_batch_stats(p).spans_received, 17);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int code = 0;
		baton_batch_stats cs;
		baton_batch_processor_stats(p, &cs);
		if (cs.discarded_at_fork != 17 || cs.queue_size != 0 ||
		    cs.spans_received != 0)
			code = 1;
		tu_make_spans("child", 5); /* the child's worker starts here */
		baton_batch_processor_stats(p, &cs);
		if (cs.spans_received != 5)
			code |= 2;
		if (baton_force_flush(5000) != BATON_OK)
			code |= 4;
		if (tu_memory_exporter_count(mem) != 5)
			code |= 8;
		if (tu_memory_exporter_count_named(mem, "child") != 5)
			code |= 16;
		baton_fini(2000);
		_exit(code);
	}
	int code = tu_wait_child(pid);
	cr_assert_eq(code, 0, "child failed checks 0x%x", code);
	atomic_store(&parked_state, 2);
	pthread_join(th, NULL);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_memory_exporter_count(mem), 17);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 17);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}
