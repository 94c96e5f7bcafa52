/* Jaeger strategy JSON and the jaeger_remote OTEL_TRACES_SAMPLER_ARG, parsed without
 * HTTP. */
#include <baton/remote_sampling.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "remote_int.h"

static baton_err parse(const char *json, bt_rs_spec *s, char *err)
{
	return bt_rs_parse(json, strlen(json), 100, s, err, 160);
}

Test(jaeger_strategy, probabilistic)
{
	bt_rs_spec s;
	char err[160];
	cr_assert_eq(
	    parse("{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":"
	          "{\"samplingRate\":0.25}}",
	          &s, err),
	    BATON_OK, "%s", err);
	cr_assert_eq(s.kind, BATON_REMOTE_PROBABILISTIC);
	cr_assert_eq(s.probability, 0.25);
	bt_rs_spec_free(&s);
	/* Integers are numbers too; the strategyType enum may be a number. */
	cr_assert_eq(
	    parse("{\"strategyType\":0,\"probabilisticSampling\":{\"samplingRate\":1}}",
	          &s, err),
	    BATON_OK, "%s", err);
	cr_assert_eq(s.probability, 1.0);
	bt_rs_spec_free(&s);
}

Test(jaeger_strategy, rate_limiting)
{
	bt_rs_spec s;
	char err[160];
	cr_assert_eq(parse("{\"strategyType\":\"RATE_LIMITING\",\"rateLimitingSampling\":"
	                   "{\"maxTracesPerSecond\":7}}",
	                   &s, err),
	             BATON_OK, "%s", err);
	cr_assert_eq(s.kind, BATON_REMOTE_RATE_LIMITING);
	cr_assert_eq(s.max_per_sec, 7.0);
	baton_sampler smp;
	cr_assert_eq(bt_rs_build(&s, 16, &smp), BATON_OK);
	cr_assert_str_eq(smp.ops->name, "rate_limiting");
	baton_sampler_destroy(smp);
	bt_rs_spec_free(&s);
}

Test(jaeger_strategy, per_operation_wins_when_present)
{
	const char *json =
	    "{\"strategyType\":\"PROBABILISTIC\","
	    "\"probabilisticSampling\":{\"samplingRate\":0.5},"
	    "\"operationSampling\":{\"defaultSamplingProbability\":0.001,"
	    "\"defaultLowerBoundTracesPerSecond\":0.5,"
	    "\"defaultUpperBoundTracesPerSecond\":9,"
	    "\"perOperationStrategies\":["
	    "{\"operation\":\"GET /a\",\"probabilisticSampling\":{\"samplingRate\":1}},"
	    "{\"operation\":\"b\",\"probabilisticSampling\":{\"samplingRate\":0.1}}]}}";
	bt_rs_spec s;
	char err[160];
	cr_assert_eq(parse(json, &s, err), BATON_OK, "%s", err);
	cr_assert_eq(s.kind, BATON_REMOTE_PER_OPERATION);
	cr_assert_eq(s.probability, 0.001);
	cr_assert_eq(s.max_per_sec, 0.5);
	cr_assert_eq(s.nops, 2);
	cr_assert_str_eq(s.ops[0].operation, "GET /a");
	cr_assert_eq(s.ops[0].probability, 1.0);
	cr_assert_str_eq(s.ops[1].operation, "b");
	cr_assert_eq(s.ops[1].probability, 0.1);
	baton_sampler smp;
	cr_assert_eq(bt_rs_build(&s, 16, &smp), BATON_OK);
	cr_assert_str_eq(smp.ops->name, "per_operation");
	baton_sampler_destroy(smp);
	bt_rs_spec_free(&s);
	/* No list and no lower bound are fine. */
	cr_assert_eq(parse("{\"operationSampling\":{\"defaultSamplingProbability\":0.2}}",
	                   &s, err),
	             BATON_OK, "%s", err);
	cr_assert_eq(s.nops, 0);
	cr_assert_eq(s.max_per_sec, 0.0);
	bt_rs_spec_free(&s);
}

