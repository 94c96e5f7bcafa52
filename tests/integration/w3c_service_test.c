/*
 * The W3C trace-context test service (build/bin/w3c_service) against the
 * spec's traceparent and tracestate rules: each test posts to its /test
 * endpoint with the headers under test and checks the headers of the calls
 * it makes to a local receiver. Everything runs on 127.0.0.1.
 */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_receiver.h"
#include "testutil.h"

#define TID "12345678901234567890123456789012"
#define PID "1234567890123456"
#define TP  "00-" TID "-" PID "-01"
#define TP0 "00-" TID "-" PID "-00"

static tu_http_receiver *recv_srv;
static pid_t svc_pid;
static int svc_port;

static void start_service_with(const char *opt, const char *val)
{
	char bin[512];
	tu_bin("w3c_service", bin, sizeof(bin));
	if (access(bin, X_OK) != 0)
		cr_skip_test("%s is not built (configure with BATON_BUILD_EXAMPLES=ON)",
		             bin);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	svc_pid = fork();
	cr_assert_geq(svc_pid, 0);
	if (svc_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(bin, bin, "--port", "0", opt, val, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	char line[256] = "";
	cr_assert_not_null(fgets(line, sizeof(line), f), "the service printed nothing");
	fclose(f);
	cr_assert_eq(sscanf(line, "listening on http://127.0.0.1:%d/test", &svc_port), 1,
	             "%s", line);
}

static void start_service(void)
{
	start_service_with(NULL, NULL);
}

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	recv_srv = tu_receiver_start(200);
	start_service();
}

static void teardown(void)
{
	if (svc_pid > 0) {
		kill(svc_pid, SIGTERM);
		int st;
		waitpid(svc_pid, &st, 0);
		svc_pid = 0;
	}
	tu_receiver_stop(recv_srv);
	curl_global_cleanup();
}

TestSuite(w3c_service, .init = setup, .fini = teardown, .timeout = 60);

typedef struct reply {
	long status;
	bool has_content_length;
} reply;

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	reply *r = arg;
	if (sz * n >= 15 && strncasecmp(p, "Content-Length:", 15) == 0)
		r->has_content_length = true;
	return sz * n;
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* Posts body to the service's /test with the given raw header lines (NULL-ended). */
static reply post_raw(const char *const *lines, const char *body)
{
	reply r = {0};
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/test", svc_port);
	CURL *e = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	for (size_t i = 0; lines != NULL && lines[i] != NULL; i++)
		h = curl_slist_append(h, lines[i]);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	CURLcode rc = curl_easy_perform(e);
	cr_assert_eq(rc, CURLE_OK, "%s", curl_easy_strerror(rc));
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return r;
}

/* Posts with header lines, asking for `calls` callbacks; returns the first callback. */
static tu_http_req request(const char *const *lines, size_t calls)
{
	char body[2048];
	size_t w = (size_t)snprintf(body, sizeof(body), "[");
	for (size_t i = 0; i < calls; i++)
		w += (size_t)snprintf(
		    body + w, sizeof(body) - w,
		    "%s{\"url\": \"http://127.0.0.1:%d/cb/%zu\", \"arguments\": "
		    "[{\"n\": %zu}]}",
		    i ? "," : "", tu_receiver_port(recv_srv), i, i);
	snprintf(body + w, sizeof(body) - w, "]");
	tu_receiver_clear(recv_srv);
	reply r = post_raw(lines, body);
	cr_assert_eq(r.status, 200);
	cr_assert(r.has_content_length, "the answer carries Content-Length");
	cr_assert_eq(tu_receiver_wait(recv_srv, calls, 10000), calls);
	tu_http_req got;
	memset(&got, 0, sizeof(got));
	if (calls > 0)
		cr_assert(tu_receiver_get(recv_srv, 0, &got));
	return got;
}

/* The context a callback carried: asserts a single, valid version-00 traceparent. */
static baton_span_context sent_context(const tu_http_req *got)
{
	cr_assert(got->has_traceparent, "no traceparent sent");
	cr_assert_eq(strlen(got->traceparent), 55, "one version-00 traceparent: '%s'",
	             got->traceparent);
	cr_assert(strncmp(got->traceparent, "00-", 3) == 0);
	baton_span_context c;
	cr_assert_eq(baton_traceparent_parse(got->traceparent, 55, &c), BATON_OK, "%s",
	             got->traceparent);
	return c;
}

static bool same_trace(const baton_span_context *c, const char *tid_hex)
{
	uint8_t tid[16];
	tu_hex(tid_hex, tid, 16);
	return memcmp(c->trace_id, tid, 16) == 0;
}

/* Parses what was sent as tracestate (empty when none). */
static baton_tracestate sent_tracestate(const tu_http_req *got, char *buf, size_t cap)
{
	baton_tracestate ts;
	baton_tracestate_init(&ts, buf, cap);
	if (got->has_tracestate)
		cr_assert_eq(
		    baton_tracestate_parse(&ts, got->tracestate, strlen(got->tracestate)),
		    BATON_OK, "sent an invalid tracestate '%s'", got->tracestate);
	return ts;
}

static const char *ts_val(const baton_tracestate *ts, const char *key)
{
	static char out[300];
	size_t n;
	const char *v = baton_tracestate_get(ts, key, &n);
	if (v == NULL)
		return "(absent)";
	snprintf(out, sizeof(out), "%.*s", (int)n, v);
	return out;
}

/* Sends traceparent value v and expects a new trace and no tracestate. */
static void expect_restart(const char *v)
{
	char line[512];
	snprintf(line, sizeof(line), "traceparent: %s", v);
	const char *h[] = {line, "tracestate: foo=1", NULL};
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert_not(same_trace(&c, TID), "'%s' was accepted", v);
	cr_assert(!got.has_tracestate || strstr(got.tracestate, "foo=1") == NULL,
	          "tracestate of an invalid traceparent propagated: %s", got.tracestate);
}

Test(w3c_service, without_headers_a_valid_traceparent_is_sent)
{
	tu_http_req got = request(NULL, 1);
	baton_span_context c = sent_context(&got);
	cr_assert(baton_span_context_is_valid(&c));
	cr_assert_str_eq(got.method, "POST");
	cr_assert_str_eq(got.uri, "/cb/0");
	cr_assert_str_eq(got.content_type, "application/json");
	cr_assert_str_eq(got.body, "[{\"n\":0}]", "the arguments are the body");
	cr_assert(c.trace_flags & BATON_FLAG_RANDOM, "our own trace ids are random");
}

Test(w3c_service, valid_traceparent_keeps_the_trace_with_a_new_parent_id)
{
	const char *h[] = {"traceparent: " TP, NULL};
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert(same_trace(&c, TID));
	uint8_t pid[8];
	tu_hex(PID, pid, 8);
	cr_assert(memcmp(c.span_id, pid, 8) != 0, "parent id must change");
	cr_assert(baton_span_context_is_sampled(&c), "sampled decision kept");
}

Test(w3c_service, each_call_gets_its_own_parent_id)
{
	const char *h[] = {"traceparent: " TP, NULL};
	request(h, 3);
	uint8_t ids[3][8];
	for (size_t i = 0; i < 3; i++) {
		tu_http_req got;
		cr_assert(tu_receiver_get(recv_srv, i, &got));
		baton_span_context c = sent_context(&got);
		cr_assert(same_trace(&c, TID));
		memcpy(ids[i], c.span_id, 8);
	}
	cr_assert(memcmp(ids[0], ids[1], 8) != 0 && memcmp(ids[1], ids[2], 8) != 0 &&
	          memcmp(ids[0], ids[2], 8) != 0);
}

Test(w3c_service, calls_without_a_valid_parent_share_one_new_trace)
{
	const char *h[] = {"traceparent: 00-00000000000000000000000000000000-" PID "-01",
	                   NULL};
	request(h, 3);
	baton_span_context c[3];
	for (size_t i = 0; i < 3; i++) {
		tu_http_req got;
		cr_assert(tu_receiver_get(recv_srv, i, &got));
		c[i] = sent_context(&got);
	}
	cr_assert(memcmp(c[0].trace_id, c[1].trace_id, 16) == 0);
	cr_assert(memcmp(c[0].span_id, c[1].span_id, 8) != 0);
	cr_assert(memcmp(c[1].span_id, c[2].span_id, 8) != 0);
}

Test(w3c_service, not_sampled_decision_is_kept)
{
	const char *h[] = {"traceparent: " TP0, NULL};
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert(same_trace(&c, TID));
	cr_assert_not(baton_span_context_is_sampled(&c));
}

Test(w3c_service, random_flag_is_kept_and_not_invented)
{
	const char *h[] = {"traceparent: 00-" TID "-" PID "-03", NULL};
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM);
	const char *h2[] = {"traceparent: 00-" TID "-" PID "-01", NULL};
	got = request(h2, 1);
	c = sent_context(&got);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED,
	             "a caller's id is not known to be random");
}

