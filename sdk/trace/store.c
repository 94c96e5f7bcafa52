/*
 * The span store: records of fixed size in chunks of 64, handed out through
 * per-thread caches so that the hot path takes no lock. A thread refills
 * its cache (or gives back half of it) under the store mutex once per 32
 * spans. The store grows a chunk at a time up to limits.max_spans records
 * and never shrinks until baton_fini.
 */
#include "trace/trace_int.h"

#include <string.h>

#define BT_CACHE_MAX  64
#define BT_CACHE_MOVE 32

struct bt_cache {
	uint64_t epoch;
	uint32_t n;
	uint32_t idx[BT_CACHE_MAX];
};
static BT_TLS struct bt_cache bt_cache;
static pthread_key_t bt_cache_key;
static pthread_once_t bt_cache_once = PTHREAD_ONCE_INIT;
static BT_TLS bool bt_cache_registered;

BT_TLS bt_counters bt_tls_counters;
static pthread_mutex_t bt_counters_mtx = PTHREAD_MUTEX_INITIALIZER;
static bt_counters *bt_counters_list;
static uint64_t bt_counters_retired[BT_C_COUNT];
static pthread_key_t bt_counters_key;
static pthread_once_t bt_counters_once = PTHREAD_ONCE_INIT;

/* Thread exit: fold this thread's counts into the retired sums. */
static void bt_counters_on_exit(void *arg)
{
	bt_counters *tc = arg;
	pthread_mutex_lock(&bt_counters_mtx);
	for (int i = 0; i < BT_C_COUNT; i++)
		bt_counters_retired[i] +=
		    atomic_load_explicit(&tc->c[i], memory_order_relaxed);
	if (tc->prev != NULL)
		tc->prev->next = tc->next;
	else
		bt_counters_list = tc->next;
	if (tc->next != NULL)
		tc->next->prev = tc->prev;
	pthread_mutex_unlock(&bt_counters_mtx);
	tc->registered = false;
}

static void bt_counters_key_init(void)
{
	pthread_key_create(&bt_counters_key, bt_counters_on_exit);
}

void bt_counters_register(bt_counters *tc)
{
	pthread_once(&bt_counters_once, bt_counters_key_init);
	pthread_mutex_lock(&bt_counters_mtx);
	tc->prev = NULL;
	tc->next = bt_counters_list;
	if (bt_counters_list != NULL)
		bt_counters_list->prev = tc;
	bt_counters_list = tc;
	tc->registered = true;
	pthread_mutex_unlock(&bt_counters_mtx);
	pthread_setspecific(bt_counters_key, tc);
}

void bt_counters_sum(uint64_t out[BT_C_COUNT])
{
	pthread_mutex_lock(&bt_counters_mtx);
	for (int i = 0; i < BT_C_COUNT; i++)
		out[i] = bt_counters_retired[i];
	for (bt_counters *tc = bt_counters_list; tc != NULL; tc = tc->next) {
		for (int i = 0; i < BT_C_COUNT; i++)
			out[i] += atomic_load_explicit(&tc->c[i], memory_order_relaxed);
	}
	pthread_mutex_unlock(&bt_counters_mtx);
}

static void bt_cache_flush(struct bt_cache *c, uint32_t keep)
{
	bt_store *s = &bt_prov.store;
	pthread_mutex_lock(&s->mtx);
	while (c->n > keep)
		s->free_idx[s->nfree++] = c->idx[--c->n];
	pthread_mutex_unlock(&s->mtx);
}

/* Thread exit: give the cache back so its records are not stranded. */
static void bt_cache_on_exit(void *unused)
{
	(void)unused;
	struct bt_cache *c = &bt_cache;
	if (bt_initialized && c->epoch == atomic_load(&bt_epoch) && c->n > 0)
		bt_cache_flush(c, 0);
	c->n = 0;
}

/*
 * fork(): the child has only the forking thread, so a mutex another thread
 * held at that moment would stay locked forever. The store and counter
 * mutexes are taken before fork and released on both sides. The step's
 * order (BATON_FORK_STORE, below the processors) makes a processor's prepare
 * run before ours (it may still use the store) and its child step after
 * ours (it may release spans).
 */
static bool bt_fork_locked_store;

static void bt_store_fork_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_counters_mtx);
	bt_fork_locked_store = bt_initialized;
	if (bt_fork_locked_store)
		pthread_mutex_lock(&bt_prov.store.mtx);
}

static void bt_store_fork_release(void *arg)
{
	(void)arg;
	if (bt_fork_locked_store)
		pthread_mutex_unlock(&bt_prov.store.mtx);
	pthread_mutex_unlock(&bt_counters_mtx);
}

static baton_fork_step bt_store_fork = {.order = BATON_FORK_STORE,
                                        .prepare = bt_store_fork_prepare,
                                        .parent = bt_store_fork_release,
                                        .child = bt_store_fork_release};

