/*
 * The console exporter: buffers spans per trace until a local root ends,
 * then prints the trace as a tree (render.c). Bounded: at most max_spans
 * spans buffered (the oldest waiting trace is printed early to make room),
 * and at most BT_CS_MAX_REMEMBERED traces remembered as printed or
 * skipped, so later spans of a trace are marked "(continued)" or skipped.
 */
#include "cs.h"

#include "idtable.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BT_CS_MAX_REMEMBERED 16384
/* One printed trace never takes more than this many bytes of text. */
#define BT_CS_MAX_BLOCK (64u << 20)

typedef struct bt_cs_trace {
	uint8_t trace_id[BATON_TRACE_ID_SIZE];
	struct bt_cs_trace *prev, *next; /* waiting list, oldest first */
	bt_cs_span *head, *tail;
	size_t nspans;
	bool waiting;    /* on the waiting list (has buffered spans) */
	bool root_ended; /* a local root ended: print at the end of this batch */
	bool printed;    /* printed before: more spans come out "(continued)" */
	bool skipped;    /* over the trace cap: spans are counted, not kept */
} bt_cs_trace;

typedef struct bt_cs_exp {
	pthread_mutex_t mtx;
	FILE *stream;
	bt_cs_style style;
	bool all_attributes;
	uint32_t max_traces, max_spans;

	bt_idtable ids;         /* trace id -> trace, at most BT_CS_MAX_REMEMBERED + 1 */
	bt_cs_trace *wait_head; /* waiting traces, oldest first */
	bt_cs_trace *wait_tail;
	size_t buffered; /* spans buffered in all waiting traces */

	uint64_t printed_traces;
	uint64_t skipped_traces, skipped_spans;
	bool skipped_at_least; /* skipped_traces is a lower bound (table full) */
	uint64_t dropped;      /* spans lost to out of memory */
	bool shut;
	pid_t pid;            /* the process the buffered spans belong to */
	baton_fork_step fork; /* holds mtx across fork() */
} bt_cs_exp;

/*
 * fork(): a child must not inherit an exporter mutex locked by the export
 * thread, which does not exist in the child. Before fork the forking
 * thread takes every exporter's mutex (waiting for an export in progress
 * to end); after it, parent and child unlock them.
 */
static void bt_cs_fork_prepare(void *arg)
{
	bt_cs_exp *x = arg;
	pthread_mutex_lock(&x->mtx);
}

static void bt_cs_fork_after(void *arg)
{
	bt_cs_exp *x = arg;
	pthread_mutex_unlock(&x->mtx);
}

static void bt_cs_fork_register(bt_cs_exp *x)
{
	x->fork = (baton_fork_step){.order = BATON_FORK_EXPORTER,
	                            .prepare = bt_cs_fork_prepare,
	                            .parent = bt_cs_fork_after,
	                            .child = bt_cs_fork_after,
	                            .arg = x};
	baton_fork_register(&x->fork);
}

static void bt_cs_fork_unregister(bt_cs_exp *x)
{
	baton_fork_unregister(&x->fork);
}

static bt_cs_trace *bt_cs_find(bt_cs_exp *x, const uint8_t *tid)
{
	return bt_idtable_find(&x->ids, tid);
}

static bt_cs_trace *bt_cs_add(bt_cs_exp *x, const uint8_t *tid)
{
	bt_cs_trace *t = bt_calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	memcpy(t->trace_id, tid, BATON_TRACE_ID_SIZE);
	if (bt_idtable_insert(&x->ids, tid, t) != BATON_OK) {
		bt_free(t);
		return NULL;
	}
	return t;
}

static void bt_cs_remove(bt_cs_exp *x, bt_cs_trace *t)
{
	bt_idtable_remove(&x->ids, t->trace_id);
	bt_free(t);
}

