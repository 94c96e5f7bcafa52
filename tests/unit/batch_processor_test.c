/* The batch span processor: batching, drops, flush, shutdown, threads, fork. */
#include <baton/baton.h>
#include <baton/jaeger_json.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include "testutil.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A test exporter that records batch sizes and can fail, block or hang. */
enum rec_mode { REC_OK, REC_FAIL, REC_BLOCK, REC_HANG };

struct rec {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	enum rec_mode mode;
	bool gate_open;     /* REC_BLOCK: export waits until opened */
	bool cut;           /* shutdown was called */
	bool cut_in_export; /* ... while an export was in progress */
	bool in_export;
	size_t batches, spans, max_batch;
	size_t sizes[8192];
	char first_name[64];
};

static baton_export_result rec_export(void *arg, const baton_span_data *const *spans,
                                      size_t n)
{
	struct rec *r = arg;
	baton_export_result res = BATON_EXPORT_RESULT(BATON_OK);
	baton_err rv = BATON_OK;
	pthread_mutex_lock(&r->mtx);
	r->in_export = true;
	if (r->mode == REC_BLOCK) {
		while (!r->gate_open && !r->cut)
			pthread_cond_wait(&r->cv, &r->mtx);
	} else if (r->mode == REC_HANG) {
		while (!r->cut)
			pthread_cond_wait(&r->cv, &r->mtx);
		rv = BATON_ETIMEDOUT;
	} else if (r->mode == REC_FAIL) {
		res.retries = 2;
		res.reason = "collector said no";
		rv = BATON_EREJECTED;
	}
	if (rv == BATON_OK) {
		if (r->batches < 8192)
			r->sizes[r->batches] = n;
		r->batches++;
		r->spans += n;
		if (n > r->max_batch)
			r->max_batch = n;
		if (r->first_name[0] == '\0')
			snprintf(r->first_name, sizeof(r->first_name), "%s",
			         spans[0]->name);
	}
	r->in_export = false;
	pthread_mutex_unlock(&r->mtx);
	res.err = rv;
	return res;
}

static baton_err rec_shutdown(void *arg, uint32_t timeout_ms)
{
	(void)timeout_ms;
	struct rec *r = arg;
	/* Not under mtx when an export hangs on it: use the cond's mutex briefly. */
	pthread_mutex_lock(&r->mtx);
	r->cut = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
	return BATON_OK;
}

static const baton_exporter_ops rec_ops = {
    sizeof(baton_exporter_ops), "rec", rec_export, NULL, rec_shutdown, NULL};

/* Static storage: a test may look at its exporter after baton_fini destroyed the
 * processor. */
static struct rec rec_pool[2];
static int rec_used;

static struct rec *rec_new(enum rec_mode mode)
{
	struct rec *r = &rec_pool[rec_used++];
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->mode = mode;
	return r;
}

static void rec_open(struct rec *r)
{
	pthread_mutex_lock(&r->mtx);
	r->gate_open = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
}

static size_t rec_spans(struct rec *r)
{
	pthread_mutex_lock(&r->mtx);
	size_t n = r->spans;
	pthread_mutex_unlock(&r->mtx);
	return n;
}

static baton_processor init_batch(baton_exporter exp, uint32_t queue, uint32_t batch,
                                  uint32_t delay_ms)
{
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = queue,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = delay_ms,
	                          .export_timeout_ms = 2000};
	baton_processor p;
	cr_assert_eq(baton_batch_processor_create(exp, &bo, &p), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 1 << 17;
	cr_assert_eq(baton_init(&o), BATON_OK);
	return p;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

Test(batch_processor, batches_are_full_under_load_not_a_handful_each)
{
	struct rec *r = rec_new(REC_OK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 65536, 256, 60000);
	tu_make_spans("load", 256 * 40);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 256 * 40);
	cr_assert_eq(rec_spans(r), 256 * 40);
	/* With a 60 s delay only full batches leave before the flush. */
	for (size_t i = 0; i + 1 < r->batches; i++)
		cr_assert_eq(r->sizes[i], 256, "batch %zu has %zu spans", i, r->sizes[i]);
	cr_assert_leq(r->batches, 41);
	cr_assert_eq(r->max_batch, 256);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

/* The application's signal handlers never run on the export worker. */
Test(batch_processor, the_worker_blocks_every_signal)
{
	struct rec *r = rec_new(REC_OK);
	init_batch((baton_exporter){&rec_ops, r}, 1024, 512, 20);
	tu_make_spans("signals", 3); /* the worker starts with the first span */
	int found = 0;
	for (int i = 0; i < 500 && found == 0; i++) { /* and names itself */
		tu_threads_blocking("baton-export", SIGINT, &found);
		if (found == 0)
			sleep_ms(10);
	}
	int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGPIPE, SIGCHLD};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		int blocking = tu_threads_blocking("baton-export", sigs[i], &found);
		cr_assert_eq(found, 1, "one worker");
		cr_assert_eq(blocking, 1, "the worker blocks signal %d", sigs[i]);
	}
	baton_fini(2000);
}

