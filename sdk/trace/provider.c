/* baton_init / baton_fini, tracers, limits, stats. */
#include "trace/trace_int.h"
#include "wire/w3c_int.h"

#include <baton/processor.h>

#include <stdlib.h>
#include <string.h>

bt_provider bt_prov;
/* Drop counts at baton_init: the fini and at-exit summaries are relative to it. */
static uint64_t bt_drop_base[BT_DROP_NREASONS];
/* The last figures of the run baton_fini ended, readable until the next init. */
static baton_sdk_stats bt_final_stats;
static bool bt_final_valid;
bool bt_initialized;
_Atomic uint64_t bt_epoch;

struct baton_tracer {
	baton_scope scope; /* first: spans point at it as their scope */
	struct baton_tracer *next;
};
static pthread_mutex_t bt_tracers_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct baton_tracer *bt_tracers;

static bool bt_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

baton_tracer *baton_tracer_get(const char *name, const char *version)
{
	struct baton_tracer *t;
	if (name == NULL)
		name = "";
	pthread_mutex_lock(&bt_tracers_mtx);
	for (t = bt_tracers; t != NULL; t = t->next) {
		if (bt_str_eq(t->scope.name, name) &&
		    bt_str_eq(t->scope.version, version))
			goto out;
	}
	t = bt_calloc(1, sizeof(*t));
	if (t == NULL)
		goto out;
	t->scope.name = bt_strdup(name);
	t->scope.version = version ? bt_strdup(version) : NULL;
	if (t->scope.name == NULL || (version != NULL && t->scope.version == NULL)) {
		bt_free((char *)t->scope.name);
		bt_free((char *)t->scope.version);
		bt_free(t);
		t = NULL;
		goto out;
	}
	t->next = bt_tracers;
	bt_tracers = t;
out:
	pthread_mutex_unlock(&bt_tracers_mtx);
	return t;
}

static void bt_tracers_free(void)
{
	pthread_mutex_lock(&bt_tracers_mtx);
	while (bt_tracers != NULL) {
		struct baton_tracer *t = bt_tracers;
		bt_tracers = t->next;
		bt_free((char *)t->scope.name);
		bt_free((char *)t->scope.version);
		bt_free(t);
	}
	pthread_mutex_unlock(&bt_tracers_mtx);
}

static uint32_t bt_limit(uint32_t code, const char *env, uint32_t dflt)
{
	uint32_t v;
	if (code != 0)
		return code;
	if (bt_env_u32(env, &v))
		return v;
	return dflt;
}

/* A limit with a range: out-of-range values are replaced, with a warning. */
static uint32_t bt_limit_range(uint32_t code, const char *field, const char *env,
                               uint32_t dflt, uint32_t lo, uint32_t hi)
{
	if (code != 0)
		return bt_u32_in_range(field, code, dflt, lo, hi);
	return bt_env_u32_in_range(env, dflt, lo, hi);
}

/*
 * A model-specific limit: the code option, else its own variable, else the
 * general OTEL_ATTRIBUTE_* variable, else the default (the OTel spec's order).
 */
static uint32_t bt_limit_general(uint32_t code, const char *env, const char *general,
                                 uint32_t dflt)
{
	uint32_t v;
	if (code != 0)
		return code;
	if (bt_env_u32(env, &v))
		return v;
	return bt_limit(0, general, dflt);
}

/*
 * Room a default store keeps for the batch processors: twice each queue's
 * capacity (its ring, and a batch in export besides), so that a burst
 * fills a queue, where the drop is counted as such, before the store.
 */
static uint64_t bt_queue_room(const baton_processor *procs, size_t n)
{
	uint64_t room = 0;
	for (size_t i = 0; i < n; i++) {
		baton_batch_stats bs;
		if (baton_batch_processor_stats(procs[i], &bs) == BATON_OK)
			room += 2 * (uint64_t)bs.queue_capacity;
	}
	return room;
}

