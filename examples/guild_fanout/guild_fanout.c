/*
 * guild_fanout: the Discord shape in C. A guild actor receives user
 * messages and fans each one out to every member's session actor. Sessions
 * run on worker threads in this process, or in K child processes over
 * ipc:// (or tcp:// with --url) with --processes K.
 *
 * Each user message is one trace:
 *   ingress guild.message           the guild takes the message (root span)
 *   └─ send sessions                PRODUCER, baton.fanout.recipients = N
 *      ├─ process sessions          CONSUMER, one per *kept* delivery
 *      └─ ...                       (keep probability falls with N)
 *
 * Unsampled deliveries carry an 8-byte envelope and make no span at all.
 *
 *   build/bin/guild_fanout --members 1000 --messages 20
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 build/bin/guild_fanout
 *
 * With no exporter configured (no OTEL_TRACES_EXPORTER and no
 * OTEL_EXPORTER_OTLP_ENDPOINT) it prints the first traces as a tree and
 * writes baton-traces.json, which Jaeger UI opens (Search > Upload).
 */
#include <baton/baton.h>
#include <baton/auto.h>
#include <baton/jaeger_json.h>
#include <baton/nng.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define BYE         "BYE" /* tells a worker the guild is done */

extern char **environ;

struct config {
	uint64_t members, messages;
	double rate;     /* messages per second, 0 = as fast as possible */
	int processes;   /* 0: sessions on threads in this process */
	int threads;     /* session worker threads (in-process mode) */
	double sample;   /* head ratio; < 0: from the environment */
	const char *url; /* base URL for child processes */
	int worker;      /* >= 0: this process is session worker number `worker` */
	bool quiet;
};

/* ---- sessions ---------------------------------------------------------- */

/* A little work per delivery, so span durations mean something. */
static uint64_t session_deliver(const void *payload, size_t len, uint64_t session)
{
	const unsigned char *p = payload;
	uint64_t h = 1469598103934665603ull ^ session;
	for (int round = 0; round < 40; round++) {
		for (size_t i = 0; i < len; i++)
			h = (h ^ p[i]) * 1099511628211ull;
	}
	return h;
}

struct delivery {
	nng_msg *msg;
	uint64_t session;
	uint64_t digest;
};

static int handle_in_span(void *arg)
{
	struct delivery *d = arg;
	baton_span s = baton_span_current();
	baton_span_set_int(s, "guild.session", (int64_t)d->session);
	d->digest =
	    session_deliver(nng_msg_body(d->msg), nng_msg_len(d->msg), d->session);
	return 0;
}

struct worker {
	nng_socket sock;
	int index;
	uint64_t sessions;   /* sessions this worker hosts */
	uint64_t deliveries; /* messages handled */
	uint64_t traced;     /* deliveries that made a consumer span */
	pthread_t thread;
};

/* Receives until BYE; each delivery goes to the next of this worker's sessions. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	baton_nng_recv_opts ro = {.destination = "sessions"};
	uint64_t next = 0;
	for (;;) {
		nng_msg *msg;
		baton_nng_recv_info info;
		if (baton_nng_recvmsg(w->sock, &msg, 0, &ro, &info) != 0)
			break;
		if (nng_msg_len(msg) == strlen(BYE) &&
		    memcmp(nng_msg_body(msg), BYE, 3) == 0) {
			nng_msg_free(msg);
			break;
		}
		struct delivery d = {msg, (uint64_t)w->index + next * MAX_WORKERS, 0};
		next = (next + 1) % (w->sessions ? w->sessions : 1);
		if (info.span.id != BATON_SPAN_NONE.id)
			w->traced++;
		/* Runs the handler inside the consumer span (or none when unsampled). */
		baton_nng_process(&info, handle_in_span, &d);
		nng_msg_free(msg);
		w->deliveries++;
	}
	return NULL;
}

/* ---- tracing set-up ---------------------------------------------------- */

/* The Jaeger JSON file of the guild; session worker i writes <file>.session-i.json. */
static char json_file[256];

