/*
 * OTLP/HTTP exporter over TLS: a private CA, mutual TLS, a wrong CA, and
 * the OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE / CLIENT_KEY /
 * CLIENT_CERTIFICATE variables. The certificates are made at test time
 * with the openssl command in a temporary folder: a CA, a server
 * certificate for 127.0.0.1 and a client certificate, both signed by it,
 * and a second CA that signed nothing here. The Jaeger remote sampler's
 * TLS options are checked here too, against an HTTPS stub.
 */
#include "httpstub.h"
#include "otlp_receiver.h"
#include "testutil.h"

#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <baton/remote_sampling.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char ca[128], ca_key[128], srv[128], srv_key[128], cli[128], cli_key[128];
static char other_ca[128], other_ca_key[128];
static tu_otlp_receiver *rcv;

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char logged[16384];
static size_t logged_len;

static void capture_log(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&log_mtx);
	int n = snprintf(logged + logged_len, sizeof(logged) - logged_len, "%s\n", msg);
	if (n > 0 && logged_len + (size_t)n < sizeof(logged))
		logged_len += (size_t)n;
	pthread_mutex_unlock(&log_mtx);
}

static bool log_has(const char *s)
{
	pthread_mutex_lock(&log_mtx);
	bool yes = strstr(logged, s) != NULL;
	pthread_mutex_unlock(&log_mtx);
	return yes;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

#define P(buf, name) snprintf(buf, sizeof(buf), "%s/" name, dir)

/* A CA (self-signed) at crt/key. */
static void make_ca(const char *crt, const char *key, const char *cn)
{
	sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	   "-days 2 -subj /CN=%s "
	   "-keyout %s -out %s 2>/dev/null",
	   cn, key, crt);
}

/* A leaf certificate signed by the CA; ext: extra x509v3 lines. */
static void make_leaf(const char *crt, const char *key, const char *cn, const char *ext)
{
	char csr[128], extf[128];
	snprintf(csr, sizeof(csr), "%s.csr", crt);
	snprintf(extf, sizeof(extf), "%s.ext", crt);
	FILE *f = fopen(extf, "w");
	cr_assert_not_null(f);
	fputs(ext, f);
	fclose(f);
	sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "
	   "/CN=%s -keyout %s -out %s "
	   "2>/dev/null",
	   cn, key, csr);
	sh("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -days 2 "
	   "-extfile %s -out %s 2>/dev/null",
	   csr, ca, ca_key, extf, crt);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/baton-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	P(ca, "ca.pem");
	P(ca_key, "ca.key");
	P(srv, "server.pem");
	P(srv_key, "server.key");
	P(cli, "client.pem");
	P(cli_key, "client.key");
	P(other_ca, "other-ca.pem");
	P(other_ca_key, "other-ca.key");
	make_ca(ca, ca_key, "baton-test-ca");
	make_ca(other_ca, other_ca_key, "unrelated-ca");
	make_leaf(srv, srv_key, "127.0.0.1",
	          "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
	make_leaf(cli, cli_key, "baton-client", "extendedKeyUsage=clientAuth\n");
	logged[0] = '\0';
	logged_len = 0;
	baton_set_log(BATON_LOG_DEBUG, capture_log, NULL);
	unsetenv("OTEL_EXPORTER_OTLP_CERTIFICATE");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE");
	unsetenv("OTEL_EXPORTER_OTLP_CLIENT_KEY");
	unsetenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE");
}

static void teardown(void)
{
	tu_otlp_stop(rcv);
	rcv = NULL;
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	sh("rm -rf %s", dir);
}

TestSuite(otlp_tls, .init = setup, .fini = teardown);

static void start(bool mtls)
{
	rcv = tu_otlp_start_tls(mtls ? ca : NULL, srv, srv_key, mtls);
	cr_assert_not_null(rcv);
	cr_assert_eq(strncmp(tu_otlp_url(rcv), "https://", 8), 0);
}

static baton_processor init_sdk(const baton_otlp_http_options *base)
{
	baton_otlp_http_options oo = *base;
	oo.size = sizeof(oo);
	oo.endpoint = tu_otlp_url(rcv);
	oo.timeout_ms = 3000;
	oo.compression = BATON_OTLP_COMPRESSION_NONE;
	oo.retry_initial_ms = 10;
	oo.retry_max_ms = 50;
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&oo, &e), BATON_OK);
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 1024,
	                          .max_export_batch_size = 100,
	                          .schedule_delay_ms = 60000,
	                          .export_timeout_ms = 10000};
	baton_processor p = tu_init_batch(e, &bo);
	return p;
}

static void make_spans(const char *name, int n)
{
	baton_tracer *t = baton_tracer_get("tls", NULL);
	for (int i = 0; i < n; i++)
		baton_span_end(baton_span_start(t, name));
}

/* Exports 10 spans and checks that all reached the collector. */
static void expect_delivery(baton_processor p)
{
	make_spans("tls-ok", 10);
	cr_assert_eq(baton_force_flush(10000), BATON_OK, "log: %s", logged);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 10);
	cr_assert_eq(s.dropped_export_failure, 0);
	cr_assert_eq(tu_otlp_spans_named(rcv, "tls-ok"), 10);
	baton_fini(5000);
}

