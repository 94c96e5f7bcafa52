/*
 * The OTLP/HTTP exporter: configuration, the libcurl transport, retries.
 *
 * One easy handle driven through a multi handle: the multi handle keeps
 * the connection alive between exports, and curl_multi_wakeup() lets
 * shutdown, called from another thread, cut a transfer or a retry wait at
 * once (a blocking curl_easy_perform could only be cut by its timeout).
 *
 * Retries: each retryable failure waits the exponential backoff with
 * jitter, or the server's Retry-After when that is longer (never less: a
 * "Retry-After: 0" does not turn retries into a storm). The wait outlives
 * the export that saw it: the next batch does not go out before it ends,
 * and the backoff keeps growing across batches until a request succeeds.
 *
 * Nothing secret reaches a log line: messages name the endpoint with its
 * user:password and query replaced, and header entries by their key only.
 *
 * Halves: besides export_spans the exporter offers export_begin and
 * export_end, so that the batch processor encodes the next batch while the
 * collector reads and answers this one. A begun batch is encoded into one
 * of two body buffers and, when nothing is on the wire, handed to curl,
 * which writes what the socket takes at once; export_end drives it to its
 * answer (retries included, as export_spans would) and then hands the
 * batch begun after it to curl. Requests keep their order on the one
 * connection.
 */
#include "otlp_int.h"

#include "util.h"

#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BT_OTLP_MAX_BODY  ((size_t)64 << 20)
#define BT_OTLP_RESP_CAP  ((size_t)64 << 10)
#define BT_OTLP_MAX_SOCKS 8

/* timeout_ms value meaning "no bound" (OTEL_EXPORTER_OTLP_TIMEOUT=0). */
#define BT_OTLP_NO_TIMEOUT UINT32_MAX

struct bt_otlp {
	char *url;
	char url_log[256]; /* url as logs show it: no userinfo, no query */
	struct curl_slist *hdrs;
	uint32_t timeout_ms, backoff_initial_ms, backoff_max_ms;
	/* Inside a request (curl busy): a child forked then must not tear it down. */
	_Atomic bool transferring;
	/* Failed attempts in a row, across exports: the backoff's exponent. */
	uint32_t streak;
	/* No request before this monotonic time (backoff or Retry-After); 0: none. */
	uint64_t not_before;
	/* What the export in progress will return besides its error. */
	uint32_t retries;
	uint64_t rejected;
	char why[160];
	bool gzip;
	bool json; /* http/json: bt_otlp_encode_json, application/json */
	size_t max_body;
	CURL *easy;
	CURLM *multi;
	pid_t pid;
	_Atomic bool cut;
	bool failing; /* the last export failed: log the next failure at debug only */
	/* Two body buffers: one request on the wire while the next is encoded. */
	bt_otlp_enc *enc[2];
	bt_otlp_gzip *gz;
	bt_otlp_buf zbuf[2];
	/* Batches begun and not yet ended, oldest first (export_begin). */
	struct bt_otlp_req {
		const uint8_t *body;
		size_t len;
		uint64_t deadline;
		int buf;       /* which of the two body buffers */
		bool started;  /* its first attempt is with curl */
		bool answered; /* res is final: nothing left to send */
		baton_export_result res;
		char why[160];
	} req[2];
	uint32_t nreq;
	char why_out[160]; /* the reason export_end returned last */
	bt_otlp_buf resp;
	char retry_after[128];
	size_t retry_after_len;
	/* Sockets curl opened, so that a forked child can leave them to the parent. */
	curl_socket_t socks[BT_OTLP_MAX_SOCKS];
	int nsocks;
	char err[CURL_ERROR_SIZE];
	/* PEM paths: CA bundle, client key, client certificate; NULL: not set. */
	char *tls_ca, *tls_key, *tls_cert;
};

/* ---- curl callbacks ---- */

static size_t bt_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct bt_otlp *e = arg;
	size_t n = size * nmemb;
	size_t room = BT_OTLP_RESP_CAP - e->resp.len;
	size_t take = n < room ? n : room; /* the rest is read and ignored */
	if (take > 0 &&
	    bt_otlp_buf_reserve(&e->resp, e->resp.len + take, BT_OTLP_RESP_CAP)) {
		memcpy(e->resp.p + e->resp.len, p, take);
		e->resp.len += take;
	}
	return n;
}

static size_t bt_on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct bt_otlp *e = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		size_t vl = n - (sizeof(name) - 1);
		if (vl < sizeof(e->retry_after)) {
			memcpy(e->retry_after, p + sizeof(name) - 1, vl);
			e->retry_after_len = vl;
		}
	}
	return n;
}

static curl_socket_t bt_open_sock(void *arg, curlsocktype purpose,
                                  struct curl_sockaddr *a)
{
	struct bt_otlp *e = arg;
	(void)purpose;
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd != CURL_SOCKET_BAD && e->nsocks < BT_OTLP_MAX_SOCKS)
		e->socks[e->nsocks++] = fd;
	return fd;
}

