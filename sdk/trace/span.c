/* Spans: start, annotate, end. The hot path allocates nothing and takes no lock. */
#include "trace/trace_int.h"

#include <baton/w3c.h>
#include <string.h>

/* ---- arena ---- */

/*
 * Places n bytes at budget offset *offp (aligned as the caller needs) and
 * returns them; NULL when the budget, or memory for the overflow, runs out.
 * The first part that does not fit inline opens the overflow block: room
 * for the rest of the budget, from *offp rounded down to 8 (so offsets
 * keep their alignment). A part that would straddle the inline end after
 * a roll-back moves to the overflow's base, *offp with it. Sets nothing
 * else: the caller advances arena_used.
 */
static char *__attribute__((noinline))
bt_arena_place_slow(bt_span *sp, size_t *offp, size_t n)
{
	size_t off = *offp, end = bt_prov.limits.arena_bytes;
	if (off + n > end)
		return NULL;
	if (sp->ovf == NULL) {
		size_t base = off & ~(size_t)7;
		char *o = bt_malloc(8 + end - base);
		if (o == NULL)
			return NULL;
		*(uint32_t *)(void *)o = (uint32_t)base;
		sp->ovf = o;
		return o + 8 + (off - base);
	}
	size_t base = *(const uint32_t *)(const void *)sp->ovf;
	if (off + n <= base)
		return sp->arena + off;
	if (off < base) {
		if (base + n > end)
			return NULL;
		off = base;
		*offp = off;
	}
	return sp->ovf + 8 + (off - base);
}

static inline char *bt_arena_place(bt_span *sp, size_t *offp, size_t n)
{
	/* The inline part is within every budget (span_arena_bytes >= 256). */
	if (__builtin_expect(sp->ovf == NULL && *offp + n <= BT_INLINE_BYTES, 1))
		return sp->arena + *offp;
	return bt_arena_place_slow(sp, offp, n);
}

/* The budget offset of p, a part of sp's arena (inline or overflow). */
static uint32_t bt_arena_off(const bt_span *sp, const void *p)
{
	const char *c = p;
	if (c >= sp->arena && c < sp->arena + BT_INLINE_BYTES)
		return (uint32_t)(c - sp->arena);
	return *(const uint32_t *)(const void *)sp->ovf + (uint32_t)(c - (sp->ovf + 8));
}

void *bt_arena_alloc(bt_span *sp, size_t n)
{
	size_t off = (sp->arena_used + 7u) & ~(size_t)7;
	char *p = bt_arena_place(sp, &off, n);
	if (p == NULL) {
		bt_drop_add(BT_DROP_ARENA_FULL, 1);
		return NULL;
	}
	sp->arena_used = (uint32_t)(off + n);
	return p;
}

/* What is left of the span's remote share, in bytes (NULs included). */
static size_t bt_remote_left(const bt_span *sp)
{
	uint32_t cap = BT_REMOTE_SHARE(bt_prov.limits.arena_bytes);
	return sp->remote_used < cap ? cap - sp->remote_used : 0;
}

/*
 * The length s[0..n) takes as a span string: well-formed UTF-8 of at most
 * max_chars characters and max_bytes bytes, cut between characters.
 * *as_is: s is well-formed, so the string is s's first bytes.
 */
static size_t __attribute__((noinline))
bt_text_len_slow(const char *s, size_t n, size_t max_chars, size_t max_bytes, bool *as_is)
{
	*as_is = bt_utf8_valid_prefix(s, n) == n;
	if (*as_is && n <= max_chars && n <= max_bytes)
		return n;
	return bt_utf8_sanitize(NULL, max_bytes, s, n, max_chars);
}

/* memcpy(d, s, n), without a call for the short strings most values are. */
static inline void bt_copy(char *d, const char *s, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t x = bt_load8(s), y = bt_load8(s + n - 8);
		memcpy(d, &x, 8);
		memcpy(d + n - 8, &y, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t x, y;
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	} else {
		memcpy(d, s, n);
	}
}

/* bt_text_len_slow, with the short ASCII strings most values are inline:
 * ASCII is well-formed UTF-8 of one character a byte. */
static inline size_t bt_text_len(const char *s, size_t n, size_t max_chars,
                                 size_t max_bytes, bool *as_is)
{
	if (n <= 16 && n <= max_chars && n <= max_bytes &&
	    bt_utf8_valid_prefix(s, n) == n) {
		*as_is = true;
		return n;
	}
	return bt_text_len_slow(s, n, max_chars, max_bytes, as_is);
}

/* Writes the len bytes bt_text_len measured, and a NUL, to d. */
static inline void bt_text_put(char *d, const char *s, size_t n, size_t len,
                               size_t max_chars, bool as_is)
{
	if (as_is)
		bt_copy(d, s, len);
	else
		bt_utf8_sanitize(d, len, s, n, max_chars);
	d[len] = '\0';
}

