/*
 * The direct protobuf writer against libprotobuf-c packing the generated
 * structures: the same bytes for every kind of span, and a request that
 * decodes back to what went in. Plus the parsers of collector answers.
 */
#include "otlp_int.h"
#include "otlp_check.h"
#include "otlp_trace.pb-c.h"
#include "spancheck.h"

#include <baton/baton.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void assert_same_bytes(const baton_span_data *const *spans, size_t n)
{
	bt_otlp_enc *a, *b;
	cr_assert_eq(bt_otlp_enc_create(&a), BATON_OK);
	cr_assert_eq(bt_otlp_enc_create(&b), BATON_OK);
	const uint8_t *pa, *pb;
	size_t la, lb;
	cr_assert_eq(bt_otlp_encode(a, spans, n, SIZE_MAX, &pa, &la), BATON_OK);
	cr_assert_eq(bt_otlp_encode_pbc(b, spans, n, SIZE_MAX, &pb, &lb), BATON_OK);
	cr_assert_eq(la, lb, "direct %zu bytes, protobuf-c %zu bytes", la, lb);
	for (size_t i = 0; i < la; i++)
		cr_assert_eq(pa[i], pb[i], "byte %zu differs", i);
	/* And again on the warm encoders (arena rewound, buffers reused). */
	cr_assert_eq(bt_otlp_encode(a, spans, n, SIZE_MAX, &pa, &la), BATON_OK);
	cr_assert_eq(la, lb);
	cr_assert_eq(memcmp(pa, pb, la), 0);
	bt_otlp_enc_destroy(a);
	bt_otlp_enc_destroy(b);
}

/* Collects what a processor gets, keeping the records until the test is done. */
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

Test(otlp_encode, direct_writer_matches_protobuf_c_on_sdk_spans)
{
	baton_processor p = {&keep_ops, NULL};
	baton_kv res[] = {BATON_KV_INT("k8s.pod.count", -3), BATON_KV_BOOL("on", false)};
	baton_options o = {.size = sizeof(o),
	                   .service_name = "enc",
	                   .resource_attrs = res,
	                   .nresource_attrs = 2,
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.attribute_count = 6;
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t1 = baton_tracer_get("one", "1.2.3");
	baton_tracer *t2 = baton_tracer_get("two", NULL);
	baton_tracer *t3 = baton_tracer_get("", NULL);
	baton_span_context remote;
	memset(&remote, 0, sizeof(remote));
	memset(remote.trace_id, 0x42, 16);
	memset(remote.span_id, 0x24, 8);
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
		baton_span s = baton_span_start_ex(t, i % 7 ? "name" : "", &so);
		baton_span_set_int(s, "neg", -1 - i);
		baton_span_set_int(s, "zero", 0);
		baton_span_set_double(s, "dz", 0.0);
		baton_span_set_str(s, "empty", "");
		const char *sa[] = {"a", NULL, ""};
		int64_t ia[] = {INT64_MIN, 0, INT64_MAX};
		baton_value v = {BATON_VALUE_STRING_ARRAY, {.sa = sa}, 3};
		baton_span_set_value(s, "sa", &v);
		v = (baton_value){BATON_VALUE_INT_ARRAY, {.ia = ia}, (size_t)(i % 4)};
		baton_span_set_value(s, "ia", &v);
		baton_span_set_bool(s, "over",
		                    true); /* past the limit: dropped, counted */
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
			                      i % 8 == 2 ? "why" : NULL);
		baton_span_end(s);
	}
	cr_assert_eq(ngot, 60);
	assert_same_bytes(got, ngot);
	assert_same_bytes(got, 1);

	/* The request decodes back: 3 scopes under one resource, 60 spans. */
	bt_otlp_enc *e;
	bt_otlp_enc_create(&e);
	const uint8_t *body;
	size_t len;
	cr_assert_eq(bt_otlp_encode(e, got, ngot, SIZE_MAX, &body, &len), BATON_OK);
	Btotlp__ExportTraceServiceRequest *req =
	    btotlp__export_trace_service_request__unpack(NULL, len, body);
	cr_assert_not_null(req);
	cr_assert_eq(req->n_resource_spans, 1);
	cr_assert_eq(req->resource_spans[0]->n_scope_spans, 3);
	size_t total = 0;
	for (size_t k = 0; k < 3; k++)
		total += req->resource_spans[0]->scope_spans[k]->n_spans;
	cr_assert_eq(total, 60);
	Btotlp__Span *s0 = req->resource_spans[0]->scope_spans[0]->spans[0];
	/* The parent's tracestate after the span's own threshold (always_on: 0). */
	cr_assert_str_eq(s0->trace_state, "ot=th:0,a=1,b=2");
	cr_assert_gt(got[0]->dropped_attrs, 0);
	cr_assert_eq(s0->dropped_attributes_count, got[0]->dropped_attrs);
	cr_assert_eq(s0->flags, 0x301);
	btotlp__export_trace_service_request__free_unpacked(req, NULL);

	/* A limit below the request's size writes nothing. */
	cr_assert_eq(bt_otlp_encode(e, got, ngot, 100, &body, &len), BATON_ETOOBIG);
	cr_assert_eq(bt_otlp_encode_pbc(e, got, ngot, 100, &body, &len), BATON_ETOOBIG);
	bt_otlp_enc_destroy(e);
	release_all();
	baton_fini(1000);
}

