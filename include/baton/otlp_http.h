/*
 * baton/otlp_http.h: the OTLP/HTTP (protobuf) span exporter, in
 * baton::otlp_http.
 *
 * Sends each batch as one ExportTraceServiceRequest in a POST to
 * <endpoint> (".../v1/traces") with Content-Type application/x-protobuf,
 * optionally gzip-compressed, over one libcurl connection kept alive
 * between exports. Retries on 429, 502, 503, 504 and on connection
 * failures, honouring Retry-After (seconds or an HTTP date), otherwise
 * with exponential backoff and jitter; the whole export, retries included,
 * is bounded by timeout_ms. A 200 with partial_success is logged and
 * reported to the batch processor as rejected spans, never retried. Any
 * other status fails the export at once. Requests over max_request_bytes
 * (64 MiB) are split in halves until they fit. A TLS failure (unknown CA,
 * refused client certificate) fails the export at once and its warning
 * gives the TLS library's reason.
 */
#ifndef BATON_OTLP_HTTP_H
#define BATON_OTLP_HTTP_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values of baton_otlp_http_options.compression. */
#define BATON_OTLP_COMPRESSION_ENV  0 /* OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION */
#define BATON_OTLP_COMPRESSION_NONE 1
#define BATON_OTLP_COMPRESSION_GZIP 2

/* Values of baton_otlp_http_options.protocol. */
#define BATON_OTLP_PROTOCOL_ENV      0 /* OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL */
#define BATON_OTLP_PROTOCOL_PROTOBUF 1 /* http/protobuf */
#define BATON_OTLP_PROTOCOL_JSON     2 /* http/json */

/*
 * Options of the OTLP/HTTP exporter. Zero-initialise and set size =
 * sizeof(baton_otlp_http_options); zero or NULL fields take the values
 * named. Strings are copied by baton_otlp_http_exporter_create().
 */
typedef struct baton_otlp_http_options {
	size_t size; /* sizeof(baton_otlp_http_options) */
	/*
	 * Full URL including the path. NULL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	 * as is, else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces", else
	 * http://localhost:4318/v1/traces.
	 */
	const char *endpoint;
	/*
	 * Extra request headers "k=v,k2=v2" (values percent-decoded). NULL:
	 * OTEL_EXPORTER_OTLP_TRACES_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS.
	 */
	const char *headers;
	/*
	 * Bound of one export, retries included. 0:
	 * OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT
	 * (0 there: no bound), else 10000.
	 */
	uint32_t timeout_ms;
	int compression; /* BATON_OTLP_COMPRESSION_*; ENV: gzip|none, default none */
	int protocol;    /* BATON_OTLP_PROTOCOL_*; ENV: http/protobuf|http/json, default
	                  * http/protobuf */
	/* Largest request body; bigger batches are split. 0: 64 MiB. */
	uint32_t max_request_bytes;
	/* First retry delay, doubled per retry with jitter. 0: 200 ms. */
	uint32_t retry_initial_ms;
	/* Largest retry delay without Retry-After. 0: 5000 ms. */
	uint32_t retry_max_ms;
	/*
	 * TLS, for https:// endpoints; each a path to a PEM file. NULL: the
	 * OTEL_EXPORTER_OTLP_TRACES_* variable named, else the
	 * OTEL_EXPORTER_OTLP_* one, else none. A file that cannot be read is
	 * named in one warning when the exporter is created, and every export
	 * to an https endpoint then fails (counted), never falling back to the
	 * system's CAs. With an http:// endpoint they are unused (a warning
	 * says so).
	 */
	/* CA certificates that verify the collector, instead of the system's
	 * (..._CERTIFICATE). */
	const char *certificate;
	/* The client's private key, for mTLS (..._CLIENT_KEY). */
	const char *client_key;
	/* The client's certificate (chain), for mTLS (..._CLIENT_CERTIFICATE). */
	const char *client_certificate;
} baton_otlp_http_options;

/*
 * Creates an OTLP/HTTP exporter; give it to a span processor (normally
 * baton_batch_processor_create()), which then owns it. opts may be NULL:
 * everything from the environment. Creating it opens no connection.
 *
 * Its shutdown may be called while an export is running on another thread
 * (the batch processor does so when its shutdown time runs out): the export
 * in flight is cut at once and returns BATON_ECLOSED; later exports fail
 * with BATON_ECLOSED. In a child process after fork() the connection of the
 * parent is left to the parent and a new one is opened.
 *
 * On success writes *out. Returns BATON_OK, BATON_EINVAL (out NULL, size
 * too small, an endpoint that is not http:// or https://), BATON_ENOMEM,
 * BATON_ESYSTEM (libcurl or zlib could not be set up). Thread-safe.
 */
BATON_API baton_err baton_otlp_http_exporter_create(const baton_otlp_http_options *opts,
                                                    baton_exporter *out);

#ifdef __cplusplus
}
#endif

#endif /* BATON_OTLP_HTTP_H */
