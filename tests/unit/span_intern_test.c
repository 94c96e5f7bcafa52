/*
 * Interned keys and names: a span carries exactly the key and name its
 * caller passed at the time of the call, whatever the caller does with its
 * buffer afterwards, and a repeated key costs the span no arena bytes.
 */
#include "spancheck.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_int.h"

static tu_memory_exporter *mem;
static baton_tracer *tracer;

static void setup(void)
{
	mem = tu_init_memory(baton_sampler_always_on(), 1024);
	tracer = baton_tracer_get("intern_test", NULL);
}

static void teardown(void)
{
	baton_fini(1000);
}

static tu_memory_span span_at(size_t i)
{
	tu_memory_span s;
	cr_assert_eq(tu_memory_exporter_get(mem, i, &s), BATON_OK);
	return s;
}

TestSuite(intern, .init = setup, .fini = teardown);

Test(intern, a_reused_key_buffer_gives_each_call_its_own_key)
{
	char buf[32];
	baton_span s = baton_span_start(tracer, "reuse");
	strcpy(buf, "alpha.key");
	baton_span_set_int(s, buf, 1);
	strcpy(buf, "beta.key"); /* other length */
	baton_span_set_int(s, buf, 2);
	strcpy(buf, "alpha.kez"); /* same length, last byte differs */
	baton_span_set_int(s, buf, 3);
	strcpy(buf, "blpha.key"); /* same length, first byte differs */
	baton_span_set_str(s, buf, "v");
	strcpy(buf, "alpha.key"); /* back: replaces the first */
	baton_span_set_bool(s, buf, true);
	baton_span_end(s);
	cr_assert_str_eq(span_at(0).attrs_text,
	                 "SampleRate=1\nalpha.key=true\nbeta.key=2\n"
	                 "alpha.kez=3\nblpha.key=v\n");
}

Test(intern, keys_and_names_do_not_depend_on_the_callers_buffer_after_the_call)
{
	char *name = strdup("heap.name");
	char *key = strdup("heap.key");
	baton_span s = baton_span_start(tracer, name);
	baton_span_set_int(s, key, 1);
	memset(name, 'X', strlen(name));
	memset(key, 'Y', strlen(key));
	free(name);
	free(key);
	baton_span_end(s);
	tu_memory_span m = span_at(0);
	cr_assert_str_eq(m.name, "heap.name");
	cr_assert_str_eq(m.attrs_text, "SampleRate=1\nheap.key=1\n");
}

Test(intern, a_reused_name_buffer_gives_each_span_its_own_name)
{
	char buf[160];
	const char *names[] = {"GET /a", "GET /b", "GET /ab", "GET /a", "", "G"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		strcpy(buf, names[i]);
		baton_span s = baton_span_start(tracer, buf);
		strcpy(buf, "overwritten before the end");
		baton_span_end(s);
	}
	/* Longer than an interned string may be: copied whole as before. */
	memset(buf, 'n', 150);
	buf[150] = '\0';
	baton_span_end(baton_span_start(tracer, buf));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_str_eq(span_at(i).name, names[i]);
	tu_memory_span m = span_at(6);
	cr_assert_eq(strlen(m.name), 127, "the capture's own buffer (128) is the limit");
	cr_assert_eq(strspn(m.name, "n"), 127);
}

Test(intern, keys_of_every_length_stay_exact_across_spans)
{
	/* Lengths around the compare's 4- and 8-byte steps, each changed at
	 * every position in turn: no stale key from the thread's cache. */
	char key[40];
	for (size_t n = 1; n <= 24; n++) {
		memset(key, 'k', n);
		key[n] = '\0';
		for (size_t at = 0; at <= n; at++) {
			tu_memory_exporter_clear(mem);
			if (at < n)
				key[at] = 'j';
			baton_span s = baton_span_start(tracer, "k");
			baton_span_set_int(s, key, (int64_t)at);
			baton_span_end(s);
			char want[64];
			snprintf(want, sizeof(want), "SampleRate=1\n%s=%zu\n", key, at);
			cr_assert_str_eq(span_at(0).attrs_text, want,
			                 "length %zu, change at %zu", n, at);
			if (at < n)
				key[at] = 'k';
		}
	}
}

