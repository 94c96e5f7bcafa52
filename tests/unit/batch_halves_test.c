/*
 * The batch span processor with an exporter that exports in two halves
 * (export_begin / export_end): every begin is answered by one end, in
 * order, two at most in flight; a backlog is pipelined; each end counts its
 * own batch; nothing stays unanswered while the worker idles; spans are
 * released when export_begin returns; a shutdown cuts what is begun and
 * counts it once; an exporter built before the halves keeps export_spans.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include "testutil.h"
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a test waits for the worker to reach a state before it fails. */
#define WAIT_MS 5000

#define MAX_CALLS 4096

/*
 * A fake exporter in two halves. It checks the processor's side of the
 * contract itself (anything wrong lands in violations, the first one's text
 * in why) and records what it was given and what it answered. Ends can be
 * held: with gated set, export_end waits for a permit (or the exporter's
 * shutdown, after which it returns BATON_ECLOSED at once). The result of
 * the i-th end is script[i] when i < nscript, else success.
 */
struct hx {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool gated;
	unsigned permits;
	bool cut;
	bool deaf; /* its shutdown does not cut a held end */
	unsigned shutdowns;
	size_t begins, ends;    /* calls that returned */
	size_t fifo[MAX_CALLS]; /* sizes of the batches begun, oldest first */
	size_t head;            /* fifo[head] is the oldest begun, not ended */
	size_t pending;         /* begun and not ended */
	size_t max_pending;
	size_t overlaps; /* begins while another batch was pending */
	bool in_begin, in_end;
	size_t export_spans_calls, flush_calls;
	size_t violations;
	char why[160];
	size_t spans_ok, spans_failed, spans_cut;
	baton_export_result script[16];
	size_t nscript;
	/* With check_live: the SDK's spans_live as each begin was entered. */
	bool check_live;
	uint64_t live_at_begin[16];
};

static void hx_violation(struct hx *h, const char *what)
{
	if (h->violations++ == 0)
		snprintf(h->why, sizeof(h->why), "%s (begins %zu, ends %zu)", what,
		         h->begins, h->ends);
}

static void hx_begin(void *arg, const baton_span_data *const *spans, size_t n)
{
	struct hx *h = arg;
	uint64_t live = 0;
	if (h->check_live) {
		/* Outside our lock: the stats hook takes the processor's. */
		baton_sdk_stats ss;
		baton_sdk_stats_get(&ss);
		live = ss.spans_live;
	}
	pthread_mutex_lock(&h->mtx);
	if (h->in_begin || h->in_end)
		hx_violation(h, "export_begin while another half runs");
	if (h->pending >= 2)
		hx_violation(h, "a third batch begun before the oldest ended");
	if (n == 0 || spans == NULL)
		hx_violation(h, "an empty batch begun");
	if (h->begins >= MAX_CALLS) {
		hx_violation(h, "too many begins for the record");
		pthread_mutex_unlock(&h->mtx);
		return;
	}
	h->in_begin = true;
	/* The spans are borrowed for the call: each must be whole. */
	for (size_t i = 0; i < n; i++) {
		if (spans[i] == NULL || spans[i]->name == NULL ||
		    spans[i]->name[0] == '\0')
			hx_violation(h, "a span in the batch is not readable");
	}
	if (h->begins < 16)
		h->live_at_begin[h->begins] = live;
	if (h->pending > 0)
		h->overlaps++;
	h->fifo[h->begins] = n;
	h->begins++;
	h->pending++;
	if (h->pending > h->max_pending)
		h->max_pending = h->pending;
	h->in_begin = false;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mtx);
}