static int bt_close_sock(void *arg, curl_socket_t fd)
{
	struct bt_otlp *e = arg;
	for (int i = 0; i < e->nsocks; i++) {
		if (e->socks[i] == fd) {
			e->socks[i] = e->socks[--e->nsocks];
			break;
		}
	}
	return close(fd);
}

/* ---- handles ---- */

static void bt_handles_close(struct bt_otlp *e)
{
	if (e->multi != NULL && e->easy != NULL)
		curl_multi_remove_handle(e->multi, e->easy);
	if (e->easy != NULL)
		curl_easy_cleanup(e->easy);
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	e->easy = NULL;
	e->multi = NULL;
}

static baton_err bt_handles_open(struct bt_otlp *e)
{
	e->multi = curl_multi_init();
	e->easy = curl_easy_init();
	if (e->multi == NULL || e->easy == NULL) {
		bt_handles_close(e);
		return BATON_ESYSTEM;
	}
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 2L);
	CURL *h = e->easy;
	curl_easy_setopt(h, CURLOPT_URL, e->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "baton/" BATON_VERSION_STRING);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bt_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, bt_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, e);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, bt_open_sock);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, e);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, bt_close_sock);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, e);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, e->err);
	if (e->tls_ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, e->tls_ca);
	if (e->tls_cert != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, e->tls_cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (e->tls_key != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, e->tls_key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	e->pid = getpid();
	return BATON_OK;
}

/*
 * In a forked child the connection belongs to the parent: point our copies
 * of its sockets at /dev/null (so that closing them, TLS close_notify
 * included, cannot touch the parent's stream), then start afresh.
 */
static baton_err bt_after_fork(struct bt_otlp *e)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < e->nsocks && devnull >= 0; i++)
		dup2(devnull, e->socks[i]);
	if (devnull >= 0)
		close(devnull);
	if (atomic_load_explicit(&e->transferring, memory_order_relaxed)) {
		/*
		 * The fork came in the middle of a request (the batch processor
		 * waited for it, and it outlived the wait): curl's state is
		 * halfway through it. Leave it, never tear it down here; the child
		 * starts with new handles.
		 */
		e->easy = NULL;
		e->multi = NULL;
		atomic_store_explicit(&e->transferring, false, memory_order_relaxed);
	}
	bt_handles_close(e);
	e->nsocks = 0;
	return bt_handles_open(e);
}

/* ---- one request ---- */

static bool bt_cut(struct bt_otlp *e)
{
	return atomic_load_explicit(&e->cut, memory_order_relaxed);
}

