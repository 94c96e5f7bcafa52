/*
 * The OTLP protobuf writer (bt_otlp_encode) against the reference encoder
 * (libprotobuf-c packing the generated structures), on batches built from
 * the input: through the SDK (names, attributes, events, links, status,
 * remote tracestates and remote values, several tracers and a resource, as
 * a processor gets them) or as span records built by hand, as a custom
 * processor may pass them on (ill-formed UTF-8, strings cut short, odd
 * enum and threshold values, NULL strings, several resources and scopes).
 *
 * What must hold, else the target traps:
 * - the writer's body equals the reference's byte for byte, where the
 *   reference is given each string already repaired (each byte that does
 *   not start a well-formed character as U+FFFD, by the test library's own
 *   decoder): the writer must write exactly that;
 * - the body decodes with the generated unpacker, holds as many spans as
 *   were given, and every string in it is well-formed UTF-8;
 * - a limit of exactly the body's size gives the same bytes, one byte less
 *   is BATON_ETOOBIG (warm and cold), a cold encoder's buffer stays within
 *   its limit, and the encoder used again gives the same bytes;
 * - with the input's k-th allocation failing, the result is BATON_ENOMEM
 *   (exactly when an allocation failed) or the same bytes, and the next
 *   call on that encoder is exact again;
 * - nothing leaks (the replay runs under ASan).
 */
#include "otlp_int.h"
#include "otlp_check.h"
#include "otlp_trace.pb-c.h"
#include "spancheck.h"

#include <baton/baton.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c))                                                                \
			__builtin_trap();                                                \
	} while (0)

/* ---- reading the input (zeros once it runs out) ---- */

typedef struct rd {
	const uint8_t *p;
	size_t n;
} rd;

static uint8_t r8(rd *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

static uint64_t rnum(rd *r, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)r8(r) << (8 * i);
	return v;
}

static void rbytes(rd *r, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = r8(r);
}

/* ---- memory the batch is built in (the C library's, not baton's) ---- */

static void **pool;
static size_t npool, cappool;

static void *fz_alloc(size_t n)
{
	if (npool == cappool) {
		size_t cap = cappool ? 2 * cappool : 256;
		void **p = realloc(pool, cap * sizeof(*p));
		if (p == NULL)
			abort();
		pool = p;
		cappool = cap;
	}
	void *p = calloc(1, n ? n : 1);
	if (p == NULL)
		abort();
	pool[npool++] = p;
	return p;
}

static void fz_free_all(void)
{
	for (size_t i = 0; i < npool; i++)
		free(pool[i]);
	free(pool);
	pool = NULL;
	npool = cappool = 0;
}

/* String bytes one input may still take: bodies of a few hundred KiB at
 * most keep the target fast. */
static size_t big_left;

/*
 * A string from the input, NUL-terminated (a NUL byte ends it): a lead
 * byte below 0xc0 gives up to 95 bytes; above, a unit of up to 32 bytes
 * repeated up to ~2,300 times (values past 16 KiB, up to 17,000 bytes). With nullable,
 * lead byte 0xbf is NULL.
 */
static char *rstr(rd *r, bool nullable)
{
	uint8_t b = r8(r);
	if (nullable && b == 0xbf)
		return NULL;
	size_t unit = b < 0xc0 ? b % 96 : (size_t)(b & 0x1f) + 1;
	size_t reps = 1;
	if (b >= 0xc0) { /* one read per statement: the order is the input's */
		reps += (size_t)r8(r) * 9;
		reps += r8(r);
	}
	if (unit > r->n)
		unit = r->n;
	size_t total = unit * reps;
	if (total > 17000)
		total = 17000;
	if (total > big_left)
		total = big_left;
	big_left -= total;
	char *s = fz_alloc(total + 1);
	for (size_t i = 0; i < total; i++)
		s[i] = (char)r->p[i % unit];
	r->p += unit;
	r->n -= unit;
	return s;
}

