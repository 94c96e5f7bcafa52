/* OTLP/HTTP exporter behind the batch processor when the collector misbehaves. */
#include "otlp_receiver.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

TU_OTLP_SUITE(otlp_retry);

static baton_processor init_sdk(const char *url, uint32_t timeout_ms, uint32_t queue,
                                uint32_t batch)
{
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = url,
	                              .timeout_ms = timeout_ms,
	                              .compression = BATON_OTLP_COMPRESSION_NONE,
	                              .retry_initial_ms = 10,
	                              .retry_max_ms = 50};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&oo, &e), BATON_OK);
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = queue,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = 60000,
	                          .export_timeout_ms = 30000};
	baton_processor p = tu_init_batch(e, &bo);
	return p;
}

static void make_spans(const char *name, int n)
{
	baton_tracer *t = baton_tracer_get("retry", NULL);
	for (int i = 0; i < n; i++) {
		baton_span s = baton_span_start(t, name);
		baton_span_set_int(s, "i", i);
		baton_span_end(s);
	}
}

/* A loopback port with nothing listening on it. */
static void dead_url(char *buf, size_t cap)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	snprintf(buf, cap, "http://127.0.0.1:%d/v1/traces", ntohs(a.sin_port));
}

Test(otlp_retry, zero_loss_when_the_collector_recovers_within_the_budget)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 10000, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_503, 3);
	make_spans("recover", 250);
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 250);
	cr_assert_eq(s.dropped_export_failure, 0);
	cr_assert_eq(s.export_retries, 3);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 250);
	cr_assert_eq(tu_otlp_spans_named(rcv, "recover"), 250);
	baton_fini(5000);
}

Test(otlp_retry, dropped_connections_are_retried)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 10000, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_DROP, 2);
	make_spans("drop", 40);
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 40);
	cr_assert_eq(s.export_retries, 2);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 40);
	baton_fini(5000);
}

Test(otlp_retry, retry_after_in_seconds_is_honoured)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 10000, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_429_SECONDS, 1);
	make_spans("later", 10);
	uint64_t t0 = baton_time_mono_ns();
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	uint64_t el = baton_time_mono_ns() - t0;
	/* Retry-After: 1 overrides the 10 ms backoff (a lower bound cannot flake). */
	cr_assert_geq(el, 900000000ull, "retried after %llu ns", (unsigned long long)el);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 10);
	cr_assert_eq(s.export_retries, 1);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 2);
	baton_fini(5000);
}

Test(otlp_retry, retry_after_as_an_http_date_is_honoured)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 10000, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_429_DATE, 1);
	make_spans("date", 10);
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 10);
	cr_assert_eq(s.export_retries, 1);
	baton_fini(5000);
}

Test(otlp_retry, a_retry_after_beyond_the_export_timeout_fails_at_once)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 500, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_429_SECONDS, -1);
	make_spans("toolate", 10);
	cr_assert_eq(baton_force_flush(20000), BATON_ETRANSPORT);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.dropped_export_failure, 10);
	cr_assert_eq(s.export_retries, 0, "waiting 1 s would overrun the 500 ms budget");
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 1);
	baton_fini(5000);
}

Test(otlp_retry, other_client_errors_are_not_retried)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 10000, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_400, -1);
	make_spans("bad", 30);
	cr_assert_eq(baton_force_flush(20000), BATON_EREJECTED);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.dropped_export_failure, 30);
	cr_assert_eq(s.export_failures, 1);
	cr_assert_eq(s.export_retries, 0);
	cr_assert(strstr(s.last_error, "HTTP 400") != NULL, "last error: %s",
	          s.last_error);
	cr_assert(strstr(s.last_error, "bad request") != NULL);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 1);
	baton_fini(5000);
}

