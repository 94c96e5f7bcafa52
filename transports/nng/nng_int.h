/*
 * Internal parts of baton::nng shared between its files. This library sees
 * only the public baton API (it links the shared baton library, whose bt_
 * symbols are hidden), so nothing here touches SDK internals.
 */
#ifndef BT_NNG_INT_H
#define BT_NNG_INT_H

#include <baton/nng.h>
#include <baton/w3c.h>

/* Destination names are cut at this many bytes. */
#define BT_NNG_DEST_MAX 95

/* A resolved destination: the attribute value and the span name. */
typedef struct bt_nng_dest {
	const char *dest; /* NULL: unknown */
	const char *span_name;
	char buf[BT_NNG_DEST_MAX + 16];
} bt_nng_dest;

/* Fills d for operation op ("send" or "process") from an explicit name, else socket
 * sock's. */
void bt_nng_dest_resolve(bt_nng_dest *d, const char *explicit_name, uint32_t sock,
                         bool send);

/* Slots in the destination-name tables, the current one and those it
 * replaced (for tests: it follows the sockets open at once). */
size_t bt_nng_names_capacity(void);

/* The "baton.nng" tracer of the running SDK (cached per baton_init). */
baton_tracer *bt_nng_tracer(void);

/*
 * Puts n bytes (data, or uninitialised when NULL) in front of msg's body,
 * as nng_msg_insert does, without NNG's insert bug on versions before
 * 1.8.0 (prepend.c). room: head room known to be there (from
 * bt_nng_msg_take_room); when n fits in it no payload is copied. Returns 0
 * or an NNG error; msg is unchanged on error.
 */
int bt_nng_msg_prepend(nng_msg *msg, const void *data, size_t n, size_t room);

/*
 * Takes the head-room tag of baton_nng_msg_alloc() off msg's header and
 * returns the room it vouches for; 0 (header untouched) when msg carries
 * no valid tag or its body moved since it was allocated.
 */
size_t bt_nng_msg_take_room(nng_msg *msg);

/*
 * Puts back the tag bt_nng_msg_take_room() took, when the body starts at
 * body again (NNG's trim leaves the pointer alone when it empties a body,
 * and a tag must only ever vouch for room that is there). room 0: nothing.
 */
void bt_nng_msg_give_room(nng_msg *msg, size_t room, const void *body);

/* Payload copies made so far to put an envelope in front (for tests). */
uint64_t bt_nng_payload_copies(void);

/* Aios the last finished broadcast had in flight at most at once (for tests). */
size_t bt_nng_broadcast_last_aios(void);

#endif /* BT_NNG_INT_H */
