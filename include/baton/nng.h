/*
 * baton/nng.h: tracing for NNG sockets (library baton::nng).
 *
 * Drop-in replacements for nng_sendmsg / nng_recvmsg and helpers for the
 * aio forms: a thin adapter over the message layer (baton/message.h),
 * which makes every tracing decision; this library only moves the
 * envelope on and off NNG message bodies. Every protocol that carries a body works: pair,
 * push/pull, pub/sub, req/rep, bus, surveyor/respondent, over any transport.
 *
 * Sender: starts a PRODUCER span "send <destination>" (the sampler decides:
 * child of the explicit or current context, or a root), puts the envelope
 * of baton/envelope.h at the front of the body (ids only when sampled),
 * sends, ends the span. Unsampled: an 8-byte envelope, no span, no ids, no
 * allocation but NNG's. The envelope goes into the head room in front of the
 * body, with no copy of the payload, when the message comes from
 * baton_nng_msg_alloc() (which reserves that room and tells the send so) or
 * from baton_nng_send(), on every NNG version. For other messages: from
 * NNG 1.8.0 likewise (nng_msg_alloc leaves 32 bytes of head room around
 * bodies under 1 KiB or not a power of two; a body without that room makes
 * NNG move it); before 1.8.0 (Debian 12 ships 1.5.2) nng_msg_insert is
 * unsafe on a message whose room baton cannot see, so the body grows into
 * the tail room and the payload is shifted: one more copy of the payload.
 *
 * Receiver: reads the first bytes. Unsampled: strips the envelope, no span,
 * no decoding. Sampled: applies the fanout decision when the envelope
 * carries a recipient count, decodes the ids and starts a CONSUMER span
 * "process <destination>" as the child of the producer span. The caller
 * gets the payload and the span and ends the span after handling
 * (baton_nng_process() does that around a handler).
 *
 * Spans carry the OpenTelemetry messaging attributes:
 *   messaging.system = "nng"
 *   messaging.operation.type = "send" | "process"
 *   messaging.operation.name = "send" | "process"
 *   messaging.destination.name = the destination (absent when unknown)
 *   messaging.message.body.size = payload bytes, envelope excluded
 *   baton.fanout.recipients = fanout size: on the producer span of a
 *     broadcast or of a send with opts.recipients, and on consumer spans of
 *     messages that carried a recipient count
 *   baton.fanout.kept = recipients of a broadcast that got a sampled envelope
 *   SampleRate = how many messages this span stands for (set by the SDK from
 *     the threshold: head probability x fanout keep probability)
 *
 * The destination is opts->destination, else the name given with
 * baton_nng_socket_set_name(), else the URL of the first baton_nng_listen()
 * or baton_nng_dial() on the socket; with none of these, spans are named
 * "send" / "process" and have no destination attribute.
 *
 * Return values are NNG's (0 or NNG_E*), so the calls replace NNG's one for
 * one. Thread rules are NNG's: sockets may be used from any thread.
 */
#ifndef BATON_NNG_H
#define BATON_NNG_H

#include <baton/baggage.h>
#include <baton/baton.h>
#include <baton/envelope.h>
#include <nng/nng.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a receiver treats messages without a (valid) envelope. */
typedef enum baton_nng_mode {
	/*
	 * Mixed rollout (default): a message without a valid envelope is
	 * delivered untouched as a bare message (info.envelope says why) and
	 * counted in baton_envelope_stats.
	 */
	BATON_NNG_MIXED = 0,
	/*
	 * Strict: a message without a valid envelope is refused: it is freed,
	 * counted (baton_envelope_stats.refused and the reason), and the call
	 * returns NNG_EPROTO.
	 */
	BATON_NNG_STRICT = 1,
} baton_nng_mode;

/* Options for sending. Zero-initialise; NULL options mean all defaults. */
typedef struct baton_nng_send_opts {
	/* messaging.destination.name and span name suffix (copied); NULL: see above. */
	const char *destination;
	/* Parent of the producer span; NULL: the thread's current span. */
	const baton_span_context *parent;
	/* BATON_START_* flags for the producer span (e.g. BATON_START_ROOT). */
	uint32_t start_flags;
	/*
	 * Approximate number of recipients (pub/sub subscribers, a fanout the
	 * transport performs). Stamped in the envelope of a sampled message;
	 * each receiver draws the fanout keep decision from it and may only
	 * continue the trace. 0: none.
	 */
	uint64_t recipients;
	/*
	 * W3C baggage text to carry (NUL-terminated). NULL: this thread's
	 * current baggage (baton/baggage.h), unless OTEL_PROPAGATORS leaves
	 * "baggage" out. Given here, it is carried whatever the propagators.
	 */
	const char *baggage;
} baton_nng_send_opts;

