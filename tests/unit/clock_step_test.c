/*
 * The span clock across a step of the wall clock (NTP, a VM resumed, an
 * operator's date): once the step is picked up, within a second, baton's
 * timestamps follow the stepped wall clock, and a duration measured after
 * it keeps its length.
 *
 * clock_gettime is interposed here: CLOCK_REALTIME is shifted by an offset
 * the test sets; every other clock is left as it is.
 */
#include <baton/baton.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static _Atomic int64_t realtime_offset;

int clock_gettime(clockid_t clk, struct timespec *ts)
{
	static int (*next)(clockid_t, struct timespec *);
	if (next == NULL)
		*(void **)&next = dlsym(RTLD_NEXT, "clock_gettime");
	int rv = next(clk, ts);
	int64_t off = atomic_load(&realtime_offset);
	if (rv == 0 && clk == CLOCK_REALTIME && off != 0) {
		int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + off;
		ts->tv_sec = (time_t)(ns / 1000000000);
		ts->tv_nsec = (long)(ns % 1000000000);
	}
	return rv;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads baton's clock now and then for ms milliseconds. */
static void tick_for(int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		(void)baton_time_unix_ns();
		usleep(10000);
	}
}

static void step_and_check(int64_t step_ns)
{
	tick_for(100); /* calibrated: the TSC path, where there is one */
	atomic_store(&realtime_offset, step_ns);
	tick_for(1300); /* past the next anchor */

	/* Timestamps follow the stepped wall clock. */
	for (int i = 0; i < 100; i++) {
		uint64_t sys = wall_ns();
		int64_t diff = (int64_t)(baton_time_unix_ns() - sys);
		cr_assert(diff > -1000000 && diff < 1000000,
		          "%lld ns from the stepped wall clock at read %d",
		          (long long)diff, i);
	}
	/* A duration keeps its length: 200 ms to within 0.5 ms. */
	uint64_t m0 = baton_time_mono_ns(), w0 = baton_time_unix_ns();
	usleep(200000);
	uint64_t w1 = baton_time_unix_ns(), m1 = baton_time_mono_ns();
	int64_t err = (int64_t)(w1 - w0) - (int64_t)(m1 - m0);
	cr_assert(err > -500000 && err < 500000,
	          "a %llu ns wait measured as %llu ns after a %lld ms step",
	          (unsigned long long)(m1 - m0), (unsigned long long)(w1 - w0),
	          (long long)(step_ns / 1000000));
}

Test(clock_step, a_step_back_of_the_wall_clock_bends_no_duration)
{
	step_and_check(-300000000ll);
}

Test(clock_step, a_step_back_past_the_start_bends_no_duration)
{
	step_and_check(-5000000000ll);
}

Test(clock_step, a_step_forward_of_the_wall_clock_bends_no_duration)
{
	step_and_check(5000000000ll);
}
