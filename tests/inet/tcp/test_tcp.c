/* TCP over memwire: handshake, echo, close, transfers, the basic error cases. */
#include "tcp_xfer.h"

static void fini(void) { tnet_fini(); }
static void init(void) { tnet_init(NULL, NULL); }

TestSuite(tcp, .init = init, .fini = fini, .timeout = 60);

static demi_qtoken_t push(int qd, demi_sgarray_t *sga)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_push(&qt, qd, sga), 0);
	return qt;
}

static demi_qtoken_t pop(int qd)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	return qt;
}

Test(tcp, handshake_and_names)
{
	struct tconn c = tnet_tcp_pair(8000);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	cr_assert_eq(demi_getpeername(c.cqd, (struct sockaddr *)&a, &len), 0);
	cr_assert_eq(a.sin_addr.s_addr, IP_B);
	cr_assert_eq(ntohs(a.sin_port), 8000);
	cr_assert_eq(demi_getsockname(c.cqd, (struct sockaddr *)&a, &len), 0);
	cr_assert_geq(ntohs(a.sin_port), 49152);
	cr_assert_eq(tnet_stats(NA)->tcp.active_opens, 1);
	cr_assert_eq(tnet_stats(NB)->tcp.passive_opens, 1);
	/* Both sides negotiated every option. */
	struct tcb *ca = tcb_of(qd_get(&T.rt->qds, c.cqd));
	struct tcb *sb = tcb_of(qd_get(&T.rt->qds, c.sqd));
	uint32_t want = TF_WSCALE | TF_TS | TF_SACK;
	cr_assert_eq(ca->flags & want, want);
	cr_assert_eq(sb->flags & want, want);
	cr_assert_eq(ca->mss, 1460 - 12);
	cr_assert_eq(ca->state, TCPS_ESTABLISHED);
	cr_assert_eq(sb->state, TCPS_ESTABLISHED);
}

Test(tcp, echo_and_zero_copy_pop)
{
	struct tconn c = tnet_tcp_pair(8001);
	for (int i = 0; i < 100; i++) {
		demi_sgarray_t sga = tnet_sga(64, (uint8_t)i);
		demi_qtoken_t pq = pop(c.sqd);
		demi_qtoken_t qt = push(c.cqd, &sga);
		cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
		cr_assert_eq(demi_sgafree(&sga), 0);
		demi_qresult_t r = tnet_wait(pq, NSEC_PER_SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		cr_assert_eq(r.qr_value.sga.sga_segs[0].sgaseg_len, 64);
		/* Echo the popped sga straight back. */
		pq = pop(c.cqd);
		qt = push(c.sqd, &r.qr_value.sga);
		cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
		r = tnet_wait(pq, NSEC_PER_SEC);
		cr_assert_eq(r.qr_value.sga.sga_segs[0].sgaseg_len, 64);
		const uint8_t *p = r.qr_value.sga.sga_segs[0].sgaseg_buf;
		for (int j = 0; j < 64; j++)
			cr_assert_eq(p[j], (uint8_t)(i + j));
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	struct demi_netstats_tcp *ta = &tnet_stats(NA)->tcp;
	cr_assert_eq(ta->retransmits, 0, "rto %llu fr %llu tx %llu", (unsigned long long)ta->rto_timeouts,
		     (unsigned long long)ta->fast_recoveries, (unsigned long long)ta->tx_segments);
	cr_assert_gt(tnet_stats(NA)->tcp.tx_in_place, 0);
}

Test(tcp, close_gives_eof_and_time_wait)
{
	struct tconn c = tnet_tcp_pair(8002);
	demi_qtoken_t pq = pop(c.sqd);
	cr_assert_eq(demi_close(c.cqd), 0);
	demi_qresult_t r = tnet_wait(pq, NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(r.qr_value.sga.sga_segs[0].sgaseg_len, 0);
	cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	struct tcb *sb = tcb_of(qd_get(&T.rt->qds, c.sqd));
	cr_assert_eq(sb->state, TCPS_CLOSE_WAIT);
	/* Half-close: the server can still send to the closed client, whose stack ACKs and resets (no reader). */
	cr_assert_eq(demi_close(c.sqd), 0);
	tnet_run(10 * NSEC_PER_MSEC);
	/* A's connection is in TIME-WAIT, B's is gone. */
	cr_assert_eq(T.in[NB]->tcp.nconns, 1); /* the listener */
	cr_assert_eq(T.in[NA]->tcp.nconns, 1);
	struct tcb *tw = container_of(T.in[NA]->tcp.conns.next, struct tcb, link);
	cr_assert_eq(tw->state, TCPS_TIME_WAIT);
	tnet_run(61 * NSEC_PER_SEC);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
}

Test(tcp, connection_refused)
{
	int qd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_B, 9);
	demi_qtoken_t qt;
	cr_assert_eq(demi_connect(&qt, qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	demi_qresult_t r = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(r.qr_ret, ECONNREFUSED);
	cr_assert_eq(tnet_stats(NB)->tcp.rst_tx, 1);
}

Test(tcp, bulk_both_ways_clean)
{
	struct tconn c = tnet_tcp_pair(8003);
	struct xdir d[2];
	xdir_init(&d[0], c.cqd, c.sqd, 4 << 20, 1);
	xdir_init(&d[1], c.sqd, c.cqd, 4 << 20, 2);
	xfer_run(d, 2, 65536, 4, 20 * NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->tcp.retransmits, 0);
}

/* Data for a closed descriptor resets the connection (RFC 2525 section 2.17); the sender's next push fails. */
Test(tcp, push_to_closed_peer_fails)
{
	struct tconn c = tnet_tcp_pair(8004);
	cr_assert_eq(demi_close(c.sqd), 0);
	tnet_run(NSEC_PER_MSEC);
	int i;
	for (i = 0; i < 20; i++) {
		demi_sgarray_t sga = tnet_sga(1000, 1);
		demi_qtoken_t qt;
		int err = demi_push(&qt, c.cqd, &sga);
		cr_assert_eq(demi_sgafree(&sga), 0);
		if (err) {
			cr_assert(err == EPIPE || err == ECONNRESET || err == ENOTCONN);
			break;
		}
		demi_qresult_t r = tnet_wait(qt, NSEC_PER_SEC);
		if (r.qr_opcode == DEMI_OPC_FAILED) {
			cr_assert_eq(r.qr_ret, ECONNRESET);
			break;
		}
		tnet_run(NSEC_PER_MSEC);
	}
	cr_assert_lt(i, 3);
	cr_assert_geq(tnet_stats(NB)->tcp.rst_tx, 1, "i %d rst %llu", i, (unsigned long long)tnet_stats(NB)->tcp.rst_tx);
}

/* A connection on the accept queue takes data before the application accepts it (no reset). */
Test(tcp, data_before_accept_is_kept)
{
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 8005);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	int cqd = tnet_tcp(NA);
	demi_qtoken_t qt;
	cr_assert_eq(demi_connect(&qt, cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_CONNECT);
	demi_sgarray_t sga = tnet_sga(100, 9);
	qt = push(cqd, &sga);
	cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
	tnet_run(10 * NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NB)->tcp.rst_tx, 0);
	cr_assert_eq(demi_accept(&qt, lqd), 0);
	demi_qresult_t r = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	r = tnet_wait(pop(r.qr_value.ares.qd), NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(r.qr_value.sga.sga_segs[0].sgaseg_len, 100);
	cr_assert_eq(((uint8_t *)r.qr_value.sga.sga_segs[0].sgaseg_buf)[0], 9);
	cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
}
