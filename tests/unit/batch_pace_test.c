/*
 * The batch worker keeps the producers' pace: while spans come fast it
 * sleeps until a batch should be full, so a producer does not signal it
 * (a system call on the caller's path) once per batch; and it is still
 * woken at once when it falls behind.
 *
 * pthread_cond_signal is interposed here to count the calls made on the
 * producing thread.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include "testutil.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

static _Thread_local bool producing;
static _Atomic long producer_signals;

int pthread_cond_signal(pthread_cond_t *cv)
{
	static int (*next)(pthread_cond_t *);
	if (next == NULL)
		*(void **)&next = dlsym(RTLD_NEXT, "pthread_cond_signal");
	if (producing)
		atomic_fetch_add(&producer_signals, 1);
	return next(cv);
}

static _Atomic long exported;

static baton_export_result count_export(void *arg, const baton_span_data *const *spans,
                                        size_t n)
{
	(void)arg;
	(void)spans;
	atomic_fetch_add(&exported, (long)n);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static const baton_exporter_ops count_ops = {
    .size = sizeof(count_ops), .name = "count", .export_spans = count_export};

static void end_spans(baton_tracer *t, long n)
{
	producing = true;
	for (long i = 0; i < n; i++) {
		baton_span s = baton_span_start(t, "paced");
		baton_span_set_int(s, "i", i);
		baton_span_end(s);
	}
	producing = false;
}

Test(batch_pace, a_worker_that_keeps_pace_is_not_signalled_once_per_batch)
{
	enum { WARM = 20000, N = 200000, BATCH = 512 };
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 65536,
	                          .max_export_batch_size = BATCH,
	                          .schedule_delay_ms = 200};
	baton_processor p = tu_init_batch((baton_exporter){&count_ops, NULL}, &bo);
	baton_tracer *t = baton_tracer_get("pace", NULL);
	end_spans(t, WARM); /* the worker learns the pace */
	atomic_store(&producer_signals, 0);
	end_spans(t, N);
	long signals = atomic_load(&producer_signals);
	cr_assert_eq(baton_force_flush(10000), BATON_OK);
	baton_batch_stats s;
	cr_assert_eq(baton_batch_processor_stats(p, &s), BATON_OK);
	/* Every span is accounted for, and full batches went out. */
	cr_assert_eq(s.spans_exported + s.dropped_queue_full, WARM + N);
	cr_assert_eq(atomic_load(&exported), (long)s.spans_exported);
	cr_assert_geq(s.export_requests, (WARM + N) / BATCH / 4);
	/* One signal per batch would be N / BATCH = 390; a worker that
	 * overslept its pace now and then may still be woken a few times. */
	cr_assert_lt(signals, N / BATCH / 4, "%ld signals for %d batches", signals,
	             N / BATCH);
	baton_fini(5000);
}

/* A full batch still wakes a worker that has no pace to keep. */
Test(batch_pace, a_full_batch_wakes_a_worker_that_sleeps_for_the_delay)
{
	enum { BATCH = 256 };
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 4096,
	                          .max_export_batch_size = BATCH,
	                          .schedule_delay_ms = 60000};
	tu_init_batch((baton_exporter){&count_ops, NULL}, &bo);
	baton_tracer *t = baton_tracer_get("pace", NULL);
	end_spans(t, BATCH);
	struct timespec nap = {0, 5000000};
	for (int i = 0; i < 1000 && atomic_load(&exported) < BATCH; i++)
		nanosleep(&nap, NULL);
	cr_assert_eq(atomic_load(&exported), BATCH,
	             "a full batch waited for the 60 s delay");
	baton_fini(5000);
}
