/* Counters: what demi_netstats reads (src/api/netstats.c), and the summary logged at exit. */
#include <demi/netstats.h>
#include <errno.h>

#include "../runtime/log.h"
#include "inet.h"
#include "inet_priv.h"

int inet_stats_read(struct demi_netstats *out)
{
	struct inet *in = inet_current;
	if (!in)
		return -ENOTSUP; /* catnap: the kernel's stack keeps its own counters */
	*out = in->st;
	if (in->dev->ops->stats)
		in->dev->ops->stats(in->dev, &out->eth);
	if (in->dev->ops->dev_stats)
		in->dev->ops->dev_stats(in->dev, &out->dev);
	return 0;
}

#define U(x) ((unsigned long long)(x))

/* Device drops a user can fix are said at warn level when the stack ends (info: the rest of the counters). */
static void dev_stats_log(const struct demi_netstats_dev *d)
{
	bool drops = d->drop_rx_too_large || d->drop_rx_vlan || d->drop_rx_no_buffer || d->drop_rx_ring_full ||
		     d->drop_tx_too_large;
	enum log_level lvl = drops ? LOG_WARN : LOG_INFO;
	if (lvl > log_threshold)
		return;
	log_emit(lvl, __FILE__, __LINE__,
		 "inet device: drop rx too-large %llu vlan %llu no-buffer %llu ring-full %llu, tx too-large %llu "
		 "(doc/catpowder.md, dropped frames); tx ring-full stalls %llu; offloads: rx super-frames %llu, "
		 "checksums trusted %llu, tx TSO super-segments %llu",
		 U(d->drop_rx_too_large), U(d->drop_rx_vlan), U(d->drop_rx_no_buffer), U(d->drop_rx_ring_full),
		 U(d->drop_tx_too_large), U(d->tx_ring_full), U(d->rx_gso_frames), U(d->rx_csum_trusted),
		 U(d->tx_tso_frames));
}

