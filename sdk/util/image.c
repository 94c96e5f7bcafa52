/*
 * Fixed text: bytes that can never change while the process runs. A string
 * literal of the program, or of the library that holds this code, lies in a
 * segment mapped without write permission, in an object that is never
 * unloaded (the program itself; this library is unloaded only with all of
 * baton's state). Such text read once is known for good: a cache keyed by
 * its address needs no second look at its bytes.
 *
 * Libraries loaded with dlopen() are left out: after dlclose() another
 * object may be mapped at the same address with other bytes. So are
 * writable segments (.data, and RELRO, which holds pointers, not text).
 *
 * The ranges are read once, with dl_iterate_phdr(), on first use. Only the
 * two objects' program headers are read: those of every other library lie
 * in pages of its file that nothing else may have touched, and a fault there
 * maps tens of KiB of page cache into the process's resident set.
 */
#include "util.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define BT_FIXED_MAX 16

struct bt_range {
	uintptr_t lo, hi;
};

static struct bt_range bt_fixed[BT_FIXED_MAX];
static size_t bt_nfixed;
static pthread_once_t bt_fixed_once = PTHREAD_ONCE_INIT;
struct bt_fixed_hull bt_fixed_hull;

/* Adds the read-only loadable segments of one object, and their extent as
 * the object's hull (the cheap first test). */
static void bt_fixed_add(const struct dl_phdr_info *info, int obj)
{
	uintptr_t min = UINTPTR_MAX, max = 0;
	for (size_t i = 0; i < info->dlpi_phnum && bt_nfixed < BT_FIXED_MAX; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_memsz == 0)
			continue;
		uintptr_t lo = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
		uintptr_t hi = lo + (uintptr_t)ph->p_memsz;
		bt_fixed[bt_nfixed++] = (struct bt_range){lo, hi};
		min = lo < min ? lo : min;
		max = hi > max ? hi : max;
	}
	if (max > min) {
		bt_fixed_hull.lo[obj] = min;
		bt_fixed_hull.hi[obj] = max;
	}
}

struct bt_fixed_walk {
	bool first;
	const char *ours; /* the file of the object holding this code */
	int nobj;
};

/* The first object dl_iterate_phdr reports is the program; ours has the
 * file name dladdr gives for this function (names are the loader's memory). */
static int bt_fixed_visit(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct bt_fixed_walk *w = arg;
	if ((w->first || (w->ours != NULL && info->dlpi_name != NULL &&
	                  strcmp(info->dlpi_name, w->ours) == 0)) &&
	    w->nobj < 2)
		bt_fixed_add(info, w->nobj++);
	w->first = false;
	return 0;
}

static void bt_fixed_init(void)
{
	struct bt_fixed_walk w = {true, NULL, 0};
	Dl_info di;
	if (dladdr((void *)&bt_fixed_visit, &di) != 0 && di.dli_fname != NULL &&
	    di.dli_fname[0] != '\0')
		w.ours = di.dli_fname;
	dl_iterate_phdr(bt_fixed_visit, &w);
	/* Release: a reader that sees ready sees the hulls. */
	atomic_store_explicit(&bt_fixed_hull.ready, true, memory_order_release);
}

bool bt_text_fixed(const char *s, size_t n)
{
	pthread_once(&bt_fixed_once, bt_fixed_init);
	uintptr_t p = (uintptr_t)s;
	for (size_t i = 0; i < bt_nfixed; i++) {
		/* The whole text and its NUL, in one segment. */
		if (p >= bt_fixed[i].lo && p < bt_fixed[i].hi && bt_fixed[i].hi - p > n)
			return true;
	}
	return false;
}
