/*
 * baton/console.h: an exporter that prints readable trace trees to a terminal.
 *
 *   trace 4bf92f3577b34da6a3ce929d0e0e4736  [orders]  3 spans  1.52 ms
 *   send orders  producer  1.52 ms  messaging.system=nng
 *     process orders  consumer  820.0 µs  SampleRate=100
 *       db.query  client  312.0 µs  ERROR: timeout
 *   ^ process orders  consumer  200.0 µs  (parent 00f067aa0ba902b7 remote)
 *
 * Spans are grouped by trace (the header names the trace, the service,
 * the span count and the time covered) and indented under their parent,
 * children in start order. A span whose parent is not among the printed
 * spans (it lives in another process, or has not ended yet) is printed at
 * the root with a "^" marker and its parent's id. Durations are in ns, µs,
 * ms or s (UTF-8). Each line shows the kind, the key attributes
 * (messaging.*, http.*, rpc.*, error.type, SampleRate; without those that
 * repeat the line: SampleRate=1, messaging.operation.name equal to the
 * first word of the name, messaging.operation.type matching the kind), or
 * all attributes and events on request, and an ERROR status with its
 * description (in red when colour is on). Strings are sanitised: control
 * characters and invalid UTF-8 never reach the terminal.
 *
 * A tree needs the whole trace, so spans are buffered per trace (capped)
 * and a trace is printed when a local root span ends (no parent, or a
 * remote parent), or at force_flush / shutdown for the rest. After
 * max_traces traces, the rest are counted and shutdown prints one line
 * with the count.
 */
#ifndef BATON_CONSOLE_H
#define BATON_CONSOLE_H

#include <baton/baton.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* When to colour the output. */
typedef enum baton_console_color {
	/* Colour when the stream is a terminal, NO_COLOR is unset or empty and TERM is
	   not "dumb". */
	BATON_CONSOLE_COLOR_AUTO = 0,
	BATON_CONSOLE_COLOR_ALWAYS = 1,
	BATON_CONSOLE_COLOR_NEVER = 2,
} baton_console_color;

/* Default number of traces printed (BATON_CONSOLE_MAX_TRACES). */
#define BATON_CONSOLE_DEFAULT_MAX_TRACES 50u
/* Default number of spans buffered in all traces (BATON_CONSOLE_MAX_SPANS). */
#define BATON_CONSOLE_DEFAULT_MAX_SPANS 10000u
/* max_traces value meaning "no limit". */
#define BATON_CONSOLE_UNLIMITED UINT32_MAX

/*
 * Options. Zero-initialise and set size = sizeof(baton_console_options);
 * a zero field takes its environment variable, else the default.
 */
typedef struct baton_console_options {
	size_t size;
	/* Where to print; NULL: BATON_CONSOLE_STREAM=stdout|stderr, else stdout.
	 * Borrowed. */
	FILE *stream;
	/* AUTO (0): BATON_CONSOLE_COLOR=auto|always|never, else auto. */
	baton_console_color color;
	/* Print every attribute and event, not only the key ones (or
	 * BATON_CONSOLE_ALL_ATTRIBUTES=true). */
	bool all_attributes;
	/* Traces printed at most; 0: BATON_CONSOLE_MAX_TRACES (0 there: no limit),
	 * else 50. */
	uint32_t max_traces;
	/* Spans buffered at most while waiting for their trace's root; more are counted
	 * and dropped. */
	uint32_t max_spans;
} baton_console_options;

/*
 * Creates a console exporter. opts may be NULL (everything from the
 * environment). The stream is borrowed and must outlive the exporter. On
 * success writes *out; the exporter belongs to whoever it is given to (a
 * span processor destroys it). Returns BATON_OK, BATON_EINVAL (out NULL or
 * opts->size too small), BATON_ENOMEM. Calls are serialised by a mutex.
 */
BATON_API baton_err baton_console_exporter_create(const baton_console_options *opts,
                                                  baton_exporter *out);

/*
 * Formats a duration in nanoseconds the way the console exporter does
 * ("850 ns", "12.5 µs", "3.20 ms", "1.250 s") into buf (cap bytes, cut to
 * fit, always NUL-terminated when cap > 0). Returns buf. Thread-safe.
 */
BATON_API const char *baton_console_format_duration(uint64_t ns, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* BATON_CONSOLE_H */
