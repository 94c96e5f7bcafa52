/* The keyed trace-id table that the exporters share (sdk/util/idtable.c). */
#include "idtable.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* SipHash-2-4 reference vectors (the paper's appendix and its vectors.h):
 * key 00 01 .. 0f, message 00 01 .. (n-1). */
Test(idtable, siphash_matches_the_reference_vectors)
{
	uint8_t k[16], m[16];
	for (int i = 0; i < 16; i++)
		k[i] = m[i] = (uint8_t)i;
	cr_assert_eq(bt_siphash24(k, m, 0), 0x726fdb47dd0e0e31ull);
	cr_assert_eq(bt_siphash24(k, m, 1), 0x74f839c593dc67fdull);
	cr_assert_eq(bt_siphash24(k, m, 8), 0x93f5f5799a932462ull);
	cr_assert_eq(bt_siphash24(k, m, 15), 0xa129ca6149be45e5ull);
	cr_assert_eq(bt_siphash24(k, m, 16), 0x3f2acc7f57c29bdbull);
}

Test(idtable, the_hash_is_keyed_and_covers_every_byte)
{
	uint8_t zero[16] = {0}, id[16];
	memset(id, 0x5a, sizeof(id));
	/* Not the unkeyed (all-zero key) hash: 2^-64 to be wrong by chance. */
	cr_assert_neq(bt_idhash(id, 16), bt_siphash24(zero, id, 16));
	cr_assert_eq(bt_idhash(id, 16), bt_idhash(id, 16));
	for (int i = 0; i < 16; i++) {
		uint8_t other[16];
		memcpy(other, id, 16);
		other[i] ^= 1;
		cr_assert_neq(bt_idhash(other, 16), bt_idhash(id, 16), "byte %d", i);
	}
}

static void make_id(uint8_t *id, uint64_t n, int first_byte)
{
	memset(id, 0xab, BT_ID_SIZE);
	for (int i = 0; i < 6; i++)
		id[first_byte + i] = (uint8_t)(n >> (8 * (5 - i)));
}

/* Value i + 1 as a pointer: any non-NULL value will do. */
#define VAL(i) ((void *)(uintptr_t)((i) + 1))

Test(idtable, insert_find_and_grow)
{
	bt_idtable t;
	bt_idtable_init(&t);
	uint8_t id[16];
	make_id(id, 1, 2);
	cr_assert_null(bt_idtable_find(&t, id), "an empty table finds nothing");
	cr_assert_null(bt_idtable_remove(&t, id));
	cr_assert_eq(bt_idtable_insert(&t, id, NULL), BATON_EINVAL);
	for (uint64_t i = 0; i < 100000; i++) {
		make_id(id, i, 10);
		cr_assert_eq(bt_idtable_insert(&t, id, VAL(i)), BATON_OK);
	}
	cr_assert_eq(t.count, 100000);
	cr_assert_geq(t.cap, 2 * t.count, "at most half full");
	for (uint64_t i = 0; i < 100000; i++) {
		make_id(id, i, 10);
		cr_assert_eq(bt_idtable_find(&t, id), VAL(i));
	}
	for (uint64_t i = 100000; i < 110000; i++) {
		make_id(id, i, 10);
		cr_assert_null(bt_idtable_find(&t, id));
	}
	/* Inserting an id again replaces its value. */
	make_id(id, 7, 10);
	cr_assert_eq(bt_idtable_insert(&t, id, VAL(70)), BATON_OK);
	cr_assert_eq(t.count, 100000);
	cr_assert_eq(bt_idtable_find(&t, id), VAL(70));
	bt_idtable_fini(&t);
	cr_assert_null(t.slots);
}

Test(idtable, iteration_visits_every_value_once)
{
	bt_idtable t;
	bt_idtable_init(&t);
	uint8_t id[16];
	enum { N = 5000 };
	static unsigned seen[N];
	for (uint64_t i = 0; i < N; i++) {
		make_id(id, i, 0);
		cr_assert_eq(bt_idtable_insert(&t, id, VAL(i)), BATON_OK);
	}
	size_t pos = 0, n = 0;
	void *v;
	while (bt_idtable_next(&t, &pos, &v)) {
		uintptr_t i = (uintptr_t)v - 1;
		cr_assert_lt(i, N);
		seen[i]++;
		n++;
	}
	cr_assert_eq(n, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1);
	cr_assert_not(bt_idtable_next(&t, &pos, &v), "stays at the end");
	bt_idtable_fini(&t);
}

/* Random inserts and removes against a plain array: backward-shift deletion
 * must keep every other id reachable. */
Test(idtable, removal_keeps_every_other_id_reachable)
{
	enum { IDS = 3000, OPS = 200000 };
	static bool in[IDS];
	bt_idtable t;
	bt_idtable_init(&t);
	uint8_t id[16];
	size_t count = 0;
	srand(12345);
	for (int op = 0; op < OPS; op++) {
		uint64_t i = (uint64_t)rand() % IDS;
		make_id(id, i * 2654435761u, 2);
		if (rand() % 3 != 0) {
			if (!in[i]) {
				cr_assert_eq(bt_idtable_insert(&t, id, VAL(i)), BATON_OK);
				in[i] = true;
				count++;
			}
		} else {
			cr_assert_eq(bt_idtable_remove(&t, id), in[i] ? VAL(i) : NULL);
			count -= in[i];
			in[i] = false;
		}
		if (op % 10000 == 0) {
			for (uint64_t j = 0; j < IDS; j++) {
				make_id(id, j * 2654435761u, 2);
				cr_assert_eq(bt_idtable_find(&t, id),
				             in[j] ? VAL(j) : NULL, "op %d id %llu", op,
				             (unsigned long long)j);
			}
		}
	}
	cr_assert_eq(t.count, count);
	bt_idtable_fini(&t);
}

/*
 * Ids that differ only in a few bytes, wherever those bytes are, cost a
 * few probes each: 40,000 ids varying in bytes 2-7 (where the old
 * exporter hashes did not look), then in bytes 10-15, then in 0-5.
 */
Test(idtable, ids_differing_in_a_few_bytes_take_a_few_probes_each)
{
	for (int first = 0; first <= 10; first += 2) {
		bt_idtable t;
		bt_idtable_init(&t);
		uint8_t id[16];
		for (uint64_t i = 0; i < 40000; i++) {
			make_id(id, i, first);
			cr_assert_null(bt_idtable_find(&t, id));
			cr_assert_eq(bt_idtable_insert(&t, id, VAL(i)), BATON_OK);
		}
		for (uint64_t i = 0; i < 40000; i++) {
			make_id(id, i, first);
			cr_assert_eq(bt_idtable_find(&t, id), VAL(i));
		}
		double avg = (double)t.probes / (double)t.ops;
		cr_assert_lt(avg, 3.0, "bytes %d-%d: %.2f probes per operation", first,
		             first + 5, avg);
		bt_idtable_fini(&t);
	}
}
