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
 * 1.8.0 (prepend.c). Returns 0 or an NNG error; msg is unchanged on error.
 */
int bt_nng_msg_prepend(nng_msg *msg, const void *data, size_t n);

#endif /* BT_NNG_INT_H */
