/*
 * Internal parts of the OTLP/HTTP exporter, shared with its tests, fuzz
 * target and benchmarks: the batch encoder, gzip, and the parsers of what
 * a collector answers (response body, Retry-After).
 */
#ifndef BT_OTLP_INT_H
#define BT_OTLP_INT_H

#include <baton/sdk.h>
#include <time.h>

/* A growable byte buffer with a hard cap. */
typedef struct bt_otlp_buf {
	uint8_t *p;
	size_t len, cap;
} bt_otlp_buf;

/* Makes room for n bytes in total; false when over limit or out of memory. */
bool bt_otlp_buf_reserve(bt_otlp_buf *b, size_t n, size_t limit);
void bt_otlp_buf_free(bt_otlp_buf *b);

/*
 * The encoder: turns a batch of spans into an ExportTraceServiceRequest.
 * Whatever a batch needs besides the output (grouping arrays, the protobuf-c
 * structures of the reference encoder) is carved from an arena that is
 * rewound, not freed, between batches, so a warm encoder allocates nothing.
 * One thread at a time per encoder.
 */
typedef struct bt_otlp_enc bt_otlp_enc;

baton_err bt_otlp_enc_create(bt_otlp_enc **out);
void bt_otlp_enc_destroy(bt_otlp_enc *e);
/*
 * Encodes spans[0..n) into the encoder's output buffer (at its end) with
 * the direct protobuf writer, in one pass; *body and *len stay valid until
 * the next call. Spans are grouped by resource, then scope, in order of
 * first appearance. Returns BATON_OK, BATON_ENOMEM, BATON_ETOOBIG (the
 * request would exceed limit bytes: no body; the buffer never grows past
 * limit + 256 bytes, or its first 4 KiB).
 */
baton_err bt_otlp_encode(bt_otlp_enc *e, const baton_span_data *const *spans, size_t n,
                         size_t limit, const uint8_t **body, size_t *len);
/*
 * The same request built as protobuf-c structures (from the generated
 * code) and packed by libprotobuf-c: the reference the direct writer is
 * tested against byte for byte, and the baseline of its benchmark.
 */
baton_err bt_otlp_encode_pbc(bt_otlp_enc *e, const baton_span_data *const *spans,
                             size_t n, size_t limit, const uint8_t **body, size_t *len);
/*
 * The same request in OTLP's JSON encoding (OTLP/HTTP with
 * application/json): lowerCamelCase names, hex ids, enums as integers,
 * 64-bit integers as strings, default values left out. Written into the
 * encoder's output buffer; *body and *len stay valid until the next call.
 * Returns BATON_OK, BATON_ENOMEM, BATON_ETOOBIG (over limit bytes; also
 * when the buffer could not grow).
 */
baton_err bt_otlp_encode_json(bt_otlp_enc *e, const baton_span_data *const *spans,
                              size_t n, size_t limit, const uint8_t **body, size_t *len);

/* ---- shared by the encoders ---- */

/* Bump allocation from the encoder's arena (16-byte aligned); NULL when out of memory. */
void *bt_otlp_ar(bt_otlp_enc *e, size_t n);
/* Rewinds the arena for a new batch. */
void bt_otlp_ar_rewind(bt_otlp_enc *e);
/* The encoder's output buffer. */
bt_otlp_buf *bt_otlp_out(bt_otlp_enc *e);

/* Spans of one (resource, scope) pair, in batch order. */
typedef struct bt_otlp_group {
	const baton_resource *res;
	const baton_scope *scope;
	size_t count, fill;
	const baton_span_data **spans;
	uint32_t r; /* index of res among the batch's resources */
} bt_otlp_group;
/*
 * Groups spans[0..n) (n > 0); the groups come out ordered by resource
 * (first appearance), then scope. On success writes *ng and returns the
 * array (in the arena); NULL when out of memory.
 */
bt_otlp_group *bt_otlp_group_spans(bt_otlp_enc *e, const baton_span_data *const *spans,
                                   size_t n, size_t *ng);

/*
 * Writes th (< 2^56) as OTEP 235 hex, 14 digits with trailing zeros
 * removed, "0" for 0, into out (at least 15 bytes). Returns the length.
 */
size_t bt_otlp_th_hex(uint64_t th, char *out);

/* A reusable gzip compressor (zlib). One thread at a time. */
typedef struct bt_otlp_gzip bt_otlp_gzip;
baton_err bt_otlp_gzip_create(bt_otlp_gzip **out);
void bt_otlp_gzip_destroy(bt_otlp_gzip *z);
/* Compresses in[0..n) into *out (rewritten). Returns BATON_OK, BATON_ENOMEM,
 * BATON_ESYSTEM. */
baton_err bt_otlp_gzip_compress(bt_otlp_gzip *z, const uint8_t *in, size_t n,
                                bt_otlp_buf *out);

/*
 * Parses an ExportTraceServiceResponse body. An empty body is a full
 * success. On success writes *rejected (rejected_spans, 0 when absent) and
 * msg (error_message, sanitised by bt_text_sanitize and cut to cap; ""
 * when absent). Returns BATON_OK or
 * BATON_EFORMAT for a body that is not such a message. Never aborts on any
 * input. Thread-safe.
 */
baton_err bt_otlp_parse_response(const uint8_t *body, size_t n, int64_t *rejected,
                                 char *msg, size_t cap);

/* Element i of an array value, as the AnyValue both encoders write. */
baton_value bt_otlp_elem(const baton_value *v, size_t i);

/* As bt_otlp_parse_response (a negative count reads as 0), for the JSON
 * answer to an http/json request
 * ({"partialSuccess":{"rejectedSpans":"N","errorMessage":"..."}}). */
baton_err bt_otlp_parse_response_json(const uint8_t *body, size_t n, int64_t *rejected,
                                      char *msg, size_t cap);

/*
 * Parses a Retry-After header value: a number of seconds, or an HTTP date
 * (read with curl_getdate) compared with now. On success writes *delay_ms
 * (0 for a date in the past, at most 24 h). Returns false for anything
 * else. Thread-safe.
 */
bool bt_otlp_retry_after(const char *value, size_t len, time_t now, uint64_t *delay_ms);

/*
 * Builds the request header line "k: v" of one OTEL_EXPORTER_OTLP_HEADERS
 * entry (already %-decoded) into line (cap bytes). Returns NULL on
 * success, else why the entry is skipped (line is then unspecified): k is
 * not an HTTP token (RFC 9110), v holds a control character other than
 * tab, or the line does not fit. Thread-safe.
 */
const char *bt_otlp_header_line(const char *k, const char *v, char *line, size_t cap);

#endif /* BT_OTLP_INT_H */
