/*
 * pingpong: request/reply between two processes, one trace per round that
 * crosses both services. pingpong starts the "pong" server as a child
 * process itself, then sends --rounds requests from the "ping" client.
 *
 *   ping: round N                      (root, service "ping")
 *   └─ send pong                       PRODUCER, request
 *      └─ process pong                 CONSUMER (service "pong")
 *         └─ send pong                 PRODUCER, the reply continues the trace
 *            └─ process pong           CONSUMER (service "ping")
 *
 *   build/bin/pingpong --rounds 5
 *   build/bin/pingpong --rounds 5 --url tcp://127.0.0.1:5599
 */
#include <baton/baton.h>
#include <baton/auto.h>
#include <baton/jaeger_json.h>
#include <baton/nng.h>
#include <errno.h>
#include <getopt.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * Exporters from the environment, else a console tree and a Jaeger JSON
 * file; the server writes its own file (<file>.pong.json), so the two
 * processes never write one file at once, and the client merges it into
 * its own at the end (Jaeger UI keeps one copy of each trace id).
 */
static int tracing_start(const char *service, bool server)
{
	baton_options o = {.size = sizeof(o), .service_name = service};
	if (server) {
		const char *f = getenv("BATON_JAEGER_JSON_FILE");
		char path[300];
		snprintf(path, sizeof(path), "%s.pong.json",
		         f && *f ? f : "baton-traces.json");
		setenv("BATON_JAEGER_JSON_FILE", path, 1);
	}
	setenv("BATON_CONSOLE_MAX_TRACES", "2", 0);
	baton_err rv = baton_auto_init_default(&o, "console,jaeger-json");
	if (rv != BATON_OK && rv != BATON_EDISABLED) {
		fprintf(stderr, "pingpong: %s: %s\n", service, baton_strerror(rv));
		return -1;
	}
	return 0;
}

/* The server's handler runs inside the consumer span of the request. */
struct request {
	nng_socket sock;
	nng_msg *msg;
	int rv;
};

static int answer(void *arg)
{
	struct request *r = arg;
	/* The reply is sent inside the consumer span: it continues the request's trace.
	 */
	nng_msg_append(r->msg, " -> pong", 8);
	r->rv = baton_nng_sendmsg(r->sock, r->msg, 0, NULL);
	if (r->rv != 0)
		nng_msg_free(r->msg);
	return r->rv;
}

static int serve(const char *url, long rounds)
{
	nng_socket s;
	int rv;
	if (tracing_start("pong", true) != 0)
		return 1;
	if ((rv = nng_rep0_open(&s)) != 0 ||
	    (rv = baton_nng_listen(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "pingpong: pong: %s: %s\n", url, nng_strerror(rv));
		return 1;
	}
	baton_nng_socket_set_name(s, "pong");
	for (long i = 0; i < rounds; i++) {
		baton_nng_recv_info info;
		struct request r = {.sock = s};
		if ((rv = baton_nng_recvmsg(s, &r.msg, 0, NULL, &info)) != 0)
			break;
		baton_nng_process(&info, answer, &r);
	}
	nng_close(s);
	baton_fini(10000);
	return rv == 0 ? 0 : 1;
}

static int ping(const char *url, long rounds)
{
	nng_socket s;
	int rv, ok = 0;
	baton_tracer *tracer = baton_tracer_get("pingpong", BATON_VERSION_STRING);
	if ((rv = nng_req0_open(&s)) != 0)
		return 1;
	baton_nng_socket_set_name(s, "pong");
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO,
	                  10000); /* a server that never answers: an error */
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 10000);
	/* The server may not be listening yet: the dial retries in the background. */
	if ((rv = baton_nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "pingpong: ping: %s: %s\n", url, nng_strerror(rv));
		return 1;
	}
	for (long i = 0; i < rounds; i++) {
		char text[64];
		snprintf(text, sizeof(text), "ping %ld", i);
		baton_span round = baton_span_start(tracer, "ping round");
		baton_span_set_int(round, "pingpong.round", i);
		uint32_t tok = baton_span_attach(round);
		nng_msg *reply = NULL;
		baton_nng_recv_info info;
		rv = baton_nng_send(s, text, strlen(text) + 1, 0, NULL);
		if (rv == 0)
			rv = baton_nng_recvmsg(s, &reply, 0, NULL, &info);
		baton_span_detach(tok);
		if (rv == 0) {
			printf("%s\n", (char *)nng_msg_body(reply));
			baton_span_end(info.span); /* the reply's consumer span */
			nng_msg_free(reply);
			ok++;
		} else {
			baton_span_set_status(round, BATON_STATUS_ERROR,
			                      nng_strerror(rv));
			fprintf(stderr, "pingpong: round %ld: %s\n", i, nng_strerror(rv));
		}
		baton_span_end(round);
	}
	nng_close(s);
	return ok == rounds ? 0 : 1;
}

