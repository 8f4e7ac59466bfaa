/* The inetstack test harness: two stacks and a raw port on memwire, under the virtual clock. */
#include "inet_test.h"

#include <stdlib.h>

#include "runtime/sched.h"

struct tnet T;
uint32_t tnet_caps;
const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x01 };
const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x02 };
const uint8_t MAC_RAW[6] = { 0x02, 0, 0, 0, 0, 0x09 };
uint32_t IP_A, IP_B, IP_RAW;

/* The fast path: a coroutine polling both stacks every round, as a device libOS's poller does. */
static void poller(void *arg)
{
	(void)arg;
	do {
		for (int i = 0; i < 2; i++)
			if (T.in[i])
				inet_poll(T.in[i]);
	} while (sched_defer(&T.rt->sched) == 0);
}

void tnet_init(const struct memwire_opts *o, void (*cfg_fn)(struct demi_config *c, int idx))
{
	IP_A = inet_addr("10.0.0.1");
	IP_B = inet_addr("10.0.0.2");
	IP_RAW = inet_addr("10.0.0.9");
	memset(&T, 0, sizeof(T));
	clock_use_virtual(NSEC_PER_SEC);
	struct demi_config cfg;
	config_defaults(&cfg);
	cr_assert_eq(rt_create(&cfg, &T.rt), 0);
	T.base_in_use = T.rt->pool.in_use;
	struct memwire_opts none = { 0 };
	T.w = memwire_create(&T.rt->pool, o ? o : &none);
	cr_assert_not_null(T.w);
	const uint8_t *macs[2] = { MAC_A, MAC_B };
	uint32_t ips[2] = { IP_A, IP_B };
	for (int i = 0; i < 2; i++)
		T.dev[i] = memwire_attach(T.w, macs[i], 1500, tnet_caps);
	T.raw = memwire_attach(T.w, MAC_RAW, 1500, 0);
	for (int i = 0; i < 2; i++) {
		struct demi_config c = cfg;
		c.has_local_ipv4_addr = true;
		c.local_ipv4_addr.s_addr = ips[i];
		c.has_local_link_addr = true;
		memcpy(c.local_link_addr, macs[i], 6);
		/* The raw port answers no ARP: both stacks know it statically. */
		c.arp_table_len = 1;
		c.arp_table[0].ip.s_addr = IP_RAW;
		memcpy(c.arp_table[0].mac, MAC_RAW, 6);
		if (cfg_fn)
			cfg_fn(&c, i);
		cr_assert_eq(inet_create(T.rt, T.dev[i], &c, &T.in[i]), 0);
	}
	T.poller = sched_spawn(&T.rt->sched, TASK_FAST, poller, NULL);
	cr_assert_not_null(T.poller);
	/* The gratuitous ARPs of start-up are on the wire: let them land. */
	tnet_run(NSEC_PER_MSEC);
	uint8_t f[2048];
	while (raw_recv(f, sizeof(f)))
		;
}

void tnet_fini(void)
{
	for (int i = 0; i < 2; i++) {
		inet_destroy(T.in[i]);
		T.in[i] = NULL;
	}
	memwire_destroy(T.w);
	T.w = NULL;
	cr_assert_eq(T.rt->pool.in_use, T.base_in_use, "%u buffers not returned to the pool",
		     T.rt->pool.in_use - T.base_in_use);
	sched_cancel(&T.rt->sched, T.poller);
	rt_destroy(T.rt);
	clock_use_real();
}

static void one_round(void)
{
	sched_round(&T.rt->sched);
	if (timer_next(&T.rt->timers) <= clock_now())
		sched_wake(&T.rt->sched, T.rt->timer_task);
	sched_round(&T.rt->sched);
}

/* Advances the clock to the next event (timer, frame arrival) or `end`, whichever is first. */
static void advance(uint64_t end)
{
	uint64_t now = clock_now();
	uint64_t next = timer_next(&T.rt->timers);
	/* Frames for the raw port wait until a test reads them: they are no event. */
	uint64_t arr = memwire_next_arrival_except(T.w, T.raw);
	if (arr <= now) /* due already: another round takes it */
		arr = now;
	if (arr < next)
		next = arr;
	if (end < next)
		next = end;
	clock_advance(next > now ? next - now : NSEC_PER_USEC); /* something due: a microsecond, then another round */
}

void tnet_run(uint64_t ns)
{
	uint64_t end = clock_now() + ns;
	while (clock_now() < end) {
		one_round();
		advance(end);
	}
	one_round();
}

bool tnet_done(demi_qtoken_t qt)
{
	struct op *op = op_lookup(&T.rt->ops, qt);
	return op && op->state == OP_DONE;
}

demi_qresult_t tnet_wait(demi_qtoken_t qt, uint64_t max_ns)
{
	uint64_t end = clock_now() + max_ns;
	one_round();
	while (!tnet_done(qt)) {
		cr_assert_lt(clock_now(), end, "operation not complete after %llu ns", (unsigned long long)max_ns);
		advance(end);
		one_round();
	}
	demi_qresult_t qr;
	struct timespec zero = { 0, 0 };
	cr_assert_eq(demi_wait(&qr, qt, &zero), 0);
	return qr;
}

