/* The Jaeger JSON file exporter: what Jaeger UI's "Upload" tab reads. */
#include <baton/baton.h>
#include <baton/jaeger_json.h>
#include <criterion/criterion.h>
#include "testutil.h"
#include "jj.h"
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A file name of this test process in the working directory. */
static const char *tmp_path(const char *tag, char *buf, size_t cap)
{
	snprintf(buf, cap, "jj-%ld-%s.json", (long)getpid(), tag);
	remove(buf);
	return buf;
}

static json_t *load(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	cr_assert_not_null(j, "%s does not parse: %s (line %d)", path, err.text,
	                   err.line);
	cr_assert(json_is_array(json_object_get(j, "data")));
	return j;
}

static size_t ntraces(json_t *j)
{
	return json_array_size(json_object_get(j, "data"));
}

static json_t *trace_by_id(json_t *j, const char *hex)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(j, "data"), i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "traceID")), hex) == 0)
			return t;
	}
	return NULL;
}

static size_t count_spans(json_t *j)
{
	size_t i, n = 0;
	json_t *t;
	json_array_foreach(json_object_get(j, "data"), i, t) n +=
	    json_array_size(json_object_get(t, "spans"));
	return n;
}

static json_t *span_by_id(json_t *trace, const char *hex)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(trace, "spans"), i, s)
	{
		if (strcmp(json_string_value(json_object_get(s, "spanID")), hex) == 0)
			return s;
	}
	return NULL;
}

/* The tag key of an array of {key,type,value}; asserts its type. */
static json_t *tag(json_t *tags, const char *key, const char *type)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "key")), key) == 0) {
			cr_assert_str_eq(json_string_value(json_object_get(t, "type")),
			                 type, "tag %s", key);
			return json_object_get(t, "value");
		}
	}
	return NULL;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	baton_hex_encode(b, n, out);
}

/* ---- hand-made spans: full control over every field ---- */

typedef struct fake {
	baton_span_data d;
	baton_attr attrs[8];
} fake;

static void fake_init(fake *f, uint8_t trace_byte, uint8_t span_byte,
                      const baton_resource *res)
{
	memset(f, 0, sizeof(*f));
	memset(f->d.context.trace_id, trace_byte, 16);
	memset(f->d.context.span_id, span_byte, 8);
	f->d.context.trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM;
	f->d.context.state = BATON_CTX_VALID;
	f->d.name = "op";
	f->d.kind = BATON_SPAN_KIND_INTERNAL;
	f->d.start_unix_ns = 1700000000000000000ull;
	f->d.end_unix_ns = 1700000000000500000ull;
	f->d.resource = res;
}

static void fake_attr(fake *f, const char *key, baton_value v)
{
	baton_attr *a = &f->attrs[f->d.nattrs];
	a->key = key;
	a->value = v;
	if (f->d.nattrs > 0)
		f->attrs[f->d.nattrs - 1].next = a;
	else
		f->d.attrs = a;
	f->d.nattrs++;
}

static baton_exporter make(const char *path, uint32_t max_spans)
{
	baton_jaeger_json_options o = {.size = sizeof(o),
	                               .path = path,
	                               .max_spans = max_spans,
	                               .write_interval_ms =
	                                   BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&o, &e), BATON_OK);
	return e;
}

static void export1(baton_exporter e, const baton_span_data *s)
{
	cr_assert_eq(e.ops->export_spans(e.arg, &s, 1).err, BATON_OK);
}

static void finish(baton_exporter e)
{
	cr_assert_eq(e.ops->shutdown(e.arg, 1000), BATON_OK);
	e.ops->destroy(e.arg);
}

static baton_attr svc_a_attrs[2] = {
    {&svc_a_attrs[1], "service.name", {BATON_VALUE_STRING, {.s = "svc-a"}, 5}},
    {NULL, "host.name", {BATON_VALUE_STRING, {.s = "h1"}, 2}},
};
static const baton_resource res_a = {svc_a_attrs, 2, "svc-a"};
static const baton_resource res_a_copy = {svc_a_attrs, 2, "svc-a"};
static baton_attr svc_b_attrs[1] = {
    {NULL, "service.name", {BATON_VALUE_STRING, {.s = "svc-b"}, 5}},
};
static const baton_resource res_b = {svc_b_attrs, 1, "svc-b"};

/* ---- end to end through the SDK ---- */

