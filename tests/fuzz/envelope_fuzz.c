/*
 * Fuzz target for the envelope reader: peek and unwrap must never read past
 * the input, never crash, agree with each other, and a decoded envelope
 * must re-encode to something that decodes to the same context.
 */
#include <baton/baton.h>
#include <baton/envelope.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	baton_envelope_header h;
	baton_envelope e, again;
	baton_err pr = baton_envelope_peek(data, size, &h);
	baton_err ur = baton_envelope_unwrap(data, size, &e);
	if (ur == BATON_OK) {
		/* unwrap accepts only what peek accepts, with the same length and flags
		 */
		if (pr != BATON_OK || h.length != e.length || h.flags != e.flags)
			abort();
		if (e.length > size || e.length > BATON_ENVELOPE_MAX)
			abort();
		if (e.ctx.tracestate != NULL &&
		    ((const uint8_t *)e.ctx.tracestate < data ||
		     (const uint8_t *)e.ctx.tracestate >= data + e.length))
			abort();
		/* Re-encode what was read (ids of unsampled contexts included). */
		uint8_t buf[BATON_ENVELOPE_MAX];
		size_t n = 0;
		e.wrap_flags = BATON_ENV_WRAP_UNSAMPLED_IDS;
		baton_err wr = baton_envelope_wrap(&e, buf, sizeof(buf), &n);
		if (wr == BATON_OK) {
			if (baton_envelope_unwrap(buf, n, &again) != BATON_OK)
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
	} else if (pr == BATON_OK) {
		/* peek passes what only extension decoding can refuse */
		if (ur != BATON_EFORMAT)
			abort();
	} else if (pr != ur) {
		abort();
	}
	return 0;
}
