/*
 * The Jaeger JSON string escaper (bt_jj_str) on any bytes. Invariants:
 * the output is one JSON string that jansson parses (so it is valid UTF-8
 * with every control character escaped); it decodes to the input with each
 * byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD,
 * so well-formed input comes back exactly. Well-formedness is judged by
 * jansson, not by the exporter's own check.
 */
#include "jj.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The length of the UTF-8 sequence the lead byte c announces, 0 for none. */
static size_t lead_len(uint8_t c)
{
	return c < 0x80   ? 1
	       : c < 0xC0 ? 0
	       : c < 0xE0 ? 2
	       : c < 0xF0 ? 3
	       : c < 0xF8 ? 4
	                  : 0;
}

/* Whether s[0..n) is one well-formed sequence, by jansson's own check. */
static bool well_formed(const uint8_t *s, size_t n)
{
	if (n == 0)
		return true; /* (jansson refuses a NULL pointer even for n == 0) */
	json_t *j = json_stringn((const char *)s, n);
	json_decref(j);
	return j != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bt_buf b;
	bt_buf_init(&b, 16 * size + 16);
	bt_jj_str(&b, (const char *)data, size);
	if (b.fail)
		abort();
	for (size_t i = 0; i < b.len; i++) {
		if ((uint8_t)b.p[i] < 0x20)
			abort(); /* a raw control character in a JSON string */
	}
	json_error_t err;
	json_t *j = json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (j == NULL || !json_is_string(j))
		abort();

	/* What it must decode to. */
	uint8_t *want = malloc(3 * size + 1);
	size_t wn = 0;
	for (size_t i = 0; i < size;) {
		size_t n = lead_len(data[i]);
		if (n > 0 && n <= size - i && well_formed(data + i, n)) {
			memcpy(want + wn, data + i, n);
			wn += n;
			i += n;
		} else {
			memcpy(want + wn, "\xEF\xBF\xBD", 3);
			wn += 3;
			i++;
		}
	}
	if (json_string_length(j) != wn || memcmp(json_string_value(j), want, wn) != 0)
		abort();
	if (well_formed(data, size) && (wn != size || memcmp(want, data, size) != 0))
		abort(); /* well-formed input round-trips exactly */
	free(want);
	json_decref(j);
	bt_buf_fini(&b);
	return 0;
}
