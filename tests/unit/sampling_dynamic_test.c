/* The dynamic budget sampler, driven by a clock of the test's own. */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SEC 1000000000ull

static uint64_t now_ns = 1000 * SEC;
static uint64_t test_clock(void *arg)
{
	return *(uint64_t *)arg;
}

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t seed = 12345;
static const baton_span_context no_parent;

typedef struct {
	uint64_t offered, kept;
	double sum_rate; /* adjusted counts of the kept */
} tally;

static baton_sampling_result decide_one(baton_sampler s, const char *name,
                                        const baton_span_context *parent,
                                        const baton_kv *attrs, size_t nattrs)
{
	uint8_t tid[16];
	uint64_t a = mix(&seed), b = mix(&seed);
	memcpy(tid, &a, 8);
	memcpy(tid + 8, &b, 8);
	baton_sampling_params p = {.parent = parent ? parent : &no_parent,
	                           .trace_id = tid,
	                           .name = name,
	                           .attrs = attrs,
	                           .nattrs = nattrs};
	baton_sampling_result r = {BATON_SAMPLING_DROP, false, 0};
	s.ops->should_sample(s.arg, &p, &r);
	if (r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
		uint64_t rv = 0;
		for (int i = 9; i < 16; i++)
			rv = rv << 8 | tid[i];
		if (r.has_threshold)
			cr_assert_geq(rv, r.threshold, "kept below its own threshold");
	}
	return r;
}

/*
 * One window of `n` spans per key spread evenly over one second of the
 * test clock, keys interleaved; the clock ends at the window's end.
 */
static void run_window(baton_sampler s, const char *const *names, const uint64_t *n,
                       size_t nkeys, tally *out)
{
	uint64_t total = 0, start = now_ns;
	for (size_t k = 0; k < nkeys; k++) {
		out[k] = (tally){0};
		total += n[k];
	}
	uint64_t done[16] = {0};
	for (uint64_t i = 0; i < total; i++) {
		/* Pick the key that is furthest behind its share. */
		size_t k = 0;
		double best = 2;
		for (size_t j = 0; j < nkeys; j++) {
			double f = n[j] ? (double)done[j] / (double)n[j] : 2;
			if (f < best) {
				best = f;
				k = j;
			}
		}
		done[k]++;
		now_ns = start + i * SEC / total;
		baton_sampling_result r = decide_one(s, names[k], NULL, NULL, 0);
		out[k].offered++;
		if (r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
			out[k].kept++;
			if (r.has_threshold)
				out[k].sum_rate +=
				    1.0 / baton_probability_from_threshold(r.threshold);
		}
	}
	now_ns = start + SEC;
}

static baton_sampler dynamic(baton_sampler inner, double target, double key_target)
{
	baton_dynamic_options o = {.size = sizeof(o),
	                           .target_per_sec = target,
	                           .key_target_per_sec = key_target,
	                           .clock = test_clock,
	                           .clock_arg = &now_ns};
	baton_sampler s = {0};
	cr_assert_eq(baton_sampler_dynamic(inner, &o, &s), BATON_OK);
	cr_assert_str_eq(s.ops->name, "dynamic");
	return s;
}

/* |x - mean| within 6 binomial sigma of n draws at p. */
static void assert_binomial(uint64_t x, uint64_t n, double p, const char *what)
{
	double mean = (double)n * p, sd = sqrt((double)n * p * (1 - p));
	cr_assert(fabs((double)x - mean) <= 6 * sd + 1e-9,
	          "%s: %llu, expected %.1f +- %.1f", what, (unsigned long long)x, mean,
	          6 * sd);
}

static double prob(baton_sampler s, const char *key)
{
	double p = -1;
	cr_assert_eq(baton_sampler_dynamic_probability(s, key, &p), BATON_OK, "%s", key);
	return p;
}

/*
 * Budget 1,000 spans/s. Load steps from 100/s to 100,000/s: the window of
 * the step runs at the old probability; from the next window on (one
 * window after the step) the kept count is the budget. Load falls back to
 * 100/s: the probability at most doubles per window and reaches 1 within
 * 7 windows (0.01 * 2^7 > 1).
 */
