/* catpowder device set-up: the packet socket, its TPACKET_V2 rings, the interface's MAC and MTU. */
#include "afpacket_priv.h"

#include <arpa/inet.h>
#include <demi/netstats.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../runtime/config.h"
#include "../../runtime/log.h"

static int afp_wait_fd(struct netdev *d)
{
	return ((struct afp *)d)->fd;
}

static void afp_close(struct netdev *d)
{
	struct afp *a = (struct afp *)d;
	const struct afp_stats *s = afp_stats(d);
	log_info("catpowder: %s: rx %llu frames (%llu super-frames, %llu csum verified by the kernel, %llu completed; "
		 "dropped: %llu no buffer, %llu truncated, %llu vlan, %llu ring full), tx %llu frames (%llu TSO "
		 "super-segments, %llu ring-full stalls, %llu oversize, %llu errors)",
		 a->ifname, (unsigned long long)s->rx_frames, (unsigned long long)s->rx_gso,
		 (unsigned long long)s->rx_csum_valid, (unsigned long long)s->rx_csum_fixed,
		 (unsigned long long)s->rx_nobuf, (unsigned long long)s->rx_truncated, (unsigned long long)s->rx_vlan,
		 (unsigned long long)s->rx_ring_drops, (unsigned long long)s->tx_frames, (unsigned long long)s->tx_tso,
		 (unsigned long long)s->tx_ring_full, (unsigned long long)s->tx_oversize,
		 (unsigned long long)s->tx_errors);
	if (a->map)
		munmap(a->map, a->map_len);
	close(a->fd);
	free(a);
}

static void afp_dev_stats(struct netdev *d, struct demi_netstats_dev *dev)
{
	const struct afp_stats *s = afp_stats(d);
	dev->drop_rx_too_large = s->rx_truncated;
	dev->drop_rx_vlan = s->rx_vlan;
	dev->drop_rx_no_buffer = s->rx_nobuf;
	dev->drop_rx_ring_full = s->rx_ring_drops;
	dev->drop_tx_too_large = s->tx_oversize;
	dev->tx_ring_full = s->tx_ring_full;
	dev->rx_gso_frames = s->rx_gso;
	dev->rx_csum_trusted = s->rx_csum_valid + s->rx_csum_fixed;
	dev->tx_tso_frames = s->tx_tso;
}

static const struct netdev_ops afp_ops = {
	.rx_burst = afp_rx_burst,
	.tx_burst = afp_tx_burst,
	.wait_fd = afp_wait_fd,
	.close = afp_close,
	.dev_stats = afp_dev_stats,
};

void afp_read_kernel_drops(struct afp *a)
{
	/* The kernel's counters reset on every read: accumulate. */
	struct tpacket_stats ks;
	socklen_t len = sizeof(ks);
	if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
		a->st.rx_ring_drops += ks.tp_drops;
}

