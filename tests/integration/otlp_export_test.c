/* OTLP/HTTP exporter against the test receiver: encoding, fields, gzip, headers. */
#include "otlp_receiver.h"
#include "otlp_trace.pb-c.h"

#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TU_OTLP_SUITE(otlp_export);

static baton_exporter make_exporter(int compression, uint32_t max_request)
{
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = tu_otlp_url(rcv),
	                             .timeout_ms = 5000,
	                             .compression = compression,
	                             .max_request_bytes = max_request,
	                             .retry_initial_ms = 10};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	return e;
}

static baton_processor init_sdk(baton_exporter e)
{
	baton_batch_options bo = {.size = sizeof(bo), .schedule_delay_ms = 60000};
	baton_processor p;
	cr_assert_eq(baton_batch_processor_create(e, &bo, &p), BATON_OK);
	baton_kv res[] = {BATON_KV_STR("deployment.environment", "test")};
	baton_options o = {.size = sizeof(o),
	                   .service_name = "otlp-test",
	                   .resource_attrs = res,
	                   .nresource_attrs = 1,
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	return p;
}

static void make_spans(const char *name, int n)
{
	baton_tracer *t = baton_tracer_get("lib", "1.0");
	for (int i = 0; i < n; i++) {
		baton_span s = baton_span_start(t, name);
		baton_span_set_int(s, "i", i);
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_end(s);
	}
}

/*
 * One span with fixed ids, times and attributes, encoded by the exporter,
 * against the bytes worked out by hand from the OTLP field numbers:
 * tag = (field << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited,
 * 5 fixed32); fields in number order; proto3 zero values left out.
 */
/* clang-format off */
static const uint8_t golden[] = {
    /* ExportTraceServiceRequest.resource_spans (1, LEN), 254 bytes */
    0x0a, 0xfe, 0x01,
    /*  ResourceSpans.resource (1, LEN), 23 bytes */
    0x0a, 0x17,
    /*   Resource.attributes (1, LEN), KeyValue of 21 bytes */
    0x0a, 0x15,
    /*    KeyValue.key (1) "service.name" */
    0x0a, 0x0c, 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e',
    /*    KeyValue.value (2) AnyValue{string_value (1) "svc"} */
    0x12, 0x05, 0x0a, 0x03, 's', 'v', 'c',
    /*  ResourceSpans.scope_spans (2, LEN), 226 bytes */
    0x12, 0xe2, 0x01,
    /*   ScopeSpans.scope (1): InstrumentationScope{name (1) "lib", version (2) "1"} */
    0x0a, 0x08, 0x0a, 0x03, 'l', 'i', 'b', 0x12, 0x01, '1',
    /*   ScopeSpans.spans (2, LEN), Span of 213 bytes */
    0x12, 0xd5, 0x01,
    /*    Span.trace_id (1, LEN 16) */
    0x0a, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    /*    Span.span_id (2, LEN 8) */
    0x12, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    /*    Span.trace_state (3, LEN 21): "ot=th:fd70a4,vendor=x" (threshold
     *    0xfd70a400000000 with trailing zeros removed; ot first) */
    0x1a, 0x15, 'o', 't', '=', 't', 'h', ':', 'f', 'd', '7', '0', 'a', '4', ',',
                'v', 'e', 'n', 'd', 'o', 'r', '=', 'x',
    /*    Span.parent_span_id (4, LEN 8) */
    0x22, 0x08, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    /*    Span.name (5) "op" */
    0x2a, 0x02, 'o', 'p',
    /*    Span.kind (6, varint) SPAN_KIND_SERVER = 2 */
    0x30, 0x02,
    /*    Span.start_time_unix_nano (7, fixed64) 1000000000 = 0x3b9aca00, little endian */
    0x39, 0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00,
    /*    Span.end_time_unix_nano (8, fixed64) 1000000500 = 0x3b9acbf4 */
    0x41, 0xf4, 0xcb, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00,
    /*    Span.attributes (9, LEN 8): {key (1) "k", value (2) {string_value (1) "v"}} */
    0x4a, 0x08, 0x0a, 0x01, 'k', 0x12, 0x03, 0x0a, 0x01, 'v',
    /*    Span.attributes (9, LEN 8): {"n", {int_value (3, varint) 150 = 0x96 0x01}} */
    0x4a, 0x08, 0x0a, 0x01, 'n', 0x12, 0x03, 0x18, 0x96, 0x01,
    /*    Span.attributes (9, LEN 7): {"b", {bool_value (2) true}} */
    0x4a, 0x07, 0x0a, 0x01, 'b', 0x12, 0x02, 0x10, 0x01,
    /*    Span.attributes (9, LEN 14): {"d", {double_value (4, fixed64) 1.5 =
     *    0x3ff8000000000000}} */
    0x4a, 0x0e, 0x0a, 0x01, 'd', 0x12, 0x09,
                0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,
    /*    Span.attributes (9, LEN 15): {"a", {array_value (5, LEN 8) ArrayValue{
     *    values (1) {int_value 1}, values (1) {int_value 2}}}} */
    0x4a, 0x0f, 0x0a, 0x01, 'a', 0x12, 0x0a,
                0x2a, 0x08, 0x0a, 0x02, 0x18, 0x01, 0x0a, 0x02, 0x18, 0x02,
    /*    Span.dropped_attributes_count (10, varint) 1 */
    0x50, 0x01,
    /*    Span.events (11, LEN 12): Event{time_unix_nano (1, fixed64) 1000000100 =
     *    0x3b9aca64, name (2) "e"} */
    0x5a, 0x0c, 0x09, 0x64, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x12, 0x01, 'e',
    /*    Span.links (13, LEN 33): Link{ */
    0x6a, 0x21,
    /*     Link.trace_id (1, LEN 16) */
    0x0a, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    /*     Link.span_id (2, LEN 8) */
    0x12, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
    /*     Link.flags (6, fixed32): sampled 0x01 | has_is_remote 0x100 = 0x101 } */
    0x35, 0x01, 0x01, 0x00, 0x00,
    /*    Span.status (15, LEN 7): Status{message (2) "bad", code (3) ERROR = 2} */
    0x7a, 0x07, 0x12, 0x03, 'b', 'a', 'd', 0x18, 0x02,
    /*    Span.flags (16, fixed32; tag 16 << 3 | 5 = 133 = 0x85 0x01):
     *    W3C 0x03 | has_is_remote 0x100 | is_remote 0x200 = 0x303 */
    0x85, 0x01, 0x03, 0x03, 0x00, 0x00,
};
/* clang-format on */

Test(otlp_export, golden_bytes_of_one_span_match_the_hand_encoding)
{
	cr_assert_eq(sizeof(golden), 257);
	baton_attr res_attr = {
	    NULL, "service.name", {BATON_VALUE_STRING, {.s = "svc"}, 3}};
	baton_resource res = {&res_attr, 1, "svc"};
	baton_scope scope = {"lib", "1"};
	static const int64_t arr[] = {1, 2};
	baton_attr a5 = {NULL, "a", {BATON_VALUE_INT_ARRAY, {.ia = arr}, 2}};
	baton_attr a4 = {&a5, "d", {BATON_VALUE_DOUBLE, {.d = 1.5}, 0}};
	baton_attr a3 = {&a4, "b", {BATON_VALUE_BOOL, {.b = true}, 0}};
	baton_attr a2 = {&a3, "n", {BATON_VALUE_INT, {.i = 150}, 0}};
	baton_attr a1 = {&a2, "k", {BATON_VALUE_STRING, {.s = "v"}, 1}};
	baton_event ev = {NULL, "e", 1000000100u, NULL, 0, 0};
	baton_link ln;
	memset(&ln, 0, sizeof(ln));
	baton_span_data s;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 16; i++)
		s.context.trace_id[i] = (uint8_t)(i + 1);
	for (int i = 0; i < 8; i++) {
		s.context.span_id[i] = (uint8_t)(0x11 + i);
		s.parent.span_id[i] = (uint8_t)(0x21 + i);
		ln.context.span_id[i] = (uint8_t)(0x31 + i);
	}
	memcpy(s.parent.trace_id, s.context.trace_id, 16);
	memcpy(ln.context.trace_id, s.context.trace_id, 16);
	s.context.trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM;
	s.context.state = BATON_CTX_VALID | BATON_CTX_HAS_TH;
	s.context.threshold = 0xfd70a400000000ull;
	s.context.tracestate = "vendor=x";
	s.parent.trace_flags = BATON_FLAG_SAMPLED;
	s.parent.state = BATON_CTX_VALID | BATON_CTX_REMOTE;
	ln.context.trace_flags = BATON_FLAG_SAMPLED;
	ln.context.state = BATON_CTX_VALID;
	s.name = "op";
	s.kind = BATON_SPAN_KIND_SERVER;
	s.start_unix_ns = 1000000000u;
	s.end_unix_ns = 1000000500u;
	s.attrs = &a1;
	s.nattrs = 5;
	s.dropped_attrs = 1;
	s.events = &ev;
	s.nevents = 1;
	s.links = &ln;
	s.nlinks = 1;
	s.status = BATON_STATUS_ERROR;
	s.status_message = "bad";
	s.resource = &res;
	s.scope = &scope;

	baton_exporter e = make_exporter(BATON_OTLP_COMPRESSION_NONE, 0);
	const baton_span_data *one = &s;
	cr_assert_eq(e.ops->export_spans(e.arg, &one, 1).err, BATON_OK);
	uint8_t body[1024];
	size_t n = tu_otlp_last_body(rcv, body, sizeof(body));
	cr_assert_eq(n, sizeof(golden), "body is %zu bytes", n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(body[i], golden[i], "byte %zu: 0x%02x, expected 0x%02x", i,
		             body[i], golden[i]);
	e.ops->destroy(e.arg);
}

Test(otlp_export, spans_from_the_sdk_arrive_with_every_field)
{
	baton_processor p = init_sdk(make_exporter(BATON_OTLP_COMPRESSION_NONE, 0));
	baton_tracer *t = baton_tracer_get("lib", "1.0");
	baton_span_context parent;
	memset(&parent, 0, sizeof(parent));
	for (int i = 0; i < 16; i++)
		parent.trace_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++)
		parent.span_id[i] = (uint8_t)(0xb0 + i);
	parent.trace_flags = BATON_FLAG_SAMPLED;
	parent.state = BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_DECIDED;
	parent.tracestate = "congo=t61rcWkgMzE";
	baton_span_start_opts so = {.parent = &parent, .kind = BATON_SPAN_KIND_CONSUMER};
	baton_span s = baton_span_start_ex(t, "process orders", &so);
	const char *sv[] = {"x", "yz"};
	double dv[] = {0.5, 2.5};
	bool bv[] = {true, false};
	baton_value v;
	v = (baton_value){BATON_VALUE_STRING_ARRAY, {.sa = sv}, 2};
	baton_span_set_value(s, "sa", &v);
	v = (baton_value){BATON_VALUE_DOUBLE_ARRAY, {.da = dv}, 2};
	baton_span_set_value(s, "da", &v);
	v = (baton_value){BATON_VALUE_BOOL_ARRAY, {.ba = bv}, 2};
	baton_span_set_value(s, "ba", &v);
	baton_span_set_double(s, "ratio", 0.25);
	baton_kv eattr[] = {BATON_KV_INT("size", 42)};
	baton_span_add_event(s, "enqueued", 0, eattr, 1);
	baton_span_context other = parent;
	other.span_id[7] = 0xee;
	other.tracestate = NULL;
	baton_kv lattr[] = {BATON_KV_BOOL("batch", true)};
	baton_span_add_link(s, &other, lattr, 1);
	baton_span_set_status(s, BATON_STATUS_ERROR, "boom");
	baton_span_context sc;
	baton_span_get_context(s, &sc);
	baton_span_end(s);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(baton_batch_processor_stats(p, &(baton_batch_stats){0}), BATON_OK);

	static uint8_t body[65536];
	size_t n = tu_otlp_last_body(rcv, body, sizeof(body));
	Btotlp__ExportTraceServiceRequest *req =
	    btotlp__export_trace_service_request__unpack(NULL, n, body);
	cr_assert_not_null(req);
	cr_assert_eq(req->n_resource_spans, 1);
	Btotlp__ResourceSpans *rs = req->resource_spans[0];
	bool svc = false, env = false;
	for (size_t i = 0; i < rs->resource->n_attributes; i++) {
		Btotlp__KeyValue *kv = rs->resource->attributes[i];
		if (strcmp(kv->key, "service.name") == 0)
			svc = strcmp(kv->value->string_value, "otlp-test") == 0;
		if (strcmp(kv->key, "deployment.environment") == 0)
			env = strcmp(kv->value->string_value, "test") == 0;
	}
	cr_assert(svc && env, "resource attributes");
	cr_assert_eq(rs->n_scope_spans, 1);
	cr_assert_str_eq(rs->scope_spans[0]->scope->name, "lib");
	cr_assert_str_eq(rs->scope_spans[0]->scope->version, "1.0");
	cr_assert_eq(rs->scope_spans[0]->n_spans, 1);
	Btotlp__Span *sp = rs->scope_spans[0]->spans[0];
	cr_assert_str_eq(sp->name, "process orders");
	cr_assert_eq(sp->kind, BTOTLP__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER);
	cr_assert_eq(sp->trace_id.len, 16);
	cr_assert_eq(memcmp(sp->trace_id.data, parent.trace_id, 16), 0);
	cr_assert_eq(sp->parent_span_id.len, 8);
	cr_assert_eq(memcmp(sp->parent_span_id.data, parent.span_id, 8), 0);
	cr_assert_eq(sp->span_id.len, 8);
	/* The parent's tracestate, after ot=th when the sampler set a threshold. */
	cr_assert_str_eq(sp->trace_state, (sc.state & BATON_CTX_HAS_TH)
	                                      ? "ot=th:0,congo=t61rcWkgMzE"
	                                      : "congo=t61rcWkgMzE");
	cr_assert_eq(sp->flags & 0xff, BATON_FLAG_SAMPLED);
	cr_assert_eq(sp->flags & 0x300, 0x300, "parent is known to be remote");
	cr_assert_geq(sp->end_time_unix_nano, sp->start_time_unix_nano);
	cr_assert_gt(sp->start_time_unix_nano, 1600000000ull * 1000000000ull);
	int seen = 0;
	for (size_t i = 0; i < sp->n_attributes; i++) {
		Btotlp__KeyValue *kv = sp->attributes[i];
		Btotlp__AnyValue *av = kv->value;
		if (strcmp(kv->key, "sa") == 0) {
			cr_assert_eq(av->value_case,
			             BTOTLP__ANY_VALUE__VALUE_ARRAY_VALUE);
			cr_assert_eq(av->array_value->n_values, 2);
			cr_assert_str_eq(av->array_value->values[1]->string_value, "yz");
			seen |= 1;
		} else if (strcmp(kv->key, "da") == 0) {
			cr_assert_eq(av->array_value->values[1]->double_value, 2.5);
			seen |= 2;
		} else if (strcmp(kv->key, "ba") == 0) {
			cr_assert_eq(av->array_value->values[0]->bool_value, true);
			cr_assert_eq(av->array_value->values[1]->value_case,
			             BTOTLP__ANY_VALUE__VALUE_BOOL_VALUE);
			seen |= 4;
		} else if (strcmp(kv->key, "ratio") == 0) {
			cr_assert_eq(av->double_value, 0.25);
			seen |= 8;
		}
	}
	cr_assert_eq(seen, 15, "array and double attributes (seen 0x%x)", seen);
	cr_assert_eq(sp->n_events, 1);
	cr_assert_str_eq(sp->events[0]->name, "enqueued");
	cr_assert_eq(sp->events[0]->n_attributes, 1);
	cr_assert_eq(sp->events[0]->attributes[0]->value->int_value, 42);
	cr_assert_gt(sp->events[0]->time_unix_nano, 0);
	cr_assert_eq(sp->n_links, 1);
	cr_assert_eq(sp->links[0]->span_id.data[7], 0xee);
	cr_assert_eq(sp->links[0]->flags, 0x301);
	cr_assert_eq(sp->links[0]->n_attributes, 1);
	cr_assert_str_eq(sp->links[0]->attributes[0]->key, "batch");
	cr_assert_not_null(sp->status);
	cr_assert_eq(sp->status->code, BTOTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	cr_assert_str_eq(sp->status->message, "boom");
	btotlp__export_trace_service_request__free_unpacked(req, NULL);
	baton_fini(5000);
}

Test(otlp_export, a_sampled_root_carries_its_threshold_in_trace_state)
{
	baton_sampler smp;
	cr_assert_eq(baton_sampler_traceidratio(1.0, &smp), BATON_OK);
	baton_batch_options bo = {.size = sizeof(bo), .schedule_delay_ms = 60000};
	baton_processor p;
	cr_assert_eq(baton_batch_processor_create(make_exporter(1, 0), &bo, &p),
	             BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = smp,
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_span s = baton_span_start(baton_tracer_get("lib", NULL), "root");
	baton_span_context c;
	baton_span_get_context(s, &c);
	baton_span_end(s);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	static uint8_t body[65536];
	size_t n = tu_otlp_last_body(rcv, body, sizeof(body));
	Btotlp__ExportTraceServiceRequest *req =
	    btotlp__export_trace_service_request__unpack(NULL, n, body);
	cr_assert_not_null(req);
	Btotlp__Span *sp = req->resource_spans[0]->scope_spans[0]->spans[0];
	if (c.state & BATON_CTX_HAS_TH)
		cr_assert_str_eq(sp->trace_state, "ot=th:0", "100%% is th:0");
	else
		cr_assert_str_eq(sp->trace_state, "");
	btotlp__export_trace_service_request__free_unpacked(req, NULL);
	baton_fini(5000);
}

Test(otlp_export, gzip_round_trip)
{
	baton_processor p = init_sdk(make_exporter(BATON_OTLP_COMPRESSION_GZIP, 0));
	make_spans("zipped", 300);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	tu_otlp_counts c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 300);
	cr_assert_eq(c.bad_bodies, 0);
	cr_assert_eq(c.gzip_requests, c.requests);
	cr_assert_gt(c.requests, 0);
	char v[64];
	cr_assert(tu_otlp_last_header(rcv, "Content-Encoding", v, sizeof(v)));
	cr_assert_str_eq(v, "gzip");
	cr_assert_eq(tu_otlp_spans_named(rcv, "zipped"), 300);
	baton_batch_stats s;
	cr_assert_eq(baton_batch_processor_stats(p, &s), BATON_OK);
	cr_assert_eq(s.spans_exported, 300);
	baton_fini(5000);
}

Test(otlp_export, request_headers_and_keep_alive)
{
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = tu_otlp_url(rcv),
	                             .headers = "x-api-key=abc%20d,x-tenant=t1",
	                             .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	init_sdk(e);
	for (int i = 0; i < 5; i++) {
		make_spans("ka", 10);
		cr_assert_eq(baton_force_flush(5000), BATON_OK);
	}
	char v[128];
	cr_assert(tu_otlp_last_header(rcv, "User-Agent", v, sizeof(v)));
	cr_assert_str_eq(v, "baton/" BATON_VERSION_STRING);
	cr_assert(tu_otlp_last_header(rcv, "Content-Type", v, sizeof(v)));
	cr_assert_str_eq(v, "application/x-protobuf");
	cr_assert(tu_otlp_last_header(rcv, "x-api-key", v, sizeof(v)));
	cr_assert_str_eq(v, "abc d");
	cr_assert(tu_otlp_last_header(rcv, "x-tenant", v, sizeof(v)));
	cr_assert_str_eq(v, "t1");
	cr_assert(!tu_otlp_last_header(rcv, "Content-Encoding", v, sizeof(v)));
	cr_assert(tu_otlp_last_path(rcv, v, sizeof(v)));
	cr_assert_str_eq(v, "/v1/traces");
	tu_otlp_counts c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.requests, 5);
	cr_assert_eq(c.spans, 50);
	cr_assert_eq(c.connections, 1, "one kept-alive connection for 5 exports");
	baton_fini(5000);
}

