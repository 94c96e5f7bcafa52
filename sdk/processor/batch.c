/*
 * The batch span processor: a bounded multi-producer ring of span pointers
 * and one worker thread that exports full batches.
 *
 * Ring: a bounded queue with a sequence number per slot (Vyukov's design,
 * used here with one consumer). A producer claims position pos with a CAS
 * on enq when slot[pos & mask].seq == pos, writes the pointer and publishes
 * it by storing seq = pos + 1. The worker takes slot[deq & mask] when its
 * seq == deq + 1 and frees it by storing seq = deq + capacity. A full ring
 * makes on_end drop the span at once; nothing on the caller's path locks,
 * allocates or sleeps.
 *
 * Shards: a queue of 4096 slots or more is cut into BT_BSP_SHARDS rings of
 * equal size. Each producer thread has a home shard (threads are dealt out
 * in turn), so two producers do not fight over one enq and one run of
 * slots; when its home shard is full a producer tries the others, so one
 * thread can still fill the whole queue before a span is dropped. The
 * worker drains the shards in turn.
 *
 * Lanes: a sharded queue whose worker waits between exports (a schedule
 * delay of 1 ms or more) gives each thread that ends spans into it a lane
 * of its own: slots with one producer and one consumer, 8 batches' worth
 * (a power of two from 64, at most a quarter of the queue). A span goes
 * into the thread's lane with plain stores (the slot, then the tail), so
 * the caller's path takes no locked instruction, which would wait for
 * every store of the span before it; only when the lane is full does a
 * span go to the shards. A lane adds to the queue's capacity, which is why
 * small queues (bounded exactly) and a delay of 0 (which wants the worker
 * woken by the first span) do without. A lane push wakes the worker only
 * when the lane alone holds what it waits for (read without a store-load
 * fence: a wakeup missed there costs the worker's own timer, its delay or
 * its pace, at most); spans that overflow to the shards wake it as before.
 *
 * Lanes hold at most a quarter of the queue's capacity in all (threads
 * past that use the shards), so that the span store's default size, twice
 * the queue, still fills after the queue. Lanes belong to their thread and
 * their processor at once (refs): the thread drops its reference when it
 * exits, the processor when it is destroyed, and the last one frees the
 * lane; the worker frees the empty lanes of threads that are gone. Spans
 * of one thread keep their order while they fit in its lane, and in its
 * shard; across them no order is promised.
 *
 * Waking the worker: before sleeping the worker stores wake_at (the number
 * of queued spans that fill its batch) and sets sleeping = 1, then looks at
 * the ring again. A producer reads sleeping after its enqueue; only when it
 * is set and the ring holds wake_at spans does one producer (the one whose
 * exchange turns sleeping from 1 to 0) take the mutex and signal. So a
 * busy producer pays one relaxed-cost load per span and the worker is woken
 * once per batch, never per span. When spans came fast while it last
 * slept (its pace), the worker sleeps only until a batch should be full
 * at that pace and asks to be woken only for a queue a quarter full: the
 * producers' signal, a system call on their path, is then kept for when
 * the worker falls behind. The CAS on enq and the accesses to
 * sleeping are sequentially consistent: each side writes its variable and
 * then reads the other's (a store-load pattern that weaker orders allow to
 * be reordered, which would lose a wakeup). On x86 both cost nothing more.
 *
 * The worker holds the mutex while it takes spans off the ring and while it
 * releases an exported batch, and drops it only around export_spans. So at
 * any moment the mutex is free, the spans the processor owns are exactly
 * batch[0..nbatch) plus the published slots of the ring: the fork handlers
 * rely on that.
 *
 * Every drop is counted twice: in the processor's stats, and by reason in
 * the process-wide drop counters (core), which the worker turns into
 * rate-limited warnings about once a second. The caller's path only adds.
 *
 * What an export did comes back as export_spans' result; a flush or a
 * shutdown returns the error of an export that failed while it waited.
 *
 * Halves: with an exporter that can export in two halves (export_begin,
 * export_end), a full batch is begun and its spans released, and only then
 * does the worker wait for the end of the batch before it, so that one
 * batch travels while the next is drained and encoded. The wait comes at
 * once when no full batch is there to begin, so nothing stays unanswered
 * while the worker sleeps, flushes or stops; in_export stays set while a
 * batch is begun, for fork and for a shutdown that must cut it.
 */
#include "util.h"

#include <baton/baton.h>
#include <pthread.h>

#include <baton/processor.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* 16 MiB of ring at most: a bigger queue only holds more span records. */
#define BT_BSP_QUEUE_MAX (1u << 20)
/* Spans that must come during one sleep for the worker to keep their pace. */
#define BT_BSP_PACE_MIN 64u
/* Batches one paced sleep waits for, in a queue at least 8 times as big. */
#define BT_BSP_NAP_BATCHES 4u
/* The shortest sleep the pace may ask for. */
#define BT_BSP_NAP_MIN_NS ((uint64_t)20000u)
/* How often the worker looks at the drop counters, and its longest sleep. */
#define BT_BSP_TICK_NS ((uint64_t)1000000000u)

struct bt_slot {
	_Atomic uint64_t seq;
	const baton_span_data *span;
};

#define BT_BSP_SHARDS     4
#define BT_BSP_SHARD_FROM 4096u /* queues this big are sharded */

struct bt_ring {
	/* Producer side: written by every on_end of the shard. */
	_Alignas(64) _Atomic uint64_t enq;
	/* Consumer side: written by the worker only. */
	_Alignas(64) _Atomic uint64_t deq;
	uint64_t flush_target; /* enq when the pending flush was asked; under mtx */
	/* Read by both, written by neither after creation: a line of its own,
	 * which no write on either side takes from the other's cache. */
	_Alignas(64) struct bt_slot *slots;
	uint64_t mask;
};

#define BT_LANE_REFS  8u    /* processors a thread has lanes into at once */
#define BT_LANE_RETRY 1024u /* spans between a refused thread's asks */

struct bt_lane {
	/* Written by its thread only; read by the worker when it drains. */
	_Alignas(64) _Atomic uint64_t tail;
	uint64_t head_seen; /* head as its thread last read it */
	uint64_t mask;      /* slots - 1; on this line, which no worker write takes */
	/* Written by the worker, under mtx. */
	_Alignas(64) _Atomic uint64_t head;
	uint64_t flush_target; /* tail when the pending flush was asked */
	struct bt_lane *next;  /* the processor's lanes, under mtx */
	const void *owner;     /* its thread's lane table */
	_Atomic uint32_t refs; /* its thread and its processor */
	void *mem;             /* what was allocated (aligned by hand) */
	_Alignas(64) const baton_span_data *span[];
};

