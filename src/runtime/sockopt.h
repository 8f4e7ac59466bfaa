/* The socket options Demi supports, shared by every libOS's socket queues. */
#ifndef DEMI_RUNTIME_SOCKOPT_H
#define DEMI_RUNTIME_SOCKOPT_H

#include <stdbool.h>

/*
 * Size of the value of option (level, name) on a stream (TCP) or datagram
 * socket: SOL_SOCKET's SO_LINGER, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF,
 * SO_REUSEADDR, SO_ERROR, SO_TYPE; IPPROTO_TCP's TCP_NODELAY on streams.
 * Returns the size, -ENOPROTOOPT for a known level with an option Demi does
 * not support there, or -ENOTSUP for an unknown level.
 */
int sockopt_size(int level, int name, bool stream);

/* True for options that can be read but not set (SO_ERROR, SO_TYPE). */
bool sockopt_read_only(int level, int name);

#endif
