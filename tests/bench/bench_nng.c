/*
 * NNG push/pull over inproc: plain NNG against the baton wrappers at head
 * sampling 0%, 1% and 100% (parent-based ratio sampler; ended spans go to a
 * processor that releases them at once, so export cost is not counted).
 * 64-byte payloads, sent and received in batches from one thread;
 * messages per second. A run is iters messages in batches; its figure is
 * the rate of its fastest batch. On a shared, loaded machine preemption
 * by other processes swamps the few nanoseconds per message being
 * compared; the fastest batch is the one least disturbed, for plain NNG
 * and for baton alike (the "min of N" of timeit).
 */
#include "bench.h"
#include "testutil.h"

#include <baton/baton.h>
#include <baton/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD 64

#define BATCH 256

static void recv_one(nng_socket rx, bool baton)
{
	nng_msg *m;
	if (baton) {
		baton_nng_recv_info info;
		if (baton_nng_recvmsg(rx, &m, 0, NULL, &info) != 0)
			abort();
		baton_span_end(info.span);
	} else if (nng_recvmsg(rx, &m, 0) != 0) {
		abort();
	}
	nng_msg_free(m);
}

/* ratio < 0: plain NNG. Returns messages per second. */
static double pushpull(uint64_t iters, double ratio)
{
	static int seq;
	char url[64];
	nng_socket tx, rx;
	bool baton = ratio >= 0;
	if (bench_quick())
		iters /= 4;
	if (baton) {
		tu_init_release_ratio(ratio);
	}
	snprintf(url, sizeof(url), "inproc://bench-pushpull-%d", ++seq);
	if (nng_pull0_open(&rx) != 0 || nng_push0_open(&tx) != 0 ||
	    nng_socket_set_int(rx, NNG_OPT_RECVBUF, 1024) != 0 ||
	    nng_socket_set_int(tx, NNG_OPT_SENDBUF, 1024) != 0 ||
	    nng_listen(rx, url, NULL, 0) != 0 || nng_dial(tx, url, NULL, 0) != 0)
		abort();
	/*
	 * Batches of BATCH sends, then BATCH receives, on this thread: the
	 * socket buffers hold a batch, so no user thread sleeps and wakes per
	 * message and the figure is NNG's work plus ours more than the
	 * scheduler's.
	 */
	uint64_t best = UINT64_MAX;
	for (uint64_t done = 0; done < iters; done += BATCH) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < BATCH; i++) {
			nng_msg *m;
			if (nng_msg_alloc(&m, PAYLOAD) != 0)
				abort();
			int rv = baton ? baton_nng_sendmsg(tx, m, 0, NULL)
			               : nng_sendmsg(tx, m, 0);
			if (rv != 0)
				abort();
		}
		for (int i = 0; i < BATCH; i++)
			recv_one(rx, baton);
		uint64_t el = bench_now_ns() - t0;
		if (el < best)
			best = el;
	}
	nng_close(tx);
	nng_close(rx);
	if (baton)
		baton_fini(1000);
	return (double)BATCH / ((double)best / 1e9);
}

BENCH(nng_inproc_pushpull_raw, "ops/s", NULL, 4096)
{
	return pushpull(iters, -1);
}

BENCH(nng_inproc_pushpull_baton_0pct, "ops/s", "nng_inproc_pushpull_raw", 4096)
{
	return pushpull(iters, 0.0);
}

BENCH(nng_inproc_pushpull_baton_1pct, "ops/s", "nng_inproc_pushpull_raw", 4096)
{
	return pushpull(iters, 0.01);
}

BENCH(nng_inproc_pushpull_baton_100pct, "ops/s", "nng_inproc_pushpull_raw", 4096)
{
	return pushpull(iters, 1.0);
}

/* What the envelope costs NNG's message: allocation and free, with and without a 4-byte
 * insert. */
BENCH(nng_msg_alloc_free, "ns/op", NULL, 2000000)
{
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		nng_msg *m;
		if (nng_msg_alloc(&m, PAYLOAD) != 0)
			abort();
		bench_keep(m);
		nng_msg_free(m);
	}
	return (double)(bench_now_ns() - t0);
}