Test(otlp_export, endpoint_headers_and_compression_from_the_environment)
{
	char base[80];
	/* OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces appended (a trailing slash is
	 * dropped). */
	snprintf(base, sizeof(base), "%.*s/", (int)(strlen(tu_otlp_url(rcv)) - 10),
	         tu_otlp_url(rcv));
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base, 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-from-env=1", 1);
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", 1);
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(NULL, &e), BATON_OK);
	init_sdk(e);
	make_spans("env", 3);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	char v[64];
	cr_assert(tu_otlp_last_path(rcv, v, sizeof(v)));
	cr_assert_str_eq(v, "/v1/traces");
	cr_assert(tu_otlp_last_header(rcv, "x-from-env", v, sizeof(v)));
	cr_assert(tu_otlp_last_header(rcv, "Content-Encoding", v, sizeof(v)));
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 3);
	baton_fini(5000);

	/* The traces endpoint is used as is. */
	char path[96];
	snprintf(path, sizeof(path), "%.*s/custom/path",
	         (int)(strlen(tu_otlp_url(rcv)) - 10), tu_otlp_url(rcv));
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", path, 1);
	cr_assert_eq(baton_otlp_http_exporter_create(NULL, &e), BATON_OK);
	init_sdk(e);
	make_spans("env2", 1);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert(tu_otlp_last_path(rcv, v, sizeof(v)));
	cr_assert_str_eq(v, "/custom/path");
	baton_fini(5000);
}