/* Options for receiving. Zero-initialise; NULL options mean all defaults. */
typedef struct baton_nng_recv_opts {
	/* Destination for the consumer span (copied); NULL: see above. */
	const char *destination;
	baton_nng_mode mode;
	/* BATON_NNG_RECV_* flags. */
	uint32_t flags;
} baton_nng_recv_opts;

/*
 * Decode the message's context into info.context (ids included) but start
 * no consumer span: for messages handled as a batch or a fan-in, whose one
 * span links to each message's producer (baton_nng_batch_start).
 */
#define BATON_NNG_RECV_NO_SPAN 0x01
/*
 * Mixed mode: also take version 1 envelopes (from senders not yet
 * upgraded). Their checks are weaker: about 1 in 20,000 random payloads
 * that start with 0xBA would be taken for one and lose their first bytes
 * (baton/envelope.h). Strict receivers always take them.
 */
#define BATON_NNG_RECV_READ_V1 0x02

/* What a receive found. */
typedef struct baton_nng_recv_info {
	/*
	 * The CONSUMER span, recording; BATON_SPAN_NONE when the message was
	 * not sampled, dropped by the fanout decision, bare, or the SDK is not
	 * initialised. The caller ends it (baton_span_end, or baton_nng_process).
	 */
	baton_span span;
	/*
	 * The decision the message carried: BATON_CTX_REMOTE|BATON_CTX_DECIDED
	 * (+ VALID with ids, FANOUT after a fanout), trace_flags without
	 * SAMPLED when not sampled or dropped by the fanout decision. All zero
	 * for a bare message. tracestate is always NULL here: the text is in
	 * info.tracestate.
	 */
	baton_span_context context;
	/* The recipient count the envelope carried (either kind), 0 if none. */
	uint64_t recipients;
	/* BATON_OK, or why the message was treated as bare (BATON_ENOENV, ...). */
	baton_err envelope;
	/* Envelope bytes that were stripped from the front of the body. */
	uint32_t envelope_size;
	/* Length of baggage (0: the message carried none). */
	uint32_t baggage_len;
	/*
	 * The message's W3C baggage text, NUL-terminated ("" when none, or when
	 * OTEL_PROPAGATORS leaves "baggage" out), copied out of the envelope
	 * before it is removed: it lives here, in info, and there is nothing
	 * to free. baton_nng_process() makes it the handler's current baggage;
	 * baton_baggage_attach_header(info.baggage, info.baggage_len) does the
	 * same for code that runs handlers itself.
	 */
	char baggage[BATON_BAGGAGE_SIZE];
	/* Length of tracestate (0: the message carried none). */
	uint32_t tracestate_len;
	/*
	 * The message's W3C tracestate (without the "ot" member, whose
	 * threshold is in context), NUL-terminated ("" when none), copied out
	 * of the envelope before it is removed.
	 */
	char tracestate[BATON_TRACESTATE_SIZE];
} baton_nng_recv_info;

/* Head room baton_nng_msg_alloc() reserves in front of the body, in bytes. */
#define BATON_NNG_MSG_HEADROOM 128

/*
 * Allocates a message with a body of size bytes (contents unspecified), as
 * nng_msg_alloc does, with BATON_NNG_MSG_HEADROOM bytes of head room
 * reserved for the envelope and a 16-byte tag in the message header that
 * tells baton's sends the room is there: they write the envelope into it
 * and copy no payload, on every NNG version. The send takes the tag off
 * before NNG sees the message. Use the body as with nng_msg_alloc; an
 * operation that moves the body (growing past its capacity, trimming,
 * nng_msg_insert) only loses the room, and the send then copies the
 * payload as for any other message. Send it with baton's functions
 * (baton_nng_sendmsg, baton_nng_send_aio, baton_nng_ctx_send,
 * baton_nng_msg_seal): plain nng_sendmsg would carry the tag as header
 * bytes, so call baton_nng_msg_untag() first on such a path. Returns 0,
 * NNG_EINVAL for a NULL msgp, NNG_ENOMEM; *msgp is written only on
 * success, and the caller owns the message (nng_msg_free frees it).
 * Thread-safe.
 */
BATON_API int baton_nng_msg_alloc(nng_msg **msgp, size_t size);

/*
 * Removes the tag of baton_nng_msg_alloc() from msg's header, for a
 * message that leaves through a path that is not baton's; the message
 * stays valid and its sends copy the payload once more. Does nothing for
 * NULL or a message without the tag.
 */
BATON_API void baton_nng_msg_untag(nng_msg *msg);

/*
 * Sends msg on s like nng_sendmsg (flags: NNG_FLAG_NONBLOCK), with a
 * producer span and an envelope. opts may be NULL. On success the message
 * belongs to the socket. On failure it stays the caller's, exactly as
 * given (the envelope is removed again), and the producer span ends with
 * status ERROR. Returns 0 or nng_sendmsg's error, NNG_EINVAL for a NULL
 * msg, NNG_ENOMEM when the envelope cannot be added. A message from
 * baton_nng_msg_alloc() keeps its tag on failure. Thread-safe.
 */