Test(batch_processor, schedule_delay_exports_a_partial_batch_without_flush)
{
	struct rec *r = rec_new(REC_OK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 1024, 512, 20);
	tu_make_spans("few", 3);
	for (int i = 0; i < 500 && rec_spans(r) < 3; i++)
		sleep_ms(10);
	cr_assert_eq(rec_spans(r), 3);
	cr_assert_str_eq(r->first_name, "few");
	cr_assert_eq(tu_batch_stats(p).spans_exported, 3);
	baton_fini(2000);
}

Test(batch_processor, full_queue_drops_count_and_release_spans)
{
	struct rec *r = rec_new(REC_BLOCK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 16, 4, 60000);
	tu_make_spans("burst", 1000);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.queue_capacity, 16);
	cr_assert_eq(s.spans_received, 1000);
	cr_assert_geq(s.dropped_queue_full, 1000 - 16 - 4);
	rec_open(r);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported + s.dropped_queue_full, 1000);
	cr_assert_eq(rec_spans(r), s.spans_exported);
	TU_ASSERT_ACCOUNTED(&s);
	/* Every record went back to the span store. */
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0);
	baton_fini(2000);
}

Test(batch_processor, export_failure_is_counted_with_the_exporter_reason)
{
	struct rec *r = rec_new(REC_FAIL);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 1024, 10, 60000);
	tu_make_spans("fail", 25);
	/* The flush reports the failure of the exports it waited for. */
	cr_assert_eq(baton_force_flush(5000), BATON_EREJECTED);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.dropped_export_failure, 25);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.export_requests, 3);
	cr_assert_eq(s.export_failures, 3);
	cr_assert_eq(s.export_retries, 6);
	cr_assert_str_eq(s.last_error, "collector said no");
	TU_ASSERT_ACCOUNTED(&s);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0);
	baton_fini(2000);
}

Test(batch_processor, shutdown_exports_what_is_queued)
{
	struct rec *r = rec_new(REC_OK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 4096, 100, 60000);
	tu_make_spans("fini", 250);
	cr_assert_eq(p.ops->shutdown(p.arg, 5000), BATON_OK);
	cr_assert_eq(rec_spans(r), 250);
	cr_assert(r->cut, "the exporter was shut down");
	/* Spans ended after shutdown are dropped and counted, not queued. */
	tu_make_spans("late", 5);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.dropped_shutdown, 5);
	cr_assert_eq(s.spans_received, 255);
	TU_ASSERT_ACCOUNTED(&s);
	cr_assert_eq(p.ops->force_flush(p.arg, 100), BATON_ECLOSED);
	baton_fini(2000);
}

Test(batch_processor, shutdown_returns_within_its_timeout_when_the_export_hangs)
{
	struct rec *r = rec_new(REC_HANG);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 4096, 8, 60000);
	tu_make_spans("hang", 100);
	uint64_t t0 = baton_time_mono_ns();
	baton_err e = p.ops->shutdown(p.arg, 300);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_eq(e, BATON_ETIMEDOUT);
	/* Generous bound: a hang would never return at all. */
	cr_assert_lt(el, 10000000000ull, "shutdown took %llu ns", (unsigned long long)el);
	cr_assert(r->cut, "the exporter was told to cut the export");
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.dropped_shutdown + s.dropped_export_failure, 100);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