Test(otlp_export, bad_endpoints_and_options_are_rejected)
{
	baton_exporter e;
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = "ftp://example.com/v1/traces"};
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_EINVAL);
	o.endpoint = "localhost:4318";
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_EINVAL);
	baton_otlp_http_options small = {.size = 8};
	cr_assert_eq(baton_otlp_http_exporter_create(&small, &e), BATON_EINVAL);
	cr_assert_eq(baton_otlp_http_exporter_create(NULL, NULL), BATON_EINVAL);
}

Test(otlp_export, bodies_over_the_request_limit_are_split)
{
	baton_processor p = init_sdk(make_exporter(BATON_OTLP_COMPRESSION_NONE, 4096));
	make_spans("split", 200);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	tu_otlp_counts c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 200);
	cr_assert_gt(c.requests, 2);
	cr_assert_leq(c.max_body, 4096);
	baton_batch_stats s;
	baton_batch_processor_stats(p, &s);
	cr_assert_eq(s.spans_exported, 200);
	baton_fini(5000);
}

Test(otlp_export, partial_success_is_reported_and_not_retried)
{
	baton_processor p = init_sdk(make_exporter(BATON_OTLP_COMPRESSION_NONE, 0));
	tu_otlp_set_mode(rcv, TU_OTLP_PARTIAL, 1);
	make_spans("partial", 10);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	baton_batch_stats s;
	baton_batch_processor_stats(p, &s);
	cr_assert_eq(s.spans_exported, 10);
	cr_assert_eq(s.spans_rejected, 1);
	cr_assert_eq(s.export_retries, 0);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 1);
	baton_fini(5000);
}