Test(otlp_encode, direct_writer_matches_protobuf_c_across_resources_and_odd_values)
{
	/* Two resources, interleaved, one without attributes; a span without scope. */
	baton_attr ra = {NULL, "service.name", {BATON_VALUE_STRING, {.s = "a"}, 1}};
	baton_resource r1 = {&ra, 1, "a"};
	baton_resource r2 = {NULL, 0, NULL};
	baton_scope sc = {"s", "v"};
	static const double da[] = {0.0, -1.0};
	static const bool ba[] = {false};
	baton_attr a3 = {NULL, "none", {BATON_VALUE_NONE, {0}, 0}};
	baton_attr a2 = {&a3, "ba", {BATON_VALUE_BOOL_ARRAY, {.ba = ba}, 1}};
	baton_attr a1 = {&a2, "da", {BATON_VALUE_DOUBLE_ARRAY, {.da = da}, 2}};
	baton_span_data s[6];
	const baton_span_data *ps[6];
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 6; i++) {
		memset(s[i].context.trace_id, i + 1, 16);
		memset(s[i].context.span_id, i + 1, 8);
		s[i].context.state = BATON_CTX_VALID | (i == 3 ? BATON_CTX_HAS_TH : 0);
		s[i].context.threshold = i == 3 ? 0xffffffffffffffull : 0;
		s[i].name = i == 4 ? NULL : "n";
		s[i].resource = i % 2 ? &r2 : &r1;
		s[i].scope = i == 5 ? NULL : &sc;
		s[i].attrs = i == 2 ? &a1 : NULL;
		s[i].start_unix_ns = (uint64_t)i;
		s[i].end_unix_ns = UINT64_MAX;
		s[i].dropped_events = (uint32_t)i * 1000;
		s[i].dropped_links = UINT32_MAX;
		s[i].status_message = i == 1 ? "" : NULL;
		ps[i] = &s[i];
	}
	assert_same_bytes(ps, 6);
	bt_otlp_enc *e;
	bt_otlp_enc_create(&e);
	const uint8_t *body;
	size_t len;
	cr_assert_eq(bt_otlp_encode(e, ps, 6, SIZE_MAX, &body, &len), BATON_OK);
	Btotlp__ExportTraceServiceRequest *req =
	    btotlp__export_trace_service_request__unpack(NULL, len, body);
	cr_assert_not_null(req);
	cr_assert_eq(req->n_resource_spans, 2);
	cr_assert_eq(req->resource_spans[0]->scope_spans[0]->n_spans, 3);
	cr_assert_eq(req->resource_spans[1]->n_scope_spans, 2, "scope and no scope");
	cr_assert_str_eq(req->resource_spans[1]->scope_spans[0]->spans[1]->trace_state,
	                 "ot=th:ffffffffffffff");
	btotlp__export_trace_service_request__free_unpacked(req, NULL);
	bt_otlp_enc_destroy(e);
}

/* ---- well-formed UTF-8 in every string field ---- */

