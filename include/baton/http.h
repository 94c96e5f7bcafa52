/*
 * baton/http.h: trace context across HTTP, through libcurl (baton::http).
 *
 * Outgoing requests: inject a context (a given one, or this thread's
 * current one) as traceparent / tracestate headers into a curl_slist or a
 * CURL easy handle, and wrap the request in a CLIENT span. Incoming
 * requests: extract the remote parent from the request's headers and run
 * the handler in a SERVER span. Attributes follow the OpenTelemetry HTTP
 * semantic conventions (http.request.method, url.full, server.address,
 * server.port, http.response.status_code, error.type, url.path, http.route,
 * client.address, user_agent.original).
 *
 * Header values follow the W3C rules of baton/w3c.h and baton/baggage.h:
 * names are matched in any case, repeated tracestate (and baggage) headers
 * are one list, a repeated traceparent is invalid, and an invalid
 * tracestate (or baggage) is dropped.
 *
 * OTEL_PROPAGATORS (baton_propagators()) chooses the headers: traceparent
 * and tracestate with "tracecontext", baggage with "baggage" (both by
 * default); what is switched off is neither written nor read.
 */
#ifndef BATON_HTTP_H
#define BATON_HTTP_H

#include <baton/baggage.h>
#include <baton/baton.h>
#include <baton/w3c.h>
#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One request header: NUL-terminated name and value, borrowed. */
typedef struct baton_http_header {
	const char *name;
	const char *value;
} baton_http_header;

/*
 * Puts traceparent and tracestate headers for ctx (NULL: this thread's
 * current context) and a baggage header with this thread's current
 * baggage (baton/baggage.h; also when ctx is given) into *headers,
 * replacing any entries of those names already there (matched in any
 * case; only of the propagators that are on). tracestate and baggage are
 * left out when empty; traceparent when the context has no ids. On
 * success *headers is a new list and the old one has been freed
 * (curl_slist_free_all); the caller frees the new one after the transfer.
 * On error *headers is unchanged. Returns BATON_OK, BATON_EINVAL when
 * there is nothing to send (no ids and no baggage, or the propagators are
 * off) or headers is NULL, BATON_ENOMEM when curl could not allocate.
 * Thread-safe for distinct lists.
 */
BATON_API baton_err baton_http_inject_slist(const baton_span_context *ctx,
                                            struct curl_slist **headers);

/*
 * As baton_http_inject_slist(), then sets the list on easy as
 * CURLOPT_HTTPHEADER. *headers (may start as NULL) must stay alive until
 * the transfer is done; the caller frees it with curl_slist_free_all().
 * Returns as baton_http_inject_slist, and BATON_EINVAL for a NULL easy.
 * Not thread-safe for one easy handle (curl's rule).
 */
BATON_API baton_err baton_http_inject_curl(CURL *easy, const baton_span_context *ctx,
                                           struct curl_slist **headers);

/*
 * Extracts the remote parent from incoming headers (n name/value pairs).
 * On success *out is the context (see baton_w3c_extract_lines) and
 * out->tracestate, when not NULL, points into ts_buf (ts_cap bytes;
 * BATON_TRACESTATE_SIZE holds any), which must outlive *out.
 * Returns BATON_OK; BATON_ENOENV when there is no traceparent header (or
 * the tracecontext propagator is off); BATON_EFORMAT when traceparent is
 * repeated; the parse error of an invalid traceparent; BATON_EINVAL for
 * NULL arguments. *out is untouched on error: start a new trace then. No
 * allocation. Thread-safe.
 */
BATON_API baton_err baton_http_extract(const baton_http_header *hdrs, size_t n,
                                       baton_span_context *out, char *ts_buf,
                                       size_t ts_cap);

/*
 * Extracts the baggage of incoming headers: every "baggage" header (any
 * case, in order) as one list, parsed into *out (initialised with its
 * buffer; BATON_BAGGAGE_BUF_SIZE holds any) by baton_baggage_parse_lines.
 * Returns BATON_OK; BATON_ENOENV when there is no baggage header or the
 * baggage propagator is off; BATON_EFORMAT when the baggage breaks the
 * grammar (drop it) or comes in more than 64 header lines; BATON_ENOSPACE;
 * BATON_EINVAL for NULL arguments. No allocation. Thread-safe.
 */
BATON_API baton_err baton_http_extract_baggage(const baton_http_header *hdrs, size_t n,
                                               baton_baggage *out);

