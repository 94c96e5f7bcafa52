/*
 * HTTP boundary: inject into curl header lists and easy handles, extract
 * from incoming headers, CLIENT and SERVER spans with the HTTP semantic
 * conventions, over real requests to a local receiver on 127.0.0.1.
 */
#include <baton/baton.h>
#include <baton/http.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_receiver.h"
#include "spancheck.h"
#include "testutil.h"

#define TID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID  "00f067aa0ba902b7"
#define GOOD "00-" TID "-" SID "-01"

static tu_memory_exporter *store;

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	store = tu_init_memory(baton_sampler_always_on(), 64);
}

static void teardown(void)
{
	baton_fini(1000);
	curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown);

/* Does the span carry attribute line "key=value"? */
static bool has_attr(const tu_memory_span *s, const char *kv)
{
	char hay[1100], needle[256];
	snprintf(hay, sizeof(hay), "\n%s", s->attrs_text);
	snprintf(needle, sizeof(needle), "\n%s\n", kv);
	return strstr(hay, needle) != NULL;
}

static size_t count_entries(const struct curl_slist *l, const char *prefix)
{
	size_t n = 0;
	for (; l != NULL; l = l->next) {
		if (strncmp(l->data, prefix, strlen(prefix)) == 0)
			n++;
	}
	return n;
}

static const char *entry(const struct curl_slist *l, const char *prefix)
{
	for (; l != NULL; l = l->next) {
		if (strncmp(l->data, prefix, strlen(prefix)) == 0)
			return l->data;
	}
	return NULL;
}

static baton_span_context remote(const char *tp, const char *ts, char *buf)
{
	baton_span_context c;
	cr_assert_eq(baton_w3c_extract(tp, strlen(tp), ts, ts ? strlen(ts) : 0, &c, buf,
	                               BATON_TRACESTATE_SIZE),
	             BATON_OK);
	return c;
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

Test(http, inject_replaces_existing_trace_headers_and_keeps_the_others)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c = remote(GOOD, "congo=t61rcWkgMzE", buf);
	struct curl_slist *l = NULL;
	l = curl_slist_append(l, "Accept: application/json");
	l = curl_slist_append(
	    l, "TraceParent: 00-11111111111111111111111111111111-1111111111111111-00");
	l = curl_slist_append(l, "tracestate: old=1");
	l = curl_slist_append(l, "X-Other: 1");
	cr_assert_eq(baton_http_inject_slist(&c, &l), BATON_OK);
	cr_assert_eq(count_entries(l, "traceparent:"), 1);
	cr_assert_eq(count_entries(l, "TraceParent:"), 0);
	cr_assert_eq(count_entries(l, "tracestate:"), 1);
	cr_assert_str_eq(entry(l, "traceparent:"), "traceparent: " GOOD);
	cr_assert_str_eq(entry(l, "tracestate:"), "tracestate: congo=t61rcWkgMzE");
	cr_assert_not_null(entry(l, "Accept: application/json"));
	cr_assert_not_null(entry(l, "X-Other: 1"));
	/* injecting again does not pile up */
	cr_assert_eq(baton_http_inject_slist(&c, &l), BATON_OK);
	cr_assert_eq(count_entries(l, "traceparent:"), 1);
	cr_assert_eq(count_entries(l, "tracestate:"), 1);
	/* an empty tracestate is not sent */
	c.tracestate = NULL;
	cr_assert_eq(baton_http_inject_slist(&c, &l), BATON_OK);
	cr_assert_eq(count_entries(l, "tracestate"), 0);
	curl_slist_free_all(l);
}

Test(http, inject_without_a_context_leaves_the_list_alone)
{
	struct curl_slist *l = curl_slist_append(NULL, "traceparent: keep");
	struct curl_slist *before = l;
	baton_span_context none = {0};
	cr_assert_eq(baton_http_inject_slist(&none, &l), BATON_EINVAL);
	cr_assert_eq(baton_http_inject_slist(NULL, &l),
	             BATON_EINVAL); /* nothing current */
	cr_assert_eq(l, before);
	cr_assert_str_eq(l->data, "traceparent: keep");
	cr_assert_eq(baton_http_inject_slist(NULL, NULL), BATON_EINVAL);
	curl_slist_free_all(l);
}

