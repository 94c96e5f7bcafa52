/*
 * Benchmarks of the export path: OTLP protobuf encoding and gzip per span,
 * the caller's cost of ending a span into the batch processor's ring, and
 * spans per second from one producer through the worker to a local
 * OTLP/HTTP sink.
 */
#include "bench.h"

#include "otlp_int.h"

#include <arpa/inet.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 512

typedef struct espan {
	baton_span_data d;
	baton_attr attrs[3];
} espan;

static baton_attr res_attrs[1] = {
    {NULL, "service.name", {BATON_VALUE_STRING, {.s = "bench"}, 5}},
};
static const baton_resource res = {res_attrs, 1, "bench"};
static const baton_scope scope = {"bench", "1.0"};

/* BATCH spans as span_start_end makes them: a name, 3 attributes, a parent. */
static espan *make_batch(void)
{
	espan *b = calloc(BATCH, sizeof(*b));
	if (b == NULL)
		abort();
	for (size_t i = 0; i < BATCH; i++) {
		baton_span_data *d = &b[i].d;
		baton_trace_id_generate(d->context.trace_id);
		baton_span_id_generate(d->context.span_id);
		d->context.state = BATON_CTX_VALID | BATON_CTX_HAS_TH;
		d->context.trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM;
		d->context.threshold = 0;
		d->parent = d->context;
		baton_span_id_generate(d->parent.span_id);
		d->name = "process guild.message";
		d->kind = BATON_SPAN_KIND_CONSUMER;
		d->start_unix_ns = 1700000000000000000ull + i * 1000;
		d->end_unix_ns = d->start_unix_ns + 12345;
		b[i].attrs[0] = (baton_attr){&b[i].attrs[1],
		                             "messaging.system",
		                             {BATON_VALUE_STRING, {.s = "nng"}, 3}};
		b[i].attrs[1] = (baton_attr){&b[i].attrs[2],
		                             "messaging.message.body.size",
		                             {BATON_VALUE_INT, {.i = 512}, 0}};
		b[i].attrs[2] = (baton_attr){
		    NULL, "baton.fanout", {BATON_VALUE_BOOL, {.b = true}, 0}};
		d->attrs = &b[i].attrs[0];
		d->nattrs = 3;
		d->resource = &res;
		d->scope = &scope;
	}
	return b;
}

static const baton_span_data **batch_ptrs(espan *b)
{
	const baton_span_data **p = calloc(BATCH, sizeof(*p));
	if (p == NULL)
		abort();
	for (size_t i = 0; i < BATCH; i++)
		p[i] = &b[i].d;
	return p;
}

/* Protobuf encoding of batches of 512 spans (3 attributes each), per span. */
BENCH(otlp_encode_per_span, "ns/op", NULL, 1024000)
{
	espan *b = make_batch();
	const baton_span_data **p = batch_ptrs(b);
	bt_otlp_enc *e;
	if (bt_otlp_enc_create(&e) != BATON_OK)
		abort();
	const uint8_t *body;
	size_t len = 0;
	uint64_t rounds = iters / BATCH;
	uint64_t t0 = bench_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		if (bt_otlp_encode(e, p, BATCH, (size_t)64 << 20, &body, &len) !=
		    BATON_OK)
			abort();
		bench_keep(body);
	}
	uint64_t el = bench_now_ns() - t0;
	bench_note("bytes_per_span", (double)len / BATCH);
	bt_otlp_enc_destroy(e);
	free(p);
	free(b);
	/* Scale to iters spans in case iters is not a multiple of BATCH. */
	return (double)el * (double)iters / (double)(rounds * BATCH);
}

/* The same batches through libprotobuf-c's generic packer (the reference encoder). */
BENCH(otlp_encode_protobuf_c_per_span, "ns/op", NULL, 256000)
{
	espan *b = make_batch();
	const baton_span_data **p = batch_ptrs(b);
	bt_otlp_enc *e;
	if (bt_otlp_enc_create(&e) != BATON_OK)
		abort();
	const uint8_t *body;
	size_t len = 0;
	uint64_t rounds = iters / BATCH;
	uint64_t t0 = bench_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		if (bt_otlp_encode_pbc(e, p, BATCH, (size_t)64 << 20, &body, &len) !=
		    BATON_OK)
			abort();
		bench_keep(body);
	}
	uint64_t el = bench_now_ns() - t0;
	bt_otlp_enc_destroy(e);
	free(p);
	free(b);
	return (double)el * (double)iters / (double)(rounds * BATCH);
}

/* gzip (zlib level 1) of an encoded 512-span request, per span. */
BENCH(gzip_per_span, "ns/op", NULL, 512000)
{
	espan *b = make_batch();
	const baton_span_data **p = batch_ptrs(b);
	bt_otlp_enc *e;
	bt_otlp_gzip *z;
	bt_otlp_buf out = {0};
	if (bt_otlp_enc_create(&e) != BATON_OK || bt_otlp_gzip_create(&z) != BATON_OK)
		abort();
	const uint8_t *body;
	size_t len;
	if (bt_otlp_encode(e, p, BATCH, (size_t)64 << 20, &body, &len) != BATON_OK)
		abort();
	uint64_t rounds = iters / BATCH;
	uint64_t t0 = bench_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		if (bt_otlp_gzip_compress(z, body, len, &out) != BATON_OK)
			abort();
		bench_keep(out.p);
	}
	uint64_t el = bench_now_ns() - t0;
	bench_note("ratio", (double)len / (double)out.len);
	bt_otlp_buf_free(&out);
	bt_otlp_gzip_destroy(z);
	bt_otlp_enc_destroy(e);
	free(p);
	free(b);
	return (double)el * (double)iters / (double)(rounds * BATCH);
}

