/*
 * W3C Baggage (w3c/baggage, "baggage-string"): the one scanner of baggage
 * text, used by the envelope reader's check and by the public list type;
 * percent-encoding; and the immutable blocks that hold the baggage of a
 * thread's contexts (context.c).
 *
 *
 *   baggage-string = list-member 0*179( OWS "," OWS list-member )
 *   list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 *   property       = key OWS "=" OWS value / key
 *   key            = token (RFC 7230 tchar)
 *   value          = *baggage-octet
 *   baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 *
 * Values are percent-encoded UTF-8; a percent sequence that does not decode
 * is the decoder's business (it substitutes U+FFFD), not a grammar error.
 */
#include "util.h"
#include "wire/w3c_int.h"

#include <string.h>

static bool bt_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool bt_baggage_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static size_t bt_skip_ows(const char *s, size_t i, size_t n)
{
	while (i < n && bt_ows(s[i]))
		i++;
	return i;
}

static size_t bt_scan_token(const char *s, size_t i, size_t n)
{
	while (i < n && bt_tchar((unsigned char)s[i]))
		i++;
	return i;
}

static size_t bt_scan_value(const char *s, size_t i, size_t n)
{
	while (i < n && bt_baggage_octet((unsigned char)s[i]))
		i++;
	return i;
}

/* ---- the scanner: the one parser of baggage text ---- */

/* One member as written: raw ranges into the text. */
typedef struct bt_bg_view {
	const char *k, *v, *p;
	size_t kl, vl, pl; /* pl 0: no properties */
} bt_bg_view;

typedef bool (*bt_bg_fn)(void *arg, const bt_bg_view *m);

/*
 * Walks the baggage-string s[0..n), calling fn (when not NULL) for each
 * member in order; fn returning false stops the walk with false. Returns
 * false on a grammar error (fn may have seen earlier members).
 */
static bool bt_bg_scan(const char *s, size_t n, bt_bg_fn fn, void *arg)
{
	size_t i = 0;
	for (;;) {
		bt_bg_view m = {0};
		i = bt_skip_ows(s, i, n);
		size_t k = bt_scan_token(s, i, n);
		if (k == i)
			return false;
		m.k = s + i;
		m.kl = k - i;
		i = bt_skip_ows(s, k, n);
		if (i >= n || s[i] != '=')
			return false;
		size_t v0 = bt_skip_ows(s, i + 1, n);
		i = bt_scan_value(s, v0, n);
		m.v = s + v0;
		m.vl = i - v0;
		size_t p0 = 0;
		for (;;) {
			size_t j = bt_skip_ows(s, i, n);
			if (j >= n || s[j] != ';')
				break;
			j = bt_skip_ows(s, j + 1, n);
			k = bt_scan_token(s, j, n);
			if (k == j)
				return false;
			if (p0 == 0)
				p0 = j;
			i = k;
			j = bt_skip_ows(s, k, n);
			if (j < n && s[j] == '=')
				i = bt_scan_value(s, bt_skip_ows(s, j + 1, n), n);
		}
		if (p0 != 0) {
			size_t e = i;
			while (e > p0 && bt_ows(s[e - 1]))
				e--;
			m.p = s + p0;
			m.pl = e - p0;
		}
		if (fn != NULL && !fn(arg, &m))
			return false;
		i = bt_skip_ows(s, i, n);
		if (i == n)
			return true;
		if (s[i] != ',')
			return false;
		i++;
	}
}

static bool bt_bg_count(void *arg, const bt_bg_view *m)
{
	(void)m;
	return ++*(size_t *)arg <= BT_BAGGAGE_MAX_MEMBERS;
}

bool bt_baggage_valid(const char *s, size_t n)
{
	size_t members = 0;
	if (s == NULL || n == 0 || n > BT_BAGGAGE_MAX_LEN)
		return false;
	return bt_bg_scan(s, n, bt_bg_count, &members);
}

/* ---- percent-encoding ---- */

static int bt_hex_any(unsigned char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return bt_hexval(c);
}

/* Bytes the encoded form of v[0..n) takes. */
static size_t bt_bg_enc_len(const char *v, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		w += (bt_baggage_octet(c) && c != '%') ? 1 : 3;
	}
	return w;
}

static size_t bt_bg_enc(char *out, const char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (bt_baggage_octet(c) && c != '%') {
			out[w++] = (char)c;
		} else {
			out[w++] = '%';
			out[w++] = hex[c >> 4];
			out[w++] = hex[c & 15];
		}
	}
	return w;
}

