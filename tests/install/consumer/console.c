/* baton::console from an installed baton. */
#include <baton/console.h>
#include <stdio.h>

int main(void)
{
	baton_exporter exp;
	char buf[32];
	if (baton_console_exporter_create(NULL, &exp) != BATON_OK)
		return 1;
	exp.ops->destroy(exp.arg);
	printf("baton %s console ok (%s)\n", baton_version(),
	       baton_console_format_duration(1500000, buf, sizeof(buf)));
	return 0;
}
