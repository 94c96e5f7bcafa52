/*
 * fork(): one registry of steps in a stated order; an export in flight ends
 * before the fork; no thread is started inside a fork handler; samplers
 * with locks survive fork.
 */
#include <baton/baton.h>
#include <baton/message.h>
#include <baton/processor.h>
#include <baton/sampling.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "testutil.h"

/* Every sampler with a lock registers its own step; steps run in order. */
Test(fork, steps_are_registered_in_their_stated_order)
{
	int before[64], after[64];
	size_t n0 = bt_fork_steps(before, 64);
	baton_sampler sw, dyn;
	baton_sampler r;
	cr_assert_eq(baton_sampler_traceidratio(0.5, &r), BATON_OK);
	cr_assert_eq(baton_sampler_switchable(r, &sw), BATON_OK);
	baton_dynamic_options o = {.size = sizeof(o), .target_per_sec = 10};
	cr_assert_eq(baton_sampler_dynamic(baton_sampler_always_on(), &o, &dyn),
	             BATON_OK);
	size_t n1 = bt_fork_steps(after, 64);
	cr_assert_eq(n1, n0 + 2, "one step per sampler with a lock");
	size_t samplers = 0;
	for (size_t i = 0; i < n1; i++) {
		if (i > 0)
			cr_assert_leq(after[i - 1], after[i], "steps out of order");
		samplers += after[i] == BATON_FORK_SAMPLER;
	}
	cr_assert_geq(samplers, 2);
	baton_sampler_destroy(sw);
	baton_sampler_destroy(dyn);
	cr_assert_eq(bt_fork_steps(after, 64), n0,
	             "destroyed samplers leave the registry");
	/* The core's own steps are there from the start: store, drops, log. */
	bool store = false, drops = false, log = false;
	for (size_t i = 0; i < n0 && i < 64; i++) {
		store |= before[i] == BATON_FORK_STORE;
		drops |= before[i] == BATON_FORK_DROPS;
		log |= before[i] == BATON_FORK_LOG;
	}
	cr_assert(store && drops && log);
}

