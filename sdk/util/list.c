/*
 * The one tokenizer for comma-separated lists from the environment and from
 * peers (OTEL_PROPAGATORS, OTEL_TRACES_EXPORTER, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_EXPORTER_OTLP_HEADERS, fanout and sampler specifications).
 */
#include "util.h"

#include <string.h>

void bt_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

bool bt_list_next_raw(const char **cur, const char **item, size_t *n)
{
	const char *p = *cur;
	if (p == NULL)
		return false;
	const char *end = strchr(p, ',');
	*item = p;
	*n = end != NULL ? (size_t)(end - p) : strlen(p);
	/* After the last item the cursor becomes NULL; "a," has an empty last item. */
	*cur = end != NULL ? end + 1 : NULL;
	return true;
}

bool bt_list_next(const char **cur, const char **item, size_t *n)
{
	if (!bt_list_next_raw(cur, item, n))
		return false;
	bt_trim(item, n);
	return true;
}

static int bt_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte of the escape at s[i] ('%'), or -1 when it is not %XX or is %00. */
static int bt_pct_at(const char *s, size_t n, size_t i)
{
	if (i + 2 >= n)
		return -1;
	int hi = bt_hexval(s[i + 1]), lo = bt_hexval(s[i + 2]);
	if (hi < 0 || lo < 0 || (hi | lo) == 0)
		return -1; /* %00 would cut the C string short */
	return hi << 4 | lo;
}

bool bt_pct_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (bt_pct_at(s, n, i) < 0)
			return false;
		i += 2;
	}
	return true;
}

bool bt_pct_decode(const char *s, size_t n, char *out, size_t cap, int flags)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			c = bt_pct_at(s, n, i);
			if (c < 0)
				return false;
			i += 2;
		}
		if ((flags & BT_PCT_NO_CONTROL) && (c < 0x20 || c == 0x7f))
			return false;
		if (o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	if (cap == 0)
		return false;
	out[o] = '\0';
	return true;
}

void bt_parse_kv_list(const char *s, const char *what,
                      void (*fn)(void *arg, const char *k, const char *v), void *arg)
{
	if (s == NULL)
		return;
	const char *cur = s, *p;
	size_t len;
	while (bt_list_next_raw(&cur, &p, &len)) {
		const char *eq = memchr(p, '=', len);
		const char *k = p;
		size_t kn = eq ? (size_t)(eq - p) : 0;
		const char *v = eq ? eq + 1 : NULL;
		size_t vn = eq ? len - kn - 1 : 0;
		if (eq != NULL) {
			bt_trim(&k, &kn);
			bt_trim(&v, &vn);
		}
		if (len > 0 && (eq == NULL || kn == 0 || len > 4096)) {
			bt_warn("%s: entry \"%.*s\" is not key=value; skipped", what,
			        (int)(len > 64 ? 64 : len), p);
		} else if (eq != NULL) {
			char kb[4097], vb[4097];
			if (bt_pct_decode(k, kn, kb, sizeof(kb), 0) &&
			    bt_pct_decode(v, vn, vb, sizeof(vb), 0) && kb[0] != '\0')
				fn(arg, kb, vb);
			else
				bt_warn("%s: entry \"%.*s\" has a bad %%-escape; skipped",
				        what, (int)(len > 64 ? 64 : len), p);
		}
	}
}
