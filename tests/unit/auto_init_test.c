/* baton_auto_init: exporters chosen by OTEL_TRACES_EXPORTER and the embedded default. */
#include <baton/baton.h>

#include "memory_exporter.h"
#include <baton/auto.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char logged[4096];
static void capture_log(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	if (level >= BATON_LOG_WARN) {
		strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
		strcat(logged, "\n");
	}
}

/* A clean environment: nothing that chooses exporters is set. */
static void clean_env(void)
{
	unsetenv("OTEL_TRACES_EXPORTER");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	unsetenv("OTEL_SDK_DISABLED");
	unsetenv("OTEL_BSP_SCHEDULE_DELAY");
	logged[0] = '\0';
	baton_set_log(BATON_LOG_WARN, capture_log, NULL);
}

/* Resolves and returns the kinds as a string like "console,jaeger-json". */
static const char *resolve(const char *embedded_default, char *buf, size_t cap)
{
	baton_exporter_kind k[8];
	size_t n = 99;
	cr_assert_eq(baton_auto_exporters(embedded_default, k, 8, &n), BATON_OK);
	cr_assert_leq(n, BATON_AUTO_MAX_EXPORTERS);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *nm = k[i] == BATON_EXPORTER_OTLP          ? "otlp"
		                 : k[i] == BATON_EXPORTER_JAEGER_JSON ? "jaeger-json"
		                 : k[i] == BATON_EXPORTER_CONSOLE     ? "console"
		                                                      : "?";
		if (i > 0)
			strncat(buf, ",", cap - strlen(buf) - 1);
		strncat(buf, nm, cap - strlen(buf) - 1);
	}
	return buf;
}

/* What "otlp" resolves to in this build. */
static const char *otlp_or_nothing(void)
{
	return baton_auto_available(BATON_EXPORTER_OTLP) ? "otlp" : "";
}

Test(auto_init, unset_means_otlp_as_in_opentelemetry, .init = clean_env)
{
	char b[64];
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), otlp_or_nothing());
	if (!baton_auto_available(BATON_EXPORTER_OTLP))
		cr_assert(strstr(logged, "otlp exporter is not in this build") != NULL,
		          "%s", logged);
	setenv("OTEL_TRACES_EXPORTER", "", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), otlp_or_nothing(),
	                 "empty is unset");
}

Test(auto_init, each_name_and_comma_lists, .init = clean_env)
{
	char b[64];
	setenv("OTEL_TRACES_EXPORTER", "console", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), "console");
	setenv("OTEL_TRACES_EXPORTER", "jaeger-json", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), "jaeger-json");
	setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), otlp_or_nothing());
	setenv("OTEL_TRACES_EXPORTER", " jaeger-json , Console,console,,JAEGER_JSON ", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), "jaeger-json,console");
	setenv("OTEL_TRACES_EXPORTER", "console,otlp,jaeger-json", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)),
	                 baton_auto_available(BATON_EXPORTER_OTLP)
	                     ? "console,otlp,jaeger-json"
	                     : "console,jaeger-json");
	if (baton_auto_available(BATON_EXPORTER_OTLP))
		cr_assert_str_eq(logged, "", "known names log nothing");
}

Test(auto_init, none_gives_no_exporter_even_in_a_list, .init = clean_env)
{
	char b[64];
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	cr_assert_str_eq(resolve("console", b, sizeof(b)), "");
	cr_assert_str_eq(logged, "");
	setenv("OTEL_TRACES_EXPORTER", "console,NONE", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), "");
	cr_assert(strstr(logged, "\"none\" given with other exporters") != NULL, "%s",
	          logged);
}

Test(auto_init, unknown_names_warn_and_are_skipped, .init = clean_env)
{
	char b[64];
	setenv("OTEL_TRACES_EXPORTER", "zipkin,console,jaeger", 1);
	cr_assert_str_eq(resolve(NULL, b, sizeof(b)), "console");
	cr_assert(strstr(logged, "unknown exporter \"zipkin\" skipped") != NULL, "%s",
	          logged);
	cr_assert(strstr(logged, "unknown exporter \"jaeger\" skipped") != NULL, "%s",
	          logged);
	cr_assert(strstr(logged, "use otlp") != NULL, "%s", logged);
}

