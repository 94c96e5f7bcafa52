/*
 * Receiving: validate the envelope, strip it, and for a sampled message
 * apply the fanout decision and start the consumer span. An unsampled
 * message costs an 8-byte compare and a trim; anything else is stripped
 * only after every check of the envelope passed.
 */
#include "nng_int.h"

#include <stdint.h>
#include <string.h>

static int bt_refuse_or_bare(baton_err why, const baton_nng_recv_opts *o,
                             baton_nng_recv_info *info)
{
	if (o->mode == BATON_NNG_STRICT) {
		baton_envelope_count(BATON_ENV_EVENT_REFUSED);
		return NNG_EPROTO;
	}
	baton_envelope_count(BATON_ENV_EVENT_PASSED);
	if (info != NULL)
		info->envelope = why;
	return 0;
}

/* Starts the consumer span for a sampled envelope; fills info. */
static void bt_consume(nng_msg *msg, const baton_envelope *env,
                       const baton_nng_recv_opts *o, baton_nng_recv_info *info)
{
	baton_span_start_opts so = {.parent = &env->ctx,
	                            .kind = BATON_SPAN_KIND_CONSUMER};
	uint64_t rcpt = env->recipients != 0 ? env->recipients : env->fanout_applied;

	info->recipients = rcpt;
	if (rcpt != 0) {
		/* After a fanout a receiver only continues the trace, never starts a
		 * root. */
		so.flags |= BATON_START_NO_ROOT;
	}
	if (env->recipients != 0) {
		double keep = baton_fanout_keep_probability(NULL, env->recipients);
		if (keep < 1.0) {
			if (!baton_fanout_keep(NULL, env->recipients)) {
				/* Dropped: the trace goes on unsampled from here. */
				info->context.trace_flags &= (uint8_t)~BATON_FLAG_SAMPLED;
				return;
			}
			so.flags |= BATON_START_FANOUT_KEPT;
			so.fanout_keep_probability = keep;
		}
	}
	bt_nng_dest d;
	uint32_t sock = 0;
	if (o->destination == NULL) {
		int id = nng_socket_id(nng_pipe_socket(nng_msg_get_pipe(msg)));
		sock = id > 0 ? (uint32_t)id : 0;
	}
	bt_nng_dest_resolve(&d, o->destination, sock, false);
	baton_span sp = baton_span_start_ex(bt_nng_tracer(), d.span_name, &so);
	if (baton_span_is_recording(sp)) {
		bt_nng_attrs(sp, "process", &d, nng_msg_len(msg) - env->length, rcpt);
		info->span = sp;
	} else {
		baton_span_end(sp);
	}
}

int baton_nng_msg_open(nng_msg *msg, const baton_nng_recv_opts *opts,
                       baton_nng_recv_info *info)
{
	static const baton_nng_recv_opts none;
	const baton_nng_recv_opts *o = opts != NULL ? opts : &none;
	baton_envelope env;

	if (msg == NULL)
		return NNG_EINVAL;
	if (info != NULL) {
		info->span = BATON_SPAN_NONE;
		info->recipients = 0;
		info->envelope = BATON_OK;
		info->envelope_size = 0;
		info->baggage_len = 0;
		info->baggage[0] = '\0';
		memset(&info->context, 0, sizeof(info->context));
	}
	/*
	 * Version 1 envelopes pass weaker checks: only where every message must
	 * carry an envelope (strict), or where the receiver asked for them.
	 */
	uint32_t rflags =
	    (o->mode == BATON_NNG_STRICT || (o->flags & BATON_NNG_RECV_READ_V1))
	        ? BATON_ENV_READ_V1
	        : 0;
	baton_err e =
	    baton_envelope_unwrap_ex(nng_msg_body(msg), nng_msg_len(msg), rflags, &env);
	if (e != BATON_OK)
		return bt_refuse_or_bare(e, o, info);
	baton_envelope_count(BATON_ENV_EVENT_STRIPPED);
	if (info != NULL) {
		info->context = env.ctx;
		/* tracestate points into the envelope, gone after the trim */
		info->context.tracestate = NULL;
		info->envelope_size = env.length;
		info->recipients =
		    env.recipients != 0 ? env.recipients : env.fanout_applied;
		/* baggage points into the envelope too: copy it out first (the
		 * reader checked it: at most BATON_BAGGAGE_MAX_LEN bytes). */
		if (env.baggage != NULL &&
		    (baton_propagators() & BATON_PROPAGATOR_BAGGAGE)) {
			size_t bl = strnlen(env.baggage, BATON_BAGGAGE_MAX_LEN);
			memcpy(info->baggage, env.baggage, bl);
			info->baggage[bl] = '\0';
			info->baggage_len = (uint32_t)bl;
		}
		if ((env.flags & BATON_ENV_F_SAMPLED) &&
		    !(o->flags & BATON_NNG_RECV_NO_SPAN))
			bt_consume(msg, &env, o, info);
	}
	nng_msg_trim(msg, env.length);
	return 0;
}

