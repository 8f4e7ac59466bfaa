/* UDP over memwire: echo, addresses and errors, loss, queues, loopback, the copy rule. */
#include "inet_test.h"

#include <demi/memq.h>

static void fini(void) { tnet_fini(); }
static void init(void) { tnet_init(NULL, NULL); }

TestSuite(udp, .init = init, .fini = fini, .timeout = 20);

static demi_qtoken_t pushto(int qd, demi_sgarray_t *sga, uint32_t ip, uint16_t port)
{
	struct sockaddr_in to = tnet_addr(ip, port);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pushto(&qt, qd, sga, (const struct sockaddr *)&to, sizeof(to)), 0);
	return qt;
}

static demi_qtoken_t pop(int qd)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	return qt;
}

static void check_payload(const demi_sgarray_t *sga, uint32_t len, uint8_t tag)
{
	cr_assert_eq(sga->sga_segs[0].sgaseg_len, len);
	const uint8_t *p = sga->sga_segs[0].sgaseg_buf;
	for (uint32_t i = 0; i < len; i++)
		cr_assert_eq(p[i], (uint8_t)(tag + i), "byte %u", i);
}

/* A datagram from A to B, resolving B's address on the way, arrives whole with A's address. */
Test(udp, pushto_pop_with_sender)
{
	int a = tnet_udp(NA, 0), b = tnet_udp(NB, 7000);
	demi_qtoken_t pq = pop(b);
	cr_assert_not(tnet_done(pq));
	demi_sgarray_t sga = tnet_sga(100, 3);
	demi_qtoken_t qt = pushto(a, &sga, IP_B, 7000);
	cr_assert_eq(demi_sgafree(&sga), 0);
	demi_qresult_t qr = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	qr = tnet_wait(pq, NSEC_PER_SEC);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	check_payload(&qr.qr_value.sga, 100, 3);
	struct sockaddr_in an;
	socklen_t len = sizeof(an);
	cr_assert_eq(demi_getsockname(a, (struct sockaddr *)&an, &len), 0);
	cr_assert_eq(qr.qr_value.sga.sga_addr.sin_addr.s_addr, IP_A);
	cr_assert_eq(qr.qr_value.sga.sga_addr.sin_port, an.sin_port);
	cr_assert_geq(ntohs(an.sin_port), UDP_EPHEMERAL_FIRST);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(tnet_stats(NA)->arp.tx_requests, 2); /* the gratuitous one and B's */
	cr_assert_eq(tnet_stats(NB)->udp.rx_datagrams, 1);
}

/* An echo server on B sends each datagram back; the popped sga goes straight back. */
Test(udp, echo_many_sizes)
{
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001);
	static const uint32_t sizes[] = { 1, 18, 64, 1000, 1472, 1473, 4000, 9000, 30000, 65507 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		demi_sgarray_t sga = tnet_sga(sizes[i], (uint8_t)i);
		demi_qtoken_t pb = pop(b);
		tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
		demi_qresult_t qr = tnet_wait(pb, NSEC_PER_SEC);
		check_payload(&qr.qr_value.sga, sizes[i], (uint8_t)i);
		/* Echo: push the popped sga back to its sender. */
		demi_sgarray_t back = qr.qr_value.sga;
		demi_qtoken_t pa = pop(a);
		struct sockaddr_in from = back.sga_addr;
		demi_qtoken_t qt;
		cr_assert_eq(demi_pushto(&qt, b, &back, (const struct sockaddr *)&from, sizeof(from)), 0);
		tnet_wait(qt, NSEC_PER_SEC);
		cr_assert_eq(demi_sgafree(&back), 0);
		qr = tnet_wait(pa, NSEC_PER_SEC);
		check_payload(&qr.qr_value.sga, sizes[i], (uint8_t)i);
		cr_assert_eq(qr.qr_value.sga.sga_addr.sin_port, htons(5001));
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	/* 1473 bytes and up do not fit 1500: fragmented and reassembled. */
	cr_assert_eq(tnet_stats(NA)->ipv4.frag_tx_datagrams, 5);
	cr_assert_eq(tnet_stats(NB)->ipv4.reass_ok, 5);
	cr_assert_eq(tnet_stats(NB)->ipv4.frag_tx_datagrams, 5);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_ok, 5);
	cr_assert_eq(tnet_stats(NA)->udp.drop_checksum + tnet_stats(NB)->udp.drop_checksum, 0);
}

