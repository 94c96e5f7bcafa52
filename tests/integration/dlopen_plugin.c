/*
 * A plug-in that uses baton, as a host that knows nothing of baton loads
 * native code: an Erlang NIF, a Python extension, a JNI library. Built twice:
 * linked with the shared libbaton, and with the static one inside it.
 */
#include <baton/baton.h>
#include <pthread.h>
#include <stdint.h>

#define SPANS_PER_THREAD 100

__attribute__((visibility("default"))) int plugin_run(uint64_t *started, uint64_t *ended);

/* Spans with attributes, an attached context with baggage, a child span. */
static void *work(void *arg)
{
	baton_tracer *t = baton_tracer_get("plugin", NULL);
	(void)arg;
	for (int i = 0; i < SPANS_PER_THREAD; i++) {
		baton_span s = baton_span_start(t, "plugin.work");
		baton_span_set_str(s, "plugin.key", "a literal value");
		baton_span_set_int(s, "plugin.index", i);
		uint32_t tok = baton_span_attach(s);
		baton_baggage_set("plugin.user", "7", NULL);
		baton_span child = baton_span_start(t, "plugin.child");
		baton_span_set_bool(child, "plugin.child", true);
		baton_span_end(child);
		baton_span_detach(tok);
		baton_span_end(s);
	}
	return NULL;
}

int plugin_run(uint64_t *started, uint64_t *ended)
{
	if (baton_init(NULL) != BATON_OK)
		return -1;
	work(NULL);
	/* A thread that exits: its per-thread state is given back in this object. */
	pthread_t th;
	if (pthread_create(&th, NULL, work, NULL) != 0)
		return -2;
	pthread_join(th, NULL);
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	*started = st.spans_started;
	*ended = st.spans_ended;
	baton_fini(1000);
	return 0;
}
