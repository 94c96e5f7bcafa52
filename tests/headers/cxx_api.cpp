/*
 * A C++ program that uses baton's C API as a C++ service would: every
 * public header, the initialiser macros (BATON_KV_*, BATON_SPAN_NONE,
 * BATON_EXPORT_RESULT), a span with attributes and an event, and an
 * exporter written in C++. Exits 0 when the exporter saw what was set.
 */
#include <baton/baton.h>
#include <baton/console.h>
#include <baton/envelope.h>
#include <baton/auto.h>
#include <baton/http.h>
#include <baton/jaeger_json.h>
#include <baton/nng.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <baton/remote_sampling.h>
#include <baton/sampling.h>
#include <baton/sdk.h>
#include <baton/trace.h>
#include <baton/w3c.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace
{

struct seen_span {
	std::string name;
	std::string s;
	int64_t i = 0;
	double d = 0;
	bool b = false;
	int64_t event_n = 0;
	std::string event;
};
std::vector<seen_span> seen;

baton_export_result export_spans(void *, const baton_span_data *const *spans, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const baton_span_data *sp = spans[k];
		seen_span out;
		out.name = sp->name;
		const baton_attr *a;
		if ((a = baton_attr_find(sp->attrs, "peer")) != nullptr &&
		    a->value.type == BATON_VALUE_STRING)
			out.s.assign(a->value.u.s, a->value.len);
		if ((a = baton_attr_find(sp->attrs, "count")) != nullptr &&
		    a->value.type == BATON_VALUE_INT)
			out.i = a->value.u.i;
		if ((a = baton_attr_find(sp->attrs, "ratio")) != nullptr &&
		    a->value.type == BATON_VALUE_DOUBLE)
			out.d = a->value.u.d;
		if ((a = baton_attr_find(sp->attrs, "retry")) != nullptr &&
		    a->value.type == BATON_VALUE_BOOL)
			out.b = a->value.u.b;
		if (sp->events != nullptr) {
			out.event = sp->events->name;
			a = baton_attr_find(sp->events->attrs, "n");
			if (a != nullptr && a->value.type == BATON_VALUE_INT)
				out.event_n = a->value.u.i;
		}
		seen.push_back(out);
	}
	return BATON_EXPORT_RESULT(BATON_OK);
}

/* Every member named: -Wextra in C++ wants the optional halves too. */
const baton_exporter_ops cxx_exporter_ops = {
    sizeof(baton_exporter_ops),
    "cxx",
    export_spans,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

/* Attributes at namespace scope, as C code keeps them at file scope. */
const std::string peer_name = "orders";
const baton_kv start_attrs[] = {
    BATON_KV_STR("peer", peer_name.c_str()),
    BATON_KV_INT("count", 42),
    BATON_KV_DOUBLE("ratio", 0.25),
    BATON_KV_BOOL("retry", true),
};

int fail(const char *what)
{
	std::fprintf(stderr, "cxx_api: %s\n", what);
	return 1;
}

} // namespace

int main()
{
	baton_span none = BATON_SPAN_NONE;
	if (none.id != 0 || baton_span_is_recording(none))
		return fail("BATON_SPAN_NONE is a span");
	baton_span_end(none); /* does nothing */

	baton_processor proc;
	baton_exporter exporter = {&cxx_exporter_ops, nullptr};
	if (baton_simple_processor_create(exporter, &proc) != BATON_OK)
		return fail("baton_simple_processor_create");
	baton_options opts{};
	opts.size = sizeof(opts);
	opts.service_name = "cxx";
	opts.processors = &proc;
	opts.nprocessors = 1;
	if (baton_init(&opts) != BATON_OK)
		return fail("baton_init");

	baton_span_start_opts so{};
	so.flags = BATON_START_ROOT;
	so.attrs = start_attrs;
	so.nattrs = sizeof(start_attrs) / sizeof(start_attrs[0]);
	baton_span span =
	    baton_span_start_ex(baton_tracer_get("cxx", "1.0"), "checkout", &so);
	if (!baton_span_is_recording(span))
		return fail("the span is not recording");
	const baton_kv event_attrs[] = {BATON_KV_INT("n", 7)};
	baton_span_add_event(span, "queued", 0, event_attrs, 1);
	baton_span_end(span);
	if (baton_fini(1000) != BATON_OK)
		return fail("baton_fini");

	if (seen.size() != 1)
		return fail("the exporter did not get exactly one span");
	const seen_span &s = seen[0];
	if (s.name != "checkout" || s.s != "orders" || s.i != 42 || s.d != 0.25 || !s.b ||
	    s.event != "queued" || s.event_n != 7)
		return fail("the span's attributes or event differ from what was set");
	std::puts("cxx_api ok");
	return 0;
}