Test(jaeger_strategy, garbage_is_rejected_with_a_reason)
{
	const char *bad[] = {
	    "",
	    "not json",
	    "[]",
	    "{}",
	    "null",
	    "{\"probabilisticSampling\":{\"samplingRate\":2}}",
	    "{\"probabilisticSampling\":{\"samplingRate\":-0.1}}",
	    "{\"probabilisticSampling\":{\"samplingRate\":\"0.5\"}}",
	    "{\"probabilisticSampling\":{}}",
	    "{\"probabilisticSampling\":0.5}",
	    "{\"rateLimitingSampling\":{\"maxTracesPerSecond\":-1}}",
	    "{\"rateLimitingSampling\":{}}",
	    "{\"operationSampling\":{}}",
	    "{\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
	    "\"perOperationStrategies\":{}}}",
	    "{\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
	    "\"perOperationStrategies\":[{\"operation\":\"a\"}]}}",
	    "{\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
	    "\"perOperationStrategies\":[{\"operation\":5,\"probabilisticSampling\":"
	    "{\"samplingRate\":1}}]}}",
	    "{\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
	    "\"defaultLowerBoundTracesPerSecond\":\"x\"}}",
	    "{\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
	    "\"perOperationStrategies\":[{\"operation\":\"a\\u0000b\","
	    "\"probabilisticSampling\":"
	    "{\"samplingRate\":1}}]}}",
	    "{\"probabilisticSampling\":{\"samplingRate\":0.5}",
	    "{\"probabilisticSampling\":{\"samplingRate\":0.5}} trailing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bt_rs_spec s = {0};
		char err[160] = "";
		cr_assert_eq(parse(bad[i], &s, err), BATON_EFORMAT, "accepted: %s",
		             bad[i]);
		cr_assert_gt(strlen(err), 0, "no reason for %s", bad[i]);
		cr_assert_null(s.doc);
	}
	/* Bytes that are not text at all. */
	const char bin[] = {'{', 0, (char)0xff, '}'};
	bt_rs_spec s;
	cr_assert_eq(bt_rs_parse(bin, sizeof(bin), 100, &s, NULL, 0), BATON_EFORMAT);
}

Test(jaeger_strategy, operation_count_is_capped)
{
	char json[4096] = "{\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
	                  "\"perOperationStrategies\":[";
	for (int i = 0; i < 5; i++) {
		char e[128];
		snprintf(e, sizeof(e),
		         "%s{\"operation\":\"op%d\",\"probabilisticSampling\":{"
		         "\"samplingRate\":1}}",
		         i ? "," : "", i);
		strcat(json, e);
	}
	strcat(json, "]}}");
	bt_rs_spec s;
	cr_assert_eq(bt_rs_parse(json, strlen(json), 4, &s, NULL, 0), BATON_ETOOBIG);
	cr_assert_eq(bt_rs_parse(json, strlen(json), 5, &s, NULL, 0), BATON_OK);
	cr_assert_eq(s.nops, 5);
	bt_rs_spec_free(&s);
}

static int warnings;
static void count(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)msg;
	if (level >= BATON_LOG_WARN)
		warnings++;
}

Test(jaeger_arg, defaults_and_values)
{
	bt_rs_arg a;
	baton_set_log(BATON_LOG_WARN, count, NULL);
	cr_assert_eq(bt_rs_parse_arg(NULL, &a), 0);
	cr_assert_str_eq(a.endpoint, "");
	cr_assert_eq(a.polling_interval_ms, 60000);
	cr_assert_eq(a.initial_sampling_rate, 0.001);
	cr_assert_eq(
	    bt_rs_parse_arg("endpoint=http://h:5778/sampling, pollingIntervalMs=250 ,"
	                    "initialSamplingRate=0.5",
	                    &a),
	    0);
	cr_assert_str_eq(a.endpoint, "http://h:5778/sampling");
	cr_assert_eq(a.polling_interval_ms, 250);
	cr_assert_eq(a.initial_sampling_rate, 0.5);
	cr_assert_eq(bt_rs_parse_arg("initialSamplingRate=0,,", &a), 0);
	cr_assert_eq(a.initial_sampling_rate, 0.0);
	cr_assert_eq(warnings, 0);
}

Test(jaeger_arg, malformed_items_warn_and_keep_defaults)
{
	bt_rs_arg a;
	baton_set_log(BATON_LOG_WARN, count, NULL);
	cr_assert_eq(
	    bt_rs_parse_arg("endpoint=ftp://x,pollingIntervalMs=abc,"
	                    "initialSamplingRate=5,foo=1,bare,pollingIntervalMs=0",
	                    &a),
	    6);
	cr_assert_eq(warnings, 6);
	cr_assert_str_eq(a.endpoint, "");
	cr_assert_eq(a.polling_interval_ms, 60000);
	cr_assert_eq(a.initial_sampling_rate, 0.001);
	char longurl[2048] = "endpoint=http://";
	memset(longurl + strlen(longurl), 'a', 1500);
	cr_assert_eq(bt_rs_parse_arg(longurl, &a), 1);
	cr_assert_str_eq(a.endpoint, "");
}

/* The warnings of the last parse, one string each. */
static char logged[8][256];
static int nlogged;
static void capture(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	if (level >= BATON_LOG_WARN && nlogged < 8)
		snprintf(logged[nlogged++], sizeof(logged[0]), "%s", msg);
}

