/*
 * catnip's device: the EAL, one ethdev port, one receive and one transmit
 * queue and an mbuf pool, behind struct netdev. Frames are copied between
 * mbufs and the runtime's buffers in both directions for now.
 *
 * Zero copy is the next step (issue 5): register the runtime's buffer memory
 * with DPDK (rte_extmem_register, then rte_dev_dma_map for a real NIC) and
 * attach runtime buffers to mbufs as external buffers
 * (rte_pktmbuf_attach_extbuf, with a free callback that drops the buffer's
 * reference), so that a pushed buffer reaches rte_eth_tx_burst without a
 * memcpy, and receive into runtime buffers the same way.
 */
#include "dpdk_dev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "../../runtime/config.h"
#include "../../runtime/log.h"

#define ETH_HDR_LEN 14
#define ETH_MIN_FRAME 60 /* without the FCS: shorter frames are padded */
#define ETH_TYPE_IPV4 0x0800
#define IPV4_PROTO_UDP 17

struct dpdk_dev {
	struct netdev nd;
	uint16_t port;
	struct rte_mempool *mp;
	uint32_t tx_max;          /* longest frame an mbuf holds */
	uint64_t tx_ip_cksum;     /* RTE_MBUF_F_TX_IP_CKSUM when the port fills IPv4 header checksums */
	uint64_t tx_udp_cksum;    /* RTE_MBUF_F_TX_UDP_CKSUM when the port fills UDP checksums */
	struct dpdk_dev_stats st;
};

/* DPDK functions that fail with -1 or NULL leave the cause in rte_errno: the stack wants -errno. */
static int rte_err(void)
{
	return rte_errno > 0 ? -rte_errno : -EIO;
}

/*
 * rte_eal_init takes argv as main() has it: a program name first. It permutes
 * the array (getopt) but not the strings, which stay those of the runtime's
 * configuration: they outlive the EAL, in case it keeps a pointer to one.
 */
static int eal_start(const struct demi_config *cfg)
{
	static char prog[] = "demi";
	char *argv[CONFIG_EAL_ARGS_MAX + 2];
	int argc = 0;
	argv[argc++] = prog;
	for (int i = 0; i < cfg->eal_argc; i++)
		argv[argc++] = (char *)cfg->eal_argv[i];
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		int err = rte_err();
		if (err == -EALREADY)
			log_error("catnip: cannot start DPDK: the EAL was started before in this process");
		else
			log_error("catnip: cannot start DPDK: rte_eal_init failed (%s); check dpdk.eal_init / EAL_INIT",
				rte_strerror(-err));
		return err;
	}
	/* Issue 5: say whether we run on hugepages, since --no-huge costs TLB misses and a real NIC needs them. */
	if (rte_eal_has_hugepages())
		log_info("catnip: EAL up on hugepages");
	else
		log_info("catnip: EAL up without hugepages (--no-huge): ordinary pages, virtual devices only");
	return 0;
}

/* The port's link comes up some time after start (a NIC negotiates; net_tap waits for its interface). */
static int link_wait(uint16_t port)
{
	struct rte_eth_link link;
	for (int ms = 0; ms <= DPDK_DEV_LINK_WAIT_MS; ms += 10) {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP) {
			log_info("catnip: port %u link up, %u Mb/s", port, link.link_speed);
			return 0;
		}
		rte_delay_ms(10);
	}
	log_error("catnip: port %u: link still down after %d ms (cable, peer, or the tap interface?)", port,
		DPDK_DEV_LINK_WAIT_MS);
	return -ETIMEDOUT;
}

/* Turns on the transmit checksum offloads the port has and the configuration allows. */
static uint64_t pick_tx_offloads(struct dpdk_dev *dd, const struct rte_eth_dev_info *info,
	const struct demi_config *cfg)
{
	uint64_t on = 0;
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		on |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		dd->tx_ip_cksum = RTE_MBUF_F_TX_IP_CKSUM;
		dd->nd.caps |= NETDEV_TX_IPV4_CSUM;
	}
	/*
	 * The stack leaves the pseudo-header sum in the UDP field only when the
	 * configuration asks for UDP offload (inet.c masks the cap otherwise), so
	 * ask the port to finish it only then: on a full checksum it would write garbage.
	 */
	if (cfg->udp_checksum_offload && (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) && dd->tx_ip_cksum) {
		on |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		dd->tx_udp_cksum = RTE_MBUF_F_TX_UDP_CKSUM;
		dd->nd.caps |= NETDEV_TX_UDP_CSUM;
	}
	return on;
}

static void port_stop(struct dpdk_dev *dd)
{
	int err = rte_eth_dev_stop(dd->port);
	if (err)
		log_warn("catnip: port %u: stop failed (%s)", dd->port, rte_strerror(-err));
}

