/*
 * The span store: records of BT_REC_BYTES in chunks of 64, handed out
 * through per-thread caches so that the hot path takes no lock.
 *
 * A thread's cache is an array of free indices it pops and pushes. A
 * record remembers the slot of the thread that started it (owner), and a
 * release on another thread (a batch worker) sends it back there: onto
 * the slot's return stack, a bundle of up to 64 records per CAS, which the
 * owner takes whole with one exchange when its array runs dry. So two
 * producers feeding one worker never meet on a lock: the store mutex is
 * taken only to grow the store (a chunk at a time, up to
 * limits.max_spans records, never shrinking until baton_fini), when a
 * thread's array overflows, and by a thread that finds nothing of its own.
 *
 * What a thread can hold back from the others is bounded: its array
 * (BT_CACHE_MAX) and its return stack (a release that would push the stack
 * past return_max records, 1/16 of the store, goes to the global list
 * instead). When the
 * global list is empty and the store cannot grow, a thread takes every
 * other slot's return stack before it refuses a span.
 */
#include "trace/trace_int.h"

#include <string.h>

#define BT_CACHE_MAX  128
#define BT_CACHE_MOVE 64
/* Indices a bundle carries besides its head (in the head's arena). */
#define BT_BUNDLE_MAX (BT_INLINE_BYTES / sizeof(uint32_t) - 1)
/* A slot's return stack: at most 1/16 of the store, within [64, 4096]. */
#define BT_RETURN_MIN 64u
#define BT_RETURN_MAX 4096u

struct bt_cache {
	uint64_t epoch;
	uint16_t slot; /* 1-based; 0: none (more threads than slots) */
	uint32_t n;
	uint32_t idx[BT_CACHE_MAX];
	/* Returned bundles taken from the slot and not yet used: a chain. */
	uint32_t bundles;
	/* Between bt_store_release_begin and _end: the bundle being gathered. */
	bool gathering;
	uint16_t out_owner;
	uint32_t out_n;
	bt_span *out_head;
	/* Every thread's cache, for a forked child to take back the records
	 * of the threads it lacks. Under bt_caches_mtx. */
	struct bt_cache *next, *prev;
};
static struct bt_cache *bt_caches;
/* The thread's cache, allocated on first use and freed when it exits (not
 * in static TLS, of which a library loaded with dlopen() gets little). */
static BT_TLS struct bt_cache *bt_cachep;
static pthread_key_t bt_cache_key;
static pthread_once_t bt_cache_once = PTHREAD_ONCE_INIT;

BT_TLS bt_counters bt_tls_counters;
BT_TCOUNT_LAYOUT(bt_counters, c);
static uint64_t bt_counters_retired[BT_C_COUNT];
bt_tcount_set bt_counters_set =
    BT_TCOUNT_SET(bt_counters_retired, BT_C_COUNT, BATON_FORK_STORE);
/* Guards the cache list. */
static pthread_mutex_t bt_caches_mtx = PTHREAD_MUTEX_INITIALIZER;

void bt_counters_sum(uint64_t out[BT_C_COUNT])
{
	bt_tcount_sum(&bt_counters_set, out, NULL, false);
}

/* The indices a free bundle head carries: [0] the count, then the others. */
static inline uint32_t *bt_bundle(bt_span *head)
{
	return (uint32_t *)(void *)head->arena;
}

/* Called with s->mtx held: puts a chain of bundles on the global free list. */
static void bt_chain_to_global(bt_store *s, uint32_t head)
{
	while (head != 0) {
		bt_span *h = bt_store_get(s, head);
		uint32_t *b = bt_bundle(h);
		for (uint32_t i = 1; i <= b[0]; i++)
			s->free_idx[s->nfree++] = b[i];
		s->free_idx[s->nfree++] = head;
		head = h->attr_tail;
	}
}

static void bt_cache_flush(struct bt_cache *c, uint32_t keep)
{
	bt_store *s = &bt_prov.store;
	pthread_mutex_lock(&s->mtx);
	while (c->n > keep)
		s->free_idx[s->nfree++] = c->idx[--c->n];
	pthread_mutex_unlock(&s->mtx);
}

