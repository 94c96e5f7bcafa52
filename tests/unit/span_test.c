/* The span model: start, attributes, events, links, status, limits, end. */
#include "spancheck.h"
#include "testutil.h"

#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tu_memory_exporter *mem;
static baton_tracer *tracer;

static void setup(void)
{
	mem = tu_init_memory(baton_sampler_always_on(), 1024);
	tracer = baton_tracer_get("span_test", "1.2.3");
}

static void teardown(void)
{
	baton_fini(1000);
}

static tu_memory_span only_span(void)
{
	tu_memory_span s;
	cr_assert_eq(tu_memory_exporter_count(mem), 1);
	cr_assert_eq(tu_memory_exporter_get(mem, 0, &s), BATON_OK);
	return s;
}

TestSuite(span, .init = setup, .fini = teardown);

Test(span, root_span_has_fresh_ids_and_no_parent)
{
	baton_span s = baton_span_start(tracer, "root");
	cr_assert(baton_span_is_recording(s));
	baton_span_context ctx;
	cr_assert_eq(baton_span_get_context(s, &ctx), BATON_OK);
	cr_assert(baton_span_context_is_valid(&ctx));
	cr_assert(baton_span_context_is_sampled(&ctx));
	cr_assert(ctx.trace_flags & BATON_FLAG_RANDOM);
	baton_span_end(s);
	tu_memory_span m = only_span();
	cr_assert_str_eq(m.name, "root");
	cr_assert_eq(m.kind, BATON_SPAN_KIND_INTERNAL);
	cr_assert_not(baton_span_context_is_valid(&m.parent));
	cr_assert_eq(memcmp(m.context.trace_id, ctx.trace_id, 16), 0);
	cr_assert_geq(m.end_unix_ns, m.start_unix_ns);
	cr_assert_gt(m.start_unix_ns, 0);
}

Test(span, explicit_parent_gives_child_in_same_trace)
{
	baton_span p = baton_span_start(tracer, "parent");
	baton_span_context pctx;
	baton_span_get_context(p, &pctx);
	baton_span_start_opts o = {.parent = &pctx, .kind = BATON_SPAN_KIND_CONSUMER};
	baton_span c = baton_span_start_ex(tracer, "child", &o);
	baton_span_end(c);
	baton_span_end(p);
	tu_memory_span mc;
	tu_memory_exporter_get(mem, 0, &mc);
	cr_assert_str_eq(mc.name, "child");
	cr_assert_eq(mc.kind, BATON_SPAN_KIND_CONSUMER);
	cr_assert_eq(memcmp(mc.context.trace_id, pctx.trace_id, 16), 0);
	cr_assert_eq(memcmp(mc.parent.span_id, pctx.span_id, 8), 0);
	cr_assert_neq(memcmp(mc.context.span_id, pctx.span_id, 8), 0);
}

Test(span, current_span_is_the_implicit_parent_and_detach_restores)
{
	baton_span a = baton_span_start(tracer, "a");
	uint32_t ta = baton_span_attach(a);
	cr_assert_neq(ta, 0);
	cr_assert_eq(baton_span_current().id, a.id);
	baton_span b = baton_span_start(tracer, "b");
	uint32_t tb = baton_span_attach(b);
	baton_span c = baton_span_start(tracer, "c");
	baton_span_end(c);
	baton_span_detach(tb);
	cr_assert_eq(baton_span_current().id, a.id);
	baton_span d = baton_span_start(tracer, "d");
	baton_span_end(d);
	baton_span_end(b);
	baton_span_detach(ta);
	cr_assert_eq(baton_span_current().id, BATON_SPAN_NONE.id);
	baton_span_end(a);

	baton_span_context ca, cb;
	tu_memory_span mc, md;
	tu_memory_exporter_get(mem, 0, &mc);
	tu_memory_exporter_get(mem, 1, &md);
	tu_memory_span mb, ma;
	tu_memory_exporter_get(mem, 2, &mb);
	tu_memory_exporter_get(mem, 3, &ma);
	ca = ma.context;
	cb = mb.context;
	cr_assert_eq(memcmp(mc.parent.span_id, cb.span_id, 8), 0, "c is b's child");
	cr_assert_eq(memcmp(md.parent.span_id, ca.span_id, 8), 0, "d is a's child");
	cr_assert_eq(memcmp(mb.parent.span_id, ca.span_id, 8), 0, "b is a's child");
}

