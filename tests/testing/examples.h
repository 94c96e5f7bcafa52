/*
 * Running the examples as a user runs them and reading back the Jaeger
 * JSON file (baton-traces.json) they write with their embedded default.
 * Part of the test library, never installed; needs jansson and Criterion
 * (the helpers assert).
 */
#ifndef TU_EXAMPLES_H
#define TU_EXAMPLES_H

#include <jansson.h>
#include <stddef.h>

/*
 * Makes a fresh folder /tmp/<prefix>-XXXXXX (its path into dir, cap bytes),
 * enters it, and clears the exporter and sampler variables so that an
 * example takes its embedded default (the console output goes to stderr).
 */
void tu_example_dir_enter(char *dir, size_t cap, const char *prefix);
/* Removes the folder tu_example_dir_enter made (a warning when it cannot). */
void tu_example_dir_leave(const char *dir);
/* Runs build/bin/<prog> <args>, its stdout captured into out (cap bytes,
 * NUL-terminated). Returns the exit status, -1 when it did not exit. */
int tu_example_run(const char *prog, const char *args, char *out, size_t cap);
/* As tu_example_run(), with stderr captured instead of stdout. */
int tu_example_run_err(const char *prog, const char *args, char *out, size_t cap);

/* Loads a Jaeger JSON file; asserts it parses and has a "data" array. The
 * caller json_decref()s it. */
json_t *tu_traces_load(const char *path);
/* The span id span is a CHILD_OF, or NULL for a root. */
const char *tu_span_parent(json_t *span);
/* The span of trace whose spanID is id, or NULL (also for id NULL). */
json_t *tu_trace_span(json_t *trace, const char *id);

#endif /* TU_EXAMPLES_H */
