/* The one UTF-8 module: well-formedness, cutting between characters, U+FFFD. */
#include "util.h"
#include "spancheck.h"

#include <criterion/criterion.h>
#include <string.h>

Test(utf8, valid_len_follows_unicode_table_3_7)
{
	struct {
		const char *s;
		size_t n, want;
	} c[] = {
	    {"a", 1, 1},
	    {"\xc3\xa9", 2, 2},
	    {"\xe2\x82\xac", 3, 3},
	    {"\xf0\x9f\x98\x80", 4, 4},
	    {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
	    {"\xc0\x80", 2, 0},         /* overlong NUL */
	    {"\xc1\xbf", 2, 0},         /* overlong */
	    {"\xe0\x80\x80", 3, 0},     /* overlong */
	    {"\xed\xa0\x80", 3, 0},     /* surrogate U+D800 */
	    {"\xf0\x80\x80\x80", 4, 0}, /* overlong */
	    {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
	    {"\xf5\x80\x80\x80", 4, 0},
	    {"\xff", 1, 0},
	    {"\x80", 1, 0},     /* a lone continuation byte */
	    {"\xe2\x82", 2, 0}, /* cut short */
	    {"\xe2\x28\xac", 3, 0},
	    {"", 0, 0},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		cr_expect_eq(bt_utf8_valid_len(c[i].s, c[i].n), c[i].want, "case %zu", i);
}

Test(utf8, valid_prefix_stops_at_the_first_ill_formed_byte)
{
	const char s[] = "0123456789abcdef\xc3\xa9xyz\xe2\x82 tail";
	cr_assert_eq(bt_utf8_valid_prefix(s, 16), 16);
	cr_assert_eq(bt_utf8_valid_prefix(s, 21), 21);
	cr_assert_eq(bt_utf8_valid_prefix(s, sizeof(s) - 1), 21);
	cr_assert_eq(bt_utf8_valid_prefix(s, 17), 16, "a character cut short");
}

Test(utf8, truncation_at_every_limit_gives_whole_characters)
{
	const char s[] = "a\xc3\xa9\xe2\x82\xac"; /* a é € */
	size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6};
	for (size_t max = 0; max < sizeof(want) / sizeof(want[0]); max++) {
		size_t n = bt_utf8_truncate(s, 6, max);
		cr_assert_eq(n, want[max], "max %zu gave %zu", max, n);
		cr_assert(tu_utf8_ok(s, n));
	}
}

Test(utf8, truncation_treats_ill_formed_bytes_as_units)
{
	/* "\xe2\x82" cannot complete: cutting after it splits nothing. */
	cr_assert_eq(bt_utf8_truncate("x\xe2\x82y", 4, 2), 2);
	cr_assert_eq(bt_utf8_truncate("x\xe2\x82y", 4, 3), 3);
	cr_assert_eq(bt_utf8_truncate("\x80\x80\x80\x80\x80", 5, 4), 4);
}

Test(utf8, sanitize_replaces_each_ill_formed_byte_with_u_fffd)
{
	char out[64];
	const char s[] = "a\xff"
	                 "b\xe2\x82"
	                 "c\xed\xa0\x80";
	size_t n = bt_utf8_sanitize(out, sizeof(out), s, sizeof(s) - 1, SIZE_MAX);
	const char want[] = "a\xef\xbf\xbd"
	                    "b\xef\xbf\xbd\xef\xbf\xbd"
	                    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
	cr_assert_eq(n, sizeof(want) - 1);
	cr_assert(memcmp(out, want, n) == 0);
	cr_assert_eq(bt_utf8_sanitize(NULL, SIZE_MAX, s, sizeof(s) - 1, SIZE_MAX), n);
	/* Well-formed input comes out unchanged. */
	const char ok[] = "h\xc3\xa9llo \xf0\x9f\x98\x80";
	cr_assert_eq(bt_utf8_sanitize(out, sizeof(out), ok, sizeof(ok) - 1, SIZE_MAX),
	             sizeof(ok) - 1);
	cr_assert(memcmp(out, ok, sizeof(ok) - 1) == 0);
}

Test(utf8, sanitize_counts_characters_and_never_splits_one_at_the_cap)
{
	char out[16];
	const char s[] = "a\xc3\xa9\xe2\x82\xac\xff"; /* 4 characters, the last one bad */
	size_t chars_want[] = {0, 1, 3, 6, 9};
	for (size_t c = 0; c <= 4; c++)
		cr_assert_eq(bt_utf8_sanitize(out, sizeof(out), s, 7, c), chars_want[c],
		             "%zu characters", c);
	for (size_t cap = 0; cap <= 9; cap++) {
		size_t n = bt_utf8_sanitize(out, cap, s, 7, SIZE_MAX);
		cr_assert_leq(n, cap);
		cr_assert(tu_utf8_ok(out, n), "cap %zu", cap);
		cr_assert_eq(n, cap < 1   ? 0
		                : cap < 3 ? 1
		                : cap < 6 ? 3
		                : cap < 9 ? 6
		                          : 9);
	}
}

Test(utf8, buf_put_utf8_appends_well_formed_text)
{
	bt_buf b;
	bt_buf_init(&b, 64);
	bt_buf_put_utf8(&b, "ok ", 3);
	bt_buf_put_utf8(&b, "\xc3(", 2);
	cr_assert_not(b.fail);
	cr_assert_eq(b.len, 3 + 3 + 1);
	cr_assert(memcmp(b.p, "ok \xef\xbf\xbd(", b.len) == 0);
	bt_buf_fini(&b);
}
