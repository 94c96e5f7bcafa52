/* The Jaeger remote sampler against a loopback HTTP server. */
#include <baton/remote_sampling.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpstub.h"
#include "sampling/sampling_int.h"
#include "testutil.h"

#define PROB(p)                                                                          \
	"{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{"                \
	"\"samplingRate\":" p "}}"

static tu_httpstub *stub;
static char endpoint[128];

static void setup(void)
{
	stub = tu_httpstub_start();
	snprintf(endpoint, sizeof(endpoint), "%s/sampling", tu_httpstub_base(stub));
}

static void teardown(void)
{
	tu_httpstub_stop(stub);
}

TestSuite(remote, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(remote_env, .init = setup, .fini = teardown, .timeout = 60);

/* A test clock for the token buckets. */
static uint64_t fake_ns = 1000000000000ull;
static uint64_t fake_clock(void)
{
	return fake_ns;
}

static baton_sampler manual(double initial, uint32_t timeout_ms)
{
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = endpoint,
	                                  .service_name = "svc a/b",
	                                  .initial_sampling_rate = initial,
	                                  .timeout_ms = timeout_ms,
	                                  .manual_polling = true};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_str_eq(s.ops->name, "jaeger_remote");
	return s;
}

static baton_sampling_result decide(baton_sampler s, const char *name,
                                    uint64_t randomness)
{
	static const baton_span_context none;
	uint8_t tid[16];
	memset(tid, 0x5a, 9);
	for (int i = 15; i >= 9; i--) {
		tid[i] = (uint8_t)randomness;
		randomness >>= 8;
	}
	baton_sampling_params p = {.parent = &none, .trace_id = tid, .name = name};
	baton_sampling_result r = {BATON_SAMPLING_DROP, false, 0};
	s.ops->should_sample(s.arg, &p, &r);
	return r;
}

/* Checks that s samples like traceidratio(p): the keep boundary is th(p). */
static void assert_ratio(baton_sampler s, double p, const char *name)
{
	uint64_t th = baton_threshold_from_probability(p);
	baton_sampling_result r = decide(s, name, th);
	cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE,
	             "p=%g at its threshold", p);
	cr_assert(r.has_threshold);
	cr_assert_eq(r.threshold, th);
	if (th > 0)
		cr_assert_eq(decide(s, name, th - 1).decision, BATON_SAMPLING_DROP,
		             "p=%g below", p);
}

static baton_remote_sampler_stats stats(baton_sampler s)
{
	baton_remote_sampler_stats st;
	cr_assert_eq(baton_remote_sampler_stats_get(s, &st), BATON_OK);
	return st;
}

Test(remote, initial_rate_until_the_first_good_answer)
{
	baton_sampler s = manual(0.5, 2000);
	cr_assert_eq(stats(s).strategy, BATON_REMOTE_INITIAL);
	assert_ratio(s, 0.5, "op");
	tu_httpstub_set(stub, 500, "oops");
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_EREJECTED);
	baton_remote_sampler_stats st = stats(s);
	cr_assert_eq(st.strategy, BATON_REMOTE_INITIAL);
	cr_assert_eq(st.polls, 1);
	cr_assert_eq(st.failures, 1);
	cr_assert_eq(st.last_result, BATON_EREJECTED);
	assert_ratio(s, 0.5, "op");
	baton_sampler_destroy(s);
}

Test(remote, default_initial_rate_is_one_in_a_thousand)
{
	baton_sampler s = manual(0, 2000);
	assert_ratio(s, 0.001, "op");
	baton_sampler_destroy(s);
}

Test(remote, probabilistic_strategy_and_the_request_it_sends)
{
	baton_sampler s = manual(0.5, 2000);
	tu_httpstub_set(stub, 200, PROB("0.25"));
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_OK);
	char target[256];
	tu_httpstub_last_target(stub, target, sizeof(target));
	cr_assert_str_eq(target, "/sampling?service=svc%20a%2Fb");
	baton_remote_sampler_stats st = stats(s);
	cr_assert_eq(st.strategy, BATON_REMOTE_PROBABILISTIC);
	cr_assert_eq(st.probability, 0.25);
	assert_ratio(s, 0.25, "op");
	baton_sampler_destroy(s);
}