const char *bt_arena_text(bt_span *sp, const char *s, size_t n, size_t max_chars, int how,
                          size_t *len_out)
{
	size_t off = sp->arena_used, end = bt_prov.limits.arena_bytes;
	if (off >= end) {
		bt_drop_add(BT_DROP_ARENA_FULL, 1);
		return NULL;
	}
	size_t room = end - off - 1, cap = SIZE_MAX;
	if (how & BT_TEXT_REMOTE) {
		size_t left = bt_remote_left(sp);
		if (left <= 1)
			return NULL;
		cap = left - 1 < room ? left - 1 : room;
	}
	/* Local strings and whole remote ones: all or nothing; others are cut. */
	bool as_is;
	size_t len =
	    bt_text_len(s, n, max_chars, (how & BT_TEXT_WHOLE) ? SIZE_MAX : cap, &as_is);
	if (len > room) {
		bt_drop_add(BT_DROP_ARENA_FULL, 1);
		return NULL;
	}
	if (len > cap)
		return NULL;
	if ((how & BT_TEXT_REMOTE) && len == 0 && n > 0 && max_chars > 0)
		return NULL; /* nothing of it fits: dropped, not stored empty */
	char *d = bt_arena_place(sp, &off, len + 1);
	if (d == NULL) {
		bt_drop_add(BT_DROP_ARENA_FULL, 1);
		return NULL;
	}
	bt_text_put(d, s, n, len, max_chars, as_is);
	sp->arena_used = (uint32_t)(off + len + 1);
	if (how & BT_TEXT_REMOTE)
		sp->remote_used += (uint32_t)(len + 1);
	if (len_out != NULL)
		*len_out = len;
	return d;
}

/*
 * A tracestate from another process: whole when it fits the remote share,
 * else cut by whole list members (as the W3C spec says, long members first)
 * to what is left of it; NULL when nothing fits or it does not parse.
 */
static const char *bt_arena_tracestate(bt_span *sp, const char *ts)
{
	size_t n = strlen(ts);
	const char *d =
	    bt_arena_text(sp, ts, n, SIZE_MAX, BT_TEXT_REMOTE | BT_TEXT_WHOLE, NULL);
	if (d != NULL || n == 0)
		return d;
	char buf[BATON_TRACESTATE_SIZE], out[BATON_TRACESTATE_SIZE];
	baton_tracestate t;
	baton_tracestate_init(&t, buf, sizeof(buf));
	size_t cap = bt_remote_left(sp), len = 0;
	if (cap > sizeof(out))
		cap = sizeof(out);
	if (cap <= 1 || baton_tracestate_parse(&t, ts, n) != BATON_OK ||
	    baton_tracestate_format(&t, out, cap, &len) != BATON_OK || len == 0)
		return NULL;
	return bt_arena_text(sp, out, len, SIZE_MAX, BT_TEXT_REMOTE | BT_TEXT_WHOLE,
	                     NULL);
}

/*
 * Keys are stored as well-formed UTF-8 too. Returns key[0..n) when it is
 * (the usual case), else its sanitized copy (cut at BT_KEY_MAX bytes) in buf.
 */
#define BT_KEY_MAX 255
static const char *bt_key_text(const char *key, size_t n, size_t *klen,
                               char buf[BT_KEY_MAX + 1])
{
	if (bt_utf8_valid_prefix(key, n) == n) {
		*klen = n;
		return key;
	}
	*klen = bt_utf8_sanitize(buf, BT_KEY_MAX, key, n, SIZE_MAX);
	buf[*klen] = '\0';
	return buf;
}

/*
 * A key as a span stores it: its interned copy when there is one
 * (*interned: the record points to it, no arena bytes), else what
 * bt_key_text makes of it, to be copied.
 */
static inline const char *bt_key_stored(const char *key, size_t *klen,
                                        char buf[BT_KEY_MAX + 1], bool *interned)
{
	size_t n;
	const char *ik = bt_intern_str(BT_INTERN_KEYS, key, &n);
	*interned = ik != NULL;
	if (ik != NULL) {
		*klen = n;
		return ik;
	}
	return bt_key_text(key, n, klen, buf);
}

/* Copies a value's out-of-line parts (strings, arrays) into the arena. */
static bool bt_value_copy(bt_span *sp, baton_value *dst, const baton_value *src, int how)
{
	uint32_t lim = bt_prov.limits.value_length;
	*dst = *src;
	switch (src->type) {
	case BATON_VALUE_STRING: {
		const char *s = src->u.s ? src->u.s : "";
		size_t n = src->len == (size_t)-1 ? strlen(s) : src->len;
		dst->u.s = bt_arena_text(sp, s, n, lim, how, &dst->len);
		return dst->u.s != NULL;
	}
	case BATON_VALUE_BOOL:
	case BATON_VALUE_INT:
	case BATON_VALUE_DOUBLE:
		return true;
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY: {
		size_t esz = src->type == BATON_VALUE_BOOL_ARRAY ? sizeof(bool) : 8;
		void *p = bt_arena_alloc(sp, esz * src->len);
		if (p == NULL)
			return false;
		if (src->len > 0)
			memcpy(p, (const void *)src->u.ia, esz * src->len);
		dst->u.ia = p;
		return true;
	}
	case BATON_VALUE_STRING_ARRAY: {
		const char **arr = bt_arena_alloc(sp, sizeof(char *) * src->len);
		if (arr == NULL)
			return false;
		for (size_t i = 0; i < src->len; i++) {
			const char *s = src->u.sa[i] ? src->u.sa[i] : "";
			arr[i] = bt_arena_text(sp, s, strlen(s), lim, how, NULL);
			if (arr[i] == NULL)
				return false;
		}
		dst->u.sa = arr;
		return true;
	}
	default:
		return false;
	}
}

