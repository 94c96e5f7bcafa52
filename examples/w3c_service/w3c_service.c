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
 * The request's baggage header becomes the current baggage while the
 * calls are made, so it is passed on too (unless OTEL_PROPAGATORS leaves
 * "baggage" out).
 *
 * The HTTP server is libmicrohttpd: it hands over every header line as
 * sent (repeated ones separately, spaces and tabs around values allowed),
 * which the harness's whitespace tests need; NNG 1.5's server refuses a
 * header value with a tab in it. Each connection gets its own thread
 * (at most 64 at once, idle ones closed after 60 s).
 *
 * With P = 0 the system picks a free port. The first line on stdout is
 * "listening on http://HOST:PORT/test".
 */
#include <baton/baton.h>
#include <baton/http.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
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

/* ---- responses ---- */

/* Queues a JSON answer (libmicrohttpd adds Content-Length, also for "{}"). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *res = MHD_create_response_from_buffer(
	    strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (res == NULL)
		return MHD_NO;
	MHD_add_response_header(res, "Content-Type", "application/json");
	enum MHD_Result rv = MHD_queue_response(c, status, res);
	MHD_destroy_response(res);
	return rv;
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

/* Request headers, as sent: repeated lines separately, in order. */
#define MAX_HEADERS 128
struct headers {
	baton_http_header h[MAX_HEADERS];
	size_t n;
};

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct headers *hs = cls;
	(void)kind;
	if (hs->n < MAX_HEADERS && key != NULL)
		hs->h[hs->n++] = (baton_http_header){key, value != NULL ? value : ""};
	return MHD_YES;
}

static enum MHD_Result on_test(struct MHD_Connection *conn, const char *method,
                               const char *url, const char *data, size_t len)
{
	struct headers hs = {.n = 0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, &hs);
	/* Traceparent, tracestate and baggage lines go to baton as sent: two
	 * traceparents are invalid, tracestate (baggage) lines are one list. */
	uint32_t tok = 0;
	baton_span server = w3c_server_begin(tracer, method, url, hs.h, hs.n, &tok);
	baton_span_context sctx;
	baton_span_get_context(server, &sctx);

	w3c_request r;
	char err[128], body[192];
	if (w3c_request_parse(data, len, &r, err, sizeof(err)) != 0) {
		baton_span_detach(tok);
		baton_http_server_span_end(server, 400);
		json_t *j = json_pack("{ss}", "error", err);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		snprintf(body, sizeof(body), "%s", s ? s : "{\"error\":\"bad request\"}");
		free(s);
		json_decref(j);
		return reply(conn, 400, body);
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
	baton_span_detach(tok);
	if (done < n) {
		baton_http_server_span_end(server, 504);
		return reply(conn, 504,
		             "{\"error\":\"the calls took longer than allowed\"}");
	}
	baton_http_server_span_end(server, 200);
	return reply(conn, 200, "{}");
}

/* A request's body as it arrives, at most MAX_BODY bytes. */
struct upload {
	char *data;
	size_t len;
	bool too_big;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct upload *up = *con_cls;
	(void)cls;
	(void)version;
	if (up == NULL) { /* headers are in: set up the body */
		if ((up = calloc(1, sizeof(*up))) == NULL)
			return MHD_NO;
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		if (!up->too_big && up->len + n <= MAX_BODY) {
			char *p = realloc(up->data, up->len + n);
			if (p == NULL) {
				up->too_big = true;
			} else {
				memcpy(p + up->len, upload_data, n);
				up->data = p;
				up->len += n;
			}
		} else {
			up->too_big = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/test") != 0)
		return reply(conn, 404, "{\"error\":\"not found\"}");
	if (strcmp(method, "POST") != 0)
		return reply(conn, 405, "{\"error\":\"POST only\"}");
	if (up->too_big)
		return reply(conn, 413, "{\"error\":\"body too large\"}");
	return on_test(conn, method, url, up->data, up->len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (up != NULL) {
		free(up->data);
		free(up);
		*con_cls = NULL;
	}
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
	struct MHD_Daemon *d = NULL;
	struct sockaddr_in sa4;
	struct sockaddr_in6 sa6;
	struct sockaddr *sa;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG;
	memset(&sa4, 0, sizeof(sa4));
	memset(&sa6, 0, sizeof(sa6));
	if (inet_pton(AF_INET, host, &sa4.sin_addr) == 1) {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons((uint16_t)port);
		sa = (struct sockaddr *)&sa4;
	} else if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons((uint16_t)port);
		sa = (struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		fprintf(stderr, "w3c_service: --host wants an IPv4 or IPv6 address: %s\n",
		        host);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	baton_options o = {.size = sizeof(o),
	                   .service_name = "w3c_service",
	                   .sampler = {&w3c_keep_parent_ops, NULL},
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true};
	baton_err be = baton_init(&o);
	if (be != BATON_OK) {
		fprintf(stderr, "w3c_service: baton_init: %s\n", baton_strerror(be));
		goto out;
	}
	tracer = baton_tracer_get("w3c_service", BATON_VERSION_STRING);

	d = MHD_start_daemon(
	    flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "w3c_service: cannot listen on %s port %ld\n", host,
		        port);
		goto out;
	}
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (di != NULL && di->port != 0)
		port = di->port;
	printf("listening on http://%s:%ld/test\n", host, port);
	fflush(stdout);

	struct sigaction sact;
	memset(&sact, 0, sizeof(sact));
	sact.sa_handler = on_signal;
	sigaction(SIGINT, &sact, NULL);
	sigaction(SIGTERM, &sact, NULL);
	while (!stop_flag) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	rv = 0;
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	baton_fini(1000);
	curl_global_cleanup();
	return rv;
}
