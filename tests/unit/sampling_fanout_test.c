/* Sampling by fanout size: the curve, BATON_FANOUT_SAMPLING, consumer counts, SampleRate.
 */
#include <baton/baton.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The curve from its definition: log-log interpolation, flat outside the points. */
static double exact_curve(const baton_fanout_point *pts, size_t n, double x)
{
	if (x < 1)
		x = 1;
	if (x <= pts[0].recipients)
		return pts[0].keep;
	for (size_t i = 1; i < n; i++) {
		if (x <= pts[i].recipients) {
			double t = (log(x) - log(pts[i - 1].recipients)) /
			           (log(pts[i].recipients) - log(pts[i - 1].recipients));
			return pts[i - 1].keep * pow(pts[i].keep / pts[i - 1].keep, t);
		}
	}
	return pts[n - 1].keep;
}

static const baton_fanout_point discord[] = {{1, 1.0}, {100, 0.1}, {10000, 0.001}};
static const uint64_t sizes[] = {1, 10, 100, 1000, 10000, 1000000};

/* Table lookups: exact below 4096 recipients, interpolated steps above (< 0.1% for slopes
 * down to -2). */
static double tolerance(uint64_t n)
{
	return n < 4096 ? 1e-12 : 1e-3;
}

Test(fanout_curve, default_curve_matches_the_log_log_formula)
{
	const baton_fanout_policy *p = baton_fanout_policy_current();
	cr_assert_not_null(p);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double want = exact_curve(discord, 3, (double)sizes[i]);
		double got = baton_fanout_keep_probability(NULL, sizes[i]);
		cr_assert(fabs(got - want) <= want * tolerance(sizes[i]),
		          "n=%llu got %.9g want %.9g", (unsigned long long)sizes[i], got,
		          want);
		cr_assert_eq(baton_fanout_keep_probability(p, sizes[i]), got);
	}
	/* The published points themselves, and the flat floor. */
	cr_assert_eq(baton_fanout_keep_probability(NULL, 1), 1.0);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 10) - 1 / sqrt(10.0)) < 1e-6);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 100) - 0.1) < 1e-7);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 1000) - 0.01) < 1e-8);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 1000000) - 0.001) < 1e-9);
	cr_assert_eq(baton_fanout_keep_probability(NULL, 0), 1.0,
	             "0 recipients counts as 1");
	cr_assert(fabs(baton_fanout_keep_probability(NULL, UINT64_MAX) - 0.001) < 1e-9);
}

Test(fanout_curve, any_curve_matches_its_formula_everywhere)
{
	const baton_fanout_point pts[] = {
	    {2, 0.9}, {50, 0.5}, {3000, 0.02}, {70000, 0.004}};
	baton_fanout_policy *p;
	cr_assert_eq(baton_fanout_policy_create(pts, 4, &p), BATON_OK);
	double prev = 1.0;
	for (uint64_t n = 1; n < 50000000; n = n * 37 / 29 + 1) {
		double want = exact_curve(pts, 4, (double)n);
		double got = baton_fanout_keep_probability(p, n);
		cr_assert(fabs(got - want) <= want * tolerance(n),
		          "n=%llu got %.9g want %.9g", (unsigned long long)n, got, want);
		cr_assert_leq(got, prev * (1 + 1e-6), "the curve never rises");
		prev = got;
	}
	baton_fanout_policy_destroy(p);
}

