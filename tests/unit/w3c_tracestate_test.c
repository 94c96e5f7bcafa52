/*
 * W3C tracestate (Trace Context Level 2, "tracestate Header") and the
 * OpenTelemetry "ot" member (OTEP 235): grammar, limits, mutation rules,
 * truncation, th/rv.
 */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char big[16384];

static baton_tracestate fresh(void)
{
	baton_tracestate ts;
	baton_tracestate_init(&ts, big, sizeof(big));
	return ts;
}

static baton_err parse(baton_tracestate *ts, const char *s)
{
	return baton_tracestate_parse(ts, s, strlen(s));
}

/* The value of key as a C string, or "(absent)". */
static const char *val(const baton_tracestate *ts, const char *key)
{
	static char out[300];
	size_t n;
	const char *v = baton_tracestate_get(ts, key, &n);
	if (v == NULL)
		return "(absent)";
	snprintf(out, sizeof(out), "%.*s", (int)n, v);
	return out;
}

static const char *fmt(const baton_tracestate *ts)
{
	static char out[BATON_TRACESTATE_SIZE];
	cr_assert_eq(baton_tracestate_format(ts, out, sizeof(out), NULL), BATON_OK);
	return out;
}

static void expect_invalid(const char *s)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "keep=1"), BATON_OK);
	cr_assert_eq(parse(&ts, s), BATON_EFORMAT, "accepted '%s'", s);
	/* untouched on error */
	cr_assert_eq(baton_tracestate_count(&ts), 1);
	cr_assert_str_eq(val(&ts, "keep"), "1");
}

static void expect_valid(const char *s, size_t members)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, s), BATON_OK, "rejected '%s'", s);
	cr_assert_eq(baton_tracestate_count(&ts), members, "'%s'", s);
}

Test(tracestate, spec_examples_parse_in_order)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), BATON_OK);
	cr_assert_eq(baton_tracestate_count(&ts), 2);
	const char *k, *v;
	size_t kl, vl;
	cr_assert_eq(baton_tracestate_member_get(&ts, 0, &k, &kl, &v, &vl), BATON_OK);
	cr_assert(kl == 4 && memcmp(k, "rojo", 4) == 0);
	cr_assert(vl == 16 && memcmp(v, "00f067aa0ba902b7", 16) == 0);
	cr_assert_eq(baton_tracestate_member_get(&ts, 1, &k, &kl, &v, &vl), BATON_OK);
	cr_assert(kl == 5 && memcmp(k, "congo", 5) == 0);
	cr_assert_eq(baton_tracestate_member_get(&ts, 2, &k, &kl, &v, &vl), BATON_EINVAL);
	cr_assert_str_eq(val(&ts, "congo"), "t61rcWkgMzE");
	cr_assert_str_eq(val(&ts, "nope"), "(absent)");
	cr_assert_str_eq(fmt(&ts), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

Test(tracestate, thirty_two_members_are_fine_thirty_three_are_not)
{
	char s[1024];
	size_t w = 0;
	for (int i = 1; i <= 33; i++) {
		if (i == 33)
			expect_valid(s, 32);
		w += (size_t)snprintf(s + w, sizeof(s) - w, "%sbar%02d=%02d",
		                      i > 1 ? "," : "", i, i);
	}
	expect_invalid(s);
}

Test(tracestate, empty_members_do_not_count)
{
	char s[1024];
	size_t w = 0;
	for (int i = 1; i <= 32; i++)
		w += (size_t)snprintf(s + w, sizeof(s) - w, "k%02d=%d, ,,", i, i);
	expect_valid(s, 32);
}

Test(tracestate, whitespace_around_members_is_ignored)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "foo=1 \t , \t bar=2, \t baz=3"), BATON_OK);
	cr_assert_str_eq(val(&ts, "foo"), "1");
	cr_assert_str_eq(val(&ts, "bar"), "2");
	cr_assert_str_eq(val(&ts, "baz"), "3");
	cr_assert_str_eq(fmt(&ts), "foo=1,bar=2,baz=3");
	static const char *const one[] = {" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t",
	                                  "\t foo=1 \t"};
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(parse(&ts, one[i]), BATON_OK, "'%s'", one[i]);
		cr_assert_str_eq(val(&ts, "foo"), "1");
	}
}

Test(tracestate, empty_and_blank_headers_are_valid_and_empty)
{
	expect_valid("", 0);
	expect_valid("   ", 0);
	expect_valid(",", 0);
	expect_valid(" , \t,", 0);
	expect_valid(",foo=1,", 1);
}