Test(http, inject_null_context_uses_the_current_span)
{
	baton_tracer *t = baton_tracer_get("http-test", NULL);
	baton_span s = baton_span_start(t, "work");
	uint32_t tok = baton_span_attach(s);
	struct curl_slist *l = NULL;
	cr_assert_eq(baton_http_inject_slist(NULL, &l), BATON_OK);
	baton_span_context sc, got;
	baton_span_get_context(s, &sc);
	const char *tp = entry(l, "traceparent: ") + strlen("traceparent: ");
	cr_assert_eq(baton_traceparent_parse(tp, strlen(tp), &got), BATON_OK);
	cr_assert(memcmp(got.trace_id, sc.trace_id, 16) == 0);
	cr_assert(memcmp(got.span_id, sc.span_id, 8) == 0);
	baton_span_detach(tok);
	baton_span_end(s);
	curl_slist_free_all(l);
}

Test(http, extract_matches_names_in_any_case_and_joins_tracestate_lines)
{
	baton_http_header h[] = {
	    {"Host", "x"},
	    {"TRACESTATE", "foo=1,bar=2"},
	    {"TrAcEpArEnT", "  " GOOD "\t"},
	    {"tracestate", ""},
	    {"TraceState", "rojo=1 , congo=2"},
	};
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	cr_assert_eq(baton_http_extract(h, 5, &c, buf, sizeof(buf)), BATON_OK);
	cr_assert(c.state & BATON_CTX_REMOTE);
	cr_assert(baton_span_context_is_sampled(&c));
	cr_assert_str_eq(c.tracestate, "foo=1,bar=2,rojo=1,congo=2");
}

Test(http, extract_rejects_repeated_or_missing_traceparent)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	memset(&c, 0x5a, sizeof(c));
	baton_http_header two[] = {{"traceparent", GOOD}, {"Traceparent", GOOD}};
	cr_assert_eq(baton_http_extract(two, 2, &c, buf, sizeof(buf)), BATON_EFORMAT);
	baton_http_header none[] = {{"tracestate", "foo=1"}, {"trace-parent", GOOD}};
	cr_assert_eq(baton_http_extract(none, 2, &c, buf, sizeof(buf)), BATON_ENOENV);
	baton_http_header bad[] = {{"traceparent", "ff-" TID "-" SID "-01"}};
	cr_assert_eq(baton_http_extract(bad, 1, &c, buf, sizeof(buf)), BATON_EVERSION);
	cr_assert_eq(c.state, 0x5a, "untouched on error");
	cr_assert_eq(baton_http_extract(NULL, 0, &c, buf, sizeof(buf)), BATON_ENOENV);
	cr_assert_eq(baton_http_extract(two, 2, NULL, buf, sizeof(buf)), BATON_EINVAL);
}

Test(http, extract_drops_an_invalid_tracestate_but_keeps_the_parent)
{
	baton_http_header h[] = {
	    {"traceparent", GOOD}, {"tracestate", "foo=1"}, {"tracestate", "Foo=2"}};
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	cr_assert_eq(baton_http_extract(h, 3, &c, buf, sizeof(buf)), BATON_OK);
	cr_assert(baton_span_context_is_valid(&c));
	cr_assert_null(c.tracestate);
	/* a key repeated across lines keeps its first occurrence */
	h[2].value = "foo=2";
	cr_assert_eq(baton_http_extract(h, 3, &c, buf, sizeof(buf)), BATON_OK);
	cr_assert_str_eq(c.tracestate, "foo=1");
}

