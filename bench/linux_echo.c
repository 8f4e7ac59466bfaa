/*
 * Baseline for echo_bench: the same two measurements written directly against
 * Linux sockets, in catnap's polling style. Non-blocking sockets with
 * TCP_NODELAY, registered edge-triggered in epoll; each side busy-polls
 * epoll_wait(timeout 0) and never sleeps, keeps readable/writable flags that
 * an EAGAIN or a short read clears, and reads into 64 KiB buffers as catnap's
 * pops do. Same sizes, same pinning, same fork-then-initialise structure.
 *   linux_echo [--size 64] [--count 200000] [--warmup N] [--window 16] [--seconds 2] [--lat-only|--tput-only]
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"

#define RECV_SIZE 65536 /* as catnap's CATNAP_POP_SIZE */
#define MAX_CONNS 16

static void nodelay(int fd)
{
	int one = 1;
	CHECK_SYS(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
}

static void watch(int ep, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = ptr };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

/* ---- server ---- */

struct conn {
	int fd;
	bool used;
	bool readable, writable;
	uint32_t out_off, out_len; /* bytes of buf still to echo */
	unsigned char buf[RECV_SIZE];
};

/* Echoes what can be echoed without blocking. Returns false once the peer closed. */
static bool serve_conn(struct conn *c)
{
	for (;;) {
		if (c->out_off < c->out_len) {
			if (!c->writable)
				return true;
			ssize_t n = send(c->fd, c->buf + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->writable = false;
					return true;
				}
				if (errno == EINTR)
					continue;
				return false;
			}
			c->out_off += (uint32_t)n;
			continue;
		}
		if (!c->readable)
			return true;
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->readable = false;
				return true;
			}
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
			return false;
		if ((size_t)n < sizeof(c->buf))
			c->readable = false; /* drained; the next arrival raises an edge */
		c->out_off = 0;
		c->out_len = (uint32_t)n;
	}
}

static void server(int lfd, int conns)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK_SYS(ep);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev));
	static struct conn pool[MAX_CONNS];
	struct conn *live[MAX_CONNS];
	int nlive = 0, closed = 0;
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(ep, evs, 64, 0);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (nlive == MAX_CONNS) {
						close(fd);
						continue;
					}
					for (c = pool; c->used; c++) /* a free slot: nlive < MAX_CONNS */
						;
					c->used = true;
					c->fd = fd;
					c->readable = c->writable = true;
					c->out_off = c->out_len = 0;
					nodelay(fd);
					watch(ep, fd, c);
					live[nlive++] = c;
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				c->readable = true;
			if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				c->writable = true;
		}
		for (int k = 0; k < nlive; k++) {
			if (serve_conn(live[k]))
				continue;
			close(live[k]->fd);
			live[k]->used = false;
			live[k--] = live[--nlive];
			if (conns > 0 && ++closed >= conns)
				return;
		}
	}
}

/* ---- client ---- */

static int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? fl : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

struct client {
	int fd, ep;
	bool readable;
	unsigned char buf[RECV_SIZE];
};

static void client_open(struct client *c, uint16_t port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_SYS(c->fd);
	CHECK_SYS(connect(c->fd, (const struct sockaddr *)&addr, sizeof(addr)));
	CHECK_SYS(fcntl_nonblock(c->fd));
	nodelay(c->fd);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK_SYS(c->ep);
	watch(c->ep, c->fd, c);
	c->readable = true;
}

static void client_close(struct client *c)
{
	close(c->fd);
	close(c->ep);
}

/* One busy poll: epoll_wait(0) and the readiness it reports. */
static void client_poll(struct client *c)
{
	struct epoll_event evs[4];
	int n = epoll_wait(c->ep, evs, 4, 0);
	for (int i = 0; i < n; i++)
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->readable = true;
}

/* A non-blocking recv when readable; the bytes read, 0 if none now. Exits on close or error. */
static size_t client_recv(struct client *c)
{
	if (!c->readable)
		return 0;
	ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			if (errno != EINTR)
				c->readable = false;
			return 0;
		}
		perror("linux_echo: recv");
		exit(1);
	}
	if (n == 0) {
		fprintf(stderr, "linux_echo: server closed the connection\n");
		exit(1);
	}
	if ((size_t)n < sizeof(c->buf))
		c->readable = false;
	return (size_t)n;
}