/* A key stored by pointer takes no bytes of the span's budget: a span of
 * 256 bytes holds five attributes under one long literal key each. */
Test(intern_budget, long_repeated_keys_take_no_arena_bytes, .fini = teardown)
{
	baton_limits lim = {.span_arena_bytes = 256};
	mem = tu_init_memory_limits(baton_sampler_always_on(), 4, &lim);
	tracer = baton_tracer_get("intern_test", NULL);
	static const char *const keys[] = {
	    "a.rather.long.attribute.key.of.some.instrumentation.library.number.one",
	    "a.rather.long.attribute.key.of.some.instrumentation.library.number.two",
	    "a.rather.long.attribute.key.of.some.instrumentation.library.number.three",
	    "a.rather.long.attribute.key.of.some.instrumentation.library.number.four",
	};
	baton_span s = baton_span_start(tracer, "long keys");
	for (int i = 0; i < 4; i++)
		baton_span_set_int(s, keys[i], i);
	baton_span_end(s);
	tu_memory_span m = span_at(0);
	cr_assert_eq(m.nattrs, 5, "SampleRate and the four attributes");
	cr_assert_eq(m.dropped_attrs, 0);
	for (int i = 0; i < 4; i++)
		cr_assert(strstr(m.attrs_text, keys[i]) != NULL);
}

/* ---- the table itself ---- */

Test(intern_table, a_full_table_returns_null_and_never_a_wrong_string)
{
	char s[32];
	int interned = 0;
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(s, sizeof(s), "key.number.%05d", i);
		const char *p = bt_intern(BT_INTERN_KEYS, s, (size_t)n);
		if (p != NULL) {
			interned++;
			cr_assert_str_eq(p, s);
			cr_assert_eq(bt_intern_len(p), (size_t)n);
		}
	}
	cr_assert_gt(interned, 1000, "a good part is interned");
	cr_assert_lt(interned, 10000, "the table is bounded");
	/* What was interned is found again by content, from another buffer. */
	int found = 0;
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(s, sizeof(s), "key.number.%05d", i);
		char copy[32];
		memcpy(copy, s, (size_t)n + 1);
		const char *p = bt_intern(BT_INTERN_KEYS, copy, (size_t)n);
		if (p != NULL) {
			found++;
			cr_assert_str_eq(p, s);
		}
	}
	cr_assert_eq(found, interned);
}

Test(intern_table, empty_long_and_ill_formed_strings_are_not_interned)
{
	char big[200];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_null(bt_intern(BT_INTERN_KEYS, "", 0));
	cr_assert_null(bt_intern(BT_INTERN_KEYS, big, sizeof(big) - 1));
	cr_assert_not_null(bt_intern(BT_INTERN_KEYS, big + 72, BT_INTERN_LEN));
	cr_assert_null(bt_intern(BT_INTERN_KEYS, "bad\xff", 4));
	cr_assert_null(bt_intern(BT_INTERN_KEYS, "bad\xff", 4), "not cached either");
}

Test(intern_table, keys_and_names_are_separate_tables)
{
	const char *k = bt_intern(BT_INTERN_KEYS, "same", 4);
	const char *n = bt_intern(BT_INTERN_NAMES, "same", 4);
	cr_assert_not_null(k);
	cr_assert_not_null(n);
	cr_assert_neq(k, n);
	cr_assert_eq(bt_intern(BT_INTERN_KEYS, "same", 4), k);
}

