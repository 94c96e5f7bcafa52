/*
 * The message layer: what makes a message a hop of a trace, for any
 * runtime. Send: producer span, the envelope (one per recipient for a
 * fanout, with the sender's keep decisions). Receive: recognise the
 * envelope from its first bytes, decide (the fanout draw for a recipient
 * count), consumer span, the context a handler runs in. baton/message.h
 * is the contract. Nothing here allocates or locks on the send or receive
 * path; the unsampled message costs an 8-byte copy on send and an 8-byte
 * compare on receive.
 */
#include "message_int.h"
#include "trace/trace_int.h"
#include "wire/envelope_int.h"

#include <baton/baggage.h>
#include <baton/sampling.h>
#include <baton/w3c.h>
#include <string.h>

/* baton_msg_send.mode */
enum { BT_SEND_UNSAMPLED = 0, BT_SEND_ONE = 1, BT_SEND_FANOUT = 2, BT_SEND_ENDED = 3 };

/* ---- the default tracer ---- */

/*
 * The tracer pointer is valid from one baton_init to the next baton_fini;
 * bt_epoch changes at both. The generation is stored with release after
 * the pointer and loaded with acquire before it, so a reader that sees the
 * current generation sees the pointer stored for it.
 */
static _Atomic(baton_tracer *) bt_msg_tracer_cached;
static _Atomic uint64_t bt_msg_tracer_gen = UINT64_MAX;

static baton_tracer *bt_msg_tracer(baton_tracer *given)
{
	if (given != NULL)
		return given;
	uint64_t g = atomic_load_explicit(&bt_epoch, memory_order_acquire);
	if (atomic_load_explicit(&bt_msg_tracer_gen, memory_order_acquire) == g)
		return atomic_load_explicit(&bt_msg_tracer_cached, memory_order_relaxed);
	baton_tracer *t = baton_tracer_get("baton.message", BATON_VERSION_STRING);
	atomic_store_explicit(&bt_msg_tracer_cached, t, memory_order_relaxed);
	atomic_store_explicit(&bt_msg_tracer_gen, g, memory_order_release);
	return t;
}

/* ---- names and attributes ---- */

#define BT_MSG_NAME_SIZE (BATON_MSG_DEST_MAX + 16)

/* "op" or "op <destination>" (destination cut at BATON_MSG_DEST_MAX bytes). */
static const char *bt_msg_name(char *buf, const char *op, const char *dest)
{
	if (dest == NULL || dest[0] == '\0')
		return op;
	size_t ol = strlen(op), dl = strnlen(dest, BATON_MSG_DEST_MAX);
	memcpy(buf, op, ol);
	buf[ol] = ' ';
	memcpy(buf + ol + 1, dest, dl);
	buf[ol + 1 + dl] = '\0';
	return buf;
}

static void bt_msg_attrs(baton_span sp, const char *system, const char *op,
                         const char *dest, size_t body, uint64_t recipients)
{
	baton_span_set_str(sp, "messaging.system", system != NULL ? system : "baton");
	baton_span_set_str(sp, "messaging.operation.type", op);
	baton_span_set_str(sp, "messaging.operation.name", op);
	if (dest != NULL && dest[0] != '\0')
		baton_span_set_strn(sp, "messaging.destination.name", dest,
		                    strnlen(dest, BATON_MSG_DEST_MAX));
	if (body != SIZE_MAX)
		baton_span_set_int(sp, "messaging.message.body.size", (int64_t)body);
	if (recipients > 0)
		baton_span_set_int(sp, "baton.fanout.recipients", (int64_t)recipients);
}

/* ---- the fanout decision ---- */

bool baton_msg_fanout_draw(uint64_t recipients, double *keep)
{
	double k = baton_fanout_keep_probability(NULL, recipients);
	if (keep != NULL)
		*keep = k;
	return k >= 1.0 || bt_random_unit() < k;
}

/* ---- send ---- */

