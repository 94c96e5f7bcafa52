/*
 * Jaeger sampling strategies: the JSON answer of the sampling endpoint
 * (parsed with jansson), the samplers it describes, and the
 * OTEL_TRACES_SAMPLER_ARG form of the remote sampler's settings.
 */
#include "util.h"
#include "remote_int.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void bt_rs_err(char *err, size_t errlen, const char *fmt, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, what);
}

/* A probability member of obj: a JSON number in [0, 1]. */
static bool bt_rs_prob(json_t *obj, const char *key, double *out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_number(v))
		return false;
	double d = json_number_value(v);
	if (!(d >= 0.0 && d <= 1.0))
		return false;
	*out = d;
	return true;
}

/* A rate member: a finite JSON number >= 0. Absent: dflt when allowed. */
static bool bt_rs_rate(json_t *obj, const char *key, bool optional, double *out)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL && optional) {
		*out = 0;
		return true;
	}
	if (!json_is_number(v))
		return false;
	double d = json_number_value(v);
	if (!(d >= 0.0) || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static baton_err bt_rs_parse_ops(json_t *os, size_t max_ops, bt_rs_spec *s, char *err,
                                 size_t errlen)
{
	if (!bt_rs_prob(os, "defaultSamplingProbability", &s->probability)) {
		bt_rs_err(err, errlen,
		          "%s: defaultSamplingProbability is not a number in [0, 1]",
		          "operationSampling");
		return BATON_EFORMAT;
	}
	if (!bt_rs_rate(os, "defaultLowerBoundTracesPerSecond", true, &s->max_per_sec)) {
		bt_rs_err(err, errlen,
		          "%s: defaultLowerBoundTracesPerSecond is not a number >= 0",
		          "operationSampling");
		return BATON_EFORMAT;
	}
	json_t *list = json_object_get(os, "perOperationStrategies");
	if (list == NULL || json_is_null(list))
		return BATON_OK;
	if (!json_is_array(list)) {
		bt_rs_err(err, errlen, "%s: perOperationStrategies is not an array",
		          "operationSampling");
		return BATON_EFORMAT;
	}
	size_t n = json_array_size(list);
	if (n > max_ops) {
		bt_rs_err(err, errlen, "%s: more operations than the limit",
		          "operationSampling");
		return BATON_ETOOBIG;
	}
	if (n == 0)
		return BATON_OK;
	s->ops = bt_calloc(n, sizeof(*s->ops));
	if (s->ops == NULL)
		return BATON_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(list, i);
		json_t *name = json_object_get(e, "operation");
		json_t *ps = json_object_get(e, "probabilisticSampling");
		double p;
		if (!json_is_string(name) || !json_is_object(ps) ||
		    !bt_rs_prob(ps, "samplingRate", &p)) {
			bt_rs_err(err, errlen,
			          "%s: an entry lacks operation or "
			          "probabilisticSampling.samplingRate "
			          "in [0, 1]",
			          "perOperationStrategies");
			return BATON_EFORMAT;
		}
		/* A name with a NUL inside cannot match a span name: refuse it. */
		if (strlen(json_string_value(name)) != json_string_length(name)) {
			bt_rs_err(err, errlen, "%s: an operation name holds a NUL byte",
			          "perOperationStrategies");
			return BATON_EFORMAT;
		}
		s->ops[i].operation = json_string_value(name);
		s->ops[i].probability = p;
	}
	s->nops = n;
	return BATON_OK;
}

