/*
 * actors: an in-process actor system traced through baton/message.h only.
 *
 * Thousands of actors, each with a mailbox, served by a thread pool. Each
 * round, the coordinator fans one message out to every member of a group
 * and starts request/reply conversations between actors (kick -> request
 * -> reply). Every message is a hop of the round's trace: the message
 * layer starts producer and consumer spans, decides each group member's
 * fanout keep (kept deliveries carry SampleRate), and runs every handler
 * in its message's context, so replies are children of the requests they
 * answer and unsampled hops never start new traces.
 *
 * Exporters: whatever the environment says (OTEL_TRACES_EXPORTER, ...),
 * else the embedded default: a console tree of the first traces and
 * baton-traces.json (Jaeger JSON).
 *
 *   actors [--actors N] [--group G] [--rounds R] [--pairs P] [--threads T]
 */
#include <baton/auto.h>
#include <baton/baton.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAILBOX_CAP 8192 /* messages a mailbox holds; more are dropped and counted */
#define DRAIN_BATCH 64   /* messages a worker takes from one mailbox at a time */

enum kind { K_GROUP, K_KICK, K_REQUEST, K_REPLY, K_COUNT };
static const char *const kind_dest[K_COUNT] = {"group.members", "actor.kick",
                                               "actor.request", "actor.reply"};

struct msg {
	struct msg *next;
	int kind;
	int from; /* the sending actor, -1 for the coordinator */
	size_t len;
	uint8_t data[]; /* envelope, then payload */
};

struct actor {
	pthread_mutex_t mu;
	struct msg *head, *tail;
	size_t queued;
	bool scheduled; /* in the run queue, or being served */
	uint64_t handled;
};

static struct {
	struct actor *actors;
	int nactors;
	/* the run queue: actors with mail, each at most once */
	pthread_mutex_t mu;
	pthread_cond_t cv, idle;
	int *runq;
	size_t rq_head, rq_len;
	bool stop;
	_Atomic uint64_t outstanding, delivered, traced, dropped, replies;
} sys;

static baton_tracer *app_tracer;

static void schedule(int id)
{
	pthread_mutex_lock(&sys.mu);
	sys.runq[(sys.rq_head + sys.rq_len) % (size_t)sys.nactors] = id;
	sys.rq_len++;
	pthread_cond_signal(&sys.cv);
	pthread_mutex_unlock(&sys.mu);
}

static void deliver(int to, struct msg *m)
{
	struct actor *a = &sys.actors[to];
	bool wake = false;
	pthread_mutex_lock(&a->mu);
	if (a->queued >= MAILBOX_CAP) {
		pthread_mutex_unlock(&a->mu);
		free(m);
		atomic_fetch_add(&sys.dropped, 1);
		return;
	}
	atomic_fetch_add(&sys.outstanding, 1);
	m->next = NULL;
	if (a->tail != NULL)
		a->tail->next = m;
	else
		a->head = m;
	a->tail = m;
	a->queued++;
	if (!a->scheduled) {
		a->scheduled = true;
		wake = true;
	}
	pthread_mutex_unlock(&a->mu);
	if (wake)
		schedule(to);
}

/* A new message of kind from -> the envelope of s for one recipient, then payload. */
static struct msg *message(baton_msg_send *s, int kind, int from, const char *payload)
{
	size_t plen = strlen(payload) + 1, need = baton_msg_send_size(s), n = 0;
	struct msg *m = malloc(sizeof(*m) + need + plen);
	if (m == NULL)
		return NULL;
	if (baton_msg_send_wrap(s, m->data, need, &n) != BATON_OK) {
		free(m);
		return NULL;
	}
	memcpy(m->data + n, payload, plen);
	m->len = n + plen;
	m->kind = kind;
	m->from = from;
	return m;
}

/* Sends one message; the producer span is a child of the current context. */
static void send_to(int to, int kind, int from, const char *payload)
{
	baton_msg_send s;
	baton_msg_send_opts so = {.system = "actors",
	                          .destination = kind_dest[kind],
	                          .flags = BATON_MSG_BODY_SIZE,
	                          .body_size = strlen(payload) + 1};
	baton_msg_send_begin(&s, &so);
	struct msg *m = message(&s, kind, from, payload);
	if (m != NULL)
		deliver(to, m);
	baton_msg_send_end(&s, m != NULL ? NULL : "out of memory");
}