Test(w3c_service, header_names_are_matched_in_any_case)
{
	static const char *const names[] = {"TraceParent", "TrAcEpArEnT", "TRACEPARENT"};
	for (size_t i = 0; i < 3; i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s: %s", names[i], TP);
		const char *h[] = {line, NULL};
		tu_http_req got = request(h, 1);
		baton_span_context c = sent_context(&got);
		cr_assert(same_trace(&c, TID), "%s", names[i]);
	}
	const char *ts[] = {"traceparent: " TP0, "TrAcEsTaTe: foo=1", NULL};
	tu_http_req got = request(ts, 1);
	char buf[1024];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "1");
}

Test(w3c_service, wrong_header_names_are_not_trace_context)
{
	const char *h1[] = {"trace-parent: " TP, NULL};
	tu_http_req got = request(h1, 1);
	baton_span_context c = sent_context(&got);
	cr_assert_not(same_trace(&c, TID));
	const char *h2[] = {"traceparent: " TP0, "trace-state: foo=1", NULL};
	got = request(h2, 1);
	char buf[1024];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "(absent)");
}

Test(w3c_service, duplicated_traceparent_starts_a_new_trace)
{
	const char *h[] = {"traceparent: 00-12345678901234567890123456789011-" PID "-01",
	                   "traceparent: " TP, NULL};
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert_not(same_trace(&c, TID));
	cr_assert_not(same_trace(&c, "12345678901234567890123456789011"));
}

