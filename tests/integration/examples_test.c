/*
 * The examples, run as a user runs them (in a fresh folder, no collector,
 * so with their embedded default), and their Jaeger JSON files read back:
 * trace shapes, parent links across processes, fanout sampling within
 * binomial bounds, SampleRate, and the summary line.
 */
#include "examples.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static void enter_tmpdir(void)
{
	tu_example_dir_enter(dir, sizeof(dir), "baton-examples");
}

static void leave_tmpdir(void)
{
	tu_example_dir_leave(dir);
}

TestSuite(examples, .init = enter_tmpdir, .fini = leave_tmpdir, .timeout = 120);

static const char *tag_str(json_t *span, const char *key, char *buf, size_t cap)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(span, "tags"), i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "key")), key) != 0)
			continue;
		json_t *v = json_object_get(t, "value");
		if (json_is_string(v))
			snprintf(buf, cap, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(buf, cap, "%g", json_real_value(v));
		else if (json_is_boolean(v))
			snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
		return buf;
	}
	return NULL;
}

static const char *op(json_t *span)
{
	return json_string_value(json_object_get(span, "operationName"));
}

static const char *service_of(json_t *trace, json_t *span)
{
	json_t *p =
	    json_object_get(json_object_get(trace, "processes"),
	                    json_string_value(json_object_get(span, "processID")));
	return json_string_value(json_object_get(p, "serviceName"));
}

/*
 * Checks every trace of a guild run: one ingress root, one producer child
 * with the fanout size, consumers that are children of the producer and
 * carry SampleRate = 1/keep. Returns the number of consumer spans.
 */
static size_t check_guild_traces(json_t *doc, size_t messages, long members, double keep,
                                 const char *consumer_service)
{
	size_t i, j, consumers = 0;
	json_t *t, *s;
	char buf[64];
	cr_assert_eq(json_array_size(json_object_get(doc, "data")), messages);
	json_array_foreach(json_object_get(doc, "data"), i, t)
	{
		json_t *ingress = NULL, *producer = NULL;
		json_array_foreach(json_object_get(t, "spans"), j, s)
		{
			if (strcmp(op(s), "ingress guild.message") == 0) {
				cr_assert_null(ingress, "one ingress span per trace");
				ingress = s;
				cr_assert_null(tu_span_parent(s),
				               "the ingress span is the root");
			} else if (strcmp(op(s), "send sessions") == 0) {
				cr_assert_null(producer, "one producer span per trace");
				producer = s;
			}
		}
		cr_assert_not_null(ingress);
		cr_assert_not_null(producer);
		cr_assert_str_eq(tu_span_parent(producer),
		                 json_string_value(json_object_get(ingress, "spanID")));
		cr_assert_str_eq(tag_str(producer, "span.kind", buf, sizeof(buf)),
		                 "producer");
		cr_assert_eq(
		    atol(tag_str(producer, "baton.fanout.recipients", buf, sizeof(buf))),
		    members);
		json_array_foreach(json_object_get(t, "spans"), j, s)
		{
			if (s == ingress || s == producer)
				continue;
			cr_assert_str_eq(op(s), "process sessions");
			cr_assert_str_eq(tag_str(s, "span.kind", buf, sizeof(buf)),
			                 "consumer");
			cr_assert_str_eq(
			    tu_span_parent(s),
			    json_string_value(json_object_get(producer, "spanID")),
			    "a delivery is the child of the fanout's producer span");
			cr_assert_not_null(tu_trace_span(t, tu_span_parent(s)));
			cr_assert_str_eq(service_of(t, s), consumer_service);
			const char *sr = tag_str(s, "SampleRate", buf, sizeof(buf));
			cr_assert_not_null(sr, "every kept delivery carries SampleRate");
			cr_assert_float_eq(atof(sr), 1.0 / keep, 0.02 / keep);
			consumers++;
		}
	}
	return consumers;
}

/* n Bernoulli(p) draws: within 5 standard deviations of n p. */
static void assert_binomial(size_t got, double n, double p)
{
	double mean = n * p, sd = sqrt(n * p * (1 - p));
	cr_assert(fabs((double)got - mean) <= 5 * sd + 1,
	          "%zu kept of %.0f at p=%.4f: expected %.1f +- %.1f", got, n, p, mean,
	          5 * sd);
}

Test(examples, guild_fanout_keeps_a_tenth_of_100_recipients_in_one_process)
{
	char out[4096];
	cr_assert_eq(tu_example_run("guild_fanout",
	                            "--members 100 --messages 20 --sample 1", out,
	                            sizeof(out)),
	             0, "%s", out);
	cr_assert(strstr(out, "20 messages to 100 members") != NULL, "%s", out);
	cr_assert(strstr(out, "2000 deliveries") != NULL, "%s", out);
	cr_assert(strstr(out, "dropped 0") != NULL, "%s", out);
	json_t *doc = tu_traces_load("baton-traces.json");
	size_t kept = check_guild_traces(doc, 20, 100, 0.1, "guild");
	assert_binomial(kept, 2000, 0.1);
	json_decref(doc);
}

