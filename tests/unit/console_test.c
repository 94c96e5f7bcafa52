/* The console exporter: trace trees a person reads in a terminal. */
#include <baton/baton.h>
#include <baton/console.h>
#include <criterion/criterion.h>
#include "testutil.h"
#include "cs.h"
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fake {
	baton_span_data d;
	baton_attr attrs[4];
} fake;

static const baton_resource res = {NULL, 0, "svc"};

/* A span of trace t, id s, parent p (0: root), start/end in µs from a base. */
static void fake_init(fake *f, uint8_t t, uint8_t s, uint8_t p, const char *name,
                      uint64_t start_us, uint64_t end_us)
{
	memset(f, 0, sizeof(*f));
	memset(f->d.context.trace_id, t, 16);
	memset(f->d.context.span_id, s, 8);
	f->d.context.state = BATON_CTX_VALID;
	f->d.context.trace_flags = 1;
	if (p != 0) {
		memset(f->d.parent.trace_id, t, 16);
		memset(f->d.parent.span_id, p, 8);
		f->d.parent.state = BATON_CTX_VALID;
	}
	f->d.name = name;
	f->d.kind = BATON_SPAN_KIND_INTERNAL;
	f->d.start_unix_ns = 1700000000000000000ull + start_us * 1000;
	f->d.end_unix_ns = 1700000000000000000ull + end_us * 1000;
	f->d.resource = &res;
}

static void fake_attr(fake *f, const char *key, baton_value v)
{
	baton_attr *a = &f->attrs[f->d.nattrs];
	a->key = key;
	a->value = v;
	if (f->d.nattrs > 0)
		f->attrs[f->d.nattrs - 1].next = a;
	else
		f->d.attrs = a;
	f->d.nattrs++;
}

/* Output captured in memory. */
static char *out_buf;
static size_t out_len;
static FILE *out;

static void open_out(void)
{
	out = open_memstream(&out_buf, &out_len);
	cr_assert_not_null(out);
}

static const char *text(void)
{
	fflush(out);
	return out_buf;
}

static void close_out(void)
{
	fclose(out);
	free(out_buf);
	out_buf = NULL;
}

static baton_exporter make(uint32_t max_traces, baton_console_color color, bool all)
{
	baton_console_options o = {.size = sizeof(o),
	                           .stream = out,
	                           .color = color,
	                           .max_traces = max_traces,
	                           .all_attributes = all};
	baton_exporter e;
	cr_assert_eq(baton_console_exporter_create(&o, &e), BATON_OK);
	return e;
}

static void export_all(baton_exporter e, fake *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *p = &f[i].d;
		cr_assert_eq(e.ops->export_spans(e.arg, &p, 1).err, BATON_OK);
	}
}

static void finish(baton_exporter e)
{
	cr_assert_eq(e.ops->shutdown(e.arg, 100), BATON_OK);
	e.ops->destroy(e.arg);
}

/* Index of the line that contains needle (0-based), or -1. */
static int line_of(const char *s, const char *needle)
{
	const char *hit = strstr(s, needle);
	if (hit == NULL)
		return -1;
	int n = 0;
	for (const char *p = s; p < hit; p++)
		n += *p == '\n';
	return n;
}

/* Leading spaces of the line containing needle. */
static int indent_of(const char *s, const char *needle)
{
	const char *hit = strstr(s, needle);
	cr_assert_not_null(hit, "no \"%s\" in:\n%s", needle, s);
	const char *bol = hit;
	while (bol > s && bol[-1] != '\n')
		bol--;
	int n = 0;
	while (bol[n] == ' ')
		n++;
	return n;
}

