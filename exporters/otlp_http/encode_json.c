/*
 * The OTLP/HTTP JSON writer: baton_span_data -> ExportTraceServiceRequest
 * in OTLP's JSON encoding (the proto3 JSON mapping with OTLP's changes):
 * lowerCamelCase field names, trace and span ids as lowercase hex, enums
 * as integers, 64-bit integers as decimal strings, and fields at their
 * default value left out. It mirrors the protobuf writer (encode.c) field
 * by field: the same grouping, the same fields present, the same text.
 *
 * Strings go out as well-formed UTF-8 (an ill-formed byte becomes U+FFFD,
 * as in the protobuf body) with '"', '\' and control characters escaped.
 */
#include "otlp_int.h"

#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 64-bit integer as a JSON string, as the mapping wants ("-5"). */
static void bt_oj_i64_str(bt_buf *b, int64_t v)
{
	bt_buf_putc(b, '"');
	bt_buf_put_i64(b, v);
	bt_buf_putc(b, '"');
}

static void bt_oj_u64_str(bt_buf *b, uint64_t v)
{
	bt_buf_putc(b, '"');
	bt_buf_put_u64(b, v);
	bt_buf_putc(b, '"');
}

/*
 * A double: the shortest of %.15g / %.17g that reads back equal, always
 * with a '.' or an exponent, whatever LC_NUMERIC says; NaN and the
 * infinities as the strings the mapping names.
 */
