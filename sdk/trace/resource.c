/* The resource: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the SDK's own. */
#include "trace/trace_int.h"

#include <stdio.h>
#include <string.h>

struct bt_res_builder {
	baton_attr *head, *tail;
	uint32_t n;
	bool oom;
};

static void bt_res_put(void *arg, const char *k, const char *v)
{
	struct bt_res_builder *b = arg;
	for (baton_attr *a = b->head; a != NULL; a = (baton_attr *)a->next) {
		if (strcmp(a->key, k) == 0) {
			char *nv = bt_strdup(v);
			if (nv == NULL) {
				b->oom = true;
				return;
			}
			bt_free((char *)a->value.u.s);
			a->value.u.s = nv;
			a->value.len = strlen(nv);
			return;
		}
	}
	baton_attr *a = bt_calloc(1, sizeof(*a));
	char *kk = bt_strdup(k), *vv = bt_strdup(v);
	if (a == NULL || kk == NULL || vv == NULL) {
		bt_free(a);
		bt_free(kk);
		bt_free(vv);
		b->oom = true;
		return;
	}
	a->key = kk;
	a->value =
	    (baton_value){.type = BATON_VALUE_STRING, .u.s = vv, .len = strlen(vv)};
	if (b->tail)
		b->tail->next = a;
	else
		b->head = a;
	b->tail = a;
	b->n++;
}

void bt_resource_free(baton_resource *res)
{
	const baton_attr *a = res->attrs;
	while (a != NULL) {
		const baton_attr *next = a->next;
		bt_free((char *)a->key);
		if (a->value.type == BATON_VALUE_STRING)
			bt_free((char *)a->value.u.s);
		bt_free((baton_attr *)a);
		a = next;
	}
	memset(res, 0, sizeof(*res));
}

baton_err bt_resource_build(baton_resource *res, const char *service_name,
                            const baton_kv *extra, size_t nextra)
{
	struct bt_res_builder b = {0};
	char buf[64];
	bt_res_put(&b, "telemetry.sdk.name", "baton");
	bt_res_put(&b, "telemetry.sdk.language", "c");
	bt_res_put(&b, "telemetry.sdk.version", BATON_VERSION_STRING);
	bt_parse_kv_list(baton_getenv("OTEL_RESOURCE_ATTRIBUTES"),
	                 "OTEL_RESOURCE_ATTRIBUTES", bt_res_put, &b);
	for (size_t i = 0; i < nextra; i++) {
		const baton_value *v = &extra[i].value;
		switch (v->type) {
		case BATON_VALUE_STRING:
			bt_res_put(&b, extra[i].key, v->u.s ? v->u.s : "");
			break;
		case BATON_VALUE_INT:
			snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
			bt_res_put(&b, extra[i].key, buf);
			break;
		case BATON_VALUE_DOUBLE:
			snprintf(buf, sizeof(buf), "%g", v->u.d);
			bt_res_put(&b, extra[i].key, buf);
			break;
		case BATON_VALUE_BOOL:
			bt_res_put(&b, extra[i].key, v->u.b ? "true" : "false");
			break;
		default:
			break;
		}
	}
	/* service.name: code, then OTEL_SERVICE_NAME, then the resource attribute. */
	const char *svc = service_name ? service_name : baton_getenv("OTEL_SERVICE_NAME");
	if (svc != NULL) {
		bt_res_put(&b, "service.name", svc);
	} else {
		bool have = false;
		for (baton_attr *a = b.head; a != NULL; a = (baton_attr *)a->next)
			have |= strcmp(a->key, "service.name") == 0;
		if (!have) {
			extern char *program_invocation_short_name;
			snprintf(buf, sizeof(buf), "unknown_service:%s",
			         program_invocation_short_name);
			bt_res_put(&b, "service.name", buf);
		}
	}
	res->attrs = b.head;
	res->nattrs = b.n;
	const baton_attr *sn = baton_attr_find(b.head, "service.name");
	res->service_name = sn ? sn->value.u.s : "unknown_service";
	if (b.oom) {
		bt_resource_free(res);
		return BATON_ENOMEM;
	}
	return BATON_OK;
}
