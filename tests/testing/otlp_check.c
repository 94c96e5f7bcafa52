/* Checks of a decoded OTLP request (otlp_check.h). */
#include "otlp_check.h"

#include "spancheck.h"

#include <string.h>

static bool str_ok(const char *s)
{
	return s != NULL && tu_utf8_ok(s, strlen(s));
}

static bool value_ok(const Btotlp__AnyValue *v)
{
	if (v == NULL)
		return true;
	if (v->value_case == BTOTLP__ANY_VALUE__VALUE_STRING_VALUE)
		return str_ok(v->string_value);
	if (v->value_case == BTOTLP__ANY_VALUE__VALUE_ARRAY_VALUE) {
		for (size_t i = 0; i < v->array_value->n_values; i++) {
			if (!value_ok(v->array_value->values[i]))
				return false;
		}
	}
	return true;
}

static bool kvs_ok(Btotlp__KeyValue **kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!str_ok(kv[i]->key) || !value_ok(kv[i]->value))
			return false;
	}
	return true;
}

bool tu_otlp_request_utf8_ok(const Btotlp__ExportTraceServiceRequest *r, size_t *spans)
{
	size_t nspans = 0;
	for (size_t i = 0; i < r->n_resource_spans; i++) {
		const Btotlp__ResourceSpans *rs = r->resource_spans[i];
		if (rs->resource &&
		    !kvs_ok(rs->resource->attributes, rs->resource->n_attributes))
			return false;
		for (size_t j = 0; j < rs->n_scope_spans; j++) {
			const Btotlp__ScopeSpans *ss = rs->scope_spans[j];
			if (ss->scope &&
			    (!str_ok(ss->scope->name) || !str_ok(ss->scope->version)))
				return false;
			nspans += ss->n_spans;
			for (size_t k = 0; k < ss->n_spans; k++) {
				const Btotlp__Span *sp = ss->spans[k];
				if (!str_ok(sp->name) || !str_ok(sp->trace_state) ||
				    !kvs_ok(sp->attributes, sp->n_attributes) ||
				    (sp->status && !str_ok(sp->status->message)))
					return false;
				for (size_t m = 0; m < sp->n_events; m++) {
					if (!str_ok(sp->events[m]->name) ||
					    !kvs_ok(sp->events[m]->attributes,
					            sp->events[m]->n_attributes))
						return false;
				}
				for (size_t m = 0; m < sp->n_links; m++) {
					if (!str_ok(sp->links[m]->trace_state) ||
					    !kvs_ok(sp->links[m]->attributes,
					            sp->links[m]->n_attributes))
						return false;
				}
			}
		}
	}
	if (spans != NULL)
		*spans = nspans;
	return true;
}
