/* Fuzzes the BATON_FANOUT_SAMPLING parser and the curve it builds. */
#include <baton/baton.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = malloc(size + 1);
	if (spec == NULL)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	baton_set_log(BATON_LOG_NONE, quiet, NULL);
	baton_fanout_policy *p = NULL;
	char err[128];
	baton_err rv = baton_fanout_policy_parse(spec, &p, err, sizeof(err));
	if (rv == BATON_OK) {
		static const uint64_t ns[] = {0,      1,       2,          99,
		                              100,    4095,    4096,       10000,
		                              123457, 1000000, 1ull << 40, UINT64_MAX};
		for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			double k = baton_fanout_keep_probability(p, ns[i]);
			if (!(k > 0.0 && k <= 1.0 + 1e-12))
				abort(); /* a valid curve keeps with a probability in (0,
				            1] */
			(void)baton_fanout_keep(p, ns[i]);
		}
		baton_fanout_policy_destroy(p);
	} else if (rv == BATON_EFORMAT && strlen(err) == 0) {
		abort(); /* a rejection always says why */
	}
	free(spec);
	return 0;
}
