/*
 * NNG push/pull over inproc: plain NNG against the baton wrappers at head
 * sampling 0%, 1% and 100% (parent-based ratio sampler; ended spans go to a
 * processor that releases them at once, so export cost is not counted).
 * One sender (this thread) and one receiver thread, 64-byte payloads;
 * messages per second from the first send to the last receive.
 */
#include "bench.h"

#include <baton/baton.h>
#include <baton/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define PAYLOAD 64

struct rx_arg {
	nng_socket rx;
	uint64_t n;
	bool baton;
};

static void *rx_main(void *p)
{
	struct rx_arg *a = p;
	for (uint64_t i = 0; i < a->n; i++) {
		nng_msg *m;
		if (a->baton) {
			baton_nng_recv_info info;
			if (baton_nng_recvmsg(a->rx, &m, 0, NULL, &info) != 0)
				abort();
			baton_span_end(info.span);
		} else if (nng_recvmsg(a->rx, &m, 0) != 0) {
			abort();
		}
		nng_msg_free(m);
	}
	return NULL;
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
	struct rx_arg a = {rx, iters, baton};
	pthread_t th;
	uint64_t t0 = bench_now_ns();
	if (pthread_create(&th, NULL, rx_main, &a) != 0)
		abort();
	for (uint64_t i = 0; i < iters; i++) {
		nng_msg *m;
		if (nng_msg_alloc(&m, PAYLOAD) != 0)
			abort();
		int rv =
		    baton ? baton_nng_sendmsg(tx, m, 0, NULL) : nng_sendmsg(tx, m, 0);
		if (rv != 0)
			abort();
	}
	pthread_join(th, NULL);
	double el = (double)(bench_now_ns() - t0);
	nng_close(tx);
	nng_close(rx);
	if (baton)
		baton_fini(1000);
	return (double)iters / (el / 1e9);
}

BENCH(nng_inproc_pushpull_raw, "ops/s", NULL, 60000)
{
	return pushpull(iters, -1);
}

BENCH(nng_inproc_pushpull_baton_0pct, "ops/s", "nng_inproc_pushpull_raw", 60000)
{
	return pushpull(iters, 0.0);
}

BENCH(nng_inproc_pushpull_baton_1pct, "ops/s", "nng_inproc_pushpull_raw", 60000)
{
	return pushpull(iters, 0.01);
}

BENCH(nng_inproc_pushpull_baton_100pct, "ops/s", "nng_inproc_pushpull_raw", 60000)
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
