/* The threaded checks' tally: CHECK(cond, fmt, ...) counts and reports failures. */
#ifndef BATON_TSAN_CHECK_H
#define BATON_TSAN_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		checks++;                                                                \
		if (!(cond)) {                                                           \
			failures++;                                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
		}                                                                        \
	} while (0)

#endif