/*
 * Pushes a bundle (head plus the b[0] indices in its arena) onto owner's
 * return stack, or onto the global list when that stack is full.
 */
static void bt_bundle_send(bt_store *s, uint16_t owner, bt_span *head)
{
	_Atomic uint64_t *top = &s->slots[owner - 1].remote;
	uint64_t k = (uint64_t)bt_bundle(head)[0] + 1;
	uint64_t old = atomic_load_explicit(top, memory_order_relaxed);
	do {
		if ((old >> 32) + k > s->return_max) {
			pthread_mutex_lock(&s->mtx);
			head->attr_tail = 0;
			bt_chain_to_global(s, head->index);
			pthread_mutex_unlock(&s->mtx);
			return;
		}
		head->attr_tail = (uint32_t)old;
		/* Release: the owner that takes the stack sees the bundle's indices. */
	} while (!atomic_compare_exchange_weak_explicit(
	    top, &old, (uint64_t)head->index | (((old >> 32) + k) << 32),
	    memory_order_release, memory_order_relaxed));
}

static void bt_out_flush(bt_store *s, struct bt_cache *c)
{
	if (c->out_head != NULL) {
		bt_bundle(c->out_head)[0] = c->out_n;
		bt_bundle_send(s, c->out_owner, c->out_head);
	}
	c->out_head = NULL;
	c->out_n = 0;
}

/* Thread exit: give the cache back so its records are not stranded. */
static void bt_cache_on_exit(void *arg)
{
	struct bt_cache *c = arg;
	if (bt_initialized && c->epoch == atomic_load(&bt_epoch)) {
		bt_store *s = &bt_prov.store;
		bt_out_flush(s, c);
		pthread_mutex_lock(&s->mtx);
		while (c->n > 0)
			s->free_idx[s->nfree++] = c->idx[--c->n];
		bt_chain_to_global(s, c->bundles);
		if (c->slot != 0) {
			/* What others return to the slot later waits there for the
			 * next thread that takes it, or for a thread that runs dry. */
			s->slots[c->slot - 1].taken = false;
		}
		pthread_mutex_unlock(&s->mtx);
	}
	if (bt_cachep == c)
		bt_cachep = NULL; /* a later use (another destructor) makes a new one */
	pthread_mutex_lock(&bt_caches_mtx);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		bt_caches = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&bt_caches_mtx);
	bt_free(c);
}

/*
 * fork(): the child has only the forking thread, so a mutex another thread
 * held at that moment would stay locked forever. The store and cache-list
 * mutexes are taken before fork and released on both sides. The step's
 * order (BATON_FORK_STORE, below the processors) makes a processor's prepare
 * run before ours (it may still use the store) and its child step after
 * ours (it may release spans).
 */
static bool bt_fork_locked_store;

static void bt_store_fork_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_caches_mtx);
	bt_fork_locked_store = bt_initialized;
	if (bt_fork_locked_store)
		pthread_mutex_lock(&bt_prov.store.mtx);
}

static void bt_store_fork_release(void *arg)
{
	(void)arg;
	if (bt_fork_locked_store)
		pthread_mutex_unlock(&bt_prov.store.mtx);
	pthread_mutex_unlock(&bt_caches_mtx);
}

/*
 * In the child, with the store mutex held: the records the threads it
 * lacks held in their caches (their arrays, the bundles they took, a
 * bundle being gathered) go back to the global list, their slots are free
 * again, and their caches go. Without this the child's store would be
 * short of up to 128 records and more for each such thread, for good.
 */
static void bt_caches_fork_child(void)
{
	bt_store *s = &bt_prov.store;
	uint64_t epoch = atomic_load_explicit(&bt_epoch, memory_order_relaxed);
	struct bt_cache *c = bt_caches;
	bt_caches = NULL;
	while (c != NULL) {
		struct bt_cache *next = c->next;
		if (c == bt_cachep) {
			c->prev = NULL;
			c->next = NULL;
			bt_caches = c;
			c = next;
			continue;
		}
		if (bt_fork_locked_store && c->epoch == epoch) {
			while (c->n > 0)
				s->free_idx[s->nfree++] = c->idx[--c->n];
			bt_chain_to_global(s, c->bundles);
			if (c->out_head != NULL) {
				const uint32_t *b = bt_bundle(c->out_head);
				for (uint32_t i = 1; i <= c->out_n; i++)
					s->free_idx[s->nfree++] = b[i];
				s->free_idx[s->nfree++] = c->out_head->index;
			}
			if (c->slot != 0)
				s->slots[c->slot - 1].taken = false;
		}
		bt_free(c);
		c = next;
	}
}