Test(http, client_call_carries_the_client_span_context_and_records_it)
{
	tu_http_receiver *r = tu_receiver_start(200);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/items?x=1", tu_receiver_port(r));
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context parent = remote(GOOD, "congo=t61rcWkgMzE", buf);
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs =
	    curl_slist_append(NULL, "Content-Type: application/json");
	baton_span span;
	cr_assert_eq(baton_http_client_begin(e, baton_tracer_get("http-test", NULL),
	                                     "POST", url, &parent, &hdrs, &span),
	             BATON_OK);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, "[]");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	CURLcode rc = curl_easy_perform(e);
	cr_assert_eq(rc, CURLE_OK, "%s", curl_easy_strerror(rc));
	baton_http_client_span_end(span, e, rc);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);

	cr_assert_eq(tu_receiver_wait(r, 1, 5000), 1);
	tu_http_req got;
	cr_assert(tu_receiver_get(r, 0, &got));
	cr_assert_str_eq(got.method, "POST");
	cr_assert_str_eq(got.content_type, "application/json");
	cr_assert(got.has_traceparent);
	baton_span_context sent;
	cr_assert_eq(
	    baton_traceparent_parse(got.traceparent, strlen(got.traceparent), &sent),
	    BATON_OK);
	cr_assert(memcmp(sent.trace_id, parent.trace_id, 16) == 0, "same trace");
	cr_assert(memcmp(sent.span_id, parent.span_id, 8) != 0, "a new parent id");
	cr_assert(strstr(got.tracestate, "congo=t61rcWkgMzE") != NULL, "%s",
	          got.tracestate);

	cr_assert_eq(tu_memory_exporter_count(store), 1);
	tu_memory_span ms;
	cr_assert_eq(tu_memory_exporter_get(store, 0, &ms), BATON_OK);
	cr_assert_eq(ms.kind, BATON_SPAN_KIND_CLIENT);
	cr_assert_str_eq(ms.name, "POST");
	cr_assert(memcmp(ms.context.span_id, sent.span_id, 8) == 0,
	          "the sent id is the span's");
	cr_assert(memcmp(ms.parent.span_id, parent.span_id, 8) == 0);
	cr_assert(has_attr(&ms, "http.request.method=POST"), "%s", ms.attrs_text);
	char kv[200];
	snprintf(kv, sizeof(kv), "url.full=%s", url);
	cr_assert(has_attr(&ms, kv), "%s", ms.attrs_text);
	cr_assert(has_attr(&ms, "server.address=127.0.0.1"), "%s", ms.attrs_text);
	snprintf(kv, sizeof(kv), "server.port=%d", tu_receiver_port(r));
	cr_assert(has_attr(&ms, kv), "%s", ms.attrs_text);
	cr_assert(has_attr(&ms, "http.response.status_code=200"), "%s", ms.attrs_text);
	cr_assert_eq(ms.status, BATON_STATUS_UNSET);
	tu_receiver_stop(r);
}

static tu_memory_span one_call(const char *method, const char *url, int *http_status)
{
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	baton_span span;
	tu_memory_exporter_clear(store);
	cr_assert_eq(baton_http_client_begin(e, baton_tracer_get("http-test", NULL),
	                                     method, url, NULL, &hdrs, &span),
	             BATON_OK);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	CURLcode rc = curl_easy_perform(e);
	long st = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	*http_status = (int)st;
	baton_http_client_span_end(span, e, rc);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	cr_assert_eq(tu_memory_exporter_count(store), 1);
	tu_memory_span ms;
	tu_memory_exporter_get(store, 0, &ms);
	return ms;
}

Test(http, client_status_4xx_and_5xx_are_errors_with_error_type)
{
	tu_http_receiver *r = tu_receiver_start(503);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", tu_receiver_port(r));
	int st;
	tu_memory_span ms = one_call("GET", url, &st);
	cr_assert_eq(st, 503);
	cr_assert_eq(ms.status, BATON_STATUS_ERROR);
	cr_assert(has_attr(&ms, "error.type=503"), "%s", ms.attrs_text);
	cr_assert(has_attr(&ms, "http.response.status_code=503"));
	cr_assert(has_attr(&ms, "http.request.method=GET"));
	tu_receiver_set_status(r, 404);
	ms = one_call("DELETE", url, &st);
	cr_assert_eq(st, 404);
	cr_assert_eq(ms.status, BATON_STATUS_ERROR);
	cr_assert(has_attr(&ms, "error.type=404"));
	cr_assert(has_attr(&ms, "http.request.method=DELETE"));
	tu_http_req got;
	cr_assert(tu_receiver_get(r, 1, &got));
	cr_assert_str_eq(got.method, "DELETE");
	tu_receiver_stop(r);
}

Test(http, client_transport_failure_is_an_error)
{
	/* A receiver that is gone: its port refuses connections. */
	tu_http_receiver *r = tu_receiver_start(200);
	int port = tu_receiver_port(r);
	tu_receiver_stop(r);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	int st;
	tu_memory_span ms = one_call("GET", url, &st);
	cr_assert_eq(st, 0);
	cr_assert_eq(ms.status, BATON_STATUS_ERROR);
	cr_assert(has_attr(&ms, "error.type=connection_failed"), "%s", ms.attrs_text);
	cr_assert_null(strstr(ms.attrs_text, "http.response.status_code"));
}

