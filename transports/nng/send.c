/*
 * Sending: producer span, envelope at the front of the body, hand-off to
 * NNG; and the broadcast helper with per-recipient fanout decisions.
 * The unsampled path writes the constant 8-byte unsampled envelope in
 * front of the body. A broadcast never waits on one recipient after
 * another: a recipient that cannot take its message at once gets an aio,
 * and all of those run at the same time.
 */
#include "nng_int.h"

#include <string.h>

/* Inserts the envelope for env at the front of msg's body; *len gets its size. */
static int bt_insert(nng_msg *msg, baton_envelope *env, size_t *len)
{
	uint8_t buf[128];
	size_t need = baton_envelope_size(env);
	size_t n = 0;
	int rv;
	if (need == 0) {
		/* Text extensions too large: send the context without them. */
		env->wrap_flags |= BATON_ENV_WRAP_NO_TRACESTATE;
		env->baggage = NULL;
		need = baton_envelope_size(env);
	}
	if (need <= sizeof(buf)) {
		if (baton_envelope_wrap(env, buf, sizeof(buf), &n) != BATON_OK)
			return NNG_EINVAL;
		rv = bt_nng_msg_prepend(msg, buf, n);
	} else {
		rv = bt_nng_msg_prepend(msg, NULL, need);
		if (rv == 0 &&
		    baton_envelope_wrap(env, nng_msg_body(msg), need, &n) != BATON_OK) {
			nng_msg_trim(msg, need);
			return NNG_EINVAL;
		}
	}
	if (rv == 0)
		*len = n;
	return rv;
}

struct bt_sealed {
	baton_span span;
	size_t env_len;
};

/* Starts the producer span and puts the envelope on msg. On failure msg is unchanged. */
static int bt_seal(nng_msg *msg, uint32_t sock, const baton_nng_send_opts *o,
                   struct bt_sealed *out)
{
	static const baton_nng_send_opts none;
	bt_nng_dest d;
	size_t body = nng_msg_len(msg);
	size_t n = 0;
	int rv;

