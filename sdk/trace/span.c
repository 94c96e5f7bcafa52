/* Spans: start, annotate, end. The hot path allocates nothing and takes no lock. */
#include "trace/trace_int.h"

#include <string.h>

/* ---- arena ---- */

void *
bt_arena_alloc(bt_span *sp, size_t n)
{
	size_t off = (sp->arena_used + 7u) & ~(size_t)7;
	if (off + n > bt_prov.limits.arena_bytes)
		return NULL;
	sp->arena_used = (uint32_t)(off + n);
	return sp->arena + off;
}

const char *
bt_arena_strn(bt_span *sp, const char *s, size_t n)
{
	size_t off = sp->arena_used;
	if (off + n + 1 > bt_prov.limits.arena_bytes)
		return NULL;
	char *d = sp->arena + off;
	memcpy(d, s, n);
	d[n] = '\0';
	sp->arena_used = (uint32_t)(off + n + 1);
	return d;
}

/* Copies a value's out-of-line parts (strings, arrays) into the arena. */
static bool
bt_value_copy(bt_span *sp, baton_value *dst, const baton_value *src)
{
	uint32_t lim = bt_prov.limits.value_length;
	*dst = *src;
	switch (src->type) {
	case BATON_VALUE_STRING: {
		const char *s = src->u.s ? src->u.s : "";
		size_t n = src->len == (size_t)-1 ? strlen(s) : src->len;
		if (n > lim)
			n = lim;
		dst->u.s = bt_arena_strn(sp, s, n);
		dst->len = n;
		return dst->u.s != NULL;
	}
	case BATON_VALUE_BOOL:
	case BATON_VALUE_INT:
	case BATON_VALUE_DOUBLE:
		return true;
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY: {
		size_t esz = src->type == BATON_VALUE_BOOL_ARRAY ? sizeof(bool) : 8;
		void *p = bt_arena_alloc(sp, esz * src->len);
		if (p == NULL)
			return false;
		if (src->len > 0)
			memcpy(p, (const void *)src->u.ia, esz * src->len);
		dst->u.ia = p;
		return true;
	}
	case BATON_VALUE_STRING_ARRAY: {
		const char **arr = bt_arena_alloc(sp, sizeof(char *) * src->len);
		if (arr == NULL)
			return false;
		for (size_t i = 0; i < src->len; i++) {
			const char *s = src->u.sa[i] ? src->u.sa[i] : "";
			size_t n = strlen(s);
			if (n > lim)
				n = lim;
			arr[i] = bt_arena_strn(sp, s, n);
			if (arr[i] == NULL)
				return false;
		}
		dst->u.sa = arr;
		return true;
	}
	default:
		return false;
	}
}

bool
bt_attr_put(bt_span *sp, const baton_attr **head, baton_attr **tail, uint32_t *count,
            uint32_t limit, const char *key, const baton_value *v, bool replace)
{
	if (key == NULL || key[0] == '\0' || v == NULL)
		return false;
	if (replace) {
		for (const baton_attr *a = *head; a != NULL; a = a->next) {
			if (strcmp(a->key, key) == 0) {
				uint32_t saved = sp->arena_used;
				baton_value nv;
				if (!bt_value_copy(sp, &nv, v)) {
					sp->arena_used = saved;
					return false;
				}
				((baton_attr *)a)->value = nv;
				return true;
			}
		}
	}
	if (*count >= limit)
		return false;
	uint32_t saved = sp->arena_used;
	baton_attr *a = bt_arena_alloc(sp, sizeof(*a));
	size_t klen = strlen(key);
	const char *k = a ? bt_arena_strn(sp, key, klen) : NULL;
	if (k == NULL || !bt_value_copy(sp, &a->value, v)) {
		sp->arena_used = saved; /* all or nothing */
		return false;
	}
	a->key = k;
	a->next = NULL;
	if (*tail != NULL)
		(*tail)->next = a;
	else
		*head = a;
	*tail = a;
	(*count)++;
	return true;
}

static void
bt_span_attr(bt_span *sp, const char *key, const baton_value *v)
{
	if (!sp->recording)
		return;
	if (!bt_attr_put(sp, &sp->data.attrs, &sp->attr_tail, &sp->data.nattrs,
	                 bt_prov.limits.attr_count, key, v, true))
		sp->data.dropped_attrs++;
}

/* ---- start ---- */

static void
bt_set_sample_rate(bt_span *sp)
{
	if (!(sp->data.context.state & BATON_CTX_HAS_TH))
		return;
	double ac = baton_span_context_adjusted_count(&sp->data.context);
	baton_value v;
	double r = ac < 1e15 ? (double)(int64_t)(ac + 0.5) : ac;
	if (r - ac < 1e-6 && ac - r < 1e-6) {
		v = (baton_value){.type = BATON_VALUE_INT, .u.i = (int64_t)r};
	} else {
		v = (baton_value){.type = BATON_VALUE_DOUBLE, .u.d = ac};
	}
	bt_span_attr(sp, "SampleRate", &v);
}