Test(auto_init, the_embedded_default_applies_only_when_nothing_is_configured,
     .init = clean_env)
{
	char b[64];
	cr_assert_str_eq(resolve("console,jaeger-json", b, sizeof(b)),
	                 "console,jaeger-json");
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1);
	cr_assert_str_eq(resolve("console,jaeger-json", b, sizeof(b)), otlp_or_nothing());
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces",
	       1);
	cr_assert_str_eq(resolve("console,jaeger-json", b, sizeof(b)), otlp_or_nothing());
	setenv("OTEL_TRACES_EXPORTER", "jaeger-json", 1);
	cr_assert_str_eq(resolve("console", b, sizeof(b)), "jaeger-json",
	                 "OTEL_TRACES_EXPORTER wins over both");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	cr_assert_str_eq(resolve("console", b, sizeof(b)), "");
}

Test(auto_init, bad_arguments_are_rejected, .init = clean_env)
{
	baton_exporter_kind k[3];
	size_t n = 7;
	cr_assert_eq(baton_auto_exporters(NULL, k, 3, NULL), BATON_EINVAL);
	cr_assert_eq(baton_auto_exporters(NULL, NULL, 3, &n), BATON_EINVAL);
	cr_assert_eq(n, 7, "n is written only on success");
	setenv("OTEL_TRACES_EXPORTER", "console,jaeger-json", 1);
	cr_assert_eq(baton_auto_exporters(NULL, k, 1, &n), BATON_OK);
	cr_assert_eq(n, 1, "cut to cap");
	cr_assert_eq(k[0], BATON_EXPORTER_CONSOLE);
	cr_assert(baton_auto_available(BATON_EXPORTER_CONSOLE));
	cr_assert(baton_auto_available(BATON_EXPORTER_JAEGER_JSON));
	cr_assert_not(baton_auto_available((baton_exporter_kind)0));
}

/* ---- end to end ---- */

static const char *tmp_path(const char *tag, char *buf, size_t cap)
{
	snprintf(buf, cap, "auto-%ld-%s.json", (long)getpid(), tag);
	remove(buf);
	return buf;
}

static void make_trace(void)
{
	baton_tracer *t = baton_tracer_get("auto-test", NULL);
	baton_span root = baton_span_start(t, "auto-root");
	uint32_t tok = baton_span_attach(root);
	baton_span child = baton_span_start(t, "auto-child");
	baton_span_end(child);
	baton_span_detach(tok);
	baton_span_end(root);
}

static size_t spans_in_file(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	cr_assert_not_null(j, "%s: %s", path, err.text);
	size_t i, n = 0;
	json_t *t;
	json_array_foreach(json_object_get(j, "data"), i, t) n +=
	    json_array_size(json_object_get(t, "spans"));
	json_decref(j);
	return n;
}

static void redirect(void)
{
	clean_env();
	cr_redirect_stdout();
}

Test(auto_init, console_and_jaeger_json_from_the_embedded_default_after_base_processors,
     .init = redirect)
{
	char path[128];
	tmp_path("e2e", path, sizeof(path));
	setenv("BATON_JAEGER_JSON_FILE", path, 1);
	setenv("BATON_CONSOLE_COLOR", "never", 1);
	baton_exporter me;
	tu_memory_exporter *store;
	cr_assert_eq(tu_memory_exporter_create(16, &me, &store), BATON_OK);
	baton_processor mp;
	cr_assert_eq(baton_simple_processor_create(me, &mp), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &mp,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_auto_init_default(&o, "console,jaeger-json"), BATON_OK);
	make_trace();
	cr_assert_eq(tu_memory_exporter_count(store), 2,
	             "the base processor still gets spans");
	cr_assert_eq(baton_fini(5000), BATON_OK);

	cr_assert_eq(spans_in_file(path), 2);
	fflush(stdout);
	char got[4096] = "";
	size_t n = fread(got, 1, sizeof(got) - 1, cr_get_redirected_stdout());
	got[n] = '\0';
	cr_assert(strstr(got, "auto-root  internal") != NULL, "stdout: %s", got);
	cr_assert(strstr(got, "\n  auto-child  internal") != NULL, "stdout: %s", got);
	remove(path);
	unsetenv("BATON_JAEGER_JSON_FILE");
}

Test(auto_init, none_builds_nothing_and_keeps_base_processors, .init = clean_env)
{
	char path[128];
	tmp_path("none", path, sizeof(path));
	setenv("BATON_JAEGER_JSON_FILE", path, 1);
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	baton_exporter me;
	tu_memory_exporter *store;
	cr_assert_eq(tu_memory_exporter_create(16, &me, &store), BATON_OK);
	baton_processor mp;
	cr_assert_eq(baton_simple_processor_create(me, &mp), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &mp,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_auto_init_default(&o, "jaeger-json"), BATON_OK);
	make_trace();
	cr_assert_eq(tu_memory_exporter_count(store), 2);
	cr_assert_eq(baton_fini(1000), BATON_OK);
	cr_assert_neq(access(path, F_OK), 0, "no jaeger-json file was written");
	unsetenv("BATON_JAEGER_JSON_FILE");
}

