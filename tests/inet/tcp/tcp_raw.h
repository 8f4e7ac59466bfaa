/*
 * Hand-made TCP segments for the memwire tests: a builder for segments from
 * the raw port (10.0.0.9) with options written byte by byte (independently of
 * the stack's own writer), a parser for what the raw port receives, a small
 * raw-port peer that opens connections to a stack's listener and tracks its
 * sequence numbers, and a frame parser for memwire filters. Header-only: each
 * test file includes it once.
 */
#ifndef DEMI_TESTS_TCP_RAW_H
#define DEMI_TESTS_TCP_RAW_H

#include "inet_test.h"

#include "net/prot/tcp.h"
#include "inetstack/tcp/tcp_opt.h"

/* Options for a crafted segment; each one only when asked for. */
struct ropts {
	uint16_t mss;    /* 0: none */
	int wscale;      /* -1: none (a zeroed struct asks for shift 0: use RO_NONE) */
	bool sack_ok;
	bool ts;
	uint32_t ts_val, ts_ecr;
	uint8_t nsack;
	struct tcp_sack_block sack[3];
};
#define RO_NONE ((struct ropts){ .wscale = -1 })

/* Writes the options of o (padded with NOPs to a multiple of 4); returns their length. */
static inline uint32_t ropts_write(uint8_t *b, const struct ropts *o)
{
	uint32_t n = 0;
	if (o->mss) {
		b[n++] = TCPOPT_MSS;
		b[n++] = 4;
		b[n++] = (uint8_t)(o->mss >> 8);
		b[n++] = (uint8_t)o->mss;
	}
	if (o->wscale >= 0) {
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_WSCALE;
		b[n++] = 3;
		b[n++] = (uint8_t)o->wscale;
	}
	if (o->sack_ok) {
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_SACK_PERMITTED;
		b[n++] = 2;
	}
	if (o->ts) {
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_TIMESTAMP;
		b[n++] = 10;
		uint32_t v = htonl(o->ts_val), e = htonl(o->ts_ecr);
		memcpy(b + n, &v, 4);
		memcpy(b + n + 4, &e, 4);
		n += 8;
	}
	if (o->nsack) {
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_SACK;
		b[n++] = (uint8_t)(2 + 8 * o->nsack);
		for (int i = 0; i < o->nsack; i++) {
			uint32_t s = htonl(o->sack[i].start), e = htonl(o->sack[i].end);
			memcpy(b + n, &s, 4);
			memcpy(b + n + 4, &e, 4);
			n += 8;
		}
	}
	cr_assert_leq(n, TCP_MAX_OPT_LEN);
	return n;
}

/* A TCP segment (header, options, data) with its checksum; returns its length. */
static inline uint32_t mk_tcp(uint8_t *t, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
			      uint32_t ack, uint8_t flags, uint16_t win, const struct ropts *o, const void *data,
			      uint32_t dlen)
{
	uint8_t opts[TCP_MAX_OPT_LEN];
	uint32_t olen = o ? ropts_write(opts, o) : 0;
	uint32_t hlen = TCP_HDR_LEN + olen;
	struct tcp_hdr th = {
		.sport = htons(sport),
		.dport = htons(dport),
		.seq = htonl(seq),
		.ack = htonl(ack),
		.off = tcp_off(hlen),
		.flags = flags,
		.win = htons(win),
		.sum = 0,
		.urp = 0,
	};
	if (data && dlen)
		memmove(t + hlen, data, dlen);
	memcpy(t, &th, sizeof(th));
	memcpy(t + TCP_HDR_LEN, opts, olen);
	uint32_t len = hlen + dlen;
	uint32_t hs = ntohl(src), hd = ntohl(dst);
	uint32_t pseudo = (hs >> 16) + (hs & 0xffff) + (hd >> 16) + (hd & 0xffff) + 6 + len;
	uint16_t sum = ref_cksum(t, len, pseudo);
	memcpy(t + 16, &sum, 2);
	return len;
}

/*
 * For a config function: A and B know each other statically, so no ARP
 * broadcast ever reaches the raw port (a frame left in the raw port's queue
 * makes tnet_run crawl in 1 us steps) and handshakes take exactly one RTT.
 */
static inline void cfg_static_arp(struct demi_config *c)
{
	const uint8_t *macs[2] = { MAC_A, MAC_B };
	uint32_t ips[2] = { inet_addr("10.0.0.1"), inet_addr("10.0.0.2") };
	for (int i = 0; i < 2; i++) {
		struct config_arp_entry *e = &c->arp_table[c->arp_table_len++];
		e->ip.s_addr = ips[i];
		memcpy(e->mac, macs[i], 6);
	}
}