Test(console, three_levels_print_as_an_indented_tree_in_start_order)
{
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	fake f[5];
	/* Children end first, the root last, as they do in a program. */
	fake_init(&f[0], 1, 4, 2, "grandchild", 300, 400);
	fake_init(&f[1], 1, 3, 1, "second-child", 600, 900);
	fake_init(&f[2], 1, 2, 1, "first-child", 200, 500);
	fake_init(&f[3], 1, 5, 2, "early-grandchild", 250, 280);
	fake_init(&f[4], 1, 1, 0, "root-span", 100, 1100);
	f[4].d.kind = BATON_SPAN_KIND_SERVER;
	export_all(e, f, 4);
	cr_assert_eq(out_len, 0, "nothing is printed before the root ends");
	export_all(e, &f[4], 1);
	const char *s = text();
	cr_assert_eq(line_of(s, "trace 01010101010101010101010101010101"), 0, "%s", s);
	cr_assert(
	    strstr(s, "01010101010101010101010101010101  [svc]  5 spans  1.00 ms\n") !=
	        NULL,
	    "%s", s);
	cr_assert_eq(line_of(s, "root-span"), 1, "%s", s);
	cr_assert_eq(line_of(s, "first-child"), 2, "%s", s);
	cr_assert_eq(line_of(s, "early-grandchild"), 3, "%s", s);
	cr_assert_eq(line_of(s, "  grandchild"), 4, "%s", s);
	cr_assert_eq(line_of(s, "second-child"), 5, "%s", s);
	cr_assert_eq(indent_of(s, "root-span"), 0);
	cr_assert_eq(indent_of(s, "first-child"), 2);
	cr_assert_eq(indent_of(s, "early-grandchild"), 4);
	cr_assert_eq(indent_of(s, "second-child"), 2);
	cr_assert(strstr(s, "root-span  server  1.00 ms") != NULL, "%s", s);
	cr_assert(strstr(s, "first-child  internal  300.0 µs") != NULL, "%s", s);
	cr_assert_null(strstr(s, "\033["), "no colour when NEVER");
	finish(e);
	close_out();
}

Test(console, a_span_whose_parent_is_elsewhere_is_a_marked_root)
{
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	fake f[2];
	fake_init(&f[0], 2, 8, 7, "inner", 20, 30);
	fake_init(&f[1], 2, 7, 6, "process orders", 10, 50);
	f[1].d.parent.state |= BATON_CTX_REMOTE;
	f[1].d.kind = BATON_SPAN_KIND_CONSUMER;
	export_all(e, f, 2);
	const char *s = text();
	cr_assert(strstr(s, "^ process orders  consumer") != NULL, "%s", s);
	cr_assert(strstr(s, "(parent 0606060606060606 remote)") != NULL, "%s", s);
	cr_assert_eq(indent_of(s, "^ process orders"), 0);
	cr_assert_eq(indent_of(s, "inner"), 2, "%s", s);
	cr_assert_null(strstr(s, "^ inner"), "a child of a local span is no orphan");
	finish(e);
	close_out();
}

Test(console, spans_left_waiting_are_printed_at_flush_with_their_missing_parent)
{
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	fake f;
	fake_init(&f, 3, 9, 1, "late-child", 0, 5);
	export_all(e, &f, 1);
	cr_assert_eq(out_len, 0);
	cr_assert_eq(e.ops->force_flush(e.arg, 100), BATON_OK);
	const char *s = text();
	cr_assert(strstr(s, "^ late-child") != NULL, "%s", s);
	cr_assert(strstr(s, "(parent 0101010101010101 not here)") != NULL, "%s", s);
	/* A later block of the same trace says it continues. */
	fake g;
	fake_init(&g, 3, 1, 0, "the-root", 0, 10);
	export_all(e, &g, 1);
	s = text();
	cr_assert(strstr(s, "(continued)") != NULL, "%s", s);
	finish(e);
	close_out();
}

Test(console, durations_use_human_units)
{
	char b[32];
	cr_assert_str_eq(baton_console_format_duration(0, b, sizeof(b)), "0 ns");
	cr_assert_str_eq(baton_console_format_duration(850, b, sizeof(b)), "850 ns");
	cr_assert_str_eq(baton_console_format_duration(12500, b, sizeof(b)), "12.5 µs");
	cr_assert_str_eq(baton_console_format_duration(3200000, b, sizeof(b)), "3.20 ms");
	cr_assert_str_eq(baton_console_format_duration(999999, b, sizeof(b)), "1.00 ms");
	cr_assert_str_eq(baton_console_format_duration(1250000000, b, sizeof(b)),
	                 "1.250 s");
	cr_assert_str_eq(baton_console_format_duration(90000000000ull, b, sizeof(b)),
	                 "90.000 s");
	char tiny[4];
	cr_assert_str_eq(baton_console_format_duration(123456, tiny, sizeof(tiny)),
	                 "123");
}

Test(console, only_the_first_traces_print_then_a_count_of_the_rest)
{
	open_out();
	baton_exporter e = make(2, BATON_CONSOLE_COLOR_NEVER, false);
	fake f[5];
	for (int i = 0; i < 5; i++) {
		fake_init(&f[i], (uint8_t)(0x11 + i), 1, 0, "r", 0, 1);
	}
	export_all(e, f, 5);
	fake extra;
	fake_init(&extra, 0x15, 2, 1, "more-of-a-skipped-trace", 0, 1);
	export_all(e, &extra, 1);
	finish(e);
	const char *s = text();
	cr_assert(strstr(s, "trace 11111111") != NULL, "%s", s);
	cr_assert(strstr(s, "trace 12121212") != NULL, "%s", s);
	cr_assert_null(strstr(s, "trace 13131313"), "%s", s);
	cr_assert(strstr(s, "... 3 more traces (4 spans) not shown") != NULL, "%s", s);
	close_out();
}

