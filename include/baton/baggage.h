/*
 * baton/baggage.h: W3C Baggage (header "baggage") and the baggage of this
 * thread's current context.
 *
 * A baggage-string is a comma-separated list of members
 * "key=value;property;property=value": keys (and property keys) are HTTP
 * tokens, values are percent-encoded UTF-8, spaces and tabs are allowed
 * around separators. A platform must propagate at least 64 members and
 * 8192 bytes; baton propagates exactly that much and leaves out members
 * past it (counted in baton_baggage.dropped when parsing).
 *
 * Parsing percent-decodes values: a percent sequence that is not UTF-8
 * becomes U+FFFD, a '%' not followed by two hex digits stays a '%'.
 * Formatting percent-encodes every byte of a value that is not a
 * baggage-octet, and '%' itself, so a formatted list parses back to the
 * same entries. Properties are kept as written (spaces around the text
 * trimmed) and are not decoded. A key that repeats keeps its first
 * occurrence.
 *
 * Two forms:
 * - baton_baggage, a plain value whose text lives in a buffer the caller
 *   gives (no hidden allocation), like baton_tracestate;
 * - the current context's baggage: baton_baggage_set/get/remove act on
 *   this thread's current context (baton/trace.h attach/detach). An
 *   attach inherits the baggage of the context it is attached over; a
 *   set or remove gives the current context a changed copy and leaves the
 *   one below alone, so baton_span_detach() restores the previous
 *   baggage. With nothing attached they act on the thread's base context.
 *   Attaching and detaching a span costs nothing extra for baggage; only
 *   set/remove/attach of baggage allocate (with baton's allocator). A
 *   thread's baggage is freed when it is detached, replaced or the thread
 *   exits.
 *
 * The current baggage is carried by baton::nng (the envelope) and
 * baton::http (the baggage header) unless OTEL_PROPAGATORS leaves
 * "baggage" out (baton/w3c.h, baton_propagators()).
 */
#ifndef BATON_BAGGAGE_H
#define BATON_BAGGAGE_H

#include <baton/trace.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The limits every platform must propagate (and baton propagates no more). */
#define BATON_BAGGAGE_MAX_MEMBERS 64
#define BATON_BAGGAGE_MAX_LEN     8192
/* A buffer that holds any formatted baggage-string, with its NUL. */
#define BATON_BAGGAGE_SIZE (BATON_BAGGAGE_MAX_LEN + 1)
/* A baton_baggage buffer this large holds any list within the limits. */
#define BATON_BAGGAGE_BUF_SIZE (BATON_BAGGAGE_MAX_LEN + 3 * BATON_BAGGAGE_MAX_MEMBERS)

/*
 * One entry as read: pointers into the list's buffer, each also
 * NUL-terminated (a decoded value may itself contain a NUL byte: use
 * value_len). properties is "" when the member has none.
 */
typedef struct baton_baggage_entry {
	const char *key;
	size_t key_len;
	const char *value; /* percent-decoded, well-formed UTF-8 */
	size_t value_len;
	const char *properties; /* as written, e.g. "ttl=3;secret" */
	size_t properties_len;
} baton_baggage_entry;

/* Where member i lives in the buffer: key, value, properties, each with a NUL. */
typedef struct baton_baggage_member {
	uint32_t off;
	uint16_t key_len;
	uint16_t value_len;
	uint16_t properties_len;
	uint16_t reserved;
} baton_baggage_member;

/*
 * A baggage list: up to 64 members in the order read or added, whose text
 * lives in a caller's buffer. Zero it or call baton_baggage_init(); no
 * fini. The buffer must outlive it; BATON_BAGGAGE_BUF_SIZE bytes hold any
 * list within the limits.
 */
typedef struct baton_baggage {
	char *buf;
	size_t cap;
	size_t used;
	uint32_t count;
	/* Members the last parse left out because of the limits (64, 8192 bytes). */
	uint32_t dropped;
	baton_baggage_member members[BATON_BAGGAGE_MAX_MEMBERS];
} baton_baggage;

/* Makes bg an empty list stored in buf (cap bytes). Borrows buf. */
BATON_API void baton_baggage_init(baton_baggage *bg, char *buf, size_t cap);

/*
 * Parses baggage sent as n header lines (repeated headers are one list)
 * into bg, replacing what it held. values[i] has lens[i] bytes; lens may be
 * NULL for NUL-terminated values; blank lines are skipped. Members past 64
 * or past 8192 formatted bytes are left out and counted in bg->dropped, as
 * is a member longer than 8192 bytes.
 * Returns BATON_OK; BATON_EFORMAT when a line breaks the grammar (nothing
 * of it is taken: an invalid header is dropped whole); BATON_ENOSPACE when
 * the buffer is too small; BATON_EINVAL for NULL arguments. bg is untouched
 * on error. No allocation. Thread-safe on distinct lists.
 */
