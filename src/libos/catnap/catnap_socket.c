/* catnap socket queues: PDPIX socket calls over non-blocking Linux sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../runtime/log.h"
#include "../../runtime/sockopt.h"
#include "catnap.h"

static inline struct cn_sock *sock_of(struct queue *q) { return container_of(q, struct cn_sock, q); }
static inline struct rt *rt_of(struct cn_sock *s) { return s->cn->rt; }

/*
 * DEMI_LOG=debug: a line per connection event, "catnap: qd 5 tcp 127.0.0.1:80 -
 * 127.0.0.1:41000: what[: error]". Out of line and cold; callers test the level.
 */
static void __attribute__((noinline, cold)) log_sock(const struct cn_sock *s, int line, const char *what, int err)
{
	int saved = errno; /* the caller fails its op with errno next */
	struct sockaddr_in l = { 0 }, f = { 0 };
	socklen_t len = sizeof(l);
	getsockname(s->fd, (struct sockaddr *)&l, &len);
	len = sizeof(f);
	getpeername(s->fd, (struct sockaddr *)&f, &len);
	char ls[INET_ADDRSTRLEN], fs[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &l.sin_addr, ls, sizeof(ls));
	inet_ntop(AF_INET, &f.sin_addr, fs, sizeof(fs));
	log_emit(LOG_DEBUG, __FILE__, line, "catnap: qd %d %s %s:%u - %s:%u: %s%s%s", s->q.qd,
		 s->type == SOCK_STREAM ? "tcp" : "udp", ls, ntohs(l.sin_port), fs, ntohs(f.sin_port), what,
		 err ? ": " : "", err ? strerror(err) : "");
	errno = saved;
}
#define SOCK_EVENT(s, what, err)                                               \
	do {                                                                   \
		if (__builtin_expect(LOG_DEBUG <= log_threshold, 0))           \
			log_sock((s), __LINE__, (what), (err));                \
	} while (0)

/* Applies the configuration's default TCP options (tcp_socket_options) to a stream socket. */
static void apply_tcp_defaults(struct cn_sock *s)
{
	const struct demi_config *c = &rt_of(s)->cfg;
	int one = 1;
	if (c->tcp_nodelay)
		setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->tcp_keepalive)
		setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (c->tcp_linger_s >= 0) {
		struct linger l = { .l_onoff = 1, .l_linger = c->tcp_linger_s };
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
}

int catnap_sock_new(struct catnap *cn, int fd, int type, enum cn_state state, struct cn_sock **out)
{
	struct cn_sock *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->cn = cn;
	s->fd = fd;
	s->type = type;
	s->state = state;
	/* Unknown readiness: try the call first; epoll's edges tell us when to retry. */
	s->readable = s->writable = true;
	list_init(&s->readers);
	list_init(&s->writers);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s };
	if (epoll_ctl(cn->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		close(fd);
		free(s);
		return err;
	}
	if (type == SOCK_STREAM)
		apply_tcp_defaults(s);
	*out = s;
	return 0;
}

static void wake_first(struct rt *rt, struct list_node *waiters)
{
	if (list_empty(waiters))
		return;
	struct op *op = container_of(waiters->next, struct op, wnode);
	if (op->task)
		sched_wake(&rt->sched, op->task);
}

void catnap_sock_event(struct cn_sock *s, uint32_t events)
{
	struct rt *rt = rt_of(s);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		s->readable = true;
		/* RDHUP, not HUP: a socket not yet connected reports HUP, and a reset sets RDHUP too. */
		if (events & EPOLLRDHUP)
			s->read_closed = true;
		wake_first(rt, &s->readers);
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		s->writable = true;
		wake_first(rt, &s->writers);
	}
}

/*
 * Runs one op's attempt `try` in its turn: when it is the oldest waiter and
 * the socket may be ready. try returns -EAGAIN to wait for the next edge
 * (having cleared the readiness flag), anything else to finish. Ends with the
 * next waiter woken. Returns false if the op was cancelled (queue closing).
 */
