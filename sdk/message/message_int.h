/*
 * Internal parts of the message layer (sdk/message) shared between its
 * files: the receive counters.
 */
#ifndef BT_MESSAGE_INT_H
#define BT_MESSAGE_INT_H

#include "util.h"

#include <baton/message.h>

/* What a receive did with a message (per-thread counters, stats.c). */
enum { BT_MSG_REFUSED = 0, BT_MSG_STRIPPED = 1, BT_MSG_PASSED = 2, BT_MSG_EVENTS = 3 };

/* Counts one receive event: a per-thread relaxed load and store, no lock. */
void bt_msg_count_event_slow(int ev);
typedef struct bt_msg_tls {
	bt_tcount_link link; /* one block of bt_msg_set (util.h) */
	_Atomic uint64_t ev[BT_MSG_EVENTS];
} bt_msg_tls;
extern BT_TLS bt_msg_tls bt_msg_mine;

static inline void bt_msg_count_event(int ev)
{
	bt_msg_tls *t = &bt_msg_mine;
	if (__builtin_expect(t->link.set == NULL, 0)) {
		bt_msg_count_event_slow(ev);
		return;
	}
	/* Only this thread writes t->ev: a relaxed load and store is enough. */
	atomic_store_explicit(&t->ev[ev],
	                      atomic_load_explicit(&t->ev[ev], memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* Counts an envelope that could not be read, by its error (rare: one atomic). */
void bt_msg_count_error(baton_err e);
/* Counts text extensions the reader dropped (BATON_ENV_DROPPED_* bits). */
void bt_msg_count_dropped(uint8_t dropped);

#endif /* BT_MESSAGE_INT_H */
