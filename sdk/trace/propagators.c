/*
 * OTEL_PROPAGATORS: which context propagators baton::http and baton::nng
 * use (baton/w3c.h). Read once per baton_init; the value is a word read
 * without a lock on every inject and send.
 */
#include "trace/trace_int.h"
#include "wire/w3c_int.h"

#include <string.h>
#include <strings.h>

#define BT_PROP_DEFAULT (BATON_PROPAGATOR_TRACECONTEXT | BATON_PROPAGATOR_BAGGAGE)

/* Written by baton_init, read anywhere: relaxed is enough, it is one word
 * that readers use as a whole and nothing else is published through it. */
static _Atomic uint32_t bt_props = BT_PROP_DEFAULT;
static atomic_bool bt_props_warned;

uint32_t baton_propagators(void)
{
	return atomic_load_explicit(&bt_props, memory_order_relaxed);
}

static bool bt_name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

uint32_t bt_propagators_parse(const char *v, bool *unknown)
{
	uint32_t set = 0;
	bool none = false;
	*unknown = false;
	if (v == NULL || v[0] == '\0')
		return BT_PROP_DEFAULT;
	const char *cur = v, *a;
	size_t n;
	while (bt_list_next(&cur, &a, &n)) {
		if (bt_name_is(a, n, "tracecontext"))
			set |= BATON_PROPAGATOR_TRACECONTEXT;
		else if (bt_name_is(a, n, "baggage"))
			set |= BATON_PROPAGATOR_BAGGAGE;
		else if (bt_name_is(a, n, "none"))
			none = true;
		else if (n > 0)
			*unknown = true;
	}
	return none ? 0 : set;
}

void bt_propagators_init(void)
{
	bool unknown;
	const char *v = baton_getenv("OTEL_PROPAGATORS");
	uint32_t set = bt_propagators_parse(v, &unknown);
	if (unknown && !atomic_exchange(&bt_props_warned, true))
		bt_warn("OTEL_PROPAGATORS: only tracecontext, baggage and none are "
		        "supported; other names are ignored");
	atomic_store_explicit(&bt_props, set, memory_order_relaxed);
}

/* The wire layer's codec knows no current context: it is resolved here. */
baton_err baton_w3c_inject(const baton_span_context *ctx, char *tp_out, size_t tp_cap,
                           char *ts_out, size_t ts_cap)
{
	baton_span_context cur;
	if (ctx == NULL) {
		if (!bt_current_context(&cur))
			return BATON_EINVAL;
		ctx = &cur;
	}
	return bt_w3c_inject(ctx, tp_out, tp_cap, ts_out, ts_cap);
}
