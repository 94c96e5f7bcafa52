/* Benchmarks of the span model: ids, clocks, span start/end. */
#include "bench.h"
#include "testutil.h"

#include <baton/baton.h>
#include <baton/processor.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

BENCH(id_generation, "ns/op", NULL, 2000000)
{
	uint8_t tid[16], sid[8];
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		baton_trace_id_generate(tid);
		baton_span_id_generate(sid);
		bench_keep(tid);
		bench_keep(sid);
	}
	return (double)(bench_now_ns() - t0);
}

BENCH(clock_now, "ns/op", NULL, 2000000)
{
	uint64_t t0 = bench_now_ns(), acc = 0;
	for (uint64_t i = 0; i < iters; i++)
		acc += baton_time_unix_ns();
	bench_keep(acc);
	return (double)(bench_now_ns() - t0);
}

/* An exporter that drops what it gets: the batch worker's cost is not the caller's. */
static baton_export_result null_export(void *arg, const baton_span_data *const *spans,
                                       size_t n)
{
	(void)arg;
	(void)spans;
	(void)n;
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops null_ops = {
    sizeof(baton_exporter_ops), "null", null_export, NULL, NULL, NULL};

/* The span work every line below measures: sampled, 3 attributes, ended. */
static inline void one_span(baton_tracer *t)
{
	baton_span s = baton_span_start(t, "process guild.message");
	baton_span_set_str(s, "messaging.system", "nng");
	baton_span_set_int(s, "messaging.message.body.size", 512);
	baton_span_set_bool(s, "baton.fanout", true);
	baton_span_end(s);
}

/*
 * A fresh provider whose one processor is a batch processor (queue 65,536,
 * batch 512) draining into the null exporter on its worker thread, with
 * the default store size (BATON_MAX_SPANS unset).
 */
static baton_processor live_init(baton_sampler sampler, uint32_t delay_ms)
{
	baton_processor p;
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 65536,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = delay_ms};
	if (baton_batch_processor_create((baton_exporter){&null_ops, NULL}, &bo, &p) !=
	    BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o),
	                   .sampler = sampler,
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
	return p;
}

/* Notes what the ring and the store refused, then shuts the provider down. */
static void live_fini(baton_processor p)
{
	baton_batch_stats st;
	if (baton_batch_processor_stats(p, &st) == BATON_OK)
		bench_note("dropped", (double)st.dropped_queue_full);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	bench_note("no_store", (double)ss.spans_dropped_no_store);
	bench_note("store_records", (double)ss.store_records);
	baton_fini(5000);
}

/*
 * Each span: start, 3 attributes, end into the live batch processor's ring
 * (its worker drains it concurrently). warm spans run first, untimed, and
 * are flushed: the timed part then sees a store already grown.
 */
static uint64_t span_loop(baton_sampler sampler, uint64_t warm, uint64_t iters)
{
	baton_processor p = live_init(sampler, 5);
	baton_tracer *t = baton_tracer_get("bench", NULL);
	for (uint64_t i = 0; i < warm; i++)
		one_span(t);
	baton_force_flush(5000);
	uint64_t c0 = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	uint64_t w0 = tu_threads_cpu_ns("baton-export");
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++)
		one_span(t);
	uint64_t el = bench_now_ns() - t0;
	/* The worker's CPU per span, so far: what it has not drained yet is
	 * not counted, at most a few batches of the million. */
	bench_note_median("cpu_ns_worker",
	                  (double)(tu_threads_cpu_ns("baton-export") - w0) /
	                      (double)iters);
	/* The producer's CPU per span: on a shared machine it holds better
	 * than the wall clock, which also counts waits for a core. */
	bench_note_median("cpu_ns_producer",
	                  (double)(bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) /
	                      (double)iters);
	live_fini(p);
	return el;
}

/* The same span work, ended into a processor that releases it on the spot. */
BENCH(span_start_end_noop_processor, "ns/op", NULL, 1000000)
{
	tu_init_release(baton_sampler_always_on());
	baton_tracer *t = baton_tracer_get("bench", NULL);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++)
		one_span(t);
	uint64_t el = bench_now_ns() - t0;
	baton_fini(1000);
	return (double)el;
}

/*
 * The same, but each span's name is formatted anew into one buffer with a
 * distinct id ("GET /users/<n>"), as a server that names spans by URL does:
 * names that are interned at first, and copied once there is no room.
 */
