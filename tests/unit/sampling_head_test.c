/* Head samplers: OTEP 235 thresholds, traceidratio, parentbased, OTEL_TRACES_SAMPLER. */
#include "testutil.h"

#include <baton/baton.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A seeded generator (splitmix64) so every run sees the same trace ids. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void seeded_trace_id(uint64_t *s, uint8_t tid[16])
{
	uint64_t a = mix(s), b = mix(s);
	memcpy(tid, &a, 8);
	memcpy(tid + 8, &b, 8);
}

/* A trace id whose OTEP 235 randomness (low 56 bits) is rv. */
static void trace_id_with_randomness(uint64_t rv, uint8_t tid[16])
{
	memset(tid, 0xab, 9);
	for (int i = 15; i >= 9; i--) {
		tid[i] = (uint8_t)rv;
		rv >>= 8;
	}
}

static baton_sampling_result decide(baton_sampler s, const baton_span_context *parent,
                                    const uint8_t *tid)
{
	static const baton_span_context none;
	baton_sampling_params p = {.parent = parent ? parent : &none,
	                           .trace_id = tid,
	                           .name = "op",
	                           .kind = BATON_SPAN_KIND_INTERNAL};
	baton_sampling_result r = {BATON_SAMPLING_RECORD_ONLY, true, 12345};
	s.ops->should_sample(s.arg, &p, &r);
	return r;
}

/* ---- thresholds ---- */

Test(threshold, one_percent_is_fd70a3d70a3d71_and_rounds_to_w3c_fd70a4)
{
	uint64_t th = baton_threshold_from_probability(0.01);
	cr_assert_eq(th, 0xfd70a3d70a3d71ull, "got %014llx", (unsigned long long)th);
	/* The W3C form keeps 6 hex digits: fd70a4 (trailing zeros removed) means
	 * 0xfd70a4 << 32, and that still reads back as 1% to 1e-6. */
	uint64_t w3c = 0xfd70a4ull << 32;
	cr_assert(fabs(baton_probability_from_threshold(w3c) - 0.01) < 1e-6);
}

Test(threshold, edges_and_halves)
{
	cr_assert_eq(baton_threshold_from_probability(1.0), 0);
	cr_assert_eq(baton_threshold_from_probability(2.0), 0);
	cr_assert_eq(baton_threshold_from_probability(0.0), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(-1.0), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(NAN), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(0.5), BATON_TH_MAX / 2);
	cr_assert_eq(baton_threshold_from_probability(0.25), BATON_TH_MAX / 4 * 3);
	cr_assert_eq(baton_probability_from_threshold(0), 1.0);
	cr_assert_eq(baton_probability_from_threshold(BATON_TH_MAX), 0.0);
	cr_assert_eq(baton_probability_from_threshold(BATON_TH_MAX + 5), 0.0);
	/* The smallest probability above 0 still has a threshold below the max. */
	cr_assert_lt(baton_threshold_from_probability(1e-30), BATON_TH_MAX);
}

Test(threshold, round_trips_within_one_unit_of_2_pow_minus_56)
{
	double ps[] = {1.0, 0.9, 0.5, 0.1, 0.01, 0.001, 1.0 / 3.0, 1e-5, 1e-9, 1e-15};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		double back = baton_probability_from_threshold(
		    baton_threshold_from_probability(ps[i]));
		cr_assert(fabs(back - ps[i]) <=
		              1.0 / (double)BATON_TH_MAX + ps[i] * 1e-15,
		          "p=%g back=%.17g", ps[i], back);
	}
	/* Thresholds are monotone: a lower probability never has a lower threshold. */
	uint64_t prev = 0;
	for (double p = 1.0; p > 1e-12; p *= 0.7) {
		uint64_t th = baton_threshold_from_probability(p);
		cr_assert_geq(th, prev);
		prev = th;
	}
}

Test(threshold, adjusted_count_of_a_context)
{
	baton_span_context c = {0};
	c.state = BATON_CTX_VALID | BATON_CTX_HAS_TH;
	c.threshold = baton_threshold_from_probability(0.01);
	cr_assert(fabs(baton_span_context_adjusted_count(&c) - 100.0) < 1e-9);
	c.threshold = 0;
	cr_assert_eq(baton_span_context_adjusted_count(&c), 1.0);
	c.state = BATON_CTX_VALID; /* no threshold known */
	c.threshold = BATON_TH_MAX / 2;
	cr_assert_eq(baton_span_context_adjusted_count(&c), 1.0);
}