Test(auto_init, jaeger_json_alone_from_the_environment, .init = clean_env)
{
	char path[128];
	tmp_path("env", path, sizeof(path));
	setenv("BATON_JAEGER_JSON_FILE", path, 1);
	setenv("OTEL_TRACES_EXPORTER", "jaeger-json", 1);
	setenv("OTEL_TRACES_SAMPLER", "always_on", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	make_trace();
	make_trace();
	cr_assert_eq(baton_fini(5000), BATON_OK);
	cr_assert_eq(spans_in_file(path), 4);
	remove(path);
	unsetenv("BATON_JAEGER_JSON_FILE");
}

Test(auto_init, disabled_sdk_builds_no_exporter, .init = clean_env)
{
	char path[128];
	tmp_path("off", path, sizeof(path));
	setenv("BATON_JAEGER_JSON_FILE", path, 1);
	setenv("OTEL_TRACES_EXPORTER", "jaeger-json", 1);
	setenv("OTEL_SDK_DISABLED", "true", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	cr_assert_not(baton_is_enabled());
	make_trace();
	cr_assert_eq(baton_fini(1000), BATON_OK);
	cr_assert_neq(access(path, F_OK), 0, "no exporter, no file");
	unsetenv("BATON_JAEGER_JSON_FILE");
}

/* A bad value is ignored with one warning, not one per reader. */
Test(auto_init, a_bad_disabled_value_warns_once, .init = clean_env)
{
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	setenv("OTEL_SDK_DISABLED", "yes please", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	cr_assert(baton_is_enabled());
	const char *first = strstr(logged, "OTEL_SDK_DISABLED");
	cr_assert_not_null(first, "%s", logged);
	cr_assert_null(strstr(first + 1, "OTEL_SDK_DISABLED"), "%s", logged);
	cr_assert_eq(baton_fini(1000), BATON_OK);
}

Test(auto_init, a_second_init_is_refused_and_frees_what_it_was_given, .init = clean_env)
{
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	setenv("OTEL_TRACES_EXPORTER", "console", 1);
	baton_exporter me;
	tu_memory_exporter *store;
	cr_assert_eq(tu_memory_exporter_create(4, &me, &store), BATON_OK);
	baton_processor mp;
	cr_assert_eq(baton_simple_processor_create(me, &mp), BATON_OK);
	baton_options o = {.size = sizeof(o), .processors = &mp, .nprocessors = 1};
	cr_assert_eq(baton_auto_init(&o), BATON_ESTATE);
	cr_assert_eq(baton_fini(1000), BATON_OK);
}

Test(auto_init, otlp_over_another_protocol_is_called_out, .init = clean_env)
{
	if (!baton_auto_available(BATON_EXPORTER_OTLP))
		cr_skip_test("the OTLP/HTTP exporter is not in this build");
	setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	cr_assert(strstr(logged, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: baton sends only "
	                         "http/protobuf") != NULL,
	          "%s", logged);
	cr_assert_eq(baton_fini(2000), BATON_OK);
}

/* The warning names the variable that was read, the signal-specific one included. */
Test(auto_init, the_protocol_warning_names_the_traces_variable, .init = clean_env)
{
	if (!baton_auto_available(BATON_EXPORTER_OTLP))
		cr_skip_test("the OTLP/HTTP exporter is not in this build");
	setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc", 1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
	cr_assert(strstr(logged, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc: baton sends "
	                         "only http/protobuf; using http/protobuf") != NULL,
	          "%s", logged);
	cr_assert_eq(baton_fini(2000), BATON_OK);
}

#if __has_include(<baton/remote_sampling.h>)
Test(auto_init, the_jaeger_remote_sampler_is_known_after_auto_init, .init = clean_env)
{
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	setenv("OTEL_TRACES_SAMPLER", "jaeger_remote", 1);
	setenv("OTEL_TRACES_SAMPLER_ARG",
	       "endpoint=http://127.0.0.1:9/sampling,initialSamplingRate=1,"
	       "pollingIntervalMs=600000",
	       1);
	cr_assert_eq(baton_auto_init(NULL), BATON_OK);
	cr_assert_null(strstr(logged, "needs baton::remote_sampling"), "%s", logged);
	cr_assert_null(strstr(logged, "is not a known sampler"), "%s", logged);
	cr_assert_eq(baton_fini(2000), BATON_OK);
}
#endif
