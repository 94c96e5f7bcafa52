/*
 * OTLP/HTTP JSON: the JSON writer against the protobuf body decoded by
 * libprotobuf-c and mapped to JSON here, independently, by OTLP's JSON
 * rules (lowerCamelCase names, hex ids, enums as integers, 64-bit integers
 * as strings, default values left out); and an export with
 * http/json, plain and gzipped, to the test receiver.
 */
#include "otlp_int.h"
#include "otlp_receiver.h"
#include "otlp_trace.pb-c.h"

#include <baton/baton.h>
#include <baton/auto.h>
#include <baton/otlp_http.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the independent mapping: protobuf-c structures -> jansson ---- */

static json_t *hex(ProtobufCBinaryData b)
{
	char s[64] = "";
	for (size_t i = 0; i < b.len && i < 31; i++)
		snprintf(s + 2 * i, 3, "%02x", b.data[i]);
	return json_string(s);
}

static json_t *u64s(uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRIu64, v);
	return json_string(s);
}

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL && v[0] != '\0')
		json_object_set_new(o, k, json_string(v));
}

static void put_uint(json_t *o, const char *k, uint64_t v)
{
	if (v != 0)
		json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void put_time(json_t *o, const char *k, uint64_t v)
{
	if (v != 0)
		json_object_set_new(o, k, u64s(v));
}

static json_t *any(const Btotlp__AnyValue *v);

static void put_attrs(json_t *o, Btotlp__KeyValue **kv, size_t n)
{
	if (n == 0)
		return;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_object();
		put_str(x, "key", kv[i]->key);
		if (kv[i]->value != NULL)
			json_object_set_new(x, "value", any(kv[i]->value));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "attributes", a);
}

static json_t *any(const Btotlp__AnyValue *v)
{
	json_t *o = json_object();
	char s[24];
	switch (v->value_case) {
	case BTOTLP__ANY_VALUE__VALUE_STRING_VALUE:
		json_object_set_new(o, "stringValue", json_string(v->string_value));
		break;
	case BTOTLP__ANY_VALUE__VALUE_BOOL_VALUE:
		json_object_set_new(o, "boolValue", json_boolean(v->bool_value));
		break;
	case BTOTLP__ANY_VALUE__VALUE_INT_VALUE:
		snprintf(s, sizeof(s), "%" PRId64, v->int_value);
		json_object_set_new(o, "intValue", json_string(s));
		break;
	case BTOTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
		json_object_set_new(o, "doubleValue", json_real(v->double_value));
		break;
	case BTOTLP__ANY_VALUE__VALUE_ARRAY_VALUE: {
		json_t *av = json_object();
		if (v->array_value->n_values > 0) {
			json_t *a = json_array();
			for (size_t i = 0; i < v->array_value->n_values; i++)
				json_array_append_new(a, any(v->array_value->values[i]));
			json_object_set_new(av, "values", a);
		}
		json_object_set_new(o, "arrayValue", av);
		break;
	}
	default:
		break;
	}
	return o;
}

static json_t *span(const Btotlp__Span *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "traceId", hex(s->trace_id));
	json_object_set_new(o, "spanId", hex(s->span_id));
	put_str(o, "traceState", s->trace_state);
	if (s->parent_span_id.len > 0)
		json_object_set_new(o, "parentSpanId", hex(s->parent_span_id));
	put_str(o, "name", s->name);
	put_uint(o, "kind", (uint64_t)s->kind);
	put_time(o, "startTimeUnixNano", s->start_time_unix_nano);
	put_time(o, "endTimeUnixNano", s->end_time_unix_nano);
	put_attrs(o, s->attributes, s->n_attributes);
	put_uint(o, "droppedAttributesCount", s->dropped_attributes_count);
	if (s->n_events > 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->n_events; i++) {
			const Btotlp__Span__Event *ev = s->events[i];
			json_t *x = json_object();
			put_time(x, "timeUnixNano", ev->time_unix_nano);
			put_str(x, "name", ev->name);
			put_attrs(x, ev->attributes, ev->n_attributes);
			put_uint(x, "droppedAttributesCount",
			         ev->dropped_attributes_count);
			json_array_append_new(a, x);
		}
		json_object_set_new(o, "events", a);
	}
	put_uint(o, "droppedEventsCount", s->dropped_events_count);
	if (s->n_links > 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->n_links; i++) {
			const Btotlp__Span__Link *l = s->links[i];
			json_t *x = json_object();
			json_object_set_new(x, "traceId", hex(l->trace_id));
			json_object_set_new(x, "spanId", hex(l->span_id));
			put_str(x, "traceState", l->trace_state);
			put_attrs(x, l->attributes, l->n_attributes);
			put_uint(x, "droppedAttributesCount",
			         l->dropped_attributes_count);
			put_uint(x, "flags", l->flags);
			json_array_append_new(a, x);
		}
		json_object_set_new(o, "links", a);
	}
	put_uint(o, "droppedLinksCount", s->dropped_links_count);
	if (s->status != NULL) {
		json_t *x = json_object();
		put_str(x, "message", s->status->message);
		put_uint(x, "code", (uint64_t)s->status->code);
		json_object_set_new(o, "status", x);
	}
	put_uint(o, "flags", s->flags);
	return o;
}

