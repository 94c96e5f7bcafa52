/*
 * Ids and fast random numbers: a per-thread wyrand generator seeded from
 * getrandom(). A forked child bumps bt_fork_generation (a fork step), so
 * every thread's generator reseeds before its next number: parent and child
 * never produce the same ids.
 */
#include "util.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

_Atomic uint32_t bt_fork_generation;

BT_TLS struct bt_rng bt_rng;

static void bt_on_fork_child(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&bt_fork_generation, 1, memory_order_relaxed);
}

static pthread_once_t bt_random_once = PTHREAD_ONCE_INIT;
static baton_fork_step bt_random_fork = {.order = BATON_FORK_RANDOM,
                                         .child = bt_on_fork_child};

static void bt_random_once_fn(void)
{
	baton_fork_register(&bt_random_fork);
}

void bt_random_global_init(void)
{
	pthread_once(&bt_random_once, bt_random_once_fn);
}

void __attribute__((noinline)) bt_rng_seed(struct bt_rng *r)
{
	uint64_t seed = 0;
	bt_random_global_init();
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		/* No entropy syscall: mix time, pid and the stack address. */
		seed = bt_now_mono_ns() ^ ((uint64_t)getpid() << 32) ^
		       (uint64_t)(uintptr_t)&seed;
	}
	r->state = seed;
	r->generation = atomic_load_explicit(&bt_fork_generation, memory_order_relaxed);
	r->seeded = true;
}

void baton_trace_id_generate(uint8_t trace_id[BATON_TRACE_ID_SIZE])
{
	uint64_t a, b;
	do {
		a = bt_random_u64();
		b = bt_random_u64();
	} while ((a | b) == 0);
	memcpy(trace_id, &a, 8);
	memcpy(trace_id + 8, &b, 8);
}

void baton_span_id_generate(uint8_t span_id[BATON_SPAN_ID_SIZE])
{
	uint64_t a;
	do {
		a = bt_random_u64();
	} while (a == 0);
	memcpy(span_id, &a, 8);
}

void baton_hex_encode(const uint8_t *bytes, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	out[2 * n] = '\0';
}

uint64_t baton_time_unix_ns(void)
{
	return bt_now_unix_ns();
}

uint64_t baton_time_mono_ns(void)
{
	return bt_now_mono_ns();
}

uint64_t baton_random_u64(void)
{
	return bt_random_u64();
}