Test(examples, guild_fanout_links_traces_across_worker_processes)
{
	char out[4096];
	cr_assert_eq(
	    tu_example_run("guild_fanout",
	                   "--members 1000 --messages 10 --processes 2 --sample 1", out,
	                   sizeof(out)),
	    0, "%s", out);
	cr_assert(strstr(out, "10000 deliveries") != NULL, "%s", out);
	json_t *doc = tu_traces_load("baton-traces.json");
	/* keep(1000) on the curve 1:1,100:0.1,10000:0.001: slope -1 from 100 on, so 0.01.
	 */
	double keep = 0.01;
	size_t kept = check_guild_traces(doc, 10, 1000, keep, "session");
	assert_binomial(kept, 10000, keep);
	json_decref(doc);
	cr_assert_neq(access("baton-traces.json.session-0.json", F_OK), 0,
	              "the workers' files were merged and removed");
}

Test(examples, guild_fanout_over_tcp)
{
	char out[4096], args[128];
	snprintf(
	    args, sizeof(args),
	    "--members 50 --messages 4 --processes 2 --sample 1 --url tcp://127.0.0.1:%d",
	    20000 + (int)(getpid() % 20000));
	cr_assert_eq(tu_example_run("guild_fanout", args, out, sizeof(out)), 0, "%s",
	             out);
	cr_assert(strstr(out, "200 deliveries") != NULL, "%s", out);
	json_t *doc = tu_traces_load("baton-traces.json");
	check_guild_traces(doc, 4, 50, baton_fanout_keep_probability(NULL, 50),
	                   "session");
	json_decref(doc);
}

Test(examples, guild_fanout_unsampled_delivers_everything_and_traces_nothing)
{
	char out[4096];
	cr_assert_eq(tu_example_run("guild_fanout",
	                            "--members 200 --messages 10 --sample 0", out,
	                            sizeof(out)),
	             0, "%s", out);
	cr_assert(strstr(out, "2000 deliveries, 0 traced") != NULL, "%s", out);
	json_t *doc = tu_traces_load("baton-traces.json");
	cr_assert_eq(json_array_size(json_object_get(doc, "data")), 0);
	json_decref(doc);
}

Test(examples, guild_fanout_flags)
{
	char out[4096];
	cr_assert_eq(tu_example_run("guild_fanout", "--help", out, sizeof(out)), 0);
	cr_assert(strstr(out, "--members") != NULL);
	cr_assert_eq(tu_example_run("guild_fanout", "--members 0", out, sizeof(out)), 2);
	cr_assert_eq(tu_example_run("guild_fanout", "--sample 1.5", out, sizeof(out)), 2);
	cr_assert_eq(tu_example_run("guild_fanout", "--bogus", out, sizeof(out)), 2);
}

/*
 * A bad --url used to hang the guild for minutes (every broadcast waited on
 * a worker that never came up) and leave a zombie worker: now it is refused
 * with the value named, and a worker that cannot start ends the run at once.
 */
Test(examples, guild_fanout_refuses_a_bad_url_and_a_worker_that_cannot_start)
{
	char out[4096];
	cr_assert_eq(tu_example_run_err("guild_fanout",
	                                "--processes 1 --url tcp://127.0.0.1:99999", out,
	                                sizeof(out)),
	             2);
	cr_assert(strstr(out, "tcp://127.0.0.1:99999") != NULL, "%s", out);
	cr_assert_eq(
	    tu_example_run_err("guild_fanout", "--url garbage", out, sizeof(out)), 2);
	cr_assert(strstr(out, "garbage") != NULL, "%s", out);
	cr_assert(strstr(out, "--processes") != NULL, "%s", out);
	cr_assert_eq(tu_example_run_err("guild_fanout", "--processes 2 --url garbage",
	                                out, sizeof(out)),
	             2);
	cr_assert(strstr(out, "garbage") != NULL, "%s", out);

	/* A path no worker can listen on: a clear error within seconds, children reaped.
	 * This process adopts whatever guild_fanout leaves behind (a subreaper),
	 * so a worker it did not reap, dead or alive, is found here and nowhere
	 * else: other tests' processes do not count. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	time_t t0 = time(NULL);
	cr_assert_eq(tu_example_run_err("guild_fanout",
	                                "--processes 2 --members 10 --messages 3 --url "
	                                "ipc:///nonexistent-dir/guild",
	                                out, sizeof(out)),
	             1);
	cr_assert_lt(time(NULL) - t0, 20);
	cr_assert(strstr(out, "did not start") != NULL, "%s", out);
	/* popen's shell waited for guild_fanout; a worker it left would now be
	 * this process's child: exited (a zombie) or still running. */
	int st;
	pid_t left = waitpid(-1, &st, WNOHANG);
	cr_assert(left == -1 && errno == ECHILD,
	          "guild_fanout left a worker behind (waitpid: %d, %s)", (int)left,
	          left > 0 ? "exited, unreaped" : "still running");
}

