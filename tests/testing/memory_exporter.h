/*
 * The in-memory exporter: keeps exported spans for tests to read. Part of
 * the test library, never installed.
 */
#ifndef TU_MEMORY_EXPORTER_H
#define TU_MEMORY_EXPORTER_H

#include <baton/baton.h>

/* A captured span: deep copies of the fields tests look at most. */
typedef struct tu_memory_span {
	baton_span_context context;
	baton_span_context parent;
	char name[128];
	baton_span_kind kind;
	uint64_t start_unix_ns, end_unix_ns;
	baton_status_code status;
	uint32_t nattrs, nevents, nlinks;
	uint32_t dropped_attrs, dropped_events, dropped_links;
	/* A text rendering "key=value\n" of every attribute, cut at 1 KiB. */
	char attrs_text[1024];
	baton_span_context first_link;
	char first_event[64];
	double sample_rate; /* the SampleRate attribute, 0 when absent */
	char tracestate[256];
} tu_memory_span;

typedef struct tu_memory_exporter tu_memory_exporter;

/*
 * Creates an exporter that keeps up to capacity spans in memory (more are
 * counted and dropped). The returned exporter owns the store; read it with
 * the functions below until the exporter is destroyed. Thread-safe reads.
 */
baton_err tu_memory_exporter_create(size_t capacity, baton_exporter *out,
                                    tu_memory_exporter **store);
size_t tu_memory_exporter_count(tu_memory_exporter *store);
/* Of the spans kept, how many are named name. */
size_t tu_memory_exporter_count_named(tu_memory_exporter *store, const char *name);
/* Copies span i (in export order) into *out. Returns BATON_EINVAL past the end. */
baton_err tu_memory_exporter_get(tu_memory_exporter *store, size_t i,
                                 tu_memory_span *out);
void tu_memory_exporter_clear(tu_memory_exporter *store);
/* Number of export_spans calls so far. */
size_t tu_memory_exporter_batches(tu_memory_exporter *store);

#endif /* TU_MEMORY_EXPORTER_H */
