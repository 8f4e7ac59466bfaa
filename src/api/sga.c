/* The public buffer calls: sgas backed by the runtime's reference-counted pools. */
#include <demi/sga.h>
#include <string.h>

#include "api.h"

DEMI_EXPORT demi_sgarray_t demi_sgaalloc(size_t size)
{
	demi_sgarray_t sga;
	memset(&sga, 0, sizeof(sga));
	struct rt *rt = rt_self();
	if (!rt || size == 0 || size > BUF_MAX_SIZE)
		return sga;
	struct buf *b = buf_alloc(&rt->pool, size);
	if (!b)
		return sga;
	buf_give_app(&rt->pool, b, buf_data(b), (uint32_t)size, &sga);
	return sga;
}

DEMI_EXPORT int demi_sgafree(demi_sgarray_t *sga)
{
	API_RT(rt);
	if (!sga)
		return EINVAL;
	return api_err(buf_app_free(&rt->pool, sga));
}