/* The child has only this thread: the other threads' caches give back
 * their records (bt_caches_fork_child). Their counters are the counter
 * set's own fork step (util.h). */
static void bt_store_fork_child(void *arg)
{
	bt_caches_fork_child();
	bt_store_fork_release(arg);
}

static baton_fork_step bt_store_fork = {.order = BATON_FORK_STORE,
                                        .prepare = bt_store_fork_prepare,
                                        .parent = bt_store_fork_release,
                                        .child = bt_store_fork_child};

__attribute__((constructor)) static void bt_store_fork_register(void)
{
	/* The store's step first: in prepare, the counters' lock is taken last. */
	baton_fork_register(&bt_store_fork);
	bt_tcount_set_init(&bt_counters_set);
}

static void bt_cache_key_init(void)
{
	pthread_key_create(&bt_cache_key, bt_cache_on_exit);
}

baton_err bt_store_init(bt_store *s, const bt_limits *lim)
{
	memset(s, 0, sizeof(*s));
	(void)lim->arena_bytes; /* at least BT_INLINE_BYTES: the rest overflows */
	s->rec_size = BT_REC_BYTES;
	uint32_t rmax = lim->max_spans / 16;
	s->return_max = rmax < BT_RETURN_MIN   ? BT_RETURN_MIN
	                : rmax > BT_RETURN_MAX ? BT_RETURN_MAX
	                                       : rmax;
	/* 64-bit: a limit near UINT32_MAX must not wrap to a store of nothing. */
	s->max_chunks =
	    (uint32_t)(((uint64_t)lim->max_spans + BT_CHUNK_SPANS - 1) / BT_CHUNK_SPANS);
	s->chunks = bt_calloc(s->max_chunks, sizeof(char *));
	s->chunk_mem = bt_calloc(s->max_chunks, sizeof(void *));
	s->free_idx = bt_calloc((size_t)s->max_chunks * BT_CHUNK_SPANS, sizeof(uint32_t));
	/* The allocator promises no more than malloc's alignment: align by hand. */
	s->slots_mem = bt_calloc(BT_SLOTS + 1, sizeof(bt_tslot));
	if (s->chunks == NULL || s->chunk_mem == NULL || s->free_idx == NULL ||
	    s->slots_mem == NULL) {
		bt_free(s->chunks);
		bt_free(s->chunk_mem);
		bt_free(s->free_idx);
		bt_free(s->slots_mem);
		return BATON_ENOMEM;
	}
	s->slots = (bt_tslot *)(((uintptr_t)s->slots_mem + 63) & ~(uintptr_t)63);
	pthread_mutex_init(&s->mtx, NULL);
	pthread_once(&bt_cache_once, bt_cache_key_init);
	return BATON_OK;
}

void bt_store_fini(bt_store *s)
{
	uint32_t n = atomic_load(&s->nchunks);
	for (uint32_t i = 0; i < n; i++) {
		/* Spans never ended keep their overflow blocks: free them too. */
		for (uint32_t j = 0; j < BT_CHUNK_SPANS; j++)
			bt_free(
			    ((bt_span *)(s->chunks[i] + (size_t)j * s->rec_size))->ovf);
		bt_free(s->chunk_mem[i]);
	}
	bt_free(s->chunks);
	bt_free(s->chunk_mem);
	bt_free(s->free_idx);
	bt_free(s->slots_mem);
	pthread_mutex_destroy(&s->mtx);
	memset(s, 0, sizeof(*s));
}