void inet_stats_log(const struct inet *in)
{
	struct demi_netstats st = in->st;
	const struct demi_netstats *s = &st;
	if (in->dev->ops->dev_stats) {
		in->dev->ops->dev_stats(in->dev, &st.dev);
		dev_stats_log(&st.dev);
	}
	if (log_threshold < LOG_INFO)
		return;
	if (in->dev->ops->stats) {
		in->dev->ops->stats(in->dev, &st.eth);
		log_info("inet device: zero-copy rx %llu tx %llu frames; copied rx %llu tx %llu bytes",
			 U(s->eth.dev_rx_zero_copy), U(s->eth.dev_tx_zero_copy), U(s->eth.dev_rx_copied_bytes),
			 U(s->eth.dev_tx_copied_bytes));
	}
	log_info("inet eth: rx %llu tx %llu drop short %llu not-ours %llu bad-src %llu type %llu tx-full %llu; tx copies %llu",
		 U(s->eth.rx_frames), U(s->eth.tx_frames), U(s->eth.drop_short), U(s->eth.drop_not_ours),
		 U(s->eth.drop_bad_src), U(s->eth.drop_type), U(s->eth.drop_tx_full), U(s->eth.tx_copies));
	log_info("inet arp: rx req %llu rep %llu tx req %llu rep %llu; drop malformed %llu unsolicited %llu conflict %llu; "
		 "timeouts %llu queued %llu flushed %llu drop queue-full %llu queue-timeout %llu cache-full %llu",
		 U(s->arp.rx_requests), U(s->arp.rx_replies), U(s->arp.tx_requests), U(s->arp.tx_replies),
		 U(s->arp.drop_malformed), U(s->arp.drop_unsolicited), U(s->arp.drop_conflict), U(s->arp.timeouts),
		 U(s->arp.queued), U(s->arp.flushed), U(s->arp.drop_queue_full), U(s->arp.drop_queue_timeout),
		 U(s->arp.drop_cache_full));
	log_info("inet ipv4: rx %llu delivered %llu tx %llu loopback %llu; drop short %llu version %llu hdr-len %llu "
		 "total-len %llu checksum %llu not-ours %llu bad-src %llu protocol %llu no-buffer %llu",
		 U(s->ipv4.rx_packets), U(s->ipv4.rx_delivered), U(s->ipv4.tx_packets), U(s->ipv4.loopback),
		 U(s->ipv4.drop_short), U(s->ipv4.drop_version), U(s->ipv4.drop_hdr_len), U(s->ipv4.drop_total_len),
		 U(s->ipv4.drop_checksum), U(s->ipv4.drop_not_ours), U(s->ipv4.drop_bad_src), U(s->ipv4.drop_protocol),
		 U(s->ipv4.drop_no_buffer));
	log_info("inet ipv4 fragments: rx %llu reassembled %llu timeout %llu overlap %llu dup %llu bad %llu evicted %llu; "
		 "tx datagrams %llu fragments %llu",
		 U(s->ipv4.frag_rx), U(s->ipv4.reass_ok), U(s->ipv4.reass_timeout), U(s->ipv4.reass_overlap),
		 U(s->ipv4.reass_dup), U(s->ipv4.reass_bad), U(s->ipv4.reass_evicted), U(s->ipv4.frag_tx_datagrams),
		 U(s->ipv4.frag_tx));
	log_info("inet icmp: rx %llu tx %llu echo req %llu replies %llu unreachable %llu time-exceeded %llu ratelimited %llu; "
		 "drop short %llu checksum %llu broadcast %llu; other %llu",
		 U(s->icmp.rx_messages), U(s->icmp.tx_messages), U(s->icmp.rx_echo_requests), U(s->icmp.tx_echo_replies),
		 U(s->icmp.tx_unreachable), U(s->icmp.tx_time_exceeded), U(s->icmp.ratelimited), U(s->icmp.drop_short),
		 U(s->icmp.drop_checksum), U(s->icmp.drop_broadcast), U(s->icmp.rx_other));
	log_info("inet udp: rx %llu tx %llu (in place %llu, copied %llu); drop short %llu length %llu checksum %llu "
		 "no-port %llu not-peer %llu rcvbuf %llu",
		 U(s->udp.rx_datagrams), U(s->udp.tx_datagrams), U(s->udp.tx_in_place), U(s->udp.tx_copies),
		 U(s->udp.drop_short), U(s->udp.drop_length), U(s->udp.drop_checksum), U(s->udp.drop_no_port),
		 U(s->udp.drop_not_peer), U(s->udp.drop_rcvbuf));
	log_info("inet tcp: rx %llu tx %llu bytes rx %llu tx %llu; retransmits %llu fast-recoveries %llu rto %llu; "
		 "opens active %llu passive %llu failed %llu; rst rx %llu tx %llu challenge %llu; drop short %llu checksum %llu "
		 "offset %llu options %llu paws %llu window %llu no-room %llu listen-overflow %llu; ooo %llu; cookies sent %llu "
		 "ok %llu bad %llu; probes keepalive %llu window %llu; delayed acks %llu; tx in place %llu copies %llu; "
		 "rx coalesced %llu",
		 U(s->tcp.rx_segments), U(s->tcp.tx_segments), U(s->tcp.rx_bytes), U(s->tcp.tx_bytes),
		 U(s->tcp.retransmits), U(s->tcp.fast_recoveries), U(s->tcp.rto_timeouts), U(s->tcp.active_opens),
		 U(s->tcp.passive_opens), U(s->tcp.conn_failed), U(s->tcp.rst_rx), U(s->tcp.rst_tx),
		 U(s->tcp.challenge_acks), U(s->tcp.drop_short), U(s->tcp.drop_checksum), U(s->tcp.drop_bad_offset),
		 U(s->tcp.drop_bad_options), U(s->tcp.drop_paws), U(s->tcp.drop_out_of_window), U(s->tcp.drop_no_room),
		 U(s->tcp.drop_listen_overflow), U(s->tcp.ooo_segments), U(s->tcp.syncookies_sent),
		 U(s->tcp.syncookies_ok), U(s->tcp.syncookies_bad), U(s->tcp.keepalive_probes), U(s->tcp.window_probes),
		 U(s->tcp.delayed_acks), U(s->tcp.tx_in_place), U(s->tcp.tx_copies), U(s->tcp.rx_coalesced));
	log_info("inet neigh: martians own %llu zero %llu loopback %llu multicast %llu broadcast %llu; land %llu; "
		 "via gateway %llu no-route %llu; arp evicted unresolved %llu resolved %llu ratelimited %llu failed %llu "
		 "reply-unresolved %llu probes %llu",
		 U(s->neigh.drop_martian_own), U(s->neigh.drop_martian_zero), U(s->neigh.drop_martian_loopback),
		 U(s->neigh.drop_martian_mcast), U(s->neigh.drop_martian_bcast), U(s->neigh.drop_land),
		 U(s->neigh.tx_via_gateway), U(s->neigh.drop_no_route), U(s->neigh.arp_unres_evicted),
		 U(s->neigh.arp_evicted), U(s->neigh.arp_ratelimited), U(s->neigh.arp_drop_failed),
		 U(s->neigh.arp_drop_reply_unresolved), U(s->neigh.arp_probes));
}
