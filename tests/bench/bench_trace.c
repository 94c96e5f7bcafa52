/* Benchmarks of the span model: ids, clocks, span start/end. */
#include "bench.h"

#include <baton/baton.h>
#include <baton/processor.h>
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

/* An exporter that drops what it gets: the batch worker's cost is not the caller's. */
static baton_export_result null_export(void *arg, const baton_span_data *const *spans,
                                       size_t n)
{
	(void)arg;
	(void)spans;
	(void)n;
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops null_ops = {
    sizeof(baton_exporter_ops), "null", null_export, NULL, NULL, NULL};

/*
 * Each span: start, 3 attributes, end into the batch processor's ring (a
 * worker thread drains it concurrently). Returns the elapsed ns and notes
 * how many spans the full ring dropped.
 */
static uint64_t span_loop(baton_sampler sampler, uint64_t iters)
{
	baton_processor p;
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 65536,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = 5};
	if (baton_batch_processor_create((baton_exporter){&null_ops, NULL}, &bo, &p) !=
	    BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o),
	                   .sampler = sampler,
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 131072;
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
	baton_batch_stats st;
	if (baton_batch_processor_stats(p, &st) == BATON_OK)
		bench_note("dropped", (double)st.dropped_queue_full);
	baton_fini(5000);
	return el;
}

/* Releases each span at once, on the caller's thread: no cross-core hand-off. */
static void release_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	baton_span_data_release(span);
}
static const baton_processor_ops release_ops = {
    sizeof(baton_processor_ops), "release", release_on_end, NULL, NULL, NULL};

/* The same span work, ended into a processor that releases it on the spot. */
BENCH(span_start_end_noop_processor, "ns/op", NULL, 1000000)
{
	baton_processor p = {&release_ops, NULL};
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
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
	return (double)el;
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