Test(otlp_encode, ill_formed_utf8_goes_out_as_well_formed_strings)
{
	/* Span data built by hand, as a custom processor may: nothing cleaned. */
	const char *arr[] = {"ok", "bad\xed\xa0\x80", "\xc3"};
	baton_attr ra = {NULL, "service.name", {BATON_VALUE_STRING, {.s = "svc\xff"}, 4}};
	baton_resource res = {&ra, 1, "svc"};
	baton_scope sc = {"scope\xc0\x80", "1.\xe2\x82"};
	baton_attr a3 = {NULL, "arr", {BATON_VALUE_STRING_ARRAY, {.sa = arr}, 3}};
	baton_attr a2 = {&a3, "key\xf5", {BATON_VALUE_STRING, {.s = "v"}, (size_t)-1}};
	baton_attr a1 = {
	    &a2, "http.target", {BATON_VALUE_STRING, {.s = "/\xe9t\xe9"}, 5}};
	baton_event ev = {NULL, "ev\xfe", 1, &a1, 1, 0};
	baton_link ln;
	memset(&ln, 0, sizeof(ln));
	memset(ln.context.trace_id, 7, 16);
	memset(ln.context.span_id, 7, 8);
	ln.context.state = BATON_CTX_VALID;
	ln.context.tracestate = "w=\x80";
	ln.attrs = &a2;
	ln.nattrs = 1;
	baton_span_data s;
	memset(&s, 0, sizeof(s));
	memset(s.context.trace_id, 1, 16);
	memset(s.context.span_id, 1, 8);
	s.context.state = BATON_CTX_VALID | BATON_CTX_HAS_TH;
	s.context.threshold = 0xff000000000000ull;
	s.context.tracestate = "v=\xff\xfe";
	s.name = "na\xc3me";
	s.attrs = &a1;
	s.nattrs = 3;
	s.events = &ev;
	s.nevents = 1;
	s.links = &ln;
	s.nlinks = 1;
	s.status = BATON_STATUS_ERROR;
	s.status_message = "why\xc0";
	s.resource = &res;
	s.scope = &sc;
	const baton_span_data *ps = &s;

	bt_otlp_enc *e;
	cr_assert_eq(bt_otlp_enc_create(&e), BATON_OK);
	const uint8_t *body;
	size_t len;
	for (int warm = 0; warm < 2; warm++) {
		cr_assert_eq(bt_otlp_encode(e, &ps, 1, SIZE_MAX, &body, &len), BATON_OK);
		Btotlp__ExportTraceServiceRequest *req =
		    btotlp__export_trace_service_request__unpack(NULL, len, body);
		cr_assert_not_null(req, "protobuf-c refuses the request");
		cr_assert(tu_otlp_request_utf8_ok(req, NULL));
		const Btotlp__Span *sp = req->resource_spans[0]->scope_spans[0]->spans[0];
		cr_assert_str_eq(sp->name, "na\xef\xbf\xbdme");
		cr_assert_str_eq(sp->attributes[0]->value->string_value,
		                 "/\xef\xbf\xbdt\xef\xbf\xbd");
		cr_assert_str_eq(sp->attributes[1]->key, "key\xef\xbf\xbd");
		cr_assert_str_eq(sp->trace_state, "ot=th:ff,v=\xef\xbf\xbd\xef\xbf\xbd");
		cr_assert_str_eq(sp->links[0]->trace_state, "w=\xef\xbf\xbd");
		cr_assert_str_eq(sp->status->message, "why\xef\xbf\xbd");
		cr_assert_str_eq(
		    req->resource_spans[0]->resource->attributes[0]->value->string_value,
		    "svc\xef\xbf\xbd");
		btotlp__export_trace_service_request__free_unpacked(req, NULL);
	}
	bt_otlp_enc_destroy(e);
}

/* ---- bodies past the first buffer, limits at the byte, out of memory ---- */

#define BIG_SPANS 3000
#define BIG_LIST  300
#define BIG_BLOB  70000 /* three-byte lengths all the way up */

/* A batch built by hand whose body no first buffer holds: spans across
 * three resources and four scopes (one none), big and ill-formed string
 * values, long arrays, hundreds of events and links. Its twin has each
 * ill-formed string as the encoder must write it (each bad byte U+FFFD):
 * what the reference encoder, which copies strings as they are, is given. */