/*
 * Header whitespace: spaces and tabs around values. NNG 1.5's HTTP server,
 * which the service used before libmicrohttpd, closed the connection on a
 * header value with a tab in it.
 */
Test(w3c_service, padded_traceparent_is_accepted)
{
	static const char *const lines[] = {
	    "traceparent:  " TP,  "traceparent: " TP " ",  "traceparent:    " TP "   ",
	    "traceparent: \t" TP, "traceparent: " TP "\t", "traceparent: \t " TP " \t"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *h[] = {lines[i], NULL};
		tu_http_req got = request(h, 1);
		baton_span_context c = sent_context(&got);
		cr_assert(same_trace(&c, TID), "'%s'", lines[i]);
	}
}

Test(w3c_service, tracestate_with_tabs_around_members_is_kept)
{
	static const char *const lines[] = {
	    "tracestate: foo=1 \t , \t bar=2, \t baz=3",
	    "tracestate: foo=1\t \t,\t \tbar=2,\t \tbaz=3",
	    "tracestate: \t foo=1,bar=2,baz=3 \t"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *h[] = {"traceparent: " TP0, lines[i], NULL};
		tu_http_req got = request(h, 1);
		char buf[1024];
		baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
		cr_assert_str_eq(ts_val(&st, "foo"), "1", "%s", lines[i]);
		cr_assert_str_eq(ts_val(&st, "bar"), "2", "%s", lines[i]);
		cr_assert_str_eq(ts_val(&st, "baz"), "3", "%s", lines[i]);
	}
}

/* The request's baggage is the current baggage while the calls are made. */
Test(w3c_service, baggage_is_passed_on_to_the_calls)
{
	const char *h[] = {"traceparent: " TP,
	                   "baggage: user=alice%20smith, tenant = t-1",
	                   "Baggage: ttl=3;p", NULL};
	tu_http_req got = request(h, 2);
	cr_assert(got.has_baggage);
	cr_assert_str_eq(got.baggage, "user=alice%20smith,tenant=t-1,ttl=3;p");
	tu_http_req second;
	cr_assert(tu_receiver_get(recv_srv, 1, &second));
	cr_assert_str_eq(second.baggage, got.baggage);
	const char *none[] = {"traceparent: " TP, NULL};
	got = request(none, 1);
	cr_assert_not(got.has_baggage, "sent '%s'", got.baggage);
}

