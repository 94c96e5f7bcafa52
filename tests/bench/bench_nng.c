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

#include <baton/baton.h>
#include <baton/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>

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

static void release_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	baton_span_data_release(span);
}
static const baton_processor_ops release_ops = {
    sizeof(baton_processor_ops), "release", release_on_end, NULL, NULL, NULL};

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
		baton_sampler root, pb;
		baton_processor p = {&release_ops, NULL};
		if (baton_sampler_traceidratio(ratio, &root) != BATON_OK ||
		    baton_sampler_parentbased(root, &pb) != BATON_OK)
			abort();
		baton_options o = {.size = sizeof(o),
		                   .sampler = pb,
		                   .processors = &p,
		                   .nprocessors = 1,
		                   .ignore_disabled_env = true};
		if (baton_init(&o) != BATON_OK)
			abort();
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
	baton_sampler root, pb;
	baton_processor p = {&release_ops, NULL};
	if (baton_sampler_traceidratio(ratio, &root) != BATON_OK ||
	    baton_sampler_parentbased(root, &pb) != BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o),
	                   .sampler = pb,
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
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
