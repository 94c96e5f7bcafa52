/*
 * Sending: a thin adapter over the message layer (baton/message.h), which
 * starts the producer span, decides, and writes the envelope; here it goes
 * at the front of the body and the message is handed to NNG. The
 * broadcast helper takes one envelope per recipient (the message layer
 * draws each one's fanout keep decision) and pipelines the sends: each is
 * offered without blocking, and a recipient that cannot take its message
 * at once gets it on one of a bounded set of aios that all run at the same
 * time and are reused as they finish.
 */
#include "nng_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct bt_sealed {
	baton_msg_send ms; /* the send in progress: its producer span */
	size_t env_len;
	size_t room; /* head room of a baton_nng_msg_alloc() message, else 0 */
	void *body;  /* where the body started */
};

/*
 * Starts the send (the message layer decides) and puts its envelope at the
 * front of msg's body. On failure msg is unchanged and the send has ended.
 */
static int bt_seal(nng_msg *msg, uint32_t sock, const baton_nng_send_opts *o,
                   struct bt_sealed *out)
{
	static const baton_nng_send_opts none;
	uint8_t buf[160];
	bt_nng_dest d;
	size_t n = 0;
	int rv;

	if (o == NULL)
		o = &none;
	bt_nng_dest_resolve(&d, o->destination, sock, true);
	baton_msg_send_opts mo = {.tracer = bt_nng_tracer(),
	                          .system = "nng",
	                          .destination = d.dest,
	                          .parent = o->parent,
	                          .start_flags = o->start_flags,
	                          .flags = BATON_MSG_BODY_SIZE,
	                          .recipients = o->recipients,
	                          .baggage = o->baggage,
	                          .body_size = nng_msg_len(msg)};
	baton_msg_send_begin(&out->ms, &mo);
	/* The tag comes off before NNG sees the message; it goes back on failure. */
	out->room = bt_nng_msg_take_room(msg);
	out->body = nng_msg_body(msg);
	size_t need = baton_msg_send_size(&out->ms);
	if (need <= sizeof(buf)) {
		rv = baton_msg_send_wrap(&out->ms, buf, sizeof(buf), &n) == BATON_OK
		         ? bt_nng_msg_prepend(msg, buf, n, out->room)
		         : NNG_EINVAL;
	} else {
		rv = bt_nng_msg_prepend(msg, NULL, need, out->room);
		if (rv == 0 && baton_msg_send_wrap(&out->ms, nng_msg_body(msg), need,
		                                   &n) != BATON_OK) {
			nng_msg_trim(msg, need);
			rv = NNG_EINVAL;
		}
	}
	if (rv != 0) {
		bt_nng_msg_give_room(msg, out->room, out->body);
		baton_msg_send_end(&out->ms, nng_strerror(rv));
		return rv;
	}
	out->env_len = n;
	return 0;
}

static uint32_t bt_sock_id(nng_socket s)
{
	int id = nng_socket_id(s);
	return id > 0 ? (uint32_t)id : 0;
}

int baton_nng_sendmsg(nng_socket s, nng_msg *msg, int flags,
                      const baton_nng_send_opts *opts)
{
	struct bt_sealed st;
	if (msg == NULL)
		return NNG_EINVAL;
	int rv = bt_seal(msg, bt_sock_id(s), opts, &st);
	if (rv != 0)
		return rv;
	rv = nng_sendmsg(s, msg, flags);
	/* On failure the message stays the caller's: give it back as it was. */
	if (rv != 0) {
		nng_msg_trim(msg, st.env_len);
		bt_nng_msg_give_room(msg, st.room, st.body);
	}
	baton_msg_send_end(&st.ms, rv != 0 ? nng_strerror(rv) : NULL);
	return rv;
}

int baton_nng_send(nng_socket s, const void *data, size_t len, int flags,
                   const baton_nng_send_opts *opts)
{
	nng_msg *m;
	if (data == NULL && len > 0)
		return NNG_EINVAL;
	int rv = baton_nng_msg_alloc(&m, len);
	if (rv != 0)
		return rv;
	if (len > 0)
		memcpy(nng_msg_body(m), data, len);
	rv = baton_nng_sendmsg(s, m, flags, opts);
	if (rv != 0)
		nng_msg_free(m);
	return rv;
}