Test(tracestate, leading_spaces_of_a_value_are_kept)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "foo=  x"), BATON_OK);
	cr_assert_str_eq(val(&ts, "foo"), "  x");
	cr_assert_str_eq(fmt(&ts), "foo=  x");
}

Test(tracestate, key_grammar)
{
	/* all allowed characters of a simple key */
	expect_valid("abcdefghijklmnopqrstuvwxyz0123456789_-*/=1", 1);
	expect_valid("a=1", 1);
	expect_invalid("FOO=1");     /* uppercase */
	expect_invalid("foo.bar=1"); /* '.' not allowed */
	expect_invalid("foo =1");    /* space inside the member */
	expect_invalid("_foo=1");
	expect_invalid("=1");           /* empty key */
	expect_invalid("foo");          /* no '=' */
	expect_invalid("fo\xc3\xb6=1"); /* non-ASCII */
	/* 256 characters is the longest key */
	char k[300];
	memset(k, 'z', 256);
	strcpy(k + 256, "=1");
	expect_valid(k, 1);
	memset(k, 'z', 257);
	strcpy(k + 257, "=1");
	expect_invalid(k);
}

/*
 * Trace Context Level 2: key = (lcalpha / DIGIT) 0*255(keychar), '@' among
 * the key characters. The older tenant@system split dropped "foo@=1,bar=2"
 * whole; now only a key that starts with '@' (or anything but a-z 0-9) is
 * invalid.
 */
Test(tracestate, level2_key_grammar_allows_at_signs_anywhere_but_first)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "foo@=1,bar=2"), BATON_OK);
	cr_assert_str_eq(val(&ts, "foo@"), "1");
	cr_assert_str_eq(val(&ts, "bar"), "2");
	cr_assert_eq(parse(&ts, "foo@@bar=1,bar=2"), BATON_OK);
	cr_assert_str_eq(val(&ts, "foo@@bar"), "1");
	cr_assert_eq(parse(&ts, "foo@bar@baz=1,bar=2"), BATON_OK);
	cr_assert_str_eq(val(&ts, "foo@bar@baz"), "1");
	expect_valid("tenant@system=1", 1);
	expect_valid("0tenant@sys=1", 1);
	expect_valid("1foo=1", 1); /* a key may start with a digit */
	expect_valid("foo@1bar=1", 1);
	expect_valid("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/=v", 1);
	expect_invalid("@foo=1,bar=2");
	expect_invalid("Foo@bar=1");
	expect_invalid("foo@Bar=1");
	expect_invalid("_foo@bar=1");
	/* the old tenant (241) / system (14) limits are gone: 256 in all */
	char k[300];
	memset(k, 't', 241);
	k[241] = '@';
	memset(k + 242, 'v', 14);
	strcpy(k + 256, "=1");
	expect_valid(k, 1);
	memset(k, 't', 242);
	strcpy(k + 242, "@v=1");
	expect_valid(k, 1);
	strcpy(k, "t@");
	memset(k + 2, 'v', 15);
	strcpy(k + 17, "=1");
	expect_valid(k, 1);
	memset(k, 't', 200);
	k[200] = '@';
	memset(k + 201, 'v', 56); /* 257 characters */
	strcpy(k + 257, "=1");
	expect_invalid(k);
	cr_assert(baton_tracestate_key_valid("foo@", 4));
	cr_assert_not(baton_tracestate_key_valid("@", 1));
}

Test(tracestate, value_grammar)
{
	/* every allowed character: 0x20-0x7e except ',' and '=' */
	char s[400] = "key=";
	size_t w = 4;
	for (int c = 0x20; c <= 0x7e; c++) {
		if (c != ',' && c != '=')
			s[w++] = (char)c;
	}
	s[w] = '\0';
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, s), BATON_OK);
	cr_assert_str_eq(val(&ts, "key"), s + 4);
	expect_invalid("foo=bar=baz");
	expect_invalid("foo=,bar=3"); /* empty value */
	expect_invalid("foo= ");      /* blank value */
	expect_invalid("foo=a\tb");   /* tab inside */
	expect_invalid("foo=a\x7f");
	expect_invalid("foo=a\x01");
	expect_invalid("foo=\xc3\xa9");
	/* 256 characters is the longest value */
	char v[300] = "foo=";
	memset(v + 4, 'x', 256);
	v[260] = '\0';
	expect_valid(v, 1);
	v[260] = 'x';
	v[261] = '\0';
	expect_invalid(v);
}

