/*
 * Fuzz target: W3C tracestate parse (lines split at '\n'), format, set,
 * delete and the ot member. Checks that keys are valid and unique, that a
 * formatted list parses again, stays within the length limit and that
 * set/delete keep the list valid.
 */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
	static char buf[32 * 600];
	baton_tracestate ts;
	baton_tracestate_init(&ts, buf, sizeof(buf));
	if (baton_tracestate_parse_lines(&ts, lines, lens, n) != BATON_OK)
		return 0;
	size_t count = baton_tracestate_count(&ts);
	if (count > BATON_TRACESTATE_MAX_MEMBERS)
		abort();
	/* Every key is valid and appears once (a repeat keeps the first). */
	for (size_t a = 0; a < count; a++) {
		const char *ka, *kb;
		size_t la, lb;
		if (baton_tracestate_member_get(&ts, a, &ka, &la, NULL, NULL) !=
		        BATON_OK ||
		    !baton_tracestate_key_valid(ka, la))
			abort();
		for (size_t b = 0; b < a; b++) {
			baton_tracestate_member_get(&ts, b, &kb, &lb, NULL, NULL);
			if (la == lb && memcmp(ka, kb, la) == 0)
				abort();
		}
	}
	char out[BATON_TRACESTATE_SIZE], out2[BATON_TRACESTATE_SIZE];
	size_t len;
	if (baton_tracestate_format(&ts, out, sizeof(out), &len) != BATON_OK ||
	    len > BATON_TRACESTATE_MAX_LEN || len != strlen(out))
		abort();
	/* What we write parses again, with at most the members we had. */
	static char buf2[32 * 600];
	baton_tracestate again;
	baton_tracestate_init(&again, buf2, sizeof(buf2));
	if (baton_tracestate_parse(&again, out, len) != BATON_OK ||
	    baton_tracestate_count(&again) > count)
		abort();
	/* Mutations keep it valid. */
	uint64_t th = 0;
	if (baton_tracestate_ot_th(&ts, &th) == BATON_OK) {
		if (th >= BATON_TH_MAX)
			abort();
	}
	baton_tracestate_ot_set_th(&ts, th ^ 0x12345);
	if (count > 0) {
		const char *k, *v;
		size_t kl, vl;
		char key[300];
		if (baton_tracestate_member_get(&ts, count - 1, &k, &kl, &v, &vl) !=
		    BATON_OK)
			abort();
		memcpy(key, k, kl);
		key[kl] = '\0';
		if (baton_tracestate_set(&ts, key, v, vl) != BATON_OK)
			abort();
		if (baton_tracestate_set(&ts, "fuzz", v, vl) != BATON_OK)
			abort();
		baton_tracestate_delete(&ts, key);
	}
	if (baton_tracestate_format(&ts, out2, sizeof(out2), &len) != BATON_OK ||
	    baton_tracestate_parse(&again, out2, len) != BATON_OK)
		abort();
	return 0;
}
