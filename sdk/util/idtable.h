/*
 * Internal: the one table keyed by trace id. Ids come from other processes
 * (a peer picks them), so the table hashes all 16 bytes with SipHash-2-4
 * under a key drawn from getrandom() once per process: a peer that does
 * not know the key cannot choose ids that collide. Open addressing with
 * linear probing, kept at most half full (it doubles), deletion by
 * backward shift (no tombstones), so a lookup examines about 1.5 slots
 * (2.5 for a miss) whatever ids arrive.
 *
 * The table maps an id to a non-NULL pointer that the caller owns; it
 * copies the id. Its size is bounded by the caller, who caps what it
 * inserts. Not thread-safe: one thread at a time per table (the exporters
 * hold their own mutex around it).
 */
#ifndef BT_IDTABLE_H
#define BT_IDTABLE_H

#include <baton/baton.h>
#include <stddef.h>
#include <stdint.h>

#define BT_ID_SIZE 16

typedef struct bt_idslot {
	uint64_t hash;
	void *val; /* NULL: the slot is empty */
	uint8_t id[BT_ID_SIZE];
} bt_idslot;

typedef struct bt_idtable {
	bt_idslot *slots;
	size_t cap;   /* slots, a power of two, or 0 before the first insert */
	size_t count; /* values held */
	/* Work done, for tests and benchmarks: finds, inserts and removes, and
	 * the slots they examined. */
	uint64_t ops, probes;
} bt_idtable;

/* Keyed hash of n bytes with the process key (SipHash-2-4). */
uint64_t bt_idhash(const void *p, size_t n);
/* SipHash-2-4 of n bytes under key k (16 bytes); what bt_idhash uses. */
uint64_t bt_siphash24(const uint8_t k[16], const void *p, size_t n);

/* Empties t (no memory yet); the process key is drawn here, once. */
void bt_idtable_init(bt_idtable *t);
/* Frees the slots, not the values. */
void bt_idtable_fini(bt_idtable *t);
/* The value of id, or NULL. */
void *bt_idtable_find(bt_idtable *t, const uint8_t id[BT_ID_SIZE]);
/*
 * Adds id -> val (val not NULL); an id already there gets val instead.
 * Returns BATON_OK, BATON_EINVAL (val NULL), BATON_ENOMEM (growing failed;
 * t is unchanged).
 */
baton_err bt_idtable_insert(bt_idtable *t, const uint8_t id[BT_ID_SIZE], void *val);
/* Removes id; returns its value, or NULL when it was not there. */
void *bt_idtable_remove(bt_idtable *t, const uint8_t id[BT_ID_SIZE]);
/*
 * Iteration: start with *pos = 0; each call writes the next value to *val
 * and returns true, then false at the end. Inserting or removing while
 * iterating is not allowed (removing the value just returned is not either:
 * collect first).
 */
bool bt_idtable_next(const bt_idtable *t, size_t *pos, void **val);

#endif /* BT_IDTABLE_H */