Test(fanout_curve, create_rejects_bad_points)
{
	baton_fanout_policy *p = NULL;
	const baton_fanout_point dec[] = {{100, 0.1}, {10, 0.5}};
	const baton_fanout_point zero_keep[] = {{1, 0.0}};
	const baton_fanout_point big_keep[] = {{1, 1.5}};
	const baton_fanout_point small_n[] = {{0.5, 1.0}};
	const baton_fanout_point nan_n[] = {{NAN, 1.0}};
	const baton_fanout_point inf_n[] = {{1, 1.0}, {INFINITY, 0.5}};
	cr_assert_eq(baton_fanout_policy_create(dec, 2, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(zero_keep, 1, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(big_keep, 1, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(small_n, 1, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(nan_n, 1, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(inf_n, 2, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(discord, 0, &p), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_create(discord, BATON_FANOUT_MAX_POINTS + 1, &p),
	             BATON_EINVAL);
	cr_assert_null(p);
	baton_fanout_policy_destroy(NULL);
}

/* ---- parsing ---- */

Test(fanout_parse, valid_specs_build_the_same_curve)
{
	baton_fanout_policy *p, *q;
	cr_assert_eq(baton_fanout_policy_parse(BATON_FANOUT_DEFAULT, &p, NULL, 0),
	             BATON_OK);
	cr_assert_eq(
	    baton_fanout_policy_parse(" 1:1 ,\t100:0.1,  10000:1e-3 ", &q, NULL, 0),
	    BATON_OK);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		cr_assert_eq(baton_fanout_keep_probability(p, sizes[i]),
		             baton_fanout_keep_probability(q, sizes[i]));
		cr_assert_eq(baton_fanout_keep_probability(p, sizes[i]),
		             baton_fanout_keep_probability(NULL, sizes[i]));
	}
	baton_fanout_policy_destroy(p);
	baton_fanout_policy_destroy(q);
	cr_assert_eq(baton_fanout_policy_parse("5:0.5", &p, NULL, 0), BATON_OK);
	cr_assert_eq(baton_fanout_keep_probability(p, 1), 0.5,
	             "flat before the first point");
	cr_assert_eq(baton_fanout_keep_probability(p, 1000000), 0.5,
	             "flat after the last");
	baton_fanout_policy_destroy(p);
}

Test(fanout_parse, malformed_specs_are_rejected_with_a_message)
{
	struct {
		const char *spec, *msg;
	} bad[] = {
	    {"", "RECIPIENTS:PROBABILITY"},
	    {"abc", "RECIPIENTS:PROBABILITY"},
	    {"1:1,", "RECIPIENTS:PROBABILITY"},
	    {"1:1,,100:0.1", "RECIPIENTS:PROBABILITY"},
	    {"1=1", "RECIPIENTS:PROBABILITY"},
	    {"1:", "RECIPIENTS:PROBABILITY"},
	    {":0.5", "RECIPIENTS:PROBABILITY"},
	    {"1:0.5:3", "RECIPIENTS:PROBABILITY"},
	    {"1:nan", "RECIPIENTS:PROBABILITY"},
	    {"1:1,100:inf", "RECIPIENTS:PROBABILITY"},
	    {"1:1,1e400:0.5", "RECIPIENTS:PROBABILITY"},
	    {"0x10:0.5", "RECIPIENTS:PROBABILITY"},
	    {"0:1", "recipients must be >= 1"},
	    {"-5:1", "recipients must be >= 1"},
	    {"1:0", "probability must be in (0, 1]"},
	    {"1:1.5", "probability must be in (0, 1]"},
	    {"1:-0.1", "probability must be in (0, 1]"},
	    {"100:0.1,10:0.5", "recipients must increase"},
	    {"10:0.5,10:0.4", "recipients must increase"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_fanout_policy *p = NULL;
		char err[128] = "";
		cr_assert_eq(baton_fanout_policy_parse(bad[i].spec, &p, err, sizeof(err)),
		             BATON_EFORMAT, "\"%s\" accepted", bad[i].spec);
		cr_assert_null(p);
		cr_assert(strstr(err, bad[i].msg) != NULL, "\"%s\": message \"%s\"",
		          bad[i].spec, err);
	}
	/* 33 points are too many. */
	char spec[1024] = "";
	for (int i = 1; i <= BATON_FANOUT_MAX_POINTS + 1; i++) {
		char item[32];
		snprintf(item, sizeof(item), "%s%d:1", i > 1 ? "," : "", i);
		strcat(spec, item);
	}
	baton_fanout_policy *p = NULL;
	char err[128] = "";
	cr_assert_eq(baton_fanout_policy_parse(spec, &p, err, sizeof(err)),
	             BATON_EFORMAT);
	cr_assert(strstr(err, "more than 32 points") != NULL, "%s", err);
	/* NULL or tiny error buffers are fine. */
	cr_assert_eq(baton_fanout_policy_parse("x", &p, NULL, 0), BATON_EFORMAT);
	cr_assert_eq(baton_fanout_policy_parse("x", &p, err, 1), BATON_EFORMAT);
	cr_assert_eq(err[0], '\0');
	cr_assert_eq(baton_fanout_policy_parse(NULL, &p, NULL, 0), BATON_EINVAL);
	cr_assert_eq(baton_fanout_policy_parse("1:1", NULL, NULL, 0), BATON_EINVAL);
}

static char logged[2048];
static void capture(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

Test(fanout_env, malformed_env_keeps_the_default_and_says_why)
{
	baton_set_log(BATON_LOG_WARN, capture, NULL);
	setenv("BATON_FANOUT_SAMPLING", "1:1,100:2", 1);
	baton_options o = {.size = sizeof(o), .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	cr_assert(strstr(logged, "BATON_FANOUT_SAMPLING") != NULL, "%s", logged);
	cr_assert(strstr(logged, "probability must be in (0, 1]") != NULL, "%s", logged);
	cr_assert(strstr(logged, BATON_FANOUT_DEFAULT) != NULL, "%s", logged);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 100) - 0.1) < 1e-7);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 10000) - 0.001) < 1e-5);
	baton_fini(100);
}

Test(fanout_env, valid_env_installs_its_curve_until_fini)
{
	baton_set_log(BATON_LOG_WARN, capture, NULL);
	setenv("BATON_FANOUT_SAMPLING", "1:1,10:0.01", 1);
	baton_options o = {.size = sizeof(o), .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	cr_assert_eq(logged[0], '\0', "%s", logged);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 10) - 0.01) < 1e-8);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 100000) - 0.01) < 1e-8);
	cr_assert_eq(baton_fanout_policy_current(), baton_fanout_policy_current());
	baton_fini(100);
	cr_assert(fabs(baton_fanout_keep_probability(NULL, 10) - 1 / sqrt(10.0)) < 1e-6);
}

