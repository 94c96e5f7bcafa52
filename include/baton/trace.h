/*
 * baton/trace.h: span contexts, the tracer and spans.
 *
 * The span model is OpenTelemetry's. Context is explicit: a message carries
 * its span context, and a span is started with that context as its parent.
 * A thread-local "current span" exists for convenience (attach/detach).
 */
#ifndef BATON_TRACE_H
#define BATON_TRACE_H

#include <baton/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_TRACE_ID_SIZE 16
#define BATON_SPAN_ID_SIZE  8

/* W3C trace-flags bits. */
#define BATON_FLAG_SAMPLED 0x01 /* the trace is sampled */
#define BATON_FLAG_RANDOM  0x02 /* the rightmost 7 bytes of the trace id are random */

/* baton_span_context.state bits. */
#define BATON_CTX_VALID   0x01 /* trace_id and span_id are set and non-zero */
#define BATON_CTX_REMOTE  0x02 /* the context came from another process */
#define BATON_CTX_DECIDED 0x04 /* a sampling decision exists, even without ids */
#define BATON_CTX_HAS_TH  0x08 /* threshold holds an OTEP 235 sampling threshold */
#define BATON_CTX_FANOUT  0x10 /* the context arrived after a fanout: continue only */

/* The largest OTEP 235 threshold value + 1: thresholds are 56-bit. */
#define BATON_TH_MAX ((uint64_t)1 << 56)

/*
 * A span context: plain value, copy it freely.
 *
 * A context with BATON_CTX_DECIDED but not BATON_CTX_VALID means "a decision
 * was made upstream and it was not sampled" (baton sends no ids for
 * unsampled traces by default); children of it are not sampled either.
 *
 * threshold is the OTEP 235 rejection threshold (keep iff randomness >=
 * threshold, adjusted count 2^56 / (2^56 - threshold)) when BATON_CTX_HAS_TH
 * is set. tracestate, when not NULL, is the W3C tracestate of the trace
 * without its "ot" member (baton writes ot=th itself); it is borrowed and
 * lives as long as the span or buffer it was taken from.
 */
typedef struct baton_span_context {
	uint8_t trace_id[BATON_TRACE_ID_SIZE];
	uint8_t span_id[BATON_SPAN_ID_SIZE];
	uint8_t trace_flags;
	uint8_t state;
	uint16_t reserved;
	uint64_t threshold;
	const char *tracestate;
} baton_span_context;

/* Returns true when ctx has non-zero ids (BATON_CTX_VALID). NULL gives false. */
BATON_API bool baton_span_context_is_valid(const baton_span_context *ctx);
/* Returns true when ctx says sampled. NULL gives false. */
BATON_API bool baton_span_context_is_sampled(const baton_span_context *ctx);
/*
 * Returns the adjusted count of ctx (how many spans one sampled span stands
 * for): 2^56 / (2^56 - threshold) when it has a threshold, else 1.0.
 */
BATON_API double baton_span_context_adjusted_count(const baton_span_context *ctx);

/*
 * Writes 16 new trace-id bytes whose rightmost 7 bytes are uniformly random
 * (W3C Level 2 "random" flag), never all zero. Uses a per-thread generator
 * seeded from the OS and reseeded in a forked child. Thread-safe.
 */
BATON_API void baton_trace_id_generate(uint8_t trace_id[BATON_TRACE_ID_SIZE]);
/* Writes 8 new random span-id bytes, never all zero. Thread-safe. */
BATON_API void baton_span_id_generate(uint8_t span_id[BATON_SPAN_ID_SIZE]);
/* Writes the lowercase hex form of n bytes into out (2n chars + NUL). */
BATON_API void baton_hex_encode(const uint8_t *bytes, size_t n, char *out);

/* Wall-clock time in nanoseconds since the Unix epoch. Thread-safe. */
BATON_API uint64_t baton_time_unix_ns(void);
/* Monotonic time in nanoseconds, for durations. Thread-safe. */
BATON_API uint64_t baton_time_mono_ns(void);