/* An exporter whose export takes a while, and says when it is inside one. */
static atomic_int in_export, exports_done;
static baton_export_result slow_export(void *arg, const baton_span_data *const *spans,
                                       size_t n)
{
	(void)arg;
	(void)spans;
	(void)n;
	atomic_store(&in_export, 1);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	atomic_store(&in_export, 0);
	atomic_fetch_add(&exports_done, 1);
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops slow_ops = {
    .size = sizeof(baton_exporter_ops), .name = "slow", .export_spans = slow_export};

static int count_threads(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void init_slow(void)
{
	baton_batch_options bo = {.size = sizeof(bo), .schedule_delay_ms = 10};
	baton_processor p;
	cr_assert_eq(
	    baton_batch_processor_create((baton_exporter){&slow_ops, NULL}, &bo, &p),
	    BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
}

/*
 * fork() during an export waits for it to end: the child never inherits an
 * exporter halfway through a request (an OTLP transfer was torn down in the
 * child mid-way). And the child's processor has no thread until it is used:
 * no thread is created inside the fork handler.
 */
Test(fork, an_export_in_flight_ends_before_fork_and_the_child_starts_its_worker_on_use,
     .timeout = 60)
{
	TU_SKIP_THREADED_FORK();
	init_slow();
	baton_tracer *t = baton_tracer_get("fork", NULL);
	baton_span_end(baton_span_start(t, "parent"));
	while (!atomic_load(&in_export))
		sched_yield();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* 1: the export was in flight in the copy; 2: a thread already runs. */
		int rc = atomic_load(&in_export) ? 1 : count_threads() != 1 ? 2 : 0;
		if (rc == 0) {
			baton_span_end(baton_span_start(t, "child"));
			if (baton_force_flush(5000) != BATON_OK || count_threads() != 2)
				rc = 3;
			else if (atomic_load(&exports_done) <
			         2) /* the parent's, then ours */
				rc = 4;
		}
		_exit(rc);
	}
	cr_assert_eq(atomic_load(&in_export), 0, "fork returned during the export");
	int code = tu_wait_child(pid);
	cr_assert_eq(code, 0,
	             "child: 1 export in flight, 2 thread started by the handler, 3 no "
	             "export, 4 wrong count; got %d",
	             code);
	cr_assert_eq(baton_fini(5000), BATON_OK);
}

static atomic_bool hold, deciding;
static baton_sampler shared_sw;

/* A sampler that stays inside its decision until released. */
static void blocking_sample(void *arg, const baton_sampling_params *p,
                            baton_sampling_result *r)
{
	(void)arg;
	(void)p;
	atomic_store(&deciding, true);
	while (atomic_load(&hold))
		sched_yield();
	r->decision = BATON_SAMPLING_DROP;
	r->has_threshold = false;
}
static const baton_sampler_ops blocking_ops = {.size = sizeof(baton_sampler_ops),
                                               .name = "blocking",
                                               .should_sample = blocking_sample};

static void *decide(void *arg)
{
	(void)arg;
	uint8_t tid[16] = {1};
	baton_span_context none;
	memset(&none, 0, sizeof(none));
	baton_sampling_params p = {.parent = &none, .trace_id = tid, .name = "x"};
	baton_sampling_result r;
	shared_sw.ops->should_sample(shared_sw.arg, &p, &r);
	return NULL;
}

/*
 * A decision in progress holds a reader count: a child forked then inherited
 * it, and its next switch waited forever for a reader that does not exist
 * there.
 */
Test(fork, a_switchable_sampler_switches_in_a_child_forked_mid_decision, .timeout = 60)
{
	TU_SKIP_THREADED_FORK();
	cr_assert_eq(
	    baton_sampler_switchable((baton_sampler){&blocking_ops, NULL}, &shared_sw),
	    BATON_OK);
	/* Two switches: the blocking sampler is current again, in the other slot. */
	baton_sampler r;
	cr_assert_eq(baton_sampler_traceidratio(0.5, &r), BATON_OK);
	cr_assert_eq(baton_sampler_switch(shared_sw, r), BATON_OK);
	cr_assert_eq(
	    baton_sampler_switch(shared_sw, (baton_sampler){&blocking_ops, NULL}),
	    BATON_OK);
	atomic_store(&hold, true);
	pthread_t th;
	pthread_create(&th, NULL, decide, NULL);
	while (!atomic_load(&deciding))
		sched_yield();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		alarm(5);
		for (int i = 0; i < 2; i++) {
			baton_sampler next;
			if (baton_sampler_traceidratio(0.1, &next) != BATON_OK ||
			    baton_sampler_switch(shared_sw, next) != BATON_OK)
				_exit(1);
		}
		_exit(0);
	}
	int code = tu_wait_child(pid);
	atomic_store(&hold, false);
	pthread_join(th, NULL);
	cr_assert_eq(code, 0, "the child's switch hung or failed (%d)", code);
	baton_sampler_destroy(shared_sw);
}

/* ---- per-thread counters across fork ---- */

static _Atomic int counted_and_parked;

/* Counts spans and a message event, then stays alive until the fork is over. */
static void *count_and_park(void *arg)
{
	(void)arg;
	baton_msg_recv r;
	tu_make_spans("parked", 3);
	baton_msg_recv_open("bare", 4, NULL, &r);
	atomic_fetch_add(&counted_and_parked, 1);
	while (atomic_load(&counted_and_parked) > 0)
		sched_yield();
	return NULL;
}

static void *count_once(void *arg)
{
	(void)arg;
	baton_msg_recv r;
	tu_make_spans("child", 3);
	baton_msg_recv_open("bare", 4, NULL, &r);
	return NULL;
}

/*
 * A child's new threads may be given the stacks, and so the thread-locals,
 * of the parent's threads it lacks. Their counters must be summed once
 * each, and reading them must return: a thread registered a second time at
 * the same address made the counter lists loops, and baton_sdk_stats_get,
 * baton_msg_stats_get and baton_fini spun forever in the child.
 */
Test(fork, a_child_sums_the_counters_of_threads_that_reuse_dead_threads_locals,
     .timeout = 60)
{
	TU_SKIP_THREADED_FORK();
	enum { PARKED = 3, ROUNDS = 5, EACH = 3 };
	tu_init_release(baton_sampler_always_on());
	baton_msg_stats_reset();
	pthread_t th[PARKED];
	for (int i = 0; i < PARKED; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, count_and_park, NULL), 0);
	while (atomic_load(&counted_and_parked) < PARKED)
		sched_yield();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		alarm(20); /* a loop ends the child instead of the test run */
		int code = 0;
		for (int round = 0; round < ROUNDS; round++) {
			pthread_t c[PARKED];
			for (int i = 0; i < PARKED; i++)
				if (pthread_create(&c[i], NULL, count_once, NULL) != 0)
					_exit(99);
			for (int i = 0; i < PARKED; i++)
				pthread_join(c[i], NULL);
		}
		baton_sdk_stats ss;
		baton_sdk_stats_get(&ss);
		if (ss.spans_started != (uint64_t)PARKED * EACH * (1 + ROUNDS))
			code |= 1;
		baton_msg_stats ms;
		baton_msg_stats_get(&ms);
		if (ms.passed_through != (uint64_t)PARKED * (1 + ROUNDS))
			code |= 2;
		baton_fini(2000);
		_exit(code);
	}
	int code = tu_wait_child(pid);
	atomic_store(&counted_and_parked, 0);
	for (int i = 0; i < PARKED; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(code, 0, "child failed checks 0x%x (128 + signal: it hung)", code);
	baton_fini(2000);
}

/* ---- the store across fork ---- */

static _Atomic int cached_and_parked;

/* Ends spans (its cache keeps records), then stays alive past the fork. */
static void *cache_and_park(void *arg)
{
	(void)arg;
	tu_make_spans("cached", 300);
	atomic_fetch_add(&cached_and_parked, 1);
	while (atomic_load(&cached_and_parked) > 0)
		sched_yield();
	return NULL;
}

/*
 * The records the parent's other threads kept in their caches are the
 * child's again: it can hold the whole store open. Before, each such
 * thread took up to 128 records out of the child's store for good (here
 * 6 threads of a 1,024-record store left the child 640).
 */
Test(fork, a_child_gets_back_the_records_other_threads_cached, .timeout = 60)
{
	TU_SKIP_THREADED_FORK();
	enum { THREADS = 6, STORE = 1024 };
	baton_processor p = tu_release_processor();
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = STORE;
	cr_assert_eq(baton_init(&o), BATON_OK);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, cache_and_park, NULL), 0);
	while (atomic_load(&cached_and_parked) < THREADS)
		sched_yield();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		static baton_span open[STORE + 1];
		baton_tracer *t = baton_tracer_get("child", NULL);
		int recording = 0;
		for (int i = 0; i <= STORE; i++) {
			open[i] = baton_span_start(t, "open");
			recording += baton_span_is_recording(open[i]);
		}
		for (int i = 0; i <= STORE; i++)
			baton_span_end(open[i]);
		baton_fini(2000);
		/* The whole store, and not one record more. */
		_exit(recording == STORE ? 0 : 1);
	}
	int code = tu_wait_child(pid);
	atomic_store(&cached_and_parked, 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(code, 0, "the child could not hold its whole store open (%d)", code);
	baton_fini(2000);
}