const struct afp_stats *afp_stats(struct netdev *d)
{
	struct afp *a = (struct afp *)d;
	afp_read_kernel_drops(a);
	return &a->st;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/* Reads MAC, MTU and state of the interface; logs and returns -errno when it is unusable. */
static int if_query(struct afp *a, uint8_t mac[6], uint32_t *mtu)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, a->ifname, sizeof(ifr.ifr_name) - 1);
	if (ioctl(a->fd, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	if (!(ifr.ifr_flags & IFF_UP)) {
		log_error("catpowder: interface %s is down (ip link set %s up)", a->ifname, a->ifname);
		return -ENETDOWN;
	}
	if (ioctl(a->fd, SIOCGIFMTU, &ifr) < 0)
		goto fail;
	*mtu = (uint32_t)ifr.ifr_mtu;
	if (ioctl(a->fd, SIOCGIFHWADDR, &ifr) < 0)
		goto fail;
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		log_error("catpowder: interface %s is not an Ethernet interface", a->ifname);
		return -EINVAL;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
fail:;
	int err = -errno;
	log_error("catpowder: cannot query interface %s: %s", a->ifname, strerror(-err));
	return err;
}

static int set_int(int fd, int opt, int val)
{
	return setsockopt(fd, SOL_PACKET, opt, &val, sizeof(val)) < 0 ? -errno : 0;
}

/*
 * Sets up both rings and maps them. Slots fit the largest frame: MTU +
 * Ethernet header + the slot's header, or with PACKET_VNET_HDR a 64 KiB
 * super-frame and its virtio-net header.
 */
static int rings_setup(struct afp *a)
{
	int err = set_int(a->fd, PACKET_VERSION, TPACKET_V2);
	if (err)
		return err;
	/*
	 * TPACKET_V2, not V3: V3 hands over whole blocks, and a block is only
	 * retired when full or when its timer (milliseconds) fires, which a
	 * request-response workload would wait for on every message. So every
	 * slot is as large as the largest frame, and 64 KiB slots cost memory
	 * (doc/catpowder.md, ring sizing); the option must come before the rings.
	 */
	a->vnet = set_int(a->fd, PACKET_VNET_HDR, 1) == 0;
	if (!a->vnet)
		log_info("catpowder: %s: no PACKET_VNET_HDR (kernel too old?): no super-frames, no TSO; turn GRO and the "
			 "peer's TSO off (doc/catpowder.md)", a->ifname);
	struct tpacket_req rx, tx;
	uint32_t frame, block;
	if (a->vnet) {
		uint32_t need = (uint32_t)TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + (uint32_t)sizeof(struct virtio_net_hdr) +
				ETH_HDR_LEN + AFP_GSO_MAX + 4 /* VLAN tag room */;
		frame = (uint32_t)TPACKET_ALIGN(need);
		/* The kernel allocates a block as 2^n pages: 1 MiB holds 15 slots with 6% to spare. */
		block = AFP_BIG_BLOCK;
		rx = (struct tpacket_req){ .tp_block_size = block, .tp_frame_size = frame, .tp_block_nr = AFP_RX_BIG_BLOCKS };
		tx = rx;
		tx.tp_block_nr = AFP_TX_BIG_BLOCKS;
	} else {
		uint32_t need = (uint32_t)TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + a->tx_max + 4 /* VLAN tag room */;
		frame = pow2_at_least(need < 2048 ? 2048 : need);
		block = frame < 65536 ? 65536 : frame;
		rx = (struct tpacket_req){
			.tp_block_size = block,
			.tp_frame_size = frame,
			.tp_block_nr = AFP_RX_FRAMES / (block / frame) ? AFP_RX_FRAMES / (block / frame) : 1,
		};
		tx = rx;
		tx.tp_block_nr = AFP_TX_FRAMES / (block / frame) ? AFP_TX_FRAMES / (block / frame) : 1;
	}
	rx.tp_frame_nr = rx.tp_block_nr * (block / frame);
	tx.tp_frame_nr = tx.tp_block_nr * (block / frame);
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) < 0 ||
	    setsockopt(a->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) < 0)
		return -errno;
	size_t rx_len = (size_t)rx.tp_block_size * rx.tp_block_nr;
	size_t tx_len = (size_t)tx.tp_block_size * tx.tp_block_nr;
	a->map_len = rx_len + tx_len;
	void *m = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, a->fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	a->map = m;
	a->rx = (struct afp_ring){ .base = a->map, .frame_size = frame, .block_size = block,
				   .per_block = block / frame, .nframes = rx.tp_frame_nr };
	a->tx = (struct afp_ring){ .base = a->map + rx_len, .frame_size = frame, .block_size = block,
				   .per_block = block / frame, .nframes = tx.tp_frame_nr };
	return 0;
}

/* The options that only make it faster or quieter: missing ones on older kernels are not an error. */
static void tune(struct afp *a)
{
	/*
	 * Straight to the driver: no qdisc between our ring and the interface.
	 * Not with super-segments: the bypass (__dev_direct_xmit) drops a GSO
	 * frame that the device cannot take whole (TSO off, a device without
	 * it) instead of cutting it in software, as the qdisc path does.
	 */
	if (!a->vnet && set_int(a->fd, PACKET_QDISC_BYPASS, 1))
		log_debug("catpowder: PACKET_QDISC_BYPASS unavailable");
	/* Our own transmissions are not looped back into our receive ring. */
	if (set_int(a->fd, PACKET_IGNORE_OUTGOING, 1))
		log_debug("catpowder: PACKET_IGNORE_OUTGOING unavailable; outgoing frames are skipped by type");
	/* A malformed transmit slot is skipped and freed instead of blocking the ring. */
	set_int(a->fd, PACKET_LOSS, 1);
}

static int promisc(struct afp *a)
{
	struct packet_mreq mr = { .mr_ifindex = a->ifindex, .mr_type = PACKET_MR_PROMISC };
	return setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ? -errno : 0;
}

