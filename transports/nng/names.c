/*
 * Destination names per socket, the cached tracer and the messaging
 * attributes.
 *
 * Names live in an open-addressing table keyed by NNG socket id (linear
 * probing, deletion by backward shift, so no tombstones). Readers, on the
 * send and receive paths, take no lock: a sequence counter (a seqlock)
 * tells them when a writer changed the table under them, and they copy the
 * name out and retry in that case. Every slot field is an atomic read and
 * written relaxed, so a reader that races a writer reads stale bytes, never
 * undefined ones, and the counter makes it throw them away.
 *
 * Writers (set_name, listen, dial) are serialised by a mutex. How a closed
 * socket gives its slot back: NNG has no close callback, so before the
 * table grows, the writer asks NNG about each named socket and removes the
 * ones NNG reports closed (NNG_ECLOSED). Nothing for the user to call, and
 * no work on the hot path. The table grows only when live names still fill
 * it after that sweep, so its size follows the sockets open at once, not
 * the sockets ever named. NNG socket ids are not reused until 2^31 sockets
 * have been opened (or after nng_fini), so an entry is never mistaken for
 * a newer socket's.
 *
 * A table that is replaced by a bigger one is kept (a reader may still be
 * in it): the kept ones add up to less than the current one.
 */
#include "nng_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* A name, NUL-padded, as words a reader can load atomically. */
#define BT_NAME_WORDS ((BT_NNG_DEST_MAX + 1 + 7) / 8)
#define BT_NAMES_MIN  16u

struct bt_name_slot {
	_Atomic uint32_t sock; /* 0: free */
	_Atomic uint64_t name[BT_NAME_WORDS];
};

struct bt_name_tab {
	uint32_t mask;
	uint32_t count;            /* live slots; under bt_names_mtx */
	struct bt_name_tab *older; /* tables this one replaced */
	struct bt_name_slot slots[];
};

static _Atomic(struct bt_name_tab *) bt_tab;
/* Odd while a writer changes the current table's slots. */
static _Atomic uint32_t bt_names_seq;
static pthread_mutex_t bt_names_mtx = PTHREAD_MUTEX_INITIALIZER;

static uint32_t bt_name_home(const struct bt_name_tab *t, uint32_t sock)
{
	uint32_t h = sock * 0x9e3779b1u;
	return (h ^ h >> 16) & t->mask;
}

/*
 * Copies sock's name into out (BT_NNG_DEST_MAX + 1 bytes) from table t.
 * Relaxed loads: the caller's sequence check decides whether they count.
 */
static bool bt_name_probe(const struct bt_name_tab *t, uint32_t sock, char *out)
{
	uint32_t i = bt_name_home(t, sock);
	for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		const struct bt_name_slot *e = &t->slots[i];
		uint32_t k = atomic_load_explicit(&e->sock, memory_order_relaxed);
		if (k == 0)
			return false;
		if (k != sock)
			continue;
		for (size_t w = 0; w < BT_NAME_WORDS; w++) {
			uint64_t v =
			    atomic_load_explicit(&e->name[w], memory_order_relaxed);
			memcpy(out + 8 * w, &v, 8);
		}
		out[BT_NNG_DEST_MAX] = '\0';
		return true;
	}
	return false;
}

