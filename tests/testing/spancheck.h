/*
 * Looking at whole span records in tests: a processor that holds the last
 * ended span, and a UTF-8 check of every string a span carries (its own
 * decoder, independent of the library's).
 */
#ifndef TU_SPANCHECK_H
#define TU_SPANCHECK_H

#include <baton/baton.h>
#include <baton/sdk.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * baton_init with sampler (ops NULL: always_on), limits (NULL: defaults)
 * and one processor that keeps the last ended span; aborts on failure.
 */
void tu_held_init(baton_sampler sampler, const baton_limits *limits);
/* The last ended span (its record stays alive until the next one ends or
 * tu_held_release); NULL when none ended. */
const baton_span_data *tu_held(void);
/* Gives the held record back to the SDK (before baton_fini). */
void tu_held_release(void);

/* Is s[0..n) well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF)? */
/* Length (1-4) of the well-formed character at s[0..n) (n > 0), 0 when
 * the bytes there are ill-formed: a decoder of the tests' own, written
 * from RFC 3629, to hold the library's against. */
size_t tu_utf8_char(const unsigned char *s, size_t n);
bool tu_utf8_ok(const char *s, size_t n);
/*
 * Writes s[0..n) into dst as well-formed UTF-8, each byte that does not
 * start a well-formed character replaced by U+FFFD: what baton makes of an
 * ill-formed string, by this file's own decoder. dst needs 3 * n bytes (no
 * NUL is added). Returns the bytes written.
 */
size_t tu_utf8_repair(char *dst, const char *s, size_t n);
/* Are the span's name, attribute keys and string values (span, events,
 * links), event names, status message and tracestates all well-formed? */
bool tu_span_utf8_ok(const baton_span_data *d);
/* The span's string attribute key, or NULL. */
const char *tu_attr_str(const baton_span_data *d, const char *key);
/* Whether the span has attribute key (any type). */
bool tu_has_attr(const baton_span_data *d, const char *key);

#endif /* TU_SPANCHECK_H */