Test(jaeger_json, sdk_spans_become_a_trace_with_references_tags_logs_and_a_process)
{
	char path[128];
	tmp_path("e2e", path, sizeof(path));
	baton_exporter e = make(path, 0);
	baton_processor p;
	cr_assert_eq(baton_simple_processor_create(e, &p), BATON_OK);
	baton_kv rattr[] = {BATON_KV_STR("deployment.environment", "test")};
	baton_options o = {.size = sizeof(o),
	                   .service_name = "checkout",
	                   .resource_attrs = rattr,
	                   .nresource_attrs = 1,
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *tr = baton_tracer_get("orders-lib", "1.2.3");

	baton_span_context other = {.state = BATON_CTX_VALID, .trace_flags = 1};
	memset(other.trace_id, 0x42, 16);
	memset(other.span_id, 0x43, 8);

	uint64_t t0 = 1700000000123456789ull;
	baton_span_start_opts ro = {.kind = BATON_SPAN_KIND_SERVER,
	                            .start_time_ns = t0,
	                            .flags = BATON_START_ROOT};
	baton_span root = baton_span_start_ex(tr, "GET /orders", &ro);
	baton_span_set_str(root, "http.method", "GET");
	baton_span_set_int(root, "http.status_code", 200);
	baton_span_set_double(root, "SampleRate", 2.5);
	baton_span_set_bool(root, "cache.hit", false);
	const char *langs[] = {"c", "go"};
	baton_value arr = {BATON_VALUE_STRING_ARRAY, {.sa = langs}, 2};
	baton_span_set_value(root, "langs", &arr);
	baton_span_context rctx;
	baton_span_get_context(root, &rctx);

	baton_span_start_opts co = {.kind = BATON_SPAN_KIND_CLIENT,
	                            .parent = &rctx,
	                            .start_time_ns = t0 + 1000000,
	                            .links = &other,
	                            .nlinks = 1};
	baton_span child = baton_span_start_ex(tr, "db query", &co);
	baton_kv ev[] = {BATON_KV_INT("rows", 3)};
	baton_span_add_event(child, "fetched", t0 + 1500000, ev, 1);
	baton_span_set_status(child, BATON_STATUS_ERROR, "timeout");
	baton_span_context cctx;
	baton_span_get_context(child, &cctx);
	baton_span_end_at(child, t0 + 3000000);
	baton_span_end_at(root, t0 + 5000000);
	cr_assert_eq(baton_fini(1000), BATON_OK);

	json_t *j = load(path);
	cr_assert_eq(ntraces(j), 1, "a link to another trace does not add a trace");
	char tid[33], rid[17], cid[17], oid[17], otid[33];
	hex(rctx.trace_id, 16, tid);
	hex(rctx.span_id, 8, rid);
	hex(cctx.span_id, 8, cid);
	hex(other.span_id, 8, oid);
	hex(other.trace_id, 16, otid);
	json_t *t = trace_by_id(j, tid);
	cr_assert_not_null(t);
	cr_assert_eq(strlen(tid), 32);
	cr_assert_eq(json_array_size(json_object_get(t, "spans")), 2);
	cr_assert(json_is_null(json_object_get(t, "warnings")));

	json_t *rs = span_by_id(t, rid), *cs = span_by_id(t, cid);
	cr_assert_not_null(rs);
	cr_assert_not_null(cs);
	cr_assert_str_eq(json_string_value(json_object_get(rs, "operationName")),
	                 "GET /orders");
	cr_assert_str_eq(json_string_value(json_object_get(rs, "traceID")), tid);
	cr_assert_eq(json_array_size(json_object_get(rs, "references")), 0);
	cr_assert_eq(json_integer_value(json_object_get(rs, "startTime")),
	             (json_int_t)(t0 / 1000));
	cr_assert_eq(json_integer_value(json_object_get(rs, "duration")), 5000);
	cr_assert_eq(json_integer_value(json_object_get(rs, "flags")), 1);

	json_t *refs = json_object_get(cs, "references");
	cr_assert_eq(json_array_size(refs), 2);
	json_t *r0 = json_array_get(refs, 0), *r1 = json_array_get(refs, 1);
	cr_assert_str_eq(json_string_value(json_object_get(r0, "refType")), "CHILD_OF");
	cr_assert_str_eq(json_string_value(json_object_get(r0, "spanID")), rid);
	cr_assert_str_eq(json_string_value(json_object_get(r0, "traceID")), tid);
	cr_assert_str_eq(json_string_value(json_object_get(r1, "refType")),
	                 "FOLLOWS_FROM");
	cr_assert_str_eq(json_string_value(json_object_get(r1, "spanID")), oid);
	cr_assert_str_eq(json_string_value(json_object_get(r1, "traceID")), otid);
	cr_assert_eq(json_integer_value(json_object_get(cs, "startTime")),
	             (json_int_t)((t0 + 1000000) / 1000));
	cr_assert_eq(json_integer_value(json_object_get(cs, "duration")), 2000);

	json_t *rt = json_object_get(rs, "tags");
	cr_assert_str_eq(json_string_value(tag(rt, "span.kind", "string")), "server");
	cr_assert_str_eq(json_string_value(tag(rt, "http.method", "string")), "GET");
	cr_assert_eq(json_integer_value(tag(rt, "http.status_code", "int64")), 200);
	cr_assert_float_eq(json_real_value(tag(rt, "SampleRate", "float64")), 2.5, 1e-12);
	cr_assert(json_is_false(tag(rt, "cache.hit", "bool")));
	cr_assert_str_eq(json_string_value(tag(rt, "otel.scope.name", "string")),
	                 "orders-lib");
	cr_assert_str_eq(json_string_value(tag(rt, "otel.scope.version", "string")),
	                 "1.2.3");
	cr_assert_null(tag(rt, "error", "bool"));
	cr_assert_null(tag(rt, "otel.status_code", "string"));
	/* Arrays: a string tag holding the JSON text of the array. */
	json_t *langs_v =
	    json_loads(json_string_value(tag(rt, "langs", "string")), 0, NULL);
	cr_assert(json_is_array(langs_v));
	cr_assert_str_eq(json_string_value(json_array_get(langs_v, 1)), "go");
	json_decref(langs_v);

	json_t *ct = json_object_get(cs, "tags");
	cr_assert_str_eq(json_string_value(tag(ct, "span.kind", "string")), "client");
	cr_assert_str_eq(json_string_value(tag(ct, "otel.status_code", "string")),
	                 "ERROR");
	cr_assert_str_eq(json_string_value(tag(ct, "otel.status_description", "string")),
	                 "timeout");
	cr_assert(json_is_true(tag(ct, "error", "bool")));

	json_t *logs = json_object_get(cs, "logs");
	cr_assert_eq(json_array_size(logs), 1);
	json_t *l0 = json_array_get(logs, 0);
	cr_assert_eq(json_integer_value(json_object_get(l0, "timestamp")),
	             (json_int_t)((t0 + 1500000) / 1000));
	json_t *fields = json_object_get(l0, "fields");
	cr_assert_str_eq(json_string_value(tag(fields, "event", "string")), "fetched");
	cr_assert_eq(json_integer_value(tag(fields, "rows", "int64")), 3);

	const char *pid = json_string_value(json_object_get(rs, "processID"));
	cr_assert_str_eq(pid, json_string_value(json_object_get(cs, "processID")));
	json_t *procs = json_object_get(t, "processes");
	cr_assert_eq(json_object_size(procs), 1);
	json_t *proc = json_object_get(procs, pid);
	cr_assert_not_null(proc);
	cr_assert_str_eq(json_string_value(json_object_get(proc, "serviceName")),
	                 "checkout");
	json_t *ptags = json_object_get(proc, "tags");
	cr_assert_str_eq(
	    json_string_value(tag(ptags, "deployment.environment", "string")), "test");
	cr_assert_null(tag(ptags, "service.name", "string"),
	               "service.name is the serviceName");
	json_decref(j);
	remove(path);
}

/* ---- hand-made spans ---- */

Test(jaeger_json, spans_are_grouped_by_trace_in_order_of_first_appearance)
{
	char path[128];
	tmp_path("group", path, sizeof(path));
	baton_exporter e = make(path, 0);
	fake f[6];
	uint8_t traces[6] = {1, 2, 1, 3, 2, 1};
	const baton_span_data *batch[6];
	for (int i = 0; i < 6; i++) {
		fake_init(&f[i], traces[i], (uint8_t)(0x10 + i), &res_a);
		batch[i] = &f[i].d;
	}
	cr_assert_eq(e.ops->export_spans(e.arg, batch, 6).err, BATON_OK);
	finish(e);
	json_t *j = load(path);
	cr_assert_eq(ntraces(j), 3);
	const char *want[3] = {"01010101010101010101010101010101",
	                       "02020202020202020202020202020202",
	                       "03030303030303030303030303030303"};
	size_t want_n[3] = {3, 2, 1};
	for (size_t i = 0; i < 3; i++) {
		json_t *t = json_array_get(json_object_get(j, "data"), i);
		cr_assert_str_eq(json_string_value(json_object_get(t, "traceID")),
		                 want[i]);
		json_t *spans = json_object_get(t, "spans");
		cr_assert_eq(json_array_size(spans), want_n[i]);
		size_t k;
		json_t *s;
		json_array_foreach(spans, k, s)
		{
			cr_assert_str_eq(json_string_value(json_object_get(s, "traceID")),
			                 want[i]);
		}
	}
	json_decref(j);
	remove(path);
}

Test(jaeger_json, one_process_per_distinct_resource)
{
	char path[128];
	tmp_path("procs", path, sizeof(path));
	baton_exporter e = make(path, 0);
	fake a, a2, b, c;
	fake_init(&a, 1, 1, &res_a);
	fake_init(&a2, 1, 2, &res_a_copy); /* same content, other pointer: same process */
	fake_init(&b, 1, 3, &res_b);
	fake_init(&c, 2, 4, &res_b);
	export1(e, &a.d);
	export1(e, &a2.d);
	const baton_span_data *bc[2] = {&b.d, &c.d};
	cr_assert_eq(e.ops->export_spans(e.arg, bc, 2).err, BATON_OK);
	finish(e);

	json_t *j = load(path);
	json_t *t1 = trace_by_id(j, "01010101010101010101010101010101");
	json_t *t2 = trace_by_id(j, "02020202020202020202020202020202");
	json_t *p1 = json_object_get(t1, "processes");
	cr_assert_eq(json_object_size(p1), 2);
	cr_assert_eq(json_object_size(json_object_get(t2, "processes")), 1);
	json_t *sa = span_by_id(t1, "0101010101010101"),
	       *sa2 = span_by_id(t1, "0202020202020202");
	json_t *sb = span_by_id(t1, "0303030303030303");
	const char *pa = json_string_value(json_object_get(sa, "processID"));
	cr_assert_str_eq(pa, json_string_value(json_object_get(sa2, "processID")));
	const char *pb = json_string_value(json_object_get(sb, "processID"));
	cr_assert_str_neq(pa, pb);
	json_t *proc_a = json_object_get(p1, pa), *proc_b = json_object_get(p1, pb);
	cr_assert_str_eq(json_string_value(json_object_get(proc_a, "serviceName")),
	                 "svc-a");
	cr_assert_str_eq(json_string_value(json_object_get(proc_b, "serviceName")),
	                 "svc-b");
	cr_assert_str_eq(json_string_value(
	                     tag(json_object_get(proc_a, "tags"), "host.name", "string")),
	                 "h1");
	cr_assert_eq(json_array_size(json_object_get(proc_b, "tags")), 0);
	/* Every processID a span names exists in its trace's processes. */
	json_t *s2 = json_array_get(json_object_get(t2, "spans"), 0);
	cr_assert_not_null(
	    json_object_get(json_object_get(t2, "processes"),
	                    json_string_value(json_object_get(s2, "processID"))));
	json_decref(j);
	remove(path);
}

Test(jaeger_json, odd_strings_are_escaped_and_invalid_utf8_replaced)
{
	char path[128];
	tmp_path("escape", path, sizeof(path));
	baton_exporter e = make(path, 0);
	fake f;
	fake_init(&f, 7, 7, &res_a);
	f.d.name = "say \"hi\" \\ back\n\t\x01\x1f\x7f end";
	/* bytes: ok é, lone continuation, truncated 2-byte, overlong '/', surrogate,
	 * >U+10FFFF, 😀 */
	static const char odd[] =
	    "\xc3\xa9|\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|"
	    "\xf0\x9f\x98\x80|\xe2\x82";
	fake_attr(&f, "odd",
	          (baton_value){BATON_VALUE_STRING, {.s = odd}, sizeof(odd) - 1});
	static const char nul[] = {'a', '\0', 'b'};
	fake_attr(&f, "nul", (baton_value){BATON_VALUE_STRING, {.s = nul}, 3});
	fake_attr(&f, "key \"quoted\"\x02",
	          (baton_value){BATON_VALUE_BOOL, {.b = true}, 0});
	fake_attr(&f, "nan", (baton_value){BATON_VALUE_DOUBLE, {.d = NAN}, 0});
	fake_attr(&f, "inf", (baton_value){BATON_VALUE_DOUBLE, {.d = -INFINITY}, 0});
	static const double ds[] = {0.1, INFINITY};
	fake_attr(&f, "ds", (baton_value){BATON_VALUE_DOUBLE_ARRAY, {.da = ds}, 2});
	static const char *ss[] = {"q\"\\", "\xff"};
	fake_attr(&f, "ss", (baton_value){BATON_VALUE_STRING_ARRAY, {.sa = ss}, 2});
	export1(e, &f.d);
	finish(e);

	json_t *j =
	    load(path); /* jansson rejects invalid UTF-8 and raw control characters */
	json_t *s = json_array_get(
	    json_object_get(json_array_get(json_object_get(j, "data"), 0), "spans"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(s, "operationName")),
	                 "say \"hi\" \\ back\n\t\x01\x1f\x7f end");
	json_t *tags = json_object_get(s, "tags");
	cr_assert_str_eq(
	    json_string_value(tag(tags, "odd", "string")),
	    "\xc3\xa9|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xf0\x9f\x98\x80|"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	json_t *nv = tag(tags, "nul", "string");
	cr_assert_eq(json_string_length(nv), 3);
	cr_assert_eq(memcmp(json_string_value(nv), nul, 3), 0);
	cr_assert(json_is_true(tag(tags, "key \"quoted\"\x02", "bool")));
	cr_assert_str_eq(json_string_value(tag(tags, "nan", "string")), "NaN");
	cr_assert_str_eq(json_string_value(tag(tags, "inf", "string")), "-Inf");
	json_t *dv = json_loads(json_string_value(tag(tags, "ds", "string")), 0, NULL);
	cr_assert_not_null(dv);
	cr_assert_float_eq(json_real_value(json_array_get(dv, 0)), 0.1, 0);
	cr_assert_str_eq(json_string_value(json_array_get(dv, 1)), "+Inf");
	json_decref(dv);
	json_t *sv = json_loads(json_string_value(tag(tags, "ss", "string")), 0, NULL);
	cr_assert_not_null(sv);
	cr_assert_str_eq(json_string_value(json_array_get(sv, 0)), "q\"\\");
	cr_assert_str_eq(json_string_value(json_array_get(sv, 1)), "\xef\xbf\xbd");
	json_decref(sv);
	json_decref(j);
	remove(path);
}

static char logged[4096];
static void capture_log(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

Test(jaeger_json, the_span_cap_drops_counts_and_says_so_at_shutdown)
{
	char path[128];
	tmp_path("cap", path, sizeof(path));
	baton_set_log(BATON_LOG_INFO, capture_log, NULL);
	baton_exporter e = make(path, 5);
	fake f[8];
	const baton_span_data *batch[8];
	for (int i = 0; i < 8; i++) {
		fake_init(&f[i], (uint8_t)(1 + i % 2), (uint8_t)(1 + i), &res_a);
		batch[i] = &f[i].d;
	}
	cr_assert_eq(e.ops->export_spans(e.arg, batch, 8).err, BATON_OK);
	finish(e);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 5);
	json_decref(j);
	cr_assert(strstr(logged, "3 spans dropped") != NULL, "log: %s", logged);
	cr_assert(strstr(logged, "wrote 5 spans in 2 traces") != NULL, "log: %s", logged);
	remove(path);
}

Test(jaeger_json, the_byte_cap_drops_too)
{
	char path[128];
	tmp_path("bytes", path, sizeof(path));
	baton_jaeger_json_options o = {.size = sizeof(o),
	                               .path = path,
	                               .max_bytes = 1500,
	                               .write_interval_ms =
	                                   BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&o, &e), BATON_OK);
	fake f[10];
	for (int i = 0; i < 10; i++) {
		fake_init(&f[i], 1, (uint8_t)(1 + i), &res_a);
		export1(e, &f[i].d);
	}
	finish(e);
	json_t *j = load(path);
	size_t n = count_spans(j);
	cr_assert_gt(n, 0);
	cr_assert_lt(n, 10);
	json_decref(j);
	remove(path);
}

static bool file_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

Test(jaeger_json, the_file_is_valid_after_each_flush_and_after_shutdown)
{
	char path[128], tmp[160];
	tmp_path("flush", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	baton_exporter e = make(path, 0);
	fake a, b, c;
	fake_init(&a, 1, 1, &res_a);
	fake_init(&b, 2, 2, &res_a);
	fake_init(&c, 1, 3, &res_a);
	cr_assert_eq(e.ops->force_flush(e.arg, 1000), BATON_OK);
	json_t *j = load(path);
	cr_assert_eq(ntraces(j), 0, "an empty file is still valid JSON");
	json_decref(j);
	export1(e, &a.d);
	export1(e, &b.d);
	cr_assert_eq(e.ops->force_flush(e.arg, 1000), BATON_OK);
	j = load(path);
	cr_assert_eq(count_spans(j), 2);
	json_decref(j);
	export1(e, &c.d);
	j = load(path);
	cr_assert_eq(count_spans(j), 2, "no interval: the file changes only on flush");
	json_decref(j);
	cr_assert_eq(e.ops->shutdown(e.arg, 1000), BATON_OK);
	j = load(path);
	cr_assert_eq(count_spans(j), 3);
	cr_assert_eq(ntraces(j), 2);
	json_decref(j);
	cr_assert_not(file_exists(tmp), "no temp file is left behind");
	cr_assert_eq(
	    e.ops->export_spans(e.arg, (const baton_span_data *const[]){&a.d}, 1).err,
	    BATON_ECLOSED);
	e.ops->destroy(e.arg);
	remove(path);
}

Test(jaeger_json, path_comes_from_the_environment_when_not_given)
{
	char path[128];
	tmp_path("env", path, sizeof(path));
	setenv("BATON_JAEGER_JSON_FILE", path, 1);
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(NULL, &e), BATON_OK);
	fake f;
	fake_init(&f, 9, 9, &res_b);
	export1(e, &f.d);
	finish(e);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 1);
	json_decref(j);
	remove(path);
	unsetenv("BATON_JAEGER_JSON_FILE");
}