/* Hands body to curl as one POST, bounded by deadline; bt_post_wait ends it. */
static CURLcode bt_post_start(struct bt_otlp *e, const uint8_t *body, size_t len,
                              uint64_t deadline)
{
	e->resp.len = 0;
	e->retry_after_len = 0;
	e->err[0] = '\0';
	uint64_t now = baton_time_mono_ns();
	if (now >= deadline)
		return CURLE_OPERATION_TIMEDOUT;
	uint64_t budget = (deadline - now) / 1000000u;
	long ms = deadline == UINT64_MAX ? 0L /* curl: no timeout */
	          : budget > 0x7fffffff  ? 0x7fffffffL
	          : budget > 0           ? (long)budget
	                                 : 1L;
	curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, (const char *)body);
	if (curl_multi_add_handle(e->multi, e->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	/* Relaxed: only a forked child reads it, after fork() copied this thread's view.
	 */
	atomic_store_explicit(&e->transferring, true, memory_order_relaxed);
	return CURLE_OK;
}

/*
 * Drives the POST bt_post_start began until it ends. Returns curl's
 * result; *status is the HTTP status on CURLE_OK.
 */
static CURLcode bt_post_wait(struct bt_otlp *e, long *status)
{
	CURLcode cc = CURLE_OK;
	bool finished = false;
	for (;;) {
		int running = 0, left = 0;
		CURLMsg *m;
		if (curl_multi_perform(e->multi, &running) != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
		while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
			if (m->msg == CURLMSG_DONE && m->easy_handle == e->easy) {
				cc = m->data.result;
				finished = true;
			}
		}
		if (finished)
			break;
		if (bt_cut(e)) {
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		/* Returns on socket activity, curl's own timeouts, or curl_multi_wakeup.
		 */
		curl_multi_poll(e->multi, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(e->multi, e->easy);
	atomic_store_explicit(&e->transferring, false, memory_order_relaxed);
	if (cc == CURLE_OK)
		curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, status);
	return cc;
}

/* POSTs body once. Returns curl's result; *status is the HTTP status on CURLE_OK. */
static CURLcode bt_post(struct bt_otlp *e, const uint8_t *body, size_t len,
                        uint64_t deadline, long *status)
{
	CURLcode cc = bt_post_start(e, body, len, deadline);
	return cc != CURLE_OK ? cc : bt_post_wait(e, status);
}

/* Sleeps until mono time `until`, or less when shutdown cuts it. */
static void bt_sleep_until(struct bt_otlp *e, uint64_t until)
{
	for (;;) {
		uint64_t now = baton_time_mono_ns();
		if (now >= until || bt_cut(e))
			return;
		uint64_t ms = (until - now + 999999u) / 1000000u;
		curl_multi_poll(e->multi, NULL, 0, ms > 1000 ? 1000 : (int)ms, NULL);
	}
}

static bool bt_retryable_cc(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
}

/*
 * True when curl's error text reports a TLS alert from the collector (with
 * TLS 1.3 a refused or missing client certificate is only seen on the
 * first read, as a receive error): it refuses this client, and asking
 * again will not change that.
 */
static bool bt_tls_alert(const char *err)
{
	return strstr(err, "SSL routines") != NULL && strstr(err, " alert ") != NULL;
}

static bool bt_retryable_status(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

/* Copies up to 100 printable bytes of the response body for an error text. */
static void bt_body_snippet(const struct bt_otlp *e, char *out, size_t cap)
{
	size_t j = 0;
	for (size_t i = 0; i < e->resp.len && j + 1 < cap && i < 100; i++) {
		unsigned char c = e->resp.p[i];
		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	out[j] = '\0';
}

static void bt_fail(struct bt_otlp *e, const char *why)
{
	snprintf(e->why, sizeof(e->why), "%s", why);
	if (!e->failing)
		bt_warn("OTLP export to %s failed: %s", e->url_log, why);
	else
		bt_debug("OTLP export to %s failed: %s", e->url_log, why);
	e->failing = true;
}

/* The backoff before retry number streak + 1: uniform in [base/2, base]. */
static uint64_t bt_backoff_ms(const struct bt_otlp *e)
{
	uint64_t base = e->backoff_initial_ms;
	for (uint32_t i = 0; i < e->streak && base < e->backoff_max_ms; i++)
		base *= 2;
	if (base > e->backoff_max_ms)
		base = e->backoff_max_ms;
	return base / 2 + (uint64_t)((double)(baton_random_u64() >> 11) * 0x1p-53 *
	                             (double)(base - base / 2));
}

/*
 * Waits for the end of a backoff or Retry-After an earlier export was
 * given. Returns false, without waiting, when it ends past deadline.
 */
static bool bt_wait_turn(struct bt_otlp *e, uint64_t deadline)
{
	if (e->not_before == 0 || baton_time_mono_ns() >= e->not_before)
		return true;
	if (e->not_before >= deadline) {
		char why[160];
		snprintf(
		    why, sizeof(why),
		    "not sent: the collector asked to wait %llu ms more (Retry-After "
		    "or backoff), beyond this export's timeout",
		    (unsigned long long)((e->not_before - baton_time_mono_ns()) /
		                         1000000u));
		bt_fail(e, why);
		return false;
	}
	bt_sleep_until(e, e->not_before);
	return true;
}

/*
 * Sends one request body, retrying as the spec allows until deadline.
 * started: its first attempt is with curl already (bt_post_start).
 */
static baton_err bt_send(struct bt_otlp *e, const uint8_t *body, size_t len,
                         uint64_t deadline, bool started)
{
	char why[160];
	uint32_t attempt = 0;
	/*
	 * What a give-up returns: BATON_ETRANSPORT once any attempt was refused
	 * or failed on the network; BATON_ETIMEDOUT only when every one timed out.
	 */
	baton_err verdict = BATON_ETIMEDOUT;
	if (!started && !bt_wait_turn(e, deadline))
		return BATON_ETRANSPORT;
	for (;;) {
		long status = 0;
		bool retry;
		baton_err rv;
		CURLcode cc;
		if (started) {
			cc = bt_post_wait(e, &status);
			started = false;
		} else {
			if (bt_cut(e))
				return BATON_ECLOSED;
			cc = bt_post(e, body, len, deadline, &status);
		}
		if (cc == CURLE_ABORTED_BY_CALLBACK && bt_cut(e)) {
			bt_fail(e, "export cut by shutdown");
			return BATON_ECLOSED;
		}
		if (cc != CURLE_OK) {
			snprintf(why, sizeof(why), "%.40s%s%.117s",
			         curl_easy_strerror(cc), e->err[0] ? ": " : "", e->err);
			retry = bt_retryable_cc(cc) && !bt_tls_alert(e->err);
			rv = cc == CURLE_OPERATION_TIMEDOUT ? BATON_ETIMEDOUT
			                                    : BATON_ETRANSPORT;
		} else if (status >= 200 && status < 300) {
			int64_t rejected = 0;
			char msg[128];
			if ((e->json ? bt_otlp_parse_response_json
			             : bt_otlp_parse_response)(e->resp.p, e->resp.len,
			                                       &rejected, msg,
			                                       sizeof(msg)) != BATON_OK) {
				bt_debug("OTLP: a %ld response body that is not an "
				         "ExportTraceServiceResponse (%zu bytes)",
				         status, e->resp.len);
			} else if (rejected > 0 || msg[0] != '\0') {
				bt_warn("OTLP partial success: %lld spans rejected%s%s",
				        (long long)rejected, msg[0] ? ": " : "", msg);
				if (rejected > 0)
					e->rejected += (uint64_t)rejected;
			}
			e->failing = false;
			e->streak = 0;
			e->not_before = 0;
			return BATON_OK;
		} else {
			char snip[104];
			bt_body_snippet(e, snip, sizeof(snip));
			snprintf(why, sizeof(why), "HTTP %ld%s%s", status,
			         snip[0] ? ": " : "", snip);
			retry = bt_retryable_status(status);
			rv = retry ? BATON_ETRANSPORT : BATON_EREJECTED;
		}
		if (!retry) {
			/* The collector is up and said no: no reason to hold back. */
			e->streak = 0;
			e->not_before = 0;
			bt_fail(e, why);
			return rv;
		}
		/* The backoff is the floor; a longer Retry-After wins. */
		uint64_t delay_ms = bt_backoff_ms(e), hint_ms = 0;
		if (cc == CURLE_OK && e->retry_after_len > 0 &&
		    bt_otlp_retry_after(e->retry_after, e->retry_after_len, time(NULL),
		                        &hint_ms) &&
		    hint_ms > delay_ms)
			delay_ms = hint_ms;
		if (e->streak < 64)
			e->streak++;
		uint64_t until = baton_time_mono_ns() + delay_ms * 1000000u;
		e->not_before = until;
		if (rv == BATON_ETRANSPORT)
			verdict = BATON_ETRANSPORT;
		if (until >= deadline) {
			char full[160];
			snprintf(full, sizeof(full), "%.100s (gave up after %u retries)",
			         why, attempt);
			bt_fail(e, full);
			return verdict;
		}
		e->retries++;
		attempt++;
		bt_sleep_until(e, until);
	}
}

/*
 * Encodes spans[0..n) into body buffer k (compressed when configured).
 * Returns BATON_ETOOBIG, without a word, for a batch past the largest
 * request; other failures are said (bt_fail).
 */
static baton_err bt_encode(struct bt_otlp *e, int k, const baton_span_data *const *spans,
                           size_t n, const uint8_t **body, size_t *len)
{
	baton_err rv = (e->json ? bt_otlp_encode_json : bt_otlp_encode)(
	    e->enc[k], spans, n, e->max_body, body, len);
	if (rv == BATON_ETOOBIG)
		return rv;
	if (rv != BATON_OK) {
		bt_fail(e, "could not encode the batch");
		return rv;
	}
	if (e->gzip) {
		rv = bt_otlp_gzip_compress(e->gz, *body, *len, &e->zbuf[k]);
		if (rv != BATON_OK) {
			bt_fail(e, "could not compress the batch");
			return rv;
		}
		*body = e->zbuf[k].p;
		*len = e->zbuf[k].len;
	}
	return BATON_OK;
}

/* Encodes and sends spans[0..n), halving the batch while it is too big. */
static baton_err bt_export_range(struct bt_otlp *e, const baton_span_data *const *spans,
                                 size_t n, uint64_t deadline)
{
	const uint8_t *body;
	size_t len;
	baton_err rv = bt_encode(e, 0, spans, n, &body, &len);
	if (rv == BATON_ETOOBIG) {
		if (n == 1) {
			bt_fail(e, "a span larger than the largest request was dropped");
			return BATON_ETOOBIG;
		}
		size_t h = n / 2;
		baton_err a = bt_export_range(e, spans, h, deadline);
		baton_err b = bt_export_range(e, spans + h, n - h, deadline);
		return a != BATON_OK ? a : b;
	}
	if (rv != BATON_OK)
		return rv;
	return bt_send(e, body, len, deadline, false);
}

/* ---- ops ---- */

/* The end of the time an export that starts now has (the timeout). */
static uint64_t bt_deadline(const struct bt_otlp *e)
{
	return e->timeout_ms == BT_OTLP_NO_TIMEOUT
	           ? UINT64_MAX
	           : baton_time_mono_ns() + (uint64_t)e->timeout_ms * 1000000u;
}

/*
 * What every export does first: a fresh account, and in a forked child a
 * fresh connection. Returns false, with r->err set, when there is nothing
 * to send (cut, no spans, or no connection).
 */
static bool bt_export_prologue(struct bt_otlp *e, size_t n, baton_export_result *r,
                               uint64_t *deadline)
{
	*r = BATON_EXPORT_RESULT(BATON_OK);
	e->retries = 0;
	e->rejected = 0;
	e->why[0] = '\0';
	if (bt_cut(e)) {
		r->err = BATON_ECLOSED;
		return false;
	}
	if (n == 0)
		return false;
	if (e->pid != getpid()) {
		/* The parent's backoff and requests are the parent's. */
		e->streak = 0;
		e->not_before = 0;
		e->nreq = 0;
		r->err = bt_after_fork(e);
		if (r->err != BATON_OK)
			return false;
	}
	*deadline = bt_deadline(e);
	return true;
}

/* The account of the export that just ended with err. */
static baton_export_result bt_export_result(struct bt_otlp *e, baton_err err)
{
	baton_export_result r = BATON_EXPORT_RESULT(err);
	r.retries = e->retries;
	r.rejected = e->rejected;
	r.reason = err != BATON_OK && e->why[0] != '\0' ? e->why : NULL;
	return r;
}

static baton_export_result bt_otlp_export(void *arg, const baton_span_data *const *spans,
                                          size_t n)
{
	struct bt_otlp *e = arg;
	baton_export_result r;
	uint64_t deadline;
	if (!bt_export_prologue(e, n, &r, &deadline))
		return r;
	return bt_export_result(e, bt_export_range(e, spans, n, deadline));
}

/* ---- in halves ---- */

/* Stores the final result of q, with its own copy of the reason. */
static void bt_req_answer(struct bt_otlp_req *q, baton_export_result r)
{
	q->answered = true;
	q->res = r;
	snprintf(q->why, sizeof(q->why), "%s", r.reason != NULL ? r.reason : "");
	q->res.reason = r.reason != NULL ? q->why : NULL;
}

/*
 * Hands q's first attempt to curl, which writes what the socket takes now,
 * unless a backoff or Retry-After holds it back (bt_send waits for that
 * at the end).
 */
static void bt_req_start(struct bt_otlp *e, struct bt_otlp_req *q)
{
	if (q->answered || q->started || bt_cut(e))
		return;
	if (e->not_before != 0 && baton_time_mono_ns() < e->not_before)
		return;
	if (bt_post_start(e, q->body, q->len, q->deadline) != CURLE_OK)
		return; /* bt_send tries again, and says why */
	q->started = true;
	/*
	 * Until the whole body is with the kernel (curl writes at most its
	 * upload buffer per call, and a new connection must be set up first):
	 * the collector can only answer a whole request. No longer than the
	 * request itself would have waited; bt_post_wait finishes it.
	 */
	for (;;) {
		int running = 0;
		curl_off_t sent = 0;
		if (curl_multi_perform(e->multi, &running) != CURLM_OK || running == 0)
			return;
		curl_easy_getinfo(e->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
		if ((size_t)sent >= q->len || bt_cut(e) ||
		    baton_time_mono_ns() >= q->deadline)
			return;
		curl_multi_poll(e->multi, NULL, 0, 1000, NULL);
	}
}

/* Sends q to its answer, as export_spans would. */
static void bt_req_finish(struct bt_otlp *e, struct bt_otlp_req *q)
{
	if (q->answered)
		return;
	e->retries = 0;
	e->rejected = 0;
	e->why[0] = '\0';
	baton_err err = bt_send(e, q->body, q->len, q->deadline, q->started);
	q->started = false;
	bt_req_answer(q, bt_export_result(e, err));
}

static void bt_otlp_export_begin(void *arg, const baton_span_data *const *spans, size_t n)
{
	struct bt_otlp *e = arg;
	baton_export_result r;
	uint64_t deadline;
	if (e->nreq == 2) {
		/* Past the contract (two at most): nothing to keep it in. */
		bt_error("OTLP: a third export begun before the first ended: %zu "
		         "spans not sent",
		         n);
		return;
	}
	bool go = bt_export_prologue(e, n, &r, &deadline);
	struct bt_otlp_req *q = &e->req[e->nreq];
	q->buf = e->nreq == 0 ? 0 : 1 - e->req[0].buf;
	q->started = false;
	q->answered = false;
	e->nreq++;
	if (!go) {
		bt_req_answer(q, bt_export_result(e, r.err));
		return;
	}
	q->deadline = deadline;
	baton_err rv = bt_encode(e, q->buf, spans, n, &q->body, &q->len);
	if (rv == BATON_ETOOBIG) {
		/* Split into several requests, the old way, after the one before
		 * it (their order on the wire is kept). */
		if (e->nreq == 2)
			bt_req_finish(e, &e->req[0]);
		e->retries = 0;
		e->rejected = 0;
		e->why[0] = '\0';
		rv = bt_export_range(e, spans, n, deadline);
		bt_req_answer(q, bt_export_result(e, rv));
		return;
	}
	if (rv != BATON_OK) {
		bt_req_answer(q, bt_export_result(e, rv));
		return;
	}
	if (e->nreq == 1)
		bt_req_start(e, q);
}

static baton_export_result bt_otlp_export_end(void *arg)
{
	struct bt_otlp *e = arg;
	if (e->nreq == 0)
		return BATON_EXPORT_RESULT(BATON_ESTATE);
	bt_req_finish(e, &e->req[0]);
	baton_export_result r = e->req[0].res;
	snprintf(e->why_out, sizeof(e->why_out), "%s", e->req[0].why);
	r.reason = r.reason != NULL ? e->why_out : NULL;
	e->req[0] = e->req[1];
	if (--e->nreq > 0) {
		/* The next batch goes on the wire; its time starts now, not while
		 * it waited behind this one. */
		e->req[0].deadline = bt_deadline(e);
		bt_req_start(e, &e->req[0]);
	}
	return r;
}

static baton_err bt_otlp_shutdown(void *arg, uint32_t timeout_ms)
{
	struct bt_otlp *e = arg;
	(void)timeout_ms; /* nothing is buffered: cutting is immediate */
	atomic_store_explicit(&e->cut, true, memory_order_relaxed);
	if (e->multi != NULL)
		curl_multi_wakeup(e->multi);
	return BATON_OK;
}

static void bt_otlp_destroy(void *arg)
{
	struct bt_otlp *e = arg;
	if (e == NULL)
		return;
	if (e->pid != getpid()) {
		/* Leave the parent's connection alone, as in bt_after_fork. */
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int i = 0; i < e->nsocks && devnull >= 0; i++)
			dup2(devnull, e->socks[i]);
		if (devnull >= 0)
			close(devnull);
	}
	bt_handles_close(e);
	curl_slist_free_all(e->hdrs);
	for (int k = 0; k < 2; k++) {
		bt_otlp_enc_destroy(e->enc[k]);
		bt_otlp_buf_free(&e->zbuf[k]);
	}
	bt_otlp_gzip_destroy(e->gz);
	bt_otlp_buf_free(&e->resp);
	bt_free(e->tls_ca);
	bt_free(e->tls_key);
	bt_free(e->tls_cert);
	bt_free(e->url);
	bt_free(e);
}

static const baton_exporter_ops bt_otlp_ops = {
    .size = sizeof(baton_exporter_ops),
    .name = "otlp_http",
    .export_spans = bt_otlp_export,
    .shutdown = bt_otlp_shutdown,
    .destroy = bt_otlp_destroy,
    .export_begin = bt_otlp_export_begin,
    .export_end = bt_otlp_export_end,
};

/* ---- configuration ---- */

static pthread_once_t bt_curl_once = PTHREAD_ONCE_INIT;
static bool bt_curl_ok;

static void bt_curl_init(void)
{
	bt_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static char *bt_endpoint(const baton_otlp_http_options *o)
{
	if (o->endpoint != NULL)
		return bt_strdup(o->endpoint);
	const char *t = baton_getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	if (t != NULL)
		return bt_strdup(t);
	const char *b = baton_getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (b == NULL)
		return bt_strdup("http://localhost:4318/v1/traces");
	size_t n = strlen(b);
	while (n > 0 && b[n - 1] == '/')
		n--;
	char *u = bt_malloc(n + sizeof("/v1/traces"));
	if (u != NULL) {
		memcpy(u, b, n);
		memcpy(u + n, "/v1/traces", sizeof("/v1/traces"));
	}
	return u;
}

struct bt_hdr_ctx {
	struct curl_slist *list;
	bool oom;
};

const char *bt_otlp_header_line(const char *k, const char *v, char *line, size_t cap)
{
	if (k[0] == '\0' || k[strspn(k, "!#$%&'*+-.^_`|~0123456789"
	                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                "abcdefghijklmnopqrstuvwxyz")] != '\0')
		return "the name is not a token";
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return "control character in the value";
	}
	if ((size_t)snprintf(line, cap, "%s: %s", k, v) >= cap)
		return "too long";
	return NULL;
}

static void bt_add_header(void *arg, const char *k, const char *v)
{
	struct bt_hdr_ctx *c = arg;
	char line[1024];
	const char *why = bt_otlp_header_line(k, v, line, sizeof(line));
	if (why != NULL) {
		bt_warn("OTLP header '%s' skipped: %s", k, why);
		return;
	}
	struct curl_slist *l = curl_slist_append(c->list, line);
	if (l == NULL)
		c->oom = true;
	else
		c->list = l;
}

/*
 * Copies the well-formed "k=v" entries of a header list into a new string
 * for bt_parse_kv_list; every other entry is skipped here, with a warning
 * that names it by its position and key only: header values are secrets
 * (Authorization, API keys), so no message ever shows one. NULL when out of
 * memory.
 */
static char *bt_headers_checked(const char *hs, const char *what)
{
	size_t n = strlen(hs), o = 0;
	char *out = bt_malloc(n + 1);
	if (out == NULL)
		return NULL;
	unsigned idx = 0;
	const char *cur = hs, *p;
	size_t len;
	for (; bt_list_next_raw(&cur, &p, &len); idx++) {
		const char *eq = memchr(p, '=', len);
		size_t kn = 0, ks = 0;
		while (ks < len && (p[ks] == ' ' || p[ks] == '\t'))
			ks++;
		/* The key as far as it looks like a header name, for the warning. */
		while (ks + kn < len && kn < 40 &&
		       (isalnum((unsigned char)p[ks + kn]) || p[ks + kn] == '-' ||
		        p[ks + kn] == '_' || p[ks + kn] == '.'))
			kn++;
		const char *problem = NULL;
		if (len == 0)
			problem = NULL; /* an empty entry: nothing to skip or say */
		else if (eq == NULL)
			problem = "is not key=value";
		else if (len > 4096)
			problem = "is longer than 4096 bytes";
		else if (!bt_pct_valid(p, len))
			problem = "has a bad %-escape";
		else if (kn == 0)
			problem = "has no key";
		if (problem != NULL)
			bt_warn(
			    "%s: entry %u (\"%.*s%s\") %s; skipped (header values are "
			    "never logged)",
			    what, idx + 1, (int)kn, p + ks, kn > 0 ? "..." : "", problem);
		else if (len > 0) {
			if (o > 0)
				out[o++] = ',';
			memcpy(out + o, p, len);
			o += len;
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT, in ms;
 * 0 means no timeout, as in OpenTelemetry. Unset or invalid: 10000.
 */
static uint32_t bt_timeout_env(void)
{
	static const char *const names[] = {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	                                    "OTEL_EXPORTER_OTLP_TIMEOUT"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = baton_getenv(names[i]);
		uint32_t u;
		if (v == NULL)
			continue;
		if (!bt_parse_u32(v, strlen(v), &u)) {
			bt_warn("%s=\"%.40s\" is not a non-negative integer (ms); using "
			        "10000",
			        names[i], v);
			return 10000;
		}
		return u == 0 || u == BT_OTLP_NO_TIMEOUT ? BT_OTLP_NO_TIMEOUT : u;
	}
	return 10000;
}

static int bt_compression_env(void)
{
	const char *name = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
	const char *v = baton_getenv(name);
	if (v == NULL) {
		name = "OTEL_EXPORTER_OTLP_COMPRESSION";
		v = baton_getenv(name);
	}
	if (v == NULL || strcasecmp(v, "none") == 0)
		return BATON_OTLP_COMPRESSION_NONE;
	if (strcasecmp(v, "gzip") == 0)
		return BATON_OTLP_COMPRESSION_GZIP;
	bt_warn("%s=\"%.40s\" is not gzip or none; using none (uncompressed)", name, v);
	return BATON_OTLP_COMPRESSION_NONE;
}

/*
 * One TLS file: the option, else OTEL_EXPORTER_OTLP_TRACES_<suffix>, else
 * OTEL_EXPORTER_OTLP_<suffix>. *out stays NULL when none is set. A file
 * that cannot be read gets one warning naming where its path came from;
 * it is kept, so that every export fails and is counted as failed rather
 * than going out unverified or without the client certificate.
 */
static baton_err bt_tls_file(const char *opt, const char *optname, const char *suffix,
                             char **out)
{
	char name[64];
	const char *v = opt, *from = optname;
	if (v == NULL) {
		snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_TRACES_%s", suffix);
		v = baton_getenv(name);
	}
	if (v == NULL) {
		snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_%s", suffix);
		v = baton_getenv(name);
	}
	if (opt == NULL)
		from = name;
	*out = NULL;
	if (v == NULL || v[0] == '\0')
		return BATON_OK;
	FILE *f = fopen(v, "r");
	if (f == NULL) {
		int en = errno;
		bt_warn("OTLP: %s=\"%.200s\" cannot be read (%s); exports will fail",
		        from, v,
		        en == ENOENT   ? "no such file"
		        : en == EACCES ? "permission denied"
		                       : "open failed");
	} else {
		fclose(f);
	}
	*out = bt_strdup(v);
	return *out != NULL ? BATON_OK : BATON_ENOMEM;
}

/* http/json when OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL says so (the first
 * set one decides); anything but http/protobuf or http/json is warned of. */
static bool bt_protocol_env_json(void)
{
	const char *name = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
	const char *v = baton_getenv(name);
	if (v == NULL) {
		name = "OTEL_EXPORTER_OTLP_PROTOCOL";
		v = baton_getenv(name);
	}
	if (v == NULL || strcmp(v, "http/protobuf") == 0)
		return false;
	if (strcmp(v, "http/json") == 0)
		return true;
	bt_warn("%s=\"%.40s\" is not http/protobuf or http/json; using http/protobuf",
	        name, v);
	return false;
}

baton_err baton_otlp_http_exporter_create(const baton_otlp_http_options *opts,
                                          baton_exporter *out)
{
	static const baton_otlp_http_options none = {sizeof(baton_otlp_http_options)};
	baton_err rv = BATON_OK;
	struct bt_otlp *e = NULL;

	if (opts == NULL)
		opts = &none;
	if (out == NULL || opts->size < sizeof(baton_otlp_http_options))
		return BATON_EINVAL;
	pthread_once(&bt_curl_once, bt_curl_init);
	if (!bt_curl_ok)
		return BATON_ESYSTEM;
	e = bt_calloc(1, sizeof(*e));
	if (e == NULL)
		return BATON_ENOMEM;
	e->url = bt_endpoint(opts);
	if (e->url == NULL) {
		rv = BATON_ENOMEM;
		goto fail;
	}
	bt_url_for_log(e->url, e->url_log, sizeof(e->url_log));
	if (strncasecmp(e->url, "http://", 7) != 0 &&
	    strncasecmp(e->url, "https://", 8) != 0) {
		bt_warn("OTLP endpoint '%s' is not an http:// or https:// URL",
		        e->url_log);
		rv = BATON_EINVAL;
		goto fail;
	}
	e->timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : bt_timeout_env();
	int comp = opts->compression != BATON_OTLP_COMPRESSION_ENV ? opts->compression
	                                                           : bt_compression_env();
	e->gzip = comp == BATON_OTLP_COMPRESSION_GZIP;
	e->json = opts->protocol == BATON_OTLP_PROTOCOL_ENV
	              ? bt_protocol_env_json()
	              : opts->protocol == BATON_OTLP_PROTOCOL_JSON;
	e->max_body =
	    opts->max_request_bytes ? opts->max_request_bytes : BT_OTLP_MAX_BODY;
	e->backoff_initial_ms = opts->retry_initial_ms ? opts->retry_initial_ms : 200;
	e->backoff_max_ms = opts->retry_max_ms ? opts->retry_max_ms : 5000;
	if (e->backoff_max_ms < e->backoff_initial_ms)
		e->backoff_max_ms = e->backoff_initial_ms;

	struct bt_hdr_ctx hc = {NULL, false};
	const char *hs = opts->headers;
	const char *what = "OTLP headers";
	if (hs == NULL) {
		hs = baton_getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS");
		what = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
	}
	if (hs == NULL) {
		hs = baton_getenv("OTEL_EXPORTER_OTLP_HEADERS");
		what = "OTEL_EXPORTER_OTLP_HEADERS";
	}
	if (hs != NULL) {
		char *ok = bt_headers_checked(hs, what);
		if (ok == NULL) {
			rv = BATON_ENOMEM;
			goto fail;
		}
		bt_parse_kv_list(ok, what, bt_add_header, &hc);
		bt_free(ok);
	}
	bt_add_header(&hc, "Content-Type",
	              e->json ? "application/json" : "application/x-protobuf");
	if (e->gzip)
		bt_add_header(&hc, "Content-Encoding", "gzip");
	/* No "Expect: 100-continue" round trip for big bodies. */
	struct curl_slist *l = curl_slist_append(hc.list, "Expect:");
	if (l != NULL)
		hc.list = l;
	e->hdrs = hc.list;
	if (hc.oom || l == NULL) {
		rv = BATON_ENOMEM;
		goto fail;
	}
	rv = bt_tls_file(opts->certificate, "certificate", "CERTIFICATE", &e->tls_ca);
	if (rv == BATON_OK)
		rv = bt_tls_file(opts->client_key, "client_key", "CLIENT_KEY",
		                 &e->tls_key);
	if (rv == BATON_OK)
		rv = bt_tls_file(opts->client_certificate, "client_certificate",
		                 "CLIENT_CERTIFICATE", &e->tls_cert);
	if (rv != BATON_OK)
		goto fail;
	if ((e->tls_ca != NULL || e->tls_key != NULL || e->tls_cert != NULL) &&
	    strncasecmp(e->url, "http://", 7) == 0)
		bt_warn("OTLP: TLS files are set but the endpoint %s is http://: they "
		        "are not used and spans go out unencrypted",
		        e->url_log);
	if ((e->tls_key != NULL) != (e->tls_cert != NULL))
		bt_warn("OTLP: a client %s without a client %s; mTLS will not work",
		        e->tls_key != NULL ? "key" : "certificate",
		        e->tls_key != NULL ? "certificate" : "key");
	rv = bt_otlp_enc_create(&e->enc[0]);
	if (rv == BATON_OK)
		rv = bt_otlp_enc_create(&e->enc[1]);
	if (rv == BATON_OK && e->gzip)
		rv = bt_otlp_gzip_create(&e->gz);
	if (rv == BATON_OK)
		rv = bt_handles_open(e);
	if (rv != BATON_OK)
		goto fail;
	*out = (baton_exporter){&bt_otlp_ops, e};
	return BATON_OK;
fail:
	bt_otlp_destroy(e);
	return rv;
}
