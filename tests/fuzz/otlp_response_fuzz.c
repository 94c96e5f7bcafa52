/*
 * What the OTLP/HTTP exporter reads from a collector: the response body
 * (ExportTraceServiceResponse) and the Retry-After header. The same bytes
 * go to both parsers; neither may crash, read out of bounds or leak.
 */
#include "otlp_int.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t rejected = 0;
	char msg[64];
	uint64_t delay = 0;
	if (bt_otlp_parse_response(data, size, &rejected, msg, sizeof(msg)) == BATON_OK) {
		if (strlen(msg) >= sizeof(msg))
			__builtin_trap();
		if (rejected < 0) /* a collector cannot un-reject spans */
			__builtin_trap();
	}
	/* A fixed "now" (2026-01-01) keeps date parsing deterministic. */
	if (bt_otlp_retry_after((const char *)data, size, (time_t)1767225600, &delay)) {
		if (delay > 24ull * 3600 * 1000)
			__builtin_trap();
	}
	return 0;
}