Test(jaeger_json, an_unwritable_path_is_an_error_not_a_crash)
{
	baton_set_log(BATON_LOG_WARN, capture_log, NULL);
	baton_jaeger_json_options o = {.size = sizeof(o), .path = "no-such-dir/x/y.json"};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&o, &e), BATON_OK);
	fake f;
	fake_init(&f, 9, 9, &res_b);
	export1(e, &f.d);
	cr_assert_eq(e.ops->force_flush(e.arg, 100), BATON_ESYSTEM);
	cr_assert_eq(e.ops->shutdown(e.arg, 100), BATON_ESYSTEM);
	e.ops->destroy(e.arg);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	cr_assert(strstr(logged,
	                 "cannot create a temporary file beside "
	                 "no-such-dir/x/y.json: No such file or directory") != NULL,
	          "log: %s", logged);
}

Test(jaeger_json, bad_arguments_are_rejected)
{
	baton_exporter e;
	baton_jaeger_json_options small = {.size = 4};
	cr_assert_eq(baton_jaeger_json_exporter_create(NULL, NULL), BATON_EINVAL);
	cr_assert_eq(baton_jaeger_json_exporter_create(&small, &e), BATON_EINVAL);
	cr_assert_str_eq(BATON_JAEGER_JSON_DEFAULT_FILE, "baton-traces.json");
	cr_assert_eq(BATON_JAEGER_JSON_DEFAULT_MAX_SPANS, 100000);
	cr_assert_gt(BATON_JAEGER_JSON_DEFAULT_MAX_BYTES, 0);
	cr_assert_gt(BATON_JAEGER_JSON_DEFAULT_INTERVAL_MS, 0);
}