Test(span, root_flag_ignores_the_current_span)
{
	baton_span a = baton_span_start(tracer, "a");
	uint32_t t = baton_span_attach(a);
	baton_span_start_opts o = {.flags = BATON_START_ROOT};
	baton_span r = baton_span_start_ex(tracer, "r", &o);
	baton_span_end(r);
	baton_span_detach(t);
	baton_span_end(a);
	tu_memory_span mr;
	tu_memory_exporter_get(mem, 0, &mr);
	cr_assert_not(baton_span_context_is_valid(&mr.parent));
}

Test(span, no_root_flag_without_parent_makes_no_span)
{
	baton_span_start_opts o = {.flags = BATON_START_NO_ROOT};
	baton_span s = baton_span_start_ex(tracer, "orphan", &o);
	cr_assert_not(baton_span_is_recording(s));
	baton_span_end(s);
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
}

Test(span, detach_out_of_order_and_deep_attach_are_safe)
{
	baton_span s = baton_span_start(tracer, "s");
	uint32_t toks[70];
	for (int i = 0; i < 70; i++)
		toks[i] = baton_span_attach(s);
	cr_assert_eq(toks[63], 64);
	cr_assert_eq(toks[64], 0, "past 64 deep, attach refuses");
	baton_span_detach(toks[10]); /* detaches everything above too */
	cr_assert_eq(baton_span_current().id, s.id);
	baton_span_detach(toks[0]);
	cr_assert_eq(baton_span_current().id, 0);
	baton_span_detach(9999);
	baton_span_detach(0);
	baton_span_end(s);
}

Test(span, attributes_of_every_type_are_kept_and_replaced_by_key)
{
	baton_span s = baton_span_start(tracer, "attrs");
	baton_span_set_str(s, "s", "hello");
	baton_span_set_strn(s, "sn", "abcdef", 3);
	baton_span_set_int(s, "i", -42);
	baton_span_set_double(s, "d", 2.5);
	baton_span_set_bool(s, "b", true);
	baton_span_set_int(s, "i", 7); /* replaces */
	int64_t ia[3] = {1, 2, 3};
	baton_value v = {.type = BATON_VALUE_INT_ARRAY, .u.ia = ia, .len = 3};
	baton_span_set_value(s, "ia", &v);
	const char *sa[2] = {"x", "y"};
	baton_value vs = {.type = BATON_VALUE_STRING_ARRAY, .u.sa = sa, .len = 2};
	baton_span_set_value(s, "sa", &vs);
	baton_span_set_str(s, NULL, "ignored");
	baton_span_set_str(s, "", "ignored");
	baton_span_end(s);
	tu_memory_span m = only_span();
	/* SampleRate=1 (always_on) comes first: it is set at start. */
	cr_assert_str_eq(
	    m.attrs_text,
	    "SampleRate=1\ns=hello\nsn=abc\ni=7\nd=2.5\nb=true\nia=[3]\nsa=[2]\n");
	cr_assert_eq(m.nattrs, 8);
	cr_assert_eq(m.sample_rate, 1.0);
}

Test(span, attribute_strings_are_copied)
{
	char buf[16];
	strcpy(buf, "before");
	baton_span s = baton_span_start(tracer, "copy");
	baton_span_set_str(s, "k", buf);
	strcpy(buf, "after!");
	baton_span_end(s);
	cr_assert(strstr(only_span().attrs_text, "k=before\n") != NULL);
}

Test(span, events_links_and_status_are_recorded)
{
	baton_span other = baton_span_start(tracer, "other");
	baton_span_context octx;
	baton_span_get_context(other, &octx);
	baton_span_end(other);
	tu_memory_exporter_clear(mem);

	baton_span s = baton_span_start(tracer, "s");
	baton_kv kv[] = {BATON_KV_STR("k", "v"), BATON_KV_INT("n", 3)};
	baton_span_add_event(s, "got message", 0, kv, 2);
	baton_span_add_link(s, &octx, kv, 1);
	baton_span_context invalid = {0};
	baton_span_add_link(s, &invalid, NULL, 0); /* ignored */
	baton_span_set_status(s, BATON_STATUS_ERROR, "boom");
	baton_span_end(s);
	tu_memory_span m = only_span();
	cr_assert_eq(m.nevents, 1);
	cr_assert_str_eq(m.first_event, "got message");
	cr_assert_eq(m.nlinks, 1);
	cr_assert_eq(memcmp(m.first_link.span_id, octx.span_id, 8), 0);
	cr_assert_eq(m.status, BATON_STATUS_ERROR);
}

Test(span, ok_status_is_final)
{
	baton_span s = baton_span_start(tracer, "s");
	baton_span_set_status(s, BATON_STATUS_OK, NULL);
	baton_span_set_status(s, BATON_STATUS_ERROR, "late");
	baton_span_end(s);
	cr_assert_eq(only_span().status, BATON_STATUS_OK);
}

