/*
 * Fuzzes the jaeger_remote settings: the OTEL_TRACES_SAMPLER_ARG parser
 * (endpoint=...,pollingIntervalMs=...,initialSamplingRate=...) and the
 * service.name percent decoder over OTEL_RESOURCE_ATTRIBUTES. The input is
 * "ARG\nATTRS".
 *
 * Invariants: accepted values are in their documented ranges; an accepted
 * endpoint is one of the input's endpoint= values, has no control byte or
 * space and parses (libcurl) as http or https with a host; each warning
 * quotes at most 64 bytes of one item, never across a ','; a decoded
 * service name is non-empty, fits, and holds no NUL, CR, LF or other
 * control byte.
 */
#include <baton/baton.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "remote_int.h"

static const char *cur_arg;
static int warnings;

/* Does the log text q[0..n) show the input at p? */
static bool shown_as(const char *p, const char *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i], d = (unsigned char)q[i];
		if (c == '\0')
			return false;
		if (c == d)
			continue;
		if (d != '?' || (c >= 0x20 && c < 0x7f))
			return false;
	}
	return true;
}

static void check_log(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	if (level < BATON_LOG_WARN || cur_arg == NULL)
		return;
	warnings++;
	if (strncmp(msg, "OTEL_TRACES_SAMPLER_ARG: ", 25) != 0)
		return;
	const char *a = strchr(msg, '"');
	if (a == NULL)
		abort(); /* every arg warning quotes what it refuses */
	/* The quote is the one that ends right before "; " or " is". */
	const char *b = strstr(a + 1, "\" is not");
	if (b == NULL)
		b = strstr(a + 1, "\"; ignored");
	if (b == NULL)
		abort();
	size_t n = (size_t)(b - a - 1);
	if (n > 64 || memchr(a + 1, ',', n) != NULL)
		abort(); /* at most 64 bytes, of one item */
	/* What is quoted is a piece of the input, as log lines show it: bytes that
	 * are not printable ASCII may stand as '?' (the log sanitizer's). */
	bool found = false;
	for (const char *p = cur_arg; *p != '\0' && !found; p++)
		found = shown_as(p, a + 1, n);
	if (!found && n > 0)
		abort();
}

static bool has_ctl(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *attrs = strchr(buf, '\n');
	if (attrs != NULL)
		*attrs++ = '\0';
	baton_set_log(BATON_LOG_WARN, check_log, NULL);

	cur_arg = buf;
	warnings = 0;
	bt_rs_arg a;
	int bad = bt_rs_parse_arg(buf, &a);
	size_t items = 1;
	for (const char *p = buf; *p != '\0'; p++)
		items += *p == ',';
	if (bad < 0 || (size_t)bad > items || bad != warnings)
		abort(); /* one warning per malformed item */
	if (!(a.initial_sampling_rate >= 0 && a.initial_sampling_rate <= 1) ||
	    a.polling_interval_ms == 0)
		abort();
	size_t elen = strlen(a.endpoint);
	if (elen > BT_RS_ENDPOINT_MAX)
		abort();
	if (elen > 0) {
		if (!bt_rs_endpoint_ok(a.endpoint, elen))
			abort();
		for (const char *p = a.endpoint; *p != '\0'; p++) {
			unsigned char c = (unsigned char)*p;
			if (c <= 0x20 || c == 0x7f)
				abort();
		}
		/* Its scheme, as libcurl will read it, is http or https. */
		CURLU *u = curl_url();
		char *scheme = NULL;
		if (u != NULL) {
			if (curl_url_set(u, CURLUPART_URL, a.endpoint, 0) != CURLUE_OK ||
			    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
				abort();
			curl_free(scheme);
			curl_url_cleanup(u);
		}
		/* It came from the input as a whole item's value. */
		char *at = strstr(buf, a.endpoint);
		if (at == NULL)
			abort();
	}
	cur_arg = NULL;

	char svc[64];
	const char *name = bt_rs_service_from_attrs(attrs, svc, sizeof(svc));
	if (name != NULL && (name != svc || name[0] == '\0' ||
	                     strlen(name) >= sizeof(svc) || has_ctl(name)))
		abort();
	free(buf);
	return 0;
}
