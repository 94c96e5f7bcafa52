/*
 * The wall clock behind span timestamps. clock_gettime(CLOCK_REALTIME) costs
 * ~25 ns on a KVM guest (kvm-clock vDSO); rdtsc costs ~10. Where the CPU
 * says its TSC is invariant, the first 20 ms run on clock_gettime while a
 * tick-to-nanosecond factor is measured; after that a timestamp is one
 * rdtsc scaled from an anchor (tsc, realtime) that the first thread to cross
 * the one-second mark renews under a mutex (trylock: others keep reading
 * the old anchor, or fall back to clock_gettime).
 *
 * The factor is measured against CLOCK_MONOTONIC, over the whole time since
 * start, so it only grows more exact and a step of the wall clock (NTP, a
 * VM resumed, an operator) cannot bend it: durations keep their length,
 * and the step itself shows up at the next anchor, within a second. NTP's
 * slewing, which CLOCK_MONOTONIC follows, is in the factor.
 */
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

struct bt_clock bt_clock;

static pthread_mutex_t bt_clock_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t bt_clock_once = PTHREAD_ONCE_INIT;
static bool bt_clock_candidate; /* invariant TSC, not disabled */
/* Calibration baseline: a (tsc, monotonic) pair, and the wall clock then. */
static uint64_t bt_cal_tsc, bt_cal_mono, bt_cal_rt;

#define BT_CAL_NS    20000000ull   /* first calibration after 20 ms */
#define BT_ANCHOR_NS 1000000000ull /* renew the anchor every second */

static uint64_t bt_realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
/*
 * A (tsc, realtime) and a (tsc, monotonic) pair, each TSC halfway between
 * the reads around its clock call.
 */
struct bt_pairs {
	uint64_t rt_tsc, rt, mono_tsc, mono;
};

static struct bt_pairs bt_read_pairs(void)
{
	struct bt_pairs p;
	uint64_t t1 = __builtin_ia32_rdtsc();
	p.rt = bt_realtime();
	uint64_t t2 = __builtin_ia32_rdtsc();
	p.mono = bt_now_mono_ns();
	uint64_t t3 = __builtin_ia32_rdtsc();
	p.rt_tsc = t1 + (t2 - t1) / 2;
	p.mono_tsc = t2 + (t3 - t2) / 2;
	return p;
}
#endif

/* fork(): the child must not inherit the anchor mutex locked by a thread it does not
 * have. */
static void bt_clock_fork_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_clock_mtx);
}

static void bt_clock_fork_release(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&bt_clock_mtx);
}

static baton_fork_step bt_clock_fork = {.order = BATON_FORK_CLOCK,
                                        .prepare = bt_clock_fork_prepare,
                                        .parent = bt_clock_fork_release,
                                        .child = bt_clock_fork_release};

static void bt_clock_init_once(void)
{
	baton_fork_register(&bt_clock_fork);
#if defined(__x86_64__)
	unsigned a, b, c, d;
	const char *mode = getenv("BATON_CLOCK");
	if (mode != NULL && strcmp(mode, "system") == 0)
		return;
	/* CPUID 0x80000007 EDX bit 8: invariant TSC (constant rate, runs in all states).
	 */
	if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) {
		struct bt_pairs p = bt_read_pairs();
		bt_cal_tsc = p.mono_tsc;
		bt_cal_mono = p.mono;
		bt_cal_rt = p.rt;
		bt_clock_candidate = true;
	}
#endif
}

void bt_clock_init(void)
{
	pthread_once(&bt_clock_once, bt_clock_init_once);
}

uint64_t bt_clock_slow(void)
{
#if defined(__x86_64__)
	bt_clock_init();
	uint64_t now = bt_realtime();
	if (!bt_clock_candidate)
		return now;
	bool on = atomic_load_explicit(&bt_clock.tsc, memory_order_relaxed);
	/* Calibrating: the system clock alone, and the lock only once the wall
	 * clock says the time may be up (a step back only asks early). */
	if ((!on && now - bt_cal_rt < BT_CAL_NS) ||
	    pthread_mutex_trylock(&bt_clock_mtx) != 0)
		return now;
	struct bt_pairs p = bt_read_pairs();
	uint64_t next = atomic_load_explicit(&bt_clock.next_tsc, memory_order_relaxed);
	on = atomic_load_explicit(&bt_clock.tsc, memory_order_relaxed);
	if ((!on && p.mono - bt_cal_mono >= BT_CAL_NS && p.mono_tsc > bt_cal_tsc) ||
	    (on && p.rt_tsc >= next)) {
		/* ns per tick, 32.32 fixed point, over everything since the start. */
		uint64_t mult = (uint64_t)(((__uint128_t)(p.mono - bt_cal_mono) << 32) /
		                           (p.mono_tsc - bt_cal_tsc));
		uint64_t ticks_per_s =
		    (uint64_t)(((__uint128_t)BT_ANCHOR_NS << 32) / (mult ? mult : 1));
		uint32_t s = atomic_load_explicit(&bt_clock.seq, memory_order_relaxed);
		atomic_store_explicit(&bt_clock.seq, s + 1, memory_order_relaxed);
		/* Release stores: a reader that sees a new field also sees seq odd or
		 * newer. */
		atomic_store_explicit(&bt_clock.base_tsc, p.rt_tsc, memory_order_release);
		atomic_store_explicit(&bt_clock.base_ns, p.rt, memory_order_release);
		atomic_store_explicit(&bt_clock.mult, mult, memory_order_release);
		atomic_store_explicit(&bt_clock.next_tsc, p.rt_tsc + ticks_per_s,
		                      memory_order_release);
		atomic_store_explicit(&bt_clock.seq, s + 2, memory_order_release);
		atomic_store_explicit(&bt_clock.tsc, true, memory_order_relaxed);
	}
	pthread_mutex_unlock(&bt_clock_mtx);
	return p.rt;
#else
	return bt_realtime();
#endif
}

void bt_env_check_clock(void)
{
	static _Atomic bool warned;
	const char *v = baton_getenv("BATON_CLOCK");
	if (v == NULL || strcmp(v, "system") == 0 || strcmp(v, "tsc") == 0)
		return;
	if (!atomic_exchange(&warned, true))
		bt_warn(
		    "BATON_CLOCK=\"%.40s\" is not tsc or system; using tsc (where the "
		    "TSC is invariant, else the system clock)",
		    v);
}
