/*
 * baton/processor.h: the batch span processor.
 *
 * Ending a span hands it to a bounded lock-free ring; one worker thread per
 * processor takes spans off the ring in batches and gives each batch to the
 * exporter. The caller of baton_span_end() never waits: when the ring is
 * full the span is dropped and counted.
 */
#ifndef BATON_PROCESSOR_H
#define BATON_PROCESSOR_H

#include <baton/sdk.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Options of the batch processor. Zero-initialise and set size =
 * sizeof(baton_batch_options); every zero field takes its value from the
 * environment variable named, else OpenTelemetry's default.
 *
 * max_queue_size lies in [1, 1048576]; a larger value, from the field or
 * the variable, is cut to 1048576 with a warning. max_export_batch_size
 * larger than max_queue_size is cut to it with a warning. In the
 * variables, 0 is refused (warning, default) except for
 * OTEL_BSP_SCHEDULE_DELAY=0, which means "export as soon as a span is
 * queued"; text that is not a number gives the default, with a warning.
 */
typedef struct baton_batch_options {
	size_t size;                    /* sizeof(baton_batch_options) */
	uint32_t max_queue_size;        /* 0: OTEL_BSP_MAX_QUEUE_SIZE, 2048 */
	uint32_t max_export_batch_size; /* 0: OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512 */
	uint32_t schedule_delay_ms;     /* 0: OTEL_BSP_SCHEDULE_DELAY, 5000 */
	uint32_t export_timeout_ms;     /* 0: OTEL_BSP_EXPORT_TIMEOUT, 30000 */
} baton_batch_options;

/*
 * Creates a batch processor over exporter and starts its worker thread
 * ("baton-export", all signals blocked).
 * opts may be NULL: everything from the environment.
 *
 * The ring holds max_queue_size spans, rounded up to a power of two (the
 * capacity the stats report). A queue of 4096 spans or more with a
 * schedule delay of at least 1 ms also gives each thread that ends spans
 * into it a lane in front of the ring, which it fills without a locked
 * instruction: 8 times max_export_batch_size spans, rounded up to a power
 * of two, from 64 to a quarter of the capacity. The queue then holds that
 * many more spans per such thread, a quarter of the capacity more at most
 * (threads past that use the ring alone, and ask again every 1,024 spans,
 * as the lanes of threads that exit are freed), and queue_size counts
 * them. A span that finds the ring (and its lane) full is dropped,
 * counted and reported: baton writes a warning with the number dropped, at
 * most one line per reason every 5 s (see baton_fini for the summary). An
 * idle worker wakes once a second to write the lines that came due.
 * max_export_batch_size is cut to the queue size. The worker exports a batch when it
 * holds max_export_batch_size spans, or when schedule_delay_ms has passed since the last
 * export, or on force_flush and shutdown. Exports are never concurrent.
 *
 * An export is bounded by the exporter's own timeout (for OTLP/HTTP,
 * OTEL_EXPORTER_OTLP_TIMEOUT, retries included); the processor interrupts
 * one only when a shutdown's time runs out. export_timeout_ms is the
 * shutdown timeout used when the processor is destroyed without having
 * been shut down.
 *
 * Shutdown (baton_fini) returns within its timeout. It exports what it can
 * in that time, then calls the exporter's shutdown with the time left. When
 * an export is still running as the time runs out, the exporter's shutdown
 * is called from the shutting-down thread while export_spans is in
 * progress on the worker, so that the exporter can cut the export: an
 * exporter used with this processor must allow that one concurrent call
 * (baton's own exporters do; a mutex around export and shutdown is enough
 * for an exporter whose export is quick).
 *
 * After fork(), the child has a working processor with an empty ring and a
 * new worker: spans the parent had queued at the time of the fork are
 * released in the child without being exported (the parent exports them),
 * and the child's counters start from zero.
 *
 * Takes ownership of exporter on success and on failure (it is destroyed
 * with the processor). On success writes *out, which is given to
 * baton_init() in baton_options.processors. Returns BATON_OK, BATON_EINVAL
 * (out NULL, exporter without export_spans, opts->size too small),
 * BATON_ENOMEM, BATON_ESYSTEM (the worker thread could not start).
 * Thread-safe.
 */
BATON_API baton_err baton_batch_processor_create(baton_exporter exporter,
                                                 const baton_batch_options *opts,
                                                 baton_processor *out);

/*
 * Counters of one batch processor, monotonic since it was created (or since
 * fork() in a child). Where OpenTelemetry defines an SDK self-metric the
 * field names it:
 *   spans_received           spans given to on_end (sum of the next lines
 *                            plus those still queued or in a batch)
 *   spans_exported           otel.sdk.processor.span.processed (no error)
 *   dropped_queue_full       otel.sdk.processor.span.processed
 *                              {error.type=queue_full}
 *   dropped_shutdown         ...processed{error.type=shutdown}: ended after
 *                            shutdown began, or still queued when its time
 *                            ran out
 *   dropped_export_failure   ...processed{error.type=export_failure}: in a
 *                            batch the exporter did not deliver
 *   spans_rejected           otel.sdk.exporter.span.exported
 *                              {error.type=rejected}: delivered, but the
 *                            receiver said it rejected them (partial success);
 *                            also counted in spans_exported
 *   export_requests          export_spans calls
 *   export_retries           retries the exporter reported
 *   export_failures          export_spans calls that returned an error
 *   discarded_at_fork        spans queued in the parent at fork() and
 *                            released unexported in this (child) process
 *   queue_size               otel.sdk.processor.span.queue.size
 *   queue_capacity           otel.sdk.processor.span.queue.capacity
 *   last_error               the text of the last export failure (the
 *                            exporter's reason, control bytes replaced),
 *                            "" if none
 */
typedef struct baton_batch_stats {
	uint64_t spans_received;
	uint64_t spans_exported;
	uint64_t dropped_queue_full;
	uint64_t dropped_shutdown;
	uint64_t dropped_export_failure;
	uint64_t spans_rejected;
	uint64_t export_requests;
	uint64_t export_retries;
	uint64_t export_failures;
	uint64_t discarded_at_fork;
	uint32_t queue_size;
	uint32_t queue_capacity;
	char last_error[160];
} baton_batch_stats;

/*
 * Reads the counters of p, which must be a processor made by
 * baton_batch_processor_create(). After it is destroyed (by baton_fini())
 * its final counters stay readable until the next
 * baton_batch_processor_create(), which frees them. On success writes
 * *out. Returns BATON_OK, or BATON_EINVAL when p is not a batch processor
 * or out is NULL. Thread-safe.
 */
BATON_API baton_err baton_batch_processor_stats(baton_processor p,
                                                baton_batch_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* BATON_PROCESSOR_H */
