/*
 * The console sanitizer (bt_cs_sanitize) on any bytes: the first byte sets
 * the character limit (255: none), the rest is the text. Invariants: the
 * output has no C0 control byte, DEL or ESC, no C1 control (U+0080..U+009F)
 * and is valid UTF-8 (judged by jansson); printable well-formed input is
 * kept: the same characters, a backslash doubled, cut after the limit with
 * "…".
 */
#include "cs.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const uint8_t *s, size_t n)
{
	if (n == 0)
		return true; /* (jansson refuses a NULL pointer even for n == 0) */
	json_t *j = json_stringn((const char *)s, n);
	json_decref(j);
	return j != NULL;
}

/* Whether well-formed UTF-8 s holds a control character (C0, DEL, C1). */
static bool has_control(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
		if (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t max_chars = data[0] == 255 ? SIZE_MAX : data[0];
	const uint8_t *s = data + 1;
	size_t n = size - 1;
	bt_buf b;
	bt_buf_init(&b, 8 * n + 16);
	bt_cs_sanitize(&b, (const char *)s, n, max_chars);
	if (b.fail || b.len > 4 * n + 3)
		abort();
	const uint8_t *o = (const uint8_t *)b.p;
	if (has_control(o, b.len) || !valid_utf8(o, b.len))
		abort();

	if (valid_utf8(s, n) && !has_control(s, n)) {
		/* Kept: characters up to the limit, '\' doubled, then "…" if cut. */
		uint8_t *want = malloc(2 * n + 4);
		size_t wn = 0, chars = 0, i = 0;
		for (; i < n; i++) {
			bool lead = (s[i] & 0xC0) != 0x80;
			if (lead && chars == max_chars)
				break;
			chars += lead;
			if (s[i] == '\\')
				want[wn++] = '\\';
			want[wn++] = s[i];
		}
		if (i < n) {
			memcpy(want + wn, "…", 3);
			wn += 3;
		}
		if (b.len != wn || (wn > 0 && memcmp(o, want, wn) != 0))
			abort();
		free(want);
	}
	bt_buf_fini(&b);
	return 0;
}