struct bt_batch {
	struct bt_ring ring[BT_BSP_SHARDS];
	uint32_t nshards;           /* 1 or BT_BSP_SHARDS */
	uint32_t cur;               /* the shard the worker drains next; worker only */
	struct bt_slot *slots;      /* every shard's slots */
	uint64_t id;                /* never reused: what a thread's lane table keys on */
	bool use_lanes;             /* sharded and paced: threads get lanes */
	uint32_t drains;            /* lanes go first in every other drain; under mtx */
	struct bt_lane *lanes;      /* under mtx */
	uint32_t lane_spans;        /* a power of two */
	uint32_t nlanes, max_lanes; /* lanes hold at most a quarter of capacity */
	uint64_t lanes_gone; /* spans ever queued in lanes since freed; under mtx */
	/* Read by producers to decide whether to wake the worker. */
	_Alignas(64) _Atomic int sleeping;
	_Atomic uint32_t wake_at;
	_Atomic bool closed;
	_Atomic uint64_t dropped_full;
	_Atomic uint64_t dropped_closed;

	baton_exporter exp;
	uint32_t batch_size;
	uint64_t delay_ns;
	uint32_t export_timeout_ms;

	pthread_mutex_t mtx;
	pthread_cond_t wake; /* the worker waits on it */
	pthread_cond_t done; /* flush and shutdown callers wait on it */
	pthread_t thread;
	bool thread_started;
	bool worker_done;
	bool in_export;
	/* A fork() waits for in_export to clear: the worker begins nothing
	 * new until it has gone. Under mtx. */
	bool fork_waiting;
	/* In a forked child: no worker yet; the first use starts one. */
	_Atomic bool need_worker;
	/*
	 * Spans a timed-out shutdown already counted as dropped while the worker
	 * still held them (an export that outlived the time): their release
	 * does not count them again. Under mtx.
	 */
	uint64_t precounted;
	bool shutting;
	bool exp_shut; /* the exporter's shutdown was called */
	uint64_t shutdown_deadline;
	uint64_t flush_req, flush_done, flush_deadline;

	const baton_span_data **batch;
	uint32_t nbatch;
	uint32_t capacity; /* of all the shards */
	/* ns between spans while the worker last slept, when they came fast
	 * (at least BT_BSP_PACE_MIN of them); 0: slow or not known. Worker only. */
	uint64_t pace_ns;
	/*
	 * The exporter exports in two halves (export_begin / export_end): up to
	 * two batches are begun and not yet ended, their sizes oldest first.
	 * Their spans are released already and counted when the end comes.
	 * Under mtx.
	 */
	bool halves;
	uint32_t npending;
	uint32_t pending[2];

	/* Counters the worker keeps, under mtx. */
	uint64_t exported, dropped_shutdown, dropped_failure, rejected;
	uint64_t requests, retries, failures, discarded_at_fork;
	char last_error[160];
	baton_err last_err;     /* of the last failed export */
	baton_err flush_exp_rv; /* what the exporter's force_flush said last */
	baton_err shut_exp_rv;  /* what the exporter's shutdown said */
	bool destroyed;         /* retired: only the counters are left */

	struct bt_batch *next; /* all live batch processors, for fork */
};

/* ---- the ring ---- */

/* Returns 1 + the position the span took, or 0 when the ring is full. */
static uint64_t bt_ring_push(struct bt_ring *r, const baton_span_data *span)
{
	struct bt_slot *sl;
	uint64_t pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
	for (;;) {
		sl = &r->slots[pos & r->mask];
		/* Acquire: pairs with the worker's release after it read the slot. */
		uint64_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&r->enq, &pos, pos + 1,
			                                          memory_order_seq_cst,
			                                          memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return 0; /* the slot still holds a span a lap behind: full */
		} else {
			pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
		}
	}
	sl->span = span;
	/* The slots a few spans on come back from the worker's cache: fetch early. */
	bt_prefetch_w(&r->slots[(pos + 16) & r->mask]);
	/* Release: the worker that sees seq == pos + 1 sees the pointer. */
	atomic_store_explicit(&sl->seq, pos + 1, memory_order_release);
	return pos + 1;
}

/* Each thread's home shard: threads are dealt out in turn. */
static _Atomic uint32_t bt_shard_next;
static BT_TLS uint32_t bt_shard_home; /* 1 + the deal; 0: not dealt yet */

/* Queues the span in the producer's home shard, else in any other.
 * Returns bt_ring_push's answer. */
static uint64_t bt_batch_push(struct bt_batch *b, const baton_span_data *span)
{
	uint32_t n = b->nshards, home = 0;
	if (n > 1) {
		if (__builtin_expect(bt_shard_home == 0, 0))
			bt_shard_home = atomic_fetch_add_explicit(&bt_shard_next, 1,
			                                          memory_order_relaxed) +
			                1;
		home = bt_shard_home;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t at = bt_ring_push(&b->ring[(home + i) & (n - 1)], span);
		if (at != 0)
			return at;
	}
	return 0;
}

/* ---- lanes ---- */

/* Its thread only: queues the span, or returns false when the lane is full. */
static inline bool bt_lane_push(struct bt_lane *l, const baton_span_data *span)
{
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_relaxed);
	if (__builtin_expect(t - l->head_seen > l->mask, 0)) {
		/* Acquire: pairs with the worker's release after it read the slots. */
		l->head_seen = atomic_load_explicit(&l->head, memory_order_acquire);
		if (t - l->head_seen > l->mask)
			return false;
	}
	l->span[t & l->mask] = span;
	/* Release: the worker that reads this tail sees the slot. */
	atomic_store_explicit(&l->tail, t + 1, memory_order_release);
	return true;
}

/* A thread's lanes, one per processor it ends spans into, by processor id. */
struct bt_lane_ref {
	uint64_t id;
	struct bt_lane *lane; /* NULL: refused; asks again in `retry` spans */
	uint32_t retry;
};
struct bt_lane_table {
	struct bt_lane_ref ref[BT_LANE_REFS];
};
/* Allocated on first use and freed by the thread's exit (not in static
 * TLS, of which a library loaded with dlopen() gets little). */
static BT_TLS struct bt_lane_table *bt_lanes_mine;
static pthread_key_t bt_lanes_key;
static bool bt_lanes_key_ok;
static pthread_once_t bt_lanes_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t bt_batch_ids;

static void bt_lane_free(struct bt_lane *l)
{
	bt_free(l->mem);
}

/* Drops one of the lane's two references; the last one frees it. */
static void bt_lane_unref(struct bt_lane *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1)
		bt_lane_free(l);
}

/* Thread exit: the processors keep draining the lanes, then free them. */
static void bt_lanes_thread_exit(void *arg)
{
	struct bt_lane_table *m = arg;
	for (uint32_t i = 0; i < BT_LANE_REFS; i++) {
		if (m->ref[i].lane != NULL)
			bt_lane_unref(m->ref[i].lane);
	}
	/* A later span (in another destructor) makes a new table. */
	if (bt_lanes_mine == m)
		bt_lanes_mine = NULL;
	bt_free(m);
}

static void bt_lanes_key_init(void)
{
	bt_lanes_key_ok = pthread_key_create(&bt_lanes_key, bt_lanes_thread_exit) == 0;
}

/*
 * The calling thread's lane into b, made on its first span there; NULL
 * (the span goes to the shards) without memory, when b is shutting down,
 * when the lanes already hold their share of the queue, or when the
 * table's entry holds a lane into another live processor. A thread
 * refused a lane asks again every BT_LANE_RETRY spans: lanes of threads
 * that exit are freed, and a pool that replaces its threads gets them.
 */