/* Appends a new attribute: the node, its key (unless interned), then its
 * value's parts. */
static baton_attr *bt_attr_new(bt_span *sp, const char *key, size_t klen, bool interned,
                               const baton_value *v, int how)
{
	uint32_t saved = sp->arena_used, saved_remote = sp->remote_used;
	baton_attr *a = bt_arena_alloc(sp, sizeof(*a));
	const char *k = a == NULL  ? NULL
	                : interned ? key
	                           : bt_arena_text(sp, key, klen, SIZE_MAX, 0, NULL);
	if (k != NULL) {
		a->key = k;
		a->next = NULL;
		if (bt_value_copy(sp, &a->value, v, how))
			return a;
	}
	sp->arena_used = saved; /* all or nothing */
	sp->remote_used = saved_remote;
	return NULL;
}

/* bt_attr_put with the key as bt_key_stored made it. */
static bool bt_attr_append(bt_span *sp, const baton_attr **head, baton_attr **tail,
                           uint32_t *count, uint32_t limit, const char *key, size_t klen,
                           bool interned, const baton_value *v, bool replace)
{
	if (replace) {
		for (const baton_attr *a = *head; a != NULL; a = a->next) {
			if (a->key == key ||
			    (a->key[0] == key[0] && strcmp(a->key, key) == 0)) {
				uint32_t saved = sp->arena_used;
				baton_value nv;
				if (!bt_value_copy(sp, &nv, v, 0)) {
					sp->arena_used = saved;
					return false;
				}
				((baton_attr *)a)->value = nv;
				return true;
			}
		}
	}
	if (*count >= limit)
		return false;
	baton_attr *a = bt_attr_new(sp, key, klen, interned, v, 0);
	if (a == NULL)
		return false;
	if (*tail != NULL)
		(*tail)->next = a;
	else
		*head = a;
	*tail = a;
	(*count)++;
	return true;
}

bool bt_attr_put(bt_span *sp, const baton_attr **head, baton_attr **tail, uint32_t *count,
                 uint32_t limit, const char *key, const baton_value *v, bool replace)
{
	char kbuf[BT_KEY_MAX + 1];
	size_t klen;
	bool interned;
	if (key == NULL || key[0] == '\0' || v == NULL)
		return false;
	key = bt_key_stored(key, &klen, kbuf, &interned);
	return bt_attr_append(sp, head, tail, count, limit, key, klen, interned, v,
	                      replace);
}

static void bt_span_attr(bt_span *sp, const char *key, const baton_value *v)
{
	char kbuf[BT_KEY_MAX + 1];
	size_t klen;
	bool interned;
	if (!sp->recording)
		return;
	if (key == NULL || key[0] == '\0' || v == NULL) {
		sp->data.dropped_attrs++;
		return;
	}
	/* the bloom bit is the stored key's */
	key = bt_key_stored(key, &klen, kbuf, &interned);
	baton_attr *tail = sp->attr_tail == BT_NO_OFF
	                       ? NULL
	                       : (baton_attr *)(void *)bt_arena_ptr(sp, sp->attr_tail);
	if (!bt_attr_append(sp, &sp->data.attrs, &tail, &sp->data.nattrs,
	                    bt_prov.limits.attr_count, key, klen, interned, v, true)) {
		sp->data.dropped_attrs++;
		return;
	}
	sp->attr_tail = tail != NULL ? bt_arena_off(sp, tail) : BT_NO_OFF;
	sp->key_bloom |= (uint32_t)1 << (((unsigned char)key[0] ^ klen) & 31);
}

/* ---- start ---- */

/*
 * memset of the 208 bytes, as 16-byte stores: compilers make a small
 * memset of known size "rep stos", whose start-up costs more than the
 * stores.
 */
static inline void bt_zero_data(baton_span_data *d)
{
	typedef char bt_v16 __attribute__((vector_size(16), aligned(8), may_alias));
	_Static_assert(_Alignof(baton_span_data) >= 8, "aligned(8) pieces");
	_Static_assert(sizeof(*d) == 13 * 16, "thirteen stores");
	bt_v16 *v = (bt_v16 *)(void *)d, z = {0};
	/* Written out: a loop is turned back into memset. */
	v[0] = z, v[1] = z, v[2] = z, v[3] = z, v[4] = z, v[5] = z, v[6] = z;
	v[7] = z, v[8] = z, v[9] = z, v[10] = z, v[11] = z, v[12] = z;
}

static inline __attribute__((always_inline)) baton_attr *
bt_attr_slot_k(bt_span *sp, const char *key, size_t klen, bool copy, size_t extra,
               bool *is_new);