baton_span
baton_span_start(baton_tracer *tracer, const char *name)
{
	return baton_span_start_ex(tracer, name, NULL);
}

baton_span
baton_span_start_ex(baton_tracer *tracer, const char *name, const baton_span_start_opts *opts)
{
	static const baton_span_start_opts no_opts;
	baton_span_context cur;
	const baton_span_context *parent = NULL;

	if (!bt_initialized || bt_prov.disabled)
		return BATON_SPAN_NONE;
	if (opts == NULL)
		opts = &no_opts;
	if (opts->parent != NULL) {
		parent = opts->parent;
	} else if (!(opts->flags & (BATON_START_ROOT | BATON_START_NO_CURRENT)) &&
	           bt_current_context(&cur)) {
		parent = &cur;
	}
	if (opts->flags & BATON_START_ROOT)
		parent = NULL;
	bool parent_valid = parent != NULL && (parent->state & BATON_CTX_VALID);
	bool parent_decided = parent != NULL && (parent->state & (BATON_CTX_VALID | BATON_CTX_DECIDED));
	/* Continue-only (e.g. after a fanout): with no parent, no span at all. */
	if ((opts->flags & BATON_START_NO_ROOT) && !parent_decided)
		return BATON_SPAN_NONE;

	static const baton_span_context invalid;
	uint8_t trace_id[BATON_TRACE_ID_SIZE];
	uint8_t flags;
	if (parent_valid) {
		memcpy(trace_id, parent->trace_id, sizeof(trace_id));
		flags = parent->trace_flags & BATON_FLAG_RANDOM;
	} else {
		baton_trace_id_generate(trace_id);
		flags = BATON_FLAG_RANDOM;
	}
	baton_sampling_params sp_params = {
		.parent = parent ? parent : &invalid,
		.trace_id = trace_id,
		.name = name,
		.kind = opts->kind ? opts->kind : BATON_SPAN_KIND_INTERNAL,
		.attrs = opts->attrs,
		.nattrs = opts->nattrs,
	};
	baton_sampling_result res = {BATON_SAMPLING_DROP, false, 0};
	bt_prov.sampler.ops->should_sample(bt_prov.sampler.arg, &sp_params, &res);

	double pf = opts->fanout_keep_probability;
	if (res.decision == BATON_SAMPLING_RECORD_AND_SAMPLE && pf > 0.0 && pf < 1.0) {
		/* Fanout keep: independent per recipient, on top of the head decision. */
		if (!(opts->flags & BATON_START_FANOUT_KEPT) && bt_random_unit() >= pf) {
			res.decision = BATON_SAMPLING_DROP;
		} else {
			double ph = res.has_threshold ? baton_probability_from_threshold(res.threshold)
			                              : 1.0;
			res.threshold = baton_threshold_from_probability(ph * pf);
			res.has_threshold = true;
		}
	}
	if (res.decision == BATON_SAMPLING_DROP && !bt_prov.propagate_unsampled_ids) {
		atomic_fetch_add_explicit(&bt_prov.unsampled, 1, memory_order_relaxed);
		return BT_SPAN_UNSAMPLED;
	}

	bt_span *sp = bt_store_alloc(&bt_prov.store);
	if (sp == NULL) {
		atomic_fetch_add_explicit(&bt_prov.dropped_no_store, 1, memory_order_relaxed);
		return res.decision == BATON_SAMPLING_DROP ? BT_SPAN_UNSAMPLED : BATON_SPAN_NONE;
	}
	uint32_t gen = atomic_load_explicit(&sp->gen, memory_order_relaxed);
	memset(&sp->data, 0, sizeof(sp->data));
	sp->arena_used = 0;
	sp->attr_tail = NULL;
	sp->event_tail = NULL;
	sp->link_tail = NULL;
	sp->ended = false;
	sp->recording = res.decision != BATON_SAMPLING_DROP;
	atomic_store_explicit(&sp->refs, 0, memory_order_relaxed);

	baton_span_context *c = &sp->data.context;
	memcpy(c->trace_id, trace_id, sizeof(trace_id));
	baton_span_id_generate(c->span_id);
	c->trace_flags = flags | (res.decision == BATON_SAMPLING_RECORD_AND_SAMPLE ? BATON_FLAG_SAMPLED : 0);
	c->state = BATON_CTX_VALID | BATON_CTX_DECIDED;
	if (res.has_threshold) {
		c->state |= BATON_CTX_HAS_TH;
		c->threshold = res.threshold;
	}
	if (parent_valid) {
		sp->data.parent = *parent;
		sp->data.parent.tracestate = NULL;
		if (parent->tracestate != NULL && parent->tracestate[0] != '\0')
			c->tracestate = bt_arena_strn(sp, parent->tracestate, strlen(parent->tracestate));
	}
	if (!sp->recording) {
		atomic_fetch_add_explicit(&bt_prov.unsampled, 1, memory_order_relaxed);
		return (baton_span){BT_HANDLE(sp->index, gen)};
	}
	atomic_fetch_add_explicit(&bt_prov.started, 1, memory_order_relaxed);
	size_t nlen = name ? strlen(name) : 0;
	sp->data.name = bt_arena_strn(sp, name ? name : "", nlen);
	if (sp->data.name == NULL)
		sp->data.name = "";
	sp->data.kind = sp_params.kind;
	sp->data.start_unix_ns = opts->start_time_ns ? opts->start_time_ns : bt_now_unix_ns();
	sp->data.resource = &bt_prov.resource;
	static const baton_scope no_scope = {"", NULL};
	/* A tracer starts with its scope, so a tracer pointer is a scope pointer. */
	sp->data.scope = tracer ? (const baton_scope *)tracer : &no_scope;
	baton_span h = {BT_HANDLE(sp->index, gen)};
	for (size_t i = 0; i < opts->nattrs; i++)
		bt_span_attr(sp, opts->attrs[i].key, &opts->attrs[i].value);
	for (size_t i = 0; i < opts->nlinks; i++)
		baton_span_add_link(h, &opts->links[i], NULL, 0);
	bt_set_sample_rate(sp);
	return h;
}