/*
 * Fixed ISN secrets and ephemeral ports for both stacks (call right after
 * tnet_init): the ISNs, and everything that depends on them, are the same on
 * every run.
 */
static inline void fix_isn_secrets(void)
{
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < (int)sizeof(T.in[i]->tcp.secret.key); k++)
			T.in[i]->tcp.secret.key[k] = (uint8_t)(0x40 + 17 * k + 101 * i);
		T.in[i]->tcp.next_ephemeral = 50000; /* drawn from the random key at start-up */
	}
}

/* Whether an ISN lies in the upper (high) or lower half of sequence space, at least 2^20 (4 s of clock) from either edge. */
static inline bool isn_in_half(uint32_t isn, bool high)
{
	uint32_t low31 = isn & 0x7fffffffu;
	return (bool)(isn >> 31) == high && low31 >= (1u << 20) && low31 <= 0x7fffffffu - (1u << 20);
}

/*
 * A client port on A for a connection to B:bport made now whose ISNs (A's,
 * and B's on the SYN's arrival shortly after) lie in the given halves
 * (-1: either). Sequence numbers "before" 0 (upper half) expose
 * comparisons against uninitialised (zero) sequence variables.
 */
static inline uint16_t port_for_isns(uint16_t bport, int a_high, int b_high)
{
	for (uint32_t p = 20000; p < 40000; p++) {
		uint32_t ia = tcp_isn(&T.in[NA]->tcp.secret, IP_A, htons((uint16_t)p), IP_B, htons(bport));
		uint32_t ib = tcp_isn(&T.in[NB]->tcp.secret, IP_B, htons(bport), IP_A, htons((uint16_t)p));
		if ((a_high < 0 || isn_in_half(ia, a_high)) && (b_high < 0 || isn_in_half(ib, b_high)))
			return (uint16_t)p;
	}
	cr_assert_fail("no port gives those ISNs");
	return 0;
}

/* Runs ns of virtual time in steps of at most 10 ms, dropping whatever the raw port receives. */
static inline void run_drain(uint64_t ns)
{
	static uint8_t f[2048];
	uint64_t end = clock_now() + ns;
	while (clock_now() < end) {
		uint64_t left = end - clock_now();
		tnet_run(left < 10 * NSEC_PER_MSEC ? left : 10 * NSEC_PER_MSEC);
		while (raw_recv(f, sizeof(f)))
			;
	}
}

static inline uint32_t stack_ip(int idx) { return idx == NA ? IP_A : IP_B; }
static inline const uint8_t *stack_mac(int idx) { return idx == NA ? MAC_A : MAC_B; }

/* Sends a segment from the raw port (IP_RAW:sport) to stack idx's dport. */
static inline void raw_tcp(int idx, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
			   uint16_t win, const struct ropts *o, const void *data, uint32_t dlen)
{
	static uint8_t f[2048], seg[2048];
	cr_assert_leq(dlen, 1460);
	uint32_t n = mk_eth(f, stack_mac(idx), MAC_RAW, 0x0800);
	uint32_t tl = mk_tcp(seg, IP_RAW, stack_ip(idx), sport, dport, seq, ack, flags, win, o, data, dlen);
	n += mk_ipv4(f + n, IP_RAW, stack_ip(idx), 6, 0x4242, 0, seg, tl);
	raw_inject(idx, f, n);
}