/* Span kinds, numbered as OTLP's SpanKind. */
typedef enum baton_span_kind {
	BATON_SPAN_KIND_UNSPECIFIED = 0,
	BATON_SPAN_KIND_INTERNAL = 1,
	BATON_SPAN_KIND_SERVER = 2,
	BATON_SPAN_KIND_CLIENT = 3,
	BATON_SPAN_KIND_PRODUCER = 4,
	BATON_SPAN_KIND_CONSUMER = 5,
} baton_span_kind;

/* Span status codes, numbered as OTLP's Status.StatusCode. */
typedef enum baton_status_code {
	BATON_STATUS_UNSET = 0,
	BATON_STATUS_OK = 1,
	BATON_STATUS_ERROR = 2,
} baton_status_code;

/* Attribute value types. */
typedef enum baton_value_type {
	BATON_VALUE_NONE = 0,
	BATON_VALUE_STRING = 1,
	BATON_VALUE_BOOL = 2,
	BATON_VALUE_INT = 3,
	BATON_VALUE_DOUBLE = 4,
	BATON_VALUE_STRING_ARRAY = 5,
	BATON_VALUE_INT_ARRAY = 6,
	BATON_VALUE_DOUBLE_ARRAY = 7,
	BATON_VALUE_BOOL_ARRAY = 8,
} baton_value_type;

/*
 * An attribute value. For STRING, s with len bytes (not necessarily
 * NUL-terminated when it comes from a span; callers passing values in may
 * give len = SIZE_MAX to mean strlen(s)). Arrays: count elements at the
 * pointer of their type.
 */
typedef struct baton_value {
	baton_value_type type;
	union {
		const char *s;
		bool b;
		int64_t i;
		double d;
		const char *const *sa;
		const int64_t *ia;
		const double *da;
		const bool *ba;
	} u;
	size_t len; /* string length in bytes, or array element count */
} baton_value;

/* A key and value, as passed in to events, links and span start. */
typedef struct baton_kv {
	const char *key;
	baton_value value;
} baton_kv;

/*
 * Initialisers for baton_kv, e.g. BATON_KV_STR("peer", name). In C they are
 * constant expressions (file-scope arrays may use them). C++ has no
 * designated initialisers before C++20, so there they take their value
 * from the inline functions below.
 */
#ifndef __cplusplus
#define BATON_KV_STR(k, v)                                                               \
	{                                                                                \
		(k),                                                                     \
		{                                                                        \
			BATON_VALUE_STRING, {.s = (v)}, (size_t)-1                       \
		}                                                                        \
	}
#define BATON_KV_INT(k, v)                                                               \
	{                                                                                \
		(k),                                                                     \
		{                                                                        \
			BATON_VALUE_INT, {.i = (v)}, 0                                   \
		}                                                                        \
	}
#define BATON_KV_DOUBLE(k, v)                                                            \
	{                                                                                \
		(k),                                                                     \
		{                                                                        \
			BATON_VALUE_DOUBLE, {.d = (v)}, 0                                \
		}                                                                        \
	}
#define BATON_KV_BOOL(k, v)                                                              \
	{                                                                                \
		(k),                                                                     \
		{                                                                        \
			BATON_VALUE_BOOL, {.b = (v)}, 0                                  \
		}                                                                        \
	}
#else
/* C++ only: the values BATON_KV_INT, _DOUBLE and _BOOL hold. */
static inline baton_value baton_value_of_int(int64_t v)
{
	baton_value r = {};
	r.type = BATON_VALUE_INT;
	r.u.i = v;
	return r;
}
static inline baton_value baton_value_of_double(double v)
{
	baton_value r = {};
	r.type = BATON_VALUE_DOUBLE;
	r.u.d = v;
	return r;
}
static inline baton_value baton_value_of_bool(bool v)
{
	baton_value r = {};
	r.type = BATON_VALUE_BOOL;
	r.u.b = v;
	return r;
}
#define BATON_KV_STR(k, v)                                                               \
	{                                                                                \
		(k),                                                                     \
		{                                                                        \
			BATON_VALUE_STRING, {(v)}, (size_t)-1                            \
		}                                                                        \
	}
#define BATON_KV_INT(k, v)                                                               \
	{                                                                                \
		(k), baton_value_of_int(v)                                               \
	}
