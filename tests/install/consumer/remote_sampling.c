/* baton::remote_sampling from an installed baton. */
#include <baton/remote_sampling.h>
#include <stdio.h>

int main(void)
{
	baton_remote_sampler_options opts = {.size = sizeof(opts),
	                                     .manual_polling = true};
	baton_sampler s;
	if (baton_remote_sampler_create(&opts, &s) != BATON_OK)
		return 1;
	baton_sampler_destroy(s);
	printf("baton %s remote_sampling ok\n", baton_version());
	return 0;
}