/* One message to every member of the group [0, n): one keep decision each. */
static void broadcast(int n, const char *payload)
{
	baton_msg_send s;
	baton_msg_send_opts so = {.system = "actors",
	                          .destination = kind_dest[K_GROUP],
	                          .flags = BATON_MSG_BODY_SIZE,
	                          .body_size = strlen(payload) + 1,
	                          .fanout = (uint64_t)n};
	baton_msg_send_begin(&s, &so);
	for (int i = 0; i < n; i++) {
		struct msg *m = message(&s, K_GROUP, -1, payload);
		if (m != NULL)
			deliver(i, m);
	}
	baton_msg_send_end(&s, NULL);
}

struct handling {
	int self;
	struct msg *m;
	const baton_msg_recv *r;
};

/* What an actor does with a message; runs in the message's context. */
static int behave(void *arg)
{
	struct handling *h = arg;
	char text[64];
	switch (h->m->kind) {
	case K_GROUP: {
		/* members do a little work, traced when their delivery is */
		baton_span w = baton_span_start(app_tracer, "apply update");
		baton_span_end(w);
		break;
	}
	case K_KICK: {
		/* ask a peer half the system away */
		int peer = (h->self + sys.nactors / 2) % sys.nactors;
		snprintf(text, sizeof(text), "request from %d", h->self);
		send_to(peer, K_REQUEST, h->self, text);
		break;
	}
	case K_REQUEST:
		snprintf(text, sizeof(text), "reply from %d", h->self);
		send_to(h->m->from, K_REPLY, h->self, text);
		break;
	case K_REPLY:
		atomic_fetch_add(&sys.replies, 1);
		break;
	}
	return 0;
}

static void handle(int self, struct msg *m)
{
	baton_msg_recv_opts ro = {.system = "actors", .destination = kind_dest[m->kind]};
	baton_msg_recv r;
	if (baton_msg_recv_open(m->data, m->len, &ro, &r) == BATON_OK) {
		if (baton_span_is_recording(r.span)) {
			baton_span_set_int(r.span, "actor.id", self);
			atomic_fetch_add(&sys.traced, 1);
		}
		struct handling h = {self, m, &r};
		baton_msg_process(&r, behave, &h);
	}
	atomic_fetch_add(&sys.delivered, 1);
	free(m);
	if (atomic_fetch_sub(&sys.outstanding, 1) == 1) {
		pthread_mutex_lock(&sys.mu);
		pthread_cond_broadcast(&sys.idle);
		pthread_mutex_unlock(&sys.mu);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&sys.mu);
		while (sys.rq_len == 0 && !sys.stop)
			pthread_cond_wait(&sys.cv, &sys.mu);
		if (sys.rq_len == 0) {
			pthread_mutex_unlock(&sys.mu);
			return NULL;
		}
		int id = sys.runq[sys.rq_head];
		sys.rq_head = (sys.rq_head + 1) % (size_t)sys.nactors;
		sys.rq_len--;
		pthread_mutex_unlock(&sys.mu);

		struct actor *a = &sys.actors[id];
		for (int i = 0; i < DRAIN_BATCH; i++) {
			pthread_mutex_lock(&a->mu);
			struct msg *m = a->head;
			if (m != NULL) {
				a->head = m->next;
				if (a->head == NULL)
					a->tail = NULL;
				a->queued--;
			}
			pthread_mutex_unlock(&a->mu);
			if (m == NULL)
				break;
			a->handled++;
			handle(id, m);
		}
		/* more mail: back in the run queue, behind the others */
		pthread_mutex_lock(&a->mu);
		bool again = a->head != NULL;
		if (!again)
			a->scheduled = false;
		pthread_mutex_unlock(&a->mu);
		if (again)
			schedule(id);
	}
}

static void wait_idle(void)
{
	pthread_mutex_lock(&sys.mu);
	while (atomic_load(&sys.outstanding) != 0)
		pthread_cond_wait(&sys.idle, &sys.mu);
	pthread_mutex_unlock(&sys.mu);
}

static int tracing_start(void)
{
	baton_options o = {.size = sizeof(o), .service_name = "actors"};
	setenv("BATON_CONSOLE_MAX_TRACES", "2", 0); /* unless the user chose */
	baton_err rv = baton_auto_init_default(&o, "console,jaeger-json");
	if (rv != BATON_OK && rv != BATON_EDISABLED) {
		fprintf(stderr, "actors: baton_auto_init: %s\n", baton_strerror(rv));
		return -1;
	}
	app_tracer = baton_tracer_get("actors", NULL);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: actors [--actors N] [--group G] [--rounds R] [--pairs P] "
	    "[--threads T] [--help]\n"
	    "An in-process actor system traced through baton/message.h: each round\n"
	    "fans one message out to a group and runs request/reply pairs between\n"
	    "actors; prints the first traces and writes baton-traces.json.\n"
	    "  -a, --actors N   actors in all (default 5000, at least 2)\n"
	    "  -g, --group G    members of the fanout group (default 1000, 1..N)\n"
	    "  -r, --rounds R   rounds (default 3)\n"
	    "  -p, --pairs P    request/reply pairs per round (default 10, 0..N)\n"
	    "  -t, --threads T  worker threads serving the mailboxes (default 4, 1..64)\n"
	    "  -h, --help       this text\n");
}

