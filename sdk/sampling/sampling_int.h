/*
 * Internal helpers shared by the samplers. The sampling layer sits below
 * trace/: it sees the utility layer and the public headers only.
 */
#ifndef BT_SAMPLING_INT_H
#define BT_SAMPLING_INT_H

#include "util.h"

#include <baton/baton.h>
#include <pthread.h>

#include <string.h>

/*
 * The clock the rate-limiting samplers read (monotonic ns). Tests replace it
 * before creating samplers; NULL means CLOCK_MONOTONIC_COARSE.
 */
extern uint64_t (*bt_sampling_clock)(void);

static inline uint64_t bt_sampling_now(void)
{
	if (bt_sampling_clock != NULL)
		return bt_sampling_clock();
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A token bucket as a generic cell rate algorithm: one atomic "theoretical
 * arrival time". A take succeeds when the bucket, refilled at one token per
 * interval_ns and holding burst_ns / interval_ns tokens, has one.
 */
/*
 * The longest refill interval (2^56 ns, 2.3 years): rates below one token in
 * that time get that. Clock values plus this stay far below 2^64.
 */
#define BT_BUCKET_MAX_INTERVAL_NS (1ull << 56)

typedef struct bt_bucket {
	_Atomic uint64_t tat;
	uint64_t interval_ns; /* 0: unlimited */
	uint64_t burst_ns;
	bool never; /* rate 0: no token ever */
} bt_bucket;

void bt_bucket_init(bt_bucket *b, double per_sec);

static inline bool bt_bucket_take(bt_bucket *b, uint64_t now)
{
	if (b->never)
		return false;
	if (b->interval_ns == 0)
		return true;
	/* Relaxed: the CAS orders nothing but the bucket itself. */
	uint64_t t = atomic_load_explicit(&b->tat, memory_order_relaxed);
	for (;;) {
		uint64_t base = t > now ? t : now;
		uint64_t next = base + b->interval_ns;
		if (next - now > b->burst_ns)
			return false;
		if (atomic_compare_exchange_weak_explicit(
		        &b->tat, &t, next, memory_order_relaxed, memory_order_relaxed))
			return true;
	}
}

/* The 64-bit key hash of the dynamic and per-operation samplers; never 0. */
static inline uint64_t bt_sampling_hash(const void *data, size_t n, uint64_t tag)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull) ^ tag;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h ? h : 1;
}

/* The fanout policy baton_init installed (fanout.c); NULL: the default. */
extern const baton_fanout_policy *bt_fanout_installed;

#endif /* BT_SAMPLING_INT_H */
