/*
 * build/bin/baton_bench [--filter SUBSTR] [--quick] [--runs N] [--list]
 * Runs every registered benchmark (or those whose name contains SUBSTR)
 * and prints one JSON line each. A baseline named by a selected benchmark
 * runs too, first on its own line; then each sample of the benchmark is
 * paired with a fresh sample of the baseline, and the ratio is the median
 * of the pairs' ratios, so that a host that changes pace between the two
 * lines does not show as a difference between them.
 */
#include "bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_MAX 128

struct bench {
	const char *name, *unit, *baseline;
	bench_fn fn;
	uint64_t iters;
	bool selected, done;
	double median, p99;
	int runs;
	char notes[512];
};

static struct bench benches[BENCH_MAX];
static int nbenches;
static bool quick;
static struct bench *current;

/* The current benchmark's bench_note_median figures, one per sample. */
#define BENCH_MEDIANS 4
static struct {
	const char *key;
	double v[256];
	int n;
} medians[BENCH_MEDIANS];
static int nmedians;

void bench_register(const char *name, const char *unit, const char *baseline, bench_fn fn,
                    uint64_t iters)
{
	if (nbenches < BENCH_MAX)
		benches[nbenches++] = (struct bench){name, unit, baseline, fn, iters};
}

bool bench_quick(void)
{
	return quick;
}

void bench_note(const char *key, double value)
{
	if (current == NULL)
		return;
	size_t off = strlen(current->notes);
	snprintf(current->notes + off, sizeof(current->notes) - off, ", \"%s\": %.6g",
	         key, value);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_note_median(const char *key, double value)
{
	if (current == NULL)
		return;
	int i = 0;
	while (i < nmedians && strcmp(medians[i].key, key) != 0)
		i++;
	if (i == nmedians) {
		if (nmedians == BENCH_MEDIANS)
			return;
		medians[nmedians++] = (__typeof__(medians[0])){.key = key};
	}
	if (medians[i].n < (int)(sizeof(medians[i].v) / sizeof(double)))
		medians[i].v[medians[i].n++] = value;
}

static int bench_order(const void *a, const void *b)
{
	return strcmp(((const struct bench *)a)->name, ((const struct bench *)b)->name);
}

static struct bench *find(const char *name)
{
	for (int i = 0; i < nbenches; i++) {
		if (strcmp(benches[i].name, name) == 0)
			return &benches[i];
	}
	return NULL;
}

/* The iterations of one sample of b (fewer under --quick). */
static uint64_t iters_of(const struct bench *b)
{
	return quick && b->iters > 10 ? b->iters / 10 : b->iters;
}

/* One more sample of a benchmark that has run, in its unit; its notes are
 * not kept (they belong to its own line). */
static double sample_of(struct bench *b)
{
	uint64_t iters = iters_of(b);
	current = NULL;
	double v = b->fn(iters);
	return strcmp(b->unit, "ns/op") == 0 ? v / (double)iters : v;
}

static void run(struct bench *b, int nruns)
{
	double samples[256];
	bool ns = strcmp(b->unit, "ns/op") == 0;
	uint64_t iters = iters_of(b);
	double ratios[256];
	int nratios = 0, unpaired = 0;
	if (b->done)
		return;
	struct bench *base = b->baseline != NULL ? find(b->baseline) : NULL;
	if (base != NULL)
		run(base, nruns);
	current = b;
	b->notes[0] = '\0';
	b->fn(iters); /* warm-up: caches, span store, lazy set-up */
	b->notes[0] = '\0';
	nmedians = 0;
	for (int i = 0; i < nruns; i++) {
		/* With a baseline, each sample is paired with one of the
		 * baseline's, taken just before or just after it (in turn), so
		 * that both see the host as it was then. */
		double vb = 0;
		if (base != NULL && i % 2 == 0)
			vb = sample_of(base);
		current = b;
		b->notes[0] = '\0'; /* notes describe the last sample */
		double v = b->fn(iters);
		samples[i] = ns ? v / (double)iters : v;
		if (base != NULL && i % 2 == 1)
			vb = sample_of(base);
		/* A baseline sample of nothing pairs with nothing: counted, not
		 * averaged in as a ratio of 0. */
		if (vb > 0)
			ratios[nratios++] = samples[i] / vb;
		else if (base != NULL)
			unpaired++;
	}
	current = b;
	b->median = median_of(samples, nruns);
	/* p99 by nearest rank; "worst" is the slow end: high ns/op, low ops/s. */
	int k = (int)(0.99 * nruns + 0.999999) - 1;
	if (k < 0)
		k = 0;
	b->p99 = ns ? samples[k] : samples[nruns - 1 - k];
	b->runs = nruns;
	b->done = true;
	printf("{\"bench\": \"%s\", \"unit\": \"%s\", \"median\": %.4g, \"p99\": %.4g, "
	       "\"runs\": %d",
	       b->name, b->unit, b->median, b->p99, b->runs);
	if (base != NULL)
		printf(", \"baseline\": \"%s\"", base->name);
	if (nratios > 0)
		printf(", \"ratio\": %.4f", median_of(ratios, nratios));
	if (unpaired > 0)
		printf(", \"unpaired\": %d", unpaired);
	printf("%s", b->notes);
	for (int i = 0; i < nmedians; i++)
		printf(", \"%s\": %.6g", medians[i].key,
		       median_of(medians[i].v, medians[i].n));
	printf("}\n");
	fflush(stdout);
	current = NULL;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: baton_bench [--filter SUBSTR] [--quick] [--runs N] [--list]\n"
	       "  --filter SUBSTR  run only benchmarks whose name contains SUBSTR\n"
	       "  --quick          fewer and shorter runs (CI)\n"
	       "  --runs N         samples per benchmark (default 21, quick 5; max 255)\n"
	       "  --list           print the benchmark names and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'}, {"quick", no_argument, NULL, 'q'},
	    {"runs", required_argument, NULL, 'r'},   {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *filter = NULL;
	int nruns = 0, c;
	bool list = false;
	while ((c = getopt_long(argc, argv, "f:qr:lh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			filter = optarg;
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			nruns = atoi(optarg);
			if (nruns < 1 || nruns > 255) {
				fprintf(stderr, "baton_bench: --runs takes 1 to 255\n");
				return 2;
			}
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (nruns == 0)
		nruns = quick ? 5 : 21;
	qsort(benches, (size_t)nbenches, sizeof(benches[0]), bench_order);
	int matched = 0;
	for (int i = 0; i < nbenches; i++) {
		if (list) {
			printf("%s\n", benches[i].name);
			continue;
		}
		if (filter == NULL || strstr(benches[i].name, filter) != NULL) {
			run(&benches[i], nruns);
			matched++;
		}
	}
	if (!list && matched == 0) {
		fprintf(stderr, "baton_bench: no benchmark matches \"%s\"\n", filter);
		return 1;
	}
	return 0;
}
