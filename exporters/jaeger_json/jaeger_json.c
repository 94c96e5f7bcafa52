/*
 * The Jaeger JSON file exporter: spans are encoded as they arrive, kept
 * grouped by trace (capped), and the whole file is rewritten atomically
 * (temp file + rename) on flush, shutdown and every write interval.
 */
#include "jj.h"

#include "idtable.h"

#include <baton/jaeger_json.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Distinct resources (processes) kept at most; spans of more are dropped. */
#define BT_JJ_MAX_PROCS 256
/* A trace refers to at most this many processes before the list is grown. */
#define BT_JJ_PROCS_PER_TRACE 4
/* A write looks at its deadline after every this many bytes. */
#define BT_JJ_CHECK_BYTES (256u << 10)
/* No deadline. */
#define BT_JJ_FOREVER UINT64_MAX

/* One encoded span, stored in a chunk; a trace links its spans in arrival order. */
typedef struct bt_jj_rec {
	struct bt_jj_rec *next;
	size_t len;
	char json[];
} bt_jj_rec;

/* Span records are carved from chunks of BT_JJ_CHUNK bytes (or one span's size). */
#define BT_JJ_CHUNK (1u << 20)
typedef struct bt_jj_chunk {
	struct bt_jj_chunk *next;
	size_t used, cap;
	_Alignas(16) char data[];
} bt_jj_chunk;

typedef struct bt_jj_trace {
	uint8_t trace_id[BATON_TRACE_ID_SIZE];
	bt_jj_rec *head, *tail; /* spans */
	uint32_t nspans;
	uint32_t *procs; /* process numbers (1-based) this trace uses */
	uint32_t nprocs, capprocs;
} bt_jj_trace;

/*
 * A process: its JSON and its key, "p" + 16 hex digits of a hash of the
 * JSON. A key derived from the content (not a counter) is the same for the
 * same resource in every file and differs between resources, so files
 * written by several processes merge by plain union (docs/exporters.md).
 */
typedef struct bt_jj_proc {
	char *json;
	size_t len;
	char key[20];
} bt_jj_proc;

typedef struct bt_jj_exp {
	pthread_mutex_t mtx;
	char *path;
	uint32_t max_spans;
	uint64_t max_bytes;
	uint32_t interval_ms;

	bt_jj_trace **traces; /* in order of first appearance */
	size_t ntraces, captraces;
	bt_idtable ids; /* trace id -> trace */
	bt_jj_proc procs[BT_JJ_MAX_PROCS];
	uint32_t nprocs;

	bt_jj_chunk *chunks; /* newest first */
	uint64_t nspans, bytes;
	uint64_t dropped_cap, dropped_other;
	bt_buf scratch;

	uint64_t next_write_ns; /* monotonic time the next interval write is due */
	bool dirty;
	bool shut;
	/*
	 * Set by shutdown before it waits for the mutex: a write in progress on
	 * the export thread (an interval write or a flush) stops at its next
	 * check and leaves the file as it was, so shutdown gets the mutex and
	 * its own time. Relaxed: it only makes the writer give up sooner; the
	 * mutex orders everything else.
	 */
	_Atomic bool closing;
	pid_t pid;   /* the process the spans held belong to */
	bool forked; /* this is a child: write only when it has spans of its own */
	bool write_failed_logged;
	baton_fork_step fork; /* holds mtx across fork() */
} bt_jj_exp;

/*
 * fork(): a child must not inherit an exporter mutex locked by the export
 * thread, which does not exist in the child. Before fork the forking
 * thread takes every exporter's mutex (waiting for an export in progress
 * to end); after it, parent and child unlock them.
 */
static void bt_jj_fork_prepare(void *arg)
{
	bt_jj_exp *x = arg;
	pthread_mutex_lock(&x->mtx);
}

static void bt_jj_fork_after(void *arg)
{
	bt_jj_exp *x = arg;
	pthread_mutex_unlock(&x->mtx);
}

static void bt_jj_fork_register(bt_jj_exp *x)
{
	x->fork = (baton_fork_step){.order = BATON_FORK_EXPORTER,
	                            .prepare = bt_jj_fork_prepare,
	                            .parent = bt_jj_fork_after,
	                            .child = bt_jj_fork_after,
	                            .arg = x};
	baton_fork_register(&x->fork);
}

static void bt_jj_fork_unregister(bt_jj_exp *x)
{
	baton_fork_unregister(&x->fork);
}

