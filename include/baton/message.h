/*
 * baton/message.h: a message as a hop of a trace, for any message-passing
 * runtime (an actor mailbox, an in-process queue, a custom transport, NNG).
 *
 * This layer owns every tracing decision a message makes; transports only
 * move bytes. It works on caller-owned buffers and caller-owned state
 * structs and never allocates on the send or receive path.
 *
 * Send (one message, or one payload to many recipients):
 *
 *   baton_msg_send s;
 *   baton_msg_send_begin(&s, &opts);          PRODUCER span; the sampler decides
 *   baton_msg_send_wrap(&s, buf, cap, &n);    the envelope (baton/envelope.h)
 *   ... put the payload after the n bytes, hand the message over ...
 *   baton_msg_send_end(&s, NULL);             ends the span (error text or NULL)
 *
 *   An unsampled send writes the constant 8-byte envelope: no span record,
 *   no ids, no decoding on the other side. With opts.fanout = n the sender
 *   draws one keep decision per recipient (one wrap per recipient): kept
 *   ones get the ids and a threshold that includes the keep probability,
 *   the others the unsampled envelope. With opts.recipients = n (pub/sub,
 *   where the transport copies one message to n subscribers) the count is
 *   stamped in the envelope and each receiver draws its own decision.
 *
 * Receive:
 *
 *   baton_msg_recv r;
 *   baton_msg_recv_open(buf, len, &opts, &r); recognise, decide, start CONSUMER span
 *   handle(r.payload, r.payload_len) inside baton_msg_process(&r, fn, arg)
 *
 *   The unsampled envelope is recognised from the first 8 bytes with one
 *   compare and nothing is decoded. A sampled one is checked and decoded;
 *   a recipient count makes this receiver draw its fanout keep decision; a
 *   kept message gets a consumer span (child of the producer span, with
 *   SampleRate = 1 / (head probability x keep probability)); an unsampled
 *   or dropped one gets a "decided: not sampled" context, so spans its
 *   handler starts continue the decision instead of starting new roots.
 *   A message after a fanout only ever continues a trace: it never starts
 *   a root.
 *
 * The fanout keep decision is drawn in one place, baton_msg_fanout_draw(),
 * by whichever side the envelope says: the sender for opts.fanout, each
 * receiver for opts.recipients; never both.
 *
 * Spans carry the OpenTelemetry messaging attributes: messaging.system
 * (opts.system, default "baton"), messaging.operation.type and
 * messaging.operation.name ("send" | "process"),
 * messaging.destination.name (when a destination is given),
 * messaging.message.body.size (receive: always; send: with
 * BATON_MSG_BODY_SIZE), baton.fanout.recipients, baton.fanout.kept
 * (producer span of a fanout), messaging.batch.message_count (batch).
 *
 * Everything here is thread-safe on distinct state structs; one thread at
 * a time per baton_msg_send / baton_msg_recv.
 */
#ifndef BATON_MESSAGE_H
#define BATON_MESSAGE_H

#include <baton/envelope.h>
#include <baton/trace.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- flags of baton_msg_send_opts.flags and baton_msg_recv_opts.flags ---- */

/* Send: set messaging.message.body.size from opts.body_size. */
#define BATON_MSG_BODY_SIZE 0x01
/*
 * Receive: strict mode. A message without a valid envelope is refused
 * (baton_msg_recv_open returns the decoding error; counted as refused).
 * Without it (mixed rollout) such a message is delivered untouched as a
 * bare message and counted as passed through. Strict receivers also take
 * version 1 envelopes.
 */
#define BATON_MSG_STRICT 0x02
/* Receive: also take version 1 envelopes in mixed mode (baton/envelope.h). */
#define BATON_MSG_READ_V1 0x04
/*
 * Receive: decide but start no consumer span (for a batch or fan-in whose
 * one span links to each message: baton_msg_batch_start; or to start it
 * later with baton_msg_recv_start_span).
 */
#define BATON_MSG_NO_SPAN 0x08
/* Send: never write the ids of an unsampled context (overrides the SDK option). */
#define BATON_MSG_NO_UNSAMPLED_IDS 0x10
/* Send: leave the context's tracestate out of the envelope. */
#define BATON_MSG_NO_TRACESTATE 0x20
/* Send: carry no baggage (not even the thread's current one). */
#define BATON_MSG_NO_BAGGAGE 0x40

