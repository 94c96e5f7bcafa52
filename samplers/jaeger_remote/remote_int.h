/* Internal: the Jaeger strategy parser and the OTEL_TRACES_SAMPLER_ARG parser. */
#ifndef BT_REMOTE_INT_H
#define BT_REMOTE_INT_H

#include <baton/remote_sampling.h>
#include <baton/sampling.h>

/* A parsed strategy. Operation names point into doc, which it owns. */
typedef struct bt_rs_spec {
	baton_remote_strategy kind;
	double probability; /* PROBABILISTIC, or PER_OPERATION's default */
	double max_per_sec; /* RATE_LIMITING, or PER_OPERATION's lower bound */
	baton_operation_probability *ops;
	size_t nops;
	void *doc; /* the JSON document (json_t *) */
} bt_rs_spec;

/*
 * Parses a strategy answer of len bytes (not NUL-terminated) with at most
 * max_ops operations. On success fills *out (free it with bt_rs_spec_free).
 * Returns BATON_OK, BATON_EFORMAT with a reason in err (when not NULL),
 * BATON_ETOOBIG (more operations than max_ops), BATON_ENOMEM.
 */
baton_err bt_rs_parse(const char *buf, size_t len, size_t max_ops, bt_rs_spec *out,
                      char *err, size_t errlen);
void bt_rs_spec_free(bt_rs_spec *spec);
/* Builds the sampler a spec describes. */
baton_err bt_rs_build(const bt_rs_spec *spec, uint32_t max_unlisted, baton_sampler *out);

/* The longest endpoint URL accepted, in bytes. */
#define BT_RS_ENDPOINT_MAX 1023

/*
 * True when the n bytes at url (not NUL-terminated) are an endpoint the
 * remote sampler may poll: at most BT_RS_ENDPOINT_MAX bytes, no control
 * byte, space or DEL, and a URL that libcurl parses with scheme http or
 * https and a host.
 */
bool bt_rs_endpoint_ok(const char *url, size_t n);

/*
 * service.name from an OTEL_RESOURCE_ATTRIBUTES value (may be NULL):
 * the last well-formed entry, trimmed and percent-decoded into buf (cap
 * bytes). An entry with a bad escape, a control byte or DEL once decoded,
 * or a value that does not fit is logged and skipped. Returns buf, or NULL
 * when there is no usable entry.
 */
const char *bt_rs_service_from_attrs(const char *attrs, char *buf, size_t cap);

/* OTEL_TRACES_SAMPLER_ARG for jaeger_remote. */
/* Longest TLS file path OTEL_TRACES_SAMPLER_ARG may give. */
#define BT_RS_PATH_MAX 1023

typedef struct bt_rs_arg {
	char endpoint[BT_RS_ENDPOINT_MAX + 1]; /* empty: the default */
	uint32_t polling_interval_ms;
	double initial_sampling_rate;
	/* TLS PEM paths (certificate, clientKey, clientCertificate); empty: none. */
	char certificate[BT_RS_PATH_MAX + 1];
	char client_key[BT_RS_PATH_MAX + 1];
	char client_certificate[BT_RS_PATH_MAX + 1];
} bt_rs_arg;
/*
 * Parses arg (may be NULL) into *out, defaults for what is missing or
 * malformed (each malformed item is logged, quoting at most 64 bytes of its
 * value). An endpoint is kept only when bt_rs_endpoint_ok. Returns the
 * number of malformed items.
 */
int bt_rs_parse_arg(const char *arg, bt_rs_arg *out);

#endif /* BT_REMOTE_INT_H */
