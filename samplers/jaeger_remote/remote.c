/*
 * The Jaeger remote sampler: a switchable sampler (decisions lock-free)
 * whose delegate a polling thread replaces with what the endpoint answers.
 *
 * The thread sleeps on a condition variable with a deadline, so a poll
 * request or shutdown wakes it at once; a transfer in flight is bounded by
 * timeout_ms and abandoned at shutdown through curl's progress callback.
 */
#include "util.h"
#include "remote_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct bt_rs {
	baton_sampler sw;  /* switchable: the strategy in force */
	char *url;         /* <endpoint>?service=<name> */
	char url_log[256]; /* url as log lines show it: userinfo and query redacted */
	uint32_t interval_ms, timeout_ms, max_ops, max_unlisted;
	size_t max_body;
	bool manual;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mtx;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	/* Under mtx: */
	bool stop;
	uint64_t requested, completed;
	baton_err last_result;
	baton_remote_sampler_stats stats;
	bool polling; /* a poll is running (manual mode: on a caller's thread) */

	bool forked;          /* in a child after fork(): no thread, no more polls */
	baton_fork_step fork; /* holds mtx across fork(); the child stops polling */

	_Atomic bool abort_transfer;
	CURL *curl; /* used by one poll at a time */
	char *body;
	size_t body_len, body_cap;
	bool body_too_big;
	char curl_err[CURL_ERROR_SIZE]; /* curl's own words on a failed poll */
};

/* ---- one poll ---- */

static size_t bt_rs_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct bt_rs *rs = arg;
	size_t n = size * nmemb;
	if (n > rs->max_body - rs->body_len) {
		rs->body_too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (rs->body_len + n > rs->body_cap) {
		size_t cap = rs->body_cap ? rs->body_cap : 4096;
		while (cap < rs->body_len + n)
			cap *= 2;
		if (cap > rs->max_body)
			cap = rs->max_body;
		char *nb = bt_realloc(rs->body, cap);
		if (nb == NULL)
			return 0;
		rs->body = nb;
		rs->body_cap = cap;
	}
	memcpy(rs->body + rs->body_len, data, n);
	rs->body_len += n;
	return n;
}

static int bt_rs_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                          curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct bt_rs *rs = arg;
	/* Non-zero aborts the transfer: shutdown does not wait for it. */
	return atomic_load_explicit(&rs->abort_transfer, memory_order_relaxed) ? 1 : 0;
}

/* Fetches and applies the strategy; returns the poll's result. */
static baton_err bt_rs_poll_once(struct bt_rs *rs, baton_remote_sampler_stats *applied)
{
	char err[160] = "";
	long status = 0;
	rs->body_len = 0;
	rs->body_too_big = false;
	rs->curl_err[0] = '\0';
	curl_easy_setopt(rs->curl, CURLOPT_URL, rs->url);
	CURLcode cc = curl_easy_perform(rs->curl);
	if (cc != CURLE_OK) {
		if (atomic_load_explicit(&rs->abort_transfer, memory_order_relaxed))
			return BATON_ECLOSED; /* shutting down: nothing to say */
		if (rs->body_too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			bt_warn("remote sampling: the answer of %s is over %zu bytes; "
			        "keeping the "
			        "current strategy",
			        rs->url_log, rs->max_body);
			return BATON_ETOOBIG;
		}
		bt_warn("remote sampling: GET %s failed: %s%s%.200s; keeping the current "
		        "strategy",
		        rs->url_log, curl_easy_strerror(cc), rs->curl_err[0] ? ": " : "",
		        rs->curl_err);
		return BATON_ETRANSPORT;
	}
	curl_easy_getinfo(rs->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		bt_warn("remote sampling: GET %s answered HTTP %ld; keeping the current "
		        "strategy",
		        rs->url_log, status);
		return BATON_EREJECTED;
	}
	bt_rs_spec spec;
	baton_err rv = bt_rs_parse(rs->body ? rs->body : "", rs->body_len, rs->max_ops,
	                           &spec, err, sizeof(err));
	if (rv != BATON_OK) {
		bt_warn("remote sampling: the answer of %s is not a strategy (%s); "
		        "keeping the "
		        "current strategy",
		        rs->url_log, err);
		return rv;
	}
	baton_sampler next;
	rv = bt_rs_build(&spec, rs->max_unlisted, &next);
	if (rv == BATON_OK)
		rv = baton_sampler_switch(rs->sw, next);
	if (rv == BATON_OK) {
		applied->strategy = spec.kind;
		applied->probability = spec.probability;
		applied->max_per_sec = spec.max_per_sec;
		applied->operations = (uint32_t)spec.nops;
	}
	bt_rs_spec_free(&spec);
	return rv;
}