BENCH(span_start_end_dynamic_name, "ns/op", NULL, 1000000)
{
	tu_init_release(baton_sampler_always_on());
	baton_tracer *t = baton_tracer_get("bench", NULL);
	char name[48];
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		snprintf(name, sizeof(name), "GET /users/%llu", (unsigned long long)i);
		baton_span s = baton_span_start(t, name);
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_set_int(s, "messaging.message.body.size", 512);
		baton_span_set_bool(s, "baton.fanout", true);
		baton_span_end(s);
	}
	uint64_t el = bench_now_ns() - t0;
	baton_fini(1000);
	return (double)el;
}

/* Sampled span, 3 attributes, ended into a live batch processor; warm store. */
BENCH(span_start_end, "ns/op", NULL, 1000000)
{
	return (double)span_loop(baton_sampler_always_on(), iters / 2, iters);
}

/* The same for the first spans of a fresh provider: the store's growth included. */
BENCH(span_start_end_cold, "ns/op", NULL, 1000000)
{
	return (double)span_loop(baton_sampler_always_on(), 0, iters);
}

BENCH(span_start_end_unsampled, "ns/op", NULL, 2000000)
{
	return (double)span_loop(baton_sampler_always_off(), 0, iters);
}

/* ---- producer threads: spans/s with one and two threads starting spans ---- */

struct producer {
	pthread_t th;
	baton_tracer *t;
	uint64_t n;
	_Atomic int *go;
	uint64_t cpu_ns; /* the thread's CPU time over its spans */
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	while (atomic_load_explicit(pr->go, memory_order_acquire) == 0)
		;
	uint64_t c0 = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t i = 0; i < pr->n; i++)
		one_span(pr->t);
	pr->cpu_ns = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

/*
 * Spans/s of nthreads producers, iters spans in all, into one live batch
 * processor, or (live false) into one that releases each span on the spot:
 * the store alone, no worker competing for the cores. Notes the CPU time
 * per span of the producers and of the rest of the process (the batch
 * worker: this thread only waits), medians over the samples. On a shared
 * machine they hold better than the rate: two producers and a worker
 * that take P + W ns of CPU a span can reach at most 2P / (P + W) times
 * one producer's rate on two cores.
 */
static double producers_rate(int nthreads, uint64_t iters, bool live)
{
	struct producer pr[2];
	_Atomic int go = 0;
	baton_processor p = tu_release_processor();
	if (live) {
		p = live_init(baton_sampler_always_on(), 5);
	} else {
		tu_init_release(baton_sampler_always_on());
	}
	baton_tracer *t = baton_tracer_get("bench", NULL);
	for (uint64_t i = 0; i < iters / 2; i++) /* warm the store */
		one_span(t);
	baton_force_flush(5000);
	for (int i = 0; i < nthreads; i++) {
		pr[i] =
		    (struct producer){.t = t, .n = iters / (uint64_t)nthreads, .go = &go};
		if (pthread_create(&pr[i].th, NULL, producer_main, &pr[i]) != 0)
			abort();
	}
	uint64_t w0 = tu_threads_cpu_ns("baton-export");
	uint64_t t0 = bench_now_ns(), c0 = bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	atomic_store_explicit(&go, 1, memory_order_release);
	uint64_t producers = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(pr[i].th, NULL);
		producers += pr[i].cpu_ns;
	}
	uint64_t el = bench_now_ns() - t0;
	uint64_t all = bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	uint64_t worker = tu_threads_cpu_ns("baton-export") - w0;
	bench_note_median("cpu_ns_producers", (double)producers / (double)iters);
	bench_note_median("cpu_ns_worker", (double)worker / (double)iters);
	bench_note_median(
	    "cpu_ns_rest",
	    (double)(all > producers + worker ? all - producers - worker : 0) /
	        (double)iters);
	if (live)
		live_fini(p);
	else
		baton_fini(1000);
	return (double)iters * 1e9 / (double)el;
}

BENCH(span_start_end_1thread, "ops/s", NULL, 1000000)
{
	return producers_rate(1, iters, true);
}

/* The ratio to span_start_end_1thread is the gain of a second producer. */
BENCH(span_start_end_2threads, "ops/s", "span_start_end_1thread", 1000000)
{
	return producers_rate(2, iters, true);
}

BENCH(span_start_end_noop_1thread, "ops/s", NULL, 1000000)
{
	return producers_rate(1, iters, false);
}

/* The same gain without a worker: what the store and the span path allow. */
BENCH(span_start_end_noop_2threads, "ops/s", "span_start_end_noop_1thread", 1000000)
{
	return producers_rate(2, iters, false);
}

