/*
 * Rate-limiting and per-operation samplers (the strategies Jaeger's remote
 * sampling serves), built on a lock-free token bucket.
 */
#include "sampling/sampling_int.h"

#include <math.h>
#include <string.h>

uint64_t (*bt_sampling_clock)(void);

void bt_bucket_init(bt_bucket *b, double per_sec)
{
	atomic_init(&b->tat, 0);
	b->never = !(per_sec > 0); /* also NaN */
	b->interval_ns = 0;
	b->burst_ns = 0;
	if (b->never || per_sec >= 1e9) /* also +inf */
		return;
	/*
	 * One token per 1e9 / per_sec ns. Below 1 / BT_BUCKET_MAX_INTERVAL_NS per
	 * second that number does not fit the clock's arithmetic (past 2^64 for
	 * rates under 5.4e-11, which is undefined behaviour to convert): such a
	 * rate gets one token per BT_BUCKET_MAX_INTERVAL_NS, which no process
	 * tells apart from the rate asked for.
	 */
	double iv = 1e9 / per_sec;
	if (iv >= (double)BT_BUCKET_MAX_INTERVAL_NS)
		b->interval_ns = BT_BUCKET_MAX_INTERVAL_NS;
	else if (iv < 1.0)
		b->interval_ns = 1;
	else
		b->interval_ns = (uint64_t)iv;
	/* Holds max(1, rate) tokens, as Jaeger's rate limiter does. Above one
	 * per second interval_ns <= 1e9 / per_sec, so the product is <= 1e9. */
	if (per_sec > 1.0)
		b->burst_ns = (uint64_t)(per_sec * (double)b->interval_ns);
	else
		b->burst_ns = b->interval_ns;
}

/* ---- rate limiting ---- */

static void bt_rate_sample(void *arg, const baton_sampling_params *p,
                           baton_sampling_result *r)
{
	(void)p;
	bt_bucket *b = arg;
	r->has_threshold = false;
	r->decision = bt_bucket_take(b, bt_sampling_now())
	                  ? BATON_SAMPLING_RECORD_AND_SAMPLE
	                  : BATON_SAMPLING_DROP;
}

static void bt_rules_free(void *arg)
{
	bt_free(arg);
}

static const baton_sampler_ops bt_rate_ops = {sizeof(baton_sampler_ops), "rate_limiting",
                                              bt_rate_sample, bt_rules_free};

baton_err baton_sampler_rate_limiting(double max_per_sec, baton_sampler *out)
{
	if (out == NULL || !(max_per_sec >= 0) || !isfinite(max_per_sec))
		return BATON_EINVAL;
	bt_bucket *b = bt_malloc(sizeof(*b));
	if (b == NULL)
		return BATON_ENOMEM;
	bt_bucket_init(b, max_per_sec);
	*out = (baton_sampler){&bt_rate_ops, b};
	return BATON_OK;
}

/* ---- per operation ---- */

struct bt_op {
	_Atomic uint64_t hash; /* 0: free */
	uint64_t threshold;    /* written before the slot is published, or at creation */
	bt_bucket lower;
};

struct bt_perop {
	uint64_t default_threshold;
	double lower_bound;
	uint32_t mask;
	_Atomic uint32_t nunlisted;
	uint32_t max_unlisted;
	struct bt_op shared; /* unlisted operations past max_unlisted */
	struct bt_op *slots;
};

#define BT_OP_PROBES 32

static struct bt_op *bt_op_find(struct bt_perop *s, uint64_t h)
{
	for (uint32_t i = 0; i < BT_OP_PROBES; i++) {
		struct bt_op *o = &s->slots[(h + i) & s->mask];
		/* Acquire pairs with the release CAS of a claim: the slot's threshold
		 * and bucket are set before its hash is visible. */
		uint64_t cur = atomic_load_explicit(&o->hash, memory_order_acquire);
		if (cur == h)
			return o;
		if (cur != 0)
			continue;
		/* An operation seen for the first time: its own bucket while there is
		 * room. */
		if (atomic_fetch_add_explicit(&s->nunlisted, 1, memory_order_relaxed) >=
		    s->max_unlisted) {
			atomic_fetch_sub_explicit(&s->nunlisted, 1, memory_order_relaxed);
			return &s->shared;
		}
		uint64_t expect = 0;
		/* Free slots hold the default threshold and a fresh bucket from creation.
		 */
		if (atomic_compare_exchange_strong_explicit(
		        &o->hash, &expect, h, memory_order_release, memory_order_acquire))
			return o;
		atomic_fetch_sub_explicit(&s->nunlisted, 1, memory_order_relaxed);
		if (expect == h)
			return o;
	}
	return &s->shared;
}