/* Destination names are cut at this many bytes in span names. */
#define BATON_MSG_DEST_MAX 95

/* Options of baton_msg_send_begin(). Zero-initialise; NULL means all defaults. */
typedef struct baton_msg_send_opts {
	/* The scope of the spans; NULL: "baton.message". */
	baton_tracer *tracer;
	/* messaging.system; NULL: "baton". Borrowed for the call. */
	const char *system;
	/* Span name "send <destination>" and messaging.destination.name; NULL: "send". */
	const char *destination;
	/* Parent of the producer span; NULL: the thread's current span or context. */
	const baton_span_context *parent;
	/* BATON_START_* flags for the producer span (e.g. BATON_START_ROOT). */
	uint32_t start_flags;
	/* BATON_MSG_* flags. */
	uint32_t flags;
	/*
	 * Pub/sub: the number of recipients the transport will copy this one
	 * message to. Stamped in a sampled envelope; each receiver draws its
	 * fanout keep decision. 0: none.
	 */
	uint64_t recipients;
	/*
	 * A fanout the caller performs: one wrap per recipient, and the
	 * sender draws each recipient's keep decision (baton_msg_send_wrap).
	 * Kept recipients' envelopes carry the fanout size, so receivers only
	 * continue the trace and never draw again. 0: no fanout. Takes
	 * precedence over recipients.
	 */
	uint64_t fanout;
	/* W3C baggage text to carry (NUL-terminated); NULL: the thread's
	 * current baggage when OTEL_PROPAGATORS includes "baggage". Borrowed
	 * until baton_msg_send_end. */
	const char *baggage;
	/* messaging.message.body.size, with BATON_MSG_BODY_SIZE. */
	size_t body_size;
} baton_msg_send_opts;

/*
 * A send in progress: caller-owned storage, from baton_msg_send_begin() to
 * baton_msg_send_end(). The fields marked "read" may be read; the others
 * are private.
 */
typedef struct baton_msg_send {
	/* read: the PRODUCER span (non-recording when not sampled). */
	baton_span span;
	/* read: the context the envelopes carry (the producer span's). */
	baton_span_context context;
	/* read: the last baton_msg_send_wrap() wrote a sampled envelope. */
	bool kept;
	/* read/write: recipients given a sampled envelope so far; a caller
	 * whose send of a kept message failed may lower it before the end. */
	uint64_t nkept;
	/* private */
	const char *baggage;
	uint64_t recipients, fanout;
	double keep;
	uint64_t threshold; /* of a kept recipient's envelope */
	uint32_t flags;
	uint8_t mode;
	uint16_t cache_len; /* bytes of the sampled envelope cached below */
	uint8_t cache[160];
} baton_msg_send;

/*
 * Starts a send: the producer span "send <destination>" (child of
 * opts->parent, else of the current span or context, else a root, as the
 * sampler decides) and the envelope's contents. s is written in every
 * case; after BATON_OK call baton_msg_send_end(s) exactly once. opts may
 * be NULL. Returns BATON_OK, BATON_EINVAL when s is NULL. Before
 * baton_init (or with the SDK disabled) the send is unsampled and costs
 * one 8-byte envelope. No allocation, no lock. One thread at a time per s.
 */
BATON_API baton_err baton_msg_send_begin(baton_msg_send *s,
                                         const baton_msg_send_opts *opts);

/*
 * Returns the largest number of bytes one baton_msg_send_wrap() of s can
 * write (8 for an unsampled send). For sizing the head room in front of a
 * payload. 0 when s is NULL.
 */
BATON_API size_t baton_msg_send_size(const baton_msg_send *s);

/*
 * Writes one recipient's envelope into buf (cap bytes) and its length into
 * *written; the payload goes right after it. For a send with opts.fanout,
 * each call is one recipient and draws its keep decision (s->kept says
 * which envelope it got). Tracestate and baggage that would not fit in
 * BATON_ENVELOPE_MAX are left out rather than failing the send. Returns
 * BATON_OK; BATON_EINVAL for NULL arguments; BATON_ENOSPACE when cap is
 * smaller than baton_msg_send_size(s) (nothing useful written). No
 * allocation, no lock.
 */
BATON_API baton_err baton_msg_send_wrap(baton_msg_send *s, void *buf, size_t cap,
                                        size_t *written);

