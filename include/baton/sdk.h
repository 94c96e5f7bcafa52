/*
 * baton/sdk.h: setting the SDK up, and the plug-in interfaces.
 *
 * baton_init() builds the process-wide tracer provider: resource, limits,
 * sampler and span processors. Samplers, span processors and exporters plug
 * in through const ops tables, so a user can write their own in C.
 */
#ifndef BATON_SDK_H
#define BATON_SDK_H

#include <baton/trace.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Finished spans, as processors and exporters see them ---- */

typedef struct baton_attr baton_attr;
/* One attribute of a span, event or link; a singly linked list in set order. */
struct baton_attr {
	const baton_attr *next;
	const char *key; /* NUL-terminated */
	baton_value value;
};

typedef struct baton_event baton_event;
struct baton_event {
	const baton_event *next;
	const char *name;
	uint64_t time_unix_ns;
	const baton_attr *attrs;
	uint32_t nattrs;
	uint32_t dropped_attrs;
};

typedef struct baton_link baton_link;
struct baton_link {
	const baton_link *next;
	baton_span_context context; /* context.tracestate may be NULL */
	const baton_attr *attrs;
	uint32_t nattrs;
	uint32_t dropped_attrs;
};

/* The resource: the entity producing spans (service.name and friends). */
typedef struct baton_resource {
	const baton_attr *attrs;
	uint32_t nattrs;
	const char *service_name; /* also in attrs as service.name */
} baton_resource;

/* The instrumentation scope of a tracer. */
typedef struct baton_scope {
	const char *name;
	const char *version; /* may be NULL */
} baton_scope;

/*
 * A finished span, read-only. Valid from on_end until the processor calls
 * baton_span_data_release(). Strings are NUL-terminated.
 */
typedef struct baton_span_data {
	baton_span_context context;
	baton_span_context parent; /* invalid for a root span */
	const char *name;
	baton_span_kind kind;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;
	const baton_attr *attrs;
	const baton_event *events;
	const baton_link *links;
	uint32_t nattrs, nevents, nlinks;
	uint32_t dropped_attrs, dropped_events, dropped_links;
	baton_status_code status;
	const char *status_message; /* NULL unless status is ERROR with a text */
	const baton_resource *resource;
	const baton_scope *scope;
} baton_span_data;

/* Finds an attribute by key in a list; NULL when absent. */
BATON_API const baton_attr *baton_attr_find(const baton_attr *list, const char *key);

/*
 * Returns a finished span to baton's span store. A processor calls it once
 * for each span it got in on_end, from any thread. Thread-safe.
 */
BATON_API void baton_span_data_release(const baton_span_data *span);
/*
 * Returns n finished spans at once, as n calls of baton_span_data_release()
 * would, but cheaper: records that go back to the thread that started them
 * travel in bundles. For processors that release a batch. Thread-safe.
 */
BATON_API void baton_span_data_release_n(const baton_span_data *const *spans, size_t n);

/*
 * A hint for exporters that read a batch of spans other threads wrote: asks
 * the CPU to start bringing the span's record (its fields, and the
 * attributes, events, links and strings kept inline with them) into this
 * core's cache, so that reading it a few spans later does not wait for
 * memory. Changes nothing; span may be NULL. Call it some spans ahead of
 * the one being read.
 */
BATON_API void baton_span_data_prefetch(const baton_span_data *span);

/* ---- Exporters ---- */

/*
 * What one export_spans call did: the exporter's whole answer, returned by
 * value (nothing travels beside it). Zero-initialised it means "delivered,
 * no retry, nothing rejected".
 */
typedef struct baton_export_result {
	/*
	 * BATON_OK: the batch was delivered. Anything else: it was not (the
	 * processor counts its spans as dropped for export failure, and a
	 * baton_force_flush() or baton_fini() in progress returns this code).
	 */
	baton_err err;
	uint32_t retries;  /* requests repeated before this outcome */
	uint64_t rejected; /* spans the receiver said it rejected (partial success) */
	/*
	 * Why it failed, for people: NULL or a NUL-terminated text owned by the
	 * exporter, valid until its next call. The processor copies it.
	 */
	const char *reason;
} baton_export_result;