static BT_NOINLINE struct bt_lane *bt_lane_attach(struct bt_batch *b)
{
	struct bt_lane_table *m = bt_lanes_mine;
	if (m == NULL) {
		pthread_once(&bt_lanes_once, bt_lanes_key_init);
		if (!bt_lanes_key_ok || (m = bt_calloc(1, sizeof(*m))) == NULL)
			return NULL;
		if (pthread_setspecific(bt_lanes_key, m) != 0) {
			bt_free(m);
			return NULL;
		}
		bt_lanes_mine = m;
	}
	struct bt_lane_ref *r = &m->ref[b->id & (BT_LANE_REFS - 1)];
	if (r->lane != NULL) {
		/* Ours alone: its processor is gone, so the entry is free. */
		if (atomic_load_explicit(&r->lane->refs, memory_order_acquire) != 1)
			return NULL;
		bt_lane_free(r->lane);
		*r = (struct bt_lane_ref){0, NULL, 0};
	}
	/* From here on the entry answers for b: a lane, or none (NULL). */
	*r = (struct bt_lane_ref){b->id, NULL, BT_LANE_RETRY};
	pthread_mutex_lock(&b->mtx);
	bool full = b->shutting || b->nlanes >= b->max_lanes;
	pthread_mutex_unlock(&b->mtx);
	if (full)
		return NULL;
	void *mem =
	    bt_calloc(1, sizeof(struct bt_lane) +
	                     b->lane_spans * sizeof(const baton_span_data *) + 63);
	if (mem == NULL)
		return NULL;
	struct bt_lane *l = (struct bt_lane *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
	l->mem = mem;
	l->mask = b->lane_spans - 1;
	l->owner = m;
	atomic_init(&l->refs, 2);
	pthread_mutex_lock(&b->mtx);
	if (b->shutting || b->nlanes >= b->max_lanes) {
		/* Closing, or the lanes already hold their share of the queue:
		 * this thread's spans go to the shards. */
		pthread_mutex_unlock(&b->mtx);
		bt_free(mem);
		return NULL;
	}
	b->nlanes++;
	l->next = b->lanes;
	b->lanes = l;
	pthread_mutex_unlock(&b->mtx);
	r->lane = l;
	return l;
}

/* The calling thread's lane into b, or NULL. */
static inline struct bt_lane *bt_lane_get(struct bt_batch *b)
{
	struct bt_lane_table *m = bt_lanes_mine;
	if (__builtin_expect(m != NULL, 1)) {
		struct bt_lane_ref *r = &m->ref[b->id & (BT_LANE_REFS - 1)];
		if (__builtin_expect(r->id == b->id, 1)) {
			if (__builtin_expect(r->lane != NULL, 1))
				return r->lane;
			if (--r->retry != 0)
				return NULL;
		}
	}
	return bt_lane_attach(b);
}

/* Called with mtx held: takes what the lane holds, as the batch has room. */
static void bt_lane_take(struct bt_batch *b, struct bt_lane *l)
{
	uint64_t h = atomic_load_explicit(&l->head, memory_order_relaxed);
	/* Acquire: pairs with the producer's release of the tail (the slots). */
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
	uint64_t n = t - h, room = b->batch_size - b->nbatch;
	if (n > room)
		n = room;
	for (uint64_t i = 0; i < n; i++)
		b->batch[b->nbatch++] = l->span[(h + i) & l->mask];
	if (n > 0)
		atomic_store_explicit(&l->head, h + n, memory_order_release);
}

/* Called with mtx held: unlinks the lane and drops the processor's reference. */
static void bt_lane_unlink(struct bt_batch *b, struct bt_lane **pp)
{
	struct bt_lane *l = *pp;
	*pp = l->next;
	b->nlanes--;
	b->lanes_gone += atomic_load_explicit(&l->tail, memory_order_relaxed);
	bt_lane_unref(l);
}

/*
 * Called with mtx held: takes from every lane as the batch has room, and
 * frees the empty lanes of threads that are gone.
 */
static void bt_drain_lanes(struct bt_batch *b)
{
	struct bt_lane **pp = &b->lanes;
	while (*pp != NULL) {
		struct bt_lane *l = *pp;
		if (b->nbatch < b->batch_size)
			bt_lane_take(b, l);
		if (atomic_load_explicit(&l->refs, memory_order_acquire) == 1 &&
		    atomic_load_explicit(&l->head, memory_order_relaxed) ==
		        atomic_load_explicit(&l->tail, memory_order_acquire)) {
			bt_lane_unlink(b, pp);
			continue;
		}
		pp = &l->next;
	}
}

/* Worker only. Returns NULL when the head slot is empty or not yet published. */
static const baton_span_data *bt_ring_pop(struct bt_ring *r)
{
	uint64_t pos = atomic_load_explicit(&r->deq, memory_order_relaxed);
	struct bt_slot *sl = &r->slots[pos & r->mask];
	if (atomic_load_explicit(&sl->seq, memory_order_acquire) != pos + 1)
		return NULL;
	const baton_span_data *s = sl->span;
	atomic_store_explicit(&sl->seq, pos + r->mask + 1, memory_order_release);
	/* Relaxed: deq is only read for size estimates. */
	atomic_store_explicit(&r->deq, pos + 1, memory_order_relaxed);
	return s;
}

/* Spans in every shard (claimed or published). */
static uint64_t bt_ring_size(struct bt_batch *b)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < b->nshards; i++) {
		uint64_t e = atomic_load_explicit(&b->ring[i].enq, memory_order_seq_cst);
		uint64_t d = atomic_load_explicit(&b->ring[i].deq, memory_order_relaxed);
		n += e > d ? e - d : 0;
	}
	return n;
}

/* Called with mtx held: spans ever queued and taken off, over the shards
 * and the lanes. */
static void bt_ring_totals(struct bt_batch *b, uint64_t *enq, uint64_t *deq)
{
	*enq = *deq = b->lanes_gone;
	for (uint32_t i = 0; i < b->nshards; i++) {
		*enq += atomic_load(&b->ring[i].enq);
		*deq += atomic_load(&b->ring[i].deq);
	}
	for (struct bt_lane *l = b->lanes; l != NULL; l = l->next) {
		*enq += atomic_load(&l->tail);
		*deq += atomic_load(&l->head);
	}
}

/* Called with mtx held: spans in the shards (claimed or published) and lanes. */
static uint64_t bt_queued(struct bt_batch *b)
{
	uint64_t enq, deq;
	bt_ring_totals(b, &enq, &deq);
	return enq > deq ? enq - deq : 0;
}

/* Called with mtx held: marks what a flush asked now must wait for. */
static void bt_flush_mark(struct bt_batch *b)
{
	for (uint32_t i = 0; i < b->nshards; i++)
		b->ring[i].flush_target =
		    atomic_load_explicit(&b->ring[i].enq, memory_order_seq_cst);
	for (struct bt_lane *l = b->lanes; l != NULL; l = l->next)
		l->flush_target = atomic_load_explicit(&l->tail, memory_order_acquire);
}

/* Called with mtx held: every shard and lane has been taken off up to its
 * flush target. */