/* The envelope of a send: kept says whether it is a kept recipient's. */
static void bt_msg_env(const baton_msg_send *s, bool kept, baton_envelope *env)
{
	memset(env, 0, sizeof(*env));
	if (kept) {
		env->ctx = s->context;
		env->recipients = s->recipients;
		if (s->mode == BT_SEND_FANOUT) {
			env->ctx.state |= BATON_CTX_HAS_TH;
			env->ctx.threshold = s->threshold;
			env->fanout_applied = s->fanout;
			env->recipients = 0;
		}
	} else if (s->mode != BT_SEND_FANOUT) {
		env->ctx = s->context; /* an unsampled send: ids when asked */
	} else {
		env->ctx.state = BATON_CTX_DECIDED; /* a dropped recipient */
	}
	env->baggage = s->baggage;
	if (s->flags & BATON_MSG_NO_TRACESTATE)
		env->wrap_flags |= BATON_ENV_WRAP_NO_TRACESTATE;
	if (!(s->flags & BATON_MSG_NO_UNSAMPLED_IDS) && bt_initialized &&
	    bt_prov.propagate_unsampled_ids)
		env->wrap_flags |= BATON_ENV_WRAP_UNSAMPLED_IDS;
	if (baton_envelope_size(env) == 0) {
		/* Text extensions too large: carry the context without them. */
		env->wrap_flags |= BATON_ENV_WRAP_NO_TRACESTATE;
		env->baggage = NULL;
	}
}

static const baton_msg_send_opts bt_msg_send_none;

/* The baggage a send carries (NULL: none), as opts and the thread say. */
static inline const char *bt_msg_send_baggage(const baton_msg_send_opts *o)
{
	if (o->flags & BATON_MSG_NO_BAGGAGE)
		return NULL;
	if (o->baggage != NULL)
		return o->baggage[0] != '\0' ? o->baggage : NULL;
	if (!(baton_propagators() & BATON_PROPAGATOR_BAGGAGE))
		return NULL;
	return baton_baggage_current_header(NULL);
}

/* A parent decided "not sampled" without ids: every child is unsampled
 * whatever the sampler (the rule of trace/span.c, repeated here). */
static inline bool bt_msg_parent_unsampled(const baton_span_context *parent)
{
	return (parent->state & (BATON_CTX_DECIDED | BATON_CTX_VALID)) ==
	           BATON_CTX_DECIDED &&
	       !(parent->trace_flags & BATON_FLAG_SAMPLED);
}

/*
 * ctx = {.state = state}, by field: as one block the compiler writes the
 * zeros with rep stos, which costs more than the rest of the send.
 */
static inline void bt_msg_ctx_decided(baton_span_context *ctx, uint8_t state)
{
	const uint64_t z = 0;
	memcpy(ctx->trace_id, &z, 8);
	memcpy(ctx->trace_id + 8, &z, 8);
	memcpy(ctx->span_id, &z, 8);
	ctx->trace_flags = 0;
	ctx->state = state;
	ctx->reserved = 0;
	ctx->threshold = 0;
	ctx->tracestate = NULL;
}

/* The producer "span" of an unsampled hop: the decision, no record. */
static inline void bt_msg_send_decided(baton_msg_send *s)
{
	s->span = BT_SPAN_UNSAMPLED;
	bt_msg_ctx_decided(&s->context, BATON_CTX_DECIDED);
}

/* The rest of a send's state, as opts say, before any envelope. */
static inline void bt_msg_send_state(baton_msg_send *s, const baton_msg_send_opts *o)
{
	s->kept = false;
	s->nkept = 0;
	s->flags = o->flags;
	s->recipients = o->recipients;
	s->fanout = o->fanout;
	s->keep = 1.0;
	s->threshold = 0;
	s->cache_len = 0;
}

static BT_NOINLINE baton_err bt_msg_send_begin_slow(baton_msg_send *s,
                                                    const baton_msg_send_opts *o);

baton_err baton_msg_send_begin(baton_msg_send *s, const baton_msg_send_opts *opts)
{
	if (s == NULL)
		return BATON_EINVAL;
	const baton_msg_send_opts *o = opts != NULL ? opts : &bt_msg_send_none;
	/*
	 * The common hop of an unsampled trace, with no frame to set up: the
	 * parent (given, or the thread's current context) is a "not sampled"
	 * decision without ids, and there is no baggage to carry.
	 */
	if (!(o->start_flags & BATON_START_ROOT) && bt_initialized && !bt_prov.disabled) {
		unsigned cur = bt_current_bits();
		bool unsampled = o->parent != NULL
		                     ? bt_msg_parent_unsampled(o->parent)
		                     : !(o->start_flags & BATON_START_NO_CURRENT) &&
		                           (cur & BT_CUR_UNSAMPLED);
		/* and no baggage: none given, none current (when it would be taken) */
		if (unsampled && ((o->flags & BATON_MSG_NO_BAGGAGE) ||
		                  (o->baggage != NULL ? o->baggage[0] == '\0'
		                                      : !(cur & BT_CUR_BAGGAGE)))) {
			bt_count(BT_C_UNSAMPLED);
			bt_msg_send_decided(s);
			bt_msg_send_state(s, o);
			s->baggage = NULL;
			s->mode = BT_SEND_UNSAMPLED;
			return BATON_OK;
		}
	}
	return bt_msg_send_begin_slow(s, o);
}