/* The text between the first pair of double quotes of a warning. */
static const char *quoted(int i, char *buf, size_t cap)
{
	const char *a = strchr(logged[i], '"');
	const char *b = a ? strchr(a + 1, '"') : NULL;
	cr_assert_not_null(b, "no quoted value in: %s", logged[i]);
	snprintf(buf, cap, "%.*s", (int)(b - a - 1), a + 1);
	return buf;
}

Test(jaeger_arg, warnings_quote_the_bad_value_and_nothing_after_it)
{
	bt_rs_arg a;
	char q[256];
	baton_set_log(BATON_LOG_WARN, capture, NULL);
	nlogged = 0;
	cr_assert_eq(bt_rs_parse_arg("pollingIntervalMs=abc,initialSamplingRate=0.5,"
	                             "initialSamplingRate=7,endpoint=ftp://x,"
	                             "endpoint=http://ok:1/s",
	                             &a),
	             3);
	cr_assert_eq(nlogged, 3);
	cr_assert_str_eq(quoted(0, q, sizeof(q)), "abc");
	cr_assert_str_eq(quoted(1, q, sizeof(q)), "7");
	cr_assert_str_eq(quoted(2, q, sizeof(q)), "ftp://x");
	cr_assert_eq(a.initial_sampling_rate, 0.5);
	cr_assert_str_eq(a.endpoint, "http://ok:1/s");
	/* A long value is quoted up to 64 bytes of itself. */
	char arg[200] = "pollingIntervalMs=";
	memset(arg + strlen(arg), '9', 100);
	nlogged = 0;
	cr_assert_eq(bt_rs_parse_arg(arg, &a), 1);
	cr_assert_eq(strlen(quoted(0, q, sizeof(q))), 64);
	cr_assert_eq(strspn(q, "9"), 64);
}

Test(jaeger_arg, endpoint_must_be_an_http_url_with_a_host)
{
	bt_rs_arg a;
	baton_set_log(BATON_LOG_WARN, count, NULL);
	static const char *const bad[] = {
	    "endpoint=http://",        "endpoint=https://:80/path",
	    "endpoint=gopher://h:70/", "endpoint=file:///etc/passwd",
	    "endpoint=http://h/a b",   "endpoint=http://h/\r\nX-Evil: 1",
	    "endpoint=http://h/\x7f",  "endpoint=localhost:5778/sampling",
	    "endpoint=http//h:5778",   "endpoint=http://h:99999999/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(bt_rs_parse_arg(bad[i], &a), 1, "%s", bad[i]);
		cr_assert_str_eq(a.endpoint, "", "%s", bad[i]);
	}
	cr_assert_eq(
	    bt_rs_parse_arg("endpoint=HTTPS://Collector.example:14250/sampling", &a), 0);
	cr_assert_str_eq(a.endpoint, "HTTPS://Collector.example:14250/sampling");
	/* The same rule for the options of baton_remote_sampler_create. */
	baton_sampler s;
	baton_remote_sampler_options o = {
	    .size = sizeof(o), .endpoint = "http://", .manual_polling = true};
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_EINVAL);
	o.endpoint = "http://h/\nx";
	cr_assert_eq(baton_remote_sampler_create(&o, &s), BATON_EINVAL);
}

Test(jaeger_arg, service_name_is_decoded_without_control_bytes)
{
	char buf[64];
	baton_set_log(BATON_LOG_WARN, count, NULL);
	cr_assert_str_eq(bt_rs_service_from_attrs("a=b, service.name = my%20svc ,k=v",
	                                          buf, sizeof(buf)),
	                 "my svc");
	cr_assert_null(bt_rs_service_from_attrs(NULL, buf, sizeof(buf)));
	cr_assert_null(bt_rs_service_from_attrs("k=v", buf, sizeof(buf)));
	static const char *const bad[] = {
	    "service.name=a%00b", "service.name=a%0d%0aHost: x", "service.name=a%0Ab",
	    "service.name=%7f",   "service.name=a%zz",           "service.name=a%4",
	    "service.name=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(bt_rs_service_from_attrs(bad[i], buf, sizeof(buf)), "%s",
		               bad[i]);
	/* The last well-formed entry wins; a bad later one leaves it intact. */
	cr_assert_str_eq(bt_rs_service_from_attrs("service.name=one,service.name=t%77o,"
	                                          "service.name=x%0ay",
	                                          buf, sizeof(buf)),
	                 "two");
	/* Longer than the buffer: not used (never cut). */
	char longv[200] = "service.name=";
	memset(longv + strlen(longv), 's', 100);
	cr_assert_null(bt_rs_service_from_attrs(longv, buf, sizeof(buf)));
}
