/* gzip for request bodies (zlib), with one deflate state kept per exporter. */
#include "otlp_int.h"

#include "util.h"

#include <string.h>
#include <zlib.h>

struct bt_otlp_gzip {
	z_stream zs;
};

static voidpf bt_z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return bt_calloc(items, size);
}

static void bt_z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	bt_free(p);
}

baton_err bt_otlp_gzip_create(bt_otlp_gzip **out)
{
	bt_otlp_gzip *z = bt_calloc(1, sizeof(*z));
	if (z == NULL)
		return BATON_ENOMEM;
	z->zs.zalloc = bt_z_alloc;
	z->zs.zfree = bt_z_free;
	/* 15 + 16: a gzip wrapper. Level 1: spans repeat keys and names, so the
	 * fastest level already shrinks them several times over. */
	if (deflateInit2(&z->zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		bt_free(z);
		return BATON_ESYSTEM;
	}
	*out = z;
	return BATON_OK;
}

void bt_otlp_gzip_destroy(bt_otlp_gzip *z)
{
	if (z == NULL)
		return;
	deflateEnd(&z->zs);
	bt_free(z);
}

baton_err bt_otlp_gzip_compress(bt_otlp_gzip *z, const uint8_t *in, size_t n,
                                bt_otlp_buf *out)
{
	if (n > UINT32_MAX / 2)
		return BATON_ETOOBIG;
	size_t bound = deflateBound(&z->zs, (uLong)n);
	if (!bt_otlp_buf_reserve(out, bound, bound))
		return BATON_ENOMEM;
	if (deflateReset(&z->zs) != Z_OK)
		return BATON_ESYSTEM;
	z->zs.next_in = (Bytef *)(uintptr_t)in;
	z->zs.avail_in = (uInt)n;
	z->zs.next_out = out->p;
	z->zs.avail_out = (uInt)out->cap;
	if (deflate(&z->zs, Z_FINISH) != Z_STREAM_END)
		return BATON_ESYSTEM;
	out->len = out->cap - z->zs.avail_out;
	return BATON_OK;
}