Test(intern_table, bytes_equal_reads_only_the_given_bytes)
{
	char a[32], b[32];
	for (size_t n = 0; n <= 24; n++) {
		for (size_t at = 0; at < n; at++) {
			memset(a, 'q', sizeof(a));
			memset(b, 'q', sizeof(b));
			cr_assert(bt_bytes_equal(a, b, n));
			b[at] = 'r';
			cr_assert_not(bt_bytes_equal(a, b, n), "n %zu at %zu", n, at);
		}
		memset(a, 'q', sizeof(a));
		memset(b, 'q', sizeof(b));
		b[n] = 'r'; /* past the end: not looked at */
		cr_assert(bt_bytes_equal(a, b, n));
	}
}

#define NKEYS 3000

struct racer {
	pthread_t th;
	const char *got[NKEYS];
};

static _Atomic int race_go;

static void *race_main(void *arg)
{
	struct racer *r = arg;
	char s[32];
	while (!atomic_load(&race_go))
		;
	for (int i = 0; i < NKEYS; i++) {
		int n = snprintf(s, sizeof(s), "race.%d", i);
		r->got[i] = bt_intern(BT_INTERN_KEYS, s, (size_t)n);
	}
	return NULL;
}

Test(intern_table, threads_interning_the_same_strings_get_one_copy)
{
	static struct racer r[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&r[i].th, NULL, race_main, &r[i]), 0);
	atomic_store(&race_go, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i].th, NULL);
	int both = 0;
	for (int i = 0; i < NKEYS; i++) {
		char s[32];
		snprintf(s, sizeof(s), "race.%d", i);
		for (int t = 0; t < 2; t++) {
			if (r[t].got[i] != NULL)
				cr_assert_str_eq(r[t].got[i], s);
		}
		if (r[0].got[i] != NULL && r[1].got[i] != NULL) {
			cr_assert_eq(r[0].got[i], r[1].got[i]);
			both++;
		}
	}
	cr_assert_gt(both, 0);
}

/* ---- short values: ASCII is stored as it is, anything else checked ---- */

Test(intern, short_values_with_a_high_byte_anywhere_are_still_checked)
{
	char v[24];
	for (size_t n = 1; n <= 20; n++) {
		for (size_t at = 0; at < n; at++) {
			tu_memory_exporter_clear(mem);
			memset(v, 'a', n);
			v[n] = '\0';
			v[at] = '\xff'; /* ill-formed: U+FFFD in the span */
			baton_span s = baton_span_start(tracer, "v");
			baton_span_set_str(s, "v", v);
			baton_span_end(s);
			char want[64];
			snprintf(want, sizeof(want),
			         "SampleRate=1\nv=%.*s\xef\xbf\xbd%s\n", (int)at, v,
			         v + at + 1);
			cr_assert_str_eq(span_at(0).attrs_text, want,
			                 "length %zu, at %zu", n, at);
		}
	}
}

Test(intern, short_ascii_values_are_kept_exactly)
{
	const char *vals[] = {"",
	                      "a",
	                      "ab",
	                      "abc",
	                      "abcd",
	                      "abcdefg",
	                      "abcdefgh",
	                      "abcdefghijklmno",
	                      "abcdefghijklmnop",
	                      "abcdefghijklmnopq"};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		tu_memory_exporter_clear(mem);
		baton_span s = baton_span_start(tracer, "v");
		baton_span_set_str(s, "v", vals[i]);
		baton_span_end(s);
		char want[64];
		snprintf(want, sizeof(want), "SampleRate=1\nv=%s\n", vals[i]);
		cr_assert_str_eq(span_at(0).attrs_text, want);
	}
}

Test(intern, once_the_table_is_full_keys_from_a_reused_buffer_stay_exact)
{
	char buf[32];
	for (int i = 0; i < 10000; i++) { /* fills the key table */
		int n = snprintf(buf, sizeof(buf), "filler.%05d", i);
		(void)bt_intern(BT_INTERN_KEYS, buf, (size_t)n);
	}
	baton_span s = baton_span_start(tracer, "full");
	strcpy(buf, "filler.00001"); /* interned early; this pointer was refused */
	baton_span_set_int(s, buf, 1);
	strcpy(buf, "fresh.key"); /* never interned */
	baton_span_set_int(s, buf, 2);
	baton_span_set_int(s, "filler.00002", 3);
	baton_span_end(s);
	cr_assert_str_eq(span_at(0).attrs_text,
	                 "SampleRate=1\nfiller.00001=1\nfresh.key=2\nfiller.00002=3\n");
}