static void bt_cs_unwait(bt_cs_exp *x, bt_cs_trace *t)
{
	if (!t->waiting)
		return;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		x->wait_head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		x->wait_tail = t->prev;
	t->prev = t->next = NULL;
	t->waiting = false;
}

static void bt_cs_free_spans(bt_cs_exp *x, bt_cs_trace *t)
{
	for (bt_cs_span *s = t->head, *n; s != NULL; s = n) {
		n = s->next;
		bt_free(s);
	}
	x->buffered -= t->nspans;
	t->head = t->tail = NULL;
	t->nspans = 0;
}

static void bt_cs_write(bt_cs_exp *x, const char *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, x->stream) == n)
		fflush(x->stream);
}

/* Prints (or skips, past the cap) the buffered spans of t and forgets them. */
static void bt_cs_emit(bt_cs_exp *x, bt_cs_trace *t)
{
	bt_cs_unwait(x, t);
	t->root_ended = false;
	if (!t->printed && x->printed_traces >= x->max_traces) {
		x->skipped_traces++;
		x->skipped_spans += t->nspans;
		t->skipped = true;
	} else if (t->nspans > 0) {
		bt_buf out = {.max = BT_CS_MAX_BLOCK};
		if (bt_cs_render(&out, t->trace_id, t->head, t->nspans, t->printed,
		                 &x->style)) {
			bt_cs_write(x, out.p, out.len);
		} else {
			x->dropped += t->nspans;
		}
		bt_free(out.p);
		if (!t->printed)
			x->printed_traces++;
		t->printed = true;
	}
	bt_cs_free_spans(x, t);
	/* Forget the trace once the table is full: later spans start a new block. */
	if (x->ids.count > BT_CS_MAX_REMEMBERED)
		bt_cs_remove(x, t);
}

static void bt_cs_emit_all(bt_cs_exp *x)
{
	while (x->wait_head != NULL)
		bt_cs_emit(x, x->wait_head);
}

/* Files one span under its trace, or counts it when its trace is skipped. */
static void bt_cs_take(bt_cs_exp *x, const baton_span_data *s)
{
	bt_cs_trace *t = bt_cs_find(x, s->context.trace_id);
	if (t == NULL && x->printed_traces >= x->max_traces) {
		/* Past the cap a new trace is only counted. */
		x->skipped_spans++;
		if (x->ids.count < BT_CS_MAX_REMEMBERED &&
		    (t = bt_cs_add(x, s->context.trace_id)) != NULL) {
			t->skipped = true;
			x->skipped_traces++;
		} else {
			x->skipped_at_least = true;
		}
		return;
	}
	if (t != NULL && t->skipped) {
		x->skipped_spans++;
		return;
	}
	if (t == NULL && (t = bt_cs_add(x, s->context.trace_id)) == NULL) {
		x->dropped++;
		return;
	}
	/* Make room: the oldest waiting trace goes out as it is. */
	while (x->buffered >= x->max_spans && x->wait_head != NULL)
		bt_cs_emit(x, x->wait_head);
	bt_cs_span *c = bt_cs_span_copy(s, x->all_attributes);
	if (c == NULL) {
		x->dropped++;
		return;
	}
	/* t may have been forgotten by an emit above: look it up again. */
	t = bt_cs_find(x, s->context.trace_id);
	if (t == NULL && (t = bt_cs_add(x, s->context.trace_id)) == NULL) {
		bt_free(c);
		x->dropped++;
		return;
	}
	if (t->skipped) {
		bt_free(c);
		x->skipped_spans++;
		return;
	}
	if (t->tail != NULL)
		t->tail->next = c;
	else
		t->head = c;
	t->tail = c;
	t->nspans++;
	x->buffered++;
	if (!t->waiting) {
		t->waiting = true;
		t->prev = x->wait_tail;
		if (x->wait_tail != NULL)
			x->wait_tail->next = t;
		else
			x->wait_head = t;
		x->wait_tail = t;
	}
	if (!(s->parent.state & BATON_CTX_VALID) || (s->parent.state & BATON_CTX_REMOTE))
		t->root_ended = true;
}