static json_t *request(const Btotlp__ExportTraceServiceRequest *r)
{
	json_t *o = json_object();
	if (r->n_resource_spans == 0)
		return o;
	json_t *rsa = json_array();
	for (size_t i = 0; i < r->n_resource_spans; i++) {
		const Btotlp__ResourceSpans *rs = r->resource_spans[i];
		json_t *x = json_object();
		if (rs->resource != NULL) {
			json_t *res = json_object();
			put_attrs(res, rs->resource->attributes,
			          rs->resource->n_attributes);
			json_object_set_new(x, "resource", res);
		}
		json_t *ssa = json_array();
		for (size_t j = 0; j < rs->n_scope_spans; j++) {
			const Btotlp__ScopeSpans *ss = rs->scope_spans[j];
			json_t *y = json_object();
			if (ss->scope != NULL) {
				json_t *sc = json_object();
				put_str(sc, "name", ss->scope->name);
				put_str(sc, "version", ss->scope->version);
				json_object_set_new(y, "scope", sc);
			}
			json_t *sp = json_array();
			for (size_t k = 0; k < ss->n_spans; k++)
				json_array_append_new(sp, span(ss->spans[k]));
			json_object_set_new(y, "spans", sp);
			json_array_append_new(ssa, y);
		}
		json_object_set_new(x, "scopeSpans", ssa);
		json_array_append_new(rsa, x);
	}
	json_object_set_new(o, "resourceSpans", rsa);
	return o;
}

/* Encodes spans both ways and holds the JSON body equal to the mapped protobuf. */
static void assert_same_request(const baton_span_data *const *spans, size_t n)
{
	bt_otlp_enc *e;
	cr_assert_eq(bt_otlp_enc_create(&e), BATON_OK);
	const uint8_t *body;
	size_t len;
	cr_assert_eq(bt_otlp_encode(e, spans, n, SIZE_MAX, &body, &len), BATON_OK);
	Btotlp__ExportTraceServiceRequest *req =
	    btotlp__export_trace_service_request__unpack(NULL, len, body);
	cr_assert_not_null(req);
	json_t *want = request(req);
	btotlp__export_trace_service_request__free_unpacked(req, NULL);
	for (int round = 0; round < 2; round++) { /* cold, then warm */
		cr_assert_eq(bt_otlp_encode_json(e, spans, n, SIZE_MAX, &body, &len),
		             BATON_OK);
		json_error_t err;
		json_t *got = json_loadb((const char *)body, len, 0, &err);
		cr_assert_not_null(got, "not JSON: %s at %d: %.*s", err.text,
		                   err.position, (int)len, (const char *)body);
		if (!json_equal(got, want)) {
			char *a = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
			char *b = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
			cr_log_error("got:\n%s\nwant:\n%s", a, b);
			free(a);
			free(b);
			cr_assert_fail("the JSON body differs from the protobuf one");
		}
		json_decref(got);
	}
	json_decref(want);
	/* A limit below the body's size writes nothing. */
	if (n > 0)
		cr_assert_eq(bt_otlp_encode_json(e, spans, n, 10, &body, &len),
		             BATON_ETOOBIG);
	else
		cr_assert_eq(len, 2, "an empty request is {}");
	bt_otlp_enc_destroy(e);
}

/* ---- spans ---- */

static const baton_span_data *got[256];
static size_t ngot;