/* ---- decisions ---- */

Test(fanout_keep, consumer_counts_are_within_binomial_bounds)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t n = sizes[i];
		/* At least 10^6 recipients in all for each size: broadcasts * n. */
		uint64_t broadcasts = n >= 1000000 ? 1 : 1000000 / n;
		double k = exact_curve(discord, 3, (double)n);
		uint64_t kept = 0;
		for (uint64_t b = 0; b < broadcasts; b++) {
			for (uint64_t r = 0; r < n; r++)
				kept += baton_fanout_keep(NULL, n);
		}
		double total = (double)broadcasts * (double)n;
		double mean = total * k, sd = sqrt(total * k * (1 - k));
		/* 6 sigma, plus the table's own error on the mean. */
		double slack = 6 * sd + mean * tolerance(n);
		cr_assert(fabs((double)kept - mean) <= slack,
		          "n=%llu: %llu kept of %.0f, expected %.1f +- %.1f",
		          (unsigned long long)n, (unsigned long long)kept, total, mean,
		          slack);
		if (n == 1)
			cr_assert_eq(kept, broadcasts, "one recipient is always kept");
	}
}

/* A sampled remote parent, as a receiver gets it from an envelope. */
static baton_span_context remote_parent(uint64_t *seed, double head_p)
{
	baton_span_context c = {0};
	baton_trace_id_generate(c.trace_id);
	baton_span_id_generate(c.span_id);
	(void)seed;
	c.trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM;
	c.state =
	    BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_DECIDED | BATON_CTX_HAS_TH;
	c.threshold = baton_threshold_from_probability(head_p);
	return c;
}

static baton_sampler parentbased_on(void)
{
	baton_sampler s;
	if (baton_sampler_parentbased(baton_sampler_always_on(), &s) != BATON_OK)
		abort();
	return s;
}

/*
 * Runs `broadcasts` pub/sub fanouts of n recipients through the message
 * layer (each recipient's receive draws its own keep decision from the
 * recipient count in the envelope) and checks every kept span's
 * SampleRate; returns the sum of SampleRate over the kept spans.
 */
static double run_fanout(tu_memory_exporter *mem, double head_p, uint64_t n,
                         uint64_t broadcasts, uint64_t *kept_out)
{
	baton_tracer *t = baton_tracer_get("fanout-test", NULL);
	double keep = baton_fanout_keep_probability(NULL, n);
	double want_rate = 1.0 / (head_p * keep);
	uint64_t seed = 1;
	tu_memory_exporter_clear(mem);
	for (uint64_t b = 0; b < broadcasts; b++) {
		baton_envelope env = {.ctx = remote_parent(&seed, head_p),
		                      .recipients = n};
		uint8_t buf[128];
		size_t len = 0;
		cr_assert_eq(baton_envelope_wrap(&env, buf, sizeof(buf), &len), BATON_OK);
		baton_msg_recv_opts ro = {.tracer = t, .destination = "guild.message"};
		for (uint64_t r = 0; r < n; r++) {
			baton_msg_recv m;
			cr_assert_eq(baton_msg_recv_open(buf, len, &ro, &m), BATON_OK);
			baton_span_end(m.span);
		}
	}
	size_t cnt = tu_memory_exporter_count(mem);
	double sum = 0;
	for (size_t i = 0; i < cnt; i++) {
		tu_memory_span ms;
		cr_assert_eq(tu_memory_exporter_get(mem, i, &ms), BATON_OK);
		/* SampleRate is written as an integer when within 1e-6 of one. */
		cr_assert(fabs(ms.sample_rate - want_rate) <= 1e-6,
		          "n=%llu SampleRate %g, want %g", (unsigned long long)n,
		          ms.sample_rate, want_rate);
		/* ot=th and SampleRate say the same thing. */
		cr_assert(ms.context.state & BATON_CTX_HAS_TH);
		cr_assert(fabs(baton_span_context_adjusted_count(&ms.context) -
		               ms.sample_rate) <= want_rate * 1e-9);
		if (want_rate == floor(want_rate))
			cr_assert(strstr(ms.attrs_text, "SampleRate=") != NULL, "%s",
			          ms.attrs_text);
		sum += ms.sample_rate;
	}
	*kept_out = cnt;
	return sum;
}