/* A result that only carries an error code (BATON_OK: delivered). */
#ifndef __cplusplus
#define BATON_EXPORT_RESULT(e) ((baton_export_result){(e), 0, 0, NULL})
#else
#define BATON_EXPORT_RESULT(e) (baton_export_result{(e), 0, 0, NULL})
#endif

/*
 * An exporter sends a batch of finished spans somewhere. export_spans and
 * force_flush are never concurrent for one exporter instance (the
 * processor serialises them), but shutdown may be called from another
 * thread while an export is in flight, when a processor's shutdown runs
 * out of time: it must then cut that export short and be safe against it.
 * export_spans borrows the spans for the duration of the call and returns
 * a baton_export_result: err BATON_OK when the batch was delivered, else
 * the error (the exporter has done any retrying it wants). force_flush and
 * shutdown return BATON_OK or the error that kept what they held from its
 * destination (e.g. a file that could not be written); the processor
 * passes it on to baton_force_flush() and baton_fini().
 * size is sizeof(baton_exporter_ops).
 */
typedef struct baton_exporter_ops {
	size_t size;
	const char *name;
	baton_export_result (*export_spans)(void *arg,
	                                    const baton_span_data *const *spans,
	                                    size_t n);
	baton_err (*force_flush)(void *arg, uint32_t timeout_ms); /* may be NULL */
	/* Bounded by timeout_ms; after it, export_spans is not called again. */
	baton_err (*shutdown)(void *arg, uint32_t timeout_ms); /* may be NULL */
	void (*destroy)(void *arg);                            /* may be NULL */
	/*
	 * Optional, both or neither (the exporter declares the capability by
	 * setting them): an export in two halves, so that the batch processor
	 * prepares the next batch while one is on its way. export_begin does
	 * what export_spans does up to waiting for the receiver: it takes from
	 * the spans all it needs (they are released when it returns) and starts
	 * the delivery, or holds the batch until the one before it is answered.
	 * export_end waits for the oldest batch begun and not yet ended and
	 * returns what export_spans would have returned for it. The processor
	 * calls export_end exactly once for each export_begin, in order, with
	 * at most two batches begun and not ended, and calls neither
	 * export_spans nor force_flush in between. A shutdown from another
	 * thread cuts what is begun: the export_end calls still to come return
	 * at once. In a child forked while a batch was begun (fork waits for
	 * the end, but only so long) that batch is the parent's: the child's
	 * processor ends nothing begun before the fork, and the exporter must
	 * forget it there.
	 */
	void (*export_begin)(void *arg, const baton_span_data *const *spans, size_t n);
	baton_export_result (*export_end)(void *arg);
} baton_exporter_ops;

typedef struct baton_exporter {
	const baton_exporter_ops *ops;
	void *arg;
} baton_exporter;

/* ---- Span processors ---- */

/*
 * A span processor receives every recording span when it ends. on_end must
 * not block: it takes ownership of the span and must call
 * baton_span_data_release() exactly once (now or later, from any thread).
 * With several processors, each one gets its own reference.
 */
/*
 * A processor's own counters, as baton_sdk_stats_get() sums them: what it
 * delivered and every span it dropped, by reason.
 */
typedef struct baton_processor_stats {
	uint64_t spans_exported;           /* delivered */
	uint64_t spans_dropped_queue_full; /* refused: its queue was full */
	uint64_t spans_dropped_export;     /* the exporter failed (after retries) */
	uint64_t
	    spans_dropped_shutdown; /* ended after shutdown, or left at its timeout */
} baton_processor_stats;

typedef struct baton_processor_ops {
	size_t size; /* sizeof(baton_processor_ops) as the plug-in was built */
	const char *name;
	void (*on_end)(void *arg, const baton_span_data *span);
	baton_err (*force_flush)(void *arg, uint32_t timeout_ms); /* may be NULL */
	baton_err (*shutdown)(void *arg, uint32_t timeout_ms);    /* may be NULL */
	void (*destroy)(void *arg);                               /* may be NULL */
	/*
	 * Writes the processor's counters (thread-safe, any time before
	 * destroy). May be NULL: a processor that drops nothing it is given.
	 */
	void (*stats)(void *arg, baton_processor_stats *out);
} baton_processor_ops;

typedef struct baton_processor {
	const baton_processor_ops *ops;
	void *arg;
} baton_processor;