/* ---- traceidratio ---- */

Test(traceidratio, keeps_iff_randomness_at_or_above_threshold)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_traceidratio(0.25, &s), BATON_OK);
	uint64_t th = baton_threshold_from_probability(0.25);
	uint8_t tid[16];
	trace_id_with_randomness(th, tid);
	baton_sampling_result r = decide(s, NULL, tid);
	cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	cr_assert(r.has_threshold);
	cr_assert_eq(r.threshold, th);
	trace_id_with_randomness(th - 1, tid);
	cr_assert_eq(decide(s, NULL, tid).decision, BATON_SAMPLING_DROP);
	trace_id_with_randomness(BATON_TH_MAX - 1, tid);
	cr_assert_eq(decide(s, NULL, tid).decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	trace_id_with_randomness(0, tid);
	cr_assert_eq(decide(s, NULL, tid).decision, BATON_SAMPLING_DROP);
	/* The high 9 bytes play no part. */
	trace_id_with_randomness(th, tid);
	memset(tid, 0, 9);
	cr_assert_eq(decide(s, NULL, tid).decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	baton_sampler_destroy(s);
}

Test(traceidratio, zero_keeps_nothing_and_one_keeps_everything)
{
	baton_sampler zero, one;
	cr_assert_eq(baton_sampler_traceidratio(0.0, &zero), BATON_OK);
	cr_assert_eq(baton_sampler_traceidratio(1.0, &one), BATON_OK);
	uint8_t tid[16];
	uint64_t seed = 7;
	for (int i = 0; i < 10000; i++) {
		seeded_trace_id(&seed, tid);
		cr_assert_eq(decide(zero, NULL, tid).decision, BATON_SAMPLING_DROP);
		baton_sampling_result r = decide(one, NULL, tid);
		cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
		cr_assert_eq(r.threshold, 0);
	}
	trace_id_with_randomness(0, tid);
	cr_assert_eq(decide(one, NULL, tid).decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	baton_sampler_destroy(zero);
	baton_sampler_destroy(one);
}

Test(traceidratio, invalid_ratios_are_rejected)
{
	baton_sampler s = {0};
	cr_assert_eq(baton_sampler_traceidratio(-0.1, &s), BATON_EINVAL);
	cr_assert_eq(baton_sampler_traceidratio(1.5, &s), BATON_EINVAL);
	cr_assert_eq(baton_sampler_traceidratio(NAN, &s), BATON_EINVAL);
	cr_assert_eq(baton_sampler_traceidratio(0.5, NULL), BATON_EINVAL);
	cr_assert_null(s.ops, "output written on failure");
}

Test(traceidratio, kept_fraction_is_within_binomial_bounds)
{
	const double ratios[] = {0.5, 0.1, 0.01, 0.001};
	const int n = 200000;
	for (size_t k = 0; k < sizeof(ratios) / sizeof(ratios[0]); k++) {
		baton_sampler s;
		cr_assert_eq(baton_sampler_traceidratio(ratios[k], &s), BATON_OK);
		uint64_t seed = 42 + k;
		int kept = 0;
		double sum_rate = 0;
		uint8_t tid[16];
		for (int i = 0; i < n; i++) {
			seeded_trace_id(&seed, tid);
			baton_sampling_result r = decide(s, NULL, tid);
			if (r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
				kept++;
				sum_rate +=
				    1.0 / baton_probability_from_threshold(r.threshold);
			}
		}
		double mean = n * ratios[k], sd = sqrt(n * ratios[k] * (1 - ratios[k]));
		cr_assert(fabs(kept - mean) <= 6 * sd,
		          "ratio %g: kept %d, expected %g +- %g", ratios[k], kept, mean,
		          6 * sd);
		/* Summing adjusted counts estimates the number of traces. */
		cr_assert(fabs(sum_rate - n) <= 6 * sd / ratios[k], "ratio %g: sum %g",
		          ratios[k], sum_rate);
		baton_sampler_destroy(s);
	}
}

Test(traceidratio, two_instances_at_the_same_rate_decide_the_same)
{
	baton_sampler a, b, lower;
	cr_assert_eq(baton_sampler_traceidratio(0.2, &a), BATON_OK);
	cr_assert_eq(baton_sampler_traceidratio(0.2, &b), BATON_OK);
	cr_assert_eq(baton_sampler_traceidratio(0.05, &lower), BATON_OK);
	uint64_t seed = 99;
	uint8_t tid[16];
	int kept = 0;
	for (int i = 0; i < 50000; i++) {
		seeded_trace_id(&seed, tid);
		baton_sampling_decision da = decide(a, NULL, tid).decision;
		cr_assert_eq(da, decide(b, NULL, tid).decision);
		/* Consistency across rates: what a lower rate keeps, a higher one keeps
		 * too. */
		if (decide(lower, NULL, tid).decision == BATON_SAMPLING_RECORD_AND_SAMPLE)
			cr_assert_eq(da, BATON_SAMPLING_RECORD_AND_SAMPLE);
		kept += da == BATON_SAMPLING_RECORD_AND_SAMPLE;
	}
	cr_assert_gt(kept, 0);
	baton_sampler_destroy(a);
	baton_sampler_destroy(b);
	baton_sampler_destroy(lower);
}

/* Decisions for 4096 seeded trace ids, one bit each. */
static void decisions(double ratio, uint8_t bits[512])
{
	baton_sampler s;
	if (baton_sampler_traceidratio(ratio, &s) != BATON_OK)
		abort();
	memset(bits, 0, 512);
	uint64_t seed = 2024;
	uint8_t tid[16];
	for (int i = 0; i < 4096; i++) {
		seeded_trace_id(&seed, tid);
		if (decide(s, NULL, tid).decision == BATON_SAMPLING_RECORD_AND_SAMPLE)
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	baton_sampler_destroy(s);
}

Test(traceidratio, another_process_decides_the_same)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint8_t bits[512];
		close(fds[0]);
		decisions(0.3, bits);
		ssize_t w = write(fds[1], bits, sizeof(bits));
		_exit(w == (ssize_t)sizeof(bits) ? 0 : 1);
	}
	close(fds[1]);
	uint8_t theirs[512], ours[512];
	size_t got = 0;
	while (got < sizeof(theirs)) {
		ssize_t r = read(fds[0], theirs + got, sizeof(theirs) - got);
		cr_assert_gt(r, 0);
		got += (size_t)r;
	}
	close(fds[0]);
	cr_assert_eq(tu_wait_child(pid), 0);
	decisions(0.3, ours);
	cr_assert_eq(memcmp(ours, theirs, sizeof(ours)), 0);
	int ones = 0;
	for (int i = 0; i < 512; i++)
		ones += __builtin_popcount(ours[i]);
	cr_assert(ones > 1000 && ones < 1500, "%d of 4096 kept at 0.3", ones);
}

/* ---- parentbased ---- */

static baton_span_context parent_ctx(uint8_t state, bool sampled, bool has_th,
                                     uint64_t th)
{
	baton_span_context c = {0};
	if (state & BATON_CTX_VALID) {
		memset(c.trace_id, 0x11, 16);
		memset(c.span_id, 0x22, 8);
	}
	c.state = state | (has_th ? BATON_CTX_HAS_TH : 0);
	c.trace_flags = sampled ? BATON_FLAG_SAMPLED : 0;
	c.threshold = th;
	return c;
}

Test(parentbased, follows_remote_and_local_parents)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_off(), &s), BATON_OK);
	uint8_t tid[16];
	memset(tid, 0x11, 16);
	uint64_t th = baton_threshold_from_probability(0.01);
	uint8_t kinds[] = {BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_DECIDED,
	                   BATON_CTX_VALID | BATON_CTX_DECIDED, BATON_CTX_VALID};
	for (size_t i = 0; i < sizeof(kinds); i++) {
		baton_span_context on = parent_ctx(kinds[i], true, true, th);
		baton_sampling_result r = decide(s, &on, tid);
		cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE, "state %x",
		             kinds[i]);
		cr_assert(r.has_threshold);
		cr_assert_eq(r.threshold, th, "the parent's threshold carries over");
		baton_span_context no_th = parent_ctx(kinds[i], true, false, 0);
		r = decide(s, &no_th, tid);
		cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
		cr_assert(r.has_threshold);
		cr_assert_eq(r.threshold, 0,
		             "a sampled parent without a threshold is 100%%");
		baton_span_context off = parent_ctx(kinds[i], false, false, 0);
		cr_assert_eq(decide(s, &off, tid).decision, BATON_SAMPLING_DROP);
	}
	baton_sampler_destroy(s);
}