/* Runs one poll and records it. Called with mtx held; drops it meanwhile. */
static void bt_rs_poll_locked(struct bt_rs *rs)
{
	uint64_t seq = rs->requested;
	baton_remote_sampler_stats applied = {0};
	rs->polling = true;
	pthread_mutex_unlock(&rs->mtx);
	baton_err rv = bt_rs_poll_once(rs, &applied);
	pthread_mutex_lock(&rs->mtx);
	rs->polling = false;
	rs->stats.polls++;
	rs->stats.last_result = rv;
	if (rv == BATON_OK) {
		rs->stats.strategy = applied.strategy;
		rs->stats.probability = applied.probability;
		rs->stats.max_per_sec = applied.max_per_sec;
		rs->stats.operations = applied.operations;
	} else {
		rs->stats.failures++;
	}
	rs->last_result = rv;
	if (rs->completed < seq)
		rs->completed = seq;
	pthread_cond_broadcast(&rs->cond);
}

static void bt_rs_deadline(struct timespec *ts, uint32_t ms)
{
	*ts = bt_timespec_in(CLOCK_MONOTONIC, (uint64_t)ms * 1000000u);
}

static bool bt_rs_passed(const struct timespec *ts)
{
	return bt_timespec_passed(CLOCK_MONOTONIC, ts);
}

static void *bt_rs_thread(void *arg)
{
	struct bt_rs *rs = arg;
	pthread_setname_np(pthread_self(), "baton-sampling");
	pthread_mutex_lock(&rs->mtx);
	while (!rs->stop) {
		bt_rs_poll_locked(rs);
		struct timespec next;
		bt_rs_deadline(&next, rs->interval_ms);
		/* Until the interval is over, a poll is requested, or shutdown. */
		while (!rs->stop && rs->requested == rs->completed &&
		       !bt_rs_passed(&next))
			pthread_cond_timedwait(&rs->cond, &rs->mtx, &next);
	}
	pthread_mutex_unlock(&rs->mtx);
	return NULL;
}

/* ---- fork ----
 *
 * A child after fork() has no polling thread, and the curl handle may be
 * halfway through a transfer: the sampler keeps the strategy it had and
 * polls no more. The handlers hold every sampler's mutex across fork() so
 * the child never inherits one locked.
 */

static void bt_rs_prepare(void *arg)
{
	struct bt_rs *rs = arg;
	pthread_mutex_lock(&rs->mtx);
}

static void bt_rs_parent(void *arg)
{
	struct bt_rs *rs = arg;
	pthread_mutex_unlock(&rs->mtx);
}

static void bt_rs_child(void *arg)
{
	struct bt_rs *rs = arg;
	rs->forked = true;
	rs->thread_started = false;
	rs->polling = false;
	pthread_mutex_unlock(&rs->mtx);
}

static void bt_rs_register(struct bt_rs *rs)
{
	rs->fork = (baton_fork_step){.order = BATON_FORK_SAMPLER,
	                             .prepare = bt_rs_prepare,
	                             .parent = bt_rs_parent,
	                             .child = bt_rs_child,
	                             .arg = rs};
	baton_fork_register(&rs->fork);
}

static void bt_rs_unregister(struct bt_rs *rs)
{
	baton_fork_unregister(&rs->fork);
}

