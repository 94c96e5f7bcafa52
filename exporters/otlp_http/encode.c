/*
 * Batch encoder: baton_span_data -> OTLP ExportTraceServiceRequest bytes.
 *
 * The protobuf-c message structures of a batch (spans, key-values, values,
 * events, links, the resource/scope grouping) are carved from an arena of
 * blocks that is rewound, not freed, for the next batch; strings and ids
 * point into the span records themselves. So a warm encoder allocates
 * nothing per span. Spans are grouped by resource, then by scope, keeping
 * their order within a group.
 */
#include "otlp_int.h"

#include "core/core.h"
#include "otlp_trace.pb-c.h"

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

static inline void *bt_ar(bt_otlp_enc *e, size_t n)
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

static void bt_ar_rewind(bt_otlp_enc *e)
{
	/* Blocks after cur are reset as the bump pointer reaches them. */
	for (struct bt_blk *b = e->head; b != NULL; b = b->next)
		b->used = 0;
	e->cur = e->head;
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
	bt_free(e);
}

/* ---- conversion ---- */

size_t bt_otlp_th_hex(uint64_t th, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 14;
	for (int i = 13; i >= 0; i--) {
		out[i] = hex[th & 0xf];
		th >>= 4;
	}
	while (n > 1 && out[n - 1] == '0')
		n--;
	out[n] = '\0';
	return n;
}