Test(parentbased, decided_unsampled_parent_without_ids_is_dropped)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &s), BATON_OK);
	uint8_t tid[16];
	memset(tid, 0x33, 16);
	baton_span_context c = parent_ctx(BATON_CTX_DECIDED, false, false, 0);
	cr_assert_eq(decide(s, &c, tid).decision, BATON_SAMPLING_DROP);
	c = parent_ctx(BATON_CTX_DECIDED | BATON_CTX_REMOTE, false, false, 0);
	cr_assert_eq(decide(s, &c, tid).decision, BATON_SAMPLING_DROP);
	baton_sampler_destroy(s);
}

Test(parentbased, without_parent_the_root_decides)
{
	baton_sampler s, root;
	cr_assert_eq(baton_sampler_traceidratio(0.5, &root), BATON_OK);
	cr_assert_eq(baton_sampler_parentbased(root, &s), BATON_OK);
	uint8_t tid[16];
	trace_id_with_randomness(BATON_TH_MAX / 2, tid);
	baton_sampling_result r = decide(s, NULL, tid);
	cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	cr_assert_eq(r.threshold, BATON_TH_MAX / 2);
	trace_id_with_randomness(BATON_TH_MAX / 2 - 1, tid);
	cr_assert_eq(decide(s, NULL, tid).decision, BATON_SAMPLING_DROP);
	/* A context that is neither valid nor decided is no parent. */
	baton_span_context empty = {0};
	empty.trace_flags = BATON_FLAG_SAMPLED;
	cr_assert_eq(decide(s, &empty, tid).decision, BATON_SAMPLING_DROP);
	baton_sampler_destroy(s);
}

