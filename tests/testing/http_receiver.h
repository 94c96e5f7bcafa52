/*
 * A local HTTP receiver for tests: an NNG HTTP server on 127.0.0.1 that
 * records each request's method, URI, W3C headers and body, and answers
 * with a chosen status (and an explicit Content-Length).
 */
#ifndef BATON_TU_HTTP_RECEIVER_H
#define BATON_TU_HTTP_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

#define TU_RECV_MAX 64

typedef struct tu_http_req {
	char method[16];
	char uri[256];
	bool has_traceparent, has_tracestate;
	char traceparent[512]; /* repeated headers arrive joined with ", " */
	char tracestate[2048];
	bool has_baggage;
	char baggage[9000];
	char content_type[128];
	char body[2048];
	size_t body_len;
} tu_http_req;

typedef struct tu_http_receiver tu_http_receiver;

/* Starts a receiver on 127.0.0.1 and a free port answering status; aborts on failure. */
tu_http_receiver *tu_receiver_start(int status);
/* Its port. */
int tu_receiver_port(tu_http_receiver *r);
/* Changes the status answered from now on. */
void tu_receiver_set_status(tu_http_receiver *r, int status);
/* Waits up to timeout_ms until at least n requests arrived; returns the count. */
size_t tu_receiver_wait(tu_http_receiver *r, size_t n, int timeout_ms);
/* Copies request i (arrival order) into *out; false past the end. */
bool tu_receiver_get(tu_http_receiver *r, size_t i, tu_http_req *out);
/* Forgets the requests seen so far. */
void tu_receiver_clear(tu_http_receiver *r);
void tu_receiver_stop(tu_http_receiver *r);

#endif
