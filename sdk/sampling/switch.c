/*
 * The switchable sampler: a delegate that can be replaced while other
 * threads sample. Two slots and a reader count per slot: a decision
 * announces itself on the current slot and re-checks that it is still
 * current; a switch fills the idle slot once its readers have left, then
 * makes it current. The sampler replaced stays in its slot until the next
 * switch (or destroy) frees it, after its own readers have left.
 */
#include "sampling/sampling_int.h"

#include <sched.h>

struct bt_switch {
	baton_sampler slot[2];
	_Atomic uint32_t cur;
	_Alignas(64) _Atomic uint64_t readers0;
	_Alignas(64) _Atomic uint64_t readers1;
	pthread_mutex_t mtx; /* serialises switches */
	baton_fork_step fork;
};

/*
 * fork(): a switch in progress holds mtx, and a decision in progress holds
 * a reader count; in the child neither thread exists. Hold mtx across fork
 * (no switch is half done) and clear the counts in the child (nobody is
 * reading there), or the child's next switch would wait forever.
 */
static void bt_switch_fork_prepare(void *arg)
{
	struct bt_switch *s = arg;
	pthread_mutex_lock(&s->mtx);
}

static void bt_switch_fork_parent(void *arg)
{
	struct bt_switch *s = arg;
	pthread_mutex_unlock(&s->mtx);
}

static void bt_switch_fork_child(void *arg)
{
	struct bt_switch *s = arg;
	atomic_store(&s->readers0, 0);
	atomic_store(&s->readers1, 0);
	pthread_mutex_unlock(&s->mtx);
}

static _Atomic uint64_t *bt_readers(struct bt_switch *s, uint32_t i)
{
	return i ? &s->readers1 : &s->readers0;
}

static void bt_switch_sample(void *arg, const baton_sampling_params *p,
                             baton_sampling_result *r)
{
	struct bt_switch *s = arg;
	uint32_t i;
	/*
	 * Sequentially consistent increment and re-check against the writer's
	 * sequentially consistent publish and reader-count check: either the
	 * writer sees our count and waits, or we see its new current slot and
	 * retry there.
	 */
	for (;;) {
		i = atomic_load(&s->cur);
		atomic_fetch_add(bt_readers(s, i), 1);
		if (atomic_load(&s->cur) == i)
			break;
		atomic_fetch_sub_explicit(bt_readers(s, i), 1, memory_order_release);
	}
	baton_sampler d = s->slot[i];
	d.ops->should_sample(d.arg, p, r);
	/* Release: our reads of the slot happen before the writer reuses it. */
	atomic_fetch_sub_explicit(bt_readers(s, i), 1, memory_order_release);
}

static void bt_switch_destroy(void *arg)
{
	struct bt_switch *s = arg;
	baton_fork_unregister(&s->fork);
	baton_sampler_destroy(s->slot[0]);
	baton_sampler_destroy(s->slot[1]);
	pthread_mutex_destroy(&s->mtx);
	bt_free(s);
}

static const baton_sampler_ops bt_switch_ops = {sizeof(baton_sampler_ops), "switchable",
                                                bt_switch_sample, bt_switch_destroy};

baton_err baton_sampler_switchable(baton_sampler initial, baton_sampler *out)
{
	if (out == NULL || initial.ops == NULL || initial.ops->should_sample == NULL) {
		baton_sampler_destroy(initial);
		return BATON_EINVAL;
	}
	struct bt_switch *s = bt_calloc(1, sizeof(*s));
	if (s == NULL) {
		baton_sampler_destroy(initial);
		return BATON_ENOMEM;
	}
	if (pthread_mutex_init(&s->mtx, NULL) != 0) {
		bt_free(s);
		baton_sampler_destroy(initial);
		return BATON_ESYSTEM;
	}
	s->slot[0] = initial;
	s->fork = (baton_fork_step){.order = BATON_FORK_SAMPLER,
	                            .prepare = bt_switch_fork_prepare,
	                            .parent = bt_switch_fork_parent,
	                            .child = bt_switch_fork_child,
	                            .arg = s};
	baton_fork_register(&s->fork);
	*out = (baton_sampler){&bt_switch_ops, s};
	return BATON_OK;
}

baton_err baton_sampler_switch(baton_sampler sw, baton_sampler next)
{
	if (sw.ops != &bt_switch_ops || next.ops == NULL ||
	    next.ops->should_sample == NULL) {
		baton_sampler_destroy(next);
		return BATON_EINVAL;
	}
	struct bt_switch *s = sw.arg;
	pthread_mutex_lock(&s->mtx);
	uint32_t j = 1 - atomic_load(&s->cur);
	/* Readers of the idle slot are leaving (a decision is short). */
	while (atomic_load(bt_readers(s, j)) != 0)
		sched_yield();
	baton_sampler old = s->slot[j];
	s->slot[j] = next;
	atomic_store(&s->cur, j);
	pthread_mutex_unlock(&s->mtx);
	baton_sampler_destroy(old);
	return BATON_OK;
}
