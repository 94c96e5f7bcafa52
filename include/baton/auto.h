/*
 * baton/auto.h (baton::auto, libbaton_auto): set baton up with the exporters
 * and sampler the environment names. It links every exporter of the build.
 *
 * OTEL_TRACES_EXPORTER is a comma-separated list of:
 *   otlp         OTLP/HTTP to OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT
 *                (baton/otlp_http.h), behind a batch processor, in the
 *                encoding OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL names
 *                (http/protobuf or http/json; anything else gets a
 *                warning and http/protobuf)
 *   jaeger-json  a Jaeger JSON file for Jaeger UI's "Upload" tab
 *                (baton/jaeger_json.h), behind a batch processor
 *   console      trace trees on stdout (baton/console.h), behind a batch
 *                processor that exports at least once a second (unless
 *                OTEL_BSP_SCHEDULE_DELAY is set)
 *   none         no exporter (wins over anything else in the list)
 * Names are case-insensitive, blanks around them are ignored, a name given
 * twice counts once. An unknown name, or one whose exporter is not in this
 * build, is skipped with a warning in baton's log. Unset or empty, the
 * list is "otlp", as in OpenTelemetry.
 */
#ifndef BATON_AUTO_H
#define BATON_AUTO_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The exporters baton_auto_init() knows. */
typedef enum baton_exporter_kind {
	BATON_EXPORTER_OTLP = 1,
	BATON_EXPORTER_JAEGER_JSON = 2,
	BATON_EXPORTER_CONSOLE = 3,
} baton_exporter_kind;

/* The most exporters one list can name (each kind once). */
#define BATON_AUTO_MAX_EXPORTERS 3

/*
 * Returns true when this build of baton::auto contains the exporter of
 * kind (the OTLP/HTTP exporter needs baton::otlp_http). Thread-safe.
 */
BATON_API bool baton_auto_available(baton_exporter_kind kind);

/*
 * Works out which exporters baton_auto_init_default(base, embedded_default)
 * would build, without building them: the OTEL_TRACES_EXPORTER list when
 * it is set; else "otlp" when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; else embedded_default when
 * not NULL; else "otlp". Writes up to cap kinds, in list order, to
 * kinds[] and their number to *n (0 for "none"). Unknown or unavailable
 * names are skipped with a warning. Returns BATON_OK, or BATON_EINVAL when
 * n is NULL or kinds is NULL with cap > 0. Thread-safe.
 */
BATON_API baton_err baton_auto_exporters(const char *embedded_default,
                                         baton_exporter_kind *kinds, size_t cap,
                                         size_t *n);

/*
 * Initialises baton as baton_init(base) does, with one more span processor
 * for each exporter OTEL_TRACES_EXPORTER names (default otlp), appended
 * after base->processors. Each exporter is created with its options from
 * the environment and sits behind its own batch processor (options from
 * OTEL_BSP_*). An exporter that cannot be created is skipped with a
 * warning. When the Jaeger remote sampler is in the build (baton::
 * remote_sampling), base->sampler is unset and OTEL_TRACES_SAMPLER is
 * jaeger_remote or parentbased_jaeger_remote, its factory is registered
 * first (baton_remote_sampling_register()), so that sampler works. With
 * OTEL_SDK_DISABLED=true (and base->ignore_disabled_env false) no exporter
 * is built.
 *
 * base may be NULL (everything from the environment). Takes ownership of
 * base->sampler, base->processors[] and base->fanout_policy on success and
 * on failure, as baton_init() does. Returns what baton_init() returns
 * (BATON_OK, BATON_ESTATE, BATON_EDISABLED, BATON_ENOMEM). Not
 * thread-safe: call once, before other threads use baton.
 */
BATON_API baton_err baton_auto_init(const baton_options *base);

/*
 * As baton_auto_init(), for programs that carry their own default: when
 * neither OTEL_TRACES_EXPORTER nor OTEL_EXPORTER_OTLP_ENDPOINT nor
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, the exporters are those of
 * embedded_default, a list in the same syntax (e.g.
 * "console,jaeger-json"). embedded_default NULL behaves as
 * baton_auto_init(). The string is borrowed for the duration of the call.
 */
BATON_API baton_err baton_auto_init_default(const baton_options *base,
                                            const char *embedded_default);

#ifdef __cplusplus
}
#endif

#endif /* BATON_AUTO_H */