Test(tracestate, grammar_predicates)
{
	cr_assert(baton_tracestate_key_valid("foo", 3));
	cr_assert(baton_tracestate_key_valid("t@s", 3));
	cr_assert_not(baton_tracestate_key_valid("", 0));
	cr_assert_not(baton_tracestate_key_valid(NULL, 3));
	cr_assert(baton_tracestate_value_valid(" a", 2));
	cr_assert_not(baton_tracestate_value_valid("a ", 2));
	cr_assert_not(baton_tracestate_value_valid("", 0));
}

/* A repeated key keeps its first occurrence; the header is not dropped. */
Test(tracestate, duplicate_keys_keep_the_first_occurrence)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "foo=1,foo=1"), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1");
	cr_assert_eq(parse(&ts, "foo=1,foo=2"), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1");
	cr_assert_eq(parse(&ts, "foo=1,bar=2, foo=3"), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1,bar=2");
	cr_assert_eq(parse(&ts, "t@s=1,t@s=2"), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "t@s=1");
	expect_valid("foo=1,foo@bar=2", 2); /* different keys */
	/* duplicates still count toward the 32 members of a header */
	char s[600];
	size_t w = 0;
	for (int i = 0; i < 33; i++)
		w += (size_t)snprintf(s + w, sizeof(s) - w, "%sk%02d=1", i ? "," : "",
		                      i == 32 ? 0 : i);
	expect_invalid(s);
	/* a bad member after a duplicate still spoils the header */
	expect_invalid("foo=1,foo=2,BAD=3");
}

Test(tracestate, repeated_headers_are_one_list)
{
	baton_tracestate ts = fresh();
	const char *lines[] = {"foo=1,bar=2", "rojo=1,congo=2", "baz=3"};
	cr_assert_eq(baton_tracestate_parse_lines(&ts, lines, NULL, 3), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1,bar=2,rojo=1,congo=2,baz=3");
	const char *empty_first[] = {"", "foo=1"};
	cr_assert_eq(baton_tracestate_parse_lines(&ts, empty_first, NULL, 2), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1");
	const char *dup[] = {"foo=1", "foo=2"};
	cr_assert_eq(baton_tracestate_parse_lines(&ts, dup, NULL, 2), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1");
	/* a key too long on the second line spoils the whole list */
	char k[300];
	memset(k, 'z', 257);
	strcpy(k + 257, "=1");
	const char *bad[] = {"foo=1", k};
	cr_assert_eq(baton_tracestate_parse_lines(&ts, bad, NULL, 2), BATON_EFORMAT);
	/* explicit lengths: only the given bytes count */
	const char *part[] = {"foo=1,junk", "bar=2"};
	size_t lens[] = {5, 5};
	cr_assert_eq(baton_tracestate_parse_lines(&ts, part, lens, 2), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "foo=1,bar=2");
	/* 10 + 10 + 10 + 3 members over four lines is 33 */
	char l[4][200];
	const char *lp[4];
	int k2 = 1;
	for (int i = 0; i < 4; i++) {
		size_t w = 0;
		for (int j = 0; j < (i < 3 ? 10 : 3); j++, k2++)
			w += (size_t)snprintf(l[i] + w, sizeof(l[i]) - w,
			                      "%sbar%02d=%02d", j ? "," : "", k2, k2);
		lp[i] = l[i];
	}
	cr_assert_eq(baton_tracestate_parse_lines(&ts, lp, NULL, 4), BATON_EFORMAT);
	cr_assert_eq(baton_tracestate_parse_lines(&ts, lp, NULL, 3), BATON_OK);
	cr_assert_eq(baton_tracestate_count(&ts), 30);
}

Test(tracestate, small_buffer_gives_enospace_and_leaves_the_list)
{
	char buf[8];
	baton_tracestate ts;
	baton_tracestate_init(&ts, buf, sizeof(buf));
	cr_assert_eq(parse(&ts, "a=1,b=2"), BATON_OK);
	cr_assert_eq(parse(&ts, "foo=1,bar=2"), BATON_ENOSPACE);
	cr_assert_str_eq(val(&ts, "a"), "1");
	cr_assert_eq(baton_tracestate_set(&ts, "c", "3", 1), BATON_ENOSPACE);
	cr_assert_eq(baton_tracestate_count(&ts), 2);
	/* replacing a key reuses its room (after compaction) */
	cr_assert_eq(baton_tracestate_set(&ts, "a", "9", 1), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "a=9,b=2");
}

Test(tracestate, set_moves_the_key_to_the_front)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), BATON_OK);
	cr_assert_eq(baton_tracestate_set(&ts, "rojo", "00f067aa0ba902b8", 16), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "rojo=00f067aa0ba902b8,congo=t61rcWkgMzE");
	cr_assert_eq(baton_tracestate_set(&ts, "new", "x", 1), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "new=x,rojo=00f067aa0ba902b8,congo=t61rcWkgMzE");
	cr_assert_eq(baton_tracestate_set(&ts, "Bad", "x", 1), BATON_EINVAL);
	cr_assert_eq(baton_tracestate_set(&ts, "ok", "a,b", 3), BATON_EINVAL);
	cr_assert_eq(baton_tracestate_set(&ts, "ok", "", 0), BATON_EINVAL);
	cr_assert_eq(baton_tracestate_count(&ts), 3);
}

Test(tracestate, set_accepts_a_value_from_its_own_buffer)
{
	char buf[24];
	baton_tracestate ts;
	baton_tracestate_init(&ts, buf, sizeof(buf));
	cr_assert_eq(parse(&ts, "aaaa=12345,b=6"), BATON_OK);
	for (int i = 0; i < 10; i++) {
		size_t n;
		const char *v = baton_tracestate_get(&ts, i % 2 ? "aaaa" : "b", &n);
		cr_assert_not_null(v);
		cr_assert_eq(baton_tracestate_set(&ts, i % 2 ? "b" : "aaaa", v, n),
		             BATON_OK);
	}
	cr_assert_eq(baton_tracestate_count(&ts), 2);
	cr_assert_str_eq(val(&ts, "aaaa"), val(&ts, "b"));
}

Test(tracestate, a_new_key_on_a_full_list_drops_the_rightmost)
{
	char s[1024];
	size_t w = 0;
	for (int i = 1; i <= 32; i++)
		w += (size_t)snprintf(s + w, sizeof(s) - w, "%sk%02d=%d",
		                      i > 1 ? "," : "", i, i);
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, s), BATON_OK);
	cr_assert_eq(baton_tracestate_set(&ts, "new", "1", 1), BATON_OK);
	cr_assert_eq(baton_tracestate_count(&ts), 32);
	cr_assert_str_eq(val(&ts, "k32"), "(absent)");
	cr_assert_str_eq(val(&ts, "k31"), "31");
	/* updating an existing key of a full list drops nothing */
	cr_assert_eq(baton_tracestate_set(&ts, "k10", "x", 1), BATON_OK);
	cr_assert_eq(baton_tracestate_count(&ts), 32);
	cr_assert_str_eq(val(&ts, "k31"), "31");
}