Test(otlp_retry, a_collector_that_never_recovers_gives_counted_drops_and_bounded_memory)
{
	enum { N = 6000 };
	baton_processor p = init_sdk(tu_otlp_url(rcv), 200, 256, 64);
	tu_otlp_set_mode(rcv, TU_OTLP_503, -1);
	make_spans("lost", N);
	cr_assert_eq(baton_force_flush(30000), BATON_ETRANSPORT);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_received, N);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.dropped_queue_full + s.dropped_export_failure, N);
	cr_assert_gt(s.dropped_export_failure, 0);
	cr_assert_gt(s.export_retries, 0);
	/* The reason names the give-up (the last attempt may be a 503 or the budget's
	 * end). */
	cr_assert(strstr(s.last_error, "gave up after") != NULL, "last error: %s",
	          s.last_error);
	baton_sdk_stats ss;
	baton_sdk_stats_get(&ss);
	cr_assert_eq(ss.spans_live, 0, "every span went back to the store");
	/* The store never held much more than the ring, a batch and per-thread caches. */
	cr_assert_leq(ss.store_records, 1024, "%llu records for %d spans",
	              (unsigned long long)ss.store_records, N);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 0);
	baton_fini(5000);
}

Test(otlp_retry, shutdown_is_bounded_against_a_dead_collector)
{
	char url[64];
	dead_url(url, sizeof(url));
	/* A one-minute export budget: only the shutdown's own timeout can end it early.
	 */
	baton_processor p = init_sdk(url, 60000, 4096, 50);
	make_spans("dead", 200);
	uint64_t t0 = baton_time_mono_ns();
	baton_err e = p.ops->shutdown(p.arg, 300);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_eq(e, BATON_ETIMEDOUT);
	cr_assert_lt(el, 10000000000ull, "shutdown took %llu ns", (unsigned long long)el);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.dropped_shutdown + s.dropped_export_failure, 200);
	cr_assert_gt(s.export_retries, 0, "connection refused is retried");
	baton_fini(1000);
}

Test(otlp_retry, shutdown_is_bounded_against_a_hanging_collector)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 60000, 4096, 50);
	tu_otlp_set_mode(rcv, TU_OTLP_HANG, -1);
	make_spans("hang", 200);
	uint64_t t0 = baton_time_mono_ns();
	baton_err e = p.ops->shutdown(p.arg, 300);
	uint64_t el = baton_time_mono_ns() - t0;
	cr_assert_eq(e, BATON_ETIMEDOUT);
	cr_assert_lt(el, 10000000000ull, "shutdown took %llu ns", (unsigned long long)el);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.dropped_shutdown + s.dropped_export_failure, 200);
	cr_assert_geq(tu_otlp_get_counts(rcv).requests, 1);
	t0 = baton_time_mono_ns();
	baton_fini(1000);
	cr_assert_lt(baton_time_mono_ns() - t0, 10000000000ull);
}

Test(otlp_retry, fini_exports_everything_to_a_reachable_collector)
{
	init_sdk(tu_otlp_url(rcv), 10000, 8192, 512);
	make_spans("fini", 3000);
	cr_assert_eq(baton_fini(20000), BATON_OK);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 3000);
}

/* The SDK over an exporter with the given options and a batch processor. */
static baton_processor init_with(baton_otlp_http_options *oo, uint32_t batch)
{
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(oo, &e), BATON_OK);
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 4096,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = 60000,
	                          .export_timeout_ms = 30000};
	baton_processor p = tu_init_batch(e, &bo);
	return p;
}

Test(otlp_retry, flush_and_fini_return_an_error_when_the_collector_answers_503)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 300, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_503, -1);
	make_spans("unavailable", 50);
	cr_assert_eq(baton_force_flush(20000), BATON_ETRANSPORT);
	cr_assert_eq(tu_batch_stats(p).dropped_export_failure, 50);
	make_spans("unavailable", 50);
	cr_assert_eq(baton_fini(20000), BATON_ETRANSPORT);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 0);
}

Test(otlp_retry, flush_and_fini_return_ok_when_the_collector_takes_everything)
{
	init_sdk(tu_otlp_url(rcv), 10000, 4096, 100);
	make_spans("fine", 50);
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	make_spans("fine", 50);
	cr_assert_eq(baton_fini(20000), BATON_OK);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 100);
}

