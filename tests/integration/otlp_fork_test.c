/* fork() with a batch processor and an OTLP/HTTP exporter holding a live connection. */
#include "otlp_receiver.h"

#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include "testutil.h"
#include <unistd.h>

static void make_spans(const char *name, int n)
{
	baton_tracer *t = baton_tracer_get("fork", NULL);
	for (int i = 0; i < n; i++)
		baton_span_end(baton_span_start(t, name));
}

Test(otlp_fork, child_exports_its_own_spans_and_the_parent_keeps_its_connection)
{
	TU_SKIP_THREADED_FORK();
	tu_otlp_receiver *rcv = tu_otlp_start();
	cr_assert_not_null(rcv);
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = tu_otlp_url(rcv),
	                              .timeout_ms = 5000,
	                              .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&oo, &e), BATON_OK);
	baton_batch_options bo = {.size = sizeof(bo), .schedule_delay_ms = 60000};
	baton_processor p = tu_init_batch(e, &bo);

	/* The parent exports once, so it holds a kept-alive connection. */
	make_spans("warm", 3);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_otlp_wait_spans(rcv, 3, 5000), 3);
	/* These stay queued across the fork: only the parent may send them. */
	make_spans("parent", 10);

	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int code = 0;
		baton_batch_stats s;
		baton_batch_processor_stats(p, &s);
		if (s.discarded_at_fork != 10)
			code |= 1;
		make_spans("child", 5);
		if (baton_force_flush(5000) != BATON_OK)
			code |= 2;
		baton_batch_processor_stats(p, &s);
		if (s.spans_exported != 5)
			code |= 4;
		baton_fini(5000);
		_exit(code);
	}
	int code = tu_wait_child(pid);
	cr_assert_eq(code, 0, "child failed checks 0x%x", code);

	make_spans("after", 2);
	cr_assert_eq(baton_force_flush(5000), BATON_OK);
	cr_assert_eq(tu_otlp_wait_spans(rcv, 20, 5000), 20);
	cr_assert_eq(tu_otlp_spans_named(rcv, "warm"), 3);
	cr_assert_eq(tu_otlp_spans_named(rcv, "parent"), 10, "queued spans sent once");
	cr_assert_eq(tu_otlp_spans_named(rcv, "child"), 5);
	cr_assert_eq(tu_otlp_spans_named(rcv, "after"), 2);
	tu_otlp_counts c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.bad_bodies, 0,
	             "the parent's stream was not disturbed by the child");
	cr_assert_eq(c.connections, 2,
	             "the parent kept its connection; the child opened one");
	baton_batch_stats s;
	baton_batch_processor_stats(p, &s);
	cr_assert_eq(s.spans_exported, 15);
	cr_assert_eq(s.dropped_export_failure, 0);
	baton_fini(5000);
	tu_otlp_stop(rcv);
}
