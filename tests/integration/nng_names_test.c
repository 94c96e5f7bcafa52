/*
 * Destination names of NNG sockets: any number of sockets keep theirs,
 * closed sockets give their slot back, and lookups on the send path read
 * whole names while other threads name and close sockets.
 */
#include <baton/baton.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <nng/protocol/pubsub0/pub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nng_int.h"
#include "nngutil.h"
#include "testutil.h"

#define NSOCKS 5000

/*
 * 5,000 sockets each named, one send on each: every producer span keeps
 * messaging.destination.name and its span name (the 257th name failed
 * with NNG_ENOMEM before, and its spans lost the attribute).
 */
Test(nng_names, five_thousand_sockets_keep_their_names)
{
	static nng_socket socks[NSOCKS];
	tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, NSOCKS + 16);
	char name[64];
	for (int i = 0; i < NSOCKS; i++) {
		cr_assert_eq(nng_pub0_open(&socks[i]), 0);
		snprintf(name, sizeof(name), "dest-%d", i);
		cr_assert_eq(baton_nng_socket_set_name(socks[i], name), 0, "socket %d",
		             i);
	}
	for (int i = 0; i < NSOCKS; i++)
		cr_assert_eq(baton_nng_send(socks[i], "x", 1, 0, NULL), 0);
	cr_assert_eq(tu_memory_exporter_count(mem), NSOCKS);
	static bool seen[NSOCKS];
	for (size_t k = 0; k < NSOCKS; k++) {
		tu_memory_span ms;
		cr_assert_eq(tu_memory_exporter_get(mem, k, &ms), BATON_OK);
		int i = -1;
		cr_assert_eq(sscanf(ms.name, "send dest-%d", &i), 1, "span named \"%s\"",
		             ms.name);
		cr_assert(i >= 0 && i < NSOCKS && !seen[i]);
		seen[i] = true;
		snprintf(name, sizeof(name), "dest-%d", i);
		cr_assert(nu_has_attr(&ms, "messaging.destination.name", name),
		          "span %zu lacks messaging.destination.name=%s", k, name);
	}
	/* 5,000 names at most 3/8 of a table: 16,384 slots, and the tables it
	 * replaced (less than as many again). */
	cr_assert_leq(bt_nng_names_capacity(), 2 * 16384, "%zu slots",
	              bt_nng_names_capacity());
	/* Renaming keeps working at that size. */
	cr_assert_eq(baton_nng_socket_set_name(socks[4321], "renamed"), 0);
	bt_nng_dest d;
	bt_nng_dest_resolve(&d, NULL, (uint32_t)nng_socket_id(socks[4321]), true);
	cr_assert_str_eq(d.dest, "renamed");
	cr_assert_str_eq(d.span_name, "send renamed");
	for (int i = 0; i < NSOCKS; i++)
		nng_close(socks[i]);
	baton_fini(1000);
}

/*
 * Opening, naming and closing sockets in a loop: the table stays the size
 * the few open sockets need, and each new socket gets its own name, never a
 * closed one's.
 */
Test(nng_names, closed_sockets_give_their_slots_back)
{
	nng_socket keep[3];
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(nng_pub0_open(&keep[i]), 0);
		char n[16];
		snprintf(n, sizeof(n), "kept-%d", i);
		cr_assert_eq(baton_nng_socket_set_name(keep[i], n), 0);
	}
	for (int i = 0; i < 20000; i++) {
		nng_socket s;
		cr_assert_eq(nng_pub0_open(&s), 0);
		bt_nng_dest d;
		bt_nng_dest_resolve(&d, NULL, (uint32_t)nng_socket_id(s), true);
		cr_assert_null(d.dest, "a new socket has no name yet");
		char n[32];
		snprintf(n, sizeof(n), "loop-%d", i);
		cr_assert_eq(baton_nng_socket_set_name(s, n), 0, "iteration %d", i);
		bt_nng_dest_resolve(&d, NULL, (uint32_t)nng_socket_id(s), false);
		cr_assert_str_eq(d.dest, n);
		cr_assert_str_eq(d.span_name, d.buf);
		cr_assert_eq(strncmp(d.span_name, "process ", 8), 0);
		nng_close(s);
	}
	/* 4 names open at most: the smallest table, never grown. */
	cr_assert_leq(bt_nng_names_capacity(), 16, "%zu slots after 20,000 sockets",
	              bt_nng_names_capacity());
	for (int i = 0; i < 3; i++) {
		bt_nng_dest d;
		char n[16];
		snprintf(n, sizeof(n), "kept-%d", i);
		bt_nng_dest_resolve(&d, NULL, (uint32_t)nng_socket_id(keep[i]), true);
		cr_assert_str_eq(d.dest, n,
		                 "an open socket kept its name through the sweeps");
		nng_close(keep[i]);
	}
}

/* ---- readers while writers churn ---- */

#define NREAD 32
static nng_socket readers_socks[NREAD];
static atomic_bool stop;
static atomic_ulong lookups, bad;

static void *reader(void *arg)
{
	(void)arg;
	unsigned long n = 0;
	while (!atomic_load(&stop)) {
		int i = (int)(n % NREAD);
		bt_nng_dest d;
		bt_nng_dest_resolve(&d, NULL, (uint32_t)nng_socket_id(readers_socks[i]),
		                    (n & 1) != 0);
		char want[BT_NNG_DEST_MAX + 1];
		/* Long names, so a torn copy would show. */
		memset(want, 'a' + i % 26, BT_NNG_DEST_MAX);
		want[BT_NNG_DEST_MAX] = '\0';
		if (d.dest == NULL || strcmp(d.dest, want) != 0)
			atomic_fetch_add(&bad, 1);
		n++;
	}
	atomic_fetch_add(&lookups, n);
	return NULL;
}

/* Lookups see whole, right names while the table is swept, grows and shrinks back. */
Test(nng_names, lookups_read_whole_names_while_sockets_come_and_go, .timeout = 120)
{
	for (int i = 0; i < NREAD; i++) {
		cr_assert_eq(nng_pub0_open(&readers_socks[i]), 0);
		char n[BT_NNG_DEST_MAX + 1];
		memset(n, 'a' + i % 26, BT_NNG_DEST_MAX);
		n[BT_NNG_DEST_MAX] = '\0';
		cr_assert_eq(baton_nng_socket_set_name(readers_socks[i], n), 0);
	}
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, NULL), 0);
	static nng_socket churn[600];
	for (int round = 0; round < 10; round++) {
		/* Grow: 600 more open, named sockets... */
		for (int i = 0; i < 600; i++) {
			cr_assert_eq(nng_pub0_open(&churn[i]), 0);
			cr_assert_eq(baton_nng_socket_set_name(churn[i], "churn"), 0);
		}
		/* ...then close them: later inserts sweep them out. */
		for (int i = 0; i < 600; i++)
			nng_close(churn[i]);
	}
	/* Sized for the 632 open at once, not the 6,032 named. */
	cr_assert_leq(bt_nng_names_capacity(), 2 * 2048, "%zu slots",
	              bt_nng_names_capacity());
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&bad), 0, "%lu of %lu lookups were wrong",
	             atomic_load(&bad), atomic_load(&lookups));
	cr_assert_gt(atomic_load(&lookups), 0);
	for (int i = 0; i < NREAD; i++)
		nng_close(readers_socks[i]);
}