/* ---- end ---- */

void
baton_span_end_at(baton_span span, uint64_t end_time_ns)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL)
		return;
	sp->ended = true;
	/* Stale handles stop matching from here on. */
	atomic_fetch_add_explicit(&sp->gen, 1, memory_order_relaxed);
	if (!sp->recording) {
		bt_store_release(&bt_prov.store, sp);
		return;
	}
	sp->data.end_unix_ns = end_time_ns ? end_time_ns : bt_now_unix_ns();
	if (sp->data.end_unix_ns < sp->data.start_unix_ns)
		sp->data.end_unix_ns = sp->data.start_unix_ns;
	atomic_fetch_add_explicit(&bt_prov.ended, 1, memory_order_relaxed);
	size_t n = bt_prov.nprocs;
	if (n == 0) {
		bt_store_release(&bt_prov.store, sp);
		return;
	}
	/* Release ordering on refs: a processor that releases last sees our writes. */
	atomic_store_explicit(&sp->refs, (uint32_t)n, memory_order_release);
	for (size_t i = 0; i < n; i++)
		bt_prov.procs[i].ops->on_end(bt_prov.procs[i].arg, &sp->data);
}

void
baton_span_end(baton_span span)
{
	baton_span_end_at(span, 0);
}

void
baton_span_data_release(const baton_span_data *data)
{
	bt_span *sp = (bt_span *)data;
	if (sp == NULL)
		return;
	if (atomic_fetch_sub_explicit(&sp->refs, 1, memory_order_acq_rel) == 1)
		bt_store_release(&bt_prov.store, sp);
}

/* ---- queries and setters ---- */

bool
baton_span_is_recording(baton_span span)
{
	bt_span *sp = bt_span_lookup(span);
	return sp != NULL && sp->recording;
}

baton_err
baton_span_get_context(baton_span span, baton_span_context *ctx)
{
	if (ctx == NULL)
		return BATON_EINVAL;
	bt_span *sp = bt_span_lookup(span);
	if (sp != NULL) {
		*ctx = sp->data.context;
		return BATON_OK;
	}
	memset(ctx, 0, sizeof(*ctx));
	if (span.id == BT_SPAN_UNSAMPLED.id)
		ctx->state = BATON_CTX_DECIDED;
	return BATON_OK;
}

void
baton_span_set_value(baton_span span, const char *key, const baton_value *value)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp != NULL)
		bt_span_attr(sp, key, value);
}

void
baton_span_set_strn(baton_span span, const char *key, const char *value, size_t len)
{
	baton_value v = {.type = BATON_VALUE_STRING, .u.s = value, .len = len};
	baton_span_set_value(span, key, &v);
}

void
baton_span_set_str(baton_span span, const char *key, const char *value)
{
	baton_span_set_strn(span, key, value, (size_t)-1);
}

void
baton_span_set_int(baton_span span, const char *key, int64_t value)
{
	baton_value v = {.type = BATON_VALUE_INT, .u.i = value};
	baton_span_set_value(span, key, &v);
}

