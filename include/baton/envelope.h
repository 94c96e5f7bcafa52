/*
 * baton/envelope.h: the compact binary envelope that carries trace context
 * at the front of a message body, for any runtime (NNG, actor mailboxes,
 * queues). The functions work on caller-owned buffers: they never allocate.
 *
 * The format (byte layout, extensions, versions, and how a mixed receiver
 * tells an envelope from a bare payload) is specified in one place:
 * docs/envelope.md. In short: an unsampled envelope is always the same 8
 * bytes (BA 20 08 FB 7B 12 9B CB), recognised with one compare; a sampled
 * one is 32 bytes plus optional extensions (recipients, threshold,
 * tracestate, baggage, fanout applied); every envelope but the constant
 * carries a CRC-8 of its header and a CRC-32C check word, and nothing is
 * stripped before every check has passed. The checks protect ordinary
 * payloads, not crafted ones: where payloads come from untrusted parties,
 * receive in strict mode (every sender wraps).
 *
 * These functions are pure codecs: they keep no state and read no SDK
 * option. Counting what receivers found (baton_msg_stats), the SDK's
 * propagate_unsampled_ids option and every sampling decision belong to the
 * message layer (baton/message.h), which runtimes should use.
 */
#ifndef BATON_ENVELOPE_H
#define BATON_ENVELOPE_H

#include <baton/trace.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_ENVELOPE_MAGIC   0xBA
#define BATON_ENVELOPE_VERSION 2
/* Size of the unsampled envelope without ids, and of a sampled one with no extension. */
#define BATON_ENVELOPE_UNSAMPLED_SIZE 8
#define BATON_ENVELOPE_SAMPLED_SIZE   32
/* The largest envelope this library writes or reads, in bytes. */
#define BATON_ENVELOPE_MAX 8192

/* Flag bits of byte 1 (low nibble). */
#define BATON_ENV_F_SAMPLED 0x01
#define BATON_ENV_F_RANDOM  0x02
#define BATON_ENV_F_IDS     0x04
#define BATON_ENV_F_EXT     0x08

/* Extension types. */
#define BATON_ENV_EXT_RECIPIENTS     0x01
#define BATON_ENV_EXT_THRESHOLD      0x02
#define BATON_ENV_EXT_TRACESTATE     0x03
#define BATON_ENV_EXT_BAGGAGE        0x04
#define BATON_ENV_EXT_FANOUT_APPLIED 0x05

/*
 * Read flags of baton_envelope_peek_ex() / baton_envelope_unwrap_ex().
 * BATON_ENV_READ_V1: also take version 1 envelopes, whose weaker checks are
 * safe only where every message carries an envelope (strict receivers).
 */
#define BATON_ENV_READ_V1 0x01

/* baton_envelope.dropped: text extensions that broke their grammar. */
#define BATON_ENV_DROPPED_TRACESTATE 0x01
#define BATON_ENV_DROPPED_BAGGAGE    0x02

/* baton_envelope.wrap_flags. */
/* Write the ids of an unsampled context (the message layer sets it when the
 * SDK propagates unsampled ids). */
#define BATON_ENV_WRAP_UNSAMPLED_IDS 0x01
/* Never write the ids of an unsampled context, even with UNSAMPLED_IDS. */
#define BATON_ENV_WRAP_NO_UNSAMPLED_IDS 0x02
/* Leave ctx.tracestate out. */
#define BATON_ENV_WRAP_NO_TRACESTATE 0x04

/*
 * What an envelope carries: input of baton_envelope_wrap(), output of
 * baton_envelope_unwrap(). Zero-initialise before filling it in.
 */
typedef struct baton_envelope {
	/*
	 * The trace context. Wrap: the sampled bit is trace_flags &
	 * BATON_FLAG_SAMPLED of a context with BATON_CTX_VALID or
	 * BATON_CTX_DECIDED; ids are written for a sampled context, and for an
	 * unsampled one only when wrap_flags asks (BATON_ENV_WRAP_UNSAMPLED_IDS);
	 * the
	 * threshold is written for a sampled context with BATON_CTX_HAS_TH and
	 * a threshold above 0; tracestate when not NULL or empty. A context
	 * without a decision is written as unsampled.
	 * Unwrap: state is BATON_CTX_REMOTE | BATON_CTX_DECIDED, plus
	 * BATON_CTX_VALID with ids, BATON_CTX_HAS_TH with a threshold and
	 * BATON_CTX_FANOUT with a recipients or fanout-applied extension;
	 * tracestate points into the buffer (NUL-terminated) or is NULL.
	 */
	baton_span_context ctx;
	/* Extension 0x01 (0: absent). Wrap writes it only for a sampled context. */
	uint64_t recipients;
	/* Extension 0x05 (0: absent). Wrap writes it only for a sampled context. */
	uint64_t fanout_applied;
	/* Extension 0x04, NUL-terminated (NULL: absent); unwrap points into the buffer.
	 */
	const char *baggage;
	/* Wrap: BATON_ENV_WRAP_* bits. Ignored by unwrap. */
	uint32_t wrap_flags;
	/* Unwrap: extension entries of unknown type that were skipped. */
	uint32_t unknown_extensions;
	/* Unwrap: the envelope's length in bytes; the payload starts there. */
	uint16_t length;
	/* Unwrap: the version nibble read. */
	uint8_t version;
	/* Unwrap: the flag bits read (BATON_ENV_F_*). */
	uint8_t flags;
	/* Unwrap: BATON_ENV_DROPPED_* bits for extensions that were dropped. */
	uint8_t dropped;
} baton_envelope;