int baton_nng_recvmsg(nng_socket s, nng_msg **msgp, int flags,
                      const baton_nng_recv_opts *opts, baton_nng_recv_info *info)
{
	nng_msg *m;
	if (msgp == NULL)
		return NNG_EINVAL;
	int rv = nng_recvmsg(s, &m, flags);
	if (rv != 0)
		return rv;
	rv = baton_nng_msg_open(m, opts, info);
	if (rv != 0) {
		nng_msg_free(m);
		return rv;
	}
	*msgp = m;
	return 0;
}

int baton_nng_recv_aio_result(nng_aio *aio, const baton_nng_recv_opts *opts,
                              nng_msg **msgp, baton_nng_recv_info *info)
{
	if (aio == NULL || msgp == NULL)
		return NNG_EINVAL;
	int rv = nng_aio_result(aio);
	if (rv != 0)
		return rv;
	nng_msg *m = nng_aio_get_msg(aio);
	if (m == NULL)
		return NNG_EINVAL;
	nng_aio_set_msg(aio, NULL);
	rv = baton_nng_msg_open(m, opts, info);
	if (rv != 0) {
		nng_msg_free(m);
		return rv;
	}
	*msgp = m;
	return 0;
}

int baton_nng_process(baton_nng_recv_info *info, int (*fn)(void *arg), void *arg)
{
	uint32_t tok = 0;
	if (info == NULL || fn == NULL)
		return -1;
	if (baton_span_is_recording(info->span))
		tok = baton_span_attach(info->span);
	else if (info->context.state & (BATON_CTX_VALID | BATON_CTX_DECIDED))
		tok = baton_context_attach(&info->context);
	/* The message's baggage and no other; nothing to do (no frame, no
	 * allocation) when neither the message nor the thread has any. */
	uint32_t btok = 0;
	size_t bl = info->baggage_len < sizeof(info->baggage) ? info->baggage_len : 0;
	if (bl > 0 || baton_baggage_current_header(NULL) != NULL)
		btok = baton_baggage_attach_header(info->baggage, bl);
	int rv = fn(arg);
	baton_span_detach(tok != 0 ? tok : btok);
	if (rv != 0)
		baton_span_set_status(info->span, BATON_STATUS_ERROR, NULL);
	baton_span_end(info->span);
	info->span = BATON_SPAN_NONE;
	return rv;
}

baton_span baton_nng_batch_start(const baton_span_context *ctxs, size_t n,
                                 const char *destination)
{
	bt_nng_dest d;
	bt_nng_dest_resolve(&d, destination, 0, false);
	baton_span_start_opts so = {.kind = BATON_SPAN_KIND_CONSUMER};
	baton_span sp = baton_span_start_ex(bt_nng_tracer(), d.span_name, &so);
	if (!baton_span_is_recording(sp))
		return sp;
	bt_nng_attrs(sp, "process", &d, SIZE_MAX, 0);
	baton_span_set_int(sp, "messaging.batch.message_count", (int64_t)n);
	for (size_t i = 0; ctxs != NULL && i < n; i++) {
		if (baton_span_context_is_valid(&ctxs[i]) &&
		    baton_span_context_is_sampled(&ctxs[i]))
			baton_span_add_link(sp, &ctxs[i], NULL, 0);
	}
	return sp;
}
