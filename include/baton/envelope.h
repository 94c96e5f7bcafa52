/*
 * baton/envelope.h: the compact binary envelope that carries trace context
 * at the front of a message body, for any runtime (NNG, actor mailboxes,
 * queues). The functions work on caller-owned buffers: they never allocate.
 *
 * ---- Byte layout (version 1) ----
 *
 *   offset size field
 *   0      1    magic 0xBA
 *   1      1    VVVV FFFF: version (high nibble, 1 today) and flags (low nibble)
 *                 0x01 S  sampled (W3C trace-flags bit 0)
 *                 0x02 R  random  (W3C Level 2 trace-flags bit 1)
 *                 0x04 I  ids present: trace id and parent span id follow
 *                 0x08 X  extensions present after the fixed part
 *   2      1    F: length of the fixed part, header included (4, or 28 with I)
 *   3      1    check: CRC-8 (polynomial 0x07, initial value 0) of bytes 0..2
 *   4      16   trace id         \ only with I
 *   20     8    parent span id   /  (the sender's span: the receiver's parent)
 *   F      1-2  with X: E, the length of the extension region (vlen)
 *   ...    E    with X: extension entries, each: type (1 byte), length
 *                 (vlen), value
 *
 *   vlen: one byte 0..127, or two bytes 0x80|(n >> 8), n & 0xFF for n up to
 *   32767.
 *
 *   Total length = F without X, F + size of vlen(E) + E with X; the payload
 *   starts right after. The whole envelope is at most BATON_ENVELOPE_MAX
 *   bytes.
 *
 *   Sizes: unsampled, no ids: 4 bytes (always BA 10 04 26). Sampled with no
 *   extension: 28 bytes (W3C's binary trace context is 29). Sampled at a
 *   head probability below 1 adds the threshold: 28 + 1 + 2 + up to 7.
 *
 * ---- Extensions (type: value) ----
 *
 *   0x01 recipients: the approximate number of recipients of this message
 *        (fanout size, pub/sub subscribers), unsigned big-endian, 1-8 bytes.
 *        Each receiver draws the fanout keep decision itself from it, and
 *        may only continue the trace (never start a root).
 *   0x02 threshold: the OTEP 235 rejection threshold T of the trace (56-bit,
 *        keep iff randomness >= T; adjusted count 2^56 / (2^56 - T)), as 7
 *        big-endian bytes with trailing zero bytes removed (0-7 bytes; 1% is
 *        fd 70 a4, 100% is empty). Absent: the receiver knows no threshold
 *        (a sampled parent without one counts as 100%).
 *   0x03 tracestate: W3C tracestate text without the "ot" member, followed
 *        by one NUL byte (so a reader can point into the buffer).
 *   0x04 baggage: W3C baggage text, followed by one NUL byte.
 *   0x05 fanout applied: the size of a fanout whose keep decision the sender
 *        already drew for this recipient (the threshold already includes
 *        it); unsigned big-endian, 1-8 bytes. The receiver does not draw
 *        again but still only continues the trace.
 *   Any other type is skipped by this reader (counted in unknown_extensions).
 *   A known type twice, or with a malformed value, is BATON_EFORMAT.
 *
 * ---- Versions ----
 *
 *   Versions 1-7 share this layout: a newer minor version may only make the
 *   fixed part longer (new fields after the ids, F a multiple of 4 and at
 *   most 64; this reader skips to F) and add extension types (this reader
 *   skips them). Versions 0 and 8-15 are incompatible: BATON_EVERSION.
 *
 * ---- Telling an envelope from a bare payload (mixed rollout) ----
 *
 *   A receiver in mixed mode accepts messages with and without an envelope.
 *   A message counts as enveloped only if all of these hold: byte 0 is 0xBA;
 *   the check byte matches bytes 0..2 (1 in 256 for random bytes); the
 *   version is 1-7 (7 in 16); F is exactly 4 or 28 as the I flag says (for
 *   version 1; for later ones at least that, a multiple of 4, at most 64); S
 *   implies I; the stated length fits the message; ids are not all zero;
 *   and the extension entries tile their region exactly. Of random 64-byte
 *   payloads that start with 0xBA, about 1 in 20,000 passes all of these
 *   (measured; the unit tests bound it); of random payloads, about 1 in 5
 *   million. Anything that fails is delivered as a bare message, untouched,
 *   and counted in baton_envelope_stats by the reason it failed. An
 *   unsampled header is stripped after the header checks alone: nothing
 *   behind it is decoded. A payload that
 *   by design starts with 0xBA followed by a valid-looking header can be
 *   mistaken: use strict mode (every sender wraps) or no envelope for it.
 *
 *   Strict mode requires an envelope: a message without a valid one is
 *   refused (BATON_ENOENV or the decoding error), counted, and never
 *   delivered as if it had been traced.
 */
