#include "examples.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void tu_example_dir_enter(char *dir, size_t cap, const char *prefix)
{
	snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chdir(dir), 0);
	/* The embedded default applies only with no exporter configured. */
	unsetenv("OTEL_TRACES_EXPORTER");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	unsetenv("OTEL_TRACES_SAMPLER");
	unsetenv("BATON_JAEGER_JSON_FILE");
	setenv("BATON_CONSOLE_STREAM", "stderr", 1);
}

void tu_example_dir_leave(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

/* Runs build/bin/<prog> <args><redirect>, reading what the pipe gives. */
static int run_with(const char *prog, const char *args, const char *redirect, char *out,
                    size_t cap)
{
	char bin[512], cmd[1024];
	tu_bin(prog, bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "%s %s %s", bin, args, redirect);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tu_example_run(const char *prog, const char *args, char *out, size_t cap)
{
	return run_with(prog, args, "2>/dev/null", out, cap);
}

int tu_example_run_err(const char *prog, const char *args, char *out, size_t cap)
{
	return run_with(prog, args, "2>&1 >/dev/null", out, cap);
}

json_t *tu_traces_load(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	cr_assert_not_null(j, "%s is not valid JSON: %s (line %d)", path, err.text,
	                   err.line);
	cr_assert(json_is_array(json_object_get(j, "data")), "%s has no data array",
	          path);
	return j;
}

const char *tu_span_parent(json_t *span)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(span, "references"), i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "refType")),
		           "CHILD_OF") == 0)
			return json_string_value(json_object_get(r, "spanID"));
	}
	return NULL;
}

json_t *tu_trace_span(json_t *trace, const char *id)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(trace, "spans"), i, s)
	{
		if (id != NULL &&
		    strcmp(json_string_value(json_object_get(s, "spanID")), id) == 0)
			return s;
	}
	return NULL;
}
