/*
 * A tiny loopback HTTP server for tests: answers every request with the
 * status and body set last, or holds the connection open without answering
 * ("hang") until the client gives up or the stub stops. One connection at a
 * time; each answer closes its connection.
 */
#ifndef BATON_TESTUTIL_HTTPSTUB_H
#define BATON_TESTUTIL_HTTPSTUB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tu_httpstub tu_httpstub;

/* Starts a stub on 127.0.0.1 and an ephemeral port; aborts the test on failure. */
tu_httpstub *tu_httpstub_start(void);
/*
 * The same over TLS ("https://..."): cert and key are the server's PEM
 * certificate (chain) and key; with require_client_cert the client must
 * show a certificate that ca verifies.
 */
tu_httpstub *tu_httpstub_start_tls(const char *ca, const char *cert, const char *key,
                                   bool require_client_cert);
/* TLS handshakes that failed. */
int tu_httpstub_tls_failures(tu_httpstub *s);
/* "http://127.0.0.1:<port>" ("https://..." over TLS); valid until stop. */
const char *tu_httpstub_base(tu_httpstub *s);
/* Sets the answer to the next requests (body copied). status 0: hang. */
void tu_httpstub_set(tu_httpstub *s, int status, const char *body);
/* Like tu_httpstub_set with len bytes of body (may hold NULs). */
void tu_httpstub_set_bytes(tu_httpstub *s, int status, const char *body, size_t len);
/* Requests received so far. */
int tu_httpstub_requests(tu_httpstub *s);
/* Waits up to timeout_ms for at least n requests; returns the count. */
int tu_httpstub_wait_requests(tu_httpstub *s, int n, int timeout_ms);
/* Copies the request target ("/sampling?service=x") of the last request. */
void tu_httpstub_last_target(tu_httpstub *s, char *buf, size_t cap);
/* Stops the server, closes any held connection and frees it. */
void tu_httpstub_stop(tu_httpstub *s);

#endif
