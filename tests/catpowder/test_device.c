/*
 * catpowder device test without the stack: raw frames between our AF_PACKET
 * device on IF_A and the Linux kernel on IF_B (the peer namespace). ARP
 * request and reply, UDP from Linux (checksums left to offload, completed by
 * the device), UDP to Linux through the transmit ring with ring wrap,
 * oversize frames refused. Run by run.sh inside scripts/netns.sh run2; with
 * $DEMI_PCAP, through the capture wrapper. Exit 77: not allowed here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libos/catpowder/afpacket.h"
#include "net/pcap_dev.h"
#include "runtime/config.h"
#include "runtime/log.h"

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "test_device: " __VA_ARGS__);                  \
		fputc('\n', stderr);                                           \
		exit(1);                                                       \
	} while (0)

#define UDP_IN_PORT 7000  /* Linux -> us */
#define UDP_OUT_PORT 7001 /* us -> Linux */
#define N_IN 2000
#define N_OUT 3000

static struct buf_pool pool;
static struct netdev *dev;
static const struct afp_stats *stats;
static uint8_t mac_b[6];
static struct in_addr ip_a, ip_b;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		FAIL("$%s is not set (run under scripts/netns.sh)", name);
	return v;
}

static void parse_mac(const char *s, uint8_t mac[6])
{
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6)
		FAIL("bad MAC %s", s);
}

/* RFC 1071: the ones' complement sum, unfolded, then folded and inverted. */
static uint32_t sum(const uint8_t *p, uint32_t len, uint32_t acc)
{
	for (; len >= 2; p += 2, len -= 2)
		acc += (uint32_t)p[0] << 8 | p[1];
	if (len)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

static uint16_t csum(const uint8_t *p, uint32_t len, uint32_t acc)
{
	acc = sum(p, len, acc);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* The UDP pseudo-header's sum (RFC 768). */
static uint32_t pseudo(const uint8_t *ip, uint32_t ulen)
{
	return sum(ip + 12, 8, 0) + IPPROTO_UDP + ulen;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A buffer with a frame of `len` bytes, filled by the caller through *data. */
static struct pkt frame(uint32_t len)
{
	struct buf *b = buf_alloc(&pool, len);
	if (!b)
		FAIL("buf_alloc");
	return (struct pkt){ .buf = b, .data = buf_data(b), .len = len };
}

static void send_all(struct pkt *p, int n)
{
	uint64_t until = now_ms() + 2000;
	int done = 0;
	while (done < n) {
		int k = dev->ops->tx_burst(dev, p + done, n - done);
		if (k < 0)
			FAIL("tx_burst: %s", strerror(-k));
		done += k;
		if (now_ms() > until)
			FAIL("transmit ring stuck: %d of %d frames accepted", done, n);
	}
}

static void eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, dev->mac, 6);
	put16(f + 12, type);
}

static struct pkt arp(uint16_t op, const uint8_t *dst_mac, struct in_addr target)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pkt p = frame(42);
	uint8_t *f = p.data;
	eth(f, op == 1 ? bcast : dst_mac, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op);
	memcpy(f + 22, dev->mac, 6);
	memcpy(f + 28, &ip_a, 4);
	memcpy(f + 32, op == 1 ? (const uint8_t[6]){ 0 } : dst_mac, 6);
	memcpy(f + 38, &target, 4);
	return p;
}

static struct pkt udp(uint16_t dport, uint32_t payload, uint32_t seq)
{
	uint32_t ulen = 8 + payload, tot = 20 + ulen;
	struct pkt p = frame(14 + tot);
	uint8_t *f = p.data, *ip = f + 14, *u = ip + 20;
	eth(f, mac_b, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 4, (uint16_t)seq);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &ip_a, 4);
	memcpy(ip + 16, &ip_b, 4);
	put16(ip + 10, csum(ip, 20, 0));
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)ulen);
	put16(u + 6, 0);
	for (uint32_t i = 0; i < payload; i++)
		u[8 + i] = (uint8_t)(seq + i);
	if (payload >= 4)
		memcpy(u + 8, &seq, 4);
	uint16_t c = csum(u, ulen, pseudo(ip, ulen));
	put16(u + 6, c ? c : 0xffff);
	return p;
}

