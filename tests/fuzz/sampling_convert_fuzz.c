/*
 * Fuzzes every conversion of a probability or a rate (a double, any bits:
 * NaN, infinities, negatives, subnormals, > 1) to the integers the samplers
 * work with: OTEP 235 thresholds and token-bucket intervals. Built with
 * UBSan, an out-of-range conversion is a finding; the invariants below are
 * what the samplers rely on.
 *
 * Input: a sequence of 8-byte doubles; the first two bytes also pick the
 * clock step of the bucket simulation.
 */
#include <baton/baton.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampling/sampling_int.h"

static uint64_t fake_ns;
static uint64_t fake_clock(void)
{
	return fake_ns;
}

static void check_threshold(double p)
{
	uint64_t th = baton_threshold_from_probability(p);
	if (th > BATON_TH_MAX)
		abort();
	if (!(p > 0) && th != BATON_TH_MAX)
		abort(); /* NaN, 0 and negatives keep nothing */
	if (p >= 1 && th != 0)
		abort(); /* 1, more, +inf keep everything */
	if (p > 0 && th == BATON_TH_MAX)
		abort(); /* a positive probability keeps something */
	double q = baton_probability_from_threshold(th);
	if (!(q >= 0 && q <= 1))
		abort();
	/* Round trip within one step of 2^-56 (and never to 0 from above 0). */
	if (p > 0 && p < 1 && (fabs(q - p) > 0x1p-56 && q != 0x1p-56))
		abort();
	baton_sampler s;
	baton_err rv = baton_sampler_traceidratio(p, &s);
	if ((p >= 0 && p <= 1) != (rv == BATON_OK))
		abort();
	if (rv == BATON_OK)
		baton_sampler_destroy(s);
}

/* Takes tokens from a bucket of rate r for a while; counts what it keeps. */
static void check_bucket(double r, uint64_t step)
{
	bt_bucket b;
	bt_bucket_init(&b, r);
	if (b.never != !(r > 0))
		abort();
	if (b.never)
		return;
	if (b.interval_ns > BT_BUCKET_MAX_INTERVAL_NS)
		abort();
	if (b.interval_ns == 0) { /* unlimited: only for 1e9/s and more */
		if (!(r >= 1e9))
			abort();
		return;
	}
	if (b.burst_ns < b.interval_ns || b.burst_ns > 1000000000u + b.interval_ns)
		abort(); /* one token at least; a second's worth at most */
	uint64_t start = 1000000000ull * 1000000u; /* 11.6 days of uptime */
	uint64_t kept = 0;
	fake_ns = start;
	for (int i = 0; i < 256; i++) {
		kept += bt_bucket_take(&b, fake_ns);
		fake_ns += step;
	}
	uint64_t elapsed = fake_ns - start;
	/* The burst, plus one token per interval, plus one for rounding. */
	uint64_t bound = b.burst_ns / b.interval_ns + elapsed / b.interval_ns + 1;
	if (kept > bound || kept == 0)
		abort();
	/* Up to a million a second (an interval of 1,000 ns or more, so its
	 * rounding is under 0.1%), the bucket gives what the rate allows. */
	if (r <= 1e6 && (double)kept > r * ((double)elapsed / 1e9 + 1) * 1.001 + 2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bt_sampling_clock = fake_clock;
	uint64_t step = 1;
	if (size >= 2)
		step = (uint64_t)(data[0] | data[1] << 8) * 1000003u; /* up to 65 ms */
	double prev = NAN;
	for (size_t off = 0; off + 8 <= size; off += 8) {
		double d;
		memcpy(&d, data + off, 8);
		check_threshold(d);
		check_bucket(d, step);
		/* Thresholds fall as probabilities rise. */
		if (prev > 0 && d > 0 && prev <= d &&
		    baton_threshold_from_probability(prev) <
		        baton_threshold_from_probability(d))
			abort();
		prev = d;
		/* The public samplers take the same values or refuse them. */
		baton_sampler s;
		baton_err rv = baton_sampler_rate_limiting(d, &s);
		if ((d >= 0 && isfinite(d)) != (rv == BATON_OK))
			abort();
		if (rv == BATON_OK)
			baton_sampler_destroy(s);
		baton_per_operation_options o = {.size = sizeof(o),
		                                 .default_probability = 0.5,
		                                 .lower_bound_per_sec = d};
		rv = baton_sampler_per_operation(&o, &s);
		if (rv == BATON_OK)
			baton_sampler_destroy(s);
	}
	bt_sampling_clock = NULL;
	return 0;
}