static BT_NOINLINE baton_err bt_msg_send_begin_slow(baton_msg_send *s,
                                                    const baton_msg_send_opts *o)
{
	char nbuf[BT_MSG_NAME_SIZE];
	baton_span_context cur;
	const baton_span_context *parent = o->parent;
	if (parent == NULL &&
	    !(o->start_flags & (BATON_START_ROOT | BATON_START_NO_CURRENT)) &&
	    bt_current_context(&cur))
		parent = &cur;
	if (o->start_flags & BATON_START_ROOT)
		parent = NULL;
	if (bt_initialized && !bt_prov.disabled &&
	    (bt_prov.drop_all || (parent != NULL && bt_msg_parent_unsampled(parent)))) {
		/*
		 * The hop of an unsampled trace: a parent decided "not sampled"
		 * without ids (or always_off) makes every child unsampled
		 * whatever the sampler (trace/span.c), so the producer span is
		 * that decision, with no name to build and no record.
		 */
		bt_count(BT_C_UNSAMPLED);
		bt_msg_send_decided(s);
	} else {
		baton_span_start_opts so = {.parent = parent,
		                            .kind = BATON_SPAN_KIND_PRODUCER,
		                            .flags =
		                                o->start_flags | BATON_START_NO_CURRENT};
		s->span =
		    baton_span_start_ex(bt_msg_tracer(o->tracer),
		                        bt_msg_name(nbuf, "send", o->destination), &so);
		baton_span_get_context(s->span, &s->context);
	}
	bt_msg_send_state(s, o);
	s->baggage = bt_msg_send_baggage(o);
	bool sampled = (s->context.state & BATON_CTX_VALID) &&
	               (s->context.trace_flags & BATON_FLAG_SAMPLED);
	/* The common case: nothing to carry but "not sampled". */
	if (!(s->context.state & BATON_CTX_VALID) && s->baggage == NULL) {
		s->mode = BT_SEND_UNSAMPLED;
		return BATON_OK;
	}
	s->mode = BT_SEND_ONE;
	if (sampled && s->fanout > 0) {
		s->mode = BT_SEND_FANOUT;
		s->keep = baton_fanout_keep_probability(NULL, s->fanout);
		double head = (s->context.state & BATON_CTX_HAS_TH)
		                  ? baton_probability_from_threshold(s->context.threshold)
		                  : 1.0;
		s->threshold = baton_threshold_from_probability(head * s->keep);
	}
	/* Cache the (kept) envelope when it fits: a fanout writes it n times. */
	baton_envelope env;
	bt_msg_env(s, sampled, &env);
	size_t n = 0;
	if (baton_envelope_size(&env) <= sizeof(s->cache) &&
	    baton_envelope_wrap(&env, s->cache, sizeof(s->cache), &n) == BATON_OK)
		s->cache_len = (uint16_t)n;
	if (baton_span_is_recording(s->span))
		bt_msg_attrs(s->span, o->system, "send", o->destination,
		             (o->flags & BATON_MSG_BODY_SIZE) ? o->body_size : SIZE_MAX,
		             s->fanout > 0 ? s->fanout : s->recipients);
	return BATON_OK;
}

size_t baton_msg_send_size(const baton_msg_send *s)
{
	if (s == NULL)
		return 0;
	if (s->mode == BT_SEND_UNSAMPLED || s->mode == BT_SEND_ENDED)
		return BATON_ENVELOPE_UNSAMPLED_SIZE;
	if (s->cache_len > 0)
		return s->cache_len;
	baton_envelope env;
	bool sampled = baton_span_context_is_sampled(&s->context);
	bt_msg_env(s, sampled, &env);
	return baton_envelope_size(&env);
}

static BT_NOINLINE baton_err bt_msg_send_wrap_slow(baton_msg_send *s, void *buf,
                                                   size_t cap, size_t *written);