/*
 * Starts a CLIENT span for an outgoing request, named after the method,
 * with http.request.method (unknown methods give "_OTHER" and
 * http.request.method_original), url.full (user and password replaced by
 * "REDACTED"), server.address and server.port (from the URL, the scheme's
 * default port when none is given). parent NULL: this thread's current
 * context. Returns the span (BATON_SPAN_NONE / non-recording handles as
 * baton_span_start_ex does). Thread-safe.
 */
BATON_API baton_span baton_http_client_span_start(baton_tracer *tracer,
                                                  const char *method, const char *url,
                                                  const baton_span_context *parent);

/*
 * The usual client sequence in one call: starts the CLIENT span as above,
 * injects its context into *headers (replacing old entries) and sets them
 * on easy as CURLOPT_HTTPHEADER, together with url and method
 * (CURLOPT_URL, CURLOPT_CUSTOMREQUEST unless GET or POST). When the span
 * has no ids (an unsampled trace without propagated ids) the parent
 * context is injected unchanged, so the trace still crosses the call.
 * *span_out gets the span; end it with baton_http_client_span_end().
 * *headers as in baton_http_inject_curl. Returns BATON_OK, BATON_EINVAL,
 * BATON_ENOMEM; on error no span is left open and *span_out is untouched.
 */
BATON_API baton_err baton_http_client_begin(CURL *easy, baton_tracer *tracer,
                                            const char *method, const char *url,
                                            const baton_span_context *parent,
                                            struct curl_slist **headers,
                                            baton_span *span_out);

/*
 * Ends a CLIENT span after curl_easy_perform() returned result: sets
 * http.response.status_code (from CURLINFO_RESPONSE_CODE) and, for a
 * status >= 400 or a transport error, error.type and status ERROR (4xx is
 * an error for a client, per the conventions; a transport error also gets
 * curl's message as description). easy may be NULL (status unknown).
 * One thread at a time per span.
 */
BATON_API void baton_http_client_span_end(baton_span span, CURL *easy, CURLcode result);

/* An incoming request, as a server span needs it. Zero what you do not know. */
typedef struct baton_http_server_request {
	const char *method; /* "GET", ... (required) */
	const char *target; /* request target: "/path?query" */
	const char *route;  /* http.route template, e.g. "/users/{id}"; may be NULL */
	const char *scheme; /* url.scheme; NULL: "http" */
	const char *server_address;       /* server.address; may be NULL */
	int server_port;                  /* server.port; 0: unknown */
	const char *client_address;       /* client.address; may be NULL */
	int client_port;                  /* client.port; 0: unknown */
	const baton_http_header *headers; /* all request headers (context, User-Agent) */
	size_t nheaders;
} baton_http_server_request;

/*
 * Starts a SERVER span for req: its parent is the context extracted from
 * req->headers, or none (a new trace) when they carry no valid
 * traceparent; this thread's current span is never the parent. Named
 * "{method} {route}" (or "{method}"), with http.request.method, url.path,
 * url.query, url.scheme, http.route, server.address, server.port,
 * client.address, client.port and user_agent.original when known.
 * The span copies the tracestate it needs. What the peer chose (target,
 * User-Agent, server address, tracestate, an unknown method) is cut,
 * between characters, to the span's share for remote values (see
 * baton/trace.h), so however large it is the span keeps its name and the
 * other attributes, http.response.status_code included. Thread-safe.
 */
BATON_API baton_span baton_http_server_span_start(baton_tracer *tracer,
                                                  const baton_http_server_request *req);

/*
 * baton_http_server_span_start() that also makes the request current on
 * this thread for the handler: the span is attached (baton_span_attach)
 * and, above it, the request's baggage (baton_http_extract_baggage; none
 * when absent or invalid, so baggage left on the thread never reaches the
 * request). *token gets the token to give to baton_span_detach() when the
 * handler is done, before baton_http_server_span_end(); 0 when nothing
 * could be attached (nesting too deep, out of memory). token NULL: only
 * the span is started. Returns the span. Call it on the handler's thread.
 */
BATON_API baton_span baton_http_server_begin(baton_tracer *tracer,
                                             const baton_http_server_request *req,
                                             uint32_t *token);

/*
 * Ends a SERVER span with http.response.status_code = status; a status
 * >= 500 sets error.type and status ERROR (4xx is not a server error).
 * status 0: unknown, not set. One thread at a time per span.
 */
BATON_API void baton_http_server_span_end(baton_span span, int status);

#ifdef __cplusplus
}
#endif

#endif /* BATON_HTTP_H */