static baton_export_result hx_end(void *arg)
{
	struct hx *h = arg;
	baton_export_result r = BATON_EXPORT_RESULT(BATON_OK);
	pthread_mutex_lock(&h->mtx);
	if (h->in_begin || h->in_end)
		hx_violation(h, "export_end while another half runs");
	if (h->pending == 0) {
		hx_violation(h, "export_end with nothing begun");
		pthread_mutex_unlock(&h->mtx);
		return r;
	}
	h->in_end = true;
	pthread_cond_broadcast(&h->cv); /* a test may wait for this */
	while (h->gated && h->permits == 0 && !h->cut)
		pthread_cond_wait(&h->cv, &h->mtx);
	size_t n = h->fifo[h->head++];
	if (h->cut) {
		r.err = BATON_ECLOSED;
		r.reason = "cut at shutdown";
		h->spans_cut += n;
	} else {
		if (h->gated)
			h->permits--;
		if (h->ends < h->nscript)
			r = h->script[h->ends];
		if (r.err == BATON_OK)
			h->spans_ok += n;
		else
			h->spans_failed += n;
	}
	h->pending--;
	h->ends++;
	h->in_end = false;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mtx);
	return r;
}

static baton_export_result hx_export_spans(void *arg, const baton_span_data *const *spans,
                                           size_t n)
{
	(void)spans;
	struct hx *h = arg;
	pthread_mutex_lock(&h->mtx);
	h->export_spans_calls++;
	h->spans_ok += n;
	pthread_mutex_unlock(&h->mtx);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static baton_err hx_flush(void *arg, uint32_t timeout_ms)
{
	(void)timeout_ms;
	struct hx *h = arg;
	pthread_mutex_lock(&h->mtx);
	h->flush_calls++;
	if (h->pending > 0)
		hx_violation(h, "force_flush with a batch begun and not ended");
	pthread_mutex_unlock(&h->mtx);
	return BATON_OK;
}

/* Called from the thread that shuts down: cuts a held end. */
static baton_err hx_shutdown(void *arg, uint32_t timeout_ms)
{
	(void)timeout_ms;
	struct hx *h = arg;
	pthread_mutex_lock(&h->mtx);
	h->shutdowns++;
	h->cut = !h->deaf;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mtx);
	return BATON_OK;
}

static const baton_exporter_ops hx_ops = {.size = sizeof(baton_exporter_ops),
                                          .name = "halves",
                                          .export_spans = hx_export_spans,
                                          .force_flush = hx_flush,
                                          .shutdown = hx_shutdown,
                                          .export_begin = hx_begin,
                                          .export_end = hx_end};

/* Static: a test may look at its exporter after baton_fini. */
static struct hx the_hx;

static struct hx *hx_new(bool gated)
{
	struct hx *h = &the_hx;
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mtx, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->gated = gated;
	return h;
}

static void hx_permit(struct hx *h, unsigned n)
{
	pthread_mutex_lock(&h->mtx);
	h->permits += n;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mtx);
}

static void hx_open(struct hx *h)
{
	pthread_mutex_lock(&h->mtx);
	h->gated = false;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mtx);
}

/*
 * Waits (at most WAIT_MS) until the exporter has seen `begins` begins and
 * `ends` ends and, when in_end, is held in the next end. Fails the test
 * otherwise, saying where it stands.
 */
static void hx_wait(struct hx *h, size_t begins, size_t ends, bool in_end)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&h->mtx);
	while (!(h->begins == begins && h->ends == ends && h->in_end == in_end)) {
		if (pthread_cond_timedwait(&h->cv, &h->mtx, &ts) == ETIMEDOUT)
			break;
	}
	size_t b = h->begins, e = h->ends;
	bool ie = h->in_end;
	pthread_mutex_unlock(&h->mtx);
	cr_assert(b == begins && e == ends && ie == in_end,
	          "want %zu begins, %zu ends%s; have %zu, %zu%s", begins, ends,
	          in_end ? ", held in an end" : "", b, e, ie ? ", held in an end" : "");
}

/* The contract held throughout, and every begin was answered. */
static void hx_assert_sound(struct hx *h)
{
	pthread_mutex_lock(&h->mtx);
	cr_assert_eq(h->violations, 0, "%s", h->why);
	cr_assert_eq(h->export_spans_calls, 0, "export_spans called with halves set");
	cr_assert_leq(h->max_pending, 2);
	cr_assert_eq(h->begins, h->ends, "%zu begun, %zu ended", h->begins, h->ends);
	cr_assert_eq(h->pending, 0);
	pthread_mutex_unlock(&h->mtx);
}