BATON_API baton_err baton_baggage_parse_lines(baton_baggage *bg,
                                              const char *const *values,
                                              const size_t *lens, size_t n);
/* As baton_baggage_parse_lines() with one value of len bytes. */
BATON_API baton_err baton_baggage_parse(baton_baggage *bg, const char *s, size_t len);

/*
 * Writes bg as a baggage-string with a NUL into out (cap bytes;
 * BATON_BAGGAGE_SIZE holds any list). *len_out (may be NULL) gets its
 * length; "" for an empty list. Returns BATON_OK, BATON_EINVAL for NULL
 * arguments or cap 0, BATON_ENOSPACE when it does not fit (out untouched).
 */
BATON_API baton_err baton_baggage_format(const baton_baggage *bg, char *out, size_t cap,
                                         size_t *len_out);

/* Number of members (0 for NULL). */
BATON_API size_t baton_baggage_count(const baton_baggage *bg);

/*
 * Reads member i into *out (pointers into bg's buffer, valid until bg
 * changes). Returns BATON_OK, or BATON_EINVAL past the end (out untouched).
 */
BATON_API baton_err baton_baggage_entry_get(const baton_baggage *bg, size_t i,
                                            baton_baggage_entry *out);

/*
 * Returns the decoded value of key (NUL-terminated, its length in *len when
 * len is not NULL), or NULL when absent. Valid until bg changes.
 */
BATON_API const char *baton_baggage_value(const baton_baggage *bg, const char *key,
                                          size_t *len);

/*
 * Sets key to value (value_len bytes of UTF-8; SIZE_MAX: strlen) with
 * properties (NULL or "" for none; e.g. "ttl=3"), replacing an existing
 * member of that key, which moves to the end. Returns BATON_OK;
 * BATON_EINVAL when key is not an HTTP token, value is not well-formed
 * UTF-8 or properties break the grammar; BATON_ETOOBIG when the list would
 * pass 64 members or 8192 formatted bytes; BATON_ENOSPACE when the buffer
 * is full. bg is unchanged on error.
 */
BATON_API baton_err baton_baggage_put(baton_baggage *bg, const char *key,
                                      const char *value, size_t value_len,
                                      const char *properties);

/* Removes key. Returns true when it was there. */
BATON_API bool baton_baggage_delete(baton_baggage *bg, const char *key);

/* ---- the current context's baggage (this thread) ---- */

/*
 * Sets key to value (NUL-terminated UTF-8) with properties (may be NULL) in
 * this thread's current context, as baton_baggage_put() does. The context
 * below keeps its baggage: detaching the current one restores it. Returns
 * as baton_baggage_put(), and BATON_ENOMEM.
 */
BATON_API baton_err baton_baggage_set(const char *key, const char *value,
                                      const char *properties);

/*
 * Returns the decoded value of key in the current context (NUL-terminated,
 * length in *len when not NULL), or NULL. The pointer stays valid until
 * this thread's baggage changes (set, remove, clear, an attach or detach).
 */
BATON_API const char *baton_baggage_get(const char *key, size_t *len);

/* Removes key from the current context. Returns true when it was there. */
BATON_API bool baton_baggage_remove(const char *key);

/* Empties the current context's baggage (the context below keeps its own). */
BATON_API void baton_baggage_clear(void);

/*
 * Copies the current context's baggage into out (initialised with its
 * buffer). Returns BATON_OK, BATON_EINVAL, or BATON_ENOSPACE (out
 * untouched).
 */
BATON_API baton_err baton_baggage_current(baton_baggage *out);

/*
 * Returns the current context's baggage as a formatted baggage-string
 * (NUL-terminated, length in *len when not NULL), or NULL when it is
 * empty. No copy is made; valid as baton_baggage_get()'s result.
 */
BATON_API const char *baton_baggage_current_header(size_t *len);

/*
 * Attaches a context whose baggage is a copy of bg (NULL or empty: no
 * baggage) and whose span is the current one. Returns a token for
 * baton_span_detach(), or 0 when nothing was attached (nesting too deep,
 * out of memory).
 */
BATON_API uint32_t baton_baggage_attach(const baton_baggage *bg);

/*
 * As baton_baggage_attach() with the baggage parsed from a header value of
 * len bytes (len 0: no baggage). Returns 0 and attaches nothing when the
 * text breaks the grammar.
 */
BATON_API uint32_t baton_baggage_attach_header(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BAGGAGE_H */