/*
 * The simple processor: exports each span synchronously in on_end, on the
 * caller's thread, under a mutex. For tests and debugging, not production.
 * Takes ownership of exporter (destroys it in destroy). On success writes
 * *out. Returns BATON_OK, BATON_EINVAL, BATON_ENOMEM.
 */
BATON_API baton_err baton_simple_processor_create(baton_exporter exporter,
                                                  baton_processor *out);

/* ---- Samplers ---- */

typedef enum baton_sampling_decision {
	BATON_SAMPLING_DROP = 0,
	BATON_SAMPLING_RECORD_ONLY = 1,
	BATON_SAMPLING_RECORD_AND_SAMPLE = 2,
} baton_sampling_decision;

/* What a sampler sees. */
typedef struct baton_sampling_params {
	const baton_span_context *parent; /* never NULL; may be invalid */
	const uint8_t *trace_id;          /* the span's trace id (parent's or new) */
	const char *name;
	baton_span_kind kind;
	const baton_kv *attrs;
	size_t nattrs;
} baton_sampling_params;

/* What a sampler answers. */
typedef struct baton_sampling_result {
	baton_sampling_decision decision;
	/*
	 * OTEP 235 threshold of this decision (rejection threshold, 56-bit)
	 * when has_threshold; it goes into tracestate as ot=th and into the
	 * SampleRate attribute. A sampler that does not know leaves it false.
	 */
	bool has_threshold;
	uint64_t threshold;
} baton_sampling_result;

/*
 * A sampler is asked only where a span can keep its trace's identity: a
 * child of a parent that decided "not sampled" and carries no ids (an
 * unsampled message, an unsampled span when ids are not propagated) is not
 * sampled whatever the sampler says, so no sampler can split a trace into
 * an orphan root. A child of an unsampled parent with ids keeps the
 * parent's trace id; consistent samplers (traceidratio) then reach the
 * parent's decision.
 */
/*
 * What a sampler promises about its decisions (baton_sampler_ops.flags), so
 * that span start can skip work. A sampler that declares none is asked
 * every time; the name is only for people and logs.
 */
/* Never samples: span start needs no parent, no ids and no record. */
#define BATON_SAMPLER_NEVER_SAMPLES 0x01u
/* Whenever there is a parent, decides as the parent's sampled flag says:
 * a span under an unsampled parent is dropped without asking. */
#define BATON_SAMPLER_FOLLOWS_PARENT 0x02u

typedef struct baton_sampler_ops {
	size_t size; /* sizeof(baton_sampler_ops) as the plug-in was built */
	const char *name;
	/* Must be cheap, lock-free and thread-safe: it runs on every span start. */
	void (*should_sample)(void *arg, const baton_sampling_params *p,
	                      baton_sampling_result *r);
	void (*destroy)(void *arg); /* may be NULL */
	uint32_t flags;             /* BATON_SAMPLER_*; 0 promises nothing */
} baton_sampler_ops;

typedef struct baton_sampler {
	const baton_sampler_ops *ops;
	void *arg;
} baton_sampler;

/*
 * Built-in samplers. Each create writes *out on success; the sampler is
 * owned by whoever it is given to (baton_init takes ownership).
 * traceidratio is OTEP 235 consistent probability sampling: keep iff the
 * low 56 bits of the trace id >= (1 - ratio) * 2^56. parentbased follows the
 * parent's sampled flag when there is a parent, else root decides; root is
 * owned by the parent-based sampler.
 */
BATON_API baton_sampler baton_sampler_always_on(void);
BATON_API baton_sampler baton_sampler_always_off(void);
BATON_API baton_err baton_sampler_traceidratio(double ratio, baton_sampler *out);
BATON_API baton_err baton_sampler_parentbased(baton_sampler root, baton_sampler *out);
/* Destroys a sampler that was never given to baton_init. */
BATON_API void baton_sampler_destroy(baton_sampler sampler);

/* Converts a probability to an OTEP 235 threshold, and back. */
BATON_API uint64_t baton_threshold_from_probability(double p);
BATON_API double baton_probability_from_threshold(uint64_t threshold);

/*
 * Builds the sampler that OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
 * name (default parentbased_always_on). An unknown or malformed value logs a
 * warning and gives the default. Returns BATON_OK or BATON_ENOMEM.
 */
