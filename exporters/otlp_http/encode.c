/*
 * The direct protobuf writer: baton_span_data -> ExportTraceServiceRequest
 * bytes, with the field numbers and wire types of proto/otlp_trace.proto
 * (the same schema protoc-c compiles for the reference encoder and the
 * decoders).
 *
 * Two passes over the batch. The first computes the size of every nested
 * message once, in the order the second pass will need them (pre-order:
 * a message's slot is taken before its children's), so the output size is
 * known and checked against the limit before anything is written. The
 * second writes fields in field-number order and leaves proto3 zero values
 * out, exactly as libprotobuf-c does, so both encoders give the same bytes
 * (a test holds them to that).
 *
 * Every string field goes out as well-formed UTF-8, whoever built the span
 * data (a collector may reject a whole batch over one bad string): pass 1
 * checks each string and, when it is ill-formed, counts it with each bad
 * byte as U+FFFD; pass 2 copies well-formed strings as they are and runs
 * the others through the sanitizer.
 */
#include "otlp_int.h"

#include "util.h"

#include <string.h>

#define BT_ARENA_BLOCK ((size_t)256 * 1024)

struct bt_blk {
	struct bt_blk *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};

struct bt_otlp_enc {
	struct bt_blk *head, *cur;
	bt_otlp_buf out;
	/* Sizes of nested messages, in pre-order; rd is the second pass's cursor. */
	uint32_t *sz;
	size_t nsz, capsz, rd;
	bool oom;
};

bool bt_otlp_buf_reserve(bt_otlp_buf *b, size_t n, size_t limit)
{
	if (n <= b->cap)
		return true;
	if (n > limit)
		return false;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < n)
		cap = cap > SIZE_MAX / 2 ? n : cap * 2;
	if (cap > limit)
		cap = limit;
	uint8_t *p = bt_realloc(b->p, cap);
	if (p == NULL)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

void bt_otlp_buf_free(bt_otlp_buf *b)
{
	bt_free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- arena ---- */

static void *bt_ar_slow(bt_otlp_enc *e, size_t n)
{
	struct bt_blk *b = e->cur != NULL ? e->cur->next : e->head;
	while (b != NULL && b->cap < n)
		b = b->next;
	if (b == NULL) {
		size_t cap = n > BT_ARENA_BLOCK ? n : BT_ARENA_BLOCK;
		b = bt_malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->next = NULL;
		b->cap = cap;
		struct bt_blk **pp = &e->head;
		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = b;
	}
	e->cur = b;
	b->used = n;
	return b->data;
}

void *bt_otlp_ar(bt_otlp_enc *e, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct bt_blk *b = e->cur;
	if (b != NULL && b->cap - b->used >= n) {
		void *p = b->data + b->used;
		b->used += n;
		return p;
	}
	return bt_ar_slow(e, n);
}

void bt_otlp_ar_rewind(bt_otlp_enc *e)
{
	for (struct bt_blk *b = e->head; b != NULL; b = b->next)
		b->used = 0;
	e->cur = e->head;
}

bt_otlp_buf *bt_otlp_out(bt_otlp_enc *e)
{
	return &e->out;
}

baton_err bt_otlp_enc_create(bt_otlp_enc **out)
{
	bt_otlp_enc *e = bt_calloc(1, sizeof(*e));
	if (e == NULL)
		return BATON_ENOMEM;
	*out = e;
	return BATON_OK;
}

void bt_otlp_enc_destroy(bt_otlp_enc *e)
{
	if (e == NULL)
		return;
	while (e->head != NULL) {
		struct bt_blk *b = e->head;
		e->head = b->next;
		bt_free(b);
	}
	bt_otlp_buf_free(&e->out);
	bt_free(e->sz);
	bt_free(e);
}

/* ---- grouping ---- */

bt_otlp_group *bt_otlp_group_spans(bt_otlp_enc *e, const baton_span_data *const *spans,
                                   size_t n, size_t *ng)
{
	bt_otlp_group *g = bt_otlp_ar(e, n * sizeof(*g));
	uint32_t *gi = bt_otlp_ar(e, n * sizeof(*gi));
	const baton_resource **res = bt_otlp_ar(e, n * sizeof(*res));
	if (g == NULL || gi == NULL || res == NULL)
		return NULL;
	size_t k = 0, cnt = 0, nres = 0;
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *s = spans[i];
		/* The last group hit is tried first: batches are mostly one group. */
		if (cnt == 0 || g[k].res != s->resource || g[k].scope != s->scope) {
			for (k = 0; k < cnt; k++) {
				if (g[k].res == s->resource && g[k].scope == s->scope)
					break;
			}
			if (k == cnt) {
				uint32_t r;
				for (r = 0; r < nres; r++) {
					if (res[r] == s->resource)
						break;
				}
				if (r == nres)
					res[nres++] = s->resource;
				g[cnt++] =
				    (bt_otlp_group){s->resource, s->scope, 0, 0, NULL, r};
			}
		}
		g[k].count++;
		gi[i] = (uint32_t)k;
	}
	for (k = 0; k < cnt; k++) {
		g[k].spans = bt_otlp_ar(e, g[k].count * sizeof(*g[k].spans));
		if (g[k].spans == NULL)
			return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		bt_otlp_group *gr = &g[gi[i]];
		gr->spans[gr->fill++] = spans[i];
	}
	/* Stable insertion sort by resource: a resource's groups become adjacent. */
	for (size_t i = 1; i < cnt; i++) {
		bt_otlp_group t = g[i];
		size_t j = i;
		while (j > 0 && g[j - 1].r > t.r) {
			g[j] = g[j - 1];
			j--;
		}
		g[j] = t;
	}
	*ng = cnt;
	return g;
}

