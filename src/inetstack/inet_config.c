/* The inetstack's configuration keys: this host's addresses, the link MTU, offloads and ARP (demikernel:, inetstack_config:). */
#include "../runtime/config_schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PATH_LEN 128

/* One `"mac": "ip"` entry of inetstack_config.arp_table. */
static int arp_entry(struct cfg_node *n, const char *path, const char *mac, void *ctx)
{
	struct demi_config *c = ctx;
	struct config_arp_entry e;
	char why[96];

	if (cfg_parse_mac(mac, e.mac, why, sizeof(why)))
		return cfg_node_fail_key(n, "%s: %s, got '%.64s'", path, why, mac);
	if (cfg_expect_scalar(n, path, mac))
		return -EINVAL;
	if (cfg_parse_ipv4(cfg_node_text(n), &e.ip, why, sizeof(why)))
		return cfg_bad_value(n, path, mac, why);
	if (c->arp_table_len >= CONFIG_ARP_TABLE_MAX)
		return cfg_node_fail(n, "%s: too many entries (at most %d)", path, CONFIG_ARP_TABLE_MAX);
	c->arp_table[c->arp_table_len++] = e;
	return 0;
}

static int arp_read(struct demi_config *c, const struct cfg_key *k, struct cfg_node *n, const char *path)
{
	char full[PATH_LEN];

	snprintf(full, sizeof(full), "%s.%s", path, k->name);
	if (cfg_node_shape(n) != CFG_NODE_NULL)
		c->arp_table_len = 0; /* the file's table replaces, not extends, the current one */
	return cfg_node_map(n, full, arp_entry, c);
}

static const struct cfg_hooks arp_hooks = {
	.type_doc = "mapping `\"mac\": \"ipv4\"`, at most 64 entries",
	.read = arp_read,
};

static const struct cfg_key keys[] = {
	CFG_ADDR_KEY("demikernel", "local_ipv4_addr", "LOCAL_IPV4_ADDR", CFG_IPV4, local_ipv4_addr,
		     has_local_ipv4_addr, "This host's address, for the libOSes that run their own stack."),
	CFG_ADDR_KEY("demikernel", "local_link_addr", "LOCAL_LINK_ADDR", CFG_MAC, local_link_addr,
		     has_local_link_addr, "This host's link-layer address; unset: the device's."),

	CFG_UINT_KEY("inetstack_config", "mtu", "MTU", mtu, 1500, 68, 65535, "bytes",
		     "Link MTU; the device's when that is smaller."),
	CFG_UINT_KEY("inetstack_config", "mss", "MSS", mss, 1460, 88, 65495, "bytes",
		     "TCP maximum segment size we advertise."),
	{ .section = "inetstack_config", .name = "enable_jumbo_frames", .env = "ENABLE_JUMBO_FRAMES",
	  .type = CFG_BOOL, .flags = CFG_UNUSED, CFG_FIELD(enable_jumbo_frames), .def.u = false,
	  .doc = "No effect on Demi: frames are as large as `inetstack_config.mtu` and the device allow, so "
		 "set `mtu` (and `mss`) instead." },
	CFG_BOOL_KEY("inetstack_config", "udp_checksum_offload", "UDP_CHECKSUM_OFFLOAD", udp_checksum_offload,
		     false, "Leave UDP checksums to the NIC."),
	CFG_BOOL_KEY("inetstack_config", "tcp_checksum_offload", "TCP_CHECKSUM_OFFLOAD", tcp_checksum_offload,
		     false, "Leave TCP checksums to the NIC."),
	CFG_BOOL_KEY("inetstack_config", "tcp_segmentation_offload", "TCP_SEGMENTATION_OFFLOAD",
		     tcp_segmentation_offload, true,
		     "Demi's own: hand TCP super-segments of many MSS (up to 64 KiB) to a device that cuts them "
		     "itself (TSO/GSO: catpowder on a kernel with PACKET_VNET_HDR); false: one MSS per segment. "
		     "Super-segments leave their checksums to the device whatever `tcp_checksum_offload` says."),
	{ .section = "inetstack_config", .name = "arp_table", .type = CFG_CUSTOM, CFG_FIELD(arp_table),
	  .hooks = &arp_hooks, .doc = "Static ARP entries." },
	CFG_UINT_KEY("inetstack_config", "arp_request_retries", "ARP_REQUEST_RETRIES", arp_request_retries, 5, 0,
		     UINT32_MAX, NULL, "ARP requests sent before giving up."),
	CFG_UINT_KEY("inetstack_config", "arp_request_timeout", "ARP_REQUEST_TIMEOUT", arp_request_timeout_ms, 20,
		     1, UINT64_MAX, "ms", "Wait for an ARP reply before retrying."),
	CFG_UINT_KEY("inetstack_config", "arp_cache_ttl", "ARP_CACHE_TTL", arp_cache_ttl_s, 15, 0, UINT64_MAX,
		     "seconds", "Lifetime of a learnt ARP entry."),
	/* Demikernel has no keys for routes (every address is on its link): these are Demi's, documented in doc/inetstack.md. */
	CFG_UINT_KEY("inetstack_config", "ipv4_prefix_len", "IPV4_PREFIX_LEN", ipv4_prefix_len, 0, 0, 32, "bits",
		     "Length of the local subnet's prefix (24 for a /24): addresses outside it go through "
		     "`default_gateway`. 0: every address is on the link (Demikernel's behaviour)."),
	CFG_ADDR_KEY("inetstack_config", "default_gateway", "DEFAULT_GATEWAY", CFG_IPV4, default_gateway,
		     has_default_gateway, "The router for addresses outside the local subnet (needs "
		     "`ipv4_prefix_len`, and must be inside it); unset: those fail with ENETUNREACH."),
};

const struct cfg_table cfg_inet_table = CFG_TABLE("inetstack", keys);