/* A parsed TCP segment. */
struct rseg {
	uint32_t src, dst; /* network order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint32_t hlen, dlen;
	bool opts_ok;
	struct tcp_opts o;
	uint8_t data[1600];
};

/* Parses an Ethernet frame; false when it is not an IPv4 TCP segment. */
static inline bool parse_tcp_frame(const uint8_t *f, uint32_t len, struct rseg *s)
{
	if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	const uint8_t *ip = f + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
	uint32_t tot = (uint32_t)ip[2] << 8 | ip[3];
	if (ip[9] != 6 || tot > len - 14 || tot < ihl + TCP_HDR_LEN)
		return false;
	const uint8_t *t = ip + ihl;
	uint32_t tl = tot - ihl;
	struct tcp_hdr th;
	memcpy(&th, t, sizeof(th));
	memcpy(&s->src, ip + 12, 4);
	memcpy(&s->dst, ip + 16, 4);
	s->sport = ntohs(th.sport);
	s->dport = ntohs(th.dport);
	s->seq = ntohl(th.seq);
	s->ack = ntohl(th.ack);
	s->flags = th.flags;
	s->win = ntohs(th.win);
	s->hlen = tcp_hdr_len(&th);
	if (s->hlen < TCP_HDR_LEN || s->hlen > tl)
		return false;
	s->dlen = tl - s->hlen;
	s->opts_ok = tcp_opt_parse(t + TCP_HDR_LEN, s->hlen - TCP_HDR_LEN, &s->o) == 0;
	uint32_t n = s->dlen < sizeof(s->data) ? s->dlen : sizeof(s->data);
	memcpy(s->data, t + s->hlen, n);
	return true;
}

/* The next TCP segment the raw port holds (other frames are skipped); false when none. */
static inline bool raw_next_tcp(struct rseg *s)
{
	static uint8_t f[2048];
	uint32_t n;
	while ((n = raw_recv(f, sizeof(f))) != 0)
		if (parse_tcp_frame(f, n, s))
			return true;
	return false;
}

/* Runs the stacks until the raw port receives a TCP segment, at most max_ns; false when none came. */
static inline bool raw_wait_tcp(struct rseg *s, uint64_t max_ns)
{
	uint64_t end = clock_now() + max_ns;
	for (;;) {
		if (raw_next_tcp(s))
			return true;
		if (clock_now() >= end)
			return false;
		uint64_t left = end - clock_now();
		tnet_run(left < 100 * NSEC_PER_USEC ? left : 100 * NSEC_PER_USEC);
	}
}

/* Runs ns and counts (then forgets) every TCP segment the raw port received; the last one in *last. */
static inline int raw_drain(uint64_t ns, struct rseg *last)
{
	tnet_run(ns);
	struct rseg s;
	int n = 0;
	while (raw_next_tcp(&s)) {
		n++;
		if (last)
			*last = s;
	}
	return n;
}

/* ---- a raw-port peer connected to a stack's listener ---- */

struct rconn {
	int idx;             /* the stack */
	uint16_t lport;      /* the stack's (listening) port */
	uint16_t rport;      /* the raw port's */
	int lqd, qd;         /* the listener and the accepted connection */
	uint32_t iss;        /* the raw side's ISN */
	uint32_t snd_nxt;    /* the raw side's next sequence number */
	uint32_t rcv_nxt;    /* the next sequence number expected from the stack */
	uint32_t stack_iss;
	uint16_t win;        /* window field the raw side sends */
	bool ts;             /* timestamps negotiated */
	uint32_t ts_val;     /* the raw side's next TSval */
	uint32_t ts_recent;  /* the stack's last TSval, echoed */
	struct rseg synack;
};

/* The segment's options for c: a timestamp when negotiated. */
static inline struct ropts rconn_opts(struct rconn *c)
{
	struct ropts o = RO_NONE;
	if (c->ts) {
		o.ts = true;
		o.ts_val = c->ts_val;
		o.ts_ecr = c->ts_recent;
	}
	return o;
}

/* Sends from the raw peer with its current numbers; data and FIN advance snd_nxt. */
static inline void rconn_send(struct rconn *c, uint8_t flags, const void *data, uint32_t dlen)
{
	struct ropts o = rconn_opts(c);
	raw_tcp(c->idx, c->rport, c->lport, c->snd_nxt, c->rcv_nxt, flags, c->win, &o, data, dlen);
	c->snd_nxt += dlen + ((flags & TH_FIN) ? 1 : 0) + ((flags & TH_SYN) ? 1 : 0);
}

/* Notes what a segment from the stack tells the peer (its timestamp). */
static inline void rconn_saw(struct rconn *c, const struct rseg *s)
{
	if (c->ts && s->opts_ok && (s->o.flags & TCP_OPTF_TIMESTAMP))
		c->ts_recent = s->o.ts_val;
}

/*
 * Opens a listener on stack idx:lport (unless lqd >= 0 is given) and connects
 * to it from IP_RAW:rport with the SYN options syn (the peer then uses
 * timestamps if both offered them); checks the SYN-ACK and the accept.
 */
static inline void rconn_open(struct rconn *c, int idx, int lqd, uint16_t lport, uint16_t rport, uint32_t iss,
			      const struct ropts *syn)
{
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->lport = lport;
	c->rport = rport;
	c->iss = iss;
	c->win = 65535;
	c->ts_val = syn->ts ? syn->ts_val : 0;
	if (lqd < 0) {
		lqd = tnet_tcp(idx);
		struct sockaddr_in a = tnet_addr(stack_ip(idx), lport);
		cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
		cr_assert_eq(demi_listen(lqd, 16), 0);
	}
	c->lqd = lqd;
	demi_qtoken_t aqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	raw_tcp(idx, rport, lport, iss, 0, TH_SYN, c->win, syn, NULL, 0);
	struct rseg *s = &c->synack;
	cr_assert(raw_wait_tcp(s, 10 * NSEC_PER_MSEC), "no SYN-ACK");
	cr_assert_eq(s->flags, TH_SYN | TH_ACK, "flags %#x", s->flags);
	cr_assert_eq(s->ack, iss + 1);
	cr_assert_eq(s->sport, lport);
	cr_assert_eq(s->dport, rport);
	cr_assert(s->opts_ok);
	c->stack_iss = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->snd_nxt = iss + 1;
	c->ts = syn->ts && (s->o.flags & TCP_OPTF_TIMESTAMP);
	if (c->ts) {
		c->ts_recent = s->o.ts_val;
		c->ts_val++;
	}
	rconn_send(c, TH_ACK, NULL, 0);
	demi_qresult_t r = tnet_wait(aqt, 10 * NSEC_PER_MSEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT, "accept failed: %d", (int)r.qr_ret);
	cr_assert_eq(r.qr_value.ares.addr.sin_addr.s_addr, IP_RAW);
	cr_assert_eq(ntohs(r.qr_value.ares.addr.sin_port), rport);
	c->qd = r.qr_value.ares.qd;
}

static inline struct tcb *tcb_qd(int qd)
{
	struct queue *q = qd_get(&T.rt->qds, qd);
	cr_assert_not_null(q);
	return tcb_of(q);
}

/* The stack's connection with the given 4-tuple (ports host order), or NULL. */
static inline struct tcb *tcb_find(int idx, uint16_t lport, uint32_t faddr, uint16_t fport)
{
	return tcp_conn_lookup(T.in[idx], stack_ip(idx), htons(lport), faddr, htons(fport));
}

/* The only tcb of stack idx in state st, or NULL (asserts there is at most one). */
static inline struct tcb *tcb_in_state(int idx, enum tcp_state st)
{
	struct tcb *found = NULL;
	struct list_node *n;
	for (n = T.in[idx]->tcp.conns.next; n != &T.in[idx]->tcp.conns; n = n->next) {
		struct tcb *tp = container_of(n, struct tcb, link);
		if (tp->state == st) {
			cr_assert_null(found, "two connections in state %d", (int)st);
			found = tp;
		}
	}
	return found;
}

/* ---- waiting on results ---- */

/* Waits for a pop and checks it failed with err. */
static inline void expect_fail(demi_qtoken_t qt, int err, uint64_t max_ns)
{
	demi_qresult_t r = tnet_wait(qt, max_ns);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_FAILED, "opcode %d, want FAILED", (int)r.qr_opcode);
	cr_assert_eq(r.qr_ret, err, "error %d, want %d", (int)r.qr_ret, err);
}

