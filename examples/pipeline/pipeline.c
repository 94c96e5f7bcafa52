/*
 * pipeline: items flow through three stages connected by push/pull
 * sockets (source -> transform -> sink), each stage an actor on its own
 * thread. Every item is one trace; each hop is a PRODUCER span at the
 * sender and a CONSUMER span at the receiver, and a stage's send happens
 * inside its consumer span, so the trace follows the item:
 *
 *   source item                        (root)
 *   └─ send transform                  PRODUCER
 *      └─ process transform            CONSUMER
 *         └─ send sink                 PRODUCER
 *            └─ process sink           CONSUMER
 *
 *   build/bin/pipeline --items 10
 */
#include <baton/baton.h>
#include <baton/auto.h>
#include <baton/nng.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stage {
	const char *name;
	nng_socket in,
	    out; /* in: pull (none for the source); out: push (none for the sink) */
	bool has_in, has_out;
	long items;
	long handled;
};

struct hop {
	struct stage *st;
	nng_msg *msg;
};

static int handle(void *arg)
{
	struct hop *h = arg;
	char *body = nng_msg_body(h->msg);
	size_t len = nng_msg_len(h->msg);
	if (!h->st->has_out) {
		/* The sink: the end of the line. */
		baton_span_set_int(baton_span_current(), "pipeline.item.length",
		                   (int64_t)len);
		nng_msg_free(h->msg);
		return 0;
	}
	/* The transform stage's work: upper-case the text, then pass it on. */
	for (size_t i = 0; i < len; i++)
		body[i] = (char)toupper((unsigned char)body[i]);
	/* Sent inside the consumer span: the next hop continues this item's trace. */
	int rv = baton_nng_sendmsg(h->st->out, h->msg, 0, NULL);
	if (rv != 0)
		nng_msg_free(h->msg);
	return rv;
}

static void *stage_run(void *arg)
{
	struct stage *st = arg;
	for (long i = 0; i < st->items; i++) {
		struct hop h = {st, NULL};
		baton_nng_recv_info info;
		if (baton_nng_recvmsg(st->in, &h.msg, 0, NULL, &info) != 0)
			break;
		baton_nng_process(&info, handle, &h);
		st->handled++;
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pipeline [--items N]\n"
	           "Sends N items through source -> transform -> sink, one trace per "
	           "item.\n"
	           "  -i, --items N  items to send, 1 to 10000000 (default 5)\n"
	           "  -h, --help     this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"items", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long items = 5;
	int c, rv;
	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'i':
			errno = 0;
			items = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || items < 1 ||
			    items > 10000000) {
				fprintf(stderr,
				        "pipeline: bad value \"%s\" for --items: want 1 "
				        "to 10000000\n",
				        optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default: /* getopt_long named the option on stderr */
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipeline: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* Exporters from the environment, else a console tree and a Jaeger JSON file. */
	baton_options o = {.size = sizeof(o), .service_name = "pipeline"};
	setenv("BATON_CONSOLE_MAX_TRACES", "2", 0);
	baton_err be = baton_auto_init_default(&o, "console,jaeger-json");
	if (be != BATON_OK && be != BATON_EDISABLED) {
		fprintf(stderr, "pipeline: %s\n", baton_strerror(be));
		return 1;
	}

	/* source --push--> transform --push--> sink, over inproc. */
	struct stage transform_st = {
	    .name = "transform", .items = items, .has_in = true, .has_out = true};
	struct stage sink_st = {.name = "sink", .items = items, .has_in = true};
	nng_socket src_out;
	if ((rv = nng_push0_open(&src_out)) != 0 ||
	    (rv = nng_pull0_open(&transform_st.in)) != 0 ||
	    (rv = nng_push0_open(&transform_st.out)) != 0 ||
	    (rv = nng_pull0_open(&sink_st.in)) != 0 ||
	    (rv = baton_nng_listen(transform_st.in, "inproc://transform", NULL, 0)) !=
	        0 ||
	    (rv = baton_nng_listen(sink_st.in, "inproc://sink", NULL, 0)) != 0 ||
	    (rv = baton_nng_dial(src_out, "inproc://transform", NULL, 0)) != 0 ||
	    (rv = baton_nng_dial(transform_st.out, "inproc://sink", NULL, 0)) != 0) {
		fprintf(stderr, "pipeline: nng: %s\n", nng_strerror(rv));
		return 1;
	}
	/* Destinations name the spans: "send transform", "process sink". */
	baton_nng_socket_set_name(src_out, "transform");
	baton_nng_socket_set_name(transform_st.in, "transform");
	baton_nng_socket_set_name(transform_st.out, "sink");
	baton_nng_socket_set_name(sink_st.in, "sink");
	pthread_t t1, t2;
	pthread_create(&t1, NULL, stage_run, &transform_st);
	pthread_create(&t2, NULL, stage_run, &sink_st);

	baton_tracer *tracer = baton_tracer_get("pipeline", BATON_VERSION_STRING);
	for (long i = 0; i < items; i++) {
		char text[64];
		int len = snprintf(text, sizeof(text), "item %ld", i);
		baton_span item = baton_span_start(tracer, "source item");
		baton_span_set_int(item, "pipeline.item", i);
		uint32_t tok = baton_span_attach(item);
		rv = baton_nng_send(src_out, text, (size_t)len + 1, 0, NULL);
		baton_span_detach(tok);
		baton_span_end(item);
		if (rv != 0)
			fprintf(stderr, "pipeline: send: %s\n", nng_strerror(rv));
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	nng_close(src_out);
	nng_close(transform_st.in);
	nng_close(transform_st.out);
	nng_close(sink_st.in);
	baton_fini(10000);
	nng_fini();
	printf("pipeline: %ld items in, %ld through transform, %ld at the sink\n", items,
	       transform_st.handled, sink_st.handled);
	return sink_st.handled == items ? 0 : 1;
}
