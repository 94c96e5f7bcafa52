/*
 * Fuzzes the sampler configuration from the environment: the input is
 * "NAME\nARG\nTARGET_SPS" for OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG
 * and BATON_SAMPLER_TARGET_SPS, and ARG also goes through the jaeger_remote
 * argument parser.
 */
#include <baton/baton.h>
#include <stdlib.h>
#include <string.h>

#include "remote_int.h"

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static void set(const char *name, const char *v)
{
	if (v != NULL)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	baton_set_log(BATON_LOG_NONE, quiet, NULL);
	char *name = buf, *arg = NULL, *sps = NULL;
	char *nl = strchr(name, '\n');
	if (nl != NULL) {
		*nl = '\0';
		arg = nl + 1;
		nl = strchr(arg, '\n');
		if (nl != NULL) {
			*nl = '\0';
			sps = nl + 1;
		}
	}
	set("OTEL_TRACES_SAMPLER", name);
	set("OTEL_TRACES_SAMPLER_ARG", arg);
	set("BATON_SAMPLER_TARGET_SPS", sps);
	baton_sampler s = {0};
	if (baton_sampler_from_env(&s) != BATON_OK || s.ops == NULL)
		abort(); /* the environment never makes it fail: defaults stand in */
	uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const baton_span_context none;
	baton_sampling_params p = {.parent = &none, .trace_id = tid, .name = name};
	baton_sampling_result r;
	s.ops->should_sample(s.arg, &p, &r);
	baton_sampler_destroy(s);
	bt_rs_arg a;
	bt_rs_parse_arg(arg, &a);
	if (!(a.initial_sampling_rate >= 0 && a.initial_sampling_rate <= 1) ||
	    a.polling_interval_ms == 0 || strlen(a.endpoint) >= sizeof(a.endpoint))
		abort();
	free(buf);
	return 0;
}
