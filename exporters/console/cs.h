/*
 * Internal to the console exporter: a capped text buffer, the per-span
 * copy kept while a trace waits for its root, and the tree printer.
 */
#ifndef BT_CS_H
#define BT_CS_H

#include "util.h"

#include <baton/console.h>

/* Output is built in a bt_buf (sdk/util/util.h). */
/*
 * Appends s[0..n) made safe for a terminal: well-formed UTF-8 is kept,
 * \n \t \r \\ are written as escapes, other control bytes and ill-formed
 * bytes as \xNN. At most max_chars characters, then "…".
 */
void bt_cs_sanitize(bt_buf *b, const char *s, size_t n, size_t max_chars);

/*
 * One buffered span: what the printer needs, copied out of the span data.
 * text holds, NUL-separated: the name, the rendered attributes, the status
 * description, the rendered events (one per line, may be empty), the
 * service name of its resource.
 */
typedef struct bt_cs_span {
	struct bt_cs_span *next;
	uint8_t span_id[BATON_SPAN_ID_SIZE];
	uint8_t parent_id[BATON_SPAN_ID_SIZE];
	bool has_parent, parent_remote;
	baton_span_kind kind;
	baton_status_code status;
	uint64_t start_ns, end_ns;
	const char *name, *attrs, *status_msg, *events, *service;
	char text[];
} bt_cs_span;

/* Copies span into a new bt_cs_span; NULL when out of memory. */
bt_cs_span *bt_cs_span_copy(const baton_span_data *span, bool all_attributes);

/* Colours on or off, and the trace header flags. */
typedef struct bt_cs_style {
	bool color;
} bt_cs_style;

/*
 * Appends the tree of the n spans of trace_id to out: a header line, then
 * one line per span, children under their parents in start order.
 * continued marks a trace printed before. Returns false when out of memory.
 */
bool bt_cs_render(bt_buf *out, const uint8_t *trace_id, bt_cs_span *spans, size_t n,
                  bool continued, const bt_cs_style *style);

/*
 * The work of the exporter's trace-id table so far (for tests): lookups,
 * inserts and removes in *ops, slots they examined in *probes. arg is the
 * exporter's arg. Thread-safe.
 */
void bt_cs_table_work(void *arg, uint64_t *ops, uint64_t *probes);

#endif /* BT_CS_H */
