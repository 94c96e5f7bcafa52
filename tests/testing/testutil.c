#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

tu_memory_exporter *tu_init_memory_limits(baton_sampler sampler, size_t capacity,
                                          const baton_limits *limits)
{
	baton_exporter exp;
	tu_memory_exporter *store;
	baton_processor proc;
	if (tu_memory_exporter_create(capacity, &exp, &store) != BATON_OK)
		abort();
	if (baton_simple_processor_create(exp, &proc) != BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o)};
	o.sampler = sampler.ops ? sampler : baton_sampler_always_on();
	o.processors = &proc;
	o.nprocessors = 1;
	if (limits != NULL)
		o.limits = *limits;
	if (baton_init(&o) != BATON_OK)
		abort();
	return store;
}

tu_memory_exporter *tu_init_memory(baton_sampler sampler, size_t capacity)
{
	return tu_init_memory_limits(sampler, capacity, NULL);
}

void tu_hex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
}

static void tu_release_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	baton_span_data_release(span);
}

static const baton_processor_ops tu_release_ops = {
    sizeof(baton_processor_ops), "release", tu_release_on_end, NULL, NULL, NULL};

baton_processor tu_release_processor(void)
{
	return (baton_processor){&tu_release_ops, NULL};
}

void tu_init_release(baton_sampler sampler)
{
	baton_processor p = tu_release_processor();
	baton_options o = {.size = sizeof(o),
	                   .sampler = sampler.ops ? sampler : baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
}

void tu_init_release_ratio(double ratio)
{
	baton_sampler root, pb;
	if (baton_sampler_traceidratio(ratio, &root) != BATON_OK ||
	    baton_sampler_parentbased(root, &pb) != BATON_OK)
		abort();
	tu_init_release(pb);
}

baton_processor tu_init_batch(baton_exporter e, const baton_batch_options *bo)
{
	baton_processor p;
	if (baton_batch_processor_create(e, bo, &p) != BATON_OK)
		abort();
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .processors = &p,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true};
	if (baton_init(&o) != BATON_OK)
		abort();
	return p;
}

static pthread_mutex_t tu_gate_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tu_gate_cv = PTHREAD_COND_INITIALIZER;
static bool tu_gate_is_open;
static _Atomic size_t tu_gate_passed;

static baton_export_result tu_gate_export(void *arg, const baton_span_data *const *spans,
                                          size_t n)
{
	(void)arg;
	(void)spans;
	pthread_mutex_lock(&tu_gate_mtx);
	while (!tu_gate_is_open)
		pthread_cond_wait(&tu_gate_cv, &tu_gate_mtx);
	pthread_mutex_unlock(&tu_gate_mtx);
	atomic_fetch_add(&tu_gate_passed, n);
	return BATON_EXPORT_RESULT(BATON_OK);
}

static baton_err tu_gate_shutdown(void *arg, uint32_t timeout_ms)
{
	(void)arg;
	(void)timeout_ms;
	tu_gate_open();
	return BATON_OK;
}

static const baton_exporter_ops tu_gate_ops = {
    sizeof(baton_exporter_ops), "gate", tu_gate_export, NULL, tu_gate_shutdown, NULL};

baton_exporter tu_gate_exporter(void)
{
	return (baton_exporter){&tu_gate_ops, NULL};
}

void tu_gate_open(void)
{
	pthread_mutex_lock(&tu_gate_mtx);
	tu_gate_is_open = true;
	pthread_cond_broadcast(&tu_gate_cv);
	pthread_mutex_unlock(&tu_gate_mtx);
}

void tu_gate_close(void)
{
	pthread_mutex_lock(&tu_gate_mtx);
	tu_gate_is_open = false;
	pthread_mutex_unlock(&tu_gate_mtx);
}

size_t tu_gate_spans(void)
{
	return atomic_load(&tu_gate_passed);
}

baton_batch_stats tu_batch_stats(baton_processor p)
{
	baton_batch_stats s;
	if (baton_batch_processor_stats(p, &s) != BATON_OK)
		abort();
	return s;
}

