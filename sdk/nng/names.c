/*
 * Destination names per socket, the cached tracer and the messaging
 * attributes. Names live in a fixed table: writers append under a mutex and
 * publish the new count with release ordering; readers load the count with
 * acquire and scan the published slots newest first without a lock (a slot
 * is never written again once published, so a later name for the same
 * socket goes in a new slot and wins the scan).
 */
#include "nng_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define BT_NNG_NAMES 256

struct bt_nng_name {
	uint32_t sock;
	char dest[BT_NNG_DEST_MAX + 1];
	char send_name[BT_NNG_DEST_MAX + 8];
	char process_name[BT_NNG_DEST_MAX + 12];
};

static struct bt_nng_name bt_names[BT_NNG_NAMES];
static _Atomic uint32_t bt_nnames;
static pthread_mutex_t bt_names_mtx = PTHREAD_MUTEX_INITIALIZER;

static const struct bt_nng_name *bt_name_find(uint32_t sock)
{
	uint32_t n = atomic_load_explicit(&bt_nnames, memory_order_acquire);
	for (uint32_t i = n; i-- > 0;) {
		if (bt_names[i].sock == sock)
			return &bt_names[i];
	}
	return NULL;
}

static size_t bt_cut(const char *s)
{
	size_t n = strlen(s);
	return n > BT_NNG_DEST_MAX ? BT_NNG_DEST_MAX : n;
}

static int bt_name_add(uint32_t sock, const char *name, bool only_if_absent)
{
	int rv = 0;
	pthread_mutex_lock(&bt_names_mtx);
	uint32_t n = atomic_load_explicit(&bt_nnames, memory_order_relaxed);
	if (only_if_absent && bt_name_find(sock) != NULL)
		goto out;
	if (n == BT_NNG_NAMES) {
		rv = NNG_ENOMEM;
		goto out;
	}
	struct bt_nng_name *e = &bt_names[n];
	size_t len = bt_cut(name);
	e->sock = sock;
	memcpy(e->dest, name, len);
	e->dest[len] = '\0';
	memcpy(e->send_name, "send ", 5);
	memcpy(e->send_name + 5, name, len);
	e->send_name[5 + len] = '\0';
	memcpy(e->process_name, "process ", 8);
	memcpy(e->process_name + 8, name, len);
	e->process_name[8 + len] = '\0';
	atomic_store_explicit(&bt_nnames, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&bt_names_mtx);
	return rv;
}

int baton_nng_socket_set_name(nng_socket s, const char *name)
{
	int id = nng_socket_id(s);
	if (id <= 0 || name == NULL)
		return NNG_EINVAL;
	return bt_name_add((uint32_t)id, name, false);
}

int baton_nng_listen(nng_socket s, const char *url, nng_listener *lp, int flags)
{
	int rv = nng_listen(s, url, lp, flags);
	if (rv == 0 && url != NULL && nng_socket_id(s) > 0)
		bt_name_add((uint32_t)nng_socket_id(s), url, true);
	return rv;
}

int baton_nng_dial(nng_socket s, const char *url, nng_dialer *dp, int flags)
{
	int rv = nng_dial(s, url, dp, flags);
	if (rv == 0 && url != NULL && nng_socket_id(s) > 0)
		bt_name_add((uint32_t)nng_socket_id(s), url, true);
	return rv;
}

void bt_nng_dest_resolve(bt_nng_dest *d, const char *explicit_name, uint32_t sock,
                         bool send)
{
	const char *op = send ? "send " : "process ";
	size_t oplen = send ? 5 : 8;
	if (explicit_name != NULL) {
		size_t len = bt_cut(explicit_name);
		memcpy(d->buf, op, oplen);
		memcpy(d->buf + oplen, explicit_name, len);
		d->buf[oplen + len] = '\0';
		d->span_name = d->buf;
		d->dest = d->buf + oplen;
		return;
	}
	const struct bt_nng_name *e = sock != 0 ? bt_name_find(sock) : NULL;
	if (e != NULL) {
		d->dest = e->dest;
		d->span_name = send ? e->send_name : e->process_name;
		return;
	}
	d->dest = NULL;
	d->span_name = send ? "send" : "process";
}

/*
 * The tracer pointer is valid from one baton_init to the next baton_fini;
 * the SDK generation changes at both. The generation is stored with
 * release after the pointer, and loaded with acquire before it, so a
 * reader that sees the current generation sees the pointer stored for it.
 */
static _Atomic(baton_tracer *) bt_tracer_cached;
static _Atomic uint64_t bt_tracer_gen = UINT64_MAX;

baton_tracer *bt_nng_tracer(void)
{
	uint64_t g = baton_envelope_sdk_generation();
	if (atomic_load_explicit(&bt_tracer_gen, memory_order_acquire) == g)
		return atomic_load_explicit(&bt_tracer_cached, memory_order_relaxed);
	baton_tracer *t = baton_tracer_get("baton.nng", BATON_VERSION_STRING);
	atomic_store_explicit(&bt_tracer_cached, t, memory_order_relaxed);
	atomic_store_explicit(&bt_tracer_gen, g, memory_order_release);
	return t;
}

void bt_nng_attrs(baton_span sp, const char *op, const bt_nng_dest *d, size_t body,
                  uint64_t recipients)
{
	baton_span_set_str(sp, "messaging.system", "nng");
	baton_span_set_str(sp, "messaging.operation.type", op);
	baton_span_set_str(sp, "messaging.operation.name", op);
	if (d->dest != NULL)
		baton_span_set_str(sp, "messaging.destination.name", d->dest);
	if (body != SIZE_MAX)
		baton_span_set_int(sp, "messaging.message.body.size", (int64_t)body);
	if (recipients > 0)
		baton_span_set_int(sp, "baton.fanout.recipients", (int64_t)recipients);
}