static void keep_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	if (ngot < 256)
		got[ngot++] = span;
	else
		baton_span_data_release(span);
}
static const baton_processor_ops keep_ops = {
    sizeof(baton_processor_ops), "keep", keep_on_end, NULL, NULL, NULL};

static void release_all(void)
{
	for (size_t i = 0; i < ngot; i++)
		baton_span_data_release(got[i]);
	ngot = 0;
}

/* 60 SDK spans of every kind, in three scopes. */
static void make_sdk_spans(void)
{
	baton_processor p = {&keep_ops, NULL};
	baton_kv res[] = {BATON_KV_INT("k8s.pod.count", -3), BATON_KV_BOOL("on", false)};
	baton_options o = {.size = sizeof(o),
	                   .service_name = "enc \"q\" \\ \t\x01 é€",
	                   .resource_attrs = res,
	                   .nresource_attrs = 2,
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.attribute_count = 8;
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t1 = baton_tracer_get("one", "1.2.3");
	baton_tracer *t2 = baton_tracer_get("two", NULL);
	baton_tracer *t3 = baton_tracer_get("", NULL);
	baton_span_context remote;
	memset(&remote, 0, sizeof(remote));
	memset(remote.trace_id, 0xa2, 16);
	memset(remote.span_id, 0x2b, 8);
	remote.trace_flags = BATON_FLAG_SAMPLED;
	remote.state = BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_HAS_TH;
	remote.threshold = 0x80000000000000ull;
	remote.tracestate = "a=1,b=2";
	for (int i = 0; i < 60; i++) {
		baton_tracer *t = i % 3 == 0 ? t1 : i % 3 == 1 ? t2 : t3;
		baton_span_start_opts so = {.kind = (baton_span_kind)(i % 6),
		                            .parent = i % 4 == 0 ? &remote : NULL,
		                            .links = i % 5 == 0 ? &remote : NULL,
		                            .nlinks = i % 5 == 0 ? 1 : 0};
		baton_span s = baton_span_start_ex(t, i % 7 ? "name\n\"x\"" : "", &so);
		baton_span_set_int(s, "neg", -1 - i);
		baton_span_set_int(s, "zero", 0);
		baton_span_set_double(s, "dz", 0.0);
		baton_span_set_double(s, "d", 1e300 / (i + 1));
		baton_span_set_str(s, "empty", "");
		const char *sa[] = {"a", NULL, "\x7f\x1f"};
		int64_t ia[] = {INT64_MIN, 0, INT64_MAX};
		baton_value v = {BATON_VALUE_STRING_ARRAY, {.sa = sa}, 3};
		baton_span_set_value(s, "sa", &v);
		v = (baton_value){BATON_VALUE_INT_ARRAY, {.ia = ia}, (size_t)(i % 4)};
		baton_span_set_value(s, "ia", &v);
		baton_span_set_bool(s, "t", true);
		baton_span_set_bool(s, "over", true); /* past the limit: dropped */
		if (i % 2) {
			baton_kv ek[] = {BATON_KV_STR("x", "y"),
			                 BATON_KV_DOUBLE("d", -2.5)};
			baton_span_add_event(s, "ev", 0, ek, 2);
			baton_span_add_event(s, "", 5, NULL, 0);
		}
		if (i % 3 == 2) {
			baton_kv lk[] = {BATON_KV_INT("n", 7)};
			baton_span_context other = remote;
			other.state = BATON_CTX_VALID;
			other.tracestate = NULL;
			baton_span_add_link(s, &other, lk, 1);
		}
		if (i % 4 == 1)
			baton_span_set_status(s, BATON_STATUS_OK, NULL);
		if (i % 4 == 2)
			baton_span_set_status(s, BATON_STATUS_ERROR,
			                      i % 8 == 2 ? "why \"\\\"" : NULL);
		baton_span_end(s);
	}
	cr_assert_eq(ngot, 60);
}

Test(otlp_json, json_body_equals_the_protobuf_body_mapped_on_sdk_spans)
{
	make_sdk_spans();
	assert_same_request(got, ngot);
	assert_same_request(got, 1);
	assert_same_request(got, 0);
	release_all();
	baton_fini(1000);
}

Test(otlp_json, json_body_equals_the_protobuf_body_across_resources_and_odd_values)
{
	baton_attr ra = {NULL, "service.name", {BATON_VALUE_STRING, {.s = "a"}, 1}};
	baton_resource r1 = {&ra, 1, "a"};
	baton_resource r2 = {NULL, 0, NULL};
	baton_scope sc = {"s", "v"};
	static const double da[] = {0.0, -1.0, 0.1, 123456789.0};
	static const bool ba[] = {false};
	baton_attr a4 = {NULL, "", {BATON_VALUE_INT, {.i = 1}, 0}};
	baton_attr a3 = {&a4, "none", {BATON_VALUE_NONE, {0}, 0}};
	baton_attr a2 = {&a3, "ba", {BATON_VALUE_BOOL_ARRAY, {.ba = ba}, 1}};
	baton_attr a1 = {&a2, "da", {BATON_VALUE_DOUBLE_ARRAY, {.da = da}, 4}};
	baton_attr a0 = {&a1, "empty array", {BATON_VALUE_INT_ARRAY, {.ia = NULL}, 0}};
	baton_span_data s[6];
	const baton_span_data *ps[6];
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 6; i++) {
		memset(s[i].context.trace_id, 0xf0 + i, 16);
		memset(s[i].context.span_id, 0x0a + i, 8);
		s[i].context.state = BATON_CTX_VALID | (i == 3 ? BATON_CTX_HAS_TH : 0);
		s[i].context.threshold = i == 3 ? 0xffffffffffffffull : 0;
		s[i].name = i == 4 ? NULL : "n";
		s[i].resource = i % 2 ? &r2 : &r1;
		s[i].scope = i == 5 ? NULL : &sc;
		s[i].attrs = i == 2 ? &a0 : NULL;
		s[i].start_unix_ns = (uint64_t)i;
		s[i].end_unix_ns = UINT64_MAX;
		s[i].dropped_events = (uint32_t)i * 1000;
		s[i].dropped_links = UINT32_MAX;
		s[i].status_message = i == 1 ? "" : NULL;
		ps[i] = &s[i];
	}
	assert_same_request(ps, 6);
}