/* The copy rule: a fresh sga goes out in place; a popped one (payload behind headers) is copied. */
Test(udp, copy_rule_counters)
{
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001);
	demi_sgarray_t sga = tnet_sga(200, 1);
	tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->udp.tx_in_place, 1);
	cr_assert_eq(tnet_stats(NA)->udp.tx_copies, 0);
	/* The same buffer pushed again while still held elsewhere (a memory queue) is copied. */
	int mq;
	cr_assert_eq(demi_queue(&mq), 0);
	demi_qtoken_t qt;
	cr_assert_eq(demi_push(&qt, mq, &sga), 0);
	tnet_wait(qt, NSEC_PER_SEC);
	tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->udp.tx_copies, 1);
	cr_assert_eq(demi_close(mq), 0);
	/* A segment that does not start the buffer is copied. */
	demi_sgarray_t mid = sga;
	mid.sga_segs[0].sgaseg_buf = (uint8_t *)mid.sga_segs[0].sgaseg_buf + 10;
	mid.sga_segs[0].sgaseg_len = 50;
	tnet_wait(pushto(a, &mid, IP_B, 5001), NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->udp.tx_copies, 2);
	for (int i = 0; i < 3; i++) {
		demi_qresult_t qr = tnet_wait(pop(b), NSEC_PER_SEC);
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, i < 2 ? 200 : 50);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	}
	/* The sender's bytes were not touched by the headers written in front of them. */
	const uint8_t *p = sga.sga_segs[0].sgaseg_buf;
	for (int i = 0; i < 200; i++)
		cr_assert_eq(p[i], (uint8_t)(1 + i));
	cr_assert_eq(demi_sgafree(&sga), 0);
}