/* Frees every trace and its spans and empties the table. */
static void bt_cs_forget_all(bt_cs_exp *x)
{
	size_t pos = 0;
	void *v;
	/* Freeing the values does not change the table: empty it after. */
	while (bt_idtable_next(&x->ids, &pos, &v)) {
		bt_cs_free_spans(x, v);
		bt_free(v);
	}
	bt_idtable_fini(&x->ids);
	bt_idtable_init(&x->ids);
}

/*
 * In a child process after fork(): the buffered spans are the parent's (it
 * prints them), so the child forgets them and every count. Mutex held.
 */
static void bt_cs_after_fork(bt_cs_exp *x)
{
	pid_t pid = getpid();
	if (pid == x->pid)
		return;
	x->pid = pid;
	bt_cs_forget_all(x);
	x->wait_head = x->wait_tail = NULL;
	x->buffered = 0;
	x->printed_traces = x->skipped_traces = x->skipped_spans = x->dropped = 0;
	x->skipped_at_least = false;
}

static baton_export_result bt_cs_export(void *arg, const baton_span_data *const *spans,
                                        size_t n)
{
	bt_cs_exp *x = arg;
	pthread_mutex_lock(&x->mtx);
	bt_cs_after_fork(x);
	if (x->shut) {
		pthread_mutex_unlock(&x->mtx);
		return BATON_EXPORT_RESULT(BATON_ECLOSED);
	}
	for (size_t i = 0; i < n; i++) {
		if (spans[i] != NULL)
			bt_cs_take(x, spans[i]);
	}
	/* Print, oldest first, every trace whose local root ended in this batch. */
	for (bt_cs_trace *t = x->wait_head, *next; t != NULL; t = next) {
		next = t->next;
		if (t->root_ended)
			bt_cs_emit(x, t);
	}
	pthread_mutex_unlock(&x->mtx);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static baton_err bt_cs_flush(void *arg, uint32_t timeout_ms)
{
	bt_cs_exp *x = arg;
	(void)timeout_ms;
	pthread_mutex_lock(&x->mtx);
	bt_cs_after_fork(x);
	if (!x->shut)
		bt_cs_emit_all(x);
	pthread_mutex_unlock(&x->mtx);
	return BATON_OK;
}

static baton_err bt_cs_shutdown(void *arg, uint32_t timeout_ms)
{
	bt_cs_exp *x = arg;
	(void)timeout_ms;
	pthread_mutex_lock(&x->mtx);
	bt_cs_after_fork(x);
	if (!x->shut) {
		bt_cs_emit_all(x);
		x->shut = true;
		bt_buf out = {.max = 1024};
		if (x->skipped_traces > 0 || x->skipped_at_least)
			bt_buf_printf(&out,
			              "... %s%llu more trace%s (%llu spans) not shown\n",
			              x->skipped_at_least ? "at least " : "",
			              (unsigned long long)x->skipped_traces,
			              x->skipped_traces == 1 ? "" : "s",
			              (unsigned long long)x->skipped_spans);
		if (x->dropped > 0)
			bt_buf_printf(&out, "... %llu spans lost (out of memory)\n",
			              (unsigned long long)x->dropped);
		bt_cs_write(x, out.p, out.len);
		bt_free(out.p);
	}
	pthread_mutex_unlock(&x->mtx);
	return BATON_OK;
}

static void bt_cs_destroy(void *arg)
{
	bt_cs_exp *x = arg;
	if (x == NULL)
		return;
	if (!x->shut)
		bt_cs_shutdown(x, 0);
	bt_cs_forget_all(x);
	bt_idtable_fini(&x->ids);
	bt_cs_fork_unregister(x);
	pthread_mutex_destroy(&x->mtx);
	bt_free(x);
}

void bt_cs_table_work(void *arg, uint64_t *ops, uint64_t *probes)
{
	bt_cs_exp *x = arg;
	pthread_mutex_lock(&x->mtx);
	*ops = x->ids.ops;
	*probes = x->ids.probes;
	pthread_mutex_unlock(&x->mtx);
}

static const baton_exporter_ops bt_cs_ops = {
    sizeof(baton_exporter_ops),
    "console",
    bt_cs_export,
    bt_cs_flush,
    bt_cs_shutdown,
    bt_cs_destroy,
};

/* Whether to colour: explicit choice, else a terminal without NO_COLOR and not TERM=dumb.
 */
static bool bt_cs_want_color(baton_console_color c, FILE *stream)
{
	if (c == BATON_CONSOLE_COLOR_AUTO) {
		const char *e = baton_getenv("BATON_CONSOLE_COLOR");
		if (e != NULL && strcasecmp(e, "always") == 0)
			c = BATON_CONSOLE_COLOR_ALWAYS;
		else if (e != NULL && strcasecmp(e, "never") == 0)
			c = BATON_CONSOLE_COLOR_NEVER;
		else if (e != NULL && strcasecmp(e, "auto") != 0)
			bt_warn("BATON_CONSOLE_COLOR=%s: expected auto, always or never",
			        e);
	}
	if (c == BATON_CONSOLE_COLOR_ALWAYS)
		return true;
	if (c == BATON_CONSOLE_COLOR_NEVER)
		return false;
	const char *no = getenv("NO_COLOR");
	if (no != NULL && no[0] != '\0')
		return false;
	const char *term = getenv("TERM");
	if (term != NULL && strcmp(term, "dumb") == 0)
		return false;
	int fd = fileno(stream);
	return fd >= 0 && isatty(fd);
}

baton_err baton_console_exporter_create(const baton_console_options *opts,
                                        baton_exporter *out)
{
	static const baton_console_options none = {sizeof(baton_console_options)};
	if (out == NULL)
		return BATON_EINVAL;
	if (opts == NULL)
		opts = &none;
	if (opts->size < sizeof(baton_console_options))
		return BATON_EINVAL;
	bt_cs_exp *x = bt_calloc(1, sizeof(*x));
	if (x == NULL)
		return BATON_ENOMEM;

	x->stream = opts->stream;
	if (x->stream == NULL) {
		const char *e = baton_getenv("BATON_CONSOLE_STREAM");
		x->stream = stdout;
		if (e != NULL && strcasecmp(e, "stderr") == 0)
			x->stream = stderr;
		else if (e != NULL && strcasecmp(e, "stdout") != 0)
			bt_warn("BATON_CONSOLE_STREAM=%s: expected stdout or stderr", e);
	}
	x->style.color = bt_cs_want_color(opts->color, x->stream);
	x->all_attributes = opts->all_attributes;
	if (!x->all_attributes)
		bt_env_bool("BATON_CONSOLE_ALL_ATTRIBUTES", &x->all_attributes);
	x->max_traces = opts->max_traces;
	if (x->max_traces == 0) {
		uint32_t v = BATON_CONSOLE_DEFAULT_MAX_TRACES;
		if (bt_env_u32("BATON_CONSOLE_MAX_TRACES", &v) && v == 0)
			v = BATON_CONSOLE_UNLIMITED;
		x->max_traces = v;
	}
	x->max_spans = opts->max_spans;
	if (x->max_spans == 0)
		bt_env_u32("BATON_CONSOLE_MAX_SPANS", &x->max_spans);
	if (x->max_spans == 0)
		x->max_spans = BATON_CONSOLE_DEFAULT_MAX_SPANS;
	bt_idtable_init(&x->ids);
	x->pid = getpid();
	pthread_mutex_init(&x->mtx, NULL);
	bt_cs_fork_register(x);
	*out = (baton_exporter){&bt_cs_ops, x};
	return BATON_OK;
}
