/*
 * Benchmarks of the export path: OTLP protobuf encoding and gzip per span,
 * the caller's cost of ending a span into the batch processor's ring, and
 * spans per second from one producer through the worker to the project's
 * OTLP/HTTP test collector, unpaced and paced.
 */
#include "bench.h"

#include "otlp_int.h"
#include "otlp_receiver.h"

#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static baton_processor init_batch(baton_exporter e, uint32_t delay_ms)
{
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 65536,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = delay_ms,
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
	baton_processor p = init_batch((baton_exporter){&null_ops, NULL}, 5000);
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

/* ---- encoding spans from the span store, as the export worker does ---- */

/* A processor that keeps what it is given, for the encoder to take. */
static const baton_span_data *kept[BATCH];
static size_t nkept;
static void keep_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	if (nkept < BATCH)
		kept[nkept++] = span;
	else
		baton_span_data_release(span);
}
static const baton_processor_ops keep_ops = {
    sizeof(baton_processor_ops), "keep", keep_on_end, NULL, NULL, NULL, NULL};

struct handoff {
	pthread_barrier_t start, done;
	baton_tracer *t;
	uint64_t rounds;
};

static void *handoff_producer(void *arg)
{
	struct handoff *h = arg;
	for (uint64_t r = 0; r < h->rounds; r++) {
		pthread_barrier_wait(&h->start);
		produce(h->t, BATCH);
		pthread_barrier_wait(&h->done);
	}
	return NULL;
}

/*
 * Encodes batches of 512 spans made through the SDK into its span store;
 * with other_thread, made by another thread just before (what the export
 * worker meets: records another core wrote), else by this one. Per span,
 * the encoding only.
 */
static double encode_from_store(uint64_t iters, bool other_thread)
{
	baton_processor p = {&keep_ops, NULL};
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = 65536 + 8192;
	if (baton_init(&o) != BATON_OK)
		abort();
	bt_otlp_enc *e;
	if (bt_otlp_enc_create(&e) != BATON_OK)
		abort();
	struct handoff h = {.t = baton_tracer_get("bench", NULL),
	                    .rounds = iters / BATCH};
	pthread_t th;
	if (other_thread) {
		pthread_barrier_init(&h.start, NULL, 2);
		pthread_barrier_init(&h.done, NULL, 2);
		if (pthread_create(&th, NULL, handoff_producer, &h) != 0)
			abort();
	}
	uint64_t el = 0;
	for (uint64_t r = 0; r < h.rounds; r++) {
		nkept = 0;
		if (other_thread) {
			pthread_barrier_wait(&h.start);
			pthread_barrier_wait(&h.done);
		} else {
			produce(h.t, BATCH);
		}
		const uint8_t *body;
		size_t len;
		uint64_t t0 = bench_now_ns();
		if (bt_otlp_encode(e, kept, nkept, (size_t)64 << 20, &body, &len) !=
		    BATON_OK)
			abort();
		el += bench_now_ns() - t0;
		bench_keep(body);
		baton_span_data_release_n(kept, nkept);
	}
	if (other_thread) {
		pthread_join(th, NULL);
		pthread_barrier_destroy(&h.start);
		pthread_barrier_destroy(&h.done);
	}
	bt_otlp_enc_destroy(e);
	baton_fini(1000);
	return (double)el * (double)iters / (double)(h.rounds * BATCH);
}

/* Spans this thread made a moment before, from the store. */
BENCH(otlp_encode_store_per_span, "ns/op", "otlp_encode_per_span", 256000)
{
	return encode_from_store(iters, false);
}

/* Spans another thread made a moment before: what the export worker sees. */
BENCH(otlp_encode_handoff_per_span, "ns/op", "otlp_encode_per_span", 256000)
{
	return encode_from_store(iters, true);
}

/* ---- end to end, against the project's OTLP/HTTP test collector ---- */

/* How long one run produces: 10 s, 1 s under --quick, 1 s for the warm-up. */
static uint64_t run_ns(void)
{
	static int calls;
	if (bench_quick() || calls++ == 0)
		return 1000000000ull;
	return 10000000000ull;
}

/*
 * CPU time (ns, at clock-tick resolution) of this process's threads named
 * comm, from /proc/self/task/<tid>/stat (utime + stime).
 */
static uint64_t threads_cpu_ns(const char *comm)
{
	uint64_t sum = 0;
	long hz = sysconf(_SC_CLK_TCK);
	DIR *d = opendir("/proc/self/task");
	if (d == NULL || hz <= 0)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[1024];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* "tid (comm) state ..." : utime and stime are fields 14 and 15. */
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (l == NULL || r == NULL || (size_t)(r - l - 1) != strlen(comm) ||
		    strncmp(l + 1, comm, strlen(comm)) != 0)
			continue;
		unsigned long long ut = 0, st = 0;
		if (sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		           &ut, &st) == 2)
			sum += (ut + st) * (1000000000ull / (uint64_t)hz);
	}
	closedir(d);
	return sum;
}