static int afp_setup(struct afp *a, const struct demi_config *cfg)
{
	uint8_t ifmac[6];
	uint32_t ifmtu = 0;
	int err = if_query(a, ifmac, &ifmtu);
	if (err)
		return err;
	a->nd.mtu = ifmtu;
	if (cfg->mtu && cfg->mtu < ifmtu)
		a->nd.mtu = cfg->mtu;
	else if (cfg->mtu > ifmtu)
		log_warn("catpowder: MTU %u exceeds %s's %u; using %u", cfg->mtu, a->ifname, ifmtu, ifmtu);
	a->tx_max = a->nd.mtu + ETH_HDR_LEN;
	memcpy(a->nd.mac, cfg->has_local_link_addr ? cfg->local_link_addr : ifmac, 6);
	err = rings_setup(a);
	if (err) {
		log_error("catpowder: packet rings on %s: %s", a->ifname, strerror(-err));
		return err;
	}
	tune(a);
	if (a->vnet) { /* the kernel cuts what we send whole (GSO, in software where the NIC has no TSO) */
		a->nd.caps |= NETDEV_TX_TSO;
		a->nd.tso_max = AFP_GSO_MAX;
	}
	/* Bound only now, so no frame is queued to the socket before the rings exist. */
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = a->ifindex };
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		log_error("catpowder: bind to %s: %s", a->ifname, strerror(-err));
		return err;
	}
	/* A MAC of our own: the interface must pass frames addressed to it (a NIC filters; veth does not). */
	if (memcmp(a->nd.mac, ifmac, 6) != 0 && (err = promisc(a)) != 0) {
		log_error("catpowder: promiscuous mode on %s (for local_link_addr): %s", a->ifname, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * The kernel keeps receiving every frame catpowder receives (a packet socket
 * taps, it does not steal): if the kernel also owns our address, on this
 * interface or any other of the namespace (Linux's weak host model), its own
 * TCP answers every segment sent to us with a RST, and its ARP answers too.
 * Warned once per process, with the fix; a failed query says nothing.
 */
static void warn_kernel_owns_addr(const char *ifname, const struct demi_config *cfg)
{
	static int warned;
	struct ifaddrs *ifs;
	if (!cfg->has_local_ipv4_addr || __atomic_load_n(&warned, __ATOMIC_RELAXED) || getifaddrs(&ifs) < 0)
		return;
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
		if (sin->sin_addr.s_addr != cfg->local_ipv4_addr.s_addr)
			continue;
		if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			break;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		unsigned prefix = 0;
		if (i->ifa_netmask)
			prefix = (unsigned)__builtin_popcount(((const struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		log_warn("catpowder: the kernel also owns %s on %s%s%s: every TCP client will get a RST from it; "
			 "remove the address (ip addr del %s/%u dev %s) or use another local_ipv4_addr",
			 a, i->ifa_name, strcmp(i->ifa_name, ifname) ? ", and receives what arrives on " : "",
			 strcmp(i->ifa_name, ifname) ? ifname : "", a, prefix, i->ifa_name);
		break;
	}
	freeifaddrs(ifs);
}

int afp_open(const char *ifname, const struct demi_config *cfg, struct buf_pool *pool, struct netdev **out)
{
	if (!ifname || !*ifname) {
		log_error("catpowder: no interface: set raw_socket.linux_interface_name or LINUX_INTERFACE_NAME");
		return -EINVAL;
	}
	if (strlen(ifname) >= IFNAMSIZ) {
		log_error("catpowder: interface name '%s' is too long", ifname);
		return -EINVAL;
	}
	struct afp *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	a->nd.ops = &afp_ops;
	a->nd.pool = pool;
	/* Without PACKET_VNET_HDR no offloads: checksums are computed by the stack, received ones verified by it. */
	a->nd.caps = 0;
	a->nd.queue_id = 0; /* the whole interface: no PACKET_FANOUT yet */
	a->nd.nqueues = 1;
	/* Protocol 0: receives nothing until bound, after the rings are set up. */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		int err = -errno;
		if (err == -EPERM || err == -EACCES)
			log_error("catpowder: a packet socket needs CAP_NET_RAW: run as root (or grant the capability)");
		else
			log_error("catpowder: packet socket: %s", strerror(-err));
		free(a);
		return err == -EACCES ? -EPERM : err;
	}
	a->ifindex = (int)if_nametoindex(ifname);
	if (a->ifindex == 0) {
		log_error("catpowder: no interface named '%s' in this network namespace", ifname);
		close(a->fd);
		free(a);
		return -ENODEV;
	}
	int err = afp_setup(a, cfg);
	if (err) {
		if (a->map)
			munmap(a->map, a->map_len);
		close(a->fd);
		free(a);
		return err;
	}
	log_info("catpowder: %s: ifindex %d, MTU %u, MAC %02x:%02x:%02x:%02x:%02x:%02x, %u rx + %u tx slots of %u B "
		 "(%zu KiB of rings), offloads %s",
		 ifname, a->ifindex, a->nd.mtu, a->nd.mac[0], a->nd.mac[1], a->nd.mac[2], a->nd.mac[3], a->nd.mac[4],
		 a->nd.mac[5], a->rx.nframes, a->tx.nframes, a->rx.frame_size, a->map_len >> 10,
		 a->vnet ? "on (PACKET_VNET_HDR: super-frames in, TSO out)" : "off");
	warn_kernel_owns_addr(ifname, cfg);
	*out = &a->nd;
	return 0;
}