Test(span, record_error_adds_an_exception_event_and_update_name_renames)
{
	baton_span s = baton_span_start(tracer, "s");
	baton_span_record_error(s, "ETIMEDOUT", "peer did not answer");
	baton_span_update_name(s, "renamed");
	baton_span_end(s);
	tu_memory_span m = only_span();
	cr_assert_str_eq(m.first_event, "exception");
	cr_assert_str_eq(m.name, "renamed");
}

Test(span, ending_twice_and_use_after_end_do_nothing)
{
	baton_span s = baton_span_start(tracer, "s");
	baton_span_end(s);
	baton_span_end(s);
	baton_span_set_str(s, "late", "x");
	baton_span_add_event(s, "late", 0, NULL, 0);
	baton_span_set_status(s, BATON_STATUS_ERROR, "late");
	cr_assert_not(baton_span_is_recording(s));
	baton_span_context ctx;
	baton_span_get_context(s, &ctx);
	cr_assert_not(baton_span_context_is_valid(&ctx));
	/* The record is reused by the next span; the old handle must not touch it. */
	baton_span t = baton_span_start(tracer, "t");
	baton_span_set_str(s, "stale", "x");
	baton_span_end(s);
	cr_assert(baton_span_is_recording(t));
	baton_span_end(t);
	cr_assert_eq(tu_memory_exporter_count(mem), 2);
	tu_memory_span m;
	tu_memory_exporter_get(mem, 1, &m);
	cr_assert_null(strstr(m.attrs_text, "stale"));
	/* Garbage and zero handles are harmless. */
	baton_span_end(BATON_SPAN_NONE);
	baton_span_end((baton_span){0xdeadbeefdeadbeefull});
	baton_span_set_int((baton_span){0x00000002ffffffffull}, "x", 1);
}

Test(span, explicit_times_are_kept)
{
	baton_span_start_opts o = {.start_time_ns = 1000000000ull};
	baton_span s = baton_span_start_ex(tracer, "t", &o);
	baton_span_end_at(s, 3000000000ull);
	tu_memory_span m = only_span();
	cr_assert_eq(m.start_unix_ns, 1000000000ull);
	cr_assert_eq(m.end_unix_ns, 3000000000ull);
}

Test(span, start_attributes_and_links_are_recorded)
{
	baton_span o0 = baton_span_start(tracer, "o");
	baton_span_context oc;
	baton_span_get_context(o0, &oc);
	baton_span_end(o0);
	tu_memory_exporter_clear(mem);
	baton_kv kv[] = {BATON_KV_BOOL("flag", true), BATON_KV_DOUBLE("ratio", 0.25)};
	baton_span_start_opts o = {.attrs = kv, .nattrs = 2, .links = &oc, .nlinks = 1};
	baton_span s = baton_span_start_ex(tracer, "s", &o);
	baton_span_end(s);
	tu_memory_span m = only_span();
	cr_assert(strstr(m.attrs_text, "flag=true\n") != NULL);
	cr_assert(strstr(m.attrs_text, "ratio=0.25\n") != NULL);
	cr_assert_eq(m.nlinks, 1);
}

Test(span, tracer_is_the_same_for_the_same_scope)
{
	cr_assert_eq(baton_tracer_get("span_test", "1.2.3"), tracer);
	cr_assert_neq(baton_tracer_get("span_test", NULL), tracer);
	cr_assert_neq(baton_tracer_get("other", "1.2.3"), tracer);
}

Test(span, stats_count_started_ended_and_live)
{
	baton_span a = baton_span_start(tracer, "a");
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_started, 1);
	cr_assert_eq(st.spans_live, 1);
	baton_span_end(a);
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_ended, 1);
	cr_assert_eq(st.spans_live, 0);
	cr_assert_geq(st.store_records, 64);
}

static void fini_only(void)
{
	baton_fini(1000);
}

/* ---- limits ---- */

