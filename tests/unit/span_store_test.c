/*
 * The span store: compact records with overflow for big spans, a default
 * size that lets the queue fill first, and records that go back to the
 * thread that started them.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trace/trace_int.h"

/* ---- a counting allocator: bytes baton holds ---- */

static _Atomic long long live_bytes;

static void *count_malloc(size_t n)
{
	size_t *p = malloc(n + 16);
	if (p == NULL)
		return NULL;
	p[0] = n;
	atomic_fetch_add(&live_bytes, (long long)n);
	return (char *)p + 16;
}

static void *count_calloc(size_t k, size_t n)
{
	void *p = count_malloc(k * n);
	if (p != NULL)
		memset(p, 0, k * n);
	return p;
}

static void *count_realloc(void *old, size_t n)
{
	if (old == NULL)
		return count_malloc(n);
	size_t *h = (size_t *)(void *)((char *)old - 16);
	size_t was = h[0];
	size_t *p = realloc(h, n + 16);
	if (p == NULL)
		return NULL;
	p[0] = n;
	atomic_fetch_add(&live_bytes, (long long)n - (long long)was);
	return (char *)p + 16;
}

static void count_free(void *q)
{
	if (q == NULL)
		return;
	size_t *h = (size_t *)(void *)((char *)q - 16);
	atomic_fetch_sub(&live_bytes, (long long)h[0]);
	free(h);
}

static void use_counting_allocator(void)
{
	baton_allocator a = {count_malloc, count_calloc, count_realloc, count_free};
	cr_assert_eq(baton_set_allocator(&a), BATON_OK);
}

/* ---- a processor that holds what ends, for the test to look at ---- */

#define HELD_MAX 4096
static const baton_span_data *held[HELD_MAX];
static size_t nheld;

static void hold_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	if (nheld < HELD_MAX)
		held[nheld++] = span;
	else
		baton_span_data_release(span);
}

static void release_held(void)
{
	for (size_t i = 0; i < nheld; i++)
		baton_span_data_release(held[i]);
	nheld = 0;
}

static const baton_processor_ops hold_ops = {
    sizeof(baton_processor_ops), "hold", hold_on_end, NULL, NULL, NULL};

static void init_holding(const baton_limits *lim)
{
	baton_processor p = {&hold_ops, NULL};
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (lim != NULL)
		o.limits = *lim;
	cr_assert_eq(baton_init(&o), BATON_OK);
}

static void fini_holding(void)
{
	release_held();
	baton_fini(1000);
}

/* The span every benchmark line measures: a name and 3 attributes. */
static baton_span bench_span(baton_tracer *t)
{
	baton_span s = baton_span_start(t, "process guild.message");
	baton_span_set_str(s, "messaging.system", "nng");
	baton_span_set_int(s, "messaging.message.body.size", 512);
	baton_span_set_bool(s, "baton.fanout", true);
	return s;
}

Test(span_store, a_span_with_three_attributes_costs_at_most_512_bytes,
     .fini = fini_holding)
{
	use_counting_allocator();
	unsetenv("BATON_MAX_SPANS");
	unsetenv("BATON_SPAN_ARENA_BYTES");
	init_holding(NULL);
	cr_assert_leq(bt_prov.store.rec_size, 512, "a record is %zu bytes",
	              bt_prov.store.rec_size);
	baton_tracer *t = baton_tracer_get("store", NULL);
	/* The store grows a chunk at a time: count whole chunks. */
	baton_span warm = bench_span(t);
	long long before = atomic_load(&live_bytes);
	enum { N = 64 * 40 };
	static baton_span open[N];
	for (int i = 0; i < N; i++)
		open[i] = bench_span(t);
	long long per_span = (atomic_load(&live_bytes) - before) / N;
	for (int i = 0; i < N; i++)
		baton_span_end(open[i]);
	baton_span_end(warm);
	cr_assert_leq(per_span, 512, "%lld bytes a span", per_span);
	cr_assert_eq(nheld, N + 1);
	for (size_t i = 0; i < nheld; i++) {
		cr_assert_eq(held[i]->nattrs, 4, "3 attributes and SampleRate");
		cr_assert_eq(held[i]->dropped_attrs, 0);
	}
}

/* An allocator whose blocks all start 16 bytes past a cache line. */
static void *skew_malloc(size_t n)
{
	char *b = aligned_alloc(64, (n + 16 + 63) / 64 * 64);
	if (b == NULL)
		return NULL;
	memcpy(b, &n, sizeof(n));
	return b + 16;
}

static void *skew_calloc(size_t k, size_t n)
{
	char *p = skew_malloc(k * n);
	if (p != NULL)
		memset(p, 0, k * n);
	return p;
}

