/* baton::otlp_http from an installed baton. */
#include <baton/otlp_http.h>
#include <stdio.h>

int main(void)
{
	baton_exporter exp;
	if (baton_otlp_http_exporter_create(NULL, &exp) != BATON_OK)
		return 1;
	exp.ops->destroy(exp.arg);
	printf("baton %s otlp_http ok\n", baton_version());
	return 0;
}