Test(limits, attribute_event_link_counts_are_capped_and_counted, .fini = fini_only)
{
	baton_limits lim = {.attribute_count = 3,
	                    .event_count = 2,
	                    .link_count = 1,
	                    .event_attribute_count = 1,
	                    .attribute_value_length = 4};
	tu_memory_exporter *m = tu_init_memory_limits(baton_sampler_always_on(), 4, &lim);
	baton_tracer *t = baton_tracer_get("t", NULL);
	baton_span x = baton_span_start(t, "x");
	baton_span_context xc;
	baton_span_get_context(x, &xc);
	baton_span s = baton_span_start(t, "s"); /* SampleRate takes one attribute */
	baton_span_set_str(s, "a", "long value");
	baton_span_set_int(s, "b", 1);
	baton_span_set_int(s, "c", 2);
	baton_span_set_int(s, "d", 3);
	baton_span_set_int(s, "a", 9); /* replacing is allowed at the limit */
	baton_kv kv[] = {BATON_KV_INT("e1", 1), BATON_KV_INT("e2", 2)};
	for (int i = 0; i < 4; i++)
		baton_span_add_event(s, "ev", 0, kv, 2);
	baton_span_add_link(s, &xc, NULL, 0);
	baton_span_add_link(s, &xc, NULL, 0);
	baton_span_end(s);
	baton_span_end(x);
	tu_memory_span ms;
	tu_memory_exporter_get(m, 0, &ms);
	cr_assert_eq(ms.nattrs, 3);
	cr_assert_eq(ms.dropped_attrs, 2);
	cr_assert_eq(ms.nevents, 2);
	cr_assert_eq(ms.dropped_events, 2);
	cr_assert_eq(ms.nlinks, 1);
	cr_assert_eq(ms.dropped_links, 1);
	cr_assert(strstr(ms.attrs_text, "a=9\n") != NULL);
}

Test(limits, long_values_are_cut_at_the_value_length_limit, .fini = fini_only)
{
	setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4", 1);
	tu_memory_exporter *m = tu_init_memory(baton_sampler_always_on(), 4);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "s");
	baton_span_set_str(s, "k", "abcdefgh");
	baton_span_end(s);
	tu_memory_span ms;
	tu_memory_exporter_get(m, 0, &ms);
	cr_assert(strstr(ms.attrs_text, "k=abcd\n") != NULL);
}

static void held_fini(void)
{
	tu_held_release();
	baton_fini(1000);
}

/* OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT counts characters, as the spec says. */
Test(limits, value_length_counts_characters_and_never_splits_one, .fini = held_fini)
{
	const char v[] = "a\xc3\xa9\xe2\x82\xac"; /* a é €: 3 characters, 6 bytes */
	const size_t want[] = {0, 1, 3, 6, 6, 6, 6};
	for (uint32_t lim = 1; lim <= 6; lim++) {
		baton_limits l = {.attribute_value_length = lim};
		tu_held_init(baton_sampler_always_on(), &l);
		baton_span s = baton_span_start(baton_tracer_get("t", NULL), "s");
		baton_span_set_str(s, "str", v);
		baton_value bv = {
		    .type = BATON_VALUE_STRING, .u.s = v, .len = (size_t)-1};
		baton_span_set_value(s, "value", &bv);
		baton_span_set_status(s, BATON_STATUS_ERROR, v);
		baton_span_end(s);
		const baton_span_data *d = tu_held();
		cr_assert_not_null(d);
		const char *got[] = {tu_attr_str(d, "str"), tu_attr_str(d, "value"),
		                     d->status_message};
		for (int i = 0; i < 3; i++) {
			cr_assert_not_null(got[i]);
			cr_assert_eq(strlen(got[i]), want[lim], "limit %u: %zu bytes",
			             lim, strlen(got[i]));
			cr_assert(memcmp(got[i], v, want[lim]) == 0);
		}
		cr_assert_eq(baton_attr_find(d->attrs, "str")->value.len, want[lim]);
		held_fini();
	}
}

Test(limits, env_limits_apply_and_garbage_is_ignored, .fini = fini_only)
{
	setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2", 1);
	setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "lots", 1);
	tu_memory_exporter *m = tu_init_memory(baton_sampler_always_on(), 4);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "s");
	for (int i = 0; i < 5; i++) {
		char k[8];
		snprintf(k, sizeof(k), "k%d", i);
		baton_span_set_int(s, k, i);
		baton_span_add_event(s, "e", 0, NULL, 0);
	}
	baton_span_end(s);
	tu_memory_span ms;
	tu_memory_exporter_get(m, 0, &ms);
	cr_assert_eq(ms.nattrs, 2);
	cr_assert_eq(ms.nevents, 5, "garbage limit falls back to 128");
}

Test(limits, full_arena_drops_attributes_and_counts_them, .fini = fini_only)
{
	baton_limits lim = {.span_arena_bytes = 256};
	tu_memory_exporter *m = tu_init_memory_limits(baton_sampler_always_on(), 4, &lim);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "s");
	char big[121];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 5; i++) {
		char k[8];
		snprintf(k, sizeof(k), "k%d", i);
		baton_span_set_str(s, k, big);
	}
	baton_span_end(s);
	tu_memory_span ms;
	tu_memory_exporter_get(m, 0, &ms);
	cr_assert_eq(ms.nattrs, 1 + 1,
	             "SampleRate and one 120-byte value fit in 256 bytes, two do not");
	cr_assert_eq(ms.dropped_attrs, 4);
}