/* baton_trace_id_generate and baton_span_id_generate, inline. */
static inline void bt_new_trace_id(uint8_t id[BATON_TRACE_ID_SIZE])
{
	uint64_t a, b;
	do {
		a = bt_random_u64();
		b = bt_random_u64();
	} while (__builtin_expect((a | b) == 0, 0));
	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

static inline void bt_new_span_id(uint8_t id[BATON_SPAN_ID_SIZE])
{
	uint64_t a;
	do {
		a = bt_random_u64();
	} while (__builtin_expect(a == 0, 0));
	memcpy(id, &a, 8);
}

/* SampleRate = the adjusted count: an integer when it is one (1 for 100%). */
static void __attribute__((noinline)) bt_set_sample_rate_slow(bt_span *sp)
{
	baton_value v = {.type = BATON_VALUE_INT, .u.i = 1};
	double ac = baton_span_context_adjusted_count(&sp->data.context);
	double r = ac < 1e15 ? (double)(int64_t)(ac + 0.5) : ac;
	if (r - ac < 1e-6 && ac - r < 1e-6)
		v.u.i = (int64_t)r;
	else
		v = (baton_value){.type = BATON_VALUE_DOUBLE, .u.d = ac};
	bool is_new;
	/* The key is a literal: it outlives the span, so it takes no arena. */
	baton_attr *a =
	    bt_attr_slot_k(sp, "SampleRate", sizeof("SampleRate") - 1, false, 0, &is_new);
	if (a == NULL) {
		sp->data.dropped_attrs++;
		return;
	}
	/* Field by field: a whole-struct copy of v, just built, stalls. */
	a->value.type = v.type;
	a->value.u = v.u;
	a->value.len = 0;
}

static inline __attribute__((always_inline)) void bt_set_sample_rate(bt_span *sp)
{
	if (!(sp->data.context.state & BATON_CTX_HAS_TH))
		return;
	if (sp->data.context.threshold != 0) {
		bt_set_sample_rate_slow(sp);
		return;
	}
	/* Everything kept: SampleRate=1, set inline. */
	bool is_new;
	baton_attr *a =
	    bt_attr_slot_k(sp, "SampleRate", sizeof("SampleRate") - 1, false, 0, &is_new);
	if (a == NULL) {
		sp->data.dropped_attrs++;
		return;
	}
	a->value.type = BATON_VALUE_INT;
	a->value.u.i = 1;
	a->value.len = 0;
}

/*
 * The public entry points call these static bodies, not each other: an
 * exported function may be interposed, so a call from one to another is
 * never inlined and, in the shared library, goes through the PLT.
 */
static inline __attribute__((always_inline)) baton_span
bt_span_start(baton_tracer *tracer, const char *name, const baton_span_start_opts *opts)
{
	static const baton_span_start_opts no_opts;
	baton_span_context cur;
	const baton_span_context *parent = NULL;

	if (!bt_initialized || bt_prov.disabled)
		return BATON_SPAN_NONE;
	if (bt_prov.drop_all) { /* always_off: no parent, ids or record needed */
		bt_count(BT_C_UNSAMPLED);
		return BT_SPAN_UNSAMPLED;
	}
	if (opts == NULL)
		opts = &no_opts;
	if (opts->parent != NULL) {
		parent = opts->parent;
	} else if (!(opts->flags & (BATON_START_ROOT | BATON_START_NO_CURRENT)) &&
	           bt_current_context(&cur)) {
		parent = &cur;
	}
	if (opts->flags & BATON_START_ROOT)
		parent = NULL;
	bool parent_valid = parent != NULL && (parent->state & BATON_CTX_VALID);
	bool parent_decided =
	    parent != NULL && (parent->state & (BATON_CTX_VALID | BATON_CTX_DECIDED));
	/* Continue-only (e.g. after a fanout): with no parent, no span at all. */
	if ((opts->flags & BATON_START_NO_ROOT) && !parent_decided)
		return BATON_SPAN_NONE;

	/*
	 * Decisions that need no sampler call, no ids and no record. A parent
	 * that decided "not sampled" without ids (an unsampled message, an
	 * unsampled span whose ids are not kept) leaves the trace's identity
	 * unknown: whatever the sampler, a span here would be an orphan root
	 * with a new trace id, so the child follows the decision.
	 */
	bool parent_unsampled =
	    parent_decided && !(parent->trace_flags & BATON_FLAG_SAMPLED);
	if (bt_prov.drop_all || (parent_unsampled && !parent_valid) ||
	    (bt_prov.follow_unsampled_parent && parent_unsampled)) {
		bt_count(BT_C_UNSAMPLED);
		return BT_SPAN_UNSAMPLED;
	}

	static const baton_span_context invalid;
	uint8_t trace_id[BATON_TRACE_ID_SIZE];
	uint8_t flags;
	if (parent_valid) {
		memcpy(trace_id, parent->trace_id, sizeof(trace_id));
		flags = parent->trace_flags & BATON_FLAG_RANDOM;
	} else {
		bt_new_trace_id(trace_id);
		flags = BATON_FLAG_RANDOM;
	}
	baton_sampling_params sp_params = {
	    .parent = parent ? parent : &invalid,
	    .trace_id = trace_id,
	    .name = name,
	    /* 0, and a value that is no kind, mean INTERNAL: exporters write
	     * only the kinds OTLP and Jaeger know. */
	    .kind = opts->kind > BATON_SPAN_KIND_UNSPECIFIED &&
	                    opts->kind <= BATON_SPAN_KIND_CONSUMER
	                ? opts->kind
	                : BATON_SPAN_KIND_INTERNAL,
	    .attrs = opts->attrs,
	    .nattrs = opts->nattrs,
	};
	baton_sampling_result res = {BATON_SAMPLING_DROP, false, 0};
	bt_prov.sampler.ops->should_sample(bt_prov.sampler.arg, &sp_params, &res);

	double pf = opts->fanout_keep_probability;
	if (res.decision == BATON_SAMPLING_RECORD_AND_SAMPLE && pf > 0.0 && pf < 1.0) {
		/*
		 * The caller kept this span with probability pf (the message
		 * layer draws the fanout decision, baton_msg_fanout_draw): it
		 * only scales the threshold, no draw is made here.
		 */
		double ph = res.has_threshold
		                ? baton_probability_from_threshold(res.threshold)
		                : 1.0;
		res.threshold = baton_threshold_from_probability(ph * pf);
		res.has_threshold = true;
	}
	if (res.decision == BATON_SAMPLING_DROP && !bt_prov.propagate_unsampled_ids) {
		bt_count(BT_C_UNSAMPLED);
		return BT_SPAN_UNSAMPLED;
	}

	bt_span *sp = bt_store_alloc(&bt_prov.store);
	if (sp == NULL) {
		bt_count(BT_C_NO_STORE);
		return res.decision == BATON_SAMPLING_DROP ? BT_SPAN_UNSAMPLED
		                                           : BATON_SPAN_NONE;
	}
	uint32_t gen = atomic_load_explicit(&sp->gen, memory_order_relaxed);
	bt_zero_data(&sp->data);
	sp->arena_used = 0;
	sp->remote_used = 0;
	sp->key_bloom = 0;
	sp->attr_tail = BT_NO_OFF;
	sp->event_tail = BT_NO_OFF;
	sp->link_tail = BT_NO_OFF;
	sp->ended = false;
	sp->recording = res.decision != BATON_SAMPLING_DROP;
	atomic_store_explicit(&sp->refs, 0, memory_order_relaxed);

	baton_span_context *c = &sp->data.context;
	memcpy(c->trace_id, trace_id, sizeof(trace_id));
	bt_new_span_id(c->span_id);
	c->trace_flags =
	    flags |
	    (res.decision == BATON_SAMPLING_RECORD_AND_SAMPLE ? BATON_FLAG_SAMPLED : 0);
	c->state = BATON_CTX_VALID | BATON_CTX_DECIDED;
	if (res.has_threshold) {
		c->state |= BATON_CTX_HAS_TH;
		c->threshold = res.threshold;
	}
	if (parent_valid) {
		sp->data.parent = *parent;
		sp->data.parent.tracestate = NULL;
		if (parent->tracestate != NULL && parent->tracestate[0] != '\0')
			c->tracestate = bt_arena_tracestate(sp, parent->tracestate);
	}
	if (!sp->recording) {
		bt_count(BT_C_UNSAMPLED);
		return (baton_span){BT_HANDLE(sp->index, gen)};
	}
	bt_count(BT_C_STARTED);
	size_t nlen = 0;
	/* A name seen before (a literal, usually) is interned: no check, no copy. */
	const char *in = name != NULL && name[0] != '\0'
	                     ? bt_intern_str(BT_INTERN_NAMES, name, &nlen)
	                     : NULL;
	if (in == NULL)
		in = bt_arena_text(sp, name ? name : "", nlen, SIZE_MAX, 0, NULL);
	sp->data.name = in != NULL ? in : "";
	sp->data.kind = sp_params.kind;
	sp->data.start_unix_ns =
	    opts->start_time_ns ? opts->start_time_ns : bt_now_unix_ns();
	sp->data.resource = &bt_prov.resource;
	static const baton_scope no_scope = {"", NULL};
	/* A tracer starts with its scope, so a tracer pointer is a scope pointer. */
	sp->data.scope = tracer ? (const baton_scope *)tracer : &no_scope;
	baton_span h = {BT_HANDLE(sp->index, gen)};
	for (size_t i = 0; i < opts->nattrs; i++)
		bt_span_attr(sp, opts->attrs[i].key, &opts->attrs[i].value);
	for (size_t i = 0; i < opts->nlinks; i++)
		baton_span_add_link(h, &opts->links[i], NULL, 0);
	bt_set_sample_rate(sp);
	return h;
}

baton_span baton_span_start(baton_tracer *tracer, const char *name)
{
	return bt_span_start(tracer, name, NULL);
}

baton_span baton_span_start_ex(baton_tracer *tracer, const char *name,
                               const baton_span_start_opts *opts)
{
	return bt_span_start(tracer, name, opts);
}

/* ---- end ---- */

static inline __attribute__((always_inline)) void bt_span_end(baton_span span,
                                                              uint64_t end_time_ns)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL)
		return;
	sp->ended = true;
	/* Stale handles stop matching from here on. One thread at a time ends
	 * a span, so a plain load and store is enough (no locked add). */
	atomic_store_explicit(&sp->gen,
	                      atomic_load_explicit(&sp->gen, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	if (!sp->recording) {
		bt_store_release(&bt_prov.store, sp);
		return;
	}
	sp->data.end_unix_ns = end_time_ns ? end_time_ns : bt_now_unix_ns();
	if (sp->data.end_unix_ns < sp->data.start_unix_ns)
		sp->data.end_unix_ns = sp->data.start_unix_ns;
	bt_count(BT_C_ENDED);
	size_t n = bt_prov.nprocs;
	if (n == 0) {
		bt_store_release(&bt_prov.store, sp);
		return;
	}
	/* Release ordering on refs: a processor that releases last sees our writes. */
	atomic_store_explicit(&sp->refs, (uint32_t)n, memory_order_release);
	for (size_t i = 0; i < n; i++)
		bt_prov.procs[i].ops->on_end(bt_prov.procs[i].arg, &sp->data);
}

void baton_span_end_at(baton_span span, uint64_t end_time_ns)
{
	bt_span_end(span, end_time_ns);
}

void baton_span_end(baton_span span)
{
	bt_span_end(span, 0);
}

/*
 * Drops one reference to sp; true when it was the last (the record goes
 * back to the store). refs == 1: we are the last holder and nobody else
 * can change it, so the locked decrement is not needed (the common
 * one-processor case). Acquire pairs with the release store in
 * bt_span_end.
 */
static inline bool bt_unref(bt_span *sp)
{
	return atomic_load_explicit(&sp->refs, memory_order_acquire) == 1 ||
	       atomic_fetch_sub_explicit(&sp->refs, 1, memory_order_acq_rel) == 1;
}

void baton_span_data_release(const baton_span_data *data)
{
	bt_span *sp = (bt_span *)data;
	if (sp != NULL && bt_unref(sp))
		bt_store_release(&bt_prov.store, sp);
}

#define BT_RELEASE_AHEAD 8
#define BT_RELEASE_CHUNK 64

void baton_span_data_release_n(const baton_span_data *const *spans, size_t n)
{
	if (spans == NULL)
		return;
	bt_span *last[BT_RELEASE_CHUNK];
	size_t k = 0;
	bt_store_release_begin();
	for (size_t i = 0; i < n; i++) {
		/* The line a release reads (refs, owner, index, ovf) is in the
		 * cache of the thread that ended the span: fetch it some spans
		 * ahead, so that the misses overlap instead of following. */
		if (i + BT_RELEASE_AHEAD < n && spans[i + BT_RELEASE_AHEAD] != NULL)
			__builtin_prefetch(
			    &((const bt_span *)spans[i + BT_RELEASE_AHEAD])->refs);
		bt_span *sp = (bt_span *)spans[i];
		if (sp == NULL || !bt_unref(sp))
			continue;
		last[k++] = sp;
		if (k == BT_RELEASE_CHUNK) {
			bt_store_release_n(&bt_prov.store, last, k);
			k = 0;
		}
	}
	bt_store_release_n(&bt_prov.store, last, k);
	bt_store_release_end();
}

void baton_span_data_prefetch(const baton_span_data *span)
{
	/* Records are BT_REC_BYTES on cache-line boundaries: every line of one. */
	const char *r = (const char *)span;
	if (r == NULL)
		return;
	for (size_t o = 0; o < BT_REC_BYTES; o += 64)
		__builtin_prefetch(r + o);
}

/* ---- queries and setters ---- */

bool baton_span_is_recording(baton_span span)
{
	bt_span *sp = bt_span_lookup(span);
	return sp != NULL && sp->recording;
}

baton_err baton_span_get_context(baton_span span, baton_span_context *ctx)
{
	if (ctx == NULL)
		return BATON_EINVAL;
	bt_span *sp = bt_span_lookup(span);
	if (sp != NULL) {
		*ctx = sp->data.context;
		return BATON_OK;
	}
	memset(ctx, 0, sizeof(*ctx));
	if (span.id == BT_SPAN_UNSAMPLED.id)
		ctx->state = BATON_CTX_DECIDED;
	return BATON_OK;
}

/*
 * The setters' fast path: find the key among the span's attributes (first
 * byte compared before strcmp), else append a node with one bounds check
 * against the arena: the node, then the key's klen + 1 bytes when copy (a
 * key that is neither interned nor one of our literals), then extra bytes
 * reserved for a string value (the node's last bytes). key is the key as
 * stored (well-formed, klen bytes).
 */
static inline __attribute__((always_inline)) baton_attr *
bt_attr_slot_k(bt_span *sp, const char *key, size_t klen, bool copy, size_t extra,
               bool *is_new)
{
	uint32_t bit = (uint32_t)1 << (((unsigned char)key[0] ^ klen) & 31);
	/* The bloom bit says whether any key of this first byte and length exists. */
	if (sp->key_bloom & bit) {
		for (const baton_attr *a = sp->data.attrs; a != NULL; a = a->next) {
			if (a->key == key ||
			    (a->key[0] == key[0] && strcmp(a->key, key) == 0)) {
				*is_new = false;
				return (baton_attr *)a;
			}
		}
	}
	*is_new = true;
	if (sp->data.nattrs >= bt_prov.limits.attr_count)
		return NULL;
	size_t off = (sp->arena_used + 7u) & ~(size_t)7;
	size_t n = sizeof(baton_attr) + (copy ? klen + 1 : 0) + extra;
	baton_attr *a = (baton_attr *)(void *)bt_arena_place(sp, &off, n);
	if (a == NULL) {
		bt_drop_add(BT_DROP_ARENA_FULL, 1);
		return NULL;
	}
	if (copy) {
		char *k = (char *)(a + 1);
		memcpy(k, key, klen + 1);
		a->key = k;
	} else {
		a->key = key;
	}
	sp->arena_used = (uint32_t)(off + n);
	sp->key_bloom |= bit;
	a->next = NULL;
	if (sp->attr_tail != BT_NO_OFF)
		((baton_attr *)(void *)bt_arena_ptr(sp, sp->attr_tail))->next = a;
	else
		sp->data.attrs = a;
	sp->attr_tail = (uint32_t)off;
	sp->data.nattrs++;
	return a;
}

/* A key that is not interned: checked (sanitized into a buffer) and copied. */
static baton_attr *__attribute__((noinline))
bt_attr_slot_copy(bt_span *sp, const char *key, size_t n, size_t extra, bool *is_new)
{
	char kbuf[BT_KEY_MAX + 1];
	size_t klen;
	key = bt_key_text(key, n, &klen, kbuf);
	return bt_attr_slot_k(sp, key, klen, true, extra, is_new);
}

/* A caller's key: its interned copy, else the copying path. */
static inline __attribute__((always_inline)) baton_attr *
bt_attr_slot(bt_span *sp, const char *key, size_t extra, bool *is_new)
{
	size_t n;
	const char *ik = bt_intern_str(BT_INTERN_KEYS, key, &n);
	if (__builtin_expect(ik == NULL, 0))
		return bt_attr_slot_copy(sp, key, n, extra, is_new);
	return bt_attr_slot_k(sp, ik, n, false, extra, is_new);
}

/* Looks up a recording span for a setter; NULL when the call must do nothing. */
static inline bt_span *bt_setter_span(baton_span span, const char *key)
{
	if (BT_HANDLE_INDEX(span.id) == 0 || key == NULL || key[0] == '\0')
		return NULL;
	bt_span *sp = bt_span_lookup(span);
	return (sp != NULL && sp->recording) ? sp : NULL;
}

/* A scalar's payload: baton_value's union. */
typedef __typeof__(((baton_value *)0)->u) bt_scalar;

/*
 * Sets key to a value that takes no arena bytes (a scalar, or a string
 * stored by pointer). Type and payload apart: a baton_value built by value
 * (with its padding) is stored on the stack in pieces and read back whole,
 * a store-forwarding stall on every call.
 */
static inline __attribute__((always_inline)) void
bt_attr_set(bt_span *sp, const char *key, baton_value_type type, bt_scalar u, size_t len)
{
	bool is_new;
	baton_attr *a = bt_attr_slot(sp, key, 0, &is_new);
	if (a == NULL) {
		sp->data.dropped_attrs++;
		return;
	}
	a->value.type = type;
	a->value.u = u;
	a->value.len = len;
}

static inline __attribute__((always_inline)) void
bt_set_scalar(baton_span span, const char *key, baton_value_type type, bt_scalar u)
{
	bt_span *sp = bt_setter_span(span, key);
	if (sp != NULL)
		bt_attr_set(sp, key, type, u, 0);
}

void baton_span_set_value(baton_span span, const char *key, const baton_value *value)
{
	bt_span *sp = bt_setter_span(span, key);
	if (sp != NULL && value != NULL)
		bt_span_attr(sp, key, value);
}

static inline __attribute__((always_inline)) void
bt_set_strn(baton_span span, const char *key, const char *value, size_t len, bool remote)
{
	bt_span *sp = bt_setter_span(span, key);
	if (sp == NULL)
		return;
	if (value == NULL)
		value = "";
	size_t lim = bt_prov.limits.value_length, cap = SIZE_MAX;
	if (len == (size_t)-1 && !remote) {
		/* A literal of the program seen before: the record points to its
		 * interned copy, checked once, and copies nothing. */
		const char *iv = bt_intern_fixed(BT_INTERN_VALUES, value, &len);
		if (iv != NULL && len <= lim) {
			bt_attr_set(sp, key, BATON_VALUE_STRING, (bt_scalar){.s = iv},
			            len);
			return;
		}
	} else if (len == (size_t)-1) {
		len = strlen(value);
	}
	if (remote) {
		/* Half of what is left (NUL included): the values set after this
		 * one still get room. */
		size_t half = bt_remote_left(sp) / 2;
		cap = half > 0 ? half - 1 : 0;
	}
	bool as_is;
	size_t vlen = bt_text_len(value, len, lim, cap, &as_is);
	if (remote && vlen == 0 && len > 0 && lim > 0) {
		sp->data.dropped_attrs++; /* the remote share is used up */
		return;
	}
	bool is_new;
	baton_attr *a = bt_attr_slot(sp, key, vlen + 1, &is_new);
	char *d;
	if (a != NULL && is_new) /* the room reserved after the key: the node's end */
		d = (char *)a + (sp->arena_used - sp->attr_tail) - vlen - 1;
	else if (a != NULL) /* replacing: the old bytes stay unused */
		d = bt_arena_alloc(sp, vlen + 1);
	else
		d = NULL;
	if (d == NULL) {
		sp->data.dropped_attrs++;
		return;
	}
	bt_text_put(d, value, len, vlen, lim, as_is);
	if (remote)
		sp->remote_used += (uint32_t)(vlen + 1);
	a->value = (baton_value){.type = BATON_VALUE_STRING, .u.s = d, .len = vlen};
}

void baton_span_set_strn(baton_span span, const char *key, const char *value, size_t len)
{
	bt_set_strn(span, key, value, len, false);
}

void baton_span_set_remote_strn(baton_span span, const char *key, const char *value,
                                size_t len)
{
	bt_set_strn(span, key, value, len, true);
}

void baton_span_set_str(baton_span span, const char *key, const char *value)
{
	bt_set_strn(span, key, value, (size_t)-1, false);
}

void baton_span_set_int(baton_span span, const char *key, int64_t value)
{
	if (BT_HANDLE_INDEX(span.id) == 0) /* unsampled: nothing to build */
		return;
	bt_set_scalar(span, key, BATON_VALUE_INT, (bt_scalar){.i = value});
}

void baton_span_set_double(baton_span span, const char *key, double value)
{
	if (BT_HANDLE_INDEX(span.id) == 0) /* unsampled: nothing to build */
		return;
	bt_set_scalar(span, key, BATON_VALUE_DOUBLE, (bt_scalar){.d = value});
}

void baton_span_set_bool(baton_span span, const char *key, bool value)
{
	if (BT_HANDLE_INDEX(span.id) == 0) /* unsampled: nothing to build */
		return;
	bt_set_scalar(span, key, BATON_VALUE_BOOL, (bt_scalar){.b = value});
}

void baton_span_add_event(baton_span span, const char *name, uint64_t time_ns,
                          const baton_kv *attrs, size_t nattrs)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording)
		return;
	if (sp->data.nevents >= bt_prov.limits.event_count) {
		sp->data.dropped_events++;
		return;
	}
	uint32_t saved = sp->arena_used;
	baton_event *e = bt_arena_alloc(sp, sizeof(*e));
	const char *n = e ? bt_arena_text(sp, name ? name : "", name ? strlen(name) : 0,
	                                  SIZE_MAX, 0, NULL)
	                  : NULL;
	if (n == NULL) {
		sp->arena_used = saved;
		sp->data.dropped_events++;
		return;
	}
	memset(e, 0, sizeof(*e));
	e->name = n;
	e->time_unix_ns = time_ns ? time_ns : bt_now_unix_ns();
	baton_attr *tail = NULL;
	for (size_t i = 0; i < nattrs; i++) {
		if (!bt_attr_put(sp, &e->attrs, &tail, &e->nattrs,
		                 bt_prov.limits.event_attr_count, attrs[i].key,
		                 &attrs[i].value, false))
			e->dropped_attrs++;
	}
	if (sp->event_tail != BT_NO_OFF)
		((baton_event *)(void *)bt_arena_ptr(sp, sp->event_tail))->next = e;
	else
		sp->data.events = e;
	sp->event_tail = bt_arena_off(sp, e);
	sp->data.nevents++;
}