baton_err baton_msg_send_wrap(baton_msg_send *s, void *buf, size_t cap, size_t *written)
{
	if (s == NULL || buf == NULL || written == NULL)
		return BATON_EINVAL;
	if (s->mode == BT_SEND_UNSAMPLED || s->mode == BT_SEND_ENDED) {
		if (cap < BATON_ENVELOPE_UNSAMPLED_SIZE)
			return BATON_ENOSPACE;
		memcpy(buf, bt_env_unsampled, BATON_ENVELOPE_UNSAMPLED_SIZE);
		*written = BATON_ENVELOPE_UNSAMPLED_SIZE;
		s->kept = false;
		return BATON_OK;
	}
	return bt_msg_send_wrap_slow(s, buf, cap, written);
}

static BT_NOINLINE baton_err bt_msg_send_wrap_slow(baton_msg_send *s, void *buf,
                                                   size_t cap, size_t *written)
{
	bool kept = baton_span_context_is_sampled(&s->context);
	if (s->mode == BT_SEND_FANOUT)
		kept = baton_msg_fanout_draw(s->fanout, NULL);
	baton_err rv;
	if (kept && s->cache_len > 0) {
		if (cap < s->cache_len)
			return BATON_ENOSPACE;
		memcpy(buf, s->cache, s->cache_len);
		*written = s->cache_len;
		rv = BATON_OK;
	} else if (!kept && s->mode == BT_SEND_ONE && s->cache_len > 0) {
		/* an unsampled send with ids or baggage: cached too */
		if (cap < s->cache_len)
			return BATON_ENOSPACE;
		memcpy(buf, s->cache, s->cache_len);
		*written = s->cache_len;
		rv = BATON_OK;
	} else {
		baton_envelope env;
		bt_msg_env(s, kept, &env);
		rv = baton_envelope_wrap(&env, buf, cap, written);
		if (rv != BATON_OK)
			return rv;
	}
	s->kept = kept;
	s->nkept += kept;
	return rv;
}

baton_err baton_msg_send_wrap_before(baton_msg_send *s, void *payload, size_t headroom,
                                     size_t *written)
{
	uint8_t tmp[sizeof(s->cache)];
	size_t n = 0;
	if (s == NULL || payload == NULL || written == NULL)
		return BATON_EINVAL;
	uint8_t *p = payload;
	if (s->mode == BT_SEND_UNSAMPLED || s->mode == BT_SEND_ENDED) {
		if (headroom < BATON_ENVELOPE_UNSAMPLED_SIZE)
			return BATON_ENOSPACE;
		memcpy(p - BATON_ENVELOPE_UNSAMPLED_SIZE, bt_env_unsampled,
		       BATON_ENVELOPE_UNSAMPLED_SIZE);
		*written = BATON_ENVELOPE_UNSAMPLED_SIZE;
		s->kept = false;
		return BATON_OK;
	}
	size_t need = baton_msg_send_size(s);
	if (need == 0 || headroom < need)
		return BATON_ENOSPACE;
	/* The envelope's length depends on the draw: write it, then move it in
	 * front of the payload (the headroom may be just large enough). */
	baton_err rv;
	if (need <= sizeof(tmp)) {
		rv = baton_msg_send_wrap(s, tmp, sizeof(tmp), &n);
		if (rv == BATON_OK)
			memcpy(p - n, tmp, n);
	} else {
		rv = baton_msg_send_wrap(s, p - headroom, headroom, &n);
		if (rv == BATON_OK)
			memmove(p - n, p - headroom, n);
	}
	if (rv == BATON_OK)
		*written = n;
	return rv;
}

static BT_NOINLINE void bt_msg_send_end_span(baton_msg_send *s, const char *error);

void baton_msg_send_end(baton_msg_send *s, const char *error)
{
	if (s == NULL || s->mode == BT_SEND_ENDED)
		return;
	if (BT_HANDLE_INDEX(s->span.id) == 0) {
		/* no record behind it (unsampled decision, or no SDK): nothing to end */
		s->span = BATON_SPAN_NONE;
		s->mode = BT_SEND_ENDED;
		return;
	}
	bt_msg_send_end_span(s, error);
}

static BT_NOINLINE void bt_msg_send_end_span(baton_msg_send *s, const char *error)
{
	if (baton_span_is_recording(s->span)) {
		if (s->fanout > 0)
			baton_span_set_int(s->span, "baton.fanout.kept",
			                   (int64_t)s->nkept);
		if (error != NULL)
			baton_span_set_status(s->span, BATON_STATUS_ERROR, error);
	}
	baton_span_end(s->span);
	s->span = BATON_SPAN_NONE;
	s->mode = BT_SEND_ENDED;
}

