/*
 * Fuzz target: baton_http_extract over a fuzzed set of request headers
 * (one "name: value" per line; a line without ':' is a name with an empty
 * value). Invariants: on success the context is valid (VALID and REMOTE
 * set, non-zero ids), its tracestate is NULL or a well-formed list of at
 * most 512 characters inside the caller's buffer, and it survives an
 * inject / extract round trip unchanged; on failure the output is untouched.
 */
#include <baton/http.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HDRS 80

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	baton_http_header h[MAX_HDRS];
	size_t n = 0;
	for (char *line = text; line != NULL && n < MAX_HDRS;) {
		char *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		char *colon = strchr(line, ':');
		h[n].name = line;
		h[n].value = "";
		if (colon != NULL) {
			*colon = '\0';
			h[n].value = colon + 1 + (colon[1] == ' ');
		}
		n++;
		line = nl != NULL ? nl + 1 : NULL;
	}

	char ts[BATON_TRACESTATE_SIZE];
	baton_span_context out, before;
	memset(&out, 0xA5, sizeof(out));
	before = out;
	baton_err rv = baton_http_extract(h, n, &out, ts, sizeof(ts));
	if (rv != BATON_OK) {
		if (memcmp(&out, &before, sizeof(out)) != 0)
			abort(); /* written on error */
		free(text);
		return 0;
	}
	if (!(out.state & BATON_CTX_VALID) || !(out.state & BATON_CTX_REMOTE) ||
	    !baton_span_context_is_valid(&out) || zero(out.trace_id, 16) ||
	    zero(out.span_id, 8))
		abort();
	if (out.tracestate != NULL) {
		size_t tl = strlen(out.tracestate);
		char buf[BATON_TRACESTATE_SIZE];
		baton_tracestate t;
		baton_tracestate_init(&t, buf, sizeof(buf));
		if (out.tracestate != ts || tl == 0 || tl > BATON_TRACESTATE_MAX_LEN ||
		    baton_tracestate_parse(&t, out.tracestate, tl) != BATON_OK)
			abort();
	}
	/* What we would send on carries the same trace. */
	char tp2[BATON_TRACEPARENT_SIZE], ts2[BATON_TRACESTATE_SIZE],
	    tsb[BATON_TRACESTATE_SIZE];
	if (baton_w3c_inject(&out, tp2, sizeof(tp2), ts2, sizeof(ts2)) != BATON_OK)
		abort();
	baton_http_header h2[] = {{"traceparent", tp2}, {"tracestate", ts2}};
	baton_span_context again;
	if (baton_http_extract(h2, ts2[0] ? 2 : 1, &again, tsb, sizeof(tsb)) !=
	        BATON_OK ||
	    memcmp(again.trace_id, out.trace_id, 16) != 0 ||
	    memcmp(again.span_id, out.span_id, 8) != 0 ||
	    again.trace_flags != out.trace_flags ||
	    (again.state & BATON_CTX_HAS_TH) != (out.state & BATON_CTX_HAS_TH) ||
	    ((out.state & BATON_CTX_HAS_TH) && again.threshold != out.threshold))
		abort();
	/* The tracestate too, unless the ot member sent with it ("ot=th:" and up
	 * to 14 digits) pushed the list past 512 and members were cut. */
	size_t tl = out.tracestate != NULL ? strlen(out.tracestate) : 0;
	if (tl + 22 <= BATON_TRACESTATE_MAX_LEN &&
	    ((out.tracestate == NULL) != (again.tracestate == NULL) ||
	     (tl > 0 && strcmp(out.tracestate, again.tracestate) != 0)))
		abort();
	free(text);
	return 0;
}
