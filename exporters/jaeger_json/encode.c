/* Jaeger JSON encoding of one span or one resource. */
#include "jj.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the capped buffer ---- */

/*
 * A finite double as the shortest of %.15g / %.17g that reads back equal.
 * The decimal point is forced to '.', whatever LC_NUMERIC says.
 */
static void bt_jj_put_double(bt_buf *b, double d)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d)
		n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	for (int i = 0; i < n; i++) {
		char c = tmp[i];
		if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' ||
		      c == 'E'))
			tmp[i] = '.';
	}
	bt_buf_put(b, tmp, (size_t)n);
}

/* ---- strings ---- */

void bt_jj_str(bt_buf *b, const char *str, size_t n)
{
	bt_buf_putc(b, '"');
	bt_buf_put_json_text(b, str, n);
	bt_buf_putc(b, '"');
}

static void bt_jj_cstr(bt_buf *b, const char *s)
{
	bt_jj_str(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void bt_jj_hex(bt_buf *b, const uint8_t *bytes, size_t n)
{
	char tmp[2 * BATON_TRACE_ID_SIZE + 1];
	baton_hex_encode(bytes, n, tmp);
	bt_buf_putc(b, '"');
	bt_buf_put(b, tmp, 2 * n);
	bt_buf_putc(b, '"');
}

/* ---- tags ---- */

/* Opens a tag object {"key":..,"type":..,"value": and leaves the value to the caller. */
static void bt_jj_tag_open(bt_buf *b, bool *first, const char *key, const char *type)
{
	if (!*first)
		bt_buf_putc(b, ',');
	*first = false;
	bt_buf_puts(b, "{\"key\":");
	bt_jj_cstr(b, key);
	bt_buf_puts(b, ",\"type\":\"");
	bt_buf_puts(b, type);
	bt_buf_puts(b, "\",\"value\":");
}

static void bt_jj_tag_str(bt_buf *b, bool *first, const char *key, const char *s,
                          size_t n)
{
	bt_jj_tag_open(b, first, key, "string");
	bt_jj_str(b, s, n);
	bt_buf_putc(b, '}');
}

static void bt_jj_tag_cstr(bt_buf *b, bool *first, const char *key, const char *s)
{
	bt_jj_tag_str(b, first, key, s, strlen(s));
}

static void bt_jj_tag_bool(bt_buf *b, bool *first, const char *key, bool v)
{
	bt_jj_tag_open(b, first, key, "bool");
	bt_buf_puts(b, v ? "true}" : "false}");
}

static void bt_jj_tag_int(bt_buf *b, bool *first, const char *key, int64_t v)
{
	bt_jj_tag_open(b, first, key, "int64");
	bt_buf_put_i64(b, v);
	bt_buf_putc(b, '}');
}

/* JSON has no NaN or infinities: those go out as the strings "NaN", "+Inf", "-Inf". */
static const char *bt_jj_nonfinite(double d)
{
	if (isnan(d))
		return "NaN";
	return d > 0 ? "+Inf" : "-Inf";
}

/* Appends an array value as JSON text into t (a JSON array). */
static void bt_jj_array_text(bt_buf *t, const baton_value *v)
{
	bt_buf_putc(t, '[');
	for (size_t i = 0; i < v->len; i++) {
		if (i > 0)
			bt_buf_putc(t, ',');
		switch (v->type) {
		case BATON_VALUE_STRING_ARRAY:
			bt_jj_cstr(t, v->u.sa[i]);
			break;
		case BATON_VALUE_INT_ARRAY:
			bt_buf_put_i64(t, v->u.ia[i]);
			break;
		case BATON_VALUE_DOUBLE_ARRAY:
			if (isfinite(v->u.da[i]))
				bt_jj_put_double(t, v->u.da[i]);
			else
				bt_jj_cstr(t, bt_jj_nonfinite(v->u.da[i]));
			break;
		case BATON_VALUE_BOOL_ARRAY:
			bt_buf_puts(t, v->u.ba[i] ? "true" : "false");
			break;
		default:
			break;
		}
	}
	bt_buf_putc(t, ']');
}

/* One attribute as a tag of the matching Jaeger type. */
static void bt_jj_tag_value(bt_buf *b, bool *first, const char *key, const baton_value *v)
{
	switch (v->type) {
	case BATON_VALUE_STRING:
		bt_jj_tag_str(b, first, key, v->u.s != NULL ? v->u.s : "",
		              v->u.s != NULL ? v->len : 0);
		break;
	case BATON_VALUE_BOOL:
		bt_jj_tag_bool(b, first, key, v->u.b);
		break;
	case BATON_VALUE_INT:
		bt_jj_tag_int(b, first, key, v->u.i);
		break;
	case BATON_VALUE_DOUBLE:
		if (isfinite(v->u.d)) {
			bt_jj_tag_open(b, first, key, "float64");
			bt_jj_put_double(b, v->u.d);
			bt_buf_putc(b, '}');
		} else {
			bt_jj_tag_cstr(b, first, key, bt_jj_nonfinite(v->u.d));
		}
		break;
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY: {
		/* The array's JSON text, as a string tag (Jaeger has no array type). */
		bt_buf t;
		bt_buf_init(&t, b->max);
		bt_jj_array_text(&t, v);
		if (t.fail)
			b->fail = true;
		else
			bt_jj_tag_str(b, first, key, t.p != NULL ? t.p : "", t.len);
		bt_buf_fini(&t);
		break;
	}
	default:
		bt_jj_tag_str(b, first, key, "", 0);
		break;
	}
}

static void bt_jj_tags(bt_buf *b, bool *first, const baton_attr *a, const char *skip)
{
	for (; a != NULL; a = a->next) {
		if (a->key == NULL || (skip != NULL && strcmp(a->key, skip) == 0))
			continue;
		bt_jj_tag_value(b, first, a->key, &a->value);
	}
}

/* ---- spans and processes ---- */

static const char *bt_jj_kind(baton_span_kind k)
{
	switch (k) {
	case BATON_SPAN_KIND_SERVER:
		return "server";
	case BATON_SPAN_KIND_CLIENT:
		return "client";
	case BATON_SPAN_KIND_PRODUCER:
		return "producer";
	case BATON_SPAN_KIND_CONSUMER:
		return "consumer";
	case BATON_SPAN_KIND_INTERNAL:
		return "internal";
	default:
		return NULL;
	}
}

/*
 * The W3C tracestate of the span: "ot=th:<threshold>" first when the
 * context carries an OTEP 235 threshold, then the rest. Empty when none.
 */
static void bt_jj_tracestate(bt_buf *b, const baton_span_context *c)
{
	static const char hex[] = "0123456789abcdef";
	if (c->state & BATON_CTX_HAS_TH) {
		/* 14 hex digits (56 bits), trailing zeros removed, "0" for zero. */
		char th[15];
		int n = 14;
		for (int i = 0; i < 14; i++)
			th[i] = hex[(c->threshold >> (52 - 4 * i)) & 15];
		while (n > 1 && th[n - 1] == '0')
			n--;
		bt_buf_puts(b, "ot=th:");
		bt_buf_put(b, th, (size_t)n);
	}
	if (c->tracestate != NULL && c->tracestate[0] != '\0') {
		if (c->state & BATON_CTX_HAS_TH)
			bt_buf_putc(b, ',');
		bt_buf_puts(b, c->tracestate);
	}
}

static void bt_jj_ref(bt_buf *b, bool *first, const char *type,
                      const baton_span_context *c)
{
	if (!*first)
		bt_buf_putc(b, ',');
	*first = false;
	bt_buf_puts(b, "{\"refType\":\"");
	bt_buf_puts(b, type);
	bt_buf_puts(b, "\",\"traceID\":");
	bt_jj_hex(b, c->trace_id, BATON_TRACE_ID_SIZE);
	bt_buf_puts(b, ",\"spanID\":");
	bt_jj_hex(b, c->span_id, BATON_SPAN_ID_SIZE);
	bt_buf_putc(b, '}');
}

void bt_jj_span(bt_buf *b, const baton_span_data *s, const char *process_id)
{
	bool first;
	uint64_t start_us = s->start_unix_ns / 1000u;
	uint64_t dur_us =
	    s->end_unix_ns > s->start_unix_ns ? s->end_unix_ns / 1000u - start_us : 0;

	bt_buf_puts(b, "{\"traceID\":");
	bt_jj_hex(b, s->context.trace_id, BATON_TRACE_ID_SIZE);
	bt_buf_puts(b, ",\"spanID\":");
	bt_jj_hex(b, s->context.span_id, BATON_SPAN_ID_SIZE);
	/* Jaeger's flags: bit 0 is "sampled" as in W3C; bit 1 means debug, not random. */
	bt_buf_puts(b, ",\"flags\":");
	bt_buf_put_u64(b, s->context.trace_flags & BATON_FLAG_SAMPLED);
	bt_buf_puts(b, ",\"operationName\":");
	bt_jj_cstr(b, s->name);

	bt_buf_puts(b, ",\"references\":[");
	first = true;
	if (s->parent.state & BATON_CTX_VALID)
		bt_jj_ref(b, &first, "CHILD_OF", &s->parent);
	for (const baton_link *l = s->links; l != NULL; l = l->next)
		bt_jj_ref(b, &first, "FOLLOWS_FROM", &l->context);

	bt_buf_puts(b, "],\"startTime\":");
	bt_buf_put_u64(b, start_us);
	bt_buf_puts(b, ",\"duration\":");
	bt_buf_put_u64(b, dur_us);

	bt_buf_puts(b, ",\"tags\":[");
	first = true;
	const char *kind = bt_jj_kind(s->kind);
	if (kind != NULL)
		bt_jj_tag_cstr(b, &first, "span.kind", kind);
	if (s->scope != NULL && s->scope->name != NULL && s->scope->name[0] != '\0') {
		bt_jj_tag_cstr(b, &first, "otel.scope.name", s->scope->name);
		if (s->scope->version != NULL && s->scope->version[0] != '\0')
			bt_jj_tag_cstr(b, &first, "otel.scope.version",
			               s->scope->version);
	}
	if (s->status == BATON_STATUS_OK) {
		bt_jj_tag_cstr(b, &first, "otel.status_code", "OK");
	} else if (s->status == BATON_STATUS_ERROR) {
		bt_jj_tag_cstr(b, &first, "otel.status_code", "ERROR");
		if (s->status_message != NULL && s->status_message[0] != '\0')
			bt_jj_tag_cstr(b, &first, "otel.status_description",
			               s->status_message);
		bt_jj_tag_bool(b, &first, "error", true);
	}
	if ((s->context.state & BATON_CTX_HAS_TH) ||
	    (s->context.tracestate != NULL && s->context.tracestate[0] != '\0')) {
		bt_jj_tag_open(b, &first, "w3c.tracestate", "string");
		bt_buf t;
		bt_buf_init(&t, b->max);
		bt_jj_tracestate(&t, &s->context);
		if (t.fail)
			b->fail = true;
		else
			bt_jj_str(b, t.p != NULL ? t.p : "", t.len);
		bt_buf_fini(&t);
		bt_buf_putc(b, '}');
	}
	bt_jj_tags(b, &first, s->attrs, NULL);
	if (s->dropped_attrs > 0)
		bt_jj_tag_int(b, &first, "otel.dropped_attributes_count",
		              s->dropped_attrs);
	if (s->dropped_events > 0)
		bt_jj_tag_int(b, &first, "otel.dropped_events_count", s->dropped_events);
	if (s->dropped_links > 0)
		bt_jj_tag_int(b, &first, "otel.dropped_links_count", s->dropped_links);

	bt_buf_puts(b, "],\"logs\":[");
	bool first_log = true;
	for (const baton_event *e = s->events; e != NULL; e = e->next) {
		if (!first_log)
			bt_buf_putc(b, ',');
		first_log = false;
		bt_buf_puts(b, "{\"timestamp\":");
		bt_buf_put_u64(b, e->time_unix_ns / 1000u);
		bt_buf_puts(b, ",\"fields\":[");
		first = true;
		bt_jj_tag_cstr(b, &first, "event", e->name != NULL ? e->name : "");
		bt_jj_tags(b, &first, e->attrs, NULL);
		bt_buf_puts(b, "]}");
	}
	bt_buf_puts(b, "],\"processID\":\"");
	bt_buf_puts(b, process_id);
	bt_buf_puts(b, "\",\"warnings\":null}");
}

void bt_jj_process(bt_buf *b, const baton_resource *res)
{
	const char *svc = res != NULL ? res->service_name : NULL;
	const baton_attr *sa =
	    res != NULL ? baton_attr_find(res->attrs, "service.name") : NULL;
	bt_buf_puts(b, "{\"serviceName\":");
	if (svc != NULL && svc[0] != '\0')
		bt_jj_cstr(b, svc);
	else if (sa != NULL && sa->value.type == BATON_VALUE_STRING &&
	         sa->value.u.s != NULL)
		bt_jj_str(b, sa->value.u.s, sa->value.len);
	else
		bt_jj_cstr(b, "unknown_service");
	bt_buf_puts(b, ",\"tags\":[");
	bool first = true;
	if (res != NULL)
		bt_jj_tags(b, &first, res->attrs, "service.name");
	bt_buf_puts(b, "]}");
}