typedef struct big_batch {
	baton_span_data s[BIG_SPANS];
	const baton_span_data *ps[BIG_SPANS];
	baton_attr attrs[BIG_SPANS][3];
	baton_event events[BIG_LIST];
	baton_attr ev_attrs[2];
	baton_link links[BIG_LIST];
	baton_attr link_attr;
	baton_attr arr_attrs[4];
	const char *sa[1000];
	int64_t ia[500];
	double da[300];
	bool ba[200];
	char blob[BIG_BLOB + 1], dirty[BIG_BLOB + 3 * (BIG_BLOB / 1000) + 1];
	baton_attr res_attr[3];
	baton_resource res[3];
	baton_scope scope[3];
} big_batch;

#define FFFD "\xef\xbf\xbd"

static big_batch *big_make(bool twin)
{
	const char *names[] = {"a", "GET /api/v1/items", "",
	                       twin ? "na" FFFD "me" : "na\xc3me",
	                       "process guild.message"};
	big_batch *b = calloc(1, sizeof(*b));
	cr_assert_not_null(b);
	for (size_t i = 0, j = 0; i < BIG_BLOB; i++) {
		b->blob[i] = (char)('a' + i % 26);
		if (i % 1000 != 999) {
			b->dirty[j++] = (char)('A' + i % 26);
		} else if (!twin) {
			b->dirty[j++] = (char)0xff;
		} else {
			memcpy(b->dirty + j, FFFD, 3);
			j += 3;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		b->res_attr[i] = (baton_attr){
		    NULL,
		    "service.name",
		    {BATON_VALUE_STRING, {.s = b->blob + BIG_BLOB - 10 - i}, 10 + i}};
		b->res[i] = (baton_resource){&b->res_attr[i], 1, "svc"};
	}
	b->scope[0] = (baton_scope){"one", "1.0"};
	b->scope[1] = (baton_scope){"two", NULL};
	b->scope[2] =
	    (baton_scope){b->blob + BIG_BLOB - 200, twin ? FFFD FFFD : "\xe2\x82"};
	for (size_t i = 0; i < 1000; i++)
		b->sa[i] = i % 7 == 3 ? NULL : b->blob + BIG_BLOB - 1 - i % 150;
	for (size_t i = 0; i < 500; i++)
		b->ia[i] = (int64_t)(i * 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < 300; i++)
		b->da[i] = (double)i / 7.0;
	for (size_t i = 0; i < 200; i++)
		b->ba[i] = i % 3 == 0;
	b->arr_attrs[0] = (baton_attr){
	    &b->arr_attrs[1], "sa", {BATON_VALUE_STRING_ARRAY, {.sa = b->sa}, 1000}};
	b->arr_attrs[1] = (baton_attr){
	    &b->arr_attrs[2], "ia", {BATON_VALUE_INT_ARRAY, {.ia = b->ia}, 500}};
	b->arr_attrs[2] = (baton_attr){
	    &b->arr_attrs[3], "da", {BATON_VALUE_DOUBLE_ARRAY, {.da = b->da}, 300}};
	b->arr_attrs[3] =
	    (baton_attr){NULL, "ba", {BATON_VALUE_BOOL_ARRAY, {.ba = b->ba}, 200}};
	b->ev_attrs[0] = (baton_attr){
	    &b->ev_attrs[1], "exception.type", {BATON_VALUE_STRING, {.s = "E"}, 1}};
	b->ev_attrs[1] = (baton_attr){NULL, "n", {BATON_VALUE_INT, {.i = -1}, 0}};
	for (size_t i = 0; i < BIG_LIST; i++) {
		b->events[i] = (baton_event){i + 1 < BIG_LIST ? &b->events[i + 1] : NULL,
		                             names[i % 5],
		                             i * 1000,
		                             i % 2 ? b->ev_attrs : NULL,
		                             i % 2 ? 2 : 0,
		                             (uint32_t)(i % 3)};
	}
	b->link_attr = (baton_attr){NULL, "k", {BATON_VALUE_BOOL, {.b = true}, 0}};
	for (size_t i = 0; i < BIG_LIST; i++) {
		baton_link *l = &b->links[i];
		l->next = i + 1 < BIG_LIST ? &b->links[i + 1] : NULL;
		memset(l->context.trace_id, (int)i, 16);
		memset(l->context.span_id, (int)i + 1, 8);
		l->context.state = BATON_CTX_VALID | (i % 2 ? BATON_CTX_REMOTE : 0) |
		                   (i % 3 ? BATON_CTX_HAS_TH : 0);
		l->context.threshold = (uint64_t)i << 40;
		l->context.tracestate = i % 4 == 0 ? NULL
		                        : twin     ? "k=v,w=" FFFD
		                                   : "k=v,w=\x80";
		l->attrs = i % 5 ? &b->link_attr : NULL;
		l->nattrs = i % 5 ? 1 : 0;
		l->dropped_attrs = (uint32_t)i;
	}
	for (size_t i = 0; i < BIG_SPANS; i++) {
		baton_span_data *d = &b->s[i];
		memset(d->context.trace_id, (int)(i * 7), 16);
		memset(d->context.span_id, (int)(i * 13), 8);
		d->context.trace_flags = (uint8_t)(i % 4);
		d->context.state = BATON_CTX_VALID | (i % 2 ? BATON_CTX_HAS_TH : 0);
		d->context.threshold = (uint64_t)i << 44;
		d->context.tracestate = i % 9 == 0 ? "vendor=opaque" : NULL;
		if (i % 2) {
			d->parent = d->context;
			d->parent.state =
			    BATON_CTX_VALID | (i % 4 == 1 ? BATON_CTX_REMOTE : 0);
		}
		d->name = names[i % 5];
		d->kind = (baton_span_kind)(i % 6);
		d->start_unix_ns = i % 11 ? 1700000000000000000ull + i : 0;
		d->end_unix_ns = d->start_unix_ns + i * 12345;
		/* A string value of 0..299 bytes (one- and two-byte lengths), an int
		 * with long varints, and now and then something big. */
		baton_attr *a = b->attrs[i];
		a[0] = (baton_attr){
		    &a[1],
		    "s",
		    {BATON_VALUE_STRING, {.s = b->blob + BIG_BLOB - i % 300}, i % 300}};
		a[1] = (baton_attr){
		    NULL, "i", {BATON_VALUE_INT, {.i = (int64_t)(i * i * 1000003)}, 0}};
		if (i % 97 == 0)
			a[2] = (baton_attr){
			    NULL, "big", {BATON_VALUE_STRING, {.s = b->blob}, BIG_BLOB}};
		else if (i % 101 == 5)
			a[2] = (baton_attr){
			    NULL,
			    "bad",
			    {BATON_VALUE_STRING, {.s = b->dirty}, (size_t)-1}};
		else if (i % 50 == 3)
			a[2] = (baton_attr){
			    NULL, "arrays", {BATON_VALUE_STRING, {.s = "x"}, 1}};
		if (i % 97 == 0 || i % 101 == 5 || i % 50 == 3)
			a[1].next = &a[2];
		if (i % 50 == 3)
			a[2].next = b->arr_attrs;
		d->attrs = a;
		d->dropped_attrs = (uint32_t)(i % 4);
		if (i % 211 == 7) {
			d->events = b->events;
			d->nevents = BIG_LIST;
			d->links = b->links;
			d->nlinks = BIG_LIST;
		} else if (i % 17 == 0) {
			d->events = &b->events[BIG_LIST - 1];
			d->nevents = 1;
			d->links = &b->links[BIG_LIST - 2];
			d->nlinks = 2;
		}
		d->dropped_events = (uint32_t)(i % 3);
		d->dropped_links = (uint32_t)(i % 5) * 100;
		d->status = (baton_status_code)(i % 3);
		d->status_message = i % 13 != 0 ? NULL
		                    : twin      ? FFFD " went wrong"
		                                : "\xc0 went wrong";
		d->resource = &b->res[i / 700 % 3];
		d->scope = i / 500 % 4 == 3 ? NULL : &b->scope[i / 500 % 4];
		b->ps[i] = d;
	}
	return b;
}

/* The reference encoding of spans[0..n), copied out. */
static uint8_t *reference(const baton_span_data *const *spans, size_t n, size_t *len)
{
	bt_otlp_enc *e;
	const uint8_t *body;
	cr_assert_eq(bt_otlp_enc_create(&e), BATON_OK);
	cr_assert_eq(bt_otlp_encode_pbc(e, spans, n, SIZE_MAX, &body, len), BATON_OK);
	uint8_t *copy = malloc(*len);
	cr_assert_not_null(copy);
	memcpy(copy, body, *len);
	bt_otlp_enc_destroy(e);
	return copy;
}

/* The direct writer gives want[0..len) for spans[0..n), cold and warm. */
static void assert_encodes_as(const baton_span_data *const *spans, size_t n,
                              const uint8_t *want, size_t want_len)
{
	bt_otlp_enc *e;
	const uint8_t *body;
	size_t len;
	cr_assert_eq(bt_otlp_enc_create(&e), BATON_OK);
	for (int warm = 0; warm < 2; warm++) {
		cr_assert_eq(bt_otlp_encode(e, spans, n, SIZE_MAX, &body, &len),
		             BATON_OK);
		cr_assert_eq(len, want_len, "%zu bytes, want %zu", len, want_len);
		cr_assert_eq(memcmp(body, want, len), 0);
	}
	bt_otlp_enc_destroy(e);
}

Test(otlp_encode, bodies_past_the_first_buffer_match_protobuf_c)
{
	big_batch *b = big_make(false), *t = big_make(true);
	/* The whole batch, then each of the big spans alone on a cold encoder. */
	static const size_t from[] = {0, 0, 3, 5, 7, 17, 106, 218, 2911};
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		size_t n = i == 0 ? BIG_SPANS : 1, len;
		uint8_t *want = reference(&t->ps[from[i]], n, &len);
		assert_encodes_as(&t->ps[from[i]], n, want, len);
		assert_encodes_as(&b->ps[from[i]], n, want, len);
		free(want);
	}
	free(t);
	/* And it decodes back to all the spans, lists whole. */
	bt_otlp_enc *e;
	const uint8_t *body;
	size_t len;
	cr_assert_eq(bt_otlp_enc_create(&e), BATON_OK);
	cr_assert_eq(bt_otlp_encode(e, b->ps, BIG_SPANS, SIZE_MAX, &body, &len),
	             BATON_OK);
	cr_assert_gt(len, (size_t)1 << 20);
	Btotlp__ExportTraceServiceRequest *req =
	    btotlp__export_trace_service_request__unpack(NULL, len, body);
	cr_assert_not_null(req);
	cr_assert(tu_otlp_request_utf8_ok(req, NULL));
	size_t spans = 0;
	for (size_t i = 0; i < req->n_resource_spans; i++) {
		for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++) {
			const Btotlp__ScopeSpans *ss =
			    req->resource_spans[i]->scope_spans[j];
			for (size_t k = 0; k < ss->n_spans; k++) {
				const Btotlp__Span *sp = ss->spans[k];
				if (sp->n_events == BIG_LIST) {
					cr_assert_eq(sp->n_links, BIG_LIST);
					cr_assert_eq(
					    sp->events[BIG_LIST - 1]->time_unix_nano,
					    (BIG_LIST - 1) * 1000);
					cr_assert_eq(
					    sp->links[1]->dropped_attributes_count, 1);
				}
			}
			spans += ss->n_spans;
		}
	}
	cr_assert_eq(spans, BIG_SPANS);
	btotlp__export_trace_service_request__free_unpacked(req, NULL);
	bt_otlp_enc_destroy(e);
	free(b);
}