Test(limits, exhausted_span_store_drops_and_counts, .fini = fini_only)
{
	baton_options o = {.size = sizeof(o), .sampler = baton_sampler_always_on()};
	o.limits.max_live_spans = 64;
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t = baton_tracer_get("t", NULL);
	baton_span spans[80];
	int recording = 0;
	for (int i = 0; i < 80; i++) {
		spans[i] = baton_span_start(t, "s");
		recording += baton_span_is_recording(spans[i]);
	}
	cr_assert_eq(recording, 64);
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_dropped_no_store, 16);
	for (int i = 0; i < 80; i++)
		baton_span_end(spans[i]);
	baton_span again = baton_span_start(t, "again");
	cr_assert(baton_span_is_recording(again), "records come back after end");
	baton_span_end(again);
}

/* ---- set-up ---- */

Test(setup, spans_before_init_and_after_fini_are_no_ops)
{
	baton_tracer *t = baton_tracer_get("t", NULL);
	cr_assert_not_null(t);
	baton_span s = baton_span_start(t, "early");
	cr_assert_not(baton_span_is_recording(s));
	baton_span_end(s);
	cr_assert_eq(baton_fini(10), BATON_ESTATE);
	cr_assert_eq(baton_force_flush(10), BATON_ESTATE);
	cr_assert_null(baton_resource_get());
}

Test(setup, init_twice_is_refused_and_reinit_after_fini_works)
{
	cr_assert_eq(baton_init(NULL), BATON_OK);
	cr_assert_eq(baton_init(NULL), BATON_ESTATE);
	cr_assert_eq(baton_fini(100), BATON_OK);
	cr_assert_eq(baton_init(NULL), BATON_OK);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "s");
	cr_assert(baton_span_is_recording(s));
	baton_span_end(s);
	cr_assert_eq(baton_fini(100), BATON_OK);
}

/* An operator who switches tracing off must not stop the service from starting. */
Test(setup, sdk_disabled_makes_spans_no_ops)
{
	setenv("OTEL_SDK_DISABLED", "true", 1);
	cr_assert_eq(baton_init(NULL), BATON_OK);
	cr_assert_not(baton_is_enabled());
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "s");
	cr_assert_not(baton_span_is_recording(s));
	baton_span_end(s);
	baton_fini(100);
	baton_options o = {.size = sizeof(o), .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_fini(100);
}

static const char *res_attr(const char *key)
{
	const baton_attr *a = baton_attr_find(baton_resource_get()->attrs, key);
	return a ? a->value.u.s : NULL;
}

Test(setup, resource_comes_from_env_percent_decoded)
{
	setenv("OTEL_SERVICE_NAME", "guild", 1);
	setenv("OTEL_RESOURCE_ATTRIBUTES",
	       "deployment.environment=prod, region=eu%2Cwest "
	       ",broken,=novalue,bad=%zz,%00nul=x,cut=a%00b,service.name=ignored",
	       1);
	cr_assert_eq(baton_init(NULL), BATON_OK);
	const baton_resource *r = baton_resource_get();
	cr_assert_str_eq(r->service_name, "guild");
	cr_assert_str_eq(res_attr("service.name"), "guild");
	cr_assert_str_eq(res_attr("deployment.environment"), "prod");
	cr_assert_str_eq(res_attr("region"), "eu,west");
	cr_assert_null(res_attr("broken"));
	cr_assert_null(res_attr("bad"));
	cr_assert_null(res_attr(""), "%%00 in a key is refused, not an empty key");
	cr_assert_null(res_attr("cut"), "%%00 in a value is refused, not a cut value");
	cr_assert_str_eq(res_attr("telemetry.sdk.name"), "baton");
	cr_assert_str_eq(res_attr("telemetry.sdk.language"), "c");
	cr_assert_str_eq(res_attr("telemetry.sdk.version"), BATON_VERSION_STRING);
	baton_fini(100);
}

Test(setup, service_name_defaults_to_unknown_service)
{
	unsetenv("OTEL_SERVICE_NAME");
	unsetenv("OTEL_RESOURCE_ATTRIBUTES");
	cr_assert_eq(baton_init(NULL), BATON_OK);
	cr_assert(strncmp(baton_resource_get()->service_name, "unknown_service:", 16) ==
	          0);
	baton_fini(100);
}

