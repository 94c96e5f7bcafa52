/* Rate-limiting, per-operation and switchable samplers. */
#include <baton/baton.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sampling/sampling_int.h"

static uint64_t fake_ns = 5000000000000ull;
static uint64_t fake_clock(void)
{
	return fake_ns;
}

static void use_fake_clock(void)
{
	bt_sampling_clock = fake_clock;
}

TestSuite(rules, .init = use_fake_clock);

static baton_sampling_result decide(baton_sampler s, const char *name,
                                    uint64_t randomness)
{
	static const baton_span_context none;
	uint8_t tid[16] = {0};
	for (int i = 15; i >= 9; i--) {
		tid[i] = (uint8_t)randomness;
		randomness >>= 8;
	}
	baton_sampling_params p = {.parent = &none, .trace_id = tid, .name = name};
	baton_sampling_result r = {BATON_SAMPLING_DROP, true, 1};
	s.ops->should_sample(s.arg, &p, &r);
	return r;
}

static int kept(baton_sampler s, const char *name, int n, uint64_t randomness)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += decide(s, name, randomness).decision ==
		     BATON_SAMPLING_RECORD_AND_SAMPLE;
	return k;
}

Test(rules, rate_limiting_refills_continuously_and_caps_its_burst)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_rate_limiting(10, &s), BATON_OK);
	cr_assert_eq(kept(s, "x", 100, 0), 10, "a full bucket at start");
	cr_assert(!decide(s, "x", 0).has_threshold);
	fake_ns += 100000000; /* 0.1 s: one token */
	cr_assert_eq(kept(s, "x", 100, 0), 1);
	fake_ns += 60ull * 1000000000ull; /* a minute idle: still only 10 */
	cr_assert_eq(kept(s, "x", 100, 0), 10);
	baton_sampler_destroy(s);
	/* Below one per second the bucket still holds one. */
	cr_assert_eq(baton_sampler_rate_limiting(0.5, &s), BATON_OK);
	cr_assert_eq(kept(s, "x", 10, 0), 1);
	fake_ns += 1000000000;
	cr_assert_eq(kept(s, "x", 10, 0), 0);
	fake_ns += 1000000000;
	cr_assert_eq(kept(s, "x", 10, 0), 1);
	baton_sampler_destroy(s);
	cr_assert_eq(baton_sampler_rate_limiting(0, &s), BATON_OK);
	cr_assert_eq(kept(s, "x", 10, 0), 0, "zero keeps nothing");
	baton_sampler_destroy(s);
	cr_assert_eq(baton_sampler_rate_limiting(-1, &s), BATON_EINVAL);
	cr_assert_eq(baton_sampler_rate_limiting(1.0 / 0.0, &s), BATON_EINVAL);
}

/*
 * A rate so small that 1e9 / rate is past 2^64 ns (below about 5.4e-11 per
 * second) once converted out of range (undefined behaviour; on x86-64 a
 * bucket of one token per nanosecond, a few hundred spans a second on the
 * coarse clock). Such a rate keeps the one token the bucket starts with and
 * then nothing for years, like any rate under one per 2^56 ns.
 */
Test(rules, tiny_rates_keep_one_span_and_then_none_for_years)
{
	static const double rates[] = {5e-11, 1e-12, 1e-300, 4.9e-324, 1e-8};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		baton_sampler s;
		cr_assert_eq(baton_sampler_rate_limiting(rates[i], &s), BATON_OK);
		int k = 0;
		/* 10,000 decisions 1 ms apart, then a day later, then a year later. */
		for (int j = 0; j < 10000; j++) {
			fake_ns += 1000000;
			k += kept(s, "x", 1, 0);
		}
		fake_ns += 86400ull * 1000000000ull;
		k += kept(s, "x", 100, 0);
		fake_ns += 365ull * 86400ull * 1000000000ull;
		k += kept(s, "x", 100, 0);
		cr_assert_eq(k, 1, "rate %g kept %d", rates[i], k);
		baton_sampler_destroy(s);
	}
	/* The per-operation lower bound is the same bucket. */
	baton_per_operation_options o = {
	    .size = sizeof(o), .default_probability = 0, .lower_bound_per_sec = 1e-20};
	baton_sampler s;
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_OK);
	int k = 0;
	for (int j = 0; j < 10000; j++) {
		fake_ns += 1000000;
		k += kept(s, "op", 1, 0);
	}
	cr_assert_eq(k, 1, "lower bound 1e-20/s kept %d", k);
	baton_sampler_destroy(s);
}

/* Every probability converts to a threshold in range, whatever the double. */
Test(rules, probability_conversion_is_clamped)
{
	cr_assert_eq(baton_threshold_from_probability(0.0 / 0.0), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(-1), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(-1.0 / 0.0), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(0), BATON_TH_MAX);
	cr_assert_eq(baton_threshold_from_probability(4.9e-324), BATON_TH_MAX - 1,
	             "a positive probability never keeps nothing");
	cr_assert_eq(baton_threshold_from_probability(1e-30), BATON_TH_MAX - 1);
	cr_assert_eq(baton_threshold_from_probability(1), 0);
	cr_assert_eq(baton_threshold_from_probability(1.5), 0);
	cr_assert_eq(baton_threshold_from_probability(1.0 / 0.0), 0);
	cr_assert_eq(baton_threshold_from_probability(0.5), BATON_TH_MAX / 2);
	cr_assert_eq(baton_probability_from_threshold(UINT64_MAX), 0.0);
	cr_assert_eq(baton_probability_from_threshold(0), 1.0);
}