/*
 * As baton_msg_send_wrap(), but writes the envelope ahead of payload, in
 * the headroom bytes before it (a buffer that reserved
 * baton_msg_send_size(s) bytes in front of the payload). On success the
 * message starts at (uint8_t *)payload - *written. Returns as
 * baton_msg_send_wrap(), BATON_ENOSPACE when headroom is too small.
 */
BATON_API baton_err baton_msg_send_wrap_before(baton_msg_send *s, void *payload,
                                               size_t headroom, size_t *written);

/*
 * Ends the send: sets baton.fanout.kept (s->nkept) on a fanout's producer
 * span, status ERROR with error as description when error is not NULL
 * (the message was not handed over), and ends the span. Calling it twice,
 * or on NULL, does nothing.
 */
BATON_API void baton_msg_send_end(baton_msg_send *s, const char *error);

/* Options of baton_msg_recv_open(). Zero-initialise; NULL means all defaults. */
typedef struct baton_msg_recv_opts {
	/* The scope of the consumer span; NULL: "baton.message". */
	baton_tracer *tracer;
	/* messaging.system; NULL: "baton". */
	const char *system;
	/* Span name "process <destination>" and messaging.destination.name. */
	const char *destination;
	/* BATON_MSG_* flags. */
	uint32_t flags;
} baton_msg_recv_opts;

/*
 * What a receive found: caller-owned storage written by
 * baton_msg_recv_open(). Pointers point into the received buffer and live
 * as long as it does, unchanged.
 */
typedef struct baton_msg_recv {
	/* The CONSUMER span, recording, or BATON_SPAN_NONE (not sampled,
	 * dropped by the fanout decision, bare, BATON_MSG_NO_SPAN, SDK not
	 * initialised). Ended by baton_msg_process or baton_span_end. */
	baton_span span;
	/*
	 * The context to run the handler in: BATON_CTX_REMOTE |
	 * BATON_CTX_DECIDED (+ VALID with ids, HAS_TH with a threshold, FANOUT
	 * after a fanout); trace_flags without SAMPLED when the message was
	 * not sampled or the fanout decision dropped it. tracestate points
	 * into the buffer or is NULL. All zero for a bare message.
	 */
	baton_span_context context;
	/* The payload: the buffer after the envelope (the whole buffer when bare). */
	const void *payload;
	size_t payload_len;
	/* The recipient count the envelope carried (either kind), 0 if none. */
	uint64_t recipients;
	/* The fanout keep probability applied to this message (1.0: none). */
	double keep;
	/* W3C baggage text, NUL-terminated, in the buffer; NULL: none (or
	 * OTEL_PROPAGATORS leaves "baggage" out). baggage_len: its length. */
	const char *baggage;
	size_t baggage_len;
	/* W3C tracestate (without ot), as context.tracestate; tracestate_len: its
	 * length. */
	const char *tracestate;
	size_t tracestate_len;
	/* BATON_OK, or why the message was treated as bare (BATON_ENOENV, ...). */
	baton_err envelope;
	/* Envelope bytes at the front of the buffer (0 for a bare message). */
	uint32_t envelope_size;
	/* private */
	uint32_t flags;
} baton_msg_recv;

/*
 * Receives one message of len bytes at buf: recognises the envelope from
 * the first bytes (the unsampled one by one 8-byte compare, no decoding),
 * otherwise checks and decodes it, draws the fanout keep decision when it
 * carries a recipient count, and starts the CONSUMER span for a sampled,
 * kept message (unless BATON_MSG_NO_SPAN). Writes *out in every case but
 * EINVAL. buf is never modified: out->payload is where the payload starts.
 * A message without a valid envelope (hostile, truncated, forged or bare)
 * is counted by reason (baton_msg_stats) and, in mixed mode, delivered
 * whole (out->payload == buf, out->envelope says why). Returns BATON_OK;
 * in strict mode the decoding error (BATON_ENOENV, BATON_EFORMAT, ...) for
 * a refused message; BATON_EINVAL for NULL out, or NULL buf with len > 0.
 * No allocation, no lock. Thread-safe.
 */
BATON_API baton_err baton_msg_recv_open(const void *buf, size_t len,
                                        const baton_msg_recv_opts *opts,
                                        baton_msg_recv *out);

/*
 * Starts the consumer span of a message opened with BATON_MSG_NO_SPAN, as
 * baton_msg_recv_open() would have (opts may differ, e.g. a destination
 * resolved only now). Does nothing when the message is not sampled or
 * already has a span. Returns r->span.
 */
