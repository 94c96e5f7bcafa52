/*
 * The public headers state defaults; these tests read the statement from
 * the header itself and check that the code applies it, so a comment and
 * the code cannot drift apart unnoticed.
 */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of a file under the source tree, NUL-terminated (the test owns it). */
static char *source_file(const char *rel)
{
	const char *dir = getenv("BATON_SOURCE_DIR");
	cr_assert_not_null(dir, "BATON_SOURCE_DIR is set by ctest");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	cr_assert_not_null(s);
	cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* The comment just before the first `decl` after `after` in text, into out. */
static void comment_before(const char *text, const char *after, const char *decl,
                           char *out, size_t cap)
{
	const char *from = strstr(text, after);
	cr_assert_not_null(from, "no '%s'", after);
	const char *d = strstr(from, decl);
	cr_assert_not_null(d, "no '%s' after '%s'", decl, after);
	const char *open = NULL;
	for (const char *p = from; p < d; p++)
		if (p[0] == '/' && p[1] == '*')
			open = p;
	cr_assert_not_null(open, "no comment before '%s'", decl);
	size_t n = (size_t)(d - open);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, open, n);
	out[n] = '\0';
}

Test(header_defaults, max_live_spans_default_is_the_one_sdk_h_states)
{
	char *h = source_file("include/baton/sdk.h");
	const char *p = strstr(h, "BATON_MAX_SPANS, ");
	cr_assert_not_null(p, "sdk.h states the BATON_MAX_SPANS default");
	unsigned long stated = strtoul(p + strlen("BATON_MAX_SPANS, "), NULL, 10);
	free(h);

	unsetenv("BATON_MAX_SPANS");
	tu_init_memory(baton_sampler_always_on(), 1);
	baton_tracer *t = baton_tracer_get("defaults", NULL);
	static baton_span open[1u << 17];
	unsigned long n = 0;
	while (n < sizeof(open) / sizeof(open[0])) {
		open[n] = baton_span_start(t, "open");
		if (!baton_span_is_recording(open[n]))
			break;
		n++;
	}
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	for (unsigned long i = 0; i < n; i++)
		baton_span_end(open[i]);
	baton_fini(1000);
	cr_assert_eq(n, stated, "%lu spans open at once, sdk.h says %lu", n, stated);
	cr_assert_eq(st.spans_dropped_no_store, 1);
}

static char seen_service[256];

static void keep_service(void *arg, const baton_span_data *span)
{
	(void)arg;
	snprintf(seen_service, sizeof(seen_service), "%s", span->resource->service_name);
	baton_span_data_release(span);
}

static const baton_processor_ops keep_service_ops = {
    .size = sizeof(baton_processor_ops), .name = "keep_service", .on_end = keep_service};

/* The service name a span reports when baton_init gets options.service_name = name. */
static const char *service_of_a_span(const char *name)
{
	baton_options o = {.size = sizeof(o), .service_name = name};
	o.sampler = baton_sampler_always_on();
	o.processors = &(baton_processor){&keep_service_ops, NULL};
	o.nprocessors = 1;
	cr_assert_eq(baton_init(&o), BATON_OK);
	seen_service[0] = '\0';
	baton_span_end(baton_span_start(baton_tracer_get("defaults", NULL), "s"));
	baton_fini(1000);
	return seen_service;
}

Test(header_defaults, service_name_default_is_the_one_sdk_h_states)
{
	char *h = source_file("include/baton/sdk.h");
	char c[512];
	comment_before(h, "typedef struct baton_options {", "const char *service_name;",
	               c, sizeof(c));
	free(h);
	cr_assert(strstr(c, "OTEL_SERVICE_NAME, else service.name in "
	                    "OTEL_RESOURCE_ATTRIBUTES") != NULL,
	          "sdk.h says: %s", c);
	cr_assert(strstr(c, "\"unknown_service:<program name>\"") != NULL,
	          "sdk.h says: %s", c);

	extern char *program_invocation_short_name;
	char want[256];
	snprintf(want, sizeof(want), "unknown_service:%s", program_invocation_short_name);
	unsetenv("OTEL_SERVICE_NAME");
	unsetenv("OTEL_RESOURCE_ATTRIBUTES");
	cr_assert_str_eq(service_of_a_span(NULL), want);
	setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=core", 1);
	cr_assert_str_eq(service_of_a_span(NULL), "from-attrs");
	setenv("OTEL_SERVICE_NAME", "from-env", 1);
	cr_assert_str_eq(service_of_a_span(NULL), "from-env");
	cr_assert_str_eq(service_of_a_span("from-code"), "from-code");
}

Test(header_defaults, jaeger_json_h_names_no_recipe_the_readme_lacks)
{
	char *h = source_file("include/baton/jaeger_json.h");
	char *readme = source_file("README.md");
	if (strstr(h, " jq") != NULL)
		cr_assert(
		    strstr(readme, "jq ") != NULL,
		    "jaeger_json.h points at a jq recipe in the README, which has none");
	free(h);
	free(readme);
}