static bool bt_flush_reached(struct bt_batch *b)
{
	for (uint32_t i = 0; i < b->nshards; i++) {
		if (atomic_load_explicit(&b->ring[i].deq, memory_order_relaxed) <
		    b->ring[i].flush_target)
			return false;
	}
	for (struct bt_lane *l = b->lanes; l != NULL; l = l->next) {
		if (atomic_load_explicit(&l->head, memory_order_relaxed) <
		    l->flush_target)
			return false;
	}
	return true;
}

/* ---- the worker ---- */

static struct timespec bt_abs_timespec(uint64_t mono_ns)
{
	struct timespec ts = {(time_t)(mono_ns / 1000000000u),
	                      (long)(mono_ns % 1000000000u)};
	return ts;
}

static uint32_t bt_ms_left(uint64_t deadline)
{
	uint64_t now = bt_now_mono_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now) / 1000000u;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Called with mtx held: fills the batch from the shards. */
static void bt_drain_shards(struct bt_batch *b)
{
	uint32_t empty = 0;
	while (b->nbatch < b->batch_size && empty < b->nshards) {
		const baton_span_data *s = bt_ring_pop(&b->ring[b->cur]);
		if (s == NULL) {
			b->cur = (b->cur + 1) & (b->nshards - 1);
			empty++;
			continue;
		}
		empty = 0;
		b->batch[b->nbatch++] = s;
	}
}

/* Called with mtx held: fills the batch, the lanes first every other time
 * (neither side waits behind the other for long). */
static void bt_drain(struct bt_batch *b)
{
	bool lanes_first = (b->drains++ & 1) == 0;
	if (lanes_first)
		bt_drain_lanes(b);
	bt_drain_shards(b);
	if (!lanes_first)
		bt_drain_lanes(b);
}

/*
 * Called with mtx held: counts n spans the processor let go of under
 * *counter and, when it is a drop, under reason (BT_DROP_NREASONS: not a
 * drop), less those a timed-out shutdown counted already.
 */
static void bt_count_out(struct bt_batch *b, uint64_t n, uint64_t *counter,
                         bt_drop_reason reason)
{
	uint64_t pre = b->precounted < n ? b->precounted : n;
	b->precounted -= pre;
	*counter += n - pre;
	if (reason != BT_DROP_NREASONS)
		bt_drop_add(reason, n - pre);
}

/* Called with mtx held: releases the batch, counting it (bt_count_out). */
static void bt_release_batch(struct bt_batch *b, uint64_t *counter, bt_drop_reason reason)
{
	/* Records go back to their starting threads in bundles, not one by one. */
	baton_span_data_release_n(b->batch, b->nbatch);
	bt_count_out(b, b->nbatch, counter, reason);
	b->nbatch = 0;
}

/*
 * Called with mtx held, the lock dropped since the export returned r for n
 * spans: counts them and what the exporter said.
 */
static void bt_export_done(struct bt_batch *b, uint64_t n, baton_export_result r,
                           const char *why)
{
	b->requests++;
	b->retries += r.retries;
	b->rejected += r.rejected;
	if (r.err == BATON_OK) {
		bt_count_out(b, n, &b->exported, BT_DROP_NREASONS);
		return;
	}
	b->failures++;
	b->last_err = r.err;
	snprintf(b->last_error, sizeof(b->last_error), "%s", why);
	if (b->exp_shut)
		bt_count_out(b, n, &b->dropped_shutdown, BT_DROP_SHUTDOWN);
	else
		bt_count_out(b, n, &b->dropped_failure, BT_DROP_EXPORT_FAILED);
	bt_debug("batch processor: export failed: %s", why);
}

/* The reason lives until the exporter's next call: copied, made printable. */
static void bt_export_why(const baton_export_result *r, char *why, size_t cap)
{
	why[0] = '\0';
	if (r->err != BATON_OK) {
		const char *t = r->reason != NULL ? r->reason : baton_strerror(r->err);
		bt_text_sanitize(why, cap, t, strlen(t));
	}
}

/* Called with mtx held and npending > 0: ends the oldest batch begun. */
static void bt_export_end(struct bt_batch *b)
{
	uint32_t n = b->pending[0];
	char why[sizeof(b->last_error)];
	pthread_mutex_unlock(&b->mtx);
	baton_export_result r = b->exp.ops->export_end(b->exp.arg);
	bt_export_why(&r, why, sizeof(why));
	pthread_mutex_lock(&b->mtx);
	b->pending[0] = b->pending[1];
	if (--b->npending == 0) {
		b->in_export = false;
		pthread_cond_broadcast(&b->done); /* a fork() may be waiting for this */
	}
	bt_export_done(b, n, r, why);
}

/* Called with mtx held and nbatch > 0; drops mtx around the exporter's calls. */
static void bt_export_batch(struct bt_batch *b)
{
	if (b->exp_shut) {
		bt_release_batch(b, &b->dropped_shutdown, BT_DROP_SHUTDOWN);
		return;
	}
	b->in_export = true;
	uint32_t n = b->nbatch;
	if (b->halves) {
		/* Begin this batch (the one before may still be on its way), then
		 * wait for the one before: this one travels while the next fills. */
		pthread_mutex_unlock(&b->mtx);
		b->exp.ops->export_begin(b->exp.arg, b->batch, n);
		pthread_mutex_lock(&b->mtx);
		b->pending[b->npending++] = n;
		baton_span_data_release_n(b->batch, n);
		b->nbatch = 0;
		if (b->npending == 2)
			bt_export_end(b);
		return;
	}
	pthread_mutex_unlock(&b->mtx);
	baton_export_result r = b->exp.ops->export_spans(b->exp.arg, b->batch, n);
	char why[sizeof(b->last_error)];
	bt_export_why(&r, why, sizeof(why));
	pthread_mutex_lock(&b->mtx);
	b->in_export = false;
	pthread_cond_broadcast(&b->done); /* a fork() may be waiting for this */
	baton_span_data_release_n(b->batch, n);
	b->nbatch = 0;
	bt_export_done(b, n, r, why);
}

/* Called with mtx held: releases every span still owned, counting it. */
static void bt_release_all(struct bt_batch *b, uint64_t *counter, bt_drop_reason reason)
{
	bt_release_batch(b, counter, reason);
	for (;;) {
		bt_drain(b);
		if (b->nbatch == 0)
			break;
		bt_release_batch(b, counter, reason);
	}
}

