/*
 * baton/jaeger_json.h: an exporter that writes a Jaeger JSON file.
 *
 * The file has the shape of Jaeger's query API answer
 * ({"data":[{"traceID", "spans", "processes", "warnings"}], ...}), which
 * Jaeger UI's Search page opens through its "Upload" tab with no backend.
 * Spans are grouped by trace; each resource becomes one process
 * (serviceName = service.name, the other resource attributes as process
 * tags). A span's parent becomes a CHILD_OF reference, its links
 * FOLLOWS_FROM references, its events logs; kind, status, scope, trace
 * state and attributes become tags (span.kind, otel.status_code,
 * otel.status_description, error, otel.scope.name, otel.scope.version,
 * w3c.tracestate). Arrays are written as string tags holding JSON text.
 *
 * The exporter keeps what it has been given in memory, capped, and
 * rewrites the whole file on force_flush, on shutdown and, at most once per
 * write interval, after an export: into a new file beside it,
 * "<path>.tmp.<12 random hex digits>" (created exclusively, so never an
 * existing file or a planted symlink), then renamed over <path>. So the
 * file on disk is always complete, valid JSON, even with several processes
 * writing the same path. force_flush and shutdown stop writing when their
 * timeout runs out (checked every 256 KiB written): they return
 * BATON_ETIMEDOUT, leave the file as it was, and shutdown logs a warning
 * with the number of spans the file misses. A shutdown that begins while
 * an export is writing the file stops that write first.
 *
 * Process keys are "p" + 16 hex digits of a hash of the process (service
 * name and tags), the same in every file for the same resource. A trace
 * that crosses processes ends up in one file per process; Jaeger UI shows
 * one of them per trace id, so merge the files first
 * (baton_jaeger_json_merge()).
 *
 * After fork(), a child process forgets the spans it inherited (the parent
 * writes them) and writes its own, if any, to "<name>.<pid>.json" (<path>
 * with ".<pid>" before a ".json" suffix, or appended).
 */
#ifndef BATON_JAEGER_JSON_H
#define BATON_JAEGER_JSON_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default file when neither the options nor BATON_JAEGER_JSON_FILE name one. */
#define BATON_JAEGER_JSON_DEFAULT_FILE "baton-traces.json"
/* Default cap on spans held (BATON_JAEGER_JSON_MAX_SPANS). */
#define BATON_JAEGER_JSON_DEFAULT_MAX_SPANS 100000u
/* Default cap on bytes of span JSON held (BATON_JAEGER_JSON_MAX_BYTES). */
#define BATON_JAEGER_JSON_DEFAULT_MAX_BYTES (256u * 1024u * 1024u)
/* Default write interval in ms (BATON_JAEGER_JSON_WRITE_INTERVAL_MS). */
#define BATON_JAEGER_JSON_DEFAULT_INTERVAL_MS 5000u
/* write_interval_ms value meaning "write only on force_flush and shutdown". */
#define BATON_JAEGER_JSON_NO_INTERVAL UINT32_MAX

/*
 * Options. Zero-initialise and set size = sizeof(baton_jaeger_json_options);
 * a zero field takes its environment variable, else the default.
 */
typedef struct baton_jaeger_json_options {
	size_t size;
	/* The file to write; NULL: BATON_JAEGER_JSON_FILE, else "baton-traces.json". */
	const char *path;
	/* Spans held at most; more are counted, dropped and reported at shutdown. */
	uint32_t max_spans;
	/* Bytes of span JSON held at most; past it spans are dropped the same way. */
	uint64_t max_bytes;
	/*
	 * After an export, rewrite the file when this many ms (or ten times
	 * what the last write took, if longer) have passed since the last
	 * write; BATON_JAEGER_JSON_NO_INTERVAL, or 0 in the variable: only on
	 * flush/shutdown.
	 */
	uint32_t write_interval_ms;
} baton_jaeger_json_options;

/*
 * Creates a Jaeger JSON file exporter. opts may be NULL (everything from
 * the environment). The path is copied; the file is first written at the
 * first flush, shutdown or write interval, so a bad path shows up there
 * (as BATON_ESYSTEM and a warning in baton's log). On success writes *out;
 * the exporter belongs to whoever it is given to (a span processor
 * destroys it). Returns BATON_OK, BATON_EINVAL (out NULL, or opts->size
 * too small), BATON_ENOMEM. The exporter is safe to call from several
 * threads (calls are serialised by a mutex).
 */
BATON_API baton_err baton_jaeger_json_exporter_create(
    const baton_jaeger_json_options *opts, baton_exporter *out);

/*
 * Merges n Jaeger JSON files into output: the spans of one trace id from
 * every input become one trace, with the processes of all of them (a key
 * that two inputs use for different processes is renamed in the later
 * input). Traces keep the order in which they first appear. output is
 * written to a new file beside it ("<output>.tmp.<random>", created
 * exclusively) and renamed, so it may also be one of the inputs, and
 * concurrent writers of output never mix their bytes. Inputs are loaded
 * whole (at most 1 GiB each). Returns BATON_OK, BATON_EINVAL (NULL
 * arguments), BATON_ESYSTEM (an input cannot be read or the output
 * written), BATON_EFORMAT (an input is not Jaeger JSON), BATON_ETOOBIG,
 * BATON_ENOMEM, BATON_ENOTSUP (built without jansson,
 * BATON_WITH_JANSSON=OFF); on failure output is left as it was, and a
 * warning in baton's log names the file. Thread-safe.
 */
BATON_API baton_err baton_jaeger_json_merge(const char *const *inputs, size_t n,
                                            const char *output);

#ifdef __cplusplus
}
#endif

#endif /* BATON_JAEGER_JSON_H */
