/* catmem's configuration key (catmem:): how pipe pushes and sleepers order their memory (doc/catmem.md). */
#include "../../runtime/config_schema.h"

static const struct cfg_key keys[] = {
	CFG_BOOL_KEY("catmem", "membarrier", "CATMEM_MEMBARRIER", catmem_membarrier, true,
		     "Pipe pushes take no fence; a thread going to sleep on a pipe issues `membarrier(2)` instead "
		     "(doc/catmem.md). `false`: a fence per push to a peer that may sleep."),
};

const struct cfg_table cfg_catmem_table = CFG_TABLE("catmem", keys);
