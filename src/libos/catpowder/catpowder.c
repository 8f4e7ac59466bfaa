/*
 * catpowder libOS: Demi's inetstack over a Linux packet socket (afpacket.c).
 * The inet libOS shell (inet_libos.c) does the rest: capture ($DEMI_PCAP), a
 * poller that runs the stack once per scheduler round, and, when idle, a
 * sleep in ppoll() on the packet socket.
 */
#include "../../runtime/libos_ops.h"
#include "../../runtime/rt.h"
#include "../inet_libos.h"
#include "afpacket.h"

static int open_device(struct rt *rt, struct netdev **out)
{
	return afp_open(rt->cfg.linux_interface_name, &rt->cfg, &rt->pool, out);
}

static const struct inet_libos_dev catpowder_dev = {
	.name = "catpowder",
	.open = open_device,
	.spin = false, /* inet_poll every round, ppoll on the socket when idle */
};

static int catpowder_init(struct rt *rt, void **state) { return inet_libos_init(&catpowder_dev, rt, state); }

const struct libos_ops catpowder_libos = {
	.name = "catpowder",
	.init = catpowder_init,
	.fini = inet_libos_fini,
	.socket = inet_libos_socket,
	.block = inet_libos_block,
	.wait_fd = inet_libos_wait_fd,
};
