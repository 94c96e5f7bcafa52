/*
 * The initialiser macros in C11: constant expressions, usable at file
 * scope. Compiled with -pedantic-errors by headers_test.sh.
 */
#include <baton/baton.h>

static const baton_kv attrs[] = {
    BATON_KV_STR("peer", "orders"),
    BATON_KV_INT("count", 42),
    BATON_KV_DOUBLE("ratio", 0.25),
    BATON_KV_BOOL("retry", true),
};

baton_export_result c_macros_result(void);
baton_export_result c_macros_result(void)
{
	baton_span none = BATON_SPAN_NONE;
	baton_span_end(none);
	return BATON_EXPORT_RESULT(attrs[1].value.u.i == 42 ? BATON_OK : BATON_EINVAL);
}
