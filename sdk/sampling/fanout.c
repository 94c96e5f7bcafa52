/*
 * Sampling by fanout size. The curve is evaluated once, when the policy is
 * built, into two tables so a decision costs a table read and a random
 * number: keep[n] directly for n < 4096, and above that 32 steps per power
 * of two (indexed by the exponent and top 5 mantissa bits of n) with linear
 * interpolation inside a step. A step that holds a point of the curve (a
 * kink) interpolates on each side of the point separately, and a step that
 * holds two or more points evaluates the curve exactly. Linear
 * interpolation of a power law x^a over 1/32 of an octave is off by about
 * a(a-1)/8/1024 of the value: under 0.1% for slopes down to -2.
 */
#include "sampling/sampling_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BT_DIRECT    4096u
#define BT_STEP_BITS 5
#define BT_LOG_STEPS (1u << BT_STEP_BITS)
/* Exponents 12..63 of a uint64. */
#define BT_LOG_MIN_EXP 12
#define BT_LOG_ENTRIES ((64 - BT_LOG_MIN_EXP) * BT_LOG_STEPS + 1)
#define BT_NO_KINK     (-1)
#define BT_EXACT       (-2)

struct baton_fanout_policy {
	baton_fanout_point pts[BATON_FANOUT_MAX_POINTS];
	size_t n;
	double direct[BT_DIRECT];
	double log_tab[BT_LOG_ENTRIES];
	/* Per step: BT_NO_KINK, BT_EXACT, or the index of the one point inside it. */
	int8_t kink[BT_LOG_ENTRIES];
};

/* Exact curve value: log-log interpolation, flat outside the points. */
static double bt_curve(const baton_fanout_policy *p, double x)
{
	if (x <= p->pts[0].recipients)
		return p->pts[0].keep;
	for (size_t i = 1; i < p->n; i++) {
		if (x <= p->pts[i].recipients) {
			double x0 = log(p->pts[i - 1].recipients),
			       x1 = log(p->pts[i].recipients);
			double y0 = log(p->pts[i - 1].keep), y1 = log(p->pts[i].keep);
			return exp(y0 + (log(x) - x0) * (y1 - y0) / (x1 - x0));
		}
	}
	return p->pts[p->n - 1].keep;
}

static double bt_log_x(size_t i)
{
	/* Table entry i stands at n = 2^(12 + i/32) * (1 + (i%32)/32). */
	return ldexp(1.0 + (double)(i % BT_LOG_STEPS) / BT_LOG_STEPS,
	             BT_LOG_MIN_EXP + (int)(i / BT_LOG_STEPS));
}

baton_err baton_fanout_policy_create(const baton_fanout_point *pts, size_t n,
                                     baton_fanout_policy **out)
{
	if (pts == NULL || out == NULL || n == 0 || n > BATON_FANOUT_MAX_POINTS)
		return BATON_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!(pts[i].recipients >= 1.0) ||
		    !(pts[i].keep > 0.0 && pts[i].keep <= 1.0) ||
		    !isfinite(pts[i].recipients))
			return BATON_EINVAL;
		if (i > 0 && !(pts[i].recipients > pts[i - 1].recipients))
			return BATON_EINVAL;
	}
	baton_fanout_policy *p = bt_malloc(sizeof(*p));
	if (p == NULL)
		return BATON_ENOMEM;
	memcpy(p->pts, pts, n * sizeof(*pts));
	p->n = n;
	p->direct[0] = bt_curve(p, 1.0);
	for (uint32_t i = 1; i < BT_DIRECT; i++)
		p->direct[i] = bt_curve(p, (double)i);
	for (size_t i = 0; i < BT_LOG_ENTRIES; i++) {
		p->log_tab[i] = bt_curve(p, bt_log_x(i));
		p->kink[i] = BT_NO_KINK;
	}
	/* Points strictly inside a step split it (pts[] has at most 32 entries). */
	for (size_t k = 0; k < n; k++) {
		double x = pts[k].recipients;
		if (x <= (double)BT_DIRECT)
			continue;
		int e;
		double f = frexp(x, &e); /* x = f * 2^e, f in [0.5, 1) */
		e -= 1;                  /* x = 2 f * 2^(e), 2f in [1, 2) */
		if (e > 63)
			continue;
		size_t i = (size_t)(e - BT_LOG_MIN_EXP) * BT_LOG_STEPS +
		           (size_t)((2 * f - 1.0) * BT_LOG_STEPS);
		if (x == bt_log_x(i))
			continue; /* on a step boundary: the table holds it exactly */
		p->kink[i] = p->kink[i] == BT_NO_KINK ? (int8_t)k : BT_EXACT;
	}
	*out = p;
	return BATON_OK;
}

static void bt_fmt_err(char *buf, size_t len, const char *fmt, const char *item,
                       size_t ilen)
{
	if (buf != NULL && len > 0)
		snprintf(buf, len, fmt, (int)(ilen > 40 ? 40 : ilen), item);
}