static int port_start(struct dpdk_dev *dd, const struct demi_config *cfg)
{
	uint16_t port = dd->port;
	struct rte_eth_dev_info info;
	int err = rte_eth_dev_info_get(port, &info);
	if (err) {
		log_error("catnip: port %u: no device information (%s)", port, rte_strerror(-err));
		return err;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.txmode.offloads = pick_tx_offloads(dd, &info, cfg);
	/* Receive checksums are verified in software: the flags DPDK sets are per frame, the stack's cap per device. */
	if ((err = rte_eth_dev_configure(port, 1, 1, &conf)) != 0) {
		log_error("catnip: port %u: configure failed (%s)", port, rte_strerror(-err));
		return err;
	}
	uint16_t nrx = DPDK_DEV_RX_DESC, ntx = DPDK_DEV_TX_DESC;
	if ((err = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx)) != 0)
		return err;
	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	if ((err = rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)socket, NULL, dd->mp)) != 0 ||
		(err = rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)socket, NULL)) != 0) {
		log_error("catnip: port %u: queue setup failed (%s)", port, rte_strerror(-err));
		return err;
	}
	if ((err = rte_eth_dev_start(port)) != 0) {
		log_error("catnip: port %u: start failed (%s)", port, rte_strerror(-err));
		return err;
	}
	/* A MAC of our own: frames to it reach us only if the port takes every frame. */
	if (cfg->has_local_link_addr && (err = rte_eth_promiscuous_enable(port)) != 0)
		log_warn("catnip: port %u: promiscuous mode refused (%s): frames to local_link_addr may not arrive",
			port, rte_strerror(-err));
	if ((err = link_wait(port)) != 0)
		port_stop(dd);
	return err;
}

static int dpdk_rx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)d;
	struct rte_mbuf *ms[DPDK_DEV_BURST];
	if (n > DPDK_DEV_BURST)
		n = DPDK_DEV_BURST;
	uint16_t got = rte_eth_rx_burst(dd->port, 0, ms, (uint16_t)n);
	int out = 0;
	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *m = ms[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);
		/*
		 * Copy into a runtime buffer, at buf_data so the headroom stays: the
		 * mbuf goes straight back to the pool and a popped payload may live on
		 * in the application. (Zero copy: see the top of this file.)
		 */
		struct buf *b = buf_alloc(dd->nd.pool, len);
		if (!b) {
			dd->st.rx_nobuf++;
			rte_pktmbuf_free(m);
			continue;
		}
		uint8_t *data = buf_data(b);
		/* rte_pktmbuf_read copies a chained mbuf, and returns the mbuf's own data when it is one segment. */
		const void *src = rte_pktmbuf_read(m, 0, len, data);
		if (src != data)
			memcpy(data, src, len);
		rte_pktmbuf_free(m);
		pkts[out].buf = b;
		pkts[out].data = data;
		pkts[out].len = len;
		out++;
		dd->st.rx_frames++;
		dd->st.rx_bytes += len;
	}
	return out;
}

/* Asks the port to fill the checksums the stack left to it (an IPv4 frame's header, an unfragmented UDP datagram's). */
static void tx_offload(struct dpdk_dev *dd, struct rte_mbuf *m, const uint8_t *f, uint32_t len)
{
	if (!dd->tx_ip_cksum || len < ETH_HDR_LEN + 20 || ((f[12] << 8) | f[13]) != ETH_TYPE_IPV4)
		return;
	const uint8_t *ih = f + ETH_HDR_LEN;
	uint32_t hlen = (ih[0] & 0x0fu) * 4u;
	m->l2_len = ETH_HDR_LEN;
	m->l3_len = hlen;
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | dd->tx_ip_cksum;
	/* The stack offloads UDP only for datagrams that fit one frame: a fragment's field is final. */
	uint16_t off = (uint16_t)((ih[6] << 8) | ih[7]);
	if (dd->tx_udp_cksum && ih[9] == IPV4_PROTO_UDP && (off & 0x3fffu) == 0)
		m->ol_flags |= dd->tx_udp_cksum;
}

