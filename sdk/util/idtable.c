/* The keyed trace-id table; see idtable.h. */
#include "idtable.h"

#include "util.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) ---- */

#define BT_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline uint64_t bt_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define BT_SIPROUND                                                                      \
	do {                                                                             \
		v0 += v1;                                                                \
		v1 = BT_ROTL(v1, 13);                                                    \
		v1 ^= v0;                                                                \
		v0 = BT_ROTL(v0, 32);                                                    \
		v2 += v3;                                                                \
		v3 = BT_ROTL(v3, 16);                                                    \
		v3 ^= v2;                                                                \
		v0 += v3;                                                                \
		v3 = BT_ROTL(v3, 21);                                                    \
		v3 ^= v0;                                                                \
		v2 += v1;                                                                \
		v1 = BT_ROTL(v1, 17);                                                    \
		v1 ^= v2;                                                                \
		v2 = BT_ROTL(v2, 32);                                                    \
	} while (0)

uint64_t bt_siphash24(const uint8_t k[16], const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t k0 = bt_le64(k), k1 = bt_le64(k + 8);
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	size_t full = n & ~(size_t)7;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = bt_le64(p + i);
		v3 ^= m;
		BT_SIPROUND;
		BT_SIPROUND;
		v0 ^= m;
	}
	/* The last block: the remaining bytes, and n mod 256 in the top byte. */
	uint64_t b = (uint64_t)n << 56;
	for (size_t i = 0; i < (n & 7); i++)
		b |= (uint64_t)p[full + i] << (8 * i);
	v3 ^= b;
	BT_SIPROUND;
	BT_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	BT_SIPROUND;
	BT_SIPROUND;
	BT_SIPROUND;
	BT_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the process key ---- */

static uint8_t bt_idkey[16];
static pthread_once_t bt_idkey_once = PTHREAD_ONCE_INIT;

static void bt_idkey_init(void)
{
	/*
	 * Straight from the kernel, not from the id generator: trace ids are
	 * public and wyrand's state follows from its outputs.
	 */
	if (getrandom(bt_idkey, sizeof(bt_idkey), 0) == (ssize_t)sizeof(bt_idkey))
		return;
	/* No entropy syscall: the best mix at hand (time, pid, addresses). */
	uint64_t a = baton_time_mono_ns() ^ ((uint64_t)getpid() << 32);
	uint64_t b = baton_time_unix_ns() ^ (uint64_t)(uintptr_t)&a ^
	             (uint64_t)(uintptr_t)&bt_idkey_init;
	memcpy(bt_idkey, &a, 8);
	memcpy(bt_idkey + 8, &b, 8);
}

uint64_t bt_idhash(const void *p, size_t n)
{
	/* pthread_once publishes the key to every thread that passes here. */
	pthread_once(&bt_idkey_once, bt_idkey_init);
	return bt_siphash24(bt_idkey, p, n);
}

/* ---- the table ---- */

#define BT_IDTABLE_MIN 16

void bt_idtable_init(bt_idtable *t)
{
	memset(t, 0, sizeof(*t));
	pthread_once(&bt_idkey_once, bt_idkey_init);
}

void bt_idtable_fini(bt_idtable *t)
{
	bt_free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* The slot of id, or of the empty slot where it would go. */
static size_t bt_idtable_slot(bt_idtable *t, const uint8_t *id, uint64_t h)
{
	size_t mask = t->cap - 1, i = (size_t)h & mask;
	t->ops++;
	for (;;) {
		const bt_idslot *s = &t->slots[i];
		t->probes++;
		if (s->val == NULL ||
		    (s->hash == h && memcmp(s->id, id, BT_ID_SIZE) == 0))
			return i;
		i = (i + 1) & mask;
	}
}

void *bt_idtable_find(bt_idtable *t, const uint8_t id[BT_ID_SIZE])
{
	if (t->count == 0)
		return NULL;
	return t->slots[bt_idtable_slot(t, id, bt_idhash(id, BT_ID_SIZE))].val;
}

static bool bt_idtable_grow(bt_idtable *t)
{
	size_t cap = t->cap ? t->cap * 2 : BT_IDTABLE_MIN;
	if (cap < t->cap || cap > SIZE_MAX / sizeof(bt_idslot))
		return false;
	bt_idslot *ns = bt_calloc(cap, sizeof(*ns));
	if (ns == NULL)
		return false;
	for (size_t i = 0; i < t->cap; i++) {
		const bt_idslot *s = &t->slots[i];
		if (s->val == NULL)
			continue;
		size_t j = (size_t)s->hash & (cap - 1);
		while (ns[j].val != NULL)
			j = (j + 1) & (cap - 1);
		ns[j] = *s;
	}
	bt_free(t->slots);
	t->slots = ns;
	t->cap = cap;
	return true;
}

baton_err bt_idtable_insert(bt_idtable *t, const uint8_t id[BT_ID_SIZE], void *val)
{
	if (val == NULL)
		return BATON_EINVAL;
	/* At most half full: short probe runs even for unlucky keys. */
	if ((t->count + 1) * 2 > t->cap && !bt_idtable_grow(t))
		return BATON_ENOMEM;
	uint64_t h = bt_idhash(id, BT_ID_SIZE);
	bt_idslot *s = &t->slots[bt_idtable_slot(t, id, h)];
	if (s->val == NULL)
		t->count++;
	s->hash = h;
	s->val = val;
	memcpy(s->id, id, BT_ID_SIZE);
	return BATON_OK;
}

void *bt_idtable_remove(bt_idtable *t, const uint8_t id[BT_ID_SIZE])
{
	if (t->count == 0)
		return NULL;
	size_t mask = t->cap - 1;
	size_t i = bt_idtable_slot(t, id, bt_idhash(id, BT_ID_SIZE));
	void *val = t->slots[i].val;
	if (val == NULL)
		return NULL;
	/*
	 * Backward shift: pull later entries of the run into the hole unless
	 * their home slot lies cyclically in (hole, j], where they already are
	 * as close to home as they can be.
	 */
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		bt_idslot *s = &t->slots[j];
		if (s->val == NULL)
			break;
		size_t home = (size_t)s->hash & mask;
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		t->slots[i] = *s;
		i = j;
	}
	t->slots[i].val = NULL;
	t->count--;
	return val;
}

bool bt_idtable_next(const bt_idtable *t, size_t *pos, void **val)
{
	for (size_t i = *pos; i < t->cap; i++) {
		if (t->slots[i].val != NULL) {
			*val = t->slots[i].val;
			*pos = i + 1;
			return true;
		}
	}
	*pos = t->cap;
	return false;
}