Test(w3c_service, malformed_traceparents_start_a_new_trace)
{
	static const char *const bad[] = {
	    "00-" TID "-" PID "-01.",
	    "00-" TID "-" PID "-01-what-the-future-will-be-like",
	    "ff-" TID "-" PID "-01",
	    ".0-" TID "-" PID "-01",
	    "0.-" TID "-" PID "-01",
	    "000-" TID "-" PID "-01",
	    "0-" TID "-" PID "-01",
	    "00-00000000000000000000000000000000-" PID "-01",
	    "00-.2345678901234567890123456789012-" PID "-01",
	    "00-" TID "3-" PID "-01",
	    "00-1234567890123456789012345678901-" PID "-01",
	    "00-" TID "-0000000000000000-01",
	    "00-" TID "-.234567890123456-01",
	    "00-" TID "-12345678901234567-01",
	    "00-" TID "-123456789012345-01",
	    "00-" TID "-" PID "-.0",
	    "00-" TID "-" PID "-001",
	    "00-" TID "-" PID "-1",
	    "00-ABCDEF78901234567890123456789012-" PID "-01",
	    "cc-" TID "-" PID "-01.what-the-future-will-be-like",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_restart(bad[i]);
}

Test(w3c_service, future_version_is_read_as_00_and_sent_as_00)
{
	static const char *const ok[] = {"cc-" TID "-" PID "-01",
	                                 "cc-" TID "-" PID
	                                 "-01-what-the-future-will-be-like"};
	for (size_t i = 0; i < 2; i++) {
		char line[256];
		snprintf(line, sizeof(line), "traceparent: %s", ok[i]);
		const char *h[] = {line, NULL};
		tu_http_req got = request(h, 1);
		baton_span_context c =
		    sent_context(&got); /* asserts "00-" and 55 chars */
		cr_assert(same_trace(&c, TID), "%s", ok[i]);
	}
}

Test(w3c_service, tracestate_is_inherited_and_discarded_without_traceparent)
{
	const char *h[] = {"traceparent: " TP0, "tracestate: foo=1,bar=2", NULL};
	tu_http_req got = request(h, 1);
	char buf[1024];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "1");
	cr_assert_str_eq(ts_val(&st, "bar"), "2");
	const char *h2[] = {"tracestate: foo=1,bar=2", NULL};
	got = request(h2, 1);
	st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "(absent)");
}

Test(w3c_service, multiple_tracestate_headers_are_combined_in_order)
{
	const char *h[] = {"traceparent: " TP0, "tracestate: foo=1,bar=2",
	                   "tracestate: rojo=1,congo=2", "tracestate: baz=3", NULL};
	tu_http_req got = request(h, 1);
	const char *s = got.tracestate;
	const char *order[] = {"foo=1", "bar=2", "rojo=1", "congo=2", "baz=3"};
	const char *prev = s;
	for (size_t i = 0; i < 5; i++) {
		const char *p = strstr(s, order[i]);
		cr_assert_not_null(p, "%s missing in %s", order[i], s);
		cr_assert_geq(p, prev, "%s out of order in %s", order[i], s);
		prev = p;
	}
}

Test(w3c_service, empty_tracestate_headers_are_tolerated)
{
	const char *h1[] = {"traceparent: " TP0, "tracestate;", NULL};
	tu_http_req got = request(h1, 1);
	baton_span_context c = sent_context(&got);
	cr_assert(same_trace(&c, TID));
	cr_assert(!got.has_tracestate || got.tracestate[0] != '\0',
	          "empty tracestate not sent");
	const char *h2[] = {"traceparent: " TP0, "tracestate: foo=1", "tracestate;",
	                    NULL};
	got = request(h2, 1);
	char buf[1024];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "1");
	const char *h3[] = {"traceparent: " TP0, "tracestate;", "tracestate: foo=1",
	                    NULL};
	got = request(h3, 1);
	st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "1");
}