/*
 * Decodes v[0..n) (n <= BT_BAGGAGE_MAX_LEN) into dst as well-formed UTF-8:
 * "%XX" gives byte XX, bytes that do not form UTF-8 become U+FFFD. The
 * result is never longer than n. Returns its length.
 */
static size_t bt_bg_dec(char *dst, const char *v, size_t n)
{
	char raw[BT_BAGGAGE_MAX_LEN];
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (v[i] == '%' && i + 2 < n &&
		    (hi = bt_hex_any((unsigned char)v[i + 1])) >= 0 &&
		    (lo = bt_hex_any((unsigned char)v[i + 2])) >= 0) {
			raw[w++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			raw[w++] = v[i];
		}
	}
	return bt_utf8_sanitize(dst, n, raw, w, SIZE_MAX);
}

/* ---- the list type ---- */

void baton_baggage_init(baton_baggage *bg, char *buf, size_t cap)
{
	if (bg == NULL)
		return;
	memset(bg, 0, sizeof(*bg));
	bg->buf = buf;
	bg->cap = buf != NULL ? cap : 0;
}

static const char *bt_m_val(const baton_baggage *bg, const baton_baggage_member *m)
{
	return bg->buf + m->off + m->key_len + 1;
}

static const char *bt_m_props(const baton_baggage *bg, const baton_baggage_member *m)
{
	return bt_m_val(bg, m) + m->value_len + 1;
}

/* Buffer bytes of a member: key, value and properties with their NULs. */
static size_t bt_m_size(const baton_baggage_member *m)
{
	return (size_t)m->key_len + m->value_len + m->properties_len + 3;
}

/* Formatted bytes of a member: key=value[;properties]. */
static size_t bt_m_fmt_len(const baton_baggage *bg, const baton_baggage_member *m)
{
	return (size_t)m->key_len + 1 + bt_bg_enc_len(bt_m_val(bg, m), m->value_len) +
	       (m->properties_len ? 1 + (size_t)m->properties_len : 0);
}

static size_t bt_fmt_total(const baton_baggage *bg)
{
	size_t t = 0;
	for (uint32_t i = 0; i < bg->count; i++)
		t += bt_m_fmt_len(bg, &bg->members[i]) + (i > 0 ? 1 : 0);
	return t;
}

static int bt_bg_index(const baton_baggage *bg, const char *key, size_t klen)
{
	for (uint32_t i = 0; i < bg->count; i++) {
		const baton_baggage_member *m = &bg->members[i];
		if (m->key_len == klen && memcmp(bg->buf + m->off, key, klen) == 0)
			return (int)i;
	}
	return -1;
}

/* Appends a member (key, decoded value, properties); the caller checked space. */
static void bt_bg_append(baton_baggage *bg, const char *k, size_t kl, const char *v,
                         size_t vl, const char *p, size_t pl)
{
	char *d = bg->buf + bg->used;
	baton_baggage_member *m = &bg->members[bg->count++];
	m->off = (uint32_t)bg->used;
	m->key_len = (uint16_t)kl;
	m->value_len = (uint16_t)vl;
	m->properties_len = (uint16_t)pl;
	m->reserved = 0;
	memmove(d, k, kl);
	d[kl] = '\0';
	memmove(d + kl + 1, v, vl);
	d[kl + 1 + vl] = '\0';
	if (pl > 0)
		memmove(d + kl + vl + 2, p, pl);
	d[kl + vl + 2 + pl] = '\0';
	bg->used += kl + vl + pl + 3;
}

static void bt_bg_remove_at(baton_baggage *bg, uint32_t i)
{
	baton_baggage_member *m = &bg->members[i];
	size_t off = m->off, sz = bt_m_size(m);
	memmove(bg->buf + off, bg->buf + off + sz, bg->used - off - sz);
	bg->used -= sz;
	for (uint32_t j = i + 1; j < bg->count; j++)
		bg->members[j].off -= (uint32_t)sz;
	memmove(&bg->members[i], &bg->members[i + 1],
	        (bg->count - i - 1) * sizeof(bg->members[0]));
	bg->count--;
}

struct bt_bg_parse {
	baton_baggage *bg;
	size_t fmt; /* formatted bytes of the members taken */
	baton_err err;
};