/* What baton_envelope_peek() reads without decoding. */
typedef struct baton_envelope_header {
	uint16_t length; /* envelope bytes in all; the payload starts there */
	uint8_t version;
	uint8_t flags; /* BATON_ENV_F_* */
} baton_envelope_header;

/*
 * Returns the number of bytes baton_envelope_wrap() would write for env, or
 * 0 when env is NULL or the envelope would exceed BATON_ENVELOPE_MAX.
 * Thread-safe.
 */
BATON_API size_t baton_envelope_size(const baton_envelope *env);

/*
 * Writes the envelope for env into buf (cap bytes) and its length into
 * *written. Reads only env's wrap fields (ctx, recipients, fanout_applied,
 * baggage, wrap_flags). An unsampled context gives the 8-byte envelope
 * (32 with ids). Returns BATON_OK; BATON_EINVAL when env, buf or written is
 * NULL; BATON_ENOSPACE when cap is too small (buf may have been written);
 * BATON_ETOOBIG when tracestate or baggage would make the envelope larger
 * than BATON_ENVELOPE_MAX. No allocation. Thread-safe.
 */
BATON_API baton_err baton_envelope_wrap(const baton_envelope *env, void *buf, size_t cap,
                                        size_t *written);

/*
 * Writes the unsampled envelope (no ids) into buf, which must hold
 * BATON_ENVELOPE_UNSAMPLED_SIZE bytes. The fastest way to say "not sampled".
 */
BATON_API void baton_envelope_wrap_unsampled(void *buf);

/*
 * Tells whether buf (len bytes) starts with a valid envelope and how long
 * it is, without decoding ids or extension values: the 8-byte unsampled
 * envelope is recognised by one compare; any other must pass every check
 * of "Telling an envelope from a bare payload" above (check words, ids not
 * zero, extension tiling), so a success means the envelope may be
 * stripped. Writes *out on success. Returns BATON_OK; BATON_ENOENV when buf
 * does not start with the magic (a bare message, or len 0);
 * BATON_ETRUNCATED when buf ends before the header or the stated length;
 * BATON_EFORMAT for a check word that does not match or inconsistent
 * fields; BATON_EVERSION for an incompatible version (and version 1 without
 * BATON_ENV_READ_V1); BATON_ETOOBIG when the stated length exceeds
 * BATON_ENVELOPE_MAX; BATON_EINVAL for NULL arguments. Nothing is
 * counted here (baton_msg_recv_open counts). Never reads past buf + len;
 * buf is not modified. Thread-safe.
 */
BATON_API baton_err baton_envelope_peek_ex(const void *buf, size_t len,
                                           uint32_t read_flags,
                                           baton_envelope_header *out);
/* baton_envelope_peek_ex() with no read flags. */
BATON_API baton_err baton_envelope_peek(const void *buf, size_t len,
                                        baton_envelope_header *out);

/*
 * Decodes the envelope at the start of buf (len bytes) into *out: the
 * checks of baton_envelope_peek_ex(), then ids and every extension.
 * Unknown extensions are skipped; a tracestate or baggage that breaks its
 * grammar is dropped (out->dropped says which) while the rest is kept. Pointers in *out
 * (ctx.tracestate, baggage) point into buf and live as long as it. Writes *out only on
 * success. Returns BATON_OK or the errors of baton_envelope_peek_ex(), plus BATON_EFORMAT
 * for malformed extension entries. buf is not
 * modified. No allocation. Thread-safe.
 */
BATON_API baton_err baton_envelope_unwrap_ex(const void *buf, size_t len,
                                             uint32_t read_flags, baton_envelope *out);
/* baton_envelope_unwrap_ex() with no read flags. */
BATON_API baton_err baton_envelope_unwrap(const void *buf, size_t len,
                                          baton_envelope *out);

#ifdef __cplusplus
}
#endif

#endif /* BATON_ENVELOPE_H */