void baton_span_add_link(baton_span span, const baton_span_context *ctx,
                         const baton_kv *attrs, size_t nattrs)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording || ctx == NULL ||
	    !(ctx->state & BATON_CTX_VALID))
		return;
	if (sp->data.nlinks >= bt_prov.limits.link_count) {
		sp->data.dropped_links++;
		return;
	}
	baton_link *l = bt_arena_alloc(sp, sizeof(*l));
	if (l == NULL) {
		sp->data.dropped_links++;
		return;
	}
	memset(l, 0, sizeof(*l));
	l->context = *ctx;
	l->context.tracestate = NULL;
	if (ctx->tracestate != NULL && ctx->tracestate[0] != '\0') {
		/* A link's tracestate came from elsewhere: it takes from the remote
		 * share, and the link stays without it when none is left. */
		l->context.tracestate = bt_arena_tracestate(sp, ctx->tracestate);
	}
	baton_attr *tail = NULL;
	for (size_t i = 0; i < nattrs; i++) {
		if (!bt_attr_put(sp, &l->attrs, &tail, &l->nattrs,
		                 bt_prov.limits.link_attr_count, attrs[i].key,
		                 &attrs[i].value, false))
			l->dropped_attrs++;
	}
	if (sp->link_tail != BT_NO_OFF)
		((baton_link *)(void *)bt_arena_ptr(sp, sp->link_tail))->next = l;
	else
		sp->data.links = l;
	sp->link_tail = bt_arena_off(sp, l);
	sp->data.nlinks++;
}