Test(remote, rate_limiting_strategy_is_a_token_bucket)
{
	bt_sampling_clock = fake_clock;
	baton_sampler s = manual(0.5, 2000);
	tu_httpstub_set(stub, 200,
	                "{\"strategyType\":\"RATE_LIMITING\",\"rateLimitingSampling\":"
	                "{\"maxTracesPerSecond\":3}}");
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_OK);
	cr_assert_eq(stats(s).strategy, BATON_REMOTE_RATE_LIMITING);
	cr_assert_eq(stats(s).max_per_sec, 3.0);
	for (int round = 0; round < 3; round++) {
		int kept = 0;
		for (int i = 0; i < 100; i++) {
			baton_sampling_result r = decide(s, "op", BATON_TH_MAX - 1);
			kept += r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
		}
		cr_assert_eq(kept, 3, "round %d: %d kept at 3/s", round, kept);
		fake_ns += 1000000000ull;
	}
	/* A third of a second refills one token. */
	fake_ns += 1000000000ull / 3 + 1;
	int kept = 0;
	for (int i = 0; i < 10; i++)
		kept += decide(s, "op", 0).decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
	cr_assert_eq(kept, 3, "the bucket holds at most 3");
	baton_sampler_destroy(s);
	bt_sampling_clock = NULL;
}

Test(remote, per_operation_strategy_with_lower_bound)
{
	bt_sampling_clock = fake_clock;
	baton_sampler s = manual(0.5, 2000);
	tu_httpstub_set(
	    stub, 200,
	    "{\"strategyType\":\"PROBABILISTIC\",\"operationSampling\":{"
	    "\"defaultSamplingProbability\":0.001,\"defaultLowerBoundTracesPerSecond\":2,"
	    "\"perOperationStrategies\":["
	    "{\"operation\":\"GET /a\",\"probabilisticSampling\":{\"samplingRate\":1}},"
	    "{\"operation\":\"b\",\"probabilisticSampling\":{\"samplingRate\":0}}]}}");
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_OK);
	baton_remote_sampler_stats st = stats(s);
	cr_assert_eq(st.strategy, BATON_REMOTE_PER_OPERATION);
	cr_assert_eq(st.operations, 2);
	cr_assert_eq(st.probability, 0.001);
	cr_assert_eq(st.max_per_sec, 2.0);
	/* Listed at 1: everything, threshold 0. */
	for (int i = 0; i < 50; i++) {
		baton_sampling_result r = decide(s, "GET /a", (uint64_t)i);
		cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
		cr_assert(r.has_threshold);
		cr_assert_eq(r.threshold, 0);
	}
	/* Listed at 0: only what the lower bound (2/s) lets through, without a threshold.
	 */
	int kept = 0;
	for (int i = 0; i < 50; i++) {
		baton_sampling_result r = decide(s, "b", BATON_TH_MAX - 1);
		if (r.decision == BATON_SAMPLING_RECORD_AND_SAMPLE) {
			kept++;
			cr_assert(!r.has_threshold);
		}
	}
	cr_assert_eq(kept, 2);
	/* Not listed: the default probability, consistently, and its own lower bound. */
	uint64_t th = baton_threshold_from_probability(0.001);
	baton_sampling_result r = decide(s, "c", th);
	cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	cr_assert(r.has_threshold);
	cr_assert_eq(r.threshold, th);
	kept = 0;
	for (int i = 0; i < 50; i++)
		kept += decide(s, "c", 0).decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
	cr_assert_eq(kept, 1, "one token left after the probabilistic keep took one");
	fake_ns += 1000000000ull;
	kept = 0;
	for (int i = 0; i < 50; i++)
		kept += decide(s, "b", 0).decision == BATON_SAMPLING_RECORD_AND_SAMPLE;
	cr_assert_eq(kept, 2, "refilled after a second");
	baton_sampler_destroy(s);
	bt_sampling_clock = NULL;
}

