/* baton's diagnostics about itself: a threshold and a sink. */
#include "util.h"

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

/* Set when BATON_LOG_LEVEL held something unknown and nobody was told yet. */
static _Atomic bool bt_log_env_bad;
static _Atomic bool bt_log_env_warned;

static int bt_log_level_from_env(void)
{
	const char *v = getenv("BATON_LOG_LEVEL");
	if (v != NULL && v[0] != '\0') {
		for (int i = 0; i <= BATON_LOG_NONE; i++) {
			if (strcasecmp(v, bt_level_names[i]) == 0)
				return i;
		}
		atomic_store(&bt_log_env_bad, true);
	}
	return BATON_LOG_WARN;
}

/* Tells, once per process, that BATON_LOG_LEVEL was not understood. */
static void bt_log_env_complain(void)
{
	if (!atomic_load_explicit(&bt_log_env_bad, memory_order_relaxed) ||
	    atomic_exchange(&bt_log_env_warned, true))
		return;
	const char *v = getenv("BATON_LOG_LEVEL");
	bt_warn("BATON_LOG_LEVEL=\"%.40s\" is not debug, info, warn, error or none; "
	        "using warn",
	        v != NULL ? v : "");
}

/* fork(): a child must not inherit the log mutex locked by a thread it does not have. */
static void bt_log_fork_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_log_mtx);
}

static void bt_log_fork_release(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&bt_log_mtx);
}

static baton_fork_step bt_log_fork = {.order = BATON_FORK_LOG,
                                      .prepare = bt_log_fork_prepare,
                                      .parent = bt_log_fork_release,
                                      .child = bt_log_fork_release};

__attribute__((constructor)) static void bt_log_fork_register(void)
{
	baton_fork_register(&bt_log_fork);
}

void baton_set_log(baton_log_level min_level, baton_log_fn fn, void *arg)
{
	pthread_mutex_lock(&bt_log_mtx);
	bt_log_sink = fn;
	bt_log_arg = arg;
	pthread_mutex_unlock(&bt_log_mtx);
	atomic_store(&bt_log_min, fn != NULL ? (int)min_level : bt_log_level_from_env());
}

static int bt_log_threshold(void)
{
	int min = atomic_load_explicit(&bt_log_min, memory_order_relaxed);
	if (min < 0) {
		min = bt_log_level_from_env();
		atomic_store_explicit(&bt_log_min, min, memory_order_relaxed);
	}
	return min;
}

void bt_log_check_env(void)
{
	bt_log_threshold();
	bt_log_env_complain();
}

void baton_logf(baton_log_level level, const char *fmt, ...)
{
	int min = bt_log_threshold();
	bt_log_env_complain();
	if ((int)level < min || level >= BATON_LOG_NONE)
		return;
	char raw[512], buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Nothing a message carries (a collector's text, a header) steers a terminal. */
	bt_text_sanitize(buf, sizeof(buf), raw,
	                 (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1);
	pthread_mutex_lock(&bt_log_mtx);
	if (bt_log_sink != NULL)
		bt_log_sink(bt_log_arg, level, buf);
	else
		fprintf(stderr, "baton: %s: %s\n", bt_level_names[level], buf);
	pthread_mutex_unlock(&bt_log_mtx);
}