static void skew_free(void *q)
{
	if (q != NULL)
		free((char *)q - 16);
}

static void *skew_realloc(void *old, size_t n)
{
	char *p = skew_malloc(n);
	if (p != NULL && old != NULL) {
		size_t was;
		memcpy(&was, (char *)old - 16, sizeof(was));
		memcpy(p, old, was < n ? was : n);
		skew_free(old);
	}
	return p;
}

/*
 * An exporter reads records other threads wrote while those threads write
 * the records next to them: each record starts on a cache line and shares
 * none, whatever the allocator's alignment, so baton_span_data_prefetch()
 * fetches exactly its lines.
 */
Test(span_store, records_start_on_cache_lines_and_share_none, .fini = fini_holding)
{
	baton_allocator skew = {skew_malloc, skew_calloc, skew_realloc, skew_free};
	cr_assert_eq(baton_set_allocator(&skew), BATON_OK);
	init_holding(NULL);
	baton_tracer *t = baton_tracer_get("store", NULL);
	for (int i = 0; i < 200; i++)
		baton_span_end(bench_span(t));
	cr_assert_eq(nheld, 200);
	for (size_t i = 0; i < nheld; i++) {
		uintptr_t at = (uintptr_t)held[i];
		cr_assert_eq(at % 64, 0, "record %zu at %#lx", i, (unsigned long)at);
		cr_assert_eq(bt_prov.store.rec_size % 64, 0);
		baton_span_data_prefetch(held[i]);
	}
	baton_span_data_prefetch(NULL);
}

Test(span_store, a_span_with_many_attributes_keeps_them_past_its_record,
     .fini = fini_holding)
{
	use_counting_allocator();
	unsetenv("BATON_SPAN_ARENA_BYTES");
	init_holding(NULL); /* a 2048-byte budget per span */
	baton_tracer *t = baton_tracer_get("store", NULL);
	baton_span_end(baton_span_start(t, "warm")); /* the store's first chunk */
	release_held();
	long long before = atomic_load(&live_bytes);
	baton_span s = baton_span_start(t, "many");
	char val[32];
	for (int i = 0; i < 20; i++) { /* ~80 bytes each: 1600 of the 2048 */
		char key[8];
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(val, sizeof(val), "value %02d %s", i, "0123456789abcdefghi");
		baton_span_set_str(s, key, val);
	}
	baton_kv ev[] = {BATON_KV_STR("where", "past the inline arena")};
	baton_span_add_event(s, "late", 0, ev, 1);
	baton_span_end(s);
	cr_assert_eq(nheld, 1);
	const baton_span_data *d = held[0];
	cr_assert_eq(d->nattrs, 21);
	cr_assert_eq(d->dropped_attrs, 0);
	cr_assert_str_eq(d->name, "many");
	const baton_attr *a = d->attrs;
	cr_assert_str_eq(a->key, "SampleRate");
	a = a->next;
	for (int i = 0; i < 20; i++, a = a->next) {
		char key[8];
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(val, sizeof(val), "value %02d %s", i, "0123456789abcdefghi");
		cr_assert_str_eq(a->key, key);
		cr_assert_eq(a->value.type, BATON_VALUE_STRING);
		cr_assert_str_eq(a->value.u.s, val);
		cr_assert_eq(a->value.len, strlen(val));
	}
	cr_assert_null(a);
	cr_assert_eq(d->nevents, 1);
	cr_assert_str_eq(d->events->name, "late");
	cr_assert_str_eq(d->events->attrs->value.u.s, "past the inline arena");
	release_held();
	cr_assert_eq(atomic_load(&live_bytes), before,
	             "the overflow goes with the record: %lld bytes left",
	             atomic_load(&live_bytes) - before);
}

Test(span_store, the_budget_is_span_arena_bytes_inline_and_overflow_together,
     .fini = fini_holding)
{
	baton_limits lim = {.span_arena_bytes = 4096};
	init_holding(&lim);
	baton_span s = baton_span_start(baton_tracer_get("store", NULL), "b");
	char v[200];
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (int i = 0; i < 40; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%02d", i);
		baton_span_set_str(s, key, v);
	}
	baton_span_end(s);
	const baton_span_data *d = held[0];
	/* Each: a 40-byte node, a 4-byte key, 200 bytes of value: 244, 248
	 * aligned. 2 + 56 (name, SampleRate) + 16 * 248 = 4026 <= 4096; a 17th
	 * does not fit. */
	cr_assert_eq(d->nattrs, 1 + 16, "%u attributes", d->nattrs);
	cr_assert_eq(d->dropped_attrs, 40 - 16);
	const baton_attr *a = d->attrs->next;
	for (int i = 0; i < 16; i++, a = a->next)
		cr_assert_str_eq(a->value.u.s, v);
}

