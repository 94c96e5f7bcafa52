/*
 * hello: the smallest baton program. It records a parent span with two
 * children and prints them from an exporter of its own: a const
 * baton_exporter_ops table is all a plug-in needs.
 *   build/bin/hello
 */
#include <baton/baton.h>
#include <getopt.h>
#include <stdio.h>

/* The exporter: prints each span it gets and counts them. */
static baton_export_result print_spans(void *arg, const baton_span_data *const *spans,
                                       size_t n)
{
	size_t *count = arg;
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *s = spans[i];
		char tid[33], sid[17], pid[17];
		baton_hex_encode(s->context.trace_id, 16, tid);
		baton_hex_encode(s->context.span_id, 8, sid);
		baton_hex_encode(s->parent.span_id, 8, pid);
		printf("%-16s trace=%s span=%s parent=%s\n", s->name, tid, sid, pid);
	}
	*count += n;
	return (baton_export_result){.err = BATON_OK};
}

static const baton_exporter_ops print_ops = {
    .size = sizeof(print_ops), .name = "print", .export_spans = print_spans};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hello [--help]\n"
	        "Records a span with two children and prints them as they are exported.\n"
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

	size_t n = 0;
	baton_exporter exp = {&print_ops, &n};
	baton_processor proc;

	/* Spans end into a processor; the simple one exports on the spot. */
	if (baton_simple_processor_create(exp, &proc) != BATON_OK)
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

	/* With OTEL_SDK_DISABLED=true tracing is off: no span, and that is fine. */
	size_t want = baton_is_enabled() ? 3 : 0;
	baton_fini(1000);
	printf("%zu spans\n", n);
	return n == want ? 0 : 1;
}
