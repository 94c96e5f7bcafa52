/* Console exporter: span copies, text sanitising and the trace tree printer. */
#include "cs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BT_CS_BOLD   "\033[1m"
#define BT_CS_DIM    "\033[2m"
#define BT_CS_CYAN   "\033[36m"
#define BT_CS_RED    "\033[1;31m"
#define BT_CS_YELLOW "\033[33m"
#define BT_CS_RESET  "\033[0m"

/* Deeper spans are printed at this depth, so a long chain stays readable. */
#define BT_CS_MAX_INDENT 32
/* Characters of one attribute value shown: key ones, and all of them. */
#define BT_CS_KEY_VALUE_CHARS 80
#define BT_CS_ALL_VALUE_CHARS 256
/* Array elements shown before "…". */
#define BT_CS_ARRAY_ITEMS 8

void bt_cs_sanitize(bt_buf *b, const char *str, size_t n, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t chars = 0;
	for (size_t i = 0; i < n;) {
		if (chars == max_chars) {
			bt_buf_puts(b, "…");
			return;
		}
		unsigned char c = s[i];
		size_t ulen = bt_utf8_valid_len(str + i, n - i);
		chars++;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			bt_buf_put(b, (const char *)s + i, 1);
			i++;
		} else if (c >= 0x80 && ulen > 1) {
			/* C1 controls (U+0080..U+009F) are terminal escapes too. */
			if (c == 0xC2 && s[i + 1] < 0xA0)
				bt_buf_printf(b, "\\u%04x", s[i + 1]);
			else
				bt_buf_put(b, (const char *)s + i, ulen);
			i += ulen;
		} else {
			if (c == '\n')
				bt_buf_puts(b, "\\n");
			else if (c == '\t')
				bt_buf_puts(b, "\\t");
			else if (c == '\r')
				bt_buf_puts(b, "\\r");
			else if (c == '\\')
				bt_buf_puts(b, "\\\\");
			else
				bt_buf_printf(b, "\\x%02x", c);
			i++;
		}
	}
}

/* ---- span copies ---- */

static bool bt_cs_key_attr(const char *key)
{
	return strncmp(key, "messaging.", 10) == 0 || strncmp(key, "http.", 5) == 0 ||
	       strncmp(key, "rpc.", 4) == 0 || strcmp(key, "error.type") == 0 ||
	       strcmp(key, "SampleRate") == 0;
}

static bool bt_cs_needs_quotes(const char *s, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '"')
			return true;
	}
	return false;
}

static void bt_cs_value(bt_buf *b, const baton_value *v, size_t max_chars)
{
	size_t items = v->len < BT_CS_ARRAY_ITEMS ? v->len : BT_CS_ARRAY_ITEMS;
	switch (v->type) {
	case BATON_VALUE_STRING: {
		const char *s = v->u.s != NULL ? v->u.s : "";
		size_t n = v->u.s != NULL ? v->len : 0;
		bool q = bt_cs_needs_quotes(s, n);
		if (q)
			bt_buf_puts(b, "\"");
		bt_cs_sanitize(b, s, n, max_chars);
		if (q)
			bt_buf_puts(b, "\"");
		return;
	}
	case BATON_VALUE_BOOL:
		bt_buf_puts(b, v->u.b ? "true" : "false");
		return;
	case BATON_VALUE_INT:
		bt_buf_printf(b, "%" PRId64, v->u.i);
		return;
	case BATON_VALUE_DOUBLE:
		bt_buf_printf(b, "%g", v->u.d);
		return;
	case BATON_VALUE_STRING_ARRAY:
	case BATON_VALUE_INT_ARRAY:
	case BATON_VALUE_DOUBLE_ARRAY:
	case BATON_VALUE_BOOL_ARRAY:
		break;
	default:
		bt_buf_puts(b, "?");
		return;
	}
	bt_buf_puts(b, "[");
	for (size_t i = 0; i < items; i++) {
		if (i > 0)
			bt_buf_puts(b, ", ");
		if (v->type == BATON_VALUE_STRING_ARRAY) {
			const char *s = v->u.sa[i] != NULL ? v->u.sa[i] : "";
			bt_cs_sanitize(b, s, strlen(s), max_chars);
		} else if (v->type == BATON_VALUE_INT_ARRAY) {
			bt_buf_printf(b, "%" PRId64, v->u.ia[i]);
		} else if (v->type == BATON_VALUE_DOUBLE_ARRAY) {
			bt_buf_printf(b, "%g", v->u.da[i]);
		} else {
			bt_buf_puts(b, v->u.ba[i] ? "true" : "false");
		}
	}
	if (items < v->len)
		bt_buf_puts(b, ", …");
	bt_buf_puts(b, "]");
}