/* List and array items one input may still make (with big_left, this
 * keeps an input to a few milliseconds). */
static size_t items_left;

/* How many: mostly a few, now and then hundreds. */
static size_t rcount(rd *r, size_t few)
{
	uint8_t b = r8(r);
	size_t n = b >= 0xf8 ? (size_t)(b - 0xf7) * 80 : b % (few + 1);
	if (n > items_left)
		n = items_left;
	items_left -= n;
	return n;
}

/* A value; with sdk, only the types a caller may pass in. */
static baton_value rvalue(rd *r, bool sdk)
{
	baton_value v = {BATON_VALUE_NONE, {0}, 0};
	uint8_t t = r8(r) % 10;
	size_t n;
	switch (t) {
	case 1: {
		char *s = rstr(r, !sdk);
		v.type = BATON_VALUE_STRING;
		v.u.s = s;
		n = s != NULL ? strlen(s) : 0;
		uint8_t how = r8(r) % 4;
		/* All of it, strlen's, or a prefix (not NUL-terminated there). */
		v.len = how == 0 ? n : how == 1 ? (size_t)-1 : n ? r8(r) % (n + 1) : 0;
		if (s == NULL)
			v.len = r8(r); /* a NULL string with a length: nothing */
		break;
	}
	case 2:
		v.type = BATON_VALUE_BOOL;
		v.u.b = r8(r) & 1;
		break;
	case 3:
		v.type = BATON_VALUE_INT;
		v.u.i = (int64_t)rnum(r, 8 - r8(r) % 8);
		break;
	case 4: {
		uint64_t bits = rnum(r, 8);
		v.type = BATON_VALUE_DOUBLE;
		memcpy(&v.u.d, &bits, sizeof(bits));
		break;
	}
	case 5: {
		n = rcount(r, 6);
		const char **sa = fz_alloc(n * sizeof(*sa));
		for (size_t i = 0; i < n; i++)
			sa[i] = rstr(r, true);
		v.type = BATON_VALUE_STRING_ARRAY;
		v.u.sa = sa;
		v.len = n;
		break;
	}
	case 6: {
		n = rcount(r, 6);
		int64_t *ia = fz_alloc(n * sizeof(*ia));
		for (size_t i = 0; i < n; i++)
			ia[i] = (int64_t)rnum(r, r8(r) % 9);
		v.type = BATON_VALUE_INT_ARRAY;
		v.u.ia = ia;
		v.len = n;
		break;
	}
	case 7: {
		n = rcount(r, 6);
		double *da = fz_alloc(n * sizeof(*da));
		for (size_t i = 0; i < n; i++) {
			uint64_t bits = rnum(r, 8);
			memcpy(&da[i], &bits, sizeof(bits));
		}
		v.type = BATON_VALUE_DOUBLE_ARRAY;
		v.u.da = da;
		v.len = n;
		break;
	}
	case 8: {
		n = rcount(r, 6);
		bool *ba = fz_alloc(n * sizeof(*ba));
		for (size_t i = 0; i < n; i++)
			ba[i] = r8(r) & 1;
		v.type = BATON_VALUE_BOOL_ARRAY;
		v.u.ba = ba;
		v.len = n;
		break;
	}
	case 9:
		/* A type this build does not know: an empty AnyValue. */
		if (!sdk)
			v.type = (baton_value_type)(9 + r8(r));
		break;
	default:
		break;
	}
	return v;
}

/* A hand-built attribute list; *count gets its length. */
static const baton_attr *rattrs(rd *r, uint32_t *count)
{
	size_t n = rcount(r, 6);
	baton_attr *a = n ? fz_alloc(n * sizeof(*a)) : NULL;
	for (size_t i = 0; i < n; i++) {
		a[i].next = i + 1 < n ? &a[i + 1] : NULL;
		a[i].key = rstr(r, true);
		a[i].value = rvalue(r, false);
	}
	*count = (uint32_t)n;
	return a;
}

