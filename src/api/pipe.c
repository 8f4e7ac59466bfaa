/* The public pipe calls (include/demi/pipe.h): argument checks, then the catmem pipe queue kind. */
#include <demi/libos.h>
#include <demi/pipe.h>
#include <string.h>

#include "../queues/catmem/pipe.h"
#include "api.h"

DEMI_EXPORT int demi_create_pipe(int *memqd_out, const char *name)
{
	API_RT(rt);
	if (!memqd_out || !name)
		return EINVAL;
	return api_err(pipe_new(rt, name, true, memqd_out));
}

DEMI_EXPORT int demi_open_pipe(int *memqd_out, const char *name)
{
	API_RT(rt);
	if (!memqd_out || !name)
		return EINVAL;
	return api_err(pipe_new(rt, name, false, memqd_out));
}

DEMI_EXPORT int demi_pipe_sgaalloc(demi_sgarray_t *sga_out, int memqd, size_t size)
{
	API_RT(rt);
	if (!sga_out)
		return EINVAL;
	memset(sga_out, 0, sizeof(*sga_out));
	return api_err(pipe_sgaalloc(rt, memqd, size, sga_out));
}