static void *bt_batch_worker(void *arg)
{
	struct bt_batch *b = arg;
	pthread_setname_np(pthread_self(), "baton-export");
	pthread_mutex_lock(&b->mtx);
	uint64_t next_export = bt_now_mono_ns() + b->delay_ns;
	uint64_t next_poll = 0;
	for (;;) {
		if (b->fork_waiting) {
			/* Under a backlog the next export would start before fork()
			 * got the lock back: end what is begun and stand still. */
			while (b->npending > 0)
				bt_export_end(b);
			while (b->fork_waiting)
				pthread_cond_wait(&b->wake, &b->mtx);
			continue;
		}
		uint64_t now = bt_now_mono_ns();
		if (now >= next_poll) {
			/* Unlocked: the log sink may call back into baton. */
			pthread_mutex_unlock(&b->mtx);
			bt_drop_poll();
			pthread_mutex_lock(&b->mtx);
			next_poll = now + BT_BSP_TICK_NS;
		}
		bt_drain(b);
		now = bt_now_mono_ns();
		bool flushing = b->flush_req != b->flush_done;
		bool stopping = b->shutting;
		if (stopping && now >= b->shutdown_deadline)
			break;
		if (b->nbatch == b->batch_size ||
		    (b->nbatch > 0 && (now >= next_export || flushing || stopping))) {
			bt_export_batch(b);
			next_export = bt_now_mono_ns() + b->delay_ns;
			continue;
		}
		if (b->npending > 0) {
			/* No full batch to begin meanwhile: wait for the answer now,
			 * before sleeping, flushing or stopping. */
			bt_export_end(b);
			continue;
		}
		uint64_t queued = bt_queued(b);
		if (b->nbatch == 0 && queued == 0) {
			if (flushing && bt_flush_reached(b)) {
				uint64_t req = b->flush_req;
				baton_err frv = BATON_OK;
				if (b->exp.ops->force_flush != NULL && !b->exp_shut) {
					uint32_t left = bt_ms_left(b->flush_deadline);
					pthread_mutex_unlock(&b->mtx);
					frv = b->exp.ops->force_flush(b->exp.arg, left);
					pthread_mutex_lock(&b->mtx);
				}
				b->flush_exp_rv = frv;
				b->flush_done = req;
				pthread_cond_broadcast(&b->done);
				continue;
			}
			if (stopping)
				break;
			if (now >= next_export)
				next_export = now + b->delay_ns;
		}
		if (queued > 0 &&
		    (flushing || stopping || b->nbatch + queued >= b->batch_size)) {
			/* A producer claimed a slot and has not published it yet. */
			pthread_mutex_unlock(&b->mtx);
			sched_yield();
			pthread_mutex_lock(&b->mtx);
			continue;
		}
		/*
		 * Sleep until the batch is full (a producer wakes us) or the delay
		 * is over. A delay of 0 means "export as soon as a span is there":
		 * the first span wakes us. Either way wake at least once a tick, to
		 * report drops.
		 */
		uint32_t wake_at = b->delay_ns == 0 ? 1 : b->batch_size - b->nbatch;
		uint64_t until = b->delay_ns == 0 ? now + BT_BSP_TICK_NS : next_export;
		if (b->delay_ns != 0 && b->pace_ns != 0) {
			/*
			 * Spans come fast: sleep until, at the pace they kept, the
			 * batch is full (a few batches, in a queue that holds many
			 * times that: one wake-up for several), and leave the
			 * producers' signal (a system call on their path) for a queue
			 * a quarter full.
			 */
			uint64_t goal = wake_at; /* spans in the ring when it wakes */
			if (b->capacity / 8 >= BT_BSP_NAP_BATCHES * b->batch_size)
				goal = BT_BSP_NAP_BATCHES * b->batch_size - b->nbatch;
			uint64_t fill = now + (goal - queued) * b->pace_ns;
			if (fill < now + BT_BSP_NAP_MIN_NS)
				fill = now + BT_BSP_NAP_MIN_NS;
			if (fill < until)
				until = fill;
			if (wake_at < b->capacity / 4)
				wake_at = b->capacity / 4;
		}
		if (until > next_poll)
			until = next_poll;
		atomic_store_explicit(&b->wake_at, wake_at, memory_order_relaxed);
		atomic_store_explicit(&b->sleeping, 1, memory_order_seq_cst);
		/* What a producer compares with wake_at: the queue alone. (Adding
		 * the batch kept the worker spinning once half a batch was in.) */
		if (bt_queued(b) >= wake_at) {
			atomic_store_explicit(&b->sleeping, 0, memory_order_relaxed);
			continue;
		}
		struct timespec ts = bt_abs_timespec(until);
		uint64_t enq0, enq1, deq;
		bt_ring_totals(b, &enq0, &deq);
		pthread_cond_timedwait(&b->wake, &b->mtx, &ts);
		atomic_store_explicit(&b->sleeping, 0, memory_order_relaxed);
		/* The pace of the spans that came while we slept, when they were many. */
		bt_ring_totals(b, &enq1, &deq);
		uint64_t slept = bt_now_mono_ns() - now;
		b->pace_ns = enq1 - enq0 >= BT_BSP_PACE_MIN ? slept / (enq1 - enq0) : 0;
		if (b->pace_ns == 0 && enq1 - enq0 >= BT_BSP_PACE_MIN)
			b->pace_ns = 1;
	}
	/* Shutting down: whatever is left could not be exported in time. What
	 * is begun is answered first (cut short once the exporter is shut). */
	while (b->npending > 0)
		bt_export_end(b);
	bt_release_all(b, &b->dropped_shutdown, BT_DROP_SHUTDOWN);
	if (!b->exp_shut) {
		b->exp_shut = true;
		if (b->exp.ops->shutdown != NULL) {
			uint32_t left = bt_ms_left(b->shutdown_deadline);
			pthread_mutex_unlock(&b->mtx);
			baton_err srv = b->exp.ops->shutdown(b->exp.arg, left);
			pthread_mutex_lock(&b->mtx);
			b->shut_exp_rv = srv;
		}
	}
	b->worker_done = true;
	pthread_cond_broadcast(&b->done);
	pthread_mutex_unlock(&b->mtx);
	return NULL;
}

static void bt_batch_ensure_worker(struct bt_batch *b);

/* Wakes the worker, once, when this call turns sleeping from 1 to 0. */
static BT_NOINLINE void bt_wake_worker(struct bt_batch *b)
{
	if (atomic_exchange_explicit(&b->sleeping, 0, memory_order_relaxed) == 1) {
		pthread_mutex_lock(&b->mtx);
		pthread_cond_signal(&b->wake);
		pthread_mutex_unlock(&b->mtx);
	}
}

/*
 * The worker sleeps: wakes it when the lane alone holds what it waits
 * for. The lane's head is read again (the line is still while the worker
 * sleeps) before a wakeup: the head the thread saw last may be old.
 */
static inline void bt_lane_wake(struct bt_batch *b, struct bt_lane *l)
{
	uint32_t wake_at = atomic_load_explicit(&b->wake_at, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_relaxed);
	if (__builtin_expect(t - l->head_seen < wake_at, 1))
		return;
	l->head_seen = atomic_load_explicit(&l->head, memory_order_acquire);
	if (t - l->head_seen >= wake_at)
		bt_wake_worker(b);
}

/* ---- processor ops ---- */

