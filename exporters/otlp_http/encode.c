/*
 * The direct protobuf writer: baton_span_data -> ExportTraceServiceRequest
 * bytes, with the field numbers and wire types of proto/otlp_trace.proto
 * (the same schema protoc-c compiles for the reference encoder and the
 * decoders).
 *
 * One pass, backwards: each message is written from its last field to its
 * first into the end of the output buffer, so the length of a nested
 * message is known when its tag and length go in front of it. Lists
 * (attributes, events, links) are walked once onto a stack of pointers and
 * written last first. The buffer grows by moving what is written to the
 * end of a bigger one; it never holds more than limit + BT_SLACK bytes.
 * Fields come out in field-number order with proto3 zero values left out,
 * exactly as libprotobuf-c packs them, so both encoders give the same
 * bytes (a test holds them to that).
 *
 * Every string field goes out as well-formed UTF-8, whoever built the span
 * data (a collector may reject a whole batch over one bad string): each
 * string is checked once; a well-formed one is copied as it is, an
 * ill-formed one is measured with each bad byte as U+FFFD and written by
 * the sanitizer.
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
	/* The protobuf body is written backwards and ends at out.p + out.cap. */
	bt_otlp_buf out;
	/* The writer's floor (the lowest byte it may write), the most bytes
	 * it may write (limit + BT_SLACK), and why it stopped. */
	uint8_t *lo;
	size_t lim;
	baton_err err;
	/* Items of the lists being written, to walk each list last first. */
	const void **stk;
	size_t nstk, capstk;
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
	bt_free(e->stk);
	bt_free(e);
}

/* ---- grouping ---- */

/*
 * The spans of a batch were written on other threads, often long enough
 * ago to have left every cache, and are read once: the writer has the SDK
 * fetch each whole record some spans ahead of the one it writes, and the
 * name (interned, or in the record) a few spans after that.
 */
#define BT_AHEAD_RECORD 8
#define BT_AHEAD_NAME   4

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

/* ---- the writer: backwards from the end of the buffer ---- */

/*
 * What the writer may ask for beyond the bytes it will really write: room
 * is made a few fields at a time with each varint counted at its widest.
 * The buffer may hold limit + BT_SLACK bytes, so a body of exactly limit
 * bytes never fails for want of room, and the limit is checked exactly at
 * the end.
 */
#define BT_SLACK ((size_t)256)

/* Bytes written so far: they end at the end of the buffer. */
static inline size_t bt_used(const bt_otlp_enc *e, const uint8_t *p)
{
	return (size_t)(e->out.p + e->out.cap - p);
}

/* Moves what is written to the end of a bigger buffer with room for n more
 * bytes; NULL (and e->err) when the body would pass the limit or memory is
 * short. */
__attribute__((noinline, cold)) static uint8_t *bt_grow(bt_otlp_enc *e, uint8_t *p,
                                                        size_t n)
{
	size_t used = bt_used(e, p);
	if (n > e->lim - used) {
		e->err = BATON_ETOOBIG;
		return NULL;
	}
	size_t cap = e->out.cap ? e->out.cap : 4096;
	while (cap - used < n)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > e->lim)
		cap = e->lim; /* still room for n: used + n <= lim */
	uint8_t *q = bt_malloc(cap);
	if (q == NULL) {
		e->err = BATON_ENOMEM;
		return NULL;
	}
	if (used > 0)
		memcpy(q + cap - used, p, used);
	bt_free(e->out.p);
	e->out.p = q;
	e->out.cap = cap;
	e->lo = q;
	return q + cap - used;
}

/* Makes room for n bytes before p (which may move), or returns NULL from
 * the function that uses it. */
#define BT_ROOM(e, p, n)                                                                 \
	do {                                                                             \
		if (__builtin_expect((size_t)((p) - (e)->lo) < (n), 0)) {                \
			(p) = bt_grow((e), (p), (n));                                    \
			if ((p) == NULL)                                                 \
				return NULL;                                             \
		}                                                                        \
	} while (0)

/* Returns NULL from the function when a step failed (e->err says why). */
#define BT_TRY(x)                                                                        \
	do {                                                                             \
		if ((x) == NULL)                                                         \
			return NULL;                                                     \
	} while (0)

