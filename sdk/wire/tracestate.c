/*
 * W3C tracestate: grammar, the fixed-capacity list type, truncation, and
 * the OpenTelemetry "ot" member (OTEP 235 th / rv).
 */
#include "wire/w3c_int.h"

#include <string.h>

/* ---- grammar ---- */

static inline bool bt_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

/* keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" (Level 2). */
static inline bool bt_keychar(char c)
{
	return bt_lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*' || c == '/' || c == '@';
}

/*
 * key = ( lcalpha / DIGIT ) 0*255( keychar ): Trace Context Level 2. The
 * older "tenant@system" split is gone: '@' is an ordinary key character
 * anywhere but first, so "foo@", "foo@@bar" and "a@b@c" are keys.
 */
bool baton_tracestate_key_valid(const char *key, size_t len)
{
	if (key == NULL || len == 0 || len > BATON_TRACESTATE_MAX_KEY)
		return false;
	if (!(bt_lcalpha(key[0]) || (key[0] >= '0' && key[0] <= '9')))
		return false;
	for (size_t i = 1; i < len; i++) {
		if (!bt_keychar(key[i]))
			return false;
	}
	return true;
}

bool baton_tracestate_value_valid(const char *value, size_t len)
{
	if (value == NULL || len == 0 || len > BATON_TRACESTATE_MAX_VALUE)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return false;
	}
	return value[len - 1] != ' ';
}

int bt_ts_find(const bt_ts_view *v, size_t n, const char *key, size_t klen)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].klen == klen && memcmp(v[i].p, key, klen) == 0)
			return (int)i;
	}
	return -1;
}

baton_err bt_ts_scan(const char *const *lines, const size_t *lens, size_t n,
                     bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS], size_t *count)
{
	size_t m = 0, members = 0;
	for (size_t l = 0; l < n; l++) {
		const char *s = lines[l];
		if (s == NULL)
			continue;
		size_t len = lens ? lens[l] : strlen(s);
		size_t i = 0;
		while (i <= len) {
			/* One member: [i, j) up to the next comma or the end. */
			const char *comma = memchr(s + i, ',', len - i);
			size_t j = comma ? (size_t)(comma - s) : len;
			size_t a = i, b = j;
			while (a < b && bt_ows(s[a]))
				a++;
			while (b > a && bt_ows(s[b - 1]))
				b--;
			if (a < b) {
				const char *eq = memchr(s + a, '=', b - a);
				if (eq == NULL)
					return BATON_EFORMAT;
				size_t klen = (size_t)(eq - (s + a));
				size_t vlen = b - a - klen - 1;
				if (!baton_tracestate_key_valid(s + a, klen) ||
				    !baton_tracestate_value_valid(eq + 1, vlen))
					return BATON_EFORMAT;
				if (++members > BATON_TRACESTATE_MAX_MEMBERS)
					return BATON_EFORMAT;
				/* A repeated key keeps its first occurrence: the
				 * header stays valid (vendors MAY drop duplicates). */
				if (bt_ts_find(v, m, s + a, klen) >= 0) {
					i = j + 1;
					continue;
				}
				v[m].p = s + a;
				v[m].klen = (uint16_t)klen;
				v[m].vlen = (uint16_t)vlen;
				m++;
			}
			i = j + 1;
		}
	}
	*count = m;
	return BATON_OK;
}

size_t bt_ts_write(const bt_ts_view *v, size_t n, char *out, size_t cap)
{
	size_t limit = cap - 1;
	if (limit > BATON_TRACESTATE_MAX_LEN)
		limit = BATON_TRACESTATE_MAX_LEN;
	bool keep[BATON_TRACESTATE_MAX_MEMBERS + 1];
	size_t total = 0, kept = 0;
	if (n > BATON_TRACESTATE_MAX_MEMBERS + 1)
		n = BATON_TRACESTATE_MAX_MEMBERS + 1;
	for (size_t i = 0; i < n; i++) {
		keep[i] = true;
		total += bt_ts_view_len(&v[i]);
		kept++;
	}
	if (kept > 0)
		total += kept - 1; /* commas */
	/* Over the limit: long entries go first, then from the right. */
	for (int pass = 0; pass < 2 && total > limit; pass++) {
		for (size_t i = n; i-- > 0 && total > limit;) {
			size_t ml = bt_ts_view_len(&v[i]);
			if (!keep[i] || (pass == 0 && ml <= BATON_TRACESTATE_LONG_ENTRY))
				continue;
			keep[i] = false;
			kept--;
			total -= ml + (kept > 0 ? 1 : 0);
		}
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (w > 0)
			out[w++] = ',';
		size_t ml = bt_ts_view_len(&v[i]);
		memcpy(out + w, v[i].p, ml);
		w += ml;
	}
	out[w] = '\0';
	return w;
}

