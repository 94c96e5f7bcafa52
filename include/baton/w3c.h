/*
 * baton/w3c.h: W3C Trace Context (Level 2) text propagation.
 *
 * traceparent: "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>",
 * 55 characters, lowercase hex only. All-zero ids are invalid, version ff is
 * invalid; a higher version is read as 00 from its first 55 characters,
 * which must be followed by the end of the value or a '-'. Flags: 0x01
 * sampled, 0x02 random (the rightmost 7 bytes of the trace id are random);
 * other bits are ignored on input and never written.
 *
 * tracestate: up to 32 list members "key=value" separated by commas, with
 * optional spaces and tabs around members and empty members allowed. Keys
 * follow Trace Context Level 2: a lowercase letter or digit, then up to 255
 * of a-z 0-9 _ - * / @ (the older "tenant@system" split is gone, so "foo@"
 * and "a@b@c" are keys; "@foo" is not). Values are 1 to 256 printable
 * ASCII characters (0x20-0x7E) other than ',' and '=' and do not end with a
 * space. A key that repeats keeps its first occurrence and the later ones
 * are left out; the header stays valid (the spec lets a vendor discard
 * duplicates). More than 32 members (duplicates counted) or a member that
 * breaks the grammar makes the tracestate invalid: it is dropped as a
 * whole and the traceparent is kept.
 *
 * The OpenTelemetry "ot" member (OTEP 235) carries "th:<1-14 hex>" (the
 * sampling rejection threshold, trailing zeros removed; "th:0" is 100%)
 * and "rv:<14 hex>" (explicit randomness), as ';'-separated sub-keys.
 * A baton_span_context holds the threshold (BATON_CTX_HAS_TH) and the rest
 * of the tracestate without the ot member; baton_w3c_inject() writes ot=th
 * back in front.
 *
 * Nothing here allocates. All functions are thread-safe on distinct
 * objects; one thread at a time per baton_tracestate.
 */
#ifndef BATON_W3C_H
#define BATON_W3C_H

#include <baton/trace.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of a version-00 traceparent, and the buffer it needs (with NUL). */
#define BATON_TRACEPARENT_LEN  55
#define BATON_TRACEPARENT_SIZE 56
/* tracestate limits from the spec. */
#define BATON_TRACESTATE_MAX_MEMBERS 32
#define BATON_TRACESTATE_MAX_KEY     256
#define BATON_TRACESTATE_MAX_VALUE   256
/* Longest tracestate baton sends: the spec asks to propagate at least 512. */
#define BATON_TRACESTATE_MAX_LEN 512
/* A buffer that holds any tracestate baton writes (with NUL). */
#define BATON_TRACESTATE_SIZE (BATON_TRACESTATE_MAX_LEN + 1)
/* Entries longer than this are the first dropped when a tracestate is cut. */
#define BATON_TRACESTATE_LONG_ENTRY 128

/*
 * Parses a traceparent value of len bytes (no surrounding whitespace; see
 * baton_w3c_extract for header values that may have it). On success *out
 * gets the ids, trace_flags (sampled and random bits only), state =
 * VALID|REMOTE|DECIDED, threshold 0 and tracestate NULL.
 * Returns BATON_OK; BATON_EFORMAT for a bad shape, separator, non-lowercase
 * hex or a version-00 value longer than 55; BATON_EVERSION for version ff;
 * BATON_ETRUNCATED when shorter than 55; BATON_EINVAL for an all-zero id or
 * a NULL argument. *out is untouched on error. No allocation. Thread-safe.
 */
BATON_API baton_err baton_traceparent_parse(const char *s, size_t len,
                                            baton_span_context *out);

/*
 * The fast path: decides "sampled or not" from the flags digit after a
 * cheap shape check (length, dashes, version, flag digits), without
 * decoding the ids. Returns 1 when sampled, 0 when not sampled (a receiver
 * may then skip baton_traceparent_parse), -1 when s is not a traceparent.
 * A 1 does not promise the full parse succeeds. Thread-safe.
 */
BATON_API int baton_traceparent_sampled(const char *s, size_t len);

/*
 * Writes ctx as a version-00 traceparent: 55 characters and a NUL, so cap
 * must be at least BATON_TRACEPARENT_SIZE. Only the sampled and random flag
 * bits are written. Returns BATON_OK, BATON_EINVAL when ctx is NULL or not
 * valid (no ids), BATON_ENOSPACE when cap is too small (out untouched).
 */
BATON_API baton_err baton_traceparent_format(const baton_span_context *ctx, char *out,
                                             size_t cap);

/* ---- tracestate ---- */

/* One member: offset of "key=value" in the buffer, key and value lengths. */
typedef struct baton_tracestate_member {
	uint32_t off;
	uint16_t key_len;
	uint16_t value_len;
} baton_tracestate_member;

