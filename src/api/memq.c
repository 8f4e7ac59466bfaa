/* The public memory-queue call (include/demi/memq.h). */
#include <demi/memq.h>

#include "../queues/memq.h"
#include "api.h"

DEMI_EXPORT int demi_queue(int *qd_out)
{
	API_RT(rt);
	if (!qd_out)
		return EINVAL;
	return api_err(memq_create(rt, qd_out));
}
