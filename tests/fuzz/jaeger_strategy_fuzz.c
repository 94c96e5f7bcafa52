/*
 * Fuzzes the Jaeger sampling-strategy JSON parser and the samplers it
 * builds. Invariants: what a parsed strategy holds is in range (rates
 * finite and >= 0, probabilities in [0, 1], names without NUL); every
 * sampler it describes builds; its decisions carry thresholds in range
 * and honour them; a rate limit keeps no more than its rate allows.
 */
#include <baton/baton.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "remote_int.h"
#include "sampling/sampling_int.h"

static uint64_t fake_ns;
static uint64_t fake_clock(void)
{
	return fake_ns;
}

static bool prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bt_rs_spec spec;
	char err[160];
	baton_err rv = bt_rs_parse((const char *)data, size, 64, &spec, err, sizeof(err));
	if (rv != BATON_OK)
		return 0;
	if (spec.nops > 64)
		abort();
	if (!prob_ok(spec.probability) || !(spec.max_per_sec >= 0) ||
	    !isfinite(spec.max_per_sec))
		abort();
	for (size_t i = 0; i < spec.nops; i++) {
		if (spec.ops[i].operation == NULL || !prob_ok(spec.ops[i].probability))
			abort();
	}
	bt_sampling_clock = fake_clock;
	fake_ns = 1000000000ull * 1000u;
	baton_sampler s;
	if (bt_rs_build(&spec, 8, &s) != BATON_OK)
		abort(); /* a strategy that parsed always builds */
	static const baton_span_context none;
	uint8_t tid[16] = {0};
	uint64_t kept = 0, decisions = 0;
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < spec.nops + 1; i++) {
			const char *name =
			    i < spec.nops ? spec.ops[i].operation : "other";
			baton_sampling_params p = {
			    .parent = &none, .trace_id = tid, .name = name};
			baton_sampling_result r = {BATON_SAMPLING_DROP, false, 0};
			s.ops->should_sample(s.arg, &p, &r);
			decisions++;
			if (r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
				kept++;
				if (r.has_threshold &&
				    (r.threshold >= BATON_TH_MAX ||
				     bt_trace_randomness(tid) < r.threshold))
					abort();
			}
			tid[15] = (uint8_t)(tid[15] + 37);
			tid[9] = (uint8_t)(tid[9] + 101);
		}
	}
	/* All decisions at one instant: a rate limit keeps its burst at most. */
	if (spec.kind == BATON_REMOTE_RATE_LIMITING) {
		double burst = spec.max_per_sec > 1 ? spec.max_per_sec : 1;
		if (spec.max_per_sec == 0 ? kept != 0 : (double)kept > burst + 1)
			abort();
	}
	if (kept > decisions)
		abort();
	baton_sampler_destroy(s);
	bt_sampling_clock = NULL;
	bt_rs_spec_free(&spec);
	return 0;
}