/* Finds or adds the trace of tid; NULL when out of memory. */
static bt_jj_trace *bt_jj_trace_get(bt_jj_exp *x, const uint8_t *tid)
{
	bt_jj_trace *t = bt_idtable_find(&x->ids, tid);
	if (t != NULL)
		return t;
	if (x->ntraces == x->captraces) {
		size_t cap = x->captraces ? x->captraces * 2 : 256;
		bt_jj_trace **nt = bt_realloc(x->traces, cap * sizeof(*nt));
		if (nt == NULL)
			return NULL;
		x->traces = nt;
		x->captraces = cap;
	}
	t = bt_calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	memcpy(t->trace_id, tid, BATON_TRACE_ID_SIZE);
	if (bt_idtable_insert(&x->ids, tid, t) != BATON_OK) {
		bt_free(t);
		return NULL;
	}
	x->traces[x->ntraces++] = t;
	return t;
}

/* A record of len bytes of JSON from the newest chunk (a new one when full). */
static bt_jj_rec *bt_jj_rec_alloc(bt_jj_exp *x, size_t len)
{
	size_t need = (sizeof(bt_jj_rec) + len + 15) & ~(size_t)15;
	bt_jj_chunk *c = x->chunks;
	if (c == NULL || c->cap - c->used < need) {
		size_t cap = need > BT_JJ_CHUNK ? need : BT_JJ_CHUNK;
		c = bt_malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = x->chunks;
		c->used = 0;
		c->cap = cap;
		x->chunks = c;
	}
	bt_jj_rec *r = (bt_jj_rec *)(void *)(c->data + c->used);
	c->used += need;
	r->next = NULL;
	r->len = len;
	return r;
}

static bool bt_jj_trace_add_proc(bt_jj_trace *t, uint32_t proc)
{
	for (uint32_t i = 0; i < t->nprocs; i++) {
		if (t->procs[i] == proc)
			return true;
	}
	if (t->nprocs == t->capprocs) {
		uint32_t cap = t->capprocs ? t->capprocs * 2 : BT_JJ_PROCS_PER_TRACE;
		uint32_t *np = bt_realloc(t->procs, cap * sizeof(*np));
		if (np == NULL)
			return false;
		t->procs = np;
		t->capprocs = cap;
	}
	t->procs[t->nprocs++] = proc;
	return true;
}

/* The process number (1-based) of res, adding it when new; 0 when full or out of memory.
 */
static uint32_t bt_jj_proc_get(bt_jj_exp *x, const baton_resource *res)
{
	bt_buf b;
	uint32_t id = 0;
	bt_buf_init(&b, 1u << 20);
	bt_jj_process(&b, res);
	if (b.fail)
		goto out;
	for (uint32_t i = 0; i < x->nprocs; i++) {
		if (x->procs[i].len == b.len &&
		    memcmp(x->procs[i].json, b.p, b.len) == 0) {
			id = i + 1;
			goto out;
		}
	}
	if (x->nprocs < BT_JJ_MAX_PROCS) {
		bt_jj_proc *np = &x->procs[x->nprocs];
		np->json = b.p;
		np->len = b.len;
		/* FNV-1a 64; a clash with another process here moves to the next value.
		 */
		uint64_t h = 0xcbf29ce484222325ull;
		for (size_t i = 0; i < b.len; i++)
			h = (h ^ (uint8_t)b.p[i]) * 0x100000001b3ull;
		for (bool clash = true; clash; h++) {
			snprintf(np->key, sizeof(np->key), "p%016llx",
			         (unsigned long long)h);
			clash = false;
			for (uint32_t i = 0; i < x->nprocs; i++)
				clash = clash || strcmp(x->procs[i].key, np->key) == 0;
			if (!clash)
				break;
		}
		b.p = NULL;
		id = ++x->nprocs;
	}
out:
	bt_buf_fini(&b);
	return id;
}

int bt_jj_tmp_open(const char *path, char **tmp)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(path);
	char *name = bt_malloc(len + sizeof(".tmp.") + 12);
	if (name == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(name, path, len);
	memcpy(name + len, ".tmp.", 5);
	for (int attempt = 0; attempt < 100; attempt++) {
		uint8_t r[6];
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
			uint64_t v = baton_random_u64() ^ baton_time_mono_ns();
			memcpy(r, &v, sizeof(r));
		}
		for (size_t i = 0; i < sizeof(r); i++) {
			name[len + 5 + 2 * i] = hex[r[i] >> 4];
			name[len + 5 + 2 * i + 1] = hex[r[i] & 15];
		}
		name[len + 5 + 12] = '\0';
		/*
		 * O_EXCL: a new file or nothing; a symlink planted at the name makes
		 * the open fail rather than be followed. Mode 0666 less the umask,
		 * as fopen gives, so the file is as readable as it always was.
		 */
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		              0666);
		if (fd >= 0) {
			*tmp = name;
			return fd;
		}
		if (errno != EEXIST)
			break;
	}
	int saved = errno;
	bt_free(name);
	errno = saved;
	return -1;
}

