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

/* Percent-decodes [s, s+n) into out (NUL-terminated); false on a bad escape. */
static bool bt_pct_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return false;
		int v = 0;
		for (int j = 1; j <= 2; j++) {
			char c = s[i + j];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return false;
		}
		if (v == 0)
			return false; /* %00 would cut the C string short */
		out[o++] = (char)v;
		i += 2;
	}
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
			if (bt_pct_decode(k, kn, kb) && bt_pct_decode(v, vn, vb) &&
			    kb[0] != '\0')
				fn(arg, kb, vb);
			else
				bt_warn("%s: entry \"%.*s\" has a bad %%-escape; skipped",
				        what, (int)(len > 64 ? 64 : len), p);
		}
	}
}
