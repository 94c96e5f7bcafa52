/*
 * Fuzzes the exporter list parser (OTEL_TRACES_EXPORTER syntax) through
 * baton_auto_exporters(), which parses its embedded default when the
 * environment names no exporter.
 */
#include <baton/auto.h>
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
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	baton_set_log(BATON_LOG_NONE, quiet, NULL);
	unsetenv("OTEL_TRACES_EXPORTER");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	baton_exporter_kind kinds[BATON_AUTO_MAX_EXPORTERS];
	size_t n = 99;
	if (baton_auto_exporters(s, kinds, BATON_AUTO_MAX_EXPORTERS, &n) != BATON_OK)
		abort(); /* only NULL arguments are refused */
	if (n > BATON_AUTO_MAX_EXPORTERS)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (kinds[i] < BATON_EXPORTER_OTLP || kinds[i] > BATON_EXPORTER_CONSOLE)
			abort();
		for (size_t j = 0; j < i; j++) {
			if (kinds[i] == kinds[j])
				abort(); /* each kind once */
		}
	}
	free(s);
	return 0;
}
