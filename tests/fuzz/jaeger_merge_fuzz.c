/*
 * baton_jaeger_json_merge over fuzzed files. The input is up to three
 * files separated by NUL bytes (no JSON text holds a raw NUL); after a
 * final NUL the output is also read as an input. The
 * output starts as a valid Jaeger JSON document. Invariants: the merge
 * never crashes and returns a documented code; on success the output is
 * JSON with a "data" array of traces with distinct traceIDs holding every
 * input span; on failure the output is byte-identical to before; no
 * temporary file is ever left behind.
 */
#include <baton/baton.h>
#include <baton/jaeger_json.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char prior[] =
    "{\"data\":[{\"traceID\":\"0af7651916cd43dd8448eb211c80319c\",\"spans\":"
    "[{\"traceID\":\"0af7651916cd43dd8448eb211c80319c\",\"spanID\":"
    "\"b7ad6b7169203331\",\"processID\":\"p1\"}],\"processes\":{\"p1\":"
    "{\"serviceName\":\"prior\",\"tags\":[]}},\"warnings\":null}]}";

static char dir[64];
static char paths[4][96]; /* three inputs, then the output */

static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[400];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.'))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static void setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/jjmerge-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		abort();
	for (int i = 0; i < 3; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/in%d.json", dir, i);
	snprintf(paths[3], sizeof(paths[3]), "%s/out.json", dir);
	atexit(cleanup);
	baton_set_log(BATON_LOG_NONE, quiet, NULL);
}

static void put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		abort();
}

/* The whole file (NUL-terminated) and its length; NULL when absent. */
static char *get(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	char *p = malloc(cap);
	size_t r;
	while ((r = fread(p + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (cap - len - 1 == 0)
			p = realloc(p, cap *= 2);
	}
	fclose(f);
	p[len] = '\0';
	*n = len;
	return p;
}

/* Spans in a Jaeger document as jansson reads it (the merge's flags); -1
 * when it is not one the merge accepts. */
static long spans_in(const char *text, size_t n)
{
	json_error_t err;
	json_t *root = json_loadb(text, n, JSON_ALLOW_NUL, &err);
	json_t *data = json_object_get(root, "data");
	long count = json_is_array(data) ? 0 : -1;
	size_t i;
	json_t *t;
	json_array_foreach(data, i, t)
	{
		json_t *spans = json_object_get(t, "spans");
		json_t *procs = json_object_get(t, "processes");
		if (!json_is_string(json_object_get(t, "traceID")) ||
		    !json_is_array(spans) || (procs != NULL && !json_is_object(procs))) {
			count = -1;
			break;
		}
		count += (long)json_array_size(spans);
	}
	json_decref(root);
	return count;
}

/* Files in the directory whose name is not one of ours. */
static int strangers(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.'))
			continue;
		n += strcmp(e->d_name, "out.json") != 0 &&
		     strncmp(e->d_name, "in", 2) != 0;
	}
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0')
		setup();
	const char *inputs[4];
	size_t n = 0;
	long want = 0;
	bool known = true; /* every input is a Jaeger document */
	const uint8_t *p = data, *end = data + size;
	bool self = false;
	while (n < 3) {
		const uint8_t *z = memchr(p, 0, (size_t)(end - p));
		size_t len = z != NULL ? (size_t)(z - p) : (size_t)(end - p);
		put(paths[n], p, len);
		long c = spans_in((const char *)p, len);
		known = known && c >= 0;
		want += c;
		inputs[n] = paths[n];
		n++;
		if (z == NULL)
			break;
		p = z + 1;
		if (p == end) {
			self = true; /* a final NUL: the output is an input too */
			break;
		}
	}
	if (self) {
		inputs[n++] = paths[3];
		want += spans_in(prior, sizeof(prior) - 1);
	}
	put(paths[3], prior, sizeof(prior) - 1);

	baton_err rv = baton_jaeger_json_merge(inputs, n, paths[3]);
	size_t outn = 0;
	char *out = get(paths[3], &outn);
	if (out == NULL)
		abort(); /* the output never disappears */
	if (rv == BATON_OK) {
		if (!known)
			abort(); /* success with an input that is not Jaeger JSON */
		json_error_t err;
		json_t *root = json_loadb(out, outn, JSON_ALLOW_NUL, &err);
		json_t *traces = json_object_get(root, "data");
		if (!json_is_array(traces))
			abort();
		json_t *seen = json_object();
		long got = 0;
		size_t i;
		json_t *t;
		json_array_foreach(traces, i, t)
		{
			const char *id = json_string_value(json_object_get(t, "traceID"));
			json_t *spans = json_object_get(t, "spans");
			if (id == NULL || !json_is_array(spans) ||
			    json_object_get(seen, id) != NULL)
				abort(); /* one trace per id */
			json_object_set_new(seen, id, json_true());
			got += (long)json_array_size(spans);
		}
		if (got != want)
			abort(); /* every input span, once */
		json_decref(seen);
		json_decref(root);
	} else {
		if (rv != BATON_EFORMAT && rv != BATON_ESYSTEM && rv != BATON_ETOOBIG &&
		    rv != BATON_ENOMEM)
			abort();
		if (known && rv == BATON_EFORMAT)
			abort(); /* refused a valid Jaeger document */
		if (outn != sizeof(prior) - 1 || memcmp(out, prior, outn) != 0)
			abort(); /* a failed merge touched the output */
	}
	free(out);
	if (strangers() != 0)
		abort(); /* a temporary file was left behind */
	return 0;
}