Test(batch_processor, fini_with_a_hanging_exporter_is_bounded_and_frees_everything)
{
	struct rec *r = rec_new(REC_HANG);
	init_batch((baton_exporter){&rec_ops, r}, 4096, 8, 60000);
	tu_make_spans("hang", 50);
	uint64_t t0 = baton_time_mono_ns();
	baton_fini(200);
	cr_assert_lt(baton_time_mono_ns() - t0, 10000000000ull);
	cr_assert(r->cut);
}

struct producer_arg {
	int n;
	char name[16];
};

static void *producer(void *arg)
{
	struct producer_arg *a = arg;
	tu_make_spans(a->name, a->n);
	return NULL;
}

Test(batch_processor, several_producers_lose_nothing_that_fits)
{
	enum { THREADS = 4, EACH = 5000 };
	struct rec *r = rec_new(REC_OK);
	/* The ring holds every span: nothing may be dropped. */
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 32768, 128, 60000);
	pthread_t th[THREADS];
	struct producer_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i].n = EACH;
		snprintf(args[i].name, sizeof(args[i].name), "t%d", i);
		pthread_create(&th[i], NULL, producer, &args[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(baton_force_flush(10000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, THREADS * EACH);
	cr_assert_eq(s.dropped_queue_full, 0);
	cr_assert_eq(s.spans_exported, THREADS * EACH);
	cr_assert_eq(rec_spans(r), THREADS * EACH);
	cr_assert_leq(r->max_batch, 128);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

Test(batch_processor, several_producers_into_a_small_ring_account_for_every_span)
{
	enum { THREADS = 4, EACH = 5000 };
	struct rec *r = rec_new(REC_OK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 64, 16, 60000);
	pthread_t th[THREADS];
	struct producer_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i].n = EACH;
		snprintf(args[i].name, sizeof(args[i].name), "s%d", i);
		pthread_create(&th[i], NULL, producer, &args[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(baton_force_flush(10000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, THREADS * EACH);
	cr_assert_eq(s.spans_exported + s.dropped_queue_full, THREADS * EACH);
	cr_assert_eq(rec_spans(r), s.spans_exported);
	TU_ASSERT_ACCOUNTED(&s);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0);
	baton_fini(2000);
}

/* An exporter that takes 2 ms a batch: a collector the producers outrun. */
static _Atomic long slow_batches;

static baton_export_result slow_export(void *arg, const baton_span_data *const *spans,
                                       size_t n)
{
	(void)arg;
	(void)spans;
	(void)n;
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);
	atomic_fetch_add(&slow_batches, 1);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static const baton_exporter_ops slow_ops = {
    .size = sizeof(slow_ops), .name = "slow", .export_spans = slow_export};

static _Atomic bool producing;

static void *keep_producing(void *arg)
{
	(void)arg;
	baton_tracer *t = baton_tracer_get("test", NULL);
	while (atomic_load(&producing))
		baton_span_end(baton_span_start(t, "steady"));
	return NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * fork() waits for an export in flight (up to 2 s), not for the backlog:
 * with full batches always waiting, the worker used to start the next
 * export before fork() got the lock back, and fork() waited until the
 * worker's once-a-second tick let go of the lock, or the whole 2 s
 * (992-2004 ms here; now a few ms).
 */
Test(batch_processor, a_fork_under_a_steady_backlog_waits_for_one_export_not_all)
{
	TU_SKIP_THREADED_FORK();
	init_batch((baton_exporter){&slow_ops, NULL}, 65536, 64, 5);
	atomic_store(&producing, true);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, keep_producing, NULL), 0);
	while (atomic_load(&slow_batches) < 5)
		sched_yield();
	uint64_t t0 = mono_ms();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(0);
	uint64_t took = mono_ms() - t0;
	long before = atomic_load(&slow_batches);
	cr_assert_eq(tu_wait_child(pid), 0);
	/* The worker goes on exporting after the fork. */
	while (atomic_load(&slow_batches) < before + 5)
		sched_yield();
	atomic_store(&producing, false);
	pthread_join(th, NULL);
	cr_assert_lt(took, 500, "fork() took %llu ms", (unsigned long long)took);
	baton_fini(5000);
}

Test(batch_processor, forked_child_exports_its_own_spans_only)
{
	TU_SKIP_THREADED_FORK();
	baton_exporter exp;
	tu_memory_exporter *mem;
	cr_assert_eq(tu_memory_exporter_create(1000, &exp, &mem), BATON_OK);
	baton_processor p = init_batch(exp, 1024, 512, 60000);
	tu_make_spans("parent", 10);
	/* Accepted, not exported (the worker may already hold them in its batch). */
	baton_batch_stats ps = tu_batch_stats(p);
	cr_assert_eq(ps.spans_received, 10);
	cr_assert_eq(ps.spans_exported, 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int code = 0;
		baton_batch_stats cs;
		baton_batch_processor_stats(p, &cs);
		if (cs.discarded_at_fork != 10 || cs.queue_size != 0)
			code = 1;
		tu_make_spans("child", 5);
		if (baton_force_flush(5000) != BATON_OK)
			code |= 2;
		if (tu_memory_exporter_count(mem) != 5)
			code |= 4;
		if (tu_memory_exporter_count_named(mem, "child") != 5)
			code |= 8;
		baton_batch_processor_stats(p, &cs);
		if (cs.spans_exported != 5)
			code |= 16;
		baton_fini(2000);
		_exit(code);
	}
	int code = tu_wait_child(pid);
	cr_assert_eq(code, 0, "child failed checks 0x%x", code);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_memory_exporter_count(mem), 10);
	tu_memory_span ms;
	tu_memory_exporter_get(mem, 0, &ms);
	cr_assert_str_eq(ms.name, "parent");
	cr_assert_eq(tu_batch_stats(p).spans_exported, 10);
	baton_fini(2000);
}

Test(batch_processor, options_come_from_the_environment)
{
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100", 1);
	setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "7", 1);
	struct rec *r = rec_new(REC_OK);
	baton_processor p;
	cr_assert_eq(
	    baton_batch_processor_create((baton_exporter){&rec_ops, r}, NULL, &p),
	    BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .sampler = baton_sampler_always_on(),
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	cr_assert_eq(tu_batch_stats(p).queue_capacity, 128);
	tu_make_spans("env", 21);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(r->max_batch, 7);
	cr_assert_eq(r->batches, 3);
	baton_fini(2000);
}

Test(batch_processor, bad_arguments_are_rejected)
{
	baton_processor p;
	baton_batch_stats s;
	struct rec *r = rec_new(REC_OK);
	cr_assert_eq(baton_batch_processor_create((baton_exporter){NULL, NULL}, NULL, &p),
	             BATON_EINVAL);
	cr_assert_eq(
	    baton_batch_processor_create((baton_exporter){&rec_ops, r}, NULL, NULL),
	    BATON_EINVAL);
	baton_batch_options small = {.size = 4};
	cr_assert_eq(
	    baton_batch_processor_create((baton_exporter){&rec_ops, r}, &small, &p),
	    BATON_EINVAL);
	baton_exporter exp;
	tu_memory_exporter *mem;
	cr_assert_eq(tu_memory_exporter_create(10, &exp, &mem), BATON_OK);
	baton_processor simple;
	cr_assert_eq(baton_simple_processor_create(exp, &simple), BATON_OK);
	cr_assert_eq(baton_batch_processor_stats(simple, &s), BATON_EINVAL);
	simple.ops->destroy(simple.arg);
}

/* ---- drops are visible, failures are returned, stats outlive fini ---- */

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char logged[65536];
static size_t nlines;

static void capture_log(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&log_mtx);
	strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
	nlines++;
	pthread_mutex_unlock(&log_mtx);
}

static void capture_logs(baton_log_level min)
{
	logged[0] = '\0';
	nlines = 0;
	baton_set_log(min, capture_log, NULL);
}

/* Lines of the captured log that contain needle. */
static size_t lines_with(const char *needle)
{
	size_t n = 0;
	pthread_mutex_lock(&log_mtx);
	for (const char *p = logged; (p = strstr(p, needle)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&log_mtx);
	return n;
}

static bool log_has(const char *needle)
{
	return lines_with(needle) > 0;
}

Test(batch_processor, a_full_queue_is_reported_once_with_its_count_not_per_span)
{
	capture_logs(BATON_LOG_DEBUG);
	struct rec *r = rec_new(REC_BLOCK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 16, 4, 60000);
	tu_make_spans("burst", 1000);
	/* The worker writes what the first line did not say within a tick. */
	sleep_ms(1500);
	rec_open(r);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_gt(s.dropped_queue_full, 900);
	/* Within 5 s: one line for the reason, whatever the number of spans. */
	cr_assert_eq(lines_with("queue was full"), 1, "%s", logged);
	cr_assert(log_has("OTEL_BSP_MAX_QUEUE_SIZE"), "%s", logged);
	cr_assert_lt(nlines, 10, "not one line per span: %s", logged);
	cr_assert_eq(baton_fini(2000), BATON_OK);
	char want[128];
	snprintf(want, sizeof(want),
	         "baton_fini: %llu spans lost since baton_init (%llu queue full)",
	         (unsigned long long)s.dropped_queue_full,
	         (unsigned long long)s.dropped_queue_full);
	cr_assert(log_has(want), "want \"%s\" in: %s", want, logged);
	cr_assert_eq(lines_with("baton_fini:"), 1);
}

Test(batch_processor, the_rate_limited_line_carries_the_count_of_a_burst)
{
	capture_logs(BATON_LOG_WARN);
	struct rec *r = rec_new(REC_BLOCK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 16, 4, 60000);
	/*
	 * The exporter is stuck, so its worker cannot report: the spans that
	 * keep being dropped on the caller's path carry the line when it is due.
	 */
	tu_make_spans("one", 20); /* the first drop is reported at once */
	uint64_t t0 = baton_time_mono_ns();
	while (baton_time_mono_ns() - t0 < 7000000000ull &&
	       lines_with("queue was full") < 2) {
		tu_make_spans("more", 20);
		sleep_ms(50);
	}
	cr_assert_eq(lines_with("queue was full"), 2, "%s", logged);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_geq(el, 4900000000ull, "the second line waited the interval");
	/* It counts every span dropped since the first line, not one. */
	const char *first = strstr(logged, "queue was full");
	const char *second = strstr(first + 1, "queue was full");
	unsigned long long n1 = 0, all1 = 0, n = 0, all = 0;
	cr_assert_eq(sscanf(first, "queue was full: %llu", &n1), 1, "%s", first);
	cr_assert_eq(sscanf(strchr(first, '('), "(%llu in all)", &all1), 1, "%s", first);
	cr_assert_eq(
	    sscanf(second, "queue was full: %llu spans dropped (%llu in all)", &n, &all),
	    2, "%s", second);
	cr_assert_gt(n, 100);
	cr_assert_eq(all, all1 + n, "%s", logged);
	rec_open(r);
	cr_assert_leq(all, tu_batch_stats(p).dropped_queue_full);
	baton_fini(2000);
}

Test(batch_processor, a_full_span_store_is_reported_and_summed_at_fini)
{
	capture_logs(BATON_LOG_WARN);
	baton_exporter exp;
	tu_memory_exporter *mem;
	cr_assert_eq(tu_memory_exporter_create(1000, &exp, &mem), BATON_OK);
	baton_processor p;
	cr_assert_eq(baton_batch_processor_create(exp, NULL, &p), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 64;
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t = baton_tracer_get("test", NULL);
	baton_span open[100];
	for (int i = 0; i < 100; i++)
		open[i] = baton_span_start(t, "open");
	cr_assert(log_has("the span store was full at span start: 1 span not recorded"),
	          "%s", logged);
	for (int i = 0; i < 100; i++)
		baton_span_end(open[i]);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_gt(ss.spans_dropped_no_store, 0);
	cr_assert_eq(baton_fini(2000), BATON_OK);
	char want[96];
	snprintf(want, sizeof(want), "(%llu span store full)",
	         (unsigned long long)ss.spans_dropped_no_store);
	cr_assert(log_has(want), "want \"%s\" in: %s", want, logged);
}

Test(batch_processor, a_full_span_arena_is_reported_with_its_count)
{
	capture_logs(BATON_LOG_WARN);
	baton_exporter exp;
	tu_memory_exporter *mem;
	cr_assert_eq(tu_memory_exporter_create(10, &exp, &mem), BATON_OK);
	baton_processor p;
	cr_assert_eq(baton_simple_processor_create(exp, &p), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.span_arena_bytes = 512;
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_span s = baton_span_start(baton_tracer_get("test", NULL), "full");
	char key[16];
	for (int i = 0; i < 60; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		baton_span_set_str(s, key, "a value of some length");
	}
	baton_span_end(s);
	cr_assert(log_has("a span's arena was full: "), "%s", logged);
	cr_assert_eq(baton_fini(2000), BATON_OK);
	cr_assert(log_has("attributes, events or links dropped (span arena full"), "%s",
	          logged);
}

Test(batch_processor, stats_stay_readable_after_fini)
{
	struct rec *r = rec_new(REC_OK);
	baton_processor p = init_batch((baton_exporter){&rec_ops, r}, 1024, 10, 60000);
	tu_make_spans("kept", 25);
	cr_assert_eq(baton_fini(2000), BATON_OK);
	baton_batch_stats s;
	cr_assert_eq(baton_batch_processor_stats(p, &s), BATON_OK);
	cr_assert_eq(s.spans_received, 25);
	cr_assert_eq(s.spans_exported, 25);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_started, 25);
	cr_assert_eq(ss.spans_exported, 25);
	/* A new run starts from zero. */
	cr_assert_eq(baton_init(NULL), BATON_OK);
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_exported, 0);
	baton_fini(100);
}

Test(batch_processor, fini_returns_the_error_of_an_export_that_failed_in_it)
{
	capture_logs(BATON_LOG_WARN);
	struct rec *r = rec_new(REC_FAIL);
	init_batch((baton_exporter){&rec_ops, r}, 1024, 10, 60000);
	tu_make_spans("fail", 25);
	cr_assert_eq(baton_fini(5000), BATON_EREJECTED);
	cr_assert(log_has("export failed: "), "%s", logged);
	cr_assert(
	    log_has("baton_fini: 25 spans lost since baton_init (25 export failed)"),
	    "%s", logged);
}

Test(batch_processor, flush_and_fini_succeed_when_everything_was_exported)
{
	capture_logs(BATON_LOG_WARN);
	struct rec *r = rec_new(REC_OK);
	init_batch((baton_exporter){&rec_ops, r}, 1024, 10, 60000);
	tu_make_spans("ok", 25);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	tu_make_spans("ok", 5);
	cr_assert_eq(baton_fini(5000), BATON_OK);
	cr_assert_eq(rec_spans(r), 30);
	cr_assert_eq(logged[0], '\0', "nothing to report: %s", logged);
}

/* A path whose directory is a regular file: no file can be written there. */
static const char *unwritable_path(char *buf, size_t cap)
{
	char dir[] = "/tmp/baton-unwritable-XXXXXX";
	int fd = mkstemp(dir);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(buf, cap, "%s/traces.json", dir);
	return buf;
}

Test(batch_processor, an_unwritable_jaeger_json_file_fails_flush_and_fini)
{
	char path[128];
	baton_jaeger_json_options jo = {.size = sizeof(jo),
	                                .path = unwritable_path(path, sizeof(path)),
	                                .write_interval_ms =
	                                    BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&jo, &e), BATON_OK);
	init_batch(e, 1024, 10, 60000);
	tu_make_spans("nowhere", 5);
	cr_assert_eq(baton_force_flush(5000), BATON_ESYSTEM);
	cr_assert_eq(baton_fini(5000), BATON_ESYSTEM);
}

Test(batch_processor, a_writable_jaeger_json_file_flushes_fine)
{
	char path[] = "/tmp/baton-jj-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	baton_jaeger_json_options jo = {.size = sizeof(jo),
	                                .path = path,
	                                .write_interval_ms =
	                                    BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&jo, &e), BATON_OK);
	init_batch(e, 1024, 10, 60000);
	tu_make_spans("somewhere", 5);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(baton_fini(5000), BATON_OK);
	unlink(path);
}

