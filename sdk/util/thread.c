/*
 * baton's own threads (the batch worker, the remote sampler's poller) start
 * with every signal blocked: the application's handlers never run on them,
 * and a process-directed signal goes to one of its own threads, as a
 * program that routes signals to one thread (sigwait) expects.
 */
#include "util.h"

#include <signal.h>

int bt_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
