/* A local HTTP receiver for tests (see http_receiver.h). */
#include "http_receiver.h"

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tu_http_receiver {
	nng_http_server *srv;
	nng_http_handler *h;
	int port;
	int status;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	size_t n;
	tu_http_req reqs[TU_RECV_MAX];
};

static void copy_hdr(nng_http_req *req, const char *name, char *out, size_t cap,
                     bool *has)
{
	const char *v = nng_http_req_get_header(req, name);
	if (has)
		*has = v != NULL;
	snprintf(out, cap, "%s", v ? v : "");
}

static void on_request(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	tu_http_receiver *r = nng_http_handler_get_data(h);
	tu_http_req rec;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.method, sizeof(rec.method), "%s", nng_http_req_get_method(req));
	snprintf(rec.uri, sizeof(rec.uri), "%s", nng_http_req_get_uri(req));
	copy_hdr(req, "traceparent", rec.traceparent, sizeof(rec.traceparent),
	         &rec.has_traceparent);
	copy_hdr(req, "tracestate", rec.tracestate, sizeof(rec.tracestate),
	         &rec.has_tracestate);
	copy_hdr(req, "baggage", rec.baggage, sizeof(rec.baggage), &rec.has_baggage);
	copy_hdr(req, "Content-Type", rec.content_type, sizeof(rec.content_type), NULL);
	void *body;
	size_t blen;
	nng_http_req_get_data(req, &body, &blen);
	rec.body_len = blen < sizeof(rec.body) - 1 ? blen : sizeof(rec.body) - 1;
	if (rec.body_len > 0)
		memcpy(rec.body, body, rec.body_len);

	pthread_mutex_lock(&r->mtx);
	if (r->n < TU_RECV_MAX)
		r->reqs[r->n++] = rec;
	int status = r->status;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);

	nng_http_res *res;
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, (uint16_t)status);
	static const char ok[] = "{}";
	nng_http_res_copy_data(res, ok, sizeof(ok) - 1);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	nng_http_res_set_header(res, "Content-Length", "2");
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

tu_http_receiver *tu_receiver_start(int status)
{
	tu_http_receiver *r = calloc(1, sizeof(*r));
	nng_url *url;
	nng_sockaddr sa;
	if (r == NULL)
		abort();
	r->status = status;
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (nng_url_parse(&url, "http://127.0.0.1:0") != 0 ||
	    nng_http_server_hold(&r->srv, url) != 0)
		abort();
	nng_url_free(url);
	if (nng_http_handler_alloc(&r->h, "/", on_request) != 0 ||
	    nng_http_handler_set_method(r->h, NULL) != 0 ||
	    nng_http_handler_set_tree(r->h) != 0 ||
	    nng_http_handler_set_data(r->h, r, NULL) != 0 ||
	    nng_http_handler_collect_body(r->h, true, 1 << 20) != 0 ||
	    nng_http_server_add_handler(r->srv, r->h) != 0 ||
	    nng_http_server_start(r->srv) != 0 ||
	    nng_http_server_get_addr(r->srv, &sa) != 0)
		abort();
	r->port = ntohs(sa.s_in.sa_port);
	return r;
}

int tu_receiver_port(tu_http_receiver *r)
{
	return r->port;
}

void tu_receiver_set_status(tu_http_receiver *r, int status)
{
	pthread_mutex_lock(&r->mtx);
	r->status = status;
	pthread_mutex_unlock(&r->mtx);
}

size_t tu_receiver_wait(tu_http_receiver *r, size_t n, int timeout_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mtx);
	while (r->n < n) {
		if (pthread_cond_timedwait(&r->cv, &r->mtx, &dl) != 0)
			break;
	}
	size_t got = r->n;
	pthread_mutex_unlock(&r->mtx);
	return got;
}

bool tu_receiver_get(tu_http_receiver *r, size_t i, tu_http_req *out)
{
	bool ok = false;
	pthread_mutex_lock(&r->mtx);
	if (i < r->n) {
		*out = r->reqs[i];
		ok = true;
	}
	pthread_mutex_unlock(&r->mtx);
	return ok;
}

void tu_receiver_clear(tu_http_receiver *r)
{
	pthread_mutex_lock(&r->mtx);
	r->n = 0;
	pthread_mutex_unlock(&r->mtx);
}

void tu_receiver_stop(tu_http_receiver *r)
{
	if (r == NULL)
		return;
	nng_http_server_stop(r->srv);
	nng_http_server_release(r->srv);
	pthread_mutex_destroy(&r->mtx);
	pthread_cond_destroy(&r->cv);
	free(r);
}
