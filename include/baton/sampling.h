/*
 * baton/sampling.h: sampling by fanout size.
 *
 * A message delivered to N recipients would make N consumer spans. The
 * fanout policy keeps each recipient's span of an already-sampled trace
 * with a probability that depends on N: a curve of points (N -> keep),
 * log-log interpolation between points, flat before the first and after the
 * last. The default is the curve Discord published:
 *     1 -> 1.0, 100 -> 0.1, 10000 -> 0.001
 * written "1:1,100:0.1,10000:0.001" (BATON_FANOUT_SAMPLING).
 *
 * A kept recipient's span carries SampleRate = head adjusted count / keep.
 *
 * This header also declares the dynamic budget sampler, which holds the
 * spans a sampler keeps to a rate (spans or traces per second).
 */
#ifndef BATON_SAMPLING_H
#define BATON_SAMPLING_H

#include <baton/sdk.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_FANOUT_DEFAULT    "1:1,100:0.1,10000:0.001"
#define BATON_FANOUT_MAX_POINTS 32

typedef struct baton_fanout_point {
	double recipients; /* >= 1, strictly increasing along the curve */
	double keep;       /* in (0, 1] */
} baton_fanout_point;

/*
 * Builds a policy from n points (1 to BATON_FANOUT_MAX_POINTS, recipients
 * strictly increasing and >= 1, keep in (0, 1]). The policy is immutable and
 * safe to share between threads. Writes *out on success. Returns BATON_OK,
 * BATON_EINVAL (bad points), BATON_ENOMEM.
 */
BATON_API baton_err baton_fanout_policy_create(const baton_fanout_point *pts, size_t n,
                                               baton_fanout_policy **out);
/*
 * Parses "N:P,N:P,..." (the BATON_FANOUT_SAMPLING form; spaces allowed
 * around items). Returns BATON_OK, BATON_EFORMAT with a message in err_buf
 * (when not NULL) for a malformed spec, BATON_ENOMEM.
 */
BATON_API baton_err baton_fanout_policy_parse(const char *spec, baton_fanout_policy **out,
                                              char *err_buf, size_t err_len);
/* Frees a policy. NULL is a no-op. */
BATON_API void baton_fanout_policy_destroy(baton_fanout_policy *p);

/*
 * Returns the keep probability for a fanout to `recipients` recipients
 * under p (NULL: the policy baton_init installed, or the default curve).
 * 0 recipients counts as 1. Lock-free, no allocation. Thread-safe.
 */
BATON_API double baton_fanout_keep_probability(const baton_fanout_policy *p,
                                               uint64_t recipients);
/*
 * Draws one recipient's keep decision: true with the keep probability.
 * Uses the per-thread generator (independent per call). Thread-safe.
 */
BATON_API bool baton_fanout_keep(const baton_fanout_policy *p, uint64_t recipients);

/* The policy in force (set by baton_init), never NULL. */
BATON_API const baton_fanout_policy *baton_fanout_policy_current(void);

/* ---- The dynamic budget sampler ---- */

/* What the dynamic sampler keys its budgets by. */
typedef enum baton_dynamic_key {
	BATON_DYNAMIC_KEY_NAME = 0,      /* the span name */
	BATON_DYNAMIC_KEY_ATTRIBUTE = 1, /* a start attribute's value (key_attribute) */
	BATON_DYNAMIC_KEY_NONE = 2,      /* one key for everything: a global budget */
} baton_dynamic_key;

/* A time source in nanoseconds (monotonic). */
typedef uint64_t (*baton_clock_fn)(void *arg);

/*
 * Options for baton_sampler_dynamic(). Zero-initialise and set size =
 * sizeof(baton_dynamic_options); a zero field takes the default shown.
 */
typedef struct baton_dynamic_options {
	size_t size;
	/* Budget for everything, per second (spans, or traces with count_traces). 0:
	 * none. */
	double target_per_sec;
	/* Budget of each key, per second. 0: none. At least one budget must be set. */
	double key_target_per_sec;
	/* Count and limit root spans only (a trace budget); children follow the inner
	 * sampler. Default: every span the inner sampler keeps counts. */
	bool count_traces;
	baton_dynamic_key key;     /* default BATON_DYNAMIC_KEY_NAME */
	const char *key_attribute; /* for BATON_DYNAMIC_KEY_ATTRIBUTE; copied */
	uint32_t window_ms;        /* measuring window, default 1000 */
	uint32_t max_keys;         /* default 256; later keys share one overflow bucket */
	double ema_weight;      /* weight of the newest window in (0, 1], default 0.5 */
	double max_increase;    /* a key's probability grows at most this factor per
	                           window (> 1), default 2 */
	double min_probability; /* floor, default 1e-6 */
	double initial_probability; /* of a key not yet measured, default 1 */
	baton_clock_fn clock;       /* NULL: the monotonic clock */
	void *clock_arg;
} baton_dynamic_options;