static char *bt_str(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

static bool bt_conv_value(bt_otlp_enc *e, Btotlp__AnyValue *av, const baton_value *v);

static bool bt_conv_array(bt_otlp_enc *e, Btotlp__AnyValue *av, const baton_value *v)
{
	size_t n = v->len;
	if (n > SIZE_MAX / 64)
		return false;
	Btotlp__ArrayValue *arr =
	    bt_ar(e, sizeof(*arr) +
	                 n * (sizeof(Btotlp__AnyValue *) + sizeof(Btotlp__AnyValue)));
	if (arr == NULL)
		return false;
	*arr = (Btotlp__ArrayValue)BTOTLP__ARRAY_VALUE__INIT;
	Btotlp__AnyValue **ptrs = (Btotlp__AnyValue **)(arr + 1);
	Btotlp__AnyValue *vals = (Btotlp__AnyValue *)(ptrs + n);
	for (size_t i = 0; i < n; i++) {
		baton_value ev = {BATON_VALUE_NONE, {0}, 0};
		switch (v->type) {
		case BATON_VALUE_STRING_ARRAY:
			ev.type = BATON_VALUE_STRING;
			ev.u.s = v->u.sa[i];
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
		bt_conv_value(e, &vals[i], &ev);
		ptrs[i] = &vals[i];
	}
	arr->n_values = n;
	arr->values = ptrs;
	av->value_case = BTOTLP__ANY_VALUE__VALUE_ARRAY_VALUE;
	av->array_value = arr;
	return true;
}

static bool bt_conv_value(bt_otlp_enc *e, Btotlp__AnyValue *av, const baton_value *v)
{
	*av = (Btotlp__AnyValue)BTOTLP__ANY_VALUE__INIT;
	switch (v->type) {
	case BATON_VALUE_STRING:
		av->value_case = BTOTLP__ANY_VALUE__VALUE_STRING_VALUE;
		av->string_value = bt_str(v->u.s);
		return true;
	case BATON_VALUE_BOOL:
		av->value_case = BTOTLP__ANY_VALUE__VALUE_BOOL_VALUE;
		av->bool_value = v->u.b;
		return true;
	case BATON_VALUE_INT:
		av->value_case = BTOTLP__ANY_VALUE__VALUE_INT_VALUE;
		av->int_value = v->u.i;
		return true;
	case BATON_VALUE_DOUBLE:
		av->value_case = BTOTLP__ANY_VALUE__VALUE_DOUBLE_VALUE;
		av->double_value = v->u.d;
		return true;
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY:
		return bt_conv_array(e, av, v);
	default:
		return true; /* an empty AnyValue */
	}
}

/* Converts an attribute list; NULL with *count 0 for an empty one. */
static Btotlp__KeyValue **bt_conv_attrs(bt_otlp_enc *e, const baton_attr *list,
                                        size_t *count, bool *ok)
{
	size_t n = 0;
	for (const baton_attr *a = list; a != NULL; a = a->next)
		n++;
	*count = 0;
	if (n == 0)
		return NULL;
	Btotlp__KeyValue **ptrs =
	    bt_ar(e, n * (sizeof(Btotlp__KeyValue *) + sizeof(Btotlp__KeyValue) +
	                  sizeof(Btotlp__AnyValue)));
	if (ptrs == NULL) {
		*ok = false;
		return NULL;
	}
	Btotlp__KeyValue *kvs = (Btotlp__KeyValue *)(ptrs + n);
	Btotlp__AnyValue *avs = (Btotlp__AnyValue *)(kvs + n);
	size_t i = 0;
	for (const baton_attr *a = list; a != NULL; a = a->next, i++) {
		kvs[i] = (Btotlp__KeyValue)BTOTLP__KEY_VALUE__INIT;
		kvs[i].key = bt_str(a->key);
		kvs[i].value = &avs[i];
		if (!bt_conv_value(e, &avs[i], &a->value))
			*ok = false;
		ptrs[i] = &kvs[i];
	}
	*count = n;
	return ptrs;
}

/* tracestate with "ot=th:<hex>" first when the context carries a threshold. */
static char *bt_conv_tracestate(bt_otlp_enc *e, const baton_span_context *c, bool *ok)
{
	const char *ts = c->tracestate;
	size_t tl = ts != NULL ? strlen(ts) : 0;
	if (!(c->state & BATON_CTX_HAS_TH) || c->threshold >= BATON_TH_MAX)
		return tl > 0 ? (char *)ts : (char *)protobuf_c_empty_string;
	char *out = bt_ar(e, 6 + 15 + 1 + tl + 1);
	if (out == NULL) {
		*ok = false;
		return (char *)protobuf_c_empty_string;
	}
	memcpy(out, "ot=th:", 6);
	size_t n = 6 + bt_otlp_th_hex(c->threshold, out + 6);
	if (tl > 0) {
		out[n++] = ',';
		memcpy(out + n, ts, tl);
		n += tl;
	}
	out[n] = '\0';
	return out;
}

static uint32_t bt_flags(const baton_span_context *c, bool remote)
{
	/* Low byte: W3C flags; 0x100: is_remote is known; 0x200: remote. */
	return (uint32_t)c->trace_flags | 0x100u | (remote ? 0x200u : 0u);
}

static bool bt_conv_span(bt_otlp_enc *e, Btotlp__Span *ps, const baton_span_data *s)
{
	bool ok = true;
	*ps = (Btotlp__Span)BTOTLP__SPAN__INIT;
	ps->trace_id.len = BATON_TRACE_ID_SIZE;
	ps->trace_id.data = (uint8_t *)s->context.trace_id;
	ps->span_id.len = BATON_SPAN_ID_SIZE;
	ps->span_id.data = (uint8_t *)s->context.span_id;
	ps->trace_state = bt_conv_tracestate(e, &s->context, &ok);
	bool has_parent = (s->parent.state & BATON_CTX_VALID) != 0;
	if (has_parent) {
		ps->parent_span_id.len = BATON_SPAN_ID_SIZE;
		ps->parent_span_id.data = (uint8_t *)s->parent.span_id;
	}
	ps->flags =
	    bt_flags(&s->context, has_parent && (s->parent.state & BATON_CTX_REMOTE));
	ps->name = bt_str(s->name);
	ps->kind = (Btotlp__Span__SpanKind)s->kind;
	ps->start_time_unix_nano = s->start_unix_ns;
	ps->end_time_unix_nano = s->end_unix_ns;
	ps->attributes = bt_conv_attrs(e, s->attrs, &ps->n_attributes, &ok);
	ps->dropped_attributes_count = s->dropped_attrs;
	ps->dropped_events_count = s->dropped_events;
	ps->dropped_links_count = s->dropped_links;

	size_t ne = 0, nl = 0;
	for (const baton_event *ev = s->events; ev != NULL; ev = ev->next)
		ne++;
	for (const baton_link *l = s->links; l != NULL; l = l->next)
		nl++;
	if (ne > 0) {
		Btotlp__Span__Event **ep = bt_ar(e, ne * (sizeof(Btotlp__Span__Event *) +
		                                          sizeof(Btotlp__Span__Event)));
		if (ep == NULL)
			return false;
		Btotlp__Span__Event *evs = (Btotlp__Span__Event *)(ep + ne);
		size_t i = 0;
		for (const baton_event *ev = s->events; ev != NULL; ev = ev->next, i++) {
			evs[i] = (Btotlp__Span__Event)BTOTLP__SPAN__EVENT__INIT;
			evs[i].time_unix_nano = ev->time_unix_ns;
			evs[i].name = bt_str(ev->name);
			evs[i].attributes =
			    bt_conv_attrs(e, ev->attrs, &evs[i].n_attributes, &ok);
			evs[i].dropped_attributes_count = ev->dropped_attrs;
			ep[i] = &evs[i];
		}
		ps->n_events = ne;
		ps->events = ep;
	}
	if (nl > 0) {
		Btotlp__Span__Link **lp = bt_ar(
		    e, nl * (sizeof(Btotlp__Span__Link *) + sizeof(Btotlp__Span__Link)));
		if (lp == NULL)
			return false;
		Btotlp__Span__Link *ls = (Btotlp__Span__Link *)(lp + nl);
		size_t i = 0;
		for (const baton_link *l = s->links; l != NULL; l = l->next, i++) {
			ls[i] = (Btotlp__Span__Link)BTOTLP__SPAN__LINK__INIT;
			ls[i].trace_id.len = BATON_TRACE_ID_SIZE;
			ls[i].trace_id.data = (uint8_t *)l->context.trace_id;
			ls[i].span_id.len = BATON_SPAN_ID_SIZE;
			ls[i].span_id.data = (uint8_t *)l->context.span_id;
			ls[i].trace_state = bt_conv_tracestate(e, &l->context, &ok);
			ls[i].attributes =
			    bt_conv_attrs(e, l->attrs, &ls[i].n_attributes, &ok);
			ls[i].dropped_attributes_count = l->dropped_attrs;
			ls[i].flags = bt_flags(
			    &l->context, (l->context.state & BATON_CTX_REMOTE) != 0);
			lp[i] = &ls[i];
		}
		ps->n_links = nl;
		ps->links = lp;
	}
	if (s->status != BATON_STATUS_UNSET || s->status_message != NULL) {
		Btotlp__Status *st = bt_ar(e, sizeof(*st));
		if (st == NULL)
			return false;
		*st = (Btotlp__Status)BTOTLP__STATUS__INIT;
		st->code = (Btotlp__Status__StatusCode)s->status;
		if (s->status_message != NULL)
			st->message = (char *)s->status_message;
		ps->status = st;
	}
	return ok;
}

/* ---- batch ---- */

struct bt_group {
	const baton_resource *res;
	const baton_scope *scope;
	size_t count, fill;
	Btotlp__Span **spans;
};

static Btotlp__Resource *bt_conv_resource(bt_otlp_enc *e, const baton_resource *r,
                                          bool *ok)
{
	if (r == NULL)
		return NULL;
	Btotlp__Resource *pr = bt_ar(e, sizeof(*pr));
	if (pr == NULL) {
		*ok = false;
		return NULL;
	}
	*pr = (Btotlp__Resource)BTOTLP__RESOURCE__INIT;
	pr->attributes = bt_conv_attrs(e, r->attrs, &pr->n_attributes, ok);
	return pr;
}

static Btotlp__InstrumentationScope *bt_conv_scope(bt_otlp_enc *e, const baton_scope *sc,
                                                   bool *ok)
{
	if (sc == NULL)
		return NULL;
	Btotlp__InstrumentationScope *p = bt_ar(e, sizeof(*p));
	if (p == NULL) {
		*ok = false;
		return NULL;
	}
	*p = (Btotlp__InstrumentationScope)BTOTLP__INSTRUMENTATION_SCOPE__INIT;
	p->name = bt_str(sc->name);
	if (sc->version != NULL)
		p->version = (char *)sc->version;
	return p;
}

baton_err bt_otlp_encode(bt_otlp_enc *e, const baton_span_data *const *spans, size_t n,
                         size_t limit, const uint8_t **body, size_t *len)
{
	bool ok = true;
	bt_ar_rewind(e);
	if (n == 0) {
		*body = (const uint8_t *)"";
		*len = 0;
		return BATON_OK;
	}
	Btotlp__Span *ps = bt_ar(e, n * sizeof(*ps));
	struct bt_group *g = bt_ar(e, n * sizeof(*g));
	uint32_t *gi = bt_ar(e, n * sizeof(*gi));
	if (ps == NULL || g == NULL || gi == NULL)
		return BATON_ENOMEM;

	/* Group by (resource, scope); the last group hit is tried first. */
	size_t ng = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *s = spans[i];
		size_t k = last;
		if (ng == 0 || g[k].res != s->resource || g[k].scope != s->scope) {
			for (k = 0; k < ng; k++) {
				if (g[k].res == s->resource && g[k].scope == s->scope)
					break;
			}
			if (k == ng) {
				g[ng] =
				    (struct bt_group){s->resource, s->scope, 0, 0, NULL};
				ng++;
			}
			last = k;
		}
		g[k].count++;
		gi[i] = (uint32_t)k;
	}
	for (size_t k = 0; k < ng; k++) {
		g[k].spans = bt_ar(e, g[k].count * sizeof(Btotlp__Span *));
		if (g[k].spans == NULL)
			return BATON_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!bt_conv_span(e, &ps[i], spans[i]))
			return BATON_ENOMEM;
		struct bt_group *gr = &g[gi[i]];
		gr->spans[gr->fill++] = &ps[i];
	}

	/* One ResourceSpans per resource, one ScopeSpans per group. */
	Btotlp__ResourceSpans **rsp = bt_ar(e, ng * sizeof(*rsp));
	Btotlp__ResourceSpans *rs = bt_ar(e, ng * sizeof(*rs));
	Btotlp__ScopeSpans *ss = bt_ar(e, ng * sizeof(*ss));
	const baton_resource **rres = bt_ar(e, ng * sizeof(*rres));
	if (rsp == NULL || rs == NULL || ss == NULL || rres == NULL)
		return BATON_ENOMEM;
	size_t nr = 0;
	for (size_t k = 0; k < ng; k++) {
		size_t r;
		for (r = 0; r < nr; r++) {
			if (rres[r] == g[k].res)
				break;
		}
		if (r == nr) {
			rs[nr] = (Btotlp__ResourceSpans)BTOTLP__RESOURCE_SPANS__INIT;
			rs[nr].resource = bt_conv_resource(e, g[k].res, &ok);
			rs[nr].scope_spans = bt_ar(e, ng * sizeof(Btotlp__ScopeSpans *));
			if (rs[nr].scope_spans == NULL)
				return BATON_ENOMEM;
			rres[nr] = g[k].res;
			rsp[nr] = &rs[nr];
			nr++;
		}
		ss[k] = (Btotlp__ScopeSpans)BTOTLP__SCOPE_SPANS__INIT;
		ss[k].scope = bt_conv_scope(e, g[k].scope, &ok);
		ss[k].n_spans = g[k].count;
		ss[k].spans = g[k].spans;
		rs[r].scope_spans[rs[r].n_scope_spans++] = &ss[k];
	}
	if (!ok)
		return BATON_ENOMEM;
	Btotlp__ExportTraceServiceRequest req =
	    BTOTLP__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	req.n_resource_spans = nr;
	req.resource_spans = rsp;
	size_t size = btotlp__export_trace_service_request__get_packed_size(&req);
	if (size > limit)
		return BATON_ETOOBIG;
	if (!bt_otlp_buf_reserve(&e->out, size, limit))
		return BATON_ENOMEM;
	e->out.len = btotlp__export_trace_service_request__pack(&req, e->out.p);
	*body = e->out.p;
	*len = e->out.len;
	return BATON_OK;
}