Test(examples, pingpong_crosses_two_services)
{
	char out[4096], buf[64];
	cr_assert_eq(tu_example_run("pingpong", "--rounds 3", out, sizeof(out)), 0, "%s",
	             out);
	cr_assert(strstr(out, "pingpong: 3 rounds, ok") != NULL, "%s", out);
	/* The server's file was merged into the client's: one file, whole traces. */
	cr_assert_neq(access("baton-traces.json.pong.json", F_OK), 0);
	json_t *doc = tu_traces_load("baton-traces.json");
	json_t *data = json_object_get(doc, "data");
	cr_assert_eq(json_array_size(data), 3);
	size_t i, j;
	json_t *t, *s;
	json_array_foreach(data, i, t)
	{
		/* ping: round, request, reply's consumer; pong: request's consumer,
		 * reply. */
		cr_assert_eq(json_array_size(json_object_get(t, "spans")), 5);
		int ping = 0, pong = 0;
		json_array_foreach(json_object_get(t, "spans"), j, s)
		{
			const char *svc = service_of(t, s);
			ping += strcmp(svc, "ping") == 0;
			pong += strcmp(svc, "pong") == 0;
			/* Every span but the round has its parent in the trace. */
			if (strcmp(op(s), "ping round") == 0)
				cr_assert_null(tu_span_parent(s));
			else
				cr_assert_not_null(tu_trace_span(t, tu_span_parent(s)),
				                   "%s has no parent", op(s));
			/* A consumer's parent is a producer in the other process. */
			if (strcmp(tag_str(s, "span.kind", buf, sizeof(buf)),
			           "consumer") == 0) {
				json_t *p = tu_trace_span(t, tu_span_parent(s));
				cr_assert_str_eq(
				    tag_str(p, "span.kind", buf, sizeof(buf)),
				    "producer");
				cr_assert_str_neq(service_of(t, p), service_of(t, s));
			}
		}
		cr_assert_eq(ping, 3);
		cr_assert_eq(pong, 2);
	}
	json_decref(doc);
}

Test(examples, pipeline_chains_five_spans_per_item)
{
	char out[4096];
	cr_assert_eq(tu_example_run("pipeline", "--items 4", out, sizeof(out)), 0, "%s",
	             out);
	cr_assert(strstr(out, "4 items in, 4 through transform, 4 at the sink") != NULL,
	          "%s", out);
	json_t *doc = tu_traces_load("baton-traces.json");
	size_t i, j;
	json_t *t, *s;
	static const char *const chain[] = {"source item", "send transform",
	                                    "process transform", "send sink",
	                                    "process sink"};
	cr_assert_eq(json_array_size(json_object_get(doc, "data")), 4);
	json_array_foreach(json_object_get(doc, "data"), i, t)
	{
		cr_assert_eq(json_array_size(json_object_get(t, "spans")), 5);
		/* Walk up from the sink: each hop's parent is the one before it. */
		json_t *at = NULL;
		json_array_foreach(json_object_get(t, "spans"), j, s)
		{
			if (strcmp(op(s), "process sink") == 0)
				at = s;
		}
		for (int h = 4; h >= 0; h--) {
			cr_assert_not_null(at, "hop %s missing", chain[h]);
			cr_assert_str_eq(op(at), chain[h]);
			at = tu_trace_span(t, tu_span_parent(at));
		}
		cr_assert_null(at, "the source span is the root");
	}
	json_decref(doc);
}

/*
 * The command lines. Every example answers --help with its usage on stdout
 * and exit status 0, and refuses what it does not understand with status 2
 * and a message on stderr that names the offending text: an unknown option,
 * an argument after the options, a value out of range. Before, hello ran
 * whatever it was given, pingpong and pipeline ran with extra arguments, and
 * a bad value said only "Invalid argument" or nothing at all. Each case is
 * checked and reported on its own (cr_expect), so one run lists them all.
 */
static const char *const every_example[] = {"hello",        "pingpong",    "pipeline",
                                            "guild_fanout", "w3c_service", "actors"};

