/* catnap: the libOS over Linux sockets, non-blocking, driven by epoll from its fast-path coroutine. */
#ifndef DEMI_LIBOS_CATNAP_H
#define DEMI_LIBOS_CATNAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/epoll.h>

#include "../../runtime/rt.h"

#define CATNAP_EVENTS 128
#define CATNAP_POP_SIZE 65536 /* bytes a TCP pop asks the kernel for; a UDP datagram always fits */

struct catnap {
	struct rt *rt;
	int epfd;
	struct sched_poller poller; /* one non-blocking epoll_wait at the start of every round */
	struct epoll_event events[CATNAP_EVENTS];
};

enum cn_state { CN_NEW, CN_BOUND, CN_LISTENING, CN_CONNECTING, CN_CONNECTED, CN_FAILED };

struct cn_sock {
	struct queue q;
	struct catnap *cn;
	int fd;
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	enum cn_state state;
	/* Readiness learnt from edge-triggered epoll; cleared when a call meets EAGAIN. */
	bool readable, writable;
	/* The peer shut its side (EPOLLRDHUP): reads never block again, and no new edge will say so. */
	bool read_closed;
	bool udp_connected;
	/* demi_shutdown(SHUT_WR): pushes fail EPIPE; the kernel's shutdown waits for the pushes queued before. */
	bool shut_wr, shut_wr_pending;
	bool shut_rd; /* demi_shutdown(SHUT_RD): a drained datagram socket answers 0 bytes, as a blocking recv(2) */
	bool closing; /* demi_close_flush started: the qd goes away when the pushes are out */
	/* Ops whose coroutines wait their turn, oldest first, so pushes and pops keep their order. */
	struct list_node readers; /* pops, accepts */
	struct list_node writers; /* pushes, connect */
};

extern const struct queue_ops catnap_tcp_ops, catnap_udp_ops;

/* Creates a socket queue around a new or accepted fd (made non-blocking, added to epoll). */
int catnap_sock_new(struct catnap *cn, int fd, int type, enum cn_state state, struct cn_sock **out);
/* Delivers epoll readiness to a socket: wakes the oldest reader and writer. */
void catnap_sock_event(struct cn_sock *s, uint32_t events);

#endif
