/*
 * The dynamic budget sampler: keeps the spans an inner sampler keeps to a
 * rate, per key and overall.
 *
 * Hot path (bt_dyn_sample): the inner decision, one clock read, a hash of
 * the key, a probe of a fixed open-addressing table, one relaxed atomic add
 * and one relaxed load; under budget pressure one more add, and for a kept
 * span the cap check below. No lock, no allocation.
 *
 * The cap. A key's probability is right for trace ids whose randomness is
 * uniform, but ids are chosen by whoever starts the trace: ids whose low
 * 56 bits are all ones pass every threshold, so the probability alone
 * would let them all through (10,000/s kept against a budget of 10/s).
 * Behind the probabilistic decision each key therefore counts, per window,
 * the sum E of the keep probabilities it applied (what uniform ids keep on
 * average) and the spans it actually kept, and drops a span that the
 * threshold would keep once the kept count reaches E + 3 + 6 sqrt(E). For
 * honest ids that bound is six standard deviations away, so their decisions
 * stay the consistent, trace-id based ones; crafted ids get at most the
 * budget's share plus that margin.
 *
 * Recomputation happens on the thread whose decision finds the window over,
 * under a trylock (others carry on with the previous probabilities). This
 * rather than a background thread: tests drive it deterministically with a
 * clock of their own, an idle process wakes nothing, and there is no thread
 * to stop at fini or to lose in a forked child. The price is one clock read
 * per decision (CLOCK_MONOTONIC_COARSE: a few ns, and millisecond
 * resolution is plenty for windows of a second).
 */
#include "sampling/sampling_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BT_DYN_PROBES 16
/* Fixed point of the cap's probability sum: 2^20 per span. */
#define BT_DYN_ONE 0x1p20

/* One key: padded to a cache line so busy keys do not share one. */
struct bt_dyn_key {
	_Atomic uint64_t hash;  /* 0: free slot */
	_Atomic uint64_t count; /* spans counted in the current window */
	_Atomic uint64_t prob;  /* keep probability, the bits of a double */
	_Atomic uint64_t th;    /* its threshold, for inner decisions at 100% */
	/* The cap, this window: keep probabilities applied (BT_DYN_ONE per 1.0)
	 * and spans kept below probability 1. */
	_Atomic uint64_t earned;
	_Atomic uint64_t kept;
	double ema;    /* rate average (recomputing thread only) */
	bool measured; /* ema holds a value (recomputing thread only) */
	char pad[64 - 7 * sizeof(uint64_t) - sizeof(bool)];
};

struct bt_dyn {
	baton_sampler inner;
	double target, key_target;
	bool count_traces;
	baton_dynamic_key key_kind;
	char *key_attr;
	uint64_t window_ns;
	double alpha, max_increase, min_p, initial_p;
	baton_clock_fn clock;
	void *clock_arg;

	_Atomic uint64_t window_end;
	uint64_t window_start; /* under mtx */
	pthread_mutex_t mtx;
	baton_fork_step
	    fork; /* holds mtx across fork(): a child never inherits it locked */
	_Atomic uint64_t windows;
	_Atomic uint64_t overflow_spans;
	_Atomic uint32_t nkeys;
	uint32_t max_keys;
	uint32_t mask; /* table size - 1 */
	struct bt_dyn_key *slots;
	struct bt_dyn_key overflow;
	/* Scratch for the recomputation: one entry per slot plus overflow. */
	double *est;
	double *demand;
	double *sorted;
};

static uint64_t bt_dyn_default_clock(void *arg)
{
	(void)arg;
	return bt_coarse_ns();
}

