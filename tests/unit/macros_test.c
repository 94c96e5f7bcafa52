/*
 * Public macros no other test expands (a macro nothing uses can ship
 * broken): each is used the way a caller would use it.
 */
#include "testutil.h"

#include <baton/otlp_http.h>
#include <baton/remote_sampling.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(macros, start_no_current_ignores_the_attached_span)
{
	tu_memory_exporter *m = tu_init_memory(baton_sampler_always_on(), 8);
	baton_tracer *t = baton_tracer_get("macros", NULL);
	baton_span outer = baton_span_start(t, "outer");
	uint32_t tok = baton_span_attach(outer);
	baton_span_start_opts o = {.flags = BATON_START_NO_CURRENT};
	baton_span s = baton_span_start_ex(t, "detached", &o);
	baton_span_end(s);
	baton_span c =
	    baton_span_start(t, "child"); /* without the flag: child of outer */
	baton_span_end(c);
	baton_span_detach(tok);
	baton_span_end(outer);
	tu_memory_span ms, mc, mo;
	tu_memory_exporter_get(m, 0, &ms);
	tu_memory_exporter_get(m, 1, &mc);
	tu_memory_exporter_get(m, 2, &mo);
	cr_assert_not(baton_span_context_is_valid(&ms.parent), "NO_CURRENT makes a root");
	cr_assert_neq(memcmp(ms.context.trace_id, mo.context.trace_id, 16), 0);
	cr_assert_eq(memcmp(mc.parent.span_id, mo.context.span_id, 8), 0);
	baton_fini(1000);
}

Test(macros, otlp_compression_env_means_the_environment_decides)
{
	cr_assert_eq(BATON_OTLP_COMPRESSION_ENV, 0,
	             "zero-initialised options read the env");
	cr_assert_neq(BATON_OTLP_COMPRESSION_ENV, BATON_OTLP_COMPRESSION_NONE);
	cr_assert_neq(BATON_OTLP_COMPRESSION_ENV, BATON_OTLP_COMPRESSION_GZIP);
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = "http://127.0.0.1:9/v1/traces",
	                             .compression = BATON_OTLP_COMPRESSION_ENV};
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", 1);
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	e.ops->destroy(e.arg);
}

Test(macros, remote_default_endpoint_is_jaegers_sampling_port)
{
	cr_assert_str_eq(BATON_REMOTE_DEFAULT_ENDPOINT, "http://localhost:5778/sampling");
}

Test(macros, sampler_target_sps_env_names_the_variable_baton_reads)
{
	cr_assert_str_eq(BATON_SAMPLER_TARGET_SPS_ENV, "BATON_SAMPLER_TARGET_SPS");
	setenv(BATON_SAMPLER_TARGET_SPS_ENV, "100", 1);
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert_str_eq(s.ops->name, "dynamic",
	                 "the env var wraps the sampler in the dynamic stage");
	baton_sampler_destroy(s);
}