Test(jaeger_json, tracestate_threshold_dropped_counts_and_status_ok)
{
	char path[128];
	tmp_path("ts", path, sizeof(path));
	baton_exporter e = make(path, 0);
	fake f;
	fake_init(&f, 3, 3, &res_a);
	f.d.context.state |= BATON_CTX_HAS_TH;
	f.d.context.threshold = 0xfd70a400000000ull;
	f.d.context.tracestate = "vendor=x";
	f.d.status = BATON_STATUS_OK;
	f.d.kind = BATON_SPAN_KIND_PRODUCER;
	f.d.dropped_attrs = 4;
	f.d.dropped_events = 5;
	f.d.dropped_links = 6;
	f.d.parent.state = BATON_CTX_VALID | BATON_CTX_REMOTE;
	memset(f.d.parent.trace_id, 3, 16);
	memset(f.d.parent.span_id, 0xab, 8);
	export1(e, &f.d);
	finish(e);
	json_t *j = load(path);
	json_t *t = trace_by_id(j, "03030303030303030303030303030303");
	json_t *s = span_by_id(t, "0303030303030303");
	json_t *tags = json_object_get(s, "tags");
	cr_assert_str_eq(json_string_value(tag(tags, "w3c.tracestate", "string")),
	                 "ot=th:fd70a4,vendor=x");
	cr_assert_str_eq(json_string_value(tag(tags, "otel.status_code", "string")),
	                 "OK");
	cr_assert_null(tag(tags, "error", "bool"));
	cr_assert_str_eq(json_string_value(tag(tags, "span.kind", "string")), "producer");
	cr_assert_eq(
	    json_integer_value(tag(tags, "otel.dropped_attributes_count", "int64")), 4);
	cr_assert_eq(json_integer_value(tag(tags, "otel.dropped_events_count", "int64")),
	             5);
	cr_assert_eq(json_integer_value(tag(tags, "otel.dropped_links_count", "int64")),
	             6);
	/* A remote parent is still a CHILD_OF reference. */
	json_t *r = json_array_get(json_object_get(s, "references"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(r, "spanID")),
	                 "abababababababab");
	json_decref(j);
	remove(path);
}

