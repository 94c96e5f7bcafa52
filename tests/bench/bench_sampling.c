/* Benchmarks of the sampling stages: head samplers, the dynamic stage, fanout keep. */
#include "bench.h"

#include <baton/baton.h>
#include <stdlib.h>
#include <string.h>

#define NIDS  1024
#define CHUNK 8192

/*
 * The machine may be shared: besides the harness's median, each benchmark
 * notes "best_chunk_ns", the fastest 8192-decision stretch seen in any of
 * its runs, per decision (what one decision costs when not preempted).
 */
static void note_best(double *best, double chunk_ns)
{
	double per = chunk_ns / CHUNK;
	if (*best == 0 || per < *best)
		*best = per;
}

/* Trace ids with random low bits, made before the clock starts. */
static uint8_t (*trace_ids(void))[16]
{
	static uint8_t ids[NIDS][16];
	for (int i = 0; i < NIDS; i++)
		baton_trace_id_generate(ids[i]);
	return ids;
}

/* nparents and nnames are powers of two (masks, not divisions, in the loop). */
static double run(baton_sampler s, const baton_span_context *parents, size_t nparents,
                  const char *const *names, size_t nnames, uint64_t iters, double *best)
{
	uint8_t(*ids)[16] = trace_ids();
	static const baton_span_context none;
	baton_sampling_params p = {.parent = &none, .kind = BATON_SPAN_KIND_INTERNAL};
	baton_sampling_result r;
	uint64_t kept = 0;
	double el = 0;
	for (uint64_t done = 0; done < iters; done += CHUNK) {
		uint64_t t0 = bench_now_ns();
		for (uint64_t i = done; i < done + CHUNK; i++) {
			p.trace_id = ids[i & (NIDS - 1)];
			if (nparents)
				p.parent = &parents[i & (nparents - 1)];
			p.name = names[i & (nnames - 1)];
			s.ops->should_sample(s.arg, &p, &r);
			kept += r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
		}
		double c = (double)(bench_now_ns() - t0);
		note_best(best, c);
		el += c;
	}
	bench_keep(kept);
	bench_note("best_chunk_ns", *best);
	/* Whole chunks ran: report per requested iteration. */
	return el * (double)iters / (double)((iters + CHUNK - 1) / CHUNK * CHUNK);
}

static const char *const one_name[] = {"process guild.message"};

/* traceidratio at 1%: one root decision. */
BENCH(sampler_traceidratio, "ns/op", NULL, 10000000)
{
	baton_sampler s;
	if (baton_sampler_traceidratio(0.01, &s) != BATON_OK)
		abort();
	static double best;
	double el = run(s, NULL, 0, one_name, 1, iters, &best);
	baton_sampler_destroy(s);
	return el;
}

/* parentbased(traceidratio 1%): a mix of roots, sampled and unsampled parents. */
BENCH(sampler_parentbased, "ns/op", NULL, 10000000)
{
	baton_sampler root, s;
	if (baton_sampler_traceidratio(0.01, &root) != BATON_OK ||
	    baton_sampler_parentbased(root, &s) != BATON_OK)
		abort();
	baton_span_context parents[4];
	memset(parents, 0, sizeof(parents));
	for (int i = 1; i < 4; i++) {
		baton_trace_id_generate(parents[i].trace_id);
		baton_span_id_generate(parents[i].span_id);
		parents[i].state = BATON_CTX_VALID | BATON_CTX_DECIDED | BATON_CTX_HAS_TH;
		parents[i].threshold = baton_threshold_from_probability(0.01);
		parents[i].trace_flags = i == 1 ? BATON_FLAG_SAMPLED : 0;
	}
	parents[3].state = BATON_CTX_DECIDED; /* decided unsampled, no ids */
	static double best;
	double el = run(s, parents, 4, one_name, 1, iters, &best);
	baton_sampler_destroy(s);
	return el;
}

/* dynamic(always_on), 1,000 spans/s over 8 span names, real clock. */
BENCH(sampler_dynamic, "ns/op", NULL, 5000000)
{
	static const char *const names[] = {
	    "send guild.message",      "process guild.message", "send presence.update",
	    "process presence.update", "send voice.state",      "process voice.state",
	    "rpc session.resume",      "rpc session.identify"};
	baton_dynamic_options o = {.size = sizeof(o), .target_per_sec = 1000};
	baton_sampler s;
	if (baton_sampler_dynamic(baton_sampler_always_on(), &o, &s) != BATON_OK)
		abort();
	static double best;
	double el = run(s, NULL, 0, names, 8, iters, &best);
	baton_sampler_destroy(s);
	return el;
}

/* One recipient's keep decision for fanouts of various sizes (installed curve). */
BENCH(fanout_decision, "ns/op", NULL, 20000000)
{
	static const uint64_t sizes[8] = {1, 7, 100, 950, 4000, 10000, 250000, 1000000};
	static double best;
	uint64_t kept = 0;
	double el = 0;
	for (uint64_t done = 0; done < iters; done += CHUNK) {
		uint64_t t0 = bench_now_ns();
		for (uint64_t i = done; i < done + CHUNK; i++)
			kept += baton_fanout_keep(NULL, sizes[i & 7]);
		double c = (double)(bench_now_ns() - t0);
		note_best(&best, c);
		el += c;
	}
	bench_keep(kept);
	bench_note("best_chunk_ns", best);
	return el * (double)iters / (double)((iters + CHUNK - 1) / CHUNK * CHUNK);
}
