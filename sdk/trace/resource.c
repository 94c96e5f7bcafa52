/* The resource: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the SDK's own. */
#include "trace/trace_int.h"

#include <stdio.h>
#include <string.h>

/* Percent-decodes [s, s+n) into out (NUL-terminated); false on a bad escape. */
static bool bt_pct_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return false;
		int v = 0;
		for (int j = 1; j <= 2; j++) {
			char c = s[i + j];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return false;
		}
		if (v == 0)
			return false; /* %00 would cut the C string short */
		out[o++] = (char)v;
		i += 2;
	}
	out[o] = '\0';
	return true;
}

static void bt_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

void bt_parse_kv_list(const char *s, const char *what,
                      void (*fn)(void *arg, const char *k, const char *v), void *arg)
{
	if (s == NULL)
		return;
	const char *p = s;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		const char *k = p;
		size_t kn = eq ? (size_t)(eq - p) : 0;
		const char *v = eq ? eq + 1 : NULL;
		size_t vn = eq ? len - kn - 1 : 0;
		if (eq != NULL) {
			bt_trim(&k, &kn);
			bt_trim(&v, &vn);
		}
		if (len > 0 && (eq == NULL || kn == 0 || len > 4096)) {
			bt_warn("%s: entry \"%.*s\" is not key=value; skipped", what,
			        (int)(len > 64 ? 64 : len), p);
		} else if (eq != NULL) {
			char kb[4097], vb[4097];
			if (bt_pct_decode(k, kn, kb) && bt_pct_decode(v, vn, vb) &&
			    kb[0] != '\0')
				fn(arg, kb, vb);
			else
				bt_warn("%s: entry \"%.*s\" has a bad %%-escape; skipped",
				        what, (int)(len > 64 ? 64 : len), p);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
}

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