Test(span_store, remote_values_past_the_record_take_three_eighths_of_the_budget,
     .fini = fini_holding)
{
	unsetenv("BATON_SPAN_ARENA_BYTES");
	init_holding(NULL);
	baton_span s = baton_span_start(baton_tracer_get("store", NULL), "server");
	char local[120];
	memset(local, 'l', sizeof(local) - 1);
	local[sizeof(local) - 1] = '\0';
	baton_span_set_str(s, "local.a", local); /* the inline arena is nearly full */
	baton_span_set_str(s, "local.b", local);
	/* Remote values of 3-byte characters: each takes half of what is left
	 * of the share, cut between characters. */
	char remote[1500];
	size_t n = 0;
	while (n + 3 < sizeof(remote)) {
		memcpy(remote + n, "\xe2\x82\xac", 3); /* U+20AC */
		n += 3;
	}
	remote[n] = '\0';
	for (int i = 0; i < 12; i++) {
		char key[12];
		snprintf(key, sizeof(key), "remote.%d", i);
		baton_span_set_remote_strn(s, key, remote, n);
	}
	baton_span_set_str(s, "local.c", local); /* local room is left after them */
	baton_span_end(s);
	const baton_span_data *d = held[0];
	size_t remote_bytes = 0;
	for (const baton_attr *a = d->attrs; a != NULL; a = a->next) {
		if (strncmp(a->key, "remote.", 7) != 0)
			continue;
		cr_assert_eq(a->value.len % 3, 0, "cut between characters");
		cr_assert_eq(bt_utf8_valid_prefix(a->value.u.s, a->value.len),
		             a->value.len);
		remote_bytes += a->value.len + 1;
	}
	cr_assert_gt(remote_bytes, 256, "remote values past the inline arena");
	cr_assert_leq(remote_bytes, BT_REMOTE_SHARE(2048));
	cr_assert_not_null(baton_attr_find(d->attrs, "local.c"));
	cr_assert_str_eq(baton_attr_find(d->attrs, "local.c")->value.u.s, local);
}

/* ---- the default size: a burst fills the queue, not the store ---- */

Test(span_store, with_defaults_a_burst_is_dropped_at_the_queue_not_at_span_start)
{
	unsetenv("BATON_MAX_SPANS");
	enum { QUEUE = 32768, BURST = 50000 };
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = QUEUE,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = 1};
	/* The gate holds the worker's first batch: the rest stays queued. */
	baton_processor p = tu_init_batch(tu_gate_exporter(), &bo);
	baton_tracer *t = baton_tracer_get("burst", NULL);
	for (int i = 0; i < BURST; i++)
		baton_span_end(bench_span(t));
	baton_sdk_stats ss;
	baton_batch_stats bs;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(baton_batch_processor_stats(p, &bs), BATON_OK);
	tu_gate_open();
	baton_fini(5000);
	cr_assert_eq(ss.spans_dropped_no_store, 0, "%llu refused at span start",
	             (unsigned long long)ss.spans_dropped_no_store);
	cr_assert_eq(ss.spans_started, BURST);
	cr_assert_eq(bs.spans_received, BURST);
	/* The ring held QUEUE, this thread's lane (8 batches: 4096) more, the
	 * blocked export at most a batch more. */
	cr_assert_geq(bs.dropped_queue_full, BURST - QUEUE - 4096 - 512,
	              "%llu dropped at the queue",
	              (unsigned long long)bs.dropped_queue_full);
	cr_assert_leq(bs.dropped_queue_full, BURST - QUEUE);
}

/* ---- records go back to the thread that started them ---- */

static pthread_mutex_t rel_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rel_cv = PTHREAD_COND_INITIALIZER;
static const baton_span_data *to_release[256];
static size_t nto_release;
static bool release_gathered, releaser_quit, released;

/* Another thread: releases what it is given, then stays alive until told. */
static void *releaser(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rel_mtx);
	for (;;) {
		while (nto_release == 0 && !releaser_quit)
			pthread_cond_wait(&rel_cv, &rel_mtx);
		if (releaser_quit)
			break;
		if (release_gathered)
			bt_store_release_begin();
		for (size_t i = 0; i < nto_release; i++)
			baton_span_data_release(to_release[i]);
		if (release_gathered)
			bt_store_release_end();
		nto_release = 0;
		released = true;
		pthread_cond_broadcast(&rel_cv);
	}
	pthread_mutex_unlock(&rel_mtx);
	return NULL;
}

