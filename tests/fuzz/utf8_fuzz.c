/*
 * Fuzz target: the UTF-8 module (sdk/util/utf8.c) against the tests' own
 * decoder (tests/testing/spancheck.c). Invariants: the well-formed prefix
 * and per-character lengths agree with the reference; a cut is at most
 * the limit, never splits a character and loses at most one; the
 * sanitizer's output is well-formed, within its byte and character caps,
 * a prefix of the uncapped output, equal to the input when that is
 * well-formed, and the same whether counted or written.
 */
#include "spancheck.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the well-formed character at s, 0 if none (the tests' decoder). */
static size_t ref_char(const unsigned char *s, size_t n)
{
	return tu_utf8_char(s, n);
}

static size_t ref_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0, l;
	while (i < n && (l = ref_char(s + i, n - i)) > 0)
		i += l;
	return i;
}

/* Characters of well-formed s[0..n). */
static size_t ref_chars(const unsigned char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i += ref_char(s + i, n - i))
		c++;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* Two bytes of limits, then the text. */
	size_t lim_bytes = data[0], lim_chars = data[1];
	const char *s = (const char *)data + 2;
	const unsigned char *u = data + 2;
	size_t n = size - 2;

	size_t vp = bt_utf8_valid_prefix(s, n);
	if (vp != ref_prefix(u, n))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (bt_utf8_valid_len(s + i, n - i) != ref_char(u + i, n - i))
			abort();
	}

	/* Cutting well-formed text: whole characters, at most one lost. */
	for (size_t max = 0; max <= vp + 1; max++) {
		size_t t = bt_utf8_truncate(s, vp, max);
		if (t > max || t > vp || ref_prefix(u, t) != t ||
		    (max <= vp && max - t > 3))
			abort();
		if (t < vp && t < max && ref_char(u + t, vp - t) <= max - t)
			abort(); /* a whole character more would have fitted */
	}
	size_t t = bt_utf8_truncate(s, n, lim_bytes);
	if (t > lim_bytes || t > n)
		abort();

	/* The sanitizer. */
	size_t full = bt_utf8_sanitize(NULL, SIZE_MAX, s, n, SIZE_MAX);
	char *out = malloc(full + 1), *capped = malloc(full + 1);
	if (out == NULL || capped == NULL)
		abort();
	if (bt_utf8_sanitize(out, full, s, n, SIZE_MAX) != full ||
	    ref_prefix((unsigned char *)out, full) != full || full < n ||
	    (vp == n && (full != n || memcmp(out, s, n) != 0)) || (vp < n && full == n))
		abort();
	size_t c = bt_utf8_sanitize(capped, lim_bytes, s, n, lim_chars);
	if (c != bt_utf8_sanitize(NULL, lim_bytes, s, n, lim_chars) || c > lim_bytes ||
	    memcmp(capped, out, c) != 0 ||
	    ref_chars((unsigned char *)capped, c) > lim_chars)
		abort();
	/* Stopping early only when the next character would break a cap. */
	if (c < full) {
		size_t next = ref_char((unsigned char *)out + c, full - c);
		if (next == 0 || (c + next <= lim_bytes &&
		                  ref_chars((unsigned char *)capped, c) < lim_chars))
			abort();
	}
	bt_buf b;
	bt_buf_init(&b, SIZE_MAX);
	bt_buf_put_utf8(&b, s, n);
	if (b.fail || b.len != full || (full > 0 && memcmp(b.p, out, full) != 0))
		abort();
	bt_buf_fini(&b);
	free(out);
	free(capped);
	return 0;
}