/* The API reference's errors (doc/api/) for UDP sockets. */
Test(udp, error_semantics)
{
	int a = tnet_udp(NA, 6000);
	struct queue *q;
	const struct queue_ops *ops;
	cr_assert_eq(inet_socket(T.in[NA], SOCK_DGRAM, &q, &ops), 0);
	cr_assert_eq(qd_install(&T.rt->qds, q, ops), 0);
	int s = q->qd;
	struct sockaddr_in in_use = tnet_addr(IP_A, 6000), foreign = tnet_addr(inet_addr("192.0.2.1"), 1);
	cr_assert_eq(demi_bind(s, (const struct sockaddr *)&in_use, sizeof(in_use)), EADDRINUSE);
	cr_assert_eq(demi_bind(s, (const struct sockaddr *)&foreign, sizeof(foreign)), EADDRNOTAVAIL);
	struct sockaddr_in any = tnet_addr(INADDR_ANY, 6001);
	cr_assert_eq(demi_bind(s, (const struct sockaddr *)&any, sizeof(any)), 0);
	cr_assert_eq(demi_bind(s, (const struct sockaddr *)&any, sizeof(any)), EINVAL);
	demi_sgarray_t sga = tnet_sga(10, 0);
	demi_qtoken_t qt;
	cr_assert_eq(demi_push(&qt, a, &sga), EDESTADDRREQ);
	struct sockaddr_in zero = tnet_addr(IP_B, 0);
	cr_assert_eq(demi_pushto(&qt, a, &sga, (const struct sockaddr *)&zero, sizeof(zero)), EINVAL);
	cr_assert_eq(demi_listen(a, 1), ENOTSUP);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	cr_assert_eq(demi_getpeername(a, (struct sockaddr *)&peer, &len), ENOTCONN);
	cr_assert_eq(demi_sgafree(&sga), 0);
	demi_sgarray_t big = demi_sgaalloc(65508);
	cr_assert_not_null(big.sga_buf);
	struct sockaddr_in to = tnet_addr(IP_B, 9);
	cr_assert_eq(demi_pushto(&qt, a, &big, (const struct sockaddr *)&to, sizeof(to)), EMSGSIZE);
	cr_assert_eq(demi_sgafree(&big), 0);
	/* Options: stored, read back; unknown level and name as catnap answers them. */
	int v = 100000;
	cr_assert_eq(demi_setsockopt(a, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
	v = 0;
	len = sizeof(v);
	cr_assert_eq(demi_getsockopt(a, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	cr_assert_eq(v, 100000);
	cr_assert_eq(demi_getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &len), 0);
	cr_assert_eq(v, SOCK_DGRAM);
	cr_assert_eq(demi_setsockopt(a, 0x7ead, SO_RCVBUF, &v, sizeof(v)), ENOTSUP);
	cr_assert_eq(demi_setsockopt(a, SOL_SOCKET, 0x7eaf, &v, sizeof(v)), ENOPROTOOPT);
	cr_assert_eq(demi_setsockopt(a, SOL_SOCKET, SO_RCVBUF, &v, 2), EINVAL);
	/* Ephemeral ports differ. */
	int e1 = tnet_udp(NA, 0), e2 = tnet_udp(NA, 0);
	struct sockaddr_in n1, n2;
	len = sizeof(n1);
	demi_getsockname(e1, (struct sockaddr *)&n1, &len);
	demi_getsockname(e2, (struct sockaddr *)&n2, &len);
	cr_assert_neq(n1.sin_port, n2.sin_port);
	cr_assert_eq(n1.sin_addr.s_addr, IP_A);
}

/* A connected socket pushes to its peer and takes datagrams from it only. */
Test(udp, connected_filters_peer)
{
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001), a2 = tnet_udp(NA, 5002);
	struct sockaddr_in to = tnet_addr(IP_A, 5000);
	demi_qtoken_t qt;
	cr_assert_eq(demi_connect(&qt, b, (const struct sockaddr *)&to, sizeof(to)), 0);
	cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_CONNECT);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	cr_assert_eq(demi_getpeername(b, (struct sockaddr *)&peer, &len), 0);
	cr_assert_eq(peer.sin_port, htons(5000));
	demi_sgarray_t sga = tnet_sga(20, 9);
	tnet_wait(pushto(a2, &sga, IP_B, 5001), NSEC_PER_SEC); /* not from the peer: dropped */
	tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
	demi_qresult_t qr = tnet_wait(pop(b), NSEC_PER_SEC);
	cr_assert_eq(qr.qr_value.sga.sga_addr.sin_port, htons(5000));
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(tnet_stats(NB)->udp.drop_not_peer, 1);
	cr_assert_eq(demi_push(&qt, b, &sga), 0);
	tnet_wait(qt, NSEC_PER_SEC);
	qr = tnet_wait(pop(a), NSEC_PER_SEC);
	check_payload(&qr.qr_value.sga, 20, 9);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(demi_sgafree(&sga), 0);
}

/* Pops complete in order; closing cancels the ones still waiting. */
Test(udp, pops_in_order_and_close_cancels)
{
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001);
	demi_qtoken_t p[4];
	for (int i = 0; i < 4; i++)
		p[i] = pop(b);
	for (int i = 0; i < 3; i++) {
		demi_sgarray_t sga = tnet_sga(10 + (uint32_t)i, (uint8_t)i);
		tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	for (int i = 0; i < 3; i++) {
		demi_qresult_t qr = tnet_wait(p[i], NSEC_PER_SEC);
		check_payload(&qr.qr_value.sga, 10 + (uint32_t)i, (uint8_t)i);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	}
	cr_assert_not(tnet_done(p[3]));
	cr_assert_eq(demi_close(b), 0);
	demi_qresult_t qr;
	struct timespec zero = { 0, 0 };
	cr_assert_eq(demi_wait(&qr, p[3], &zero), 0);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECANCELED);
}