Test(dynamic, reaches_its_budget_one_window_after_a_step_and_recovers_at_the_capped_rate)
{
	baton_sampler s = dynamic(baton_sampler_always_on(), 1000, 0);
	const char *names[] = {"op"};
	uint64_t low[] = {100}, high[] = {100000};
	tally t;
	for (int w = 0; w < 5; w++) {
		run_window(s, names, low, 1, &t);
		cr_assert_eq(t.kept, 100, "under budget everything is kept");
	}
	cr_assert_eq(prob(s, "op"), 1.0);
	/* The window of the step. */
	run_window(s, names, high, 1, &t);
	cr_assert_eq(t.kept, 100000, "no recomputation inside a window");
	/* Stated bound: on budget from the first window after the step. */
	for (int w = 0; w < 5; w++) {
		run_window(s, names, high, 1, &t);
		cr_assert(fabs(prob(s, "op") - 0.01) < 1e-12, "p=%g", prob(s, "op"));
		assert_binomial(t.kept, 100000, 0.01, "kept at 100,000/s");
		/* SampleRate of the kept spans estimates the offered load. */
		cr_assert(fabs(t.sum_rate - 100000) <= 6 * sqrt(100000 * 0.01) * 100);
	}
	/*
	 * Recovery: the first low window still runs at 0.01 (probabilities
	 * change when a window ends), then x2 per window: 1 after 1 + 7 windows.
	 */
	double p = prob(s, "op");
	int windows = 0;
	while (p < 1.0) {
		run_window(s, names, low, 1, &t);
		double np = prob(s, "op");
		cr_assert_leq(np, 2 * p * (1 + 1e-12), "rose from %g to %g in one window",
		              p, np);
		cr_assert_geq(np, p, "no fall while the load is under budget");
		p = np;
		cr_assert_leq(++windows, 8, "still at %g after %d windows", p, windows);
	}
	cr_assert_eq(windows, 8);
	run_window(s, names, low, 1, &t);
	cr_assert_eq(t.kept, 100);
	baton_dynamic_stats st;
	cr_assert_eq(baton_sampler_dynamic_stats(s, &st), BATON_OK);
	/* One recomputation at the start of every window but the first. */
	cr_assert_eq(st.windows, 5 + 1 + 5 + 8 + 1 - 1);
	cr_assert_eq(st.keys, 1);
	cr_assert_eq(st.overflow_spans, 0);
	baton_sampler_destroy(s);
}

Test(dynamic, a_rise_within_the_average_falls_at_once)
{
	/* From 10,000/s to 40,000/s: the estimate is the new rate, not the average. */
	baton_sampler s = dynamic(baton_sampler_always_on(), 1000, 0);
	const char *names[] = {"op"};
	uint64_t a[] = {10000}, b[] = {40000};
	tally t;
	for (int w = 0; w < 4; w++)
		run_window(s, names, a, 1, &t);
	cr_assert(fabs(prob(s, "op") - 0.1) < 1e-12);
	run_window(s, names, b, 1, &t); /* the window of the rise, at 0.1 */
	assert_binomial(t.kept, 40000, 0.1, "kept in the window of the rise");
	run_window(s, names, b, 1, &t);
	cr_assert(fabs(prob(s, "op") - 0.025) < 1e-12, "p=%g", prob(s, "op"));
	assert_binomial(t.kept, 40000, 0.025, "kept after the rise");
	baton_sampler_destroy(s);
}

Test(dynamic, per_key_budgets_leave_quiet_keys_alone)
{
	baton_sampler s = dynamic(baton_sampler_always_on(), 0, 100);
	const char *names[] = {"busy", "quiet"};
	uint64_t n[] = {10000, 10};
	tally t[2];
	for (int w = 0; w < 3; w++)
		run_window(s, names, n, 2, t);
	cr_assert(fabs(prob(s, "busy") - 0.01) < 1e-12);
	cr_assert_eq(prob(s, "quiet"), 1.0);
	assert_binomial(t[0].kept, 10000, 0.01, "busy");
	cr_assert_eq(t[1].kept, 10);
	baton_sampler_destroy(s);
}