Test(rules, per_operation_probabilities_are_consistent)
{
	baton_operation_probability ops[] = {{"a", 0.5}, {"b", 0.1}, {"a", 0.25}};
	baton_per_operation_options o = {.size = sizeof(o),
	                                 .default_probability = 0.01,
	                                 .operations = ops,
	                                 .noperations = 3};
	baton_sampler s;
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_OK);
	const char *names[] = {"a", "b", "zzz"};
	double ps[] = {0.25 /* listed twice: the last wins */, 0.1, 0.01};
	for (int i = 0; i < 3; i++) {
		uint64_t th = baton_threshold_from_probability(ps[i]);
		baton_sampling_result r = decide(s, names[i], th);
		cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE, "%s",
		             names[i]);
		cr_assert(r.has_threshold);
		cr_assert_eq(r.threshold, th);
		cr_assert_eq(decide(s, names[i], th - 1).decision, BATON_SAMPLING_DROP,
		             "%s", names[i]);
	}
	baton_sampler_destroy(s);
}

Test(rules, lower_bound_buckets_per_operation_then_shared)
{
	baton_per_operation_options o = {.size = sizeof(o),
	                                 .default_probability = 0,
	                                 .lower_bound_per_sec = 2,
	                                 .max_unlisted = 3};
	baton_sampler s;
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_OK);
	char name[16];
	/* Three operations get a bucket of 2 each ... */
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "op%d", i);
		cr_assert_eq(kept(s, name, 10, 0), 2, "%s", name);
	}
	/* ... the rest share one. */
	int shared = 0;
	for (int i = 3; i < 10; i++) {
		snprintf(name, sizeof(name), "op%d", i);
		shared += kept(s, name, 10, 0);
	}
	cr_assert_eq(shared, 2);
	baton_sampling_result r = decide(s, "op0", BATON_TH_MAX - 1);
	cr_assert_eq(r.decision, BATON_SAMPLING_DROP, "probability 0 and no token left");
	baton_sampler_destroy(s);
}

Test(rules, per_operation_rejects_bad_options)
{
	baton_sampler s = {0};
	baton_operation_probability bad_p[] = {{"a", 1.5}};
	baton_operation_probability no_name[] = {{NULL, 0.5}};
	baton_per_operation_options o = {.size = sizeof(o), .default_probability = 2};
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_EINVAL);
	o = (baton_per_operation_options){
	    .size = sizeof(o), .operations = bad_p, .noperations = 1};
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_EINVAL);
	o = (baton_per_operation_options){
	    .size = sizeof(o), .operations = no_name, .noperations = 1};
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_EINVAL);
	o = (baton_per_operation_options){.size = sizeof(o), .lower_bound_per_sec = -1};
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_EINVAL);
	o = (baton_per_operation_options){.size = sizeof(o), .noperations = 2};
	cr_assert_eq(baton_sampler_per_operation(&o, &s), BATON_EINVAL);
	cr_assert_eq(baton_sampler_per_operation(NULL, &s), BATON_EINVAL);
	cr_assert_null(s.ops);
}

/* ---- switchable ---- */

static int destroyed[8];
static void mark(void *arg)
{
	destroyed[(intptr_t)arg]++;
}
static void keep_all(void *arg, const baton_sampling_params *p, baton_sampling_result *r)
{
	(void)p;
	r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE;
	r->has_threshold = true;
	r->threshold = (uint64_t)(intptr_t)arg; /* tells which delegate answered */
}
static const baton_sampler_ops tagged_ops = {sizeof(baton_sampler_ops), "tagged",
                                             keep_all, mark};

static baton_sampler tagged(intptr_t i)
{
	return (baton_sampler){&tagged_ops, (void *)i};
}

Test(switchable, delegates_and_frees_replaced_samplers)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_switchable(tagged(1), &s), BATON_OK);
	cr_assert_eq(decide(s, "x", 0).threshold, 1);
	cr_assert_eq(baton_sampler_switch(s, tagged(2)), BATON_OK);
	cr_assert_eq(decide(s, "x", 0).threshold, 2);
	cr_assert_eq(destroyed[1], 0, "kept until the next switch");
	cr_assert_eq(baton_sampler_switch(s, tagged(3)), BATON_OK);
	cr_assert_eq(decide(s, "x", 0).threshold, 3);
	cr_assert_eq(destroyed[1], 1);
	cr_assert_eq(destroyed[2], 0);
	cr_assert_eq(baton_sampler_switch(baton_sampler_always_on(), tagged(4)),
	             BATON_EINVAL);
	cr_assert_eq(destroyed[4], 1, "next is owned on failure too");
	baton_sampler_destroy(s);
	cr_assert_eq(destroyed[2], 1);
	cr_assert_eq(destroyed[3], 1);
}

struct race {
	baton_sampler s;
	_Atomic bool stop;
	_Atomic uint64_t bad;
};
static void *decider(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		uint64_t t = decide(r->s, "x", 0).threshold;
		if (t < 5 || t > 6)
			atomic_fetch_add(&r->bad, 1);
	}
	return NULL;
}

Test(switchable, switches_while_other_threads_decide)
{
	struct race r;
	atomic_init(&r.stop, false);
	atomic_init(&r.bad, 0);
	cr_assert_eq(baton_sampler_switchable(tagged(5), &r.s), BATON_OK);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, decider, &r);
	for (int i = 0; i < 2000; i++)
		cr_assert_eq(baton_sampler_switch(r.s, tagged(5 + (i & 1))), BATON_OK);
	atomic_store(&r.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&r.bad), 0);
	baton_sampler_destroy(r.s);
	cr_assert_eq(destroyed[5] + destroyed[6], 2001, "every delegate freed once");
}
