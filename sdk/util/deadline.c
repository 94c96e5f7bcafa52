/*
 * Timespecs for waits and a coarse clock: the one place a deadline is
 * turned into what pthread's timed waits take, and the one coarse reading
 * for rate limits and log intervals. (Span timestamps use the calibrated
 * clock of clock.c.)
 */
#include "util.h"

uint64_t bt_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct timespec bt_timespec_in(clockid_t clk, uint64_t ns)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec += (long)(ns % 1000000000u);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

bool bt_timespec_passed(clockid_t clk, const struct timespec *ts)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return now.tv_sec > ts->tv_sec ||
	       (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}
