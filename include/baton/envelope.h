/*
 * baton/envelope.h: the compact binary envelope that carries trace context
 * at the front of a message body, for any runtime (NNG, actor mailboxes,
 * queues). The functions work on caller-owned buffers: they never allocate.
 *
 * ---- Byte layout (version 2) ----
 *
 *   offset size field
 *   0      1    magic 0xBA
 *   1      1    VVVV FFFF: version (high nibble, 2 today) and flags (low nibble)
 *                 0x01 S  sampled (W3C trace-flags bit 0)
 *                 0x02 R  random  (W3C Level 2 trace-flags bit 1)
 *                 0x04 I  ids present: trace id and parent span id follow
 *                 0x08 X  extensions present after the fixed part
 *   2      1    F: length of the fixed part, header and check word included
 *                 (8, or 32 with I)
 *   3      1    H: CRC-8 (polynomial 0x07, initial value 0) of bytes 0..2
 *   4      16   trace id         \ only with I
 *   20     8    parent span id   /  (the sender's span: the receiver's parent)
 *   F-4    4    C: CRC-32C (Castagnoli, as in iSCSI: reflected polynomial
 *                 0x82F63B78, initial value and final XOR 0xFFFFFFFF),
 *                 big-endian, of the whole envelope except these four
 *                 bytes: bytes 0..F-5 and F..end (the extension region
 *                 included)
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
 *   Sizes: unsampled, no ids: 8 bytes, always the same ones
 *   (BA 20 08 FB 7B 12 9B CB): a receiver recognises "not sampled" with one
 *   8-byte compare and decodes nothing. Sampled with no extension: 32 bytes.
 *   Sampled at a head probability below 1 adds the threshold: 32 + 1 + 2 +
 *   up to 7.
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
 *   A known type twice, or a number of the wrong size, is BATON_EFORMAT.
 *   Text that breaks its grammar (tracestate: W3C Trace Context, at most
 *   512 characters and 32 members, no "ot" member; baggage: W3C Baggage, at
 *   most 8192 bytes and 64 members) is dropped by the reader
 *   (baton_envelope.dropped; receivers count it in
 *   baton_msg_stats.tracestate_dropped / baggage_dropped); the
 *   envelope, its ids and the message are kept.
 *
 * ---- Layering ----
 *
 *   These functions are pure codecs: they keep no state and read no SDK
 *   option. Counting what receivers found (baton_msg_stats), the SDK's
 *   propagate_unsampled_ids option and every sampling decision belong to
 *   the message layer (baton/message.h), which runtimes should use.
 *
 * ---- Versions ----
 *
 *   Versions 2-7 share this layout: a newer version may only make the fixed
 *   part longer (new fields between the ids and the check word; F a multiple
 *   of 4 and at most 64; this reader skips them) and add extension types
 *   (this reader skips them). Versions 0 and 8-15 are incompatible:
 *   BATON_EVERSION.
 *
 *   Version 1 had no check word (F was 4 or 28) and its unsampled envelope
 *   was BA 10 04 26. Its checks let about 1 in 20,000 random payloads that
 *   start with 0xBA pass, so this reader takes version 1 only when told that
 *   every message carries an envelope (BATON_ENV_READ_V1: strict receivers
 *   do); otherwise it is BATON_EVERSION and the message stays bare. A
 *   version 1 reader reads version 2 envelopes (it skips to F and ignores
 *   the check word), so senders can be upgraded first.
 *
 * ---- Telling an envelope from a bare payload (mixed rollout) ----
 *
 *   A receiver in mixed mode accepts messages with and without an envelope.
 *   A message counts as enveloped only if it starts with the 8-byte
 *   unsampled envelope, or if all of these hold: byte 0 is 0xBA; H matches;
 *   the version is 2-7; F is 8 or 32 as the I flag says (for version 2; for
 *   later ones at least that, a multiple of 4, at most 64); S implies I; the
 *   stated length fits the message; C matches; ids are not all zero; and
 *   the extension entries tile their region exactly. Nothing is stripped
 *   before all of these passed. A random payload that starts with 0xBA
 *   passes with probability below 2^-39 (the constant: 2^-56; otherwise H
 *   and C alone: 2^-40), a random payload below 2^-47; in 100 million
 *   random payloads starting with 0xBA none passed (the unit tests and
 *   baton_bench measure it). Anything that fails is delivered as a bare
 *   message, untouched, and counted in baton_msg_stats (baton/message.h) by
 *   the reason it failed.
 *
 *   The checks protect ordinary payloads, not crafted ones: anyone can
 *   compute the check words, so a payload that an attacker controls and that
 *   is sent without an envelope can carry a valid-looking one. Use strict
 *   mode (every sender wraps; the attacker's bytes are then payload behind
 *   the sender's envelope) where payloads come from untrusted parties.
 *
 *   Strict mode requires an envelope: a message without a valid one is
 *   refused (BATON_ENOENV or the decoding error), counted, and never
 *   delivered as if it had been traced.
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