static void bt_batch_on_end(void *arg, const baton_span_data *span)
{
	struct bt_batch *b = arg;
	bt_batch_ensure_worker(b);
	if (atomic_load_explicit(&b->closed, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&b->dropped_closed, 1, memory_order_relaxed);
		bt_drop_add(BT_DROP_SHUTDOWN, 1);
		baton_span_data_release(span);
		return;
	}
	if (b->use_lanes) {
		struct bt_lane *l = bt_lane_get(b);
		if (__builtin_expect(l != NULL, 1) && bt_lane_push(l, span)) {
			if (atomic_load_explicit(&b->sleeping, memory_order_relaxed) != 0)
				bt_lane_wake(b, l);
			return;
		}
	}
	uint64_t at = bt_batch_push(b, span);
	if (at == 0) {
		atomic_fetch_add_explicit(&b->dropped_full, 1, memory_order_relaxed);
		bt_drop_add(BT_DROP_QUEUE_FULL, 1);
		baton_span_data_release(span);
		return;
	}
	if (atomic_load_explicit(&b->sleeping, memory_order_seq_cst) == 0)
		return;
	uint32_t wake_at = atomic_load_explicit(&b->wake_at, memory_order_relaxed);
	/* Past a batch, wake_at only guards against a worker that overslept its
	 * pace (it wakes on its own): reading every shard's ends, lines the
	 * other side writes, is then worth it every 64th span only. */
	if (wake_at > b->batch_size && (at & 63) != 0)
		return;
	if (bt_ring_size(b) < wake_at)
		return;
	/* Only the producer that turns sleeping from 1 to 0 signals. */
	bt_wake_worker(b);
}

/* Called with mtx held. */
static void bt_kick(struct bt_batch *b)
{
	atomic_store_explicit(&b->sleeping, 0, memory_order_relaxed);
	pthread_cond_signal(&b->wake);
}

static baton_err bt_batch_flush(void *arg, uint32_t timeout_ms)
{
	struct bt_batch *b = arg;
	baton_err rv = BATON_OK;
	uint64_t deadline = bt_now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	bt_batch_ensure_worker(b);
	pthread_mutex_lock(&b->mtx);
	if (b->shutting || b->worker_done) {
		rv = BATON_ECLOSED;
		goto out;
	}
	uint64_t req = ++b->flush_req;
	uint64_t failures = b->failures;
	bt_flush_mark(b);
	b->flush_deadline = deadline;
	bt_kick(b);
	struct timespec ts = bt_abs_timespec(deadline);
	while (b->flush_done < req && !b->worker_done) {
		if (pthread_cond_timedwait(&b->done, &b->mtx, &ts) != 0 &&
		    bt_now_mono_ns() >= deadline)
			break;
	}
	if (b->flush_done < req)
		rv = b->worker_done ? BATON_ECLOSED : BATON_ETIMEDOUT;
	else if (b->failures != failures)
		rv = b->last_err; /* an export failed while we waited */
	else
		rv = b->flush_exp_rv;
out:
	pthread_mutex_unlock(&b->mtx);
	return rv;
}

/* Waits on done until the worker finished or mono time `until`. mtx held. */
static void bt_wait_worker(struct bt_batch *b, uint64_t until)
{
	struct timespec ts = bt_abs_timespec(until);
	while (!b->worker_done) {
		if (pthread_cond_timedwait(&b->done, &b->mtx, &ts) != 0 &&
		    bt_now_mono_ns() >= until)
			break;
	}
}

static baton_err bt_batch_shutdown(void *arg, uint32_t timeout_ms)
{
	struct bt_batch *b = arg;
	baton_err rv = BATON_OK;
	uint64_t start = bt_now_mono_ns();
	uint64_t deadline = start + (uint64_t)timeout_ms * 1000000u;
	/* Keep a tenth of the time (at most 200 ms) to cut an export in flight. */
	uint64_t margin = (uint64_t)timeout_ms * 100000u;
	if (margin > 200000000u)
		margin = 200000000u;

	pthread_mutex_lock(&b->mtx);
	if (b->shutting) {
		pthread_mutex_unlock(&b->mtx);
		return BATON_ECLOSED;
	}
	b->shutting = true;
	atomic_store(&b->need_worker,
	             false); /* never used in this child: nothing queued */
	uint64_t failures = b->failures;
	b->shutdown_deadline = deadline - margin;
	atomic_store_explicit(&b->closed, true, memory_order_relaxed);
	bt_kick(b);
	if (!b->thread_started)
		b->worker_done = true;
	bt_wait_worker(b, deadline - margin);
	if (!b->worker_done && b->in_export && !b->exp_shut) {
		/* The export in flight outlives our time: let the exporter cut it. */
		b->exp_shut = true;
		if (b->exp.ops->shutdown != NULL) {
			pthread_mutex_unlock(&b->mtx);
			baton_err srv =
			    b->exp.ops->shutdown(b->exp.arg, bt_ms_left(deadline));
			pthread_mutex_lock(&b->mtx);
			b->shut_exp_rv = srv;
		}
	}
	bt_wait_worker(b, deadline);
	if (!b->worker_done) {
		/*
		 * The time ran out with spans still held (an export outlived it):
		 * they are dropped at shutdown now, so the counts and the summary
		 * say so even if the process ends before the worker lets go.
		 */
		uint64_t held = b->nbatch + bt_queued(b);
		for (uint32_t i = 0; i < b->npending; i++)
			held += b->pending[i];
		held -= b->precounted;
		b->precounted += held;
		b->dropped_shutdown += held;
		bt_drop_add(BT_DROP_SHUTDOWN, held);
	}
	if (!b->worker_done || b->dropped_shutdown > 0)
		rv = BATON_ETIMEDOUT; /* time ran out with spans still to export */
	else if (b->failures != failures)
		rv = b->last_err; /* an export failed while we waited */
	else
		rv = b->shut_exp_rv;
	pthread_mutex_unlock(&b->mtx);
	return rv;
}

/* Starts the worker (every signal blocked). Returns pthread_create's result. */
static int bt_start_worker(struct bt_batch *b)
{
	return bt_thread_create(&b->thread, bt_batch_worker, b);
}

/* ---- fork ---- */

static pthread_mutex_t bt_batch_list_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct bt_batch *bt_batch_list;
/* Destroyed processors, kept (counters only) so their stats stay readable. */
static struct bt_batch *bt_batch_retired;
static pthread_once_t bt_batch_atfork_once = PTHREAD_ONCE_INIT;

static void bt_batch_sync_init(struct bt_batch *b)
{
	pthread_condattr_t ca;
	pthread_mutex_init(&b->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->wake, &ca);
	pthread_cond_init(&b->done, &ca);
	pthread_condattr_destroy(&ca);
}

/*
 * fork() waits for an export in flight to end (at most this long), so the
 * child never inherits an exporter halfway through a request. While it
 * waits (fork_waiting) the worker ends what it has begun and then stands
 * still, so that a backlog does not keep it exporting past the wait.
 */
#define BATON_FORK_EXPORT_WAIT_NS (2000ull * 1000000u)

static void bt_batch_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_batch_list_mtx);
	for (struct bt_batch *b = bt_batch_list; b != NULL; b = b->next) {
		pthread_mutex_lock(&b->mtx);
		uint64_t until = bt_now_mono_ns() + BATON_FORK_EXPORT_WAIT_NS;
		struct timespec ts = bt_abs_timespec(until);
		b->fork_waiting = true;
		while (b->in_export) {
			if (pthread_cond_timedwait(&b->done, &b->mtx, &ts) != 0 &&
			    bt_now_mono_ns() >= until)
				break;
		}
		b->fork_waiting = false;
	}
}

