/*
 * The OTLP/HTTP exporter's export in two halves (export_begin/export_end)
 * against the test receiver: a begun batch is on the wire before its end
 * is asked for, ends answer in order with each batch's own result, a held
 * batch gets its whole time, big batches still split, shutdown cuts.
 */
#include "otlp_receiver.h"

#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

TU_OTLP_SUITE(otlp_halves);

static baton_exporter make_exporter(uint32_t timeout_ms, uint32_t max_request)
{
	baton_otlp_http_options o = {.size = sizeof(o),
	                             .endpoint = tu_otlp_url(rcv),
	                             .timeout_ms = timeout_ms,
	                             .max_request_bytes = max_request,
	                             .retry_initial_ms = 10};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&o, &e), BATON_OK);
	cr_assert_not_null(e.ops->export_begin, "the exporter declares the halves");
	cr_assert_not_null(e.ops->export_end);
	return e;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A batch of n spans named name, each with a 256-byte attribute. */
typedef struct batch {
	baton_span_data *s;
	const baton_span_data **p;
	baton_attr *a;
	size_t n;
} batch;

static const baton_resource res = {NULL, 0, "halves"};
static const baton_scope scope = {"halves", "1"};
static char value[257];

static batch make_batch(const char *name, size_t n)
{
	batch b = {calloc(n, sizeof(*b.s)), calloc(n, sizeof(*b.p)),
	           calloc(n, sizeof(*b.a)), n};
	cr_assert(b.s != NULL && b.p != NULL && b.a != NULL);
	memset(value, 'v', 256);
	for (size_t i = 0; i < n; i++) {
		baton_span_data *s = &b.s[i];
		for (int k = 0; k < 16; k++)
			s->context.trace_id[k] = (uint8_t)(k + 1);
		memcpy(s->context.span_id, &i, sizeof(i));
		s->context.span_id[7] = 1;
		s->context.trace_flags = BATON_FLAG_SAMPLED;
		s->context.state = BATON_CTX_VALID;
		s->name = name;
		s->kind = BATON_SPAN_KIND_INTERNAL;
		s->start_unix_ns = 1000000000u + i;
		s->end_unix_ns = 1000000500u + i;
		b.a[i] = (baton_attr){
		    NULL, "payload", {BATON_VALUE_STRING, {.s = value}, 256}};
		s->attrs = &b.a[i];
		s->nattrs = 1;
		s->resource = &res;
		s->scope = &scope;
		b.p[i] = s;
	}
	return b;
}

static void free_batch(batch b)
{
	free(b.s);
	free(b.p);
	free(b.a);
}

/*
 * The point of the halves: once export_begin returns, the collector has
 * the whole request (here ~300 KB, several times curl's upload buffer)
 * and can answer it while the caller prepares the next batch.
 */
Test(otlp_halves, a_begun_batch_is_on_the_wire_before_its_end_is_asked_for)
{
	baton_exporter e = make_exporter(10000, 0);
	batch b = make_batch("begun", 1000);
	e.ops->export_begin(e.arg, b.p, b.n);
	/* The spans are the caller's again: spoil them, the request is sent. */
	memset(b.s, 0, b.n * sizeof(*b.s));
	cr_assert_eq(tu_otlp_wait_spans(rcv, 1000, 5000), 1000,
	             "the collector had the whole batch before export_end");
	cr_assert_eq(tu_otlp_spans_named(rcv, "begun"), 1000);
	baton_export_result r = e.ops->export_end(e.arg);
	cr_assert_eq(r.err, BATON_OK);
	cr_assert_eq(r.retries, 0);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 1);
	free_batch(b);
	e.ops->destroy(e.arg);
}

/* Each end answers the oldest batch begun, with that batch's own result. */
Test(otlp_halves, ends_answer_in_order_with_each_batchs_own_result)
{
	baton_exporter e = make_exporter(10000, 0);
	batch a = make_batch("a", 3), b = make_batch("b", 5);
	tu_otlp_set_mode(rcv, TU_OTLP_400, 1); /* the first request only */
	e.ops->export_begin(e.arg, a.p, a.n);
	e.ops->export_begin(e.arg, b.p, b.n);
	baton_export_result ra = e.ops->export_end(e.arg);
	cr_assert_eq(ra.err, BATON_EREJECTED);
	cr_assert_not_null(ra.reason);
	cr_assert(strstr(ra.reason, "HTTP 400") != NULL, "reason: %s", ra.reason);
	baton_export_result rb = e.ops->export_end(e.arg);
	cr_assert_eq(rb.err, BATON_OK);
	cr_assert_null(rb.reason);
	cr_assert_eq(tu_otlp_spans_named(rcv, "a"), 0);
	cr_assert_eq(tu_otlp_spans_named(rcv, "b"), 5);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 2);
	/* An end with nothing begun is refused, not answered with a made-up OK. */
	cr_assert_eq(e.ops->export_end(e.arg).err, BATON_ESTATE);
	free_batch(a);
	free_batch(b);
	e.ops->destroy(e.arg);
}

