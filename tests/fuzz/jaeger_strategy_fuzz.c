/* Fuzzes the Jaeger sampling-strategy JSON parser and the samplers it builds. */
#include <baton/baton.h>
#include <stdlib.h>
#include <string.h>

#include "remote_sampling/remote_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bt_rs_spec spec;
	char err[160];
	baton_err rv = bt_rs_parse((const char *)data, size, 64, &spec, err, sizeof(err));
	if (rv != BATON_OK)
		return 0;
	if (spec.nops > 64)
		abort();
	baton_sampler s;
	if (bt_rs_build(&spec, 8, &s) == BATON_OK) {
		static const baton_span_context none;
		uint8_t tid[16] = {0};
		for (size_t i = 0; i < spec.nops + 1; i++) {
			const char *name =
			    i < spec.nops ? spec.ops[i].operation : "other";
			baton_sampling_params p = {
			    .parent = &none, .trace_id = tid, .name = name};
			baton_sampling_result r;
			s.ops->should_sample(s.arg, &p, &r);
			tid[15] = (uint8_t)(tid[15] + 37);
		}
		baton_sampler_destroy(s);
	}
	bt_rs_spec_free(&spec);
	return 0;
}