static void bt_batch_parent(void *arg)
{
	(void)arg;
	for (struct bt_batch *b = bt_batch_list; b != NULL; b = b->next) {
		pthread_cond_signal(&b->wake); /* a worker standing still for us */
		pthread_mutex_unlock(&b->mtx);
	}
	pthread_mutex_unlock(&bt_batch_list_mtx);
}

/*
 * In the child only this thread exists. The spans the processor owned at
 * the fork are the parent's to export: release them here and reset the
 * ring and the counters. No thread is started here (a fork handler must
 * not): the processor's first use in the child starts its worker.
 */
static void bt_batch_child(void *arg)
{
	(void)arg;
	pthread_mutex_init(&bt_batch_list_mtx, NULL);
	for (struct bt_batch *b = bt_batch_list; b != NULL; b = b->next) {
		bt_batch_sync_init(b);
		uint64_t discarded = 0;
		bt_release_all(b, &discarded, BT_DROP_NREASONS);
		/* A slot claimed but not published by a thread that is gone stays lost.
		 */
		for (uint32_t r = 0; r < b->nshards; r++) {
			struct bt_ring *ring = &b->ring[r];
			for (uint64_t i = 0; i <= ring->mask; i++)
				atomic_store_explicit(&ring->slots[i].seq, i,
				                      memory_order_relaxed);
			atomic_store(&ring->enq, 0);
			atomic_store(&ring->deq, 0);
		}
		/* The lanes of threads the child does not have go; this thread's
		 * (drained above) start again from 0. */
		for (struct bt_lane **pp = &b->lanes; *pp != NULL;) {
			struct bt_lane *l = *pp;
			if (l->owner != bt_lanes_mine) {
				*pp = l->next;
				b->nlanes--;
				bt_lane_free(l);
				continue;
			}
			atomic_store(&l->tail, 0);
			atomic_store(&l->head, 0);
			l->head_seen = 0;
			pp = &l->next;
		}
		b->lanes_gone = 0;
		atomic_store(&b->sleeping, 0);
		atomic_store(&b->dropped_full, 0);
		atomic_store(&b->dropped_closed, 0);
		b->exported = b->dropped_shutdown = b->dropped_failure = b->rejected = 0;
		b->requests = b->retries = b->failures = 0;
		b->discarded_at_fork = discarded;
		b->last_error[0] = '\0';
		b->last_err = b->flush_exp_rv = b->shut_exp_rv = BATON_OK;
		b->in_export = false;
		b->npending = 0; /* the parent's to answer */
		b->flush_done = b->flush_req;
		b->thread_started = false;
		if (b->shutting || b->worker_done) {
			b->worker_done = true;
			continue;
		}
		atomic_store(&b->need_worker, true);
	}
}

/* Starts the worker of a processor used for the first time in a forked child. */
__attribute__((noinline)) static void bt_batch_restart(struct bt_batch *b)
{
	pthread_mutex_lock(&b->mtx);
	if (atomic_load(&b->need_worker)) {
		if (!b->shutting && bt_start_worker(b) == 0) {
			b->thread_started = true;
		} else if (!b->shutting) {
			b->worker_done = true;
			atomic_store(&b->closed, true);
			bt_warn("batch processor: no worker thread after fork; spans are "
			        "dropped");
		}
		atomic_store(&b->need_worker, false);
	}
	pthread_mutex_unlock(&b->mtx);
}

static inline void bt_batch_ensure_worker(struct bt_batch *b)
{
	if (__builtin_expect(atomic_load_explicit(&b->need_worker, memory_order_relaxed),
	                     0))
		bt_batch_restart(b);
}

static baton_fork_step bt_batch_fork = {.order = BATON_FORK_PROCESSOR,
                                        .prepare = bt_batch_prepare,
                                        .parent = bt_batch_parent,
                                        .child = bt_batch_child};

static void bt_batch_atfork_init(void)
{
	baton_fork_register(&bt_batch_fork);
}

/* ---- lifecycle ---- */

