/* A growable byte buffer with a cap; see bt_buf in core.h. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bt_buf_init(bt_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void bt_buf_fini(bt_buf *b)
{
	bt_free(b->p);
	memset(b, 0, sizeof(*b));
}

void bt_buf_reset(bt_buf *b)
{
	b->len = 0;
	b->fail = false;
}

bool bt_buf_reserve(bt_buf *b, size_t n)
{
	if (b->fail)
		return false;
	if (n > b->max || b->len > b->max - n) {
		b->fail = true;
		return false;
	}
	if (b->len + n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > b->max)
		cap = b->max;
	char *p = bt_realloc(b->p, cap);
	if (p == NULL) {
		b->fail = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void bt_buf_put(bt_buf *b, const char *s, size_t n)
{
	if (n == 0 || !bt_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void bt_buf_puts(bt_buf *b, const char *s)
{
	bt_buf_put(b, s, strlen(s));
}

void bt_buf_putc(bt_buf *b, char c)
{
	if (!bt_buf_reserve(b, 1))
		return;
	b->p[b->len++] = c;
}

void bt_buf_printf(bt_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	bt_buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void bt_buf_put_json_text(bt_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0; /* s[run..i) is plain text not yet copied */
	while (i < n) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		size_t ulen = c >= 0x80 ? bt_utf8_valid_len(str + i, n - i) : 0;
		if (ulen > 1) {
			i += ulen;
			continue;
		}
		bt_buf_put(b, (const char *)s + run, i - run);
		if (c >= 0x80) {
			bt_buf_puts(b, "\\ufffd");
		} else if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			bt_buf_put(b, e, 2);
		} else if (c == '\n') {
			bt_buf_puts(b, "\\n");
		} else if (c == '\r') {
			bt_buf_puts(b, "\\r");
		} else if (c == '\t') {
			bt_buf_puts(b, "\\t");
		} else {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			bt_buf_put(b, e, 6);
		}
		i++;
		run = i;
	}
	bt_buf_put(b, (const char *)s + run, i - run);
}

char *bt_strndup(const char *s, size_t n)
{
	char *d = bt_malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *bt_strdup(const char *s)
{
	return s ? bt_strndup(s, strlen(s)) : NULL;
}

void bt_buf_put_u64(bt_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	bt_buf_put(b, tmp + i, sizeof(tmp) - i);
}

void bt_buf_put_i64(bt_buf *b, int64_t v)
{
	if (v < 0) {
		bt_buf_putc(b, '-');
		/* -(v + 1) + 1 avoids overflow for INT64_MIN */
		bt_buf_put_u64(b, (uint64_t)(-(v + 1)) + 1u);
	} else {
		bt_buf_put_u64(b, (uint64_t)v);
	}
}
