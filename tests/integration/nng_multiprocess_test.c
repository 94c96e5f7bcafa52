/*
 * Two processes over ipc and over tcp: the consumer span in the receiving
 * process has the producer's trace id and the producer span as its parent.
 * The child receives, exports to its own in-memory exporter and sends what
 * it captured back over a pipe. The test runner itself uses NNG, which
 * refuses to run in a forked child, so the child is this same executable
 * started afresh (fork + exec) and taken over by a constructor before the
 * runner's main.
 */
#include <baton/baton.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nngutil.h"
#include "testutil.h"

struct child_report {
	int ok; /* 1: a consumer span was captured */
	char url[128];
	uint8_t trace_id[16];
	uint8_t parent_span_id[8];
	uint8_t parent_remote;
	char name[128];
	char payload[32];
	int kind;
	double sample_rate;
};

static bool write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_all(int fd, void *p, size_t n, int timeout_ms)
{
	char *c = p;
	while (n > 0) {
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		ssize_t r = read(fd, c, n);
		if (r <= 0)
			return false;
		c += r;
		n -= (size_t)r;
	}
	return true;
}

/* The receiving process: no Criterion asserts here, it reports through the pipe. */
static void child(const char *transport, int fd)
{
	struct child_report rep;
	memset(&rep, 0, sizeof(rep));
	baton_sampler pb;
	baton_sampler_parentbased(baton_sampler_always_on(), &pb);
	tu_memory_exporter *mem = tu_init_memory(pb, 16);
	nng_socket rx;
	nng_listener l;
	if (strcmp(transport, "ipc") == 0)
		snprintf(rep.url, sizeof(rep.url), "ipc:///tmp/baton-mp-%d.ipc",
		         (int)getpid());
	else
		snprintf(rep.url, sizeof(rep.url), "tcp://127.0.0.1:0");
	if (nng_pull0_open(&rx) != 0 ||
	    nng_socket_set_ms(rx, NNG_OPT_RECVTIMEO, 10000) != 0 ||
	    nng_listen(rx, rep.url, &l, 0) != 0)
		_exit(2);
	if (strcmp(transport, "tcp") == 0) {
		int port = 0;
		nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
		snprintf(rep.url, sizeof(rep.url), "tcp://127.0.0.1:%d", port);
	}
	if (!write_all(fd, &rep, sizeof(rep)))
		_exit(3);
	nng_msg *m;
	baton_nng_recv_info info;
	baton_nng_recv_opts ro = {.destination = "jobs", .mode = BATON_NNG_STRICT};
	if (baton_nng_recvmsg(rx, &m, 0, &ro, &info) == 0) {
		snprintf(rep.payload, sizeof(rep.payload), "%.*s", (int)nng_msg_len(m),
		         (const char *)nng_msg_body(m));
		baton_span_end(info.span);
		nng_msg_free(m);
		tu_memory_span s;
		if (tu_memory_exporter_count(mem) == 1 &&
		    tu_memory_exporter_get(mem, 0, &s) == BATON_OK) {
			rep.ok = 1;
			memcpy(rep.trace_id, s.context.trace_id, 16);
			memcpy(rep.parent_span_id, s.parent.span_id, 8);
			rep.parent_remote = (s.parent.state & BATON_CTX_REMOTE) != 0;
			snprintf(rep.name, sizeof(rep.name), "%s", s.name);
			rep.kind = s.kind;
			rep.sample_rate = s.sample_rate;
		}
	}
	write_all(fd, &rep, sizeof(rep));
	nng_close(rx);
	baton_fini(1000);
	_exit(0);
}

/* In the re-executed child: run the receiver instead of the test runner. */
__attribute__((constructor)) static void child_entry(void)
{
	const char *t = getenv("BATON_NNG_MP_CHILD");
	const char *fd = getenv("BATON_NNG_MP_FD");
	if (t != NULL && fd != NULL)
		child(t, atoi(fd));
}

