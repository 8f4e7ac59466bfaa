/* Named shared-memory pipes (catmem): placeholder until the catmem issue lands. */
#include <demi/libos.h>

#include "../../api/api.h"

DEMI_EXPORT int demi_create_pipe(int *memqd_out, const char *name)
{
	API_RT(rt);
	(void)rt;
	if (!memqd_out || !name)
		return EINVAL;
	return ENOTSUP;
}

DEMI_EXPORT int demi_open_pipe(int *memqd_out, const char *name)
{
	API_RT(rt);
	(void)rt;
	if (!memqd_out || !name)
		return EINVAL;
	return ENOTSUP;
}