static bool take_turns(struct cn_sock *s, struct op *op, struct list_node *waiters, const bool *ready,
		       int (*try)(struct cn_sock *, struct op *))
{
	struct rt *rt = rt_of(s);
	list_push_back(waiters, &op->wnode);
	for (;;) {
		if (waiters->next == &op->wnode && *ready && try(s, op) != -EAGAIN)
			break;
		if (sched_park(&rt->sched) < 0)
			return false;
	}
	list_del(&op->wnode);
	if (waiters == &s->writers && s->shut_wr_pending && list_empty(waiters)) {
		s->shut_wr_pending = false;
		shutdown(s->fd, SHUT_WR); /* every push made before demi_shutdown is in the kernel */
	}
	wake_first(rt, waiters);
	return true;
}

/*
 * Starts an op: its attempt runs at once when no older op waits and the
 * socket may be ready, so the common case needs no coroutine; a coroutine
 * (co, which calls take_turns) takes over only when the op has to wait.
 */
static int start_turn(struct cn_sock *s, struct op *op, const struct list_node *waiters, const bool *ready,
		      int (*try)(struct cn_sock *, struct op *), void (*co)(void *))
{
	if (list_empty(waiters) && *ready && try(s, op) != -EAGAIN)
		return 0;
	return rt_op_start(rt_of(s), op, co);
}

/* ---- pop ---- */

static int try_pop(struct cn_sock *s, struct op *op)
{
	struct rt *rt = rt_of(s);
	struct buf *b = buf_alloc(&rt->pool, CATNAP_POP_SIZE);
	if (!b) {
		op_fail(&rt->ops, op, ENOMEM);
		return 0;
	}
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	memset(&from, 0, sizeof(from));
	ssize_t n = recvfrom(s->fd, buf_data(b), b->cap, 0, (struct sockaddr *)&from, &fromlen);
	if (n < 0) {
		int err = errno;
		if ((err == EAGAIN || err == EWOULDBLOCK) && s->shut_rd) {
			n = 0; /* a blocking recv(2) returns 0 once the socket is shut for reading */
			goto out;
		}
		buf_unref(&rt->pool, b);
		if (err == EAGAIN || err == EWOULDBLOCK) {
			s->readable = false;
			return -EAGAIN;
		}
		if (err == EINTR)
			return -EAGAIN;
		SOCK_EVENT(s, "pop failed", err);
		op_fail(&rt->ops, op, err);
		return 0;
	}
	if (n == 0 && s->type == SOCK_STREAM)
		SOCK_EVENT(s, "end of stream (the peer closed)", 0);
	/*
	 * A short stream read drained the socket; a later arrival raises a new
	 * edge. Not so once the peer closed: its FIN may have come with the data
	 * we just read, and the end of the stream that is left raises no edge.
	 */
	if (s->type == SOCK_STREAM && n > 0 && (size_t)n < b->cap && !s->read_closed)
		s->readable = false;
out:
	/* The allocation's reference passes to the application. */
	buf_give_app(&rt->pool, b, buf_data(b), (uint32_t)n, &op->result.qr_value.sga);
	if (s->type == SOCK_DGRAM)
		op->result.qr_value.sga.sga_addr = from;
	op_complete(&rt->ops, op);
	return 0;
}

static void pop_co(void *arg)
{
	struct op *op = arg;
	struct cn_sock *s = sock_of(op->q);
	take_turns(s, op, &s->readers, &s->readable, try_pop);
}

static int cn_pop(struct queue *q, struct op *op)
{
	struct cn_sock *s = sock_of(q);
	if (s->closing)
		return -EBADF;
	if (s->type == SOCK_STREAM && s->state != CN_CONNECTED)
		return -ENOTCONN;
	return start_turn(s, op, &s->readers, &s->readable, try_pop, pop_co);
}

/* ---- push ---- */

