/*
 * Fuzz target for the envelope reader: peek and unwrap must never read past
 * the input, never crash and agree with each other; what they accept is
 * well-formed (text extensions match their grammars and limits); a decoded
 * envelope re-encodes to something that decodes to the same context. The
 * first input byte chooses the read flags and whether the check words are
 * fixed up first (so mutations reach the extension decoder).
 */
#include <baton/baton.h>
#include <baton/envelope.h>
#include <baton/w3c.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_reseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Baggage as the reader may hand it out: the W3C character set, within the limits. */
static void check_baggage(const char *b)
{
	size_t n = strlen(b), members = 1;
	if (n == 0 || n > 8192)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];
		if ((c < 0x20 && c != '\t') || c > 0x7E || c == '"' || c == '\\')
			abort();
		members += c == ',';
	}
	if (members > 64)
		abort();
}

static void check_tracestate(const char *ts)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_tracestate t;
	size_t n = strlen(ts);
	baton_tracestate_init(&t, buf, sizeof(buf));
	if (n == 0 || n > BATON_TRACESTATE_MAX_LEN)
		abort();
	if (baton_tracestate_parse(&t, ts, n) != BATON_OK)
		abort();
	if (baton_tracestate_get(&t, "ot", NULL) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t rflags = (data[0] & 1) ? BATON_ENV_READ_V1 : 0;
	bool reseal = (data[0] & 2) != 0;
	data++;
	size--;
	uint8_t *m = malloc(size ? size : 1);
	memcpy(m, data, size);
	if (reseal)
		fz_envelope_reseal(m, size);

	baton_envelope_header h;
	baton_envelope e, again;
	baton_err pr = baton_envelope_peek_ex(m, size, rflags, &h);
	baton_err ur = baton_envelope_unwrap_ex(m, size, rflags, &e);
	/* peek does every check unwrap does: they accept and refuse alike */
	if ((pr == BATON_OK) != (ur == BATON_OK) || (pr != BATON_OK && pr != ur))
		abort();
	if (ur == BATON_OK) {
		if (h.length != e.length || h.flags != e.flags || h.version != e.version)
			abort();
		if (e.length > size || e.length > BATON_ENVELOPE_MAX)
			abort();
		if (e.version == 1 && !(rflags & BATON_ENV_READ_V1))
			abort();
		if ((e.flags & BATON_ENV_F_SAMPLED) && !(e.ctx.state & BATON_CTX_VALID))
			abort();
		if (e.ctx.tracestate != NULL) {
			if ((const uint8_t *)e.ctx.tracestate < m ||
			    (const uint8_t *)e.ctx.tracestate >= m + e.length)
				abort();
			check_tracestate(e.ctx.tracestate);
		}
		if (e.baggage != NULL)
			check_baggage(e.baggage);
		/* Re-encode what was read (ids of unsampled contexts included). */
		static uint8_t buf[BATON_ENVELOPE_MAX];
		size_t n = 0;
		e.wrap_flags = BATON_ENV_WRAP_UNSAMPLED_IDS;
		baton_err wr = baton_envelope_wrap(&e, buf, sizeof(buf), &n);
		if (wr == BATON_OK) {
			if (baton_envelope_unwrap(buf, n, &again) != BATON_OK)
				abort();
			if (again.dropped != 0 || again.version != BATON_ENVELOPE_VERSION)
				abort();
			bool sampled = (e.ctx.trace_flags & BATON_FLAG_SAMPLED) != 0;
			if (baton_span_context_is_sampled(&again.ctx) != sampled)
				abort();
			if (sampled && (again.recipients != e.recipients ||
			                again.fanout_applied != e.fanout_applied))
				abort();
			if (sampled && e.ctx.threshold > 0 &&
			    again.ctx.threshold != e.ctx.threshold)
				abort();
			if ((e.baggage == NULL) != (again.baggage == NULL) ||
			    (e.baggage != NULL && strcmp(e.baggage, again.baggage) != 0))
				abort();
			if ((e.ctx.state & BATON_CTX_VALID) &&
			    memcmp(again.ctx.trace_id, e.ctx.trace_id,
			           BATON_TRACE_ID_SIZE) != 0)
				abort();
		}
	}
	free(m);
	return 0;
}