Test(w3c_service, tracestate_whitespace_and_all_allowed_characters)
{
	const char *h[] = {"traceparent: " TP0, "tracestate:  foo=1  ,  bar=2, ,  baz=3 ",
	                   NULL};
	tu_http_req got = request(h, 1);
	char buf[1024];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "1");
	cr_assert_str_eq(ts_val(&st, "bar"), "2");
	cr_assert_str_eq(ts_val(&st, "baz"), "3");
	/* every key character, tenant@system form, every value character */
	char value[128];
	size_t w = 0;
	for (int ch = 0x20; ch <= 0x7e; ch++) {
		if (ch != ',' && ch != '=')
			value[w++] = (char)ch;
	}
	value[w] = '\0';
	const char *keys[] = {"abcdefghijklmnopqrstuvwxyz0123456789_-*/",
	                      "abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/"};
	for (size_t i = 0; i < 2; i++) {
		char line[512];
		snprintf(line, sizeof(line), "tracestate: %s=%s", keys[i], value);
		const char *h2[] = {"traceparent: " TP0, line, NULL};
		got = request(h2, 1);
		st = sent_tracestate(&got, buf, sizeof(buf));
		cr_assert_str_eq(ts_val(&st, keys[i]), value, "%s", got.tracestate);
	}
}

static void expect_ts_dropped(const char *const *lines, const char *key)
{
	const char *h[8] = {"traceparent: " TP0};
	size_t n = 1;
	for (; lines[n - 1] != NULL; n++)
		h[n] = lines[n - 1];
	h[n] = NULL;
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert(same_trace(&c, TID), "the traceparent is kept");
	char buf[1024];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, key), "(absent)", "'%s' kept from %s", key,
	                 lines[0]);
	/* nothing else was there (and an unsampled trace adds no ot): nothing is sent */
	cr_assert(!got.has_tracestate || got.tracestate[0] == '\0', "sent '%s'",
	          got.tracestate);
}

Test(w3c_service, invalid_tracestate_is_dropped_and_traceparent_kept)
{
	const char *k1[] = {"tracestate: foo =1", NULL};
	const char *k2[] = {"tracestate: FOO=1", NULL};
	const char *k3[] = {"tracestate: foo.bar=1", NULL};
	const char *v1[] = {"tracestate: foo=bar=baz", NULL};
	const char *v2[] = {"tracestate: foo=,bar=3", NULL};
	const char *t2[] = {"tracestate: @foo=1,bar=2", NULL};
	expect_ts_dropped(k1, "foo");
	expect_ts_dropped(k2, "FOO");
	expect_ts_dropped(k3, "foo.bar");
	expect_ts_dropped(v1, "foo");
	expect_ts_dropped(v2, "bar");
	expect_ts_dropped(t2, "bar");
}

/* Expects the tracestate sent for the lines to hold key = value (and other = ov). */
static void expect_ts_kept(const char *line1, const char *line2, const char *key,
                           const char *value, const char *other, const char *ov)
{
	const char *h[] = {"traceparent: " TP0, line1, line2, NULL};
	tu_http_req got = request(h, 1);
	baton_span_context c = sent_context(&got);
	cr_assert(same_trace(&c, TID), "the traceparent is kept");
	char buf[2048];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, key), value, "%s %s -> %s", line1,
	                 line2 ? line2 : "", got.tracestate);
	if (other != NULL)
		cr_assert_str_eq(ts_val(&st, other), ov, "%s", got.tracestate);
}

/*
 * Trace Context Level 2: '@' is a key character anywhere but first, and a
 * repeated key keeps a value instead of dropping the header.
 */
Test(w3c_service, level2_keys_and_duplicate_keys_are_kept)
{
	expect_ts_kept("tracestate: foo@=1,bar=2", NULL, "foo@", "1", "bar", "2");
	expect_ts_kept("tracestate: foo@@bar=1,bar=2", NULL, "foo@@bar", "1", "bar", "2");
	expect_ts_kept("tracestate: foo@bar@baz=1,bar=2", NULL, "foo@bar@baz", "1", "bar",
	               "2");
	expect_ts_kept("tracestate: foo=1,foo=1", NULL, "foo", "1", NULL, NULL);
	expect_ts_kept("tracestate: foo=1,foo=2", NULL, "foo", "1", NULL, NULL);
	expect_ts_kept("tracestate: foo=1", "tracestate: foo=2", "foo", "1", NULL, NULL);
}