BENCH(nng_msg_alloc_insert4_free, "ns/op", NULL, 2000000)
{
	uint8_t env[BATON_ENVELOPE_UNSAMPLED_SIZE];
	baton_envelope_wrap_unsampled(env);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		nng_msg *m;
		if (nng_msg_alloc(&m, PAYLOAD) != 0 ||
		    nng_msg_insert(m, env, sizeof(env)) != 0)
			abort();
		bench_keep(m);
		nng_msg_free(m);
	}
	return (double)(bench_now_ns() - t0);
}

/*
 * What baton adds to one message, without a transport: alloc, seal (span
 * decision, envelope), open (peek, strip, consumer span when sampled), end
 * both spans, free. Compare with nng_msg_alloc_free.
 */
static double msg_cost(uint64_t iters, double ratio)
{
	tu_init_release_ratio(ratio);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		nng_msg *m;
		baton_span sp;
		baton_nng_recv_info info;
		if (nng_msg_alloc(&m, PAYLOAD) != 0 ||
		    baton_nng_msg_seal(m, NULL, &sp) != 0)
			abort();
		baton_span_end(sp);
		if (baton_nng_msg_open(m, NULL, &info) != 0)
			abort();
		baton_span_end(info.span);
		nng_msg_free(m);
	}
	uint64_t el = bench_now_ns() - t0;
	baton_fini(1000);
	return (double)el;
}

BENCH(nng_baton_msg_cost_0pct, "ns/op", NULL, 1000000)
{
	return msg_cost(iters, 0.0);
}

BENCH(nng_baton_msg_cost_1pct, "ns/op", NULL, 1000000)
{
	return msg_cost(iters, 0.01);
}

BENCH(nng_baton_msg_cost_100pct, "ns/op", NULL, 200000)
{
	return msg_cost(iters, 1.0);
}

/*
 * Two threads: a sender and a receiver, each on its own thread, push/pull
 * over inproc with 1024-message buffers; 64-byte payloads. Raw NNG
 * allocates with nng_msg_alloc and sends with nng_sendmsg; baton allocates
 * with baton_nng_msg_alloc (head room, so no payload copy on any NNG
 * version) and sends with baton_nng_sendmsg, and its receiver opens each
 * message and ends its span. Messages per second, from the first send to
 * the last receive.
 */
struct tp_rx {
	nng_socket rx;
	uint64_t n;
	bool baton;
};

static void *tp_recv(void *arg)
{
	struct tp_rx *r = arg;
	for (uint64_t i = 0; i < r->n; i++)
		recv_one(r->rx, r->baton);
	return NULL;
}

static void bench_init_ratio(double ratio)
{
	tu_init_release_ratio(ratio);
}

static double throughput(uint64_t iters, double ratio)
{
	static int seq;
	char url[64];
	bool baton = ratio >= 0;
	struct tp_rx r = {.n = iters, .baton = baton};
	nng_socket tx;
	pthread_t th;
	if (baton)
		bench_init_ratio(ratio);
	snprintf(url, sizeof(url), "inproc://bench-throughput-%d", ++seq);
	if (nng_pull0_open(&r.rx) != 0 || nng_push0_open(&tx) != 0 ||
	    nng_socket_set_int(r.rx, NNG_OPT_RECVBUF, 1024) != 0 ||
	    nng_socket_set_int(tx, NNG_OPT_SENDBUF, 1024) != 0 ||
	    nng_listen(r.rx, url, NULL, 0) != 0 || nng_dial(tx, url, NULL, 0) != 0)
		abort();
	uint64_t t0 = bench_now_ns();
	if (pthread_create(&th, NULL, tp_recv, &r) != 0)
		abort();
	for (uint64_t i = 0; i < iters; i++) {
		nng_msg *m;
		int rv =
		    baton ? baton_nng_msg_alloc(&m, PAYLOAD) : nng_msg_alloc(&m, PAYLOAD);
		if (rv != 0)
			abort();
		memset(nng_msg_body(m), (int)i, PAYLOAD);
		rv = baton ? baton_nng_sendmsg(tx, m, 0, NULL) : nng_sendmsg(tx, m, 0);
		if (rv != 0)
			abort();
	}
	pthread_join(th, NULL);
	double el = (double)(bench_now_ns() - t0) / 1e9;
	nng_close(tx);
	nng_close(r.rx);
	if (baton)
		baton_fini(1000);
	return (double)iters / el;
}

BENCH(nng_throughput_raw, "ops/s", NULL, 100000)
{
	return throughput(iters, -1);
}

