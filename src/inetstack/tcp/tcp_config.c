/* TCP's configuration keys (tcp:): congestion control, buffers, options offered, timers (doc/tcp.md). */
#include "../../runtime/config_schema.h"

#include <stdint.h>

static const struct cfg_key keys[] = {
	CFG_ENUM_KEY("tcp", "congestion_control", "TCP_CONGESTION_CONTROL", tcp_cc, "cubic|newreno|reno", "cubic",
		     "Congestion control of Demi's TCP (doc/tcp_cc.md)."),
	CFG_ENUM_KEY("tcp", "recovery", "TCP_RECOVERY", tcp_recovery, "rack|sack", "rack",
		     "Loss recovery where SACK is negotiated: RACK-TLP with PRR (RFC 8985, RFC 6937), or RFC 6675 "
		     "(doc/tcp.md); NewReno without SACK."),
	CFG_UINT_KEY("tcp", "rcvbuf", "TCP_RCVBUF", tcp_rcvbuf, 1u << 20, 4096, 1u << 30, "bytes",
		     "Default SO_RCVBUF of TCP sockets."),
	CFG_UINT_KEY("tcp", "sndbuf", "TCP_SNDBUF", tcp_sndbuf, 1u << 20, 4096, 1u << 30, "bytes",
		     "Default SO_SNDBUF of TCP sockets."),
	CFG_BOOL_KEY("tcp", "window_scale", "TCP_WINDOW_SCALE", tcp_window_scale, true,
		     "Offer window scaling (RFC 7323)."),
	CFG_BOOL_KEY("tcp", "timestamps", "TCP_TIMESTAMPS", tcp_timestamps, true, "Offer timestamps (RFC 7323)."),
	CFG_BOOL_KEY("tcp", "sack", "TCP_SACK", tcp_sack, true, "Offer selective acknowledgements (RFC 2018)."),
	CFG_BOOL_KEY("tcp", "syncookies", "TCP_SYNCOOKIES", tcp_syncookies, true,
		     "SYN cookies when the SYN queue is full."),
	CFG_UINT_KEY("tcp", "syn_backlog", "TCP_SYN_BACKLOG", tcp_syn_backlog, 256, 1, 1u << 20, NULL,
		     "Half-open connections per listener."),
	CFG_UINT_KEY("tcp", "rto_min_ms", "TCP_RTO_MIN_MS", tcp_rto_min_ms, 200, 1, 3600000, "ms",
		     "Lower bound of the retransmission timeout (Linux's; RFC 6298 says 1000)."),
	CFG_UINT_KEY("tcp", "rto_max_ms", "TCP_RTO_MAX_MS", tcp_rto_max_ms, 60000, 1, 3600000, "ms",
		     "Upper bound of the retransmission timeout."),
	CFG_UINT_KEY("tcp", "rto_initial_ms", "TCP_RTO_INITIAL_MS", tcp_rto_initial_ms, 1000, 1, 3600000, "ms",
		     "Retransmission timeout before the first RTT sample (RFC 6298 2.1)."),
	CFG_UINT_KEY("tcp", "retries", "TCP_RETRIES", tcp_retries, 12, 1, 100, NULL,
		     "Timeouts of one segment before ETIMEDOUT."),
	CFG_UINT_KEY("tcp", "syn_retries", "TCP_SYN_RETRIES", tcp_syn_retries, 6, 1, 100, NULL,
		     "Timeouts of a SYN before ETIMEDOUT."),
	CFG_UINT_KEY("tcp", "delayed_ack_ms", "TCP_DELAYED_ACK_MS", tcp_delayed_ack_ms, 40, 0, 500, "ms",
		     "Delayed ACK; 0: ACK at once."),
	CFG_UINT_KEY("tcp", "time_wait_ms", "TCP_TIME_WAIT_MS", tcp_time_wait_ms, 60000, 0, 3600000, "ms",
		     "TIME-WAIT (2*MSL)."),
	CFG_UINT_KEY("tcp", "fin_timeout_ms", "TCP_FIN_TIMEOUT_MS", tcp_fin_timeout_ms, 60000, 1, 3600000, "ms",
		     "FIN-WAIT-2 of a closed descriptor."),
	CFG_UINT_KEY("tcp", "keepalive_idle_s", "TCP_KEEPALIVE_IDLE_S", tcp_keepalive_idle_s, 7200, 1, 32767,
		     "seconds", "SO_KEEPALIVE: idle time before the first probe (RFC 1122 4.2.3.6; doc/tcp.md)."),
	CFG_UINT_KEY("tcp", "keepalive_intvl_s", "TCP_KEEPALIVE_INTVL_S", tcp_keepalive_intvl_s, 75, 1, 32767,
		     "seconds", "SO_KEEPALIVE: time between probes."),
	CFG_UINT_KEY("tcp", "keepalive_probes", "TCP_KEEPALIVE_PROBES", tcp_keepalive_probes, 9, 1, 127, NULL,
		     "SO_KEEPALIVE: unanswered probes before the connection is dropped."),
};

const struct cfg_table cfg_tcp_table = CFG_TABLE("tcp", keys);