/* Hands n held spans to the releaser thread and waits until it is done. */
static void release_elsewhere(bool gathered)
{
	pthread_mutex_lock(&rel_mtx);
	memcpy(to_release, held, nheld * sizeof(held[0]));
	nto_release = nheld;
	release_gathered = gathered;
	released = false;
	nheld = 0;
	pthread_cond_broadcast(&rel_cv);
	while (!released)
		pthread_cond_wait(&rel_cv, &rel_mtx);
	pthread_mutex_unlock(&rel_mtx);
}

static void stop_releaser(pthread_t th)
{
	pthread_mutex_lock(&rel_mtx);
	releaser_quit = true;
	pthread_cond_broadcast(&rel_cv);
	pthread_mutex_unlock(&rel_mtx);
	pthread_join(th, NULL);
}

static void records_come_back(bool gathered)
{
	pthread_t th;
	init_holding(NULL);
	cr_assert_eq(pthread_create(&th, NULL, releaser, NULL), 0);
	baton_tracer *t = baton_tracer_get("store", NULL);
	enum { N = 100 };
	uint32_t idx[N];
	for (int i = 0; i < N; i++) {
		baton_span s = baton_span_start(t, "away");
		idx[i] = BT_HANDLE_INDEX(s.id);
		baton_span_end(s);
	}
	release_elsewhere(gathered); /* the other thread keeps running */
	/* This thread's next spans use those records again (kept open, so
	 * none is reused twice). */
	static baton_span open[1024];
	bool back[N] = {false};
	int nback = 0, nopen = 0;
	while (nback < N && nopen < 1024) {
		baton_span s = baton_span_start(t, "again");
		open[nopen++] = s;
		for (int i = 0; i < N; i++) {
			if (!back[i] && idx[i] == BT_HANDLE_INDEX(s.id)) {
				back[i] = true;
				nback++;
			}
		}
	}
	for (int i = 0; i < nopen; i++)
		baton_span_end(open[i]);
	release_held();
	stop_releaser(th);
	baton_fini(1000);
	cr_assert_eq(nback, N, "%d of %d records came back within %d spans", nback, N,
	             nopen);
	cr_assert_leq(nopen, 2 * BT_CHUNK_SPANS + N, "%d spans", nopen);
}

/*
 * A span in a thread-exit destructor that runs after the counters' own
 * (a key made later): the thread counts again from zero, so its spans are
 * counted once each, the ones before its exit too.
 */
static pthread_key_t late_key;

static void late_span(void *arg)
{
	(void)arg;
	baton_span_end(baton_span_start(baton_tracer_get("late", NULL), "late"));
}

static void *spans_then_exit(void *arg)
{
	(void)arg;
	pthread_setspecific(late_key, (void *)1);
	tu_make_spans("early", 5);
	return NULL;
}

Test(span_store, a_span_in_a_late_thread_exit_destructor_is_counted_once)
{
	tu_init_release(baton_sampler_always_on());
	cr_assert_eq(pthread_key_create(&late_key, late_span), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, spans_then_exit, NULL), 0);
	pthread_join(th, NULL);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_started, 6, "%llu", (unsigned long long)ss.spans_started);
	cr_assert_eq(ss.spans_ended, 6, "%llu", (unsigned long long)ss.spans_ended);
	baton_fini(1000);
	pthread_key_delete(late_key);
}

Test(span_store, a_record_released_on_another_thread_comes_back_to_its_starter)
{
	records_come_back(false);
}

Test(span_store, a_worker_gives_records_back_in_bundles_to_their_starter)
{
	records_come_back(true);
}

/* A thread that started spans and went idle does not strand their records. */
static baton_tracer *idle_tracer;
static pthread_mutex_t idle_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static int idle_stage;

static void *idle_starter(void *arg)
{
	(void)arg;
	for (int i = 0; i < 128; i++)
		baton_span_end(baton_span_start(idle_tracer, "idle"));
	pthread_mutex_lock(&idle_mtx);
	idle_stage = 1;
	pthread_cond_broadcast(&idle_cv);
	while (idle_stage != 2) /* stays alive, starting nothing */
		pthread_cond_wait(&idle_cv, &idle_mtx);
	pthread_mutex_unlock(&idle_mtx);
	return NULL;
}