Test(http, client_span_redacts_credentials_and_normalises_methods)
{
	tu_memory_exporter_clear(store);
	baton_span s =
	    baton_http_client_span_start(baton_tracer_get("http-test", NULL), "FETCH",
	                                 "http://user:secret@[::1]:8080/p?q=1", NULL);
	baton_span_end(s);
	tu_memory_span ms;
	cr_assert_eq(tu_memory_exporter_get(store, 0, &ms), BATON_OK);
	cr_assert_str_eq(ms.name, "HTTP");
	cr_assert(has_attr(&ms, "http.request.method=_OTHER"), "%s", ms.attrs_text);
	cr_assert(has_attr(&ms, "http.request.method_original=FETCH"));
	cr_assert(has_attr(&ms, "url.full=http://REDACTED:REDACTED@[::1]:8080/p?q=1"),
	          "%s", ms.attrs_text);
	cr_assert_null(strstr(ms.attrs_text, "secret"));
	cr_assert(has_attr(&ms, "server.address=::1"), "%s", ms.attrs_text);
	cr_assert(has_attr(&ms, "server.port=8080"));
	/* the scheme's default port when none is given */
	tu_memory_exporter_clear(store);
	s = baton_http_client_span_start(baton_tracer_get("http-test", NULL), "GET",
	                                 "https://example.org/", NULL);
	baton_span_end(s);
	cr_assert_eq(tu_memory_exporter_get(store, 0, &ms), BATON_OK);
	cr_assert(has_attr(&ms, "server.port=443"), "%s", ms.attrs_text);
	cr_assert(has_attr(&ms, "server.address=example.org"));
}

