/* PDPIX control path and I/O calls: sockets as queues, asynchronous push, pop, accept, connect. */
#ifndef DEMI_LIBOS_H_IS_INCLUDED
#define DEMI_LIBOS_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>
#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every call returns 0 on success or a positive errno. In a thread that has
 * not called demi_init, every call returns ENOSYS.
 *
 * Queue descriptors (qds) are Demi's own non-negative ints, per thread, not
 * file descriptors: Demi draws them from 2^30 up, apart from the numbers the
 * kernel gives file descriptors, so that no qd is also an open descriptor.
 */

/**
 * Starts the libOS named by $LIBOS (default catnap) in this thread, configured
 * from the YAML file named by $CONFIG_PATH if set.
 * Errors: EINVAL (unknown libOS, bad configuration; one line on stderr),
 * EEXIST (already initialised in this thread), or the libOS's start-up error.
 */
ATTR_NONNULL(1)
extern int demi_init(_In_ const struct demi_args *args);

/**
 * Creates a named shared-memory queue (catmem), under any libOS.
 * Semantics and errors: demi/pipe.h.
 */
ATTR_NONNULL(1, 2)
extern int demi_create_pipe(_Out_ int *memqd_out, _In_z_ const char *name);

/**
 * Opens a named shared-memory queue created by another process (catmem).
 * Semantics and errors: demi/pipe.h.
 */
ATTR_NONNULL(1, 2)
extern int demi_open_pipe(_Out_ int *memqd_out, _In_z_ const char *name);

/**
 * Creates a socket queue. domain AF_INET; type SOCK_STREAM or SOCK_DGRAM.
 * Errors: EINVAL (NULL out), ENOTSUP (other domain or type), EMFILE (qd table full).
 */
ATTR_NONNULL(1)
extern int demi_socket(_Out_ int *sockqd_out, _In_ int domain, _In_ int type, _In_ int protocol);

/**
 * Marks a bound TCP socket passive.
 * Errors: EINVAL (backlog < 1), EBADF, EDESTADDRREQ (unbound), EADDRINUSE (already
 * listening), EISCONN (connected), ENOTSUP (not a TCP socket).
 */
extern int demi_listen(_In_ int sockqd, _In_ int backlog);

/**
 * Binds a local address.
 * Errors: EINVAL (NULL or short address, already bound), EAFNOSUPPORT (not
 * AF_INET), EBADF, EADDRINUSE, EADDRNOTAVAIL (not a local address).
 */
ATTR_NONNULL(2)
extern int demi_bind(_In_ int sockqd, _In_reads_bytes_(size) const struct sockaddr *addr, _In_ socklen_t size);

/**
 * Accepts a connection; completes with DEMI_OPC_ACCEPT and qr_value.ares.
 * Errors: EINVAL (NULL out, not listening), EBADF, ENOMEM (no token left: see demi_close).
 */
ATTR_NONNULL(1)
extern int demi_accept(_Out_ demi_qtoken_t *qt_out, _In_ int sockqd);

/**
 * Connects; completes with DEMI_OPC_CONNECT, or DEMI_OPC_FAILED with
 * ECONNREFUSED or ETIMEDOUT in qr_ret.
 * Errors: EINVAL (NULL arguments, short address), EAFNOSUPPORT, EBADF,
 * EOPNOTSUPP (listening), EINPROGRESS (already connecting), EISCONN
 * (connected), ENOMEM (no token left: see demi_close).
 */
ATTR_NONNULL(1, 3)
extern int demi_connect(_Out_ demi_qtoken_t *qt_out, _In_ int sockqd,
			_In_reads_bytes_(size) const struct sockaddr *addr, _In_ socklen_t size);

/**
 * Closes a queue synchronously. Its pending operations complete as
 * DEMI_OPC_FAILED with ECANCELED. Those cancelled results, and the queue's
 * uncollected push, connect and failed results, may be collected like any
 * other, but need not be: once the token table (max_qtokens) is full, a new
 * operation reclaims the oldest of them, whose token then answers EINVAL as a
 * spent one. Nothing else is ever reclaimed (a pop's buffer, an accept's
 * queue, any result of an open queue), so ENOMEM from accept, connect, push,
 * pushto and pop means that every token holds a pending operation or such a
 * result.
 * Errors: EBADF (bad or closed qd).
 */
extern int demi_close(_In_ int qd);

/**
 * Pushes one sga. The stack holds its own reference to the buffer until the
 * push completes, so the application may demi_sgafree() right after this call;
 * it must not change the data before completion.
 * Errors: EINVAL (NULL arguments, malformed sga), EBADF, ENOTCONN (TCP not connected),
 * EDESTADDRREQ (UDP without a peer), ENOMEM (no token left: see demi_close).
 */
ATTR_NONNULL(1, 3)
extern int demi_push(_Out_ demi_qtoken_t *qt_out, _In_ int qd, _In_ const demi_sgarray_t *sga);

/**
 * Pushes one datagram to dest_addr. Errors: as demi_push, plus address errors as demi_bind.
 */
ATTR_NONNULL(1, 3, 4)
extern int demi_pushto(_Out_ demi_qtoken_t *qt_out, _In_ int sockqd, _In_ const demi_sgarray_t *sga,
		       _In_reads_bytes_(size) const struct sockaddr *dest_addr, _In_ socklen_t size);

/**
 * Pops the next data: completes with one sga that the application owns and
 * frees with demi_sgafree(). TCP: the next bytes of the stream, length 0 when
 * the peer closed. UDP: one datagram, its sender in sga_addr.
 * Errors: EINVAL (NULL out), EBADF, ENOTCONN (TCP not connected), ENOMEM (no
 * token left: see demi_close).
 */
ATTR_NONNULL(1)
extern int demi_pop(_Out_ demi_qtoken_t *qt_out, _In_ int qd);

/**
 * Sets a socket option: SOL_SOCKET SO_LINGER, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF,
 * SO_REUSEADDR; IPPROTO_TCP TCP_NODELAY.
 * Errors: EBADF, ENOTSUP (unknown level), ENOPROTOOPT (unknown option), EINVAL (bad length).
 */
ATTR_NONNULL(4)
extern int demi_setsockopt(_In_ int qd, _In_ int level, _In_ int optname,
			   _In_reads_bytes_(optlen) const void *optval, _In_ socklen_t optlen);

/** Reads a socket option; errors as demi_setsockopt. */
ATTR_NONNULL(4)
extern int demi_getsockopt(_In_ int qd, _In_ int level, _In_ int optname,
			   _Out_writes_to_(optlen, *optlen) void *optval, _In_ socklen_t *optlen);

/**
 * Address of the connected peer; a short buffer is filled as far as it goes
 * and *addrlen set to the full length. Errors: EBADF, ENOTCONN, EINVAL (NULL).
 */
ATTR_NONNULL(2)
extern int demi_getpeername(_In_ int qd, _Out_writes_to_(addrlen, *addrlen) struct sockaddr *addr,
			    _In_ socklen_t *addrlen);

/** Local address of a socket (Demi extension: Demikernel answers ENOSYS). Errors: EBADF, EINVAL. */
ATTR_NONNULL(2)
extern int demi_getsockname(_In_ int qd, _Out_writes_to_(addrlen, *addrlen) struct sockaddr *addr,
			    _In_ socklen_t *addrlen);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_LIBOS_H_IS_INCLUDED */
