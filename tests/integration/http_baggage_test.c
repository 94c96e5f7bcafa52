/*
 * Baggage across HTTP: inject writes the current baggage as a baggage
 * header, a real call carries it to a local receiver, extract reads
 * repeated headers as one list, baton_http_server_begin() makes the
 * request's baggage current; OTEL_PROPAGATORS chooses the headers.
 */
#include <baton/baggage.h>
#include <baton/baton.h>
#include <baton/http.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_receiver.h"
#include "testutil.h"

#define TID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID  "00f067aa0ba902b7"
#define GOOD "00-" TID "-" SID "-01"

static tu_memory_exporter *store;

static void init_with(const char *props)
{
	if (props != NULL)
		setenv("OTEL_PROPAGATORS", props, 1);
	else
		unsetenv("OTEL_PROPAGATORS");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	store = tu_init_memory(baton_sampler_always_on(), 64);
}

static void setup(void)
{
	init_with(NULL);
}

static void teardown(void)
{
	baton_fini(1000);
	curl_global_cleanup();
}

TestSuite(http_baggage, .init = setup, .fini = teardown);

static const char *entry(const struct curl_slist *l, const char *prefix)
{
	for (; l != NULL; l = l->next) {
		if (strncasecmp(l->data, prefix, strlen(prefix)) == 0)
			return l->data;
	}
	return NULL;
}

static size_t count(const struct curl_slist *l, const char *prefix)
{
	size_t n = 0;
	for (; l != NULL; l = l->next)
		n += strncasecmp(l->data, prefix, strlen(prefix)) == 0;
	return n;
}

static baton_span_context remote(void)
{
	baton_span_context c;
	cr_assert_eq(baton_w3c_extract(GOOD, 55, NULL, 0, &c, NULL, 0), BATON_OK);
	return c;
}

Test(http_baggage, inject_writes_the_current_baggage_and_replaces_old_entries)
{
	baton_span_context c = remote();
	struct curl_slist *l = curl_slist_append(NULL, "Baggage: stale=1");
	l = curl_slist_append(l, "Accept: */*");
	cr_assert_eq(baton_baggage_set("user", "alice smith", NULL), BATON_OK);
	cr_assert_eq(baton_http_inject_slist(&c, &l), BATON_OK);
	cr_assert_str_eq(entry(l, "baggage:"), "baggage: user=alice%20smith");
	cr_assert_eq(count(l, "baggage:"), 1);
	cr_assert_not_null(entry(l, "Accept:"));
	cr_assert_not_null(entry(l, "traceparent:"));
	curl_slist_free_all(l);
	/* no ids, but baggage: the baggage still goes */
	l = NULL;
	cr_assert_eq(baton_http_inject_slist(NULL, &l), BATON_OK);
	cr_assert_null(entry(l, "traceparent:"));
	cr_assert_str_eq(entry(l, "baggage:"), "baggage: user=alice%20smith");
	curl_slist_free_all(l);
	/* nothing at all: EINVAL, the list untouched */
	baton_baggage_clear();
	l = curl_slist_append(NULL, "Accept: */*");
	cr_assert_eq(baton_http_inject_slist(NULL, &l), BATON_EINVAL);
	cr_assert_eq(count(l, ""), 1);
	curl_slist_free_all(l);
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* Makes a client call under the current baggage; returns what arrived. */
static tu_http_req call(void)
{
	tu_http_receiver *r = tu_receiver_start(200);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", tu_receiver_port(r));
	baton_span_context parent = remote();
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	baton_span span;
	cr_assert_eq(baton_http_client_begin(e, baton_tracer_get("t", NULL), "GET", url,
	                                     &parent, &hdrs, &span),
	             BATON_OK);
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
	tu_receiver_stop(r);
	return got;
}

Test(http_baggage, a_call_carries_the_baggage_header_and_it_reads_back)
{
	baton_baggage_set("user", "\xc3\xa9mile", NULL);
	baton_baggage_set("tenant", "t-1", "ttl=3");
	tu_http_req got = call();
	cr_assert(got.has_traceparent);
	cr_assert(got.has_baggage);
	cr_assert_str_eq(got.baggage, "user=%C3%A9mile,tenant=t-1;ttl=3");
	/* the receiving side: extract gives the same entries */
	baton_http_header h[] = {{"traceparent", got.traceparent},
	                         {"BAGGAGE", got.baggage}};
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage bg;
	baton_baggage_init(&bg, buf, sizeof(buf));
	cr_assert_eq(baton_http_extract_baggage(h, 2, &bg), BATON_OK);
	cr_assert_str_eq(baton_baggage_value(&bg, "user", NULL), "\xc3\xa9mile");
	baton_baggage_entry en;
	cr_assert_eq(baton_baggage_entry_get(&bg, 1, &en), BATON_OK);
	cr_assert_str_eq(en.properties, "ttl=3");
}

Test(http_baggage, extract_joins_repeated_headers_and_drops_invalid_ones)
{
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage bg;
	baton_baggage_init(&bg, buf, sizeof(buf));
	baton_http_header h[] = {
	    {"baggage", "a=1, b=2"}, {"Accept", "x"}, {"Baggage", " c = 3 "}};
	cr_assert_eq(baton_http_extract_baggage(h, 3, &bg), BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 3);
	cr_assert_str_eq(baton_baggage_value(&bg, "c", NULL), "3");
	baton_http_header bad[] = {{"baggage", "a=1"}, {"baggage", "no equals"}};
	cr_assert_eq(baton_http_extract_baggage(bad, 2, &bg), BATON_EFORMAT);
	cr_assert_eq(baton_http_extract_baggage(h + 1, 1, &bg), BATON_ENOENV);
	cr_assert_eq(baton_http_extract_baggage(NULL, 1, &bg), BATON_EINVAL);
}

struct handler_seen {
	char header[256];
	bool span_current;
};

Test(http_baggage, server_begin_makes_the_request_baggage_current)
{
	baton_baggage_set("leftover", "1", NULL);
	baton_http_header h[] = {{"traceparent", GOOD}, {"baggage", "user=bob"}};
	baton_http_server_request req = {
	    .method = "GET", .target = "/x", .headers = h, .nheaders = 2};
	uint32_t tok = 0;
	baton_span s = baton_http_server_begin(baton_tracer_get("t", NULL), &req, &tok);
	cr_assert_neq(tok, 0);
	cr_assert_eq(baton_span_current().id, s.id, "the server span is current");
	cr_assert_str_eq(baton_baggage_current_header(NULL), "user=bob",
	                 "the request's baggage and nothing left over");
	baton_span_detach(tok);
	baton_http_server_span_end(s, 200);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "leftover=1");
	/* a request without baggage hides the thread's too */
	req.nheaders = 1;
	s = baton_http_server_begin(baton_tracer_get("t", NULL), &req, &tok);
	cr_assert_null(baton_baggage_current_header(NULL));
	baton_span_detach(tok);
	baton_http_server_span_end(s, 200);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "leftover=1");
}

