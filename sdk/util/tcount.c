/*
 * Per-thread counters: one mechanism for every set of them (util.h). The
 * set's mutex guards its list and its retired sums; only a block's own
 * thread writes its counters.
 */
#include "util.h"

/* Folds l's counts into the retired sums. Called with the mutex held. */
static void bt_tcount_retire(bt_tcount_set *s, bt_tcount_link *l)
{
	_Atomic uint64_t *v = bt_tcount_values(l);
	for (uint32_t i = 0; i < s->n; i++)
		s->retired[i] += atomic_load_explicit(&v[i], memory_order_relaxed);
}

/* Thread exit: the counts move to the retired sums and the block leaves. */
static void bt_tcount_exit(void *arg)
{
	bt_tcount_link *l = arg;
	bt_tcount_set *s = l->set;
	pthread_mutex_lock(&s->mtx);
	bt_tcount_retire(s, l);
	if (l->pprev != NULL) {
		*l->pprev = l->next;
		if (l->next != NULL)
			l->next->pprev = l->pprev;
	}
	l->next = NULL;
	l->pprev = NULL;
	l->set = NULL;
	/* A count in a later destructor joins again, from zero: nothing twice. */
	_Atomic uint64_t *v = bt_tcount_values(l);
	for (uint32_t i = 0; i < s->n; i++)
		atomic_store_explicit(&v[i], 0, memory_order_relaxed);
	pthread_mutex_unlock(&s->mtx);
}

/* fork(): the child must not inherit the mutex held by a thread it lacks. */
static void bt_tcount_fork_prepare(void *arg)
{
	pthread_mutex_lock(&((bt_tcount_set *)arg)->mtx);
}

static void bt_tcount_fork_parent(void *arg)
{
	pthread_mutex_unlock(&((bt_tcount_set *)arg)->mtx);
}

/* The child has only this thread: the other blocks are retired (util.h). */
static void bt_tcount_fork_child(void *arg)
{
	bt_tcount_set *s = arg;
	bt_tcount_link *mine = pthread_getspecific(s->key);
	bool kept = false;
	for (bt_tcount_link *l = s->list; l != NULL; l = l->next) {
		if (l == mine)
			kept = true;
		else
			bt_tcount_retire(s, l);
	}
	s->list = NULL;
	if (kept) {
		mine->next = NULL;
		mine->pprev = &s->list;
		s->list = mine;
	}
	pthread_mutex_unlock(&s->mtx);
}

void bt_tcount_set_init(bt_tcount_set *s)
{
	if (s->ready || pthread_key_create(&s->key, bt_tcount_exit) != 0)
		return;
	s->fork.prepare = bt_tcount_fork_prepare;
	s->fork.parent = bt_tcount_fork_parent;
	s->fork.child = bt_tcount_fork_child;
	s->fork.arg = s;
	baton_fork_register(&s->fork);
	s->ready = true;
}

void bt_tcount_join(bt_tcount_set *s, bt_tcount_link *l)
{
	/* Without its exit key a block would stay listed after its thread is
	 * gone: its counts are then not kept. */
	if (!s->ready || l->set != NULL)
		return;
	pthread_mutex_lock(&s->mtx);
	l->set = s;
	l->next = s->list;
	if (s->list != NULL)
		s->list->pprev = &l->next;
	l->pprev = &s->list;
	s->list = l;
	pthread_mutex_unlock(&s->mtx);
	(void)pthread_setspecific(s->key, l);
}

void bt_tcount_sum(bt_tcount_set *s, uint64_t *out, uint64_t *base, bool rebase)
{
	pthread_mutex_lock(&s->mtx);
	for (uint32_t i = 0; i < s->n; i++)
		out[i] = s->retired[i];
	for (bt_tcount_link *l = s->list; l != NULL; l = l->next) {
		_Atomic uint64_t *v = bt_tcount_values(l);
		for (uint32_t i = 0; i < s->n; i++)
			out[i] += atomic_load_explicit(&v[i], memory_order_relaxed);
	}
	if (base != NULL) {
		for (uint32_t i = 0; i < s->n; i++) {
			uint64_t sum = out[i];
			out[i] = sum - base[i];
			if (rebase)
				base[i] = sum;
		}
	}
	pthread_mutex_unlock(&s->mtx);
}
