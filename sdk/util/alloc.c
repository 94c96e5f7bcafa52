/* The one allocation wrapper; a user may replace it before baton_init(). */
#include "util.h"

#include <stdlib.h>
#include <string.h>

static baton_allocator bt_alloc = {malloc, calloc, realloc, free};
extern bool bt_initialized;

baton_err baton_set_allocator(const baton_allocator *alloc)
{
	if (bt_initialized)
		return BATON_ESTATE;
	if (alloc == NULL) {
		bt_alloc = (baton_allocator){malloc, calloc, realloc, free};
		return BATON_OK;
	}
	bt_alloc.malloc_fn = alloc->malloc_fn ? alloc->malloc_fn : malloc;
	bt_alloc.calloc_fn = alloc->calloc_fn ? alloc->calloc_fn : calloc;
	bt_alloc.realloc_fn = alloc->realloc_fn ? alloc->realloc_fn : realloc;
	bt_alloc.free_fn = alloc->free_fn ? alloc->free_fn : free;
	return BATON_OK;
}

void *baton_alloc(size_t n)
{
	return bt_alloc.malloc_fn(n ? n : 1);
}

void *baton_calloc(size_t nmemb, size_t n)
{
	return bt_alloc.calloc_fn(nmemb ? nmemb : 1, n ? n : 1);
}

void *baton_realloc(void *p, size_t n)
{
	return bt_alloc.realloc_fn(p, n ? n : 1);
}

void baton_free(void *p)
{
	if (p != NULL)
		bt_alloc.free_fn(p);
}
