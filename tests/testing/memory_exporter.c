/* The in-memory exporter: keeps copies of exported spans for tests. */
#include "memory_exporter.h"

#include <pthread.h>
#include <stdlib.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct tu_memory_exporter {
	pthread_mutex_t mtx;
	tu_memory_span *spans;
	size_t n, cap;
	size_t batches;
	uint64_t dropped;
};

/* Appends "key=value\n" for one attribute to buf at *off (cut at the end). */
static void tu_attr_text(char *buf, size_t cap, size_t *off, const baton_attr *a)
{
	int w = 0;
	size_t room = *off < cap ? cap - *off : 0;
	switch (a->value.type) {
	case BATON_VALUE_STRING:
		w = snprintf(buf + *off, room, "%s=%.*s\n", a->key, (int)a->value.len,
		             a->value.u.s);
		break;
	case BATON_VALUE_INT:
		w = snprintf(buf + *off, room, "%s=%" PRId64 "\n", a->key, a->value.u.i);
		break;
	case BATON_VALUE_DOUBLE:
		w = snprintf(buf + *off, room, "%s=%g\n", a->key, a->value.u.d);
		break;
	case BATON_VALUE_BOOL:
		w = snprintf(buf + *off, room, "%s=%s\n", a->key,
		             a->value.u.b ? "true" : "false");
		break;
	default:
		w = snprintf(buf + *off, room, "%s=[%zu]\n", a->key, a->value.len);
		break;
	}
	if (w > 0)
		*off += (size_t)w < room ? (size_t)w : room;
}

static baton_export_result bt_mem_export(void *arg, const baton_span_data *const *spans,
                                         size_t n)
{
	tu_memory_exporter *m = arg;
	pthread_mutex_lock(&m->mtx);
	m->batches++;
	for (size_t i = 0; i < n; i++) {
		if (m->n >= m->cap) {
			m->dropped++;
			continue;
		}
		const baton_span_data *s = spans[i];
		tu_memory_span *o = &m->spans[m->n++];
		memset(o, 0, sizeof(*o));
		o->context = s->context;
		o->context.tracestate = NULL;
		o->parent = s->parent;
		o->parent.tracestate = NULL;
		snprintf(o->name, sizeof(o->name), "%s", s->name);
		o->kind = s->kind;
		o->start_unix_ns = s->start_unix_ns;
		o->end_unix_ns = s->end_unix_ns;
		o->status = s->status;
		o->nattrs = s->nattrs;
		o->nevents = s->nevents;
		o->nlinks = s->nlinks;
		o->dropped_attrs = s->dropped_attrs;
		o->dropped_events = s->dropped_events;
		o->dropped_links = s->dropped_links;
		size_t off = 0;
		for (const baton_attr *a = s->attrs; a != NULL; a = a->next)
			tu_attr_text(o->attrs_text, sizeof(o->attrs_text), &off, a);
		if (s->links != NULL) {
			o->first_link = s->links->context;
			o->first_link.tracestate = NULL;
		}
		if (s->events != NULL)
			snprintf(o->first_event, sizeof(o->first_event), "%s",
			         s->events->name);
		const baton_attr *sr = baton_attr_find(s->attrs, "SampleRate");
		if (sr != NULL)
			o->sample_rate = sr->value.type == BATON_VALUE_INT
			                     ? (double)sr->value.u.i
			                     : sr->value.u.d;
		if (s->context.tracestate != NULL)
			snprintf(o->tracestate, sizeof(o->tracestate), "%s",
			         s->context.tracestate);
	}
	pthread_mutex_unlock(&m->mtx);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static void bt_mem_destroy(void *arg)
{
	tu_memory_exporter *m = arg;
	pthread_mutex_destroy(&m->mtx);
	free(m->spans);
	free(m);
}

static const baton_exporter_ops bt_mem_ops = {
    sizeof(baton_exporter_ops), "memory", bt_mem_export, NULL, NULL, bt_mem_destroy,
};

baton_err tu_memory_exporter_create(size_t capacity, baton_exporter *out,
                                    tu_memory_exporter **store)
{
	if (out == NULL || store == NULL || capacity == 0)
		return BATON_EINVAL;
	tu_memory_exporter *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return BATON_ENOMEM;
	m->spans = calloc(capacity, sizeof(tu_memory_span));
	if (m->spans == NULL) {
		free(m);
		return BATON_ENOMEM;
	}
	m->cap = capacity;
	pthread_mutex_init(&m->mtx, NULL);
	*out = (baton_exporter){&bt_mem_ops, m};
	*store = m;
	return BATON_OK;
}

size_t tu_memory_exporter_count(tu_memory_exporter *m)
{
	pthread_mutex_lock(&m->mtx);
	size_t n = m->n;
	pthread_mutex_unlock(&m->mtx);
	return n;
}

size_t tu_memory_exporter_count_named(tu_memory_exporter *m, const char *name)
{
	size_t k = 0;
	pthread_mutex_lock(&m->mtx);
	for (size_t i = 0; i < m->n; i++)
		k += strcmp(m->spans[i].name, name) == 0;
	pthread_mutex_unlock(&m->mtx);
	return k;
}

size_t tu_memory_exporter_batches(tu_memory_exporter *m)
{
	pthread_mutex_lock(&m->mtx);
	size_t n = m->batches;
	pthread_mutex_unlock(&m->mtx);
	return n;
}

baton_err tu_memory_exporter_get(tu_memory_exporter *m, size_t i, tu_memory_span *out)
{
	baton_err rv = BATON_EINVAL;
	pthread_mutex_lock(&m->mtx);
	if (i < m->n && out != NULL) {
		*out = m->spans[i];
		rv = BATON_OK;
	}
	pthread_mutex_unlock(&m->mtx);
	return rv;
}

void tu_memory_exporter_clear(tu_memory_exporter *m)
{
	pthread_mutex_lock(&m->mtx);
	m->n = 0;
	m->batches = 0;
	pthread_mutex_unlock(&m->mtx);
}
