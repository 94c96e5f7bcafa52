/*
 * OTEL_PROPAGATORS: the list parser against a reference written here. The
 * result holds only the two known propagators; "none" anywhere empties it;
 * a name is recognised with any case and surrounding spaces or tabs; any
 * other non-empty item sets unknown; an empty value means the default.
 */
#include "wire/w3c_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool item_is(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)s[i]) != name[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	size_t len = strlen(v); /* the variable ends at its first NUL */
	bool unknown = true;
	uint32_t got = bt_propagators_parse(v, &unknown);

	uint32_t want = 0;
	bool want_unknown = false, none = false;
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && v[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (item_is(v + a, b - a, "tracecontext"))
			want |= BATON_PROPAGATOR_TRACECONTEXT;
		else if (item_is(v + a, b - a, "baggage"))
			want |= BATON_PROPAGATOR_BAGGAGE;
		else if (item_is(v + a, b - a, "none"))
			none = true;
		else if (b > a)
			want_unknown = true;
		i = j + 1;
	}
	if (len == 0)
		want = BATON_PROPAGATOR_TRACECONTEXT | BATON_PROPAGATOR_BAGGAGE;
	else if (none)
		want = 0;
	if (got != want || unknown != want_unknown)
		abort();
	free(v);
	return 0;
}