/* Requests the collector saw while one 2 s export keeps being told 429. */
static uint64_t requests_in_two_seconds(tu_otlp_mode mode)
{
	/* The default backoff: 200 ms doubling up to 5 s, with jitter. */
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = tu_otlp_url(rcv),
	                              .timeout_ms = 2000,
	                              .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_processor p = init_with(&oo, 100);
	tu_otlp_set_mode(rcv, mode, -1);
	make_spans("storm", 10);
	uint64_t t0 = baton_time_mono_ns();
	cr_assert_eq(baton_force_flush(20000), BATON_ETRANSPORT);
	cr_assert_lt(baton_time_mono_ns() - t0, 3000000000ull);
	cr_assert_eq(tu_batch_stats(p).dropped_export_failure, 10);
	return tu_otlp_get_counts(rcv).requests;
}

Test(otlp_retry, retry_after_zero_does_not_cut_the_backoff)
{
	uint64_t n = requests_in_two_seconds(TU_OTLP_429_ZERO);
	/* 0, ~0.15, ~0.45, ~1.05 s ...: a handful, never hundreds. */
	cr_assert_leq(n, 8, "%llu requests in 2 s", (unsigned long long)n);
	cr_assert_geq(n, 2);
	baton_fini(2000);
}

Test(otlp_retry, retry_after_in_the_past_does_not_cut_the_backoff)
{
	uint64_t n = requests_in_two_seconds(TU_OTLP_429_PAST);
	cr_assert_leq(n, 8, "%llu requests in 2 s", (unsigned long long)n);
	cr_assert_geq(n, 2);
	baton_fini(2000);
}

Test(otlp_retry, retry_after_holds_back_the_next_batches_too)
{
	baton_processor p = init_sdk(tu_otlp_url(rcv), 500, 4096, 100);
	tu_otlp_set_mode(rcv, TU_OTLP_429_SECONDS, 1); /* Retry-After: 1, then 200s */
	make_spans("first", 10);
	uint64_t t0 = baton_time_mono_ns();
	cr_assert_eq(baton_force_flush(20000), BATON_ETRANSPORT);
	/* The next batch, within the second the collector asked for: not sent. */
	make_spans("second", 10);
	cr_assert_eq(baton_force_flush(20000), BATON_ETRANSPORT);
	cr_assert_lt(baton_time_mono_ns() - t0, 900000000ull);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 1);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert(strstr(s.last_error, "Retry-After") != NULL, "%s", s.last_error);
	/* Once the second is over, batches go out again. */
	struct timespec ts = {1, 100000000L};
	nanosleep(&ts, NULL);
	make_spans("third", 10);
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	cr_assert_eq(tu_otlp_get_counts(rcv).requests, 2);
	cr_assert_eq(tu_otlp_spans_named(rcv, "third"), 10);
	baton_fini(2000);
}

Test(otlp_retry, an_export_timeout_of_zero_in_the_environment_means_no_timeout)
{
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0", 1);
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = tu_otlp_url(rcv),
	                              .compression = BATON_OTLP_COMPRESSION_NONE,
	                              .retry_initial_ms = 10,
	                              .retry_max_ms = 50};
	baton_processor p = init_with(&oo, 100);
	/* Without a bound it outlasts a collector that refuses for a while. */
	tu_otlp_set_mode(rcv, TU_OTLP_503, 5);
	make_spans("patient", 30);
	cr_assert_eq(baton_force_flush(20000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 30);
	cr_assert_eq(s.export_retries, 5);
	cr_assert_eq(tu_otlp_spans_named(rcv, "patient"), 30);
	baton_fini(2000);
}

Test(otlp_retry, flush_and_fini_return_an_error_after_a_tls_failure)
{
	/*
	 * https:// to a plain-HTTP receiver: it waits for a request line that
	 * never comes, so the TLS handshake never completes.
	 */
	char url[96];
	snprintf(url, sizeof(url), "https://%s", tu_otlp_url(rcv) + strlen("http://"));
	baton_processor p = init_sdk(url, 500, 4096, 100);
	make_spans("tls", 20);
	cr_assert_eq(baton_force_flush(20000), BATON_ETIMEDOUT);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.dropped_export_failure, 20);
	cr_assert(strstr(s.last_error, "Timeout") != NULL, "%s", s.last_error);
	make_spans("tls", 20);
	cr_assert_eq(baton_fini(20000), BATON_ETIMEDOUT);
}
