/* Fuzzes the OTEL_RESOURCE_ATTRIBUTES parser (k=v,k2=v2, percent-decoded). */
#include <stdlib.h>
#include <string.h>

#include "trace/trace_int.h"

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static void check(void *arg, const char *k, const char *v)
{
	size_t *n = arg;
	if (k == NULL || v == NULL || k[0] == '\0')
		abort(); /* only well-formed pairs reach the callback */
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	baton_set_log(BATON_LOG_NONE, quiet, NULL);
	size_t n = 0;
	bt_parse_kv_list(s, "OTEL_RESOURCE_ATTRIBUTES", check, &n);
	if (n > strlen(s) / 2 + 1)
		abort(); /* each pair takes at least "k=" */
	free(s);
	return 0;
}
