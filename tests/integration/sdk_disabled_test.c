/*
 * OTEL_SDK_DISABLED=true switches tracing off; it must not stop a service:
 * every example starts, does its work and exits 0 with no trace written.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Runs prog args with tracing off in a new empty folder; out gets its output, its exit
 * status ("rc=N") and how many files it left ("files=N"). */
static void run_disabled(const char *prog, const char *args, char *out, size_t cap)
{
	char bin[512], cmd[1400];
	tu_bin(prog, bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd),
	         "cd \"$(mktemp -d)\" && OTEL_SDK_DISABLED=true %s %s 2>&1; "
	         "echo \"rc=$?\"; echo \"files=$(ls | wc -l)\"",
	         bin, args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	pclose(p);
}

Test(sdk_disabled, examples_run_and_exit_zero_with_tracing_off, .timeout = 120)
{
	static const char *const runs[][2] = {
	    {"hello", ""},
	    {"guild_fanout", "--members 50 --messages 2"},
	    {"pipeline", ""},
	};
	char out[8192];
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		char bin[512];
		tu_bin(runs[i][0], bin, sizeof(bin));
		if (access(bin, X_OK) != 0)
			continue; /* examples not built */
		run_disabled(runs[i][0], runs[i][1], out, sizeof(out));
		cr_assert(strstr(out, "rc=0\n") != NULL, "%s exited non-zero:\n%s",
		          runs[i][0], out);
		cr_assert(strstr(out, "files=0\n") != NULL, "%s wrote a file:\n%s",
		          runs[i][0], out);
	}
}
