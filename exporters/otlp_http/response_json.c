/* The collector's answer to an http/json request: an
 * ExportTraceServiceResponse in OTLP's JSON encoding (read with jansson). */
#include "otlp_int.h"

#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* An int64 as the JSON mapping allows it: a number or a decimal string. */
static bool bt_oj_int64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (!json_is_string(v))
		return false;
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0)
		return false;
	*out = (int64_t)x;
	return true;
}

baton_err bt_otlp_parse_response_json(const uint8_t *body, size_t n, int64_t *rejected,
                                      char *msg, size_t cap)
{
	int64_t rej = 0;
	if (cap > 0)
		msg[0] = '\0';
	if (n == 0) {
		*rejected = 0;
		return BATON_OK;
	}
	json_error_t err;
	json_t *r = json_loadb((const char *)body, n, 0, &err);
	if (r == NULL)
		return BATON_EFORMAT;
	baton_err rv = BATON_OK;
	json_t *ps = json_object_get(r, "partialSuccess");
	if (!json_is_object(r) ||
	    (ps != NULL && !json_is_object(ps) && !json_is_null(ps))) {
		rv = BATON_EFORMAT;
	} else if (json_is_object(ps)) {
		json_t *rs = json_object_get(ps, "rejectedSpans");
		json_t *m = json_object_get(ps, "errorMessage");
		if ((rs != NULL && !json_is_null(rs) && !bt_oj_int64(rs, &rej)) ||
		    (m != NULL && !json_is_null(m) && !json_is_string(m))) {
			rv = BATON_EFORMAT;
			rej = 0;
		} else if (json_is_string(m) && cap > 0) {
			/* A collector's text: no escape sequence or newline gets through.
			 */
			bt_text_sanitize(msg, cap, json_string_value(m),
			                 json_string_length(m));
		}
	}
	json_decref(r);
	*rejected = rej > 0 ? rej : 0; /* a collector cannot un-reject spans */
	return rv;
}
