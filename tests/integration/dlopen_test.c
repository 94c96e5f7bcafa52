/*
 * baton inside a library that is loaded with dlopen() by a program that does
 * not link baton (a NIF, a Python extension, a JNI library): the load must
 * succeed, and spans, contexts and baggage work on the loading thread and on
 * a thread that exits. glibc gives such a library only a few hundred bytes
 * of static TLS, so baton keeps its thread-local state small there.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdint.h>

typedef int (*plugin_run_fn)(uint64_t *started, uint64_t *ended);

static void run_plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h, "dlopen %s: %s", path, dlerror());
	plugin_run_fn run;
	*(void **)&run = dlsym(h, "plugin_run");
	cr_assert_not_null(run, "%s", dlerror());
	uint64_t started = 0, ended = 0;
	cr_assert_eq(run(&started, &ended), 0);
	/* Two threads, 100 spans and 100 children each. */
	cr_assert_eq(started, 400, "%llu spans started", (unsigned long long)started);
	cr_assert_eq(ended, 400, "%llu spans ended", (unsigned long long)ended);
}

Test(dlopen, a_plugin_linked_with_the_shared_library_loads_and_traces)
{
	run_plugin(BATON_PLUGIN_SHARED);
}

Test(dlopen, a_plugin_with_the_static_library_inside_loads_and_traces)
{
	run_plugin(BATON_PLUGIN_STATIC);
}