static int dpdk_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)d;
	struct rte_mbuf *ms[DPDK_DEV_BURST];
	int from[DPDK_DEV_BURST]; /* which pkt each mbuf carries, to say which the port did not take */
	uint32_t bytes[DPDK_DEV_BURST];
	uint16_t k = 0;
	int i;
	if (n > DPDK_DEV_BURST)
		n = DPDK_DEV_BURST;
	for (i = 0; i < n; i++) {
		struct pkt *p = &pkts[i];
		if (p->len > dd->tx_max || p->len < ETH_HDR_LEN) {
			/* Accepted and dropped: refusing it would leave the stack retrying it forever. */
			if (dd->st.tx_oversize++ == 0)
				log_warn("catnip: dropping a %u-byte frame (largest %u)", p->len, dd->tx_max);
			continue;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(dd->mp);
		if (!m) {
			dd->st.tx_nombuf++;
			break;
		}
		uint32_t len = p->len < ETH_MIN_FRAME ? ETH_MIN_FRAME : p->len;
		uint8_t *dst = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
		memcpy(dst, p->data, p->len);
		/* NICs pad short frames; virtual devices (net_tap) do not, so pad here. */
		if (len > p->len)
			memset(dst + p->len, 0, len - p->len);
		tx_offload(dd, m, p->data, p->len);
		ms[k] = m;
		bytes[k] = len;
		from[k] = i;
		k++;
	}
	uint16_t sent = k ? rte_eth_tx_burst(dd->port, 0, ms, k) : 0;
	int accepted = i;
	if (sent < k) {
		/* The ring is full: give back the frames it did not take, and the stack keeps their buffers. */
		dd->st.tx_full++;
		accepted = from[sent];
		for (uint16_t j = sent; j < k; j++)
			rte_pktmbuf_free(ms[j]);
	}
	for (int j = 0; j < accepted; j++)
		buf_unref(dd->nd.pool, pkts[j].buf);
	/* Counted from our copy of the lengths: the port may have freed a sent mbuf already. */
	for (uint16_t j = 0; j < sent; j++)
		dd->st.tx_bytes += bytes[j];
	dd->st.tx_frames += sent;
	return accepted;
}

static void dpdk_close(struct netdev *d)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)d;
	log_info("catnip: port %u: rx %lu frames (%lu dropped for buffers), tx %lu frames (%lu oversize)", dd->port,
		(unsigned long)dd->st.rx_frames, (unsigned long)dd->st.rx_nobuf, (unsigned long)dd->st.tx_frames,
		(unsigned long)dd->st.tx_oversize);
	port_stop(dd);
	/* Close before freeing the pool: closing releases the mbufs still in the port's rings. */
	rte_eth_dev_close(dd->port);
	rte_mempool_free(dd->mp);
	free(dd);
	rte_eal_cleanup();
}

static const struct netdev_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.wait_fd = NULL, /* no descriptor to sleep on: catnip polls (see catnip.c) */
	.close = dpdk_close,
};

int dpdk_dev_open(const struct demi_config *cfg, struct buf_pool *pool, struct netdev **out)
{
	int err = eal_start(cfg);
	if (err)
		return err;
	struct dpdk_dev *dd = calloc(1, sizeof(*dd));
	if (!dd) {
		err = -ENOMEM;
		goto fail_eal;
	}
	dd->nd.ops = &dpdk_ops;
	dd->nd.pool = pool;
	uint16_t port = 0;
	bool found = false;
	RTE_ETH_FOREACH_DEV(port) {
		found = true;
		break;
	}
	if (!found) {
		log_error("catnip: DPDK found no port: name one with --vdev in EAL_INIT, or bind a NIC to a DPDK driver");
		err = -ENODEV;
		goto fail_free;
	}
	dd->port = port;
	dd->mp = rte_pktmbuf_pool_create("demi_catnip", DPDK_DEV_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		(int)rte_socket_id());
	if (!dd->mp) {
		err = rte_err();
		log_error("catnip: no mbuf pool (%s): give the EAL more memory (-m) or hugepages", rte_strerror(-err));
		goto fail_free;
	}
	dd->tx_max = rte_pktmbuf_data_room_size(dd->mp) - RTE_PKTMBUF_HEADROOM;
	err = port_start(dd, cfg);
	if (err)
		goto fail_port;
	if (cfg->has_local_link_addr) {
		memcpy(dd->nd.mac, cfg->local_link_addr, 6);
	} else {
		struct rte_ether_addr mac;
		if ((err = rte_eth_macaddr_get(port, &mac)) != 0)
			goto fail_started;
		memcpy(dd->nd.mac, mac.addr_bytes, 6);
	}
	uint16_t mtu = 0;
	if (rte_eth_dev_get_mtu(port, &mtu) != 0 || mtu == 0)
		mtu = RTE_ETHER_MTU;
	/* Never more than an mbuf carries: we do not chain mbufs on transmit. */
	if ((uint32_t)mtu + ETH_HDR_LEN > dd->tx_max)
		mtu = (uint16_t)(dd->tx_max - ETH_HDR_LEN);
	dd->nd.mtu = mtu;
	log_info("catnip: port %u up, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, offload%s%s", port, dd->nd.mac[0],
		dd->nd.mac[1], dd->nd.mac[2], dd->nd.mac[3], dd->nd.mac[4], dd->nd.mac[5], mtu,
		dd->tx_ip_cksum ? " ipv4-cksum" : "", dd->tx_udp_cksum ? " udp-cksum" : "");
	*out = &dd->nd;
	return 0;
fail_started:
	port_stop(dd);
fail_port:
	rte_eth_dev_close(port);
	rte_mempool_free(dd->mp);
fail_free:
	free(dd);
fail_eal:
	rte_eal_cleanup();
	return err;
}

const struct dpdk_dev_stats *dpdk_dev_stats(struct netdev *d)
{
	return &((struct dpdk_dev *)d)->st;
}