void
baton_span_set_double(baton_span span, const char *key, double value)
{
	baton_value v = {.type = BATON_VALUE_DOUBLE, .u.d = value};
	baton_span_set_value(span, key, &v);
}

void
baton_span_set_bool(baton_span span, const char *key, bool value)
{
	baton_value v = {.type = BATON_VALUE_BOOL, .u.b = value};
	baton_span_set_value(span, key, &v);
}

void
baton_span_add_event(baton_span span, const char *name, uint64_t time_ns,
                     const baton_kv *attrs, size_t nattrs)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording)
		return;
	if (sp->data.nevents >= bt_prov.limits.event_count) {
		sp->data.dropped_events++;
		return;
	}
	uint32_t saved = sp->arena_used;
	baton_event *e = bt_arena_alloc(sp, sizeof(*e));
	const char *n = e ? bt_arena_strn(sp, name ? name : "", name ? strlen(name) : 0) : NULL;
	if (n == NULL) {
		sp->arena_used = saved;
		sp->data.dropped_events++;
		return;
	}
	memset(e, 0, sizeof(*e));
	e->name = n;
	e->time_unix_ns = time_ns ? time_ns : bt_now_unix_ns();
	baton_attr *tail = NULL;
	for (size_t i = 0; i < nattrs; i++) {
		if (!bt_attr_put(sp, &e->attrs, &tail, &e->nattrs, bt_prov.limits.event_attr_count,
		                 attrs[i].key, &attrs[i].value, false))
			e->dropped_attrs++;
	}
	if (sp->event_tail != NULL)
		sp->event_tail->next = e;
	else
		sp->data.events = e;
	sp->event_tail = e;
	sp->data.nevents++;
}

void
baton_span_add_link(baton_span span, const baton_span_context *ctx, const baton_kv *attrs,
                    size_t nattrs)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording || ctx == NULL || !(ctx->state & BATON_CTX_VALID))
		return;
	if (sp->data.nlinks >= bt_prov.limits.link_count) {
		sp->data.dropped_links++;
		return;
	}
	uint32_t saved = sp->arena_used;
	baton_link *l = bt_arena_alloc(sp, sizeof(*l));
	if (l == NULL) {
		sp->data.dropped_links++;
		return;
	}
	memset(l, 0, sizeof(*l));
	l->context = *ctx;
	l->context.tracestate = NULL;
	if (ctx->tracestate != NULL && ctx->tracestate[0] != '\0') {
		l->context.tracestate = bt_arena_strn(sp, ctx->tracestate, strlen(ctx->tracestate));
		if (l->context.tracestate == NULL) {
			sp->arena_used = saved;
			sp->data.dropped_links++;
			return;
		}
	}
	baton_attr *tail = NULL;
	for (size_t i = 0; i < nattrs; i++) {
		if (!bt_attr_put(sp, &l->attrs, &tail, &l->nattrs, bt_prov.limits.link_attr_count,
		                 attrs[i].key, &attrs[i].value, false))
			l->dropped_attrs++;
	}
	if (sp->link_tail != NULL)
		sp->link_tail->next = l;
	else
		sp->data.links = l;
	sp->link_tail = l;
	sp->data.nlinks++;
}

void
baton_span_set_status(baton_span span, baton_status_code code, const char *description)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording || sp->data.status == BATON_STATUS_OK)
		return;
	if (code != BATON_STATUS_UNSET && code != BATON_STATUS_OK && code != BATON_STATUS_ERROR)
		return;
	sp->data.status = code;
	sp->data.status_message = NULL;
	if (code == BATON_STATUS_ERROR && description != NULL) {
		size_t n = strlen(description);
		if (n > bt_prov.limits.value_length)
			n = bt_prov.limits.value_length;
		sp->data.status_message = bt_arena_strn(sp, description, n);
	}
}

void
baton_span_update_name(baton_span span, const char *name)
{
	bt_span *sp = bt_span_lookup(span);
	if (sp == NULL || !sp->recording || name == NULL)
		return;
	const char *n = bt_arena_strn(sp, name, strlen(name));
	if (n != NULL)
		sp->data.name = n;
}

void
baton_span_record_error(baton_span span, const char *type, const char *message)
{
	baton_kv kv[2] = {BATON_KV_STR("exception.type", type ? type : ""),
	                  BATON_KV_STR("exception.message", message ? message : "")};
	baton_span_add_event(span, "exception", 0, kv, 2);
}

const baton_attr *
baton_attr_find(const baton_attr *list, const char *key)
{
	for (const baton_attr *a = list; a != NULL && key != NULL; a = a->next) {
		if (strcmp(a->key, key) == 0)
			return a;
	}
	return NULL;
}