/* Seals the aio's message; false when there is none (NNG reports it) or out of
 * memory (then it is sent bare). */
static bool bt_seal_aio(uint32_t sock, nng_aio *aio, const baton_nng_send_opts *opts,
                        struct bt_sealed *st)
{
	nng_msg *m = aio != NULL ? nng_aio_get_msg(aio) : NULL;
	return m != NULL && bt_seal(m, sock, opts, st) == 0;
}

void baton_nng_send_aio(nng_socket s, nng_aio *aio, const baton_nng_send_opts *opts)
{
	struct bt_sealed st;
	bool sealed = bt_seal_aio(bt_sock_id(s), aio, opts, &st);
	nng_send_aio(s, aio);
	if (sealed)
		baton_msg_send_end(&st.ms, NULL);
}

void baton_nng_ctx_send(nng_ctx c, nng_aio *aio, const baton_nng_send_opts *opts)
{
	struct bt_sealed st;
	bool sealed = bt_seal_aio(0, aio, opts, &st);
	nng_ctx_send(c, aio);
	if (sealed)
		baton_msg_send_end(&st.ms, NULL);
}

int baton_nng_msg_unseal(nng_msg *msg)
{
	baton_envelope_header h;
	if (msg == NULL ||
	    baton_envelope_peek(nng_msg_body(msg), nng_msg_len(msg), &h) != BATON_OK)
		return NNG_EINVAL;
	nng_msg_trim(msg, h.length);
	return 0;
}

int baton_nng_msg_seal(nng_msg *msg, const baton_nng_send_opts *opts, baton_span *span)
{
	struct bt_sealed st;
	if (msg == NULL || span == NULL)
		return NNG_EINVAL;
	int rv = bt_seal(msg, 0, opts, &st);
	if (rv == 0)
		*span = st.ms.span; /* the caller ends it */
	return rv;
}

int baton_nng_send_aio_result(nng_aio *aio)
{
	int rv = nng_aio_result(aio);
	if (rv != 0)
		baton_nng_msg_unseal(nng_aio_get_msg(aio));
	return rv;
}

/* What a broadcast uses when a socket has no send timeout (NNG's default). */
#define BT_BROADCAST_DEFAULT_TIMEOUT_MS 10000
/* Sockets whose send timeout a broadcast remembers (direct-mapped by id). */
#define BT_TIMEO_CACHE 16

/* Aios the last broadcast to finish used at most at once (for tests). */
static _Atomic size_t bt_bcast_last_aios;

size_t bt_nng_broadcast_last_aios(void)
{
	return atomic_load_explicit(&bt_bcast_last_aios, memory_order_relaxed);
}

struct bt_bcast;

/* One send in flight on an aio. */
struct bt_slot {
	struct bt_bcast *b;
	nng_aio *aio;
	size_t i;  /* the recipient */
	bool kept; /* its envelope was sampled */
};

/*
 * A broadcast in progress. The aios' callbacks (on NNG's threads) and the
 * broadcasting thread share the free list and the tallies under mtx.
 */
struct bt_bcast {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct bt_slot *slots;
	size_t nslots, nalloc; /* slots usable; those with an aio */
	size_t *free;          /* indices of idle slots */
	size_t nfree;
	bool waiting; /* the broadcaster sleeps on cv */
	int *results;
	size_t sent, nkept;
	int first_err;
	struct {
		uint32_t sock;
		nng_duration ms;
	} timeo[BT_TIMEO_CACHE];
};

/* Records recipient i's outcome. Called with mtx held, or before any aio runs. */
static void bt_bcast_done(struct bt_bcast *b, size_t i, bool kept, int rv)
{
	if (rv == 0) {
		b->sent++;
		b->nkept += kept;
	} else if (b->first_err == 0) {
		b->first_err = rv;
	}
	if (b->results != NULL)
		b->results[i] = rv;
}

