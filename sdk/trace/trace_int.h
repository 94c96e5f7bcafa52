/*
 * Internal trace structures: span records, the span store, the provider.
 *
 * Memory: every recording span lives in a record of BT_REC_BYTES (448)
 * bytes taken from the span store and given back when the last processor
 * releases it: a header and an inline arena of BT_INLINE_BYTES. Attributes,
 * events, links and their strings are carved from the arena; a span that
 * needs more than the inline part gets one overflow block (allocated once,
 * freed with the record), so its budget stays limits.span_arena_bytes while
 * an ordinary span (a name, a few attributes) costs 448 bytes. Starting,
 * annotating and ending such a span allocates nothing once the store is
 * warm. The store holds at most limits.max_live_spans records.
 */
#ifndef BT_TRACE_INT_H
#define BT_TRACE_INT_H

/*
 * The other baton libraries (baton::nng, the exporters) call these bt_
 * functions, so libbaton.so exports them although the build hides
 * everything else. They are not API: baton/baton.h says so.
 */

#include "util.h"
#include "sampling/sampling_int.h"

#include <pthread.h>

typedef struct bt_limits {
	uint32_t attr_count, event_count, link_count;
	uint32_t event_attr_count, link_attr_count;
	uint32_t value_length; /* UINT32_MAX: no limit */
	uint32_t arena_bytes;
	uint32_t max_spans;
} bt_limits;

/* A record's size, and what is left of it for the inline arena. */
#define BT_REC_BYTES    448u
#define BT_INLINE_BYTES 192u
/* An arena offset that names nothing (an empty list's tail). */
#define BT_NO_OFF UINT32_MAX

/*
 * The arena is addressed by offsets into the span's budget: [0, ovf base)
 * is the inline arena, [ovf base, arena_bytes) the overflow block, whose
 * first 8 bytes hold its base (bt_arena_ptr). arena_used counts the budget
 * as one contiguous arena would, so the limits mean what they meant.
 */
typedef struct bt_span {
	baton_span_data data; /* first: a baton_span_data * is a bt_span * */
	_Atomic uint32_t gen; /* handle generation; bumped at end */
	uint32_t index;       /* 1-based store index */
	_Atomic uint32_t refs;
	uint32_t arena_used;  /* budget used (an offset) */
	uint32_t remote_used; /* budget bytes of remote-derived strings */
	uint16_t owner;       /* store slot (1-based) of the thread that started it */
	bool ended;
	bool recording;
	/* Offsets of the lists' last nodes (BT_NO_OFF: empty). While the record
	 * is free, attr_tail links it into a free list instead (an index). */
	uint32_t attr_tail;
	uint32_t event_tail;
	uint32_t link_tail;
	uint32_t key_bloom; /* bit (key[0] ^ strlen(key)) & 31 of each attribute key */
	char *ovf;          /* overflow block or NULL */
	_Alignas(8) char arena[];
} bt_span;

_Static_assert(sizeof(bt_span) + BT_INLINE_BYTES == BT_REC_BYTES,
               "a record is a header and the inline arena");
_Static_assert(BT_REC_BYTES % 64 == 0, "records fill whole cache lines");

/* The bytes at arena offset off (an offset that was allocated). */
static inline char *bt_arena_ptr(const bt_span *sp, uint32_t off)
{
	if (__builtin_expect(sp->ovf == NULL, 1) || off < *(const uint32_t *)sp->ovf)
		return (char *)sp->arena + off;
	return sp->ovf + 8 + (off - *(const uint32_t *)sp->ovf);
}

/* Handle encoding: low 32 bits store index (0: no record), high 32 the generation. */
#define BT_HANDLE(idx, gen) ((uint64_t)(gen) << 32 | (uint64_t)(idx))
#define BT_HANDLE_INDEX(h)  ((uint32_t)(h))
#define BT_HANDLE_GEN(h)    ((uint32_t)((h) >> 32))
/* A non-recording span whose trace is decided unsampled (no record, no ids). */
#define BT_SPAN_UNSAMPLED ((baton_span){BT_HANDLE(0, 1)})

#define BT_CHUNK_SHIFT 6
#define BT_CHUNK_SPANS (1u << BT_CHUNK_SHIFT)

