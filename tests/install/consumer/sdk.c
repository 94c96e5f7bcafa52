/* baton::sdk from an installed baton: the runtime version, a span. */
#include <baton/baton.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	if (strcmp(baton_version(), BATON_VERSION_STRING) != 0) {
		fprintf(stderr, "header %s, library %s\n", BATON_VERSION_STRING,
		        baton_version());
		return 1;
	}
	if (baton_init(NULL) != BATON_OK)
		return 1;
	baton_span s = baton_span_start(baton_tracer_get("consumer", NULL), "hello");
	baton_span_end(s);
	baton_fini(100);
	printf("baton %s sdk ok\n", baton_version());
	return 0;
}