/* An aio send finished (on an NNG thread, or on the broadcaster's). */
static void bt_bcast_cb(void *arg)
{
	struct bt_slot *sl = arg;
	struct bt_bcast *b = sl->b;
	int rv = nng_aio_result(sl->aio);
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(sl->aio));
		nng_aio_set_msg(sl->aio, NULL);
	}
	pthread_mutex_lock(&b->mtx);
	bt_bcast_done(b, sl->i, sl->kept, rv);
	b->free[b->nfree++] = (size_t)(sl - b->slots);
	if (b->waiting)
		pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mtx);
}

/* The send timeout of socket s (cached per socket id for this broadcast). */
static nng_duration bt_bcast_timeo(struct bt_bcast *b, nng_socket s)
{
	uint32_t id = bt_sock_id(s);
	size_t h = id % BT_TIMEO_CACHE;
	if (id != 0 && b->timeo[h].sock == id)
		return b->timeo[h].ms;
	nng_duration ms = BT_BROADCAST_DEFAULT_TIMEOUT_MS;
	if (nng_socket_get_ms(s, NNG_OPT_SENDTIMEO, &ms) != 0 || ms < 0)
		ms = BT_BROADCAST_DEFAULT_TIMEOUT_MS;
	b->timeo[h].sock = id;
	b->timeo[h].ms = ms;
	return ms;
}

/*
 * An idle slot, its aio allocated; waits for a send to finish when all
 * are busy. NULL when no aio can be had (out of memory, nothing in flight).
 */
static struct bt_slot *bt_bcast_slot(struct bt_bcast *b)
{
	pthread_mutex_lock(&b->mtx);
	if (b->nfree == 0 && b->nalloc < b->nslots) {
		struct bt_slot *sl = &b->slots[b->nalloc];
		pthread_mutex_unlock(&b->mtx);
		if (nng_aio_alloc(&sl->aio, bt_bcast_cb, sl) == 0) {
			sl->b = b;
			b->nalloc++; /* only this thread reads or writes nalloc */
			return sl;
		}
		pthread_mutex_lock(&b->mtx);
		b->nslots = b->nalloc; /* no more aios: make do with those there are */
	}
	while (b->nfree == 0 && b->nalloc > 0) {
		b->waiting = true;
		pthread_cond_wait(&b->cv, &b->mtx);
	}
	b->waiting = false;
	struct bt_slot *sl = b->nfree > 0 ? &b->slots[b->free[--b->nfree]] : NULL;
	pthread_mutex_unlock(&b->mtx);
	return sl;
}

/* Waits until every aio send has finished. */
static void bt_bcast_drain(struct bt_bcast *b)
{
	pthread_mutex_lock(&b->mtx);
	while (b->nfree < b->nalloc) {
		b->waiting = true;
		pthread_cond_wait(&b->cv, &b->mtx);
	}
	b->waiting = false;
	pthread_mutex_unlock(&b->mtx);
}

/*
 * Sends m (recipient i's message) on s. First without blocking, on the
 * reused aio try (no callback: NNG completes it on this thread); when s
 * cannot take it at once, on a slot's aio with the socket's send
 * timeout, unless the caller asked for NNG_FLAG_NONBLOCK. m is NNG's or
 * freed afterwards.
 */
static void bt_bcast_send(struct bt_bcast *b, nng_aio *try, nng_socket s, nng_msg *m,
                          size_t i, bool kept, int flags)
{
	nng_aio_set_msg(try, m);
	nng_send_aio(s, try);
	nng_aio_wait(try);
	int rv = nng_aio_result(try);
	if (rv == NNG_ETIMEDOUT)
		rv = NNG_EAGAIN; /* a zero timeout: it could not go at once */
	if (rv != NNG_EAGAIN || (flags & NNG_FLAG_NONBLOCK))
		goto done;
	struct bt_slot *sl = bt_bcast_slot(b);
	if (sl == NULL) {
		rv = NNG_ENOMEM;
		goto done;
	}
	sl->i = i;
	sl->kept = kept;
	/* Its own send timeout, from when it is handed to NNG. */
	nng_aio_set_timeout(sl->aio, bt_bcast_timeo(b, s));
	nng_aio_set_msg(sl->aio, m);
	nng_send_aio(s, sl->aio);
	return;
done:
	if (rv != 0)
		nng_msg_free(m);
	pthread_mutex_lock(&b->mtx);
	bt_bcast_done(b, i, kept, rv);
	pthread_mutex_unlock(&b->mtx);
}