/* ---- the list type ---- */

void baton_tracestate_init(baton_tracestate *ts, char *buf, size_t cap)
{
	if (ts == NULL)
		return;
	memset(ts, 0, sizeof(*ts));
	ts->buf = buf;
	ts->cap = buf ? cap : 0;
}

static void bt_ts_views(const baton_tracestate *ts, bt_ts_view *v)
{
	for (uint32_t i = 0; i < ts->count; i++) {
		v[i].p = ts->buf + ts->members[i].off;
		v[i].klen = ts->members[i].key_len;
		v[i].vlen = ts->members[i].value_len;
	}
}

baton_err baton_tracestate_parse_lines(baton_tracestate *ts, const char *const *values,
                                       const size_t *lens, size_t n)
{
	bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS];
	size_t m = 0;
	if (ts == NULL || (values == NULL && n > 0))
		return BATON_EINVAL;
	baton_err rv = bt_ts_scan(values, lens, n, v, &m);
	if (rv != BATON_OK)
		return rv;
	size_t need = 0;
	for (size_t i = 0; i < m; i++)
		need += bt_ts_view_len(&v[i]);
	if (need > ts->cap)
		return BATON_ENOSPACE;
	size_t w = 0;
	for (size_t i = 0; i < m; i++) {
		size_t ml = bt_ts_view_len(&v[i]);
		memmove(ts->buf + w, v[i].p, ml);
		ts->members[i].off = (uint32_t)w;
		ts->members[i].key_len = v[i].klen;
		ts->members[i].value_len = v[i].vlen;
		w += ml;
	}
	ts->used = w;
	ts->count = (uint32_t)m;
	return BATON_OK;
}

baton_err baton_tracestate_parse(baton_tracestate *ts, const char *s, size_t len)
{
	return baton_tracestate_parse_lines(ts, &s, &len, s ? 1 : 0);
}

size_t baton_tracestate_count(const baton_tracestate *ts)
{
	return ts ? ts->count : 0;
}

baton_err baton_tracestate_member_get(const baton_tracestate *ts, size_t i,
                                      const char **key, size_t *key_len,
                                      const char **value, size_t *value_len)
{
	if (ts == NULL || i >= ts->count)
		return BATON_EINVAL;
	const baton_tracestate_member *m = &ts->members[i];
	if (key)
		*key = ts->buf + m->off;
	if (key_len)
		*key_len = m->key_len;
	if (value)
		*value = ts->buf + m->off + m->key_len + 1;
	if (value_len)
		*value_len = m->value_len;
	return BATON_OK;
}

static int bt_ts_index(const baton_tracestate *ts, const char *key, size_t klen)
{
	for (uint32_t i = 0; i < ts->count; i++) {
		const baton_tracestate_member *m = &ts->members[i];
		if (m->key_len == klen && memcmp(ts->buf + m->off, key, klen) == 0)
			return (int)i;
	}
	return -1;
}

const char *baton_tracestate_get(const baton_tracestate *ts, const char *key, size_t *len)
{
	if (ts == NULL || key == NULL)
		return NULL;
	int i = bt_ts_index(ts, key, strlen(key));
	if (i < 0)
		return NULL;
	const baton_tracestate_member *m = &ts->members[i];
	if (len)
		*len = m->value_len;
	return ts->buf + m->off + m->key_len + 1;
}

static void bt_ts_remove_at(baton_tracestate *ts, uint32_t i)
{
	memmove(&ts->members[i], &ts->members[i + 1],
	        (ts->count - i - 1) * sizeof(ts->members[0]));
	ts->count--;
}

