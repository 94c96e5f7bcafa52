/*
 * UTF-8: the one well-formedness check of the library (span strings, the
 * exporters' encoders), with cutting on character boundaries and
 * replacement of ill-formed bytes by U+FFFD. Well-formed is Unicode's
 * definition (Table 3-7): no overlong forms, no surrogates, nothing above
 * U+10FFFF.
 */
#include "util.h"

#include <string.h>

/* U+FFFD REPLACEMENT CHARACTER */
static const char bt_fffd[3] = {'\xEF', '\xBF', '\xBD'};

size_t bt_utf8_valid_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	if (n == 0)
		return 0;
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90; /* no overlong forms */
		else if (c == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return len;
}

/* bt_utf8_valid_prefix past its inline ASCII scan: s[0..i) is well-formed. */
size_t bt_utf8_valid_prefix_from(const char *s, size_t n, size_t i)
{
	while (i < n) {
		/* ASCII runs eight bytes at a time: the common case. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i == n)
			break;
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = bt_utf8_valid_len(s + i, n - i);
		if (l == 0)
			break;
		i += l;
	}
	return i;
}

size_t bt_utf8_truncate(const char *str, size_t n, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	if (max >= n)
		return n;
	/* Find the lead byte of whatever s[max] continues (at most 3 back). */
	size_t j = max;
	while (j > 0 && max - j < 3 && (s[j] & 0xC0) == 0x80)
		j--;
	/* A well-formed character that starts at j and runs past max is cut out
	 * whole; an ill-formed byte is a unit of its own and may be cut after. */
	if (j < max && bt_utf8_valid_len(str + j, n - j) > max - j)
		return j;
	return max;
}

size_t bt_utf8_sanitize(char *dst, size_t cap, const char *s, size_t n, size_t max_chars)
{
	size_t out = 0, i = 0, chars = 0;
	/* Characters out never outnumber bytes in: count only when it matters. */
	bool counting = n > max_chars;
	while (i < n) {
		if (!counting) {
			size_t v = bt_utf8_valid_prefix(s + i, n - i);
			if (v > 0) {
				size_t w = v <= cap - out
				               ? v
				               : bt_utf8_truncate(s + i, v, cap - out);
				if (dst != NULL)
					memcpy(dst + out, s + i, w);
				out += w;
				i += w;
				if (w < v)
					break; /* full */
				continue;
			}
		} else if (chars == max_chars) {
			break;
		}
		size_t l = bt_utf8_valid_len(s + i, n - i);
		const char *src = l > 0 ? s + i : bt_fffd;
		size_t w = l > 0 ? l : sizeof(bt_fffd);
		if (w > cap - out)
			break;
		if (dst != NULL)
			memcpy(dst + out, src, w);
		out += w;
		i += l > 0 ? l : 1;
		chars++;
	}
	return out;
}

void bt_buf_put_utf8(bt_buf *b, const char *s, size_t n)
{
	size_t v = bt_utf8_valid_prefix(s, n);
	if (v == n) {
		bt_buf_put(b, s, n);
		return;
	}
	size_t len = bt_utf8_sanitize(NULL, SIZE_MAX, s, n, SIZE_MAX);
	if (!bt_buf_reserve(b, len))
		return;
	bt_utf8_sanitize(b->p + b->len, len, s, n, SIZE_MAX);
	b->len += len;
}