baton_err baton_fanout_policy_parse(const char *spec, baton_fanout_policy **out,
                                    char *err_buf, size_t err_len)
{
	baton_fanout_point pts[BATON_FANOUT_MAX_POINTS];
	size_t n = 0;
	if (spec == NULL || out == NULL)
		return BATON_EINVAL;
	const char *cur = spec, *s;
	size_t sl;
	while (bt_list_next(&cur, &s, &sl)) {
		const char *colon = memchr(s, ':', sl);
		if (n == BATON_FANOUT_MAX_POINTS) {
			bt_fmt_err(err_buf, err_len, "more than 32 points at \"%.*s\"", s,
			           sl);
			return BATON_EFORMAT;
		}
		if (colon == NULL ||
		    !bt_parse_double(s, (size_t)(colon - s), &pts[n].recipients) ||
		    !bt_parse_double(colon + 1, sl - (size_t)(colon - s) - 1,
		                     &pts[n].keep)) {
			bt_fmt_err(
			    err_buf, err_len,
			    "\"%.*s\" is not RECIPIENTS:PROBABILITY (e.g. 100:0.1)", s,
			    sl);
			return BATON_EFORMAT;
		}
		if (!(pts[n].recipients >= 1.0)) {
			bt_fmt_err(err_buf, err_len, "\"%.*s\": recipients must be >= 1",
			           s, sl);
			return BATON_EFORMAT;
		}
		if (!(pts[n].keep > 0.0 && pts[n].keep <= 1.0)) {
			bt_fmt_err(err_buf, err_len,
			           "\"%.*s\": probability must be in (0, 1]", s, sl);
			return BATON_EFORMAT;
		}
		if (n > 0 && !(pts[n].recipients > pts[n - 1].recipients)) {
			bt_fmt_err(
			    err_buf, err_len,
			    "\"%.*s\": recipients must increase from point to point", s,
			    sl);
			return BATON_EFORMAT;
		}
		n++;
	}
	return baton_fanout_policy_create(pts, n, out);
}

void baton_fanout_policy_destroy(baton_fanout_policy *p)
{
	bt_free(p);
}

/* Published once by pthread_once; read with acquire on the decision path. */
static _Atomic(baton_fanout_policy *) bt_default_policy;
static pthread_once_t bt_default_once = PTHREAD_ONCE_INIT;

static void bt_default_init(void)
{
	static const baton_fanout_point pts[] = {{1, 1.0}, {100, 0.1}, {10000, 0.001}};
	baton_fanout_policy *p = NULL;
	if (baton_fanout_policy_create(pts, 3, &p) == BATON_OK)
		atomic_store_explicit(&bt_default_policy, p, memory_order_release);
}

/* The installed policy (baton_init), or NULL for the default. */
const baton_fanout_policy *bt_fanout_installed;

static const baton_fanout_policy *bt_default_slow(void)
{
	pthread_once(&bt_default_once, bt_default_init);
	return atomic_load_explicit(&bt_default_policy, memory_order_acquire);
}

const baton_fanout_policy *baton_fanout_policy_current(void)
{
	if (bt_fanout_installed != NULL)
		return bt_fanout_installed;
	return bt_default_slow();
}

/* The lookup behind both public calls, inlined into each. */
static inline __attribute__((always_inline)) double
bt_keep_prob(const baton_fanout_policy *p, uint64_t n)
{
	if (p == NULL) {
		p = bt_fanout_installed;
		if (p == NULL) {
			p = atomic_load_explicit(&bt_default_policy,
			                         memory_order_acquire);
			if (__builtin_expect(p == NULL, 0))
				p = bt_default_slow();
			if (p == NULL)
				return 1.0; /* the default could not be allocated: keep
				               all */
		}
	}
	if (n < BT_DIRECT)
		return p->direct[n];
	/* n >= 4096: exponent and top 5 mantissa bits of n pick the step. */
	int e = 63 - __builtin_clzll(n);
	int sh = e - BT_STEP_BITS;
	uint64_t m = (n >> sh) & (BT_LOG_STEPS - 1);
	size_t i = (size_t)(e - BT_LOG_MIN_EXP) * BT_LOG_STEPS + m;
	double v0 = p->log_tab[i], v1 = p->log_tab[i + 1];
	int k = p->kink[i];
	if (__builtin_expect(k == BT_NO_KINK, 1)) {
		/* 2^-sh built from its bits: no division on the common path. */
		union {
			uint64_t u;
			double d;
		} inv = {(uint64_t)(1023 - sh) << 52};
		double frac = (double)(n & (((uint64_t)1 << sh) - 1)) * inv.d;
		return v0 + (v1 - v0) * frac;
	}
	if (k == BT_EXACT)
		return bt_curve(p, (double)n);
	double x = (double)n, x0 = (double)((BT_LOG_STEPS + m) << sh);
	double x1 = x0 + (double)((uint64_t)1 << sh);
	double kx = p->pts[k].recipients, kv = p->pts[k].keep;
	if (x < kx) {
		x1 = kx;
		v1 = kv;
	} else {
		x0 = kx;
		v0 = kv;
	}
	return v0 + (v1 - v0) * ((x - x0) / (x1 - x0));
}

double baton_fanout_keep_probability(const baton_fanout_policy *p, uint64_t n)
{
	return bt_keep_prob(p, n);
}

bool baton_fanout_keep(const baton_fanout_policy *p, uint64_t recipients)
{
	double k = bt_keep_prob(p, recipients);
	return k >= 1.0 || bt_random_unit() < k;
}