/*
 * A batch begun while another is on the wire waits behind it; its timeout
 * runs from when it goes on the wire, so a first request that uses all of
 * its time does not fail the second unsent.
 */
Test(otlp_halves, a_held_batch_gets_its_whole_time_once_on_the_wire)
{
	baton_exporter e = make_exporter(1500, 0);
	batch a = make_batch("slow", 2), b = make_batch("held", 4);
	tu_otlp_set_mode(rcv, TU_OTLP_HANG, 1); /* the first request is never answered */
	uint64_t t0 = now_ms();
	e.ops->export_begin(e.arg, a.p, a.n);
	e.ops->export_begin(e.arg, b.p, b.n);
	baton_export_result ra = e.ops->export_end(e.arg);
	cr_assert_eq(ra.err, BATON_ETIMEDOUT, "%s", baton_strerror(ra.err));
	cr_assert_geq(now_ms() - t0, 1400);
	baton_export_result rb = e.ops->export_end(e.arg);
	cr_assert_eq(rb.err, BATON_OK, "the held batch failed: %s",
	             rb.reason != NULL ? rb.reason : baton_strerror(rb.err));
	cr_assert_eq(tu_otlp_spans_named(rcv, "held"), 4);
	free_batch(a);
	free_batch(b);
	e.ops->destroy(e.arg);
}

/* A batch past the largest request is split when begun, after the one before. */
Test(otlp_halves, a_begun_batch_too_big_for_one_request_is_split)
{
	baton_exporter e = make_exporter(10000, 8192);
	batch a = make_batch("first", 2), b = make_batch("big", 100);
	e.ops->export_begin(e.arg, a.p, a.n);
	e.ops->export_begin(e.arg, b.p, b.n);
	cr_assert_eq(e.ops->export_end(e.arg).err, BATON_OK);
	cr_assert_eq(e.ops->export_end(e.arg).err, BATON_OK);
	tu_otlp_counts c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 102);
	cr_assert_gt(c.requests, 3);
	cr_assert_leq(c.max_body, 8192);
	cr_assert_eq(tu_otlp_spans_named(rcv, "first"), 2);
	cr_assert_eq(tu_otlp_spans_named(rcv, "big"), 100);
	free_batch(a);
	free_batch(b);
	e.ops->destroy(e.arg);
}

struct cutter {
	baton_exporter e;
	unsigned delay_ms;
};

static void *cut_later(void *arg)
{
	struct cutter *c = arg;
	usleep(c->delay_ms * 1000u);
	c->e.ops->shutdown(c->e.arg, 1000);
	return NULL;
}

/* A shutdown from another thread cuts what is begun: every end returns at once. */
Test(otlp_halves, a_shutdown_cuts_every_begun_batch)
{
	baton_exporter e = make_exporter(60000, 0);
	batch a = make_batch("hung", 2), b = make_batch("behind", 2);
	tu_otlp_set_mode(rcv, TU_OTLP_HANG, -1);
	e.ops->export_begin(e.arg, a.p, a.n);
	e.ops->export_begin(e.arg, b.p, b.n);
	struct cutter c = {e, 200};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, cut_later, &c), 0);
	uint64_t t0 = now_ms();
	cr_assert_eq(e.ops->export_end(e.arg).err, BATON_ECLOSED);
	cr_assert_eq(e.ops->export_end(e.arg).err, BATON_ECLOSED);
	cr_assert_lt(now_ms() - t0, 5000, "the cut took %llu ms",
	             (unsigned long long)(now_ms() - t0));
	pthread_join(th, NULL);
	cr_assert_eq(tu_otlp_spans_named(rcv, "behind"), 0);
	free_batch(a);
	free_batch(b);
	e.ops->destroy(e.arg);
}
