/*
 * Internal to the Jaeger JSON exporter: a capped growable buffer and the
 * encoder that turns one finished span (or one resource) into Jaeger JSON.
 */
#ifndef BT_JJ_H
#define BT_JJ_H

#include "core/core.h"

#include <baton/sdk.h>

/* Output is built in a bt_buf (sdk/core/core.h). */
void bt_jj_put_u64(bt_buf *b, uint64_t v);

/*
 * Appends s[0..n) as a quoted JSON string: quotes, backslashes and control
 * characters escaped, each byte that is not part of well-formed UTF-8
 * replaced by U+FFFD, so the output is valid JSON for any input bytes.
 */
void bt_jj_str(bt_buf *b, const char *s, size_t n);

/* Appends the Jaeger span object for span; process_id is its process key ("p..."). */
void bt_jj_span(bt_buf *b, const baton_span_data *span, const char *process_id);

/* Appends the Jaeger process object {"serviceName", "tags"} for res (NULL: unknown). */
void bt_jj_process(bt_buf *b, const baton_resource *res);

#endif /* BT_JJ_H */