BATON_API int baton_nng_sendmsg(nng_socket s, nng_msg *msg, int flags,
                                const baton_nng_send_opts *opts);

/*
 * As nng_send without NNG_FLAG_ALLOC: copies len bytes of data into a new
 * message (baton_nng_msg_alloc, so the envelope costs no second copy) and
 * sends it with baton_nng_sendmsg. Returns 0 or an NNG error.
 */
BATON_API int baton_nng_send(nng_socket s, const void *data, size_t len, int flags,
                             const baton_nng_send_opts *opts);

/*
 * Receives like nng_recvmsg, then removes the envelope and, for a sampled
 * message, starts the consumer span (see baton_nng_msg_open). On success
 * *msgp holds the payload message (the caller owns it) and *info, when
 * info is not NULL, what was found; with info NULL no consumer span is
 * started (the envelope is still removed). Returns 0, nng_recvmsg's
 * error, or NNG_EPROTO when a strict receiver refused the message (freed).
 * Thread-safe.
 */
BATON_API int baton_nng_recvmsg(nng_socket s, nng_msg **msgp, int flags,
                                const baton_nng_recv_opts *opts,
                                baton_nng_recv_info *info);

/*
 * The receive step on a message already taken from NNG (any source: a
 * socket, a context, an aio): removes the envelope from the front of the
 * body and, when info is not NULL and the message is sampled and kept by
 * the fanout decision, starts the consumer span. The message stays the
 * caller's in every case; for a bare message (mixed mode) it is untouched.
 * Returns 0, NNG_EINVAL for a NULL msg, or NNG_EPROTO when strict mode
 * refuses it (untouched; counted). Thread-safe.
 */
BATON_API int baton_nng_msg_open(nng_msg *msg, const baton_nng_recv_opts *opts,
                                 baton_nng_recv_info *info);

/*
 * The send step without the send, for messages that leave through a path of
 * your own: starts the producer span (destination from opts only) and puts
 * the envelope at the front of msg's body. On success writes the span into
 * *span (a non-recording handle when not sampled): send the message, then end the
 * span. If the send fails, baton_nng_msg_unseal() gives the message back as
 * it was. Returns 0, NNG_EINVAL for NULL arguments, NNG_ENOMEM (msg
 * unchanged). Thread-safe.
 */
BATON_API int baton_nng_msg_seal(nng_msg *msg, const baton_nng_send_opts *opts,
                                 baton_span *span);

/*
 * Removes the envelope baton_nng_msg_seal() (or a failed baton send) put on
 * msg. Returns 0, or NNG_EINVAL when msg is NULL or starts with no valid
 * envelope (then it is unchanged).
 */
BATON_API int baton_nng_msg_unseal(nng_msg *msg);

/*
 * Runs fn(arg) with the received message's span attached as the thread's
 * current span (or, without a span, its decision: sends inside fn continue
 * an unsampled trace instead of starting roots) and the message's baggage
 * (info->baggage) as the current baggage: the handler sees the baggage of
 * its message and no other (baggage already on the thread is hidden while
 * fn runs), and sends inside fn carry it on. Then it detaches, sets
 * status ERROR when fn returns non-zero, and ends the span (info->span
 * becomes BATON_SPAN_NONE). Returns fn's value; EINVAL-like -1 when info
 * or fn is NULL. Call it on the thread that runs the handler.
 */
BATON_API int baton_nng_process(baton_nng_recv_info *info, int (*fn)(void *arg),
                                void *arg);

/*
 * Starts one CONSUMER span "process <destination>" for a batch (or fan-in)
 * of n messages received with BATON_NNG_RECV_NO_SPAN, as OpenTelemetry's
 * messaging conventions ask: a child of the thread's current span (or a
 * root, as the sampler decides) with a link to the producer span of each
 * sampled message (ctxs[i] = info.context of message i; contexts without
 * ids are skipped) and messaging.batch.message_count = n. destination may
 * be NULL. The caller ends the span. Returns the span, non-recording when
 * not sampled. Thread-safe.
 */
BATON_API baton_span baton_nng_batch_start(const baton_span_context *ctxs, size_t n,
                                           const char *destination);

/*
 * aio sending: takes the message set on aio (nng_aio_set_msg), adds the
 * envelope, and calls nng_send_aio / nng_ctx_send. The producer span
 * covers the hand-off to NNG and ends before this returns. In the aio
 * callback call baton_nng_send_aio_result() instead of nng_aio_result():
 * on failure it removes the envelope so the message in the aio is the one
 * you gave, as NNG's ownership rules expect. When the envelope cannot be
 * added (out of memory) the message is sent bare.
 */
