/*
 * examples/actors, run as a user runs it (fresh folder, embedded default),
 * and its baton-traces.json read back: one trace per round and no other
 * root (unsampled deliveries' handlers start no traces), no orphans,
 * request -> reply parentage across actors, and SampleRate on the kept
 * deliveries of the group fanout.
 */
#include "examples.h"
#include "testutil.h"

#include <baton/baton.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void enter_tmpdir(void)
{
	tu_example_dir_enter(dir, sizeof(dir), "baton-actors");
}

static void leave_tmpdir(void)
{
	tu_example_dir_leave(dir);
}

TestSuite(actors, .init = enter_tmpdir, .fini = leave_tmpdir, .timeout = 120);

static int run(const char *args, char *out, size_t cap)
{
	return tu_example_run("actors", args, out, cap);
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_t *tag(json_t *span, const char *key)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(span, "tags"), i, t)
	{
		if (strcmp(str(t, "key"), key) == 0)
			return json_object_get(t, "value");
	}
	return NULL;
}

static double tag_num(json_t *span, const char *key)
{
	json_t *v = tag(span, key);
	cr_assert_not_null(v, "%s has no %s", str(span, "operationName"), key);
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static bool named(json_t *span, const char *name)
{
	return span != NULL && strcmp(str(span, "operationName"), name) == 0;
}

struct counts {
	size_t kept, replies;
};

/* Checks one round's trace; adds what it found to c. */
static void check_round(json_t *t, long group, double keep, struct counts *c)
{
	size_t i;
	json_t *s, *root = NULL, *fanout = NULL;
	size_t kept = 0;
	json_array_foreach(json_object_get(t, "spans"), i, s)
	{
		const char *pid = tu_span_parent(s);
		if (pid == NULL) {
			cr_assert_null(root, "one root per trace");
			root = s;
			cr_assert(strncmp(str(s, "operationName"), "round ", 6) == 0,
			          "%s", str(s, "operationName"));
			continue;
		}
		json_t *p = tu_trace_span(t, pid);
		cr_assert_not_null(p, "%s is an orphan", str(s, "operationName"));
		const char *name = str(s, "operationName");
		if (strncmp(name, "process ", 8) == 0) {
			/* every delivery is the child of its send */
			char want[64];
			snprintf(want, sizeof(want), "send %s", name + 8);
			cr_assert(named(p, want), "%s under %s", name,
			          str(p, "operationName"));
		}
		if (named(s, "send group.members")) {
			cr_assert_null(fanout);
			fanout = s;
			cr_assert(strncmp(str(p, "operationName"), "round ", 6) == 0,
			          "the fanout is the round's child");
			cr_assert_eq((long)tag_num(s, "baton.fanout.recipients"), group);
		} else if (named(s, "process group.members")) {
			cr_assert(fabs(tag_num(s, "SampleRate") - 1 / keep) < 1e-6 / keep,
			          "SampleRate %g, want %g", tag_num(s, "SampleRate"),
			          1 / keep);
			kept++;
		} else if (named(s, "apply update")) {
			cr_assert(named(p, "process group.members"),
			          "members' work only under kept deliveries");
		} else if (named(s, "send actor.request")) {
			cr_assert(named(p, "process actor.kick"));
		} else if (named(s, "send actor.reply")) {
			cr_assert(named(p, "process actor.request"));
		} else if (named(s, "process actor.reply")) {
			/* reply <- send reply <- process request (another actor) */
			json_t *req = tu_trace_span(t, tu_span_parent(p));
			cr_assert(named(req, "process actor.request"));
			cr_assert_neq(
			    (long)tag_num(s, "actor.id"), (long)tag_num(req, "actor.id"),
			    "request and reply are handled by different actors");
			json_t *kick = tu_trace_span(
			    t, tu_span_parent(tu_trace_span(t, tu_span_parent(req))));
			cr_assert(named(kick, "process actor.kick"));
			cr_assert_eq((long)tag_num(s, "actor.id"),
			             (long)tag_num(kick, "actor.id"),
			             "the reply comes back to the actor that asked");
			c->replies++;
		}
	}
	cr_assert_not_null(root);
	cr_assert_not_null(fanout);
	cr_assert_eq((size_t)tag_num(fanout, "baton.fanout.kept"), kept);
	c->kept += kept;
}

Test(actors, rounds_are_whole_traces_across_actors_with_fanout_sample_rate)
{
	char out[4096];
	const long rounds = 4, group = 1000, pairs = 5;
	cr_assert_eq(run("--actors 3000 --group 1000 --rounds 4 --pairs 5 --threads 3",
	                 out, sizeof(out)),
	             0, "%s", out);
	cr_assert(strstr(out, "4060 deliveries") != NULL, "%s", out);
	cr_assert(strstr(out, "20 replies, 0 dropped") != NULL, "%s", out);
	json_t *doc = tu_traces_load("baton-traces.json");
	json_t *data = json_object_get(doc, "data");
	cr_assert_eq((long)json_array_size(data), rounds,
	             "one trace per round: no handler started a root");
	double keep = baton_fanout_keep_probability(NULL, (uint64_t)group);
	struct counts c = {0};
	size_t i;
	json_t *t;
	json_array_foreach(data, i, t) check_round(t, group, keep, &c);
	cr_assert_eq((long)c.replies, rounds * pairs);
	double n = (double)(rounds * group), sd = sqrt(n * keep * (1 - keep));
	cr_assert(fabs((double)c.kept - n * keep) <= 5 * sd + 1, "kept %zu of %.0f",
	          c.kept, n);
	json_decref(doc);
}

Test(actors, bad_arguments_are_refused)
{
	char out[256];
	cr_assert_eq(run("--actors 1", out, sizeof(out)), 2);
	cr_assert_eq(run("--group 10 --actors 5", out, sizeof(out)), 2);
}
