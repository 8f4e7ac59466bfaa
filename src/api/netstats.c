/* The public counters call (include/demi/netstats.h): the inetstack's counters of this thread. */
#include <demi/netstats.h>

#include "../inetstack/inet.h"
#include "api.h"

DEMI_EXPORT int demi_netstats(struct demi_netstats *out)
{
	API_RT(rt);
	(void)rt;
	if (!out)
		return EINVAL;
	return api_err(inet_stats_read(out));
}
