/*
 * What w3c_service reads from a POST /test and how it sets up each call it
 * makes, without any networking: the handler in w3c_service.c and the fuzz
 * target tests/fuzz/w3c_request_fuzz.c both use it.
 *
 * The service is a relay for the W3C test harness, so everything it is
 * asked to call is checked first: at most W3C_MAX_CALLS calls, each to an
 * http:// URL with a host (libcurl's URL parser decides), and libcurl is
 * told to speak http only, redirects included, within a time bound.
 */
#ifndef W3C_REQUEST_H
#define W3C_REQUEST_H

#include <baton/baton.h>
#include <baton/http.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

/* Calls made for one request at most. */
#define W3C_MAX_CALLS 64
/* Default time one call may take, connection included. */
#define W3C_CALL_TIMEOUT_MS 5000L
/* The calls of one request together take at most this many call timeouts. */
#define W3C_REQUEST_BUDGET_CALLS 3

typedef struct w3c_call {
	const char *url; /* points into the parsed document */
	char *body;      /* "arguments" as compact JSON, malloc'd */
} w3c_call;

typedef struct w3c_request {
	void *doc; /* the JSON document (json_t *) */
	size_t ncalls;
	w3c_call calls[W3C_MAX_CALLS];
} w3c_request;

/* True when url is one the service may call: http, with a host. */
bool w3c_url_allowed(const char *url);

/*
 * Parses a /test body of len bytes: a JSON array of at most W3C_MAX_CALLS
 * objects {"url": "<http URL>", "arguments": <any JSON, default []>}.
 * Returns 0 and fills *out (free with w3c_request_free), or -1 with a
 * reason in err (errlen bytes) and nothing to free; a URL that is not
 * allowed fails the whole request, before any call is made.
 */
int w3c_request_parse(const void *body, size_t len, w3c_request *out, char *err,
                      size_t errlen);
void w3c_request_free(w3c_request *r);

/*
 * Starts the SERVER span of a /test request from its trace-context
 * headers (each NULL when absent; repeated headers joined with ", ").
 */
baton_span w3c_server_span(baton_tracer *tracer, const char *method, const char *target,
                           const char *traceparent, const char *tracestate,
                           const char *user_agent);

/*
 * Starts the SERVER span of a /test request from all its header lines as
 * sent (n of them) and makes it current with the request's baggage
 * (baton_http_server_begin). *token: detach it after the calls, before
 * the span ends.
 */
baton_span w3c_server_begin(baton_tracer *tracer, const char *method, const char *target,
                            const baton_http_header *hdrs, size_t n, uint32_t *token);

/*
 * Sets up easy for one call: POST c->body to c->url in a CLIENT span under
 * parent, with the trace-context headers added to *hdrs, http only (also
 * for redirects, which are not followed), and timeout_ms for the whole
 * call, connection included. Returns BATON_OK with *span to end with
 * baton_http_client_span_end(), or an error (then no span is open).
 */
baton_err w3c_call_setup(CURL *easy, baton_tracer *tracer, const w3c_call *c,
                         const baton_span_context *parent, long timeout_ms,
                         struct curl_slist **hdrs, baton_span *span);

/* The service's sampler: a parent's decision is kept, a new trace is sampled at 100%. */
extern const baton_sampler_ops w3c_keep_parent_ops;

#endif /* W3C_REQUEST_H */