__attribute__((constructor)) static void bt_store_fork_register(void)
{
	baton_fork_register(&bt_store_fork);
}

static void bt_cache_key_init(void)
{
	pthread_key_create(&bt_cache_key, bt_cache_on_exit);
}

baton_err bt_store_init(bt_store *s, const bt_limits *lim)
{
	memset(s, 0, sizeof(*s));
	s->rec_size = (sizeof(bt_span) + lim->arena_bytes + 7) & ~(size_t)7;
	/* 64-bit: a limit near UINT32_MAX must not wrap to a store of nothing. */
	s->max_chunks =
	    (uint32_t)(((uint64_t)lim->max_spans + BT_CHUNK_SPANS - 1) / BT_CHUNK_SPANS);
	s->chunks = bt_calloc(s->max_chunks, sizeof(char *));
	s->free_idx = bt_calloc((size_t)s->max_chunks * BT_CHUNK_SPANS, sizeof(uint32_t));
	if (s->chunks == NULL || s->free_idx == NULL) {
		bt_free(s->chunks);
		bt_free(s->free_idx);
		return BATON_ENOMEM;
	}
	pthread_mutex_init(&s->mtx, NULL);
	pthread_once(&bt_cache_once, bt_cache_key_init);
	return BATON_OK;
}

void bt_store_fini(bt_store *s)
{
	uint32_t n = atomic_load(&s->nchunks);
	for (uint32_t i = 0; i < n; i++)
		bt_free(s->chunks[i]);
	bt_free(s->chunks);
	bt_free(s->free_idx);
	pthread_mutex_destroy(&s->mtx);
	memset(s, 0, sizeof(*s));
}

/* Called with s->mtx held: adds one chunk to the free list. */
static bool bt_store_grow(bt_store *s)
{
	uint32_t n = atomic_load_explicit(&s->nchunks, memory_order_relaxed);
	if (n >= s->max_chunks)
		return false;
	char *chunk = bt_calloc(BT_CHUNK_SPANS, s->rec_size);
	if (chunk == NULL)
		return false;
	s->chunks[n] = chunk;
	for (uint32_t i = 0; i < BT_CHUNK_SPANS; i++) {
		bt_span *sp = (bt_span *)(chunk + (size_t)i * s->rec_size);
		sp->index = n * BT_CHUNK_SPANS + i + 1;
		atomic_init(&sp->gen,
		            2); /* 0 and 1 are reserved for non-record handles */
	}
	/* Push in reverse so the lowest index is handed out first. */
	for (uint32_t i = BT_CHUNK_SPANS; i > 0; i--)
		s->free_idx[s->nfree++] = n * BT_CHUNK_SPANS + i;
	/* Release: a thread that sees the new count also sees chunks[n]. */
	atomic_store_explicit(&s->nchunks, n + 1, memory_order_release);
	return true;
}

static void __attribute__((noinline)) bt_cache_refill(bt_store *s, struct bt_cache *c)
{
	uint64_t epoch = atomic_load_explicit(&bt_epoch, memory_order_relaxed);
	if (c->epoch != epoch) {
		c->epoch = epoch; /* records of an older store are gone */
		c->n = 0;
	}
	if (!bt_cache_registered) {
		pthread_setspecific(bt_cache_key, c);
		bt_cache_registered = true;
	}
	pthread_mutex_lock(&s->mtx);
	if (s->nfree == 0)
		bt_store_grow(s);
	while (c->n < BT_CACHE_MOVE && s->nfree > 0)
		c->idx[c->n++] = s->free_idx[--s->nfree];
	pthread_mutex_unlock(&s->mtx);
}

bt_span *bt_store_alloc(bt_store *s)
{
	struct bt_cache *c = &bt_cache;
	if (__builtin_expect(
	        c->n == 0 ||
	            c->epoch != atomic_load_explicit(&bt_epoch, memory_order_relaxed),
	        0)) {
		bt_cache_refill(s, c);
		if (c->n == 0) {
			bt_drop_add(BT_DROP_NO_STORE, 1);
			return NULL;
		}
	}
	bt_span *sp = bt_store_get(s, c->idx[--c->n]);
	bt_count(BT_C_ALLOCS);
	return sp;
}

void bt_store_release(bt_store *s, bt_span *sp)
{
	struct bt_cache *c = &bt_cache;
	(void)s; /* the one store; kept for symmetry with bt_store_alloc */
	uint64_t epoch = atomic_load_explicit(&bt_epoch, memory_order_relaxed);
	bt_count(BT_C_RELEASES);
	if (c->epoch != epoch) {
		c->epoch = epoch;
		c->n = 0;
		if (!bt_cache_registered) {
			pthread_setspecific(bt_cache_key, c);
			bt_cache_registered = true;
		}
	}
	if (c->n == BT_CACHE_MAX)
		bt_cache_flush(c, BT_CACHE_MAX - BT_CACHE_MOVE);
	c->idx[c->n++] = sp->index;
}
