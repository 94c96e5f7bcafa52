/*
 * Internal to the Jaeger JSON exporter: the encoder that turns one finished
 * span (or one resource) into Jaeger JSON, and what the exporter and the
 * merge share to write files.
 */
#ifndef BT_JJ_H
#define BT_JJ_H

#include "util.h"

#include <baton/sdk.h>

/* Output is built in a bt_buf (sdk/util/util.h). */

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

/*
 * Creates a new file beside path to write it in full before renaming it
 * over path: "<path>.tmp.<12 random hex digits>", opened O_EXCL (never an
 * existing file, never through a symlink planted at the name), mode 0666
 * less the umask. Each writer gets its own, so two processes writing one
 * path never mix their bytes. On success writes *tmp (free it with
 * bt_free; unlink the file when not renamed) and returns the descriptor;
 * -1 with errno set on failure.
 */
int bt_jj_tmp_open(const char *path, char **tmp);

/*
 * The work of the exporter's trace-id table so far (for tests): lookups,
 * inserts and removes in *ops, slots they examined in *probes. arg is the
 * exporter's arg. Thread-safe.
 */
void bt_jj_table_work(void *arg, uint64_t *ops, uint64_t *probes);

#endif /* BT_JJ_H */
