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
 */
#ifndef BATON_SAMPLING_H
#define BATON_SAMPLING_H

#include <baton/sdk.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_FANOUT_DEFAULT "1:1,100:0.1,10000:0.001"
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

#ifdef __cplusplus
}
#endif

#endif /* BATON_SAMPLING_H */