/* ---- fixed text: literals whose bytes need no second look ---- */

static const char fixed_array[] = "a.const.array.of.the.program";
static char writable_array[32] = "a.writable.array";

Test(intern_fixed, only_read_only_text_of_the_program_is_fixed)
{
	const char *lit = "a.literal.of.the.program";
	cr_assert(bt_text_fixed(lit, strlen(lit)));
	cr_assert(bt_text_fixed(fixed_array, strlen(fixed_array)));
	/* Text that can change: writable data, the stack, the heap. */
	cr_assert_not(bt_text_fixed(writable_array, strlen(writable_array)));
	char stack[16] = "on.the.stack";
	cr_assert_not(bt_text_fixed(stack, strlen(stack)));
	char *heap = strdup("on.the.heap");
	cr_assert_not_null(heap);
	cr_assert_not(bt_text_fixed(heap, strlen(heap)));
	free(heap);
	/* Another object's text: read-only, but not one that is known to stay. */
	const char *other = gnu_get_libc_version();
	cr_assert_not(bt_text_fixed(other, strlen(other)));
}

Test(intern_fixed, a_literal_is_cached_as_fixed_and_a_buffer_is_not)
{
	const char *lit = "fixed.literal.key";
	size_t n = 0;
	const char *p = bt_intern_str(BT_INTERN_KEYS, lit, &n);
	cr_assert_not_null(p);
	cr_assert_str_eq(p, lit);
	cr_assert_eq(n, strlen(lit));
	const struct bt_intern_ent *e = bt_intern_hit(BT_INTERN_KEYS, lit);
	cr_assert_not_null(e);
	cr_assert(e->fixed, "a literal of the program is fixed text");
	/* Found again from the cache: the same copy and length. */
	n = 0;
	cr_assert_eq(bt_intern_str(BT_INTERN_KEYS, lit, &n), p);
	cr_assert_eq(n, strlen(lit));

	char buf[32] = "fixed.literal.key";
	cr_assert_eq(bt_intern_str(BT_INTERN_KEYS, buf, &n), p, "found by content");
	e = bt_intern_hit(BT_INTERN_KEYS, buf);
	cr_assert_not_null(e);
	cr_assert_not(e->fixed, "a buffer is looked at again on every call");
	strcpy(buf, "fixed.literal.kez");
	const char *q = bt_intern_str(BT_INTERN_KEYS, buf, &n);
	cr_assert_not_null(q);
	cr_assert_str_eq(q, "fixed.literal.kez");
}

Test(intern, a_reused_writable_global_key_gives_each_call_its_own_key)
{
	baton_span s = baton_span_start(tracer, "global");
	strcpy(writable_array, "global.one");
	baton_span_set_int(s, writable_array, 1);
	strcpy(writable_array, "global.two"); /* same length */
	baton_span_set_int(s, writable_array, 2);
	strcpy(writable_array, "global.three");
	baton_span_set_int(s, writable_array, 3);
	baton_span_end(s);
	cr_assert_str_eq(span_at(0).attrs_text,
	                 "SampleRate=1\nglobal.one=1\nglobal.two=2\nglobal.three=3\n");
}

Test(intern, literal_keys_and_names_stay_exact_across_spans)
{
	for (int i = 0; i < 3; i++) {
		baton_span s = baton_span_start(tracer, "literal.name");
		baton_span_set_int(s, "literal.key.one", i);
		baton_span_set_str(s, "literal.key.two", "v");
		baton_span_set_int(s, "literal.key.one", i + 10); /* replaces */
		baton_span_end(s);
	}
	for (size_t i = 0; i < 3; i++) {
		tu_memory_span m = span_at(i);
		cr_assert_str_eq(m.name, "literal.name");
		char want[96];
		snprintf(want, sizeof(want),
		         "SampleRate=1\nliteral.key.one=%d\nliteral.key.two=v\n",
		         (int)i + 10);
		cr_assert_str_eq(m.attrs_text, want);
	}
}