/* Frames received so far are handed to fn; stops when fn returns nonzero or ms pass. Returns fn's last value. */
static int rx_until(int (*fn)(const uint8_t *f, uint32_t len), int ms)
{
	uint64_t until = now_ms() + (uint64_t)ms;
	struct pkt p[32];
	while (now_ms() < until) {
		int n = dev->ops->rx_burst(dev, p, 32);
		if (n < 0)
			FAIL("rx_burst: %s", strerror(-n));
		int r = 0;
		for (int i = 0; i < n; i++) {
			if (!r)
				r = fn(p[i].data, p[i].len);
			buf_unref(&pool, p[i].buf);
		}
		if (r)
			return r;
	}
	return 0;
}

/* Answers ARP requests for ip_a (the kernel asks before it sends to us); true when f was one. */
static int answer_arp(const uint8_t *f, uint32_t len)
{
	if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 1 || memcmp(f + 38, &ip_a, 4) != 0)
		return 0;
	struct in_addr who;
	memcpy(&who, f + 28, 4);
	struct pkt r = arp(2, f + 22, who);
	send_all(&r, 1);
	return 1;
}

static int arp_reply(const uint8_t *f, uint32_t len)
{
	if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 2)
		return 0;
	if (memcmp(f + 28, &ip_b, 4) != 0 || memcmp(f + 38, &ip_a, 4) != 0 || memcmp(f, dev->mac, 6) != 0)
		FAIL("unexpected ARP reply");
	memcpy(mac_b, f + 22, 6);
	return 1;
}

static int udp_in_seen;
static int udp_in(const uint8_t *f, uint32_t len)
{
	if (answer_arp(f, len))
		return 0;
	if (len < 42 || get16(f + 12) != 0x0800 || f[23] != IPPROTO_UDP)
		return 0;
	const uint8_t *ip = f + 14, *u = ip + (ip[0] & 15) * 4;
	if (get16(u + 2) != UDP_IN_PORT)
		return 0;
	if (csum(ip, (ip[0] & 15) * 4u, 0) != 0)
		FAIL("IPv4 header checksum of datagram %d is wrong", udp_in_seen);
	uint32_t ulen = get16(u + 4);
	if (get16(u + 6) == 0 || csum(u, ulen, pseudo(ip, ulen)) != 0)
		FAIL("UDP checksum of datagram %d from Linux is wrong (0x%04x)", udp_in_seen, get16(u + 6));
	return ++udp_in_seen == N_IN;
}

static void enter_ns(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		perror(path);
		_exit(3);
	}
	close(fd);
}

/* In NS_B: N_IN datagrams to ip_a, paced so that neither ring nor backlog overflows. */
static pid_t linux_sender(void)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	enter_ns(env("NS_B"));
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(UDP_IN_PORT), .sin_addr = ip_a };
	char msg[200];
	memset(msg, 'x', sizeof(msg));
	for (int i = 0; i < N_IN; i++) {
		if (sendto(s, msg, (size_t)(1 + i % 200), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			perror("sendto");
			_exit(4);
		}
		if (i % 64 == 63)
			usleep(1000);
	}
	_exit(0);
}

/* In NS_B: counts datagrams to UDP_OUT_PORT until 1 s of silence; the count goes back through the pipe. */
static pid_t linux_receiver(int wfd, int readyfd)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	enter_ns(env("NS_B"));
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 8 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(UDP_OUT_PORT), .sin_addr = ip_b };
	if (bind(s, (struct sockaddr *)&me, sizeof(me)) < 0)
		_exit(5);
	if (write(readyfd, "r", 1) != 1)
		_exit(6);
	int count = 0;
	char buf[2048];
	while (recv(s, buf, sizeof(buf), 0) >= 0)
		count++;
	if (write(wfd, &count, sizeof(count)) != sizeof(count))
		_exit(6);
	_exit(0);
}

