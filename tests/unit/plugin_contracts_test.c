/*
 * The contracts between the SDK and its plug-ins: a sampler's behaviour is
 * what its capability flags declare, never what its name suggests, and any
 * processor's counters reach baton_sdk_stats_get() through its stats hook.
 */
#include <baton/baton.h>
#include <criterion/criterion.h>
#include <string.h>

#include "memory_exporter.h"

static void sample_all(void *arg, const baton_sampling_params *p,
                       baton_sampling_result *r)
{
	(void)arg;
	(void)p;
	r->decision = BATON_SAMPLING_RECORD_AND_SAMPLE;
}

/* Samples everything, under names the built-in samplers use. */
static const baton_sampler_ops named_always_off = {sizeof(baton_sampler_ops),
                                                   "always_off", sample_all, NULL, 0};
static const baton_sampler_ops named_parentbased = {sizeof(baton_sampler_ops),
                                                    "parentbased", sample_all, NULL, 0};
/* An old plug-in: its ops end before the flags field, so none is read. */
static const baton_sampler_ops old_layout = {offsetof(baton_sampler_ops, flags), "old",
                                             sample_all, NULL,
                                             BATON_SAMPLER_NEVER_SAMPLES};

static tu_memory_exporter *start(const baton_sampler_ops *ops)
{
	baton_exporter exp;
	tu_memory_exporter *mem;
	baton_processor proc;
	cr_assert_eq(tu_memory_exporter_create(64, &exp, &mem), BATON_OK);
	cr_assert_eq(baton_simple_processor_create(exp, &proc), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = {ops, NULL},
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	return mem;
}

Test(sampler_flags, a_sampler_named_always_off_that_samples_is_obeyed)
{
	tu_memory_exporter *mem = start(&named_always_off);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "root");
	cr_assert(baton_span_is_recording(s));
	baton_span_end(s);
	cr_assert_eq(tu_memory_exporter_count(mem), 1);
	baton_fini(1000);
}

Test(sampler_flags, a_sampler_named_parentbased_decides_under_an_unsampled_parent)
{
	tu_memory_exporter *mem = start(&named_parentbased);
	baton_span_context parent = {.trace_flags = 0, .state = BATON_CTX_VALID};
	memset(parent.trace_id, 0x11, sizeof(parent.trace_id));
	memset(parent.span_id, 0x22, sizeof(parent.span_id));
	baton_span_start_opts so = {.parent = &parent};
	baton_span s = baton_span_start_ex(baton_tracer_get("t", NULL), "child", &so);
	cr_assert(baton_span_is_recording(s), "the sampler said sample");
	baton_span_context got;
	cr_assert_eq(baton_span_get_context(s, &got), BATON_OK);
	cr_assert_eq(memcmp(got.trace_id, parent.trace_id, 16), 0,
	             "a child of the parent");
	baton_span_end(s);
	cr_assert_eq(tu_memory_exporter_count(mem), 1);
	baton_fini(1000);
}

Test(sampler_flags, flags_beyond_an_old_ops_size_are_not_read)
{
	tu_memory_exporter *mem = start(&old_layout);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "root");
	cr_assert(baton_span_is_recording(s));
	baton_span_end(s);
	cr_assert_eq(tu_memory_exporter_count(mem), 1);
	baton_fini(1000);
}

Test(sampler_flags, the_built_in_samplers_declare_what_they_do)
{
	baton_sampler off = baton_sampler_always_off();
	cr_assert(off.ops->flags & BATON_SAMPLER_NEVER_SAMPLES);
	baton_sampler on = baton_sampler_always_on();
	cr_assert_eq(on.ops->flags, 0);
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &pb), BATON_OK);
	cr_assert(pb.ops->flags & BATON_SAMPLER_FOLLOWS_PARENT);
	cr_assert_eq(pb.ops->flags & BATON_SAMPLER_NEVER_SAMPLES, 0);
	baton_sampler_destroy(pb);
}

/* A processor of the user's own that drops every span it gets and says so. */
struct dropper {
	uint64_t got;
};
static void dropper_on_end(void *arg, const baton_span_data *span)
{
	((struct dropper *)arg)->got++;
	baton_span_data_release(span);
}
static void dropper_stats(void *arg, baton_processor_stats *out)
{
	out->spans_dropped_queue_full = ((struct dropper *)arg)->got;
	out->spans_exported = 7;
}
static const baton_processor_ops dropper_ops = {.size = sizeof(baton_processor_ops),
                                                .name = "dropper",
                                                .on_end = dropper_on_end,
                                                .stats = dropper_stats};

Test(processor_stats, a_user_processor_reports_its_drops_through_the_hook)
{
	static struct dropper d;
	baton_processor proc = {&dropper_ops, &d};
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t = baton_tracer_get("t", NULL);
	for (int i = 0; i < 5; i++)
		baton_span_end(baton_span_start(t, "s"));
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_dropped_queue_full, 5);
	cr_assert_eq(st.spans_exported, 7);
	baton_fini(1000);
}
