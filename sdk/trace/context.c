/* Span contexts and the thread-local current span. */
#include "trace/trace_int.h"

#include <string.h>

bool baton_span_context_is_valid(const baton_span_context *ctx)
{
	return ctx != NULL && (ctx->state & BATON_CTX_VALID) != 0;
}

bool baton_span_context_is_sampled(const baton_span_context *ctx)
{
	return ctx != NULL && (ctx->state & (BATON_CTX_VALID | BATON_CTX_DECIDED)) &&
	       (ctx->trace_flags & BATON_FLAG_SAMPLED);
}

double baton_span_context_adjusted_count(const baton_span_context *ctx)
{
	if (ctx == NULL || !(ctx->state & BATON_CTX_HAS_TH) ||
	    ctx->threshold >= BATON_TH_MAX)
		return 1.0;
	return (double)BATON_TH_MAX / (double)(BATON_TH_MAX - ctx->threshold);
}

#define BT_CTX_DEPTH 64

struct bt_frame {
	baton_span span; /* NONE when a bare context was attached */
	baton_span_context ctx;
};

static BT_TLS struct {
	uint32_t depth;
	struct bt_frame frames[BT_CTX_DEPTH];
} bt_tls_ctx;

static uint32_t bt_push(baton_span span, const baton_span_context *ctx)
{
	if (bt_tls_ctx.depth >= BT_CTX_DEPTH)
		return 0;
	struct bt_frame *f = &bt_tls_ctx.frames[bt_tls_ctx.depth++];
	f->span = span;
	f->ctx = *ctx;
	return bt_tls_ctx.depth;
}

uint32_t baton_span_attach(baton_span span)
{
	baton_span_context ctx;
	baton_span_get_context(span, &ctx);
	return bt_push(span, &ctx);
}

uint32_t baton_context_attach(const baton_span_context *ctx)
{
	static const baton_span_context none;
	return bt_push(BATON_SPAN_NONE, ctx ? ctx : &none);
}

void baton_span_detach(uint32_t token)
{
	if (token == 0 || token > bt_tls_ctx.depth)
		return;
	bt_tls_ctx.depth = token - 1;
}

baton_span baton_span_current(void)
{
	if (bt_tls_ctx.depth == 0)
		return BATON_SPAN_NONE;
	return bt_tls_ctx.frames[bt_tls_ctx.depth - 1].span;
}

bool bt_current_context(baton_span_context *out)
{
	if (bt_tls_ctx.depth == 0)
		return false;
	struct bt_frame *f = &bt_tls_ctx.frames[bt_tls_ctx.depth - 1];
	/* A live span gives its live context (its tracestate lives in its arena). */
	bt_span *sp = bt_span_lookup(f->span);
	*out = sp != NULL ? sp->data.context : f->ctx;
	if (sp == NULL && f->span.id != 0 && BT_HANDLE_INDEX(f->span.id) != 0)
		out->tracestate = NULL; /* that span ended: its arena may be reused */
	return (out->state & (BATON_CTX_VALID | BATON_CTX_DECIDED)) != 0;
}