/* ---- receive ---- */

baton_span baton_msg_recv_start_span(baton_msg_recv *r, const baton_msg_recv_opts *opts)
{
	static const baton_msg_recv_opts none;
	char nbuf[BT_MSG_NAME_SIZE];
	if (r == NULL)
		return BATON_SPAN_NONE;
	if (baton_span_is_recording(r->span) || !(r->context.state & BATON_CTX_VALID) ||
	    !(r->context.trace_flags & BATON_FLAG_SAMPLED))
		return r->span;
	const baton_msg_recv_opts *o = opts != NULL ? opts : &none;
	baton_span_start_opts so = {.parent = &r->context,
	                            .kind = BATON_SPAN_KIND_CONSUMER};
	/* After a fanout a receiver only continues the trace, never starts a root. */
	if (r->recipients != 0)
		so.flags |= BATON_START_NO_ROOT;
	/* Kept by this layer's draw: the span carries its weight. */
	if (r->keep < 1.0)
		so.fanout_keep_probability = r->keep;
	baton_span sp = baton_span_start_ex(
	    bt_msg_tracer(o->tracer), bt_msg_name(nbuf, "process", o->destination), &so);
	if (!baton_span_is_recording(sp)) {
		baton_span_end(sp);
		return r->span;
	}
	bt_msg_attrs(sp, o->system, "process", o->destination, r->payload_len,
	             r->recipients);
	r->span = sp;
	return sp;
}

/* A message without a valid envelope: bare (mixed) or refused (strict). */
static baton_err bt_msg_bare(const uint8_t *p, size_t len, baton_err why, uint32_t flags,
                             baton_msg_recv *out)
{
	memset(out, 0, sizeof(*out));
	out->payload = p;
	out->payload_len = len;
	out->keep = 1.0;
	out->envelope = why;
	out->flags = flags;
	bt_msg_count_error(why);
	if (flags & BATON_MSG_STRICT) {
		bt_msg_count_event(BT_MSG_REFUSED);
		return why;
	}
	bt_msg_count_event(BT_MSG_PASSED);
	return BATON_OK;
}

static BT_NOINLINE baton_err bt_msg_recv_open_slow(const uint8_t *p, size_t len,
                                                   const baton_msg_recv_opts *opts,
                                                   uint32_t flags, baton_msg_recv *out);

baton_err baton_msg_recv_open(const void *buf, size_t len,
                              const baton_msg_recv_opts *opts, baton_msg_recv *out)
{
	const uint8_t *p = buf;
	uint32_t flags = opts != NULL ? opts->flags : 0;
	if (out == NULL || (buf == NULL && len > 0))
		return BATON_EINVAL;
	/* The common case first: "not sampled", one compare, nothing decoded. */
	if (len >= BATON_ENVELOPE_UNSAMPLED_SIZE && bt_env_is_unsampled(p)) {
		out->span = BATON_SPAN_NONE;
		bt_msg_ctx_decided(&out->context, BATON_CTX_REMOTE | BATON_CTX_DECIDED);
		out->payload = p + BATON_ENVELOPE_UNSAMPLED_SIZE;
		out->payload_len = len - BATON_ENVELOPE_UNSAMPLED_SIZE;
		out->recipients = 0;
		out->keep = 1.0;
		out->baggage = NULL;
		out->baggage_len = 0;
		out->tracestate = NULL;
		out->tracestate_len = 0;
		out->envelope = BATON_OK;
		out->envelope_size = BATON_ENVELOPE_UNSAMPLED_SIZE;
		out->flags = flags;
		bt_msg_count_event(BT_MSG_STRIPPED);
		return BATON_OK;
	}
	return bt_msg_recv_open_slow(p, len, opts, flags, out);
}

