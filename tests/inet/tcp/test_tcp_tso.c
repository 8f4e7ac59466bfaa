/*
 * TCP segmentation offload over memwire (NETDEV_TX_TSO ports): TCP output
 * builds super-segments of many MSS, the wire cuts them as a NIC would (or,
 * with tso_whole, delivers them whole as veth does, so the receiver takes
 * one large segment), and the bytes arrive intact both ways, with loss too.
 */
#include "tcp_xfer.h"

#include "net/netdev.h"

static bool tso_off;

static void cfg(struct demi_config *c, int idx)
{
	(void)idx;
	if (tso_off)
		c->tcp_segmentation_offload = false;
}

static void fini(void)
{
	tnet_fini();
	tnet_caps = 0;
	tso_off = false;
}

/* bytes each way over a wire with opts (after the handshake); returns the TCP counters of A and B summed. */
static struct demi_netstats_tcp run(uint64_t bytes, const struct memwire_opts *o)
{
	tnet_init(NULL, cfg);
	struct tconn c = tnet_tcp_pair(8200);
	if (o)
		memwire_set_opts(T.w, o);
	struct xdir d[2];
	xdir_init(&d[0], c.cqd, c.sqd, bytes, 21);
	xdir_init(&d[1], c.sqd, c.cqd, bytes, 22);
	xfer_run(d, 2, 65536, 8, 120 * NSEC_PER_SEC);
	struct demi_netstats_tcp a = tnet_stats(NA)->tcp, b = tnet_stats(NB)->tcp, s = a;
	s.tx_segments += b.tx_segments;
	s.rx_segments += b.rx_segments;
	s.tx_bytes += b.tx_bytes;
	s.retransmits += b.retransmits;
	struct memwire_opts none = { 0 };
	memwire_set_opts(T.w, &none);
	return s;
}

TestSuite(tcp_tso, .fini = fini, .timeout = 60);

Test(tcp_tso, super_segments_cut_by_the_wire)
{
	tnet_caps = NETDEV_TX_TSO;
	struct demi_netstats_tcp s = run(8u << 20, NULL);
	const struct memwire_stats *ws = memwire_stats(T.w);
	cr_assert_gt(ws->tso_cut, 0, "no super-segment reached the wire");
	/* 16 MiB in segments of 1448: over 11,000 data segments alone; with super-segments fewer, ACKs included. */
	cr_assert_lt(s.tx_segments, s.tx_bytes / 1448, "%llu segments for %llu bytes: no super-segments",
		     (unsigned long long)s.tx_segments, (unsigned long long)s.tx_bytes);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_checksum + tnet_stats(NB)->tcp.drop_checksum, 0);
}

Test(tcp_tso, whole_super_segments_taken_as_one)
{
	tnet_caps = NETDEV_TX_TSO;
	struct memwire_opts whole = { .tso_whole = true };
	struct demi_netstats_tcp s = run(8u << 20, &whole);
	cr_assert_gt(memwire_stats(T.w)->tso_cut, 0);
	/* The receivers took large segments: fewer in all than the MSS-sized data segments alone would be. */
	cr_assert_lt(s.rx_segments, s.tx_bytes / 1448, "%llu segments received", (unsigned long long)s.rx_segments);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_checksum + tnet_stats(NB)->tcp.drop_checksum, 0);
}

Test(tcp_tso, under_loss_and_reordering)
{
	tnet_caps = NETDEV_TX_TSO;
	struct memwire_opts lossy = { .seed = 7, .loss_ppm = 10000, .reorder_ppm = 10000, .delay_ns = 100 * 1000 };
	struct demi_netstats_tcp s = run(4u << 20, &lossy);
	cr_assert_gt(memwire_stats(T.w)->tso_cut, 0);
	cr_assert_gt(memwire_stats(T.w)->lost, 0);
	cr_assert_gt(s.retransmits, 0);
}

Test(tcp_tso, off_by_config)
{
	tnet_caps = NETDEV_TX_TSO;
	tso_off = true;
	struct demi_netstats_tcp s = run(2u << 20, NULL);
	cr_assert_eq(memwire_stats(T.w)->tso_cut, 0);
	cr_assert_geq(s.tx_segments, s.tx_bytes / 1448);
}

Test(tcp_tso, none_without_the_capability)
{
	struct demi_netstats_tcp s = run(2u << 20, NULL);
	cr_assert_eq(memwire_stats(T.w)->tso_cut, 0);
	cr_assert_geq(s.tx_segments, s.tx_bytes / 1448);
}