/* Sends what is left of the pushed segment; TCP may take several turns. */
static int try_push(struct cn_sock *s, struct op *op)
{
	struct rt *rt = rt_of(s);
	const demi_sgaseg_t *seg = &op->sga.sga_segs[0];
	const struct sockaddr *to = NULL;
	socklen_t tolen = 0;
	if (s->type == SOCK_DGRAM && op->addr.sin_family == AF_INET) {
		to = (const struct sockaddr *)&op->addr;
		tolen = sizeof(op->addr);
	}
	while (op->progress < seg->sgaseg_len) {
		ssize_t n = sendto(s->fd, (const char *)seg->sgaseg_buf + op->progress, seg->sgaseg_len - op->progress,
				   MSG_NOSIGNAL, to, tolen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				s->writable = false;
				return -EAGAIN;
			}
			SOCK_EVENT(s, "push failed", errno);
			op_fail(&rt->ops, op, errno);
			return 0;
		}
		op->progress += (uint32_t)n;
	}
	sga_copy(&op->result.qr_value.sga, &op->sga);
	op_complete(&rt->ops, op);
	return 0;
}

static void push_co(void *arg)
{
	struct op *op = arg;
	struct cn_sock *s = sock_of(op->q);
	take_turns(s, op, &s->writers, &s->writable, try_push);
}

static int cn_push(struct queue *q, struct op *op)
{
	struct cn_sock *s = sock_of(q);
	if (s->shut_wr)
		return s->closing ? -EBADF : -EPIPE;
	if (s->type == SOCK_STREAM && s->state != CN_CONNECTED)
		return -ENOTCONN;
	if (s->type == SOCK_DGRAM && !s->udp_connected)
		return -EDESTADDRREQ;
	return start_turn(s, op, &s->writers, &s->writable, try_push, push_co);
}

static int cn_pushto(struct queue *q, struct op *op)
{
	struct cn_sock *s = sock_of(q);
	if (s->type == SOCK_STREAM || s->shut_wr)
		return cn_push(q, op); /* the address is ignored on a connected stream, as sendto(2) does */
	if (op->addr.sin_addr.s_addr == htonl(INADDR_ANY) || op->addr.sin_port == 0)
		return -EINVAL;
	return start_turn(s, op, &s->writers, &s->writable, try_push, push_co);
}

/* ---- accept ---- */

static int cn_close(struct queue *q);

static int try_accept(struct cn_sock *s, struct op *op)
{
	struct rt *rt = rt_of(s);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd;
	/* A connection reset while in the backlog is skipped, as the kernel would for a blocking accept. */
	do
		fd = accept4(s->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && (errno == EINTR || errno == ECONNABORTED || errno == EPROTO));
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			s->readable = false;
			return -EAGAIN;
		}
		SOCK_EVENT(s, "accept failed", errno);
		op_fail(&rt->ops, op, errno);
		return 0;
	}
	struct cn_sock *c;
	int err = catnap_sock_new(s->cn, fd, SOCK_STREAM, CN_CONNECTED, &c);
	if (!err) {
		err = qd_install(&rt->qds, &c->q, &catnap_tcp_ops);
		if (err)
			cn_close(&c->q);
	}
	if (err) {
		op_fail(&rt->ops, op, -err);
		return 0;
	}
	SOCK_EVENT(c, "accepted", 0);
	op->result.qr_value.ares.qd = c->q.qd;
	op->result.qr_value.ares.addr = peer;
	op_complete(&rt->ops, op);
	return 0;
}

static void accept_co(void *arg)
{
	struct op *op = arg;
	struct cn_sock *s = sock_of(op->q);
	take_turns(s, op, &s->readers, &s->readable, try_accept);
}

static int cn_accept(struct queue *q, struct op *op)
{
	struct cn_sock *s = sock_of(q);
	if (s->state != CN_LISTENING)
		return -EINVAL;
	return start_turn(s, op, &s->readers, &s->readable, try_accept, accept_co);
}

/* ---- connect ---- */

/* The socket's pending error (SO_ERROR, which also clears it), or the errno of reading it. */
static int sock_error(int fd)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return errno;
	return soerr;
}

/* Waits for the handshake: writable means it finished, SO_ERROR says how. */
static int try_connect(struct cn_sock *s, struct op *op)
{
	struct rt *rt = rt_of(s);
	int soerr = sock_error(s->fd);
	if (soerr == 0) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		if (getpeername(s->fd, (struct sockaddr *)&peer, &len) < 0) {
			if (errno != ENOTCONN) {
				soerr = errno;
			} else {
				s->writable = false; /* still in progress */
				return -EAGAIN;
			}
		}
	}
	if (soerr) {
		SOCK_EVENT(s, "connect failed", soerr);
		s->state = CN_FAILED;
		op_fail(&rt->ops, op, soerr);
		return 0;
	}
	s->state = CN_CONNECTED;
	SOCK_EVENT(s, "connected", 0);
	op_complete(&rt->ops, op);
	return 0;
}

