/*
 * baton_bench: every benchmark registers itself with BENCH(); main runs
 * them and prints one JSON object per line:
 *   {"bench": NAME, "unit": "ns/op"|"ops/s", "median": x, "p99": y, "runs": n}
 * plus "baseline" and "ratio" for a benchmark that names a baseline: the
 * median over its samples of sample / baseline sample, each sample paired
 * with one of the baseline's taken just before or after it ("unpaired":
 * pairs left out because the baseline's sample measured nothing).
 */
#ifndef BATON_BENCH_H
#define BATON_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/*
 * One sample. For "ns/op": run iters operations and return the elapsed
 * nanoseconds of the timed part only (set-up outside the clock). For
 * "ops/s": return the rate achieved in one run of about iters operations.
 */
typedef double (*bench_fn)(uint64_t iters);

void bench_register(const char *name, const char *unit, const char *baseline, bench_fn fn,
                    uint64_t iters);
/* True under --quick (CI): benchmarks may shrink their own set-up. */
bool bench_quick(void);
/* Adds an extra JSON field to this benchmark's line, e.g. "dropped"
 * (the last sample's). */
void bench_note(const char *key, double value);
/* The same for a figure noted once per sample (key a literal): the line
 * gets the median over the samples, as it does for the benchmark itself. */
void bench_note_median(const char *key, double value);

/* Nanoseconds of clock id: CLOCK_MONOTONIC for wall time, or the calling
 * thread's or the process's CPU time (which holds better on a shared
 * machine, where a thread waits for a core). */
static inline uint64_t bench_clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_now_ns(void)
{
	return bench_clock_ns(CLOCK_MONOTONIC);
}

/* Keeps the compiler from deleting a computation whose result is unused. */
#define bench_keep(x) __asm__ volatile("" : : "g"(x) : "memory")

#define BENCH(name, unit, baseline, n_iters)                                             \
	static double bench_##name(uint64_t);                                            \
	__attribute__((constructor)) static void bench_reg_##name(void)                  \
	{                                                                                \
		bench_register(#name, unit, baseline, bench_##name, n_iters);            \
	}                                                                                \
	static double bench_##name(uint64_t iters)

#endif