static baton_processor init_batch(baton_exporter exp, uint32_t queue, uint32_t batch,
                                  uint32_t delay_ms)
{
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = queue,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = delay_ms,
	                          .export_timeout_ms = 2000};
	baton_processor p;
	/* A test that fails with an end held exits through the at-exit
	 * shutdown: keep that short. */
	setenv("OTEL_BSP_EXPORT_TIMEOUT", "500", 1);
	cr_assert_eq(baton_batch_processor_create(exp, &bo, &p), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 1 << 14;
	cr_assert_eq(baton_init(&o), BATON_OK);
	return p;
}

/* Waits (at most WAIT_MS) until the processor counted n spans exported. */
static void wait_exported(baton_processor p, uint64_t n)
{
	uint64_t until = baton_time_mono_ns() + WAIT_MS * 1000000ull;
	while (tu_batch_stats(p).spans_exported < n && baton_time_mono_ns() < until) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(tu_batch_stats(p).spans_exported, n);
}

/* A hang fails the test instead of stalling the run. */
TestSuite(halves, .timeout = 30);

/* ---- 1. the contract: one end per begin, in order, two at most ---- */

Test(halves, every_begin_is_answered_by_one_end_and_export_spans_is_never_called)
{
	struct hx *h = hx_new(false);
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 4096, 16, 60000);
	tu_make_spans("many", 2000 + 5);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	hx_assert_sound(h);
	cr_assert_eq(h->spans_ok, 2005);
	cr_assert_eq(h->flush_calls, 1);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 2005);
	cr_assert_eq(s.export_requests, h->ends, "one request per end");
	cr_assert_eq(s.export_failures, 0);
	TU_ASSERT_ACCOUNTED(&s);
	cr_assert_eq(baton_fini(2000), BATON_OK);
	hx_assert_sound(h);
	cr_assert_eq(h->shutdowns, 1);
}

/* ---- 2. a backlog is pipelined ---- */

Test(halves, a_backlog_is_pipelined_the_next_batch_begun_before_the_last_ends)
{
	struct hx *h = hx_new(true);
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	/* One full batch is begun; nothing else is there, so its end comes at
	 * once and is held. */
	tu_make_spans("first", 8);
	hx_wait(h, 1, 0, true);
	/* A backlog of two more full batches builds up behind it. */
	tu_make_spans("backlog", 16);
	hx_permit(h, 1);
	/* The second batch is begun, and the third before the second ends. */
	hx_wait(h, 3, 1, true);
	pthread_mutex_lock(&h->mtx);
	cr_assert_eq(h->pending, 2, "two batches begun and not ended");
	cr_assert_eq(h->overlaps, 1);
	pthread_mutex_unlock(&h->mtx);
	hx_open(h);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	hx_assert_sound(h);
	cr_assert_eq(h->max_pending, 2);
	cr_assert_eq(h->begins, 3);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 24);
	cr_assert_eq(s.export_requests, 3);
	TU_ASSERT_ACCOUNTED(&s);
	baton_fini(2000);
}

/* ---- 3. each end counts its own batch ---- */