Test(w3c_service, tracestate_key_length_limits)
{
	char k256[300], k257[300], t241[300], t242[300], v15[300];
	snprintf(k256, sizeof(k256), "tracestate: ");
	memset(k256 + 12, 'z', 256);
	strcpy(k256 + 12 + 256, "=1");
	snprintf(k257, sizeof(k257), "tracestate: ");
	memset(k257 + 12, 'z', 257);
	strcpy(k257 + 12 + 257, "=1");
	const char *ok1[] = {"traceparent: " TP0, "tracestate: foo=1", k256, NULL};
	tu_http_req got = request(ok1, 1);
	char buf[2048];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_str_eq(ts_val(&st, "foo"), "1");
	const char *bad1[] = {"tracestate: foo=1", k257, NULL};
	expect_ts_dropped(bad1, "foo");
	/* keys with '@' have the same 256-character limit (no tenant/system split) */
	snprintf(t241, sizeof(t241), "tracestate: ");
	memset(t241 + 12, 't', 241);
	t241[12 + 241] = '@';
	memset(t241 + 12 + 242, 'v', 14);
	strcpy(t241 + 12 + 256, "=1");
	char key[300];
	snprintf(key, sizeof(key), "%.*s", 256, t241 + 12);
	expect_ts_kept("tracestate: foo=1", t241, key, "1", "foo", "1");
	snprintf(t242, sizeof(t242), "tracestate: ");
	memset(t242 + 12, 't', 242);
	strcpy(t242 + 12 + 242, "@v=1");
	snprintf(key, sizeof(key), "%.*s", 244, t242 + 12);
	expect_ts_kept("tracestate: foo=1", t242, key, "1", "foo", "1");
	snprintf(v15, sizeof(v15), "tracestate: t@%.*s=1", 15, "vvvvvvvvvvvvvvv");
	expect_ts_kept("tracestate: foo=1", v15, "t@vvvvvvvvvvvvvvv", "1", "foo", "1");
	/* 257 characters with an '@' among them: too long, dropped */
	char k257at[300];
	snprintf(k257at, sizeof(k257at), "tracestate: ");
	memset(k257at + 12, 't', 257);
	k257at[12 + 100] = '@';
	strcpy(k257at + 12 + 257, "=1");
	const char *bad2[] = {"tracestate: foo=1", k257at, NULL};
	expect_ts_dropped(bad2, "foo");
}

Test(w3c_service, thirty_two_members_pass_thirty_three_are_dropped)
{
	char l[4][256];
	int k = 1;
	for (int i = 0; i < 4; i++) {
		size_t w = (size_t)snprintf(l[i], sizeof(l[i]), "tracestate: ");
		for (int j = 0; j < (i < 3 ? 10 : 2); j++, k++)
			w += (size_t)snprintf(l[i] + w, sizeof(l[i]) - w,
			                      "%sbar%02d=%02d", j ? "," : "", k, k);
	}
	const char *h[] = {"traceparent: " TP0, l[0], l[1], l[2], l[3], NULL};
	tu_http_req got = request(h, 1);
	char buf[2048];
	baton_tracestate st = sent_tracestate(&got, buf, sizeof(buf));
	cr_assert_eq(baton_tracestate_count(&st), 32, "%s", got.tracestate);
	cr_assert_str_eq(ts_val(&st, "bar01"), "01");
	strcat(l[3], ",bar33=33");
	const char *h33[] = {l[0], l[1], l[2], l[3], NULL};
	expect_ts_dropped(h33, "bar01");
}

Test(w3c_service, ot_threshold_is_carried_in_front)
{
	/* sampled, randomness ffff.. passes th:8 */
	const char *h[] = {"traceparent: 00-1234567890123456ffffffffffffffff-" PID "-03",
	                   "tracestate: rojo=1,ot=th:8", NULL};
	tu_http_req got = request(h, 1);
	cr_assert(strncmp(got.tracestate, "ot=th:8,", 8) == 0, "%s", got.tracestate);
	cr_assert_not_null(strstr(got.tracestate, "rojo=1"));
	/* a sampled parent without ot gets none invented */
	const char *h2[] = {"traceparent: " TP, "tracestate: rojo=1", NULL};
	got = request(h2, 1);
	cr_assert_str_eq(got.tracestate, "rojo=1");
}

Test(w3c_service, bad_json_gets_400_with_content_length)
{
	static const char *const bodies[] = {"not json", "{\"url\": 1}",
	                                     "[{\"arguments\": []}]", "[1]"};
	for (size_t i = 0; i < 4; i++) {
		tu_receiver_clear(recv_srv);
		reply r = post_raw(NULL, bodies[i]);
		cr_assert_eq(r.status, 400, "%s", bodies[i]);
		cr_assert(r.has_content_length);
	}
	reply r = post_raw(NULL, "[]");
	cr_assert_eq(r.status, 200);
	cr_assert(r.has_content_length,
	          "an answer with no calls still has Content-Length");
}