int baton_nng_broadcast_ex(const nng_socket *socks, size_t n, const void *data,
                           size_t len, int flags, const baton_nng_send_opts *opts,
                           int *results, size_t *nsent)
{
	static const baton_nng_send_opts none;
	const baton_nng_send_opts *o = opts != NULL ? opts : &none;
	struct bt_bcast b = {.results = results};
	nng_aio *try = NULL;
	bt_nng_dest d;
	int rv;

	if ((socks == NULL && n > 0) || (data == NULL && len > 0))
		return NNG_EINVAL;
	b.nslots = n < BATON_NNG_BROADCAST_INFLIGHT ? n : BATON_NNG_BROADCAST_INFLIGHT;
	if (n > 0) {
		b.slots = calloc(b.nslots, sizeof(*b.slots));
		b.free = calloc(b.nslots, sizeof(*b.free));
		if (b.slots == NULL || b.free == NULL ||
		    (rv = nng_aio_alloc(&try, NULL, NULL)) != 0) {
			free(b.slots);
			free(b.free);
			return NNG_ENOMEM;
		}
		nng_aio_set_timeout(try, NNG_DURATION_ZERO);
	}
	pthread_mutex_init(&b.mtx, NULL);
	pthread_cond_init(&b.cv, NULL);
	bt_nng_dest_resolve(&d, o->destination, n > 0 ? bt_sock_id(socks[0]) : 0, true);
	/* The message layer draws each recipient's keep decision at its wrap. */
	baton_msg_send_opts mo = {.tracer = bt_nng_tracer(),
	                          .system = "nng",
	                          .destination = d.dest,
	                          .parent = o->parent,
	                          .start_flags = o->start_flags,
	                          .flags = BATON_MSG_BODY_SIZE,
	                          .fanout = n,
	                          .baggage = o->baggage,
	                          .body_size = len};
	baton_msg_send ms;
	baton_msg_send_begin(&ms, &mo);
	size_t need = baton_msg_send_size(&ms);
	for (size_t i = 0; i < n; i++) {
		nng_msg *m;
		size_t el = 0;
		rv = nng_msg_alloc(&m, need + len);
		if (rv == 0 &&
		    baton_msg_send_wrap(&ms, nng_msg_body(m), need, &el) != BATON_OK) {
			nng_msg_free(m);
			rv = NNG_EINVAL;
		}
		if (rv != 0) {
			pthread_mutex_lock(&b.mtx);
			bt_bcast_done(&b, i, false, rv);
			pthread_mutex_unlock(&b.mtx);
			continue;
		}
		/* Envelope and payload written once, in place. */
		if (len > 0)
			memcpy((uint8_t *)nng_msg_body(m) + el, data, len);
		nng_msg_chop(m, need - el);
		bt_bcast_send(&b, try, socks[i], m, i, ms.kept, flags);
	}
	/* What is still in flight finishes within its send timeout. */
	bt_bcast_drain(&b);
	/* A statistic: relaxed. Aios are allocated only when none is idle, so
	 * their number is the most that were in flight at once. */
	atomic_store_explicit(&bt_bcast_last_aios, b.nalloc, memory_order_relaxed);
	for (size_t k = 0; k < b.nalloc; k++) {
		nng_aio_stop(b.slots[k].aio);
		nng_aio_free(b.slots[k].aio);
	}
	nng_aio_free(try);
	free(b.slots);
	free(b.free);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mtx);
	/* baton.fanout.kept counts kept recipients that got their message. */
	ms.nkept = b.nkept;
	if (b.first_err != 0 && baton_span_is_recording(ms.span))
		baton_span_set_int(ms.span, "baton.fanout.failed", (int64_t)(n - b.sent));
	baton_msg_send_end(&ms, b.first_err != 0 ? nng_strerror(b.first_err) : NULL);
	if (nsent != NULL)
		*nsent = b.sent;
	return b.first_err;
}

int baton_nng_broadcast(const nng_socket *socks, size_t n, const void *data, size_t len,
                        int flags, const baton_nng_send_opts *opts, size_t *nsent)
{
	return baton_nng_broadcast_ex(socks, n, data, len, flags, opts, NULL, nsent);
}