size_t bt_otlp_th_hex(uint64_t th, char *out)
{
	static const char hex[] = "0123456789abcdef";
	th &= ((uint64_t)1 << 56) - 1; /* 14 digits, as the contract says */
	if (th == 0) {
		/* The common case (sample everything): no digits to work out. */
		out[0] = '0';
		out[1] = '\0';
		return 1;
	}
	/* 14 digits less the trailing zero ones. */
	size_t n = 14 - (size_t)__builtin_ctzll(th) / 4;
	th >>= 4 * (14 - n);
	for (size_t i = n; i-- > 0;) {
		out[i] = hex[th & 0xf];
		th >>= 4;
	}
	out[n] = '\0';
	return n;
}

/* ---- pass 1: sizes ---- */

static inline size_t bt_vlen(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A length-delimited field with a one-byte tag and n bytes of content. */
static inline size_t bt_fld(size_t n)
{
	return 1 + bt_vlen(n) + n;
}

/* Grows the size slots and takes the next; SIZE_MAX (and e->oom) when out of memory. */
__attribute__((noinline)) static size_t bt_slot_grow(bt_otlp_enc *e)
{
	size_t cap = e->capsz ? e->capsz * 2 : 4096;
	uint32_t *p = bt_realloc(e->sz, cap * sizeof(*p));
	if (p == NULL) {
		e->oom = true; /* the pass goes on harmlessly and is then abandoned */
		return SIZE_MAX;
	}
	e->sz = p;
	e->capsz = cap;
	e->sz[e->nsz] = 0;
	return e->nsz++;
}

/* Takes the next size slot; SIZE_MAX (and e->oom) when out of memory. Called
 * a dozen times a span: the common case stays inline. */
static inline size_t bt_slot(bt_otlp_enc *e)
{
	if (__builtin_expect(e->nsz == e->capsz, 0))
		return bt_slot_grow(e);
	e->sz[e->nsz] = 0;
	return e->nsz++;
}

static inline void bt_slot_set(bt_otlp_enc *e, size_t slot, size_t n)
{
	if (slot == SIZE_MAX)
		return;
	if (n > UINT32_MAX)
		e->oom = true; /* a nested message over 4 GiB: beyond any limit anyway */
	e->sz[slot] = (uint32_t)n;
}

static size_t bt_sz_value(bt_otlp_enc *e, const baton_value *v);

/* In a text slot: the string is ill-formed, pass 2 writes it sanitized. */
#define BT_DIRTY 0x80000000u

/* The length string s[0..n) takes as well-formed UTF-8. */
static inline size_t bt_text_len(const char *s, size_t n)
{
	size_t v = s != NULL ? bt_utf8_valid_prefix(s, n) : 0;
	if (__builtin_expect(v == n, 1))
		return n;
	return v + bt_utf8_sanitize(NULL, SIZE_MAX, s + v, n - v, SIZE_MAX);
}

/* As bt_text_len, and takes a text slot with the length and BT_DIRTY when
 * the string needs the sanitizer (ill-formed text always grows). */
static inline size_t bt_sz_text(bt_otlp_enc *e, const char *s, size_t n)
{
	size_t out = bt_text_len(s, n);
	size_t slot = bt_slot(e);
	if (out >= BT_DIRTY)
		e->oom = true; /* a 2 GiB string: beyond any limit anyway */
	if (slot != SIZE_MAX)
		e->sz[slot] = (uint32_t)out | (out != n ? BT_DIRTY : 0);
	return out;
}

baton_value bt_otlp_elem(const baton_value *v, size_t i)
{
	baton_value ev = {BATON_VALUE_NONE, {0}, 0};
	switch (v->type) {
	case BATON_VALUE_STRING_ARRAY:
		ev.type = BATON_VALUE_STRING;
		ev.u.s = v->u.sa[i] != NULL ? v->u.sa[i] : "";
		ev.len = strlen(ev.u.s);
		break;
	case BATON_VALUE_INT_ARRAY:
		ev.type = BATON_VALUE_INT;
		ev.u.i = v->u.ia[i];
		break;
	case BATON_VALUE_DOUBLE_ARRAY:
		ev.type = BATON_VALUE_DOUBLE;
		ev.u.d = v->u.da[i];
		break;
	default:
		ev.type = BATON_VALUE_BOOL;
		ev.u.b = v->u.ba[i];
		break;
	}
	return ev;
}

static inline size_t bt_strlen(const baton_value *v)
{
	return v->u.s == NULL ? 0 : v->len == (size_t)-1 ? strlen(v->u.s) : v->len;
}

/* AnyValue content; its slot first, then an ArrayValue's and its elements'. */
static size_t bt_sz_value(bt_otlp_enc *e, const baton_value *v)
{
	size_t slot = bt_slot(e), n = 0;
	switch (v->type) {
	case BATON_VALUE_STRING:
		n = bt_fld(bt_sz_text(e, v->u.s, bt_strlen(v)));
		break;
	case BATON_VALUE_BOOL:
		n = 2;
		break;
	case BATON_VALUE_INT:
		n = 1 + bt_vlen((uint64_t)v->u.i);
		break;
	case BATON_VALUE_DOUBLE:
		n = 9;
		break;
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY: {
		size_t aslot = bt_slot(e), an = 0;
		for (size_t i = 0; i < v->len; i++) {
			baton_value ev = bt_otlp_elem(v, i);
			an += bt_fld(bt_sz_value(e, &ev));
		}
		bt_slot_set(e, aslot, an);
		n = bt_fld(an);
		break;
	}
	default:
		break;
	}
	bt_slot_set(e, slot, n);
	return n;
}

/* All the KeyValue fields of a list (each with its one-byte tag). */
static size_t bt_sz_attrs(bt_otlp_enc *e, const baton_attr *list)
{
	size_t total = 0;
	for (const baton_attr *a = list; a != NULL; a = a->next) {
		size_t slot = bt_slot(e);
		size_t kl = bt_sz_text(e, a->key, a->key != NULL ? strlen(a->key) : 0);
		size_t n = (kl ? bt_fld(kl) : 0) + bt_fld(bt_sz_value(e, &a->value));
		bt_slot_set(e, slot, n);
		total += bt_fld(n);
	}
	return total;
}

static size_t bt_ts_len(const baton_span_context *c)
{
	size_t tl = c->tracestate != NULL ? strlen(c->tracestate) : 0;
	tl = bt_text_len(c->tracestate, tl);
	if (!(c->state & BATON_CTX_HAS_TH) || c->threshold >= BATON_TH_MAX)
		return tl;
	char hex[16];
	return 6 + bt_otlp_th_hex(c->threshold, hex) + (tl ? 1 + tl : 0);
}

/* The field length of a C string (NULL: none), as well-formed UTF-8. Short
 * fields (event names, status, scope) are measured again by the writer. */
static size_t bt_cstr_len(const char *s)
{
	return s != NULL ? bt_text_len(s, strlen(s)) : 0;
}

static size_t bt_sz_span(bt_otlp_enc *e, const baton_span_data *s)
{
	size_t slot = bt_slot(e);
	size_t n = 18 + 10; /* trace_id, span_id */
	size_t x = bt_ts_len(&s->context);
	bt_slot_set(e, bt_slot(e), x); /* the writer reads these two lengths back */
	if (x)
		n += bt_fld(x);
	if (s->parent.state & BATON_CTX_VALID)
		n += 10;
	x = bt_sz_text(e, s->name, s->name != NULL ? strlen(s->name) : 0);
	if (x)
		n += bt_fld(x);
	if (s->kind)
		n += 1 + bt_vlen((uint64_t)s->kind);
	if (s->start_unix_ns)
		n += 9;
	if (s->end_unix_ns)
		n += 9;
	n += bt_sz_attrs(e, s->attrs);
	if (s->dropped_attrs)
		n += 1 + bt_vlen(s->dropped_attrs);
	for (const baton_event *ev = s->events; ev != NULL; ev = ev->next) {
		size_t es = bt_slot(e);
		size_t m = ev->time_unix_ns ? 9 : 0;
		x = bt_cstr_len(ev->name);
		if (x)
			m += bt_fld(x);
		m += bt_sz_attrs(e, ev->attrs);
		if (ev->dropped_attrs)
			m += 1 + bt_vlen(ev->dropped_attrs);
		bt_slot_set(e, es, m);
		n += bt_fld(m);
	}
	if (s->dropped_events)
		n += 1 + bt_vlen(s->dropped_events);
	for (const baton_link *l = s->links; l != NULL; l = l->next) {
		size_t ls = bt_slot(e);
		size_t m = 18 + 10;
		x = bt_ts_len(&l->context);
		if (x)
			m += bt_fld(x);
		m += bt_sz_attrs(e, l->attrs);
		if (l->dropped_attrs)
			m += 1 + bt_vlen(l->dropped_attrs);
		m += 5; /* flags: never zero (0x100 is always set) */
		bt_slot_set(e, ls, m);
		n += bt_fld(m);
	}
	if (s->dropped_links)
		n += 1 + bt_vlen(s->dropped_links);
	if (s->status != BATON_STATUS_UNSET || s->status_message != NULL) {
		size_t ss = bt_slot(e);
		size_t m = 0;
		x = bt_cstr_len(s->status_message);
		if (x)
			m += bt_fld(x);
		if (s->status)
			m += 1 + bt_vlen((uint64_t)s->status);
		bt_slot_set(e, ss, m);
		n += bt_fld(m);
	}
	n += 2 + 4; /* flags (field 16: a two-byte tag) */
	bt_slot_set(e, slot, n);
	return n;
}

static size_t bt_sz_scope(bt_otlp_enc *e, const baton_scope *sc)
{
	size_t slot = bt_slot(e), n = 0;
	size_t x = bt_cstr_len(sc->name);
	if (x)
		n += bt_fld(x);
	x = bt_cstr_len(sc->version);
	if (x)
		n += bt_fld(x);
	bt_slot_set(e, slot, n);
	return n;
}

/* ---- pass 2: bytes ---- */

static inline uint32_t bt_next(bt_otlp_enc *e)
{
	return e->sz[e->rd++];
}

static inline uint8_t *bt_w_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *bt_w_bytes(uint8_t *p, uint8_t tag, const void *d, size_t n)
{
	*p++ = tag;
	p = bt_w_varint(p, n);
	if (n > 0)
		memcpy(p, d, n);
	return p + n;
}

/* The out bytes of s[0..n) as well-formed UTF-8 (as bt_text_len measured). */
static inline uint8_t *bt_w_utf8(uint8_t *p, const char *s, size_t n, size_t out,
                                 bool dirty)
{
	if (!dirty) {
		if (out > 0)
			memcpy(p, s, out);
	} else {
		bt_utf8_sanitize((char *)p, out, s, n, SIZE_MAX);
	}
	return p + out;
}

/* A string field whose text slot k (length | BT_DIRTY) pass 1 took;
 * n: the raw length, SIZE_MAX for a C string (measured only when dirty). */
static inline uint8_t *bt_w_text(uint8_t *p, uint8_t tag, const char *s, size_t n,
                                 uint32_t k)
{
	size_t out = k & ~BT_DIRTY;
	*p++ = tag;
	p = bt_w_varint(p, out);
	if ((k & BT_DIRTY) && n == SIZE_MAX)
		n = strlen(s);
	return bt_w_utf8(p, s, n, out, (k & BT_DIRTY) != 0);
}

/* A C string field, left out when empty. */
static inline uint8_t *bt_w_str(uint8_t *p, uint8_t tag, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	size_t out = n ? bt_text_len(s, n) : 0;
	if (out == 0)
		return p;
	*p++ = tag;
	p = bt_w_varint(p, out);
	return bt_w_utf8(p, s, n, out, out != n);
}

/* Little-endian stores: one move on little-endian machines, not a byte loop. */
static inline uint8_t *bt_w_fixed64(uint8_t *p, uint8_t tag, uint64_t v)
{
	*p++ = tag;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
	return p + 8;
#else
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
#endif
}

static inline uint8_t *bt_w_fixed32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 4);
	return p + 4;