Test(dynamic, the_global_budget_is_shared_max_min_fair)
{
	/* 1,000/s over 10,000 + 5,000 + 100: the quiet key keeps its 100, the
	 * two busy ones 450 each. */
	baton_sampler s = dynamic(baton_sampler_always_on(), 1000, 0);
	const char *names[] = {"a", "b", "c"};
	uint64_t n[] = {10000, 5000, 100};
	tally t[3];
	for (int w = 0; w < 3; w++)
		run_window(s, names, n, 3, t);
	cr_assert(fabs(prob(s, "a") - 0.045) < 1e-12, "a %g", prob(s, "a"));
	cr_assert(fabs(prob(s, "b") - 0.09) < 1e-12, "b %g", prob(s, "b"));
	cr_assert_eq(prob(s, "c"), 1.0);
	assert_binomial(t[0].kept, 10000, 0.045, "a");
	assert_binomial(t[1].kept, 5000, 0.09, "b");
	cr_assert_eq(t[2].kept, 100);
	assert_binomial(t[0].kept + t[1].kept + t[2].kept, 15100, 1000.0 / 15100,
	                "total");
	baton_sampler_destroy(s);
}

Test(dynamic, composes_with_a_head_ratio_and_keeps_thresholds_consistent)
{
	baton_sampler inner, inner2, s, s2;
	cr_assert_eq(baton_sampler_traceidratio(0.1, &inner), BATON_OK);
	cr_assert_eq(baton_sampler_traceidratio(0.1, &inner2), BATON_OK);
	s = dynamic(inner, 100, 0);
	s2 = dynamic(inner2, 100, 0); /* another process, seeing the same traces */
	const char *names[] = {"op"};
	uint64_t n[] = {10000};
	tally t, t2;
	for (int w = 0; w < 3; w++) {
		uint64_t seed0 = seed, start = now_ns;
		run_window(s, names, n, 1, &t);
		seed = seed0;
		now_ns = start;
		run_window(s2, names, n, 1, &t2);
		cr_assert_eq(t.kept, t2.kept);
	}
	/* About 1,000/s reach the stage; it keeps a tenth of them. */
	double p = prob(s, "op");
	cr_assert(p > 0.08 && p < 0.125, "p=%g", p);
	assert_binomial(t.kept, 10000, 0.1 * p, "kept");
	cr_assert(fabs(t.sum_rate - 10000) <= 6 * sqrt(10000 * 0.01) * 100, "sum %g",
	          t.sum_rate);
	cr_assert_eq(prob(s2, "op"), p);
	/* Same probability, same trace id: the same decision and threshold. */
	uint64_t start = now_ns;
	for (int i = 0; i < 5000; i++) {
		now_ns = start + (uint64_t)i * SEC / 5000;
		uint64_t save = seed;
		baton_sampling_result a = decide_one(s, "op", NULL, NULL, 0);
		seed = save;
		baton_sampling_result b = decide_one(s2, "op", NULL, NULL, 0);
		cr_assert_eq(a.decision, b.decision);
		if (a.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
			cr_assert_eq(a.threshold, b.threshold);
			cr_assert_geq(a.threshold, baton_threshold_from_probability(0.1),
			              "the stage only ever raises the threshold");
		}
	}
	baton_sampler_destroy(s);
	baton_sampler_destroy(s2);
}

Test(dynamic, trace_budget_counts_roots_and_lets_children_follow)
{
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &pb), BATON_OK);
	baton_dynamic_options o = {.size = sizeof(o),
	                           .target_per_sec = 10,
	                           .count_traces = true,
	                           .clock = test_clock,
	                           .clock_arg = &now_ns};
	baton_sampler s;
	cr_assert_eq(baton_sampler_dynamic(pb, &o, &s), BATON_OK);
	baton_span_context parent = {0};
	memset(parent.trace_id, 1, 16);
	memset(parent.span_id, 2, 8);
	parent.state = BATON_CTX_VALID | BATON_CTX_DECIDED | BATON_CTX_HAS_TH;
	parent.trace_flags = BATON_FLAG_SAMPLED;
	for (int w = 0; w < 3; w++) {
		uint64_t start = now_ns;
		for (int i = 0; i < 1000; i++) {
			now_ns = start + (uint64_t)i * SEC / 1000;
			decide_one(s, "root", NULL, NULL, 0);
			/* Children of a sampled parent: always kept, never counted. */
			for (int c = 0; c < 5; c++) {
				baton_sampling_result r =
				    decide_one(s, "child", &parent, NULL, 0);
				cr_assert_eq(r.decision,
				             BATON_SAMPLING_RECORD_AND_SAMPLE);
			}
		}
		now_ns = start + SEC;
	}
	cr_assert(fabs(prob(s, "root") - 0.01) < 1e-12, "p=%g", prob(s, "root"));
	double p;
	cr_assert_eq(baton_sampler_dynamic_probability(s, "child", &p), BATON_EINVAL,
	             "children never reach the table");
	baton_sampler_destroy(s);
}

