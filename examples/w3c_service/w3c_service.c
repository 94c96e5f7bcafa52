/*
 * w3c_service: a service for the W3C trace-context test harness.
 *
 *   w3c_service --port P [--host 127.0.0.1] [--call-timeout-ms MS]
 *
 * It answers POST /test, whose body is a JSON array of at most 64
 * {"url": "...", "arguments": [...]}. The request's traceparent and
 * tracestate headers (repeated, in any case, padded) give the parent
 * context. For each element it POSTs "arguments" as JSON to "url" through
 * libcurl, carrying the propagated context: same trace id, a new parent id
 * per call (each call is its own CLIENT span under the request's SERVER
 * span), version 00, the tracestate kept (or dropped when invalid), a new
 * trace when the traceparent is invalid, the random flag kept. Then it
 * answers 200. Bad JSON gets 400.
 *
 * It is a relay, so it calls only what it should: every URL must be
 * http:// with a host (else 400 and no call at all), libcurl speaks http
 * only (redirects are neither followed nor allowed another scheme), each
 * call is bounded by --call-timeout-ms (default 5000, connection
 * included) and the calls of one request by three times that; calls left
 * when that runs out are not made and the answer is 504.
 *
 * baton runs with a sampler that keeps the parent's decision (and its
 * ot=th threshold, adding none of its own) and with ids propagated for
 * unsampled traces, so an unsampled trace crosses the service too. Spans
 * are exported nowhere.
 *
 * With P = 0 the system picks a free port. The first line on stdout is
 * "listening on http://HOST:PORT/test".
 */
#include <baton/baton.h>
#include <baton/http.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "w3c_request.h"

#define MAX_BODY (1 << 20)

static volatile sig_atomic_t stop_flag;
static baton_tracer *tracer;

/* ---- sampler: keep the parent's decision ---- */

static void keep_parent(void *arg, const baton_sampling_params *p,
                        baton_sampling_result *r)
{
	(void)arg;
	const baton_span_context *par = p->parent;
	if (par->state & (BATON_CTX_VALID | BATON_CTX_DECIDED)) {
		bool sampled = (par->trace_flags & BATON_FLAG_SAMPLED) != 0;
		r->decision =
		    sampled ? BATON_SAMPLING_RECORD_AND_SAMPLE : BATON_SAMPLING_DROP;
		/* Pass an upstream threshold on; do not invent one. */
		r->has_threshold = sampled && (par->state & BATON_CTX_HAS_TH);
		r->threshold = par->threshold;
	} else {
		r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE; /* a new trace: 100% */
		r->has_threshold = true;
		r->threshold = 0;
	}
}

static const baton_sampler_ops keep_parent_ops = {sizeof(baton_sampler_ops),
                                                  "keep_parent", keep_parent, NULL};

/* ---- responses ---- */

static void reply(nng_aio *aio, uint16_t status, const char *body)
{
	nng_http_res *res;
	char clen[24];
	size_t n = strlen(body);
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	nng_http_res_copy_data(res, body, n);
	/* Explicit: an empty body would otherwise go out without one. */
	snprintf(clen, sizeof(clen), "%zu", n);
	nng_http_res_set_header(res, "Content-Length", clen);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* The bound of one call; a request's calls together get a few of them. */
static long call_timeout_ms = W3C_CALL_TIMEOUT_MS;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Makes one call within timeout_ms. Returns the HTTP status or -1. */
static long call_one(const w3c_call *c, const baton_span_context *parent, long timeout_ms)
{
	long status = -1;
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs =
	    curl_slist_append(NULL, "Content-Type: application/json");
	baton_span span;
	if (e == NULL || hdrs == NULL)
		goto out;
	if (w3c_call_setup(e, tracer, c, parent, timeout_ms, &hdrs, &span) != BATON_OK)
		goto out;
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(e);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "w3c_service: call to %s failed: %s\n", c->url,
		        curl_easy_strerror(rc));
	baton_http_client_span_end(span, e, rc);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	return status;
}