Test(jaeger_json, end_before_start_gives_zero_duration)
{
	char path[128];
	tmp_path("dur", path, sizeof(path));
	baton_exporter e = make(path, 0);
	fake f;
	fake_init(&f, 4, 4, &res_a);
	f.d.end_unix_ns = f.d.start_unix_ns - 5000;
	export1(e, &f.d);
	finish(e);
	json_t *j = load(path);
	json_t *s = json_array_get(
	    json_object_get(json_array_get(json_object_get(j, "data"), 0), "spans"), 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "duration")), 0);
	json_decref(j);
	remove(path);
}

Test(jaeger_json, with_an_interval_the_file_appears_without_a_flush)
{
	char path[128];
	tmp_path("interval", path, sizeof(path));
	baton_jaeger_json_options o = {
	    .size = sizeof(o), .path = path, .write_interval_ms = 1};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&o, &e), BATON_OK);
	static fake f[101];
	fake_init(&f[0], 1, 1, &res_a);
	usleep(20000); /* more than the 1 ms interval: the next export writes */
	export1(e, &f[0].d);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 1);
	json_decref(j);
	/*
	 * The next write is due after the interval or ten times what the last
	 * write took, whichever is longer: keep exporting until it comes.
	 */
	size_t n = 1;
	for (int i = 1; i <= 100 && n < 2; i++) {
		usleep(20000);
		fake_init(&f[i], 1, (uint8_t)(1 + i), &res_a);
		export1(e, &f[i].d);
		j = load(path);
		n = count_spans(j);
		json_decref(j);
	}
	cr_assert_geq(n, 2, "the file is rewritten after later exports too");
	finish(e);
	remove(path);
}

/* xorshift64*: a fixed sequence, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

Test(jaeger_json, random_bytes_in_every_string_still_give_valid_json)
{
	char path[128];
	tmp_path("random", path, sizeof(path));
	baton_exporter e = make(path, 0);
	static char bytes[300][64];
	static fake f[100];
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 300; i++) {
		for (int k = 0; k < 63; k++) {
			uint64_t r = rnd(&seed);
			/* Mostly high and low bytes: the ones that need care. */
			bytes[i][k] = (char)(r % 3 == 0 ? (r >> 8) % 32 : (r >> 8) % 256);
			if (bytes[i][k] == '\0')
				bytes[i][k] = '\x01';
		}
		bytes[i][63] = '\0';
	}
	for (int i = 0; i < 100; i++) {
		fake_init(&f[i], (uint8_t)(1 + i % 5), (uint8_t)(1 + i), &res_a);
		f[i].d.name = bytes[3 * i];
		fake_attr(&f[i], bytes[3 * i + 1],
		          (baton_value){BATON_VALUE_STRING, {.s = bytes[3 * i + 2]}, 63});
		export1(e, &f[i].d);
	}
	finish(e);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 100);
	json_decref(j);
	remove(path);
}

Test(jaeger_json, a_forked_child_writes_its_own_spans_to_its_own_file)
{
	TU_SKIP_THREADED_FORK();
	char path[128], child_path[160];
	tmp_path("fork", path, sizeof(path));
	baton_exporter e = make(path, 0);
	fake a, b;
	fake_init(&a, 1, 1, &res_a);
	fake_init(&b, 2, 2, &res_a);
	export1(e, &a.d);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const baton_span_data *p = &b.d;
		int bad = e.ops->export_spans(e.arg, &p, 1).err != BATON_OK;
		bad |= e.ops->shutdown(e.arg, 1000) != BATON_OK;
		e.ops->destroy(e.arg);
		_exit(bad);
	}
	cr_assert_eq(tu_wait_child(pid), 0);
	finish(e);
	snprintf(child_path, sizeof(child_path), "jj-%ld-fork.%ld.json", (long)getpid(),
	         (long)pid);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 1);
	cr_assert_not_null(trace_by_id(j, "01010101010101010101010101010101"));
	json_decref(j);
	j = load(child_path);
	cr_assert_eq(count_spans(j), 1,
	             "the child does not write the parent's spans again");
	cr_assert_not_null(trace_by_id(j, "02020202020202020202020202020202"));
	json_decref(j);
	remove(path);
	remove(child_path);
}

/* The processID of the only span of the only trace in path. */
static char *only_process_id(const char *path)
{
	json_t *j = load(path);
	json_t *s = json_array_get(
	    json_object_get(json_array_get(json_object_get(j, "data"), 0), "spans"), 0);
	char *id = strdup(json_string_value(json_object_get(s, "processID")));
	json_decref(j);
	return id;
}

Test(jaeger_json, process_keys_depend_on_the_resource_so_files_merge)
{
	char p1[128], p2[128], p3[128];
	tmp_path("key1", p1, sizeof(p1));
	tmp_path("key2", p2, sizeof(p2));
	tmp_path("key3", p3, sizeof(p3));
	fake a, b;
	fake_init(&a, 1, 1, &res_a);
	fake_init(&b, 1, 2, &res_b);
	baton_exporter e1 = make(p1, 0), e2 = make(p2, 0), e3 = make(p3, 0);
	export1(e1, &a.d);
	fake_init(&a, 1, 3, &res_a_copy);
	export1(e2, &a.d);
	export1(e3, &b.d);
	finish(e1);
	finish(e2);
	finish(e3);
	char *k1 = only_process_id(p1), *k2 = only_process_id(p2),
	     *k3 = only_process_id(p3);
	cr_assert_str_eq(k1, k2, "the same resource has the same key in every file");
	cr_assert_str_neq(k1, k3);
	cr_assert_eq(strlen(k1), 17);
	cr_assert_eq(k1[0], 'p');
	free(k1);
	free(k2);
	free(k3);
	remove(p1);
	remove(p2);
	remove(p3);
}

/* ---- merging files ---- */

/* Every span's processID names a process of its trace; returns the span's serviceName. */
static const char *service_of(json_t *trace, json_t *span)
{
	const char *pid = json_string_value(json_object_get(span, "processID"));
	json_t *p = json_object_get(json_object_get(trace, "processes"), pid);
	cr_assert_not_null(p, "processID %s has no process", pid);
	return json_string_value(json_object_get(p, "serviceName"));
}