void tu_make_spans(const char *name, int n)
{
	baton_tracer *t = baton_tracer_get("test", NULL);
	for (int i = 0; i < n; i++) {
		baton_span s = baton_span_start(t, name);
		baton_span_set_int(s, "i", i);
		baton_span_end(s);
	}
}

const char *tu_bin(const char *name, char *buf, size_t cap)
{
	const char *dir = getenv("BATON_TEST_BIN");
	snprintf(buf, cap, "%s/%s", dir ? dir : "build/bin", name);
	return buf;
}

uint8_t tu_envelope_crc8(const uint8_t *m)
{
	uint8_t crc = 0;
	for (int k = 0; k < 3; k++) {
		crc ^= m[k];
		for (int b = 0; b < 8; b++)
			crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
	}
	return crc;
}

/* CRC-32C, bit by bit: the library's own (table or CPU instruction) is not used. */
static uint32_t tu_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

void tu_envelope_seal(uint8_t *m, size_t total)
{
	size_t fixed = m[2];
	m[3] = tu_envelope_crc8(m);
	uint32_t c = tu_crc32c(0, m, fixed - 4);
	c = tu_crc32c(c, m + fixed, total - fixed);
	m[fixed - 4] = (uint8_t)(c >> 24);
	m[fixed - 3] = (uint8_t)(c >> 16);
	m[fixed - 2] = (uint8_t)(c >> 8);
	m[fixed - 1] = (uint8_t)c;
}

size_t tu_envelope_forge_text(uint8_t *m, const uint8_t tid[16], const uint8_t sid[8],
                              uint8_t type, const char *text, size_t n)
{
	size_t i = 0;
	m[i++] = 0xBA;
	m[i++] = 0x2F; /* version 2, S R I X */
	m[i++] = 32;
	m[i++] = 0;
	memcpy(m + i, tid, 16);
	memcpy(m + i + 16, sid, 8);
	i += 24 + 4;
	size_t region = 1 + 2 + n + 1;
	m[i++] = (uint8_t)(0x80 | (region >> 8));
	m[i++] = (uint8_t)region;
	m[i++] = type;
	m[i++] = (uint8_t)(0x80 | ((n + 1) >> 8));
	m[i++] = (uint8_t)(n + 1);
	memcpy(m + i, text, n);
	i += n;
	m[i++] = 0;
	tu_envelope_seal(m, i);
	return i;
}

/*
 * Opens /proc/self/task/<tid>/<file> for each thread of this process
 * named comm and calls fn on it (closed after); returns how many there are.
 */
static int tu_each_thread(const char *comm, const char *file, void (*fn)(FILE *, void *),
                          void *arg)
{
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return 0;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], name[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(name, sizeof(name), f) != NULL)
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (strcmp(name, comm) != 0)
			continue;
		found++;
		snprintf(path, sizeof(path), "/proc/self/task/%s/%s", e->d_name, file);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		fn(f, arg);
		fclose(f);
	}
	closedir(d);
	return found;
}

struct tu_sig_blocked {
	int sig, blocking;
};

static void tu_count_blocking(FILE *status, void *arg)
{
	struct tu_sig_blocked *b = arg;
	char line[256];
	while (fgets(line, sizeof(line), status) != NULL) {
		unsigned long long mask;
		if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
			if (mask & (1ull << (b->sig - 1)))
				b->blocking++;
			break;
		}
	}
}

int tu_threads_blocking(const char *comm, int sig, int *found)
{
	struct tu_sig_blocked b = {sig, 0};
	*found = tu_each_thread(comm, "status", tu_count_blocking, &b);
	return b.blocking;
}

static void tu_add_cpu_ns(FILE *schedstat, void *arg)
{
	unsigned long long ns;
	if (fscanf(schedstat, "%llu", &ns) == 1)
		*(uint64_t *)arg += ns;
}

uint64_t tu_threads_cpu_ns(const char *comm)
{
	uint64_t sum = 0;
	tu_each_thread(comm, "schedstat", tu_add_cpu_ns, &sum);
	return sum;
}

int tu_wait_child(pid_t pid)
{
	int st = 0;
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	if (w != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}
