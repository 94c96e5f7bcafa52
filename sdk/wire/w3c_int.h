/*
 * Internal W3C helpers shared by traceparent and tracestate code: a
 * tracestate scanned in place (members point into the input, nothing is
 * copied) and the writer that cuts a list to a length limit.
 */
#ifndef BT_W3C_INT_H
#define BT_W3C_INT_H

#include <baton/baggage.h>
#include <baton/w3c.h>

/* One list member "key=value", contiguous at p. */
typedef struct bt_ts_view {
	const char *p;
	uint16_t klen;
	uint16_t vlen;
} bt_ts_view;

static inline size_t bt_ts_view_len(const bt_ts_view *v)
{
	return (size_t)v->klen + 1 + v->vlen;
}

static inline bool bt_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Lowercase hex digit value, or -1. */
static inline int bt_hexval(unsigned char c)
{
	if ((unsigned)(c - '0') < 10u)
		return c - '0';
	if ((unsigned)(c - 'a') < 6u)
		return c - 'a' + 10;
	return -1;
}

/*
 * Scans n tracestate lines as one comma-joined list into v[32]. A key that
 * repeats keeps its first occurrence (later ones are left out). Returns
 * BATON_OK with *count, or BATON_EFORMAT (grammar, more than 32 members,
 * duplicates counted). v may be partly written on error.
 */
baton_err bt_ts_scan(const char *const *lines, const size_t *lens, size_t n,
                     bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS], size_t *count);

/*
 * Writes members v[0..n) comma-joined with a NUL into out; the text is at
 * most min(cap - 1, BATON_TRACESTATE_MAX_LEN) long, members being left out
 * as baton_tracestate_format() describes. cap must be >= 1. Returns the
 * length written.
 */
size_t bt_ts_write(const bt_ts_view *v, size_t n, char *out, size_t cap);

/* Finds key (klen bytes) among v[0..n); returns its index or -1. */
int bt_ts_find(const bt_ts_view *v, size_t n, const char *key, size_t klen);

/* W3C Baggage limits: a list this long or longer is still propagated whole. */
#define BT_BAGGAGE_MAX_LEN     BATON_BAGGAGE_MAX_LEN
#define BT_BAGGAGE_MAX_MEMBERS BATON_BAGGAGE_MAX_MEMBERS

/*
 * True when s (n bytes, no NUL needed) is a W3C baggage-string (baggage.c)
 * of at most BT_BAGGAGE_MAX_LEN bytes and BT_BAGGAGE_MAX_MEMBERS members.
 */
bool bt_baggage_valid(const char *s, size_t n);

/* Copies src's members into dst (its own buffer). BATON_ENOSPACE: too small. */
baton_err bt_baggage_copy(baton_baggage *dst, const baton_baggage *src);

/*
 * The baggage of a context (context.c): an immutable heap block holding the
 * list and its formatted header text. Never changed once made: a set makes
 * a new one (copy on write).
 */
typedef struct bt_bag {
	baton_baggage bg;
	char *header; /* formatted, NUL-terminated */
	size_t hlen;
	char data[];
} bt_bag;

/* Makes a block holding a copy of src (not empty); NULL when out of memory. */
bt_bag *bt_bag_create(const baton_baggage *src);
void bt_bag_destroy(bt_bag *b);

/*
 * OTEL_PROPAGATORS (sdk/trace/propagators.c): parses a value into
 * BATON_PROPAGATOR_* bits (*unknown: a name that is not supported was
 * seen), and reads the variable into what baton_propagators() returns
 * (baton_init calls it).
 */
uint32_t bt_propagators_parse(const char *v, bool *unknown);
void bt_propagators_init(void);

/*
 * baton_w3c_inject() for an explicit context (ctx NULL: BATON_EINVAL); the
 * public function resolves NULL to the current context and calls this.
 */
baton_err bt_w3c_inject(const baton_span_context *ctx, char *tp_out, size_t tp_cap,
                        char *ts_out, size_t ts_cap);

#endif /* BT_W3C_INT_H */