/* Exports 10 spans and checks that the export failed and counted them. */
static void expect_failure(baton_processor p)
{
	make_spans("tls-no", 10);
	cr_assert_neq(baton_force_flush(10000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.spans_exported, 0);
	cr_assert_eq(s.dropped_export_failure, 10);
	cr_assert_geq(s.export_failures, 1);
	cr_assert_eq(tu_otlp_get_counts(rcv).spans, 0);
	baton_fini(5000);
}

/* The collector's count of failed handshakes, once it has seen one (2 s at most). */
static uint64_t wait_tls_failures(void)
{
	for (int i = 0; i < 200 && tu_otlp_get_counts(rcv).tls_failures == 0; i++)
		usleep(10000);
	return tu_otlp_get_counts(rcv).tls_failures;
}

Test(otlp_tls, a_collector_behind_a_private_ca_gets_the_spans)
{
	start(false);
	baton_processor p = init_sdk(&(baton_otlp_http_options){.certificate = ca});
	expect_delivery(p);
}

Test(otlp_tls, without_the_ca_the_export_fails_with_the_tls_reason)
{
	start(false);
	baton_processor p = init_sdk(&(baton_otlp_http_options){0});
	make_spans("tls-no", 10);
	cr_assert_neq(baton_force_flush(10000), BATON_OK);
	baton_batch_stats s = tu_batch_stats(p);
	cr_assert_eq(s.dropped_export_failure, 10);
	cr_assert(strstr(s.last_error, "certificate") != NULL, "%s", s.last_error);
	baton_fini(5000);
}

Test(otlp_tls, a_wrong_ca_fails_the_export_with_a_clear_error)
{
	start(false);
	baton_processor p = init_sdk(&(baton_otlp_http_options){.certificate = other_ca});
	expect_failure(p);
	cr_assert(log_has("SSL certificate problem"), "log: %s", logged);
	cr_assert_geq(wait_tls_failures(), 1);
}

Test(otlp_tls, mutual_tls_with_the_client_certificate)
{
	start(true);
	baton_processor p = init_sdk(&(baton_otlp_http_options){
	    .certificate = ca, .client_key = cli_key, .client_certificate = cli});
	expect_delivery(p);
	cr_assert_eq(tu_otlp_get_counts(rcv).tls_failures, 0);
}

Test(otlp_tls, mutual_tls_without_a_client_certificate_fails)
{
	start(true);
	baton_processor p = init_sdk(&(baton_otlp_http_options){.certificate = ca});
	expect_failure(p);
	cr_assert_geq(wait_tls_failures(), 1);
	/* The collector's alert, in full, and no retry: it will not change its mind. */
	cr_assert(log_has("alert certificate required"), "log: %s", logged);
	cr_assert_eq(tu_otlp_get_counts(rcv).connections, 1);
}

Test(otlp_tls, the_variables_work_and_traces_wins_over_the_general_one)
{
	start(true);
	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", other_ca, 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", ca, 1);
	setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/general.key", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", cli_key, 1);
	setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cli, 1);
	baton_processor p = init_sdk(&(baton_otlp_http_options){0});
	expect_delivery(p);
	cr_assert(!log_has("cannot be read"), "log: %s", logged);
}

Test(otlp_tls, the_general_variables_alone_work)
{
	start(true);
	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", ca, 1);
	setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", cli_key, 1);
	setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cli, 1);
	baton_processor p = init_sdk(&(baton_otlp_http_options){0});
	expect_delivery(p);
}

Test(otlp_tls, an_unreadable_ca_file_is_named_and_exports_fail)
{
	start(false);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/nonexistent/ca.pem", 1);
	baton_processor p = init_sdk(&(baton_otlp_http_options){0});
	cr_assert(log_has("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=\"/nonexistent/ca.pem\" "
	                  "cannot be read"),
	          "log: %s", logged);
	expect_failure(p);
}

Test(otlp_tls, the_option_wins_over_the_variable)
{
	start(false);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", other_ca, 1);
	baton_processor p = init_sdk(&(baton_otlp_http_options){.certificate = ca});
	expect_delivery(p);
}

/* ---- the Jaeger remote sampler ---- */

static tu_httpstub *stub;

static void rs_teardown(void)
{
	unsetenv("OTEL_TRACES_SAMPLER");
	unsetenv("OTEL_TRACES_SAMPLER_ARG");
	tu_httpstub_stop(stub);
	stub = NULL;
	teardown();
}

TestSuite(remote_tls, .init = setup, .fini = rs_teardown);

#define PROB_25                                                                          \
	"{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{"                \
	"\"samplingRate\":0.25}}"

