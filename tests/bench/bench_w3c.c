/* Benchmarks of W3C text propagation: traceparent parse, the sampled fast path. */
#include "bench.h"

#include <baton/baton.h>
#include <baton/w3c.h>
#include <stdlib.h>
#include <string.h>

/* Alternating sampled / not sampled headers, as a receiver sees them. */
static const char *const tp_inputs[2] = {
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
};

BENCH(traceparent_parse, "ns/op", NULL, 2000000)
{
	baton_span_context c;
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		if (baton_traceparent_parse(tp_inputs[i & 1], BATON_TRACEPARENT_LEN,
		                            &c) != BATON_OK)
			abort();
		bench_keep(c.trace_flags);
	}
	return (double)(bench_now_ns() - t0);
}

BENCH(traceparent_sampled_fast, "ns/op", "traceparent_parse", 2000000)
{
	int acc = 0;
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		acc += baton_traceparent_sampled(tp_inputs[i & 1], BATON_TRACEPARENT_LEN);
		bench_keep(acc);
	}
	if (acc != (int)(iters / 2))
		abort();
	return (double)(bench_now_ns() - t0);
}

BENCH(traceparent_format, "ns/op", NULL, 2000000)
{
	baton_span_context c;
	char out[BATON_TRACEPARENT_SIZE];
	if (baton_traceparent_parse(tp_inputs[0], BATON_TRACEPARENT_LEN, &c) != BATON_OK)
		abort();
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		c.trace_flags = (uint8_t)(i & 1);
		baton_traceparent_format(&c, out, sizeof(out));
		bench_keep(out);
	}
	return (double)(bench_now_ns() - t0);
}

BENCH(w3c_extract_with_tracestate, "ns/op", NULL, 500000)
{
	static const char ts[] = "ot=th:fd70a4,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		if (baton_w3c_extract(tp_inputs[0], BATON_TRACEPARENT_LEN, ts,
		                      sizeof(ts) - 1, &c, buf, sizeof(buf)) != BATON_OK)
			abort();
		bench_keep(c.tracestate);
	}
	return (double)(bench_now_ns() - t0);
}