Test(tracestate, delete_removes_a_member_and_keeps_the_order)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "a=1,b=2,c=3"), BATON_OK);
	cr_assert(baton_tracestate_delete(&ts, "b"));
	cr_assert_not(baton_tracestate_delete(&ts, "b"));
	cr_assert_str_eq(fmt(&ts), "a=1,c=3");
	cr_assert(baton_tracestate_delete(&ts, "a"));
	cr_assert(baton_tracestate_delete(&ts, "c"));
	cr_assert_str_eq(fmt(&ts), "");
}

Test(tracestate, format_cuts_long_entries_first_then_from_the_right)
{
	/* a=1 (3), big1 (255), b=2 (3), big2 (255), c (192) and 4 commas: 712 > 512 */
	char s[2048];
	char longv[256];
	memset(longv, 'L', sizeof(longv));
	snprintf(s, sizeof(s), "a=1,big1=%.*s,b=2,big2=%.*s,c=%.*s", 250, longv, 250,
	         longv, 190, longv);
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, s), BATON_OK);
	char out[BATON_TRACESTATE_SIZE];
	size_t n;
	cr_assert_eq(baton_tracestate_format(&ts, out, sizeof(out), &n), BATON_OK);
	cr_assert_eq(n, strlen(out));
	cr_assert_leq(n, 512);
	/* long entries from the right go first: c (712 -> 519), then big2 (-> 263) */
	cr_assert_not_null(strstr(out, "big1="));
	cr_assert_null(strstr(out, "big2="));
	cr_assert_null(strstr(out, "c="));
	cr_assert(strncmp(out, "a=1,big1=", 9) == 0);
	cr_assert_not_null(strstr(out, ",b=2"));
	/* a small cap: from the right */
	cr_assert_eq(parse(&ts, "aa=1,bb=2,cc=3"), BATON_OK);
	char small[10];
	cr_assert_eq(baton_tracestate_format(&ts, small, sizeof(small), &n), BATON_OK);
	cr_assert_str_eq(small, "aa=1,bb=2");
	cr_assert_eq(baton_tracestate_format(&ts, small, 4, &n), BATON_OK);
	cr_assert_str_eq(small, "");
	cr_assert_eq(baton_tracestate_format(&ts, small, 0, &n), BATON_EINVAL);
}