Test(dynamic, attribute_keys_and_a_missing_attribute)
{
	baton_dynamic_options o = {.size = sizeof(o),
	                           .key_target_per_sec = 50,
	                           .key = BATON_DYNAMIC_KEY_ATTRIBUTE,
	                           .key_attribute = "messaging.destination.name",
	                           .clock = test_clock,
	                           .clock_arg = &now_ns};
	baton_sampler s;
	cr_assert_eq(baton_sampler_dynamic(baton_sampler_always_on(), &o, &s), BATON_OK);
	baton_kv guild = BATON_KV_STR("messaging.destination.name", "guild");
	baton_kv dm = BATON_KV_STR("messaging.destination.name", "dm");
	baton_kv other = BATON_KV_INT("x", 1);
	for (int w = 0; w < 3; w++) {
		uint64_t start = now_ns;
		for (int i = 0; i < 5000; i++) {
			now_ns = start + (uint64_t)i * SEC / 5000;
			decide_one(s, "send", NULL, &guild, 1); /* 5,000/s */
			if (i % 100 == 0)
				decide_one(s, "send", NULL, &dm, 1); /* 50/s */
			if (i % 10 == 0)
				decide_one(s, "send", NULL, &other,
				           1); /* 500/s, no such attribute */
		}
		now_ns = start + SEC;
	}
	cr_assert(fabs(prob(s, "guild") - 0.01) < 1e-12, "guild %g", prob(s, "guild"));
	cr_assert_eq(prob(s, "dm"), 1.0);
	double p;
	cr_assert_eq(baton_sampler_dynamic_probability(s, "send", &p), BATON_EINVAL,
	             "the span name is not the key");
	baton_dynamic_stats st;
	baton_sampler_dynamic_stats(s, &st);
	cr_assert_eq(st.keys, 3, "guild, dm, and spans without the attribute");
	baton_sampler_destroy(s);
}

Test(dynamic, keys_past_the_table_share_the_overflow_bucket)
{
	baton_dynamic_options o = {.size = sizeof(o),
	                           .target_per_sec = 100,
	                           .max_keys = 4,
	                           .clock = test_clock,
	                           .clock_arg = &now_ns};
	baton_sampler s;
	cr_assert_eq(baton_sampler_dynamic(baton_sampler_always_on(), &o, &s), BATON_OK);
	char name[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "op-%d", i % 10);
		decide_one(s, name, NULL, NULL, 0);
	}
	baton_dynamic_stats st;
	cr_assert_eq(baton_sampler_dynamic_stats(s, &st), BATON_OK);
	cr_assert_eq(st.keys, 4);
	cr_assert_eq(st.overflow_spans, 600);
	now_ns += 2 * SEC;
	decide_one(s, "op-9", NULL, NULL, 0);
	double p = prob(s, NULL);
	cr_assert(p < 1.0 && p > 0, "the overflow bucket is budgeted too: %g", p);
	baton_sampler_destroy(s);
}

struct hammer {
	baton_sampler s;
	int n;
};
static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;
	uint8_t tid[16] = {1};
	baton_sampling_params p = {.parent = &no_parent, .trace_id = tid, .name = "op"};
	for (int i = 0; i < h->n; i++) {
		baton_sampling_result r;
		tid[15] = (uint8_t)i;
		h->s.ops->should_sample(h->s.arg, &p, &r);
	}
	return NULL;
}

Test(dynamic, one_recomputation_per_window_whatever_the_threads)
{
	baton_sampler s = dynamic(baton_sampler_always_on(), 100, 0);
	now_ns += 5 * SEC; /* every thread finds the window over */
	struct hammer h = {s, 20000};
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer_fn, &h);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	baton_dynamic_stats st;
	baton_sampler_dynamic_stats(s, &st);
	cr_assert_eq(st.windows, 1);
	baton_sampler_destroy(s);
}