BATON_API baton_span baton_msg_recv_start_span(baton_msg_recv *r,
                                               const baton_msg_recv_opts *opts);

/*
 * Makes r the thread's current context for its handler: the consumer span
 * when there is one, else the message's decision (so a handler's spans of
 * an unsampled message are not new roots), and the message's baggage as
 * the current baggage (hiding the thread's own). Returns a token for
 * baton_span_detach(); 0 when there was nothing to attach (a bare message
 * on a thread with no baggage, or no memory for the thread's first attach:
 * see baton_span_attach). Attaching baggage copies it (baton's allocator);
 * past a thread's first attach nothing else allocates. Call it on the
 * handler's thread.
 */
BATON_API uint32_t baton_msg_attach(const baton_msg_recv *r);

/*
 * Runs fn(arg) inside baton_msg_attach(r), detaches, sets status ERROR
 * when fn returns non-zero, and ends the consumer span (r->span becomes
 * BATON_SPAN_NONE). Returns fn's value; -1 when r or fn is NULL.
 */
BATON_API int baton_msg_process(baton_msg_recv *r, int (*fn)(void *arg), void *arg);

/*
 * Starts one CONSUMER span "process <destination>" for a batch or fan-in
 * of n messages opened with BATON_MSG_NO_SPAN: a child of the current
 * span (or a root, as the sampler decides), with a link to the producer
 * span of each sampled message (ctxs[i] = the context of message i;
 * contexts without ids or not sampled are skipped) and
 * messaging.batch.message_count = n. opts may be NULL. The caller ends the
 * span. Returns it, non-recording when not sampled. Thread-safe.
 */
BATON_API baton_span baton_msg_batch_start(const baton_span_context *ctxs, size_t n,
                                           const baton_msg_recv_opts *opts);

/*
 * The fanout keep decision, drawn here and nowhere else: returns true with
 * the keep probability of the installed fanout policy for recipients
 * (baton/sampling.h) and writes that probability into *keep when not NULL.
 * Senders of a fanout and receivers of a recipient count call it through
 * this layer; call it yourself only to decide like them. Per-thread
 * generator, no lock. Thread-safe.
 */
BATON_API bool baton_msg_fanout_draw(uint64_t recipients, double *keep);

/* ---- counters ---- */

/*
 * Counters since the process started: envelopes that receivers could not
 * read, by reason, and what receivers did with each message. Counted by
 * baton_msg_recv_open (and the transports over it); the envelope codec
 * (baton/envelope.h) itself keeps no state.
 */
typedef struct baton_msg_stats {
	uint64_t no_envelope;        /* BATON_ENOENV: bare messages */
	uint64_t truncated;          /* BATON_ETRUNCATED */
	uint64_t malformed;          /* BATON_EFORMAT */
	uint64_t version;            /* BATON_EVERSION */
	uint64_t too_big;            /* BATON_ETOOBIG */
	uint64_t refused;            /* messages a strict receiver refused */
	uint64_t stripped;           /* envelopes a receiver removed from a message */
	uint64_t passed_through;     /* messages a mixed receiver delivered untouched */
	uint64_t tracestate_dropped; /* tracestate extensions that broke the grammar */
	uint64_t baggage_dropped;    /* baggage extensions that broke the grammar */
} baton_msg_stats;

/* Copies the counters into *out (NULL: no-op). Relaxed reads. Thread-safe. */
BATON_API void baton_msg_stats_get(baton_msg_stats *out);
/* Zeroes the counters. Thread-safe (counts racing with it may be lost). */
BATON_API void baton_msg_stats_reset(void);

/*
 * Returns a number that changes at every baton_init() and baton_fini(), so
 * adapters can cache per-initialisation objects (a tracer pointer) and
 * notice when they went stale. Lock-free. Thread-safe.
 */
BATON_API uint64_t baton_msg_sdk_generation(void);

/* Source compatibility with the names these had in baton/envelope.h. */
typedef baton_msg_stats baton_envelope_stats;
#define baton_envelope_stats_get      baton_msg_stats_get
#define baton_envelope_stats_reset    baton_msg_stats_reset
#define baton_envelope_sdk_generation baton_msg_sdk_generation

#ifdef __cplusplus
}
#endif

#endif /* BATON_MESSAGE_H */
