/*
 * Interned keys and names under ThreadSanitizer (a plain program; it runs
 * in every build too): threads start spans whose names and keys they
 * format into their own reused buffers, from a set they share, so the
 * threads intern the same strings at the same time while a batch
 * processor's worker reads them. Every exported span must carry exactly
 * the name and keys its producer wrote: the name says which.
 * Exits 0 and prints "N passed, 0 failed" when they all do.
 */
#include <baton/baton.h>
#include <baton/processor.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsan_check.h"

#define THREADS 3
#define SPANS   4000
#define NAMES   300 /* distinct names, and keys per name */

static _Atomic uint64_t exported, wrong;

/* Name "op.<n>" carries keys "key.<n>.a" and "key.<n>.b" = n. */
static baton_export_result check_export(void *arg, const baton_span_data *const *spans,
                                        size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *d = spans[i];
		unsigned id;
		char ka[32], kb[32];
		if (sscanf(d->name, "op.%u", &id) != 1) {
			atomic_fetch_add(&wrong, 1);
			continue;
		}
		snprintf(ka, sizeof(ka), "key.%u.a", id);
		snprintf(kb, sizeof(kb), "key.%u.b", id);
		const baton_attr *a = baton_attr_find(d->attrs, ka);
		const baton_attr *b = baton_attr_find(d->attrs, kb);
		if (d->nattrs != 3 || a == NULL || b == NULL ||
		    a->value.u.i != (int64_t)id || b->value.u.i != (int64_t)id)
			atomic_fetch_add(&wrong, 1);
	}
	atomic_fetch_add(&exported, n);
	return BATON_EXPORT_RESULT(BATON_OK);
}
static const baton_exporter_ops check_ops = {
    sizeof(baton_exporter_ops), "check", check_export, NULL, NULL, NULL};

static void *producer(void *arg)
{
	baton_tracer *t = arg;
	char name[32], key[32];
	unsigned seed = (unsigned)(uintptr_t)&name;
	for (int i = 0; i < SPANS; i++) {
		unsigned id = (unsigned)rand_r(&seed) % NAMES;
		snprintf(name, sizeof(name), "op.%u", id);
		baton_span s = baton_span_start(t, name);
		snprintf(name, sizeof(name), "garbage.%d", i); /* reused at once */
		snprintf(key, sizeof(key), "key.%u.a", id);
		baton_span_set_int(s, key, id);
		snprintf(key, sizeof(key), "key.%u.b", id);
		baton_span_set_int(s, key, id);
		memset(key, 'z', sizeof(key) - 1);
		baton_span_end(s);
	}
	return NULL;
}

int main(void)
{
	baton_processor p;
	if (!tsan_init_batch((baton_exporter){&check_ops, NULL}, 16384, 256, 1, 0, &p))
		return 1;
	baton_tracer *t = baton_tracer_get("tsan", NULL);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, producer, t);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(baton_force_flush(10000) == BATON_OK, "flush");
	baton_batch_stats bs;
	baton_batch_processor_stats(p, &bs);
	CHECK(atomic_load(&exported) + bs.dropped_queue_full == (uint64_t)THREADS * SPANS,
	      "exported %llu + dropped %llu", (unsigned long long)atomic_load(&exported),
	      (unsigned long long)bs.dropped_queue_full);
	CHECK(atomic_load(&exported) > 0, "nothing exported");
	CHECK(atomic_load(&wrong) == 0, "%llu spans with a wrong name or key",
	      (unsigned long long)atomic_load(&wrong));
	baton_fini(5000);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures != 0;
}
