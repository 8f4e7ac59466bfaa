/*
 * catnip's device: one ethdev port, one receive and one transmit queue and
 * two mbuf pools, behind struct netdev. Set-up and teardown live here; the
 * EAL in dpdk_eal.c, the bursts in dpdk_io.c, zero-copy memory in dpdk_mem.c.
 */
#include "dpdk_priv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <demi/netstats.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "../../runtime/config.h"
#include "../../runtime/log.h"

/* DPDK functions that fail with -1 or NULL leave the cause in rte_errno: the stack wants -errno. */
static int rte_err(void)
{
	return rte_errno > 0 ? -rte_errno : -EIO;
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
	if (cfg->tcp_checksum_offload && (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) && dd->tx_ip_cksum) {
		on |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		dd->tx_tcp_cksum = RTE_MBUF_F_TX_TCP_CKSUM;
		dd->nd.caps |= NETDEV_TX_TCP_CSUM;
	}
	/* A short frame in a buffer we may not write past gets a zeroed segment chained to it. */
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
		on |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		dd->tx_chain = true;
	}
	return on;
}

/*
 * Where frames may go out attached to runtime buffers. A virtual device
 * reads them by virtual address; a device that DMAs needs the memory mapped
 * for it (dpdk_mem.c) and IOVA as VA, since we give it virtual addresses.
 * The virtual drivers listed copy or write a frame out within tx_burst; any
 * other may keep it in its ring after (dpdk_io.c says why that matters).
 */
static void pick_zero_copy(struct dpdk_dev *dd, const struct rte_eth_dev_info *info)
{
	static const char *const consume[] = { "net_tap", "net_memif", "net_af_packet", "net_af_xdp", NULL };
	const struct rte_bus *bus = info->device ? rte_dev_bus(info->device) : NULL;
	bool vdev = bus && strcmp(rte_bus_name(bus), "vdev") == 0;
	dd->iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	dd->dma_map = !vdev;
	dd->tx_zc = vdev || dd->iova_va;
	dd->tx_holds = true;
	for (const char *const *c = consume; vdev && *c; c++)
		if (strcmp(info->driver_name, *c) == 0)
			dd->tx_holds = false;
	/* memif's zero-copy mode hands our mbufs to the peer. */
	const struct rte_devargs *da = vdev ? rte_dev_devargs(info->device) : NULL;
	if (da && da->args && strstr(da->args, "zero-copy=yes"))
		dd->tx_holds = true;
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
	pick_zero_copy(dd, &info);
	/* Receive checksums are verified in software: the flags DPDK sets are per frame, the stack's cap per device. */
	if ((err = rte_eth_dev_configure(port, dd->nd.nqueues, dd->nd.nqueues, &conf)) != 0) {
		log_error("catnip: port %u: configure failed (%s)", port, rte_strerror(-err));
		return err;
	}
	uint16_t nrx = DPDK_DEV_RX_DESC, ntx = DPDK_DEV_TX_DESC;
	if ((err = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx)) != 0)
		return err;
	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	if ((err = rte_eth_rx_queue_setup(port, dd->nd.queue_id, nrx, (unsigned)socket, NULL, dd->mp)) != 0 ||
		(err = rte_eth_tx_queue_setup(port, dd->nd.queue_id, ntx, (unsigned)socket, NULL)) != 0) {
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

static void dpdk_stats(struct netdev *d, struct demi_netstats_eth *eth)
{
	const struct dpdk_dev_stats *st = &((struct dpdk_dev *)d)->st;
	eth->dev_rx_zero_copy = st->rx_zero_copy;
	eth->dev_tx_zero_copy = st->tx_zero_copy;
	eth->dev_rx_copied_bytes = st->rx_copied_bytes;
	eth->dev_tx_copied_bytes = st->tx_copied_bytes;
}

void dpdk_dev_log(const struct netdev *d)
{
	const struct dpdk_dev *dd = (const struct dpdk_dev *)d;
	const struct dpdk_dev_stats *st = &dd->st;
	log_info("catnip: port %u: rx %llu frames (%llu zero-copy, %llu bytes copied, %llu dropped for buffers), "
		 "tx %llu frames (%llu zero-copy, %llu bytes copied, %llu oversize, %llu ring full, %llu no mbuf), "
		 "%u buffer chunks registered", dd->port,
		(unsigned long long)st->rx_frames, (unsigned long long)st->rx_zero_copy,
		(unsigned long long)st->rx_copied_bytes, (unsigned long long)st->rx_nobuf,
		(unsigned long long)st->tx_frames, (unsigned long long)st->tx_zero_copy,
		(unsigned long long)st->tx_copied_bytes, (unsigned long long)st->tx_oversize,
		(unsigned long long)st->tx_full, (unsigned long long)st->tx_nombuf, dd->reg_chunks);
	/* The driver's own view: frames it could not take in (no mbuf, ring overrun) never reached us. */
	struct rte_eth_stats es;
	if (rte_eth_stats_get(dd->port, &es) == 0)
		log_info("catnip: port %u driver: rx %llu missed %llu errors %llu no-mbuf %llu, tx %llu errors %llu",
			dd->port, (unsigned long long)es.ipackets, (unsigned long long)es.imissed,
			(unsigned long long)es.ierrors, (unsigned long long)es.rx_nombuf,
			(unsigned long long)es.opackets, (unsigned long long)es.oerrors);
}

static void dpdk_close(struct netdev *d)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)d;
	dpdk_dev_log(d);
	port_stop(dd);
	/* Received mbufs the application still holds go before their pool; their buffers forget them. */
	dpdk_mem_detach(dd);
	/* Close before freeing the pools and the slots: closing frees the mbufs still in the rings (free_cb runs). */
	rte_eth_dev_close(dd->port);
	dpdk_mem_fini(dd);
	rte_mempool_free(dd->ext_mp);
	rte_mempool_free(dd->mp);
	uint16_t port = dd->port;
	free(dd);
	dpdk_eal_release(port);
}