extern char **environ;

static void across_processes(const char *transport)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	/* Everything the child needs is built before fork: only exec runs in between. */
	char envt[64], envfd[64];
	snprintf(envt, sizeof(envt), "BATON_NNG_MP_CHILD=%s", transport);
	snprintf(envfd, sizeof(envfd), "BATON_NNG_MP_FD=%d", fds[1]);
	size_t nenv = 0;
	while (environ[nenv] != NULL)
		nenv++;
	char **envp = calloc(nenv + 3, sizeof(char *));
	cr_assert_not_null(envp);
	memcpy(envp, environ, nenv * sizeof(char *));
	envp[nenv] = envt;
	envp[nenv + 1] = envfd;
	char self[] = "/proc/self/exe";
	char *argv[] = {self, NULL};
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		execve(self, argv, envp);
		_exit(127);
	}
	free(envp);
	close(fds[1]);
	struct child_report rep;
	cr_assert(read_all(fds[0], &rep, sizeof(rep), 10000), "child did not start");

	baton_sampler ratio;
	cr_assert_eq(baton_sampler_traceidratio(0.25, &ratio), BATON_OK);
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(ratio, &pb), BATON_OK);
	tu_memory_exporter *mem = tu_init_memory(pb, 64);
	nng_socket tx;
	cr_assert_eq(nng_push0_open(&tx), 0);
	cr_assert_eq(nng_socket_set_ms(tx, NNG_OPT_SENDTIMEO, 10000), 0);
	cr_assert_eq(nng_dial(tx, rep.url, NULL, 0), 0, "dial %s", rep.url);

	/* Start a sampled parent trace by hand, so the 25% head sampler cannot say no. */
	baton_tracer *t = baton_tracer_get("test", NULL);
	baton_span root = BATON_SPAN_NONE;
	for (int i = 0; i < 1000 && !baton_span_is_recording(root); i++) {
		baton_span_end(root);
		root = baton_span_start(t, "job");
	}
	cr_assert(baton_span_is_recording(root));
	uint32_t tok = baton_span_attach(root);
	baton_nng_send_opts so = {.destination = "jobs"};
	cr_assert_eq(baton_nng_send(tx, "cross-process", 13, 0, &so), 0);
	baton_span_detach(tok);
	baton_span_end(root);

	cr_assert(read_all(fds[0], &rep, sizeof(rep), 15000), "no report from the child");
	int code = tu_wait_child(pid);
	cr_assert_eq(code, 0, "child status %d", code);
	cr_assert_eq(rep.ok, 1, "child captured no consumer span");
	cr_assert_str_eq(rep.payload, "cross-process");

	tu_memory_span p, r;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &p), 0);
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_INTERNAL, "job", &r), 0);
	cr_assert_arr_eq(p.parent.span_id, r.context.span_id, 8);
	cr_assert_arr_eq(rep.trace_id, p.context.trace_id, 16,
	                 "trace id differs across processes");
	cr_assert_arr_eq(rep.parent_span_id, p.context.span_id, 8,
	                 "consumer's parent is not the producer span");
	cr_assert(rep.parent_remote);
	cr_assert_eq(rep.kind, BATON_SPAN_KIND_CONSUMER);
	cr_assert_str_eq(rep.name, "process jobs");
	/* The 25% head probability rides along: both sides say SampleRate 4. */
	cr_assert(p.sample_rate > 3.999 && p.sample_rate < 4.001, "producer %f",
	          p.sample_rate);
	cr_assert(rep.sample_rate > 3.999 && rep.sample_rate < 4.001, "consumer %f",
	          rep.sample_rate);
	close(fds[0]);
	nng_close(tx);
	baton_fini(1000);
}

Test(nng_multiprocess, consumer_continues_the_producer_trace_over_ipc)
{
	across_processes("ipc");
}

Test(nng_multiprocess, consumer_continues_the_producer_trace_over_tcp)
{
	across_processes("tcp");
}