static inline size_t bt_vlen(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A varint ending at p (room made: up to 10 bytes). */
static inline uint8_t *bt_r_varint(uint8_t *p, uint64_t v)
{
	if (__builtin_expect(v < 0x80, 1)) {
		*--p = (uint8_t)v;
		return p;
	}
	p -= bt_vlen(v);
	uint8_t *q = p;
	while (v >= 0x80) {
		*q++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*q = (uint8_t)v;
	return p;
}

/* A varint field ending at p (room made: up to 11 bytes). */
static inline uint8_t *bt_r_uint(uint8_t *p, uint8_t tag, uint64_t v)
{
	p = bt_r_varint(p, v);
	*--p = tag;
	return p;
}

/* Little-endian stores: one move on little-endian machines, not a byte loop. */
static inline uint8_t *bt_r_fixed64(uint8_t *p, uint8_t tag, uint64_t v)
{
	p -= 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
#endif
	*--p = tag;
	return p;
}

static inline uint8_t *bt_r_fixed32(uint8_t *p, uint32_t v)
{
	p -= 4;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 4);
#else
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
#endif
	return p;
}

/* An id field (room made: n + 2 bytes). */
static inline uint8_t *bt_r_id(uint8_t *p, uint8_t tag, const uint8_t *id, size_t n)
{
	p -= n;
	memcpy(p, id, n);
	*--p = (uint8_t)n;
	*--p = tag;
	return p;
}

/* Tag and length of a nested message of n bytes written just after p. */
static inline uint8_t *bt_r_head(bt_otlp_enc *e, uint8_t *p, uint8_t tag, size_t n)
{
	BT_ROOM(e, p, 11);
	return bt_r_uint(p, tag, n);
}

/*
 * The length s[0..n) takes as well-formed UTF-8 (each ill-formed byte
 * becomes U+FFFD), and *dirty when it is not: the one check of a string.
 */
static inline size_t bt_text_len(const char *s, size_t n, bool *dirty)
{
	*dirty = false;
	if (n == 0)
		return 0;
	size_t v = bt_utf8_valid_prefix(s, n);
	if (__builtin_expect(v == n, 1))
		return n;
	*dirty = true;
	return v + bt_utf8_sanitize(NULL, SIZE_MAX, s + v, n - v, SIZE_MAX);
}

/* The out bytes of s[0..n) as well-formed UTF-8 (as bt_text_len measured)
 * ending at p (room made). */
static inline uint8_t *bt_r_utf8(uint8_t *p, const char *s, size_t n, size_t out,
                                 bool dirty)
{
	p -= out;
	if (!dirty) {
		if (out > 0)
			memcpy(p, s, out);
	} else {
		bt_utf8_sanitize((char *)p, out, s, n, SIZE_MAX);
	}
	return p;
}

/* A string field: tag, length, s[0..n) as well-formed UTF-8; with opt, left
 * out when empty. */
static uint8_t *bt_r_text(bt_otlp_enc *e, uint8_t *p, uint8_t tag, const char *s,
                          size_t n, bool opt)
{
	bool dirty;
	size_t out = bt_text_len(s, n, &dirty);
	if (out == 0 && opt)
		return p;
	BT_ROOM(e, p, out + 11);
	p = bt_r_utf8(p, s, n, out, dirty);
	return bt_r_uint(p, tag, out);
}

/* A C string field (NULL: none), left out when empty. */
static inline uint8_t *bt_r_str(bt_otlp_enc *e, uint8_t *p, uint8_t tag, const char *s)
{
	if (s == NULL)
		return p;
	return bt_r_text(e, p, tag, s, strlen(s), true);
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

/* An AnyValue's content: its one field (an ArrayValue for arrays). */
static uint8_t *bt_r_value(bt_otlp_enc *e, uint8_t *p, const baton_value *v)
{
	double d;
	uint64_t bits;
	switch (v->type) {
	case BATON_VALUE_STRING:
		return bt_r_text(e, p, 0x0a, v->u.s, bt_strlen(v), false);
	case BATON_VALUE_BOOL:
		BT_ROOM(e, p, 2);
		*--p = v->u.b ? 1 : 0;
		*--p = 0x10;
		return p;
	case BATON_VALUE_INT:
		BT_ROOM(e, p, 11);
		return bt_r_uint(p, 0x18, (uint64_t)v->u.i);
	case BATON_VALUE_DOUBLE:
		BT_ROOM(e, p, 9);
		d = v->u.d;
		memcpy(&bits, &d, sizeof(bits));
		return bt_r_fixed64(p, 0x21, bits);
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY: {
		size_t mark = bt_used(e, p);
		for (size_t i = v->len; i-- > 0;) {
			baton_value ev = bt_otlp_elem(v, i);
			size_t m = bt_used(e, p);
			BT_TRY(p = bt_r_value(e, p, &ev));
			/* ArrayValue.values (1) */
			BT_TRY(p = bt_r_head(e, p, 0x0a, bt_used(e, p) - m));
		}
		return bt_r_head(e, p, 0x2a, bt_used(e, p) - mark); /* array_value (5) */
	}
	default:
		return p;
	}
}

/* One KeyValue field with its tag. A scalar or string value and the key
 * take one room check. */
static uint8_t *bt_r_kv(bt_otlp_enc *e, uint8_t *p, uint8_t tag, const baton_attr *a)
{
	const baton_value *v = &a->value;
	size_t kn = a->key != NULL ? strlen(a->key) : 0;
	bool kd, vd;
	size_t kl = bt_text_len(a->key, kn, &kd);
	size_t mark = bt_used(e, p);
	/* Beside the key and value bytes: up to four tags and lengths. */
	size_t heads = 4 * 11;
	switch (v->type) {
	case BATON_VALUE_STRING: {
		size_t vn = bt_strlen(v);
		size_t vl = bt_text_len(v->u.s, vn, &vd);
		BT_ROOM(e, p, kl + vl + heads);
		p = bt_r_utf8(p, v->u.s, vn, vl, vd);
		p = bt_r_uint(p, 0x0a, vl);
		break;
	}
	case BATON_VALUE_BOOL:
		BT_ROOM(e, p, kl + 2 + heads);
		*--p = v->u.b ? 1 : 0;
		*--p = 0x10;
		break;
	case BATON_VALUE_INT:
		BT_ROOM(e, p, kl + 11 + heads);
		p = bt_r_uint(p, 0x18, (uint64_t)v->u.i);
		break;
	default:
		BT_TRY(p = bt_r_value(e, p, v));
		BT_ROOM(e, p, kl + heads);
		break;
	}
	p = bt_r_uint(p, 0x12, bt_used(e, p) - mark); /* value (2) */
	if (kl) {
		p = bt_r_utf8(p, a->key, kn, kl, kd);
		p = bt_r_uint(p, 0x0a, kl); /* key (1) */
	}
	return bt_r_uint(p, tag, bt_used(e, p) - mark);
}

/* Pushes a list's items on the stack; false (and e->err) when out of memory. */
__attribute__((noinline)) static bool bt_stk_grow(bt_otlp_enc *e)
{
	size_t cap = e->capstk ? e->capstk * 2 : 256;
	const void **s = bt_realloc(e->stk, cap * sizeof(*s));
	if (s == NULL) {
		e->err = BATON_ENOMEM;
		return false;
	}
	e->stk = s;
	e->capstk = cap;
	return true;
}

static inline bool bt_push(bt_otlp_enc *e, const void *item)
{
	if (__builtin_expect(e->nstk == e->capstk, 0) && !bt_stk_grow(e))
		return false;
	e->stk[e->nstk++] = item;
	return true;
}

/* The KeyValue fields of a long list, last first, through the stack. */
__attribute__((noinline)) static uint8_t *
bt_r_attrs_long(bt_otlp_enc *e, uint8_t *p, uint8_t tag, const baton_attr *list)
{
	size_t base = e->nstk;
	for (const baton_attr *a = list; a != NULL; a = a->next) {
		if (!bt_push(e, a))
			return NULL;
	}
	for (size_t i = e->nstk; p != NULL && i-- > base;)
		p = bt_r_kv(e, p, tag, e->stk[i]);
	e->nstk = base;
	return p;
}

/* The KeyValue fields of a list, last first, so that they come out in
 * order. A short list is walked onto the C stack. */
static uint8_t *bt_r_attrs(bt_otlp_enc *e, uint8_t *p, uint8_t tag,
                           const baton_attr *list)
{
	const baton_attr *loc[8];
	size_t n = 0;
	const baton_attr *a = list;
	for (; a != NULL && n < 8; a = a->next)
		loc[n++] = a;
	if (a != NULL)
		return bt_r_attrs_long(e, p, tag, list);
	while (n > 0 && p != NULL)
		p = bt_r_kv(e, p, tag, loc[--n]);
	return p;
}

/* A tracestate field: "ot=th:<hex>" first when the context carries a
 * threshold, then the tracestate as well-formed UTF-8; none when empty. */
static uint8_t *bt_r_tracestate(bt_otlp_enc *e, uint8_t *p, uint8_t tag,
                                const baton_span_context *c)
{
	const char *ts = c->tracestate;
	bool th = (c->state & BATON_CTX_HAS_TH) && c->threshold < BATON_TH_MAX;
	if (ts == NULL && th && c->threshold == 0) {
		/* What every span sampled by always_on carries. */
		BT_ROOM(e, p, 9);
		p -= 9;
		memcpy(p, "\0\7ot=th:0", 9);
		*p = tag;
		return p;
	}
	size_t tl = ts != NULL ? strlen(ts) : 0;
	bool dirty;
	size_t out = bt_text_len(ts, tl, &dirty);
	if (!th && out == 0)
		return p;
	char hex[16];
	size_t hl = th ? bt_otlp_th_hex(c->threshold, hex) : 0;
	size_t n = th ? 6 + hl + (out ? 1 + out : 0) : out;
	BT_ROOM(e, p, n + 11);
	p = bt_r_utf8(p, ts, tl, out, dirty);
	if (th) {
		if (out)
			*--p = ',';
		for (size_t i = hl; i-- > 0;)
			*--p = (uint8_t)hex[i];
		p -= 6;
		memcpy(p, "ot=th:", 6);
	}
	return bt_r_uint(p, tag, n);
}

static uint32_t bt_flags(const baton_span_context *c, bool remote)
{
	/* Low byte: W3C flags; 0x100: is_remote is known; 0x200: remote. */
	return (uint32_t)c->trace_flags | 0x100u | (remote ? 0x200u : 0u);
}

/* One Event field (11) with its tag. */
static uint8_t *bt_r_event(bt_otlp_enc *e, uint8_t *p, const baton_event *ev)
{
	size_t mark = bt_used(e, p);
	BT_ROOM(e, p, 6);
	if (ev->dropped_attrs)
		p = bt_r_uint(p, 0x20, ev->dropped_attrs);
	BT_TRY(p = bt_r_attrs(e, p, 0x1a, ev->attrs));
	BT_TRY(p = bt_r_str(e, p, 0x12, ev->name));
	BT_ROOM(e, p, 9 + 11);
	if (ev->time_unix_ns)
		p = bt_r_fixed64(p, 0x09, ev->time_unix_ns);
	return bt_r_uint(p, 0x5a, bt_used(e, p) - mark);
}

/* One Link field (13) with its tag. */
static uint8_t *bt_r_link(bt_otlp_enc *e, uint8_t *p, const baton_link *l)
{
	size_t mark = bt_used(e, p);
	BT_ROOM(e, p, 5 + 6);
	/* flags (6): never zero (0x100 is always set) */
	p = bt_r_fixed32(
	    p, bt_flags(&l->context, (l->context.state & BATON_CTX_REMOTE) != 0));
	*--p = 0x35;
	if (l->dropped_attrs)
		p = bt_r_uint(p, 0x28, l->dropped_attrs);
	BT_TRY(p = bt_r_attrs(e, p, 0x22, l->attrs));
	BT_TRY(p = bt_r_tracestate(e, p, 0x1a, &l->context));
	BT_ROOM(e, p, 28 + 11);
	p = bt_r_id(p, 0x12, l->context.span_id, BATON_SPAN_ID_SIZE);
	p = bt_r_id(p, 0x0a, l->context.trace_id, BATON_TRACE_ID_SIZE);
	return bt_r_uint(p, 0x6a, bt_used(e, p) - mark);
}

/* The events of a span, last first. */
static uint8_t *bt_r_events(bt_otlp_enc *e, uint8_t *p, const baton_event *list)
{
	if (list == NULL)
		return p;
	if (list->next == NULL)
		return bt_r_event(e, p, list);
	size_t base = e->nstk;
	for (const baton_event *ev = list; ev != NULL; ev = ev->next) {
		if (!bt_push(e, ev))
			return NULL;
	}
	/* Each event's attributes go on the stack above its events. */
	size_t top = e->nstk;
	for (size_t i = top; p != NULL && i-- > base;)
		p = bt_r_event(e, p, e->stk[i]);
	e->nstk = base;
	return p;
}

/* The links of a span, last first. */
static uint8_t *bt_r_links(bt_otlp_enc *e, uint8_t *p, const baton_link *list)
{
	if (list == NULL)
		return p;
	if (list->next == NULL)
		return bt_r_link(e, p, list);
	size_t base = e->nstk;
	for (const baton_link *l = list; l != NULL; l = l->next) {
		if (!bt_push(e, l))
			return NULL;
	}
	size_t top = e->nstk;
	for (size_t i = top; p != NULL && i-- > base;)
		p = bt_r_link(e, p, e->stk[i]);
	e->nstk = base;
	return p;
}

/* One Span field (ScopeSpans.spans, 2) with its tag. */
static uint8_t *bt_r_span(bt_otlp_enc *e, uint8_t *p, const baton_span_data *s)
{
	size_t mark = bt_used(e, p);
	bool has_parent = (s->parent.state & BATON_CTX_VALID) != 0;
	BT_ROOM(e, p, 6 + 6);
	/* flags (16, fixed32: a two-byte tag) */
	p = bt_r_fixed32(
	    p, bt_flags(&s->context, has_parent && (s->parent.state & BATON_CTX_REMOTE)));
	*--p = 0x01;
	*--p = 0x85;
	if (s->status != BATON_STATUS_UNSET || s->status_message != NULL) {
		size_t m = bt_used(e, p);
		BT_ROOM(e, p, 11);
		if (s->status)
			p = bt_r_uint(p, 0x18, (uint64_t)s->status);
		BT_TRY(p = bt_r_str(e, p, 0x12, s->status_message));
		BT_TRY(p = bt_r_head(e, p, 0x7a, bt_used(e, p) - m));
	}
	BT_ROOM(e, p, 6);
	if (s->dropped_links)
		p = bt_r_uint(p, 0x70, s->dropped_links);
	BT_TRY(p = bt_r_links(e, p, s->links));
	BT_ROOM(e, p, 6);
	if (s->dropped_events)
		p = bt_r_uint(p, 0x60, s->dropped_events);
	BT_TRY(p = bt_r_events(e, p, s->events));
	BT_ROOM(e, p, 6);
	if (s->dropped_attrs)
		p = bt_r_uint(p, 0x50, s->dropped_attrs);
	BT_TRY(p = bt_r_attrs(e, p, 0x4a, s->attrs));
	BT_ROOM(e, p, 9 + 9 + 11);
	if (s->end_unix_ns)
		p = bt_r_fixed64(p, 0x41, s->end_unix_ns);
	if (s->start_unix_ns)
		p = bt_r_fixed64(p, 0x39, s->start_unix_ns);
	if (s->kind)
		p = bt_r_uint(p, 0x30, (uint64_t)s->kind);
	BT_TRY(p = bt_r_str(e, p, 0x2a, s->name));
	BT_ROOM(e, p, 10);
	if (has_parent)
		p = bt_r_id(p, 0x22, s->parent.span_id, BATON_SPAN_ID_SIZE);
	BT_TRY(p = bt_r_tracestate(e, p, 0x1a, &s->context));
	BT_ROOM(e, p, 28 + 11);
	p = bt_r_id(p, 0x12, s->context.span_id, BATON_SPAN_ID_SIZE);
	p = bt_r_id(p, 0x0a, s->context.trace_id, BATON_TRACE_ID_SIZE);
	return bt_r_uint(p, 0x12, bt_used(e, p) - mark);
}

/* One ScopeSpans field (ResourceSpans.scope_spans, 2) with its tag. */
static uint8_t *bt_r_scope_spans(bt_otlp_enc *e, uint8_t *p, const bt_otlp_group *g)
{
	size_t mark = bt_used(e, p);
	for (size_t i = g->count; i-- > 0;) {
		if (i >= BT_AHEAD_RECORD)
			baton_span_data_prefetch(g->spans[i - BT_AHEAD_RECORD]);
		if (i >= BT_AHEAD_NAME)
			__builtin_prefetch(g->spans[i - BT_AHEAD_NAME]->name);
		BT_TRY(p = bt_r_span(e, p, g->spans[i]));
	}
	if (g->scope != NULL) {
		size_t m = bt_used(e, p);
		BT_TRY(p = bt_r_str(e, p, 0x12, g->scope->version));
		BT_TRY(p = bt_r_str(e, p, 0x0a, g->scope->name));
		BT_TRY(p = bt_r_head(e, p, 0x0a, bt_used(e, p) - m)); /* scope (1) */
	}
	return bt_r_head(e, p, 0x12, bt_used(e, p) - mark);
}

/* One ResourceSpans field (1) with its tag: groups g[0..n) (one resource). */
static uint8_t *bt_r_resource_spans(bt_otlp_enc *e, uint8_t *p, const bt_otlp_group *g,
                                    size_t n)
{
	size_t mark = bt_used(e, p);
	for (size_t k = n; k-- > 0;)
		BT_TRY(p = bt_r_scope_spans(e, p, &g[k]));
	if (g->res != NULL) {
		size_t m = bt_used(e, p);
		BT_TRY(p = bt_r_attrs(e, p, 0x0a, g->res->attrs));
		BT_TRY(p = bt_r_head(e, p, 0x0a, bt_used(e, p) - m)); /* resource (1) */
	}
	return bt_r_head(e, p, 0x0a, bt_used(e, p) - mark);
}

/* ---- the request ---- */

baton_err bt_otlp_encode(bt_otlp_enc *e, const baton_span_data *const *spans, size_t n,
                         size_t limit, const uint8_t **body, size_t *len)
{
	size_t ng = 0;
	bt_otlp_ar_rewind(e);
	e->out.len = 0;
	e->nstk = 0;
	e->err = BATON_OK;
	if (n == 0) {
		*body = (const uint8_t *)"";
		*len = 0;
		return BATON_OK;
	}
	bt_otlp_group *g = bt_otlp_group_spans(e, spans, n, &ng);
	if (g == NULL)
		return BATON_ENOMEM;

	/* The writer uses at most the last lim bytes of the buffer (a buffer
	 * grown for a bigger limit before is not filled past this one). */
	e->lim = limit > SIZE_MAX - BT_SLACK ? SIZE_MAX : limit + BT_SLACK;
	if (e->out.p == NULL) {
		e->out.p = bt_malloc(4096);
		if (e->out.p == NULL)
			return BATON_ENOMEM;
		e->out.cap = 4096;
	}
	e->lo = e->out.cap > e->lim ? e->out.p + (e->out.cap - e->lim) : e->out.p;
	uint8_t *p = e->out.p + e->out.cap;
	/* Resources last first; a resource's groups are adjacent. */
	for (size_t k = ng; k > 0;) {
		size_t k0 = k - 1;
		while (k0 > 0 && g[k0 - 1].r == g[k - 1].r)
			k0--;
		p = bt_r_resource_spans(e, p, &g[k0], k - k0);
		if (p == NULL)
			return e->err;
		k = k0;
	}
	size_t used = bt_used(e, p);
	if (used > limit)
		return BATON_ETOOBIG;
	e->out.len = used;
	*body = p;
	*len = used;
	return BATON_OK;
}