/* Encodes with limit on a cold encoder (or warm: after an unlimited run). */
static baton_err encode_at(const baton_span_data *const *spans, size_t n, size_t limit,
                           bool warm, const uint8_t *want, size_t want_len)
{
	bt_otlp_enc *e;
	const uint8_t *body;
	size_t len;
	cr_assert_eq(bt_otlp_enc_create(&e), BATON_OK);
	if (warm)
		cr_assert_eq(bt_otlp_encode(e, spans, n, SIZE_MAX, &body, &len),
		             BATON_OK);
	baton_err rv = bt_otlp_encode(e, spans, n, limit, &body, &len);
	if (rv == BATON_OK) {
		cr_assert_eq(len, want_len);
		cr_assert_eq(memcmp(body, want, len), 0);
	}
	if (!warm) /* never much more than the limit (or the first 4 KiB) */
		cr_assert_leq(bt_otlp_out(e)->cap, limit < 4096 ? 4096 : limit + 256);
	bt_otlp_enc_destroy(e);
	return rv;
}

Test(otlp_encode, a_limit_of_exactly_the_body_size_is_enough_and_one_less_is_not)
{
	big_batch *b = big_make(false), *t = big_make(true);
	size_t n[] = {1, 2, 40, 500, BIG_SPANS};
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		size_t len;
		uint8_t *want = reference(t->ps, n[i], &len);
		for (int warm = 0; warm < 2; warm++) {
			cr_assert_eq(encode_at(b->ps, n[i], len, warm, want, len),
			             BATON_OK, "%zu spans, limit %zu", n[i], len);
			cr_assert_eq(encode_at(b->ps, n[i], len - 1, warm, want, len),
			             BATON_ETOOBIG, "%zu spans, limit %zu", n[i],
			             len - 1);
			cr_assert_eq(encode_at(b->ps, n[i], len / 2, warm, want, len),
			             BATON_ETOOBIG);
		}
		free(want);
	}
	/* A value far over the limit is refused without a buffer its size. */
	const baton_span_data *big = b->ps[97];
	cr_assert_eq(encode_at(&big, 1, 5000, false, NULL, 0), BATON_ETOOBIG);
	cr_assert_eq(encode_at(&big, 1, 100, false, NULL, 0), BATON_ETOOBIG);
	free(t);
	free(b);
}