/*
 * Checks --url before anything starts: both processes use it (the server
 * listens, the client dials), so it must be ipc://PATH or tcp://HOST:PORT.
 */
static bool url_ok(const char *url)
{
	nng_url *u = NULL;
	bool ok = false;
	if (nng_url_parse(&u, url) != 0) {
		fprintf(stderr, "pingpong: bad value \"%s\" for --url: not a URL\n", url);
		return false;
	}
	if (strcmp(u->u_scheme, "ipc") == 0) {
		ok = u->u_path != NULL && u->u_path[0] != '\0';
	} else if (strcmp(u->u_scheme, "tcp") == 0) {
		char *end = NULL;
		long port = u->u_port != NULL ? strtol(u->u_port, &end, 10) : -1;
		ok = u->u_hostname != NULL && u->u_hostname[0] != '\0' && end != NULL &&
		     *end == '\0' && port > 0 && port <= 65535;
	}
	if (!ok)
		fprintf(stderr,
		        "pingpong: bad value \"%s\" for --url: use ipc://PATH or "
		        "tcp://HOST:PORT\n",
		        url);
	nng_url_free(u);
	return ok;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pingpong [--rounds N] [--url URL]\n"
	           "Sends N requests to a pong server in a child process, one trace "
	           "per round.\n"
	           "  -r, --rounds N  requests to send, 1 to 1000000 (default 3)\n"
	           "  -u, --url URL   where the pong server listens: ipc://PATH or\n"
	           "                  tcp://HOST:PORT (default an ipc path in /tmp)\n"
	           "  -h, --help      this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rounds", required_argument, NULL, 'r'},
	    {"url", required_argument, NULL, 'u'},
	    {"serve", no_argument, NULL, 's'}, /* the child: be the pong server */
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long rounds = 3;
	char defurl[128];
	const char *url = NULL;
	bool server = false;
	int c;
	while ((c = getopt_long(argc, argv, "r:u:sh", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'r':
			errno = 0;
			rounds = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || rounds < 1 ||
			    rounds > 1000000) {
				fprintf(stderr,
				        "pingpong: bad value \"%s\" for --rounds: want "
				        "1 to 1000000\n",
				        optarg);
				return 2;
			}
			break;
		case 'u':
			url = optarg;
			break;
		case 's':
			server = true;
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
		fprintf(stderr, "pingpong: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (url != NULL && !url_ok(url))
		return 2;
	if (url == NULL) {
		snprintf(defurl, sizeof(defurl), "ipc:///tmp/baton-pingpong-%d",
		         (int)getpid());
		url = defurl;
	}
	if (server) {
		int src = serve(url, rounds);
		nng_fini();
		return src;
	}

	/* Start the pong server: this program again, with --serve. */
	char rbuf[32];
	snprintf(rbuf, sizeof(rbuf), "%ld", rounds);
	char *cargv[] = {"pingpong", "--serve", "--url", (char *)url,
	                 "--rounds", rbuf,      NULL};
	pid_t pid;
	char self[4096]; /* this program's file; see guild_fanout.c on why not
	                    /proc/self/exe */
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		perror("pingpong: readlink /proc/self/exe");
		return 1;
	}
	self[sl] = '\0';
	if (posix_spawn(&pid, self, NULL, NULL, cargv, environ) != 0) {
		perror("pingpong: starting the server");
		return 1;
	}
	if (tracing_start("ping", false) != 0)
		return 1;
	int rv = ping(url, rounds);
	baton_fini(10000);
	nng_fini();
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		rv = 1;
	const char *f = getenv("BATON_JAEGER_JSON_FILE");
	char mine[300], theirs[320];
	snprintf(mine, sizeof(mine), "%s", f && *f ? f : "baton-traces.json");
	snprintf(theirs, sizeof(theirs), "%s.pong.json", mine);
	const char *inputs[] = {mine, theirs};
	if (access(mine, R_OK) == 0 && access(theirs, R_OK) == 0 &&
	    baton_jaeger_json_merge(inputs, 2, mine) == BATON_OK)
		remove(theirs);
	printf("pingpong: %ld rounds, %s\n", rounds, rv == 0 ? "ok" : "FAILED");
	return rv;
}
