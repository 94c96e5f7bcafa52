/*
 * No sampler splits a trace: a child started inside an unsampled span either
 * is not sampled or keeps the trace's id. With traceidratio(0.25) a child
 * used to get a new trace id and its own coin flip (orphan roots).
 */
#include <baton/baton.h>
#include <baton/sampling.h>
#include <criterion/criterion.h>
#include <string.h>

#include "testutil.h"

/* A user's sampler through the public ops table: samples everything named "child". */
static void child_lover(void *arg, const baton_sampling_params *p,
                        baton_sampling_result *r)
{
	(void)arg;
	bool child = p->name != NULL && strcmp(p->name, "child") == 0;
	r->decision = child ? BATON_SAMPLING_RECORD_AND_SAMPLE : BATON_SAMPLING_DROP;
	r->has_threshold = false;
}
static const baton_sampler_ops child_lover_ops = {.size = sizeof(baton_sampler_ops),
                                                  .name = "child_lover",
                                                  .should_sample = child_lover};

enum { PAIRS = 400 };

/*
 * Starts PAIRS root+child pairs (the child inside the root, through the
 * current span) and checks every exported child: its trace is a root's, never
 * a new one. Returns how many children were exported.
 */
static size_t run_pairs(baton_sampler sampler, bool keep_ids)
{
	baton_exporter exp;
	tu_memory_exporter *mem;
	baton_processor proc;
	cr_assert_eq(tu_memory_exporter_create(2 * PAIRS, &exp, &mem), BATON_OK);
	cr_assert_eq(baton_simple_processor_create(exp, &proc), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = sampler,
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .propagate_unsampled_ids = keep_ids,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t = baton_tracer_get("orphans", NULL);
	static uint8_t root_trace[PAIRS][16];
	for (int i = 0; i < PAIRS; i++) {
		baton_span root = baton_span_start(t, "root");
		baton_span_context rc;
		memset(&rc, 0, sizeof(rc));
		baton_span_get_context(root, &rc);
		memcpy(root_trace[i], rc.trace_id, 16);
		uint32_t tok = baton_span_attach(root);
		baton_span child = baton_span_start(t, "child");
		baton_span_context cc;
		memset(&cc, 0, sizeof(cc));
		if (baton_span_get_context(child, &cc) == BATON_OK &&
		    baton_span_context_is_sampled(&cc))
			cr_assert_arr_eq(cc.trace_id, rc.trace_id, 16,
			                 "a sampled child left its parent's trace");
		baton_span_end(child);
		baton_span_detach(tok);
		baton_span_end(root);
	}
	baton_force_flush(1000);
	size_t children = 0;
	for (size_t i = 0; i < tu_memory_exporter_count(mem); i++) {
		tu_memory_span s;
		cr_assert_eq(tu_memory_exporter_get(mem, i, &s), BATON_OK);
		if (strcmp(s.name, "child") != 0)
			continue;
		children++;
		cr_assert(baton_span_context_is_valid(&s.parent), "an orphan root");
		bool found = false;
		for (int k = 0; k < PAIRS && !found; k++)
			found = memcmp(root_trace[k], s.context.trace_id, 16) == 0;
		cr_assert(found, "a child with a trace id of its own");
	}
	baton_fini(1000);
	return children;
}

static baton_sampler ratio(double r)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_traceidratio(r, &s), BATON_OK);
	return s;
}

static baton_sampler parentbased(baton_sampler root)
{
	baton_sampler s;
	cr_assert_eq(baton_sampler_parentbased(root, &s), BATON_OK);
	return s;
}

Test(sampling_orphans, traceidratio_children_follow_their_root)
{
	for (int ids = 0; ids < 2; ids++) {
		size_t n = run_pairs(ratio(0.25), ids);
		/* The same trace id gives the same consistent decision: ~100 of 400. */
		cr_assert(n > 50 && n < 160, "children %zu", n);
	}
}

Test(sampling_orphans, every_built_in_sampler_keeps_children_in_their_trace)
{
	for (int ids = 0; ids < 2; ids++) {
		run_pairs(baton_sampler_always_on(), ids);
		run_pairs(baton_sampler_always_off(), ids);
		run_pairs(parentbased(baton_sampler_always_on()), ids);
		run_pairs(parentbased(baton_sampler_always_off()), ids);
		run_pairs(parentbased(ratio(0.25)), ids);
		baton_sampler rl;
		cr_assert_eq(baton_sampler_rate_limiting(50, &rl), BATON_OK);
		run_pairs(rl, ids);
		baton_operation_probability op = {.operation = "child",
		                                  .probability = 1.0};
		baton_per_operation_options po = {.size = sizeof(po),
		                                  .default_probability = 0.1,
		                                  .operations = &op,
		                                  .noperations = 1};
		baton_sampler per;
		cr_assert_eq(baton_sampler_per_operation(&po, &per), BATON_OK);
		run_pairs(per, ids);
		baton_dynamic_options dopt = {.size = sizeof(dopt),
		                              .target_per_sec = 100};
		baton_sampler dyn;
		cr_assert_eq(baton_sampler_dynamic(ratio(0.5), &dopt, &dyn), BATON_OK);
		run_pairs(dyn, ids);
		baton_sampler sw;
		cr_assert_eq(baton_sampler_switchable(ratio(0.3), &sw), BATON_OK);
		run_pairs(sw, ids);
	}
}

/* A user's sampler that samples every child and no root: without ids there is no
 * trace to keep, so no child; with ids every child stays in its root's trace. */
Test(sampling_orphans, custom_samplers_cannot_make_orphan_roots)
{
	baton_sampler custom = {&child_lover_ops, NULL};
	cr_assert_eq(run_pairs(custom, false), 0);
	cr_assert_eq(run_pairs(custom, true), PAIRS);
}