Test(http, server_span_continues_the_remote_trace_with_semconv_attributes)
{
	baton_http_header h[] = {
	    {"traceparent", GOOD},
	    {"tracestate", "congo=t61rcWkgMzE"},
	    {"User-Agent", "test-agent/1.0"},
	};
	baton_http_server_request req = {
	    .method = "GET",
	    .target = "/users/42?verbose=1",
	    .route = "/users/{id}",
	    .server_address = "127.0.0.1",
	    .server_port = 8080,
	    .client_address = "127.0.0.2",
	    .client_port = 50000,
	    .headers = h,
	    .nheaders = 3,
	};
	tu_memory_exporter_clear(store);
	baton_span s =
	    baton_http_server_span_start(baton_tracer_get("http-test", NULL), &req);
	baton_http_server_span_end(s, 404);
	tu_memory_span ms;
	cr_assert_eq(tu_memory_exporter_get(store, 0, &ms), BATON_OK);
	cr_assert_eq(ms.kind, BATON_SPAN_KIND_SERVER);
	cr_assert_str_eq(ms.name, "GET /users/{id}");
	uint8_t tid[16], sid[8];
	tu_hex(TID, tid, 16);
	tu_hex(SID, sid, 8);
	cr_assert(memcmp(ms.context.trace_id, tid, 16) == 0);
	cr_assert(memcmp(ms.parent.span_id, sid, 8) == 0);
	cr_assert(ms.parent.state & BATON_CTX_REMOTE);
	cr_assert(strstr(ms.tracestate, "congo=t61rcWkgMzE") != NULL);
	const char *want[] = {"http.request.method=GET",
	                      "url.path=/users/42",
	                      "url.query=verbose=1",
	                      "url.scheme=http",
	                      "http.route=/users/{id}",
	                      "server.address=127.0.0.1",
	                      "server.port=8080",
	                      "client.address=127.0.0.2",
	                      "client.port=50000",
	                      "user_agent.original=test-agent/1.0",
	                      "http.response.status_code=404"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(has_attr(&ms, want[i]), "%s missing in\n%s", want[i],
		          ms.attrs_text);
	cr_assert_eq(ms.status, BATON_STATUS_UNSET, "4xx is not a server error");
	cr_assert_null(strstr(ms.attrs_text, "error.type"));
}

Test(http, server_span_without_context_is_a_root_and_5xx_is_an_error)
{
	baton_tracer *t = baton_tracer_get("http-test", NULL);
	baton_span outer = baton_span_start(t, "unrelated");
	uint32_t tok = baton_span_attach(outer);
	baton_http_header h[] = {{"traceparent", "00-" TID "-0000000000000000-01"}};
	baton_http_server_request req = {
	    .method = "POST", .target = "/test", .headers = h, .nheaders = 1};
	tu_memory_exporter_clear(store);
	baton_span s = baton_http_server_span_start(t, &req);
	baton_http_server_span_end(s, 502);
	baton_span_detach(tok);
	tu_memory_span ms;
	cr_assert_eq(tu_memory_exporter_get(store, 0, &ms), BATON_OK);
	cr_assert_str_eq(ms.name, "POST");
	cr_assert_not(baton_span_context_is_valid(&ms.parent),
	              "a root, not a child of current");
	baton_span_context oc;
	baton_span_get_context(outer, &oc);
	cr_assert(memcmp(ms.context.trace_id, oc.trace_id, 16) != 0);
	cr_assert_eq(ms.status, BATON_STATUS_ERROR);
	cr_assert(has_attr(&ms, "error.type=502"));
	baton_span_end(outer);
}

Test(http, without_any_context_the_call_goes_out_with_the_callers_headers)
{
	baton_fini(1000); /* no SDK: spans are no-ops and there is no context */
	tu_http_receiver *r = tu_receiver_start(200);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/plain", tu_receiver_port(r));
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: text/plain");
	baton_span span;
	cr_assert_eq(baton_http_client_begin(e, baton_tracer_get("http-test", NULL),
	                                     "PUT", url, NULL, &hdrs, &span),
	             BATON_OK);
	cr_assert_not(baton_span_is_recording(span));
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, "x");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	CURLcode rc = curl_easy_perform(e);
	cr_assert_eq(rc, CURLE_OK, "%s", curl_easy_strerror(rc));
	baton_http_client_span_end(span, e, rc);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	cr_assert_eq(tu_receiver_wait(r, 1, 5000), 1);
	tu_http_req got;
	cr_assert(tu_receiver_get(r, 0, &got));
	cr_assert_str_eq(got.method, "PUT");
	cr_assert_str_eq(got.content_type, "text/plain");
	cr_assert_not(got.has_traceparent);
	cr_assert_not(got.has_tracestate);
	tu_receiver_stop(r);
	store = tu_init_memory(baton_sampler_always_on(), 64); /* for teardown */
}

/* ---- what a peer sends never pushes out the server span's own data ---- */

static void held_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tu_held_init(baton_sampler_always_on(), NULL);
}

static void held_teardown(void)
{
	tu_held_release();
	baton_fini(1000);
	curl_global_cleanup();
}

TestSuite(http_remote, .init = held_setup, .fini = held_teardown);

/* Appends copies of unit to s until it holds at least n bytes. */
static char *grow(char *s, const char *unit, size_t n)
{
	size_t len = strlen(s), u = strlen(unit);
	char *r = realloc(s, len + n + u + 1);
	cr_assert_not_null(r);
	while (strlen(r) < len + n)
		strcat(r, unit);
	return r;
}

/* The same 512-character tracestate the W3C limit allows, four members. */
static void max_tracestate(char *out)
{
	const size_t len[] = {128, 127, 127, 127};
	size_t o = 0;
	for (int m = 0; m < 4; m++) {
		if (m > 0)
			out[o++] = ',';
		size_t start = o;
		o += (size_t)sprintf(out + o, "vendor%d=", m);
		while (o - start < len[m])
			out[o++] = (char)('a' + m);
	}
	out[o] = '\0';
}

/* value is a non-empty prefix of want, cut between characters. */
static void assert_prefix(const baton_span_data *d, const char *key, const char *want,
                          size_t want_len)
{
	const char *v = tu_attr_str(d, key);
	cr_assert_not_null(v, "%s dropped", key);
	size_t n = strlen(v);
	cr_assert_gt(n, 0, "%s is empty", key);
	cr_assert_leq(n, want_len);
	cr_assert(strncmp(v, want, n) == 0, "%s is not a prefix of the sent value", key);
}