static int destroyed;
static void count_destroy(void *arg)
{
	(void)arg;
	destroyed++;
}
static void on(void *arg, const baton_sampling_params *p, baton_sampling_result *r)
{
	(void)arg;
	(void)p;
	r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE;
	r->has_threshold = false;
}
static const baton_sampler_ops counted_ops = {sizeof(baton_sampler_ops), "counted", on,
                                              count_destroy};

Test(dynamic, bad_options_are_rejected_and_inner_is_freed)
{
	baton_dynamic_options bad[] = {
	    {.size = sizeof(baton_dynamic_options)}, /* no budget */
	    {.size = sizeof(baton_dynamic_options), .target_per_sec = -1},
	    {.size = sizeof(baton_dynamic_options), .target_per_sec = NAN},
	    {.size = sizeof(baton_dynamic_options), .target_per_sec = INFINITY},
	    {.size = sizeof(baton_dynamic_options),
	     .target_per_sec = 1,
	     .key = BATON_DYNAMIC_KEY_ATTRIBUTE},
	    {.size = sizeof(baton_dynamic_options),
	     .target_per_sec = 1,
	     .ema_weight = 1.5},
	    {.size = sizeof(baton_dynamic_options),
	     .target_per_sec = 1,
	     .max_increase = 0.5},
	    {.size = sizeof(baton_dynamic_options),
	     .target_per_sec = 1,
	     .min_probability = 2},
	    {.size = 8, .target_per_sec = 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_sampler out = {0};
		baton_sampler inner = {&counted_ops, NULL};
		cr_assert_eq(baton_sampler_dynamic(inner, &bad[i], &out), BATON_EINVAL,
		             "case %zu", i);
		cr_assert_null(out.ops);
		cr_assert_eq(destroyed, (int)i + 1);
	}
	baton_sampler out = {0};
	cr_assert_eq(
	    baton_sampler_dynamic((baton_sampler){&counted_ops, NULL}, NULL, &out),
	    BATON_EINVAL);
	cr_assert_eq(baton_sampler_dynamic_probability(baton_sampler_always_on(), "x",
	                                               &(double){0}),
	             BATON_EINVAL);
}

Test(dynamic, inner_without_threshold_decides_on_randomness_and_claims_none)
{
	baton_sampler s = dynamic((baton_sampler){&counted_ops, NULL}, 100, 0);
	const char *names[] = {"op"};
	uint64_t n[] = {10000};
	tally t;
	run_window(s, names, n, 1, &t);
	uint64_t kept = 0, start = now_ns;
	for (int i = 0; i < 10000; i++) {
		now_ns = start + (uint64_t)i * SEC / 10000;
		baton_sampling_result r = decide_one(s, "op", NULL, NULL, 0);
		if (r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
			kept++;
			cr_assert(!r.has_threshold);
		}
	}
	assert_binomial(kept, 10000, 0.01, "kept");
	baton_sampler_destroy(s);
}

/* ---- BATON_SAMPLER_TARGET_SPS ---- */

static char logged[1024];
static void capture(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	strncat(logged, msg, sizeof(logged) - strlen(logged) - 1);
}

Test(dynamic_env, target_sps_wraps_the_env_sampler)
{
	unsetenv("OTEL_TRACES_SAMPLER");
	setenv("BATON_SAMPLER_TARGET_SPS", "500", 1);
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert_str_eq(s.ops->name, "dynamic");
	/* The inner sampler is still parent-based. */
	baton_span_context off = {0};
	memset(off.trace_id, 1, 16);
	memset(off.span_id, 1, 8);
	off.state = BATON_CTX_VALID | BATON_CTX_DECIDED;
	cr_assert_eq(decide_one(s, "x", &off, NULL, 0).decision, BATON_SAMPLING_DROP);
	cr_assert_eq(decide_one(s, "x", NULL, NULL, 0).decision,
	             BATON_SAMPLING_RECORD_AND_SAMPLE);
	baton_sampler_destroy(s);
}

Test(dynamic_env, malformed_target_sps_warns_and_adds_no_stage)
{
	const char *bad[] = {"abc", "0", "-5", "1e999", "10/s"};
	baton_set_log(BATON_LOG_WARN, capture, NULL);
	unsetenv("OTEL_TRACES_SAMPLER");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logged[0] = '\0';
		setenv("BATON_SAMPLER_TARGET_SPS", bad[i], 1);
		baton_sampler s;
		cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
		cr_assert_str_eq(s.ops->name, "parentbased", "%s", bad[i]);
		cr_assert(strstr(logged, "BATON_SAMPLER_TARGET_SPS") != NULL, "%s: %s",
		          bad[i], logged);
		baton_sampler_destroy(s);
	}
}

