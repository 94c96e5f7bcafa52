/* baton::jaeger_json from an installed baton. */
#include <baton/jaeger_json.h>
#include <stdio.h>

int main(void)
{
	baton_exporter exp;
	if (baton_jaeger_json_exporter_create(NULL, &exp) != BATON_OK)
		return 1;
	exp.ops->destroy(exp.arg);
	/* A file that is not Jaeger JSON is refused. */
	const char *in[] = {"/dev/null"};
	if (baton_jaeger_json_merge(in, 1, "consumer-merged.json") == BATON_OK)
		return 1;
	printf("baton %s jaeger_json ok\n", baton_version());
	return 0;
}