Test(examples, every_example_prints_its_usage_for_help)
{
	char out[4096];
	for (size_t i = 0; i < sizeof(every_example) / sizeof(every_example[0]); i++) {
		const char *prog = every_example[i];
		cr_expect_eq(tu_example_run(prog, "--help", out, sizeof(out)), 0,
		             "%s --help", prog);
		cr_expect(strncmp(out, "usage: ", 7) == 0, "%s --help printed: %s", prog,
		          out);
		cr_expect(strstr(out, "--help") != NULL, "%s: %s", prog, out);
	}
}

Test(examples, every_example_refuses_an_unknown_option_and_names_it)
{
	char err[4096];
	for (size_t i = 0; i < sizeof(every_example) / sizeof(every_example[0]); i++) {
		const char *prog = every_example[i];
		cr_expect_eq(
		    tu_example_run_err(prog, "--no-such-option", err, sizeof(err)), 2,
		    "%s: %s", prog, err);
		cr_expect(strstr(err, "--no-such-option") != NULL, "%s: %s", prog, err);
		cr_expect(strstr(err, "usage: ") != NULL, "%s: %s", prog, err);
	}
}

Test(examples, every_example_refuses_an_extra_argument_and_names_it)
{
	/* Valid options first, so only the extra argument is wrong. */
	static const char *const cases[][2] = {
	    {"hello", "stray-word"},
	    {"pingpong", "--rounds 1 stray-word"},
	    {"pipeline", "--items 1 stray-word"},
	    {"guild_fanout", "--members 10 --messages 1 stray-word"},
	    {"w3c_service", "--port 0 stray-word"},
	    {"actors", "--actors 10 --group 5 stray-word"},
	};
	char err[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(
		    tu_example_run_err(cases[i][0], cases[i][1], err, sizeof(err)), 2,
		    "%s %s: %s", cases[i][0], cases[i][1], err);
		cr_expect(strstr(err, "\"stray-word\"") != NULL, "%s %s: %s", cases[i][0],
		          cases[i][1], err);
	}
}

Test(examples, every_example_refuses_a_bad_value_and_names_option_and_value)
{
	/* program, arguments, the option and the value the message must name */
	static const char *const cases[][4] = {
	    {"hello", "--help=yes", "--help", NULL}, /* takes no value at all */
	    {"pingpong", "--rounds many", "--rounds", "\"many\""},
	    {"pingpong", "--rounds 0", "--rounds", "\"0\""},
	    {"pingpong", "--rounds 1 --url garbage", "--url", "\"garbage\""},
	    {"pingpong", "--rounds 1 --url tcp://127.0.0.1:99999", "--url",
	     "\"tcp://127.0.0.1:99999\""},
	    {"pipeline", "--items -3", "--items", "\"-3\""},
	    {"pipeline", "--items ''", "--items", "\"\""},
	    {"guild_fanout", "--members 0", "--members", "\"0\""},
	    {"actors", "--actors 1", "--actors", "\"1\""},
	    {"actors", "--threads 4x", "--threads", "\"4x\""},
	    {"actors", "--rounds ''", "--rounds", "\"\""},
	    {"guild_fanout", "--messages ' -5'", "--messages", "\" -5\""},
	    {"guild_fanout", "--messages 2 --rate ''", "--rate", "\"\""},
	    {"guild_fanout", "--messages 2 --rate 1e-30", "--rate", "\"1e-30\""},
	    {"guild_fanout", "--processes 65", "--processes", "\"65\""},
	    {"guild_fanout", "--threads 0", "--threads", "\"0\""},
	    {"guild_fanout", "--messages 2 --sample ''", "--sample", "\"\""},
	    {"guild_fanout", "--sample 1.5", "--sample", "\"1.5\""},
	    {"guild_fanout", "--members 10 --messages 1 --processes 2 --threads 3",
	     "--threads", "3"},
	    {"guild_fanout", "--members 3 --messages 1 --processes 4", "--processes 4",
	     "--members 3"},
	    {"w3c_service", "--port 70000", "--port", "\"70000\""},
	    {"w3c_service", "--port ''", "--port", "\"\""},
	    {"w3c_service", "--port 0 --call-timeout-ms soon", "--call-timeout-ms",
	     "\"soon\""},
	};
	char err[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *prog = cases[i][0], *args = cases[i][1];
		cr_expect_eq(tu_example_run_err(prog, args, err, sizeof(err)), 2,
		             "%s %s: %s", prog, args, err);
		cr_expect(strstr(err, cases[i][2]) != NULL, "%s %s: %s", prog, args, err);
		if (cases[i][3] != NULL)
			cr_expect(strstr(err, cases[i][3]) != NULL, "%s %s: %s", prog,
			          args, err);
	}
}
