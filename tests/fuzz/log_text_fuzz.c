/*
 * What baton puts in a log line: bt_text_sanitize (every line, and a
 * collector's text) and bt_url_for_log (every endpoint shown). Invariants:
 * the sanitised text is NUL-terminated within its buffer, holds no C0 or C1
 * control, no DEL and only well-formed UTF-8, and equals the input when
 * the input was already clean and fits; a URL's userinfo never survives.
 */
#include "util.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when s[0..n) is clean: printable ASCII or UTF-8 for U+00A0 and up. */
static bool clean(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		size_t len = c >= 0xf0 && c <= 0xf4   ? 4
		             : c >= 0xe0 && c <= 0xef ? 3
		             : c >= 0xc2 && c <= 0xdf ? 2
		                                      : 0;
		if (len == 0 || i + len > n)
			return false;
		uint32_t cp = c & (len == 2 ? 0x1fu : len == 3 ? 0x0fu : 0x07u);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (cp < 0xa0 || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[96];
	size_t cap = 1 + (size > 0 ? data[0] % sizeof(out) : 0);
	size_t n = bt_text_sanitize(out, cap, (const char *)data, size);
	if (n >= cap || out[n] != '\0' || strlen(out) != n)
		__builtin_trap();
	if (!clean((const unsigned char *)out, n))
		__builtin_trap();
	if (size < cap && memchr(data, 0, size) == NULL &&
	    clean((const unsigned char *)data, size) &&
	    (n != size || memcmp(out, data, size) != 0))
		__builtin_trap(); /* clean text that fits passes unchanged */

	/* As a URL: "scheme://<user>@host/..." never shows <user>. */
	char url[256], shown[128];
	size_t m = size < 64 ? size : 64;
	memcpy(url, "http://", 7);
	size_t u = 7;
	for (size_t i = 0; i < m; i++) {
		char c = (char)data[i];
		/* A userinfo of letters only, so it cannot end the authority early. */
		url[u++] = (char)('a' + (unsigned char)c % 26);
	}
	memcpy(url + u, "@host:1/p?q=1", sizeof("@host:1/p?q=1"));
	bt_url_for_log(url, shown, sizeof(shown));
	if (strlen(shown) >= sizeof(shown))
		__builtin_trap();
	if (m >= 6) { /* shorter could be "http" or "host" */
		char secret[80];
		memcpy(secret, url + 7, m);
		secret[m] = '\0';
		if (strstr(shown, secret) != NULL || strstr(shown, "q=1") != NULL)
			__builtin_trap();
	}
	return 0;
}
