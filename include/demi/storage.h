/*
 * Demi extension: storage queues. A file or block device opened as a queue,
 * in the spirit of the paper's PDPIX: demi_push() appends an sga at the
 * queue's write position (a log), demi_pop() reads the next bytes at its read
 * position. Both are asynchronous: they return qtokens that can be waited on
 * together with socket and memory-queue tokens in demi_wait_any(), under any
 * libOS. Linux: io_uring with O_DIRECT and registered buffers (doc/storage.md).
 */
#ifndef DEMI_STORAGE_H_IS_INCLUDED
#define DEMI_STORAGE_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* When a push completes (demi_storage_set_durability). */
enum demi_storage_durability {
	/* Default: the write, then fdatasync linked after it: durable, on any device. */
	DEMI_STORAGE_FLUSH = 0,
	/* The write with RWF_DSYNC: durable; a device with FUA needs no separate flush. */
	DEMI_STORAGE_FUA = 1,
	/* As soon as the kernel has the data: lost if the machine (not the process) crashes. */
	DEMI_STORAGE_NONE = 2,
};

/* demi_storage_stat flags */
#define DEMI_STORAGE_DIRECT 0x1u     /* O_DIRECT is in use: aligned pushes and all pops bypass the page cache */
#define DEMI_STORAGE_SQPOLL 0x2u     /* the thread's ring is polled by a kernel thread: no system call to submit */
#define DEMI_STORAGE_REGISTERED 0x4u /* demi_storage_sgaalloc buffers are registered with the ring */

struct demi_storage_stat {
	uint64_t read_pos;    /* offset the next pop reads at */
	uint64_t write_pos;   /* offset the next push appends at */
	uint64_t durable_pos; /* end of the appends that completed, in order: every byte before it is stored */
	uint32_t read_size;   /* bytes a pop asks for */
	uint32_t align;       /* block for zero-copy direct I/O (offset, length and memory); 0 without O_DIRECT */
	uint32_t durability;  /* enum demi_storage_durability */
	uint32_t flags;       /* DEMI_STORAGE_* above */
};

/**
 * Opens (flags & O_CREAT: creates, with mode) the file or block device at
 * path as a storage queue of this thread. flags: O_RDONLY, O_WRONLY or
 * O_RDWR, with O_CREAT, O_EXCL, O_TRUNC; O_APPEND, O_DIRECT, O_CLOEXEC and
 * O_NOFOLLOW are accepted (pushes always append, O_DIRECT is always tried).
 * The write position starts at the end of a file (0 on a block device), the
 * read position at 0, the read size at 4096. The first storage queue of a
 * thread starts its io_uring ring and poller.
 * Errors: EINVAL (NULL argument, other flags), what open(2) answers (ENOENT,
 * EACCES, EEXIST, EISDIR, ...), ENOSYS or EPERM (no io_uring here, or no
 * demi_init), EMFILE (qd table full), ENOMEM.
 */
ATTR_NONNULL(1, 2)
extern int demi_open_file(_Out_ int *qd_out, _In_ const char *path, int flags, mode_t mode);

/**
 * Sets where the next pop reads and how many bytes each pop asks for
 * (size 0: unchanged; at most 16 MiB). Each pop takes [pos, pos + size) and
 * moves the position on by size when it starts, so that several pops can
 * be in flight; one that comes back short (end of file) moves the position
 * back to where its data ended, if no pop or seek came after it.
 * Errors: EBADF (bad qd), ENOTSUP (not a storage queue), EINVAL (size too
 * large), ENOSYS.
 */
extern int demi_storage_seek(int qd, uint64_t offset, uint32_t size);

/**
 * Chooses when this queue's later pushes complete: DEMI_STORAGE_FLUSH (the
 * default, or $STORAGE_DURABILITY), DEMI_STORAGE_FUA or DEMI_STORAGE_NONE.
 * Errors: EBADF, ENOTSUP, EINVAL (other value), ENOSYS.
 */
extern int demi_storage_set_durability(int qd, int durability);

/**
 * Positions, alignment and mode of a storage queue.
 * Errors: EINVAL (NULL out), EBADF, ENOTSUP, ENOSYS.
 */
ATTR_NONNULL(2)
extern int demi_storage_stat(int qd, _Out_ struct demi_storage_stat *out);

/**
 * As demi_sgaalloc(), for storage: one segment of `size` bytes whose memory
 * starts on a 4096-byte boundary and is registered with this thread's ring,
 * so that a push of it (whole, at an aligned write position, in a multiple
 * of the queue's align) goes to the device with no copy. Such buffers can be
 * pushed to any queue and freed with demi_sgafree(). Pops on storage queues
 * hand out buffers of this kind.
 * Returns an sga whose sga_buf is NULL when size is 0 or above 16 MiB, when
 * memory is exhausted, or without io_uring or demi_init.
 */
extern demi_sgarray_t demi_storage_sgaalloc(size_t size);

/*
 * Storage queues and the PDPIX calls:
 * - demi_push(&qt, qd, sga): appends the segment at the write position, which
 *   moves on at once, so pushes in flight land back to back in call order.
 *   The push completes once the data is durable (see durability above), in
 *   call order; qr_ret holds the offset it was written at. A push that fails
 *   (ENOSPC, EIO, ...) completes FAILED with that errno; pushes after it that
 *   were in flight fail with the same errno, and the file is cut back to
 *   where the failed one began, so the file always holds exactly the pushes
 *   that completed. The buffer may be freed right after demi_push.
 *   Zero copy (O_DIRECT) when the write position and length are multiples of
 *   `align` and the memory is aligned (demi_storage_sgaalloc); any other
 *   append goes through the page cache (one copy in the kernel), equally
 *   durable. EBADF at once on a queue opened O_RDONLY.
 * - demi_pop(&qt, qd): reads up to read_size bytes at the read position and
 *   completes with one sga holding them: shorter at the end of the file,
 *   zero-length at or past it (the sga must still be freed). While this
 *   queue's own pushes are in flight, a pop sees only the appends that
 *   completed (durable_pos). Pops complete as the device answers, not
 *   necessarily in call order. EBADF at once on a queue opened O_WRONLY.
 * - demi_close(qd): pending pushes and pops complete FAILED with ECANCELED;
 *   a push whose write was already in flight may still reach the file.
 */

#ifdef __cplusplus
}
#endif

#endif /* DEMI_STORAGE_H_IS_INCLUDED */