#define BATON_KV_DOUBLE(k, v)                                                            \
	{                                                                                \
		(k), baton_value_of_double(v)                                            \
	}
#define BATON_KV_BOOL(k, v)                                                              \
	{                                                                                \
		(k), baton_value_of_bool(v)                                              \
	}
#endif

/*
 * A span handle: a plain value, like nng_socket. It stays safe to use after
 * the span ended: every call on an ended span does nothing. The zero value
 * (BATON_SPAN_NONE) is "no span"; calls on it do nothing.
 */
typedef struct baton_span {
	uint64_t id;
} baton_span;
#ifndef __cplusplus
#define BATON_SPAN_NONE ((baton_span){0})
#else
#define BATON_SPAN_NONE (baton_span{0})
#endif

/* Opaque tracer: a named instrumentation scope. */
typedef struct baton_tracer baton_tracer;

/*
 * Returns the tracer for the instrumentation scope (name, version); the
 * same pointer for the same pair. The tracer lives until baton_fini().
 * Works before baton_init() too (spans are then not recorded). version may
 * be NULL. Returns NULL only when out of memory. Thread-safe.
 */
BATON_API baton_tracer *baton_tracer_get(const char *name, const char *version);

/* Span start flags. */
#define BATON_START_ROOT    0x01 /* ignore the current context: start a new trace */
#define BATON_START_NO_ROOT 0x02 /* continue a trace only: no parent -> no span */
#define BATON_START_NO_CURRENT                                                           \
	0x04 /* with parent == NULL, do not use the current span                         \
	      */

/* Options for baton_span_start_ex(). Zero-initialise, then set what you need. */
typedef struct baton_span_start_opts {
	/* The parent. NULL: the thread's current span (unless NO_CURRENT). */
	const baton_span_context *parent;
	baton_span_kind kind;   /* 0 (or a value that is no kind) means INTERNAL */
	uint32_t flags;         /* BATON_START_* */
	uint64_t start_time_ns; /* 0: now */
	const baton_kv *attrs;  /* attributes the sampler may look at */
	size_t nattrs;
	const baton_span_context *links; /* links (no attributes; add more later) */
	size_t nlinks;
	/*
	 * Sampling weight of a fanout keep decision the caller already drew
	 * and won (baton_msg_fanout_draw in baton/message.h; the message layer
	 * does this): the span was kept with this probability on top of the
	 * head decision (1.0 or 0 = none). No draw is made here: its inverse
	 * only multiplies the SampleRate and threshold the span carries.
	 */
	double fanout_keep_probability;
} baton_span_start_opts;

/*
 * Starts a span named name (copied) as a child of the current span, or a
 * root span when there is none. Returns its handle, or a non-recording
 * handle when the span is not sampled, the SDK is disabled or not
 * initialised, or the span store is exhausted (counted as a drop).
 * Allocates nothing in steady state. Thread-safe.
 */
BATON_API baton_span baton_span_start(baton_tracer *tracer, const char *name);

/* As baton_span_start(), with options (opts may be NULL). Thread-safe. */
BATON_API baton_span baton_span_start_ex(baton_tracer *tracer, const char *name,
                                         const baton_span_start_opts *opts);

/*
 * Ends the span at the current time (or end_time_ns when not 0 with
 * baton_span_end_at) and hands it to the span processors. Ending twice, or
 * ending BATON_SPAN_NONE, does nothing. Thread-safe with respect to other
 * spans; one thread at a time per span.
 */
BATON_API void baton_span_end(baton_span span);
BATON_API void baton_span_end_at(baton_span span, uint64_t end_time_ns);

/* Returns true while the span is recording (started, sampled, not ended). */
BATON_API bool baton_span_is_recording(baton_span span);

/*
 * Writes the span's context into *ctx. For a non-recording span this is its
 * decision-only context (no ids unless the tracer propagates unsampled ids).
 * For an ended span, ctx gets an invalid context. Returns BATON_OK, or
 * BATON_EINVAL when ctx is NULL.
 */
BATON_API baton_err baton_span_get_context(baton_span span, baton_span_context *ctx);

