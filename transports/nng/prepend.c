/*
 * Putting bytes in front of a message body.
 *
 * nng_msg_insert() in NNG before 1.8.0 corrupts the heap when the body has
 * less head room than the insert but enough tail room (nni_chunk_insert
 * moves the body to the wrong place: nanomsg/nng issues #1541 and #1808,
 * fixed in 1.8.0). Debian 12 ships 1.5.2, and the public API cannot tell
 * how much head room a message has, so on those versions the envelope goes
 * in by growing the body at the tail (nng_msg_realloc, NNG's append path,
 * which is correct) and shifting the payload up by hand. That costs a copy
 * of the payload and, when the body has no tail room, NNG's reallocation.
 */
#include "nng_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* 1: nng_msg_insert is safe here; 0: it is not; -1: not known yet. */
static _Atomic int bt_insert_safe = -1;

static int bt_insert_is_safe(void)
{
	int safe = atomic_load_explicit(&bt_insert_safe, memory_order_relaxed);
	if (safe < 0) {
		/* The library we run against decides, not the header we built with. */
		const char *v = nng_version();
		char *end;
		long major = strtol(v, &end, 10);
		long minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
		safe = major > 1 || (major == 1 && minor >= 8);
		atomic_store_explicit(&bt_insert_safe, safe, memory_order_relaxed);
	}
	return safe;
}

int bt_nng_msg_prepend(nng_msg *msg, const void *data, size_t n)
{
	if (bt_insert_is_safe())
		return nng_msg_insert(msg, data, n);
	size_t len = nng_msg_len(msg);
	int rv = nng_msg_realloc(msg, len + n);
	if (rv != 0)
		return rv;
	uint8_t *b = nng_msg_body(msg);
	memmove(b + n, b, len);
	if (data != NULL)
		memcpy(b, data, n);
	return 0;
}