/*
 * Ends spans for dur_ns; with rate > 0 no faster than rate spans a second
 * (sleeping whenever it is ahead of the schedule). Returns the spans made.
 */
static uint64_t produce_for(baton_tracer *t, uint64_t dur_ns, double rate)
{
	uint64_t n = 0, t0 = bench_now_ns(), now = t0;
	while (now - t0 < dur_ns) {
		produce(t, 1024);
		n += 1024;
		now = bench_now_ns();
		if (rate <= 0)
			continue;
		uint64_t due = t0 + (uint64_t)((double)n / rate * 1e9);
		if (due > now) {
			struct timespec ts = {(time_t)(due / 1000000000u),
			                      (long)(due % 1000000000u)};
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			now = bench_now_ns();
		}
	}
	return n;
}

/*
 * One producer thread ends sampled spans (3 attributes) into a batch
 * processor (queue 65536, batch 512, delay 200 ms) whose OTLP/HTTP
 * exporter (protobuf, no compression) posts to the project's test
 * collector on loopback. The collector walks each request's protobuf
 * framing down to every span and counts it (its light decoder: unpacking
 * with protobuf-c would cost more CPU than the exporter being measured).
 * The figure is spans the collector received per second, from the first
 * span to the end of the final flush. Notes: the producer's offered rate;
 * received; dropped (produced - received); the processor's queue-full
 * drops; requests; CPU ns per span of the producer, of the export worker
 * and of the rest of the process (mostly the collector), which on a
 * shared machine hold better than the wall-clock rate.
 */
static double export_run(double rate)
{
	tu_otlp_receiver *rc = tu_otlp_start();
	if (rc == NULL)
		abort();
	tu_otlp_light_decode(rc, true);
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = tu_otlp_url(rc),
	                              .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	if (baton_otlp_http_exporter_create(&oo, &e) != BATON_OK)
		abort();
	baton_processor p = init_batch(e, 200);
	baton_tracer *t = baton_tracer_get("bench", NULL);
	uint64_t w0 = threads_cpu_ns("baton-export");
	uint64_t c0 = bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID),
	         p0 = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	uint64_t t0 = bench_now_ns();
	uint64_t made = produce_for(t, run_ns(), rate);
	uint64_t tp = bench_now_ns() - t0;
	uint64_t pc = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - p0;
	baton_force_flush(60000);
	uint64_t el = bench_now_ns() - t0;
	uint64_t wc = threads_cpu_ns("baton-export") - w0;
	uint64_t all = bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	baton_batch_stats s;
	baton_batch_processor_stats(p, &s);
	tu_otlp_counts c = tu_otlp_get_counts(rc);
	bench_note("offered_per_s", (double)made / ((double)tp / 1e9));
	bench_note("received", (double)c.spans);
	bench_note("dropped", (double)(made > c.spans ? made - c.spans : 0));
	bench_note("dropped_queue_full", (double)s.dropped_queue_full);
	if (c.spans > made)
		bench_note("duplicated", (double)(c.spans - made));
	bench_note("requests", (double)c.requests);
	bench_note("spans_per_request",
	           c.requests ? (double)c.spans / (double)c.requests : 0);
	/* CPU time per span received: the producer, the export worker, the rest
	 * (mostly the collector). On a shared machine these hold better than
	 * wall-clock rates. */
	double got = c.spans ? (double)c.spans : 1;
	bench_note("cpu_ns_producer", (double)pc / (double)(made ? made : 1));
	bench_note("cpu_ns_worker", (double)wc / got);
	bench_note("cpu_ns_other", all > pc + wc ? (double)(all - pc - wc) / got : 0);
	baton_fini(10000);
	tu_otlp_stop(rc);
	return (double)c.spans / ((double)el / 1e9);
}

/* The producer as fast as it can go: the pipeline's maximum, drops and all. */
BENCH(export_end_to_end, "ops/s", NULL, 1)
{
	(void)iters;
	return export_run(0);
}

/* The producer paced at 2.0 M spans/s offered: does the pipeline keep up? */
BENCH(export_paced_2m, "ops/s", NULL, 1)
{
	(void)iters;
	return export_run(2000000.0);
}

/* Paced at 1.0 M spans/s: the same question with half the load. */
BENCH(export_paced_1m, "ops/s", NULL, 1)
{
	(void)iters;
	return export_run(1000000.0);
}