Test(halves, each_end_counts_its_own_batch_oldest_first)
{
	struct hx *h = hx_new(true);
	/* The second end fails; the third delivers with a retry and a partial
	 * rejection. */
	h->script[1] = (baton_export_result){BATON_EREJECTED, 2, 0, "collector said no"};
	h->script[2] = (baton_export_result){BATON_OK, 1, 2, NULL};
	h->nscript = 3;
	/* A delay of 0 (only the environment can say 0): a partial batch is
	 * begun as soon as it is there. */
	setenv("OTEL_BSP_SCHEDULE_DELAY", "0", 1);
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 0);
	tu_make_spans("one", 1);
	hx_wait(h, 1, 0, true);
	/* While the first end is held: 8 + 3 spans, so the two batches begun
	 * next have different sizes and are both pending at once. */
	tu_make_spans("more", 11);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 0, "a begun batch is not exported yet");
	cr_assert_eq(s.export_requests, 0);
	hx_permit(h, 1);
	hx_wait(h, 3, 1, true);
	cr_assert_eq(h->fifo[1], 8);
	cr_assert_eq(h->fifo[2], 3);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 1, "only the batch that ended is exported");
	cr_assert_eq(s.dropped_export_failure, 0);
	cr_assert_eq(s.export_requests, 1);
	hx_open(h);
	hx_wait(h, 3, 3, false);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	hx_assert_sound(h);
	s = tu_batch_stats(p);
	/* The failed end was the batch of 8, the one after it the batch of 3. */
	cr_assert_eq(s.dropped_export_failure, 8);
	cr_assert_eq(s.spans_exported, 1 + 3);
	cr_assert_eq(s.export_requests, 3);
	cr_assert_eq(s.export_failures, 1);
	cr_assert_eq(s.export_retries, 3);
	cr_assert_eq(s.spans_rejected, 2);
	cr_assert_str_eq(s.last_error, "collector said no");
	TU_ASSERT_ACCOUNTED(&s);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_exported, 4);
	cr_assert_eq(ss.spans_dropped_export, 8);
	cr_assert_eq(ss.spans_live, 0);
	baton_fini(2000);
}

Test(halves, a_flush_over_a_failed_end_returns_its_error)
{
	struct hx *h = hx_new(false);
	h->script[1] = (baton_export_result){BATON_ETIMEDOUT, 4, 0, "no answer\nin time"};
	h->nscript = 2;
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	/* A full batch (its end succeeds), then 3 spans only the flush begins. */
	tu_make_spans("flushed", 11);
	cr_assert_eq(baton_force_flush(5000), BATON_ETIMEDOUT);
	hx_assert_sound(h);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 8);
	cr_assert_eq(s.dropped_export_failure, 3);
	cr_assert_eq(s.export_requests, 2);
	cr_assert_eq(s.export_failures, 1);
	cr_assert_eq(s.export_retries, 4);
	/* The reason is copied, its control byte made printable. */
	cr_assert_neq(strstr(s.last_error, "no answer"), NULL, "%s", s.last_error);
	cr_assert_neq(strstr(s.last_error, "in time"), NULL, "%s", s.last_error);
	cr_assert_eq(strchr(s.last_error, '\n'), NULL, "%s", s.last_error);
	TU_ASSERT_ACCOUNTED(&s);
	/* The next flush has nothing failing in it. */
	tu_make_spans("later", 2);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_batch_stats(p).spans_exported, 10);
	baton_fini(2000);
}

/* ---- 4. nothing stays unanswered ---- */

Test(halves, an_idle_worker_leaves_nothing_unanswered)
{
	struct hx *h = hx_new(false);
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	/* One full batch and then quiet: its end comes without a flush,
	 * before the worker sleeps its 60 s. */
	tu_make_spans("alone", 8);
	hx_wait(h, 1, 1, false);
	wait_exported(p, 8);
	/* After a flush returns, every begin is answered. */
	tu_make_spans("flushed", 8 + 8 + 3);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	pthread_mutex_lock(&h->mtx);
	cr_assert_eq(h->begins, 4);
	cr_assert_eq(h->ends, h->begins);
	pthread_mutex_unlock(&h->mtx);
	cr_assert_eq(tu_batch_stats(p).spans_exported, 27);
	hx_assert_sound(h);
	baton_fini(2000);
}

/* ---- 5. spans are released when export_begin returns ---- */

