/*
 * Fuzz target: W3C baggage parse (lines split at '\n'), format, put and
 * delete. Invariants: the limits hold (64 members, 8192 formatted bytes),
 * keys are unique, values are well-formed UTF-8, the formatted text parses
 * back to the same entries with nothing dropped, and put/delete keep that.
 */
#include <baton/baggage.h>
#include <baton/baton.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned min, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void same_entries(const baton_baggage *a, const baton_baggage *b)
{
	if (baton_baggage_count(a) != baton_baggage_count(b))
		abort();
	for (size_t i = 0; i < baton_baggage_count(a); i++) {
		baton_baggage_entry x, y;
		if (baton_baggage_entry_get(a, i, &x) != BATON_OK ||
		    baton_baggage_entry_get(b, i, &y) != BATON_OK)
			abort();
		if (x.key_len != y.key_len || memcmp(x.key, y.key, x.key_len) != 0 ||
		    x.value_len != y.value_len ||
		    memcmp(x.value, y.value, x.value_len) != 0 ||
		    x.properties_len != y.properties_len ||
		    memcmp(x.properties, y.properties, x.properties_len) != 0)
			abort();
	}
}

/* Checks the invariants of a list and that its text parses back to it. */
static void check(const baton_baggage *bg)
{
	static char out[BATON_BAGGAGE_SIZE], buf2[BATON_BAGGAGE_BUF_SIZE];
	size_t n = baton_baggage_count(bg), len;
	if (n > BATON_BAGGAGE_MAX_MEMBERS)
		abort();
	for (size_t i = 0; i < n; i++) {
		baton_baggage_entry e;
		if (baton_baggage_entry_get(bg, i, &e) != BATON_OK || e.key_len == 0 ||
		    e.key[e.key_len] != '\0' || e.value[e.value_len] != '\0' ||
		    !utf8_ok((const unsigned char *)e.value, e.value_len))
			abort();
		for (size_t j = 0; j < i; j++) {
			baton_baggage_entry f;
			baton_baggage_entry_get(bg, j, &f);
			if (f.key_len == e.key_len &&
			    memcmp(f.key, e.key, e.key_len) == 0)
				abort();
		}
	}
	if (baton_baggage_format(bg, out, sizeof(out), &len) != BATON_OK ||
	    len > BATON_BAGGAGE_MAX_LEN || len != strlen(out))
		abort();
	baton_baggage again;
	baton_baggage_init(&again, buf2, sizeof(buf2));
	if (baton_baggage_parse(&again, out, len) != BATON_OK || again.dropped != 0)
		abort();
	same_entries(bg, &again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[BATON_BAGGAGE_BUF_SIZE];
	const char *s = (const char *)data;
	const char *lines[8];
	size_t lens[8], n = 0, i = 0;
	while (n < 8 && i <= size) {
		const char *nl = memchr(s + i, '\n', size - i);
		size_t j = nl ? (size_t)(nl - s) : size;
		lines[n] = s + i;
		lens[n] = j - i;
		n++;
		i = j + 1;
	}
	baton_baggage bg;
	baton_baggage_init(&bg, buf, sizeof(buf));
	if (baton_baggage_parse_lines(&bg, lines, lens, n) != BATON_OK)
		return 0;
	check(&bg);
	/* Mutations keep the invariants: re-put the first member's value under
	 * a new key, then delete the first member. */
	if (baton_baggage_count(&bg) > 0) {
		baton_baggage_entry e;
		baton_baggage_entry_get(&bg, 0, &e);
		baton_err rv =
		    baton_baggage_put(&bg, "fuzz", e.value, e.value_len, e.properties);
		if (rv != BATON_OK && rv != BATON_ETOOBIG)
			abort();
		check(&bg);
		char key[BATON_BAGGAGE_MAX_LEN + 1];
		baton_baggage_entry_get(&bg, 0, &e);
		memcpy(key, e.key, e.key_len);
		key[e.key_len] = '\0';
		size_t before = baton_baggage_count(&bg);
		if (!baton_baggage_delete(&bg, key) ||
		    baton_baggage_count(&bg) != before - 1)
			abort();
		check(&bg);
	}
	return 0;
}