BATON_API baton_err baton_sampler_from_env(baton_sampler *out);

/*
 * Hook for sampler kinds defined outside the core (e.g. jaeger_remote):
 * baton_sampler_from_env calls the registered factories, in the order they
 * were registered, for a name the core does not know; the first one that
 * returns BATON_OK (and writes *out) wins. Registering the same function
 * twice keeps one; registering NULL clears them all. Thread-safe.
 */
typedef baton_err (*baton_sampler_factory_fn)(const char *name, const char *arg,
                                              baton_sampler *out);
BATON_API void baton_sampler_register_factory(baton_sampler_factory_fn fn);

/* ---- Set-up ---- */

/* Keep-probability curve by fanout size: see baton/sampling.h. */
typedef struct baton_fanout_policy baton_fanout_policy;

/*
 * Span limits; 0 in a field means "the default" (OTel's, or the env var).
 * span_arena_bytes lies in [256, 16 MiB] and max_live_spans in [64, 16 Mi]
 * (rounded up to a multiple of 64): a value outside, from the field or the
 * variable, is replaced by the nearest bound, and 0 in a variable by the
 * default, each with a warning. A field set here wins over its variable; the
 * span, event and link attribute counts fall back to OTEL_ATTRIBUTE_COUNT_LIMIT
 * and the value length to OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT when their own
 * variable is unset, as the OTel spec orders them.
 *
 * span_arena_bytes is each span's budget for its name, attributes, events,
 * links and their strings (names and keys kept once for the process, and
 * string values that are literals of the program, take none of it): a
 * span takes a 448-byte record, whose 192-byte
 * inline arena holds a name and a few attributes, and a span that needs
 * more gets one overflow block for the rest of its budget. When neither
 * max_live_spans nor BATON_MAX_SPANS is set, the store holds 16384 records
 * plus twice the queue capacity of each batch processor given to
 * baton_init, so that a burst fills a queue (counted as dropped there)
 * before the store; records are allocated as they are first needed.
 */
typedef struct baton_limits {
	uint32_t attribute_count;       /* OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 128 */
	uint32_t event_count;           /* OTEL_SPAN_EVENT_COUNT_LIMIT, 128 */
	uint32_t link_count;            /* OTEL_SPAN_LINK_COUNT_LIMIT, 128 */
	uint32_t event_attribute_count; /* OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, 128 */
	uint32_t link_attribute_count;  /* OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, 128 */
	uint32_t
	    attribute_value_length; /* OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, none */
	uint32_t span_arena_bytes;  /* BATON_SPAN_ARENA_BYTES, 2048 */
	uint32_t max_live_spans;    /* BATON_MAX_SPANS, 16384 records in all (+ queues) */
} baton_limits;

/*
 * Options for baton_init(). Zero-initialise and set size =
 * sizeof(baton_options); every zero field takes its default from the
 * environment (OTEL_* variables) or OpenTelemetry's default. Every variable
 * and its default: docs/configuration.md in baton's source.
 */
typedef struct baton_options {
	size_t size;
	/* NULL: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES,
	 * else "unknown_service:<program name>". */
	const char *service_name;
	const baton_kv *resource_attrs; /* added after OTEL_RESOURCE_ATTRIBUTES */
	size_t nresource_attrs;
	baton_sampler sampler;             /* ops NULL: baton_sampler_from_env() */
	const baton_processor *processors; /* baton_init takes ownership of each */
	size_t nprocessors;
	baton_limits limits;
	/* Give unsampled spans ids (log correlation) and send them in envelopes. */
	bool propagate_unsampled_ids;
	/* Ignore OTEL_SDK_DISABLED. */
	bool ignore_disabled_env;
	/*
	 * Fanout sampling curve; NULL: BATON_FANOUT_SAMPLING, else the default
	 * 1:1,100:0.1,10000:0.001. baton_init takes ownership.
	 */
	baton_fanout_policy *fanout_policy;
} baton_options;