Test(parentbased, rejects_a_root_without_ops)
{
	baton_sampler out = {0};
	baton_sampler none = {0};
	cr_assert_eq(baton_sampler_parentbased(none, &out), BATON_EINVAL);
	cr_assert_null(out.ops);
}

/* ---- OTEL_TRACES_SAMPLER ---- */

static char logged[4096];
static int nwarn;
static void capture(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	if (level >= BATON_LOG_WARN)
		nwarn++;
	strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

static baton_sampler from_env(const char *name, const char *arg)
{
	baton_sampler s = {0};
	logged[0] = '\0';
	nwarn = 0;
	baton_set_log(BATON_LOG_DEBUG, capture, NULL);
	if (name)
		setenv("OTEL_TRACES_SAMPLER", name, 1);
	else
		unsetenv("OTEL_TRACES_SAMPLER");
	if (arg)
		setenv("OTEL_TRACES_SAMPLER_ARG", arg, 1);
	else
		unsetenv("OTEL_TRACES_SAMPLER_ARG");
	unsetenv("BATON_SAMPLER_TARGET_SPS");
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert_not_null(s.ops);
	return s;
}

/* Fraction of 20000 seeded roots kept. */
static double root_fraction(baton_sampler s)
{
	uint64_t seed = 5;
	uint8_t tid[16];
	int kept = 0;
	for (int i = 0; i < 20000; i++) {
		seeded_trace_id(&seed, tid);
		kept += decide(s, NULL, tid).decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
	}
	return kept / 20000.0;
}

static bool follows_parent(baton_sampler s)
{
	uint8_t tid[16];
	memset(tid, 0xff, 16);
	baton_span_context off =
	    parent_ctx(BATON_CTX_VALID | BATON_CTX_DECIDED, false, false, 0);
	return decide(s, &off, tid).decision == BATON_SAMPLING_DROP;
}

Test(sampler_env, default_is_parentbased_always_on)
{
	baton_sampler s = from_env(NULL, NULL);
	cr_assert_str_eq(s.ops->name, "parentbased");
	cr_assert_eq(root_fraction(s), 1.0);
	cr_assert(follows_parent(s));
	cr_assert_eq(nwarn, 0);
	baton_sampler_destroy(s);
}

Test(sampler_env, each_name_selects_its_sampler)
{
	struct {
		const char *name, *arg;
		const char *ops;
		double lo, hi;
		bool parent;
	} cases[] = {
	    {"always_on", NULL, "always_on", 1.0, 1.0, false},
	    {"always_off", NULL, "always_off", 0.0, 0.0, false},
	    {"traceidratio", "0.25", "traceidratio", 0.23, 0.27, false},
	    {"traceidratio", NULL, "traceidratio", 1.0, 1.0, false},
	    {"parentbased_always_on", NULL, "parentbased", 1.0, 1.0, true},
	    {"parentbased_always_off", NULL, "parentbased", 0.0, 0.0, true},
	    {"parentbased_traceidratio", "0.1", "parentbased", 0.09, 0.11, true},
	    /* Enum values are case-insensitive. */
	    {"TraceIdRatio", "0.25", "traceidratio", 0.23, 0.27, false},
	    {"ALWAYS_OFF", NULL, "always_off", 0.0, 0.0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		baton_sampler s = from_env(cases[i].name, cases[i].arg);
		cr_assert_str_eq(s.ops->name, cases[i].ops, "%s", cases[i].name);
		double f = root_fraction(s);
		cr_assert(f >= cases[i].lo && f <= cases[i].hi, "%s: %g", cases[i].name,
		          f);
		if (cases[i].parent)
			cr_assert(follows_parent(s), "%s", cases[i].name);
		cr_assert_eq(nwarn, 0, "%s: %s", cases[i].name, logged);
		baton_sampler_destroy(s);
	}
}

Test(sampler_env, malformed_ratio_warns_and_keeps_the_default_ratio)
{
	const char *bad[] = {"abc", "1.5", "-0.1", "0.5x", "nan", "inf", "0x0.8", " "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_sampler s = from_env("parentbased_traceidratio", bad[i]);
		cr_assert_eq(nwarn, 1, "arg \"%s\": %s", bad[i], logged);
		cr_assert(strstr(logged, "OTEL_TRACES_SAMPLER_ARG") != NULL, "%s",
		          logged);
		cr_assert_eq(root_fraction(s), 1.0);
		baton_sampler_destroy(s);
	}
}

Test(sampler_env, unknown_name_warns_and_keeps_the_default)
{
	const char *bad[] = {"bogus", "traceid_ratio", "always_on ", "parentbased"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_sampler s = from_env(bad[i], "0.5");
		cr_assert_eq(nwarn, 1, "%s: %s", bad[i], logged);
		cr_assert(strstr(logged, "OTEL_TRACES_SAMPLER") != NULL);
		cr_assert_str_eq(s.ops->name, "parentbased");
		cr_assert_eq(root_fraction(s), 1.0);
		cr_assert(follows_parent(s));
		baton_sampler_destroy(s);
	}
}

Test(sampler_env, jaeger_remote_without_its_library_says_what_to_do)
{
	baton_sampler s =
	    from_env("jaeger_remote", "endpoint=http://localhost:5778/sampling");
	cr_assert_eq(nwarn, 1);
	cr_assert(strstr(logged, "baton_remote_sampling_register") != NULL, "%s", logged);
	cr_assert_str_eq(s.ops->name, "parentbased");
	cr_assert_eq(root_fraction(s), 1.0);
	baton_sampler_destroy(s);
}

static int factory_calls;
static baton_err test_factory(const char *name, const char *arg, baton_sampler *out)
{
	factory_calls++;
	if (strcmp(name, "custom") != 0)
		return BATON_EINVAL;
	cr_assert_str_eq(arg, "x=1");
	*out = baton_sampler_always_off();
	return BATON_OK;
}

static int other_calls;
static baton_err other_factory(const char *name, const char *arg, baton_sampler *out)
{
	(void)arg;
	other_calls++;
	if (strcmp(name, "other") != 0)
		return BATON_EINVAL;
	*out = baton_sampler_always_on();
	return BATON_OK;
}

Test(sampler_env, registered_factories_handle_names_the_core_does_not_know)
{
	baton_sampler_register_factory(test_factory);
	baton_sampler_register_factory(test_factory); /* once is enough */
	baton_sampler s = from_env("custom", "x=1");
	cr_assert_str_eq(s.ops->name, "always_off");
	cr_assert_eq(nwarn, 0);
	cr_assert_eq(factory_calls, 1);
	s = from_env("always_on", NULL);
	cr_assert_eq(factory_calls, 1, "built-in names do not reach the factory");
	/* A second factory is tried after the first. */
	baton_sampler_register_factory(other_factory);
	s = from_env("other", "x=1");
	cr_assert_str_eq(s.ops->name, "always_on");
	cr_assert_eq(factory_calls, 2);
	cr_assert_eq(other_calls, 1);
	cr_assert_eq(nwarn, 0);
	s = from_env("neither", "x=1");
	cr_assert_eq(nwarn, 1);
	cr_assert_str_eq(s.ops->name, "parentbased");
	baton_sampler_destroy(s);
	/* NULL clears the list. */
	baton_sampler_register_factory(NULL);
	s = from_env("custom", "x=1");
	cr_assert_eq(factory_calls, 3);
	cr_assert_str_eq(s.ops->name, "parentbased");
	baton_sampler_destroy(s);
}
