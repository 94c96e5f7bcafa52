/*
 * W3C trace context and baggage in HTTP headers: inject into a curl_slist /
 * easy handle, extract from incoming name/value pairs, as OTEL_PROPAGATORS
 * says (baton_propagators()). Uses only the public baton API.
 */
#include <baton/baggage.h>
#include <baton/http.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Most tracestate (baggage) header lines looked at; more make it invalid. */
#define BT_HTTP_MAX_TS_LINES 64

/* True when a curl_slist entry ("Name: value" or "Name;") is header name. */
static bool bt_entry_is(const char *entry, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(entry, name, n) != 0)
		return false;
	const char *p = entry + n;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == ':' || *p == ';';
}

baton_err baton_http_inject_slist(const baton_span_context *ctx,
                                  struct curl_slist **headers)
{
	char tp[BATON_TRACEPARENT_SIZE], ts[BATON_TRACESTATE_SIZE];
	char line[sizeof("tracestate: ") + BATON_TRACESTATE_SIZE];
	char bline[sizeof("baggage: ") + BATON_BAGGAGE_SIZE];
	uint32_t props = baton_propagators();
	bool tc = (props & BATON_PROPAGATOR_TRACECONTEXT) != 0;
	bool bg = (props & BATON_PROPAGATOR_BAGGAGE) != 0;
	bool have_tc = false;
	const char *bag = NULL;
	size_t blen = 0;
	if (headers == NULL)
		return BATON_EINVAL;
	if (tc) {
		baton_err rv = baton_w3c_inject(ctx, tp, sizeof(tp), ts, sizeof(ts));
		if (rv != BATON_OK && rv != BATON_EINVAL)
			return rv;
		have_tc = rv == BATON_OK;
	}
	if (bg)
		bag = baton_baggage_current_header(&blen);
	if (!have_tc && bag == NULL)
		return BATON_EINVAL; /* nothing to send */
	struct curl_slist *nl = NULL, *t;
	for (const struct curl_slist *e = *headers; e != NULL; e = e->next) {
		if (e->data == NULL ||
		    (tc && (bt_entry_is(e->data, "traceparent") ||
		            bt_entry_is(e->data, "tracestate"))) ||
		    (bg && bt_entry_is(e->data, "baggage")))
			continue;
		if ((t = curl_slist_append(nl, e->data)) == NULL)
			goto nomem;
		nl = t;
	}
	if (have_tc) {
		snprintf(line, sizeof(line), "traceparent: %s", tp);
		if ((t = curl_slist_append(nl, line)) == NULL)
			goto nomem;
		nl = t;
		if (ts[0] != '\0') {
			snprintf(line, sizeof(line), "tracestate: %s", ts);
			if ((t = curl_slist_append(nl, line)) == NULL)
				goto nomem;
			nl = t;
		}
	}
	if (bag != NULL && blen < BATON_BAGGAGE_SIZE) {
		snprintf(bline, sizeof(bline), "baggage: %s", bag);
		if ((t = curl_slist_append(nl, bline)) == NULL)
			goto nomem;
		nl = t;
	}
	curl_slist_free_all(*headers);
	*headers = nl;
	return BATON_OK;
nomem:
	curl_slist_free_all(nl);
	return BATON_ENOMEM;
}

baton_err baton_http_inject_curl(CURL *easy, const baton_span_context *ctx,
                                 struct curl_slist **headers)
{
	if (easy == NULL)
		return BATON_EINVAL;
	baton_err rv = baton_http_inject_slist(ctx, headers);
	if (rv != BATON_OK)
		return rv;
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *headers);
	return BATON_OK;
}

baton_err baton_http_extract(const baton_http_header *hdrs, size_t n,
                             baton_span_context *out, char *ts_buf, size_t ts_cap)
{
	const char *tp = NULL;
	const char *ts[BT_HTTP_MAX_TS_LINES];
	size_t nts = 0;
	bool ts_overflow = false;
	if ((hdrs == NULL && n > 0) || out == NULL)
		return BATON_EINVAL;
	if (!(baton_propagators() & BATON_PROPAGATOR_TRACECONTEXT))
		return BATON_ENOENV;
	for (size_t i = 0; i < n; i++) {
		const char *name = hdrs[i].name;
		if (name == NULL || hdrs[i].value == NULL)
			continue;
		if (strcasecmp(name, "traceparent") == 0) {
			if (tp != NULL)
				return BATON_EFORMAT; /* repeated: no single parent */
			tp = hdrs[i].value;
		} else if (strcasecmp(name, "tracestate") == 0) {
			if (nts < BT_HTTP_MAX_TS_LINES)
				ts[nts++] = hdrs[i].value;
			else
				ts_overflow = true;
		}
	}
	if (tp == NULL)
		return BATON_ENOENV;
	return baton_w3c_extract_lines(tp, strlen(tp), ts, NULL, ts_overflow ? 0 : nts,
	                               out, ts_buf, ts_cap);
}

baton_err baton_http_extract_baggage(const baton_http_header *hdrs, size_t n,
                                     baton_baggage *out)
{
	const char *lines[BT_HTTP_MAX_TS_LINES];
	size_t nl = 0;
	if ((hdrs == NULL && n > 0) || out == NULL)
		return BATON_EINVAL;
	if (!(baton_propagators() & BATON_PROPAGATOR_BAGGAGE))
		return BATON_ENOENV;
	for (size_t i = 0; i < n; i++) {
		if (hdrs[i].name == NULL || hdrs[i].value == NULL ||
		    strcasecmp(hdrs[i].name, "baggage") != 0)
			continue;
		if (nl == BT_HTTP_MAX_TS_LINES)
			return BATON_EFORMAT;
		lines[nl++] = hdrs[i].value;
	}
	if (nl == 0)
		return BATON_ENOENV;
	return baton_baggage_parse_lines(out, lines, NULL, nl);
}