/* ---- configuration edges: one warning each, and the value that is used ---- */

static baton_processor create_from_env(struct rec *r)
{
	baton_processor p;
	cr_assert_eq(
	    baton_batch_processor_create((baton_exporter){&rec_ops, r}, NULL, &p),
	    BATON_OK);
	return p;
}

static void init_with(baton_processor p)
{
	baton_options o = {.size = sizeof(o),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .sampler = baton_sampler_always_on(),
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
}

Test(batch_processor, a_zero_queue_size_is_refused_with_a_warning)
{
	capture_logs(BATON_LOG_WARN);
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "0", 1);
	baton_processor p = create_from_env(rec_new(REC_OK));
	cr_assert(log_has("OTEL_BSP_MAX_QUEUE_SIZE=0 is not allowed (at least 1); using "
	                  "2048"),
	          "%s", logged);
	init_with(p);
	cr_assert_eq(tu_batch_stats(p).queue_capacity, 2048);
	baton_fini(1000);
}

Test(batch_processor, a_huge_queue_is_clamped_with_a_warning)
{
	capture_logs(BATON_LOG_WARN);
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4294967295", 1);
	uint64_t t0 = baton_time_mono_ns();
	baton_processor p = create_from_env(rec_new(REC_OK));
	cr_assert_lt(baton_time_mono_ns() - t0, 500000000ull, "start-up stays quick");
	cr_assert(log_has("OTEL_BSP_MAX_QUEUE_SIZE=4294967295 is above the maximum "
	                  "1048576; using 1048576"),
	          "%s", logged);
	init_with(p);
	cr_assert_eq(tu_batch_stats(p).queue_capacity, 1048576);
	baton_fini(1000);
}

