/* Memory queues (include/demi/memq.h): an in-process FIFO of sgas, a queue kind under any libOS. */
#ifndef DEMI_QUEUES_MEMQ_H
#define DEMI_QUEUES_MEMQ_H

#include "../runtime/rt.h"

/* demi_queue: a new memory queue installed in rt, its qd in *qd_out. -ENOMEM, -EMFILE. */
int memq_create(struct rt *rt, int *qd_out);

#endif
