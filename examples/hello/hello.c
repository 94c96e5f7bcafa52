/*
 * hello: the smallest baton program. It records a parent span with two
 * children into the in-memory exporter and prints what was captured.
 *   build/bin/hello
 */
#include <baton/baton.h>
#include <getopt.h>
#include <stdio.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: hello [--help]\n"
	           "Records a span with two children in memory and prints them.\n"
	           "  -h, --help  this text\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		default: /* getopt_long named the option on stderr */
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hello: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	baton_exporter exp;
	baton_memory_exporter *mem;
	baton_processor proc;

	/* Spans end into a processor; the simple one exports on the spot. */
	if (baton_memory_exporter_create(16, &exp, &mem) != BATON_OK ||
	    baton_simple_processor_create(exp, &proc) != BATON_OK)
		return 1;
	baton_options opts = {.size = sizeof(opts), .service_name = "hello"};
	opts.processors = &proc;
	opts.nprocessors = 1;
	baton_err rv = baton_init(&opts);
	if (rv != BATON_OK) {
		fprintf(stderr, "hello: baton_init: %s\n", baton_strerror(rv));
		return 1;
	}

	baton_tracer *tracer = baton_tracer_get("hello", "1.0");
	baton_span root = baton_span_start(tracer, "handle request");
	uint32_t tok = baton_span_attach(root); /* children of root from here */
	for (int i = 0; i < 2; i++) {
		baton_span child = baton_span_start(tracer, "step");
		baton_span_set_int(child, "step.index", i);
		baton_span_end(child);
	}
	baton_span_detach(tok);
	baton_span_end(root);

	size_t n = baton_memory_exporter_count(mem);
	for (size_t i = 0; i < n; i++) {
		baton_memory_span s;
		char tid[33], sid[17], pid[17];
		baton_memory_exporter_get(mem, i, &s);
		baton_hex_encode(s.context.trace_id, 16, tid);
		baton_hex_encode(s.context.span_id, 8, sid);
		baton_hex_encode(s.parent.span_id, 8, pid);
		printf("%-16s trace=%s span=%s parent=%s\n", s.name, tid, sid, pid);
	}
	/* With OTEL_SDK_DISABLED=true tracing is off: no span, and that is fine. */
	size_t want = baton_is_enabled() ? 3 : 0;
	baton_fini(1000);
	printf("%zu spans\n", n);
	return n == want ? 0 : 1;
}