/* After a good strategy, each failure keeps it. */
Test(remote, failures_keep_the_last_good_strategy)
{
	baton_sampler s = manual(0.5, 300);
	tu_httpstub_set(stub, 200, PROB("0.25"));
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_OK);
	struct {
		int status;
		const char *body;
		baton_err want;
	} bad[] = {
	    {503, PROB("1"), BATON_EREJECTED},
	    {404, "", BATON_EREJECTED},
	    {200, "not json", BATON_EFORMAT},
	    {200, "{}", BATON_EFORMAT},
	    {200, PROB("2"), BATON_EFORMAT},
	    {200, "{\"probabilisticSampling\":{\"samplingRate\":0.5}", BATON_EFORMAT},
	    {200, "", BATON_EFORMAT},
	    {0, NULL, BATON_ETRANSPORT}, /* the server never answers: timeout */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_httpstub_set(stub, bad[i].status, bad[i].body);
		cr_assert_eq(baton_remote_sampler_poll_now(s, 20000), bad[i].want,
		             "case %zu", i);
		baton_remote_sampler_stats st = stats(s);
		cr_assert_eq(st.strategy, BATON_REMOTE_PROBABILISTIC);
		cr_assert_eq(st.probability, 0.25);
		cr_assert_eq(st.failures, i + 1);
		assert_ratio(s, 0.25, "op");
	}
	/* And a good answer afterwards applies. */
	tu_httpstub_set(stub, 200, PROB("0.75"));
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_OK);
	assert_ratio(s, 0.75, "op");
	baton_sampler_destroy(s);
}

Test(remote, an_answer_over_the_size_limit_is_refused)
{
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = endpoint,
	                                  .max_body_bytes = 64,
	                                  .manual_polling = true};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	char big[4096];
	snprintf(big, sizeof(big),
	         "{\"probabilisticSampling\":{\"samplingRate\":0.5},\"pad\":\"%0*d\"}",
	         2000, 0);
	tu_httpstub_set(stub, 200, big);
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_ETOOBIG);
	cr_assert_eq(stats(s).strategy, BATON_REMOTE_INITIAL);
	baton_sampler_destroy(s);
}

Test(remote, no_server_is_a_transport_error)
{
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = "http://127.0.0.1:1/sampling",
	                                  .manual_polling = true};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_ETRANSPORT);
	baton_sampler_destroy(s);
}

static char rs_logged[4096];
static void rs_capture(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	strncat(rs_logged, msg, sizeof(rs_logged) - strlen(rs_logged) - 2);
	strcat(rs_logged, "\n");
}

/* The endpoint's password and query never reach a log line. */
Test(remote, log_lines_redact_the_endpoint_userinfo)
{
	baton_remote_sampler_options o = {
	    .size = sizeof(o),
	    .endpoint = "http://sampler:hunter2@127.0.0.1:1/sampling?token=s3cr3t",
	    .manual_polling = true};
	rs_logged[0] = '\0';
	baton_set_log(BATON_LOG_DEBUG, rs_capture, NULL);
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_eq(baton_remote_sampler_poll_now(s, 10000), BATON_ETRANSPORT);
	baton_sampler_destroy(s);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
	cr_assert(strstr(rs_logged, "127.0.0.1") != NULL, "%s", rs_logged);
	cr_assert(strstr(rs_logged, "hunter2") == NULL, "%s", rs_logged);
	cr_assert(strstr(rs_logged, "s3cr3t") == NULL, "%s", rs_logged);
}

Test(remote, bad_options_are_rejected)
{
	baton_sampler s = {0};
	baton_remote_sampler_options o = {.size = sizeof(o), .endpoint = "ftp://x"};
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_EINVAL);
	o = (baton_remote_sampler_options){.size = sizeof(o),
	                                   .initial_sampling_rate = 1.5};
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_EINVAL);
	o = (baton_remote_sampler_options){.size = 4};
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_EINVAL);
	cr_assert_null(s.ops);
	cr_assert_eq(baton_remote_sampler_poll_now(baton_sampler_always_on(), 10),
	             BATON_EINVAL);
}

