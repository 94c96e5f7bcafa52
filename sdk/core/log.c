/* baton's diagnostics about itself: a threshold and a sink. */
#include "core/core.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_mutex_t bt_log_mtx = PTHREAD_MUTEX_INITIALIZER;
static baton_log_fn bt_log_sink;
static void *bt_log_arg;
/* -1: not read from BATON_LOG_LEVEL yet. */
static _Atomic int bt_log_min = -1;

static const char *const bt_level_names[] = {"debug", "info", "warn", "error", "none"};

static int bt_log_level_from_env(void)
{
	const char *v = getenv("BATON_LOG_LEVEL");
	if (v != NULL) {
		for (int i = 0; i <= BATON_LOG_NONE; i++) {
			if (strcasecmp(v, bt_level_names[i]) == 0)
				return i;
		}
	}
	return BATON_LOG_WARN;
}

/* fork(): a child must not inherit the log mutex locked by a thread it does not have. */
static void bt_log_fork_prepare(void)
{
	pthread_mutex_lock(&bt_log_mtx);
}

static void bt_log_fork_release(void)
{
	pthread_mutex_unlock(&bt_log_mtx);
}

__attribute__((constructor)) static void bt_log_fork_register(void)
{
	pthread_atfork(bt_log_fork_prepare, bt_log_fork_release, bt_log_fork_release);
}

void baton_set_log(baton_log_level min_level, baton_log_fn fn, void *arg)
{
	pthread_mutex_lock(&bt_log_mtx);
	bt_log_sink = fn;
	bt_log_arg = arg;
	pthread_mutex_unlock(&bt_log_mtx);
	atomic_store(&bt_log_min, fn != NULL ? (int)min_level : bt_log_level_from_env());
}

void bt_log(baton_log_level level, const char *fmt, ...)
{
	int min = atomic_load_explicit(&bt_log_min, memory_order_relaxed);
	if (min < 0) {
		min = bt_log_level_from_env();
		atomic_store_explicit(&bt_log_min, min, memory_order_relaxed);
	}
	if ((int)level < min || level >= BATON_LOG_NONE)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&bt_log_mtx);
	if (bt_log_sink != NULL)
		bt_log_sink(bt_log_arg, level, buf);
	else
		fprintf(stderr, "baton: %s: %s\n", bt_level_names[level], buf);
	pthread_mutex_unlock(&bt_log_mtx);
}