/*
 * Records a thread started come back to it: another thread that releases
 * one pushes it (or a bundle of them) onto the starting thread's slot with
 * one CAS, and the owner takes the whole stack with one exchange.
 */
#define BT_SLOTS 256
typedef struct bt_tslot {
	/* Top bundle's head index | records in the stack << 32; 0: empty. */
	_Atomic uint64_t remote;
	bool taken; /* a live thread owns it; under the store mutex */
	char pad[64 - sizeof(uint64_t) - sizeof(bool)]; /* a cache line each */
} bt_tslot;

typedef struct bt_store {
	pthread_mutex_t mtx;
	char **chunks;            /* max_chunks slots, filled as the store grows */
	void **chunk_mem;         /* what was allocated for each (chunks are aligned) */
	_Atomic uint32_t nchunks; /* published with release after chunks[] is set */
	uint32_t max_chunks;
	uint32_t *free_idx; /* global free list (a stack) of indices */
	uint32_t nfree;
	size_t rec_size;
	uint32_t return_max; /* records a slot's return stack holds at most */
	bt_tslot *slots;     /* BT_SLOTS per-thread return stacks, 64-aligned */
	void *slots_mem;     /* what was allocated for them */
} bt_store;

/*
 * Per-thread counters: each is written only by its own thread (a relaxed
 * load and store, no locked instruction, no shared cache line) and read by
 * baton_sdk_stats_get, which sums every registered thread plus what exited
 * threads left behind.
 */
enum {
	BT_C_STARTED,
	BT_C_UNSAMPLED,
	BT_C_ENDED,
	BT_C_NO_STORE,
	BT_C_ALLOCS,
	BT_C_RELEASES,
	BT_C_COUNT
};
typedef struct bt_counters {
	bt_tcount_link link; /* one block of bt_counters_set (util.h) */
	_Atomic uint64_t c[BT_C_COUNT];
} bt_counters;
extern BT_TLS bt_counters bt_tls_counters;
extern bt_tcount_set bt_counters_set;
void bt_counters_sum(uint64_t out[BT_C_COUNT]);

static inline void bt_count_n(int which, uint64_t n)
{
	bt_counters *tc = &bt_tls_counters;
	if (__builtin_expect(tc->link.set == NULL, 0))
		bt_tcount_join(&bt_counters_set, &tc->link);
	/* Single writer: load + store is enough and avoids a locked add. */
	atomic_store_explicit(
	    &tc->c[which], atomic_load_explicit(&tc->c[which], memory_order_relaxed) + n,
	    memory_order_relaxed);
}

static inline void bt_count(int which)
{
	bt_count_n(which, 1);
}

typedef struct bt_provider {
	bool disabled;
	bool propagate_unsampled_ids;
	/* Decisions known without calling the sampler (set at init from its name). */
	bool drop_all;                /* always_off */
	bool follow_unsampled_parent; /* parentbased: an unsampled parent drops */
	bt_limits limits;
	baton_sampler sampler;
	baton_processor *procs;
	size_t nprocs;
	baton_resource resource;
	bt_store store;
	uint64_t base[BT_C_COUNT]; /* counter sums at baton_init */
} bt_provider;

/* The provider, valid while bt_initialized. */
extern bt_provider bt_prov;
extern bool bt_initialized;
/* Bumped by each baton_init: per-thread caches of an older store are void. */
extern _Atomic uint64_t bt_epoch;

baton_err bt_store_init(bt_store *s, const bt_limits *lim);
void bt_store_fini(bt_store *s);
bt_span *bt_store_alloc(bt_store *s);
/* Gives a record back (any thread): to its starting thread's cache. */
void bt_store_release(bt_store *s, bt_span *sp);
/* The same for n records (a batch processor's worker): the thread's cache
 * is looked up and the releases counted once, not per record. */
void bt_store_release_n(bt_store *s, bt_span *const *sps, size_t n);
/*
 * Around a loop of releases (a batch processor's worker): records of one
 * owner go back as bundles of up to 64 with one CAS each, not one by one.
 * end sends what is gathered; nothing waits between begin and end.
 */
void bt_store_release_begin(void);
void bt_store_release_end(void);