static uint64_t rthreshold(rd *r)
{
	switch (r8(r) % 6) {
	case 0:
		return 0;
	case 1:
		return BATON_TH_MAX - 1;
	case 2:
		return BATON_TH_MAX; /* not a threshold: none is written */
	case 3:
		return UINT64_MAX;
	default:
		return rnum(r, 7);
	}
}

static void rcontext(rd *r, baton_span_context *c, bool nullable_ts)
{
	rbytes(r, c->trace_id, BATON_TRACE_ID_SIZE);
	rbytes(r, c->span_id, BATON_SPAN_ID_SIZE);
	c->trace_flags = r8(r);
	c->state = r8(r);
	c->threshold = rthreshold(r);
	c->tracestate = rstr(r, nullable_ts);
}

static uint64_t rtime(rd *r)
{
	uint8_t b = r8(r) % 4;
	return b == 0 ? 0 : b == 1 ? UINT64_MAX : rnum(r, 8);
}

static uint32_t rdropped(rd *r)
{
	uint8_t b = r8(r) % 4;
	return b == 0 ? 0 : b == 1 ? UINT32_MAX : (uint32_t)rnum(r, b);
}

/* A batch of span records built by hand: *n gets its size. */
static const baton_span_data **build_direct(rd *r, size_t *n)
{
	size_t nres = 1 + r8(r) % 3, nsc = 1 + r8(r) % 3;
	baton_resource *res = fz_alloc(nres * sizeof(*res));
	baton_scope *sc = fz_alloc(nsc * sizeof(*sc));
	for (size_t i = 0; i < nres; i++) {
		res[i].attrs = rattrs(r, &res[i].nattrs);
		res[i].service_name = rstr(r, true);
	}
	for (size_t i = 0; i < nsc; i++) {
		sc[i].name = rstr(r, true);
		sc[i].version = rstr(r, true);
	}
	size_t ns = 1 + r8(r) % 48;
	baton_span_data *s = fz_alloc(ns * sizeof(*s));
	const baton_span_data **ps = fz_alloc(ns * sizeof(*ps));
	for (size_t i = 0; i < ns; i++) {
		baton_span_data *d = &s[i];
		rcontext(r, &d->context, true);
		if (r8(r) & 1) {
			d->parent = d->context;
			rbytes(r, d->parent.span_id, BATON_SPAN_ID_SIZE);
			d->parent.state = r8(r);
		}
		d->name = rstr(r, true);
		d->kind = (baton_span_kind)(r8(r) % 8);
		d->start_unix_ns = rtime(r);
		d->end_unix_ns = rtime(r);
		d->attrs = rattrs(r, &d->nattrs);
		size_t ne = rcount(r, 4);
		baton_event *ev = ne ? fz_alloc(ne * sizeof(*ev)) : NULL;
		for (size_t k = 0; k < ne; k++) {
			ev[k].next = k + 1 < ne ? &ev[k + 1] : NULL;
			ev[k].name = rstr(r, true);
			ev[k].time_unix_ns = rtime(r);
			ev[k].attrs = rattrs(r, &ev[k].nattrs);
			ev[k].dropped_attrs = rdropped(r);
		}
		d->events = ev;
		d->nevents = (uint32_t)ne;
		size_t nl = rcount(r, 4);
		baton_link *ln = nl ? fz_alloc(nl * sizeof(*ln)) : NULL;
		for (size_t k = 0; k < nl; k++) {
			ln[k].next = k + 1 < nl ? &ln[k + 1] : NULL;
			rcontext(r, &ln[k].context, true);
			ln[k].attrs = rattrs(r, &ln[k].nattrs);
			ln[k].dropped_attrs = rdropped(r);
		}
		d->links = ln;
		d->nlinks = (uint32_t)nl;
		d->dropped_attrs = rdropped(r);
		d->dropped_events = rdropped(r);
		d->dropped_links = rdropped(r);
		d->status = (baton_status_code)(r8(r) % 4);
		d->status_message = rstr(r, true);
		size_t ri = r8(r) % (nres + 1), si = r8(r) % (nsc + 1);
		d->resource = ri < nres ? &res[ri] : NULL;
		d->scope = si < nsc ? &sc[si] : NULL;
		ps[i] = d;
	}
	*n = ns;
	return ps;
}