Test(dynamic_spans, kept_spans_carry_the_rate_the_stage_applied)
{
	baton_sampler s = dynamic(baton_sampler_always_on(), 1000, 0);
	tu_memory_exporter *mem = tu_init_memory(s, 20000);
	baton_tracer *t = baton_tracer_get("dyn", NULL);
	for (int w = 0; w < 2; w++) {
		tu_memory_exporter_clear(mem);
		uint64_t start = now_ns;
		for (int i = 0; i < 10000; i++) {
			now_ns = start + (uint64_t)i * SEC / 10000;
			baton_span_end(baton_span_start(t, "process"));
		}
		now_ns = start + SEC;
	}
	/* Second window: 10,000 offered at p = 0.1. */
	size_t n = tu_memory_exporter_count(mem);
	assert_binomial(n, 10000, 0.1, "spans exported");
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		tu_memory_span ms;
		cr_assert_eq(tu_memory_exporter_get(mem, i, &ms), BATON_OK);
		cr_assert(fabs(ms.sample_rate - 10.0) < 1e-6, "SampleRate %g",
		          ms.sample_rate);
		cr_assert(fabs(baton_span_context_adjusted_count(&ms.context) - 10.0) <
		          1e-6);
		sum += ms.sample_rate;
	}
	cr_assert(fabs(sum - 10000) <= 6 * sqrt(10000 * 0.1 * 0.9) * 10, "sum %g", sum);
	baton_fini(1000);
}

/* ---- Crafted trace ids ---- */

/* How the ids of a window are made. */
typedef enum {
	IDS_HONEST,     /* uniform random */
	IDS_ALL_ONES,   /* low 56 bits all ones, high bits random */
	IDS_TOP_BYTE,   /* randomness in the top 0.4% (passes any p >= 0.004) */
	IDS_ONE_ID,     /* one id, over and over */
	IDS_OT_RV,      /* remote sampled parents: ot=th:0;rv:ff..ff, all-ones ids */
	IDS_OT_RV_ONLY, /* remote sampled parents: rv:ff..ff, but honest ids */
} id_kind;

static void make_id(id_kind kind, uint8_t tid[16])
{
	uint64_t a = mix(&seed), b = mix(&seed);
	memcpy(tid, &a, 8);
	memcpy(tid + 8, &b, 8);
	switch (kind) {
	case IDS_ALL_ONES:
	case IDS_OT_RV:
		memset(tid + 9, 0xff, 7);
		break;
	case IDS_TOP_BYTE:
		tid[9] = 0xff; /* >= 0.996 * 2^56 */
		break;
	case IDS_ONE_ID:
		memset(tid, 0xab, 9);
		memset(tid + 9, 0xff, 7);
		break;
	default:
		break;
	}
}

static uint64_t randomness(const uint8_t tid[16])
{
	uint64_t rv = 0;
	for (int i = 9; i < 16; i++)
		rv = rv << 8 | tid[i];
	return rv;
}

/*
 * One window of n spans named "op" over one second of the test clock, ids
 * of the given kind. Remote kinds arrive as sampled parents through the
 * W3C extractor (as an HTTP or NNG receiver would hand them over). With
 * check_consistent, every decision must be the trace-id based one: kept
 * iff the randomness passes the threshold of the key's probability.
 */
