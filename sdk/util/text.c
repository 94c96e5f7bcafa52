/* Text for log lines: control bytes replaced, URLs without credentials. */
#include "util.h"

#include <stdio.h>
#include <string.h>

size_t bt_text_sanitize(char *dst, size_t cap, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, j = 0;
	if (cap == 0)
		return 0;
	while (i < n && j + 1 < cap) {
		unsigned char c = s[i];
		size_t len = 0;
		uint32_t cp = 0;
		if (c >= 0x20 && c < 0x7f) {
			dst[j++] = (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07u;
		}
		bool ok = len > 0 && i + len <= n;
		for (size_t k = 1; ok && k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				ok = false;
			else
				cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls. */
		if (ok && ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		           (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp < 0xa0))
			ok = false;
		if (!ok) {
			dst[j++] = '?';
			i++;
			continue;
		}
		if (j + len >= cap)
			break; /* cut a character whole, never half of it */
		memcpy(dst + j, s + i, len);
		j += len;
		i += len;
	}
	dst[j] = '\0';
	return j;
}

void bt_url_for_log(const char *url, char *out, size_t cap)
{
	bt_buf b = {.max = cap > 0 ? cap - 1 : 0};
	const char *auth = strstr(url, "://");
	if (cap == 0)
		return;
	auth = auth != NULL ? auth + 3 : url;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++) {
		if (auth[i] == '@')
			at = auth + i; /* the last one: a password may hold '@' */
	}
	bt_buf_put(&b, url, (size_t)(auth - url));
	if (at != NULL) {
		bt_buf_puts(&b, "REDACTED");
		bt_buf_put(&b, at, (size_t)(auth + alen - at));
	} else {
		bt_buf_put(&b, auth, alen);
	}
	const char *rest = auth + alen;
	size_t plen = strcspn(rest, "?#");
	bt_buf_put(&b, rest, plen);
	if (rest[plen] == '?')
		bt_buf_puts(&b, "?REDACTED");
	const char *frag = strchr(rest + plen, '#');
	if (frag != NULL)
		bt_buf_puts(&b, frag);
	if (b.fail)
		snprintf(out, cap, "(a URL too long to show)");
	else
		snprintf(out, cap, "%.*s", (int)b.len, b.p != NULL ? b.p : "");
	bt_buf_fini(&b);
}