/*
 * Attribute setters. The key and string values are copied into the span:
 * keys, and string values that are literals of the program, are kept once
 * for the whole process and the span points to that copy. Either way the
 * caller's buffer is not needed after the call.
 * Setting an existing key replaces its value. Past the attribute count
 * limit, or when the span's arena is full, the attribute is dropped and
 * counted in the span's dropped_attributes. String values are cut at
 * OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT characters (Unicode code points,
 * as the OpenTelemetry spec counts them; a cut never splits a character).
 * One thread at a time per span.
 *
 * Every string a span stores (name, keys, values, event names, status
 * description, tracestates) is well-formed UTF-8 when it reaches a
 * processor: each byte that is not part of a well-formed character is
 * replaced by U+FFFD (3 bytes) as it is copied in. Values that come from
 * other processes (a remote tracestate, an HTTP request's target or
 * headers) take at most 3/8 of the span's arena (BATON_SPAN_ARENA_BYTES)
 * and are cut to that, so they never push out the span's name or the
 * attributes its own code sets.
 */
BATON_API void baton_span_set_str(baton_span span, const char *key, const char *value);
BATON_API void baton_span_set_strn(baton_span span, const char *key, const char *value,
                                   size_t len);
/*
 * Sets a string attribute whose value came from another process (a request
 * target, a URL, a header value): as baton_span_set_strn, but such values
 * share at most 3/8 of the span's attribute space between them and each is
 * cut, between UTF-8 characters, to half of what is left of that share, so
 * that a peer's long values never crowd out the span's own. When nothing is
 * left the attribute is dropped and counted. Transport adapters use it for
 * everything a peer sent. One thread at a time per span.
 */
BATON_API void baton_span_set_remote_strn(baton_span span, const char *key,
                                          const char *value, size_t len);
BATON_API void baton_span_set_int(baton_span span, const char *key, int64_t value);
BATON_API void baton_span_set_double(baton_span span, const char *key, double value);
BATON_API void baton_span_set_bool(baton_span span, const char *key, bool value);
/* Sets any value, arrays included (their elements are copied). */
BATON_API void baton_span_set_value(baton_span span, const char *key,
                                    const baton_value *value);

/* Adds an event (time 0 = now) with attributes (copied). Dropped and counted past limits.
 */
BATON_API void baton_span_add_event(baton_span span, const char *name, uint64_t time_ns,
                                    const baton_kv *attrs, size_t nattrs);
/* Adds a link to ctx with attributes (copied). Invalid contexts are ignored. */
BATON_API void baton_span_add_link(baton_span span, const baton_span_context *ctx,
                                   const baton_kv *attrs, size_t nattrs);
/* Sets the status; description is kept only for ERROR. OK is final. */
BATON_API void baton_span_set_status(baton_span span, baton_status_code code,
                                     const char *description);
/* Replaces the span's name. */
BATON_API void baton_span_update_name(baton_span span, const char *name);
/* Records an "exception" event with exception.type and exception.message. */
BATON_API void baton_span_record_error(baton_span span, const char *type,
                                       const char *message);

/*
 * Current span (thread-local). baton_span_attach() makes span the current
 * span of this thread and returns a token for baton_span_detach(), which
 * restores the previous one. Attach/detach nest (up to 64 deep; deeper
 * attaches return 0 and change nothing). A thread's first attach allocates
 * its stack of contexts (4.5 KiB, freed when the thread exits); without
 * memory for it the attach returns 0 and changes nothing too. Detaching
 * out of order detaches everything above the token too.
 */
BATON_API uint32_t baton_span_attach(baton_span span);
BATON_API void baton_span_detach(uint32_t token);
/* Returns this thread's current span, or BATON_SPAN_NONE. */
BATON_API baton_span baton_span_current(void);
/*
 * Attaches a bare context (e.g. one extracted from a message) as current,
 * with no local span. Returns a token for baton_span_detach(), or 0 as
 * baton_span_attach() does.
 */
BATON_API uint32_t baton_context_attach(const baton_span_context *ctx);

#ifdef __cplusplus
}
#endif

#endif /* BATON_TRACE_H */
