/*
 * CLIENT and SERVER spans for HTTP with the OpenTelemetry HTTP semantic
 * conventions. Values a peer chooses (request target, user agent, Host,
 * an unknown method, URLs) are set with baton_span_set_remote_strn, so they
 * are cut to the span's remote share and never push out the span's name
 * or the attributes set here (http.response.status_code last of all).
 */
#include <baton/baggage.h>
#include <baton/http.h>

#include <baton/baton.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const bt_known_methods[] = {"GET",    "HEAD",    "POST",    "PUT",
                                               "DELETE", "CONNECT", "OPTIONS", "TRACE",
                                               "PATCH",  "QUERY"};

/* The method as the conventions want it: a known one, or "_OTHER". */
static const char *bt_method(const char *m)
{
	if (m == NULL)
		return "_OTHER";
	for (size_t i = 0; i < sizeof(bt_known_methods) / sizeof(bt_known_methods[0]);
	     i++) {
		if (strcmp(m, bt_known_methods[i]) == 0)
			return bt_known_methods[i];
	}
	return "_OTHER";
}

static void bt_set_method(baton_span s, const char *method)
{
	const char *m = bt_method(method);
	baton_span_set_str(s, "http.request.method", m);
	if (strcmp(m, "_OTHER") == 0 && method != NULL)
		baton_span_set_remote_strn(s, "http.request.method_original", method,
		                           (size_t)-1);
}

/* Sets url.full, server.address and server.port from url. */
static void bt_set_url(baton_span s, const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *full = NULL, *part = NULL;
	if (u == NULL || url == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	/* Credentials never go into a span. */
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		curl_free(part);
		curl_url_set(u, CURLUPART_USER, "REDACTED", 0);
	}
	if (curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
		curl_free(part);
		curl_url_set(u, CURLUPART_PASSWORD, "REDACTED", 0);
	}
	if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK)
		baton_span_set_remote_strn(s, "url.full", full, (size_t)-1);
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		size_t n = strlen(host);
		if (n >= 2 && host[0] == '[' && host[n - 1] == ']') /* IPv6 literal */
			baton_span_set_strn(s, "server.address", host + 1, n - 2);
		else
			baton_span_set_str(s, "server.address", host);
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		baton_span_set_int(s, "server.port", strtol(port, NULL, 10));
out:
	curl_free(host);
	curl_free(port);
	curl_free(full);
	curl_url_cleanup(u);
}

baton_span baton_http_client_span_start(baton_tracer *tracer, const char *method,
                                        const char *url, const baton_span_context *parent)
{
	baton_span_start_opts o = {.parent = parent, .kind = BATON_SPAN_KIND_CLIENT};
	const char *m = bt_method(method);
	baton_span s =
	    baton_span_start_ex(tracer, strcmp(m, "_OTHER") == 0 ? "HTTP" : m, &o);
	if (!baton_span_is_recording(s))
		return s;
	bt_set_method(s, method);
	bt_set_url(s, url);
	return s;
}

baton_err baton_http_client_begin(CURL *easy, baton_tracer *tracer, const char *method,
                                  const char *url, const baton_span_context *parent,
                                  struct curl_slist **headers, baton_span *span_out)
{
	if (easy == NULL || method == NULL || url == NULL || headers == NULL ||
	    span_out == NULL)
		return BATON_EINVAL;
	baton_span s = baton_http_client_span_start(tracer, method, url, parent);
	baton_span_context sc;
	baton_span_get_context(s, &sc);
	/* No ids of our own (unsampled, ids not propagated): pass the parent on. */
	const baton_span_context *inj = baton_span_context_is_valid(&sc) ? &sc : parent;
	baton_err rv = baton_http_inject_curl(easy, inj, headers);
	if (rv != BATON_OK && rv != BATON_EINVAL) {
		baton_span_end(s);
		return rv;
	}
	/* EINVAL: nothing to propagate (no trace at all); the call still goes out
	 * with the caller's other headers. */
	if (rv == BATON_EINVAL && *headers != NULL)
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	*span_out = s;
	return BATON_OK;
}

/* A low-cardinality error.type for a curl failure. */
static const char *bt_curl_error_type(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_COULDNT_CONNECT:
		return "connection_failed";
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "name_resolution_failed";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return "tls_failed";
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return "connection_reset";
	default:
		return "_OTHER";
	}
}

static void bt_status_error(baton_span span, long status)
{
	char code[24];
	snprintf(code, sizeof(code), "%ld", status);
	baton_span_set_str(span, "error.type", code);
	baton_span_set_status(span, BATON_STATUS_ERROR, NULL);
}