/*
 * A parsed tracestate: up to 32 members, leftmost first, whose text lives
 * in a buffer the caller provides (no hidden allocation). A plain value:
 * zero it or call baton_tracestate_init(); it needs no fini. The buffer
 * must outlive the object; BATON_TRACESTATE_SIZE bytes hold any tracestate
 * that fits a header baton sends, parsing larger input needs a larger one.
 */
typedef struct baton_tracestate {
	char *buf;
	size_t cap;
	size_t used;
	uint32_t count;
	baton_tracestate_member members[BATON_TRACESTATE_MAX_MEMBERS];
} baton_tracestate;

/* Makes ts an empty list stored in buf (cap bytes). Borrows buf. */
BATON_API void baton_tracestate_init(baton_tracestate *ts, char *buf, size_t cap);

/*
 * Parses the tracestate sent as n header lines (repeated HTTP headers are
 * one list joined with commas, RFC 7230) into ts, replacing what it held;
 * ts must have been initialised with its buffer. values[i] has lens[i]
 * bytes; lens may be NULL for NUL-terminated values. Empty lines and empty
 * members are fine; an empty result is a valid, empty list.
 * A key that repeats keeps its first occurrence (later ones are left out).
 * Returns BATON_OK; BATON_EFORMAT when any member breaks the grammar or
 * there are more than 32 members, duplicates counted (the whole tracestate
 * is then invalid and must be dropped); BATON_ENOSPACE when the member text
 * does not fit ts's buffer; BATON_EINVAL for NULL arguments. ts is
 * untouched on error.
 */
BATON_API baton_err baton_tracestate_parse_lines(baton_tracestate *ts,
                                                 const char *const *values,
                                                 const size_t *lens, size_t n);
/* As baton_tracestate_parse_lines() with one value of len bytes. */
BATON_API baton_err baton_tracestate_parse(baton_tracestate *ts, const char *s,
                                           size_t len);

/* Returns true when key / value (len bytes each) match the tracestate grammar. */
BATON_API bool baton_tracestate_key_valid(const char *key, size_t len);
BATON_API bool baton_tracestate_value_valid(const char *value, size_t len);

/* Number of members. */
BATON_API size_t baton_tracestate_count(const baton_tracestate *ts);

/*
 * Reads member i (0 = leftmost): *key / *value point into ts's buffer and
 * are not NUL-terminated. Returns BATON_OK, or BATON_EINVAL past the end
 * (outputs untouched).
 */
BATON_API baton_err baton_tracestate_member_get(const baton_tracestate *ts, size_t i,
                                                const char **key, size_t *key_len,
                                                const char **value, size_t *value_len);

/*
 * Returns the value of key (NUL-terminated) as a pointer into ts's buffer
 * (not NUL-terminated) and its length in *len, or NULL when absent. The
 * pointer is valid until ts changes.
 */
BATON_API const char *baton_tracestate_get(const baton_tracestate *ts, const char *key,
                                           size_t *len);

/*
 * Sets key to value (value_len bytes) and moves it to the front, as the
 * spec wants for a modified or new key. A new key on a full list (32)
 * removes the rightmost member. value may point into ts's own buffer.
 * Returns BATON_OK; BATON_EINVAL for a key or value that breaks the
 * grammar; BATON_ENOSPACE when the buffer cannot hold it (ts unchanged).
 */
BATON_API baton_err baton_tracestate_set(baton_tracestate *ts, const char *key,
                                         const char *value, size_t value_len);

/* Removes key. Returns true when it was there. */
BATON_API bool baton_tracestate_delete(baton_tracestate *ts, const char *key);

/*
 * Writes the list as a header value "k=v,k2=v2" with a NUL into out. The
 * result is at most min(cap - 1, BATON_TRACESTATE_MAX_LEN) characters: when
 * the list is longer, whole members are left out, first those longer than
 * 128 characters (from the right), then from the right (as the spec says).
 * *len_out (may be NULL) gets the length written. Returns BATON_OK, or
 * BATON_EINVAL when out is NULL or cap is 0.
 */
BATON_API baton_err baton_tracestate_format(const baton_tracestate *ts, char *out,
                                            size_t cap, size_t *len_out);

/* ---- OpenTelemetry "ot" member (OTEP 235) ---- */

/*
 * Reads the "th" sub-key of an ot member value (e.g. "th:fd70a4;rv:...")
 * into *th (56-bit rejection threshold: hex digits padded with zeros on the
 * right to 14 digits). Returns BATON_OK, BATON_ENOENV when there is no th,
 * BATON_EFORMAT when th is not 1-14 lowercase hex digits or the value is
 * not a ';'-list of "key:value".
 */
BATON_API baton_err baton_ot_value_th(const char *ot, size_t len, uint64_t *th);
/* As baton_ot_value_th for "rv" (exactly 14 lowercase hex digits). */
BATON_API baton_err baton_ot_value_rv(const char *ot, size_t len, uint64_t *rv);