Test(remote, the_thread_polls_every_interval_and_stops_at_once)
{
	tu_httpstub_set(stub, 200, PROB("0.25"));
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = endpoint,
	                                  .service_name = "svc",
	                                  .polling_interval_ms = 50};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_geq(tu_httpstub_wait_requests(stub, 3, 20000), 3);
	/* poll_now wakes the thread rather than waiting out the interval. */
	cr_assert_eq(baton_remote_sampler_poll_now(s, 20000), BATON_OK);
	cr_assert_eq(stats(s).strategy, BATON_REMOTE_PROBABILISTIC);
	baton_sampler_destroy(s);
	/* A 10-minute interval: destroy must not wait it out (the suite times out at 60
	 * s). */
	o.polling_interval_ms = 600000;
	/* Counted before the create: its first poll can come before the next line. */
	int before = tu_httpstub_requests(stub);
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_geq(tu_httpstub_wait_requests(stub, before + 1, 20000), before + 1);
	cr_assert_eq(baton_remote_sampler_poll_now(s, 20000), BATON_OK);
	baton_sampler_destroy(s);
}

/* The application's signal handlers never run on the poller: a program that
 * routes signals to one thread of its own still gets them there. */
Test(remote, the_poller_thread_blocks_every_signal)
{
	tu_httpstub_set(stub, 200, PROB("0.25"));
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = endpoint,
	                                  .service_name = "svc",
	                                  .polling_interval_ms = 600000};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_geq(tu_httpstub_wait_requests(stub, 1, 20000), 1);
	int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGPIPE, SIGCHLD};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		int found;
		int blocking = tu_threads_blocking("baton-sampling", sigs[i], &found);
		cr_assert_eq(found, 1, "one poller thread");
		cr_assert_eq(blocking, 1, "the poller blocks signal %d", sigs[i]);
	}
	baton_sampler_destroy(s);
}

Test(remote, destroy_abandons_a_hanging_request)
{
	tu_httpstub_set(stub, 0, NULL); /* hang */
	baton_remote_sampler_options o = {.size = sizeof(o),
	                                  .endpoint = endpoint,
	                                  .timeout_ms = 600000,
	                                  .polling_interval_ms = 600000};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_geq(tu_httpstub_wait_requests(stub, 1, 20000), 1);
	cr_assert_eq(baton_remote_sampler_poll_now(s, 50), BATON_ETIMEDOUT);
	baton_sampler_destroy(s); /* returns within about a second, not 10 minutes */
}

Test(remote, a_forked_child_keeps_the_strategy_and_stops_polling)
{
	TU_SKIP_THREADED_FORK();
	tu_httpstub_set(stub, 200, PROB("0.25"));
	baton_remote_sampler_options o = {
	    .size = sizeof(o), .endpoint = endpoint, .polling_interval_ms = 20};
	baton_sampler s;
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_OK);
	cr_assert_eq(baton_remote_sampler_poll_now(s, 20000), BATON_OK);
	/* Fork while the thread keeps polling (every 20 ms). */
	for (int round = 0; round < 5; round++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			uint64_t th = baton_threshold_from_probability(0.25);
			int bad = 0;
			bad |= decide(s, "op", th).decision !=
			       BATON_SAMPLING_RECORD_AND_SAMPLE;
			bad |= decide(s, "op", th - 1).decision != BATON_SAMPLING_DROP;
			bad |= baton_remote_sampler_poll_now(s, 1000) != BATON_ESTATE;
			baton_remote_sampler_stats st;
			bad |= baton_remote_sampler_stats_get(s, &st) != BATON_OK;
			baton_sampler_destroy(s); /* no thread to join: returns */
			_exit(bad ? 1 : 0);
		}
		cr_assert_eq(tu_wait_child(pid), 0, "round %d", round);
	}
	/* The parent still polls. */
	tu_httpstub_set(stub, 200, PROB("0.75"));
	cr_assert_eq(baton_remote_sampler_poll_now(s, 20000), BATON_OK);
	assert_ratio(s, 0.75, "op");
	baton_sampler_destroy(s);
}