void baton_span_set_status(baton_span span, baton_status_code code,
                           const char *description)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording || sp->data.status == BATON_STATUS_OK)
		return;
	if (code != BATON_STATUS_UNSET && code != BATON_STATUS_OK &&
	    code != BATON_STATUS_ERROR)
		return;
	sp->data.status = code;
	sp->data.status_message = NULL;
	if (code == BATON_STATUS_ERROR && description != NULL) {
		sp->data.status_message =
		    bt_arena_text(sp, description, strlen(description),
		                  bt_prov.limits.value_length, 0, NULL);
	}
}

void baton_span_update_name(baton_span span, const char *name)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording || name == NULL)
		return;
	const char *n = bt_arena_text(sp, name, strlen(name), SIZE_MAX, 0, NULL);
	if (n != NULL)
		sp->data.name = n;
}

void baton_span_record_error(baton_span span, const char *type, const char *message)
{
	baton_kv kv[2] = {BATON_KV_STR("exception.type", type ? type : ""),
	                  BATON_KV_STR("exception.message", message ? message : "")};
	baton_span_add_event(span, "exception", 0, kv, 2);
}

const baton_attr *baton_attr_find(const baton_attr *list, const char *key)
{
	for (const baton_attr *a = list; a != NULL && key != NULL; a = a->next) {
		if (strcmp(a->key, key) == 0)
			return a;
	}
	return NULL;
}
