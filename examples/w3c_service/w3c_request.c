/* w3c_service's request parsing and call setup (see w3c_request.h). */
#include "w3c_request.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool w3c_url_allowed(const char *url)
{
	bool ok = false;
	char *scheme = NULL, *host = NULL;
	CURLU *u = curl_url();
	/* libcurl's parser: the URL is judged as libcurl will request it. */
	if (u != NULL && url != NULL &&
	    curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = strcmp(scheme, "http") == 0 && host[0] != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static void set_err(char *err, size_t errlen, const char *msg, size_t i)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, msg, i);
}

int w3c_request_parse(const void *body, size_t len, w3c_request *out, char *err,
                      size_t errlen)
{
	json_error_t jerr;
	w3c_request r = {0};
	json_t *root =
	    json_loadb(body != NULL ? body : "", body != NULL ? len : 0, 0, &jerr);
	r.doc = root;
	if (!json_is_array(root)) {
		set_err(err, errlen, "expected a JSON array of {url, arguments}", 0);
		goto fail;
	}
	size_t n = json_array_size(root);
	if (n > W3C_MAX_CALLS) {
		set_err(err, errlen, "more than %zu calls", W3C_MAX_CALLS);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *el = json_array_get(root, i);
		json_t *url = json_object_get(el, "url");
		if (!json_is_object(el) || !json_is_string(url) ||
		    strlen(json_string_value(url)) != json_string_length(url)) {
			set_err(err, errlen, "element %zu is not {url, arguments}", i);
			goto fail;
		}
		if (!w3c_url_allowed(json_string_value(url))) {
			set_err(err, errlen, "element %zu: only http:// URLs are called",
			        i);
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_t *el = json_array_get(root, i);
		json_t *args = json_object_get(el, "arguments");
		json_t *empty = args != NULL ? NULL : json_array();
		r.calls[i].url = json_string_value(json_object_get(el, "url"));
		r.calls[i].body = json_dumps(args != NULL ? args : empty,
		                             JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(empty);
		r.ncalls = i + 1;
		if (r.calls[i].body == NULL) {
			set_err(err, errlen, "out of memory at element %zu", i);
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	w3c_request_free(&r);
	return -1;
}

void w3c_request_free(w3c_request *r)
{
	for (size_t i = 0; i < r->ncalls; i++)
		free(r->calls[i].body);
	json_decref((json_t *)r->doc);
	memset(r, 0, sizeof(*r));
}

baton_span w3c_server_span(baton_tracer *tracer, const char *method, const char *target,
                           const char *traceparent, const char *tracestate,
                           const char *user_agent)
{
	baton_http_header hdrs[3];
	size_t nh = 0;
	if (traceparent != NULL)
		hdrs[nh++] = (baton_http_header){"traceparent", traceparent};
	if (tracestate != NULL)
		hdrs[nh++] = (baton_http_header){"tracestate", tracestate};
	if (user_agent != NULL)
		hdrs[nh++] = (baton_http_header){"User-Agent", user_agent};
	baton_http_server_request sreq = {
	    .method = method,
	    .target = target,
	    .route = "/test",
	    .headers = hdrs,
	    .nheaders = nh,
	};
	return baton_http_server_span_start(tracer, &sreq);
}

baton_span w3c_server_begin(baton_tracer *tracer, const char *method, const char *target,
                            const baton_http_header *hdrs, size_t n, uint32_t *token)
{
	baton_http_server_request sreq = {
	    .method = method,
	    .target = target,
	    .route = "/test",
	    .headers = hdrs,
	    .nheaders = n,
	};
	return baton_http_server_begin(tracer, &sreq, token);
}

baton_err w3c_call_setup(CURL *e, baton_tracer *tracer, const w3c_call *c,
                         const baton_span_context *parent, long timeout_ms,
                         struct curl_slist **hdrs, baton_span *span)
{
	if (!w3c_url_allowed(c->url) || timeout_ms <= 0)
		return BATON_EINVAL;
	baton_err rv =
	    baton_http_client_begin(e, tracer, "POST", c->url, parent, hdrs, span);
	if (rv != BATON_OK)
		return rv;
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
	/* http only, redirects too (and they are not followed): a relay must not
	 * write to gopher://, file:// or any other scheme's peers. */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return BATON_OK;
}

/* ---- the service's sampler: keep the parent's decision, 100% for new traces ---- */

static void keep_parent(void *arg, const baton_sampling_params *p,
                        baton_sampling_result *r)
{
	(void)arg;
	const baton_span_context *par = p->parent;
	if (par->state & (BATON_CTX_VALID | BATON_CTX_DECIDED)) {
		bool sampled = (par->trace_flags & BATON_FLAG_SAMPLED) != 0;
		r->decision =
		    sampled ? BATON_SAMPLING_RECORD_AND_SAMPLE : BATON_SAMPLING_DROP;
		/* Pass an upstream threshold on; do not invent one. */
		r->has_threshold = sampled && (par->state & BATON_CTX_HAS_TH);
		r->threshold = par->threshold;
	} else {
		r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE; /* a new trace: 100% */
		r->has_threshold = true;
		r->threshold = 0;
	}
}

const baton_sampler_ops w3c_keep_parent_ops = {sizeof(baton_sampler_ops), "keep_parent",
                                               keep_parent, NULL};