Test(jaeger_json, merge_joins_a_trace_split_over_files_and_unites_processes)
{
	char p1[128], p2[128], out[128];
	tmp_path("m1", p1, sizeof(p1));
	tmp_path("m2", p2, sizeof(p2));
	tmp_path("mout", out, sizeof(out));
	baton_exporter e1 = make(p1, 0), e2 = make(p2, 0);
	fake t1, t2, u, t3, v;
	fake_init(&t1, 0x10, 1, &res_a);
	fake_init(&t2, 0x10, 2, &res_a);
	fake_init(&u, 0x20, 3, &res_a);
	fake_init(&t3, 0x10, 4, &res_b);
	t3.d.parent = t2.d.context;
	fake_init(&v, 0x30, 5, &res_b);
	export1(e1, &t1.d);
	export1(e1, &t2.d);
	export1(e1, &u.d);
	export1(e2, &v.d);
	export1(e2, &t3.d);
	finish(e1);
	finish(e2);

	const char *in[] = {p1, p2};
	cr_assert_eq(baton_jaeger_json_merge(in, 2, out), BATON_OK);
	json_t *j = load(out);
	cr_assert_eq(ntraces(j), 3);
	json_t *data = json_object_get(j, "data");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(data, 0), "traceID")),
	    "10101010101010101010101010101010", "first appearance order");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(data, 1), "traceID")),
	    "20202020202020202020202020202020");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(data, 2), "traceID")),
	    "30303030303030303030303030303030");
	json_t *t = json_array_get(data, 0);
	cr_assert_eq(json_array_size(json_object_get(t, "spans")), 3);
	cr_assert_eq(json_object_size(json_object_get(t, "processes")), 2);
	cr_assert_str_eq(service_of(t, span_by_id(t, "0101010101010101")), "svc-a");
	cr_assert_str_eq(service_of(t, span_by_id(t, "0404040404040404")), "svc-b");
	cr_assert_eq(count_spans(j), 5);
	json_decref(j);

	/* The output may be one of the inputs. */
	cr_assert_eq(baton_jaeger_json_merge(in, 2, p1), BATON_OK);
	j = load(p1);
	cr_assert_eq(count_spans(j), 5);
	json_decref(j);
	remove(p1);
	remove(p2);
	remove(out);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(jaeger_json, merge_renames_a_process_key_that_means_another_process)
{
	char p1[128], p2[128], out[128];
	tmp_path("k1", p1, sizeof(p1));
	tmp_path("k2", p2, sizeof(p2));
	tmp_path("kout", out, sizeof(out));
	/* Files from another writer: both number their processes from p1. */
	write_text(
	    p1, "{\"data\":[{\"traceID\":\"ab\",\"spans\":[{\"traceID\":\"ab\","
	        "\"spanID\":\"01\","
	        "\"processID\":\"p1\"}],\"processes\":{\"p1\":{\"serviceName\":\"ping\","
	        "\"tags\":[]}}}]}");
	write_text(
	    p2, "{\"data\":[{\"traceID\":\"ab\",\"spans\":[{\"traceID\":\"ab\","
	        "\"spanID\":\"02\","
	        "\"processID\":\"p1\"}],\"processes\":{\"p1\":{\"serviceName\":\"pong\","
	        "\"tags\":[]}}}]}");
	const char *in[] = {p1, p2};
	cr_assert_eq(baton_jaeger_json_merge(in, 2, out), BATON_OK);
	json_t *j = load(out);
	json_t *t = trace_by_id(j, "ab");
	cr_assert_eq(json_object_size(json_object_get(t, "processes")), 2);
	cr_assert_str_eq(service_of(t, span_by_id(t, "01")), "ping");
	cr_assert_str_eq(service_of(t, span_by_id(t, "02")), "pong");
	json_decref(j);
	remove(p1);
	remove(p2);
	remove(out);
}

Test(jaeger_json, merge_refuses_bad_input_and_leaves_the_output_alone)
{
	char bad[128], out[128];
	tmp_path("bad", bad, sizeof(bad));
	tmp_path("badout", out, sizeof(out));
	baton_set_log(BATON_LOG_WARN, capture_log, NULL);
	write_text(out, "{\"data\":[]}");
	write_text(bad, "{\"data\":[{\"traceID\":\"ab\",\"spans\":[}");
	const char *in[] = {bad};
	cr_assert_eq(baton_jaeger_json_merge(in, 1, out), BATON_EFORMAT);
	write_text(bad, "{\"nodata\":1}");
	cr_assert_eq(baton_jaeger_json_merge(in, 1, out), BATON_EFORMAT);
	write_text(bad, "{\"data\":[{\"spans\":[]}]}");
	cr_assert_eq(baton_jaeger_json_merge(in, 1, out), BATON_EFORMAT);
	const char *missing[] = {"no-such-file.json"};
	cr_assert_eq(baton_jaeger_json_merge(missing, 1, out), BATON_ESYSTEM);
	cr_assert_eq(baton_jaeger_json_merge(NULL, 1, out), BATON_EINVAL);
	cr_assert_eq(baton_jaeger_json_merge(in, 1, NULL), BATON_EINVAL);
	const char *nulls[] = {NULL};
	cr_assert_eq(baton_jaeger_json_merge(nulls, 1, out), BATON_EINVAL);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	json_t *j = load(out);
	cr_assert_eq(ntraces(j), 0, "a failed merge does not touch the output");
	json_decref(j);
	cr_assert(strstr(logged, bad) != NULL, "the warning names the file: %s", logged);
	cr_assert(strstr(logged, "no-such-file.json") != NULL, "%s", logged);
	remove(bad);
	remove(out);
}

/* ---- fork while another thread exports ---- */

static atomic_bool race_stop;

static void *race_exporter(void *arg)
{
	baton_exporter *e = arg;
	static fake f[64];
	static char big[4096];
	const baton_span_data *batch[64];
	/* Slow to encode (every byte escaped), so the exporter is busy most of the time.
	 */
	memset(big, '\x01', sizeof(big));
	for (int i = 0; i < 64; i++) {
		fake_init(&f[i], (uint8_t)(1 + i % 7), (uint8_t)(1 + i), &res_a);
		fake_attr(&f[i], "big",
		          (baton_value){BATON_VALUE_STRING, {.s = big}, sizeof(big)});
		batch[i] = &f[i].d;
	}
	while (!atomic_load(&race_stop))
		e->ops->export_spans(e->arg, batch, 64);
	return NULL;
}

Test(jaeger_json, fork_during_an_export_leaves_the_child_a_working_exporter)
{
	TU_SKIP_THREADED_FORK();
	char path[128];
	tmp_path("forkrace", path, sizeof(path));
	baton_jaeger_json_options o = {.size = sizeof(o),
	                               .path = path,
	                               .max_spans = 2000000,
	                               .write_interval_ms =
	                                   BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&o, &e), BATON_OK);
	pthread_t th;
	atomic_store(&race_stop, false);
	cr_assert_eq(pthread_create(&th, NULL, race_exporter, &e), 0);
	for (int k = 0; k < 8; k++) {
		usleep(2000);
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			/* Only this thread exists here: the exporter must not be locked.
			 */
			fake mine;
			fake_init(&mine, 0x77, 0x77, &res_b);
			const baton_span_data *p = &mine.d;
			int bad = e.ops->export_spans(e.arg, &p, 1).err != BATON_OK;
			bad |= e.ops->shutdown(e.arg, 100) != BATON_OK;
			char mine_path[160];
			snprintf(mine_path, sizeof(mine_path), "jj-%ld-forkrace.%ld.json",
			         (long)getppid(), (long)getpid());
			bad |= remove(mine_path) != 0;
			_exit(bad);
		}
		int st = 0;
		pid_t w = 0;
		for (int tries = 0; tries < 1000 && w == 0; tries++) {
			w = waitpid(pid, &st, WNOHANG);
			if (w == 0)
				usleep(10000);
		}
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			cr_assert_fail("the child hung on an exporter locked at fork");
		}
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed", k);
	}
	atomic_store(&race_stop, true);
	pthread_join(th, NULL);
	finish(e);
	remove(path);
}

