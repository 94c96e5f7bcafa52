/*
 * Fuzz target: W3C traceparent parse, the sampled fast path and
 * extract/inject. Checks that the fast path agrees with the full parse and
 * that whatever parses formats back and parses to the same context.
 */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	baton_span_context c, back;
	int fast = baton_traceparent_sampled(s, size);
	baton_err rv = baton_traceparent_parse(s, size, &c);
	if (rv == BATON_OK) {
		/* Anything the full parse accepts, the fast path reads alike. */
		if (fast != (baton_span_context_is_sampled(&c) ? 1 : 0))
			abort();
		char out[BATON_TRACEPARENT_SIZE];
		if (baton_traceparent_format(&c, out, sizeof(out)) != BATON_OK)
			abort();
		if (baton_traceparent_parse(out, strlen(out), &back) != BATON_OK ||
		    memcmp(back.trace_id, c.trace_id, 16) != 0 ||
		    memcmp(back.span_id, c.span_id, 8) != 0 ||
		    back.trace_flags != c.trace_flags)
			abort();
	} else if (fast == 1 && rv != BATON_EFORMAT && rv != BATON_EINVAL) {
		/* The fast path only skips hex checks of the ids. */
		abort();
	}
	/* The first line as traceparent, the rest as tracestate. */
	const char *nl = memchr(s, '\n', size);
	size_t tpl = nl ? (size_t)(nl - s) : size;
	const char *ts = nl ? nl + 1 : NULL;
	size_t tsl = nl ? size - tpl - 1 : 0;
	char buf[BATON_TRACESTATE_SIZE];
	if (baton_w3c_extract(s, tpl, ts, tsl, &c, buf, sizeof(buf)) == BATON_OK) {
		char tp[BATON_TRACEPARENT_SIZE], st[BATON_TRACESTATE_SIZE];
		if (baton_w3c_inject(&c, tp, sizeof(tp), st, sizeof(st)) != BATON_OK)
			abort();
		if (strlen(st) > BATON_TRACESTATE_MAX_LEN)
			abort();
		if (baton_w3c_extract(tp, strlen(tp), st, strlen(st), &back, buf,
		                      sizeof(buf)) != BATON_OK)
			abort();
	}
	return 0;
}
