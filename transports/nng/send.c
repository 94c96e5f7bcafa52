/*
 * Sending: a thin adapter over the message layer (baton/message.h), which
 * starts the producer span, decides, and writes the envelope; here it goes
 * at the front of the body and the message is handed to NNG. The
 * broadcast helper takes one envelope per recipient (the message layer
 * draws each one's fanout keep decision). A broadcast never waits on one recipient after
 * another: a recipient that cannot take its message at once gets an aio,
 * and all of those run at the same time.
 */
#include "nng_int.h"

#include <string.h>

struct bt_sealed {
	baton_msg_send ms; /* the send in progress: its producer span */
	size_t env_len;
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
	size_t need = baton_msg_send_size(&out->ms);
	if (need <= sizeof(buf)) {
		rv = baton_msg_send_wrap(&out->ms, buf, sizeof(buf), &n) == BATON_OK
		         ? bt_nng_msg_prepend(msg, buf, n)
		         : NNG_EINVAL;
	} else {
		rv = bt_nng_msg_prepend(msg, NULL, need);
		if (rv == 0 && baton_msg_send_wrap(&out->ms, nng_msg_body(msg), need,
		                                   &n) != BATON_OK) {
			nng_msg_trim(msg, need);
			rv = NNG_EINVAL;
		}
	}
	if (rv != 0) {
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
	if (rv != 0)
		nng_msg_trim(msg, st.env_len);
	baton_msg_send_end(&st.ms, rv != 0 ? nng_strerror(rv) : NULL);
	return rv;
}

int baton_nng_send(nng_socket s, const void *data, size_t len, int flags,
                   const baton_nng_send_opts *opts)
{
	nng_msg *m;
	if (data == NULL && len > 0)
		return NNG_EINVAL;
	int rv = nng_msg_alloc(&m, len);
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

/* One recipient whose non-blocking send could not go at once: retried with an aio. */
struct bt_pending {
	size_t i;
	nng_aio *aio;
};

/*
 * Sends m on s without blocking. A recipient that cannot take it at once
 * is queued on pend (its send then runs on an aio, all of them at the same
 * time) unless the caller asked for NNG_FLAG_NONBLOCK. Returns 0 when sent
 * or queued, else the error; m is freed unless sent or queued.
 */
static int bt_broadcast_one(nng_socket s, nng_msg *m, size_t i, int flags,
                            struct bt_pending *pend, size_t *npend)
{
	int rv = nng_sendmsg(s, m, NNG_FLAG_NONBLOCK);
	if (rv == 0)
		return 0;
	if (rv != NNG_EAGAIN || (flags & NNG_FLAG_NONBLOCK) || pend == NULL) {
		nng_msg_free(m);
		return rv;
	}
	nng_aio *aio;
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	nng_duration ms = BT_BROADCAST_DEFAULT_TIMEOUT_MS;
	if (nng_socket_get_ms(s, NNG_OPT_SENDTIMEO, &ms) != 0 || ms < 0)
		ms = BT_BROADCAST_DEFAULT_TIMEOUT_MS;
	nng_aio_set_timeout(aio, ms);
	nng_aio_set_msg(aio, m);
	nng_send_aio(s, aio);
	pend[*npend].i = i;
	pend[*npend].aio = aio;
	(*npend)++;
	return 0;
}

int baton_nng_broadcast_ex(const nng_socket *socks, size_t n, const void *data,
                           size_t len, int flags, const baton_nng_send_opts *opts,
                           int *results, size_t *nsent)
{
	static const baton_nng_send_opts none;
	const baton_nng_send_opts *o = opts != NULL ? opts : &none;
	size_t sent = 0, nkept = 0, npend = 0;
	int first_err = 0;
	bt_nng_dest d;

	if ((socks == NULL && n > 0) || (data == NULL && len > 0))
		return NNG_EINVAL;
	/* Slow recipients go on aios, all in flight at once: memory for them up front. */
	size_t pend_size = n * sizeof(struct bt_pending), kept_size = n * sizeof(bool);
	struct bt_pending *pend = n > 0 ? nng_alloc(pend_size) : NULL;
	bool *was_kept = n > 0 ? nng_alloc(kept_size) : NULL;
	if (n > 0 && (pend == NULL || was_kept == NULL)) {
		if (pend != NULL)
			nng_free(pend, pend_size);
		if (was_kept != NULL)
			nng_free(was_kept, kept_size);
		return NNG_ENOMEM;
	}
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
		int rv = nng_msg_alloc(&m, need + len);
		if (rv == 0 &&
		    baton_msg_send_wrap(&ms, nng_msg_body(m), need, &el) != BATON_OK) {
			nng_msg_free(m);
			rv = NNG_EINVAL;
		}
		bool k = rv == 0 && ms.kept;
		if (rv == 0) {
			uint8_t *b = nng_msg_body(m);
			if (len > 0)
				memcpy(b + el, data, len);
			nng_msg_chop(m, need - el);
			size_t before = npend;
			rv = bt_broadcast_one(socks[i], m, i, flags, pend, &npend);
			if (rv == 0 && npend == before) {
				sent++;
				nkept += k;
			}
		}
		was_kept[i] = k;
		if (results != NULL)
			results[i] = rv;
		if (rv != 0 && first_err == 0)
			first_err = rv;
	}
	/* The slow ones: every aio runs at once, so the wait is one send timeout. */
	for (size_t p = 0; p < npend; p++) {
		nng_aio_wait(pend[p].aio);
		int rv = nng_aio_result(pend[p].aio);
		if (rv == 0) {
			sent++;
			nkept += was_kept[pend[p].i];
		} else {
			nng_msg_free(nng_aio_get_msg(pend[p].aio));
			if (first_err == 0)
				first_err = rv;
		}
		if (results != NULL)
			results[pend[p].i] = rv;
		nng_aio_free(pend[p].aio);
	}
	if (n > 0) {
		nng_free(pend, pend_size);
		nng_free(was_kept, kept_size);
	}
	/* baton.fanout.kept counts kept recipients that got their message. */
	ms.nkept = nkept;
	if (first_err != 0 && baton_span_is_recording(ms.span))
		baton_span_set_int(ms.span, "baton.fanout.failed", (int64_t)(n - sent));
	baton_msg_send_end(&ms, first_err != 0 ? nng_strerror(first_err) : NULL);
	if (nsent != NULL)
		*nsent = sent;
	return first_err;
}

int baton_nng_broadcast(const nng_socket *socks, size_t n, const void *data, size_t len,
                        int flags, const baton_nng_send_opts *opts, size_t *nsent)
{
	return baton_nng_broadcast_ex(socks, n, data, len, flags, opts, NULL, nsent);
}
