/*
 * w3c_service: a service for the W3C trace-context test harness.
 *
 *   w3c_service --port P [--host 127.0.0.1]
 *
 * It answers POST /test, whose body is a JSON array of
 * {"url": "...", "arguments": [...]}. The request's traceparent and
 * tracestate headers (repeated, in any case, padded) give the parent
 * context. For each element it POSTs "arguments" as JSON to "url" through
 * libcurl, carrying the propagated context: same trace id, a new parent id
 * per call (each call is its own CLIENT span under the request's SERVER
 * span), version 00, the tracestate kept (or dropped when invalid), a new
 * trace when the traceparent is invalid, the random flag kept. Then it
 * answers 200. Bad JSON gets 400.
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
#include <unistd.h>

/* Calls made for one request at most, and the time each may take. */
#define MAX_CALLS       64
#define CALL_TIMEOUT_MS 5000L
#define MAX_BODY        (1 << 20)

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

/* POSTs args as JSON to url in a CLIENT span under parent. Returns the HTTP status or -1.
 */
static long call_one(const char *url, json_t *args, const baton_span_context *parent)
{
	long status = -1;
	char *body = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs =
	    curl_slist_append(NULL, "Content-Type: application/json");
	baton_span span;
	if (body == NULL || e == NULL || hdrs == NULL)
		goto out;
	if (baton_http_client_begin(e, tracer, "POST", url, parent, &hdrs, &span) !=
	    BATON_OK)
		goto out;
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, CALL_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(e);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	baton_http_client_span_end(span, e, rc);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	free(body);
	return status;
}

static void on_test(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	/* nng joins repeated headers with ", ": two traceparents stay invalid,
	 * several tracestate lines become one list, as HTTP says. */
	baton_http_header hdrs[3];
	size_t nh = 0;
	const char *v;
	if ((v = nng_http_req_get_header(req, "traceparent")) != NULL)
		hdrs[nh++] = (baton_http_header){"traceparent", v};
	if ((v = nng_http_req_get_header(req, "tracestate")) != NULL)
		hdrs[nh++] = (baton_http_header){"tracestate", v};
	if ((v = nng_http_req_get_header(req, "User-Agent")) != NULL)
		hdrs[nh++] = (baton_http_header){"User-Agent", v};
	baton_http_server_request sreq = {
	    .method = nng_http_req_get_method(req),
	    .target = nng_http_req_get_uri(req),
	    .route = "/test",
	    .headers = hdrs,
	    .nheaders = nh,
	};
	baton_span server = baton_http_server_span_start(tracer, &sreq);
	baton_span_context sctx;
	baton_span_get_context(server, &sctx);

	void *data;
	size_t len;
	json_error_t jerr;
	nng_http_req_get_data(req, &data, &len);
	json_t *root = json_loadb(data, len, 0, &jerr);
	size_t n = json_is_array(root) ? json_array_size(root) : 0;
	bool ok = json_is_array(root) && n <= MAX_CALLS;
	for (size_t i = 0; ok && i < n; i++) {
		json_t *el = json_array_get(root, i);
		ok = json_is_object(el) && json_is_string(json_object_get(el, "url"));
	}
	if (!ok) {
		json_decref(root);
		baton_http_server_span_end(server, 400);
		reply(aio, 400,
		      "{\"error\":\"expected a JSON array of {url, arguments}\"}");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *el = json_array_get(root, i);
		json_t *args = json_object_get(el, "arguments");
		json_t *empty = args ? NULL : json_array();
		long st = call_one(json_string_value(json_object_get(el, "url")),
		                   args ? args : empty, &sctx);
		if (st < 0)
			fprintf(stderr, "w3c_service: call to %s failed\n",
			        json_string_value(json_object_get(el, "url")));
		json_decref(empty);
	}
	json_decref(root);
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
	        "usage: %s --port P [--host ADDR]\n"
	        "Serves POST http://ADDR:P/test for the W3C trace-context test harness.\n"
	        "  -p, --port P     port to listen on (0: any free port)\n"
	        "  -H, --host ADDR  address to bind (default 127.0.0.1)\n"
	        "  -h, --help       this text\n",
	        argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
	                                     {"host", required_argument, NULL, 'H'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *host = "127.0.0.1";
	long port = -1;
	int c;
	while ((c = getopt_long(argc, argv, "p:H:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char *end;
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || port < 0 || port > 65535) {
				fprintf(stderr, "w3c_service: bad port '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'H':
			host = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (port < 0 || optind != argc) {
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
