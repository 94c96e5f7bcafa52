/*
 * baton_auto_init: exporters chosen by OTEL_TRACES_EXPORTER, each behind a
 * batch processor, appended to the caller's processors.
 */
#include "util.h"

#include <baton/console.h>
#include <baton/auto.h>
#include <baton/jaeger_json.h>
#include <baton/processor.h>
#if defined(BATON_HAVE_OTLP_HTTP)
#include <baton/otlp_http.h>
#endif
#if defined(BATON_HAVE_REMOTE_SAMPLING)
#include <baton/remote_sampling.h>
#endif

#include <string.h>
#include <strings.h>

/* The console exports at least this often, unless OTEL_BSP_SCHEDULE_DELAY says otherwise.
 */
#define BT_AUTO_CONSOLE_DELAY_MS 1000

static const struct {
	const char *name;
	baton_exporter_kind kind;
} bt_auto_names[] = {
    {"otlp", BATON_EXPORTER_OTLP},
    {"jaeger-json", BATON_EXPORTER_JAEGER_JSON},
    {"jaeger_json", BATON_EXPORTER_JAEGER_JSON},
    {"console", BATON_EXPORTER_CONSOLE},
};

static const char *bt_auto_kind_name(baton_exporter_kind k)
{
	switch (k) {
	case BATON_EXPORTER_OTLP:
		return "otlp";
	case BATON_EXPORTER_JAEGER_JSON:
		return "jaeger-json";
	case BATON_EXPORTER_CONSOLE:
		return "console";
	default:
		return "?";
	}
}

bool baton_auto_available(baton_exporter_kind kind)
{
	switch (kind) {
	case BATON_EXPORTER_OTLP:
#if defined(BATON_HAVE_OTLP_HTTP)
		return true;
#else
		return false;
#endif
	case BATON_EXPORTER_JAEGER_JSON:
	case BATON_EXPORTER_CONSOLE:
		return true;
	default:
		return false;
	}
}

/*
 * Parses a list into kinds (each once, in order, at most
 * BATON_AUTO_MAX_EXPORTERS). Returns the count; "none" anywhere gives 0.
 */
static size_t bt_auto_parse(const char *list, const char *what,
                            baton_exporter_kind *kinds)
{
	size_t n = 0, names = 0;
	bool none = false;
	const char *cur = list, *a;
	size_t len;
	while (bt_list_next(&cur, &a, &len)) {
		if (len == 0)
			continue;
		names++;
		if (len == 4 && strncasecmp(a, "none", 4) == 0) {
			none = true;
			continue;
		}
		bool known = false;
		for (size_t i = 0; i < sizeof(bt_auto_names) / sizeof(bt_auto_names[0]);
		     i++) {
			const char *nm = bt_auto_names[i].name;
			if (strlen(nm) != len || strncasecmp(a, nm, len) != 0)
				continue;
			known = true;
			baton_exporter_kind k = bt_auto_names[i].kind;
			bool dup = false;
			for (size_t j = 0; j < n; j++)
				dup = dup || kinds[j] == k;
			if (dup)
				break;
			if (!baton_auto_available(k))
				bt_warn(
				    "%s: the %s exporter is not in this build; skipped",
				    what, nm);
			else if (n < BATON_AUTO_MAX_EXPORTERS)
				kinds[n++] = k;
			break;
		}
		if (!known)
			bt_warn("%s: unknown exporter \"%.*s\" skipped (known: otlp, "
			        "jaeger-json, "
			        "console, none)%s",
			        what, (int)(len < 64 ? len : 64), a,
			        len == 6 && strncasecmp(a, "jaeger", 6) == 0
			            ? "; Jaeger takes OTLP: use otlp"
			            : "");
	}
	if (none) {
		if (names > 1)
			bt_warn("%s: \"none\" given with other exporters: none are used",
			        what);
		return 0;
	}
	return n;
}

baton_err baton_auto_exporters(const char *embedded_default, baton_exporter_kind *kinds,
                               size_t cap, size_t *n)
{
	baton_exporter_kind k[BATON_AUTO_MAX_EXPORTERS];
	size_t count;
	if (n == NULL || (kinds == NULL && cap > 0))
		return BATON_EINVAL;
	const char *env = baton_getenv("OTEL_TRACES_EXPORTER");
	if (env != NULL)
		count = bt_auto_parse(env, "OTEL_TRACES_EXPORTER", k);
	else if (baton_getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != NULL ||
	         baton_getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != NULL ||
	         embedded_default == NULL)
		count = bt_auto_parse("otlp", "OTEL_TRACES_EXPORTER", k);
	else
		count = bt_auto_parse(embedded_default, "default exporters", k);
	if (count > cap)
		count = cap;
	for (size_t i = 0; i < count; i++)
		kinds[i] = k[i];
	*n = count;
	return BATON_OK;
}