/*
 * Builds a sampler that keeps the spans inner keeps to a budget. For each
 * key it counts the spans inner samples in windows of window_ms, keeps an
 * exponential moving average of the rate, and sets the key's keep
 * probability to what meets the budgets: per key (key_target_per_sec), and
 * overall (target_per_sec, shared out so that quiet keys keep everything and
 * busy keys share the rest equally). A probability falls at once when the
 * rate rises (the estimate is the larger of the last window and the
 * average) and rises by at most max_increase per window.
 *
 * The decision is consistent (OTEP 235): a span that inner sampled with
 * probability p_in is kept with p_in * p_key by raising the threshold to
 * that of p_in * p_key, so SampleRate and ot=th stay right and two
 * processes with the same probabilities decide alike. When inner gives no
 * threshold, the result has none either.
 *
 * The budget holds whatever trace ids arrive: behind the probabilistic
 * decision each key caps what it keeps in a window at E + 3 + 6 sqrt(E),
 * E being the sum of the keep probabilities it applied in that window
 * (what ids with uniform randomness keep on average). Ids crafted to pass
 * every threshold (low 56 bits all ones) are kept at the key's share of the
 * budget plus that margin, not at their arrival rate; honest ids stay
 * within six standard deviations of E and keep their consistent decisions.
 * When crafted and honest ids share a key, the cap drops from both. As for
 * any rise in load, the window in which it starts runs at the previous
 * probability.
 *
 * should_sample takes no lock and allocates nothing: per-key atomic
 * counters in a bounded table (max_keys; later keys share one overflow
 * bucket; keys are never evicted). The thread whose decision crosses the
 * end of a window recomputes the probabilities under a trylock; the others
 * go on with the previous ones.
 *
 * Takes ownership of inner on success and on failure. Writes *out on
 * success. Returns BATON_OK, BATON_EINVAL (no budget, bad option, inner
 * without ops), BATON_ENOMEM.
 */
BATON_API baton_err baton_sampler_dynamic(baton_sampler inner,
                                          const baton_dynamic_options *opts,
                                          baton_sampler *out);

/*
 * Writes the keep probability the dynamic sampler s applies now to key
 * (a span name or attribute value as a string; NULL: the overflow bucket)
 * on top of its inner sampler. Returns BATON_OK, BATON_EINVAL when s is
 * not a dynamic sampler or has not seen key. Thread-safe.
 */
BATON_API baton_err baton_sampler_dynamic_probability(baton_sampler s, const char *key,
                                                      double *out);

/* Counters of a dynamic sampler. */
typedef struct baton_dynamic_stats {
	uint64_t windows;        /* recomputations so far */
	uint32_t keys;           /* keys in the table */
	uint64_t overflow_spans; /* spans counted in the overflow bucket */
} baton_dynamic_stats;
/* Fills *out for the dynamic sampler s. Returns BATON_OK or BATON_EINVAL. Thread-safe. */
BATON_API baton_err baton_sampler_dynamic_stats(baton_sampler s,
                                                baton_dynamic_stats *out);

/* ---- Rate limiting, per-operation and switchable samplers ---- */

/*
 * Builds a sampler that keeps at most max_per_sec spans per second: a token
 * bucket holding max(1, max_per_sec) tokens, refilled continuously, full at
 * start (one lock-free compare-and-swap per decision). Kept spans carry no
 * threshold (their adjusted count is not known). Use it as the root of a
 * parent-based sampler to limit traces. Writes *out on success. Returns
 * BATON_OK, BATON_EINVAL (negative or not finite), BATON_ENOMEM.
 */
BATON_API baton_err baton_sampler_rate_limiting(double max_per_sec, baton_sampler *out);

/* One operation's probability for baton_sampler_per_operation(). */
typedef struct baton_operation_probability {
	const char
	    *operation;     /* span name; borrowed for the call (only a hash is kept) */
	double probability; /* in [0, 1] */
} baton_operation_probability;

/* Options for baton_sampler_per_operation(); zero-initialise, set size. */
typedef struct baton_per_operation_options {
	size_t size;
	/* Probability of operations not listed. */
	double default_probability;
	/* Each operation keeps at least this many spans per second (a token
	 * bucket per operation), whatever its probability. 0: none. */
	double lower_bound_per_sec;
	const baton_operation_probability *operations;
	size_t noperations;
	/* Operations not listed that get their own lower-bound bucket; default 256.
	 * Later ones share one bucket. */
	uint32_t max_unlisted;
} baton_per_operation_options;

/*
 * Builds Jaeger's per-operation sampler: a span whose name is listed is
 * kept with its probability (consistently, OTEP 235, threshold set), others
 * with default_probability; a span the probability drops is still kept when
 * its operation's lower-bound bucket has a token (then without a threshold,
 * its adjusted count being unknown). Every decision takes a token when
 * there is one, as Jaeger's clients do. Names are matched by a 64-bit hash.
 * Decisions are lock-free, allocate nothing and are thread-safe. Writes *out on success.
 * Returns BATON_OK, BATON_EINVAL (a probability outside [0, 1], a NULL operation name,
 * noperations over 65536), BATON_ENOMEM.
 */
BATON_API baton_err baton_sampler_per_operation(const baton_per_operation_options *opts,
                                                baton_sampler *out);

/*
 * Builds a sampler that delegates to another one that can be replaced at
 * any time with baton_sampler_switch(), while other threads sample (a
 * decision takes two atomic increments; no lock). Takes ownership of
 * initial on success and on failure. Writes *out on success. Returns
 * BATON_OK, BATON_EINVAL, BATON_ENOMEM.
 */
BATON_API baton_err baton_sampler_switchable(baton_sampler initial, baton_sampler *out);

/*
 * Makes next the delegate of the switchable sampler s. Takes ownership of
 * next on success and on failure. The sampler it replaces is destroyed at
 * the following switch, or with s, once no decision uses it. Returns
 * BATON_OK, or BATON_EINVAL when s is not switchable or next has no ops.
 * Thread-safe; switches are serialised.
 */
BATON_API baton_err baton_sampler_switch(baton_sampler s, baton_sampler next);

/*
 * Environment: baton_sampler_from_env() wraps the sampler it builds in a
 * dynamic sampler with target_per_sec = BATON_SAMPLER_TARGET_SPS (keyed by
 * span name) when that variable is set to a positive number.
 */
#define BATON_SAMPLER_TARGET_SPS_ENV "BATON_SAMPLER_TARGET_SPS"

#ifdef __cplusplus
}
#endif

#endif /* BATON_SAMPLING_H */
