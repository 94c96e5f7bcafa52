/*
 * The reference encoder: the same ExportTraceServiceRequest as the direct
 * writer in encode.c, built as the protobuf-c structures generated from
 * proto/otlp_trace.proto and packed by libprotobuf-c. Tests compare the two
 * byte for byte; the exporter sends the direct writer's bytes because
 * libprotobuf-c's descriptor-driven packing costs several times more per
 * span (see the benchmarks otlp_encode_per_span and
 * otlp_encode_protobuf_c_per_span).
 *
 * The structures point into the span records for strings and ids and are
 * carved from the encoder's arena, so nothing is allocated per span.
 */
#include "otlp_int.h" /* the exporter's private header: this encoder is its reference */

#include "util.h"
#include "otlp_trace.pb-c.h"

#include <string.h>

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
	    bt_otlp_ar(e, sizeof(*arr) + n * (sizeof(Btotlp__AnyValue *) +
	                                      sizeof(Btotlp__AnyValue)));
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
	    bt_otlp_ar(e, n * (sizeof(Btotlp__KeyValue *) + sizeof(Btotlp__KeyValue) +
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
	char *out = bt_otlp_ar(e, 6 + 15 + 1 + tl + 1);
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
		Btotlp__Span__Event **ep =
		    bt_otlp_ar(e, ne * (sizeof(Btotlp__Span__Event *) +
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
		Btotlp__Span__Link **lp = bt_otlp_ar(
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
		Btotlp__Status *st = bt_otlp_ar(e, sizeof(*st));
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

static Btotlp__Resource *bt_conv_resource(bt_otlp_enc *e, const baton_resource *r,
                                          bool *ok)
{
	if (r == NULL)
		return NULL;
	Btotlp__Resource *pr = bt_otlp_ar(e, sizeof(*pr));
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
	Btotlp__InstrumentationScope *p = bt_otlp_ar(e, sizeof(*p));
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

baton_err bt_otlp_encode_pbc(bt_otlp_enc *e, const baton_span_data *const *spans,
                             size_t n, size_t limit, const uint8_t **body, size_t *len)
{
	bool ok = true;
	size_t ng = 0;
	bt_otlp_ar_rewind(e);
	if (n == 0) {
		*body = (const uint8_t *)"";
		*len = 0;
		return BATON_OK;
	}
	bt_otlp_group *g = bt_otlp_group_spans(e, spans, n, &ng);
	Btotlp__ResourceSpans **rsp = g ? bt_otlp_ar(e, ng * sizeof(*rsp)) : NULL;
	Btotlp__ResourceSpans *rs = g ? bt_otlp_ar(e, ng * sizeof(*rs)) : NULL;
	Btotlp__ScopeSpans **ssp = g ? bt_otlp_ar(e, ng * sizeof(*ssp)) : NULL;
	Btotlp__ScopeSpans *ss = g ? bt_otlp_ar(e, ng * sizeof(*ss)) : NULL;
	if (rsp == NULL || rs == NULL || ssp == NULL || ss == NULL)
		return BATON_ENOMEM;
	size_t nr = 0;
	for (size_t k = 0; k < ng; k++) {
		if (k == 0 || g[k].r != g[k - 1].r) {
			rs[nr] = (Btotlp__ResourceSpans)BTOTLP__RESOURCE_SPANS__INIT;
			rs[nr].resource = bt_conv_resource(e, g[k].res, &ok);
			rs[nr].scope_spans = &ssp[k];
			rsp[nr] = &rs[nr];
			nr++;
		}
		Btotlp__Span *ps = bt_otlp_ar(e, g[k].count * sizeof(*ps));
		Btotlp__Span **pp = bt_otlp_ar(e, g[k].count * sizeof(*pp));
		if (ps == NULL || pp == NULL)
			return BATON_ENOMEM;
		for (size_t i = 0; i < g[k].count; i++) {
			if (!bt_conv_span(e, &ps[i], g[k].spans[i]))
				return BATON_ENOMEM;
			pp[i] = &ps[i];
		}
		ss[k] = (Btotlp__ScopeSpans)BTOTLP__SCOPE_SPANS__INIT;
		ss[k].scope = bt_conv_scope(e, g[k].scope, &ok);
		ss[k].n_spans = g[k].count;
		ss[k].spans = pp;
		ssp[k] = &ss[k];
		rs[nr - 1].n_scope_spans++;
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
	bt_otlp_buf *out = bt_otlp_out(e);
	if (!bt_otlp_buf_reserve(out, size, limit))
		return BATON_ENOMEM;
	out->len = btotlp__export_trace_service_request__pack(&req, out->p);
	*body = out->p;
	*len = out->len;
	return BATON_OK;
}