/* ---- the sampler ---- */

static void bt_rs_sample(void *arg, const baton_sampling_params *p,
                         baton_sampling_result *r)
{
	struct bt_rs *rs = arg;
	rs->sw.ops->should_sample(rs->sw.arg, p, r);
}

static void bt_rs_destroy(void *arg)
{
	struct bt_rs *rs = arg;
	bt_rs_unregister(rs); /* before taking rs->mtx: the registry lock comes first */
	pthread_mutex_lock(&rs->mtx);
	rs->stop = true;
	atomic_store_explicit(&rs->abort_transfer, true, memory_order_relaxed);
	pthread_cond_broadcast(&rs->cond);
	/* Manual mode: wait for a poll running on a caller's thread. */
	while (!rs->thread_started && rs->polling)
		pthread_cond_wait(&rs->cond, &rs->mtx);
	pthread_mutex_unlock(&rs->mtx);
	if (rs->thread_started)
		pthread_join(rs->thread, NULL);
	baton_sampler_destroy(rs->sw);
	/* In a forked child the handle may be mid-transfer: leave it. */
	if (rs->curl != NULL && !rs->forked)
		curl_easy_cleanup(rs->curl);
	/* A forked child inherits the waits of threads it does not have, and
	 * destroying a condition variable waits for its waiters: leave it. */
	if (!rs->forked)
		pthread_cond_destroy(&rs->cond);
	pthread_mutex_destroy(&rs->mtx);
	bt_free(rs->body);
	bt_free(rs->url);
	bt_free(rs);
}

static const baton_sampler_ops bt_rs_ops = {sizeof(baton_sampler_ops), "jaeger_remote",
                                            bt_rs_sample, bt_rs_destroy};

baton_err baton_remote_sampler_poll_now(baton_sampler s, uint32_t timeout_ms)
{
	if (s.ops != &bt_rs_ops)
		return BATON_EINVAL;
	struct bt_rs *rs = s.arg;
	struct timespec deadline;
	baton_err rv;
	bt_rs_deadline(&deadline, timeout_ms);
	pthread_mutex_lock(&rs->mtx);
	if (rs->stop) {
		rv = BATON_ECLOSED;
		goto out;
	}
	if (rs->forked) {
		rv = BATON_ESTATE;
		goto out;
	}
	uint64_t mine = ++rs->requested;
	if (rs->manual) {
		/* No thread: poll here, one caller at a time. */
		while (rs->polling && !rs->stop)
			pthread_cond_wait(&rs->cond, &rs->mtx);
		if (rs->stop) {
			rv = BATON_ECLOSED;
			goto out;
		}
		if (rs->completed < mine)
			bt_rs_poll_locked(rs);
	} else {
		pthread_cond_broadcast(&rs->cond);
		while (rs->completed < mine && !rs->stop) {
			if (pthread_cond_timedwait(&rs->cond, &rs->mtx, &deadline) != 0 &&
			    bt_rs_passed(&deadline))
				break;
		}
	}
	if (rs->completed >= mine)
		rv = rs->last_result;
	else
		rv = rs->stop ? BATON_ECLOSED : BATON_ETIMEDOUT;
out:
	pthread_mutex_unlock(&rs->mtx);
	return rv;
}

baton_err baton_remote_sampler_stats_get(baton_sampler s, baton_remote_sampler_stats *out)
{
	if (s.ops != &bt_rs_ops || out == NULL)
		return BATON_EINVAL;
	struct bt_rs *rs = s.arg;
	pthread_mutex_lock(&rs->mtx);
	*out = rs->stats;
	pthread_mutex_unlock(&rs->mtx);
	return BATON_OK;
}

/* ---- creation ---- */

