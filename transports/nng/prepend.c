/*
 * Putting bytes in front of a message body, and the messages that reserve
 * room for it.
 *
 * nng_msg_insert() in NNG before 1.8.0 corrupts the heap when the body has
 * less head room than the insert but enough tail room (nni_chunk_insert
 * moves the body to the wrong place: nanomsg/nng issues #1541 and #1808,
 * fixed in 1.8.0). With enough head room it only moves the body pointer
 * back, which is safe on every version. Debian 12 ships 1.5.2, and the
 * public API cannot tell how much head room a message has, so:
 *
 * - a message from baton_nng_msg_alloc() has BATON_NNG_MSG_HEADROOM bytes
 *   reserved and says so with a tag in its header: 16 bytes, a magic word,
 *   the room, and the body's address at allocation mixed with a
 *   per-process secret. The send takes the tag off (NNG never sees it) and,
 *   when the body is still where it was allocated (nothing moved it, so the
 *   room is still there) and the envelope fits, inserts: no payload copy.
 *   The secret keeps a header from a peer (raw sockets carry the wire's
 *   headers) from passing for a tag.
 * - any other message on NNG before 1.8.0 gets the envelope by growing the
 *   body at the tail (nng_msg_realloc, NNG's append path, which is correct)
 *   and shifting the payload up by hand: one copy of the payload, counted.
 */
#include "nng_int.h"

#include <nng/supplemental/util/platform.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BT_TAG_SIZE  16
#define BT_TAG_MAGIC 0x52485442u /* "BTHR" little-endian */

/* 1: nng_msg_insert is safe here; 0: it is not; -1: not known yet. */
static _Atomic int bt_insert_safe = -1;
/* Payload copies made to put an envelope in front (the shift above). */
static _Atomic uint64_t bt_copies;
/* The tag's secret; 0 until first use. */
static _Atomic uint64_t bt_tag_secret;

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

static uint64_t bt_secret(void)
{
	/* Relaxed is enough: the value is the only thing published, and two
	 * threads that race here agree through the compare-exchange. */
	uint64_t s = atomic_load_explicit(&bt_tag_secret, memory_order_relaxed);
	if (s == 0) {
		uint64_t want = ((uint64_t)nng_random() << 32 | nng_random()) | 1u;
		if (atomic_compare_exchange_strong_explicit(&bt_tag_secret, &s, want,
		                                            memory_order_relaxed,
		                                            memory_order_relaxed))
			s = want;
	}
	return s;
}

static void bt_tag_make(nng_msg *msg, uint32_t room, uint8_t tag[BT_TAG_SIZE])
{
	uint32_t magic = BT_TAG_MAGIC;
	uint64_t where = (uint64_t)(uintptr_t)nng_msg_body(msg) ^ bt_secret();
	memcpy(tag, &magic, 4);
	memcpy(tag + 4, &room, 4);
	memcpy(tag + 8, &where, 8);
}

int baton_nng_msg_alloc(nng_msg **msgp, size_t size)
{
	nng_msg *m;
	uint8_t tag[BT_TAG_SIZE];
	if (msgp == NULL)
		return NNG_EINVAL;
	/* One byte more than asked, chopped below: NNG's trim leaves the body
	 * pointer where it is when it empties the body, so a zero-size body
	 * would lose the room. */
	int rv = nng_msg_alloc(&m, BATON_NNG_MSG_HEADROOM + size + 1);
	if (rv != 0)
		return rv;
	nng_msg_trim(m, BATON_NNG_MSG_HEADROOM);
	nng_msg_chop(m, 1);
	bt_tag_make(m, BATON_NNG_MSG_HEADROOM, tag);
	if ((rv = nng_msg_header_append(m, tag, sizeof(tag))) != 0) {
		nng_msg_free(m);
		return rv;
	}
	*msgp = m;
	return 0;
}

/* Where the tag is valid: its room; 0 when msg carries none. */
static size_t bt_tag_room(nng_msg *msg)
{
	uint8_t want[BT_TAG_SIZE];
	uint32_t magic, room;
	if (nng_msg_header_len(msg) < BT_TAG_SIZE)
		return 0;
	const uint8_t *h = nng_msg_header(msg);
	memcpy(&magic, h, 4);
	memcpy(&room, h + 4, 4);
	if (magic != BT_TAG_MAGIC || room != BATON_NNG_MSG_HEADROOM)
		return 0;
	bt_tag_make(msg, room, want);
	return memcmp(h, want, BT_TAG_SIZE) == 0 ? room : 0;
}

void baton_nng_msg_untag(nng_msg *msg)
{
	if (msg != NULL && nng_msg_header_len(msg) >= BT_TAG_SIZE) {
		uint32_t magic;
		memcpy(&magic, nng_msg_header(msg), 4);
		if (magic == BT_TAG_MAGIC)
			nng_msg_header_trim(msg, BT_TAG_SIZE);
	}
}

size_t bt_nng_msg_take_room(nng_msg *msg)
{
	size_t room = bt_tag_room(msg);
	if (room > 0)
		nng_msg_header_trim(msg, BT_TAG_SIZE);
	return room;
}

void bt_nng_msg_give_room(nng_msg *msg, size_t room, const void *body)
{
	uint8_t tag[BT_TAG_SIZE];
	if (room == 0 || nng_msg_body(msg) != body)
		return;
	bt_tag_make(msg, (uint32_t)room, tag);
	/* Cannot fail: the tag came off this header, so there is space for it. */
	(void)nng_msg_header_insert(msg, tag, sizeof(tag));
}

uint64_t bt_nng_payload_copies(void)
{
	return atomic_load_explicit(&bt_copies, memory_order_relaxed);
}

int bt_nng_msg_prepend(nng_msg *msg, const void *data, size_t n, size_t room)
{
	if (n <= room || bt_insert_is_safe())
		return nng_msg_insert(msg, data, n);
	size_t len = nng_msg_len(msg);
	int rv = nng_msg_realloc(msg, len + n);
	if (rv != 0)
		return rv;
	uint8_t *b = nng_msg_body(msg);
	memmove(b + n, b, len);
	if (data != NULL)
		memcpy(b, data, n);
	/* A statistic: relaxed. */
	atomic_fetch_add_explicit(&bt_copies, 1, memory_order_relaxed);
	return 0;
}
