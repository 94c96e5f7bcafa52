/* The threaded checks' tally: CHECK(cond, fmt, ...) counts and reports failures. */
#ifndef BATON_TSAN_CHECK_H
#define BATON_TSAN_CHECK_H

#include <baton/baton.h>
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

/*
 * baton_init with always_on and one batch processor (queue, batch 256,
 * delay_ms) exporting to exp; max_live_spans 0 keeps the default store.
 * *out (may be NULL) gets the processor. Returns false when either call
 * fails.
 */
static inline bool tsan_init_batch(baton_exporter exp, uint32_t queue, uint32_t batch,
                                   uint32_t delay_ms, uint32_t max_live_spans,
                                   baton_processor *out)
{
	baton_processor p;
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = queue,
	                          .max_export_batch_size = batch,
	                          .schedule_delay_ms = delay_ms};
	if (baton_batch_processor_create(exp, &bo, &p) != BATON_OK)
		return false;
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	o.limits.max_live_spans = max_live_spans;
	if (out != NULL)
		*out = p;
	return baton_init(&o) == BATON_OK;
}

#endif