/* Moves member text down so it is contiguous from offset 0. */
static void bt_ts_compact(baton_tracestate *ts)
{
	uint32_t order[BATON_TRACESTATE_MAX_MEMBERS];
	for (uint32_t i = 0; i < ts->count; i++) {
		uint32_t j = i;
		while (j > 0 && ts->members[order[j - 1]].off > ts->members[i].off) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	size_t w = 0;
	for (uint32_t k = 0; k < ts->count; k++) {
		baton_tracestate_member *m = &ts->members[order[k]];
		size_t ml = (size_t)m->key_len + 1 + m->value_len;
		memmove(ts->buf + w, ts->buf + m->off, ml);
		m->off = (uint32_t)w;
		w += ml;
	}
	ts->used = w;
}

baton_err baton_tracestate_set(baton_tracestate *ts, const char *key, const char *value,
                               size_t value_len)
{
	if (ts == NULL || key == NULL)
		return BATON_EINVAL;
	size_t klen = strlen(key);
	if (!baton_tracestate_key_valid(key, klen) ||
	    !baton_tracestate_value_valid(value, value_len))
		return BATON_EINVAL;
	/* Copy first: key or value may live in our own buffer. */
	char tmp[BATON_TRACESTATE_MAX_KEY + 1 + BATON_TRACESTATE_MAX_VALUE];
	memcpy(tmp, key, klen);
	tmp[klen] = '=';
	memcpy(tmp + klen + 1, value, value_len);
	size_t need = klen + 1 + value_len;

	int old = bt_ts_index(ts, key, klen);
	uint32_t drop_last =
	    (old < 0 && ts->count == BATON_TRACESTATE_MAX_MEMBERS) ? 1 : 0;
	/* Space after removing the old entry (and the rightmost one when full). */
	size_t live = 0;
	for (uint32_t i = 0; i < ts->count - drop_last; i++) {
		if ((int)i != old)
			live +=
			    (size_t)ts->members[i].key_len + 1 + ts->members[i].value_len;
	}
	if (live + need > ts->cap)
		return BATON_ENOSPACE;

	if (old >= 0)
		bt_ts_remove_at(ts, (uint32_t)old);
	if (drop_last)
		ts->count--;
	if (ts->used + need > ts->cap)
		bt_ts_compact(ts);
	memcpy(ts->buf + ts->used, tmp, need);
	memmove(&ts->members[1], &ts->members[0], ts->count * sizeof(ts->members[0]));
	ts->members[0].off = (uint32_t)ts->used;
	ts->members[0].key_len = (uint16_t)klen;
	ts->members[0].value_len = (uint16_t)value_len;
	ts->count++;
	ts->used += need;
	return BATON_OK;
}

bool baton_tracestate_delete(baton_tracestate *ts, const char *key)
{
	if (ts == NULL || key == NULL)
		return false;
	int i = bt_ts_index(ts, key, strlen(key));
	if (i < 0)
		return false;
	bt_ts_remove_at(ts, (uint32_t)i);
	return true;
}

baton_err baton_tracestate_format(const baton_tracestate *ts, char *out, size_t cap,
                                  size_t *len_out)
{
	bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS];
	if (ts == NULL || out == NULL || cap == 0)
		return BATON_EINVAL;
	bt_ts_views(ts, v);
	size_t n = bt_ts_write(v, ts->count, out, cap);
	if (len_out)
		*len_out = n;
	return BATON_OK;
}

/* ---- "ot" (OTEP 235) ---- */

/*
 * Walks the ';'-separated "key:value" sub-keys of an ot value. Returns
 * BATON_OK with *val and *vlen of sub-key want (NULL when absent), or
 * BATON_EFORMAT when a sub-key lacks its key or ':'.
 */
static baton_err bt_ot_find(const char *ot, size_t len, const char *want,
                            const char **val, size_t *vlen)
{
	size_t wl = strlen(want), i = 0;
	*val = NULL;
	*vlen = 0;
	while (i < len) {
		const char *semi = memchr(ot + i, ';', len - i);
		size_t j = semi ? (size_t)(semi - ot) : len;
		const char *colon = memchr(ot + i, ':', j - i);
		if (colon == NULL || colon == ot + i)
			return BATON_EFORMAT;
		size_t kl = (size_t)(colon - (ot + i));
		if (kl == wl && memcmp(ot + i, want, wl) == 0 && *val == NULL) {
			*val = colon + 1;
			*vlen = j - (kl + 1) - i;
		}
		if (semi == NULL)
			break;
		i = j + 1;
		if (i == len) /* trailing ';' */
			return BATON_EFORMAT;
	}
	return BATON_OK;
}