int tnet_udp(int idx, uint16_t port)
{
	struct queue *q;
	const struct queue_ops *ops;
	cr_assert_eq(inet_socket(T.in[idx], SOCK_DGRAM, &q, &ops), 0);
	cr_assert_eq(qd_install(&T.rt->qds, q, ops), 0);
	struct sockaddr_in a = tnet_addr(idx == NA ? IP_A : IP_B, port);
	cr_assert_eq(demi_bind(q->qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	return q->qd;
}

int tnet_tcp(int idx)
{
	struct queue *q;
	const struct queue_ops *ops;
	cr_assert_eq(inet_socket(T.in[idx], SOCK_STREAM, &q, &ops), 0);
	cr_assert_eq(qd_install(&T.rt->qds, q, ops), 0);
	return q->qd;
}

struct tconn tnet_tcp_pair(uint16_t port)
{
	struct tconn c;
	c.lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, port);
	cr_assert_eq(demi_bind(c.lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(c.lqd, 16), 0);
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	c.cqd = tnet_tcp(NA);
	cr_assert_eq(demi_connect(&cqt, c.cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	demi_qresult_t r = tnet_wait(cqt, NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "connect failed: %d", (int)r.qr_ret);
	r = tnet_wait(aqt, NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT, "accept failed: %d", (int)r.qr_ret);
	c.sqd = r.qr_value.ares.qd;
	cr_assert_eq(r.qr_value.ares.addr.sin_addr.s_addr, IP_A);
	return c;
}

struct sockaddr_in tnet_addr(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = ip;
	a.sin_port = htons(port);
	return a;
}

demi_sgarray_t tnet_sga(uint32_t len, uint8_t tag)
{
	demi_sgarray_t sga = demi_sgaalloc(len);
	cr_assert_not_null(sga.sga_buf);
	uint8_t *p = sga.sga_segs[0].sgaseg_buf;
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(tag + i);
	return sga;
}

void tnet_sendto(int qd, uint32_t ip, uint16_t port, uint32_t len, uint8_t tag)
{
	demi_sgarray_t sga = tnet_sga(len, tag);
	struct sockaddr_in to = tnet_addr(ip, port);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&to, sizeof(to)), 0);
	cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
}

uint8_t tnet_pop_tag(int qd)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	demi_qresult_t qr = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	uint8_t tag = *(uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf;
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	return tag;
}

struct demi_netstats *tnet_stats(int idx)
{
	return &T.in[idx]->st;
}

uint16_t ref_cksum(const void *data, uint32_t len, uint32_t initial)
{
	const uint8_t *p = data;
	uint32_t sum = initial;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint32_t mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

uint32_t mk_ipv4(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint16_t off,
		 const void *payload, uint32_t plen)
{
	uint16_t tot = htons((uint16_t)(20 + plen)), nid = htons(id), noff = htons(off);
	ip[0] = 0x45;
	ip[1] = 0;
	memcpy(ip + 2, &tot, 2);
	memcpy(ip + 4, &nid, 2);
	memcpy(ip + 6, &noff, 2);
	ip[8] = 64;
	ip[9] = proto;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t sum = ref_cksum(ip, 20, 0);
	memcpy(ip + 10, &sum, 2);
	if (payload && plen)
		memmove(ip + 20, payload, plen);
	return 20 + plen;
}

uint32_t mk_udp(uint8_t *u, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const void *data,
		uint32_t dlen)
{
	uint16_t len = (uint16_t)(8 + dlen), nlen = htons(len), ns = htons(sport), nd = htons(dport);
	memcpy(u, &ns, 2);
	memcpy(u + 2, &nd, 2);
	memcpy(u + 4, &nlen, 2);
	u[6] = u[7] = 0;
	if (data && dlen)
		memmove(u + 8, data, dlen);
	uint32_t hs = ntohl(src), hd = ntohl(dst);
	uint32_t pseudo = (hs >> 16) + (hs & 0xffff) + (hd >> 16) + (hd & 0xffff) + 17 + len;
	uint16_t sum = ref_cksum(u, len, pseudo);
	if (sum == 0)
		sum = 0xffff;
	memcpy(u + 6, &sum, 2);
	return len;
}

uint32_t mk_udp_frame(uint8_t *f, uint16_t sport, uint16_t dport, const void *data, uint32_t dlen)
{
	uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	uint8_t udp[2048];
	uint32_t ulen = mk_udp(udp, IP_RAW, IP_A, sport, dport, data, dlen);
	return n + mk_ipv4(f + n, IP_RAW, IP_A, 17, 0x1234, 0, udp, ulen);
}

void raw_inject(int idx, const void *f, uint32_t len)
{
	cr_assert_eq(memwire_inject(T.dev[idx], f, len), 0);
}

uint32_t raw_recv(uint8_t *out, uint32_t cap)
{
	struct pkt p;
	if (T.raw->ops->rx_burst(T.raw, &p, 1) != 1)
		return 0;
	uint32_t n = p.len < cap ? p.len : cap;
	memcpy(out, p.data, n);
	buf_unref(&T.rt->pool, p.buf);
	return n;
}
