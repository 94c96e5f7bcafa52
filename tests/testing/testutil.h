/* Helpers shared by the tests. */
#ifndef BATON_TESTUTIL_H
#define BATON_TESTUTIL_H

#include <baton/baton.h>
#include <baton/processor.h>

#include <sys/types.h>

#include "memory_exporter.h"

/*
 * baton_init with the given sampler (ops NULL: always_on) and a simple
 * processor over a memory exporter of the given capacity; returns the store.
 */
tu_memory_exporter *tu_init_memory(baton_sampler sampler, size_t capacity);
/* The same with span limits (NULL: the defaults). */
tu_memory_exporter *tu_init_memory_limits(baton_sampler sampler, size_t capacity,
                                          const baton_limits *limits);
/* Parses 32/16 hex chars into bytes; aborts the test on bad input. */
void tu_hex(const char *hex, uint8_t *out, size_t n);
/* CRC-8 (polynomial 0x07) of an envelope's first three bytes: its header check. */
uint8_t tu_envelope_crc8(const uint8_t *m);
/*
 * Seals a hand-built envelope of total bytes at m (version 2 on): writes the
 * header check byte and the CRC-32 check word at fixed - 4 (fixed = m[2]).
 */
void tu_envelope_seal(uint8_t *m, size_t total);
/*
 * Writes at m a sealed, sampled version 2 envelope for trace id tid and
 * parent span id sid that carries one text extension of the given type
 * (text: n bytes, the NUL added; n < 32000). m needs n + 40 bytes. Returns
 * the envelope's length.
 */
size_t tu_envelope_forge_text(uint8_t *m, const uint8_t tid[16], const uint8_t sid[8],
                              uint8_t type, const char *text, size_t n);
/*
 * A processor that releases each span at once, on the caller's thread: what
 * a benchmark ends spans into to measure the SDK without an exporter.
 */
baton_processor tu_release_processor(void);
/* baton_init with sampler (ops NULL: always_on) and only
 * tu_release_processor(), OTEL_SDK_DISABLED ignored; aborts on failure. */
void tu_init_release(baton_sampler sampler);
/* tu_init_release() with parentbased(traceidratio(ratio)). */
void tu_init_release_ratio(double ratio);
/*
 * baton_init with always_on and one batch processor (options bo) over
 * exporter e, OTEL_SDK_DISABLED ignored; returns the processor, aborts on
 * failure.
 */
baton_processor tu_init_batch(baton_exporter e, const baton_batch_options *bo);
/*
 * An exporter whose exports wait until tu_gate_open() (or its shutdown)
 * and then count their spans: it holds a batch worker in its first export,
 * so that what follows stays queued. tu_gate_close() makes later exports
 * wait again. One gate per process.
 */
baton_exporter tu_gate_exporter(void);
void tu_gate_open(void);
void tu_gate_close(void);
/* Spans the gate's exports let through. */
size_t tu_gate_spans(void);
/* The counters of p, a batch processor; aborts when p is not one. */
baton_batch_stats tu_batch_stats(baton_processor p);
/* Ends n spans named name (tracer "test"), each with an attribute i. */
void tu_make_spans(const char *name, int n);
/*
 * Every span a batch processor got is counted once: exported, dropped, or
 * still queued. Needs <criterion/criterion.h>.
 */
#define TU_ASSERT_ACCOUNTED(s)                                                           \
	cr_assert_eq((s)->spans_received,                                                \
	             (s)->spans_exported + (s)->dropped_queue_full +                     \
	                 (s)->dropped_shutdown + (s)->dropped_export_failure +           \
	                 (s)->queue_size,                                                \
	             "received %llu, exported %llu, full %llu, shutdown %llu, "          \
	             "failed %llu, queued %u",                                           \
	             (unsigned long long)(s)->spans_received,                            \
	             (unsigned long long)(s)->spans_exported,                            \
	             (unsigned long long)(s)->dropped_queue_full,                        \
	             (unsigned long long)(s)->dropped_shutdown,                          \
	             (unsigned long long)(s)->dropped_export_failure, (s)->queue_size)
/* A path under the build tree's bin folder (BATON_TEST_BIN) into buf. */
const char *tu_bin(const char *name, char *buf, size_t cap);

/*
 * Of this process's threads named comm (/proc/self/task/<tid>/comm), how
 * many there are (*found) and how many block signal sig (SigBlk).
 */
int tu_threads_blocking(const char *comm, int sig, int *found);
/* CPU nanoseconds so far of this process's threads named comm, summed
 * (/proc/self/task/<tid>/schedstat); 0 when the system does not say. */
uint64_t tu_threads_cpu_ns(const char *comm);

/*
 * Waits for the child pid (forked by the test, which runs its checks and
 * _exit()s with 0 for success): its exit code, 128 + the signal that
 * ended it, or -1 if waitpid() failed.
 */
int tu_wait_child(pid_t pid);

/*
 * GCC 12's ASan and TSan runtimes do not lock their own allocators across
 * fork(): a child forked while another thread is inside malloc can hang in
 * its first allocation (seen here: the child's export thread waiting
 * forever on the ASan allocator's mutex). A test that forks a process with
 * threads and then allocates in the child calls this first: it runs in the
 * plain build and is skipped, with that reason, under a sanitizer. Needs
 * <criterion/criterion.h>.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_SKIP_THREADED_FORK()                                                          \
	cr_skip_test("fork() of a threaded process: the sanitizer runtime's allocator "  \
	             "is not fork-safe; this test runs in the plain build")
#else
#define TU_SKIP_THREADED_FORK() ((void)0)
#endif

#endif
