/*
 * The general attribute limits: OTEL_ATTRIBUTE_COUNT_LIMIT and
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT apply where the span-, event- and
 * link-specific variables are unset; those win when set, and a field of
 * baton_limits wins over both.
 */
#include "spancheck.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {
    "OTEL_ATTRIBUTE_COUNT_LIMIT",       "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",  "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void held_fini(void)
{
	tu_held_release();
	baton_fini(1000);
	clear_env();
}

TestSuite(limits_env, .init = clear_env, .fini = held_fini);

/* Ends one span with 10 attributes, a 12-character value, and one event and
 * one link with 10 attributes each; returns the held span. */
static const baton_span_data *one_span(const baton_limits *lim)
{
	tu_held_init(baton_sampler_always_on(), lim);
	baton_tracer *t = baton_tracer_get("t", NULL);
	baton_kv kv[10];
	char keys[10][4];
	for (int i = 0; i < 10; i++) {
		keys[i][0] = 'k';
		keys[i][1] = (char)('0' + i);
		keys[i][2] = '\0';
		kv[i] = (baton_kv)BATON_KV_INT(keys[i], i);
	}
	baton_span x = baton_span_start(t, "x");
	baton_span_context xc;
	baton_span_get_context(x, &xc);
	baton_span_end(x);
	tu_held_release();
	baton_span s = baton_span_start(t, "s");
	baton_span_set_str(s, "long", "abcdefghijkl");
	for (int i = 0; i < 10; i++)
		baton_span_set_int(s, keys[i], i);
	baton_span_add_event(s, "ev", 0, kv, 10);
	baton_span_add_link(s, &xc, kv, 10);
	baton_span_end(s);
	const baton_span_data *d = tu_held();
	cr_assert_not_null(d);
	cr_assert_not_null(d->events);
	cr_assert_not_null(d->links);
	return d;
}

static size_t long_len(const baton_span_data *d)
{
	const baton_attr *a = baton_attr_find(d->attrs, "long");
	cr_assert_not_null(a, "the first attribute is always kept");
	return a->value.len;
}

Test(limits_env, defaults_without_any_variable)
{
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(d->dropped_attrs, 0);
	cr_assert_eq(d->events->nattrs, 10);
	cr_assert_eq(d->links->nattrs, 10);
	cr_assert_eq(long_len(d), 12);
}

Test(limits_env, general_count_applies_to_spans_events_and_links)
{
	setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "4", 1);
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(d->nattrs, 4);
	cr_assert_gt(d->dropped_attrs, 0);
	cr_assert_eq(d->events->nattrs, 4);
	cr_assert_eq(d->events->dropped_attrs, 6);
	cr_assert_eq(d->links->nattrs, 4);
	cr_assert_eq(d->links->dropped_attrs, 6);
}

Test(limits_env, specific_counts_win_over_the_general_one)
{
	setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "4", 1);
	setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "6", 1);
	setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2", 1);
	setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "3", 1);
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(d->nattrs, 6);
	cr_assert_eq(d->events->nattrs, 2);
	cr_assert_eq(d->links->nattrs, 3);
}

Test(limits_env, only_unset_specific_counts_fall_back)
{
	setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "4", 1);
	setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "7", 1);
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(d->nattrs, 4);
	cr_assert_eq(d->events->nattrs, 7);
	cr_assert_eq(d->links->nattrs, 4);
}

Test(limits_env, options_win_over_both_variables)
{
	setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "4", 1);
	setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "6", 1);
	setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3", 1);
	setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5", 1);
	baton_limits lim = {.attribute_count = 8,
	                    .event_attribute_count = 9,
	                    .link_attribute_count = 1,
	                    .attribute_value_length = 10};
	const baton_span_data *d = one_span(&lim);
	cr_assert_eq(d->nattrs, 8);
	cr_assert_eq(d->events->nattrs, 9);
	cr_assert_eq(d->links->nattrs, 1);
	cr_assert_eq(long_len(d), 10);
}

Test(limits_env, general_value_length_applies)
{
	setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3", 1);
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(long_len(d), 3);
	cr_assert_str_eq(tu_attr_str(d, "long"), "abc");
}

Test(limits_env, span_value_length_wins_over_the_general_one)
{
	setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3", 1);
	setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5", 1);
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(long_len(d), 5);
}

Test(limits_env, garbage_general_value_is_ignored_with_the_default)
{
	setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "many", 1);
	const baton_span_data *d = one_span(NULL);
	cr_assert_eq(d->events->nattrs, 10);
	cr_assert_eq(d->dropped_attrs, 0);
}
