/* The socket options Demi supports and the size of each value (doc/api/demi_setsockopt.md). */
#include "sockopt.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int sockopt_size(int level, int name, bool stream)
{
	switch (level) {
	case SOL_SOCKET:
		switch (name) {
		case SO_LINGER:
			return sizeof(struct linger);
		case SO_KEEPALIVE:
		case SO_RCVBUF:
		case SO_SNDBUF:
		case SO_REUSEADDR:
		case SO_ERROR:
		case SO_TYPE:
			return sizeof(int);
		}
		return -ENOPROTOOPT;
	case IPPROTO_TCP:
		return stream && name == TCP_NODELAY ? (int)sizeof(int) : -ENOPROTOOPT;
	case IPPROTO_UDP:
	case IPPROTO_IP:
		return -ENOPROTOOPT;
	}
	return -ENOTSUP;
}

bool sockopt_read_only(int level, int name)
{
	return level == SOL_SOCKET && (name == SO_ERROR || name == SO_TYPE);
}
