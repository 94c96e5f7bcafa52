/*
 * Threaded checks of the receive side, for ThreadSanitizer (a plain
 * program; it runs in every build too):
 *   - receiver threads open messages (sampled, unsampled, bare) and their
 *     per-thread envelope counters are read and summed by another thread;
 *   - receiver threads come and go (their counts move to the retired sums);
 *   - sockets are named and closed while senders look their names up.
 * Exits 0 and prints "N passed, 0 failed" when every count adds up.
 */
#include <baton/baton.h>
#include <baton/envelope.h>
#include <baton/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define THREADS  3
#define ROUNDS   4
#define MESSAGES 20000

#include "tsan_check.h"

static atomic_bool stop;
static atomic_int bad_payloads;

static void *receiver(void *arg)
{
	(void)arg;
	uint8_t uns[BATON_ENVELOPE_UNSAMPLED_SIZE];
	baton_envelope_wrap_unsampled(uns);
	for (int i = 0; i < MESSAGES; i++) {
		nng_msg *m;
		if (nng_msg_alloc(&m, 0) != 0)
			continue;
		bool bare = i % 4 == 3;
		if (!bare)
			nng_msg_append(m, uns, sizeof(uns));
		nng_msg_append(m, "payload", 7);
		baton_nng_recv_info info;
		if (baton_nng_msg_open(m, NULL, (i & 1) ? &info : NULL) != 0 ||
		    nng_msg_len(m) != 7 || memcmp(nng_msg_body(m), "payload", 7) != 0)
			atomic_fetch_add(&bad_payloads, 1);
		nng_msg_free(m);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	uint64_t last = 0;
	while (!atomic_load(&stop)) {
		baton_envelope_stats st;
		baton_envelope_stats_get(&st);
		uint64_t seen = st.stripped + st.passed_through;
		if (seen < last)
			atomic_fetch_add(&bad_payloads,
			                 1000000); /* sums went backwards */
		last = seen;
	}
	return NULL;
}

static nng_socket named[64];
static void *namer(void *arg)
{
	(void)arg;
	char name[32];
	for (int r = 0; r < 50 && !atomic_load(&stop); r++) {
		for (int i = 0; i < 64; i++) {
			if (nng_push0_open(&named[i]) != 0)
				continue;
			snprintf(name, sizeof(name), "dest-%d-%d", r, i);
			baton_nng_socket_set_name(named[i], name);
		}
		for (int i = 0; i < 64; i++)
			nng_close(named[i]);
	}
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	nng_socket s;
	if (nng_push0_open(&s) != 0)
		return NULL;
	baton_nng_socket_set_name(s, "steady");
	for (int i = 0; i < 2000 && !atomic_load(&stop); i++) {
		/* No peer: the send fails at once, after the name lookup and the span. */
		baton_nng_send(s, "x", 1, NNG_FLAG_NONBLOCK, NULL);
	}
	nng_close(s);
	return NULL;
}

int main(void)
{
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .ignore_disabled_env = true};
	CHECK(baton_init(&o) == BATON_OK, "baton_init");
	baton_envelope_stats_reset();
	pthread_t rd, nm, sd;
	pthread_create(&rd, NULL, reader, NULL);
	pthread_create(&nm, NULL, namer, NULL);
	pthread_create(&sd, NULL, sender, NULL);
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t th[THREADS];
		for (int t = 0; t < THREADS; t++)
			pthread_create(&th[t], NULL, receiver, NULL);
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
	}
	atomic_store(&stop, true);
	pthread_join(rd, NULL);
	pthread_join(nm, NULL);
	pthread_join(sd, NULL);

	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	uint64_t total = (uint64_t)ROUNDS * THREADS * MESSAGES;
	CHECK(atomic_load(&bad_payloads) == 0, "%d payloads altered or sums went back",
	      atomic_load(&bad_payloads));
	CHECK(st.stripped == total / 4 * 3, "stripped %llu of %llu",
	      (unsigned long long)st.stripped, (unsigned long long)(total / 4 * 3));
	CHECK(st.passed_through == total / 4, "passed through %llu of %llu",
	      (unsigned long long)st.passed_through, (unsigned long long)(total / 4));
	baton_fini(1000);
	nng_fini();
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures == 0 ? 0 : 1;
}
