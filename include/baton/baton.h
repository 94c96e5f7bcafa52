/*
 * baton: distributed tracing for message-passing runtimes.
 *
 * This header is the core library (libbaton, CMake baton::sdk) and includes
 * each of its parts once. Each other component has one header of its own:
 * baton/nng.h, baton/http.h, baton/console.h, baton/jaeger_json.h,
 * baton/otlp_http.h, baton/remote_sampling.h, baton/auto.h.
 * These headers are the whole public API.
 * Nothing outside them is supported: symbols with the bt_ prefix, the
 * layout of opaque handles and anything under sdk/ may change at any time.
 *
 * Conventions used in every declaration comment:
 * - "Returns" lists the values a caller can see; functions that can fail
 *   return a baton_err, and write their output parameters only on success.
 * - "Thread-safe." means any thread may call it at any time.
 * - "Takes ownership" / "borrows" says who frees what.
 */
#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <baton/base.h>
#include <baton/trace.h>
#include <baton/sdk.h>
#include <baton/sampling.h>
#include <baton/processor.h>
#include <baton/w3c.h>
#include <baton/baggage.h>
#include <baton/envelope.h>
#include <baton/message.h>
#include <baton/plugin.h>

#endif /* BATON_BATON_H */