/* ---- export to the test receiver ---- */

static void export_json(bool gzip)
{
	tu_otlp_receiver *r = tu_otlp_start();
	cr_assert_not_null(r);
	make_sdk_spans();
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = tu_otlp_url(r),
	                             .compression = gzip ? BATON_OTLP_COMPRESSION_GZIP
	                                                 : BATON_OTLP_COMPRESSION_NONE,
	                             .protocol = BATON_OTLP_PROTOCOL_JSON};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	baton_export_result res = e.ops->export_spans(e.arg, got, ngot);
	cr_assert_eq(res.err, BATON_OK);
	char ct[64], ce[64];
	cr_assert(tu_otlp_last_header(r, "Content-Type", ct, sizeof(ct)));
	cr_assert_str_eq(ct, "application/json");
	cr_assert_eq(tu_otlp_last_header(r, "Content-Encoding", ce, sizeof(ce)), gzip);
	if (gzip)
		cr_assert_str_eq(ce, "gzip");
	cr_assert_eq(tu_otlp_get_counts(r).gzip_requests, gzip ? 1 : 0);
	static uint8_t body[1 << 20];
	size_t n = tu_otlp_last_body(r, body, sizeof(body));
	cr_assert_lt(n, sizeof(body));
	json_error_t err;
	json_t *j = json_loadb((const char *)body, n, 0, &err);
	cr_assert_not_null(j, "%s", err.text);
	size_t spans = 0, i, k;
	json_t *rs, *ss;
	json_array_foreach(json_object_get(j, "resourceSpans"), i, rs)
	{
		json_array_foreach(json_object_get(rs, "scopeSpans"), k, ss) spans +=
		    json_array_size(json_object_get(ss, "spans"));
	}
	cr_assert_eq(spans, 60);
	json_decref(j);
	if (e.ops->shutdown != NULL)
		e.ops->shutdown(e.arg, 1000);
	e.ops->destroy(e.arg);
	release_all();
	baton_fini(1000);
	tu_otlp_stop(r);
}

Test(otlp_json, http_json_export_sends_json)
{
	export_json(false);
}

Test(otlp_json, http_json_export_sends_gzipped_json)
{
	export_json(true);
}

/* OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins over OTEL_EXPORTER_OTLP_PROTOCOL. */
Test(otlp_json, the_traces_protocol_variable_wins)
{
	tu_otlp_receiver *r = tu_otlp_start();
	cr_assert_not_null(r);
	make_sdk_spans();
	char ct[64];
	const char *cases[][3] = {
	    {NULL, "http/json", "application/json"},
	    {"http/json", "http/protobuf", "application/json"},
	    {"http/protobuf", "http/json", "application/x-protobuf"},
	    {NULL, NULL, "application/x-protobuf"}};
	for (size_t c = 0; c < 4; c++) {
		if (cases[c][0])
			setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", cases[c][0], 1);
		else
			unsetenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
		if (cases[c][1])
			setenv("OTEL_EXPORTER_OTLP_PROTOCOL", cases[c][1], 1);
		else
			unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
		baton_otlp_http_options o = {.size = sizeof(o),
		                             .endpoint = tu_otlp_url(r)};
		baton_exporter e;
		cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
		cr_assert_eq(e.ops->export_spans(e.arg, got, 1).err, BATON_OK);
		cr_assert(tu_otlp_last_header(r, "Content-Type", ct, sizeof(ct)));
		cr_assert_str_eq(ct, cases[c][2], "case %zu", c);
		e.ops->destroy(e.arg);
	}
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
	unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
	release_all();
	baton_fini(1000);
	tu_otlp_stop(r);
}

static int warnings;
static void count_warnings(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)msg;
	if (level >= BATON_LOG_WARN)
		warnings++;
}

/* baton_auto_init with OTEL_EXPORTER_OTLP_PROTOCOL=http/json exports JSON,
 * and says nothing about it. */
Test(otlp_json, auto_init_honours_http_json)
{
	baton_set_log(BATON_LOG_WARN, count_warnings, NULL);
	tu_otlp_receiver *r = tu_otlp_start();
	cr_assert_not_null(r);
	setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tu_otlp_url(r), 1);
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "auto");
	baton_span_end(s);
	cr_assert_eq(baton_fini(5000), BATON_OK);
	unsetenv("OTEL_TRACES_EXPORTER");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
	char ct[64];
	cr_assert(tu_otlp_last_header(r, "Content-Type", ct, sizeof(ct)));
	cr_assert_str_eq(ct, "application/json");
	cr_assert_eq(warnings, 0);
	tu_otlp_stop(r);
}

/* The JSON answer to an http/json request: partial success read, text sanitised,
 * anything else an error (never a crash). */
Test(otlp_json, json_responses_are_parsed)
{
	int64_t rej = -1;
	char msg[64];
	struct {
		const char *body;
		baton_err rv;
		int64_t rej;
		const char *msg;
	} cases[] = {
	    {"", BATON_OK, 0, ""},
	    {"{}", BATON_OK, 0, ""},
	    {"{\"partialSuccess\":{}}", BATON_OK, 0, ""},
	    {"{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"old\"}}",
	     BATON_OK, 3, "old"},
	    {"{\"partialSuccess\":{\"rejectedSpans\":4}}", BATON_OK, 4, ""},
	    {"{\"partialSuccess\":{\"errorMessage\":\"a\\u001b[2Jb\\nc\"}}", BATON_OK, 0,
	     NULL},
	    {"{\"partialSuccess\":{\"rejectedSpans\":\"x\"}}", BATON_EFORMAT, 0, ""},
	    {"{\"partialSuccess\":3}", BATON_EFORMAT, 0, ""},
	    {"[1]", BATON_EFORMAT, 0, ""},
	    {"\x0a\x00", BATON_EFORMAT, 0, ""},
	    {"{\"partialSuccess\":{\"rejectedSpans\":", BATON_EFORMAT, 0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		baton_err rv = bt_otlp_parse_response_json((const uint8_t *)cases[i].body,
		                                           strlen(cases[i].body), &rej,
		                                           msg, sizeof(msg));
		cr_assert_eq(rv, cases[i].rv, "case %zu", i);
		if (rv != BATON_OK)
			continue;
		cr_assert_eq(rej, cases[i].rej, "case %zu", i);
		if (cases[i].msg != NULL)
			cr_assert_str_eq(msg, cases[i].msg, "case %zu", i);
		for (const char *p = msg; *p; p++)
			cr_assert((unsigned char)*p >= 0x20, "case %zu: control byte", i);
	}
}
