/*
 * The message layer's receive counters and the SDK generation hook.
 *
 * Errors are rare: one relaxed atomic each (statistics: nothing orders on
 * them). What receivers do with every message is counted per thread (the
 * owner stores, readers load, no atomic read-modify-write on the receive
 * path); a thread's counts move to the retired totals when it exits.
 */
#include "message_int.h"
#include "trace/trace_int.h"

#include <pthread.h>

static _Atomic uint64_t bt_msg_noenv, bt_msg_trunc, bt_msg_format, bt_msg_version,
    bt_msg_toobig, bt_msg_ts_drop, bt_msg_bg_drop;

BT_TLS bt_msg_tls bt_msg_mine;
BT_TCOUNT_LAYOUT(bt_msg_tls, ev);
/* base: the sums at the last reset */
static uint64_t bt_msg_retired[BT_MSG_EVENTS], bt_msg_base[BT_MSG_EVENTS];
static bt_tcount_set bt_msg_set =
    BT_TCOUNT_SET(bt_msg_retired, BT_MSG_EVENTS, BATON_FORK_ENVELOPE);

__attribute__((constructor)) static void bt_msg_set_init(void)
{
	bt_tcount_set_init(&bt_msg_set);
}

__attribute__((noinline)) void bt_msg_count_event_slow(int ev)
{
	bt_msg_tls *t = &bt_msg_mine;
	bt_tcount_join(&bt_msg_set, &t->link);
	/* Counted even when it could not join (no exit key): the fast path. */
	atomic_store_explicit(&t->ev[ev],
	                      atomic_load_explicit(&t->ev[ev], memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* The event sums since the last reset; rebase: make now the new zero. */
static void bt_msg_events(uint64_t out[BT_MSG_EVENTS], bool rebase)
{
	bt_tcount_sum(&bt_msg_set, out, bt_msg_base, rebase);
}

void bt_msg_count_error(baton_err e)
{
	_Atomic uint64_t *c = NULL;
	switch (e) {
	case BATON_ENOENV:
		c = &bt_msg_noenv;
		break;
	case BATON_ETRUNCATED:
		c = &bt_msg_trunc;
		break;
	case BATON_EFORMAT:
		c = &bt_msg_format;
		break;
	case BATON_EVERSION:
		c = &bt_msg_version;
		break;
	case BATON_ETOOBIG:
		c = &bt_msg_toobig;
		break;
	default:
		break;
	}
	if (c != NULL)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void bt_msg_count_dropped(uint8_t dropped)
{
	if (dropped & BATON_ENV_DROPPED_TRACESTATE)
		atomic_fetch_add_explicit(&bt_msg_ts_drop, 1, memory_order_relaxed);
	if (dropped & BATON_ENV_DROPPED_BAGGAGE)
		atomic_fetch_add_explicit(&bt_msg_bg_drop, 1, memory_order_relaxed);
}

void baton_msg_stats_get(baton_msg_stats *out)
{
	uint64_t ev[BT_MSG_EVENTS];
	if (out == NULL)
		return;
	bt_msg_events(ev, false);
	out->no_envelope = atomic_load_explicit(&bt_msg_noenv, memory_order_relaxed);
	out->truncated = atomic_load_explicit(&bt_msg_trunc, memory_order_relaxed);
	out->malformed = atomic_load_explicit(&bt_msg_format, memory_order_relaxed);
	out->version = atomic_load_explicit(&bt_msg_version, memory_order_relaxed);
	out->too_big = atomic_load_explicit(&bt_msg_toobig, memory_order_relaxed);
	out->refused = ev[BT_MSG_REFUSED];
	out->stripped = ev[BT_MSG_STRIPPED];
	out->passed_through = ev[BT_MSG_PASSED];
	out->tracestate_dropped =
	    atomic_load_explicit(&bt_msg_ts_drop, memory_order_relaxed);
	out->baggage_dropped =
	    atomic_load_explicit(&bt_msg_bg_drop, memory_order_relaxed);
}

void baton_msg_stats_reset(void)
{
	atomic_store_explicit(&bt_msg_noenv, 0, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_trunc, 0, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_format, 0, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_version, 0, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_toobig, 0, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_ts_drop, 0, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_bg_drop, 0, memory_order_relaxed);
	/* Other threads' counters are theirs to write: the sums now become zero. */
	uint64_t ev[BT_MSG_EVENTS];
	bt_msg_events(ev, true);
}

uint64_t baton_msg_sdk_generation(void)
{
	return atomic_load_explicit(&bt_epoch, memory_order_acquire);
}