/* ---- the twin the reference encoder gets: every string repaired ---- */

static char *rep(const char *s, size_t n)
{
	if (s == NULL)
		return NULL;
	char *d = fz_alloc(3 * n + 1);
	d[tu_utf8_repair(d, s, n)] = '\0';
	return d;
}

static const char *rep_c(const char *s)
{
	return s != NULL ? rep(s, strlen(s)) : NULL;
}

static baton_value rep_value(const baton_value *v)
{
	baton_value t = *v;
	if (v->type == BATON_VALUE_STRING && v->u.s != NULL) {
		size_t n = v->len == (size_t)-1 ? strlen(v->u.s) : v->len;
		t.u.s = rep(v->u.s, n);
		t.len = strlen(t.u.s);
	} else if (v->type == BATON_VALUE_STRING_ARRAY) {
		const char **sa = fz_alloc(v->len * sizeof(*sa));
		for (size_t i = 0; i < v->len; i++)
			sa[i] = rep_c(v->u.sa[i]);
		t.u.sa = sa;
	}
	return t;
}

static const baton_attr *rep_attrs(const baton_attr *list)
{
	const baton_attr *head = NULL;
	baton_attr **tail = (baton_attr **)&head;
	for (const baton_attr *a = list; a != NULL; a = a->next) {
		baton_attr *t = fz_alloc(sizeof(*t));
		t->key = rep_c(a->key);
		t->value = rep_value(&a->value);
		*tail = t;
		tail = (baton_attr **)&t->next;
	}
	return head;
}

/* The twin of what from[i] points to, made once: grouping goes by pointer. */
static const void *twin_of(const void **from, const void **to, size_t *n, const void *p,
                           bool is_res)
{
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < *n; i++) {
		if (from[i] == p)
			return to[i];
	}
	const void *t;
	if (is_res) {
		const baton_resource *r = p;
		baton_resource *c = fz_alloc(sizeof(*c));
		c->attrs = rep_attrs(r->attrs);
		c->nattrs = r->nattrs;
		c->service_name = rep_c(r->service_name);
		t = c;
	} else {
		const baton_scope *s = p;
		baton_scope *c = fz_alloc(sizeof(*c));
		c->name = rep_c(s->name);
		c->version = rep_c(s->version);
		t = c;
	}
	from[*n] = p;
	to[(*n)++] = t;
	return t;
}

static const baton_span_data **make_twin(const baton_span_data *const *spans, size_t n)
{
	const baton_span_data **tw = fz_alloc(n * sizeof(*tw));
	const void **rf = fz_alloc(n * sizeof(void *)),
	           **rt = fz_alloc(n * sizeof(void *));
	const void **sf = fz_alloc(n * sizeof(void *)),
	           **st = fz_alloc(n * sizeof(void *));
	size_t nr = 0, nsc = 0;
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *s = spans[i];
		baton_span_data *t = fz_alloc(sizeof(*t));
		*t = *s;
		t->context.tracestate = rep_c(s->context.tracestate);
		t->parent.tracestate = NULL;
		t->name = rep_c(s->name);
		t->status_message = rep_c(s->status_message);
		t->attrs = rep_attrs(s->attrs);
		const baton_event *eh = NULL;
		baton_event **et = (baton_event **)&eh;
		for (const baton_event *ev = s->events; ev != NULL; ev = ev->next) {
			baton_event *c = fz_alloc(sizeof(*c));
			*c = *ev;
			c->next = NULL;
			c->name = rep_c(ev->name);
			c->attrs = rep_attrs(ev->attrs);
			*et = c;
			et = (baton_event **)&c->next;
		}
		t->events = eh;
		const baton_link *lh = NULL;
		baton_link **lt = (baton_link **)&lh;
		for (const baton_link *l = s->links; l != NULL; l = l->next) {
			baton_link *c = fz_alloc(sizeof(*c));
			*c = *l;
			c->next = NULL;
			c->context.tracestate = rep_c(l->context.tracestate);
			c->attrs = rep_attrs(l->attrs);
			*lt = c;
			lt = (baton_link **)&c->next;
		}
		t->links = lh;
		t->resource = twin_of(rf, rt, &nr, s->resource, true);
		t->scope = twin_of(sf, st, &nsc, s->scope, false);
		tw[i] = t;
	}
	return tw;
}

