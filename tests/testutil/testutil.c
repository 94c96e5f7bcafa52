#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

baton_memory_exporter *tu_init_memory_limits(baton_sampler sampler, size_t capacity,
                                             const baton_limits *limits)
{
	baton_exporter exp;
	baton_memory_exporter *store;
	baton_processor proc;
	if (baton_memory_exporter_create(capacity, &exp, &store) != BATON_OK)
		abort();
	if (baton_simple_processor_create(exp, &proc) != BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o)};
	o.sampler = sampler.ops ? sampler : baton_sampler_always_on();
	o.processors = &proc;
	o.nprocessors = 1;
	if (limits != NULL)
		o.limits = *limits;
	if (baton_init(&o) != BATON_OK)
		abort();
	return store;
}

baton_memory_exporter *tu_init_memory(baton_sampler sampler, size_t capacity)
{
	return tu_init_memory_limits(sampler, capacity, NULL);
}

void tu_hex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
}

const char *tu_bin(const char *name, char *buf, size_t cap)
{
	const char *dir = getenv("BATON_TEST_BIN");
	snprintf(buf, cap, "%s/%s", dir ? dir : "build/bin", name);
	return buf;
}