static inline bt_span *bt_store_get(bt_store *s, uint32_t idx)
{
	uint32_t i = idx - 1;
	/* BT_REC_BYTES, not rec_size: a constant multiple of 64 is a shift. */
	return (bt_span *)(s->chunks[i >> BT_CHUNK_SHIFT] +
	                   (size_t)(i & (BT_CHUNK_SPANS - 1)) * BT_REC_BYTES);
}

/* Looks up a live, recording-or-not, not-ended span; NULL for anything else. */
static inline bt_span *bt_span_lookup(baton_span h)
{
	uint32_t idx = BT_HANDLE_INDEX(h.id);
	if (idx == 0 || !bt_initialized ||
	    idx > atomic_load_explicit(&bt_prov.store.nchunks, memory_order_acquire) *
	              BT_CHUNK_SPANS)
		return NULL;
	bt_span *sp = bt_store_get(&bt_prov.store, idx);
	if (atomic_load_explicit(&sp->gen, memory_order_relaxed) != BT_HANDLE_GEN(h.id) ||
	    sp->ended)
		return NULL;
	return sp;
}

/*
 * Remote-derived strings (a parent's and the links' tracestates, values set
 * with baton_span_set_remote_strn: request targets, URLs, user agents, other
 * header values) take at most this many bytes of a span's budget
 * (span_arena_bytes, inline and overflow together) in all,
 * NULs included: 3/8, 768 of the default 2048 bytes, which holds a maximal
 * (512-character) tracestate whole. The other 5/8 stay for the span's name
 * and the attributes its own code sets, which remote data thus never
 * pushes out: an HTTP server span with every attribute of baton/http.h
 * takes about 800 bytes of them (the share's nodes and keys included).
 */
#define BT_REMOTE_SHARE(arena_bytes) ((arena_bytes) / 8 * 3)

/* Arena helpers (span.c). */
void *bt_arena_alloc(bt_span *sp, size_t n);
/* bt_arena_text flags. */
#define BT_TEXT_REMOTE 1 /* takes from the remote share, cut to what is left */
#define BT_TEXT_WHOLE  2 /* a remote string that is stored whole or not at all */
/*
 * Copies s[0..n) into the arena as a NUL-terminated span string: well-formed
 * UTF-8 (ill-formed bytes become U+FFFD) of at most max_chars characters,
 * cut between characters. Without BT_TEXT_REMOTE it is stored whole or not
 * at all. Returns the copy (its length in *len_out, which may be NULL), or
 * NULL when it does not fit, or nothing of a remote one fits.
 */
const char *bt_arena_text(bt_span *sp, const char *s, size_t n, size_t max_chars, int how,
                          size_t *len_out);
/* Appends an attribute to a list (span, event or link); false when dropped. */
bool bt_attr_put(bt_span *sp, const baton_attr **head, baton_attr **tail, uint32_t *count,
                 uint32_t limit, const char *key, const baton_value *v, bool replace);

/*
 * Interned strings (intern.c): attribute keys and span names that records
 * point to instead of copying. An interned string is well-formed UTF-8 of
 * 1 to BT_INTERN_LEN bytes, NUL-terminated, with its length in the byte
 * before it, and lives as long as the process.
 */
#define BT_INTERN_KEYS    0
#define BT_INTERN_NAMES   1
#define BT_INTERN_VALUES  2 /* fixed text only (bt_intern_fixed) */
#define BT_INTERN_NTABLES 3
#define BT_INTERN_LEN     127
/* A thread's cache of each table: sets chosen by pointer, of two entries each
 * (two hot pointers of one set do not evict each other on every call). */
#define BT_INTERN_SETS 64
#define BT_INTERN_WAYS 2

struct bt_intern_ent {
	const char *ptr;  /* the caller's pointer last seen here */
	const char *copy; /* the interned copy of what it held then; NULL: the
	                     table was full then, so it is copied without a look */
	bool fixed;       /* ptr is fixed text (bt_text_fixed): it holds copy for good */
};
/*
 * A thread's caches, BT_INTERN_NTABLES x BT_INTERN_SETS x BT_INTERN_WAYS
 * entries, allocated
 * on its first miss and freed when it exits (not in static TLS: a library
 * loaded with dlopen() gets only a few hundred bytes of that). NULL until
 * then: lookups read bt_intern_none, which matches nothing.
 */