#else
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
#endif
}

/* Tag and length of a nested message whose size is the next slot. */
static inline uint8_t *bt_w_head(bt_otlp_enc *e, uint8_t *p, uint8_t tag)
{
	*p++ = tag;
	return bt_w_varint(p, bt_next(e));
}

static uint8_t *bt_w_value(bt_otlp_enc *e, uint8_t *p, const baton_value *v)
{
	double d;
	uint64_t bits;
	switch (v->type) {
	case BATON_VALUE_STRING:
		return bt_w_text(p, 0x0a, v->u.s, bt_strlen(v), bt_next(e));
	case BATON_VALUE_BOOL:
		*p++ = 0x10;
		*p++ = v->u.b ? 1 : 0;
		return p;
	case BATON_VALUE_INT:
		*p++ = 0x18;
		return bt_w_varint(p, (uint64_t)v->u.i);
	case BATON_VALUE_DOUBLE:
		d = v->u.d;
		memcpy(&bits, &d, sizeof(bits));
		return bt_w_fixed64(p, 0x21, bits);
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY:
		p = bt_w_head(e, p, 0x2a); /* array_value (5) */
		for (size_t i = 0; i < v->len; i++) {
			baton_value ev = bt_otlp_elem(v, i);
			p = bt_w_head(e, p, 0x0a); /* ArrayValue.values (1) */
			p = bt_w_value(e, p, &ev);
		}
		return p;
	default:
		return p;
	}
}

