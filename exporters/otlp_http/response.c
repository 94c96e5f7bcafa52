/*
 * What a collector sends back: the ExportTraceServiceResponse body and the
 * Retry-After header. Both are outside input: parsed defensively, never
 * trusted for sizes, never a reason to abort.
 */
#include "otlp_int.h"

#include "util.h"
#include "otlp_trace.pb-c.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static void *bt_pb_alloc(void *data, size_t size)
{
	(void)data;
	return bt_malloc(size);
}

static void bt_pb_free(void *data, void *p)
{
	(void)data;
	bt_free(p);
}

static ProtobufCAllocator bt_pb_allocator = {bt_pb_alloc, bt_pb_free, NULL};

baton_err bt_otlp_parse_response(const uint8_t *body, size_t n, int64_t *rejected,
                                 char *msg, size_t cap)
{
	int64_t rej = 0;
	if (cap > 0)
		msg[0] = '\0';
	if (n == 0) {
		*rejected = 0;
		return BATON_OK;
	}
	Btotlp__ExportTraceServiceResponse *r =
	    btotlp__export_trace_service_response__unpack(&bt_pb_allocator, n, body);
	if (r == NULL)
		return BATON_EFORMAT;
	if (r->partial_success != NULL) {
		rej = r->partial_success->rejected_spans;
		/* A collector's text: no escape sequence or newline gets through. */
		const char *m = r->partial_success->error_message;
		if (cap > 0 && m != NULL)
			bt_text_sanitize(msg, cap, m, strlen(m));
	}
	btotlp__export_trace_service_response__free_unpacked(r, &bt_pb_allocator);
	*rejected = rej > 0 ? rej : 0; /* a collector cannot un-reject spans */
	return BATON_OK;
}

bool bt_otlp_retry_after(const char *value, size_t len, time_t now, uint64_t *delay_ms)
{
	const uint64_t max_s = 24 * 3600;
	char buf[128];
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
	                   value[len - 1] == '\r' || value[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return false;
	if (value[0] >= '0' && value[0] <= '9') {
		uint64_t s = 0;
		for (size_t i = 0; i < len; i++) {
			if (value[i] < '0' || value[i] > '9')
				return false;
			if (s <= max_s)
				s = s * 10 + (uint64_t)(value[i] - '0');
		}
		*delay_ms = (s > max_s ? max_s : s) * 1000u;
		return true;
	}
	memcpy(buf, value, len);
	buf[len] = '\0';
	time_t t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return false;
	uint64_t d = t > now ? (uint64_t)(t - now) : 0;
	*delay_ms = (d > max_s ? max_s : d) * 1000u;
	return true;
}