static bool bt_bg_take(void *arg, const bt_bg_view *m)
{
	struct bt_bg_parse *st = arg;
	baton_baggage *bg = st->bg;
	char val[BT_BAGGAGE_MAX_LEN];
	if (bt_bg_index(bg, m->k, m->kl) >= 0)
		return true; /* a repeated key keeps its first occurrence */
	size_t raw = m->kl + 1 + m->vl + (m->pl ? 1 + m->pl : 0);
	if (bg->count == BATON_BAGGAGE_MAX_MEMBERS || raw > BT_BAGGAGE_MAX_LEN) {
		bg->dropped++;
		return true;
	}
	size_t vl = bt_bg_dec(val, m->v, m->vl);
	size_t fl = m->kl + 1 + bt_bg_enc_len(val, vl) + (m->pl ? 1 + m->pl : 0);
	if (st->fmt + (bg->count > 0 ? 1 : 0) + fl > BT_BAGGAGE_MAX_LEN) {
		bg->dropped++;
		return true;
	}
	if (bg->used + m->kl + vl + m->pl + 3 > bg->cap) {
		st->err = BATON_ENOSPACE;
		return false;
	}
	bt_bg_append(bg, m->k, m->kl, val, vl, m->p, m->pl);
	st->fmt += fl + (bg->count > 1 ? 1 : 0);
	return true;
}

/* True when s[0..n) is only spaces and tabs. */
static bool bt_blank(const char *s, size_t n)
{
	return bt_skip_ows(s, 0, n) == n;
}

baton_err baton_baggage_parse_lines(baton_baggage *bg, const char *const *values,
                                    const size_t *lens, size_t n)
{
	if (bg == NULL || (values == NULL && n > 0))
		return BATON_EINVAL;
	/* Check the grammar of every line first: bg stays untouched on EFORMAT. */
	for (size_t l = 0; l < n; l++) {
		const char *s = values[l];
		size_t len = s == NULL ? 0 : lens ? lens[l] : strlen(s);
		if (s != NULL && !bt_blank(s, len) && !bt_bg_scan(s, len, NULL, NULL))
			return BATON_EFORMAT;
	}
	bg->count = 0;
	bg->used = 0;
	bg->dropped = 0;
	struct bt_bg_parse st = {bg, 0, BATON_OK};
	for (size_t l = 0; l < n; l++) {
		const char *s = values[l];
		size_t len = s == NULL ? 0 : lens ? lens[l] : strlen(s);
		if (s == NULL || bt_blank(s, len))
			continue;
		if (!bt_bg_scan(s, len, bt_bg_take, &st)) {
			bg->count = 0; /* out of space: left empty */
			bg->used = 0;
			return st.err != BATON_OK ? st.err : BATON_EFORMAT;
		}
	}
	return BATON_OK;
}

baton_err baton_baggage_parse(baton_baggage *bg, const char *s, size_t len)
{
	return baton_baggage_parse_lines(bg, &s, &len, s != NULL ? 1 : 0);
}

/* Writes the list; the caller checked that out holds bt_fmt_total + 1. */
static size_t bt_bg_write(const baton_baggage *bg, char *out)
{
	size_t w = 0;
	for (uint32_t i = 0; i < bg->count; i++) {
		const baton_baggage_member *m = &bg->members[i];
		if (i > 0)
			out[w++] = ',';
		memcpy(out + w, bg->buf + m->off, m->key_len);
		w += m->key_len;
		out[w++] = '=';
		w += bt_bg_enc(out + w, bt_m_val(bg, m), m->value_len);
		if (m->properties_len > 0) {
			out[w++] = ';';
			memcpy(out + w, bt_m_props(bg, m), m->properties_len);
			w += m->properties_len;
		}
	}
	out[w] = '\0';
	return w;
}

baton_err baton_baggage_format(const baton_baggage *bg, char *out, size_t cap,
                               size_t *len_out)
{
	if (bg == NULL || out == NULL || cap == 0)
		return BATON_EINVAL;
	if (bt_fmt_total(bg) + 1 > cap)
		return BATON_ENOSPACE;
	size_t w = bt_bg_write(bg, out);
	if (len_out != NULL)
		*len_out = w;
	return BATON_OK;
}

size_t baton_baggage_count(const baton_baggage *bg)
{
	return bg != NULL ? bg->count : 0;
}

baton_err baton_baggage_entry_get(const baton_baggage *bg, size_t i,
                                  baton_baggage_entry *out)
{
	if (bg == NULL || out == NULL || i >= bg->count)
		return BATON_EINVAL;
	const baton_baggage_member *m = &bg->members[i];
	out->key = bg->buf + m->off;
	out->key_len = m->key_len;
	out->value = bt_m_val(bg, m);
	out->value_len = m->value_len;
	out->properties = bt_m_props(bg, m);
	out->properties_len = m->properties_len;
	return BATON_OK;
}

const char *baton_baggage_value(const baton_baggage *bg, const char *key, size_t *len)
{
	if (bg == NULL || key == NULL)
		return NULL;
	int i = bt_bg_index(bg, key, strlen(key));
	if (i < 0)
		return NULL;
	if (len != NULL)
		*len = bg->members[i].value_len;
	return bt_m_val(bg, &bg->members[i]);
}

