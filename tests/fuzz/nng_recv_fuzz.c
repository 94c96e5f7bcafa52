/*
 * Fuzz target for the NNG receive path as a whole: bytes from a peer in,
 * delivered payload and context out. Invariants: a mixed receiver delivers
 * the input byte-identical, or the input minus an envelope that
 * baton_envelope_unwrap() fully accepts (same length); a strict receiver
 * refuses and leaves the message untouched, or does the same; a consumer
 * span exists only for a sampled envelope, continues its trace, and what
 * it exports keeps its name and carries no control bytes. The first input
 * byte chooses the mode, the info, the read flags and whether the
 * envelope's check words are fixed up first.
 */
#include <baton/baton.h>

#include "memory_exporter.h"
#include <baton/envelope.h>
#include <baton/nng.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_reseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tu_memory_exporter *mem;

static void setup(void)
{
	baton_exporter exp;
	baton_processor proc;
	baton_sampler pb;
	if (mem != NULL)
		return;
	if (tu_memory_exporter_create(16, &exp, &mem) != BATON_OK ||
	    baton_simple_processor_create(exp, &proc) != BATON_OK ||
	    baton_sampler_parentbased(baton_sampler_always_on(), &pb) != BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o),
	                   .sampler = pb,
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
}

static void check_exported(void)
{
	size_t n = tu_memory_exporter_count(mem);
	for (size_t i = 0; i < n; i++) {
		tu_memory_span s;
		if (tu_memory_exporter_get(mem, i, &s) != BATON_OK)
			abort();
		if (strcmp(s.name, "process fuzz") != 0 ||
		    s.kind != BATON_SPAN_KIND_CONSUMER)
			abort();
		if (strstr(s.attrs_text, "messaging.destination.name=fuzz\n") == NULL)
			abort();
		for (const char *p = s.attrs_text; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\n')
				abort();
		for (const char *p = s.tracestate; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E)
				abort();
	}
	tu_memory_exporter_clear(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	uint8_t ctl = data[0];
	data++;
	size--;
	uint8_t *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	if (ctl & 8)
		fz_envelope_reseal(in, size);

	baton_nng_recv_opts o = {.destination = "fuzz",
	                         .mode = (ctl & 1) ? BATON_NNG_STRICT : BATON_NNG_MIXED,
	                         .flags = (ctl & 4) ? BATON_NNG_RECV_READ_V1 : 0};
	bool with_info = (ctl & 2) != 0;
	uint32_t rflags =
	    (o.mode == BATON_NNG_STRICT || (o.flags & BATON_NNG_RECV_READ_V1))
	        ? BATON_ENV_READ_V1
	        : 0;
	baton_envelope env;
	baton_err ur = baton_envelope_unwrap_ex(in, size, rflags, &env);

	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, in, size) != 0)
		abort();
	baton_nng_recv_info info;
	int rv = baton_nng_msg_open(m, &o, with_info ? &info : NULL);
	const uint8_t *out = nng_msg_body(m);
	size_t outlen = nng_msg_len(m);
	if (rv != 0) {
		/* only a strict receiver refuses, only what unwrap refuses, untouched */
		if (o.mode != BATON_NNG_STRICT || ur == BATON_OK || rv != NNG_EPROTO)
			abort();
		if (outlen != size || memcmp(out, in, size) != 0)
			abort();
	} else if (ur == BATON_OK) {
		if (outlen != size - env.length ||
		    memcmp(out, in + env.length, outlen) != 0)
			abort();
	} else {
		if (o.mode == BATON_NNG_STRICT)
			abort();
		if (outlen != size || memcmp(out, in, size) != 0)
			abort();
	}
	if (rv == 0 && with_info) {
		bool sampled = ur == BATON_OK && (env.flags & BATON_ENV_F_SAMPLED);
		if (baton_span_is_recording(info.span)) {
			baton_span_context c;
			if (!sampled || baton_span_get_context(info.span, &c) != BATON_OK)
				abort();
			if (memcmp(c.trace_id, env.ctx.trace_id, BATON_TRACE_ID_SIZE) !=
			    0)
				abort();
		}
		if (ur != BATON_OK &&
		    (info.envelope == BATON_OK || info.envelope_size != 0))
			abort();
		if (ur == BATON_OK && info.envelope_size != env.length)
			abort();
		baton_span_end(info.span);
	}
	nng_msg_free(m);
	check_exported();
	free(in);
	return 0;
}