static bool bt_cs_value_is(const baton_value *v, const char *s, size_t n)
{
	return v->type == BATON_VALUE_STRING && v->u.s != NULL && v->len == n &&
	       memcmp(v->u.s, s, n) == 0;
}

/*
 * Whether a key attribute only repeats what the line shows anyway: a
 * SampleRate of 1 (the common case), messaging.operation.name equal to the
 * first word of the span name, messaging.operation.type matching the kind.
 */
static bool bt_cs_redundant(const baton_attr *a, const baton_span_data *s)
{
	const baton_value *v = &a->value;
	if (strcmp(a->key, "SampleRate") == 0)
		return (v->type == BATON_VALUE_INT && v->u.i == 1) ||
		       (v->type == BATON_VALUE_DOUBLE && v->u.d == 1.0);
	if (strcmp(a->key, "messaging.operation.name") == 0 && s->name != NULL) {
		size_t w = strcspn(s->name, " ");
		return bt_cs_value_is(v, s->name, w);
	}
	if (strcmp(a->key, "messaging.operation.type") == 0) {
		switch (s->kind) {
		case BATON_SPAN_KIND_PRODUCER:
			return bt_cs_value_is(v, "send", 4) ||
			       bt_cs_value_is(v, "create", 6);
		case BATON_SPAN_KIND_CONSUMER:
			return bt_cs_value_is(v, "process", 7);
		case BATON_SPAN_KIND_CLIENT:
			return bt_cs_value_is(v, "receive", 7);
		default:
			return false;
		}
	}
	return false;
}

/* Renders attributes; s (not NULL for a span's own list) drops redundant key ones. */
static void bt_cs_attrs(bt_buf *b, const baton_attr *a, bool all, size_t max_chars,
                        const baton_span_data *s)
{
	bool first = true;
	for (; a != NULL; a = a->next) {
		if (a->key == NULL || (!all && !bt_cs_key_attr(a->key)))
			continue;
		if (!all && s != NULL && bt_cs_redundant(a, s))
			continue;
		if (!first)
			bt_buf_puts(b, " ");
		first = false;
		bt_cs_sanitize(b, a->key, strlen(a->key), max_chars);
		bt_buf_puts(b, "=");
		bt_cs_value(b, &a->value, max_chars);
	}
}