/* Sends all of msg, polling while the socket is full. */
static void client_send(struct client *c, const unsigned char *msg, size_t size)
{
	for (size_t off = 0; off < size;) {
		ssize_t n = send(c->fd, msg + off, size - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				client_poll(c);
				continue;
			}
			perror("linux_echo: send");
			exit(1);
		}
		off += (size_t)n;
	}
}

static void run_latency(uint16_t port, const struct echo_opts *o)
{
	struct client *c = calloc(1, sizeof(*c));
	unsigned char *msg = malloc(o->size);
	uint64_t *lat = malloc((size_t)o->count * sizeof(*lat));
	if (!c || !msg || !lat)
		exit(1);
	for (size_t j = 0; j < o->size; j++)
		msg[j] = (unsigned char)(j * 31 + 7);
	client_open(c, port);
	long total = o->warmup + o->count;
	for (long i = 0; i < total; i++) {
		uint64_t t0 = now_ns();
		client_send(c, msg, o->size);
		for (size_t got = 0; got < o->size;) {
			size_t n = client_recv(c);
			if (n == 0) {
				client_poll(c);
				continue;
			}
			if (got + n > o->size || memcmp(c->buf, msg + got, n)) {
				fprintf(stderr, "linux_echo: message %ld: echoed bytes differ\n", i);
				exit(1);
			}
			got += n;
		}
		if (i >= o->warmup)
			lat[i - o->warmup] = now_ns() - t0;
	}
	client_close(c);
	struct lat_stats s = lat_summarise(lat, (size_t)o->count);
	lat_report("linux", o->size, (size_t)o->count, &s);
	free(lat);
	free(msg);
	free(c);
}

static void run_throughput(uint16_t port, const struct echo_opts *o)
{
	struct client *c = calloc(1, sizeof(*c));
	unsigned char *msg = malloc(o->size);
	if (!c || !msg)
		exit(1);
	memset(msg, 0x5a, o->size);
	client_open(c, port);
	const uint64_t size = o->size;
	uint64_t sent = 0, back_bytes = 0;
	uint64_t start = now_ns();
	struct tput_span w;
	tput_span_start(&w, start, o->seconds);
	for (;;) {
		/* One send per message, as one demi_push per message. */
		while (w.pushing && sent - back_bytes / size < (uint64_t)o->window) {
			client_send(c, msg, o->size);
			sent++;
		}
		if (!w.pushing && back_bytes == sent * size)
			break;
		client_poll(c);
		size_t n;
		while ((n = client_recv(c)) > 0)
			back_bytes += n;
		tput_span_tick(&w, now_ns(), back_bytes / size);
	}
	client_close(c);
	tput_report("linux", o->size, o->window, w.m_end - w.m_begin, w.ns_end - w.ns_begin);
	free(msg);
	free(c);
}

int main(int argc, char **argv)
{
	struct echo_opts o = echo_parse(argc, argv);
	int scpu = bench_cpu(0), ccpu = bench_cpu(1);
	if (ccpu < 0)
		scpu = -1;
	/* The listener is made before the fork, on a port the kernel picks. */
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK_SYS(lfd);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK_SYS(bind(lfd, (const struct sockaddr *)&addr, sizeof(addr)));
	CHECK_SYS(listen(lfd, 64));
	socklen_t len = sizeof(addr);
	CHECK_SYS(getsockname(lfd, (struct sockaddr *)&addr, &len));
	uint16_t port = ntohs(addr.sin_port);
	fflush(stdout);
	pid_t pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		bench_die_with_parent();
		bench_pin(scpu);
		server(lfd, o.lat + o.tput);
		_exit(0);
	}
	close(lfd);
	bench_pin(ccpu);
	printf("linux_echo: 127.0.0.1:%u, server on CPU %d, client on CPU %d\n", port, scpu, ccpu);
	if (o.lat)
		run_latency(port, &o);
	if (o.tput)
		run_throughput(port, &o);
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "linux_echo: the server failed\n");
		return 1;
	}
	return 0;
}