/* A pseudo-terminal: the exporter writes to its slave side, the test reads the master. */
static FILE *open_pty(int *master)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(*master, 0);
	cr_assert_eq(grantpt(*master), 0);
	cr_assert_eq(unlockpt(*master), 0);
	int slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	cr_assert_geq(slave, 0);
	FILE *f = fdopen(slave, "w");
	cr_assert_not_null(f);
	cr_assert(isatty(fileno(f)));
	return f;
}

/* Reads what the terminal got (waits up to 2 s for the first bytes). */
static void read_pty(int master, char *buf, size_t cap)
{
	size_t n = 0;
	struct pollfd pfd = {master, POLLIN, 0};
	while (n + 1 < cap && poll(&pfd, 1, n == 0 ? 2000 : 50) > 0) {
		ssize_t r = read(master, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
}

static void print_error_span(FILE *stream, baton_console_color color)
{
	baton_console_options o = {.size = sizeof(o), .stream = stream, .color = color};
	baton_exporter e;
	cr_assert_eq(baton_console_exporter_create(&o, &e), BATON_OK);
	fake f;
	fake_init(&f, 4, 1, 0, "plain", 0, 1);
	f.d.status = BATON_STATUS_ERROR;
	f.d.status_message = "boom";
	export_all(e, &f, 1);
	finish(e);
}

Test(console, colour_on_a_terminal_unless_no_color_is_set)
{
	char got[4096];
	int master;
	unsetenv("NO_COLOR");
	unsetenv("BATON_CONSOLE_COLOR");
	setenv("TERM", "xterm", 1);
	FILE *tty = open_pty(&master);
	print_error_span(tty, BATON_CONSOLE_COLOR_AUTO);
	read_pty(master, got, sizeof(got));
	cr_assert(strstr(got, "\033[1;31mERROR: boom\033[0m") != NULL, "%s", got);
	fclose(tty);
	close(master);

	setenv("NO_COLOR", "1", 1);
	tty = open_pty(&master);
	print_error_span(tty, BATON_CONSOLE_COLOR_AUTO);
	read_pty(master, got, sizeof(got));
	cr_assert(strstr(got, "ERROR: boom") != NULL, "%s", got);
	cr_assert_null(strstr(got, "\033["), "NO_COLOR turns colour off: %s", got);
	fclose(tty);
	close(master);
	unsetenv("NO_COLOR");

	/* Not a terminal: no colour unless forced. */
	open_out();
	print_error_span(out, BATON_CONSOLE_COLOR_AUTO);
	cr_assert(strstr(text(), "ERROR: boom") != NULL, "%s", text());
	cr_assert_null(strstr(text(), "\033["), "%s", text());
	close_out();
	open_out();
	print_error_span(out, BATON_CONSOLE_COLOR_ALWAYS);
	cr_assert(strstr(text(), "\033[1;31mERROR: boom\033[0m") != NULL, "%s", text());
	close_out();
}

Test(console, key_attributes_by_default_all_with_the_option)
{
	fake f;
	fake_init(&f, 5, 1, 0, "send orders", 0, 2);
	f.d.kind = BATON_SPAN_KIND_PRODUCER;
	fake_attr(&f, "messaging.system",
	          (baton_value){BATON_VALUE_STRING, {.s = "nng"}, 3});
	fake_attr(&f, "SampleRate", (baton_value){BATON_VALUE_INT, {.i = 100}, 0});
	fake_attr(&f, "user.id", (baton_value){BATON_VALUE_STRING, {.s = "u42"}, 3});
	fake_attr(&f, "http.route", (baton_value){BATON_VALUE_STRING, {.s = "/a b"}, 4});
	baton_event ev = {NULL, "retry", f.d.start_unix_ns + 1000, NULL, 0, 0};
	f.d.events = &ev;
	f.d.nevents = 1;

	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	export_all(e, &f, 1);
	finish(e);
	const char *s = text();
	cr_assert(strstr(s, "messaging.system=nng SampleRate=100 http.route=\"/a b\"") !=
	              NULL,
	          "%s", s);
	cr_assert_null(strstr(s, "user.id"), "%s", s);
	cr_assert_null(strstr(s, "retry"), "%s", s);
	close_out();

	/* SampleRate=1 is the common case and not shown among key attributes. */
	f.attrs[1].value.u.i = 1;
	open_out();
	e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	export_all(e, &f, 1);
	finish(e);
	s = text();
	cr_assert(strstr(s, "messaging.system=nng http.route=\"/a b\"") != NULL, "%s", s);
	cr_assert_null(strstr(s, "SampleRate"), "%s", s);
	close_out();
	f.attrs[1].value.u.i = 100;

	open_out();
	e = make(0, BATON_CONSOLE_COLOR_NEVER, true);
	export_all(e, &f, 1);
	finish(e);
	s = text();
	cr_assert(strstr(s, "user.id=u42") != NULL, "%s", s);
	cr_assert(strstr(s, "· retry +1.0 µs") != NULL, "%s", s);
	cr_assert_eq(indent_of(s, "· retry"), 4, "%s", s);
	close_out();
}

Test(console, key_attributes_that_repeat_the_name_or_kind_are_left_out)
{
	fake f;
	fake_init(&f, 9, 1, 0, "send orders", 0, 2);
	f.d.kind = BATON_SPAN_KIND_PRODUCER;
	fake_attr(&f, "messaging.operation.name",
	          (baton_value){BATON_VALUE_STRING, {.s = "send"}, 4});
	fake_attr(&f, "messaging.operation.type",
	          (baton_value){BATON_VALUE_STRING, {.s = "send"}, 4});
	fake_attr(&f, "messaging.destination.name",
	          (baton_value){BATON_VALUE_STRING, {.s = "orders"}, 6});
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	export_all(e, &f, 1);
	finish(e);
	const char *s = text();
	cr_assert(
	    strstr(
	        s,
	        "send orders  producer  2.0 µs  messaging.destination.name=orders\n") !=
	        NULL,
	    "%s", s);
	close_out();

	/* Not redundant: shown. */
	f.d.kind = BATON_SPAN_KIND_CONSUMER;
	f.d.name = "publish orders";
	open_out();
	e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	export_all(e, &f, 1);
	finish(e);
	s = text();
	cr_assert(strstr(s, "messaging.operation.name=send messaging.operation.type=send "
	                    "messaging.destination.name=orders") != NULL,
	          "%s", s);
	close_out();

	/* All attributes: everything. */
	f.d.kind = BATON_SPAN_KIND_PRODUCER;
	f.d.name = "send orders";
	open_out();
	e = make(0, BATON_CONSOLE_COLOR_NEVER, true);
	export_all(e, &f, 1);
	finish(e);
	s = text();
	cr_assert(
	    strstr(s, "messaging.operation.name=send messaging.operation.type=send") !=
	        NULL,
	    "%s", s);
	close_out();
}

Test(console, control_characters_never_reach_the_terminal)
{
	fake f;
	fake_init(&f, 6, 1, 0, "evil\033[2Jname\n", 0, 1);
	static const char v[] = "a\x1b]0;x\x07\xff\xc2\x9b z";
	fake_attr(&f, "http.x",
	          (baton_value){BATON_VALUE_STRING, {.s = v}, sizeof(v) - 1});
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	export_all(e, &f, 1);
	finish(e);
	const char *s = text();
	cr_assert_null(strchr(s, '\033'), "%s", s);
	cr_assert_null(strchr(s, '\x07'), "%s", s);
	cr_assert_null(strstr(s, "\xc2\x9b"), "C1 controls are escaped too");
	cr_assert(strstr(s, "evil\\x1b[2Jname\\n") != NULL, "%s", s);
	cr_assert(strstr(s, "\\xff") != NULL, "%s", s);
	close_out();
}

Test(console, a_full_buffer_prints_the_oldest_trace_early)
{
	open_out();
	baton_console_options o = {.size = sizeof(o),
	                           .stream = out,
	                           .color = BATON_CONSOLE_COLOR_NEVER,
	                           .max_spans = 3};
	baton_exporter e;
	cr_assert_eq(baton_console_exporter_create(&o, &e), BATON_OK);
	fake f[4];
	for (int i = 0; i < 4; i++)
		fake_init(&f[i], (uint8_t)(0x21 + i), 2, 1, "waiting-child", 0, 1);
	export_all(e, f, 3);
	cr_assert_eq(out_len, 0);
	export_all(e, &f[3], 1);
	const char *s = text();
	cr_assert(strstr(s, "trace 21212121") != NULL, "%s", s);
	cr_assert_null(strstr(s, "trace 22222222"), "%s", s);
	finish(e);
	s = text();
	cr_assert(strstr(s, "trace 24242424") != NULL, "shutdown prints the rest: %s", s);
	close_out();
}

Test(console, sdk_spans_print_through_the_simple_processor)
{
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	baton_processor p;
	cr_assert_eq(baton_simple_processor_create(e, &p), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_tracer *t = baton_tracer_get("t", NULL);
	baton_span root = baton_span_start(t, "outer");
	uint32_t tok = baton_span_attach(root);
	baton_span child = baton_span_start(t, "inner");
	baton_span_end(child);
	baton_span_detach(tok);
	baton_span_end(root);
	const char *s = text();
	cr_assert(strstr(s, "outer  internal") != NULL, "%s", s);
	cr_assert_eq(indent_of(s, "inner"), 2, "%s", s);
	cr_assert_eq(baton_fini(100), BATON_OK);
	close_out();
}

Test(console, bad_arguments_are_rejected)
{
	baton_exporter e;
	baton_console_options small = {.size = 4};
	cr_assert_eq(baton_console_exporter_create(NULL, NULL), BATON_EINVAL);
	cr_assert_eq(baton_console_exporter_create(&small, &e), BATON_EINVAL);
	cr_assert_eq(BATON_CONSOLE_DEFAULT_MAX_TRACES, 50);
	cr_assert_eq(BATON_CONSOLE_DEFAULT_MAX_SPANS, 10000);
	cr_assert_eq(BATON_CONSOLE_UNLIMITED, UINT32_MAX);
	cr_assert_eq(baton_console_format_duration(5, NULL, 0), NULL);
}

Test(console, a_forked_child_does_not_print_the_parents_spans_again)
{
	TU_SKIP_THREADED_FORK();
	open_out();
	baton_exporter e = make(0, BATON_CONSOLE_COLOR_NEVER, false);
	fake waiting;
	fake_init(&waiting, 7, 2, 1, "parents-waiting-child", 0, 1);
	export_all(e, &waiting, 1);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fake mine;
		fake_init(&mine, 8, 1, 0, "childs-root", 0, 1);
		const baton_span_data *p = &mine.d;
		e.ops->export_spans(e.arg, &p, 1);
		e.ops->shutdown(e.arg, 100);
		fflush(out);
		int bad = strstr(out_buf, "childs-root") == NULL ||
		          strstr(out_buf, "parents-waiting-child") != NULL;
		_exit(bad);
	}
	cr_assert_eq(tu_wait_child(pid), 0, "child output was wrong");
	finish(e);
	cr_assert(strstr(text(), "parents-waiting-child") != NULL, "%s", text());
	close_out();
}

/*
 * Trace ids that differ only in bytes 2-7 (which the old per-exporter hash
 * left out, so every one fell into one chain) cost the trace table a few
 * probes each, both when traces past the cap are only remembered and when
 * every trace is printed and the oldest are forgotten.
 */
static void flood(uint32_t max_traces)
{
	enum { N = 40000, B = 1000 };
	static fake f[B];
	const baton_span_data *batch[B];
	FILE *devnull = fopen("/dev/null", "w");
	cr_assert_not_null(devnull);
	baton_console_options o = {.size = sizeof(o),
	                           .stream = devnull,
	                           .color = BATON_CONSOLE_COLOR_NEVER,
	                           .max_traces = max_traces};
	baton_exporter e;
	cr_assert_eq(baton_console_exporter_create(&o, &e), BATON_OK);
	for (uint64_t k = 0; k < N / B; k++) {
		for (uint64_t i = 0; i < B; i++) {
			uint64_t n = k * B + i;
			fake_init(&f[i], 0xab, 1, 0, "op", 0, 1);
			for (int j = 0; j < 6; j++)
				f[i].d.context.trace_id[2 + j] =
				    (uint8_t)(n >> (8 * (5 - j)));
			batch[i] = &f[i].d;
		}
		cr_assert_eq(e.ops->export_spans(e.arg, batch, B).err, BATON_OK);
	}
	uint64_t ops = 0, probes = 0;
	bt_cs_table_work(e.arg, &ops, &probes);
	cr_assert_geq(ops, N, "every span looks its trace up");
	cr_assert_lt((double)probes / (double)ops, 3.0,
	             "%llu probes for %llu table operations", (unsigned long long)probes,
	             (unsigned long long)ops);
	finish(e);
	fclose(devnull);
}

Test(console, trace_ids_differing_only_in_bytes_2_to_7_past_the_cap_stay_cheap)
{
	flood(0);
}

Test(console, trace_ids_differing_only_in_bytes_2_to_7_printed_and_forgotten_stay_cheap)
{
	flood(BATON_CONSOLE_UNLIMITED);
}