/* An exporter that takes every batch at once. */
static baton_export_result null_export(void *arg, const baton_span_data *const *spans,
                                       size_t n)
{
	(void)arg;
	(void)spans;
	(void)n;
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops null_ops = {
    sizeof(baton_exporter_ops), "null", null_export, NULL, NULL, NULL};

static baton_processor init_batch(baton_exporter e)
{
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 65536,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = 5000,
	                          .export_timeout_ms = 30000};
	baton_processor p;
	if (baton_batch_processor_create(e, &bo, &p) != BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 65536 + 8192;
	o.limits.span_arena_bytes = 512;
	if (baton_init(&o) != BATON_OK)
		abort();
	return p;
}

static void produce(baton_tracer *t, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		baton_span s = baton_span_start(t, "process guild.message");
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_set_int(s, "messaging.message.body.size", 512);
		baton_span_set_bool(s, "baton.fanout", true);
		baton_span_end(s);
	}
}

/*
 * span_start_end's loop with the batch processor behind it: the ratio to
 * span_start_end is what ending into the ring adds for the caller.
 */
BENCH(processor_enqueue, "ns/op", "span_start_end", 1000000)
{
	baton_processor p = init_batch((baton_exporter){&null_ops, NULL});
	baton_tracer *t = baton_tracer_get("bench", NULL);
	uint64_t t0 = bench_now_ns();
	produce(t, iters);
	uint64_t el = bench_now_ns() - t0;
	baton_batch_stats s;
	baton_force_flush(10000);
	baton_batch_processor_stats(p, &s);
	bench_note("dropped", (double)(s.dropped_queue_full));
	baton_fini(10000);
	return (double)el;
}

/* ---- a local OTLP/HTTP sink: reads each request, answers 200, decodes nothing ---- */

struct sink {
	int lfd;
	int port;
	pthread_t th;
	volatile int stop;
};

static void *sink_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char *buf = malloc(1 << 16);
	size_t have = 0;
	for (;;) {
		char *end = NULL;
		while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
			if (have == (1 << 16))
				goto out;
			ssize_t n = recv(fd, buf + have, (1 << 16) - have, 0);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		size_t head = (size_t)(end - buf) + 4;
		size_t clen = 0;
		char *cl = memmem(buf, head, "Content-Length:", 15);
		if (cl != NULL)
			clen = strtoull(cl + 15, NULL, 10);
		size_t got = have - head;
		while (got < clen) {
			char tmp[65536];
			size_t want = clen - got < sizeof(tmp) ? clen - got : sizeof(tmp);
			ssize_t n = recv(fd, tmp, want, 0);
			if (n <= 0)
				goto out;
			got += (size_t)n;
		}
		have = 0;
		if (send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) <= 0)
			goto out;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void *sink_accept(void *arg)
{
	struct sink *s = arg;
	while (!s->stop) {
		struct pollfd pfd = {s->lfd, POLLIN, 0};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_t th;
		if (pthread_create(&th, NULL, sink_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(th);
		else
			close(fd);
	}
	return NULL;
}

static struct sink *sink_start(void)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
		abort();
	s->port = ntohs(a.sin_port);
	if (pthread_create(&s->th, NULL, sink_accept, s) != 0)
		abort();
	return s;
}

static void sink_stop(struct sink *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	close(s->lfd);
	free(s);
}

/*
 * One producer ends iters spans (3 attributes) as fast as it can into a
 * batch processor (queue 65536, batch 512) whose OTLP/HTTP exporter posts
 * to a local sink. The figure is spans exported per second, from the first
 * span to the end of the final flush; spans the full ring dropped are noted.
 */
BENCH(export_end_to_end, "ops/s", NULL, 1000000)
{
	struct sink *sk = sink_start();
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", sk->port);
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = url,
	                              .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	if (baton_otlp_http_exporter_create(&oo, &e) != BATON_OK)
		abort();
	baton_processor p = init_batch(e);
	baton_tracer *t = baton_tracer_get("bench", NULL);
	uint64_t t0 = bench_now_ns();
	produce(t, iters);
	uint64_t tp = bench_now_ns() - t0;
	baton_force_flush(60000);
	uint64_t el = bench_now_ns() - t0;
	baton_batch_stats s;
	baton_batch_processor_stats(p, &s);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	bench_note("exported", (double)s.spans_exported);
	bench_note("dropped", (double)(s.dropped_queue_full + s.dropped_export_failure +
	                               ss.spans_dropped_no_store));
	bench_note("requests", (double)s.export_requests);
	bench_note("producer_ns_per_span", (double)tp / (double)iters);
	baton_fini(10000);
	sink_stop(sk);
	return (double)s.spans_exported / ((double)el / 1e9);
}