/* ---- memory: resident bytes per queued span ---- */

static long rss_bytes(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

#define QUEUED 65536

/*
 * In a fresh child process (so that memory freed by an earlier sample does
 * not hide the cost): RSS before the processor and baton_init, then with
 * 65,536 spans of 3 attributes held (512 in the worker's batch, which the
 * exporter holds, the rest in the ring). The ring's 16 bytes a slot count.
 */
static double bytes_per_queued_child(void)
{
	long before = rss_bytes();
	baton_processor p;
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = QUEUED,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = 200};
	/* The gate holds the worker's first batch: the rest stays queued. */
	if (baton_batch_processor_create(tu_gate_exporter(), &bo, &p) != BATON_OK)
		return -1;
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 2 * QUEUED; /* room for all: the bytes, not the cap */
	if (baton_init(&o) != BATON_OK)
		return -1;
	baton_tracer *t = baton_tracer_get("bench", NULL);
	for (int i = 0; i < QUEUED; i++)
		one_span(t);
	long after = rss_bytes();
	baton_batch_stats st;
	baton_sdk_stats ss;
	baton_batch_processor_stats(p, &st);
	baton_sdk_stats_get(&ss);
	tu_gate_open();
	baton_fini(5000);
	if (before < 0 || after < 0 || st.dropped_queue_full != 0 ||
	    ss.spans_dropped_no_store != 0)
		return -1; /* not 65,536 spans held: no figure */
	return (double)(after - before) / QUEUED;
}

BENCH(span_bytes_per_queued, "bytes", NULL, 1)
{
	(void)iters;
	int fd[2];
	double v = -1;
	fflush(stdout);
	if (pipe(fd) != 0)
		abort();
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		v = bytes_per_queued_child();
		if (write(fd[1], &v, sizeof(v)) != (ssize_t)sizeof(v))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	if (v < 0) {
		fprintf(stderr, "span_bytes_per_queued: the spans were not all held\n");
		abort();
	}
	return v;
}

/* ---- the peer comparison: 1,000,000 spans, queue 65,536, batch 512, 200 ms ---- */

struct peer_result {
	double ns;
	double peak_rss_mb;
	double dropped;
};

static struct peer_result peer_child(uint64_t iters)
{
	struct peer_result r = {-1, -1, -1};
	baton_processor p = live_init(baton_sampler_always_on(), 200);
	baton_tracer *t = baton_tracer_get("bench", NULL);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++)
		one_span(t);
	r.ns = (double)(bench_now_ns() - t0);
	baton_batch_stats st;
	if (baton_batch_processor_stats(p, &st) == BATON_OK)
		r.dropped = (double)st.dropped_queue_full;
	baton_fini(5000);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		r.peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
	return r;
}

/*
 * The caller's ns/span for the first spans of a fresh process, with the
 * peak RSS of that process noted (in a child: the bench's own memory does
 * not count).
 */
BENCH(span_peer_producer, "ns/op", NULL, 1000000)
{
	int fd[2];
	struct peer_result r = {-1, -1, -1};
	fflush(stdout);
	if (pipe(fd) != 0)
		abort();
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		r = peer_child(iters);
		if (write(fd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		abort();
	close(fd[0]);
	waitpid(pid, NULL, 0);
	bench_note("peak_rss_mb", r.peak_rss_mb);
	bench_note("dropped", r.dropped);
	return r.ns;
}

/* ---- the machine: what a second thread gains on pure arithmetic ---- */

static void *spin_main(void *arg)
{
	uint64_t n = *(const uint64_t *)arg, x = 0;
	for (uint64_t i = 0; i < n; i++) {
		x += i * 2654435761u;
		bench_keep(x);
	}
	return NULL;
}

static double spin_rate(int nthreads, uint64_t iters)
{
	pthread_t th[2];
	uint64_t n = iters / (uint64_t)nthreads;
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&th[i], NULL, spin_main, &n) != 0)
			abort();
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return (double)iters * 1e9 / (double)(bench_now_ns() - t0);
}

BENCH(cpu_spin_1thread, "ops/s", NULL, 200000000)
{
	return spin_rate(1, iters);
}

/*
 * On shared cores the ceiling of every two-thread ratio: compare
 * span_start_end_2threads' ratio with this one's, measured in the same run.
 */
BENCH(cpu_spin_2threads, "ops/s", "cpu_spin_1thread", 200000000)
{
	return spin_rate(2, iters);
}