baton_err bt_rs_parse(const char *buf, size_t len, size_t max_ops, bt_rs_spec *out,
                      char *err, size_t errlen)
{
	bt_rs_spec s = {0};
	json_error_t jerr;
	baton_err rv = BATON_EFORMAT;
	if (buf == NULL || out == NULL)
		return BATON_EINVAL;
	json_t *doc = json_loadb(buf, len, 0, &jerr);
	if (doc == NULL) {
		bt_rs_err(err, errlen, "not JSON: %s", jerr.text);
		return BATON_EFORMAT;
	}
	s.doc = doc;
	if (!json_is_object(doc)) {
		bt_rs_err(err, errlen, "%s", "not a JSON object");
		goto fail;
	}
	/* Which strategy is meant is told by which member is present. */
	json_t *os = json_object_get(doc, "operationSampling");
	json_t *ps = json_object_get(doc, "probabilisticSampling");
	json_t *rs = json_object_get(doc, "rateLimitingSampling");
	if (json_is_object(os)) {
		s.kind = BATON_REMOTE_PER_OPERATION;
		rv = bt_rs_parse_ops(os, max_ops, &s, err, errlen);
		if (rv != BATON_OK)
			goto fail;
	} else if (json_is_object(ps)) {
		s.kind = BATON_REMOTE_PROBABILISTIC;
		if (!bt_rs_prob(ps, "samplingRate", &s.probability)) {
			bt_rs_err(err, errlen,
			          "%s: samplingRate is not a number in [0, 1]",
			          "probabilisticSampling");
			goto fail;
		}
	} else if (json_is_object(rs)) {
		s.kind = BATON_REMOTE_RATE_LIMITING;
		if (!bt_rs_rate(rs, "maxTracesPerSecond", false, &s.max_per_sec)) {
			bt_rs_err(err, errlen,
			          "%s: maxTracesPerSecond is not a number >= 0",
			          "rateLimitingSampling");
			goto fail;
		}
	} else {
		bt_rs_err(err, errlen, "%s",
		          "no operationSampling, probabilisticSampling or "
		          "rateLimitingSampling object");
		goto fail;
	}
	*out = s;
	return BATON_OK;
fail:
	bt_rs_spec_free(&s);
	return rv;
}

void bt_rs_spec_free(bt_rs_spec *s)
{
	if (s == NULL)
		return;
	bt_free(s->ops);
	json_decref((json_t *)s->doc);
	memset(s, 0, sizeof(*s));
}

baton_err bt_rs_build(const bt_rs_spec *s, uint32_t max_unlisted, baton_sampler *out)
{
	switch (s->kind) {
	case BATON_REMOTE_PROBABILISTIC:
		return baton_sampler_traceidratio(s->probability, out);
	case BATON_REMOTE_RATE_LIMITING:
		return baton_sampler_rate_limiting(s->max_per_sec, out);
	case BATON_REMOTE_PER_OPERATION: {
		baton_per_operation_options o = {.size = sizeof(o),
		                                 .default_probability = s->probability,
		                                 .lower_bound_per_sec = s->max_per_sec,
		                                 .operations = s->ops,
		                                 .noperations = s->nops,
		                                 .max_unlisted = max_unlisted};
		return baton_sampler_per_operation(&o, out);
	}
	default:
		return BATON_EINVAL;
	}
}

/* ---- OTEL_TRACES_SAMPLER_ARG ---- */