/*
 * Exporters: whatever the environment says (OTEL_TRACES_EXPORTER,
 * OTEL_EXPORTER_OTLP_ENDPOINT), else the embedded default: a console tree of
 * the first traces and a Jaeger JSON file. A session worker process writes
 * its own file, which the guild merges into its own at the end.
 */
static int tracing_start(const struct config *cfg, const char *service)
{
	baton_options o = {.size = sizeof(o), .service_name = service};
	const char *f = getenv("BATON_JAEGER_JSON_FILE");
	snprintf(json_file, sizeof(json_file), "%s", f && *f ? f : "baton-traces.json");
	if (cfg->sample >= 0) {
		baton_sampler root;
		if (baton_sampler_traceidratio(cfg->sample, &root) != BATON_OK ||
		    baton_sampler_parentbased(root, &o.sampler) != BATON_OK)
			return -1;
	}
	const char *dflt = "console,jaeger-json";
	if (cfg->worker >= 0) {
		char path[300];
		snprintf(path, sizeof(path), "%s.session-%d.json", json_file,
		         cfg->worker);
		setenv("BATON_JAEGER_JSON_FILE", path, 1);
		dflt = "jaeger-json"; /* the guild prints the trees */
	}
	setenv("BATON_CONSOLE_MAX_TRACES", "3", 0); /* unless the user chose */
	baton_err rv = baton_auto_init_default(&o, dflt);
	if (rv != BATON_OK && rv != BATON_EDISABLED) {
		fprintf(stderr, "guild_fanout: baton_auto_init: %s\n",
		        baton_strerror(rv));
		return -1;
	}
	return 0;
}

struct span_counts {
	uint64_t ended, exported, dropped;
};

/* What this process's processors exported and dropped. Call after a flush, before
 * baton_fini. */
static struct span_counts tracing_counts(void)
{
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	return (struct span_counts){
	    st.spans_ended, st.spans_exported,
	    st.spans_dropped_no_store + st.spans_dropped_queue_full +
	        st.spans_dropped_export + st.spans_dropped_shutdown};
}

/* ---- merging the workers' Jaeger JSON files ----------------------------- */

/*
 * Jaeger UI keeps one copy of each trace id, so the guild merges the
 * workers' files into its own: each trace then holds its deliveries too.
 */
static void merge_worker_files(int k)
{
	char paths[MAX_WORKERS + 1][300];
	const char *inputs[MAX_WORKERS + 1];
	size_t n = 0;
	snprintf(paths[n], sizeof(paths[n]), "%s", json_file);
	inputs[n] = paths[n];
	n++;
	for (int i = 0; i < k; i++) {
		snprintf(paths[n], sizeof(paths[n]), "%s.session-%d.json", json_file, i);
		if (access(paths[n], R_OK) != 0)
			continue; /* that worker wrote no file (another exporter, or
			             nothing sampled) */
		inputs[n] = paths[n];
		n++;
	}
	if (access(json_file, R_OK) != 0 || n == 1)
		return;
	if (baton_jaeger_json_merge(inputs, n, json_file) != BATON_OK)
		return; /* the reason is in baton's log; the files stay */
	for (size_t i = 1; i < n; i++)
		remove(inputs[i]);
}

/* ---- the guild ---------------------------------------------------------- */

static void sleep_until(uint64_t t_ns)
{
	uint64_t now = baton_time_mono_ns();
	if (t_ns > now) {
		struct timespec ts = {(time_t)((t_ns - now) / 1000000000u),
		                      (long)((t_ns - now) % 1000000000u)};
		nanosleep(&ts, NULL);
	}
}

struct child {
	pid_t pid;
	FILE *out; /* the child's report line */
};

