/*
 * The one registry of fork steps. Every part of baton that holds a lock or
 * a thread registers a step; one pthread_atfork handler runs them all in
 * the order of bt_fork_order (core.h): prepare from the top layer down, so
 * each step takes its locks in the order the code takes them, and parent
 * and child from the bottom up, so the layers below (log, clock) work
 * again when the steps above them run.
 */
#include "util.h"

#include <pthread.h>

static pthread_mutex_t bt_fork_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t bt_fork_once = PTHREAD_ONCE_INIT;
static baton_fork_step *bt_fork_head,
    *bt_fork_tail; /* by order; ties: first registered first */

static void bt_fork_prepare(void)
{
	pthread_mutex_lock(&bt_fork_mtx);
	for (baton_fork_step *s = bt_fork_head; s != NULL; s = s->next)
		if (s->prepare != NULL)
			s->prepare(s->arg);
}

static void bt_fork_parent(void)
{
	for (baton_fork_step *s = bt_fork_tail; s != NULL; s = s->prev)
		if (s->parent != NULL)
			s->parent(s->arg);
	pthread_mutex_unlock(&bt_fork_mtx);
}

static void bt_fork_child(void)
{
	for (baton_fork_step *s = bt_fork_tail; s != NULL; s = s->prev)
		if (s->child != NULL)
			s->child(s->arg);
	pthread_mutex_init(&bt_fork_mtx, NULL);
}

static void bt_fork_init(void)
{
	(void)pthread_atfork(bt_fork_prepare, bt_fork_parent, bt_fork_child);
}

void baton_fork_register(baton_fork_step *step)
{
	pthread_once(&bt_fork_once, bt_fork_init);
	pthread_mutex_lock(&bt_fork_mtx);
	baton_fork_step *at = bt_fork_head;
	while (at != NULL && at->order <= step->order)
		at = at->next;
	/* Insert before at (or at the end). */
	step->next = at;
	step->prev = at != NULL ? at->prev : bt_fork_tail;
	if (step->prev != NULL)
		step->prev->next = step;
	else
		bt_fork_head = step;
	if (at != NULL)
		at->prev = step;
	else
		bt_fork_tail = step;
	pthread_mutex_unlock(&bt_fork_mtx);
}

void baton_fork_unregister(baton_fork_step *step)
{
	pthread_mutex_lock(&bt_fork_mtx);
	for (baton_fork_step *s = bt_fork_head; s != NULL; s = s->next) {
		if (s != step)
			continue;
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			bt_fork_head = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
		else
			bt_fork_tail = s->prev;
		s->next = s->prev = NULL;
		break;
	}
	pthread_mutex_unlock(&bt_fork_mtx);
}

size_t bt_fork_steps(int *orders, size_t cap)
{
	size_t n = 0;
	pthread_mutex_lock(&bt_fork_mtx);
	for (baton_fork_step *s = bt_fork_head; s != NULL; s = s->next) {
		if (n < cap)
			orders[n] = s->order;
		n++;
	}
	pthread_mutex_unlock(&bt_fork_mtx);
	return n;
}