/* The receive queue is bounded: what does not fit is dropped and counted; queued data is freed at close. */
Test(udp, receive_queue_bounded)
{
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001);
	int v = 4096;
	cr_assert_eq(demi_setsockopt(b, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
	for (int i = 0; i < 10; i++) {
		demi_sgarray_t sga = tnet_sga(1000, 0);
		tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NB)->udp.rx_datagrams, 4);
	cr_assert_eq(tnet_stats(NB)->udp.drop_rcvbuf, 6);
	cr_assert_eq(demi_close(b), 0); /* frees the 4 queued: the pool check at the end sees it */
}

/* A datagram to our own address is looped back without the device. */
Test(udp, loopback_to_own_address)
{
	int a = tnet_udp(NA, 5000), a2 = tnet_udp(NA, 5001);
	uint64_t sent = memwire_stats(T.w)->sent;
	demi_qtoken_t pq = pop(a2);
	demi_sgarray_t sga = tnet_sga(3000, 5);
	tnet_wait(pushto(a, &sga, IP_A, 5001), NSEC_PER_SEC);
	cr_assert_eq(demi_sgafree(&sga), 0);
	demi_qresult_t qr = tnet_wait(pq, NSEC_PER_SEC);
	check_payload(&qr.qr_value.sga, 3000, 5);
	cr_assert_eq(qr.qr_value.sga.sga_addr.sin_port, htons(5000));
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(memwire_stats(T.w)->sent, sent);
	cr_assert_geq(tnet_stats(NA)->ipv4.loopback, 1);
}

/* Request and response with 20% loss each way: the client retries on a timeout, every exchange ends. */
Test(udp, echo_with_loss)
{
	tnet_fini();
	struct memwire_opts o = { .seed = 42, .loss_ppm = 200000, .dup_ppm = 50000, .reorder_ppm = 50000,
				  .delay_ns = 50 * NSEC_PER_USEC, .jitter_ns = 20 * NSEC_PER_USEC };
	tnet_init(&o, NULL);
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001);
	demi_qtoken_t server = pop(b);
	int done = 0, tries = 0;
	for (int i = 0; i < 50; i++) {
		demi_qtoken_t client = pop(a);
		for (;;) {
			tries++;
			demi_sgarray_t sga = tnet_sga(64, (uint8_t)i);
			tnet_wait(pushto(a, &sga, IP_B, 5001), NSEC_PER_SEC);
			cr_assert_eq(demi_sgafree(&sga), 0);
			/* Serve what arrives for 5 ms, then retry if the answer is not back. */
			uint64_t until = clock_now() + 5 * NSEC_PER_MSEC;
			while (clock_now() < until && !tnet_done(client)) {
				tnet_run(100 * NSEC_PER_USEC);
				if (tnet_done(server)) {
					demi_qresult_t qr;
					struct timespec zero = { 0, 0 };
					cr_assert_eq(demi_wait(&qr, server, &zero), 0);
					demi_sgarray_t back = qr.qr_value.sga;
					demi_qtoken_t qt;
					struct sockaddr_in from = back.sga_addr;
					cr_assert_eq(demi_pushto(&qt, b, &back, (const struct sockaddr *)&from, sizeof(from)), 0);
					cr_assert_eq(demi_sgafree(&back), 0);
					server = pop(b);
				}
			}
			if (tnet_done(client))
				break;
			cr_assert_lt(tries, 500);
		}
		demi_qresult_t qr = tnet_wait(client, NSEC_PER_SEC);
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 64);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
		done++;
	}
	cr_assert_eq(done, 50);
	cr_assert_gt(tries, 50, "20%% loss yet no retry");
	cr_assert_gt(memwire_stats(T.w)->lost, 0);
}

/* demi_netstats reads the thread's stack (the last one created). */
Test(udp, netstats_call)
{
	struct demi_netstats s;
	cr_assert_eq(demi_netstats(&s), 0);
	cr_assert_eq(s.arp.tx_requests, tnet_stats(NB)->arp.tx_requests);
	cr_assert_eq(demi_netstats(NULL), EINVAL);
}