Test(halves, spans_are_released_when_export_begin_returns)
{
	struct hx *h = hx_new(true);
	h->check_live = true;
	init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	tu_make_spans("first", 8);
	hx_wait(h, 1, 0, true);
	/* Held in the first end: its batch is begun, its records are back. */
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0, "%llu records still held",
	             (unsigned long long)ss.spans_live);
	tu_make_spans("backlog", 16);
	hx_permit(h, 1);
	hx_wait(h, 3, 1, true);
	/* As the third batch was begun, the second (begun, not ended) was
	 * released already: only the third's 8 records were in use. */
	cr_assert_eq(h->live_at_begin[0], 8);
	cr_assert_eq(h->live_at_begin[1], 16);
	cr_assert_eq(h->live_at_begin[2], 8);
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0, "%llu records held by two begun batches",
	             (unsigned long long)ss.spans_live);
	hx_open(h);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	hx_assert_sound(h);
	baton_fini(2000);
}

/* ---- 6. shutdown cuts what is begun and counts it once ---- */

static void assert_sdk_accounted(void)
{
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	uint64_t out = ss.spans_exported + ss.spans_dropped_queue_full +
	               ss.spans_dropped_export + ss.spans_dropped_shutdown;
	cr_assert_eq(ss.spans_ended, out,
	             "ended %llu; exported %llu, full %llu, failed %llu, shutdown %llu",
	             (unsigned long long)ss.spans_ended,
	             (unsigned long long)ss.spans_exported,
	             (unsigned long long)ss.spans_dropped_queue_full,
	             (unsigned long long)ss.spans_dropped_export,
	             (unsigned long long)ss.spans_dropped_shutdown);
}

Test(halves, shutdown_cuts_two_begun_batches_and_counts_them_once)
{
	struct hx *h = hx_new(true);
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	tu_make_spans("first", 8);
	hx_wait(h, 1, 0, true);
	tu_make_spans("begun", 16);
	hx_permit(h, 1);
	hx_wait(h, 3, 1, true); /* two batches begun, the older's end held */
	tu_make_spans("queued", 5);
	uint64_t t0 = baton_time_mono_ns();
	baton_err e = p.ops->shutdown(p.arg, 300);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_eq(e, BATON_ETIMEDOUT, "spans were left: %s", baton_strerror(e));
	cr_assert_lt(el, 1300000000ull, "shutdown took %llu ms",
	             (unsigned long long)(el / 1000000u));
	pthread_mutex_lock(&h->mtx);
	cr_assert(h->cut, "the exporter was told to cut the held end");
	cr_assert_eq(h->shutdowns, 1);
	cr_assert_eq(h->spans_ok, 8);
	pthread_mutex_unlock(&h->mtx);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 8);
	cr_assert_eq(s.dropped_export_failure, 0, "cut at shutdown, not failed");
	cr_assert_eq(s.dropped_shutdown, 16 + 5);
	cr_assert_eq(s.spans_received, 29);
	TU_ASSERT_ACCOUNTED(&s);
	assert_sdk_accounted();
	baton_fini(2000); /* already shut down: only destroys */
	/* Destroying it counts nothing twice. */
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 8);
	cr_assert_eq(s.dropped_shutdown, 21);
	TU_ASSERT_ACCOUNTED(&s);
	assert_sdk_accounted();
	hx_assert_sound(h);
	pthread_mutex_lock(&h->mtx);
	cr_assert_eq(h->spans_cut, 16);
	cr_assert_eq(h->shutdowns, 1);
	pthread_mutex_unlock(&h->mtx);
}

Test(halves, fini_with_an_end_held_is_bounded_and_counts_it_once)
{
	struct hx *h = hx_new(true);
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	tu_make_spans("held", 8);
	hx_wait(h, 1, 0, true);
	tu_make_spans("queued", 3);
	uint64_t t0 = baton_time_mono_ns();
	cr_assert_eq(baton_fini(300), BATON_ETIMEDOUT);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_lt(el, 1300000000ull, "baton_fini took %llu ms",
	             (unsigned long long)(el / 1000000u));
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.dropped_export_failure, 0);
	cr_assert_eq(s.dropped_shutdown, 11);
	TU_ASSERT_ACCOUNTED(&s);
	assert_sdk_accounted();
	hx_assert_sound(h);
	cr_assert_eq(h->shutdowns, 1);
	cr_assert_eq(h->spans_cut, 8);
}