/*
 * Initialises baton for this process. opts may be NULL: everything from the
 * environment, with no processor (spans are sampled and dropped; see
 * baton_auto_init() in baton/auto.h for env-chosen exporters).
 * Takes ownership of opts->sampler and opts->processors[] on success and
 * on failure. Returns BATON_OK (also when OTEL_SDK_DISABLED=true: tracing is
 * then off and every span call is a cheap no-op; baton_is_enabled() tells),
 * BATON_ESTATE when already initialised, BATON_ENOMEM. Not thread-safe: call once, before
 * other threads use baton.
 */
BATON_API baton_err baton_init(const baton_options *opts);

/*
 * True when baton is initialised and tracing is on (not switched off by
 * OTEL_SDK_DISABLED). Lock-free. Thread-safe.
 */
BATON_API bool baton_is_enabled(void);

/*
 * Flushes and shuts every processor down within timeout_ms in all, then
 * frees everything. Spans still open are not exported. When any span was
 * lost since baton_init (by any drop reason), one warning line says how
 * many and why. After it, baton_init() may be called again, and
 * baton_sdk_stats_get() still gives the final figures until then.
 * Returns:
 *   BATON_OK         every span ended before the call was exported, and no
 *                    export failed during the call;
 *   BATON_ETIMEDOUT  the time ran out with spans not yet exported (they are
 *                    counted as dropped at shutdown), or an export failed
 *                    because its receiver did not answer within the
 *                    exporter's own timeout;
 *   another error    the error of an export that failed during the call
 *                    (e.g. BATON_ETRANSPORT: the collector answered 503 or
 *                    could not be reached, after the retries; BATON_EREJECTED:
 *                    it refused the request), or of an exporter's shutdown
 *                    (e.g. BATON_ESYSTEM: a file could not be written);
 *   BATON_ESTATE     baton_init() was not called.
 * With several processors, the first error in processor order.
 * Everything is freed whatever the result. Not thread-safe.
 *
 * A program that returns from main() or calls exit() without baton_fini:
 * an atexit handler (registered by the first baton_init) shuts the
 * processors down within OTEL_BSP_EXPORT_TIMEOUT (default 30000 ms), so
 * what they hold is exported, and writes the same warning line when spans
 * were lost. It frees nothing, since other threads may still run.
 */
BATON_API baton_err baton_fini(uint32_t timeout_ms);

/*
 * Asks every processor to export what it holds, within timeout_ms, and
 * waits for it. Returns BATON_OK when every span ended before the call was
 * exported and no export failed during the call; BATON_ETIMEDOUT when the
 * time ran out first; the error of an export that failed during the call,
 * or of an exporter's own flush (as for baton_fini); BATON_ECLOSED when a
 * processor was already shut down; BATON_ESTATE before baton_init(). Spans
 * dropped earlier (a full queue, say) do not make it fail: the drop
 * counters and their warnings tell about those. Thread-safe.
 */
BATON_API baton_err baton_force_flush(uint32_t timeout_ms);

/* Returns the resource of the running SDK, or NULL before baton_init(). */
BATON_API const baton_resource *baton_resource_get(void);

/*
 * SDK self-telemetry counters (monotonic since baton_init). Every recording
 * span ends up exported or dropped: after a flush, spans_ended =
 * spans_exported + the three spans_dropped_* counts (+ spans a processor
 * other than the batch one holds). After baton_fini() it gives the figures
 * the run ended with, until the next baton_init(); zeros before any.
 */
typedef struct baton_sdk_stats {
	uint64_t spans_started;          /* otel.sdk.span.started (recording spans) */
	uint64_t spans_unsampled;        /* spans started but not sampled */
	uint64_t spans_ended;            /* recording spans ended */
	uint64_t spans_dropped_no_store; /* span store exhausted at start */
	uint64_t spans_live;             /* records in use (started, not yet released) */
	uint64_t store_records;          /* records allocated in all */
	/* Summed over the processors baton_init was given (their stats hook): */
	uint64_t spans_exported;           /* exported successfully */
	uint64_t spans_dropped_queue_full; /* the processor's ring was full */
	uint64_t spans_dropped_export;     /* the exporter failed (after its retries) */
	uint64_t
	    spans_dropped_shutdown; /* ended after shutdown, or left at its timeout */
} baton_sdk_stats;
BATON_API void baton_sdk_stats_get(baton_sdk_stats *out);

/* Reads an environment variable the way baton does (NULL when unset or empty). */
BATON_API const char *baton_getenv(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* BATON_SDK_H */
