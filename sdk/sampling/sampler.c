/*
 * Head samplers: always_on, always_off, traceidratio (OTEP 235 consistent
 * probability), parentbased; and the choice from OTEL_TRACES_SAMPLER.
 */
#include "sampling/sampling_int.h"

#include <math.h>
#include <string.h>
#include <strings.h>

uint64_t baton_threshold_from_probability(double p)
{
	if (!(p > 0.0)) /* also NaN */
		return BATON_TH_MAX;
	if (p >= 1.0)
		return 0;
	/*
	 * T = (1 - p) * 2^56, computed as 2^56 - round(p * 2^56): scaling by a
	 * power of two is exact, so the only rounding is to the nearest integer
	 * (1 - p in floating point would lose the low bits of small p).
	 * A positive p never rounds to "keep nothing".
	 */
	uint64_t keep = (uint64_t)llround(p * (double)BATON_TH_MAX);
	if (keep == 0)
		keep = 1;
	return BATON_TH_MAX - keep;
}

double baton_probability_from_threshold(uint64_t th)
{
	if (th >= BATON_TH_MAX)
		return 0.0;
	return (double)(BATON_TH_MAX - th) / (double)BATON_TH_MAX;
}

/* ---- always_on / always_off ---- */

static void bt_always_on(void *arg, const baton_sampling_params *p,
                         baton_sampling_result *r)
{
	(void)arg;
	(void)p;
	r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE;
	r->has_threshold = true;
	r->threshold = 0;
}

static void bt_always_off(void *arg, const baton_sampling_params *p,
                          baton_sampling_result *r)
{
	(void)arg;
	(void)p;
	r->decision = BATON_SAMPLING_DROP;
	r->has_threshold = false;
}

static const baton_sampler_ops bt_always_on_ops = {sizeof(baton_sampler_ops), "always_on",
                                                   bt_always_on, NULL};
static const baton_sampler_ops bt_always_off_ops = {sizeof(baton_sampler_ops),
                                                    "always_off", bt_always_off, NULL,
                                                    BATON_SAMPLER_NEVER_SAMPLES};

baton_sampler baton_sampler_always_on(void)
{
	return (baton_sampler){&bt_always_on_ops, NULL};
}

baton_sampler baton_sampler_always_off(void)
{
	return (baton_sampler){&bt_always_off_ops, NULL};
}

/* ---- traceidratio ---- */

struct bt_ratio {
	uint64_t threshold;
};

static void bt_ratio_sample(void *arg, const baton_sampling_params *p,
                            baton_sampling_result *r)
{
	const struct bt_ratio *s = arg;
	/* OTEP 235: randomness R is the low 56 bits of the trace id; keep iff R >= T. */
	uint64_t rv = bt_trace_randomness(p->trace_id);
	r->has_threshold = true;
	r->threshold = s->threshold;
	r->decision = (s->threshold < BATON_TH_MAX && rv >= s->threshold)
	                  ? BATON_SAMPLING_RECORD_AND_SAMPLE
	                  : BATON_SAMPLING_DROP;
}

static void bt_free_arg(void *arg)
{
	bt_free(arg);
}

static const baton_sampler_ops bt_ratio_ops = {sizeof(baton_sampler_ops), "traceidratio",
                                               bt_ratio_sample, bt_free_arg};

baton_err baton_sampler_traceidratio(double ratio, baton_sampler *out)
{
	if (out == NULL || !(ratio >= 0.0 && ratio <= 1.0))
		return BATON_EINVAL;
	struct bt_ratio *s = bt_malloc(sizeof(*s));
	if (s == NULL)
		return BATON_ENOMEM;
	s->threshold = baton_threshold_from_probability(ratio);
	*out = (baton_sampler){&bt_ratio_ops, s};
	return BATON_OK;
}

/* ---- parentbased ---- */

struct bt_parentbased {
	baton_sampler root;
};

static void bt_parentbased_sample(void *arg, const baton_sampling_params *p,
                                  baton_sampling_result *r)
{
	const struct bt_parentbased *s = arg;
	const baton_span_context *parent = p->parent;
	if (parent->state & (BATON_CTX_VALID | BATON_CTX_DECIDED)) {
		bool sampled = (parent->trace_flags & BATON_FLAG_SAMPLED) != 0;
		r->decision =
		    sampled ? BATON_SAMPLING_RECORD_AND_SAMPLE : BATON_SAMPLING_DROP;
		/* The parent's threshold carries over; a sampled parent without one is
		 * 100%. */
		r->has_threshold = sampled;
		r->threshold = (parent->state & BATON_CTX_HAS_TH) ? parent->threshold : 0;
		return;
	}
	s->root.ops->should_sample(s->root.arg, p, r);
}

static void bt_parentbased_destroy(void *arg)
{
	struct bt_parentbased *s = arg;
	baton_sampler_destroy(s->root);
	bt_free(s);
}

static const baton_sampler_ops bt_parentbased_ops = {
    sizeof(baton_sampler_ops), "parentbased", bt_parentbased_sample,
    bt_parentbased_destroy, BATON_SAMPLER_FOLLOWS_PARENT};

baton_err baton_sampler_parentbased(baton_sampler root, baton_sampler *out)
{
	if (out == NULL || root.ops == NULL || root.ops->should_sample == NULL) {
		baton_sampler_destroy(root);
		return BATON_EINVAL;
	}
	struct bt_parentbased *s = bt_malloc(sizeof(*s));
	if (s == NULL) {
		baton_sampler_destroy(root);
		return BATON_ENOMEM;
	}
	s->root = root;
	*out = (baton_sampler){&bt_parentbased_ops, s};
	return BATON_OK;
}