static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	log_init("warn");
	const char *ifname = env("IF_A");
	if (inet_pton(AF_INET, env("IP_A"), &ip_a) != 1 || inet_pton(AF_INET, env("IP_B"), &ip_b) != 1)
		FAIL("bad IP_A / IP_B");
	uint8_t want_a[6], want_b[6];
	parse_mac(env("MAC_A"), want_a);
	parse_mac(env("MAC_B"), want_b);
	if (buf_pool_init(&pool, 16384, 256u << 20) < 0)
		FAIL("buf_pool_init");
	struct demi_config cfg;
	config_defaults(&cfg);
	struct netdev *raw;
	int err = afp_open(ifname, &cfg, &pool, &raw);
	if (err == -EPERM)
		return 77;
	if (err)
		FAIL("afp_open(%s): %s", ifname, strerror(-err));
	stats = afp_stats(raw);
	dev = raw;
	const char *pcap = getenv("DEMI_PCAP");
	if (pcap && *pcap && (err = pcap_dev_open(raw, pcap, &dev)) != 0)
		FAIL("pcap_dev_open: %s", strerror(-err));
	if (dev->mtu != 1500 || memcmp(dev->mac, want_a, 6) != 0 || dev->ops->wait_fd(dev) < 0)
		FAIL("device reports MTU %u, a MAC other than the interface's, or no wait fd", dev->mtu);

	/* 1. ARP: the kernel answers who-has IP_B with MAC_B. */
	struct pkt req = arp(1, NULL, ip_b);
	send_all(&req, 1);
	if (!rx_until(arp_reply, 2000))
		FAIL("no ARP reply from the kernel within 2 s");
	if (memcmp(mac_b, want_b, 6) != 0)
		FAIL("ARP reply names a MAC other than MAC_B");
	printf("ok: ARP who-has %s answered by %s\n", env("IP_B"), env("MAC_B"));

	/* 2. Linux -> us: every datagram arrives through the receive ring with valid checksums. */
	pid_t tx = linux_sender();
	if (!rx_until(udp_in, 10000))
		FAIL("received %d of %d datagrams from Linux (ring drops %llu)", udp_in_seen, N_IN,
		     (unsigned long long)afp_stats(raw)->rx_ring_drops);
	if (wait_child(tx) != 0)
		FAIL("Linux sender failed");
	printf("ok: %d datagrams from Linux, checksums valid (%llu completed in software)\n", udp_in_seen,
	       (unsigned long long)stats->rx_csum_fixed);

	/* 3. us -> Linux: N_OUT datagrams through the transmit ring (it wraps several times), some full-size. */
	int pfd[2], rfd[2];
	if (pipe(pfd) < 0 || pipe(rfd) < 0)
		FAIL("pipe");
	pid_t rx = linux_receiver(pfd[1], rfd[1]);
	char ready;
	if (read(rfd[0], &ready, 1) != 1)
		FAIL("Linux receiver did not start");
	for (int i = 0; i < N_OUT; i += 32) {
		struct pkt burst[32];
		int n = 0;
		for (; n < 32 && i + n < N_OUT; n++) {
			uint32_t seq = (uint32_t)(i + n);
			burst[n] = udp(UDP_OUT_PORT, seq % 10 == 0 ? 1472 : 18 + seq % 1000, seq);
		}
		send_all(burst, n);
		rx_until(answer_arp, 1); /* also lets the receiver's CPU catch up */
	}
	int got = -1;
	if (read(pfd[0], &got, sizeof(got)) != sizeof(got) || wait_child(rx) != 0)
		FAIL("Linux receiver failed");
	if (got != N_OUT)
		FAIL("Linux received %d of %d datagrams (tx ring-full stalls %llu, errors %llu)", got, N_OUT,
		     (unsigned long long)stats->tx_ring_full, (unsigned long long)stats->tx_errors);
	printf("ok: Linux received all %d datagrams (%llu ring-full stalls)\n", got,
	       (unsigned long long)stats->tx_ring_full);

	/* 4. A frame longer than MTU + 14 is accepted and dropped, counted, never sent. */
	struct pkt big = udp(UDP_OUT_PORT, 1473, 0);
	if (dev->ops->tx_burst(dev, &big, 1) != 1 || stats->tx_oversize != 1)
		FAIL("oversize frame not refused");
	printf("ok: oversize frame dropped\n");

	if (pcap && *pcap)
		printf("ok: %llu frames captured to %s\n", (unsigned long long)pcap_dev_frames(dev), pcap);
	dev->ops->close(dev);
	if (pool.in_use != 0)
		FAIL("%u buffers still in use", pool.in_use);
	buf_pool_fini(&pool);
	printf("PASS\n");
	return 0;
}