/* Lock-free lookup: copies sock's name into out; false when it has none. */
static bool bt_name_lookup(uint32_t sock, char *out)
{
	for (;;) {
		/* Acquire: the slots read below are at least as new as the
		 * table and the sequence number. */
		uint32_t s1 = atomic_load_explicit(&bt_names_seq, memory_order_acquire);
		struct bt_name_tab *t =
		    atomic_load_explicit(&bt_tab, memory_order_acquire);
		if (t == NULL)
			return false;
		if (s1 & 1)
			continue; /* a writer is inside: short, retry */
		bool found = bt_name_probe(t, sock, out);
		/* Acquire fence: the slot loads above happen before the re-read;
		 * if the writer touched a slot we read, we see its new number. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&bt_names_seq, memory_order_relaxed) == s1)
			return found;
	}
}

/* Writer side: brackets changes to the current table's slots. */
static void bt_names_write_begin(void)
{
	uint32_t s = atomic_load_explicit(&bt_names_seq, memory_order_relaxed);
	atomic_store_explicit(&bt_names_seq, s + 1, memory_order_relaxed);
	/* Release fence: a reader that sees any slot store below also sees
	 * the odd number (or a later one) at its re-read. */
	atomic_thread_fence(memory_order_release);
}

static void bt_names_write_end(void)
{
	uint32_t s = atomic_load_explicit(&bt_names_seq, memory_order_relaxed);
	atomic_store_explicit(&bt_names_seq, s + 1, memory_order_release);
}

static void bt_slot_set_name(struct bt_name_slot *e, const char *name)
{
	char buf[BT_NAME_WORDS * 8] = {0};
	size_t n = strlen(name);
	memcpy(buf, name, n > BT_NNG_DEST_MAX ? BT_NNG_DEST_MAX : n);
	for (size_t w = 0; w < BT_NAME_WORDS; w++) {
		uint64_t v;
		memcpy(&v, buf + 8 * w, 8);
		atomic_store_explicit(&e->name[w], v, memory_order_relaxed);
	}
}

static void bt_slot_move(struct bt_name_slot *to, struct bt_name_slot *from)
{
	for (size_t w = 0; w < BT_NAME_WORDS; w++)
		atomic_store_explicit(
		    &to->name[w],
		    atomic_load_explicit(&from->name[w], memory_order_relaxed),
		    memory_order_relaxed);
	atomic_store_explicit(&to->sock,
	                      atomic_load_explicit(&from->sock, memory_order_relaxed),
	                      memory_order_relaxed);
}

/* The slot holding sock in t, or NULL. Under the mutex. */
static struct bt_name_slot *bt_name_find_locked(struct bt_name_tab *t, uint32_t sock)
{
	if (t == NULL)
		return NULL;
	uint32_t i = bt_name_home(t, sock);
	for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		uint32_t k =
		    atomic_load_explicit(&t->slots[i].sock, memory_order_relaxed);
		if (k == 0)
			return NULL;
		if (k == sock)
			return &t->slots[i];
	}
	return NULL;
}

/* A free slot for sock in t (which has one). Under the mutex. */
static struct bt_name_slot *bt_name_free_slot(struct bt_name_tab *t, uint32_t sock)
{
	uint32_t i = bt_name_home(t, sock);
	while (atomic_load_explicit(&t->slots[i].sock, memory_order_relaxed) != 0)
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

/* Removes slot i by backward shift. Inside a write bracket. */
static void bt_name_remove_at(struct bt_name_tab *t, uint32_t i)
{
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		uint32_t k =
		    atomic_load_explicit(&t->slots[j].sock, memory_order_relaxed);
		if (k == 0)
			break;
		uint32_t h = bt_name_home(t, k);
		/* The entry at j stays when its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (stays)
			continue;
		bt_slot_move(&t->slots[i], &t->slots[j]);
		i = j;
	}
	atomic_store_explicit(&t->slots[i].sock, 0, memory_order_relaxed);
	t->count--;
}

/* True when NNG knows socket id as closed (or never opened). */
static bool bt_sock_closed(uint32_t id)
{
	nng_socket s = {.id = id};
	nng_duration d;
	return nng_socket_get_ms(s, NNG_OPT_RECVTIMEO, &d) == NNG_ECLOSED;
}

/*
 * Gives back the slots of closed sockets. The questions to NNG are asked
 * outside the write bracket (readers go on meanwhile); the removals are one
 * short bracket. Under the mutex.
 */
static void bt_names_sweep(struct bt_name_tab *t)
{
	uint32_t dead[64];
	bool more = true;
	while (more && t->count > 0) {
		uint32_t n = 0;
		more = false;
		for (uint32_t i = 0; i <= t->mask; i++) {
			uint32_t k =
			    atomic_load_explicit(&t->slots[i].sock, memory_order_relaxed);
			if (k == 0 || !bt_sock_closed(k))
				continue;
			if (n == sizeof(dead) / sizeof(dead[0])) {
				more = true;
				break;
			}
			dead[n++] = k;
		}
		bt_names_write_begin();
		for (uint32_t d = 0; d < n; d++) {
			struct bt_name_slot *e = bt_name_find_locked(t, dead[d]);
			if (e != NULL)
				bt_name_remove_at(t, (uint32_t)(e - t->slots));
		}
		bt_names_write_end();
	}
}

/* A table of size slots holding t's entries, or NULL when out of memory. */
static struct bt_name_tab *bt_names_rebuild(struct bt_name_tab *t, uint32_t size)
{
	size_t bytes =
	    sizeof(struct bt_name_tab) + (size_t)size * sizeof(struct bt_name_slot);
	struct bt_name_tab *nt = nng_alloc(bytes);
	if (nt == NULL)
		return NULL;
	memset(nt, 0, bytes);
	nt->mask = size - 1;
	nt->older = t;
	for (uint32_t i = 0; t != NULL && i <= t->mask; i++) {
		uint32_t k =
		    atomic_load_explicit(&t->slots[i].sock, memory_order_relaxed);
		if (k == 0)
			continue;
		bt_slot_move(bt_name_free_slot(nt, k), &t->slots[i]);
		nt->count++;
	}
	return nt;
}

static int bt_name_add(uint32_t sock, const char *name, bool only_if_absent)
{
	int rv = 0;
	pthread_mutex_lock(&bt_names_mtx);
	struct bt_name_tab *t = atomic_load_explicit(&bt_tab, memory_order_relaxed);
	struct bt_name_slot *e = bt_name_find_locked(t, sock);
	if (e != NULL) {
		if (!only_if_absent) {
			bt_names_write_begin();
			bt_slot_set_name(e, name);
			bt_names_write_end();
		}
		goto out;
	}
	/*
	 * Past 3/4 full, closed sockets' slots are given back; if that does not
	 * bring the table to 3/8, it doubles until it does. Either way the next
	 * sweep is 3/8 of a table of insertions away: the questions a sweep asks
	 * NNG cost O(1) per name set, and the size stays within 16/3 of the
	 * sockets named and open at once.
	 */
	if (t == NULL || 4 * ((uint64_t)t->count + 1) > 3 * ((uint64_t)t->mask + 1)) {
		if (t != NULL)
			bt_names_sweep(t);
		if (t == NULL ||
		    8 * ((uint64_t)t->count + 1) > 3 * ((uint64_t)t->mask + 1)) {
			uint64_t size = t == NULL ? BT_NAMES_MIN : (uint64_t)t->mask + 1;
			uint64_t need = t == NULL ? 1 : (uint64_t)t->count + 1;
			while (8 * need > 3 * size)
				size *= 2;
			struct bt_name_tab *nt = size <= (1u << 31)
			                             ? bt_names_rebuild(t, (uint32_t)size)
			                             : NULL;
			if (nt == NULL) {
				rv = NNG_ENOMEM;
				goto out;
			}
			/* Release: a reader that sees the new table sees it
			 * filled. The old one stays readable (nt->older). */
			atomic_store_explicit(&bt_tab, nt, memory_order_release);
			t = nt;
		}
	}
	e = bt_name_free_slot(t, sock);
	bt_names_write_begin();
	bt_slot_set_name(e, name);
	atomic_store_explicit(&e->sock, sock, memory_order_relaxed);
	bt_names_write_end();
	t->count++;
out:
	pthread_mutex_unlock(&bt_names_mtx);
	return rv;
}

size_t bt_nng_names_capacity(void)
{
	pthread_mutex_lock(&bt_names_mtx);
	struct bt_name_tab *t = atomic_load_explicit(&bt_tab, memory_order_relaxed);
	size_t n = 0;
	for (; t != NULL; t = t->older)
		n += (size_t)t->mask + 1;
	pthread_mutex_unlock(&bt_names_mtx);
	return n;
}

int baton_nng_socket_set_name(nng_socket s, const char *name)
{
	int id = nng_socket_id(s);
	if (id <= 0 || name == NULL)
		return NNG_EINVAL;
	return bt_name_add((uint32_t)id, name, false);
}

int baton_nng_listen(nng_socket s, const char *url, nng_listener *lp, int flags)
{
	int rv = nng_listen(s, url, lp, flags);
	if (rv == 0 && url != NULL && nng_socket_id(s) > 0)
		bt_name_add((uint32_t)nng_socket_id(s), url, true);
	return rv;
}

int baton_nng_dial(nng_socket s, const char *url, nng_dialer *dp, int flags)
{
	int rv = nng_dial(s, url, dp, flags);
	if (rv == 0 && url != NULL && nng_socket_id(s) > 0)
		bt_name_add((uint32_t)nng_socket_id(s), url, true);
	return rv;
}

void bt_nng_dest_resolve(bt_nng_dest *d, const char *explicit_name, uint32_t sock,
                         bool send)
{
	const char *op = send ? "send " : "process ";
	size_t oplen = send ? 5 : 8;
	_Static_assert(sizeof(d->buf) >= 8 + BT_NNG_DEST_MAX + 1, "bt_nng_dest.buf");
	if (explicit_name != NULL) {
		size_t len = strlen(explicit_name);
		if (len > BT_NNG_DEST_MAX)
			len = BT_NNG_DEST_MAX;
		memcpy(d->buf, op, oplen);
		memcpy(d->buf + oplen, explicit_name, len);
		d->buf[oplen + len] = '\0';
		d->span_name = d->buf;
		d->dest = d->buf + oplen;
		return;
	}
	/* The name is copied out: its slot may be given to another socket. */
	if (sock != 0 && bt_name_lookup(sock, d->buf + oplen)) {
		memcpy(d->buf, op, oplen);
		d->span_name = d->buf;
		d->dest = d->buf + oplen;
		return;
	}
	d->dest = NULL;
	d->span_name = send ? "send" : "process";
}

/*
 * The tracer pointer is valid from one baton_init to the next baton_fini;
 * the SDK generation changes at both. The generation is stored with
 * release after the pointer, and loaded with acquire before it, so a
 * reader that sees the current generation sees the pointer stored for it.
 */
static _Atomic(baton_tracer *) bt_tracer_cached;
static _Atomic uint64_t bt_tracer_gen = UINT64_MAX;

baton_tracer *bt_nng_tracer(void)
{
	uint64_t g = baton_msg_sdk_generation();
	if (atomic_load_explicit(&bt_tracer_gen, memory_order_acquire) == g)
		return atomic_load_explicit(&bt_tracer_cached, memory_order_relaxed);
	baton_tracer *t = baton_tracer_get("baton.nng", BATON_VERSION_STRING);
	atomic_store_explicit(&bt_tracer_cached, t, memory_order_relaxed);
	atomic_store_explicit(&bt_tracer_gen, g, memory_order_release);
	return t;
}
