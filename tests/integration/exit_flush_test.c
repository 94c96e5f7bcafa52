/*
 * A program that returns from main without baton_fini: what its processors
 * hold is exported at exit, within OTEL_BSP_EXPORT_TIMEOUT, and one line
 * says what was lost. The program is this test binary run again with
 * BATON_EXIT_CHILD set: a constructor plays the forgetful program before
 * Criterion starts, and ends with exit(0), as returning from main does.
 */
#include "otlp_receiver.h"

#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- the child: a program that forgets baton_fini ---- */

__attribute__((constructor)) static void forgetful_program(void)
{
	const char *mode = getenv("BATON_EXIT_CHILD");
	if (mode == NULL)
		return;
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = getenv("BATON_EXIT_URL"),
	                              .timeout_ms = 300,
	                              .compression = BATON_OTLP_COMPRESSION_NONE,
	                              .retry_initial_ms = 10,
	                              .retry_max_ms = 50};
	baton_exporter e;
	baton_processor p;
	/* A minute's delay: nothing leaves before exit unless exit sends it. */
	baton_batch_options bo = {.size = sizeof(bo), .schedule_delay_ms = 60000};
	if (baton_otlp_http_exporter_create(&oo, &e) != BATON_OK ||
	    baton_batch_processor_create(e, &bo, &p) != BATON_OK)
		_exit(3);
	baton_options o = {.size = sizeof(o),
	                   .service_name = "forgetful",
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		_exit(4);
	baton_tracer *t = baton_tracer_get("exit", NULL);
	for (int i = 0; i < 25; i++) {
		baton_span s = baton_span_start(t, "at-exit");
		baton_span_end(s);
	}
	exit(0); /* no baton_fini */
}

/* ---- the test ---- */

TU_OTLP_SUITE(exit_flush);

/*
 * Runs this binary as the forgetful program with extra environment
 * variables; returns its exit status, its stderr in err and how long it ran.
 */
static int run_child(const char *const *extra, char *err, size_t cap, uint64_t *ns)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	size_t ne = 0, nx = 0;
	while (environ[ne] != NULL)
		ne++;
	while (extra[nx] != NULL)
		nx++;
	char **env = calloc(ne + nx + 1, sizeof(char *));
	for (size_t i = 0; i < nx; i++)
		env[i] = (char *)extra[i];
	memcpy(env + nx, environ, ne * sizeof(char *));
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	char *argv[] = {self, NULL};
	pid_t pid;
	uint64_t t0 = baton_time_mono_ns();
	cr_assert_eq(posix_spawn(&pid, self, &fa, NULL, argv, env), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	free(env);
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fds[0], err + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got + 1 >= cap)
			break;
	}
	err[got] = '\0';
	close(fds[0]);
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	*ns = baton_time_mono_ns() - t0;
	cr_assert(WIFEXITED(st), "the child did not exit normally: %s", err);
	return WEXITSTATUS(st);
}

static const char *url_var(char *buf, size_t cap)
{
	snprintf(buf, cap, "BATON_EXIT_URL=%s", tu_otlp_url(rcv));
	return buf;
}

Test(exit_flush, spans_of_a_program_without_fini_are_exported_at_exit)
{
	char url[128], err[8192];
	uint64_t ns;
	const char *extra[] = {"BATON_EXIT_CHILD=flush", url_var(url, sizeof(url)),
	                       "BATON_LOG_LEVEL=warn", NULL};
	cr_assert_eq(run_child(extra, err, sizeof(err), &ns), 0, "%s", err);
	cr_assert_eq(tu_otlp_spans_named(rcv, "at-exit"), 25, "stderr: %s", err);
	cr_assert_null(strstr(err, "lost"), "nothing was lost: %s", err);
}

Test(exit_flush, a_failed_export_at_exit_says_how_many_spans_were_lost_and_why)
{
	tu_otlp_set_mode(rcv, TU_OTLP_503, -1);
	char url[128], err[8192];
	uint64_t ns;
	const char *extra[] = {"BATON_EXIT_CHILD=lost", url_var(url, sizeof(url)),
	                       "BATON_LOG_LEVEL=warn", NULL};
	cr_assert_eq(run_child(extra, err, sizeof(err), &ns), 0, "%s", err);
	cr_assert(strstr(err, "baton: warn: at exit without baton_fini: 25 spans lost "
	                      "since baton_init (25 export failed)") != NULL,
	          "stderr: %s", err);
	cr_assert_geq(tu_otlp_get_counts(rcv).requests, 1, "the export was tried");
}

Test(exit_flush, exit_is_bounded_by_the_export_timeout_against_a_hanging_collector)
{
	tu_otlp_set_mode(rcv, TU_OTLP_HANG, -1);
	char url[128], err[8192];
	uint64_t ns;
	const char *extra[] = {"BATON_EXIT_CHILD=hang", url_var(url, sizeof(url)),
	                       "BATON_LOG_LEVEL=warn", "OTEL_BSP_EXPORT_TIMEOUT=200",
	                       NULL};
	cr_assert_eq(run_child(extra, err, sizeof(err), &ns), 0, "%s", err);
	/* The export's own 300 ms would do; the exit's 200 ms bound cuts it first. */
	cr_assert_lt(ns, 3000000000ull, "exit took %llu ms",
	             (unsigned long long)(ns / 1000000));
	cr_assert(strstr(err, "at exit without baton_fini: 25 spans lost since "
	                      "baton_init") != NULL,
	          "stderr: %s", err);
}