static inline double bt_bits_double(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static inline uint64_t bt_double_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

/* Never 0: 0 marks a free slot. */
static uint64_t bt_dyn_hash(const void *data, size_t n, uint64_t tag)
{
	return bt_sampling_hash(data, n, tag);
}

static uint64_t bt_dyn_str_hash(const char *s, size_t n)
{
	return bt_dyn_hash(s, n, 0);
}

/* The key hash of a span start, by the configured kind. */
static uint64_t bt_dyn_key_hash(const struct bt_dyn *d, const baton_sampling_params *p)
{
	if (d->key_kind == BATON_DYNAMIC_KEY_NAME) {
		const char *name = p->name ? p->name : "";
		return bt_dyn_str_hash(name, strlen(name));
	}
	if (d->key_kind == BATON_DYNAMIC_KEY_NONE)
		return 1;
	for (size_t i = 0; i < p->nattrs; i++) {
		const baton_kv *kv = &p->attrs[i];
		if (kv->key == NULL || strcmp(kv->key, d->key_attr) != 0)
			continue;
		const baton_value *v = &kv->value;
		switch (v->type) {
		case BATON_VALUE_STRING: {
			const char *s = v->u.s ? v->u.s : "";
			size_t n = v->len == (size_t)-1 ? strlen(s) : v->len;
			return bt_dyn_str_hash(s, n);
		}
		case BATON_VALUE_INT:
			return bt_dyn_hash(&v->u.i, sizeof(v->u.i), 1);
		case BATON_VALUE_DOUBLE:
			return bt_dyn_hash(&v->u.d, sizeof(v->u.d), 2);
		case BATON_VALUE_BOOL:
			return bt_dyn_hash(&v->u.b, sizeof(v->u.b), 3);
		default:
			break;
		}
	}
	/* No such attribute (or an array): one key of its own. */
	return bt_dyn_hash("", 0, 4);
}

/*
 * Finds or claims the slot of hash h. A key is matched by its 64-bit hash
 * alone (two keys colliding share a budget; at 256 keys the odds are about
 * 2^-48). Past max_keys or BT_DYN_PROBES probes: the overflow bucket.
 */
static struct bt_dyn_key *bt_dyn_slot(struct bt_dyn *d, uint64_t h, bool claim)
{
	for (uint32_t i = 0; i < BT_DYN_PROBES; i++) {
		struct bt_dyn_key *k = &d->slots[(h + i) & d->mask];
		/* Relaxed: the hash is the only thing a reader compares, and the
		 * slot's other fields are valid from creation (prob starts at
		 * initial_p), so no ordering with them is needed. */
		uint64_t cur = atomic_load_explicit(&k->hash, memory_order_relaxed);
		if (cur == h)
			return k;
		if (cur != 0)
			continue;
		if (!claim)
			return NULL;
		if (atomic_fetch_add_explicit(&d->nkeys, 1, memory_order_relaxed) >=
		    d->max_keys) {
			atomic_fetch_sub_explicit(&d->nkeys, 1, memory_order_relaxed);
			break;
		}
		uint64_t expect = 0;
		if (atomic_compare_exchange_strong_explicit(
		        &k->hash, &expect, h, memory_order_relaxed, memory_order_relaxed))
			return k;
		atomic_fetch_sub_explicit(&d->nkeys, 1, memory_order_relaxed);
		if (expect == h) /* another thread claimed it for the same key */
			return k;
	}
	return claim ? &d->overflow : NULL;
}

static int bt_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * The overall budget shared out (max-min fair): the level L with
 * sum(min(demand_k, L)) = target; keys under L keep all they have.
 * Returns INFINITY when the demands fit the budget.
 */
static double bt_dyn_level(struct bt_dyn *d, size_t n)
{
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += d->demand[i];
	if (total <= d->target)
		return INFINITY;
	memcpy(d->sorted, d->demand, n * sizeof(double));
	qsort(d->sorted, n, sizeof(double), bt_cmp_double);
	double left = d->target;
	for (size_t i = 0; i < n; i++) {
		size_t rest = n - i;
		if (d->sorted[i] * (double)rest > left)
			return left / (double)rest;
		left -= d->sorted[i];
	}
	return INFINITY;
}

/* Ends the window: new rates, averages and probabilities. Under d->mtx. */
static void bt_dyn_recompute(struct bt_dyn *d, uint64_t now)
{
	size_t nslots = (size_t)d->mask + 1;
	double secs = (double)(now - d->window_start) / 1e9;
	if (!(secs > 0))
		secs = (double)d->window_ns / 1e9;
	/* Pass 1: rate estimates, and each key's demand within its own budget. */
	for (size_t i = 0; i <= nslots; i++) {
		struct bt_dyn_key *k = i < nslots ? &d->slots[i] : &d->overflow;
		d->est[i] = 0;
		d->demand[i] = 0;
		if (i < nslots &&
		    atomic_load_explicit(&k->hash, memory_order_relaxed) == 0)
			continue;
		/* Counts made after the exchange go to the next window. */
		uint64_t c = atomic_exchange_explicit(&k->count, 0, memory_order_relaxed);
		/* The cap starts over with the window (relaxed: a decision racing
		 * with this sees the old or the new count, either a bound). */
		atomic_store_explicit(&k->earned, 0, memory_order_relaxed);
		atomic_store_explicit(&k->kept, 0, memory_order_relaxed);
		double rate = (double)c / secs;
		k->ema = k->measured ? d->alpha * rate + (1 - d->alpha) * k->ema : rate;
		k->measured = true;
		/* Quick to decrease: a rise in the last window counts in full at once;
		 * a fall only through the average. */
		double est = rate > k->ema ? rate : k->ema;
		d->est[i] = est;
		d->demand[i] =
		    d->key_target > 0 && est > d->key_target ? d->key_target : est;
	}
	double level = d->target > 0 ? bt_dyn_level(d, nslots + 1) : INFINITY;
	/* Pass 2: probabilities; a rise is capped at max_increase per window. */
	for (size_t i = 0; i <= nslots; i++) {
		struct bt_dyn_key *k = i < nslots ? &d->slots[i] : &d->overflow;
		if (i < nslots &&
		    atomic_load_explicit(&k->hash, memory_order_relaxed) == 0)
			continue;
		double want = 1.0;
		if (d->est[i] > 0) {
			double allowed = d->demand[i] < level ? d->demand[i] : level;
			want = allowed / d->est[i];
		}
		double old =
		    bt_bits_double(atomic_load_explicit(&k->prob, memory_order_relaxed));
		double p = want;
		if (p > old * d->max_increase)
			p = old * d->max_increase;
		if (p > 1.0)
			p = 1.0;
		if (p < d->min_p)
			p = d->min_p;
		/* Relaxed: readers need the value, nothing ordered with it. */
		atomic_store_explicit(&k->prob, bt_double_bits(p), memory_order_relaxed);
		atomic_store_explicit(&k->th, baton_threshold_from_probability(p),
		                      memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&d->windows, 1, memory_order_relaxed);
}

/* Called by a decision that found the window over: one thread recomputes. */
static void __attribute__((noinline)) bt_dyn_roll(struct bt_dyn *d, uint64_t now)
{
	if (pthread_mutex_trylock(&d->mtx) != 0)
		return;
	if (now >= atomic_load_explicit(&d->window_end, memory_order_relaxed)) {
		bt_dyn_recompute(d, now);
		d->window_start = now;
		atomic_store_explicit(&d->window_end, now + d->window_ns,
		                      memory_order_relaxed);
	}
	pthread_mutex_unlock(&d->mtx);
}

/*
 * The cap behind the probabilistic decision (see the top of this file):
 * true when key k may keep one more span this window, counting it. earned
 * is k's sum of keep probabilities so far, in BT_DYN_ONE units.
 */
static bool bt_dyn_cap_take(struct bt_dyn_key *k, uint64_t earned)
{
	double e = (double)earned / BT_DYN_ONE;
	double allow = e + 3.0 + 6.0 * sqrt(e);
	/* Relaxed: a count; racing threads each see a bound that held. */
	uint64_t n = atomic_fetch_add_explicit(&k->kept, 1, memory_order_relaxed);
	if ((double)n < allow)
		return true;
	atomic_fetch_sub_explicit(&k->kept, 1, memory_order_relaxed);
	return false;
}

static void bt_dyn_sample(void *arg, const baton_sampling_params *p,
                          baton_sampling_result *r)
{
	struct bt_dyn *d = arg;
	d->inner.ops->should_sample(d->inner.arg, p, r);
	if (r->decision != BATON_SAMPLING_RECORD_AND_SAMPLE)
		return;
	if (d->count_traces && (p->parent->state & (BATON_CTX_VALID | BATON_CTX_DECIDED)))
		return; /* a child: the trace budget was spent at its root */
	uint64_t now = d->clock(d->clock_arg);
	if (now >= atomic_load_explicit(&d->window_end, memory_order_relaxed))
		bt_dyn_roll(d, now);
	struct bt_dyn_key *k = bt_dyn_slot(d, bt_dyn_key_hash(d, p), true);
	if (k == &d->overflow)
		atomic_fetch_add_explicit(&d->overflow_spans, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&k->count, 1, memory_order_relaxed);
	double pk = bt_bits_double(atomic_load_explicit(&k->prob, memory_order_relaxed));
	if (pk >= 1.0)
		return;
	/* pk is in (0, 1): the product is in [0, 2^20), rounded up so that
	 * any probability earns something. */
	uint64_t credit = pk > 0 ? (uint64_t)ceil(pk * BT_DYN_ONE) : 0;
	uint64_t earned =
	    atomic_fetch_add_explicit(&k->earned, credit, memory_order_relaxed) + credit;
	uint64_t rv = bt_trace_randomness(p->trace_id);
	if (!r->has_threshold) {
		/* Unknown inner probability: decide on the trace's randomness, claim
		 * nothing. */
		if (rv < baton_threshold_from_probability(pk) ||
		    !bt_dyn_cap_take(k, earned))
			r->decision = BATON_SAMPLING_DROP;
		return;
	}
	/* Raise the threshold to that of p_in * p_key, never lower it. */
	uint64_t th;
	if (r->threshold == 0) {
		/* Inner kept at 100% (always_on, a sampled parent without one): the
		 * key's own threshold. It may lag prob by a recomputation; both are
		 * valid probabilities of the key. */
		th = atomic_load_explicit(&k->th, memory_order_relaxed);
	} else {
		double pin = baton_probability_from_threshold(r->threshold);
		th = baton_threshold_from_probability(pin * pk);
	}
	if (th < r->threshold)
		th = r->threshold;
	if (rv < th || !bt_dyn_cap_take(k, earned)) {
		r->decision = BATON_SAMPLING_DROP;
		r->has_threshold = false;
		return;
	}
	r->threshold = th;
}

static void bt_dyn_fork_prepare(void *arg)
{
	struct bt_dyn *d = arg;
	pthread_mutex_lock(&d->mtx);
}

static void bt_dyn_fork_release(void *arg)
{
	struct bt_dyn *d = arg;
	pthread_mutex_unlock(&d->mtx);
}

static void bt_dyn_destroy(void *arg)
{
	struct bt_dyn *d = arg;
	baton_fork_unregister(&d->fork);
	baton_sampler_destroy(d->inner);
	pthread_mutex_destroy(&d->mtx);
	bt_free(d->key_attr);
	bt_free(d->slots);
	bt_free(d->demand);
	bt_free(d->sorted);
	bt_free(d->est);
	bt_free(d);
}

static const baton_sampler_ops bt_dyn_ops = {sizeof(baton_sampler_ops), "dynamic",
                                             bt_dyn_sample, bt_dyn_destroy};

static bool bt_dyn_opts_valid(const baton_dynamic_options *o)
{
	if (o == NULL || o->size < sizeof(baton_dynamic_options))
		return false;
	if (!(o->target_per_sec >= 0) || !(o->key_target_per_sec >= 0) ||
	    !(o->target_per_sec > 0 || o->key_target_per_sec > 0) ||
	    !isfinite(o->target_per_sec) || !isfinite(o->key_target_per_sec))
		return false;
	if (o->key > BATON_DYNAMIC_KEY_NONE)
		return false;
	if (o->key == BATON_DYNAMIC_KEY_ATTRIBUTE &&
	    (o->key_attribute == NULL || o->key_attribute[0] == '\0'))
		return false;
	if (o->max_keys > (1u << 20))
		return false;
	if (!(o->ema_weight >= 0 && o->ema_weight <= 1) ||
	    !(o->max_increase == 0 || o->max_increase > 1) || !isfinite(o->max_increase))
		return false;
	if (!(o->min_probability >= 0 && o->min_probability <= 1) ||
	    !(o->initial_probability >= 0 && o->initial_probability <= 1))
		return false;
	return true;
}

baton_err baton_sampler_dynamic(baton_sampler inner, const baton_dynamic_options *o,
                                baton_sampler *out)
{
	baton_err rv = BATON_ENOMEM;
	struct bt_dyn *d = NULL;
	if (out == NULL || inner.ops == NULL || inner.ops->should_sample == NULL ||
	    !bt_dyn_opts_valid(o)) {
		rv = BATON_EINVAL;
		goto fail;
	}
	d = bt_calloc(1, sizeof(*d));
	if (d == NULL)
		goto fail;
	d->target = o->target_per_sec;
	d->key_target = o->key_target_per_sec;
	d->count_traces = o->count_traces;
	d->key_kind = o->key;
	d->window_ns = (uint64_t)(o->window_ms ? o->window_ms : 1000) * 1000000u;
	d->max_keys = o->max_keys ? o->max_keys : 256;
	d->alpha = o->ema_weight > 0 ? o->ema_weight : 0.5;
	d->max_increase = o->max_increase > 0 ? o->max_increase : 2.0;
	d->min_p = o->min_probability > 0 ? o->min_probability : 1e-6;
	d->initial_p = o->initial_probability > 0 ? o->initial_probability : 1.0;
	d->clock = o->clock ? o->clock : bt_dyn_default_clock;
	d->clock_arg = o->clock ? o->clock_arg : NULL;
	if (o->key == BATON_DYNAMIC_KEY_ATTRIBUTE) {
		d->key_attr = bt_strdup(o->key_attribute);
		if (d->key_attr == NULL)
			goto fail_free;
	}
	/* A table at most half full: the next power of two >= 2 * max_keys. */
	uint32_t size = 16;
	while (size < 2 * d->max_keys)
		size <<= 1;
	d->mask = size - 1;
	d->slots = bt_calloc(size, sizeof(struct bt_dyn_key));
	d->demand = bt_calloc((size_t)size + 1, sizeof(double));
	d->sorted = bt_calloc((size_t)size + 1, sizeof(double));
	d->est = bt_calloc((size_t)size + 1, sizeof(double));
	if (d->slots == NULL || d->demand == NULL || d->sorted == NULL || d->est == NULL)
		goto fail_free;
	uint64_t p0 = bt_double_bits(d->initial_p);
	for (uint32_t i = 0; i < size; i++)
		atomic_init(&d->slots[i].prob, p0);
	atomic_init(&d->overflow.prob, p0);
	uint64_t th0 = baton_threshold_from_probability(d->initial_p);
	for (uint32_t i = 0; i < size; i++)
		atomic_init(&d->slots[i].th, th0);
	atomic_init(&d->overflow.th, th0);
	if (pthread_mutex_init(&d->mtx, NULL) != 0) {
		rv = BATON_ESYSTEM;
		goto fail_free;
	}
	d->window_start = d->clock(d->clock_arg);
	atomic_init(&d->window_end, d->window_start + d->window_ns);
	d->inner = inner;
	d->fork = (baton_fork_step){.order = BATON_FORK_SAMPLER,
	                            .prepare = bt_dyn_fork_prepare,
	                            .parent = bt_dyn_fork_release,
	                            .child = bt_dyn_fork_release,
	                            .arg = d};
	baton_fork_register(&d->fork);
	*out = (baton_sampler){&bt_dyn_ops, d};
	return BATON_OK;

fail_free:
	bt_free(d->key_attr);
	bt_free(d->slots);
	bt_free(d->demand);
	bt_free(d->sorted);
	bt_free(d->est);
	bt_free(d);
fail:
	baton_sampler_destroy(inner);
	return rv;
}

baton_err baton_sampler_dynamic_probability(baton_sampler s, const char *key, double *out)
{
	if (s.ops != &bt_dyn_ops || out == NULL)
		return BATON_EINVAL;
	struct bt_dyn *d = s.arg;
	struct bt_dyn_key *k = &d->overflow;
	if (key != NULL) {
		uint64_t h = d->key_kind == BATON_DYNAMIC_KEY_NONE
		                 ? 1
		                 : bt_dyn_str_hash(key, strlen(key));
		k = bt_dyn_slot(d, h, false);
		if (k == NULL)
			return BATON_EINVAL;
	}
	*out = bt_bits_double(atomic_load_explicit(&k->prob, memory_order_relaxed));
	return BATON_OK;
}

baton_err baton_sampler_dynamic_stats(baton_sampler s, baton_dynamic_stats *out)
{
	if (s.ops != &bt_dyn_ops || out == NULL)
		return BATON_EINVAL;
	struct bt_dyn *d = s.arg;
	out->windows = atomic_load_explicit(&d->windows, memory_order_relaxed);
	out->keys = atomic_load_explicit(&d->nkeys, memory_order_relaxed);
	out->overflow_spans =
	    atomic_load_explicit(&d->overflow_spans, memory_order_relaxed);
	return BATON_OK;
}
