/*
 * Merging Jaeger JSON files: one trace per trace id with the spans of every
 * file, processes united by key (a key that names different processes in
 * two files is renamed in the later one).
 */
#include "jj.h"

#include <baton/jaeger_json.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef BATON_HAVE_JANSSON
baton_err baton_jaeger_json_merge(const char *const *inputs, size_t n, const char *output)
{
	(void)inputs;
	(void)n;
	(void)output;
	return BATON_ENOTSUP; /* built without jansson */
}
#else
#include <jansson.h>

/* Inputs larger than this are refused: they are loaded whole into memory. */
#define BT_JJ_MERGE_MAX_INPUT ((long long)1 << 30)

typedef struct bt_jj_merge {
	json_t *data;  /* the output traces, in order of first appearance */
	json_t *index; /* traceID -> position in data */
} bt_jj_merge;

/* Renames processID old_key to new_key in every span of spans. */
static void bt_jj_rename_process(json_t *spans, const char *old_key, const char *new_key)
{
	size_t i;
	json_t *s;
	json_array_foreach(spans, i, s)
	{
		const char *pid = json_string_value(json_object_get(s, "processID"));
		if (pid != NULL && strcmp(pid, old_key) == 0)
			json_object_set_new(s, "processID", json_string(new_key));
	}
}

/* Adds the processes of an incoming trace to out, renaming clashing keys. */
static baton_err bt_jj_merge_processes(json_t *out_procs, json_t *in_procs,
                                       json_t *in_spans, size_t file)
{
	const char *key;
	json_t *proc;
	json_object_foreach(in_procs, key, proc)
	{
		json_t *have = json_object_get(out_procs, key);
		if (have == NULL) {
			if (json_object_set(out_procs, key, proc) != 0)
				return BATON_ENOMEM;
			continue;
		}
		if (json_equal(have, proc))
			continue;
		/* Same key, other process: give the incoming one a fresh key. */
		char nk[256];
		for (unsigned k = 0;; k++) {
			snprintf(nk, sizeof(nk), "%.200s-f%zu-%u", key, file, k);
			if (json_object_get(out_procs, nk) == NULL &&
			    json_object_get(in_procs, nk) == NULL)
				break;
		}
		bt_jj_rename_process(in_spans, key, nk);
		if (json_object_set(out_procs, nk, proc) != 0)
			return BATON_ENOMEM;
	}
	return BATON_OK;
}

static baton_err bt_jj_merge_trace(bt_jj_merge *m, json_t *trace, size_t file)
{
	const char *tid = json_string_value(json_object_get(trace, "traceID"));
	json_t *spans = json_object_get(trace, "spans");
	json_t *procs = json_object_get(trace, "processes");
	if (tid == NULL || !json_is_array(spans) ||
	    (procs != NULL && !json_is_object(procs)))
		return BATON_EFORMAT;
	json_t *pos = json_object_get(m->index, tid);
	if (pos == NULL) {
		json_t *t = json_pack("{s:s, s:[], s:{}, s:n}", "traceID", tid, "spans",
		                      "processes", "warnings");
		if (t == NULL || json_array_append_new(m->data, t) != 0 ||
		    json_object_set_new(
		        m->index, tid,
		        json_integer((json_int_t)json_array_size(m->data) - 1)) != 0)
			return BATON_ENOMEM;
		pos = json_object_get(m->index, tid);
	}
	json_t *out = json_array_get(m->data, (size_t)json_integer_value(pos));
	if (procs != NULL) {
		baton_err rv = bt_jj_merge_processes(json_object_get(out, "processes"),
		                                     procs, spans, file);
		if (rv != BATON_OK)
			return rv;
	}
	if (json_array_extend(json_object_get(out, "spans"), spans) != 0)
		return BATON_ENOMEM;
	return BATON_OK;
}

static baton_err bt_jj_merge_file(bt_jj_merge *m, const char *path, size_t file)
{
	struct stat st;
	json_error_t err;
	if (stat(path, &st) != 0) {
		bt_warn("jaeger-json merge: %s: %s", path, strerror(errno));
		return BATON_ESYSTEM;
	}
	if ((long long)st.st_size > BT_JJ_MERGE_MAX_INPUT) {
		bt_warn("jaeger-json merge: %s: larger than 1 GiB", path);
		return BATON_ETOOBIG;
	}
	json_t *root = json_load_file(path, JSON_ALLOW_NUL, &err);
	if (root == NULL) {
		bt_warn("jaeger-json merge: %s: line %d: %s", path, err.line, err.text);
		return BATON_EFORMAT;
	}
	baton_err rv = BATON_OK;
	json_t *data = json_object_get(root, "data");
	if (!json_is_array(data)) {
		bt_warn("jaeger-json merge: %s: no \"data\" array", path);
		rv = BATON_EFORMAT;
	}
	size_t i;
	json_t *trace;
	json_array_foreach(data, i, trace)
	{
		if (rv != BATON_OK)
			break;
		rv = bt_jj_merge_trace(m, trace, file);
		if (rv == BATON_EFORMAT)
			bt_warn("jaeger-json merge: %s: trace %zu is not a Jaeger trace",
			        path, i);
	}
	json_decref(root);
	return rv;
}

baton_err baton_jaeger_json_merge(const char *const *inputs, size_t n, const char *output)
{
	if (inputs == NULL || output == NULL || output[0] == '\0')
		return BATON_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (inputs[i] == NULL)
			return BATON_EINVAL;
	}
	bt_jj_merge m = {json_array(), json_object()};
	json_t *root = NULL;
	char *tmp = NULL;
	baton_err rv = BATON_OK;
	if (m.data == NULL || m.index == NULL) {
		rv = BATON_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && rv == BATON_OK; i++)
		rv = bt_jj_merge_file(&m, inputs[i], i);
	if (rv != BATON_OK)
		goto out;
	root = json_pack("{s:O, s:i, s:i, s:i, s:n}", "data", m.data, "total", 0, "limit",
	                 0, "offset", 0, "errors");
	if (root == NULL) {
		rv = BATON_ENOMEM;
		goto out;
	}
	int fd = bt_jj_tmp_open(output, &tmp);
	if (fd < 0) {
		rv = errno == ENOMEM ? BATON_ENOMEM : BATON_ESYSTEM;
		bt_warn("jaeger-json merge: cannot create a temporary file beside %s: %s",
		        output, strerror(errno));
		goto out;
	}
	/* Through stdio: json_dumpfd would make a write() call per token. */
	FILE *f = fdopen(fd, "wb");
	int dumped = f != NULL ? json_dumpf(root, f, JSON_COMPACT) : -1;
	int saved = errno;
	if (f != NULL && fflush(f) != 0 && dumped == 0) {
		dumped = -1;
		saved = errno;
	}
	if ((f != NULL ? fclose(f) : close(fd)) != 0 && dumped == 0) {
		dumped = -1;
		saved = errno;
	}
	if (dumped != 0) {
		bt_warn("jaeger-json merge: cannot write %s: %s", tmp, strerror(saved));
		unlink(tmp);
		rv = BATON_ESYSTEM;
		goto out;
	}
	if (rename(tmp, output) != 0) {
		bt_warn("jaeger-json merge: cannot rename %s to %s: %s", tmp, output,
		        strerror(errno));
		unlink(tmp);
		rv = BATON_ESYSTEM;
	}
out:
	bt_free(tmp);
	json_decref(root);
	json_decref(m.data);
	json_decref(m.index);
	return rv;
}
#endif /* BATON_HAVE_JANSSON */
