/*
 * Fuzz target: the HTTP server span (baton_http_server_span_start / _end)
 * for a fuzzed request: line 1 the method, line 2 the target, then one
 * "name: value" header per line. Invariants: the span's parent is exactly
 * what baton_http_extract gives for the headers (or none); the span keeps
 * its name and http.response.status_code and drops no attribute, however
 * large what the peer sent; url.path is a non-empty prefix, cut between
 * characters, of the path sent as well-formed UTF-8; every string of the
 * span is well-formed UTF-8.
 */
#include <baton/baton.h>
#include <baton/http.h>
#include <baton/sdk.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
/* The span checks the tests use (a UTF-8 decoder independent of core's). */
#include "../testing/spancheck.c"

#define MAX_HDRS 80

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static const char *next_line(char **p)
{
	char *line = *p;
	if (line == NULL)
		return NULL;
	char *nl = strchr(line, '\n');
	if (nl != NULL)
		*nl = '\0';
	*p = nl != NULL ? nl + 1 : NULL;
	return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		baton_set_log(BATON_LOG_NONE, quiet, NULL);
		tu_held_init(baton_sampler_always_on(), NULL);
		ready = true;
	}
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *p = text;
	const char *method = next_line(&p);
	const char *target = next_line(&p);
	baton_http_header h[MAX_HDRS];
	size_t n = 0;
	const char *line;
	while (n < MAX_HDRS && (line = next_line(&p)) != NULL) {
		char *colon = strchr(line, ':');
		h[n].name = line;
		h[n].value = "";
		if (colon != NULL) {
			*colon = '\0';
			h[n].value = colon + 1 + (colon[1] == ' ');
		}
		n++;
	}
	int status = 100 + (int)(size % 500);
	baton_http_server_request req = {
	    .method = method,
	    .target = target,
	    .route = "/items/{id}",
	    .server_address = "example.org",
	    .server_port = 443,
	    .client_address = "192.0.2.1",
	    .client_port = 40000,
	    .headers = h,
	    .nheaders = n,
	};
	baton_span s = baton_http_server_span_start(baton_tracer_get("fuzz", NULL), &req);
	baton_http_server_span_end(s, status);

	const baton_span_data *d = tu_held();
	if (d == NULL || !tu_span_utf8_ok(d))
		abort();
	/* The parent is the extracted context, or none. */
	baton_span_context want;
	char ts[BATON_TRACESTATE_SIZE];
	bool has_parent = baton_http_extract(h, n, &want, ts, sizeof(ts)) == BATON_OK;
	if (has_parent != baton_span_context_is_valid(&d->parent) ||
	    (has_parent && (memcmp(d->parent.span_id, want.span_id, 8) != 0 ||
	                    memcmp(d->context.trace_id, want.trace_id, 16) != 0)))
		abort();
	/* The span keeps its name, its attributes and the status code. */
	static const char *const known[] = {"GET",    "HEAD",    "POST",    "PUT",
	                                    "DELETE", "CONNECT", "OPTIONS", "TRACE",
	                                    "PATCH",  "QUERY"};
	const char *base = "HTTP";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (method != NULL && strcmp(method, known[i]) == 0)
			base = known[i];
	}
	char name[64];
	strcpy(name, base);
	strcat(name, " /items/{id}");
	const baton_attr *code = baton_attr_find(d->attrs, "http.response.status_code");
	if (strcmp(d->name, name) != 0 || code == NULL || code->value.u.i != status ||
	    d->dropped_attrs != 0 || !tu_has_attr(d, "http.request.method") ||
	    !tu_has_attr(d, "server.address") || !tu_has_attr(d, "client.port"))
		abort();
	/* A maximal tracestate fits the remote share whole. */
	if (has_parent && want.tracestate != NULL &&
	    (d->context.tracestate == NULL ||
	     strcmp(d->context.tracestate, want.tracestate) != 0))
		abort();
	/* url.path: a non-empty prefix of the sent path as well-formed UTF-8. */
	size_t plen = target != NULL ? strcspn(target, "?") : 0;
	const char *path = tu_attr_str(d, "url.path");
	if (plen > 0) {
		size_t full = bt_utf8_sanitize(NULL, SIZE_MAX, target, plen, SIZE_MAX);
		char *clean = malloc(full + 1);
		if (clean == NULL)
			abort();
		bt_utf8_sanitize(clean, full, target, plen, SIZE_MAX);
		size_t pl = path != NULL ? strlen(path) : 0;
		if (pl == 0 || pl > full || memcmp(path, clean, pl) != 0)
			abort();
		free(clean);
	}
	free(text);
	return 0;
}