/* ---- the decoded request ---- */

/* ---- an allocator that fails its k-th call on this thread ---- */

static _Thread_local bool armed;
static long alloc_calls, fail_at;

static bool alloc_fails(void)
{
	return armed && alloc_calls++ == fail_at;
}
static void *fail_malloc(size_t n)
{
	return alloc_fails() ? NULL : malloc(n);
}
static void *fail_calloc(size_t k, size_t n)
{
	return alloc_fails() ? NULL : calloc(k, n);
}
static void *fail_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : realloc(p, n);
}
static const baton_allocator fail_alloc = {fail_malloc, fail_calloc, fail_realloc, free};

/* ---- the invariants ---- */

static bool same(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	return la == lb && (la == 0 || memcmp(a, b, la) == 0);
}

static void check_batch(const baton_span_data *const *spans, size_t n, unsigned k)
{
	const baton_span_data *const *twin = make_twin(spans, n);
	bt_otlp_enc *ref, *e, *c;
	const uint8_t *want, *body;
	size_t want_len, len;
	CHECK(bt_otlp_enc_create(&ref) == BATON_OK);
	CHECK(bt_otlp_enc_create(&e) == BATON_OK);
	CHECK(bt_otlp_encode_pbc(ref, twin, n, SIZE_MAX, &want, &want_len) == BATON_OK);

	CHECK(bt_otlp_encode(e, spans, n, SIZE_MAX, &body, &len) == BATON_OK);
	CHECK(same(body, len, want, want_len));
	if (n > 0) {
		Btotlp__ExportTraceServiceRequest *req =
		    btotlp__export_trace_service_request__unpack(NULL, len, body);
		CHECK(req != NULL);
		size_t got = 0;
		CHECK(tu_otlp_request_utf8_ok(req, &got));
		CHECK(got == n);
		btotlp__export_trace_service_request__free_unpacked(req, NULL);
	}

	/* Limits at the byte, on the warm encoder, then unlimited again. */
	CHECK(bt_otlp_encode(e, spans, n, want_len, &body, &len) == BATON_OK);
	CHECK(same(body, len, want, want_len));
	if (want_len > 0)
		CHECK(bt_otlp_encode(e, spans, n, want_len - 1, &body, &len) ==
		      BATON_ETOOBIG);
	CHECK(bt_otlp_encode(e, spans, n, SIZE_MAX, &body, &len) == BATON_OK);
	CHECK(same(body, len, want, want_len));

	/* The same on cold encoders, whose buffer stays within the limit. */
	for (int less = 0; less < 2 && (less == 0 || want_len > 0); less++) {
		size_t limit = want_len - (size_t)less;
		CHECK(bt_otlp_enc_create(&c) == BATON_OK);
		baton_err rv = bt_otlp_encode(c, spans, n, limit, &body, &len);
		CHECK(rv == (less ? BATON_ETOOBIG : BATON_OK));
		if (rv == BATON_OK)
			CHECK(same(body, len, want, want_len));
		/* At most limit + 256 bytes, or the first 4 KiB. */
		CHECK(bt_otlp_out(c)->cap <= (limit + 256 < 4096 ? 4096 : limit + 256));
		CHECK(bt_otlp_encode(c, spans, n, SIZE_MAX, &body, &len) == BATON_OK);
		CHECK(same(body, len, want, want_len));
		bt_otlp_enc_destroy(c);
	}

	/* The k-th allocation of a cold encoder fails. */
	CHECK(bt_otlp_enc_create(&c) == BATON_OK);
	alloc_calls = 0;
	fail_at = (long)k;
	armed = true;
	baton_err rv = bt_otlp_encode(c, spans, n, SIZE_MAX, &body, &len);
	armed = false;
	bool failed = alloc_calls > fail_at;
	if (rv == BATON_OK) {
		CHECK(!failed);
		CHECK(same(body, len, want, want_len));
	} else {
		CHECK(rv == BATON_ENOMEM && failed);
	}
	CHECK(bt_otlp_encode(c, spans, n, SIZE_MAX, &body, &len) == BATON_OK);
	CHECK(same(body, len, want, want_len));
	bt_otlp_enc_destroy(c);

	bt_otlp_enc_destroy(e);
	bt_otlp_enc_destroy(ref);
}