/* ---- OTEL_PROPAGATORS ---- */

static void reinit(const char *props)
{
	teardown();
	init_with(props);
}

Test(http_baggage, propagators_none_sends_and_reads_nothing)
{
	reinit("none");
	baton_baggage_set("user", "x", NULL);
	baton_span_context c = remote();
	struct curl_slist *l = curl_slist_append(NULL, "traceparent: keep-me");
	cr_assert_eq(baton_http_inject_slist(&c, &l), BATON_EINVAL);
	cr_assert_str_eq(l->data, "traceparent: keep-me");
	cr_assert_null(l->next);
	curl_slist_free_all(l);
	baton_http_header h[] = {{"traceparent", GOOD}, {"baggage", "user=bob"}};
	baton_span_context out;
	cr_assert_eq(baton_http_extract(h, 2, &out, NULL, 0), BATON_ENOENV);
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage bg;
	baton_baggage_init(&bg, buf, sizeof(buf));
	cr_assert_eq(baton_http_extract_baggage(h, 2, &bg), BATON_ENOENV);
}

Test(http_baggage, propagators_tracecontext_only_leaves_baggage_out)
{
	reinit("tracecontext");
	baton_baggage_set("user", "x", NULL);
	tu_http_req got = call();
	cr_assert(got.has_traceparent);
	cr_assert_not(got.has_baggage, "sent %s", got.baggage);
	baton_http_header h[] = {{"traceparent", GOOD}, {"baggage", "user=bob"}};
	baton_http_server_request req = {
	    .method = "GET", .target = "/x", .headers = h, .nheaders = 2};
	uint32_t tok;
	baton_span s = baton_http_server_begin(baton_tracer_get("t", NULL), &req, &tok);
	cr_assert_null(baton_baggage_get("user", NULL),
	               "the request's baggage is not read (and the thread's is hidden)");
	baton_span_detach(tok);
	baton_http_server_span_end(s, 200);
}

Test(http_baggage, propagators_baggage_only_leaves_trace_context_out)
{
	reinit("baggage");
	baton_baggage_set("user", "x", NULL);
	tu_http_req got = call();
	cr_assert_not(got.has_traceparent, "sent %s", got.traceparent);
	cr_assert(got.has_baggage);
	cr_assert_str_eq(got.baggage, "user=x");
	baton_http_header h[] = {{"traceparent", GOOD}, {"baggage", "user=bob"}};
	baton_http_server_request req = {
	    .method = "GET", .target = "/x", .headers = h, .nheaders = 2};
	uint32_t tok;
	baton_span s = baton_http_server_begin(baton_tracer_get("t", NULL), &req, &tok);
	baton_span_context sc;
	baton_span_get_context(s, &sc);
	uint8_t tid[16];
	tu_hex(TID, tid, 16);
	cr_assert(memcmp(sc.trace_id, tid, 16) != 0,
	          "traceparent is not read: a new trace");
	cr_assert_str_eq(baton_baggage_get("user", NULL), "bob");
	baton_span_detach(tok);
	baton_http_server_span_end(s, 200);
}