static bool bt_jj_write_all(FILE *f, const char *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, f) == n;
}

/*
 * Rewrites the whole file: a new temporary file beside it, then rename.
 * Gives up (BATON_ETIMEDOUT, the file left as it was) when the monotonic
 * clock passes deadline, or, when cuttable, when shutdown starts; both are
 * looked at every BT_JJ_CHECK_BYTES, so a small file is always written
 * whole. Called with the mutex held.
 */
static baton_err bt_jj_write_file(bt_jj_exp *x, uint64_t deadline, bool cuttable)
{
	char num[32];
	char *tmp = NULL;
	FILE *f = NULL;
	baton_err rv = BATON_OK;
	size_t done = 0; /* traces written */
	int fd = bt_jj_tmp_open(x->path, &tmp);
	if (fd >= 0 && (f = fdopen(fd, "wb")) == NULL) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	if (f == NULL) {
		bt_warn("jaeger-json: cannot create a temporary file beside %s: %s",
		        x->path, strerror(errno));
		if (tmp != NULL)
			unlink(tmp);
		bt_free(tmp);
		return BATON_ESYSTEM;
	}
	bool ok = bt_jj_write_all(f, "{\"data\":[", 9);
	size_t since_check = 0;
	for (; ok && done < x->ntraces; done++) {
		const bt_jj_trace *t = x->traces[done];
		char hex[2 * BATON_TRACE_ID_SIZE + 1];
		if (since_check >= BT_JJ_CHECK_BYTES) {
			since_check = 0;
			if (baton_time_mono_ns() >= deadline ||
			    (cuttable &&
			     atomic_load_explicit(&x->closing, memory_order_relaxed))) {
				rv = BATON_ETIMEDOUT;
				break;
			}
		}
		baton_hex_encode(t->trace_id, BATON_TRACE_ID_SIZE, hex);
		ok = fprintf(f, "%s{\"traceID\":\"%s\",\"spans\":[",
		             done > 0 ? ",\n" : "\n", hex) > 0;
		for (const bt_jj_rec *r = t->head; ok && r != NULL; r = r->next) {
			ok = bt_jj_write_all(f, r->json, r->len) &&
			     (r->next == NULL || bt_jj_write_all(f, ",", 1));
			since_check += r->len;
		}
		ok = ok && bt_jj_write_all(f, "],\"processes\":{", 15);
		for (uint32_t k = 0; ok && k < t->nprocs; k++) {
			const bt_jj_proc *p = &x->procs[t->procs[k] - 1];
			int n = snprintf(num, sizeof(num), "%s\"%s\":", k > 0 ? "," : "",
			                 p->key);
			ok = bt_jj_write_all(f, num, (size_t)n) &&
			     bt_jj_write_all(f, p->json, p->len);
			since_check += p->len;
		}
		ok = ok && bt_jj_write_all(f, "},\"warnings\":null}", 18);
	}
	static const char tail[] =
	    "\n],\"total\":0,\"limit\":0,\"offset\":0,\"errors\":null}\n";
	if (rv == BATON_OK)
		ok = ok && bt_jj_write_all(f, tail, sizeof(tail) - 1);
	ok = fflush(f) == 0 && ok && !ferror(f);
	int saved = errno;
	if (fclose(f) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (rv == BATON_ETIMEDOUT) {
		/* The caller says why; the file on disk is the last whole one. */
		bt_debug("jaeger-json: %s: write stopped after %zu of %zu traces",
		         x->path, done, x->ntraces);
	} else if (!ok) {
		bt_warn("jaeger-json: cannot write %s: %s", tmp, strerror(saved));
		rv = BATON_ESYSTEM;
	} else if (rename(tmp, x->path) != 0) {
		bt_warn("jaeger-json: cannot rename %s to %s: %s", tmp, x->path,
		        strerror(errno));
		rv = BATON_ESYSTEM;
	} else {
		x->dirty = false;
	}
	if (rv != BATON_OK)
		unlink(tmp);
	bt_free(tmp);
	return rv;
}

/*
 * Writes the file and schedules the next interval write. The next one is
 * due after the interval or ten times what this write took, whichever is
 * longer, so a large file costs the export thread at most a tenth of its time.
 */
static baton_err bt_jj_write_now(bt_jj_exp *x, uint64_t deadline)
{
	if (x->forked && x->nspans == 0)
		return BATON_OK; /* a child with nothing of its own writes no file */
	uint64_t t0 = baton_time_mono_ns();
	baton_err rv = bt_jj_write_file(x, deadline, true);
	uint64_t t1 = baton_time_mono_ns();
	if (x->interval_ms != BATON_JAEGER_JSON_NO_INTERVAL) {
		uint64_t wait = (uint64_t)x->interval_ms * 1000000u;
		if (wait < 10 * (t1 - t0))
			wait = 10 * (t1 - t0);
		x->next_write_ns = t1 + wait;
	}
	return rv;
}

/* Frees every span, trace and process held. */
static void bt_jj_clear(bt_jj_exp *x)
{
	for (bt_jj_chunk *c = x->chunks, *next; c != NULL; c = next) {
		next = c->next;
		bt_free(c);
	}
	x->chunks = NULL;
	for (size_t i = 0; i < x->ntraces; i++) {
		bt_free(x->traces[i]->procs);
		bt_free(x->traces[i]);
	}
	for (uint32_t i = 0; i < x->nprocs; i++)
		bt_free(x->procs[i].json);
	bt_free(x->traces);
	bt_idtable_fini(&x->ids);
	bt_idtable_init(&x->ids);
	x->traces = NULL;
	x->ntraces = x->captraces = 0;
	x->nprocs = 0;
	x->nspans = x->bytes = 0;
}

/*
 * In a child process after fork(): the spans held are the parent's (it
 * writes them), so the child forgets them and writes its own to
 * "<name>.<pid>.json" instead of the parent's file. Called with the mutex held.
 */
static void bt_jj_after_fork(bt_jj_exp *x)
{
	pid_t pid = getpid();
	if (pid == x->pid)
		return;
	x->pid = pid;
	x->forked = true;
	bt_jj_clear(x);
	x->dropped_cap = x->dropped_other = 0;
	x->dirty = false;
	size_t len = strlen(x->path);
	size_t stem = len >= 5 && strcmp(x->path + len - 5, ".json") == 0 ? len - 5 : len;
	char *np = bt_malloc(len + 32);
	if (np == NULL) {
		x->shut =
		    true; /* nowhere safe to write: export nothing rather than clobber */
		bt_warn(
		    "jaeger-json: out of memory after fork; this process writes no file");
		return;
	}
	snprintf(np, len + 32, "%.*s.%ld%s", (int)stem, x->path, (long)pid,
	         x->path + stem);
	bt_free(x->path);
	x->path = np;
}

static baton_export_result bt_jj_export(void *arg, const baton_span_data *const *spans,
                                        size_t n)
{
	bt_jj_exp *x = arg;
	const baton_resource *last_res = NULL;
	uint32_t last_proc = 0;
	pthread_mutex_lock(&x->mtx);
	bt_jj_after_fork(x);
	if (x->shut || atomic_load_explicit(&x->closing, memory_order_relaxed)) {
		pthread_mutex_unlock(&x->mtx);
		return BATON_EXPORT_RESULT(BATON_ECLOSED);
	}
	for (size_t i = 0; i < n; i++) {
		const baton_span_data *s = spans[i];
		if (s == NULL)
			continue;
		if (x->nspans >= x->max_spans) {
			x->dropped_cap++;
			continue;
		}
		/* Resources live at least as long as the batch: cache by pointer within
		 * it. */
		if (i == 0 || s->resource != last_res) {
			last_res = s->resource;
			last_proc = bt_jj_proc_get(x, s->resource);
		}
		if (last_proc == 0) {
			x->dropped_other++;
			continue;
		}
		bt_buf_reset(&x->scratch);
		bt_jj_span(&x->scratch, s, x->procs[last_proc - 1].key);
		if (x->scratch.fail || x->bytes + x->scratch.len > x->max_bytes) {
			x->dropped_cap++;
			continue;
		}
		bt_jj_trace *t = bt_jj_trace_get(x, s->context.trace_id);
		if (t == NULL || !bt_jj_trace_add_proc(t, last_proc)) {
			x->dropped_other++;
			continue;
		}
		bt_jj_rec *r = bt_jj_rec_alloc(x, x->scratch.len);
		if (r == NULL) {
			x->dropped_other++;
			continue;
		}
		memcpy(r->json, x->scratch.p, x->scratch.len);
		if (t->tail != NULL)
			t->tail->next = r;
		else
			t->head = r;
		t->tail = r;
		t->nspans++;
		x->nspans++;
		x->bytes += r->len;
		x->dirty = true;
	}
	if (x->dirty && x->interval_ms != BATON_JAEGER_JSON_NO_INTERVAL &&
	    baton_time_mono_ns() >= x->next_write_ns)
		/* A failed interval write is logged; the spans are kept. */
		bt_jj_write_now(x, BT_JJ_FOREVER);
	pthread_mutex_unlock(&x->mtx);
	return BATON_EXPORT_RESULT(BATON_OK);
}

/* The monotonic time timeout_ms from now. */
static uint64_t bt_jj_deadline(uint32_t timeout_ms)
{
	return baton_time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* Takes the mutex, waiting until deadline (monotonic) at most; false when not. */
static bool bt_jj_lock_until(bt_jj_exp *x, uint64_t deadline)
{
	if (deadline == BT_JJ_FOREVER) {
		pthread_mutex_lock(&x->mtx);
		return true;
	}
	if (pthread_mutex_trylock(&x->mtx) == 0)
		return true;
	uint64_t now = baton_time_mono_ns();
	uint64_t left = deadline > now ? deadline - now : 0;
	/* pthread_mutex_timedlock waits on CLOCK_REALTIME. */
	struct timespec ts = bt_timespec_in(CLOCK_REALTIME, left);
	return pthread_mutex_timedlock(&x->mtx, &ts) == 0;
}

static baton_err bt_jj_flush(void *arg, uint32_t timeout_ms)
{
	bt_jj_exp *x = arg;
	baton_err rv = BATON_OK;
	uint64_t deadline = bt_jj_deadline(timeout_ms);
	if (!bt_jj_lock_until(x, deadline))
		return BATON_ETIMEDOUT;
	bt_jj_after_fork(x);
	if (!x->shut)
		rv = bt_jj_write_now(x, deadline);
	if (rv == BATON_ETIMEDOUT)
		bt_warn("jaeger-json: flush: %llu spans in %zu traces not written "
		        "within %u ms; %s is left as it was",
		        (unsigned long long)x->nspans, x->ntraces, (unsigned)timeout_ms,
		        x->path);
	pthread_mutex_unlock(&x->mtx);
	return rv;
}

/*
 * Shuts down by deadline (BT_JJ_FOREVER: none): stops a write in progress,
 * writes the file once more and reports what was dropped. When the time
 * runs out, the file keeps its last whole content and a warning says how
 * many spans it misses.
 */
static baton_err bt_jj_close(bt_jj_exp *x, uint64_t deadline, uint32_t timeout_ms)
{
	baton_err rv = BATON_OK;
	atomic_store_explicit(&x->closing, true, memory_order_relaxed);
	if (!bt_jj_lock_until(x, deadline)) {
		bt_warn("jaeger-json: shutdown: an export still held the exporter "
		        "after %u ms; %s is left as it was",
		        (unsigned)timeout_ms, x->path);
		return BATON_ETIMEDOUT;
	}
	bt_jj_after_fork(x);
	if (x->shut) {
		pthread_mutex_unlock(&x->mtx);
		return BATON_OK;
	}
	x->shut = true;
	if (!x->forked || x->nspans > 0)
		rv = bt_jj_write_file(x, deadline, false);
	if (rv == BATON_OK && (!x->forked || x->nspans > 0))
		bt_log(BATON_LOG_INFO,
		       "jaeger-json: wrote %llu spans in %zu traces to %s",
		       (unsigned long long)x->nspans, x->ntraces, x->path);
	else if (rv == BATON_ETIMEDOUT)
		bt_warn("jaeger-json: shutdown: %llu spans in %zu traces not written "
		        "within %u ms; %s is left as it was",
		        (unsigned long long)x->nspans, x->ntraces, (unsigned)timeout_ms,
		        x->path);
	if (x->dropped_cap > 0)
		bt_warn("jaeger-json: %llu spans dropped: the file holds at most %u "
		        "spans and %llu bytes (BATON_JAEGER_JSON_MAX_SPANS, "
		        "BATON_JAEGER_JSON_MAX_BYTES)",
		        (unsigned long long)x->dropped_cap, (unsigned)x->max_spans,
		        (unsigned long long)x->max_bytes);
	if (x->dropped_other > 0)
		bt_warn("jaeger-json: %llu spans dropped: out of memory or more "
		        "than %d resources",
		        (unsigned long long)x->dropped_other, BT_JJ_MAX_PROCS);
	pthread_mutex_unlock(&x->mtx);
	return rv;
}

static baton_err bt_jj_shutdown(void *arg, uint32_t timeout_ms)
{
	return bt_jj_close(arg, bt_jj_deadline(timeout_ms), timeout_ms);
}

static void bt_jj_destroy(void *arg)
{
	bt_jj_exp *x = arg;
	if (x == NULL)
		return;
	/* Never shut down: write the file as shutdown would, without a bound. */
	if (!atomic_load_explicit(&x->closing, memory_order_relaxed))
		bt_jj_close(x, BT_JJ_FOREVER, 0);
	bt_jj_clear(x);
	bt_idtable_fini(&x->ids);
	bt_buf_fini(&x->scratch);
	bt_free(x->path);
	bt_jj_fork_unregister(x);
	pthread_mutex_destroy(&x->mtx);
	bt_free(x);
}

void bt_jj_table_work(void *arg, uint64_t *ops, uint64_t *probes)
{
	bt_jj_exp *x = arg;
	pthread_mutex_lock(&x->mtx);
	*ops = x->ids.ops;
	*probes = x->ids.probes;
	pthread_mutex_unlock(&x->mtx);
}

static const baton_exporter_ops bt_jj_ops = {
    sizeof(baton_exporter_ops),
    "jaeger-json",
    bt_jj_export,
    bt_jj_flush,
    bt_jj_shutdown,
    bt_jj_destroy,
};

baton_err baton_jaeger_json_exporter_create(const baton_jaeger_json_options *opts,
                                            baton_exporter *out)
{
	static const baton_jaeger_json_options none = {sizeof(baton_jaeger_json_options)};
	if (out == NULL)
		return BATON_EINVAL;
	if (opts == NULL)
		opts = &none;
	if (opts->size < sizeof(baton_jaeger_json_options))
		return BATON_EINVAL;

	const char *path = opts->path;
	if (path == NULL || path[0] == '\0')
		path = baton_getenv("BATON_JAEGER_JSON_FILE");
	if (path == NULL)
		path = BATON_JAEGER_JSON_DEFAULT_FILE;

	bt_jj_exp *x = bt_calloc(1, sizeof(*x));
	if (x == NULL)
		return BATON_ENOMEM;
	x->path = bt_strdup(path);
	if (x->path == NULL) {
		bt_free(x);
		return BATON_ENOMEM;
	}
	bt_idtable_init(&x->ids);

	x->max_spans = opts->max_spans;
	if (x->max_spans == 0)
		bt_env_u32("BATON_JAEGER_JSON_MAX_SPANS", &x->max_spans);
	if (x->max_spans == 0)
		x->max_spans = BATON_JAEGER_JSON_DEFAULT_MAX_SPANS;
	x->max_bytes = opts->max_bytes;
	if (x->max_bytes == 0) {
		uint32_t bytes = 0;
		bt_env_u32("BATON_JAEGER_JSON_MAX_BYTES", &bytes);
		x->max_bytes = bytes > 0 ? bytes : BATON_JAEGER_JSON_DEFAULT_MAX_BYTES;
	}
	x->interval_ms = opts->write_interval_ms;
	if (x->interval_ms == 0 &&
	    !bt_env_u32("BATON_JAEGER_JSON_WRITE_INTERVAL_MS", &x->interval_ms))
		x->interval_ms = BATON_JAEGER_JSON_DEFAULT_INTERVAL_MS;
	if (x->interval_ms == 0)
		x->interval_ms = BATON_JAEGER_JSON_NO_INTERVAL;
	if (x->interval_ms != BATON_JAEGER_JSON_NO_INTERVAL)
		x->next_write_ns =
		    baton_time_mono_ns() + (uint64_t)x->interval_ms * 1000000u;
	bt_buf_init(&x->scratch,
	            x->max_bytes < SIZE_MAX ? (size_t)x->max_bytes : SIZE_MAX);
	x->pid = getpid();
	pthread_mutex_init(&x->mtx, NULL);
	bt_jj_fork_register(x);
	*out = (baton_exporter){&bt_jj_ops, x};
	return BATON_OK;
}