static uint8_t *bt_w_attrs(bt_otlp_enc *e, uint8_t *p, uint8_t tag,
                           const baton_attr *list)
{
	for (const baton_attr *a = list; a != NULL; a = a->next) {
		p = bt_w_head(e, p, tag);
		uint32_t kl = bt_next(e);
		if (kl)
			p = bt_w_text(p, 0x0a, a->key, SIZE_MAX, kl);
		p = bt_w_head(e, p, 0x12);
		p = bt_w_value(e, p, &a->value);
	}
	return p;
}

static uint8_t *bt_w_tracestate(uint8_t *p, uint8_t tag, const baton_span_context *c,
                                size_t n)
{
	if (n == 0)
		return p;
	*p++ = tag;
	p = bt_w_varint(p, n);
	const char *ts = c->tracestate;
	size_t tl = ts != NULL ? strlen(ts) : 0;
	uint8_t *start = p;
	if ((c->state & BATON_CTX_HAS_TH) && c->threshold < BATON_TH_MAX) {
		char hex[16];
		size_t hl = bt_otlp_th_hex(c->threshold, hex);
		memcpy(p, "ot=th:", 6);
		memcpy(p + 6, hex, hl);
		p += 6 + hl;
		if (tl)
			*p++ = ',';
	}
	size_t out = n - (size_t)(p - start); /* the tracestate's share of n */
	return bt_w_utf8(p, ts, tl, out, out != tl);
}