static pthread_once_t bt_rs_curl_once = PTHREAD_ONCE_INIT;
static CURLcode bt_rs_curl_status;
static void bt_rs_curl_init(void)
{
	bt_rs_curl_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *bt_rs_url(CURL *curl, const char *endpoint, const char *service)
{
	char *esc = curl_easy_escape(curl, service, 0);
	if (esc == NULL)
		return NULL;
	size_t n = strlen(endpoint) + strlen(esc) + sizeof("&service=");
	char *url = bt_malloc(n);
	if (url != NULL)
		snprintf(url, n, "%s%cservice=%s", endpoint,
		         strchr(endpoint, '?') ? '&' : '?', esc);
	curl_free(esc);
	return url;
}

/*
 * Gives curl one TLS file (curl copies the path). A file that cannot be
 * read is named in a warning; curl gets it all the same, so polls fail
 * rather than go out unverified or without the client certificate.
 */
static void bt_rs_tls_file(CURL *c, CURLoption opt, CURLoption type, const char *what,
                           const char *path)
{
	if (path == NULL || path[0] == '\0')
		return;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		bt_warn("remote sampling: %s \"%.200s\" cannot be read; polls will fail",
		        what, path);
	else
		fclose(f);
	curl_easy_setopt(c, opt, path);
	if (type != 0)
		curl_easy_setopt(c, type, "PEM");
}

static baton_err bt_rs_create(const baton_remote_sampler_options *o, double initial_rate,
                              baton_sampler *out)
{
	baton_err rv = BATON_ENOMEM;
	char svcbuf[4097];
	const char *endpoint = o->endpoint ? o->endpoint : BATON_REMOTE_DEFAULT_ENDPOINT;
	if (!bt_rs_endpoint_ok(endpoint, strlen(endpoint)))
		return BATON_EINVAL;
	pthread_once(&bt_rs_curl_once, bt_rs_curl_init);
	if (bt_rs_curl_status != CURLE_OK)
		return BATON_ESYSTEM;
	struct bt_rs *rs = bt_calloc(1, sizeof(*rs));
	if (rs == NULL)
		return BATON_ENOMEM;
	rs->interval_ms = o->polling_interval_ms ? o->polling_interval_ms : 60000;
	rs->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	rs->max_body = o->max_body_bytes ? o->max_body_bytes : (size_t)1 << 20;
	rs->max_ops = o->max_operations ? o->max_operations : 2000;
	rs->max_unlisted = o->max_unlisted_operations ? o->max_unlisted_operations : 256;
	rs->manual = o->manual_polling;
	rs->stats.last_result = BATON_OK;
	rs->stats.strategy = BATON_REMOTE_INITIAL;
	rs->stats.probability = initial_rate;

	const char *svc = o->service_name;
	if (svc == NULL)
		svc = baton_getenv("OTEL_SERVICE_NAME");
	if (svc == NULL)
		svc = bt_rs_service_from_attrs(baton_getenv("OTEL_RESOURCE_ATTRIBUTES"),
		                               svcbuf, sizeof(svcbuf));
	if (svc == NULL)
		svc = "unknown_service";

	rs->curl = curl_easy_init();
	if (rs->curl == NULL)
		goto fail_curl;
	rs->url = bt_rs_url(rs->curl, endpoint, svc);
	if (rs->url != NULL)
		bt_url_for_log(rs->url, rs->url_log, sizeof(rs->url_log));
	if (rs->url == NULL)
		goto fail_url;
	curl_easy_setopt(rs->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(rs->curl, CURLOPT_TIMEOUT_MS, (long)rs->timeout_ms);
	curl_easy_setopt(rs->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)rs->timeout_ms);
	curl_easy_setopt(rs->curl, CURLOPT_WRITEFUNCTION, bt_rs_write);
	curl_easy_setopt(rs->curl, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(rs->curl, CURLOPT_XFERINFOFUNCTION, bt_rs_progress);
	curl_easy_setopt(rs->curl, CURLOPT_XFERINFODATA, rs);
	curl_easy_setopt(rs->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(rs->curl, CURLOPT_USERAGENT, "baton/" BATON_VERSION_STRING);
	curl_easy_setopt(rs->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rs->max_body);
	curl_easy_setopt(rs->curl, CURLOPT_ERRORBUFFER, rs->curl_err);
	bt_rs_tls_file(rs->curl, CURLOPT_CAINFO, (CURLoption)0, "certificate",
	               o->certificate);
	bt_rs_tls_file(rs->curl, CURLOPT_SSLKEY, CURLOPT_SSLKEYTYPE, "client_key",
	               o->client_key);
	bt_rs_tls_file(rs->curl, CURLOPT_SSLCERT, CURLOPT_SSLCERTTYPE,
	               "client_certificate", o->client_certificate);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(rs->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif

	baton_sampler initial;
	rv = baton_sampler_traceidratio(initial_rate, &initial);
	if (rv != BATON_OK)
		goto fail_sampler;
	rv = baton_sampler_switchable(initial, &rs->sw);
	if (rv != BATON_OK)
		goto fail_sampler;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int e1 = pthread_mutex_init(&rs->mtx, NULL);
	int e2 = pthread_cond_init(&rs->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (e1 != 0 || e2 != 0) {
		rv = BATON_ESYSTEM;
		if (e1 == 0)
			pthread_mutex_destroy(&rs->mtx);
		if (e2 == 0)
			pthread_cond_destroy(&rs->cond);
		goto fail_sync;
	}
	if (!rs->manual) {
		if (bt_thread_create(&rs->thread, bt_rs_thread, rs) != 0) {
			rv = BATON_ESYSTEM;
			goto fail_thread;
		}
		rs->thread_started = true;
	}
	bt_rs_register(rs);
	*out = (baton_sampler){&bt_rs_ops, rs};
	return BATON_OK;

fail_thread:
	pthread_cond_destroy(&rs->cond);
	pthread_mutex_destroy(&rs->mtx);
fail_sync:
	baton_sampler_destroy(rs->sw);
fail_sampler:
	bt_free(rs->url);
fail_url:
	curl_easy_cleanup(rs->curl);
fail_curl:
	bt_free(rs);
	return rv;
}

baton_err baton_remote_sampler_create(const baton_remote_sampler_options *opts,
                                      baton_sampler *out)
{
	static const baton_remote_sampler_options none = {
	    sizeof(baton_remote_sampler_options)};
	if (out == NULL)
		return BATON_EINVAL;
	if (opts == NULL)
		opts = &none;
	if (opts->size < sizeof(*opts) ||
	    !(opts->initial_sampling_rate >= 0 && opts->initial_sampling_rate <= 1))
		return BATON_EINVAL;
	double rate =
	    opts->initial_sampling_rate > 0 ? opts->initial_sampling_rate : 0.001;
	return bt_rs_create(opts, rate, out);
}

/* ---- OTEL_TRACES_SAMPLER=jaeger_remote ---- */

static baton_err bt_rs_factory(const char *name, const char *arg, baton_sampler *out)
{
	if (strcasecmp(name, "jaeger_remote") != 0 &&
	    strcasecmp(name, "parentbased_jaeger_remote") != 0)
		return BATON_EINVAL;
	bt_rs_arg a;
	bt_rs_parse_arg(arg, &a);
	baton_remote_sampler_options o = {
	    .size = sizeof(o),
	    .endpoint = a.endpoint[0] ? a.endpoint : NULL,
	    .polling_interval_ms = a.polling_interval_ms,
	    .certificate = a.certificate[0] ? a.certificate : NULL,
	    .client_key = a.client_key[0] ? a.client_key : NULL,
	    .client_certificate = a.client_certificate[0] ? a.client_certificate : NULL};
	baton_sampler remote;
	baton_err rv = bt_rs_create(&o, a.initial_sampling_rate, &remote);
	if (rv != BATON_OK) {
		bt_warn("OTEL_TRACES_SAMPLER=%s: cannot start the remote sampler: %s",
		        name, baton_strerror(rv));
		return rv;
	}
	/* Jaeger clients decide at the root; children follow their parent. */
	return baton_sampler_parentbased(remote, out);
}

void baton_remote_sampling_register(void)
{
	baton_sampler_register_factory(bt_rs_factory);
}