static void bt_oj_double(bt_buf *b, double d)
{
	if (isnan(d)) {
		bt_buf_puts(b, "\"NaN\"");
		return;
	}
	if (isinf(d)) {
		bt_buf_puts(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	char tmp[48];
	int n = snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d)
		n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	bool real = false;
	for (int i = 0; i < n; i++) {
		char c = tmp[i];
		if (c == 'e' || c == 'E') {
			real = true;
		} else if (!((c >= '0' && c <= '9') || c == '-' || c == '+')) {
			tmp[i] = '.';
			real = true;
		}
	}
	bt_buf_put(b, tmp, (size_t)n);
	if (!real)
		bt_buf_puts(b, ".0");
}

static void bt_oj_str(bt_buf *b, const char *s, size_t n)
{
	bt_buf_putc(b, '"');
	bt_buf_put_json_text(b, s, n);
	bt_buf_putc(b, '"');
}

/* Writes ,"name": (the comma unless first) and clears *first. */
static void bt_oj_key(bt_buf *b, bool *first, const char *name)
{
	if (!*first)
		bt_buf_putc(b, ',');
	*first = false;
	bt_buf_putc(b, '"');
	bt_buf_puts(b, name);
	bt_buf_puts(b, "\":");
}

/* A string field, left out when empty (as proto3 leaves it out). */
static void bt_oj_field_str(bt_buf *b, bool *first, const char *name, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return;
	bt_oj_key(b, first, name);
	bt_oj_str(b, s, strlen(s));
}

static void bt_oj_field_count(bt_buf *b, bool *first, const char *name, uint32_t v)
{
	if (v == 0)
		return;
	bt_oj_key(b, first, name);
	bt_buf_put_u64(b, v);
}

static void bt_oj_field_time(bt_buf *b, bool *first, const char *name, uint64_t v)
{
	if (v == 0)
		return;
	bt_oj_key(b, first, name);
	bt_oj_u64_str(b, v);
}

static void bt_oj_field_hex(bt_buf *b, bool *first, const char *name, const uint8_t *id,
                            size_t n)
{
	char tmp[2 * BATON_TRACE_ID_SIZE + 1];
	baton_hex_encode(id, n, tmp);
	bt_oj_key(b, first, name);
	bt_buf_putc(b, '"');
	bt_buf_put(b, tmp, 2 * n);
	bt_buf_putc(b, '"');
}

/* An AnyValue object; a oneof member goes out even at its default value. */
static void bt_oj_value(bt_buf *b, const baton_value *v)
{
	switch (v->type) {
	case BATON_VALUE_STRING: {
		size_t n = v->u.s == NULL         ? 0
		           : v->len == (size_t)-1 ? strlen(v->u.s)
		                                  : v->len;
		bt_buf_puts(b, "{\"stringValue\":");
		bt_oj_str(b, v->u.s != NULL ? v->u.s : "", n);
		break;
	}
	case BATON_VALUE_BOOL:
		bt_buf_puts(b, v->u.b ? "{\"boolValue\":true" : "{\"boolValue\":false");
		break;
	case BATON_VALUE_INT:
		bt_buf_puts(b, "{\"intValue\":");
		bt_oj_i64_str(b, v->u.i);
		break;
	case BATON_VALUE_DOUBLE:
		bt_buf_puts(b, "{\"doubleValue\":");
		bt_oj_double(b, v->u.d);
		break;
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY:
		bt_buf_puts(b, "{\"arrayValue\":{");
		if (v->len > 0) {
			bt_buf_puts(b, "\"values\":[");
			for (size_t i = 0; i < v->len; i++) {
				baton_value ev = bt_otlp_elem(v, i);
				if (i > 0)
					bt_buf_putc(b, ',');
				bt_oj_value(b, &ev);
			}
			bt_buf_putc(b, ']');
		}
		bt_buf_putc(b, '}');
		break;
	default:
		bt_buf_putc(b, '{');
		break;
	}
	bt_buf_putc(b, '}');
}

/* "attributes":[...], left out when the list is empty. */
static void bt_oj_attrs(bt_buf *b, bool *first, const baton_attr *list)
{
	if (list == NULL)
		return;
	bt_oj_key(b, first, "attributes");
	bt_buf_putc(b, '[');
	for (const baton_attr *a = list; a != NULL; a = a->next) {
		bool f = true;
		if (a != list)
			bt_buf_putc(b, ',');
		bt_buf_putc(b, '{');
		bt_oj_field_str(b, &f, "key", a->key);
		bt_oj_key(b, &f, "value");
		bt_oj_value(b, &a->value);
		bt_buf_putc(b, '}');
	}
	bt_buf_putc(b, ']');
}

/* "traceState", with the ot=th: entry the protobuf writer puts first. */
static void bt_oj_tracestate(bt_buf *b, bool *first, const baton_span_context *c)
{
	const char *ts = c->tracestate;
	size_t tl = ts != NULL ? strlen(ts) : 0;
	bool th = (c->state & BATON_CTX_HAS_TH) && c->threshold < BATON_TH_MAX;
	if (tl == 0 && !th)
		return;
	bt_oj_key(b, first, "traceState");
	bt_buf_putc(b, '"');
	if (th) {
		char hex[16];
		size_t hl = bt_otlp_th_hex(c->threshold, hex);
		bt_buf_puts(b, "ot=th:");
		bt_buf_put(b, hex, hl);
		if (tl)
			bt_buf_putc(b, ',');
	}
	bt_buf_put_json_text(b, ts, tl);
	bt_buf_putc(b, '"');
}

static uint32_t bt_oj_flags(const baton_span_context *c, bool remote)
{
	/* As encode.c: W3C flags; 0x100: is_remote is known; 0x200: remote. */
	return (uint32_t)c->trace_flags | 0x100u | (remote ? 0x200u : 0u);
}

static void bt_oj_span(bt_buf *b, const baton_span_data *s)
{
	bool f = true;
	bt_buf_putc(b, '{');
	bt_oj_field_hex(b, &f, "traceId", s->context.trace_id, BATON_TRACE_ID_SIZE);
	bt_oj_field_hex(b, &f, "spanId", s->context.span_id, BATON_SPAN_ID_SIZE);
	bt_oj_tracestate(b, &f, &s->context);
	bool has_parent = (s->parent.state & BATON_CTX_VALID) != 0;
	if (has_parent)
		bt_oj_field_hex(b, &f, "parentSpanId", s->parent.span_id,
		                BATON_SPAN_ID_SIZE);
	bt_oj_field_str(b, &f, "name", s->name);
	bt_oj_field_count(b, &f, "kind", (uint32_t)s->kind);
	bt_oj_field_time(b, &f, "startTimeUnixNano", s->start_unix_ns);
	bt_oj_field_time(b, &f, "endTimeUnixNano", s->end_unix_ns);
	bt_oj_attrs(b, &f, s->attrs);
	bt_oj_field_count(b, &f, "droppedAttributesCount", s->dropped_attrs);
	if (s->events != NULL) {
		bt_oj_key(b, &f, "events");
		bt_buf_putc(b, '[');
		for (const baton_event *ev = s->events; ev != NULL; ev = ev->next) {
			bool g = true;
			if (ev != s->events)
				bt_buf_putc(b, ',');
			bt_buf_putc(b, '{');
			bt_oj_field_time(b, &g, "timeUnixNano", ev->time_unix_ns);
			bt_oj_field_str(b, &g, "name", ev->name);
			bt_oj_attrs(b, &g, ev->attrs);
			bt_oj_field_count(b, &g, "droppedAttributesCount",
			                  ev->dropped_attrs);
			bt_buf_putc(b, '}');
		}
		bt_buf_putc(b, ']');
	}
	bt_oj_field_count(b, &f, "droppedEventsCount", s->dropped_events);
	if (s->links != NULL) {
		bt_oj_key(b, &f, "links");
		bt_buf_putc(b, '[');
		for (const baton_link *l = s->links; l != NULL; l = l->next) {
			bool g = true;
			if (l != s->links)
				bt_buf_putc(b, ',');
			bt_buf_putc(b, '{');
			bt_oj_field_hex(b, &g, "traceId", l->context.trace_id,
			                BATON_TRACE_ID_SIZE);
			bt_oj_field_hex(b, &g, "spanId", l->context.span_id,
			                BATON_SPAN_ID_SIZE);
			bt_oj_tracestate(b, &g, &l->context);
			bt_oj_attrs(b, &g, l->attrs);
			bt_oj_field_count(b, &g, "droppedAttributesCount",
			                  l->dropped_attrs);
			bt_oj_field_count(
			    b, &g, "flags",
			    bt_oj_flags(&l->context,
			                (l->context.state & BATON_CTX_REMOTE) != 0));
			bt_buf_putc(b, '}');
		}
		bt_buf_putc(b, ']');
	}
	bt_oj_field_count(b, &f, "droppedLinksCount", s->dropped_links);
	if (s->status != BATON_STATUS_UNSET || s->status_message != NULL) {
		bool g = true;
		bt_oj_key(b, &f, "status");
		bt_buf_putc(b, '{');
		bt_oj_field_str(b, &g, "message", s->status_message);
		bt_oj_field_count(b, &g, "code", (uint32_t)s->status);
		bt_buf_putc(b, '}');
	}
	bt_oj_field_count(
	    b, &f, "flags",
	    bt_oj_flags(&s->context, has_parent && (s->parent.state & BATON_CTX_REMOTE)));
	bt_buf_putc(b, '}');
}

baton_err bt_otlp_encode_json(bt_otlp_enc *e, const baton_span_data *const *spans,
                              size_t n, size_t limit, const uint8_t **body, size_t *len)
{
	size_t ng = 0;
	bt_otlp_ar_rewind(e);
	bt_otlp_group *g = NULL;
	if (n > 0) {
		g = bt_otlp_group_spans(e, spans, n, &ng);
		if (g == NULL)
			return BATON_ENOMEM;
	}
	/* Written into the encoder's output buffer, seen as a capped bt_buf. */
	bt_otlp_buf *out = bt_otlp_out(e);
	bt_buf b = {(char *)out->p, 0, out->cap, limit, false};
	bt_buf_putc(&b, '{');
	if (ng > 0)
		bt_buf_puts(&b, "\"resourceSpans\":[");
	for (size_t k = 0; k < ng;) {
		bool f = true;
		if (k > 0)
			bt_buf_putc(&b, ',');
		bt_buf_putc(&b, '{');
		if (g[k].res != NULL) {
			bool h = true;
			bt_oj_key(&b, &f, "resource");
			bt_buf_putc(&b, '{');
			bt_oj_attrs(&b, &h, g[k].res->attrs);
			bt_buf_putc(&b, '}');
		}
		bt_oj_key(&b, &f, "scopeSpans");
		bt_buf_putc(&b, '[');
		uint32_t r = g[k].r;
		for (bool first_scope = true; k < ng && g[k].r == r; k++) {
			bool h = true;
			if (!first_scope)
				bt_buf_putc(&b, ',');
			first_scope = false;
			bt_buf_putc(&b, '{');
			if (g[k].scope != NULL) {
				bool i = true;
				bt_oj_key(&b, &h, "scope");
				bt_buf_putc(&b, '{');
				bt_oj_field_str(&b, &i, "name", g[k].scope->name);
				bt_oj_field_str(&b, &i, "version", g[k].scope->version);
				bt_buf_putc(&b, '}');
			}
			bt_oj_key(&b, &h, "spans");
			bt_buf_putc(&b, '[');
			for (size_t i = 0; i < g[k].count; i++) {
				if (i > 0)
					bt_buf_putc(&b, ',');
				bt_oj_span(&b, g[k].spans[i]);
			}
			bt_buf_puts(&b, "]}");
		}
		bt_buf_puts(&b, "]}");
	}
	if (ng > 0)
		bt_buf_putc(&b, ']');
	bt_buf_putc(&b, '}');
	out->p = (uint8_t *)b.p;
	out->cap = b.cap;
	out->len = b.fail ? 0 : b.len;
	if (b.fail)
		return BATON_ETOOBIG; /* over limit (or, rarely, out of memory) */
	*body = out->p;
	*len = out->len;
	return BATON_OK;
}
