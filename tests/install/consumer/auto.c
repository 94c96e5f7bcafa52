/* baton::auto from an installed baton: exporters chosen by OTEL_TRACES_EXPORTER. */
#include <baton/auto.h>
#include <stdio.h>

int main(void)
{
	if (!baton_auto_available(BATON_EXPORTER_OTLP))
		return 1;
	if (baton_auto_init_default(NULL, "none") != BATON_OK)
		return 1;
	baton_span s = baton_span_start(baton_tracer_get("consumer", NULL), "hello");
	baton_span_end(s);
	baton_fini(100);
	printf("baton %s auto ok\n", baton_version());
	return 0;
}