/* The same, looking up the ot member of ts. BATON_ENOENV: no ot or no sub-key. */
BATON_API baton_err baton_tracestate_ot_th(const baton_tracestate *ts, uint64_t *th);
BATON_API baton_err baton_tracestate_ot_rv(const baton_tracestate *ts, uint64_t *rv);

/*
 * Writes th as OTEP 235 hex with trailing zeros removed ("0" for 0, "fd70a4"
 * for 1%): at most 14 characters + NUL, so cap >= 15 always fits.
 * Returns BATON_OK, BATON_EINVAL when th >= 2^56, BATON_ENOSPACE.
 */
BATON_API baton_err baton_ot_th_format(uint64_t th, char *out, size_t cap);

/*
 * Sets th in ts's ot member (creating it), keeping the other ot sub-keys
 * after it, and moves ot to the front. Returns as baton_tracestate_set, and
 * BATON_EINVAL for th >= 2^56.
 */
BATON_API baton_err baton_tracestate_ot_set_th(baton_tracestate *ts, uint64_t th);

/* ---- span contexts ---- */

/*
 * Extracts a remote parent context from header values: traceparent (tp_len
 * bytes) and tracestate given as n_ts lines (repeated headers; NULL/0 when
 * absent). Spaces and tabs around each value are ignored.
 * On success *out is the parsed traceparent, plus BATON_CTX_HAS_TH and
 * threshold when the tracestate has a valid ot=th, and out->tracestate =
 * ts_buf holding the tracestate without its ot member (NULL when that is
 * empty, or when the tracestate was invalid and so dropped, or when ts_buf
 * is NULL). ts_buf (ts_cap bytes, BATON_TRACESTATE_SIZE is enough) is
 * borrowed by *out; a tracestate longer than fits is cut by whole members.
 * Returns BATON_OK, or the traceparent's parse error (then the tracestate
 * is not looked at and *out is untouched). No allocation. Thread-safe.
 */
BATON_API baton_err baton_w3c_extract_lines(const char *traceparent, size_t tp_len,
                                            const char *const *ts_lines,
                                            const size_t *ts_lens, size_t n_ts,
                                            baton_span_context *out, char *ts_buf,
                                            size_t ts_cap);
/* As baton_w3c_extract_lines with one tracestate value (may be NULL). */
BATON_API baton_err baton_w3c_extract(const char *traceparent, size_t tp_len,
                                      const char *tracestate, size_t ts_len,
                                      baton_span_context *out, char *ts_buf,
                                      size_t ts_cap);

/*
 * Writes the header values for ctx, or for this thread's current context
 * when ctx is NULL: traceparent into tp_out (tp_cap >= 56) and tracestate
 * into ts_out ("ot=th:<hex>" first when ctx has BATON_CTX_HAS_TH, then
 * ctx->tracestate without any ot member; an invalid ctx->tracestate is
 * left out; "" when there is nothing to send). ts_out may be NULL to skip
 * tracestate; the tracestate is cut by whole members to fit ts_cap and
 * BATON_TRACESTATE_MAX_LEN. Returns BATON_OK; BATON_EINVAL when the context
 * has no ids (nothing is written); BATON_ENOSPACE when tp_cap < 56 or
 * ts_cap is 0 with ts_out set. Outputs are written only on success.
 */
BATON_API baton_err baton_w3c_inject(const baton_span_context *ctx, char *tp_out,
                                     size_t tp_cap, char *ts_out, size_t ts_cap);

/* ---- propagators (OTEL_PROPAGATORS) ---- */

#define BATON_PROPAGATOR_TRACECONTEXT 0x01 /* traceparent / tracestate headers */
#define BATON_PROPAGATOR_BAGGAGE      0x02 /* the baggage header and envelope baggage */

/*
 * Returns the propagators baton_init() read from OTEL_PROPAGATORS, a comma
 * list of "tracecontext", "baggage" and "none" (default and when unset or
 * empty: "tracecontext,baggage"; "none" anywhere: nothing; names are
 * matched in any case with spaces around them ignored; any other name is
 * ignored with one warning per process). Before baton_init(): the
 * default. Lock-free. Thread-safe.
 *
 * Where they apply:
 * - baton::http: inject writes, and extract / baton_http_server_begin()
 *   read, traceparent and tracestate only with TRACECONTEXT and baggage
 *   only with BAGGAGE.
 * - baton::nng: without BAGGAGE a send carries no current-context baggage
 *   (baggage given in baton_nng_send_opts still goes) and a receive ignores
 *   the baggage of a message. The envelope always carries the trace
 *   context: it is baton's own format, not a W3C header, and receivers
 *   need its sampling decision (a message without it would be refused by
 *   strict receivers or start new traces).
 * - baton_w3c_extract() / baton_w3c_inject() and the baggage functions are
 *   building blocks and do what they are asked whatever the setting.
 */
BATON_API uint32_t baton_propagators(void);

#ifdef __cplusplus
}
#endif

#endif /* BATON_W3C_H */