Test(batch_processor, a_batch_larger_than_the_queue_is_cut_with_a_warning)
{
	capture_logs(BATON_LOG_WARN);
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100", 1);
	setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500", 1);
	struct rec *r = rec_new(REC_OK);
	baton_processor p = create_from_env(r);
	cr_assert(log_has("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=500 is larger than the queue "
	                  "(100); using 100"),
	          "%s", logged);
	init_with(p);
	tu_make_spans("cut", 100);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(r->max_batch, 100);
	baton_fini(1000);
}

Test(batch_processor, a_zero_schedule_delay_exports_at_once)
{
	capture_logs(BATON_LOG_WARN);
	setenv("OTEL_BSP_SCHEDULE_DELAY", "0", 1);
	struct rec *r = rec_new(REC_OK);
	baton_processor p = create_from_env(r);
	init_with(p);
	tu_make_spans("now", 3);
	/* The default delay would hold them for 5 s. */
	for (int i = 0; i < 100 && rec_spans(r) < 3; i++)
		sleep_ms(10);
	cr_assert_eq(rec_spans(r), 3);
	cr_assert_eq(logged[0], '\0', "0 is accepted silently: %s", logged);
	/* An idle worker does not spin: a second later it has made no export. */
	size_t batches = r->batches;
	sleep_ms(300);
	cr_assert_eq(r->batches, batches);
	baton_fini(1000);
}

