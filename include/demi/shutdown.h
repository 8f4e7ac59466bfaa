/*
 * Demi extension: half-close and graceful close. demi_close() (Demikernel's
 * call) cancels pending pushes, and on Demi's TCP drops their bytes that had
 * not left; these calls let what was pushed go out first.
 */
#ifndef DEMI_SHUTDOWN_H_IS_INCLUDED
#define DEMI_SHUTDOWN_H_IS_INCLUDED

#include <sys/socket.h> /* SHUT_RD, SHUT_WR, SHUT_RDWR */

#include <demi/cc.h>
#include <demi/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Shuts down part of a connected socket, as shutdown(2): SHUT_WR sends the
 * FIN after every push made before the call (they complete as usual) and
 * makes later pushes fail with EPIPE; pops still drain what the peer sends
 * until its EOF. SHUT_RD makes pops return what is already received, then
 * the end of the stream (length 0) instead of waiting; data that arrives
 * later is still acknowledged and can be popped (Linux does the same).
 * SHUT_RDWR does both. The qd stays open: demi_close() releases it.
 * UDP: as Linux (ENOTCONN unless connected). Memory queues, pipes and
 * files: ENOTSUP.
 * Errors: EBADF (qd), EINVAL (how), ENOTCONN (not connected), ENOTSUP
 * (queue kind), ENOSYS (no demi_init).
 */
extern int demi_shutdown(int qd, int how);

/**
 * Starts a graceful close of qd and hands out its token in *qt_out. Pending
 * pops and accepts are cancelled at once (ECANCELED), as demi_close() does;
 * pending pushes go on. The token completes with DEMI_OPC_CLOSE once every
 * push made before the call has gone out and the FIN was sent: on Demi's TCP
 * (catpowder, catnip) when the peer acknowledged the data and the FIN; on
 * catnap when the kernel took every byte (it then delivers them as after
 * close(2)). It completes with DEMI_OPC_FAILED and qr_ret ETIMEDOUT
 * (retransmission limits), ECONNRESET (reset), ECONNABORTED (received data
 * was never read, so a reset was sent, as demi_close() does) or ECANCELED
 * (demi_close() on qd before the flush ended). qd is released when the token
 * completes (whatever its result); until then pushes, pops and
 * demi_shutdown on qd answer EBADF, and demi_close(qd) aborts the flush
 * (ECANCELED). A socket with nothing to flush (never connected, a
 * listener, Demi's UDP) closes at once: the token is already complete.
 * Errors: EINVAL (NULL qt_out), EBADF (qd, or a flush already started),
 * ENOTSUP (queue kind), ENOMEM (token table full), ENOSYS (no demi_init).
 */
ATTR_NONNULL(1)
extern int demi_close_flush(_Out_ demi_qtoken_t *qt_out, int qd);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_SHUTDOWN_H_IS_INCLUDED */