static void bt_batch_destroy(void *arg)
{
	struct bt_batch *b = arg;
	if (b == NULL)
		return;
	bt_batch_shutdown(b, b->export_timeout_ms);
	if (b->thread_started)
		pthread_join(b->thread, NULL);
	pthread_mutex_lock(&bt_batch_list_mtx);
	for (struct bt_batch **pp = &bt_batch_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	pthread_mutex_unlock(&bt_batch_list_mtx);
	/* Spans a racing producer queued after the worker left. */
	pthread_mutex_lock(&b->mtx);
	bt_release_all(b, &b->dropped_shutdown, BT_DROP_SHUTDOWN);
	/* The lanes are empty: each goes when its thread lets go too. */
	while (b->lanes != NULL)
		bt_lane_unlink(b, &b->lanes);
	pthread_mutex_unlock(&b->mtx);
	if (b->exp.ops->destroy != NULL)
		b->exp.ops->destroy(b->exp.arg);
	/*
	 * Keep the counters: stats stay readable after baton_fini. The ring
	 * and the batch go now; the rest when the next processor is created.
	 */
	pthread_mutex_lock(&b->mtx);
	bt_free(b->slots);
	bt_free(b->batch);
	b->slots = NULL;
	b->batch = NULL;
	b->destroyed = true;
	pthread_mutex_unlock(&b->mtx);
	pthread_mutex_lock(&bt_batch_list_mtx);
	b->next = bt_batch_retired;
	bt_batch_retired = b;
	pthread_mutex_unlock(&bt_batch_list_mtx);
}

/* Frees the processors destroyed before. Called with bt_batch_list_mtx held. */
static void bt_batch_free_retired(void)
{
	while (bt_batch_retired != NULL) {
		struct bt_batch *b = bt_batch_retired;
		bt_batch_retired = b->next;
		pthread_mutex_destroy(&b->mtx);
		pthread_cond_destroy(&b->wake);
		pthread_cond_destroy(&b->done);
		bt_free(b);
	}
}

static void bt_batch_stats_hook(void *arg, baton_processor_stats *out);

static const baton_processor_ops bt_batch_ops = {
    .size = sizeof(baton_processor_ops),
    .name = "batch",
    .on_end = bt_batch_on_end,
    .force_flush = bt_batch_flush,
    .shutdown = bt_batch_shutdown,
    .destroy = bt_batch_destroy,
    .stats = bt_batch_stats_hook,
};

/*
 * One option: the field when set, else the environment variable, else the
 * default; a refused or out-of-range value is replaced, with a warning.
 */
static uint32_t bt_opt(uint32_t v, const char *field, const char *env, uint32_t dflt,
                       uint32_t lo, uint32_t hi)
{
	if (v != 0)
		return bt_u32_in_range(field, v, dflt, lo, hi);
	return bt_env_u32_in_range(env, dflt, lo, hi);
}

/* The schedule delay: 0 is allowed (export as soon as a span is queued). */
static uint32_t bt_opt_delay(uint32_t v)
{
	const char *name = "OTEL_BSP_SCHEDULE_DELAY";
	const char *e = baton_getenv(name);
	uint32_t u;
	if (v != 0 || e == NULL)
		return v != 0 ? v : 5000;
	if (!bt_parse_u32(e, strlen(e), &u)) {
		bt_warn("%s=\"%.40s\" is not a non-negative integer; using 5000", name,
		        e);
		return 5000;
	}
	return u;
}

baton_err baton_batch_processor_create(baton_exporter exporter,
                                       const baton_batch_options *opts,
                                       baton_processor *out)
{
	static const baton_batch_options none = {sizeof(baton_batch_options)};
	baton_err rv = BATON_OK;
	struct bt_batch *b = NULL;

	if (opts == NULL)
		opts = &none;
	if (out == NULL || exporter.ops == NULL || exporter.ops->export_spans == NULL ||
	    opts->size < sizeof(baton_batch_options)) {
		rv = BATON_EINVAL;
		goto fail;
	}
	uint32_t qsize =
	    bt_opt(opts->max_queue_size, "baton_batch_options.max_queue_size",
	           "OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, BT_BSP_QUEUE_MAX);
	uint32_t bsize = bt_opt(opts->max_export_batch_size,
	                        "baton_batch_options.max_export_batch_size",
	                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, UINT32_MAX);
	uint32_t delay = bt_opt_delay(opts->schedule_delay_ms);
	uint32_t tmo =
	    bt_opt(opts->export_timeout_ms, "baton_batch_options.export_timeout_ms",
	           "OTEL_BSP_EXPORT_TIMEOUT", 30000, 1, UINT32_MAX);
	uint64_t cap = 2;
	while (cap < qsize)
		cap <<= 1;
	if (bsize > qsize) {
		bt_warn("%s=%u is larger than the queue (%u); using %u",
		        opts->max_export_batch_size != 0
		            ? "baton_batch_options.max_export_batch_size"
		            : "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		        bsize, qsize, qsize);
		bsize = qsize;
	}

	b = bt_calloc(1, sizeof(*b));
	if (b == NULL) {
		rv = BATON_ENOMEM;
		goto fail;
	}
	b->slots = bt_calloc(cap, sizeof(struct bt_slot));
	b->batch = bt_calloc(bsize, sizeof(*b->batch));
	if (b->slots == NULL || b->batch == NULL) {
		bt_free(b->slots);
		bt_free(b->batch);
		bt_free(b);
		rv = BATON_ENOMEM;
		goto fail;
	}
	b->nshards = cap >= BT_BSP_SHARD_FROM ? BT_BSP_SHARDS : 1;
	b->capacity = (uint32_t)cap;
	b->id = atomic_fetch_add_explicit(&bt_batch_ids, 1, memory_order_relaxed) + 1;
	b->use_lanes = b->nshards > 1 && delay >= 1;
	/* A lane holds a few of the worker's paced sleeps (BT_BSP_NAP_BATCHES
	 * batches each), so that it is not full by the time the worker wakes. */
	uint64_t lane = 64;
	while (lane < 2u * BT_BSP_NAP_BATCHES * (uint64_t)bsize && lane < cap / 4)
		lane <<= 1;
	b->lane_spans = (uint32_t)lane;
	b->max_lanes = (uint32_t)(cap / 4 / lane);
	for (uint32_t r = 0; r < b->nshards; r++) {
		struct bt_ring *ring = &b->ring[r];
		ring->mask = cap / b->nshards - 1;
		ring->slots = b->slots + (size_t)r * (ring->mask + 1);
		for (uint64_t i = 0; i <= ring->mask; i++)
			atomic_init(&ring->slots[i].seq, i);
	}
	b->exp = exporter;
	/* The capability to export in halves, when the exporter declares it. */
	b->halves = exporter.ops->size >= offsetof(baton_exporter_ops, export_end) +
	                                      sizeof(exporter.ops->export_end) &&
	            exporter.ops->export_begin != NULL &&
	            exporter.ops->export_end != NULL;
	b->batch_size = bsize;
	b->delay_ns = (uint64_t)delay * 1000000u;
	b->export_timeout_ms = tmo;
	atomic_init(&b->wake_at, bsize);
	bt_batch_sync_init(b);

	pthread_once(&bt_batch_atfork_once, bt_batch_atfork_init);
	pthread_mutex_lock(&bt_batch_list_mtx);
	bt_batch_free_retired();
	if (bt_start_worker(b) != 0) {
		pthread_mutex_unlock(&bt_batch_list_mtx);
		pthread_mutex_destroy(&b->mtx);
		pthread_cond_destroy(&b->wake);
		pthread_cond_destroy(&b->done);
		bt_free(b->slots);
		bt_free(b->batch);
		bt_free(b);
		rv = BATON_ESYSTEM;
		goto fail;
	}
	b->thread_started = true;
	b->next = bt_batch_list;
	bt_batch_list = b;
	pthread_mutex_unlock(&bt_batch_list_mtx);
	*out = (baton_processor){&bt_batch_ops, b};
	return BATON_OK;

fail:
	if (exporter.ops != NULL && exporter.ops->destroy != NULL)
		exporter.ops->destroy(exporter.arg);
	return rv;
}

baton_err baton_batch_processor_stats(baton_processor p, baton_batch_stats *out)
{
	if (p.ops != &bt_batch_ops || p.arg == NULL || out == NULL)
		return BATON_EINVAL;
	struct bt_batch *b = p.arg;
	baton_batch_stats s;
	memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&b->mtx);
	uint64_t enq, deq;
	bt_ring_totals(b, &enq, &deq);
	s.dropped_queue_full = atomic_load(&b->dropped_full);
	s.spans_received = enq + s.dropped_queue_full + atomic_load(&b->dropped_closed);
	s.spans_exported = b->exported;
	s.dropped_shutdown = b->dropped_shutdown + atomic_load(&b->dropped_closed);
	s.dropped_export_failure = b->dropped_failure;
	s.spans_rejected = b->rejected;
	s.export_requests = b->requests;
	s.export_retries = b->retries;
	s.export_failures = b->failures;
	s.discarded_at_fork = b->discarded_at_fork;
	uint64_t ring = enq > deq ? enq - deq : 0;
	/* Spans a timed-out shutdown counted already: the batch's first, then the ring's.
	 */
	uint64_t ring_pre = b->precounted > b->nbatch ? b->precounted - b->nbatch : 0;
	s.queue_size = (uint32_t)(ring > ring_pre ? ring - ring_pre : 0);
	s.queue_capacity = (uint32_t)((b->ring[0].mask + 1) * b->nshards);
	memcpy(s.last_error, b->last_error, sizeof(s.last_error));
	pthread_mutex_unlock(&b->mtx);
	*out = s;
	return BATON_OK;
}

/* The processor stats hook: what baton_sdk_stats_get() sums. */
static void bt_batch_stats_hook(void *arg, baton_processor_stats *out)
{
	baton_batch_stats s;
	if (baton_batch_processor_stats((baton_processor){&bt_batch_ops, arg}, &s) !=
	    BATON_OK)
		return;
	out->spans_exported = s.spans_exported;
	out->spans_dropped_queue_full = s.dropped_queue_full;
	out->spans_dropped_export = s.dropped_export_failure;
	out->spans_dropped_shutdown = s.dropped_shutdown;
}