static uint32_t bt_flags(const baton_span_context *c, bool remote)
{
	/* Low byte: W3C flags; 0x100: is_remote is known; 0x200: remote. */
	return (uint32_t)c->trace_flags | 0x100u | (remote ? 0x200u : 0u);
}

static uint8_t *bt_w_span(bt_otlp_enc *e, uint8_t *p, const baton_span_data *s)
{
	p = bt_w_bytes(p, 0x0a, s->context.trace_id, BATON_TRACE_ID_SIZE);
	p = bt_w_bytes(p, 0x12, s->context.span_id, BATON_SPAN_ID_SIZE);
	p = bt_w_tracestate(p, 0x1a, &s->context, bt_next(e));
	bool has_parent = (s->parent.state & BATON_CTX_VALID) != 0;
	if (has_parent)
		p = bt_w_bytes(p, 0x22, s->parent.span_id, BATON_SPAN_ID_SIZE);
	uint32_t nl = bt_next(e);
	if (nl)
		p = bt_w_text(p, 0x2a, s->name, SIZE_MAX, nl);
	if (s->kind) {
		*p++ = 0x30;
		p = bt_w_varint(p, (uint64_t)s->kind);
	}
	if (s->start_unix_ns)
		p = bt_w_fixed64(p, 0x39, s->start_unix_ns);
	if (s->end_unix_ns)
		p = bt_w_fixed64(p, 0x41, s->end_unix_ns);
	p = bt_w_attrs(e, p, 0x4a, s->attrs);
	if (s->dropped_attrs) {
		*p++ = 0x50;
		p = bt_w_varint(p, s->dropped_attrs);
	}
	for (const baton_event *ev = s->events; ev != NULL; ev = ev->next) {
		p = bt_w_head(e, p, 0x5a);
		if (ev->time_unix_ns)
			p = bt_w_fixed64(p, 0x09, ev->time_unix_ns);
		p = bt_w_str(p, 0x12, ev->name);
		p = bt_w_attrs(e, p, 0x1a, ev->attrs);
		if (ev->dropped_attrs) {
			*p++ = 0x20;
			p = bt_w_varint(p, ev->dropped_attrs);
		}
	}
	if (s->dropped_events) {
		*p++ = 0x60;
		p = bt_w_varint(p, s->dropped_events);
	}
	for (const baton_link *l = s->links; l != NULL; l = l->next) {
		p = bt_w_head(e, p, 0x6a);
		p = bt_w_bytes(p, 0x0a, l->context.trace_id, BATON_TRACE_ID_SIZE);
		p = bt_w_bytes(p, 0x12, l->context.span_id, BATON_SPAN_ID_SIZE);
		p = bt_w_tracestate(p, 0x1a, &l->context, bt_ts_len(&l->context));
		p = bt_w_attrs(e, p, 0x22, l->attrs);
		if (l->dropped_attrs) {
			*p++ = 0x28;
			p = bt_w_varint(p, l->dropped_attrs);
		}
		*p++ = 0x35;
		p = bt_w_fixed32(
		    p, bt_flags(&l->context, (l->context.state & BATON_CTX_REMOTE) != 0));
	}
	if (s->dropped_links) {
		*p++ = 0x70;
		p = bt_w_varint(p, s->dropped_links);
	}
	if (s->status != BATON_STATUS_UNSET || s->status_message != NULL) {
		p = bt_w_head(e, p, 0x7a);
		p = bt_w_str(p, 0x12, s->status_message);
		if (s->status) {
			*p++ = 0x18;
			p = bt_w_varint(p, (uint64_t)s->status);
		}
	}
	*p++ = 0x85; /* flags (16, fixed32) */
	*p++ = 0x01;
	return bt_w_fixed32(
	    p, bt_flags(&s->context, has_parent && (s->parent.state & BATON_CTX_REMOTE)));
}