/* property *( OWS ";" OWS property ), property = key [ OWS "=" OWS value ] */
static bool bt_bg_props_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		i = bt_skip_ows(s, i, n);
		size_t k = bt_scan_token(s, i, n);
		if (k == i)
			return false;
		i = bt_skip_ows(s, k, n);
		if (i < n && s[i] == '=')
			i = bt_skip_ows(s, bt_scan_value(s, bt_skip_ows(s, i + 1, n), n),
			                n);
		if (i == n)
			return true;
		if (s[i] != ';')
			return false;
		i++;
	}
}

baton_err baton_baggage_put(baton_baggage *bg, const char *key, const char *value,
                            size_t value_len, const char *properties)
{
	char tmp[BT_BAGGAGE_MAX_LEN * 2 + 3];
	if (bg == NULL || key == NULL || (value == NULL && value_len != 0))
		return BATON_EINVAL;
	if (value == NULL)
		value = "";
	if (value_len == SIZE_MAX)
		value_len = strlen(value);
	size_t kl = strlen(key);
	if (kl == 0 || bt_scan_token(key, 0, kl) != kl)
		return BATON_EINVAL;
	const char *p = properties != NULL ? properties : "";
	size_t pl = strlen(p);
	size_t p0 = bt_skip_ows(p, 0, pl);
	while (pl > p0 && bt_ows(p[pl - 1]))
		pl--;
	p += p0;
	pl -= p0;
	if (pl > 0 && !bt_bg_props_valid(p, pl))
		return BATON_EINVAL;
	if (kl > BT_BAGGAGE_MAX_LEN || value_len > BT_BAGGAGE_MAX_LEN ||
	    pl > BT_BAGGAGE_MAX_LEN)
		return BATON_ETOOBIG;
	if (bt_utf8_valid_prefix(value, value_len) != value_len)
		return BATON_EINVAL;
	size_t fl = kl + 1 + bt_bg_enc_len(value, value_len) + (pl ? 1 + pl : 0);
	int old = bt_bg_index(bg, key, kl);
	size_t total = bt_fmt_total(bg), count = bg->count, live = bg->used;
	if (old >= 0) {
		total -= bt_m_fmt_len(bg, &bg->members[old]) + (count > 1 ? 1 : 0);
		live -= bt_m_size(&bg->members[old]);
		count--;
	}
	if (count + 1 > BATON_BAGGAGE_MAX_MEMBERS ||
	    total + (count > 0 ? 1 : 0) + fl > BT_BAGGAGE_MAX_LEN)
		return BATON_ETOOBIG;
	if (live + kl + value_len + pl + 3 > bg->cap)
		return BATON_ENOSPACE;
	/* Copy first: key, value or properties may live in bg's own buffer. */
	if (kl + value_len + pl > sizeof(tmp))
		return BATON_ETOOBIG;
	memcpy(tmp, key, kl);
	memcpy(tmp + kl, value, value_len);
	memcpy(tmp + kl + value_len, p, pl);
	if (old >= 0)
		bt_bg_remove_at(bg, (uint32_t)old);
	bt_bg_append(bg, tmp, kl, tmp + kl, value_len, tmp + kl + value_len, pl);
	return BATON_OK;
}

bool baton_baggage_delete(baton_baggage *bg, const char *key)
{
	if (bg == NULL || key == NULL)
		return false;
	int i = bt_bg_index(bg, key, strlen(key));
	if (i < 0)
		return false;
	bt_bg_remove_at(bg, (uint32_t)i);
	return true;
}

/* ---- immutable blocks for the current context ---- */

baton_err bt_baggage_copy(baton_baggage *dst, const baton_baggage *src)
{
	if (src->used > dst->cap)
		return BATON_ENOSPACE;
	memcpy(dst->buf, src->buf, src->used);
	memcpy(dst->members, src->members, src->count * sizeof(src->members[0]));
	dst->used = src->used;
	dst->count = src->count;
	dst->dropped = 0;
	return BATON_OK;
}

bt_bag *bt_bag_create(const baton_baggage *src)
{
	size_t hl = bt_fmt_total(src);
	bt_bag *b = bt_malloc(sizeof(*b) + src->used + hl + 1);
	if (b == NULL)
		return NULL;
	baton_baggage_init(&b->bg, b->data, src->used);
	bt_baggage_copy(&b->bg, src);
	b->header = b->data + src->used;
	b->hlen = bt_bg_write(src, b->header);
	return b;
}

void bt_bag_destroy(bt_bag *b)
{
	bt_free(b);
}