BENCH(nng_throughput_baton_0pct, "ops/s", "nng_throughput_raw", 100000)
{
	return throughput(iters, 0.0);
}

BENCH(nng_throughput_baton_1pct, "ops/s", "nng_throughput_raw", 100000)
{
	return throughput(iters, 0.01);
}

/*
 * One message to 100,000 recipients: the guild_fanout shape, recipient i
 * on inproc push socket i % 4, each drained by its own thread (pull,
 * baton_nng_recvmsg, end the span). Deliveries per second, from the start
 * of the broadcast to the last delivery. Untraced: the SDK is not
 * initialised (the broadcast still writes its 8-byte envelopes); 1pct:
 * head sampling 1% (parent-based ratio), the fanout keep decision per
 * recipient. one_at_a_time: the same recipients, one blocking
 * baton_nng_send after another (what a broadcast without pipelining does),
 * at 1%.
 */
#define BCAST_SOCKS 4

struct bc_rx {
	nng_socket rx;
	_Atomic uint64_t *got;
};

static void *bc_recv(void *arg)
{
	struct bc_rx *r = arg;
	for (;;) {
		nng_msg *m;
		baton_nng_recv_info info;
		if (baton_nng_recvmsg(r->rx, &m, 0, NULL, &info) != 0)
			abort();
		baton_span_end(info.span);
		bool bye = nng_msg_len(m) == 3 && memcmp(nng_msg_body(m), "BYE", 3) == 0;
		nng_msg_free(m);
		if (bye)
			return NULL;
		atomic_fetch_add_explicit(r->got, 1, memory_order_relaxed);
	}
}

/* mode 0: broadcast untraced; 1: broadcast at 1%; 2: one blocking send after another at
 * 1%. */
static double broadcast(uint64_t n, int mode)
{
	static int seq;
	static const char text[] = "user 3: hello guild (#42)";
	_Atomic uint64_t got = 0;
	struct bc_rx r[BCAST_SOCKS];
	nng_socket tx[BCAST_SOCKS];
	pthread_t th[BCAST_SOCKS];
	char url[64];
	if (mode > 0)
		bench_init_ratio(0.01);
	for (int k = 0; k < BCAST_SOCKS; k++) {
		snprintf(url, sizeof(url), "inproc://bench-broadcast-%d", ++seq);
		r[k].got = &got;
		if (nng_pull0_open(&r[k].rx) != 0 || nng_push0_open(&tx[k]) != 0 ||
		    nng_listen(r[k].rx, url, NULL, 0) != 0 ||
		    nng_dial(tx[k], url, NULL, 0) != 0 ||
		    pthread_create(&th[k], NULL, bc_recv, &r[k]) != 0)
			abort();
	}
	nng_socket *socks = malloc(n * sizeof(*socks));
	if (socks == NULL)
		abort();
	for (uint64_t i = 0; i < n; i++)
		socks[i] = tx[i % BCAST_SOCKS];
	uint64_t t0 = bench_now_ns();
	if (mode < 2) {
		size_t sent = 0;
		if (baton_nng_broadcast(socks, n, text, sizeof(text) - 1, 0, NULL,
		                        &sent) != 0 ||
		    sent != n)
			abort();
	} else {
		for (uint64_t i = 0; i < n; i++) {
			if (baton_nng_send(socks[i], text, sizeof(text) - 1, 0, NULL) !=
			    0)
				abort();
		}
	}
	while (atomic_load_explicit(&got, memory_order_relaxed) < n) {
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
	double el = (double)(bench_now_ns() - t0) / 1e9;
	for (int k = 0; k < BCAST_SOCKS; k++) {
		if (nng_send(tx[k], "BYE", 3, 0) != 0)
			abort();
		pthread_join(th[k], NULL);
		nng_close(tx[k]);
		nng_close(r[k].rx);
	}
	free(socks);
	if (mode > 0)
		baton_fini(1000);
	return (double)n / el;
}

BENCH(broadcast_100k_untraced, "ops/s", NULL, 100000)
{
	return broadcast(iters, 0);
}

BENCH(broadcast_100k_1pct, "ops/s", "broadcast_100k_untraced", 100000)
{
	return broadcast(iters, 1);
}

BENCH(broadcast_100k_one_at_a_time_1pct, "ops/s", "broadcast_100k_1pct", 100000)
{
	return broadcast(iters, 2);
}