/* Called with s->mtx held: adds one chunk to the free list. */
static bool bt_store_grow(bt_store *s)
{
	uint32_t n = atomic_load_explicit(&s->nchunks, memory_order_relaxed);
	if (n >= s->max_chunks)
		return false;
	/*
	 * Records start on cache lines (BT_REC_BYTES is a multiple of 64): a
	 * record shares no line with its neighbours, which other threads may be
	 * writing while an exporter reads it, and takes the fewest lines.
	 */
	void *mem = bt_calloc(1, (size_t)BT_CHUNK_SPANS * s->rec_size + 63);
	if (mem == NULL)
		return false;
	char *chunk = (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
	s->chunk_mem[n] = mem;
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

/* Called with s->mtx held: every slot's return stack onto the global list. */
static void bt_store_reclaim(bt_store *s)
{
	for (uint32_t i = 0; i < BT_SLOTS; i++) {
		if (atomic_load_explicit(&s->slots[i].remote, memory_order_relaxed) == 0)
			continue;
		/* Acquire: pairs with the release of the pushes. */
		uint64_t top = atomic_exchange_explicit(&s->slots[i].remote, 0,
		                                        memory_order_acquire);
		bt_chain_to_global(s, (uint32_t)top);
	}
}

/* A new store (or a new thread): no records, no slot, nothing gathered. */
static void bt_cache_reset(struct bt_cache *c, uint64_t epoch)
{
	c->epoch = epoch; /* records of an older store are gone */
	c->n = 0;
	c->bundles = 0;
	c->slot = 0;
	c->out_head = NULL;
	c->out_n = 0;
}

/* The thread's cache, made and registered for its exit on first use; NULL
 * when there is no memory for it. */
static struct bt_cache *__attribute__((noinline)) bt_cache_make(void)
{
	struct bt_cache *c = bt_calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	pthread_once(&bt_cache_once, bt_cache_key_init);
	if (pthread_setspecific(bt_cache_key, c) != 0) {
		bt_free(c);
		return NULL;
	}
	bt_cache_reset(c, atomic_load_explicit(&bt_epoch, memory_order_relaxed));
	pthread_mutex_lock(&bt_caches_mtx);
	c->next = bt_caches;
	if (bt_caches != NULL)
		bt_caches->prev = c;
	bt_caches = c;
	pthread_mutex_unlock(&bt_caches_mtx);
	bt_cachep = c;
	return c;
}

/* Takes one returned bundle into the array (which is empty). */
static void bt_cache_take_bundle(bt_store *s, struct bt_cache *c)
{
	bt_span *h = bt_store_get(s, c->bundles);
	const uint32_t *b = bt_bundle(h);
	uint32_t k = b[0];
	c->bundles = h->attr_tail;
	for (uint32_t i = 1; i <= k; i++)
		c->idx[c->n++] = b[i];
	c->idx[c->n++] = h->index; /* handed out first: its lines are warm */
}

static void __attribute__((noinline)) bt_cache_refill(bt_store *s, struct bt_cache *c)
{
	uint64_t epoch = atomic_load_explicit(&bt_epoch, memory_order_relaxed);
	if (c->epoch != epoch)
		bt_cache_reset(c, epoch);
	if (c->bundles == 0 && c->slot != 0) {
		_Atomic uint64_t *top = &s->slots[c->slot - 1].remote;
		/* Acquire: pairs with the pushers' release (the bundles' contents). */
		if (atomic_load_explicit(top, memory_order_relaxed) != 0)
			c->bundles = (uint32_t)atomic_exchange_explicit(
			    top, 0, memory_order_acquire);
	}
	if (c->bundles != 0) {
		bt_cache_take_bundle(s, c);
		return;
	}
	pthread_mutex_lock(&s->mtx);
	if (c->slot == 0) {
		for (uint32_t i = 0; i < BT_SLOTS; i++) {
			if (!s->slots[i].taken) {
				s->slots[i].taken = true;
				c->slot = (uint16_t)(i + 1);
				break;
			}
		}
	}
	if (s->nfree == 0 && !bt_store_grow(s))
		bt_store_reclaim(s);
	while (c->n < BT_CACHE_MOVE && s->nfree > 0)
		c->idx[c->n++] = s->free_idx[--s->nfree];
	pthread_mutex_unlock(&s->mtx);
}

bt_span *bt_store_alloc(bt_store *s)
{
	struct bt_cache *c = bt_cachep;
	if (__builtin_expect(
	        c == NULL || c->n == 0 ||
	            c->epoch != atomic_load_explicit(&bt_epoch, memory_order_relaxed),
	        0)) {
		if (c == NULL && (c = bt_cache_make()) == NULL) {
			bt_drop_add(BT_DROP_NO_STORE, 1);
			return NULL;
		}
		bt_cache_refill(s, c);
		if (c->n == 0) {
			bt_drop_add(BT_DROP_NO_STORE, 1);
			return NULL;
		}
	}
	bt_span *sp = bt_store_get(s, c->idx[--c->n]);
	/* The record after next, to be written: a returned one has a line the
	 * worker read, which another core must give up before this one writes
	 * it; two spans ahead gives that time. */
	if (c->n > 1) {
		const char *next = (const char *)bt_store_get(s, c->idx[c->n - 2]);
		/* Unrolled: a counted loop here costs more than its seven prefetches. */
#pragma GCC unroll 8
		for (size_t o = 0; o < BT_REC_BYTES; o += 64)
			bt_prefetch_w(next + o);
	}
	sp->owner = c->slot;
	bt_count(BT_C_ALLOCS);
	return sp;
}

void bt_store_release_begin(void)
{
	struct bt_cache *c = bt_cachep;
	if (c != NULL || (c = bt_cache_make()) != NULL)
		c->gathering = true;
}

void bt_store_release_end(void)
{
	struct bt_cache *c = bt_cachep;
	if (c == NULL)
		return;
	c->gathering = false;
	if (c->out_head != NULL && bt_initialized &&
	    c->epoch == atomic_load_explicit(&bt_epoch, memory_order_relaxed))
		bt_out_flush(&bt_prov.store, c);
	c->out_head = NULL;
	c->out_n = 0;
}

/* The calling thread's cache, current for the store; NULL without memory. */
static inline struct bt_cache *bt_release_cache(void)
{
	struct bt_cache *c = bt_cachep;
	uint64_t epoch = atomic_load_explicit(&bt_epoch, memory_order_relaxed);
	if (__builtin_expect(c == NULL, 0) && (c = bt_cache_make()) == NULL)
		return NULL;
	if (c->epoch != epoch)
		bt_cache_reset(c, epoch);
	return c;
}

/* Gives sp back through the thread's cache c (NULL: no memory for one). */
static inline __attribute__((always_inline)) void
bt_release_one(bt_store *s, struct bt_cache *c, bt_span *sp)
{
	if (__builtin_expect(sp->ovf != NULL, 0)) {
		bt_free(sp->ovf);
		sp->ovf = NULL;
	}
	if (__builtin_expect(c == NULL, 0)) {
		/* No memory for a cache: straight onto the global list. */
		pthread_mutex_lock(&s->mtx);
		s->free_idx[s->nfree++] = sp->index;
		pthread_mutex_unlock(&s->mtx);
		return;
	}
	uint16_t owner = sp->owner;
	if (owner == c->slot || owner == 0) {
		/* Ours (or a thread's without a slot): into this thread's array. */
		if (c->n == BT_CACHE_MAX)
			bt_cache_flush(c, BT_CACHE_MAX - BT_CACHE_MOVE);
		c->idx[c->n++] = sp->index;
		return;
	}
	if (!c->gathering) {
		bt_bundle(sp)[0] = 0;
		bt_bundle_send(s, owner, sp);
		return;
	}
	if (c->out_head != NULL && (c->out_owner != owner || c->out_n == BT_BUNDLE_MAX))
		bt_out_flush(s, c);
	if (c->out_head == NULL) {
		c->out_head = sp;
		c->out_owner = owner;
		c->out_n = 0;
		return;
	}
	bt_bundle(c->out_head)[++c->out_n] = sp->index;
}

void bt_store_release(bt_store *s, bt_span *sp)
{
	bt_count(BT_C_RELEASES);
	bt_release_one(s, bt_release_cache(), sp);
}

void bt_store_release_n(bt_store *s, bt_span *const *sps, size_t n)
{
	if (n == 0)
		return;
	bt_count_n(BT_C_RELEASES, n);
	struct bt_cache *c = bt_release_cache();
	for (size_t i = 0; i < n; i++)
		bt_release_one(s, c, sps[i]);
}