/* ---- ot ---- */

Test(ot, th_reads_hex_padded_on_the_right)
{
	uint64_t th;
	cr_assert_eq(baton_ot_value_th("th:0", 4, &th), BATON_OK);
	cr_assert_eq(th, 0);
	cr_assert_eq(baton_ot_value_th("th:8", 4, &th), BATON_OK);
	cr_assert_eq(th, 0x80000000000000ull);
	cr_assert_eq(baton_ot_value_th("th:fd70a4", 9, &th), BATON_OK);
	cr_assert_eq(th, 0xfd70a400000000ull);
	cr_assert_eq(baton_ot_value_th("rv:01020304050607;th:c", 22, &th), BATON_OK);
	cr_assert_eq(th, 0xc0000000000000ull);
	cr_assert_eq(baton_ot_value_th("th:ffffffffffffff", 17, &th), BATON_OK);
	cr_assert_eq(th, 0xffffffffffffffull);
}

Test(ot, malformed_th_is_rejected)
{
	uint64_t th = 7;
	cr_assert_eq(baton_ot_value_th("th:", 3, &th), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_th("th:fffffffffffffff", 18, &th),
	             BATON_EFORMAT); /* 15 */
	cr_assert_eq(baton_ot_value_th("th:FD", 5, &th), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_th("th:xy", 5, &th), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_th("th", 2, &th), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_th("th:1;", 5, &th), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_th("rv:01020304050607", 17, &th), BATON_ENOENV);
	cr_assert_eq(th, 7);
}

Test(ot, rv_is_exactly_14_hex_digits)
{
	uint64_t rv;
	cr_assert_eq(baton_ot_value_rv("th:8;rv:0123456789abcd", 22, &rv), BATON_OK);
	cr_assert_eq(rv, 0x0123456789abcdull);
	cr_assert_eq(baton_ot_value_rv("rv:0123456789abc", 16, &rv), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_rv("rv:0123456789abcde", 18, &rv), BATON_EFORMAT);
	cr_assert_eq(baton_ot_value_rv("th:8", 4, &rv), BATON_ENOENV);
}