/* ---- spans through the SDK ---- */

#define KEEP_MAX 64
static const baton_span_data *kept[KEEP_MAX];
static size_t nkept;

static void keep_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	if (nkept < KEEP_MAX)
		kept[nkept++] = span;
	else
		baton_span_data_release(span);
}
static const baton_processor_ops keep_ops = {
    sizeof(baton_processor_ops), "keep", keep_on_end, NULL, NULL, NULL, NULL};

static baton_kv *rkvs(rd *r, size_t *n)
{
	*n = rcount(r, 4);
	baton_kv *kv = *n ? fz_alloc(*n * sizeof(*kv)) : NULL;
	for (size_t i = 0; i < *n; i++) {
		kv[i].key = rstr(r, false);
		kv[i].value = rvalue(r, true);
	}
	return kv;
}

/* A context from another process, as a transport extracts it. */
static void rremote(rd *r, baton_span_context *c)
{
	rcontext(r, c, true);
	c->trace_id[0] |= 1;
	c->span_id[0] |= 1;
	c->trace_flags = (uint8_t)(c->trace_flags | BATON_FLAG_SAMPLED);
	c->state =
	    (uint8_t)(BATON_CTX_VALID | BATON_CTX_REMOTE | (c->state & BATON_CTX_HAS_TH));
	if (c->threshold >= BATON_TH_MAX)
		c->state &= (uint8_t)~BATON_CTX_HAS_TH;
}

static void sdk_ops(rd *r, baton_span s)
{
	size_t nops = r8(r) % 16;
	for (size_t i = 0; i < nops; i++) {
		uint8_t op = r8(r) % 12;
		const char *key = op < 7 ? rstr(r, false) : NULL;
		switch (op) {
		case 0:
			baton_span_set_str(s, key, rstr(r, false));
			break;
		case 1:
		case 2: {
			const char *v = rstr(r, false);
			size_t n = strlen(v);
			n = n ? r8(r) % (n + 1) : 0;
			if (op == 1)
				baton_span_set_strn(s, key, v, n);
			else
				baton_span_set_remote_strn(s, key, v, n);
			break;
		}
		case 3:
			baton_span_set_int(s, key, (int64_t)rnum(r, 8));
			break;
		case 4: {
			double d;
			uint64_t bits = rnum(r, 8);
			memcpy(&d, &bits, sizeof(d));
			baton_span_set_double(s, key, d);
			break;
		}
		case 5:
			baton_span_set_bool(s, key, r8(r) & 1);
			break;
		case 6: {
			baton_value v = rvalue(r, true);
			baton_span_set_value(s, key, &v);
			break;
		}
		case 7: {
			const char *name = rstr(r, false);
			uint64_t t = rtime(r);
			size_t nkv;
			baton_kv *kv = rkvs(r, &nkv);
			baton_span_add_event(s, name, t, kv, nkv);
			break;
		}
		case 8: {
			baton_span_context c;
			memset(&c, 0, sizeof(c));
			rremote(r, &c);
			size_t nkv;
			baton_kv *kv = rkvs(r, &nkv);
			baton_span_add_link(s, &c, kv, nkv);
			break;
		}
		case 9: {
			baton_status_code code = (baton_status_code)(r8(r) % 3);
			baton_span_set_status(s, code, rstr(r, true));
			break;
		}
		case 10:
			baton_span_update_name(s, rstr(r, false));
			break;
		default: {
			const char *type = rstr(r, true);
			baton_span_record_error(s, type, rstr(r, true));
			break;
		}
		}
	}
}