/* ---- the service as a relay: what it calls, and for how long ---- */

/* A TCP socket listening on 127.0.0.1 that never accepts; its port in *port. */
static int silent_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* True when a connection is waiting on the listening fd within ms. */
static bool connection_waiting(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) > 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Any libcurl protocol used to be followed: a gopher:// URL wrote raw
 * bytes to a local TCP port. Only http:// URLs are called now; one that is
 * not fails the request with 400 before any call (the http one listed
 * first is not made either) and nothing reaches the port.
 */
Test(w3c_service, only_http_urls_are_called)
{
	int port;
	int fd = silent_listener(&port);
	char body[4096];
	static const char *const targets[] = {
	    "gopher://127.0.0.1:%d/_SET%%20key%%20value%%0d%%0a",
	    "dict://127.0.0.1:%d/info",
	    "ftp://127.0.0.1:%d/x",
	    "telnet://127.0.0.1:%d",
	    "https://127.0.0.1:%d/",
	    "file:///etc/passwd#%d",
	    "127.0.0.1:%d/no-scheme",
	    "http://:%d/no-host",
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char url[256];
		snprintf(url, sizeof(url), targets[i], port);
		snprintf(
		    body, sizeof(body),
		    "[{\"url\": \"http://127.0.0.1:%d/cb/first\", \"arguments\": []},"
		    " {\"url\": \"%s\", \"arguments\": [\"x\"]}]",
		    tu_receiver_port(recv_srv), url);
		tu_receiver_clear(recv_srv);
		reply r = post_raw(NULL, body);
		cr_assert_eq(r.status, 400, "%s was not refused", url);
		cr_assert(r.has_content_length);
		cr_assert_eq(tu_receiver_wait(recv_srv, 1, 200), 0,
		             "a call was made for a request with %s", url);
		cr_assert(!connection_waiting(fd, 100), "%s reached the local port", url);
	}
	close(fd);
	/* More than 64 calls: refused whole. */
	size_t w = (size_t)snprintf(body, sizeof(body), "[");
	for (int i = 0; i < 65; i++)
		w += (size_t)snprintf(body + w, sizeof(body) - w,
		                      "%s{\"url\":\"http://a\"}", i ? "," : "");
	snprintf(body + w, sizeof(body) - w, "]");
	cr_assert_eq(post_raw(NULL, body).status, 400);
}

static void setup_bounded(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	recv_srv = tu_receiver_start(200);
	start_service_with("--call-timeout-ms", "500");
}

TestSuite(w3c_service_bounds, .init = setup_bounded, .fini = teardown, .timeout = 60);

/*
 * A peer that never answers: one call returns after the call bound
 * (500 ms here), and a request of 20 such calls after three of them
 * (1.5 s) with 504, not after 20 x 500 ms (or 64 x 5 s before).
 */
Test(w3c_service_bounds, a_peer_that_never_answers_costs_the_bound_only)
{
	int port;
	int fd = silent_listener(&port);
	char body[4096];
	snprintf(body, sizeof(body), "[{\"url\": \"http://127.0.0.1:%d/hang\"}]", port);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	reply r = post_raw(NULL, body);
	double took = seconds_since(&t0);
	cr_assert_eq(r.status, 200, "the call failed, the request did not");
	cr_assert(took >= 0.4 && took < 2.0, "one hanging call took %.2f s", took);

	size_t w = (size_t)snprintf(body, sizeof(body), "[");
	for (int i = 0; i < 20; i++)
		w += (size_t)snprintf(body + w, sizeof(body) - w,
		                      "%s{\"url\": \"http://127.0.0.1:%d/hang/%d\"}",
		                      i ? "," : "", port, i);
	snprintf(body + w, sizeof(body) - w, "]");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = post_raw(NULL, body);
	took = seconds_since(&t0);
	cr_assert_eq(r.status, 504);
	cr_assert(r.has_content_length);
	cr_assert(took >= 1.4 && took < 3.5, "twenty hanging calls took %.2f s", took);
	close(fd);
	/* The service still serves. */
	tu_http_req got = request(NULL, 1);
	(void)got;
}
