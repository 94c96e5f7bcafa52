/* Benchmarks of the binary envelope: wrap + unwrap round trips on a caller buffer. */
#include "bench.h"

#include <baton/baton.h>
#include <baton/envelope.h>
#include <stdlib.h>
#include <string.h>

/* Unsampled: a decided-unsampled context, 4 bytes out and back. */
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

/* Sampled with no extension: 28 bytes with both ids, decoded in full. */
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