/* ---- secrets stay out of logs; a collector's text is defused ---- */

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char logged[16384];
static size_t logged_len;

/* Keeps every line at every level, byte for byte. */
static void capture_log(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&log_mtx);
	size_t n = strlen(msg);
	if (logged_len + n + 2 < sizeof(logged)) {
		memcpy(logged + logged_len, msg, n);
		logged_len += n;
		logged[logged_len++] = '\n';
		logged[logged_len] = '\0';
	}
	pthread_mutex_unlock(&log_mtx);
}

static void capture_all_logs(void)
{
	logged[0] = '\0';
	logged_len = 0;
	baton_set_log(BATON_LOG_DEBUG, capture_log, NULL);
}

/* No byte of the log (but the line ends) is a control byte or a C1 control. */
static void assert_log_is_clean(void)
{
	for (size_t i = 0; i < logged_len; i++) {
		unsigned char c = (unsigned char)logged[i];
		if (c == '\n')
			continue;
		cr_assert(c >= 0x20 && c != 0x7f, "control byte 0x%02x at %zu in: %s", c,
		          i, logged);
		cr_assert(!(c == 0xc2 && (unsigned char)logged[i + 1] < 0xa0),
		          "a C1 control at %zu in: %s", i, logged);
	}
}

Test(otlp_export, malformed_header_entries_are_logged_without_their_values)
{
	capture_all_logs();
	baton_otlp_http_options o = {
	    .size = sizeof(o),
	    .endpoint = tu_otlp_url(rcv),
	    .headers = "Authorization: Bearer sk-live-SECRET1,x-api-key=ab%ZZSECRET2,"
	               "x-ok=fine,=SECRET3",
	    .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	cr_assert_null(strstr(logged, "SECRET"), "a header value was logged: %s", logged);
	cr_assert(strstr(logged, "entry 1 (\"Authorization...\") is not key=value") !=
	              NULL,
	          "%s", logged);
	cr_assert(strstr(logged, "entry 2 (\"x-api-key...\") has a bad %-escape") != NULL,
	          "%s", logged);
	cr_assert(strstr(logged, "entry 4 (\"\") has no key") != NULL, "%s", logged);
	init_sdk(e);
	make_spans("hdr", 1);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	char v[64];
	cr_assert(tu_otlp_last_header(rcv, "x-ok", v, sizeof(v)));
	cr_assert_str_eq(v, "fine");
	cr_assert(!tu_otlp_last_header(rcv, "x-api-key", v, sizeof(v)));
	baton_fini(5000);
	cr_assert_null(strstr(logged, "SECRET"), "%s", logged);
}

Test(otlp_export, malformed_header_entries_from_the_environment_stay_secret)
{
	capture_all_logs();
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key:SECRET4,x=%0SECRET5", 1);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(NULL, &e), BATON_OK);
	cr_assert(strstr(logged, "OTEL_EXPORTER_OTLP_HEADERS: entry 1") != NULL, "%s",
	          logged);
	cr_assert_null(strstr(logged, "SECRET"), "%s", logged);
	e.ops->destroy(e.arg);
}

Test(otlp_export, endpoint_credentials_and_query_never_reach_a_log_line)
{
	capture_all_logs();
	char url[160];
	const char *u = tu_otlp_url(rcv); /* http://127.0.0.1:<port>/v1/traces */
	snprintf(url, sizeof(url), "http://alice:hunter2@%s?token=t0k3n", u + 7);
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = url,
	                             .timeout_ms = 2000,
	                             .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	init_sdk(e);
	tu_otlp_set_mode(rcv, TU_OTLP_400, -1);
	make_spans("cred", 2);
	cr_assert_eq(baton_force_flush(5000), BATON_EREJECTED);
	make_spans("cred", 2); /* a second failure is logged at debug */
	cr_assert_eq(baton_force_flush(5000), BATON_EREJECTED);
	baton_fini(5000);
	cr_assert(strstr(logged, "http://REDACTED@127.0.0.1:") != NULL, "%s", logged);
	cr_assert(strstr(logged, "/v1/traces?REDACTED failed") != NULL, "%s", logged);
	cr_assert_null(strstr(logged, "hunter2"), "%s", logged);
	cr_assert_null(strstr(logged, "alice"), "%s", logged);
	cr_assert_null(strstr(logged, "t0k3n"), "%s", logged);

	baton_otlp_http_options bad = {.size = sizeof(bad),
	                               .endpoint = "ftp://bob:s3cret@example.com/x"};
	cr_assert_eq(baton_otlp_http_exporter_create(&bad, &e), BATON_EINVAL);
	cr_assert(strstr(logged, "ftp://REDACTED@example.com/x") != NULL, "%s", logged);
	cr_assert_null(strstr(logged, "s3cret"), "%s", logged);
}

Test(otlp_export, a_collectors_partial_success_text_cannot_steer_the_terminal)
{
	capture_all_logs();
	baton_processor p = init_sdk(make_exporter(BATON_OTLP_COMPRESSION_NONE, 0));
	tu_otlp_set_mode(rcv, TU_OTLP_PARTIAL_HOSTILE, 1);
	make_spans("hostile", 3);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	baton_batch_stats s;
	baton_batch_processor_stats(p, &s);
	cr_assert_eq(s.spans_rejected, 1);
	baton_fini(5000);
	/* The text is there, defused: one line, every control byte replaced. */
	cr_assert(strstr(logged, "OTLP partial success: 1 spans rejected: ?[2J?]0;owned?"
	                         "line1??baton: error: forged??31m\n") != NULL,
	          "%s", logged);
	assert_log_is_clean();
}

Test(otlp_export, bad_timeout_and_compression_variables_are_named_in_their_warning)
{
	capture_all_logs();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd", 1);
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(NULL, &e), BATON_OK);
	cr_assert(strstr(logged, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"10s\" is not a "
	                         "non-negative integer (ms); using 10000") != NULL,
	          "%s", logged);
	cr_assert(strstr(logged, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=\"zstd\" is not "
	                         "gzip or none; using none") != NULL,
	          "%s", logged);
	e.ops->destroy(e.arg);
}