void baton_sampler_destroy(baton_sampler sampler)
{
	if (sampler.ops != NULL && sampler.ops->destroy != NULL)
		sampler.ops->destroy(sampler.arg);
}

/* ---- from the environment ---- */

/*
 * Factories for sampler names the core does not know, tried in the order
 * they were registered. Registering one twice keeps one entry; NULL clears
 * the list. A full list (8) ignores more, with a warning.
 */
#define BT_MAX_FACTORIES 8
static _Atomic(baton_sampler_factory_fn) bt_factories[BT_MAX_FACTORIES];
static pthread_mutex_t bt_factories_mtx = PTHREAD_MUTEX_INITIALIZER;

void baton_sampler_register_factory(baton_sampler_factory_fn fn)
{
	pthread_mutex_lock(&bt_factories_mtx);
	for (size_t i = 0; i < BT_MAX_FACTORIES; i++) {
		baton_sampler_factory_fn cur = atomic_load(&bt_factories[i]);
		if (fn == NULL) {
			atomic_store(&bt_factories[i], NULL);
		} else if (cur == fn) {
			break;
		} else if (cur == NULL) {
			atomic_store(&bt_factories[i], fn);
			break;
		} else if (i == BT_MAX_FACTORIES - 1) {
			bt_warn("more than %d sampler factories registered; one ignored",
			        BT_MAX_FACTORIES);
		}
	}
	pthread_mutex_unlock(&bt_factories_mtx);
}

static double bt_ratio_arg(const char *arg)
{
	double r;
	if (arg == NULL)
		return 1.0;
	if (!bt_parse_double(arg, strlen(arg), &r) || r < 0.0 || r > 1.0) {
		bt_warn(
		    "OTEL_TRACES_SAMPLER_ARG=\"%s\" is not a ratio in [0, 1]; using 1.0",
		    arg);
		return 1.0;
	}
	return r;
}

/* Names are matched without regard to case, as OpenTelemetry asks of enum values. */
static baton_err bt_sampler_from_env_base(baton_sampler *out)
{
	const char *name = baton_getenv("OTEL_TRACES_SAMPLER");
	const char *arg = baton_getenv("OTEL_TRACES_SAMPLER_ARG");
	baton_sampler root;
	baton_err rv;

	if (out == NULL)
		return BATON_EINVAL;
	if (name == NULL || strcasecmp(name, "parentbased_always_on") == 0)
		return baton_sampler_parentbased(baton_sampler_always_on(), out);
	if (strcasecmp(name, "always_on") == 0) {
		*out = baton_sampler_always_on();
		return BATON_OK;
	}
	if (strcasecmp(name, "always_off") == 0) {
		*out = baton_sampler_always_off();
		return BATON_OK;
	}
	if (strcasecmp(name, "parentbased_always_off") == 0)
		return baton_sampler_parentbased(baton_sampler_always_off(), out);
	if (strcasecmp(name, "traceidratio") == 0)
		return baton_sampler_traceidratio(bt_ratio_arg(arg), out);
	if (strcasecmp(name, "parentbased_traceidratio") == 0) {
		rv = baton_sampler_traceidratio(bt_ratio_arg(arg), &root);
		if (rv != BATON_OK)
			return rv;
		return baton_sampler_parentbased(root, out);
	}
	bool any = false;
	for (size_t i = 0; i < BT_MAX_FACTORIES; i++) {
		baton_sampler_factory_fn f = atomic_load(&bt_factories[i]);
		if (f == NULL)
			break;
		any = true;
		if (f(name, arg, out) == BATON_OK)
			return BATON_OK;
	}
	if (!any && (strcasecmp(name, "jaeger_remote") == 0 ||
	             strcasecmp(name, "parentbased_jaeger_remote") == 0))
		bt_warn("OTEL_TRACES_SAMPLER=%s needs baton::remote_sampling: link it "
		        "and call "
		        "baton_remote_sampling_register() before baton_init(); using "
		        "parentbased_always_on",
		        name);
	else
		bt_warn("OTEL_TRACES_SAMPLER=\"%s\" is not a known sampler; using "
		        "parentbased_always_on",
		        name);
	return baton_sampler_parentbased(baton_sampler_always_on(), out);
}

baton_err baton_sampler_from_env(baton_sampler *out)
{
	baton_sampler s;
	if (out == NULL)
		return BATON_EINVAL;
	baton_err rv = bt_sampler_from_env_base(&s);
	if (rv != BATON_OK)
		return rv;
	const char *sps = baton_getenv(BATON_SAMPLER_TARGET_SPS_ENV);
	double target;
	if (sps != NULL) {
		if (!bt_parse_double(sps, strlen(sps), &target) || !(target > 0)) {
			bt_warn(
			    "%s=\"%s\" is not a positive number of spans per second; no "
			    "dynamic budget",
			    BATON_SAMPLER_TARGET_SPS_ENV, sps);
		} else {
			baton_dynamic_options o = {.size = sizeof(o),
			                           .target_per_sec = target};
			/* Takes ownership of s on success and on failure. */
			return baton_sampler_dynamic(s, &o, out);
		}
	}
	*out = s;
	return BATON_OK;
}
