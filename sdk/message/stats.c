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
static bt_msg_tls *bt_msg_threads;
/* base: the sums at the last reset */
static uint64_t bt_msg_retired[BT_MSG_EVENTS], bt_msg_base[BT_MSG_EVENTS];
static pthread_mutex_t bt_msg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t bt_msg_key;
static pthread_once_t bt_msg_once = PTHREAD_ONCE_INIT;

static void bt_msg_thread_exit(void *arg)
{
	bt_msg_tls *t = arg;
	pthread_mutex_lock(&bt_msg_mu);
	for (bt_msg_tls **pp = &bt_msg_threads; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	for (int i = 0; i < BT_MSG_EVENTS; i++)
		bt_msg_retired[i] +=
		    atomic_load_explicit(&t->ev[i], memory_order_relaxed);
	t->linked = false;
	pthread_mutex_unlock(&bt_msg_mu);
}

/* fork(): the child must not inherit the list's mutex held by a thread it lacks. */
static void bt_msg_fork_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_msg_mu);
}

static void bt_msg_fork_release(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&bt_msg_mu);
}

/*
 * The child has only this thread: the others' counts (in their copied
 * thread-locals) leave the list for the retired sums. A thread the child
 * starts may be given a dead thread's thread-locals; linked a second time
 * at the same address, it would make the list a loop.
 */
static void bt_msg_fork_child(void *arg)
{
	bt_msg_tls *mine = &bt_msg_mine;
	for (bt_msg_tls *t = bt_msg_threads; t != NULL; t = t->next) {
		if (t == mine)
			continue;
		for (int i = 0; i < BT_MSG_EVENTS; i++)
			bt_msg_retired[i] +=
			    atomic_load_explicit(&t->ev[i], memory_order_relaxed);
	}
	bt_msg_threads = NULL;
	if (mine->linked) {
		mine->next = NULL;
		bt_msg_threads = mine;
	}
	bt_msg_fork_release(arg);
}

static baton_fork_step bt_msg_fork = {.order = BATON_FORK_ENVELOPE,
                                      .prepare = bt_msg_fork_prepare,
                                      .parent = bt_msg_fork_release,
                                      .child = bt_msg_fork_child};

static void bt_msg_key_init(void)
{
	(void)pthread_key_create(&bt_msg_key, bt_msg_thread_exit);
	baton_fork_register(&bt_msg_fork);
}

__attribute__((noinline)) void bt_msg_count_event_slow(int ev)
{
	bt_msg_tls *t = &bt_msg_mine;
	if (!t->linked) {
		pthread_once(&bt_msg_once, bt_msg_key_init);
		pthread_mutex_lock(&bt_msg_mu);
		t->next = bt_msg_threads;
		bt_msg_threads = t;
		t->linked = true;
		pthread_mutex_unlock(&bt_msg_mu);
		(void)pthread_setspecific(bt_msg_key, t);
	}
	bt_msg_count_event(ev);
}

/* The event sums since the last reset; rebase: make now the new zero. */
static void bt_msg_events(uint64_t out[BT_MSG_EVENTS], bool rebase)
{
	uint64_t sum[BT_MSG_EVENTS];
	pthread_mutex_lock(&bt_msg_mu);
	for (int i = 0; i < BT_MSG_EVENTS; i++)
		sum[i] = bt_msg_retired[i];
	for (bt_msg_tls *t = bt_msg_threads; t != NULL; t = t->next)
		for (int i = 0; i < BT_MSG_EVENTS; i++)
			sum[i] += atomic_load_explicit(&t->ev[i], memory_order_relaxed);
	for (int i = 0; i < BT_MSG_EVENTS; i++) {
		out[i] = sum[i] - bt_msg_base[i];
		if (rebase)
			bt_msg_base[i] = sum[i];
	}
	pthread_mutex_unlock(&bt_msg_mu);
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