/* Reads a whole decimal number in [lo, hi] or names the option and value. */
static bool parse_int(const char *opt, const char *v, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || x < lo || x > hi ||
	    !(v[0] >= '0' && v[0] <= '9')) {
		fprintf(stderr, "actors: %s \"%s\" is not a number from %ld to %ld\n",
		        opt, v, lo, hi);
		return false;
	}
	*out = (int)x;
	return true;
}

int main(int argc, char **argv)
{
	int nactors = 5000, group = 1000, rounds = 3, pairs = 10, nthreads = 4, c;
	static const struct option opts[] = {{"actors", required_argument, NULL, 'a'},
	                                     {"group", required_argument, NULL, 'g'},
	                                     {"rounds", required_argument, NULL, 'r'},
	                                     {"pairs", required_argument, NULL, 'p'},
	                                     {"threads", required_argument, NULL, 't'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "a:g:r:p:t:h", opts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case 'a':
			ok = parse_int("--actors", optarg, 2, 10000000, &nactors);
			break;
		case 'g':
			ok = parse_int("--group", optarg, 1, 10000000, &group);
			break;
		case 'r':
			ok = parse_int("--rounds", optarg, 0, 1000000, &rounds);
			break;
		case 'p':
			ok = parse_int("--pairs", optarg, 0, 10000000, &pairs);
			break;
		case 't':
			ok = parse_int("--threads", optarg, 1, 64, &nthreads);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default: /* getopt_long named the option on stderr */
			usage(stderr);
			return 2;
		}
		if (!ok) {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "actors: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (group > nactors || pairs > nactors) {
		fprintf(stderr,
		        "actors: --group and --pairs must not exceed --actors (%d)\n",
		        nactors);
		usage(stderr);
		return 2;
	}
	if (tracing_start() != 0)
		return 1;

	sys.nactors = nactors;
	sys.actors = calloc((size_t)nactors, sizeof(*sys.actors));
	sys.runq = calloc((size_t)nactors, sizeof(*sys.runq));
	if (sys.actors == NULL || sys.runq == NULL) {
		fprintf(stderr, "actors: out of memory\n");
		return 1;
	}
	for (int i = 0; i < nactors; i++)
		pthread_mutex_init(&sys.actors[i].mu, NULL);
	pthread_mutex_init(&sys.mu, NULL);
	pthread_cond_init(&sys.cv, NULL);
	pthread_cond_init(&sys.idle, NULL);
	pthread_t th[64];
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, NULL);

	for (int r = 0; r < rounds; r++) {
		/* One trace per round: the coordinator's root span is the parent of
		 * the fanout and of the kicks. */
		char name[32], text[32];
		snprintf(name, sizeof(name), "round %d", r);
		baton_span root = baton_span_start_ex(
		    app_tracer, name,
		    &(baton_span_start_opts){.flags = BATON_START_ROOT});
		uint32_t tok = baton_span_attach(root);
		snprintf(text, sizeof(text), "update %d", r);
		broadcast(group, text);
		for (int p = 0; p < pairs; p++)
			send_to(p * (nactors / 2 / (pairs > 0 ? pairs : 1)) % nactors,
			        K_KICK, -1, "kick");
		baton_span_detach(tok);
		wait_idle();
		baton_span_end(root);
	}

	pthread_mutex_lock(&sys.mu);
	sys.stop = true;
	pthread_cond_broadcast(&sys.cv);
	pthread_mutex_unlock(&sys.mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);

	baton_force_flush(10000);
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	printf(
	    "actors: %d rounds, %d actors on %d threads, group of %d, %d request/reply "
	    "pairs each\n",
	    rounds, nactors, nthreads, group, pairs);
	printf("actors: %llu deliveries, %llu traced, %llu replies, %llu dropped "
	       "(mailbox full), spans exported %llu\n",
	       (unsigned long long)atomic_load(&sys.delivered),
	       (unsigned long long)atomic_load(&sys.traced),
	       (unsigned long long)atomic_load(&sys.replies),
	       (unsigned long long)atomic_load(&sys.dropped),
	       (unsigned long long)st.spans_exported);
	baton_fini(10000);
	for (int i = 0; i < nactors; i++)
		pthread_mutex_destroy(&sys.actors[i].mu);
	free(sys.actors);
	free(sys.runq);
	return 0;
}