/* ---- string values that are literals: stored by pointer, checked once ---- */

static char writable_value[32] = "value.one";

Test(intern_budget, long_literal_values_take_no_arena_bytes, .fini = teardown)
{
	baton_limits lim = {.span_arena_bytes = 256};
	mem = tu_init_memory_limits(baton_sampler_always_on(), 4, &lim);
	tracer = baton_tracer_get("intern_test", NULL);
	static const char *const vals[] = {
	    "a rather long literal value that an instrumentation library sets: one",
	    "a rather long literal value that an instrumentation library sets: two",
	    "a rather long literal value that an instrumentation library sets: three",
	    "a rather long literal value that an instrumentation library sets: four",
	};
	for (int round = 0; round < 2; round++) { /* first seen, then from the cache */
		tu_memory_exporter_clear(mem);
		baton_span s = baton_span_start(tracer, "long values");
		baton_span_set_str(s, "v1", vals[0]);
		baton_span_set_str(s, "v2", vals[1]);
		baton_span_set_str(s, "v3", vals[2]);
		baton_span_set_str(s, "v4", vals[3]);
		baton_span_end(s);
		tu_memory_span m = span_at(0);
		cr_assert_eq(m.dropped_attrs, 0, "round %d", round);
		char want[512];
		snprintf(want, sizeof(want), "SampleRate=1\nv1=%s\nv2=%s\nv3=%s\nv4=%s\n",
		         vals[0], vals[1], vals[2], vals[3]);
		cr_assert_str_eq(m.attrs_text, want, "round %d", round);
	}
}

Test(intern_budget, a_literal_value_over_the_length_limit_is_cut, .fini = teardown)
{
	baton_limits lim = {.attribute_value_length = 4};
	mem = tu_init_memory_limits(baton_sampler_always_on(), 4, &lim);
	tracer = baton_tracer_get("intern_test", NULL);
	for (int round = 0; round < 2; round++) {
		tu_memory_exporter_clear(mem);
		baton_span s = baton_span_start(tracer, "cut");
		baton_span_set_str(s, "long", "a.long.literal");
		baton_span_set_str(s, "short", "abc");
		baton_span_end(s);
		cr_assert_str_eq(span_at(0).attrs_text,
		                 "SampleRate=1\nlong=a.lo\nshort=abc\n", "round %d",
		                 round);
	}
}

Test(intern, an_ill_formed_literal_value_is_still_checked)
{
	for (int round = 0; round < 2; round++) {
		tu_memory_exporter_clear(mem);
		baton_span s = baton_span_start(tracer, "bad");
		baton_span_set_str(s, "v", "bad\xff.literal");
		baton_span_end(s);
		cr_assert_str_eq(span_at(0).attrs_text,
		                 "SampleRate=1\nv=bad\xef\xbf\xbd.literal\n", "round %d",
		                 round);
	}
}

Test(intern, a_reused_writable_global_value_gives_each_span_its_own_value)
{
	const char *want[] = {"value.one", "value.two", "value.three"};
	for (size_t i = 0; i < 3; i++) {
		strcpy(writable_value, want[i]);
		baton_span s = baton_span_start(tracer, "global");
		baton_span_set_str(s, "k", writable_value);
		baton_span_set_str(s, "k", writable_value); /* replaces: same text */
		baton_span_end(s);
	}
	for (size_t i = 0; i < 3; i++) {
		char line[64];
		snprintf(line, sizeof(line), "SampleRate=1\nk=%s\n", want[i]);
		cr_assert_str_eq(span_at(i).attrs_text, line);
	}
}

