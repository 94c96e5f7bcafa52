/* Benchmarks of the file and console exporters: their cost per span on the export thread.
 */
#include "bench.h"

#include <baton/console.h>
#include <baton/jaeger_json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 512

typedef struct bspan {
	baton_span_data d;
	baton_attr attrs[3];
} bspan;

static baton_attr bench_res_attrs[1] = {
    {NULL, "service.name", {BATON_VALUE_STRING, {.s = "bench"}, 5}},
};
static const baton_resource bench_res = {bench_res_attrs, 1, "bench"};
static const baton_scope bench_scope = {"bench", "1.0"};

/*
 * A batch of BATCH spans as the messaging examples make them: 3 attributes,
 * traces of 8 spans (a root that ends last and 7 children).
 */
static bspan *make_batch(uint64_t round)
{
	bspan *b = calloc(BATCH, sizeof(*b));
	if (b == NULL)
		abort();
	for (size_t i = 0; i < BATCH; i++) {
		baton_span_data *d = &b[i].d;
		uint64_t trace = round * BATCH / 8 + i / 8;
		memcpy(d->context.trace_id, &trace, sizeof(trace));
		d->context.trace_id[15] = 1;
		d->context.span_id[0] = (uint8_t)(i % 8 + 1);
		memcpy(d->context.span_id + 1, &trace, 7);
		d->context.state = BATON_CTX_VALID;
		d->context.trace_flags = BATON_FLAG_SAMPLED;
		if (i % 8 != 7) {
			d->parent = d->context;
			d->parent.span_id[0] = 8;
		}
		d->name = "process guild.message";
		d->kind =
		    i % 8 == 7 ? BATON_SPAN_KIND_PRODUCER : BATON_SPAN_KIND_CONSUMER;
		d->start_unix_ns = 1700000000000000000ull + i * 1000;
		d->end_unix_ns = d->start_unix_ns + 25000;
		d->resource = &bench_res;
		d->scope = &bench_scope;
		b[i].attrs[0] = (baton_attr){&b[i].attrs[1],
		                             "messaging.system",
		                             {BATON_VALUE_STRING, {.s = "nng"}, 3}};
		b[i].attrs[1] = (baton_attr){&b[i].attrs[2],
		                             "messaging.message.body.size",
		                             {BATON_VALUE_INT, {.i = 512}, 0}};
		b[i].attrs[2] =
		    (baton_attr){NULL, "SampleRate", {BATON_VALUE_DOUBLE, {.d = 100}, 0}};
		d->attrs = b[i].attrs;
		d->nattrs = 3;
	}
	return b;
}

/* Exports iters spans in batches; returns the ns spent in export_spans only. */
static double export_loop(baton_exporter e, uint64_t iters)
{
	const baton_span_data *ptrs[BATCH];
	uint64_t el = 0;
	for (uint64_t done = 0, round = 0; done < iters; round++) {
		bspan *b = make_batch(round);
		size_t n = iters - done < BATCH ? (size_t)(iters - done) : BATCH;
		for (size_t i = 0; i < n; i++)
			ptrs[i] = &b[i].d;
		uint64_t t0 = bench_now_ns();
		e.ops->export_spans(e.arg, ptrs, n);
		el += bench_now_ns() - t0;
		done += n;
		free(b);
	}
	return (double)el;
}

/* Encoding a span into Jaeger JSON and filing it under its trace (no file write). */
BENCH(jaeger_json_per_span, "ns/op", NULL, 50000)
{
	char path[64];
	snprintf(path, sizeof(path), "bench-jaeger-%ld.json", (long)getpid());
	baton_jaeger_json_options o = {.size = sizeof(o),
	                               .path = path,
	                               .max_spans = (uint32_t)iters + 1,
	                               .write_interval_ms =
	                                   BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	if (baton_jaeger_json_exporter_create(&o, &e) != BATON_OK)
		abort();
	double el = export_loop(e, iters);
	e.ops->shutdown(e.arg, 1000);
	e.ops->destroy(e.arg);
	remove(path);
	return el;
}

/* Buffering a span and printing its trace tree (to /dev/null) when the root ends. */
BENCH(console_per_span, "ns/op", NULL, 50000)
{
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull == NULL)
		abort();
	baton_console_options o = {.size = sizeof(o),
	                           .stream = devnull,
	                           .color = BATON_CONSOLE_COLOR_NEVER,
	                           .max_traces = BATON_CONSOLE_UNLIMITED};
	baton_exporter e;
	if (baton_console_exporter_create(&o, &e) != BATON_OK)
		abort();
	double el = export_loop(e, iters);
	e.ops->shutdown(e.arg, 1000);
	e.ops->destroy(e.arg);
	fclose(devnull);
	return el;
}