static void on_test(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	/* nng joins repeated headers with ", ": two traceparents stay invalid,
	 * several tracestate lines become one list, as HTTP says. */
	baton_span server = w3c_server_span(tracer, nng_http_req_get_method(req),
	                                    nng_http_req_get_uri(req),
	                                    nng_http_req_get_header(req, "traceparent"),
	                                    nng_http_req_get_header(req, "tracestate"),
	                                    nng_http_req_get_header(req, "User-Agent"));
	baton_span_context sctx;
	baton_span_get_context(server, &sctx);

	void *data;
	size_t len;
	nng_http_req_get_data(req, &data, &len);
	w3c_request r;
	char err[128], body[192];
	if (w3c_request_parse(data, len, &r, err, sizeof(err)) != 0) {
		baton_http_server_span_end(server, 400);
		json_t *j = json_pack("{ss}", "error", err);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		snprintf(body, sizeof(body), "%s", s ? s : "{\"error\":\"bad request\"}");
		free(s);
		json_decref(j);
		reply(aio, 400, body);
		return;
	}
	/* Each call gets the call bound, cut to what is left of the request's. */
	uint64_t deadline =
	    now_ms() + (uint64_t)call_timeout_ms * W3C_REQUEST_BUDGET_CALLS;
	size_t done = 0;
	for (; done < r.ncalls; done++) {
		uint64_t now = now_ms();
		if (now >= deadline)
			break;
		long left = (long)(deadline - now);
		call_one(&r.calls[done], &sctx,
		         left < call_timeout_ms ? left : call_timeout_ms);
	}
	size_t n = r.ncalls;
	w3c_request_free(&r);
	if (done < n) {
		baton_http_server_span_end(server, 504);
		reply(aio, 504, "{\"error\":\"the calls took longer than allowed\"}");
		return;
	}
	baton_http_server_span_end(server, 200);
	reply(aio, 200, "{}");
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
	        "usage: %s --port P [--host ADDR] [--call-timeout-ms MS]\n"
	        "Serves POST http://ADDR:P/test for the W3C trace-context test harness.\n"
	        "  -p, --port P                port to listen on (0: any free port)\n"
	        "  -H, --host ADDR             address to bind (default 127.0.0.1)\n"
	        "  -t, --call-timeout-ms MS    bound of each call (default 5000);\n"
	        "                              a request's calls get 3 times that\n"
	        "  -h, --help                  this text\n",
	        argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"host", required_argument, NULL, 'H'},
	    {"call-timeout-ms", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *host = "127.0.0.1";
	long port = -1;
	int c;
	while ((c = getopt_long(argc, argv, "p:H:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char *end;
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || port < 0 ||
			    port > 65535) {
				fprintf(
				    stderr,
				    "w3c_service: bad value \"%s\" for --port: want 0 "
				    "to 65535\n",
				    optarg);
				return 2;
			}
			break;
		}
		case 'H':
			host = optarg;
			break;
		case 't': {
			char *end;
			errno = 0;
			call_timeout_ms = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || call_timeout_ms < 1 ||
			    call_timeout_ms > 600000) {
				fprintf(stderr,
				        "w3c_service: bad value \"%s\" for "
				        "--call-timeout-ms: want 1 to 600000\n",
				        optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < argc || port < 0) {
		if (optind < argc)
			fprintf(stderr, "w3c_service: unexpected argument \"%s\"\n",
			        argv[optind]);
		else
			fprintf(stderr, "w3c_service: --port is required\n");
		usage(stderr, argv[0]);
		return 2;
	}

	int rv = 1;
	nng_http_server *srv = NULL;
	nng_http_handler *h = NULL;
	nng_url *url = NULL;
	char addr[300];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	baton_options o = {.size = sizeof(o),
	                   .service_name = "w3c_service",
	                   .sampler = {&keep_parent_ops, NULL},
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true};
	baton_err be = baton_init(&o);
	if (be != BATON_OK) {
		fprintf(stderr, "w3c_service: baton_init: %s\n", baton_strerror(be));
		goto out;
	}
	tracer = baton_tracer_get("w3c_service", BATON_VERSION_STRING);

	snprintf(addr, sizeof(addr), "http://%s:%ld", host, port);
	int nrv;
	if ((nrv = nng_url_parse(&url, addr)) != 0 ||
	    (nrv = nng_http_server_hold(&srv, url)) != 0 ||
	    (nrv = nng_http_handler_alloc(&h, "/test", on_test)) != 0 ||
	    (nrv = nng_http_handler_set_method(h, "POST")) != 0 ||
	    (nrv = nng_http_handler_collect_body(h, true, MAX_BODY)) != 0 ||
	    (nrv = nng_http_server_add_handler(srv, h)) != 0) {
		fprintf(stderr, "w3c_service: %s: %s\n", addr, nng_strerror(nrv));
		goto out;
	}
	h = NULL; /* the server owns it */
	if ((nrv = nng_http_server_start(srv)) != 0) {
		fprintf(stderr, "w3c_service: listen on %s: %s\n", addr,
		        nng_strerror(nrv));
		goto out;
	}
	nng_sockaddr sa;
	if (nng_http_server_get_addr(srv, &sa) == 0 && sa.s_family == NNG_AF_INET)
		port = ntohs(sa.s_in.sa_port);
	printf("listening on http://%s:%ld/test\n", host, port);
	fflush(stdout);

	struct sigaction sact;
	memset(&sact, 0, sizeof(sact));
	sact.sa_handler = on_signal;
	sigaction(SIGINT, &sact, NULL);
	sigaction(SIGTERM, &sact, NULL);
	while (!stop_flag)
		nng_msleep(100);
	rv = 0;
out:
	if (h != NULL)
		nng_http_handler_free(h);
	if (srv != NULL) {
		nng_http_server_stop(srv);
		nng_http_server_release(srv);
	}
	if (url != NULL)
		nng_url_free(url);
	baton_fini(1000);
	curl_global_cleanup();
	return rv;
}