Test(setup, code_service_name_and_attributes_win)
{
	setenv("OTEL_SERVICE_NAME", "from-env", 1);
	baton_kv kv[] = {BATON_KV_STR("team", "infra"), BATON_KV_INT("shard", 7)};
	baton_options o = {.size = sizeof(o),
	                   .service_name = "from-code",
	                   .resource_attrs = kv,
	                   .nresource_attrs = 2};
	cr_assert_eq(baton_init(&o), BATON_OK);
	cr_assert_str_eq(baton_resource_get()->service_name, "from-code");
	cr_assert_str_eq(res_attr("team"), "infra");
	cr_assert_str_eq(res_attr("shard"), "7");
	baton_fini(100);
}

static int warnings;
static char last_warning[256];
static void capture_log(void *arg, baton_log_level lvl, const char *msg)
{
	(void)arg;
	if (lvl >= BATON_LOG_WARN) {
		warnings++;
		snprintf(last_warning, sizeof(last_warning), "%s", msg);
	}
}

Test(setup, log_hook_receives_warnings)
{
	baton_set_log(BATON_LOG_WARN, capture_log, NULL);
	setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "-3", 1);
	cr_assert_eq(baton_init(NULL), BATON_OK);
	cr_assert_geq(warnings, 1);
	cr_assert(strstr(last_warning, "OTEL_SPAN_LINK_COUNT_LIMIT") != NULL);
	baton_fini(100);
	baton_set_log(BATON_LOG_WARN, NULL, NULL);
}

/* ---- samplers as the tracer uses them ---- */

Test(sampled, unsampled_root_has_no_ids_and_children_follow_it, .fini = fini_only)
{
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_off(), &pb),
	             BATON_OK);
	tu_memory_exporter *m = tu_init_memory(pb, 8);
	baton_tracer *t = baton_tracer_get("t", NULL);
	baton_span r = baton_span_start(t, "r");
	cr_assert_not(baton_span_is_recording(r));
	baton_span_context c;
	baton_span_get_context(r, &c);
	cr_assert_not(baton_span_context_is_valid(&c));
	cr_assert(c.state & BATON_CTX_DECIDED);
	cr_assert_not(baton_span_context_is_sampled(&c));
	uint32_t tok = baton_span_attach(r);
	baton_span child = baton_span_start(t, "child");
	cr_assert_not(baton_span_is_recording(child));
	baton_span_detach(tok);
	baton_span_end(child);
	baton_span_end(r);
	cr_assert_eq(tu_memory_exporter_count(m), 0);
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_unsampled, 2);
}

Test(sampled, propagate_unsampled_ids_gives_unsampled_spans_ids, .fini = fini_only)
{
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_off(),
	                   .propagate_unsampled_ids = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_span r = baton_span_start(baton_tracer_get("t", NULL), "r");
	cr_assert_not(baton_span_is_recording(r));
	baton_span_context c;
	baton_span_get_context(r, &c);
	cr_assert(baton_span_context_is_valid(&c));
	cr_assert_not(baton_span_context_is_sampled(&c));
	baton_span_end(r);
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_live, 0);
}

Test(sampled, fanout_keep_probability_scales_sample_rate, .fini = fini_only)
{
	tu_memory_exporter *m = tu_init_memory(baton_sampler_always_on(), 8);
	baton_span_start_opts o = {.fanout_keep_probability = 0.001};
	baton_span s = baton_span_start_ex(baton_tracer_get("t", NULL), "s", &o);
	cr_assert(baton_span_is_recording(s));
	baton_span_end(s);
	tu_memory_span ms;
	tu_memory_exporter_get(m, 0, &ms);
	cr_assert_float_eq(ms.sample_rate, 1000.0, 1e-6);
	cr_assert(ms.context.state & BATON_CTX_HAS_TH);
	cr_assert_float_eq(baton_span_context_adjusted_count(&ms.context), 1000.0, 1e-3);
}

Test(sampled, remote_parent_threshold_and_tracestate_carry_over, .fini = fini_only)
{
	baton_sampler pb;
	baton_sampler_parentbased(baton_sampler_always_off(), &pb);
	tu_memory_exporter *m = tu_init_memory(pb, 8);
	baton_span_context parent = {
	    .trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM,
	    .state = BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_HAS_TH,
	    .threshold = baton_threshold_from_probability(0.01),
	    .tracestate = "vendor=abc"};
	tu_hex("4bf92f3577b34da6a3ce929d0e0e4736", parent.trace_id, 16);
	tu_hex("00f067aa0ba902b7", parent.span_id, 8);
	baton_span_start_opts o = {.parent = &parent, .kind = BATON_SPAN_KIND_SERVER};
	baton_span s = baton_span_start_ex(baton_tracer_get("t", NULL), "s", &o);
	cr_assert(baton_span_is_recording(s),
	          "parentbased follows a sampled remote parent");
	baton_span_end(s);
	tu_memory_span ms;
	tu_memory_exporter_get(m, 0, &ms);
	cr_assert_float_eq(ms.sample_rate, 100.0, 1e-6);
	cr_assert_str_eq(ms.tracestate, "vendor=abc");
	cr_assert(ms.parent.state & BATON_CTX_REMOTE);
}

