/* Benchmarks of the binary envelope: wrap + unwrap round trips on a caller buffer. */
#include "bench.h"

#include <baton/baton.h>
#include <baton/envelope.h>
#include <stdlib.h>
#include <string.h>

/* Unsampled: a decided-unsampled context, 8 bytes out and back. */
BENCH(envelope_unsampled_roundtrip, "ns/op", NULL, 20000000)
{
	baton_envelope e, out;
	uint8_t buf[64];
	size_t n = 0;
	memset(&e, 0, sizeof(e));
	e.ctx.state = BATON_CTX_DECIDED;
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		bench_keep(&e);
		if (baton_envelope_wrap(&e, buf, sizeof(buf), &n) != BATON_OK)
			abort();
		bench_keep(buf);
		if (baton_envelope_unwrap(buf, n, &out) != BATON_OK)
			abort();
		bench_keep(&out);
	}
	return (double)(bench_now_ns() - t0);
}

/* Sampled with no extension: 32 bytes with both ids, checked and decoded in full. */
BENCH(envelope_sampled_roundtrip, "ns/op", NULL, 10000000)
{
	baton_envelope e, out;
	uint8_t buf[64];
	size_t n = 0;
	memset(&e, 0, sizeof(e));
	baton_trace_id_generate(e.ctx.trace_id);
	baton_span_id_generate(e.ctx.span_id);
	e.ctx.trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM;
	e.ctx.state = BATON_CTX_VALID | BATON_CTX_DECIDED;
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		bench_keep(&e);
		if (baton_envelope_wrap(&e, buf, sizeof(buf), &n) != BATON_OK)
			abort();
		bench_keep(buf);
		if (baton_envelope_unwrap(buf, n, &out) != BATON_OK)
			abort();
		bench_keep(&out);
	}
	return (double)(bench_now_ns() - t0);
}

/* The receiver's unsampled decision alone: peek the first bytes. */
BENCH(envelope_unsampled_peek, "ns/op", NULL, 20000000)
{
	uint8_t buf[64];
	baton_envelope_header h;
	baton_envelope_wrap_unsampled(buf);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		bench_keep(buf);
		if (baton_envelope_peek(buf, sizeof(buf), &h) != BATON_OK)
			abort();
		bench_keep(&h);
	}
	return (double)(bench_now_ns() - t0);
}

/*
 * What a mixed receiver does with payloads baton did not write: random
 * 64-byte payloads that start with 0xBA, checked by peek (every check an
 * envelope must pass before anything is stripped). ns/op per payload;
 * "accepted" counts the payloads taken for envelopes (none expected: the
 * bound is 2^-39), "payloads" how many were tried in this run.
 */
BENCH(envelope_false_detection, "ns/op", NULL, 10000000)
{
	uint64_t x = 0x9E3779B97F4A7C15ull ^ bench_now_ns(), w[8];
	uint64_t accepted = 0;
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		for (size_t k = 0; k < 8; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w[k] = x;
		}
		uint8_t *m = (uint8_t *)w;
		m[0] = 0xBA;
		baton_envelope_header h;
		accepted += baton_envelope_peek(m, sizeof(w), &h) == BATON_OK;
	}
	double ns = (double)(bench_now_ns() - t0);
	bench_note("accepted", (double)accepted);
	bench_note("payloads", (double)iters);
	return ns;
}
