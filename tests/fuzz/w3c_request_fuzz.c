/*
 * Fuzzes the request handling of examples/w3c_service without networking:
 * the trace-context headers of a POST /test, its JSON body listing the
 * URLs to call, and the setup of each call (libcurl handle and headers,
 * never performed). The input is "TRACEPARENT\nTRACESTATE\nBODY"; an empty
 * header line means the header is absent.
 *
 * Invariants: a parsed request never has more than W3C_MAX_CALLS calls,
 * and every URL it would call is http with a host (checked again here with
 * libcurl's parser); each call sets up, and the traceparent and tracestate
 * it would send are valid per baton's W3C parsers (version 00, the
 * request's trace id when the request had a valid one, at most 32
 * tracestate members), with no CR or LF in any header line.
 */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The example's request code, compiled in (the fuzz build has no examples). */
#include "../../examples/w3c_service/w3c_request.c"

static baton_tracer *tracer;

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static void init_once(void)
{
	if (tracer != NULL)
		return;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	baton_set_log(BATON_LOG_NONE, quiet, NULL);
	baton_options o = {.size = sizeof(o),
	                   .service_name = "w3c_service",
	                   .sampler = {&w3c_keep_parent_ops, NULL},
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
	tracer = baton_tracer_get("w3c_service", NULL);
}

/* The value of header line "name: value" in hdrs, or NULL. */
static const char *header(const struct curl_slist *hdrs, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;
	for (const struct curl_slist *h = hdrs; h != NULL; h = h->next) {
		if (strchr(h->data, '\r') != NULL || strchr(h->data, '\n') != NULL)
			abort(); /* a header line never breaks into two */
		if (strncasecmp(h->data, name, n) == 0 && h->data[n] == ':') {
			if (found != NULL)
				abort(); /* one line each */
			found = h->data + n + 1;
			while (*found == ' ')
				found++;
		}
	}
	return found;
}

static void check_call(const w3c_call *c, const baton_span_context *sctx, bool had_parent,
                       const baton_span_context *in)
{
	/* Never a non-http URL: judged again, independently of the parser. */
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	if (u == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    strcmp(scheme, "http") != 0 ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
		abort();
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	json_error_t jerr;
	json_t *args = json_loads(c->body, JSON_DECODE_ANY, &jerr);
	if (args == NULL)
		abort(); /* the body sent is JSON */
	json_decref(args);

	CURL *e = curl_easy_init();
	if (e == NULL)
		return;
	struct curl_slist *hdrs =
	    curl_slist_append(NULL, "Content-Type: application/json");
	baton_span span;
	if (w3c_call_setup(e, tracer, c, sctx, 1000, &hdrs, &span) != BATON_OK)
		abort();
	const char *tp = header(hdrs, "traceparent");
	const char *ts = header(hdrs, "tracestate");
	baton_span_context out;
	if (tp == NULL || baton_traceparent_parse(tp, strlen(tp), &out) != BATON_OK ||
	    strncmp(tp, "00-", 3) != 0)
		abort(); /* every call carries a valid version-00 traceparent */
	if (had_parent && memcmp(out.trace_id, in->trace_id, 16) != 0)
		abort(); /* and continues the request's trace */
	if (ts != NULL) {
		char buf[BATON_TRACESTATE_SIZE * 2];
		baton_tracestate st;
		baton_tracestate_init(&st, buf, sizeof(buf));
		if (baton_tracestate_parse(&st, ts, strlen(ts)) != BATON_OK ||
		    baton_tracestate_count(&st) > BATON_TRACESTATE_MAX_MEMBERS)
			abort();
	}
	baton_http_client_span_end(span, NULL, CURLE_OK);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	char *buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *tp = buf, *ts = NULL, *body = buf + size;
	char *nl = memchr(tp, '\n', size);
	if (nl != NULL) {
		*nl = '\0';
		ts = nl + 1;
		nl = memchr(ts, '\n', (size_t)(buf + size - ts));
		if (nl != NULL) {
			*nl = '\0';
			body = nl + 1;
		} else {
			body = buf + size;
		}
	}
	size_t blen = (size_t)(buf + size - body);
	const char *tph = tp[0] != '\0' ? tp : NULL;
	const char *tsh = ts != NULL && ts[0] != '\0' ? ts : NULL;

	baton_span server = w3c_server_span(tracer, "POST", "/test", tph, tsh, NULL);
	baton_span_context sctx;
	baton_span_get_context(server, &sctx);
	baton_span_context in;
	bool had_parent =
	    tph != NULL && baton_w3c_extract(tph, strlen(tph), tsh, tsh ? strlen(tsh) : 0,
	                                     &in, NULL, 0) == BATON_OK;

	w3c_request r;
	char err[128];
	if (w3c_request_parse(body, blen, &r, err, sizeof(err)) == 0) {
		if (r.ncalls > W3C_MAX_CALLS)
			abort();
		/* Every call is checked; setting up more than a few adds nothing. */
		for (size_t i = 0; i < r.ncalls; i++) {
			if (!w3c_url_allowed(r.calls[i].url))
				abort();
			if (i < 4)
				check_call(&r.calls[i], &sctx, had_parent, &in);
		}
		w3c_request_free(&r);
		baton_http_server_span_end(server, 200);
	} else {
		if (err[0] == '\0')
			abort(); /* a refusal says why */
		baton_http_server_span_end(server, 400);
	}
	free(buf);
	return 0;
}