/* Waits for a pop of exactly len bytes equal to want (frees the sga). */
static inline void expect_pop(demi_qtoken_t qt, const void *want, uint32_t len, uint64_t max_ns)
{
	demi_qresult_t r = tnet_wait(qt, max_ns);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_POP, "pop failed: %d", (int)r.qr_ret);
	cr_assert_eq(r.qr_value.sga.sga_segs[0].sgaseg_len, len, "popped %u bytes, want %u",
		     r.qr_value.sga.sga_segs[0].sgaseg_len, len);
	if (len)
		cr_assert_eq(memcmp(r.qr_value.sga.sga_segs[0].sgaseg_buf, want, len), 0);
	cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
}

static inline demi_qtoken_t pop_qt(int qd)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	return qt;
}

/* Pushes len bytes of text (copied into a fresh sga, freed at once: the stack keeps its reference). */
static inline demi_qtoken_t push_bytes(int qd, const void *data, uint32_t len)
{
	demi_sgarray_t sga = demi_sgaalloc(len);
	cr_assert_not_null(sga.sga_buf);
	memcpy(sga.sga_segs[0].sgaseg_buf, data, len);
	demi_qtoken_t qt;
	cr_assert_eq(demi_push(&qt, qd, &sga), 0);
	cr_assert_eq(demi_sgafree(&sga), 0);
	return qt;
}

static inline void expect_push_ok(demi_qtoken_t qt, uint64_t max_ns)
{
	demi_qresult_t r = tnet_wait(qt, max_ns);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_PUSH, "push failed: %d", (int)r.qr_ret);
}

#endif
