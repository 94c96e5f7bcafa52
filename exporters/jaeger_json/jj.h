/*
 * Internal to the Jaeger JSON exporter: a capped growable buffer and the
 * encoder that turns one finished span (or one resource) into Jaeger JSON.
 */
#ifndef BT_JJ_H
#define BT_JJ_H

#include "core/core.h"

#include <baton/sdk.h>

/*
 * A growable byte buffer that never grows past max bytes. A failed append
 * (allocation failure or cap) sets fail; later appends do nothing, so a
 * writer appends freely and checks fail once at the end.
 */
typedef struct bt_jj_buf {
	char *p;
	size_t len, cap, max;
	bool fail;
} bt_jj_buf;

void bt_jj_buf_init(bt_jj_buf *b, size_t max);
void bt_jj_buf_fini(bt_jj_buf *b);
/* Empties b (keeps its memory) and clears fail. */
void bt_jj_buf_reset(bt_jj_buf *b);
void bt_jj_put(bt_jj_buf *b, const char *s, size_t n);
void bt_jj_puts(bt_jj_buf *b, const char *s);
void bt_jj_putc(bt_jj_buf *b, char c);
void bt_jj_put_u64(bt_jj_buf *b, uint64_t v);

/*
 * Appends s[0..n) as a quoted JSON string: quotes, backslashes and control
 * characters escaped, each byte that is not part of well-formed UTF-8
 * replaced by U+FFFD, so the output is valid JSON for any input bytes.
 */
void bt_jj_str(bt_jj_buf *b, const char *s, size_t n);

/* Appends the Jaeger span object for span; process_id is its process key ("p..."). */
void bt_jj_span(bt_jj_buf *b, const baton_span_data *span, const char *process_id);

/* Appends the Jaeger process object {"serviceName", "tags"} for res (NULL: unknown). */
void bt_jj_process(bt_jj_buf *b, const baton_resource *res);

#endif /* BT_JJ_H */
