/* The public storage calls (include/demi/storage.h): argument checks, then the storage queue kind. */
#include <demi/storage.h>
#include <string.h>

#include "../queues/storage/storage.h"
#include "api.h"

/* The storage queue qd names; returns EBADF or ENOTSUP from the calling function otherwise. */
#define API_SQUEUE(sq, rt, qd)                                                 \
	struct squeue *sq;                                                     \
	do {                                                                   \
		int sq##_err = storage_queue_get((rt), (qd), &sq);             \
		if (sq##_err)                                                  \
			return api_err(sq##_err);                              \
	} while (0)

DEMI_EXPORT int demi_open_file(int *qd_out, const char *path, int flags, mode_t mode)
{
	API_RT(rt);
	if (!qd_out || !path)
		return EINVAL;
	return api_err(storage_open(rt, path, flags, mode, qd_out));
}

DEMI_EXPORT int demi_storage_seek(int qd, uint64_t offset, uint32_t size)
{
	API_RT(rt);
	API_SQUEUE(sq, rt, qd);
	if (size > BUF_MAX_SIZE)
		return EINVAL;
	squeue_seek(sq, offset, size);
	return 0;
}

DEMI_EXPORT int demi_storage_set_durability(int qd, int durability)
{
	API_RT(rt);
	API_SQUEUE(sq, rt, qd);
	if (durability != DEMI_STORAGE_FLUSH && durability != DEMI_STORAGE_FUA && durability != DEMI_STORAGE_NONE)
		return EINVAL;
	squeue_set_durability(sq, durability);
	return 0;
}

DEMI_EXPORT int demi_storage_stat(int qd, struct demi_storage_stat *out)
{
	API_RT(rt);
	if (!out)
		return EINVAL;
	API_SQUEUE(sq, rt, qd);
	squeue_stat(sq, out);
	return 0;
}

DEMI_EXPORT demi_sgarray_t demi_storage_sgaalloc(size_t size)
{
	demi_sgarray_t sga;
	memset(&sga, 0, sizeof(sga));
	struct rt *rt = rt_self();
	if (!rt || size == 0 || size > BUF_MAX_SIZE)
		return sga;
	(void)storage_sgaalloc(rt, size, &sga); /* the zero sga is the failure */
	return sga;
}
