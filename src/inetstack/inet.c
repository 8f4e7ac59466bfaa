/* The stack's top: creation, the poll loop and socket creation; it calls down into every protocol. */
#include "inet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../runtime/clock.h"
#include "../runtime/log.h"
#include "eth/eth.h"
#include "tcp/tcp.h"
#include "inet_priv.h"
#include "inet_tx.h"

#define INET_EXIT_DRAIN_NS (2ull * NSEC_PER_SEC) /* teardown waits this long at most for unacknowledged FINs */

__thread struct inet *inet_current;

int inet_config_check(const struct demi_config *cfg, const char *who)
{
	if (!cfg->has_local_ipv4_addr || cfg->local_ipv4_addr.s_addr == 0) {
		log_error("%s: no local address: set demikernel.local_ipv4_addr or LOCAL_IPV4_ADDR", who);
		return -EINVAL;
	}
	if (cfg->has_default_gateway) {
		uint32_t gw = cfg->default_gateway.s_addr, mask = inet_prefix_mask(cfg->ipv4_prefix_len);
		if (!cfg->ipv4_prefix_len) {
			log_error("%s: inetstack_config.default_gateway needs inetstack_config.ipv4_prefix_len (IPV4_PREFIX_LEN): "
				  "without a subnet every address is on the link",
				  who);
			return -EINVAL;
		}
		if ((gw & mask) != (cfg->local_ipv4_addr.s_addr & mask) || gw == cfg->local_ipv4_addr.s_addr) {
			log_error("%s: inetstack_config.default_gateway must be another address inside the local subnet "
				  "(local_ipv4_addr/ipv4_prefix_len)",
				  who);
			return -EINVAL;
		}
	}
	return 0;
}

int inet_create(struct rt *rt, struct netdev *dev, const struct demi_config *cfg, struct inet **out)
{
	int cerr = inet_config_check(cfg, "inetstack");
	if (cerr)
		return cerr;
	if (dev->pool && dev->pool != &rt->pool) {
		/* Popped payloads are handed to the application as they arrived: one pool. */
		log_error("inetstack: the device must receive into the runtime's buffer pool");
		return -EINVAL;
	}
	struct inet *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->rt = rt;
	in->dev = dev;
	in->pool = &rt->pool;
	in->poll = inet_poll; /* the protocols below reach the top only through this */
	in->addr = cfg->local_ipv4_addr.s_addr;
	in->netmask = inet_prefix_mask(cfg->ipv4_prefix_len);
	in->gateway = cfg->has_default_gateway ? cfg->default_gateway.s_addr : 0;
	memcpy(in->mac, cfg->has_local_link_addr ? cfg->local_link_addr : dev->mac, 6);
	in->mtu = dev->mtu ? dev->mtu : cfg->mtu;
	if (cfg->mtu && cfg->mtu < in->mtu)
		in->mtu = cfg->mtu;
	if (in->mtu < 68) /* RFC 791: every host must handle 68-byte datagrams unfragmented */
		in->mtu = 68;
	in->caps = dev->caps;
	if (!cfg->udp_checksum_offload)
		in->caps &= ~(uint32_t)NETDEV_TX_UDP_CSUM;
	if (!cfg->tcp_checksum_offload)
		in->caps &= ~(uint32_t)NETDEV_TX_TCP_CSUM;
	if (!cfg->tcp_segmentation_offload || dev->tso_max <= in->mtu)
		in->caps &= ~(uint32_t)NETDEV_TX_TSO;
	in->ip_id = (uint16_t)(rt->ops.completions ^ (uintptr_t)in >> 4);
	inet_set_ports(in, &(struct inet_ports){ 0 }); /* the whole range until the libOS narrows it */
	arp_init(in, cfg);
	icmp_init(in);
	udp_init(in);
	int terr = tcp_init(in, cfg);
	if (terr) {
		arp_fini(in);
		free(in);
		return terr;
	}
	inet_current = in;
	int err = arp_announce(in);
	if (err)
		log_warn("inetstack: gratuitous ARP not sent (%d)", err);
	inet_tx_flush(in);
	*out = in;
	return 0;
}

/*
 * A process that exits right after closing would take its unacknowledged
 * data and FINs with it, where the kernel would go on retransmitting: the
 * stack keeps polling (device, timers) until every connection's bytes and
 * FIN are acknowledged, for INET_EXIT_DRAIN_NS at most. Not under the
 * virtual clock, which only tests advance.
 */
static void exit_drain(struct inet *in)
{
	if (clock_is_virtual())
		return;
	uint64_t end = clock_now() + INET_EXIT_DRAIN_NS;
	while (tcp_unfinished(in) && clock_now() < end) {
		inet_poll(in);
		timer_run(&in->rt->timers, clock_now());
		inet_tx_flush(in);
	}
}

void inet_destroy(struct inet *in)
{
	if (!in)
		return;
	udp_fini(in);
	tcp_close_all(in);
	exit_drain(in);
	tcp_fini(in);
	inet_tx_flush(in); /* the RSTs of connections still open */
	inet_stats_log(in);
	arp_fini(in);
	ipv4_reass_fini(in);
	inet_tx_drop_all(in); /* what the device did not take by now never leaves */
	if (inet_current == in)
		inet_current = NULL;
	free(in);
}

int inet_poll(struct inet *in)
{
	int n = inet_poll_rx(in);
	inet_tx_flush(in);
	return n;
}

int inet_poll_rx(struct inet *in)
{
	int done = 0;
	in->npolls++;
	in->in_poll = true;
	/* Looped-back packets queued before this poll; those they cause wait for the next one. */
	if (in->loop_head != in->loop_tail)
		in->now = clock_now();
	for (uint32_t end = in->loop_tail; in->loop_head != end; done++) {
		struct pkt p = in->loopq[in->loop_head++ & (INET_LOOPQ - 1)];
		ipv4_input(in, &p, true);
	}
	struct pkt burst[INET_RX_BURST];
	int n = in->dev->ops->rx_burst(in->dev, burst, INET_RX_BURST);
	if (n > 0)
		in->now = clock_now(); /* read once per burst, and only when one came: empty polls stay cheap */
	for (int i = 0; i < n; i++)
		eth_input(in, &burst[i]);
	in->in_poll = false;
	return done + (n > 0 ? n : 0);
}

int inet_socket(struct inet *in, int type, struct queue **out, const struct queue_ops **ops)
{
	if (type == SOCK_STREAM)
		return tcp_socket(in, out, ops);
	if (type != SOCK_DGRAM)
		return -ENOTSUP;
	return udp_socket(in, out, ops);
}
