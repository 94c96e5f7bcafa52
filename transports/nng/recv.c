/*
 * Receiving: a thin adapter over the message layer (baton/message.h),
 * which recognises the envelope (the unsampled one from its first 8
 * bytes), decides (the fanout draw of a recipient count) and starts the
 * consumer span; here the envelope is trimmed off the NNG body and what
 * was found is copied into the caller's info.
 */
#include "nng_int.h"

#include <stdint.h>
#include <string.h>

/* The message layer's options for a receive with o. */
static baton_msg_recv_opts bt_recv_opts(const baton_nng_recv_opts *o)
{
	baton_msg_recv_opts mo = {
	    .tracer = bt_nng_tracer(), .system = "nng", .flags = BATON_MSG_NO_SPAN};
	if (o->mode == BATON_NNG_STRICT)
		mo.flags |= BATON_MSG_STRICT;
	if (o->flags & BATON_NNG_RECV_READ_V1)
		mo.flags |= BATON_MSG_READ_V1;
	return mo;
}

/* Copies n bytes of text (NUL-terminated in the message) into dst (cap bytes). */
static uint32_t bt_copy_text(char *dst, size_t cap, const char *src, size_t n)
{
	if (src == NULL || n >= cap)
		n = 0;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return (uint32_t)n;
}

int baton_nng_msg_open(nng_msg *msg, const baton_nng_recv_opts *opts,
                       baton_nng_recv_info *info)
{
	static const baton_nng_recv_opts none;
	const baton_nng_recv_opts *o = opts != NULL ? opts : &none;
	baton_msg_recv r;

	if (msg == NULL)
		return NNG_EINVAL;
	baton_msg_recv_opts mo = bt_recv_opts(o);
	if (baton_msg_recv_open(nng_msg_body(msg), nng_msg_len(msg), &mo, &r) != BATON_OK)
		return NNG_EPROTO; /* strict mode refused it (counted); untouched */
	if (info != NULL) {
		info->span = BATON_SPAN_NONE;
		info->context = r.context;
		/* tracestate points into the envelope, gone after the trim: the
		 * text is copied into info->tracestate */
		info->context.tracestate = NULL;
		info->recipients = r.recipients;
		info->envelope = r.envelope;
		info->envelope_size = r.envelope_size;
		/* baggage and tracestate point into the envelope too: copy them out
		 * first (the reader checked them against the W3C limits). */
		info->baggage_len = bt_copy_text(info->baggage, sizeof(info->baggage),
		                                 r.baggage, r.baggage_len);
		info->tracestate_len =
		    bt_copy_text(info->tracestate, sizeof(info->tracestate), r.tracestate,
		                 r.tracestate_len);
		if (!(o->flags & BATON_NNG_RECV_NO_SPAN) &&
		    baton_span_context_is_sampled(&r.context)) {
			/* Resolved only for a sampled message: unsampled ones cost none
			 * of it. */
			bt_nng_dest d;
			uint32_t sock = 0;
			if (o->destination == NULL) {
				int id =
				    nng_socket_id(nng_pipe_socket(nng_msg_get_pipe(msg)));
				sock = id > 0 ? (uint32_t)id : 0;
			}
			bt_nng_dest_resolve(&d, o->destination, sock, false);
			mo.destination = d.dest;
			info->span = baton_msg_recv_start_span(&r, &mo);
		}
	}
	nng_msg_trim(msg, r.envelope_size);
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
	if (info == NULL || fn == NULL)
		return -1;
	size_t bl = info->baggage_len < sizeof(info->baggage) ? info->baggage_len : 0;
	baton_msg_recv r = {.span = info->span,
	                    .context = info->context,
	                    .baggage = bl > 0 ? info->baggage : NULL,
	                    .baggage_len = bl};
	int rv = baton_msg_process(&r, fn, arg);
	info->span = BATON_SPAN_NONE;
	return rv;
}

baton_span baton_nng_batch_start(const baton_span_context *ctxs, size_t n,
                                 const char *destination)
{
	baton_msg_recv_opts mo = {
	    .tracer = bt_nng_tracer(), .system = "nng", .destination = destination};
	return baton_msg_batch_start(ctxs, n, &mo);
}
