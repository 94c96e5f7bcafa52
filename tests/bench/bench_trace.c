/* Benchmarks of the span model: ids, clocks, span start/end. */
#include "bench.h"

#include <baton/baton.h>
#include <stdlib.h>

BENCH(id_generation, "ns/op", NULL, 2000000)
{
	uint8_t tid[16], sid[8];
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		baton_trace_id_generate(tid);
		baton_span_id_generate(sid);
		bench_keep(tid);
		bench_keep(sid);
	}
	return (double)(bench_now_ns() - t0);
}

BENCH(clock_now, "ns/op", NULL, 2000000)
{
	uint64_t t0 = bench_now_ns(), acc = 0;
	for (uint64_t i = 0; i < iters; i++)
		acc += baton_time_unix_ns();
	bench_keep(acc);
	return (double)(bench_now_ns() - t0);
}

/* Counts spans and releases them at once: the processor's cost is not the caller's. */
static void count_on_end(void *arg, const baton_span_data *span)
{
	(*(uint64_t *)arg)++;
	baton_span_data_release(span);
}
static const baton_processor_ops count_ops = {
    sizeof(baton_processor_ops), "count", count_on_end, NULL, NULL, NULL};

static uint64_t span_loop(baton_sampler sampler, uint64_t iters)
{
	static uint64_t ended;
	baton_processor p = {&count_ops, &ended};
	baton_options o = {.size = sizeof(o),
	                   .sampler = sampler,
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
	baton_tracer *t = baton_tracer_get("bench", NULL);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		baton_span s = baton_span_start(t, "process guild.message");
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_set_int(s, "messaging.message.body.size", 512);
		baton_span_set_bool(s, "baton.fanout", true);
		baton_span_end(s);
	}
	uint64_t el = bench_now_ns() - t0;
	baton_fini(1000);
	return el;
}

/* Sampled span, 3 attributes, ended into a processor that releases it. */
BENCH(span_start_end, "ns/op", NULL, 1000000)
{
	return (double)span_loop(baton_sampler_always_on(), iters);
}

BENCH(span_start_end_unsampled, "ns/op", NULL, 2000000)
{
	return (double)span_loop(baton_sampler_always_off(), iters);
}