/* ---- OTEL_TRACES_SAMPLER=jaeger_remote ---- */

static void env_remote(const char *extra)
{
	char arg[512];
	snprintf(arg, sizeof(arg), "endpoint=%s,pollingIntervalMs=50%s", endpoint, extra);
	setenv("OTEL_TRACES_SAMPLER", "jaeger_remote", 1);
	setenv("OTEL_TRACES_SAMPLER_ARG", arg, 1);
	unsetenv("BATON_SAMPLER_TARGET_SPS");
	baton_remote_sampling_register();
}

/* Polls decisions until pred holds or 20 s pass. */
static bool eventually_drops(baton_sampler s, const char *name)
{
	for (int i = 0; i < 2000; i++) {
		if (decide(s, name, BATON_TH_MAX / 2).decision == BATON_SAMPLING_DROP)
			return true;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	return false;
}

Test(remote_env, jaeger_remote_from_the_environment)
{
	env_remote(",initialSamplingRate=1");
	setenv("OTEL_SERVICE_NAME", "env-svc", 1);
	tu_httpstub_set(stub, 200, PROB("0.25"));
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert_str_eq(s.ops->name, "parentbased");
	cr_assert(eventually_drops(s, "op"), "the served 0.25 never applied");
	char target[256];
	tu_httpstub_last_target(stub, target, sizeof(target));
	cr_assert_str_eq(target, "/sampling?service=env-svc");
	/* Parent-based: a sampled parent is followed whatever the strategy. */
	baton_span_context parent = {0};
	memset(parent.trace_id, 1, 16);
	memset(parent.span_id, 1, 8);
	parent.state = BATON_CTX_VALID | BATON_CTX_DECIDED | BATON_CTX_REMOTE;
	parent.trace_flags = BATON_FLAG_SAMPLED;
	uint8_t tid[16] = {0};
	baton_sampling_params p = {.parent = &parent, .trace_id = tid, .name = "op"};
	baton_sampling_result r;
	s.ops->should_sample(s.arg, &p, &r);
	cr_assert_eq(r.decision, BATON_SAMPLING_RECORD_AND_SAMPLE);
	baton_sampler_destroy(s);
}

Test(remote_env, service_name_from_resource_attributes)
{
	env_remote("");
	setenv("OTEL_TRACES_SAMPLER", "Parentbased_Jaeger_Remote", 1); /* any case */
	unsetenv("OTEL_SERVICE_NAME");
	setenv("OTEL_RESOURCE_ATTRIBUTES", "team=x, service.name = my%20svc ,k=v", 1);
	tu_httpstub_set(stub, 200, PROB("1"));
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert_geq(tu_httpstub_wait_requests(stub, 1, 20000), 1);
	char target[256];
	tu_httpstub_last_target(stub, target, sizeof(target));
	cr_assert_str_eq(target, "/sampling?service=my%20svc");
	baton_sampler_destroy(s);
}

Test(remote_env, spans_carry_the_served_rate)
{
	env_remote(",initialSamplingRate=1");
	tu_httpstub_set(stub, 200, PROB("0.25"));
	baton_sampler s;
	cr_assert_eq(baton_sampler_from_env(&s), BATON_OK);
	cr_assert(eventually_drops(s, "op"));
	tu_memory_exporter *mem = tu_init_memory(s, 100000);
	baton_tracer *t = baton_tracer_get("remote", NULL);
	for (int i = 0; i < 20000; i++)
		baton_span_end(baton_span_start(t, "op"));
	size_t n = tu_memory_exporter_count(mem);
	/* 20,000 roots at 0.25: 5,000 +- 6 sigma (sigma 61). */
	cr_assert(n > 5000 - 370 && n < 5000 + 370, "%zu kept", n);
	tu_memory_span ms;
	cr_assert_eq(tu_memory_exporter_get(mem, 0, &ms), BATON_OK);
	cr_assert_eq(ms.sample_rate, 4.0);
	baton_fini(1000);
}