static BT_NOINLINE baton_err bt_msg_recv_open_slow(const uint8_t *p, size_t len,
                                                   const baton_msg_recv_opts *opts,
                                                   uint32_t flags, baton_msg_recv *out)
{
	/* Version 1 envelopes pass weaker checks: only where every message must
	 * carry one (strict), or where the receiver asked for them. */
	uint32_t rflags =
	    (flags & (BATON_MSG_STRICT | BATON_MSG_READ_V1)) ? BATON_ENV_READ_V1 : 0;
	baton_envelope env;
	baton_err e =
	    len == 0 ? BATON_ENOENV : baton_envelope_unwrap_ex(p, len, rflags, &env);
	if (e != BATON_OK)
		return bt_msg_bare(p, len, e, flags, out);
	bt_msg_count_event(BT_MSG_STRIPPED);
	if (env.dropped != 0)
		bt_msg_count_dropped(env.dropped);
	out->span = BATON_SPAN_NONE;
	out->context = env.ctx;
	out->payload = p + env.length;
	out->payload_len = len - env.length;
	out->recipients = env.recipients != 0 ? env.recipients : env.fanout_applied;
	out->keep = 1.0;
	out->baggage = NULL;
	out->baggage_len = 0;
	if (env.baggage != NULL && (baton_propagators() & BATON_PROPAGATOR_BAGGAGE)) {
		out->baggage = env.baggage;
		out->baggage_len = strnlen(env.baggage, BATON_ENVELOPE_MAX);
	}
	out->tracestate = env.ctx.tracestate;
	out->tracestate_len = env.ctx.tracestate != NULL
	                          ? strnlen(env.ctx.tracestate, BATON_ENVELOPE_MAX)
	                          : 0;
	out->envelope = BATON_OK;
	out->envelope_size = env.length;
	out->flags = flags;
	bool sampled = (env.flags & BATON_ENV_F_SAMPLED) != 0;
	/* A recipient count (pub/sub): this receiver draws its keep decision. A
	 * fanout-applied count was drawn by the sender: continue only. */
	if (sampled && env.recipients != 0 &&
	    !baton_msg_fanout_draw(env.recipients, &out->keep)) {
		/* Dropped: the trace goes on unsampled from here. */
		out->context.trace_flags &= (uint8_t)~BATON_FLAG_SAMPLED;
		sampled = false;
	}
	if (sampled && !(flags & BATON_MSG_NO_SPAN))
		baton_msg_recv_start_span(out, opts);
	return BATON_OK;
}

uint32_t baton_msg_attach(const baton_msg_recv *r)
{
	uint32_t tok = 0, btok = 0;
	if (r == NULL)
		return 0;
	if (baton_span_is_recording(r->span))
		tok = baton_span_attach(r->span);
	else if (r->context.state & (BATON_CTX_VALID | BATON_CTX_DECIDED))
		tok = baton_context_attach(&r->context);
	/* The message's baggage and no other; nothing to do (no frame, no
	 * allocation) when neither the message nor the thread has any. */
	if (r->baggage_len > 0 || baton_baggage_current_header(NULL) != NULL)
		btok = baton_baggage_attach_header(r->baggage != NULL ? r->baggage : "",
		                                   r->baggage_len);
	return tok != 0 ? tok : btok;
}

int baton_msg_process(baton_msg_recv *r, int (*fn)(void *arg), void *arg)
{
	if (r == NULL || fn == NULL)
		return -1;
	uint32_t tok = baton_msg_attach(r);
	int rv = fn(arg);
	if (tok != 0)
		baton_span_detach(tok);
	if (rv != 0)
		baton_span_set_status(r->span, BATON_STATUS_ERROR, NULL);
	baton_span_end(r->span);
	r->span = BATON_SPAN_NONE;
	return rv;
}

baton_span baton_msg_batch_start(const baton_span_context *ctxs, size_t n,
                                 const baton_msg_recv_opts *opts)
{
	static const baton_msg_recv_opts none;
	char nbuf[BT_MSG_NAME_SIZE];
	const baton_msg_recv_opts *o = opts != NULL ? opts : &none;
	baton_span_start_opts so = {.kind = BATON_SPAN_KIND_CONSUMER};
	baton_span sp = baton_span_start_ex(
	    bt_msg_tracer(o->tracer), bt_msg_name(nbuf, "process", o->destination), &so);
	if (!baton_span_is_recording(sp))
		return sp;
	bt_msg_attrs(sp, o->system, "process", o->destination, SIZE_MAX, 0);
	baton_span_set_int(sp, "messaging.batch.message_count", (int64_t)n);
	for (size_t i = 0; ctxs != NULL && i < n; i++) {
		if (baton_span_context_is_valid(&ctxs[i]) &&
		    baton_span_context_is_sampled(&ctxs[i]))
			baton_span_add_link(sp, &ctxs[i], NULL, 0);
	}
	return sp;
}