static void connect_co(void *arg)
{
	struct op *op = arg;
	struct cn_sock *s = sock_of(op->q);
	if (!take_turns(s, op, &s->writers, &s->writable, try_connect))
		s->state = CN_FAILED;
}

static int cn_connect(struct queue *q, struct op *op)
{
	struct cn_sock *s = sock_of(q);
	switch (s->state) {
	case CN_LISTENING:
		return -EOPNOTSUPP;
	case CN_CONNECTING:
		return -EINPROGRESS;
	case CN_CONNECTED:
		if (s->type == SOCK_STREAM)
			return -EISCONN;
		break;
	default:
		break;
	}
	if (connect(s->fd, (const struct sockaddr *)&op->addr, sizeof(op->addr)) == 0) {
		s->state = CN_CONNECTED;
		s->udp_connected = s->type == SOCK_DGRAM;
		SOCK_EVENT(s, "connected", 0);
		op_complete(&rt_of(s)->ops, op);
		return 0;
	}
	if (errno != EINPROGRESS) {
		/* Refusals found at once (loopback) are asynchronous results, as they would be on a network. */
		if (errno == ECONNREFUSED || errno == ETIMEDOUT || errno == ENETUNREACH || errno == EHOSTUNREACH) {
			s->state = CN_FAILED;
			SOCK_EVENT(s, "connect failed", errno);
			op_fail(&rt_of(s)->ops, op, errno);
			return 0;
		}
		return -errno;
	}
	s->state = CN_CONNECTING;
	s->writable = false;
	return rt_op_start(rt_of(s), op, connect_co);
}

/* ---- control path ---- */