/* ---- the request ---- */

baton_err bt_otlp_encode(bt_otlp_enc *e, const baton_span_data *const *spans, size_t n,
                         size_t limit, const uint8_t **body, size_t *len)
{
	size_t ng = 0;
	bt_otlp_ar_rewind(e);
	e->nsz = 0;
	e->rd = 0;
	e->oom = false;
	if (n == 0) {
		*body = (const uint8_t *)"";
		*len = 0;
		return BATON_OK;
	}
	bt_otlp_group *g = bt_otlp_group_spans(e, spans, n, &ng);
	if (g == NULL)
		return BATON_ENOMEM;

	/* Pass 1. Per resource: ResourceSpans, Resource and its attributes; per
	 * group: ScopeSpans, scope, spans. */
	size_t total = 0;
	for (size_t k = 0; k < ng;) {
		size_t rslot = bt_slot(e), rn = 0;
		if (g[k].res != NULL) {
			size_t slot = bt_slot(e);
			size_t m = bt_sz_attrs(e, g[k].res->attrs);
			bt_slot_set(e, slot, m);
			rn += bt_fld(m);
		}
		uint32_t r = g[k].r;
		for (; k < ng && g[k].r == r; k++) {
			size_t sslot = bt_slot(e), sn = 0;
			if (g[k].scope != NULL)
				sn += bt_fld(bt_sz_scope(e, g[k].scope));
			for (size_t i = 0; i < g[k].count; i++)
				sn += bt_fld(bt_sz_span(e, g[k].spans[i]));
			bt_slot_set(e, sslot, sn);
			rn += bt_fld(sn);
		}
		bt_slot_set(e, rslot, rn);
		total += bt_fld(rn);
		if (e->oom)
			return BATON_ENOMEM;
	}
	if (e->oom)
		return BATON_ENOMEM;
	if (total > limit)
		return BATON_ETOOBIG;
	if (!bt_otlp_buf_reserve(&e->out, total, limit))
		return BATON_ENOMEM;

	/* Pass 2, in the same order. */
	uint8_t *p = e->out.p;
	for (size_t k = 0; k < ng;) {
		p = bt_w_head(e, p, 0x0a); /* resource_spans (1) */
		if (g[k].res != NULL) {
			p = bt_w_head(e, p, 0x0a); /* resource (1) */
			p = bt_w_attrs(e, p, 0x0a, g[k].res->attrs);
		}
		uint32_t r = g[k].r;
		for (; k < ng && g[k].r == r; k++) {
			p = bt_w_head(e, p, 0x12); /* scope_spans (2) */
			if (g[k].scope != NULL) {
				p = bt_w_head(e, p, 0x0a); /* scope (1) */
				p = bt_w_str(p, 0x0a, g[k].scope->name);
				p = bt_w_str(p, 0x12, g[k].scope->version);
			}
			for (size_t i = 0; i < g[k].count; i++) {
				p = bt_w_head(e, p, 0x12); /* spans (2) */
				p = bt_w_span(e, p, g[k].spans[i]);
			}
		}
	}
	e->out.len = (size_t)(p - e->out.p);
	if (e->out.len != total || e->rd != e->nsz)
		return BATON_EFORMAT; /* the two passes disagree: a bug, never sent */
	*body = e->out.p;
	*len = e->out.len;
	return BATON_OK;
}