Test(batch_processor, a_bad_export_timeout_is_refused_with_a_warning)
{
	capture_logs(BATON_LOG_WARN);
	setenv("OTEL_BSP_EXPORT_TIMEOUT", "soon", 1);
	baton_processor p = create_from_env(rec_new(REC_OK));
	cr_assert(log_has("OTEL_BSP_EXPORT_TIMEOUT=\"soon\" is not a non-negative "
	                  "integer; using 30000"),
	          "%s", logged);
	p.ops->destroy(p.arg);
	logged[0] = '\0';
	setenv("OTEL_BSP_EXPORT_TIMEOUT", "0", 1);
	p = create_from_env(rec_new(REC_OK));
	cr_assert(log_has("OTEL_BSP_EXPORT_TIMEOUT=0 is not allowed (at least 1); using "
	                  "30000"),
	          "%s", logged);
	p.ops->destroy(p.arg);
}

Test(batch_processor, a_huge_queue_in_the_options_is_clamped_with_a_warning)
{
	capture_logs(BATON_LOG_WARN);
	baton_batch_options bo = {.size = sizeof(bo), .max_queue_size = UINT32_MAX};
	baton_processor p;
	cr_assert_eq(baton_batch_processor_create(
	                 (baton_exporter){&rec_ops, rec_new(REC_OK)}, &bo, &p),
	             BATON_OK);
	cr_assert(log_has("baton_batch_options.max_queue_size=4294967295 is above the "
	                  "maximum 1048576; using 1048576"),
	          "%s", logged);
	init_with(p);
	cr_assert_eq(tu_batch_stats(p).queue_capacity, 1048576);
	baton_fini(1000);
}
