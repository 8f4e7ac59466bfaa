/* Demi extension: catmem pipes, named shared-memory queues between two processes on one host. */
#ifndef DEMI_PIPE_H_IS_INCLUDED
#define DEMI_PIPE_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Longest pipe name, in bytes. A name is 1 to DEMI_PIPE_NAME_MAX characters
 * from [A-Za-z0-9._-] and does not start with '.'; any other name (NULL,
 * empty, too long, another character) is refused with EINVAL.
 */
#define DEMI_PIPE_NAME_MAX 63

/**
 * Largest message that keeps its boundary: a push of up to this many bytes
 * arrives as exactly one pop. A longer push arrives as consecutive pops of
 * at most DEMI_PIPE_MSG_MAX bytes each, in order, as a stream would.
 */
#define DEMI_PIPE_MSG_MAX 65536

/*
 * A pipe has two ends: the process that creates it and the one process that
 * opens it. Each end pushes to and pops from the other, in order, with no
 * system call on the datapath (two lock-free single-producer
 * single-consumer rings in a sealed memfd that both map). Pipes work under
 * LIBOS=catmem and under every other libOS, mixed with its sockets in
 * demi_wait_any(). See doc/catmem.md for the design.
 *
 * Asynchronous results on a pipe (in qr_ret of a DEMI_OPC_FAILED result):
 *   ECANCELED   the pipe was closed here while the operation waited.
 *   EPIPE       push: the peer closed its end.
 *   ECONNRESET  the peer process died without closing: pushes fail at once;
 *               pops first drain what the peer had pushed, then fail.
 *               Death is noticed within about 10 ms (a pidfd per peer).
 *   EPROTO      the shared region is corrupt (foreign writes into it): the
 *               pipe is broken for good; every operation fails so.
 *   ENOMEM      no buffer for a popped message.
 * End of stream: once the peer closes, pops drain what it pushed and then
 * complete with a zero-length sga (again on every later pop).
 * Popped sgas are freed with demi_sgafree(). A message above 2 KiB is handed
 * over without a copy (the sga points into the shared region, and its block
 * returns to the peer when freed); smaller ones are copied once on each side.
 */

/**
 * Creates the pipe `name` in this thread and returns its queue descriptor.
 * The name stays claimed until this end is closed or the process dies (a
 * name left by a dead process is reclaimed silently).
 * Errors: EINVAL (NULL argument, bad name), EEXIST (a live pipe has this
 * name), EMFILE (qd table or file descriptors full), ENOMEM, ENOSYS (no
 * demi_init), or an errno from creating the memfd or /dev/shm/demi-pipe.NAME.
 */
ATTR_NONNULL(1, 2)
extern int demi_create_pipe(_Out_ int *memqd_out, _In_z_ const char *name);

/**
 * Opens the other end of the pipe `name`, created by another process (or
 * another thread, or this one).
 * Errors: EINVAL (NULL argument, bad name), ENOENT (no such pipe, or its
 * creator closed it or died), EBUSY (the pipe already has its second end:
 * a pipe has exactly one producer per direction), EPROTO (the name leads to
 * something that is not an intact Demi pipe of this version), EMFILE, ENOMEM,
 * ENOSYS.
 */
ATTR_NONNULL(1, 2)
extern int demi_open_pipe(_Out_ int *memqd_out, _In_z_ const char *name);

/**
 * Zero-copy push: allocates `size` bytes inside the pipe's shared region.
 * Fill the sga, then demi_push() it on the same pipe: only its location
 * crosses, no byte is copied, and the peer pops the same memory. After that
 * push the memory belongs to the peer: free the sga, do not write to it or
 * push it again (a second push copies). An sga freed without being pushed
 * goes back to the pipe. Pushed on any other queue it is an ordinary buffer.
 * Errors: EINVAL (NULL out, size 0 or above DEMI_PIPE_MSG_MAX), EBADF,
 * ENOTSUP (qd is not a pipe), EAGAIN (every block of this end is in use: the
 * peer returns blocks when it frees what it popped), EPROTO (the pipe is
 * broken), ENOMEM, ENOSYS. On error *sga_out has sga_buf NULL.
 */
ATTR_NONNULL(1)
extern int demi_pipe_sgaalloc(_Out_ demi_sgarray_t *sga_out, _In_ int memqd, _In_ size_t size);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_PIPE_H_IS_INCLUDED */