Test(halves, a_shutdown_that_times_out_on_held_ends_counts_them_once)
{
	struct hx *h = hx_new(true);
	h->deaf = true; /* the held ends outlive the shutdown's time */
	baton_processor p = init_batch((baton_exporter){&hx_ops, h}, 1024, 8, 60000);
	tu_make_spans("first", 8);
	hx_wait(h, 1, 0, true);
	tu_make_spans("begun", 16);
	hx_permit(h, 1);
	hx_wait(h, 3, 1, true);
	tu_make_spans("queued", 5);
	uint64_t t0 = baton_time_mono_ns();
	cr_assert_eq(p.ops->shutdown(p.arg, 200), BATON_ETIMEDOUT);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_lt(el, 1200000000ull, "shutdown took %llu ms",
	             (unsigned long long)(el / 1000000u));
	cr_assert_eq(h->shutdowns, 1);
	/* What was left, the two begun batches too, is dropped at shutdown now. */
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 8);
	cr_assert_eq(s.dropped_shutdown, 16 + 5);
	TU_ASSERT_ACCOUNTED(&s);
	assert_sdk_accounted();
	/* The ends come later and succeed: nothing is counted again. */
	hx_open(h);
	baton_fini(2000);
	hx_assert_sound(h);
	cr_assert_eq(h->spans_ok, 24);
	s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 8);
	cr_assert_eq(s.dropped_shutdown, 21);
	cr_assert_eq(s.dropped_export_failure, 0);
	TU_ASSERT_ACCOUNTED(&s);
	assert_sdk_accounted();
}

/* ---- 7. an exporter built before the halves keeps export_spans ---- */

static size_t wrong_halves;

static void stray_begin(void *arg, const baton_span_data *const *spans, size_t n)
{
	(void)arg;
	(void)spans;
	(void)n;
	__atomic_fetch_add(&wrong_halves, 1, __ATOMIC_RELAXED);
}

static baton_export_result stray_end(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&wrong_halves, 1, __ATOMIC_RELAXED);
	return BATON_EXPORT_RESULT(BATON_OK);
}

/* Exports 10 spans through ops, which must not be used in halves. */
static void export_whole(const baton_exporter_ops *ops)
{
	struct hx *h = hx_new(false);
	wrong_halves = 0;
	baton_processor p = init_batch((baton_exporter){ops, h}, 1024, 4, 60000);
	tu_make_spans("whole", 10);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_batch_stats(p).spans_exported, 10);
	cr_assert_eq(baton_fini(2000), BATON_OK);
	cr_assert_eq(h->begins + h->ends + wrong_halves, 0, "used in halves");
	cr_assert_eq(h->export_spans_calls, 3);
	cr_assert_eq(h->spans_ok, 10);
}

Test(halves, an_exporter_built_before_the_halves_exports_with_export_spans)
{
	/* Its size stops before the new members, which hold whatever. */
	baton_exporter_ops old = hx_ops;
	old.size = offsetof(baton_exporter_ops, export_begin);
	old.export_begin = stray_begin;
	old.export_end = stray_end;
	export_whole(&old);

	/* A size that covers export_begin but not export_end. */
	baton_exporter_ops half = old;
	half.size = offsetof(baton_exporter_ops, export_end);
	export_whole(&half);

	/* The table as an old build allocates it: nothing past its size. */
	size_t n = offsetof(baton_exporter_ops, export_begin);
	baton_exporter_ops *heap = malloc(n);
	cr_assert_not_null(heap);
	memcpy(heap, &old, n);
	export_whole(heap);
	free(heap);
}

Test(halves, only_one_half_set_exports_with_export_spans)
{
	baton_exporter_ops one = hx_ops;
	one.export_begin = NULL;
	one.export_end = stray_end;
	export_whole(&one);
	one.export_begin = stray_begin;
	one.export_end = NULL;
	export_whole(&one);
}
