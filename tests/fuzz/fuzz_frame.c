/*
 * libFuzzer target: arbitrary frames into the inetstack's receive path
 * (Ethernet, ARP, IPv4 with reassembly, ICMP, UDP and a socket behind it).
 * Input: byte 0 bit 7 clear: bytes 1.. are one frame. Set: a sequence of
 * [delay][len_hi][len_lo][frame], the delay in 100 ms of virtual time
 * before the frame, so reassembly and ARP timers fire too.
 * Built with -DFUZZ_REPLAY_MAIN (any compiler) it is a program that replays
 * corpus files or directories and checks that every buffer went back.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "inetstack/inet.h"
#include "inetstack/inet_priv.h"
#include "net/memwire.h"
#include "runtime/clock.h"
#include "runtime/rt.h"

static const uint8_t MAC_US[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC_PEER[6] = { 0x02, 0, 0, 0, 0, 0x09 };

static struct {
	struct rt *rt;
	struct memwire *w;
	struct netdev *dev, *peer;
	struct inet *in;
	struct queue *q;
	demi_qtoken_t pop;
} F;

static void start_pop(void)
{
	struct op *op = op_alloc(&F.rt->ops, F.q, DEMI_OPC_POP);
	if (!op)
		abort();
	F.pop = op_token(&F.rt->ops, op);
	if (F.q->ops->pop(F.q, op) < 0)
		abort();
}

static void setup(void)
{
	clock_use_virtual(NSEC_PER_SEC);
	struct demi_config cfg;
	config_defaults(&cfg);
	cfg.has_local_ipv4_addr = true;
	cfg.local_ipv4_addr.s_addr = inet_addr("10.0.0.1");
	cfg.has_local_link_addr = true;
	memcpy(cfg.local_link_addr, MAC_US, 6);
	cfg.arp_table_len = 1;
	cfg.arp_table[0].ip.s_addr = inet_addr("10.0.0.9");
	memcpy(cfg.arp_table[0].mac, MAC_PEER, 6);
	if (rt_create(&cfg, &F.rt) < 0)
		abort();
	F.w = memwire_create(&F.rt->pool, NULL);
	F.dev = memwire_attach(F.w, MAC_US, 1500, 0);
	F.peer = memwire_attach(F.w, MAC_PEER, 1500, 0);
	if (!F.w || !F.dev || !F.peer || inet_create(F.rt, F.dev, &cfg, &F.in) < 0)
		abort();
	const struct queue_ops *ops;
	if (inet_socket(F.in, SOCK_DGRAM, &F.q, &ops) < 0 || qd_install(&F.rt->qds, F.q, ops) < 0)
		abort();
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7) };
	if (ops->bind(F.q, &a) < 0)
		abort();
	start_pop();
}

/* One poll, the coroutines it woke, what the stack sent dropped, a completed pop collected. */
static void run(void)
{
	timer_run(&F.rt->timers, clock_now());
	inet_poll(F.in);
	sched_round(&F.rt->sched);
	struct pkt p[32];
	int n;
	while ((n = F.peer->ops->rx_burst(F.peer, p, 32)) > 0)
		for (int i = 0; i < n; i++)
			buf_unref(&F.rt->pool, p[i].buf);
	struct op *op = op_lookup(&F.rt->ops, F.pop);
	if (op && op->state == OP_DONE) {
		demi_qresult_t qr;
		op_collect(&F.rt->ops, op, &qr);
		if (qr.qr_opcode == DEMI_OPC_POP)
			buf_app_free(&F.rt->pool, &qr.qr_value.sga);
		start_pop();
	}
}

static void frame(const uint8_t *f, size_t len)
{
	if (len && memwire_inject(F.dev, f, (uint32_t)len) == 0)
		run();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.rt)
		setup();
	if (size == 0)
		return 0;
	if (!(data[0] & 0x80)) {
		frame(data + 1, size - 1);
		return 0;
	}
	size_t at = 1;
	while (at + 3 <= size) {
		uint32_t delay = data[at], len = (uint32_t)data[at + 1] << 8 | data[at + 2];
		at += 3;
		if (len > size - at)
			len = (uint32_t)(size - at);
		if (delay) {
			clock_advance(delay * 100 * NSEC_PER_MSEC);
			run();
		}
		frame(data + at, len);
		at += len;
	}
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
int main(int argc, char **argv)
{
	int count;
	int err = fuzz_replay(argc, argv, &count) < 0;
	if (!F.rt)
		setup();
	/* Every timer fires (reassembly, ARP), then the stack goes: every buffer must be back. */
	clock_advance(60 * NSEC_PER_SEC);
	run();
	struct demi_netstats st = F.in->st;
	inet_destroy(F.in);
	memwire_destroy(F.w);
	uint32_t left = F.rt->pool.in_use;
	rt_destroy(F.rt);
	printf("replayed %d inputs: eth rx %llu, ipv4 rx %llu, udp rx %llu, reassembled %llu; %u buffers left\n", count,
	       (unsigned long long)st.eth.rx_frames, (unsigned long long)st.ipv4.rx_packets,
	       (unsigned long long)st.udp.rx_datagrams, (unsigned long long)st.ipv4.reass_ok, left);
	return err || left ? 1 : 0;
}
#endif