void baton_http_client_span_end(baton_span span, CURL *easy, CURLcode result)
{
	if (!baton_span_is_recording(span)) {
		baton_span_end(span);
		return;
	}
	long status = 0;
	if (easy != NULL)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status > 0)
		baton_span_set_int(span, "http.response.status_code", status);
	if (result != CURLE_OK) {
		baton_span_set_str(span, "error.type", bt_curl_error_type(result));
		baton_span_set_status(span, BATON_STATUS_ERROR,
		                      curl_easy_strerror(result));
	} else if (status >= 400) {
		bt_status_error(span, status);
	}
	baton_span_end(span);
}

static const char *bt_header(const baton_http_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (h[i].name != NULL && strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	}
	return NULL;
}

baton_span baton_http_server_span_start(baton_tracer *tracer,
                                        const baton_http_server_request *req)
{
	char tsbuf[BATON_TRACESTATE_SIZE];
	char name[160];
	baton_span_context remote;
	if (req == NULL)
		return BATON_SPAN_NONE;
	baton_span_start_opts o = {.kind = BATON_SPAN_KIND_SERVER,
	                           .flags = BATON_START_NO_CURRENT};
	if (baton_http_extract(req->headers, req->nheaders, &remote, tsbuf,
	                       sizeof(tsbuf)) == BATON_OK)
		o.parent = &remote;
	const char *m = bt_method(req->method);
	const char *base = strcmp(m, "_OTHER") == 0 ? "HTTP" : m;
	if (req->route != NULL && req->route[0] != '\0')
		snprintf(name, sizeof(name), "%s %s", base, req->route);
	else
		snprintf(name, sizeof(name), "%s", base);
	/* The span copies the parent's tracestate before tsbuf goes away. */
	baton_span s = baton_span_start_ex(tracer, name, &o);
	if (!baton_span_is_recording(s))
		return s;
	bt_set_method(s, req->method);
	/* Remote values take half of what is left of the span's remote share
	 * each: the short ones first, the request target last. */
	if (req->server_address != NULL) /* usually the Host header */
		baton_span_set_remote_strn(s, "server.address", req->server_address,
		                           (size_t)-1);
	const char *ua = bt_header(req->headers, req->nheaders, "user-agent");
	if (ua != NULL)
		baton_span_set_remote_strn(s, "user_agent.original", ua, (size_t)-1);
	if (req->target != NULL) {
		const char *q = strchr(req->target, '?');
		size_t plen = q ? (size_t)(q - req->target) : strlen(req->target);
		baton_span_set_remote_strn(s, "url.path", req->target, plen);
		if (q != NULL && q[1] != '\0')
			baton_span_set_remote_strn(s, "url.query", q + 1, (size_t)-1);
	}
	baton_span_set_str(s, "url.scheme", req->scheme ? req->scheme : "http");
	if (req->route != NULL && req->route[0] != '\0')
		baton_span_set_str(s, "http.route", req->route);
	if (req->server_port > 0)
		baton_span_set_int(s, "server.port", req->server_port);
	if (req->client_address != NULL)
		baton_span_set_str(s, "client.address", req->client_address);
	if (req->client_port > 0)
		baton_span_set_int(s, "client.port", req->client_port);
	return s;
}

void baton_http_server_span_end(baton_span span, int status)
{
	if (status > 0)
		baton_span_set_int(span, "http.response.status_code", status);
	if (status >= 500)
		bt_status_error(span, status);
	baton_span_end(span);
}

baton_span baton_http_server_begin(baton_tracer *tracer,
                                   const baton_http_server_request *req, uint32_t *token)
{
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage bg;
	baton_span s = baton_http_server_span_start(tracer, req);
	if (token == NULL)
		return s;
	*token = baton_span_attach(s);
	if (*token == 0 || req == NULL)
		return s;
	/* The request's baggage and nothing else: a thread's leftover baggage
	 * never leaks into a request without one. */
	baton_baggage_init(&bg, buf, sizeof(buf));
	if (baton_http_extract_baggage(req->headers, req->nheaders, &bg) != BATON_OK)
		bg.count = 0;
	if (bg.count > 0 || baton_baggage_current_header(NULL) != NULL) {
		if (baton_baggage_attach(&bg) == 0) {
			/* Nesting too deep or no memory: attach nothing at all. */
			baton_span_detach(*token);
			*token = 0;
		}
	}
	return s;
}
