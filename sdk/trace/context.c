/*
 * Span contexts, the thread-local current span, and the baggage of the
 * thread's contexts.
 *
 * Each attached frame holds a baggage block pointer (wire/w3c_int.h). An
 * attach copies the pointer of the frame below (one load and one store;
 * nothing is counted or allocated), so the frame borrows it: the frame
 * below cannot change or go away while this one is above it. A set or
 * remove makes a new block for the top frame, which then owns it; a detach
 * frees the blocks of the frames it pops, looking only when some frame
 * owns one (bt_tls_ctx.owned). The thread's base context (nothing
 * attached) has its own slot. Blocks left when a thread exits are freed by
 * a thread-specific-data destructor, registered the first time the thread
 * owns one.
 */
#include "trace/trace_int.h"
#include "wire/w3c_int.h"

#include <pthread.h>
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

BT_TLS bt_ctx_tls bt_tls_ctx;

static bool bt_bag_track(void);

/* The thread's first attach: its frames, freed by the thread-exit destructor. */
static bool __attribute__((noinline)) bt_frames_make(void)
{
	bt_tls_ctx.frames = bt_calloc(BT_CTX_DEPTH, sizeof(struct bt_frame));
	if (bt_tls_ctx.frames == NULL)
		return false;
	if (!bt_bag_track()) {
		bt_free(bt_tls_ctx.frames);
		bt_tls_ctx.frames = NULL;
		return false;
	}
	return true;
}

/* Returns the new depth (the token), or 0 when the stack is full or there
 * is no memory for the thread's frames. */