extern BT_TLS struct bt_intern_ent *bt_intern_mine;
extern const struct bt_intern_ent
    bt_intern_none[BT_INTERN_NTABLES * BT_INTERN_SETS * BT_INTERN_WAYS];

/* The cache miss: finds or adds s[0..n) and caches it; NULL when it is not
 * interned (too long, empty, ill-formed, or no room). */
const char *bt_intern_slow(int table, const char *s, size_t n);

static inline size_t bt_intern_len(const char *p)
{
	return (unsigned char)p[-1];
}

static inline uint32_t bt_intern_index(const void *p)
{
	return (uint32_t)(((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) >> 58);
}
_Static_assert(BT_INTERN_SETS == 64, "bt_intern_index keeps 6 bits");
_Static_assert(BT_INTERN_WAYS == 2, "bt_intern_hit looks at two entries");

/* The first entry of the set of pointer s in table c. */
static inline const struct bt_intern_ent *bt_intern_set(const struct bt_intern_ent *c,
                                                        int table, const char *s)
{
	return &c[((uint32_t)table * BT_INTERN_SETS + bt_intern_index(s)) *
	          BT_INTERN_WAYS];
}

/* The thread's cache entry for pointer s in table, or NULL. */
static inline const struct bt_intern_ent *bt_intern_hit(int table, const char *s)
{
	const struct bt_intern_ent *c = bt_intern_mine;
	if (c == NULL)
		c = bt_intern_none;
	const struct bt_intern_ent *e = bt_intern_set(c, table, s);
	if (__builtin_expect(e[0].ptr == s, 1))
		return &e[0];
	return e[1].ptr == s ? &e[1] : NULL;
}

static inline uint64_t bt_load8(const char *p)
{
	uint64_t x;
	__builtin_memcpy(&x, p, 8);
	return x;
}

/* a[0..n) == b[0..n), reading no byte outside either: 16 bytes a step,
 * the last step overlapping, the differences or-ed without a branch. */
static inline bool bt_bytes_equal(const char *a, const char *b, size_t n)
{
	if (n >= 8) {
		uint64_t d = 0;
		size_t i = 0;
		for (; i + 16 < n; i += 16)
			d |= (bt_load8(a + i) ^ bt_load8(b + i)) |
			     (bt_load8(a + i + 8) ^ bt_load8(b + i + 8));
		size_t t = n >= 16 ? n - 16 : 0; /* n < 16: [0, 8) and [n - 8, n) */
		d |= (bt_load8(a + t) ^ bt_load8(b + t)) |
		     (bt_load8(a + n - 8) ^ bt_load8(b + n - 8));
		return d == 0;
	}
	if (n >= 4) {
		uint32_t x0, y0, x1, y1;
		__builtin_memcpy(&x0, a, 4);
		__builtin_memcpy(&y0, b, 4);
		__builtin_memcpy(&x1, a + n - 4, 4);
		__builtin_memcpy(&y1, b + n - 4, 4);
		return ((x0 ^ y0) | (x1 ^ y1)) == 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return false;
	}
	return true;
}

/*
 * The interned copy of s[0..n) (s NUL-terminated at n), or NULL: then the
 * caller copies s as before. A hit on the thread's cache is the same
 * pointer with the same length and bytes: a buffer reused for other text
 * misses, and is looked up by content. A pointer whose text found no room
 * is remembered too: a buffer formatted anew for each span (names with ids
 * in them) costs no table look-up once the table is full.
 */
static inline __attribute__((always_inline)) const char *
bt_intern(int table, const char *s, size_t n)
{
	const struct bt_intern_ent *e = bt_intern_hit(table, s);
	if (__builtin_expect(e != NULL, 1)) {
		if (e->copy == NULL) /* the table had no room for what it held */
			return NULL;
		if (bt_intern_len(e->copy) == n && bt_bytes_equal(s, e->copy, n))
			return e->copy;
	}
	return bt_intern_slow(table, s, n);
}

/*
 * bt_intern for a NUL-terminated s whose length the caller needs too:
 * writes it into *n. Fixed text seen before (a literal of the program, as
 * most keys and span names are) costs neither a strlen nor a compare: its
 * bytes cannot have changed since.
 */
static inline __attribute__((always_inline)) const char *
bt_intern_str(int table, const char *s, size_t *n)
{
	const struct bt_intern_ent *e = bt_intern_hit(table, s);
	if (__builtin_expect(e != NULL && e->fixed, 1)) {
		*n = bt_intern_len(e->copy);
		return e->copy;
	}
	*n = strlen(s);
	return bt_intern(table, s, *n);
}

/* The cache miss of bt_intern_fixed: caches whether s is fixed text, and
 * its copy when it is and the table holds it. */
const char *bt_intern_fixed_slow(int table, const char *s, size_t n);

/*
 * The interned copy of s, NUL-terminated, when s is fixed text
 * (bt_text_fixed) that the table holds, else NULL; *n gets s's length
 * either way. For string values: most are not literals, so a pointer
 * outside the read-only extent of the program and of baton
 * (bt_addr_maybe_fixed) goes straight to the copying path, and a cache
 * entry also remembers a pointer inside it that is not fixed text.
 */
static inline __attribute__((always_inline)) const char *
bt_intern_fixed(int table, const char *s, size_t *n)
{
	const struct bt_intern_ent *e = bt_intern_hit(table, s);
	if (__builtin_expect(e != NULL, 1)) {
		if (e->fixed) {
			*n = bt_intern_len(e->copy);
			return e->copy;
		}
		*n = strlen(s);
		return NULL;
	}
	*n = strlen(s);
	/* A buffer on the heap or the stack: no look-up and nothing cached, so a
	 * value in a new buffer each call costs two compares. */
	if (!bt_addr_maybe_fixed(s))
		return NULL;
	return bt_intern_fixed_slow(table, s, *n);
}

/* Resource (resource.c). */
baton_err bt_resource_build(baton_resource *res, const char *service_name,
                            const baton_kv *extra, size_t nextra);
void bt_resource_free(baton_resource *res);

/* Thread-local current context (context.c). */
bool bt_current_context(baton_span_context *out);
/* The thread's attached contexts (context.c). */
#define BT_CTX_DEPTH 64
struct bt_bag;
struct bt_frame {
	baton_span span; /* NONE when a bare context was attached */
	baton_span_context ctx;
	struct bt_bag *bag; /* this context's baggage (NULL: none) */
	bool own;           /* bag was made for this frame: freed when it is popped */
};
typedef struct bt_ctx_tls {
	uint32_t depth;
	uint32_t owned;      /* frames (and the base) that own their bag */
	bool tracked;        /* the thread-exit destructor is registered */
	struct bt_bag *base; /* the base context's baggage (owned) */
	/* BT_CTX_DEPTH frames, allocated on the thread's first attach and freed
	 * when it exits: static TLS stays small, as dlopen() requires. */
	struct bt_frame *frames;
} bt_ctx_tls;
extern BT_TLS bt_ctx_tls bt_tls_ctx;

/*
 * What the thread's current context is, with no call and no copy (the
 * message layer's fast path): BT_CUR_UNSAMPLED, a "not sampled" decision
 * without ids and without a span behind it (the handler of an unsampled
 * message); BT_CUR_BAGGAGE, it has baggage.
 */
enum { BT_CUR_UNSAMPLED = 1, BT_CUR_BAGGAGE = 2 };
static inline unsigned bt_current_bits(void)
{
	uint32_t d = bt_tls_ctx.depth;
	if (d == 0)
		return bt_tls_ctx.base != NULL ? BT_CUR_BAGGAGE : 0;
	const struct bt_frame *f = &bt_tls_ctx.frames[d - 1];
	unsigned bits = f->bag != NULL ? BT_CUR_BAGGAGE : 0;
	if (BT_HANDLE_INDEX(f->span.id) == 0 &&
	    (f->ctx.state & (BATON_CTX_VALID | BATON_CTX_DECIDED)) == BATON_CTX_DECIDED &&
	    !(f->ctx.trace_flags & BATON_FLAG_SAMPLED))
		bits |= BT_CUR_UNSAMPLED;
	return bits;
}

/* The capability flags a sampler declares (0 when its ops predate them). */
static inline uint32_t bt_sampler_flags(baton_sampler s)
{
	if (s.ops == NULL ||
	    s.ops->size < offsetof(baton_sampler_ops, flags) + sizeof(s.ops->flags))
		return 0;
	return s.ops->flags;
}

#endif /* BT_TRACE_INT_H */