bt_cs_span *bt_cs_span_copy(const baton_span_data *s, bool all)
{
	size_t max_chars = all ? BT_CS_ALL_VALUE_CHARS : BT_CS_KEY_VALUE_CHARS;
	bt_buf t = {.max = 1u << 20};
	const char *name = s->name != NULL ? s->name : "";
	size_t off_attrs, off_status, off_events, off_service;

	bt_cs_sanitize(&t, name, strlen(name), 200);
	bt_buf_put(&t, "\0", 1);
	off_attrs = t.len;
	bt_cs_attrs(&t, s->attrs, all, max_chars, s);
	bt_buf_put(&t, "\0", 1);
	off_status = t.len;
	if (s->status_message != NULL)
		bt_cs_sanitize(&t, s->status_message, strlen(s->status_message), 200);
	bt_buf_put(&t, "\0", 1);
	off_events = t.len;
	for (const baton_event *e = all ? s->events : NULL; e != NULL; e = e->next) {
		const char *en = e->name != NULL ? e->name : "";
		char dur[32];
		uint64_t off = e->time_unix_ns > s->start_unix_ns
		                   ? e->time_unix_ns - s->start_unix_ns
		                   : 0;
		bt_buf_puts(&t, "· ");
		bt_cs_sanitize(&t, en, strlen(en), 80);
		bt_buf_puts(&t, " +");
		bt_buf_puts(&t, baton_console_format_duration(off, dur, sizeof(dur)));
		if (e->attrs != NULL) {
			bt_buf_puts(&t, "  ");
			bt_cs_attrs(&t, e->attrs, true, max_chars, NULL);
		}
		bt_buf_puts(&t, "\n");
	}
	bt_buf_put(&t, "\0", 1);
	off_service = t.len;
	if (s->resource != NULL && s->resource->service_name != NULL)
		bt_cs_sanitize(&t, s->resource->service_name,
		               strlen(s->resource->service_name), 64);
	bt_buf_put(&t, "\0", 1);
	if (t.fail) {
		bt_free(t.p);
		return NULL;
	}
	bt_cs_span *c = bt_malloc(sizeof(*c) + t.len);
	if (c == NULL) {
		bt_free(t.p);
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	memcpy(c->text, t.p, t.len);
	bt_free(t.p);
	memcpy(c->span_id, s->context.span_id, BATON_SPAN_ID_SIZE);
	c->has_parent = (s->parent.state & BATON_CTX_VALID) != 0;
	if (c->has_parent)
		memcpy(c->parent_id, s->parent.span_id, BATON_SPAN_ID_SIZE);
	c->parent_remote = (s->parent.state & BATON_CTX_REMOTE) != 0;
	c->kind = s->kind;
	c->status = s->status;
	c->start_ns = s->start_unix_ns;
	c->end_ns = s->end_unix_ns > s->start_unix_ns ? s->end_unix_ns : s->start_unix_ns;
	c->name = c->text;
	c->attrs = c->text + off_attrs;
	c->status_msg = c->text + off_status;
	c->events = c->text + off_events;
	c->service = c->text + off_service;
	return c;
}

/* ---- durations ---- */

const char *baton_console_format_duration(uint64_t ns, char *buf, size_t cap)
{
	if (buf == NULL || cap == 0)
		return buf;
	if (ns < 1000u)
		snprintf(buf, cap, "%" PRIu64 " ns", ns);
	else if (ns < 999950u)
		snprintf(buf, cap, "%.1f µs", (double)ns / 1e3);
	else if (ns < 999995000u)
		snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
	return buf;
}

/* ---- the tree ---- */

static const char *bt_cs_kind(baton_span_kind k)
{
	switch (k) {
	case BATON_SPAN_KIND_SERVER:
		return "server";
	case BATON_SPAN_KIND_CLIENT:
		return "client";
	case BATON_SPAN_KIND_PRODUCER:
		return "producer";
	case BATON_SPAN_KIND_CONSUMER:
		return "consumer";
	default:
		return "internal";
	}
}

typedef struct bt_cs_node {
	bt_cs_span *span;
	size_t parent;      /* index, or SIZE_MAX when the parent is not here */
	size_t child, next; /* first child, next sibling (SIZE_MAX: none) */
	bool visited;
} bt_cs_node;

static int bt_cs_cmp_start(const void *a, const void *b)
{
	const bt_cs_span *x = *(bt_cs_span *const *)a, *y = *(bt_cs_span *const *)b;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return memcmp(x->span_id, y->span_id, BATON_SPAN_ID_SIZE);
}

static int bt_cs_cmp_id(const void *a, const void *b, void *arg)
{
	const bt_cs_node *nodes = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c =
	    memcmp(nodes[i].span->span_id, nodes[j].span->span_id, BATON_SPAN_ID_SIZE);
	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

static void bt_cs_line(bt_buf *o, const bt_cs_node *nodes, size_t i, size_t depth,
                       const bt_cs_style *st)
{
	const bt_cs_span *s = nodes[i].span;
	char dur[32], hex[2 * BATON_SPAN_ID_SIZE + 1];
	size_t indent = 2 * (depth < BT_CS_MAX_INDENT ? depth : BT_CS_MAX_INDENT);
	bool orphan = nodes[i].parent == SIZE_MAX && s->has_parent;

	for (size_t k = 0; k < indent; k++)
		bt_buf_puts(o, " ");
	if (orphan)
		bt_buf_puts(o, st->color ? BT_CS_YELLOW "^ " BT_CS_RESET : "^ ");
	bt_buf_puts(o, st->color ? BT_CS_BOLD : "");
	bt_buf_puts(o, s->name);
	bt_buf_puts(o, st->color ? BT_CS_RESET "  " BT_CS_DIM : "  ");
	bt_buf_puts(o, bt_cs_kind(s->kind));
	bt_buf_puts(o, st->color ? BT_CS_RESET "  " BT_CS_CYAN : "  ");
	bt_buf_puts(
	    o, baton_console_format_duration(s->end_ns - s->start_ns, dur, sizeof(dur)));
	bt_buf_puts(o, st->color ? BT_CS_RESET : "");
	if (s->attrs[0] != '\0') {
		bt_buf_puts(o, "  ");
		bt_buf_puts(o, s->attrs);
	}
	if (s->status == BATON_STATUS_ERROR) {
		bt_buf_puts(o, st->color ? "  " BT_CS_RED "ERROR" : "  ERROR");
		if (s->status_msg[0] != '\0') {
			bt_buf_puts(o, ": ");
			bt_buf_puts(o, s->status_msg);
		}
		bt_buf_puts(o, st->color ? BT_CS_RESET : "");
	}
	if (orphan) {
		baton_hex_encode(s->parent_id, BATON_SPAN_ID_SIZE, hex);
		bt_buf_printf(o, "  (parent %s %s)", hex,
		              s->parent_remote ? "remote" : "not here");
	}
	bt_buf_puts(o, "\n");
	/* Events: one line each, under the span. */
	for (const char *e = s->events; *e != '\0';) {
		const char *nl = strchr(e, '\n');
		size_t len = nl != NULL ? (size_t)(nl - e) : strlen(e);
		for (size_t k = 0; k < indent + 4; k++)
			bt_buf_puts(o, " ");
		bt_buf_puts(o, st->color ? BT_CS_DIM : "");
		bt_buf_put(o, e, len);
		bt_buf_puts(o, st->color ? BT_CS_RESET "\n" : "\n");
		e += len + (nl != NULL);
	}
}

/* Prints the subtree of root, depth first, without recursion. */
static void bt_cs_subtree(bt_buf *o, bt_cs_node *nodes, size_t root, size_t *stack,
                          size_t *depths, const bt_cs_style *st)
{
	size_t top = 0;
	stack[top] = root;
	depths[top++] = 0;
	while (top > 0) {
		size_t i = stack[--top], d = depths[top];
		if (nodes[i].visited)
			continue;
		nodes[i].visited = true;
		bt_cs_line(o, nodes, i, d, st);
		/* Push children in reverse so the earliest is printed first. */
		size_t nkids = 0;
		for (size_t c = nodes[i].child; c != SIZE_MAX; c = nodes[c].next)
			nkids++;
		top += nkids;
		size_t k = top;
		for (size_t c = nodes[i].child; c != SIZE_MAX; c = nodes[c].next) {
			stack[--k] = c;
			depths[k] = d + 1;
		}
	}
}

bool bt_cs_render(bt_buf *o, const uint8_t *trace_id, bt_cs_span *spans, size_t n,
                  bool continued, const bt_cs_style *st)
{
	char hex[2 * BATON_TRACE_ID_SIZE + 1], dur[32];
	bool ok = false;
	bt_cs_span **arr = bt_calloc(n, sizeof(*arr));
	bt_cs_node *nodes = bt_calloc(n, sizeof(*nodes));
	size_t *byid = bt_calloc(n, sizeof(size_t));
	size_t *stack = bt_calloc(n, sizeof(size_t));
	size_t *depths = bt_calloc(n, sizeof(size_t));
	if (arr == NULL || nodes == NULL || byid == NULL || stack == NULL ||
	    depths == NULL)
		goto out;

	size_t k = 0;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	for (bt_cs_span *s = spans; s != NULL && k < n; s = s->next) {
		arr[k++] = s;
		t0 = s->start_ns < t0 ? s->start_ns : t0;
		t1 = s->end_ns > t1 ? s->end_ns : t1;
	}
	n = k;
	qsort(arr, n, sizeof(*arr), bt_cs_cmp_start);
	for (size_t i = 0; i < n; i++) {
		nodes[i] = (bt_cs_node){arr[i], SIZE_MAX, SIZE_MAX, SIZE_MAX, false};
		byid[i] = i;
	}
	qsort_r(byid, n, sizeof(*byid), bt_cs_cmp_id, nodes);
	/* Parents by binary search on span id; a span is never its own parent. */
	for (size_t i = 0; i < n; i++) {
		const bt_cs_span *s = nodes[i].span;
		if (!s->has_parent)
			continue;
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (memcmp(nodes[byid[mid]].span->span_id, s->parent_id,
			           BATON_SPAN_ID_SIZE) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && byid[lo] != i &&
		    memcmp(nodes[byid[lo]].span->span_id, s->parent_id,
		           BATON_SPAN_ID_SIZE) == 0)
			nodes[i].parent = byid[lo];
	}
	/* Children lists in start order: walk backwards, push to the front. */
	for (size_t i = n; i-- > 0;) {
		size_t p = nodes[i].parent;
		if (p != SIZE_MAX) {
			nodes[i].next = nodes[p].child;
			nodes[p].child = i;
		}
	}

	baton_hex_encode(trace_id, BATON_TRACE_ID_SIZE, hex);
	bt_buf_puts(o, st->color ? BT_CS_BOLD "trace " : "trace ");
	bt_buf_puts(o, hex);
	bt_buf_puts(o, st->color ? BT_CS_RESET : "");
	if (n > 0 && nodes[0].span->service[0] != '\0') {
		bt_buf_puts(o, "  [");
		bt_buf_puts(o, nodes[0].span->service);
		bt_buf_puts(o, "]");
	}
	bt_buf_printf(
	    o, "  %zu span%s  %s%s\n", n, n == 1 ? "" : "s",
	    baton_console_format_duration(n > 0 ? t1 - t0 : 0, dur, sizeof(dur)),
	    continued ? "  (continued)" : "");
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].parent == SIZE_MAX)
			bt_cs_subtree(o, nodes, i, stack, depths, st);
	}
	/* Spans caught in a parent cycle (malformed input) are printed too. */
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i].visited) {
			nodes[i].parent = SIZE_MAX;
			bt_cs_subtree(o, nodes, i, stack, depths, st);
		}
	}
	ok = !o->fail;
out:
	bt_free(arr);
	bt_free(nodes);
	bt_free(byid);
	bt_free(stack);
	bt_free(depths);
	return ok;
}
