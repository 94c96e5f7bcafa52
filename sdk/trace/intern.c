/*
 * Interned span strings: attribute keys, span names and (only when they are
 * literals of the program, bt_intern_fixed) string values that a span
 * record points to instead of copying them into its arena.
 *
 * A table is a fixed array of slots and a fixed pool of bytes, both static:
 * nothing is allocated, nothing is ever removed, and an interned string
 * lives as long as the process, so a record (or an exporter holding one)
 * never sees it go. A string is interned the first time it is seen, if it
 * is well-formed UTF-8 of at most BT_INTERN_LEN bytes and there is room;
 * once the pool or its probe window is full, new strings are copied into
 * the span as before. Interning takes no lock: a string's bytes are
 * reserved with one atomic add on the pool and published with one CAS on a
 * slot, so two threads interning the same string at once may waste one
 * copy's bytes of the pool, never return different contents.
 *
 * In front of each table, every thread keeps a small cache from the
 * caller's pointer to the interned copy (trace_int.h, bt_intern), or to
 * nothing when the table had no room for what the pointer held.
 * A pointer alone proves nothing (the caller may reuse a buffer for other
 * text), so a hit also compares the length and the bytes: a key the caller
 * passes as a literal then costs a strlen and a compare, no UTF-8 check, no
 * copy and no arena bytes. Unless the pointer is fixed text (a literal of
 * the program, bt_text_fixed): bytes that cannot change need no second
 * look, so such a hit costs neither (bt_intern_str).
 */
#include "trace/trace_int.h"

#include <pthread.h>
#include <string.h>

#define BT_INTERN_SLOTS 2048u /* per table, a power of two */
#define BT_INTERN_POOL  (64u * 1024u)
#define BT_INTERN_PROBE 16u /* slots looked at before giving up */

struct bt_intern_table {
	_Atomic(const char *) slot[BT_INTERN_SLOTS];
	_Atomic uint32_t used; /* pool bytes reserved */
	_Alignas(8) char pool[BT_INTERN_POOL];
};

static struct bt_intern_table bt_intern_tables[BT_INTERN_NTABLES];

BT_TLS struct bt_intern_ent *bt_intern_mine;
const struct bt_intern_ent
    bt_intern_none[BT_INTERN_NTABLES * BT_INTERN_SETS * BT_INTERN_WAYS];
/* The thread's caches were freed at its exit: later lookups go uncached. */
static BT_TLS bool bt_intern_gone;
static pthread_key_t bt_intern_key;
static pthread_once_t bt_intern_once = PTHREAD_ONCE_INIT;
static bool bt_intern_key_ok;

static void bt_intern_thread_exit(void *p)
{
	bt_intern_mine = NULL;
	bt_intern_gone = true;
	bt_free(p);
}

static void bt_intern_key_make(void)
{
	bt_intern_key_ok = pthread_key_create(&bt_intern_key, bt_intern_thread_exit) == 0;
}

/* The entry to fill for s in table (s's own, else the first of its set,
 * whose entry moves to the second): NULL when the thread has no cache and
 * cannot have one (out of memory, or exiting). */
static struct bt_intern_ent *bt_intern_slot(int table, const char *s)
{
	struct bt_intern_ent *c = bt_intern_mine;
	if (__builtin_expect(c == NULL, 0)) {
		if (bt_intern_gone)
			return NULL;
		pthread_once(&bt_intern_once, bt_intern_key_make);
		if (!bt_intern_key_ok)
			return NULL;
		c = bt_calloc(BT_INTERN_NTABLES * BT_INTERN_SETS * BT_INTERN_WAYS,
		              sizeof(*c));
		if (c == NULL)
			return NULL;
		if (pthread_setspecific(bt_intern_key, c) != 0) {
			bt_free(c);
			return NULL;
		}
		bt_intern_mine = c;
	}
	struct bt_intern_ent *e = (struct bt_intern_ent *)bt_intern_set(c, table, s);
	if (e[0].ptr == s)
		return &e[0];
	if (e[1].ptr == s)
		return &e[1];
	e[1] = e[0]; /* the older entry of the set moves to the second way */
	return &e[0];
}

/* FNV-1a over the bytes, then mixed: the table's slot. */
static uint32_t bt_intern_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 29));
}

/*
 * The interned copy of s[0..n) (well-formed, n <= BT_INTERN_LEN), or NULL
 * when it is not there and there is no room for it (*full).
 */
static const char *bt_intern_find_or_add(struct bt_intern_table *t, const char *s,
                                         size_t n, bool *full)
{
	uint32_t h = bt_intern_hash(s, n);
	char *mine = NULL;
	for (uint32_t k = 0; k < BT_INTERN_PROBE; k++) {
		_Atomic(const char *) *slot = &t->slot[(h + k) & (BT_INTERN_SLOTS - 1)];
		/* Acquire: pairs with the release CAS below (the bytes it published). */
		const char *p = atomic_load_explicit(slot, memory_order_acquire);
		while (p == NULL) {
			if (mine == NULL) {
				/* A length byte, the bytes, a NUL. */
				uint32_t need = (uint32_t)n + 2;
				uint32_t off = atomic_fetch_add_explicit(
				    &t->used, need, memory_order_relaxed);
				if (off > BT_INTERN_POOL - need) {
					*full = true; /* those bytes stay unused */
					return NULL;
				}
				t->pool[off] = (char)n;
				mine = t->pool + off + 1;
				memcpy(mine, s, n);
				mine[n] = '\0';
			}
			/* Release: a reader that finds the pointer sees the bytes. */
			if (atomic_compare_exchange_strong_explicit(slot, &p, mine,
			                                            memory_order_release,
			                                            memory_order_acquire))
				return mine;
			/* Another thread took the slot: p is now what it put there. */
		}
		if (bt_intern_len(p) == n && memcmp(p, s, n) == 0)
			return p;
	}
	*full = true; /* the probe window is taken by others */
	return NULL;
}

const char *bt_intern_slow(int table, const char *s, size_t n)
{
	if (n == 0 || n > BT_INTERN_LEN || bt_utf8_valid_prefix(s, n) != n)
		return NULL;
	bool full = false;
	const char *p = bt_intern_find_or_add(&bt_intern_tables[table], s, n, &full);
	struct bt_intern_ent *e;
	if ((p != NULL || full) && (e = bt_intern_slot(table, s)) != NULL) {
		e->ptr = s;
		e->copy = p;
		e->fixed = p != NULL && bt_text_fixed(s, n);
	}
	return p;
}

const char *bt_intern_fixed_slow(int table, const char *s, size_t n)
{
	struct bt_intern_ent *e = bt_intern_slot(table, s);
	const char *p = NULL;
	if (n > 0 && n <= BT_INTERN_LEN && bt_text_fixed(s, n) &&
	    bt_utf8_valid_prefix(s, n) == n) {
		bool full = false;
		p = bt_intern_find_or_add(&bt_intern_tables[table], s, n, &full);
	}
	/* Fixed text found once is known for good; anything else (a buffer,
	 * or fixed text the table had no room for) takes the copying path. */
	if (e != NULL) {
		e->ptr = s;
		e->copy = p;
		e->fixed = p != NULL;
	}
	return p;
}