/* Creates the exporter of kind behind a batch processor into *out. */
static baton_err bt_auto_build(baton_exporter_kind kind, baton_processor *out)
{
	baton_exporter e = {0};
	baton_batch_options bo = {.size = sizeof(bo)};
	baton_err rv = BATON_ENOTSUP;
	switch (kind) {
	case BATON_EXPORTER_OTLP: {
		const char *pvar = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
		const char *proto = baton_getenv(pvar);
		if (proto == NULL) {
			pvar = "OTEL_EXPORTER_OTLP_PROTOCOL";
			proto = baton_getenv(pvar);
		}
		bool json = proto != NULL && strcmp(proto, "http/json") == 0;
		if (proto != NULL && !json && strcmp(proto, "http/protobuf") != 0)
			bt_warn(
			    "%s=%s: baton sends only http/protobuf; using http/protobuf "
			    "(http/json is the other choice; port 4318 on Jaeger and the "
			    "Collector)",
			    pvar, proto);
#if defined(BATON_HAVE_OTLP_HTTP)
		baton_otlp_http_options oo = {.size = sizeof(oo)};
		oo.protocol =
		    json ? BATON_OTLP_PROTOCOL_JSON : BATON_OTLP_PROTOCOL_PROTOBUF;
		rv = baton_otlp_http_exporter_create(&oo, &e);
#else
		(void)json;
#endif
		break;
	}
	case BATON_EXPORTER_JAEGER_JSON:
		rv = baton_jaeger_json_exporter_create(NULL, &e);
		break;
	case BATON_EXPORTER_CONSOLE:
		rv = baton_console_exporter_create(NULL, &e);
		/* A person is watching: do not sit on finished traces for 5 s. */
		if (baton_getenv("OTEL_BSP_SCHEDULE_DELAY") == NULL)
			bo.schedule_delay_ms = BT_AUTO_CONSOLE_DELAY_MS;
		break;
	default:
		break;
	}
	if (rv != BATON_OK)
		return rv;
	/* The batch processor owns e from here, on success and on failure. */
	return baton_batch_processor_create(e, &bo, out);
}

static void bt_auto_release(const baton_options *base)
{
	for (size_t i = 0; i < base->nprocessors; i++) {
		const baton_processor *p = &base->processors[i];
		if (p->ops != NULL && p->ops->destroy != NULL)
			p->ops->destroy(p->arg);
	}
	baton_sampler_destroy(base->sampler);
	baton_fanout_policy_destroy(base->fanout_policy);
}

baton_err baton_auto_init_default(const baton_options *base, const char *embedded_default)
{
	static const baton_options none = {sizeof(baton_options)};
	baton_exporter_kind kinds[BATON_AUTO_MAX_EXPORTERS];
	size_t nkinds = 0;
	bool disabled = false;

	if (base == NULL)
		base = &none;
#if defined(BATON_HAVE_REMOTE_SAMPLING)
	/*
	 * Registering replaces any factory the program installed: do it only
	 * when the environment asks for the Jaeger remote sampler.
	 */
	const char *sampler = baton_getenv("OTEL_TRACES_SAMPLER");
	if (base->sampler.ops == NULL && sampler != NULL &&
	    (strcasecmp(sampler, "jaeger_remote") == 0 ||
	     strcasecmp(sampler, "parentbased_jaeger_remote") == 0))
		baton_remote_sampling_register();
#endif
	/* baton_init reads it again and warns about a bad value: once. */
	if (!base->ignore_disabled_env)
		bt_env_bool_quiet("OTEL_SDK_DISABLED", &disabled);
	if (!disabled)
		baton_auto_exporters(embedded_default, kinds, BATON_AUTO_MAX_EXPORTERS,
		                     &nkinds);

	baton_processor *procs = bt_calloc(base->nprocessors + nkinds, sizeof(*procs));
	if (procs == NULL) {
		bt_auto_release(base);
		return BATON_ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < base->nprocessors; i++)
		procs[n++] = base->processors[i];
	for (size_t i = 0; i < nkinds; i++) {
		baton_err e = bt_auto_build(kinds[i], &procs[n]);
		if (e == BATON_OK)
			n++;
		else
			bt_warn("the %s exporter could not be set up (%s); skipped",
			        bt_auto_kind_name(kinds[i]), baton_strerror(e));
	}
	baton_options o = *base;
	o.size = sizeof(o);
	o.processors = procs;
	o.nprocessors = n;
	baton_err rv = baton_init(&o);
	bt_free(procs);
	return rv;
}

baton_err baton_auto_init(const baton_options *base)
{
	return baton_auto_init_default(base, NULL);
}