static int spawn_worker(const struct config *cfg, int i, const char *url, struct child *c)
{
	int fds[2];
	char idx[16], sessions[32];
	if (pipe(fds) != 0)
		return -1;
	snprintf(idx, sizeof(idx), "%d", i);
	uint64_t n = cfg->members / (uint64_t)cfg->processes +
	             ((uint64_t)i < cfg->members % (uint64_t)cfg->processes);
	snprintf(sessions, sizeof(sessions), "%" PRIu64, n);
	char *argv[] = {"guild_fanout", "--worker",  idx,      "--url",
	                (char *)url,    "--members", sessions, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	/* This program's own file (readlink, not the /proc link itself, so tools that run
	 * programs under them, such as valgrind, start the right one). */
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	self[sl] = '\0';
	int rv = posix_spawn(&c->pid, self, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rv != 0) {
		close(fds[0]);
		errno = rv;
		return -1;
	}
	c->out = fdopen(fds[0], "r");
	return 0;
}

/*
 * Waits up to ms for worker c's "ready" line (it listens before it prints
 * it). Returns 0, or -1 when the worker exited or stayed silent.
 */
static int wait_ready(struct child *c, int ms)
{
	char line[64];
	struct pollfd pfd = {.fd = fileno(c->out), .events = POLLIN};
	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	if (fgets(line, sizeof(line), c->out) == NULL || strcmp(line, "ready\n") != 0)
		return -1;
	return 0;
}

/* Ends and reaps every child process that was started (no zombies left behind). */
static void reap_children(struct child *children, int k, bool kill_them)
{
	for (int i = 0; i < k; i++) {
		if (children[i].pid <= 0)
			continue;
		if (kill_them)
			kill(children[i].pid, SIGTERM);
		waitpid(children[i].pid, NULL, 0);
		children[i].pid = 0;
		if (children[i].out != NULL)
			fclose(children[i].out);
		children[i].out = NULL;
	}
}

/* The URL of worker i: the base with the index appended (ipc) or the port plus i (tcp).
 */
static void worker_url(const char *base, int i, char *out, size_t cap)
{
	const char *colon = strrchr(base, ':');
	if (strncmp(base, "tcp://", 6) == 0 && colon != NULL && colon > base + 5) {
		snprintf(out, cap, "%.*s:%d", (int)(colon - base), base,
		         atoi(colon + 1) + i);
	} else {
		snprintf(out, cap, "%s-%d", base, i);
	}
}

static int run_guild(const struct config *cfg)
{
	int k = cfg->processes > 0 ? cfg->processes : cfg->threads;
	struct worker workers[MAX_WORKERS] = {0};
	struct child children[MAX_WORKERS] = {0};
	nng_socket push[MAX_WORKERS];
	char base[256], url[300];
	int rv;

	if (cfg->processes > 0 && cfg->url == NULL)
		snprintf(base, sizeof(base), "ipc:///tmp/baton-guild-%d", (int)getpid());
	else if (cfg->processes > 0)
		snprintf(base, sizeof(base), "%s", cfg->url);
	else
		snprintf(base, sizeof(base), "inproc://guild-sessions");

	for (int i = 0; i < k; i++) {
		worker_url(base, i, url, sizeof(url));
		if ((rv = nng_push0_open(&push[i])) != 0)
			goto nng_fail;
		/* A worker that never comes up makes sends fail after 10 s instead of
		 * hanging. */
		nng_socket_set_ms(push[i], NNG_OPT_SENDTIMEO, 10000);
		baton_nng_socket_set_name(push[i], "sessions");
		if (cfg->processes > 0) {
			if (spawn_worker(cfg, i, url, &children[i]) != 0) {
				perror("guild_fanout: spawning a session worker");
				reap_children(children, i, true);
				return 1;
			}
			/* The child says "ready" once it listens; one that cannot (a port
			 * in use, a bad path) exits with its reason on stderr. */
			if (wait_ready(&children[i], 10000) != 0) {
				fprintf(stderr,
				        "guild_fanout: session worker %d did not start "
				        "on %s\n",
				        i, url);
				reap_children(children, i + 1, true);
				return 1;
			}
			if ((rv = baton_nng_dial(push[i], url, NULL, 0)) != 0) {
				fprintf(stderr, "guild_fanout: dialing %s: %s\n", url,
				        nng_strerror(rv));
				reap_children(children, i + 1, true);
				return 1;
			}
		} else {
			struct worker *w = &workers[i];
			w->index = i;
			w->sessions = cfg->members / (uint64_t)k +
			              ((uint64_t)i < cfg->members % (uint64_t)k);
			if ((rv = nng_pull0_open(&w->sock)) != 0 ||
			    (rv = baton_nng_listen(w->sock, url, NULL, 0)) != 0 ||
			    (rv = baton_nng_dial(push[i], url, NULL, 0)) != 0)
				goto nng_fail;
			pthread_create(&w->thread, NULL, worker_run, w);
		}
	}

	/* One recipient entry per member: member m's session lives on worker m % k. */
	nng_socket *recipients = malloc(sizeof(nng_socket) * cfg->members);
	if (recipients == NULL)
		return 1;
	for (uint64_t m = 0; m < cfg->members; m++)
		recipients[m] = push[m % (uint64_t)k];

	baton_tracer *tracer = baton_tracer_get("guild_fanout", BATON_VERSION_STRING);
	uint64_t t0 = baton_time_mono_ns();
	uint64_t period = cfg->rate > 0 ? (uint64_t)(1e9 / cfg->rate) : 0;
	for (uint64_t i = 0; i < cfg->messages; i++) {
		if (period)
			sleep_until(t0 + i * period);
		char text[128];
		int len =
		    snprintf(text, sizeof(text),
		             "user %" PRIu64 ": hello guild (#%" PRIu64 ")", i % 7, i);
		/* The ingress span is the root of the message's trace. */
		baton_span ingress = baton_span_start(tracer, "ingress guild.message");
		baton_span_set_int(ingress, "guild.members", (int64_t)cfg->members);
		baton_span_set_int(ingress, "guild.message.seq", (int64_t)i);
		uint32_t tok = baton_span_attach(ingress);
		size_t sent = 0;
		/* One producer span; each recipient gets its own keep decision. */
		rv = baton_nng_broadcast(recipients, cfg->members, text, (size_t)len, 0,
		                         NULL, &sent);
		baton_span_detach(tok);
		if (rv != 0)
			baton_span_set_status(ingress, BATON_STATUS_ERROR,
			                      nng_strerror(rv));
		baton_span_end(ingress);
		if (rv != 0) {
			fprintf(stderr,
			        "guild_fanout: fanout of message %" PRIu64 ": %s\n", i,
			        nng_strerror(rv));
			break;
		}
	}
	double secs = (double)(baton_time_mono_ns() - t0) / 1e9;

	/* BYE goes behind the last delivery on every worker's queue. */
	for (int i = 0; i < k; i++)
		nng_send(push[i], BYE, strlen(BYE), 0);

	uint64_t deliveries = 0, traced = 0;
	struct span_counts wc = {0};
	for (int i = 0; i < k; i++) {
		if (cfg->processes > 0) {
			uint64_t d = 0, t = 0, e = 0, x = 0, dr = 0;
			if (children[i].out == NULL ||
			    fscanf(children[i].out,
			           "deliveries=%" SCNu64 " traced=%" SCNu64
			           " ended=%" SCNu64 " exported=%" SCNu64
			           " dropped=%" SCNu64,
			           &d, &t, &e, &x, &dr) != 5)
				fprintf(stderr,
				        "guild_fanout: worker %d did not report\n", i);
			if (children[i].out != NULL)
				fclose(children[i].out);
			children[i].out = NULL;
			waitpid(children[i].pid, NULL, 0);
			children[i].pid = 0;
			deliveries += d;
			traced += t;
			wc.ended += e;
			wc.exported += x;
			wc.dropped += dr;
		} else {
			pthread_join(workers[i].thread, NULL);
			deliveries += workers[i].deliveries;
			traced += workers[i].traced;
			nng_close(workers[i].sock);
		}
		nng_close(push[i]);
	}
	free(recipients);

	baton_force_flush(10000);
	struct span_counts c = tracing_counts();
	baton_fini(10000);
	if (cfg->processes > 0)
		merge_worker_files(k);
	c.exported += wc.exported;
	c.dropped += wc.dropped;
	c.ended += wc.ended;
	printf("guild_fanout: %" PRIu64 " messages to %" PRIu64
	       " members in %.2f s: %" PRIu64 " deliveries, %" PRIu64
	       " traced; spans recorded %" PRIu64 ", exported %" PRIu64
	       " (summed over exporters), dropped %" PRIu64 "\n",
	       cfg->messages, cfg->members, secs, deliveries, traced, c.ended, c.exported,
	       c.dropped);
	return deliveries == cfg->messages * cfg->members ? 0 : 1;

nng_fail:
	fprintf(stderr, "guild_fanout: nng: %s\n", nng_strerror(rv));
	reap_children(children, k, true);
	return 1;
}

/* A session worker process: listens on --url, handles deliveries, reports on stdout. */
static int run_worker(const struct config *cfg)
{
	struct worker w = {.index = cfg->worker, .sessions = cfg->members};
	int rv;
	if ((rv = nng_pull0_open(&w.sock)) != 0 ||
	    (rv = baton_nng_listen(w.sock, cfg->url, NULL, 0)) != 0) {
		fprintf(stderr, "guild_fanout: worker %d: %s: %s\n", cfg->worker,
		        cfg->url, nng_strerror(rv));
		printf("deliveries=0 traced=0 ended=0 exported=0 dropped=0\n");
		return 1;
	}
	baton_nng_socket_set_name(w.sock, "sessions");
	printf("ready\n");
	fflush(stdout);
	worker_run(&w);
	nng_close(w.sock);
	baton_force_flush(10000);
	struct span_counts c = tracing_counts();
	baton_fini(10000);
	printf("deliveries=%" PRIu64 " traced=%" PRIu64 " ended=%" PRIu64
	       " exported=%" PRIu64 " dropped=%" PRIu64 "\n",
	       w.deliveries, w.traced, c.ended, c.exported, c.dropped);
	return 0;
}

/*
 * Checks --url before anything starts: it needs --processes, and must be
 * ipc://PATH or tcp://HOST:PORT with room for one port per worker.
 */
static bool url_ok(const char *url, int processes)
{
	nng_url *u = NULL;
	bool ok = false;
	if (processes == 0) {
		fprintf(stderr, "guild_fanout: --url \"%s\" needs --processes K\n", url);
		return false;
	}
	if (nng_url_parse(&u, url) != 0) {
		fprintf(stderr, "guild_fanout: bad value \"%s\" for --url: not a URL\n",
		        url);
		return false;
	}
	if (strcmp(u->u_scheme, "ipc") == 0) {
		ok = u->u_path != NULL && u->u_path[0] != '\0';
	} else if (strcmp(u->u_scheme, "tcp") == 0) {
		char *end = NULL;
		long port = u->u_port != NULL ? strtol(u->u_port, &end, 10) : -1;
		ok = u->u_hostname != NULL && u->u_hostname[0] != '\0' && end != NULL &&
		     *end == '\0' && port > 0 && port + processes - 1 <= 65535;
	}
	if (!ok)
		fprintf(stderr,
		        "guild_fanout: bad value \"%s\" for --url: use ipc://PATH or "
		        "tcp://HOST:PORT (ports PORT to PORT+%d must be valid)\n",
		        url, processes - 1);
	nng_url_free(u);
	return ok;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: guild_fanout [options]\n"
	    "  --members N     fanout size: sessions that get each message (default "
	    "1000)\n"
	    "  --messages M    user messages to send (default 20)\n"
	    "  --rate R        messages per second, 0 = as fast as possible (default 0)\n"
	    "  --processes K   run the sessions in K child processes (default 0: "
	    "threads)\n"
	    "  --threads T     session worker threads without --processes (default 4)\n"
	    "  --url URL       base URL for --processes: ipc://PATH or tcp://HOST:PORT\n"
	    "                  (worker i uses PATH-i or PORT+i; default an ipc path in "
	    "/tmp)\n"
	    "  --sample P      head sampling ratio 0..1 (overrides OTEL_TRACES_SAMPLER)\n"
	    "  --help          this text\n"
	    "Exporters follow OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT; with "
	    "neither,\n"
	    "the first traces print as a tree and all go to baton-traces.json.\n");
}