/* An allocator whose call number fail_at (counting from 0) fails. */
static long alloc_calls, fail_at = -1;
static bool alloc_fails(void)
{
	return alloc_calls++ == fail_at;
}
static void *fail_malloc(size_t n)
{
	return alloc_fails() ? NULL : malloc(n);
}
static void *fail_calloc(size_t k, size_t n)
{
	return alloc_fails() ? NULL : calloc(k, n);
}
static void *fail_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : realloc(p, n);
}

Test(otlp_encode, each_failed_allocation_is_enomem_and_the_encoder_still_works)
{
	big_batch *b = big_make(false);
	big_batch *t = big_make(true);
	size_t want_len;
	uint8_t *want = reference(t->ps, BIG_SPANS, &want_len);
	free(t);
	baton_allocator al = {fail_malloc, fail_calloc, fail_realloc, free};
	cr_assert_eq(baton_set_allocator(&al), BATON_OK);
	bool failed = true;
	for (fail_at = 0; failed; fail_at++) {
		alloc_calls = 0;
		bt_otlp_enc *e;
		if (bt_otlp_enc_create(&e) != BATON_OK)
			continue;
		const uint8_t *body;
		size_t len;
		baton_err rv = bt_otlp_encode(e, b->ps, BIG_SPANS, SIZE_MAX, &body, &len);
		failed = alloc_calls > fail_at;
		cr_assert_eq(rv, failed ? BATON_ENOMEM : BATON_OK, "allocation %ld fails",
		             fail_at);
		/* The next batch on the same encoder goes through whole. */
		cr_assert_eq(bt_otlp_encode(e, b->ps, BIG_SPANS, SIZE_MAX, &body, &len),
		             BATON_OK);
		cr_assert_eq(len, want_len);
		cr_assert_eq(memcmp(body, want, len), 0);
		bt_otlp_enc_destroy(e);
	}
	cr_assert_gt(fail_at, 10, "the buffer grew step by step");
	baton_set_allocator(NULL);
	free(want);
	free(b);
}