/* A byte no URL or service name carries as such: controls, space, DEL. */
static bool bt_rs_ctl(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

bool bt_rs_endpoint_ok(const char *url, size_t n)
{
	char buf[BT_RS_ENDPOINT_MAX + 1];
	if (url == NULL || n == 0 || n > BT_RS_ENDPOINT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (bt_rs_ctl((unsigned char)url[i]))
			return false;
	}
	memcpy(buf, url, n);
	buf[n] = '\0';
	/* libcurl's own parser: the URL is what curl will request. */
	bool ok = false;
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	if (u != NULL && curl_url_set(u, CURLUPART_URL, buf, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
		     host[0] != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

const char *bt_rs_service_from_attrs(const char *attrs, char *buf, size_t cap)
{
	const char *fv = NULL; /* the winning value, still encoded */
	size_t fvn = 0;
	if (buf == NULL || cap == 0)
		return NULL;
	const char *cur = attrs, *s;
	size_t len;
	while (bt_list_next_raw(&cur, &s, &len)) {
		const char *eq = memchr(s, '=', len);
		if (eq != NULL) {
			const char *k = s, *v = eq + 1;
			size_t kn = (size_t)(eq - s), vn = len - kn - 1;
			bt_trim(&k, &kn);
			bt_trim(&v, &vn);
			/* The last well-formed entry wins, as in the resource. */
			if (kn == 12 && memcmp(k, "service.name", 12) == 0) {
				if (vn > 0 &&
				    bt_pct_decode(v, vn, buf, cap, BT_PCT_NO_CONTROL)) {
					fv = v;
					fvn = vn;
				} else {
					bt_warn("remote sampling: service.name in "
					        "OTEL_RESOURCE_ATTRIBUTES is empty, too "
					        "long, or has a bad or control-byte "
					        "%%-escape; not used");
				}
			}
		}
	}
	/* A later bad entry may have left part of itself in buf. */
	if (fv == NULL || !bt_pct_decode(fv, fvn, buf, cap, BT_PCT_NO_CONTROL))
		return NULL;
	return buf;
}

static bool bt_rs_item(const char *k, size_t kn, const char *key)
{
	return kn == strlen(key) && memcmp(k, key, kn) == 0;
}

/* At most this many bytes of a value or item are quoted in a warning. */
#define BT_RS_SHOWN 64

static int bt_rs_shown(size_t n)
{
	return (int)(n > BT_RS_SHOWN ? BT_RS_SHOWN : n);
}

/* A TLS file path: 1 to BT_RS_PATH_MAX bytes, no control byte. */
static bool bt_rs_path_ok(const char *v, size_t n)
{
	if (n == 0 || n > BT_RS_PATH_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int bt_rs_parse_arg(const char *arg, bt_rs_arg *out)
{
	int bad = 0;
	memset(out, 0, sizeof(*out));
	out->polling_interval_ms = 60000;
	out->initial_sampling_rate = 0.001;
	if (arg == NULL)
		return 0;
	const char *cur = arg, *s;
	size_t len;
	while (bt_list_next(&cur, &s, &len)) {
		const char *eq = memchr(s, '=', len);
		if (len == 0) {
			/* an empty item (",,") is harmless */
		} else if (eq == NULL) {
			bt_warn(
			    "OTEL_TRACES_SAMPLER_ARG: \"%.*s\" is not key=value; ignored",
			    bt_rs_shown(len), s);
			bad++;
		} else {
			size_t kn = (size_t)(eq - s), vn = len - kn - 1;
			const char *v = eq + 1;
			/* Quote the value alone: vn bytes from v, never past the item. */
			int vshown = bt_rs_shown(vn);
			uint32_t ms;
			double r;
			if (bt_rs_item(s, kn, "endpoint")) {
				if (!bt_rs_endpoint_ok(v, vn)) {
					bt_warn("OTEL_TRACES_SAMPLER_ARG: endpoint "
					        "\"%.*s\" is not an http(s) "
					        "URL; using %s",
					        vshown, v, BATON_REMOTE_DEFAULT_ENDPOINT);
					bad++;
				} else {
					memcpy(out->endpoint, v, vn);
					out->endpoint[vn] = '\0';
				}
			} else if (bt_rs_item(s, kn, "pollingIntervalMs")) {
				if (!bt_parse_u32(v, vn, &ms) || ms == 0) {
					bt_warn("OTEL_TRACES_SAMPLER_ARG: "
					        "pollingIntervalMs \"%.*s\" is not a "
					        "positive integer; using 60000",
					        vshown, v);
					bad++;
				} else {
					out->polling_interval_ms = ms;
				}
			} else if (bt_rs_item(s, kn, "initialSamplingRate")) {
				if (!bt_parse_double(v, vn, &r) || !(r >= 0 && r <= 1)) {
					bt_warn("OTEL_TRACES_SAMPLER_ARG: "
					        "initialSamplingRate \"%.*s\" is not "
					        "in [0, 1]; using 0.001",
					        vshown, v);
					bad++;
				} else {
					out->initial_sampling_rate = r;
				}
			} else if (bt_rs_item(s, kn, "certificate") ||
			           bt_rs_item(s, kn, "clientKey") ||
			           bt_rs_item(s, kn, "clientCertificate")) {
				char *dst = bt_rs_item(s, kn, "certificate")
				                ? out->certificate
				            : bt_rs_item(s, kn, "clientKey")
				                ? out->client_key
				                : out->client_certificate;
				if (!bt_rs_path_ok(v, vn)) {
					bt_warn("OTEL_TRACES_SAMPLER_ARG: %.*s \"%.*s\" "
					        "is not "
					        "a file path (1 to %d bytes, no control "
					        "byte); ignored",
					        (int)kn, s, vshown, v, BT_RS_PATH_MAX);
					bad++;
				} else {
					memcpy(dst, v, vn);
					dst[vn] = '\0';
				}
			} else {
				bt_warn("OTEL_TRACES_SAMPLER_ARG: unknown key \"%.*s\"; "
				        "ignored",
				        bt_rs_shown(kn), s);
				bad++;
			}
		}
	}
	return bad;
}