Test(span_store, records_returned_to_an_idle_thread_are_taken_before_a_span_is_refused)
{
	pthread_t starter, rel;
	baton_limits lim = {.max_live_spans = 128};
	init_holding(&lim);
	idle_tracer = baton_tracer_get("store", NULL);
	cr_assert_eq(pthread_create(&rel, NULL, releaser, NULL), 0);
	cr_assert_eq(pthread_create(&starter, NULL, idle_starter, NULL), 0);
	pthread_mutex_lock(&idle_mtx);
	while (idle_stage != 1)
		pthread_cond_wait(&idle_cv, &idle_mtx);
	pthread_mutex_unlock(&idle_mtx);
	cr_assert_eq(nheld, 128);
	release_elsewhere(true); /* all 128 go back to the idle starter's slot */
	int recording = 0;
	static baton_span open[128];
	for (int i = 0; i < 128; i++) {
		open[i] = baton_span_start(idle_tracer, "here");
		recording += baton_span_is_recording(open[i]);
	}
	for (int i = 0; i < 128; i++)
		baton_span_end(open[i]);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	pthread_mutex_lock(&idle_mtx);
	idle_stage = 2;
	pthread_cond_broadcast(&idle_cv);
	pthread_mutex_unlock(&idle_mtx);
	pthread_join(starter, NULL);
	release_held();
	stop_releaser(rel);
	baton_fini(1000);
	cr_assert_eq(recording, 128, "%d of 128 spans recorded", recording);
	cr_assert_eq(ss.spans_dropped_no_store, 0);
}

/* ---- a thread that cannot get its per-thread state ---- */

/* calloc refuses blocks of refuse_from to refuse_to bytes on a refusing thread. */
static _Thread_local size_t refuse_from, refuse_to;

static void *refusing_calloc(size_t k, size_t n)
{
	if (refuse_from != 0 && k * n >= refuse_from && k * n <= refuse_to)
		return NULL;
	return calloc(k, n);
}

struct refusal {
	size_t from, to;
	baton_tracer *t;
	baton_span span;
	uint32_t token;
	bool recording;
};

static void *refused_thread(void *arg)
{
	struct refusal *r = arg;
	refuse_from = r->from;
	refuse_to = r->to;
	r->span = bench_span(r->t);
	r->recording = baton_span_is_recording(r->span);
	r->token = baton_span_attach(r->span);
	if (r->token != 0)
		baton_span_detach(r->token);
	baton_span_end(r->span);
	return NULL;
}

static struct refusal run_refused(size_t from, size_t to)
{
	struct refusal r = {.from = from, .to = to, .t = baton_tracer_get("store", NULL)};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, refused_thread, &r), 0);
	pthread_join(th, NULL);
	return r;
}

/* No memory for any per-thread block: the span is refused and counted, the
 * attach fails with 0, nothing crashes; another thread traces as before. */
Test(span_store, a_thread_without_memory_for_its_state_loses_spans_counted,
     .fini = fini_holding)
{
	baton_allocator a = {NULL, refusing_calloc, NULL, NULL};
	cr_assert_eq(baton_set_allocator(&a), BATON_OK);
	init_holding(NULL);
	struct refusal r = run_refused(256, SIZE_MAX);
	cr_assert_not(r.recording);
	cr_assert_eq(r.token, 0, "no frames for the context stack");
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_dropped_no_store, 1, "the refused span is counted");
	cr_assert_eq(nheld, 0);

	r = run_refused(0, 0); /* a thread with memory */
	cr_assert(r.recording);
	cr_assert_neq(r.token, 0);
	cr_assert_eq(nheld, 1);
	cr_assert_not_null(baton_attr_find(held[0]->attrs, "baton.fanout"));
}

/* Memory for the records and the record cache but not for the intern caches
 * (9 KiB) or the context stack (4.5 KiB): spans keep their keys and values
 * exactly, only the attach fails. */
Test(span_store, a_thread_without_intern_caches_keeps_spans_exact, .fini = fini_holding)
{
	baton_allocator a = {NULL, refusing_calloc, NULL, NULL};
	cr_assert_eq(baton_set_allocator(&a), BATON_OK);
	init_holding(NULL);
	struct refusal r = run_refused(4096, 16384);
	cr_assert(r.recording);
	cr_assert_eq(r.token, 0, "no frames for the context stack");
	cr_assert_eq(nheld, 1);
	const baton_span_data *d = held[0];
	cr_assert_str_eq(d->name, "process guild.message");
	const baton_attr *v = baton_attr_find(d->attrs, "messaging.system");
	cr_assert_not_null(v);
	cr_assert_str_eq(v->value.u.s, "nng");
	cr_assert_not_null(baton_attr_find(d->attrs, "messaging.message.body.size"));
	cr_assert_not_null(baton_attr_find(d->attrs, "baton.fanout"));
}