Test(otlp_encode, thresholds_are_written_without_trailing_zeros)
{
	char b[16];
	cr_assert_eq(bt_otlp_th_hex(0, b), 1);
	cr_assert_str_eq(b, "0");
	bt_otlp_th_hex(0xfd70a400000000ull, b);
	cr_assert_str_eq(b, "fd70a4");
	bt_otlp_th_hex(0x80000000000000ull, b);
	cr_assert_str_eq(b, "8");
	bt_otlp_th_hex(0x00000000000001ull, b);
	cr_assert_str_eq(b, "00000000000001");
	bt_otlp_th_hex(BATON_TH_MAX - 1, b);
	cr_assert_str_eq(b, "ffffffffffffff");
}

Test(otlp_encode, collector_responses_are_parsed)
{
	int64_t rej = -1;
	char msg[32];
	cr_assert_eq(bt_otlp_parse_response(NULL, 0, &rej, msg, sizeof(msg)), BATON_OK);
	cr_assert_eq(rej, 0);
	cr_assert_str_eq(msg, "");
	/* partial_success (1) { rejected_spans (1) 5, error_message (2) "too old" } */
	static const uint8_t ps[] = {0x0a, 0x0b, 0x08, 0x05, 0x12, 0x07, 't',
	                             'o',  'o',  ' ',  'o',  'l',  'd'};
	cr_assert_eq(bt_otlp_parse_response(ps, sizeof(ps), &rej, msg, sizeof(msg)),
	             BATON_OK);
	cr_assert_eq(rej, 5);
	cr_assert_str_eq(msg, "too old");
	/* A long message is cut to the buffer. */
	cr_assert_eq(bt_otlp_parse_response(ps, sizeof(ps), &rej, msg, 4), BATON_OK);
	cr_assert_str_eq(msg, "too");
	static const uint8_t bad[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
	rej = 77;
	cr_assert_eq(bt_otlp_parse_response(bad, sizeof(bad), &rej, msg, sizeof(msg)),
	             BATON_EFORMAT);
	cr_assert_eq(rej, 77, "untouched on error");
	cr_assert_eq(
	    bt_otlp_parse_response((const uint8_t *)"<html>", 6, &rej, msg, sizeof(msg)),
	    BATON_EFORMAT);
}

Test(otlp_encode, retry_after_takes_seconds_or_an_http_date)
{
	uint64_t d = 0;
	time_t now = 1767225600; /* Thu, 01 Jan 2026 00:00:00 GMT */
	cr_assert(bt_otlp_retry_after("120", 3, now, &d));
	cr_assert_eq(d, 120000);
	cr_assert(bt_otlp_retry_after(" 7\r\n", 4, now, &d));
	cr_assert_eq(d, 7000);
	cr_assert(bt_otlp_retry_after("0", 1, now, &d));
	cr_assert_eq(d, 0);
	const char *date = "Thu, 01 Jan 2026 00:00:30 GMT";
	cr_assert(bt_otlp_retry_after(date, strlen(date), now, &d));
	cr_assert_eq(d, 30000);
	const char *past = "Wed, 31 Dec 2025 23:00:00 GMT";
	cr_assert(bt_otlp_retry_after(past, strlen(past), now, &d));
	cr_assert_eq(d, 0);
	cr_assert(bt_otlp_retry_after("99999999999999999999", 20, now, &d));
	cr_assert_eq(d, 24ull * 3600 * 1000, "capped at a day");
	cr_assert(!bt_otlp_retry_after("", 0, now, &d));
	cr_assert(!bt_otlp_retry_after("12s", 3, now, &d));
	cr_assert(!bt_otlp_retry_after("soon", 4, now, &d));
	cr_assert(!bt_otlp_retry_after("-5", 2, now, &d));
}

Test(otlp_encode, gzip_output_inflates_to_the_input)
{
	bt_otlp_gzip *z;
	cr_assert_eq(bt_otlp_gzip_create(&z), BATON_OK);
	uint8_t in[5000];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i % 7);
	bt_otlp_buf out = {0};
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(bt_otlp_gzip_compress(z, in, sizeof(in), &out), BATON_OK);
		cr_assert_lt(out.len, sizeof(in));
		cr_assert_eq(out.p[0], 0x1f);
		cr_assert_eq(out.p[1], 0x8b);
		/* The gzip trailer ends with the input size (mod 2^32), little endian. */
		uint32_t isize = (uint32_t)out.p[out.len - 4] |
		                 (uint32_t)out.p[out.len - 3] << 8 |
		                 (uint32_t)out.p[out.len - 2] << 16 |
		                 (uint32_t)out.p[out.len - 1] << 24;
		cr_assert_eq(isize, sizeof(in));
	}
	bt_otlp_buf_free(&out);
	bt_otlp_gzip_destroy(z);
}
