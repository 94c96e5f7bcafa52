/*
 * baton/remote_sampling.h: Jaeger remote sampling (library baton::remote_sampling).
 *
 * A remote sampler asks a Jaeger agent or collector which strategy to apply
 * to this service, GET <endpoint>?service=<service name>, on a background
 * thread every polling interval, and applies the answer:
 *   probabilistic   {"probabilisticSampling":{"samplingRate":P}}
 *   rate limiting   {"rateLimitingSampling":{"maxTracesPerSecond":N}}
 *   per operation   {"operationSampling":{"defaultSamplingProbability":P,
 *                      "defaultLowerBoundTracesPerSecond":N,
 *                      "perOperationStrategies":[{"operation":NAME,
 *                        "probabilisticSampling":{"samplingRate":P}}]}}
 * chosen by which field is present (operationSampling first). Until the
 * first good answer it samples with initialSamplingRate; when the endpoint
 * fails or answers garbage it keeps the last good strategy. Decisions never
 * wait for the network and take no lock.
 */
#ifndef BATON_REMOTE_SAMPLING_H
#define BATON_REMOTE_SAMPLING_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_REMOTE_DEFAULT_ENDPOINT "http://localhost:5778/sampling"

/*
 * Options for baton_remote_sampler_create(). Zero-initialise and set size =
 * sizeof(baton_remote_sampler_options); a zero field takes the default shown.
 */
typedef struct baton_remote_sampler_options {
	size_t size;
	/* BATON_REMOTE_DEFAULT_ENDPOINT. An http or https URL with a host, at
	 * most 1023 bytes, without spaces or control bytes (else BATON_EINVAL). */
	const char *endpoint;
	/* The service asked about. Default: OTEL_SERVICE_NAME, else service.name
	 * in OTEL_RESOURCE_ATTRIBUTES, else "unknown_service". */
	const char *service_name;
	uint32_t polling_interval_ms; /* 60000 */
	double initial_sampling_rate; /* 0.001, in (0, 1]; until the first good answer */
	uint32_t timeout_ms;          /* one request, connection included: 5000 */
	size_t max_body_bytes;        /* a longer answer is an error: 1 MiB */
	uint32_t max_operations;      /* listed operations kept: 2000; more is an error */
	/* Operations not listed that get their own lower-bound bucket: 256. */
	uint32_t max_unlisted_operations;
	/* Do not start the thread: polls happen only through
	 * baton_remote_sampler_poll_now. */
	bool manual_polling;
	/*
	 * TLS for an https endpoint; each a path to a PEM file, NULL: none.
	 * certificate: CA certificates that verify the endpoint, instead of the
	 * system's; client_key and client_certificate: the client's key and
	 * certificate (chain), for mutual TLS. A file that cannot be read is
	 * named in a warning at creation, and polls then fail (the strategy in
	 * force is kept), never falling back to the system's CAs.
	 */
	const char *certificate;
	const char *client_key;
	const char *client_certificate;
} baton_remote_sampler_options;

/*
 * Creates a remote sampler and starts its polling thread, which polls at
 * once and then every polling interval. opts may be NULL (all defaults).
 * The sampler decides on every span it is asked about (use it as the root
 * of baton_sampler_parentbased() to decide at trace roots only, as Jaeger
 * clients do). Its destroy stops and joins the thread without waiting out
 * the interval (a request in flight is abandoned). In a child process
 * after fork() the sampler keeps the strategy it had and polls no more
 * (create another one in the child to poll). Writes *out on success.
 * Returns BATON_OK, BATON_EINVAL (bad option), BATON_ENOMEM, BATON_ESYSTEM
 * (no thread). Thread-safe.
 */
BATON_API baton_err baton_remote_sampler_create(const baton_remote_sampler_options *opts,
                                                baton_sampler *out);

/*
 * Polls now and waits up to timeout_ms for that poll to finish (for tests
 * and for tools). Returns the poll's result: BATON_OK (strategy applied),
 * BATON_ETRANSPORT (no connection, or the request timed out),
 * BATON_EREJECTED (HTTP status other than 200), BATON_ETOOBIG (answer over
 * max_body_bytes), BATON_EFORMAT (not a strategy); BATON_ETIMEDOUT when the
 * poll did not finish in time, BATON_EINVAL when s is not a remote sampler,
 * BATON_ECLOSED while it is being destroyed, BATON_ESTATE in a child
 * process after fork(). Thread-safe.
 */
BATON_API baton_err baton_remote_sampler_poll_now(baton_sampler s, uint32_t timeout_ms);

/* The strategy a remote sampler applies. */
typedef enum baton_remote_strategy {
	BATON_REMOTE_INITIAL = 0, /* initialSamplingRate: no good answer yet */
	BATON_REMOTE_PROBABILISTIC = 1,
	BATON_REMOTE_RATE_LIMITING = 2,
	BATON_REMOTE_PER_OPERATION = 3,
} baton_remote_strategy;

typedef struct baton_remote_sampler_stats {
	uint64_t polls;                 /* finished polls */
	uint64_t failures;              /* polls that kept the previous strategy */
	baton_err last_result;          /* of the last finished poll */
	baton_remote_strategy strategy; /* in force now */
	double probability;  /* PROBABILISTIC: its rate; PER_OPERATION: the default */
	double max_per_sec;  /* RATE_LIMITING: its rate; PER_OPERATION: the lower bound */
	uint32_t operations; /* PER_OPERATION: operations listed */
} baton_remote_sampler_stats;

/* Fills *out for the remote sampler s. Returns BATON_OK or BATON_EINVAL. Thread-safe. */
BATON_API baton_err baton_remote_sampler_stats_get(baton_sampler s,
                                                   baton_remote_sampler_stats *out);

/*
 * Makes OTEL_TRACES_SAMPLER=jaeger_remote (and parentbased_jaeger_remote)
 * work: installs a factory with baton_sampler_register_factory() that reads
 * OTEL_TRACES_SAMPLER_ARG=endpoint=<url>,pollingIntervalMs=<ms>,
 * initialSamplingRate=<p>,certificate=<CA PEM path>,clientKey=<PEM path>,
 * clientCertificate=<PEM path> (each optional; the last three are the TLS
 * options of baton_remote_sampler_options; a malformed item is logged,
 * quoting at most 64 bytes of its value, and its default kept) and builds
 * parentbased(remote sampler). The service name asked about is
 * percent-decoded from service.name in OTEL_RESOURCE_ATTRIBUTES when
 * OTEL_SERVICE_NAME is not set; one that decodes to a control byte is not
 * used. Call it before
 * baton_init(); calling it again changes nothing. Thread-safe.
 */
BATON_API void baton_remote_sampling_register(void);

#ifdef __cplusplus
}
#endif

#endif /* BATON_REMOTE_SAMPLING_H */