static const struct netdev_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.wait_fd = NULL, /* no descriptor to sleep on: catnip polls (see catnip.c) */
	.close = dpdk_close,
	.stats = dpdk_stats,
};

/* The two mbuf pools: with data room (receive, copies), and without (attached to runtime buffers). */
static int pools_create(struct dpdk_dev *dd)
{
	/* The port's memory node; names per port, as another thread's catnip may have a port too. */
	int socket = rte_eth_dev_socket_id(dd->port);
	char name[RTE_MEMPOOL_NAMESIZE], ext_name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "demi_catnip_%u", dd->port);
	snprintf(ext_name, sizeof(ext_name), "demi_catnip_ext_%u", dd->port);
	dd->mp = rte_pktmbuf_pool_create(name, DPDK_DEV_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (dd->mp)
		dd->ext_mp = rte_pktmbuf_pool_create(ext_name, DPDK_DEV_EXT_MBUFS, 256, 0, 0, socket);
	if (!dd->mp || !dd->ext_mp) {
		int err = rte_err();
		log_error("catnip: no mbuf pool (%s): give the EAL more memory (-m) or hugepages", rte_strerror(-err));
		rte_mempool_free(dd->mp);
		return err;
	}
	dd->tx_max = rte_pktmbuf_data_room_size(dd->mp) - RTE_PKTMBUF_HEADROOM;
	/* Half the pool may sit in the stack's and the application's queues; past that, receive copies. */
	dd->rx_hold_max = DPDK_DEV_MBUFS / 2;
	return 0;
}

int dpdk_dev_open(const struct demi_config *cfg, struct buf_pool *pool, struct netdev **out)
{
	uint16_t port;
	int err = dpdk_eal_acquire(cfg, &port);
	if (err)
		return err;
	struct dpdk_dev *dd = calloc(1, sizeof(*dd));
	if (!dd) {
		err = -ENOMEM;
		goto fail_eal;
	}
	dd->nd.ops = &dpdk_ops;
	dd->nd.pool = pool;
	/*
	 * The seam for sharing a port: one queue pair per port today, queue 0 of
	 * 1. With RSS each instance would configure nqueues and drive its own
	 * queue_id of one port (the bursts already name dd->nd.queue_id).
	 */
	dd->nd.queue_id = 0;
	dd->nd.nqueues = 1;
	dd->port = port;
	if ((err = pools_create(dd)) != 0)
		goto fail_free;
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
	if ((err = dpdk_mem_init(dd)) != 0)
		goto fail_started;
	uint16_t mtu = 0;
	if (rte_eth_dev_get_mtu(port, &mtu) != 0 || mtu == 0)
		mtu = RTE_ETHER_MTU;
	/* Never more than an mbuf carries: a frame that is copied goes in one mbuf. */
	if ((uint32_t)mtu + ETH_HDR_LEN > dd->tx_max)
		mtu = (uint16_t)(dd->tx_max - ETH_HDR_LEN);
	dd->nd.mtu = mtu;
	log_info("catnip: port %u up, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, offload%s%s%s%s", port, dd->nd.mac[0],
		dd->nd.mac[1], dd->nd.mac[2], dd->nd.mac[3], dd->nd.mac[4], dd->nd.mac[5], mtu,
		dd->tx_ip_cksum ? " ipv4-cksum" : "", dd->tx_udp_cksum ? " udp-cksum" : "",
		dd->tx_tcp_cksum ? " tcp-cksum" : "", dd->tx_chain ? " multi-seg" : "");
	log_info("catnip: zero-copy transmit %s%s, receive on (up to %u mbufs held)",
		dd->tx_zc ? "on" : "off (a NIC needs IOVA as VA)",
		dd->tx_zc && dd->tx_holds ? " (but UDP from buffers the application holds: the driver keeps frames)" : "",
		dd->rx_hold_max);
	*out = &dd->nd;
	return 0;
fail_started:
	port_stop(dd);
fail_port:
	rte_eth_dev_close(port);
	rte_mempool_free(dd->ext_mp);
	rte_mempool_free(dd->mp);
fail_free:
	free(dd);
fail_eal:
	dpdk_eal_release(port);
	return err;
}

const struct dpdk_dev_stats *dpdk_dev_stats(struct netdev *d)
{
	return &((struct dpdk_dev *)d)->st;
}