Test(intern_fixed, a_literal_value_is_interned_and_a_buffer_value_is_not)
{
	const char *lit = "a.literal.value";
	size_t n = 0;
	const char *p = bt_intern_fixed(BT_INTERN_VALUES, lit, &n);
	cr_assert_not_null(p);
	cr_assert_neq(p, lit, "the table's copy");
	cr_assert_str_eq(p, lit);
	cr_assert_eq(n, strlen(lit));
	cr_assert_eq(bt_intern_fixed(BT_INTERN_VALUES, lit, &n), p);
	char buf[32] = "a.literal.value";
	n = 0;
	cr_assert_null(bt_intern_fixed(BT_INTERN_VALUES, buf, &n), "a buffer is copied");
	cr_assert_eq(n, strlen(buf));
	strcpy(buf, "longer text now");
	cr_assert_null(bt_intern_fixed(BT_INTERN_VALUES, buf, &n));
	cr_assert_eq(n, strlen("longer text now"), "its length, measured again");
}

/* A hundred literals in one read-only array: some share a cache set. */
#define TEN(x)                                                                           \
	x "0\0" x "1\0" x "2\0" x "3\0" x "4\0" x "5\0" x "6\0" x "7\0" x "8\0" x "9\0"
static const char hundred[] = TEN("v0") TEN("v1") TEN("v2") TEN("v3") TEN("v4") TEN("v5")
    TEN("v6") TEN("v7") TEN("v8") TEN("v9");

Test(intern_fixed, two_literals_of_one_cache_set_both_stay_cached)
{
	const char *a = NULL, *b = NULL;
	for (int i = 0; i < 100 && b == NULL; i++)
		for (int j = i + 1; j < 100 && b == NULL; j++)
			if (bt_intern_index(hundred + 4 * i) ==
			    bt_intern_index(hundred + 4 * j)) {
				a = hundred + 4 * i;
				b = hundred + 4 * j;
			}
	cr_assert_not_null(b, "100 pointers in 64 sets: two share one");
	size_t n;
	for (int round = 0; round < 3; round++) { /* a, b, a, b, ... */
		const char *pa = bt_intern_fixed(BT_INTERN_VALUES, a, &n);
		cr_assert_not_null(pa);
		cr_assert_str_eq(pa, a);
		const char *pb = bt_intern_fixed(BT_INTERN_VALUES, b, &n);
		cr_assert_not_null(pb);
		cr_assert_str_eq(pb, b);
	}
	const struct bt_intern_ent *ea = bt_intern_hit(BT_INTERN_VALUES, a);
	const struct bt_intern_ent *eb = bt_intern_hit(BT_INTERN_VALUES, b);
	cr_assert(ea != NULL && ea->fixed, "the first is still cached");
	cr_assert(eb != NULL && eb->fixed, "and the second");
}

/* A value in a heap or stack buffer is not looked up, and takes no cache
 * entry from a literal: it lies outside the program's read-only extent. */
Test(intern_fixed, buffers_are_told_apart_without_a_look_up)
{
	size_t n;
	cr_assert_not_null(bt_intern_fixed(BT_INTERN_VALUES, "a.literal.first", &n));
	cr_assert(bt_addr_maybe_fixed("a.literal.first"));
	char *heap = strdup("on.the.heap");
	char stack[16] = "on.the.stack";
	cr_assert_not(bt_addr_maybe_fixed(heap));
	cr_assert_not(bt_addr_maybe_fixed(stack));
	cr_assert_null(bt_intern_fixed(BT_INTERN_VALUES, heap, &n));
	cr_assert_eq(n, strlen(heap));
	cr_assert_null(bt_intern_fixed(BT_INTERN_VALUES, stack, &n));
	cr_assert_eq(n, strlen(stack));
	cr_assert_null(bt_intern_hit(BT_INTERN_VALUES, heap), "nothing cached");
	cr_assert_null(bt_intern_hit(BT_INTERN_VALUES, stack));
	free(heap);
}