/* Polls the stub once with the given TLS options; returns the poll's result. */
static baton_err rs_poll(bool mtls, const char *cert, const char *key, const char *crt,
                         baton_remote_sampler_stats *st)
{
	char endpoint[128];
	stub = tu_httpstub_start_tls(mtls ? ca : NULL, srv, srv_key, mtls);
	cr_assert_eq(strncmp(tu_httpstub_base(stub), "https://", 8), 0);
	tu_httpstub_set(stub, 200, PROB_25);
	snprintf(endpoint, sizeof(endpoint), "%s/sampling", tu_httpstub_base(stub));
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = endpoint,
	                                  .service_name = "svc",
	                                  .timeout_ms = 3000,
	                                  .manual_polling = true,
	                                  .certificate = cert,
	                                  .client_key = key,
	                                  .client_certificate = crt};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	baton_err rv = baton_remote_sampler_poll_now(s, 10000);
	cr_assert_eq(baton_remote_sampler_stats_get(s, st), BATON_OK);
	baton_sampler_destroy(s);
	return rv;
}

Test(remote_tls, an_endpoint_behind_a_private_ca_is_polled)
{
	baton_remote_sampler_stats st;
	cr_assert_eq(rs_poll(false, ca, NULL, NULL, &st), BATON_OK, "log: %s", logged);
	cr_assert_eq(st.strategy, BATON_REMOTE_PROBABILISTIC);
	cr_assert_float_eq(st.probability, 0.25, 1e-9);
}

Test(remote_tls, mutual_tls_with_the_client_certificate)
{
	baton_remote_sampler_stats st;
	cr_assert_eq(rs_poll(true, ca, cli_key, cli, &st), BATON_OK, "log: %s", logged);
	cr_assert_eq(st.strategy, BATON_REMOTE_PROBABILISTIC);
	cr_assert_eq(tu_httpstub_tls_failures(stub), 0);
}

Test(remote_tls, a_wrong_ca_fails_the_poll_with_the_tls_reason)
{
	baton_remote_sampler_stats st;
	cr_assert_eq(rs_poll(false, other_ca, NULL, NULL, &st), BATON_ETRANSPORT);
	cr_assert_eq(st.failures, 1);
	cr_assert_eq(st.strategy, BATON_REMOTE_INITIAL);
	cr_assert(log_has("SSL certificate problem"), "log: %s", logged);
}

Test(remote_tls, mutual_tls_without_a_client_certificate_fails)
{
	baton_remote_sampler_stats st;
	cr_assert_neq(rs_poll(true, ca, NULL, NULL, &st), BATON_OK);
	cr_assert_eq(st.strategy, BATON_REMOTE_INITIAL);
	cr_assert(log_has("alert certificate required"), "log: %s", logged);
}

Test(remote_tls, an_unreadable_file_is_named)
{
	baton_remote_sampler_stats st;
	cr_assert_neq(rs_poll(false, "/nonexistent/ca.pem", NULL, NULL, &st), BATON_OK);
	cr_assert(log_has("certificate \"/nonexistent/ca.pem\" cannot be read"),
	          "log: %s", logged);
}

Test(remote_tls, otel_traces_sampler_arg_gives_the_tls_files)
{
	char arg[1024];
	stub = tu_httpstub_start_tls(ca, srv, srv_key, true);
	tu_httpstub_set(stub, 200, PROB_25);
	snprintf(arg, sizeof(arg),
	         "endpoint=%s/sampling,certificate=%s,clientKey=%s,clientCertificate=%s",
	         tu_httpstub_base(stub), ca, cli_key, cli);
	setenv("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote", 1);
	setenv("OTEL_TRACES_SAMPLER_ARG", arg, 1);
	baton_remote_sampling_register();
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	/* A request is only read after a handshake with the client's certificate. */
	cr_assert_geq(tu_httpstub_wait_requests(stub, 1, 10000), 1, "log: %s", logged);
	cr_assert_eq(tu_httpstub_tls_failures(stub), 0);
	cr_assert(!log_has("OTEL_TRACES_SAMPLER_ARG"), "log: %s", logged);
	baton_sampler_destroy(s);
}

Test(remote_tls, a_tls_path_with_a_control_byte_is_refused_by_name)
{
	setenv("OTEL_TRACES_SAMPLER", "jaeger_remote", 1);
	setenv("OTEL_TRACES_SAMPLER_ARG",
	       "endpoint=http://127.0.0.1:9/sampling,clientKey=/a\tb,certificate=", 1);
	baton_remote_sampling_register();
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert(
	    log_has("OTEL_TRACES_SAMPLER_ARG: clientKey \"/a?b\" is not a file path"),
	    "log: %s", logged);
	cr_assert(log_has("OTEL_TRACES_SAMPLER_ARG: certificate \"\" is not a file path"),
	          "log: %s", logged);
	baton_sampler_destroy(s);
}

Test(otlp_tls, tls_files_with_a_plain_http_endpoint_are_called_out)
{
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = "http://127.0.0.1:9/v1/traces",
	                              .certificate = ca};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&oo, &e), BATON_OK);
	cr_assert(log_has("are not used and spans go out unencrypted"), "log: %s",
	          logged);
	e.ops->destroy(e.arg);
}