static void bt_limits_resolve(bt_limits *l, const baton_limits *in,
                              const baton_processor *procs, size_t nprocs)
{
	static const baton_limits none;
	static const char count[] = "OTEL_ATTRIBUTE_COUNT_LIMIT";
	if (in == NULL)
		in = &none;
	l->attr_count = bt_limit_general(in->attribute_count,
	                                 "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", count, 128);
	l->event_count = bt_limit(in->event_count, "OTEL_SPAN_EVENT_COUNT_LIMIT", 128);
	l->link_count = bt_limit(in->link_count, "OTEL_SPAN_LINK_COUNT_LIMIT", 128);
	l->event_attr_count = bt_limit_general(
	    in->event_attribute_count, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", count, 128);
	l->link_attr_count = bt_limit_general(
	    in->link_attribute_count, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", count, 128);
	l->value_length = bt_limit_general(
	    in->attribute_value_length, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
	    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", UINT32_MAX);
	l->arena_bytes =
	    bt_limit_range(in->span_arena_bytes, "baton_limits.span_arena_bytes",
	                   "BATON_SPAN_ARENA_BYTES", 2048, 256, 1u << 24);
	/* A handle holds a 32-bit index; past 16 Mi records no process needs more. */
	l->max_spans = bt_limit_range(in->max_live_spans, "baton_limits.max_live_spans",
	                              "BATON_MAX_SPANS", 16384, BT_CHUNK_SPANS, 1u << 24);
	/* The default: 16384 open spans plus what the queues hold (records are
	 * made as they are needed, so the room costs nothing until used). */
	if (in->max_live_spans == 0 && baton_getenv("BATON_MAX_SPANS") == NULL) {
		uint64_t m = l->max_spans + bt_queue_room(procs, nprocs);
		l->max_spans = m < (1u << 24) ? (uint32_t)m : 1u << 24;
	}
}

static void bt_procs_destroy(const baton_processor *procs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (procs[i].ops != NULL && procs[i].ops->destroy != NULL)
			procs[i].ops->destroy(procs[i].arg);
	}
}

static void bt_stats_compute(baton_sdk_stats *out);
static baton_err bt_procs_finish(bool shutdown, uint32_t timeout_ms);

/*
 * A program that returns from main (or calls exit) without baton_fini:
 * export what the processors hold, within OTEL_BSP_EXPORT_TIMEOUT, and say
 * what was lost. Nothing is freed: other threads may still be running.
 */
static void bt_at_exit(void)
{
	if (!bt_initialized)
		return;
	uint32_t tmo =
	    bt_env_u32_in_range("OTEL_BSP_EXPORT_TIMEOUT", 30000, 1, UINT32_MAX);
	uint64_t t0 = bt_now_mono_ns();
	baton_err rv = bt_procs_finish(true, tmo);
	baton_sdk_stats st;
	bt_stats_compute(&st);
	uint64_t lost = bt_drop_summary("at exit without baton_fini", bt_drop_base);
	if (rv != BATON_OK && lost == 0)
		bt_warn("at exit without baton_fini: the final export failed: %s",
		        baton_strerror(rv));
	bt_log(BATON_LOG_INFO,
	       "at exit without baton_fini: %llu spans exported in all, the last ones "
	       "in %llu ms; call baton_fini() before exit",
	       (unsigned long long)st.spans_exported,
	       (unsigned long long)((bt_now_mono_ns() - t0) / 1000000u));
}

static void bt_at_exit_register(void)
{
	static bool registered;
	if (!registered && atexit(bt_at_exit) == 0)
		registered = true;
}

bool baton_is_enabled(void)
{
	return bt_initialized && !bt_prov.disabled;
}

baton_err baton_init(const baton_options *opts)
{
	static const baton_options none = {sizeof(baton_options)};
	baton_err rv = BATON_OK;
	bool disabled = false;

	if (opts == NULL)
		opts = &none;
	if (bt_initialized) {
		baton_sampler_destroy(opts->sampler);
		bt_procs_destroy(opts->processors, opts->nprocessors);
		baton_fanout_policy_destroy(opts->fanout_policy);
		return BATON_ESTATE;
	}
	bt_log_check_env();
	bt_env_check_clock();
	bt_propagators_init();
	bt_random_global_init();
	bt_clock_init();
	memset(&bt_prov, 0, sizeof(bt_prov));
	bt_limits_resolve(&bt_prov.limits, &opts->limits, opts->processors,
	                  opts->nprocessors);
	bt_prov.propagate_unsampled_ids = opts->propagate_unsampled_ids;
	if (!opts->ignore_disabled_env)
		bt_env_bool("OTEL_SDK_DISABLED", &disabled);
	bt_prov.disabled = disabled;

	rv = bt_resource_build(&bt_prov.resource, opts->service_name,
	                       opts->resource_attrs, opts->nresource_attrs);
	if (rv != BATON_OK)
		goto fail_resource;
	rv = bt_store_init(&bt_prov.store, &bt_prov.limits);
	if (rv != BATON_OK)
		goto fail_store;
	if (opts->nprocessors > 0) {
		bt_prov.procs = bt_calloc(opts->nprocessors, sizeof(baton_processor));
		if (bt_prov.procs == NULL) {
			rv = BATON_ENOMEM;
			goto fail_procs;
		}
		memcpy(bt_prov.procs, opts->processors,
		       opts->nprocessors * sizeof(baton_processor));
		bt_prov.nprocs = opts->nprocessors;
	}
	if (opts->sampler.ops != NULL) {
		bt_prov.sampler = opts->sampler;
	} else {
		rv = baton_sampler_from_env(&bt_prov.sampler);
		if (rv != BATON_OK)
			goto fail_sampler;
	}
	/* What the sampler declares, never what its name suggests. */
	if (!bt_prov.propagate_unsampled_ids) {
		uint32_t fl = bt_sampler_flags(bt_prov.sampler);
		bt_prov.drop_all = (fl & BATON_SAMPLER_NEVER_SAMPLES) != 0;
		bt_prov.follow_unsampled_parent =
		    (fl & BATON_SAMPLER_FOLLOWS_PARENT) != 0;
	}
	if (opts->fanout_policy != NULL) {
		bt_fanout_installed = opts->fanout_policy;
	} else if (baton_getenv("BATON_FANOUT_SAMPLING") != NULL) {
		baton_fanout_policy *fp = NULL;
		char err[128];
		baton_err e = baton_fanout_policy_parse(
		    baton_getenv("BATON_FANOUT_SAMPLING"), &fp, err, sizeof(err));
		if (e == BATON_OK)
			bt_fanout_installed = fp;
		else
			bt_warn("BATON_FANOUT_SAMPLING: %s; using the default %s",
			        e == BATON_EFORMAT ? err : baton_strerror(e),
			        BATON_FANOUT_DEFAULT);
	}
	bt_counters_sum(bt_prov.base);
	bt_drop_totals(bt_drop_base);
	bt_final_valid = false;
	atomic_fetch_add(&bt_epoch, 1);
	bt_initialized = true;
	bt_at_exit_register();
	/* Disabled is a normal state: every call is a cheap no-op from here. */
	return BATON_OK;

fail_sampler:
	bt_free(bt_prov.procs);
	bt_prov.procs = NULL;
	bt_prov.nprocs = 0;
fail_procs:
	bt_store_fini(&bt_prov.store);
fail_store:
	bt_resource_free(&bt_prov.resource);
fail_resource:
	baton_fanout_policy_destroy(opts->fanout_policy);
	baton_sampler_destroy(opts->sampler);
	bt_procs_destroy(opts->processors, opts->nprocessors);
	return rv;
}

/* Splits what is left of a deadline evenly over the processors still to go. */
static uint32_t bt_share(uint64_t deadline, size_t left)
{
	uint64_t now = bt_now_mono_ns();
	if (now >= deadline || left == 0)
		return 0;
	return (uint32_t)((deadline - now) / 1000000u / left);
}

/*
 * Flushes (or shuts down) every processor in turn, each within an even share
 * of what is left of timeout_ms. Returns the first error.
 */
static baton_err bt_procs_finish(bool shutdown, uint32_t timeout_ms)
{
	baton_err rv = BATON_OK;
	uint64_t deadline = bt_now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (size_t i = 0; i < bt_prov.nprocs; i++) {
		const baton_processor *p = &bt_prov.procs[i];
		baton_err (*fn)(void *, uint32_t) =
		    shutdown ? p->ops->shutdown : p->ops->force_flush;
		if (fn == NULL)
			continue;
		baton_err e = fn(p->arg, bt_share(deadline, bt_prov.nprocs - i));
		if (e != BATON_OK && rv == BATON_OK)
			rv = e;
	}
	return rv;
}

baton_err baton_force_flush(uint32_t timeout_ms)
{
	if (!bt_initialized)
		return BATON_ESTATE;
	return bt_procs_finish(false, timeout_ms);
}

baton_err baton_fini(uint32_t timeout_ms)
{
	if (!bt_initialized)
		return BATON_ESTATE;
	baton_err rv = bt_procs_finish(true, timeout_ms);
	bt_procs_destroy(bt_prov.procs, bt_prov.nprocs);
	/* Destroyed batch processors keep their counters: one last reading. */
	bt_stats_compute(&bt_final_stats);
	bt_final_valid = true;
	bt_drop_summary("baton_fini", bt_drop_base);
	bt_free(bt_prov.procs);
	baton_sampler_destroy(bt_prov.sampler);
	bt_initialized = false;
	atomic_fetch_add(&bt_epoch, 1);
	bt_store_fini(&bt_prov.store);
	bt_resource_free(&bt_prov.resource);
	bt_tracers_free();
	baton_fanout_policy_destroy((baton_fanout_policy *)bt_fanout_installed);
	bt_fanout_installed = NULL;
	memset(&bt_prov, 0, sizeof(bt_prov));
	return rv;
}

const baton_resource *baton_resource_get(void)
{
	return bt_initialized ? &bt_prov.resource : NULL;
}

void baton_sdk_stats_get(baton_sdk_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (bt_initialized)
		bt_stats_compute(out);
	else if (bt_final_valid)
		*out = bt_final_stats;
}

/* The figures of the running SDK (bt_prov still set up). */
static void bt_stats_compute(baton_sdk_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t c[BT_C_COUNT];
	bt_counters_sum(c);
	for (int i = 0; i < BT_C_COUNT; i++)
		c[i] -= bt_prov.base[i];
	out->spans_started = c[BT_C_STARTED];
	out->spans_unsampled = c[BT_C_UNSAMPLED];
	out->spans_ended = c[BT_C_ENDED];
	out->spans_dropped_no_store = c[BT_C_NO_STORE];
	out->spans_live = c[BT_C_ALLOCS] - c[BT_C_RELEASES];
	out->store_records =
	    (uint64_t)atomic_load(&bt_prov.store.nchunks) * BT_CHUNK_SPANS;
	for (size_t i = 0; i < bt_prov.nprocs; i++) {
		const baton_processor_ops *ops = bt_prov.procs[i].ops;
		if (ops->size <
		        offsetof(baton_processor_ops, stats) + sizeof(ops->stats) ||
		    ops->stats == NULL)
			continue; /* a processor without counters */
		baton_processor_stats ps = {0};
		ops->stats(bt_prov.procs[i].arg, &ps);
		out->spans_exported += ps.spans_exported;
		out->spans_dropped_queue_full += ps.spans_dropped_queue_full;
		out->spans_dropped_export += ps.spans_dropped_export;
		out->spans_dropped_shutdown += ps.spans_dropped_shutdown;
	}
}