static void bt_perop_sample(void *arg, const baton_sampling_params *p,
                            baton_sampling_result *r)
{
	struct bt_perop *s = arg;
	const char *name = p->name ? p->name : "";
	struct bt_op *o = bt_op_find(s, bt_sampling_hash(name, strlen(name), 0));
	bool keep = o->threshold < BATON_TH_MAX &&
	            bt_trace_randomness(p->trace_id) >= o->threshold;
	/* Every decision takes a token when there is one (Jaeger's rule). */
	bool lower = s->lower_bound > 0 && bt_bucket_take(&o->lower, bt_sampling_now());
	if (keep) {
		r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE;
		r->has_threshold = true;
		r->threshold = o->threshold;
	} else {
		r->decision =
		    lower ? BATON_SAMPLING_RECORD_AND_SAMPLE : BATON_SAMPLING_DROP;
		r->has_threshold = false;
	}
}

static void bt_perop_destroy(void *arg)
{
	struct bt_perop *s = arg;
	bt_free(s->slots);
	bt_free(s);
}

static const baton_sampler_ops bt_perop_ops = {sizeof(baton_sampler_ops), "per_operation",
                                               bt_perop_sample, bt_perop_destroy};

baton_err baton_sampler_per_operation(const baton_per_operation_options *o,
                                      baton_sampler *out)
{
	if (out == NULL || o == NULL || o->size < sizeof(*o) ||
	    !(o->default_probability >= 0 && o->default_probability <= 1) ||
	    !(o->lower_bound_per_sec >= 0) || !isfinite(o->lower_bound_per_sec) ||
	    o->noperations > 65536 || (o->noperations > 0 && o->operations == NULL))
		return BATON_EINVAL;
	for (size_t i = 0; i < o->noperations; i++) {
		double q = o->operations[i].probability;
		if (o->operations[i].operation == NULL || !(q >= 0 && q <= 1))
			return BATON_EINVAL;
	}
	struct bt_perop *s = bt_calloc(1, sizeof(*s));
	if (s == NULL)
		return BATON_ENOMEM;
	s->max_unlisted = o->max_unlisted ? o->max_unlisted : 256;
	if (s->max_unlisted > 65536)
		s->max_unlisted = 65536;
	uint32_t size = 16;
	while (size < 2 * ((uint32_t)o->noperations + s->max_unlisted))
		size <<= 1;
	s->mask = size - 1;
	s->slots = bt_calloc(size, sizeof(struct bt_op));
	if (s->slots == NULL) {
		bt_free(s);
		return BATON_ENOMEM;
	}
	s->default_threshold = baton_threshold_from_probability(o->default_probability);
	s->lower_bound = o->lower_bound_per_sec;
	for (uint32_t i = 0; i < size; i++) {
		s->slots[i].threshold = s->default_threshold;
		bt_bucket_init(&s->slots[i].lower, s->lower_bound);
	}
	s->shared.threshold = s->default_threshold;
	bt_bucket_init(&s->shared.lower, s->lower_bound);
	/* Listed operations: placed now, before any reader exists; a name listed
	 * twice keeps its last probability. */
	for (size_t i = 0; i < o->noperations; i++) {
		const char *name = o->operations[i].operation;
		uint64_t h = bt_sampling_hash(name, strlen(name), 0);
		for (uint32_t j = 0;; j++) {
			struct bt_op *op = &s->slots[(h + j) & s->mask];
			uint64_t cur =
			    atomic_load_explicit(&op->hash, memory_order_relaxed);
			if (cur == 0 || cur == h) {
				atomic_store_explicit(&op->hash, h, memory_order_relaxed);
				op->threshold = baton_threshold_from_probability(
				    o->operations[i].probability);
				break;
			}
		}
	}
	*out = (baton_sampler){&bt_perop_ops, s};
	return BATON_OK;
}