#ifndef BATON_ENVELOPE_H
#define BATON_ENVELOPE_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_ENVELOPE_MAGIC   0xBA
#define BATON_ENVELOPE_VERSION 1
/* Size of the unsampled envelope without ids, and of a sampled one with no extension. */
#define BATON_ENVELOPE_UNSAMPLED_SIZE 4
#define BATON_ENVELOPE_SAMPLED_SIZE   28
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

/* baton_envelope.wrap_flags. */
/* Write the ids of an unsampled context even when the SDK option is off. */
#define BATON_ENV_WRAP_UNSAMPLED_IDS 0x01
/* Never write the ids of an unsampled context, whatever the SDK option says. */
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
	 * unsampled one only when the SDK propagates unsampled ids
	 * (baton_options.propagate_unsampled_ids) or wrap_flags asks; the
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
 * baggage, wrap_flags). An unsampled context gives the 4-byte envelope
 * (28 with ids). Returns BATON_OK; BATON_EINVAL when env, buf or written is
 * NULL; BATON_ENOSPACE when cap is too small (buf may have been written);
 * BATON_ETOOBIG when tracestate or baggage would make the envelope larger
 * than BATON_ENVELOPE_MAX. No allocation. Thread-safe.
 */
BATON_API baton_err baton_envelope_wrap(const baton_envelope *env, void *buf, size_t cap,
                                        size_t *written);

/*
 * Writes the 4-byte unsampled envelope (no ids) into buf, which must hold
 * BATON_ENVELOPE_UNSAMPLED_SIZE bytes. The fastest way to say "not sampled".
 */
BATON_API void baton_envelope_wrap_unsampled(void *buf);

/*
 * Reads the envelope header at the start of buf (len bytes) without
 * decoding ids or extensions: is it an envelope, is it sampled, how long is
 * it. Checks magic, check byte, version, fixed length and that the stated
 * length fits in len. Writes *out on success. Returns BATON_OK;
 * BATON_ENOENV when buf does not start with the magic (a bare message, or
 * len 0); BATON_ETRUNCATED when buf ends before the header or the stated
 * length; BATON_EFORMAT for a bad check byte or inconsistent fields;
 * BATON_EVERSION for an incompatible version; BATON_ETOOBIG when the stated
 * length exceeds BATON_ENVELOPE_MAX; BATON_EINVAL for NULL arguments. Every
 * error but EINVAL is counted in baton_envelope_stats. Never reads past
 * buf + len; buf is not modified. Thread-safe.
 */
BATON_API baton_err baton_envelope_peek(const void *buf, size_t len,
                                        baton_envelope_header *out);

/*
 * Decodes the envelope at the start of buf (len bytes) into *out: the
 * header checks of baton_envelope_peek() plus ids and every extension.
 * Unknown extensions are skipped. Pointers in *out (ctx.tracestate,
 * baggage) point into buf and live as long as it. Writes *out only on
 * success. Returns BATON_OK or the errors of baton_envelope_peek(), plus
 * BATON_EFORMAT for malformed extensions; errors are counted. buf is not
 * modified. No allocation. Thread-safe.
 */
BATON_API baton_err baton_envelope_unwrap(const void *buf, size_t len,
                                          baton_envelope *out);

/* Counters of envelopes that could not be read, by reason, since the process started. */
typedef struct baton_envelope_stats {
	uint64_t no_envelope; /* BATON_ENOENV: bare messages */
	uint64_t truncated;   /* BATON_ETRUNCATED */
	uint64_t malformed;   /* BATON_EFORMAT */
	uint64_t version;     /* BATON_EVERSION */
	uint64_t too_big;     /* BATON_ETOOBIG */
	uint64_t refused;     /* messages a strict receiver refused (runtime wrappers) */
} baton_envelope_stats;

/* Copies the counters into *out (NULL: no-op). Relaxed reads. Thread-safe. */
BATON_API void baton_envelope_stats_get(baton_envelope_stats *out);
/* Zeroes the counters. Thread-safe (counts racing with it may be lost). */
BATON_API void baton_envelope_stats_reset(void);
/* Counts one message refused by a strict receiver. For runtime wrappers. Thread-safe. */
BATON_API void baton_envelope_count_refused(void);

/*
 * Returns a number that changes at every baton_init() and baton_fini(), so
 * runtime wrappers can cache per-initialisation objects (a tracer pointer)
 * and notice when they went stale. Lock-free. Thread-safe.
 */
BATON_API uint64_t baton_envelope_sdk_generation(void);

#ifdef __cplusplus
}
#endif

#endif /* BATON_ENVELOPE_H */