static bool bt_hex56(const char *s, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0 || n > 14)
		return false;
	for (size_t i = 0; i < n; i++) {
		int d = bt_hexval((unsigned char)s[i]);
		if (d < 0)
			return false;
		x = (x << 4) | (uint64_t)d;
	}
	*out = x << (4 * (14 - n));
	return true;
}

baton_err baton_ot_value_th(const char *ot, size_t len, uint64_t *th)
{
	const char *v;
	size_t vl;
	uint64_t x;
	if (ot == NULL || th == NULL)
		return BATON_EINVAL;
	baton_err rv = bt_ot_find(ot, len, "th", &v, &vl);
	if (rv != BATON_OK)
		return rv;
	if (v == NULL)
		return BATON_ENOENV;
	if (!bt_hex56(v, vl, &x))
		return BATON_EFORMAT;
	*th = x;
	return BATON_OK;
}

baton_err baton_ot_value_rv(const char *ot, size_t len, uint64_t *rvout)
{
	const char *v;
	size_t vl;
	uint64_t x;
	if (ot == NULL || rvout == NULL)
		return BATON_EINVAL;
	baton_err rv = bt_ot_find(ot, len, "rv", &v, &vl);
	if (rv != BATON_OK)
		return rv;
	if (v == NULL)
		return BATON_ENOENV;
	if (vl != 14 || !bt_hex56(v, vl, &x))
		return BATON_EFORMAT;
	*rvout = x;
	return BATON_OK;
}

baton_err baton_tracestate_ot_th(const baton_tracestate *ts, uint64_t *th)
{
	size_t n;
	const char *ot = baton_tracestate_get(ts, "ot", &n);
	if (ot == NULL)
		return th ? BATON_ENOENV : BATON_EINVAL;
	return baton_ot_value_th(ot, n, th);
}

baton_err baton_tracestate_ot_rv(const baton_tracestate *ts, uint64_t *rv)
{
	size_t n;
	const char *ot = baton_tracestate_get(ts, "ot", &n);
	if (ot == NULL)
		return rv ? BATON_ENOENV : BATON_EINVAL;
	return baton_ot_value_rv(ot, n, rv);
}

baton_err baton_ot_th_format(uint64_t th, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[15];
	if (out == NULL || th >= BATON_TH_MAX)
		return BATON_EINVAL;
	for (int i = 13; i >= 0; i--) {
		tmp[i] = hex[th & 0xf];
		th >>= 4;
	}
	size_t n = 14;
	while (n > 1 && tmp[n - 1] == '0')
		n--;
	if (cap < n + 1)
		return BATON_ENOSPACE;
	memcpy(out, tmp, n);
	out[n] = '\0';
	return BATON_OK;
}

baton_err baton_tracestate_ot_set_th(baton_tracestate *ts, uint64_t th)
{
	char val[BATON_TRACESTATE_MAX_VALUE + 1];
	if (ts == NULL || th >= BATON_TH_MAX)
		return BATON_EINVAL;
	memcpy(val, "th:", 3);
	baton_ot_th_format(th, val + 3, sizeof(val) - 3);
	size_t w = strlen(val);
	size_t olen;
	const char *ot = baton_tracestate_get(ts, "ot", &olen);
	const char *dummy;
	size_t dl;
	/* Keep the other sub-keys of a well-formed ot, in their order. */
	if (ot != NULL && bt_ot_find(ot, olen, "th", &dummy, &dl) == BATON_OK) {
		size_t i = 0;
		while (i < olen) {
			const char *semi = memchr(ot + i, ';', olen - i);
			size_t j = semi ? (size_t)(semi - ot) : olen;
			bool is_th = j - i >= 3 && memcmp(ot + i, "th:", 3) == 0;
			if (!is_th) {
				if (w + 1 + (j - i) > BATON_TRACESTATE_MAX_VALUE)
					return BATON_EINVAL;
				val[w++] = ';';
				memcpy(val + w, ot + i, j - i);
				w += j - i;
			}
			i = j + 1;
		}
	}
	return baton_tracestate_set(ts, "ot", val, w);
}