/* A whole decimal number, digits only (strtoull alone takes " -5" as a huge one). */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* A finite number in [lo, hi], nothing after it (strtod alone takes "" as 0). */
static bool parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"members", required_argument, NULL, 'n'},
	    {"messages", required_argument, NULL, 'm'},
	    {"rate", required_argument, NULL, 'r'},
	    {"processes", required_argument, NULL, 'k'},
	    {"threads", required_argument, NULL, 't'},
	    {"url", required_argument, NULL, 'u'},
	    {"sample", required_argument, NULL, 's'},
	    {"worker", required_argument, NULL, 'w'}, /* a child: be worker N */
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct config cfg = {
	    .members = 1000, .messages = 20, .threads = 4, .sample = -1, .worker = -1};
	const char *want = NULL; /* what a bad value should have been */
	const char *threads_arg = NULL;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "n:m:r:k:t:u:s:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			want = "1 to 100000000";
			if (!parse_u64(optarg, 100000000, &cfg.members) ||
			    cfg.members == 0)
				goto bad;
			break;
		case 'm':
			want = "0 to 1000000000";
			if (!parse_u64(optarg, 1000000000, &cfg.messages))
				goto bad;
			break;
		case 'r':
			/* Slower than one message in 1000 s is not a demo; the bound
			 * also keeps the period in nanoseconds within 64 bits. */
			want = "0 (as fast as possible) or 0.001 to 1000000000";
			if (!parse_double(optarg, 0, 1e9, &cfg.rate) ||
			    (cfg.rate > 0 && cfg.rate < 0.001))
				goto bad;
			break;
		case 'k':
			want = "0 to 64";
			if (!parse_u64(optarg, MAX_WORKERS, &v))
				goto bad;
			cfg.processes = (int)v;
			break;
		case 't':
			want = "1 to 64";
			if (!parse_u64(optarg, MAX_WORKERS, &v) || v == 0)
				goto bad;
			cfg.threads = (int)v;
			threads_arg = optarg;
			break;
		case 'u':
			cfg.url = optarg;
			break;
		case 's':
			want = "a ratio from 0 to 1";
			if (!parse_double(optarg, 0, 1, &cfg.sample))
				goto bad;
			break;
		case 'w':
			want = "0 to 63";
			if (!parse_u64(optarg, MAX_WORKERS - 1, &v))
				goto bad;
			cfg.worker = (int)v;
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
		fprintf(stderr, "guild_fanout: unexpected argument \"%s\"\n",
		        argv[optind]);
		usage(stderr);
		return 2;
	}
	if (cfg.worker >= 0 && cfg.url == NULL) {
		fprintf(stderr, "guild_fanout: --worker needs --url\n");
		return 2;
	}
	if (threads_arg != NULL && cfg.processes > 0 && cfg.worker < 0) {
		fprintf(stderr,
		        "guild_fanout: --threads %s has no effect with --processes %d "
		        "(each session worker is a process); give one or the other\n",
		        threads_arg, cfg.processes);
		return 2;
	}
	if (cfg.worker < 0 && (uint64_t)cfg.processes > cfg.members) {
		fprintf(stderr,
		        "guild_fanout: --processes %d is more than --members %" PRIu64
		        ": a session worker would have no session\n",
		        cfg.processes, cfg.members);
		return 2;
	}
	if (cfg.url != NULL && cfg.worker < 0 && !url_ok(cfg.url, cfg.processes))
		return 2;
	if (tracing_start(&cfg, cfg.worker >= 0 ? "session" : "guild") != 0)
		return 1;
	int rc = cfg.worker >= 0 ? run_worker(&cfg) : run_guild(&cfg);
	nng_fini(); /* NNG's threads and caches, after every socket is closed */
	return rc;

bad:
	for (size_t i = 0; opts[i].name != NULL; i++) {
		if (opts[i].val == c)
			fprintf(stderr,
			        "guild_fanout: bad value \"%s\" for --%s: want %s\n",
			        optarg, opts[i].name, want);
	}
	return 2;
}