	if (o == NULL)
		o = &none;
	bt_nng_dest_resolve(&d, o->destination, sock, true);
	baton_span_start_opts so = {.parent = o->parent,
	                            .kind = BATON_SPAN_KIND_PRODUCER,
	                            .flags = o->start_flags};
	baton_span sp = baton_span_start_ex(bt_nng_tracer(), d.span_name, &so);
	baton_envelope env;
	env.ctx.state = 0;
	baton_span_get_context(sp, &env.ctx);
	const char *bag = bt_nng_send_baggage(o);
	if (!(env.ctx.state & BATON_CTX_VALID) && bag == NULL) {
		uint8_t h[BATON_ENVELOPE_UNSAMPLED_SIZE];
		baton_envelope_wrap_unsampled(h);
		rv = bt_nng_msg_prepend(msg, h, sizeof(h));
		n = sizeof(h);
	} else {
		env.recipients = o->recipients;
		env.fanout_applied = 0;
		env.baggage = bag;
		env.wrap_flags = 0;
		rv = bt_insert(msg, &env, &n);
	}
	if (rv != 0) {
		baton_span_set_status(sp, BATON_STATUS_ERROR, nng_strerror(rv));
		baton_span_end(sp);
		return rv;
	}
	if (baton_span_is_recording(sp))
		bt_nng_attrs(sp, "send", &d, body, o->recipients);
	out->span = sp;
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
	if (rv != 0) {
		/* The message stays the caller's: give it back as it was. */
		nng_msg_trim(msg, st.env_len);
		baton_span_set_status(st.span, BATON_STATUS_ERROR, nng_strerror(rv));
	}
	baton_span_end(st.span);
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

/* Seals the aio's message; returns the producer span (NONE when there is no message). */
static baton_span bt_seal_aio(uint32_t sock, nng_aio *aio,
                              const baton_nng_send_opts *opts)
{
	struct bt_sealed st;
	nng_msg *m = aio != NULL ? nng_aio_get_msg(aio) : NULL;
	if (m == NULL || bt_seal(m, sock, opts, &st) != 0)
		return BATON_SPAN_NONE; /* NNG reports a missing message; OOM: sent bare
		                         */
	return st.span;
}

void baton_nng_send_aio(nng_socket s, nng_aio *aio, const baton_nng_send_opts *opts)
{
	baton_span sp = bt_seal_aio(bt_sock_id(s), aio, opts);
	nng_send_aio(s, aio);
	baton_span_end(sp);
}

void baton_nng_ctx_send(nng_ctx c, nng_aio *aio, const baton_nng_send_opts *opts)
{
	baton_span sp = bt_seal_aio(0, aio, opts);
	nng_ctx_send(c, aio);
	baton_span_end(sp);
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
		*span = st.span;
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
	uint8_t uns[BATON_ENVELOPE_UNSAMPLED_SIZE], kept[256];
	size_t kept_len = 0, sent = 0, nkept = 0, npend = 0;
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
	baton_span_start_opts so = {.parent = o->parent,
	                            .kind = BATON_SPAN_KIND_PRODUCER,
	                            .flags = o->start_flags};
	baton_span sp = baton_span_start_ex(bt_nng_tracer(), d.span_name, &so);
	baton_envelope env;
	memset(&env, 0, sizeof(env));
	baton_span_get_context(sp, &env.ctx);
	baton_envelope_wrap_unsampled(uns);

	bool sampled = baton_span_context_is_sampled(&env.ctx) &&
	               baton_span_context_is_valid(&env.ctx);
	double keep = 1.0;
	if (sampled) {
		keep = baton_fanout_keep_probability(NULL, n);
		double head = (env.ctx.state & BATON_CTX_HAS_TH)
		                  ? baton_probability_from_threshold(env.ctx.threshold)
		                  : 1.0;
		env.ctx.state |= BATON_CTX_HAS_TH;
		env.ctx.threshold = baton_threshold_from_probability(head * keep);
		env.fanout_applied = n;
		env.baggage = bt_nng_send_baggage(o);
		if (baton_envelope_size(&env) == 0 ||
		    baton_envelope_size(&env) > sizeof(kept)) {
			env.wrap_flags |= BATON_ENV_WRAP_NO_TRACESTATE;
			env.baggage = NULL;
		}
		if (baton_envelope_wrap(&env, kept, sizeof(kept), &kept_len) != BATON_OK)
			sampled = false;
	}
	for (size_t i = 0; i < n; i++) {
		bool k = sampled && (keep >= 1.0 || baton_fanout_keep(NULL, n));
		const uint8_t *e = k ? kept : uns;
		size_t el = k ? kept_len : sizeof(uns);
		nng_msg *m;
		int rv = nng_msg_alloc(&m, el + len);
		if (rv == 0) {
			uint8_t *b = nng_msg_body(m);
			memcpy(b, e, el);
			if (len > 0)
				memcpy(b + el, data, len);
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
	if (baton_span_is_recording(sp)) {
		bt_nng_attrs(sp, "send", &d, len, n);
		baton_span_set_int(sp, "baton.fanout.kept", (int64_t)nkept);
		if (first_err != 0) {
			baton_span_set_int(sp, "baton.fanout.failed",
			                   (int64_t)(n - sent));
			baton_span_set_status(sp, BATON_STATUS_ERROR,
			                      nng_strerror(first_err));
		}
	}
	baton_span_end(sp);
	if (nsent != NULL)
		*nsent = sent;
	return first_err;
}

int baton_nng_broadcast(const nng_socket *socks, size_t n, const void *data, size_t len,
                        int flags, const baton_nng_send_opts *opts, size_t *nsent)
{
	return baton_nng_broadcast_ex(socks, n, data, len, flags, opts, NULL, nsent);
}