Test(ot, th_format_removes_trailing_zeros)
{
	char out[15];
	cr_assert_eq(baton_ot_th_format(0, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, "0");
	cr_assert_eq(
	    baton_ot_th_format(baton_threshold_from_probability(0.01), out, sizeof(out)),
	    BATON_OK);
	/* 0.99 * 2^56 at full precision: fd70a3d70a3d7.. (the last digit is rounding) */
	cr_assert(strncmp(out, "fd70a3d70a3d7", 13) == 0, "%s", out);
	cr_assert_eq(baton_ot_th_format(0xfd70a400000000ull, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, "fd70a4");
	cr_assert_eq(baton_ot_th_format(0x80000000000000ull, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, "8");
	cr_assert_eq(baton_ot_th_format(0x00000000000001ull, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, "00000000000001");
	cr_assert_eq(baton_ot_th_format(BATON_TH_MAX, out, sizeof(out)), BATON_EINVAL);
	cr_assert_eq(baton_ot_th_format(0xfd70a400000000ull, out, 6), BATON_ENOSPACE);
	/* round trip */
	for (uint64_t t = 1; t < BATON_TH_MAX; t = t * 7 + 3) {
		char v[20] = "th:";
		uint64_t back;
		cr_assert_eq(baton_ot_th_format(t, v + 3, sizeof(v) - 3), BATON_OK);
		cr_assert_eq(baton_ot_value_th(v, strlen(v), &back), BATON_OK);
		cr_assert_eq(back, t);
	}
}

Test(ot, set_th_keeps_other_subkeys_and_moves_ot_to_the_front)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(parse(&ts, "a=1,ot=rv:0123456789abcd;th:c;x:y,b=2"), BATON_OK);
	uint64_t th, rv;
	cr_assert_eq(baton_tracestate_ot_th(&ts, &th), BATON_OK);
	cr_assert_eq(th, 0xc0000000000000ull);
	cr_assert_eq(baton_tracestate_ot_rv(&ts, &rv), BATON_OK);
	cr_assert_eq(rv, 0x0123456789abcdull);
	cr_assert_eq(baton_tracestate_ot_set_th(&ts, 0xfd70a400000000ull), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "ot=th:fd70a4;rv:0123456789abcd;x:y,a=1,b=2");
	cr_assert_eq(baton_tracestate_ot_set_th(&ts, 0), BATON_OK);
	cr_assert_str_eq(val(&ts, "ot"), "th:0;rv:0123456789abcd;x:y");
	cr_assert_eq(baton_tracestate_ot_set_th(&ts, BATON_TH_MAX), BATON_EINVAL);
	/* no ot yet: one is created */
	cr_assert_eq(parse(&ts, "a=1"), BATON_OK);
	cr_assert_eq(baton_tracestate_ot_th(&ts, &th), BATON_ENOENV);
	cr_assert_eq(baton_tracestate_ot_set_th(&ts, 0x80000000000000ull), BATON_OK);
	cr_assert_str_eq(fmt(&ts), "ot=th:8,a=1");
}

Test(tracestate, null_arguments_are_refused)
{
	baton_tracestate ts = fresh();
	cr_assert_eq(baton_tracestate_parse_lines(NULL, NULL, NULL, 0), BATON_EINVAL);
	cr_assert_eq(baton_tracestate_parse_lines(&ts, NULL, NULL, 1), BATON_EINVAL);
	cr_assert_eq(baton_tracestate_parse(&ts, NULL, 0), BATON_OK); /* nothing: empty */
	cr_assert_eq(baton_tracestate_count(&ts), 0);
	cr_assert_eq(baton_tracestate_count(NULL), 0);
	cr_assert_null(baton_tracestate_get(NULL, "a", NULL));
	cr_assert_null(baton_tracestate_get(&ts, NULL, NULL));
	cr_assert_eq(baton_tracestate_set(NULL, "a", "1", 1), BATON_EINVAL);
	cr_assert_eq(baton_tracestate_set(&ts, NULL, "1", 1), BATON_EINVAL);
	cr_assert_not(baton_tracestate_delete(NULL, "a"));
	cr_assert_eq(baton_tracestate_format(NULL, big, 10, NULL), BATON_EINVAL);
	uint64_t v;
	cr_assert_eq(baton_tracestate_ot_th(&ts, NULL), BATON_EINVAL);
	cr_assert_eq(baton_ot_value_th(NULL, 0, &v), BATON_EINVAL);
	cr_assert_eq(baton_ot_value_rv("rv:00000000000000", 17, NULL), BATON_EINVAL);
	cr_assert_eq(baton_ot_th_format(0, NULL, 15), BATON_EINVAL);
	/* a list with no buffer holds nothing */
	baton_tracestate nob;
	baton_tracestate_init(&nob, NULL, 100);
	cr_assert_eq(baton_tracestate_parse(&nob, "", 0), BATON_OK);
	cr_assert_eq(baton_tracestate_parse(&nob, "a=1", 3), BATON_ENOSPACE);
}

Test(tracestate, limit_macros_match_the_spec)
{
	cr_assert_eq(BATON_TRACEPARENT_LEN, 55);
	cr_assert_eq(BATON_TRACEPARENT_SIZE, 56);
	cr_assert_eq(BATON_TRACESTATE_MAX_MEMBERS, 32);
	cr_assert_eq(BATON_TRACESTATE_MAX_KEY, 256);
	cr_assert_eq(BATON_TRACESTATE_MAX_VALUE, 256);
	cr_assert_eq(BATON_TRACESTATE_MAX_LEN, 512);
	cr_assert_eq(BATON_TRACESTATE_SIZE, 513);
	cr_assert_eq(BATON_TRACESTATE_LONG_ENTRY, 128);
	baton_tracestate ts = fresh();
	cr_assert_eq(sizeof(ts.members) / sizeof(ts.members[0]),
	             BATON_TRACESTATE_MAX_MEMBERS);
}