static uint32_t bt_push(baton_span span, const baton_span_context *ctx)
{
	uint32_t d = bt_tls_ctx.depth;
	if (d >= BT_CTX_DEPTH)
		return 0;
	if (__builtin_expect(bt_tls_ctx.frames == NULL, 0) && !bt_frames_make())
		return 0;
	struct bt_frame *f = &bt_tls_ctx.frames[d];
	f->span = span;
	f->ctx = *ctx;
	f->bag = d > 0 ? bt_tls_ctx.frames[d - 1].bag : bt_tls_ctx.base;
	f->own = false;
	bt_tls_ctx.depth = d + 1;
	return d + 1;
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
	if (__builtin_expect(bt_tls_ctx.owned != 0, 0)) {
		for (uint32_t i = token - 1; i < bt_tls_ctx.depth; i++) {
			struct bt_frame *f = &bt_tls_ctx.frames[i];
			if (f->own) {
				bt_bag_destroy(f->bag);
				f->own = false;
				bt_tls_ctx.owned--;
			}
		}
	}
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

/* ---- baggage of the current context ---- */

static pthread_key_t bt_bag_key;
static pthread_once_t bt_bag_once = PTHREAD_ONCE_INIT;
static bool bt_bag_key_ok;

/* Thread exit: frees the blocks the thread still owns, and its frames. */
static void bt_bag_thread_exit(void *p)
{
	(void)p;
	baton_span_detach(1);
	if (bt_tls_ctx.base != NULL) {
		bt_bag_destroy(bt_tls_ctx.base);
		bt_tls_ctx.base = NULL;
	}
	bt_tls_ctx.owned = 0;
	bt_tls_ctx.tracked = false;
	bt_free(bt_tls_ctx.frames);
	bt_tls_ctx.frames = NULL;
	bt_tls_ctx.depth = 0;
}

static void bt_bag_key_make(void)
{
	bt_bag_key_ok = pthread_key_create(&bt_bag_key, bt_bag_thread_exit) == 0;
}

/* Registers the thread-exit destructor; false when it cannot be. */
static bool bt_bag_track(void)
{
	if (bt_tls_ctx.tracked)
		return true;
	pthread_once(&bt_bag_once, bt_bag_key_make);
	if (bt_bag_key_ok && pthread_setspecific(bt_bag_key, &bt_tls_ctx) == 0)
		bt_tls_ctx.tracked = true;
	return bt_tls_ctx.tracked;
}

static bt_bag *bt_bag_current(void)
{
	uint32_t d = bt_tls_ctx.depth;
	return d > 0 ? bt_tls_ctx.frames[d - 1].bag : bt_tls_ctx.base;
}

/* Gives the current context the baggage of tmp (empty: none). */
static baton_err bt_bag_replace(const baton_baggage *tmp)
{
	bt_bag *nb = NULL;
	if (tmp->count > 0 && (nb = bt_bag_create(tmp)) == NULL)
		return BATON_ENOMEM;
	uint32_t d = bt_tls_ctx.depth;
	bt_bag **slot = d > 0 ? &bt_tls_ctx.frames[d - 1].bag : &bt_tls_ctx.base;
	/* The base always owns its bag; a frame owns it only once it made one. */
	bool owned = d > 0 ? bt_tls_ctx.frames[d - 1].own : *slot != NULL;
	if (owned) {
		bt_bag_destroy(*slot);
		bt_tls_ctx.owned--;
	}
	*slot = nb;
	if (d > 0)
		bt_tls_ctx.frames[d - 1].own = nb != NULL;
	if (nb != NULL) {
		bt_tls_ctx.owned++;
		bt_bag_track();
	}
	return BATON_OK;
}

/* Starts tmp (buffer buf) as a copy of the current baggage. */
static void bt_bag_load(baton_baggage *tmp, char *buf, size_t cap)
{
	baton_baggage_init(tmp, buf, cap);
	bt_bag *b = bt_bag_current();
	if (b != NULL)
		bt_baggage_copy(tmp, &b->bg);
}

baton_err baton_baggage_set(const char *key, const char *value, const char *properties)
{
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage tmp;
	if (key == NULL || value == NULL)
		return BATON_EINVAL;
	bt_bag_load(&tmp, buf, sizeof(buf));
	baton_err rv = baton_baggage_put(&tmp, key, value, SIZE_MAX, properties);
	if (rv != BATON_OK)
		return rv;
	return bt_bag_replace(&tmp);
}

const char *baton_baggage_get(const char *key, size_t *len)
{
	bt_bag *b = bt_bag_current();
	return b != NULL ? baton_baggage_value(&b->bg, key, len) : NULL;
}

bool baton_baggage_remove(const char *key)
{
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage tmp;
	if (baton_baggage_get(key, NULL) == NULL)
		return false;
	bt_bag_load(&tmp, buf, sizeof(buf));
	baton_baggage_delete(&tmp, key);
	/* Removing never needs memory unless something is left: on ENOMEM
	 * fall back to no baggage rather than keep the key. */
	if (bt_bag_replace(&tmp) != BATON_OK) {
		baton_baggage_init(&tmp, NULL, 0);
		bt_bag_replace(&tmp);
	}
	return true;
}

void baton_baggage_clear(void)
{
	baton_baggage empty;
	baton_baggage_init(&empty, NULL, 0);
	bt_bag_replace(&empty);
}

baton_err baton_baggage_current(baton_baggage *out)
{
	if (out == NULL)
		return BATON_EINVAL;
	bt_bag *b = bt_bag_current();
	if (b == NULL) {
		out->count = 0;
		out->used = 0;
		out->dropped = 0;
		return BATON_OK;
	}
	return bt_baggage_copy(out, &b->bg);
}

const char *baton_baggage_current_header(size_t *len)
{
	bt_bag *b = bt_bag_current();
	if (b == NULL)
		return NULL;
	if (len != NULL)
		*len = b->hlen;
	return b->header;
}

uint32_t baton_baggage_attach(const baton_baggage *bg)
{
	uint32_t d = bt_tls_ctx.depth;
	bt_bag *nb = NULL;
	if (d >= BT_CTX_DEPTH)
		return 0;
	if (bg != NULL && bg->count > 0 && (nb = bt_bag_create(bg)) == NULL)
		return 0;
	baton_span_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	baton_span span = BATON_SPAN_NONE;
	if (d > 0) {
		span = bt_tls_ctx.frames[d - 1].span;
		ctx = bt_tls_ctx.frames[d - 1].ctx;
	}
	uint32_t tok = bt_push(span, &ctx);
	if (tok == 0) {
		bt_bag_destroy(nb);
		return 0;
	}
	struct bt_frame *f = &bt_tls_ctx.frames[tok - 1];
	f->bag = nb;
	if (nb != NULL) {
		f->own = true;
		bt_tls_ctx.owned++;
		bt_bag_track();
	}
	return tok;
}

uint32_t baton_baggage_attach_header(const char *s, size_t len)
{
	char buf[BATON_BAGGAGE_BUF_SIZE];
	baton_baggage bg;
	baton_baggage_init(&bg, buf, sizeof(buf));
	if (s != NULL && len > 0 && baton_baggage_parse(&bg, s, len) != BATON_OK)
		return 0;
	return baton_baggage_attach(&bg);
}