/* ---- hostile trace ids ---- */

/*
 * 40,000 traces whose ids differ only in bytes 2-7, which the old hash left
 * out (every one landed in one chain: 3.4 s instead of 0.08 s), cost the
 * trace table a few probes each.
 */
Test(jaeger_json, trace_ids_differing_only_in_bytes_2_to_7_cost_a_few_probes_each)
{
	enum { N = 40000, B = 1000 };
	char path[128];
	tmp_path("flood", path, sizeof(path));
	baton_exporter e = make(path, 0);
	static fake f[B];
	const baton_span_data *batch[B];
	for (uint64_t k = 0; k < N / B; k++) {
		for (uint64_t i = 0; i < B; i++) {
			uint64_t n = k * B + i;
			fake_init(&f[i], 0xab, 1, &res_a);
			for (int j = 0; j < 6; j++)
				f[i].d.context.trace_id[2 + j] =
				    (uint8_t)(n >> (8 * (5 - j)));
			batch[i] = &f[i].d;
		}
		cr_assert_eq(e.ops->export_spans(e.arg, batch, B).err, BATON_OK);
	}
	uint64_t ops = 0, probes = 0;
	bt_jj_table_work(e.arg, &ops, &probes);
	cr_assert_geq(ops, N, "every span looks its trace up");
	cr_assert_lt((double)probes / (double)ops, 3.0,
	             "%llu probes for %llu table operations", (unsigned long long)probes,
	             (unsigned long long)ops);
	cr_assert_eq(e.ops->force_flush(e.arg, 60000), BATON_OK);
	json_t *j = load(path);
	cr_assert_eq(ntraces(j), N, "one trace per id");
	json_decref(j);
	finish(e);
	remove(path);
}

/* ---- writing files safely ---- */

/* A new empty directory of this test process. */
static void make_dir(const char *tag, char *buf, size_t cap)
{
	snprintf(buf, cap, "jj-%ld-%s-XXXXXX", (long)getpid(), tag);
	cr_assert_not_null(mkdtemp(buf));
}

