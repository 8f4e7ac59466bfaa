/* catpowder's configuration keys (raw_socket:): the interface it binds, and Demikernel's XDP keys it accepts. */
#include "../../runtime/config_schema.h"

#include <stdint.h>

static const struct cfg_key keys[] = {
	CFG_STR_KEY("raw_socket", "linux_interface_name", "LINUX_INTERFACE_NAME", linux_interface_name, NULL,
		    "Interface that catpowder binds to."),
	{ .section = "raw_socket", .name = "xdp_interface_index", .env = "XDP_INTERFACE_INDEX", .type = CFG_INT,
	  .flags = CFG_UNUSED, CFG_FIELD(xdp_interface_index), .min = -1, .max = INT32_MAX, .def.i = -1,
	  .doc = "No effect on Demi: it names the interface of Demikernel's XDP libOS (Windows), and AF_XDP is "
		 "not built here; catpowder binds `raw_socket.linux_interface_name`." },
	/* Windows XDP tuning in Demikernel's own files: accepted so that they load unchanged. */
	CFG_IGNORED_KEY("raw_socket", "xdp_vf_interface_index"),
	CFG_IGNORED_KEY("raw_socket", "xdp_cohost_mode"),
	CFG_IGNORED_KEY("raw_socket", "xdp_always_poke_tx"),
	CFG_IGNORED_KEY("raw_socket", "xdp_always_send_on_vf"),
	CFG_IGNORED_KEY("raw_socket", "xdp_tcp_ports"),
	CFG_IGNORED_KEY("raw_socket", "xdp_udp_ports"),
	CFG_IGNORED_KEY("raw_socket", "xdp_reserved_port_count"),
	CFG_IGNORED_KEY("raw_socket", "xdp_reserved_port_protocol"),
	CFG_IGNORED_KEY("raw_socket", "xdp_rx_batch_size"),
	CFG_IGNORED_KEY("raw_socket", "xdp_tx_batch_size"),
	CFG_IGNORED_KEY("raw_socket", "xdp_buffer_provision_batch_size"),
	CFG_IGNORED_KEY("raw_socket", "xdp_adaptive_batching"),
	CFG_IGNORED_KEY("raw_socket", "xdp_buffer_overallocation_factor"),
	CFG_IGNORED_KEY("raw_socket", "rx_buffer_count"),
	CFG_IGNORED_KEY("raw_socket", "tx_buffer_count"),
	CFG_IGNORED_KEY("raw_socket", "rx_ring_size"),
	CFG_IGNORED_KEY("raw_socket", "tx_ring_size"),
	CFG_IGNORED_KEY("raw_socket", "rx_fill_ring_size"),
	CFG_IGNORED_KEY("raw_socket", "tx_fill_ring_size"),
	CFG_IGNORED_KEY("raw_socket", "tx_completion_ring_size"),
};

const struct cfg_table cfg_catpowder_table = CFG_TABLE("catpowder", keys);