static void run_sdk(rd *r, unsigned k)
{
	baton_processor p = {&keep_ops, NULL};
	size_t nres;
	baton_kv *res = rkvs(r, &nres);
	baton_options o = {.size = sizeof(o),
	                   .service_name = rstr(r, true),
	                   .resource_attrs = res,
	                   .nresource_attrs = nres,
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.attribute_count = r8(r) % 24;
	o.limits.event_count = r8(r) % 8;
	o.limits.link_count = r8(r) % 8;
	o.limits.event_attribute_count = r8(r) % 8;
	o.limits.link_attribute_count = r8(r) % 8;
	o.limits.attribute_value_length = r8(r) % 64;
	static const uint32_t arenas[] = {0, 512, 2048, 8192, 65536};
	o.limits.span_arena_bytes = arenas[r8(r) % 5];
	nkept = 0;
	if (baton_init(&o) != BATON_OK)
		return;
	size_t ntr = 1 + r8(r) % 3;
	baton_tracer *tr[3];
	for (size_t i = 0; i < ntr; i++) {
		const char *name = rstr(r, false);
		tr[i] = baton_tracer_get(name, rstr(r, true));
	}
	size_t ns = 1 + r8(r) % 24;
	for (size_t i = 0; i < ns && r->n > 0; i++) {
		baton_span_context parent, *links = NULL;
		baton_span_start_opts so;
		memset(&so, 0, sizeof(so));
		uint8_t how = r8(r);
		so.kind = (baton_span_kind)(how % 6);
		so.flags = BATON_START_NO_CURRENT;
		if (how & 0x40) {
			memset(&parent, 0, sizeof(parent));
			rremote(r, &parent);
			so.parent = &parent;
		}
		if (how & 0x80) {
			so.nlinks = 1 + r8(r) % 3;
			links = fz_alloc(so.nlinks * sizeof(*links));
			for (size_t l = 0; l < so.nlinks; l++)
				rremote(r, &links[l]);
			so.links = links;
		}
		so.start_time_ns = rtime(r);
		so.attrs = rkvs(r, &so.nattrs);
		const char *name = rstr(r, false);
		baton_span s = baton_span_start_ex(tr[r8(r) % ntr], name, &so);
		sdk_ops(r, s);
		if (r8(r) & 1)
			baton_span_end_at(s, rtime(r));
		else
			baton_span_end(s);
	}
	/* The SDK's own promise: what reaches a processor is well-formed. */
	for (size_t i = 0; i < nkept; i++)
		CHECK(tu_span_utf8_ok(kept[i]));
	check_batch(kept, nkept, k);
	for (size_t i = 0; i < nkept; i++)
		baton_span_data_release(kept[i]);
	nkept = 0;
	baton_fini(1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rd r = {data, size};
	big_left = 20 * 1024;
	items_left = 1500;
	uint8_t mode = r8(&r);
	unsigned k = r8(&r) % 24;
	if (baton_set_allocator(&fail_alloc) != BATON_OK)
		abort();
	if (mode & 1) {
		run_sdk(&r, k);
	} else {
		size_t n;
		const baton_span_data **spans = build_direct(&r, &n);
		check_batch(spans, n, k);
	}
	fz_free_all();
	return 0;
}