/* Removes dir and the files in it. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

/* Files in dir whose name contains ".tmp" (a writer's temporary files). */
static int leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".tmp") != NULL;
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp, "%s", path);
	static char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void write_plain(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

Test(jaeger_json, a_symlink_planted_at_the_old_temporary_name_is_not_followed)
{
	char dir[128], path[256], merged[256], link1[300], link2[300], victim[256];
	make_dir("symlink", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/out.json", dir);
	snprintf(merged, sizeof(merged), "%s/merged.json", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(link1, sizeof(link1), "%s.tmp", path);
	snprintf(link2, sizeof(link2), "%s.tmp", merged);
	write_plain(victim, "precious\n");
	cr_assert_eq(symlink("victim", link1), 0);
	cr_assert_eq(symlink("victim", link2), 0);

	baton_exporter e = make(path, 0);
	fake f;
	fake_init(&f, 0x31, 1, &res_a);
	export1(e, &f.d);
	cr_assert_eq(e.ops->force_flush(e.arg, 1000), BATON_OK);
	finish(e);
	const char *in[] = {path};
	cr_assert_eq(baton_jaeger_json_merge(in, 1, merged), BATON_OK);

	cr_assert_str_eq(slurp(victim), "precious\n", "the victim is untouched");
	struct stat st;
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "the file is a file, not the planted link");
	cr_assert_eq(lstat(merged, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 1);
	json_decref(j);
	j = load(merged);
	cr_assert_eq(count_spans(j), 1);
	json_decref(j);
	unlink(link1);
	unlink(link2);
	cr_assert_eq(leftovers(dir), 0, "no temporary file is left behind");
	remove_dir(dir);
}

/* A child's part: rewrite path many times, by flush and by merge. */
static int writer(const char *path, const char *in_a, const char *in_b, int tag)
{
	baton_jaeger_json_options o = {.size = sizeof(o),
	                               .path = path,
	                               .write_interval_ms =
	                                   BATON_JAEGER_JSON_NO_INTERVAL};
	baton_exporter e;
	if (baton_jaeger_json_exporter_create(&o, &e) != BATON_OK)
		return 1;
	static fake f[300];
	const baton_span_data *batch[300];
	for (int i = 0; i < 300; i++) {
		fake_init(&f[i], (uint8_t)tag, (uint8_t)(1 + i), &res_a);
		f[i].d.context.trace_id[0] = (uint8_t)i;
		f[i].d.name = tag == 1 ? "written by the first writer, at some length"
		                       : "written by the second";
		batch[i] = &f[i].d;
	}
	int bad = e.ops->export_spans(e.arg, batch, 300).err != BATON_OK;
	const char *in[] = {in_a, in_b};
	for (int k = 0; k < 25 && !bad; k++) {
		bad |= e.ops->force_flush(e.arg, 10000) != BATON_OK;
		bad |= baton_jaeger_json_merge(in, 2, path) != BATON_OK;
	}
	bad |= e.ops->shutdown(e.arg, 10000) != BATON_OK;
	e.ops->destroy(e.arg);
	return bad;
}

Test(jaeger_json, two_processes_writing_one_path_always_leave_valid_json)
{
	char dir[128], path[256], in_a[256], in_b[256];
	make_dir("twowriters", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/shared.json", dir);
	snprintf(in_a, sizeof(in_a), "%s/a.json", dir);
	snprintf(in_b, sizeof(in_b), "%s/b.json", dir);
	for (int k = 0; k < 2; k++) {
		baton_exporter e = make(k == 0 ? in_a : in_b, 0);
		static fake f[200];
		for (int i = 0; i < 200; i++) {
			fake_init(&f[i], (uint8_t)(0x40 + k), (uint8_t)(1 + i), &res_b);
			f[i].d.context.trace_id[1] = (uint8_t)i;
			export1(e, &f[i].d);
		}
		finish(e);
	}
	fflush(NULL);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		cr_assert_geq(kids[k], 0);
		if (kids[k] == 0)
			_exit(writer(path, in_a, in_b, 1 + k));
	}
	/* Read the file while both write it: every read is whole JSON. */
	int reads = 0, running = 2, st;
	int status[2] = {-1, -1};
	while (running > 0) {
		json_error_t err;
		json_t *j = json_load_file(path, 0, &err);
		if (j == NULL && access(path, F_OK) == 0) {
			/* It may have been replaced between the two calls: look again. */
			j = json_load_file(path, 0, &err);
			cr_assert_not_null(j, "read %d is not JSON: %s", reads, err.text);
		}
		if (j != NULL) {
			cr_assert(json_is_array(json_object_get(j, "data")));
			reads++;
		}
		json_decref(j);
		for (int k = 0; k < 2; k++) {
			if (status[k] == -1 &&
			    waitpid(kids[k], &st, WNOHANG) == kids[k]) {
				status[k] = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
				running--;
			}
		}
	}
	cr_assert_eq(status[0], 0, "every write of the first process succeeded");
	cr_assert_eq(status[1], 0, "every write of the second process succeeded");
	cr_assert_gt(reads, 0);
	json_t *j = load(path);
	json_decref(j);
	cr_assert_eq(leftovers(dir), 0, "no temporary file is left behind");
	remove_dir(dir);
}

/* 100,000 spans, each in its own trace, with an attribute of text_len
 * bytes (at most 300); false when an export fails. */
static bool try_export_100k(baton_exporter e, size_t text_len)
{
	enum { N = 100000, B = 1000 };
	static fake f[B];
	static char text[300];
	memset(text, 'x', sizeof(text));
	const baton_span_data *batch[B];
	for (uint64_t k = 0; k < N / B; k++) {
		for (uint64_t i = 0; i < B; i++) {
			uint64_t n = k * B + i;
			fake_init(&f[i], 0x5c, 1, &res_a);
			memcpy(f[i].d.context.trace_id, &n, sizeof(n));
			fake_attr(
			    &f[i], "text",
			    (baton_value){BATON_VALUE_STRING, {.s = text}, text_len});
			batch[i] = &f[i].d;
		}
		if (e.ops->export_spans(e.arg, batch, B).err != BATON_OK)
			return false;
	}
	return true;
}

static void export_100k(baton_exporter e, size_t text_len)
{
	cr_assert(try_export_100k(e, text_len));
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * Shutdown with 100,000 spans held and 20 ms to do it in returns in about
 * that time, says so (BATON_ETIMEDOUT and a warning with the count), and
 * leaves the file as it was.
 */
Test(jaeger_json, shutdown_with_100000_spans_honours_its_timeout)
{
	char dir[128], path[256];
	make_dir("shutdown", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big.json", dir);
	baton_exporter e = make(path, 0);
	fake first;
	fake_init(&first, 0x11, 1, &res_a);
	export1(e, &first.d);
	cr_assert_eq(e.ops->force_flush(e.arg, 1000), BATON_OK);
	export_100k(e, 300);
	logged[0] = '\0';
	baton_set_log(BATON_LOG_WARN, capture_log, NULL);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	baton_err rv = e.ops->shutdown(e.arg, 20);
	double took = ms_since(&t0);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	cr_assert_lt(took, 20 + 100, "shutdown took %.1f ms with 20 ms to go", took);
	cr_assert_eq(rv, BATON_ETIMEDOUT, "%s", baton_strerror(rv));
	cr_assert(
	    strstr(logged, "100000 spans in 100000 traces not written within 20 ms") !=
	        NULL,
	    "log: %s", logged);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 1, "the file keeps its last whole content");
	json_decref(j);
	cr_assert_eq(leftovers(dir), 0, "the unfinished temporary file is removed");
	e.ops->destroy(e.arg);
	cr_assert_eq(leftovers(dir), 0);
	j = load(path);
	cr_assert_eq(count_spans(j), 1, "destroy after a shutdown writes nothing more");
	json_decref(j);
	remove_dir(dir);
}

/*
 * A flush out of time leaves the file as it was (here: not there) and keeps
 * the spans; with time enough, shutdown writes all 100,000.
 */
Test(jaeger_json, out_of_time_nothing_is_lost_and_with_time_enough_all_is_written)
{
	char dir[128], path[256];
	make_dir("flush", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big.json", dir);
	baton_exporter e = make(path, 0);
	export_100k(e, 0);
	baton_set_log(BATON_LOG_ERROR, NULL, NULL);
	cr_assert_eq(e.ops->force_flush(e.arg, 1), BATON_ETIMEDOUT);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	cr_assert_neq(access(path, F_OK), 0, "no file yet: it was never written whole");
	cr_assert_eq(leftovers(dir), 0);
	cr_assert_eq(e.ops->shutdown(e.arg, 60000), BATON_OK);
	e.ops->destroy(e.arg);
	json_t *j = load(path);
	cr_assert_eq(count_spans(j), 100000);
	json_decref(j);
	cr_assert_eq(leftovers(dir), 0);
	remove_dir(dir);
}

/*
 * An interval write in progress on the export thread gives way to shutdown:
 * one export of 100,000 spans ends with an interval write of all of them,
 * and shutdown begins while it runs.
 */
static void *big_export(void *arg)
{
	enum { N = 100000, B = 1000 };
	static fake f[B];
	static const baton_span_data *batch[N];
	static char text[300];
	memset(text, 'x', sizeof(text));
	for (uint64_t i = 0; i < B; i++) {
		fake_init(&f[i], 0x5d, (uint8_t)i, &res_a);
		memcpy(f[i].d.context.trace_id, &i, sizeof(i));
		fake_attr(&f[i], "text",
		          (baton_value){BATON_VALUE_STRING, {.s = text}, sizeof(text)});
	}
	for (size_t i = 0; i < N; i++)
		batch[i] = &f[i % B].d;
	baton_exporter *e = arg;
	e->ops->export_spans(e->arg, batch, N);
	return NULL;
}

Test(jaeger_json, shutdown_cuts_an_interval_write_in_progress)
{
	char dir[128], path[256];
	make_dir("cut", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big.json", dir);
	baton_jaeger_json_options o = {
	    .size = sizeof(o), .path = path, .write_interval_ms = 1};
	baton_exporter e;
	cr_assert_eq(baton_jaeger_json_exporter_create(&o, &e), BATON_OK);
	usleep(2000); /* the interval is due at the end of the export */
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, big_export, &e), 0);
	for (int k = 0; k < 100000 && leftovers(dir) == 0; k++)
		usleep(100);
	cr_assert_gt(leftovers(dir), 0, "no interval write seen");
	baton_set_log(BATON_LOG_ERROR, NULL, NULL);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	baton_err rv = e.ops->shutdown(e.arg, 20);
	double took = ms_since(&t0);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	pthread_join(th, NULL);
	cr_assert_lt(took, 20 + 100, "shutdown took %.1f ms with 20 ms to go", took);
	cr_assert_eq(rv, BATON_ETIMEDOUT, "%s", baton_strerror(rv));
	e.ops->destroy(e.arg);
	cr_assert_neq(access(path, F_OK), 0, "neither write finished: no file");
	cr_assert_eq(leftovers(dir), 0);
	remove_dir(dir);
}