/* ---- strings from outside: well-formed UTF-8, and the remote share ---- */

Test(strings, ill_formed_utf8_never_leaves_a_span, .fini = held_fini)
{
	tu_held_init(baton_sampler_always_on(), NULL);
	baton_span_context parent = {.trace_flags = BATON_FLAG_SAMPLED,
	                             .state = BATON_CTX_VALID | BATON_CTX_REMOTE,
	                             .tracestate = "v=\xff\xfe"};
	tu_hex("4bf92f3577b34da6a3ce929d0e0e4736", parent.trace_id, 16);
	tu_hex("00f067aa0ba902b7", parent.span_id, 8);
	baton_span x = baton_span_start(baton_tracer_get("t", NULL), "x");
	baton_span_context xc;
	baton_span_get_context(x, &xc);
	xc.tracestate = "w=\xc0\x80";
	const char *arr[] = {"ok", "bad\xed\xa0\x80"};
	baton_kv kv[] = {
	    BATON_KV_STR("k\x80", "v\xe2\x82"),
	    {"arr", {.type = BATON_VALUE_STRING_ARRAY, .u.sa = arr, .len = 2}}};
	baton_span_start_opts o = {.parent = &parent, .attrs = kv, .nattrs = 2};
	baton_span s = baton_span_start_ex(baton_tracer_get("t", NULL), "na\xc3me", &o);
	baton_span_set_str(s, "key\xf5", "value\xc3\x28");
	baton_span_set_int(s, "int\xff", 1);
	baton_span_set_strn(s, "cut", "\xe2\x82\xac\xe2\x82", 5);
	baton_span_add_event(s, "ev\xfe", 0, kv, 2);
	baton_span_add_link(s, &xc, kv, 1);
	baton_span_set_status(s, BATON_STATUS_ERROR, "why\xc0");
	baton_span_end(x);
	baton_span_end(s);
	const baton_span_data *d = tu_held();
	cr_assert_not_null(d);
	cr_assert(tu_span_utf8_ok(d));
	cr_assert_str_eq(d->name, "na\xef\xbf\xbdme");
	cr_assert_str_eq(tu_attr_str(d, "key\xef\xbf\xbd"), "value\xef\xbf\xbd(");
	cr_assert_str_eq(tu_attr_str(d, "k\xef\xbf\xbd"), "v\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_str_eq(tu_attr_str(d, "cut"), "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert(tu_has_attr(d, "int\xef\xbf\xbd"));
	cr_assert_str_eq(d->status_message, "why\xef\xbf\xbd");
	cr_assert_eq(d->nevents, 1);
	cr_assert_eq(d->nlinks, 1);
	cr_assert_eq(d->dropped_attrs, 0);
}

/* 512 characters: four members of 128, 127, 127 and 127 characters. */
static void max_tracestate(char *out)
{
	const size_t len[] = {128, 127, 127, 127};
	size_t o = 0;
	for (int m = 0; m < 4; m++) {
		if (m > 0)
			out[o++] = ',';
		size_t start = o;
		o += (size_t)sprintf(out + o, "vendor%d=", m);
		while (o - start < len[m])
			out[o++] = (char)('a' + m);
	}
	out[o] = '\0';
	cr_assert_eq(o, BATON_TRACESTATE_MAX_LEN);
}

/* A consumer span as baton::nng makes one, under a remote parent. */
static baton_span consumer(const char *tracestate, const baton_span_context *links,
                           size_t nlinks)
{
	static baton_span_context parent;
	parent = (baton_span_context){.trace_flags = BATON_FLAG_SAMPLED,
	                              .state = BATON_CTX_VALID | BATON_CTX_REMOTE,
	                              .tracestate = tracestate};
	tu_hex("4bf92f3577b34da6a3ce929d0e0e4736", parent.trace_id, 16);
	tu_hex("00f067aa0ba902b7", parent.span_id, 8);
	baton_span_start_opts o = {.parent = &parent,
	                           .kind = BATON_SPAN_KIND_CONSUMER,
	                           .links = links,
	                           .nlinks = nlinks};
	baton_span s = baton_span_start_ex(baton_tracer_get("t", NULL),
	                                   "orders.created process", &o);
	baton_span_set_str(s, "messaging.system", "nng");
	baton_span_set_str(s, "messaging.operation.type", "process");
	baton_span_set_str(s, "messaging.operation.name", "process");
	baton_span_set_str(s, "messaging.destination.name", "orders.created");
	baton_span_set_int(s, "messaging.message.body.size", 1234);
	baton_span_set_int(s, "messaging.batch.message_count", (int64_t)nlinks);
	return s;
}

static void assert_consumer_kept(const baton_span_data *d)
{
	cr_assert_not_null(d);
	cr_assert_str_eq(d->name, "orders.created process");
	const char *want[] = {"messaging.system",
	                      "messaging.operation.type",
	                      "messaging.operation.name",
	                      "messaging.destination.name",
	                      "messaging.message.body.size",
	                      "messaging.batch.message_count"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(tu_has_attr(d, want[i]), "%s dropped", want[i]);
	cr_assert_eq(d->dropped_attrs, 0);
	cr_assert(tu_span_utf8_ok(d));
}

Test(strings, maximal_remote_tracestate_is_kept_whole_by_default, .fini = held_fini)
{
	char ts[BATON_TRACESTATE_SIZE];
	max_tracestate(ts);
	tu_held_init(baton_sampler_always_on(), NULL);
	baton_span_end(consumer(ts, NULL, 0));
	const baton_span_data *d = tu_held();
	assert_consumer_kept(d);
	cr_assert_str_eq(d->context.tracestate, ts);
}

Test(strings, maximal_remote_tracestate_never_pushes_out_name_or_attributes,
     .fini = held_fini)
{
	char ts[BATON_TRACESTATE_SIZE];
	max_tracestate(ts);
	/* 896 bytes: the name, the messaging attributes and SampleRate (535
	 * bytes) fit after the cut tracestate, not after a whole one. */
	baton_limits l = {.span_arena_bytes = 896};
	tu_held_init(baton_sampler_always_on(), &l);
	baton_span_end(consumer(ts, NULL, 0));
	const baton_span_data *d = tu_held();
	assert_consumer_kept(d);
	/* Cut by whole members, from the right, to the remote share (3/8). */
	cr_assert_not_null(d->context.tracestate);
	size_t n = strlen(d->context.tracestate);
	cr_assert_leq(n + 1, 896 / 8 * 3);
	cr_assert_eq(n, 128 + 1 + 127);
	cr_assert(strncmp(d->context.tracestate, ts, n) == 0);
}

Test(strings, link_tracestates_never_push_out_name_or_attributes, .fini = held_fini)
{
	char ts[BATON_TRACESTATE_SIZE];
	max_tracestate(ts);
	baton_span_context links[8];
	for (int i = 0; i < 8; i++) {
		links[i] =
		    (baton_span_context){.trace_flags = BATON_FLAG_SAMPLED,
		                         .state = BATON_CTX_VALID | BATON_CTX_REMOTE,
		                         .tracestate = ts};
		memset(links[i].trace_id, i + 1, 16);
		memset(links[i].span_id, i + 1, 8);
	}
	tu_held_init(baton_sampler_always_on(), NULL);
	baton_span_end(consumer(ts, links, 8));
	const baton_span_data *d = tu_held();
	assert_consumer_kept(d);
	cr_assert_eq(d->nlinks, 8, "links stay, without what the share cannot hold");
	cr_assert_eq(d->dropped_links, 0);
	cr_assert_str_eq(d->context.tracestate, ts);
}

/* A kind that is none of the five is INTERNAL: exporters write only kinds
 * the OTLP and Jaeger formats know (a negative one took ten bytes in OTLP). */
Test(span, a_value_that_is_no_kind_is_internal)
{
	const int odd[] = {-1, 6, 0x7fffffff};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		baton_span_start_opts o = {.kind = (baton_span_kind)odd[i]};
		baton_span_end(baton_span_start_ex(tracer, "odd", &o));
	}
	baton_span_start_opts o = {.kind = BATON_SPAN_KIND_SERVER};
	baton_span_end(baton_span_start_ex(tracer, "server", &o));
	cr_assert_eq(tu_memory_exporter_count(mem), 4);
	for (size_t i = 0; i < 4; i++) {
		tu_memory_span m;
		cr_assert_eq(tu_memory_exporter_get(mem, i, &m), BATON_OK);
		cr_assert_eq(m.kind,
		             i < 3 ? BATON_SPAN_KIND_INTERNAL : BATON_SPAN_KIND_SERVER,
		             "span %zu: kind %d", i, (int)m.kind);
	}
}
