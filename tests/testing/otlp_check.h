/*
 * Checks of a decoded OTLP request (the generated protobuf-c structures),
 * shared by the encoder's tests and its fuzz target.
 */
#ifndef TU_OTLP_CHECK_H
#define TU_OTLP_CHECK_H

#include "otlp_trace.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * True when every string of r (names, keys, string values and array items,
 * tracestates, status messages, scope names and versions) is present and
 * well-formed UTF-8. spans (may be NULL) gets the number of spans in r.
 */
bool tu_otlp_request_utf8_ok(const Btotlp__ExportTraceServiceRequest *r, size_t *spans);

#endif