BATON_API void baton_nng_send_aio(nng_socket s, nng_aio *aio,
                                  const baton_nng_send_opts *opts);
BATON_API void baton_nng_ctx_send(nng_ctx c, nng_aio *aio,
                                  const baton_nng_send_opts *opts);
/* nng_aio_result() for a baton send; see above. */
BATON_API int baton_nng_send_aio_result(nng_aio *aio);

/*
 * aio receiving: after nng_recv_aio / nng_ctx_recv completes, call this
 * (typically from the aio callback) instead of nng_aio_result +
 * nng_aio_get_msg. On success it takes the message out of the aio (the aio
 * no longer holds it), opens it as baton_nng_msg_open does and writes
 * *msgp. Returns 0, the aio's error, or NNG_EPROTO when strict mode
 * refused the message (freed). Use the aio from one thread at a time.
 */
BATON_API int baton_nng_recv_aio_result(nng_aio *aio, const baton_nng_recv_opts *opts,
                                        nng_msg **msgp, baton_nng_recv_info *info);

/*
 * Sends one payload (len bytes of data, copied) to each of n sockets with a
 * per-recipient fanout decision. One producer span "send <destination>"
 * carries baton.fanout.recipients = n. When it is sampled, each recipient
 * is kept with the fanout keep probability for n (baton/sampling.h): a
 * kept recipient's envelope carries the ids and a threshold encoding head
 * probability x keep probability (so its consumer span's SampleRate is
 * their inverse) and the fanout size (receivers continue only, never draw
 * again); a dropped one gets the 8-byte unsampled envelope and costs no
 * tracing work. The destination is opts->destination, else socks[0]'s
 * name.
 *
 * The sends are pipelined: every message is first offered without
 * blocking; those a recipient cannot take at once are sent on aios, up to
 * BATON_NNG_BROADCAST_INFLIGHT at the same time (a new one starts as soon
 * as one finishes), so slow recipients do not stall the others and the
 * memory in flight is bounded whatever n is. Each send waiting on an aio
 * is bounded by its socket's NNG_OPT_SENDTIMEO (10 s for a socket without
 * one), counted from when it starts; a recipient that has not taken its
 * message by then fails with NNG_ETIMEDOUT. So with fewer dead recipients
 * than BATON_NNG_BROADCAST_INFLIGHT the call returns within about one send
 * timeout after the live ones are served, and every live recipient gets
 * its message; each further BATON_NNG_BROADCAST_INFLIGHT dead recipients
 * add one send timeout. With NNG_FLAG_NONBLOCK in flags, a recipient that
 * cannot take the message at once fails with NNG_EAGAIN instead. Writes
 * the number of messages sent into *nsent when not NULL. Returns 0 when
 * every send succeeded, else the first error (the other sends are still
 * attempted); the producer span then has status ERROR and
 * baton.fanout.failed = the number of failed recipients. Thread-safe.
 */
/* Most sends of one broadcast in flight on aios at the same time. */
#define BATON_NNG_BROADCAST_INFLIGHT 4096

BATON_API int baton_nng_broadcast(const nng_socket *socks, size_t n, const void *data,
                                  size_t len, int flags, const baton_nng_send_opts *opts,
                                  size_t *nsent);
/*
 * baton_nng_broadcast() that also reports each recipient's result:
 * results[i] (n entries, when not NULL) gets 0 or the NNG error of the send
 * to socks[i] (NNG_ETIMEDOUT for a recipient that did not take it within
 * its send timeout).
 */
BATON_API int baton_nng_broadcast_ex(const nng_socket *socks, size_t n, const void *data,
                                     size_t len, int flags,
                                     const baton_nng_send_opts *opts, int *results,
                                     size_t *nsent);

/*
 * Gives socket s a destination name for its spans (copied, cut at 95
 * bytes). Set it before the socket carries messages; setting it again
 * replaces it. Any number of sockets may have names. A closed socket's
 * name is given back by itself, with nothing to call: before the name
 * table grows, names of sockets that NNG reports closed are removed (so
 * the table follows the sockets open at once). Looking a name up on send
 * and receive takes no lock. Returns 0, NNG_EINVAL, or NNG_ENOMEM when
 * the table cannot grow. Thread-safe.
 */
BATON_API int baton_nng_socket_set_name(nng_socket s, const char *name);

/*
 * nng_listen / nng_dial that also record url as the socket's destination
 * when it has none yet. Same arguments and return values as NNG's.
 */
BATON_API int baton_nng_listen(nng_socket s, const char *url, nng_listener *lp,
                               int flags);
BATON_API int baton_nng_dial(nng_socket s, const char *url, nng_dialer *dp, int flags);

#ifdef __cplusplus
}
#endif

#endif /* BATON_NNG_H */