static int cn_bind(struct queue *q, const struct sockaddr_in *addr)
{
	struct cn_sock *s = sock_of(q);
	if (s->state != CN_NEW)
		return -EINVAL;
	if (bind(s->fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0)
		return -errno;
	s->state = CN_BOUND;
	return 0;
}

static int cn_listen(struct queue *q, int backlog)
{
	struct cn_sock *s = sock_of(q);
	switch (s->state) {
	case CN_NEW:
		return -EDESTADDRREQ;
	case CN_LISTENING:
		return -EADDRINUSE;
	case CN_CONNECTING:
	case CN_CONNECTED:
		return -EISCONN;
	default:
		break;
	}
	if (listen(s->fd, backlog) < 0)
		return -errno;
	s->state = CN_LISTENING;
	return 0;
}

static int cn_setsockopt(struct queue *q, int level, int name, const void *val, socklen_t len)
{
	struct cn_sock *s = sock_of(q);
	int size = sockopt_size(level, name, s->type == SOCK_STREAM);
	if (size < 0)
		return size;
	if (sockopt_read_only(level, name))
		return -ENOPROTOOPT;
	if (len != (socklen_t)size)
		return -EINVAL;
	return setsockopt(s->fd, level, name, val, len) < 0 ? -errno : 0;
}

static int cn_getsockopt(struct queue *q, int level, int name, void *val, socklen_t *len)
{
	struct cn_sock *s = sock_of(q);
	int size = sockopt_size(level, name, s->type == SOCK_STREAM);
	if (size < 0)
		return size;
	if (*len < (socklen_t)size)
		return -EINVAL;
	return getsockopt(s->fd, level, name, val, len) < 0 ? -errno : 0;
}

static int cn_getpeername(struct queue *q, struct sockaddr_in *out)
{
	struct cn_sock *s = sock_of(q);
	socklen_t len = sizeof(*out);
	if (s->state != CN_CONNECTED)
		return -ENOTCONN;
	return getpeername(s->fd, (struct sockaddr *)out, &len) < 0 ? -errno : 0;
}

static int cn_getsockname(struct queue *q, struct sockaddr_in *out)
{
	struct cn_sock *s = sock_of(q);
	socklen_t len = sizeof(*out);
	return getsockname(s->fd, (struct sockaddr *)out, &len) < 0 ? -errno : 0;
}

/* ---- shutdown, graceful close (<demi/shutdown.h>) ---- */

static int cn_shutdown(struct queue *q, int how)
{
	struct cn_sock *s = sock_of(q);
	if (s->closing)
		return -EBADF;
	if (s->type == SOCK_STREAM && s->state != CN_CONNECTED)
		return -ENOTCONN;
	if (s->type == SOCK_DGRAM && !s->udp_connected)
		return -ENOTCONN; /* what Linux answers for an unconnected datagram socket */
	if (how != SHUT_WR) {
		if (shutdown(s->fd, SHUT_RD) < 0)
			return -errno;
		/* Pops now end with EOF; the kernel's edge may come late, so wake the readers here. */
		s->readable = s->read_closed = s->shut_rd = true;
		wake_first(rt_of(s), &s->readers);
	}
	if (how != SHUT_RD && !s->shut_wr) {
		s->shut_wr = true;
		/* Pushes waiting their turn are older than the call: the FIN waits for the last of them. */
		if (!list_empty(&s->writers))
			s->shut_wr_pending = true;
		else if (shutdown(s->fd, SHUT_WR) < 0)
			return -errno;
	}
	return 0;
}

/* Every earlier push is in the kernel (catnap's "sent"): the op completes and the socket closes. */
static void flush_done(struct cn_sock *s, struct op *op)
{
	struct rt *rt = rt_of(s);
	int soerr = sock_error(s->fd);
	if (soerr)
		op_fail(&rt->ops, op, soerr);
	else
		op_complete(&rt->ops, op);
	rt_close_queue(rt, &s->q); /* close(2): the kernel sends what it holds, then the FIN */
}

static int try_flush(struct cn_sock *s, struct op *op)
{
	(void)s;
	(void)op;
	return 0; /* its turn came: the writers before it are done */
}

static void flush_co(void *arg)
{
	static const bool always = true;
	struct op *op = arg;
	struct cn_sock *s = sock_of(op->q);
	if (take_turns(s, op, &s->writers, &always, try_flush))
		flush_done(s, op);
}

static int cn_close_flush(struct queue *q, struct op *op)
{
	struct cn_sock *s = sock_of(q);
	if (s->closing)
		return -EBADF;
	s->closing = s->shut_wr = true;
	s->shut_wr_pending = false;
	rt_cancel_but_pushes(rt_of(s), q, op);
	if (list_empty(&s->writers)) {
		flush_done(s, op);
		return 0;
	}
	return rt_op_start(rt_of(s), op, flush_co);
}

static int cn_close(struct queue *q)
{
	struct cn_sock *s = sock_of(q);
	SOCK_EVENT(s, "close", 0);
	/* close(2) also leaves the epoll set: no event can name this socket afterwards. */
	int err = close(s->fd) < 0 ? -errno : 0;
	free(s);
	return err;
}

const struct queue_ops catnap_tcp_ops = {
	.kind = "catnap-tcp",
	.bind = cn_bind,
	.listen = cn_listen,
	.accept = cn_accept,
	.connect = cn_connect,
	.push = cn_push,
	.pushto = cn_pushto,
	.pop = cn_pop,
	.setsockopt = cn_setsockopt,
	.getsockopt = cn_getsockopt,
	.getpeername = cn_getpeername,
	.getsockname = cn_getsockname,
	.shutdown = cn_shutdown,
	.close_flush = cn_close_flush,
	.close = cn_close,
};

/* UDP has no listen or accept: the public layer answers ENOTSUP for them. */
const struct queue_ops catnap_udp_ops = {
	.kind = "catnap-udp",
	.bind = cn_bind,
	.connect = cn_connect,
	.push = cn_push,
	.pushto = cn_pushto,
	.pop = cn_pop,
	.setsockopt = cn_setsockopt,
	.getsockopt = cn_getsockopt,
	.getpeername = cn_getpeername,
	.getsockname = cn_getsockname,
	.shutdown = cn_shutdown,
	.close_flush = cn_close_flush,
	.close = cn_close,
};