static uint64_t run_ids(baton_sampler s, id_kind kind, uint64_t n, bool check_consistent)
{
	uint64_t kept = 0, start = now_ns;
	for (uint64_t i = 0; i < n; i++) {
		now_ns = start + i * SEC / n;
		uint8_t tid[16];
		make_id(kind, tid);
		baton_span_context parent = {0};
		if (kind == IDS_OT_RV || kind == IDS_OT_RV_ONLY) {
			char tp[64];
			int w = snprintf(tp, sizeof(tp), "00-");
			for (int j = 0; j < 16; j++)
				w += snprintf(tp + w, sizeof(tp) - (size_t)w, "%02x",
				              tid[j]);
			snprintf(tp + w, sizeof(tp) - (size_t)w, "-0102030405060708-03");
			const char *ts = kind == IDS_OT_RV ? "ot=th:0;rv:ffffffffffffff"
			                                   : "ot=rv:ffffffffffffff";
			char tsbuf[BATON_TRACESTATE_SIZE];
			cr_assert_eq(baton_w3c_extract(tp, strlen(tp), ts, strlen(ts),
			                               &parent, tsbuf, sizeof(tsbuf)),
			             BATON_OK);
		}
		baton_sampling_params p = {
		    .parent = &parent, .trace_id = tid, .name = "op"};
		baton_sampling_result r = {BATON_SAMPLING_DROP, false, 0};
		s.ops->should_sample(s.arg, &p, &r);
		bool keep = r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
		kept += keep;
		if (keep && r.has_threshold)
			cr_assert_geq(randomness(tid), r.threshold,
			              "kept below its threshold");
		if (check_consistent) {
			/* The probability the decision used (a window that ended
			 * was recomputed before it). */
			uint64_t th = baton_threshold_from_probability(prob(s, "op"));
			cr_assert_eq(
			    keep, randomness(tid) >= th,
			    "decision %llu of the window is not the trace-id one",
			    (unsigned long long)i);
		}
	}
	now_ns = start + SEC;
	return kept;
}

static baton_sampler budget_sampler(double target)
{
	/* As BATON_SAMPLER_TARGET_SPS builds it over the default sampler. */
	baton_sampler inner;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &inner),
	             BATON_OK);
	return dynamic(inner, target, 0);
}

/*
 * Budget 10 spans/s, 10,000 spans/s offered with crafted ids. The first
 * window runs at probability 1 (as it would for honest ids: no
 * recomputation inside a window). From the next window on the stated
 * bound holds: at most E + 3 + 6 sqrt(E) per window, rounded up, with E =
 * the budget (plus 0.1% for the rounding of E's fixed point):
 * 10 + 3 + 19 = 32 spans/s, where the probability alone let 10,000/s
 * through.
 */
Test(dynamic, the_budget_holds_whatever_trace_ids_arrive)
{
	static const id_kind kinds[] = {IDS_ALL_ONES, IDS_TOP_BYTE, IDS_ONE_ID, IDS_OT_RV,
	                                IDS_OT_RV_ONLY};
	const double target = 10;
	const double bound = ceil(target * 1.001 + 3 + 6 * sqrt(target * 1.001));
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		baton_sampler s = budget_sampler(target);
		run_ids(s, kinds[k], 10000, false); /* the first window */
		uint64_t total = 0;
		for (int w = 0; w < 20; w++) {
			uint64_t kept = run_ids(s, kinds[k], 10000, false);
			cr_assert_leq(
			    (double)kept, bound,
			    "ids of kind %zu: %llu kept in window %d (budget %g/s)", k,
			    (unsigned long long)kept, w + 2, target);
			total += kept;
		}
		cr_assert_geq(total, 20 * 5, "kind %zu: the budget is still spent", k);
		baton_sampler_destroy(s);
	}
}

/*
 * Honest ids under the same pressure keep their consistent decisions: not
 * one of 200,000 differs from the trace-id based one, and the kept count
 * is the budget.
 */
Test(dynamic, honest_ids_keep_consistent_decisions_under_the_cap)
{
	baton_sampler s = budget_sampler(100);
	run_ids(s, IDS_HONEST, 10000, true);
	for (int w = 0; w < 20; w++) {
		uint64_t kept = run_ids(s, IDS_HONEST, 10000, true);
		assert_binomial(kept, 10000, 0.01, "honest ids");
	}
	baton_sampler_destroy(s);
	/* Small budgets too, where the margin is mostly the constant. */
	s = budget_sampler(1);
	for (int w = 0; w < 50; w++)
		run_ids(s, IDS_HONEST, 2000, true);
	baton_sampler_destroy(s);
}