/* A request with a huge target (path_bytes + query_bytes of é and €), a
 * maximal tracestate and a long User-Agent; the span ends with status. */
static void serve_huge(size_t path_bytes, size_t query_bytes, int status)
{
	char ts[BATON_TRACESTATE_SIZE];
	max_tracestate(ts);
	char *target = grow(strdup("/search/"), "\xc3\xa9", path_bytes);
	size_t plen = strlen(target);
	target = grow(grow(target, "?q=", 1), "\xe2\x82\xac", query_bytes);
	char *ua = grow(strdup("agent/"), "x", 300);
	baton_http_header h[] = {
	    {"traceparent", GOOD}, {"tracestate", ts}, {"User-Agent", ua}};
	baton_http_server_request req = {
	    .method = "GET",
	    .target = target,
	    .route = "/search/{term}",
	    .scheme = "https",
	    .server_address = "api.example.org",
	    .server_port = 8443,
	    .client_address = "192.0.2.7",
	    .client_port = 50000,
	    .headers = h,
	    .nheaders = 3,
	};
	baton_span s =
	    baton_http_server_span_start(baton_tracer_get("http-test", NULL), &req);
	baton_http_server_span_end(s, status);

	const baton_span_data *d = tu_held();
	cr_assert_not_null(d);
	cr_assert_str_eq(d->name, "GET /search/{term}");
	cr_assert(tu_span_utf8_ok(d));
	cr_assert_eq(d->dropped_attrs, 0);
	cr_assert_str_eq(d->context.tracestate, ts, "a maximal tracestate stays whole");
	const struct {
		const char *key, *value;
	} str[] = {{"http.request.method", "GET"},
	           {"url.scheme", "https"},
	           {"http.route", "/search/{term}"},
	           {"server.address", "api.example.org"},
	           {"client.address", "192.0.2.7"}};
	for (size_t i = 0; i < sizeof(str) / sizeof(str[0]); i++) {
		const char *v = tu_attr_str(d, str[i].key);
		cr_assert_not_null(v, "%s dropped", str[i].key);
		cr_assert_str_eq(v, str[i].value);
	}
	const baton_attr *code = baton_attr_find(d->attrs, "http.response.status_code");
	cr_assert_not_null(code, "http.response.status_code dropped");
	cr_assert_eq(code->value.u.i, status);
	cr_assert(tu_has_attr(d, "server.port"));
	cr_assert(tu_has_attr(d, "client.port"));
	assert_prefix(d, "url.path", target, plen);
	assert_prefix(d, "url.query", target + plen + 1, strlen(target + plen + 1));
	assert_prefix(d, "user_agent.original", ua, strlen(ua));
	if (status >= 500) {
		cr_assert_str_eq(tu_attr_str(d, "error.type"), "503");
		cr_assert_eq(d->status, BATON_STATUS_ERROR);
	}
	free(target);
	free(ua);
}

Test(http_remote, a_1_6_kb_target_keeps_the_name_and_every_attribute)
{
	serve_huge(1000, 600, 200);
}

Test(http_remote, a_100_kb_target_keeps_the_name_and_every_attribute)
{
	serve_huge(80 * 1024, 20 * 1024, 503);
}

Test(http_remote, ill_formed_bytes_in_the_request_become_u_fffd)
{
	baton_http_header h[] = {{"traceparent", GOOD}, {"User-Agent", "bot\xff/1"}};
	baton_http_server_request req = {.method = "G\xc3T",
	                                 .target = "/a\xe2\x82?b=\xc0\x80",
	                                 .headers = h,
	                                 .nheaders = 2};
	baton_span s =
	    baton_http_server_span_start(baton_tracer_get("http-test", NULL), &req);
	baton_http_server_span_end(s, 200);
	const baton_span_data *d = tu_held();
	cr_assert_not_null(d);
	cr_assert(tu_span_utf8_ok(d));
	cr_assert_str_eq(d->name, "HTTP");
	cr_assert_str_eq(tu_attr_str(d, "http.request.method_original"),
	                 "G\xef\xbf\xbdT");
	cr_assert_str_eq(tu_attr_str(d, "url.path"), "/a\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_str_eq(tu_attr_str(d, "url.query"), "b=\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_str_eq(tu_attr_str(d, "user_agent.original"), "bot\xef\xbf\xbd/1");
}