Test(fanout_spans, consumer_after_10000_fanout_carries_sample_rate_1000)
{
	tu_memory_exporter *mem = tu_init_memory(baton_sampler_always_on(), 4096);
	uint64_t kept;
	/* 200 fanouts of 10,000: 2,000,000 operations, about 2,000 kept at 0.001. */
	double sum = run_fanout(mem, 1.0, 10000, 200, &kept);
	double ops = 2e6, k = baton_fanout_keep_probability(NULL, 10000);
	double sd = sqrt(ops * k * (1 - k));
	cr_assert(fabs((double)kept - ops * k) <= 6 * sd, "kept %llu",
	          (unsigned long long)kept);
	cr_assert(fabs(sum - ops) <= 6 * sd / k, "sum of SampleRate %g for %g operations",
	          sum, ops);
	baton_fini(1000);
}

Test(fanout_spans, sample_rate_sums_estimate_operations_for_each_size)
{
	tu_memory_exporter *mem = tu_init_memory(baton_sampler_always_on(), 8192);
	const uint64_t ns[] = {1, 10, 100, 1000};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		uint64_t broadcasts = 5000 / ns[i] + 1;
		uint64_t kept;
		double sum = run_fanout(mem, 1.0, ns[i], broadcasts, &kept);
		double ops = (double)(broadcasts * ns[i]);
		double k = baton_fanout_keep_probability(NULL, ns[i]);
		double sd = sqrt(ops * k * (1 - k));
		cr_assert(fabs(sum - ops) <= 6 * sd / k + 1e-6 * ops,
		          "n=%llu: sum %g ops %g", (unsigned long long)ns[i], sum, ops);
		if (ns[i] == 1)
			cr_assert_eq(kept, broadcasts);
	}
	baton_fini(1000);
}

Test(fanout_spans, head_rate_and_fanout_rate_multiply)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased_on(), 8192);
	uint64_t kept;
	/* Head 10% (the parent's threshold) times keep 10% at 100 recipients: 100. */
	double sum = run_fanout(mem, 0.1, 100, 300, &kept);
	cr_assert_gt(kept, 0);
	double ops = 300 * 100 / 0.1; /* operations the sampled parents stand for */
	double sd = sqrt(30000 * 0.1 * 0.9);
	cr_assert(fabs(sum - ops) <= 6 * sd * 100, "sum %g for %g", sum, ops);
	baton_fini(1000);
}

Test(fanout_spans, span_start_never_draws_the_fanout_decision_itself)
{
	tu_memory_exporter *mem = tu_init_memory(baton_sampler_always_on(), 4096);
	baton_tracer *t = baton_tracer_get("fanout-test", NULL);
	uint64_t seed = 0;
	for (int i = 0; i < 1000; i++) {
		baton_span_context parent = remote_parent(&seed, 1.0);
		baton_span_start_opts o = {.parent = &parent,
		                           .kind = BATON_SPAN_KIND_CONSUMER,
		                           .fanout_keep_probability = 0.01};
		baton_span_end(baton_span_start_ex(t, "process", &o));
	}
	cr_assert_eq(tu_memory_exporter_count(mem), 1000);
	tu_memory_span ms;
	cr_assert_eq(tu_memory_exporter_get(mem, 999, &ms), BATON_OK);
	cr_assert(fabs(ms.sample_rate - 100) < 1e-9);
	baton_fini(1000);
}

Test(fanout_spans, unsampled_parent_is_never_resurrected_by_the_fanout)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased_on(), 64);
	baton_tracer *t = baton_tracer_get("fanout-test", NULL);
	baton_span_context decided = {0};
	decided.state = BATON_CTX_DECIDED | BATON_CTX_REMOTE; /* no ids, not sampled */
	for (int i = 0; i < 1000; i++) {
		baton_span_start_opts o = {.parent = &decided,
		                           .flags = BATON_START_NO_ROOT,
		                           .fanout_keep_probability = 0.5};
		baton_span s = baton_span_start_ex(t, "process", &o);
		cr_assert(!baton_span_is_recording(s));
		baton_span_end(s);
	}
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
	baton_fini(1000);
}
