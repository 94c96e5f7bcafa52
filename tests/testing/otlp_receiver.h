/*
 * An OTLP/HTTP receiver for tests: a small HTTP/1.1 server on 127.0.0.1
 * that decodes each POSTed ExportTraceServiceRequest (gunzipping it when
 * Content-Encoding says gzip) with the generated protobuf-c code, counts
 * what it got, and answers as it is told: 200, 200 with partial_success,
 * 503, 429 with Retry-After (seconds or HTTP date), 400, a dropped
 * connection, or no answer at all (hang). Thread-safe.
 */
#ifndef BATON_TU_OTLP_RECEIVER_H
#define BATON_TU_OTLP_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum tu_otlp_mode {
	TU_OTLP_OK = 0,      /* 200, empty response message */
	TU_OTLP_PARTIAL,     /* 200 with partial_success{rejected_spans=1, "too old"} */
	TU_OTLP_503,         /* 503, no Retry-After */
	TU_OTLP_429_SECONDS, /* 429, Retry-After: 1 */
	TU_OTLP_429_DATE,    /* 429, Retry-After: <HTTP date one second ahead> */
	TU_OTLP_400,         /* 400 with a text body */
	TU_OTLP_DROP,        /* read the request, close without answering */
	TU_OTLP_HANG,        /* read the request, never answer (until stopped) */
	TU_OTLP_429_ZERO,    /* 429, Retry-After: 0 */
	TU_OTLP_429_PAST,    /* 429, Retry-After: <HTTP date an hour ago> */
	/* 200 with partial_success{rejected_spans=1, text with ANSI escapes and newlines}
	 */
	TU_OTLP_PARTIAL_HOSTILE,
} tu_otlp_mode;

/* The error_message TU_OTLP_PARTIAL_HOSTILE sends. */
#define TU_OTLP_HOSTILE_TEXT                                                             \
	"\x1b[2J\x1b]0;owned\x07line1\r\nbaton: error: forged\xc2\x9b"                   \
	"31m"

typedef struct tu_otlp_receiver tu_otlp_receiver;

/* Starts a receiver on an ephemeral loopback port; NULL on failure. */
tu_otlp_receiver *tu_otlp_start(void);
/*
 * The same over TLS (URL "https://..."): cert and key are the server's PEM
 * certificate (chain) and key; with require_client_cert, the client must
 * show a certificate that ca (PEM) verifies, else the handshake fails (and
 * counts in tls_failures). NULL on failure.
 */
tu_otlp_receiver *tu_otlp_start_tls(const char *ca, const char *cert, const char *key,
                                    bool require_client_cert);
/* Stops it: closes every connection, joins its threads, frees it. */
void tu_otlp_stop(tu_otlp_receiver *r);

/*
 * A Criterion suite whose every test has a receiver of its own in rcv,
 * started before the test and stopped after it. Needs
 * <criterion/criterion.h>.
 */
#define TU_OTLP_SUITE(suite)                                                             \
	static tu_otlp_receiver *rcv;                                                    \
	static void tu_otlp_suite_setup(void)                                            \
	{                                                                                \
		rcv = tu_otlp_start();                                                   \
		cr_assert_not_null(rcv);                                                 \
	}                                                                                \
	static void tu_otlp_suite_teardown(void)                                         \
	{                                                                                \
		tu_otlp_stop(rcv);                                                       \
	}                                                                                \
	TestSuite(suite, .init = tu_otlp_suite_setup, .fini = tu_otlp_suite_teardown)
/* "http://127.0.0.1:<port>/v1/traces" */
const char *tu_otlp_url(tu_otlp_receiver *r);
/*
 * The next `count` requests are answered with mode, later ones with 200
 * (count < 0: every request from now on).
 */
void tu_otlp_set_mode(tu_otlp_receiver *r, tu_otlp_mode mode, int count);
/* Decodes the spans of a request only when answering it with 200 (default: true). */
void tu_otlp_count_only_accepted(tu_otlp_receiver *r, bool on);
/*
 * With on, requests are not unpacked with protobuf-c but walked on the
 * wire: every field of the request, its ResourceSpans and ScopeSpans
 * must be well framed and each span must fit in its ScopeSpans and have
 * a 16-byte trace_id, an 8-byte span_id and a name (the span's fields are
 * read up to those), else the body counts as bad. Spans are
 * counted (counts.spans) but not by name, and the last body is not kept.
 * A request to be answered with 200 is answered before it is walked, so
 * the exporter is not held up by the count; tu_otlp_get_counts waits for
 * the walks under way.
 * For throughput benchmarks, where unpacking costs more CPU than the
 * exporter under test. Default: off (full decoding).
 */
void tu_otlp_light_decode(tu_otlp_receiver *r, bool on);

typedef struct tu_otlp_counts {
	uint64_t requests;      /* requests read completely */
	uint64_t accepted;      /* answered 200 */
	uint64_t spans;         /* spans in requests answered 200 */
	uint64_t bad_bodies;    /* bodies that did not decode */
	uint64_t gzip_requests; /* requests with Content-Encoding: gzip */
	uint64_t connections;   /* TCP connections accepted */
	uint64_t max_body;      /* largest body received (as sent, compressed or not) */
	uint64_t tls_failures;  /* TLS handshakes that failed */
} tu_otlp_counts;
tu_otlp_counts tu_otlp_get_counts(tu_otlp_receiver *r);

/* Spans named name among those counted. */
uint64_t tu_otlp_spans_named(tu_otlp_receiver *r, const char *name);
/* Waits until at least n spans were counted or timeout_ms passed; returns the count. */
uint64_t tu_otlp_wait_spans(tu_otlp_receiver *r, uint64_t n, int timeout_ms);

/*
 * Copies the body of the last request (decompressed) into buf; returns its
 * full length (may exceed cap; only cap bytes are copied).
 */
size_t tu_otlp_last_body(tu_otlp_receiver *r, uint8_t *buf, size_t cap);
/* Copies the value of header name (case-insensitive) of the last request; false if
 * absent. */
bool tu_otlp_last_header(tu_otlp_receiver *r, const char *name, char *buf, size_t cap);

/* Copies the request target (path) of the last request, e.g. "/v1/traces". */
bool tu_otlp_last_path(tu_otlp_receiver *r, char *buf, size_t cap);

#endif
