/* Configuration: Demikernel's YAML keys, Demi's own keys, environment overrides. */
#ifndef DEMI_RUNTIME_CONFIG_H
#define DEMI_RUNTIME_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define CONFIG_IFNAME_MAX 32
#define CONFIG_LIBOS_MAX 32
#define CONFIG_EAL_ARGS_MAX 32
#define CONFIG_ARP_TABLE_MAX 64
#define CONFIG_STR_MAX 256

struct config_arp_entry {
	struct in_addr ip;
	uint8_t mac[6];
};

/*
 * Every setting Demi reads. Each field is one key of a subsystem's table
 * (config_schema.h), which gives its YAML path, environment variable, type,
 * range, default and documentation: config_defaults() fills the defaults
 * from the tables; config_load() overlays the YAML file, then the
 * environment. doc/config.md's key table is checked against the tables.
 */
struct demi_config {
	char libos[CONFIG_LIBOS_MAX]; /* LIBOS env only */

	/* demikernel */
	bool has_local_ipv4_addr;
	struct in_addr local_ipv4_addr; /* local_ipv4_addr / LOCAL_IPV4_ADDR */
	bool has_local_link_addr;
	uint8_t local_link_addr[6]; /* local_link_addr / LOCAL_LINK_ADDR "aa:bb:cc:dd:ee:ff" */

	/* raw_socket */
	char linux_interface_name[CONFIG_IFNAME_MAX]; /* LINUX_INTERFACE_NAME */
	int xdp_interface_index;                      /* XDP_INTERFACE_INDEX */

	/* dpdk */
	int eal_argc;
	char eal_argv[CONFIG_EAL_ARGS_MAX][CONFIG_STR_MAX]; /* eal_init list / EAL_INIT (space separated) */

	/* tcp_socket_options */
	bool tcp_keepalive;    /* keepalive / KEEPALIVE */
	int tcp_linger_s;      /* linger / LINGER (seconds, -1 = off) */
	bool tcp_nodelay;      /* nodelay / NODELAY */

	/* inetstack_config */
	uint32_t mtu;                   /* MTU */
	uint32_t mss;                   /* MSS */
	bool enable_jumbo_frames;       /* ENABLE_JUMBO_FRAMES */
	bool udp_checksum_offload;      /* UDP_CHECKSUM_OFFLOAD */
	bool tcp_checksum_offload;      /* TCP_CHECKSUM_OFFLOAD */
	bool tcp_segmentation_offload;  /* TCP_SEGMENTATION_OFFLOAD */
	int arp_table_len;
	struct config_arp_entry arp_table[CONFIG_ARP_TABLE_MAX]; /* arp_table: {"mac": "ip"} */
	uint32_t arp_request_retries;   /* ARP_REQUEST_RETRIES */
	uint64_t arp_request_timeout_ms;/* arp_request_timeout (ms) / ARP_REQUEST_TIMEOUT */
	uint64_t arp_cache_ttl_s;       /* arp_cache_ttl (s) / ARP_CACHE_TTL */
	uint32_t ipv4_prefix_len;       /* ipv4_prefix_len / IPV4_PREFIX_LEN: 0 = every address on the link */
	bool has_default_gateway;
	struct in_addr default_gateway; /* default_gateway / DEFAULT_GATEWAY */

	/* demi: (Demi's own settings) */
	uint64_t poll_idle_us;     /* demi.poll_idle_us / POLL_IDLE_US: spin this long before blocking */
	uint32_t max_qtokens;      /* demi.max_qtokens / MAX_QTOKENS: pending + unwaited operations */
	uint32_t max_queues;       /* demi.max_queues / MAX_QUEUES: open queue descriptors */
	uint32_t max_buffers;      /* demi.max_buffers / MAX_BUFFERS: live buffers of all sizes */
	uint64_t max_buffer_bytes; /* demi.max_buffer_bytes / MAX_BUFFER_BYTES: buffer memory cap */
	uint32_t coroutine_stack;  /* demi.coroutine_stack / COROUTINE_STACK: bytes per coroutine */
	char log_level[16];        /* demi.log_level / DEMI_LOG: error|warn|info|debug|trace */

	/* tcp: (Demi's TCP in the inetstack; doc/tcp.md) */
	char tcp_cc[16];            /* tcp.congestion_control / TCP_CONGESTION_CONTROL: cubic|newreno|reno */
	char tcp_recovery[16];      /* tcp.recovery / TCP_RECOVERY: rack|sack (with SACK; NewReno without) */
	uint32_t tcp_rcvbuf;        /* tcp.rcvbuf / TCP_RCVBUF: receive buffer bytes (SO_RCVBUF default) */
	uint32_t tcp_sndbuf;        /* tcp.sndbuf / TCP_SNDBUF: send buffer bytes (SO_SNDBUF default) */
	bool tcp_window_scale;      /* tcp.window_scale / TCP_WINDOW_SCALE: RFC 7323 */
	bool tcp_timestamps;        /* tcp.timestamps / TCP_TIMESTAMPS: RFC 7323 */
	bool tcp_sack;              /* tcp.sack / TCP_SACK: RFC 2018 */
	bool tcp_syncookies;        /* tcp.syncookies / TCP_SYNCOOKIES: when the SYN queue is full */
	uint32_t tcp_syn_backlog;   /* tcp.syn_backlog / TCP_SYN_BACKLOG: half-open connections per listener */
	uint64_t tcp_rto_min_ms;    /* tcp.rto_min_ms / TCP_RTO_MIN_MS */
	uint64_t tcp_rto_max_ms;    /* tcp.rto_max_ms / TCP_RTO_MAX_MS */
	uint64_t tcp_rto_initial_ms;/* tcp.rto_initial_ms / TCP_RTO_INITIAL_MS */
	uint32_t tcp_retries;       /* tcp.retries / TCP_RETRIES: retransmissions of one segment before ETIMEDOUT */
	uint32_t tcp_syn_retries;   /* tcp.syn_retries / TCP_SYN_RETRIES */
	uint64_t tcp_delayed_ack_ms;/* tcp.delayed_ack_ms / TCP_DELAYED_ACK_MS: 0 = ACK at once */
	uint64_t tcp_time_wait_ms;  /* tcp.time_wait_ms / TCP_TIME_WAIT_MS: 2*MSL */
	uint64_t tcp_fin_timeout_ms;/* tcp.fin_timeout_ms / TCP_FIN_TIMEOUT_MS: FIN-WAIT-2 of a closed socket */
	uint64_t tcp_keepalive_idle_s;  /* tcp.keepalive_idle_s / TCP_KEEPALIVE_IDLE_S */
	uint64_t tcp_keepalive_intvl_s; /* tcp.keepalive_intvl_s / TCP_KEEPALIVE_INTVL_S */
	uint32_t tcp_keepalive_probes;  /* tcp.keepalive_probes / TCP_KEEPALIVE_PROBES */

	/* storage: (storage queues on io_uring; doc/storage.md) */
	char storage_durability[8]; /* storage.durability / STORAGE_DURABILITY: flush|fua|none */
	char storage_sqpoll[8];     /* storage.sqpoll / STORAGE_SQPOLL: auto|on|off */
	char storage_direct[8];     /* storage.direct / STORAGE_DIRECT: auto|off (O_DIRECT) */
	char storage_submit[8];     /* storage.submit / STORAGE_SUBMIT: eager|batch */
	uint32_t storage_ring_entries; /* storage.ring_entries / STORAGE_RING_ENTRIES: power of two 8..32768 */

	/* catmem: (shared-memory pipes; doc/catmem.md) */
	bool catmem_membarrier; /* catmem.membarrier / CATMEM_MEMBARRIER: pushes without a fence, sleepers use membarrier(2) */
};

/* Fills *c with every key's default, from the schema tables. */
void config_defaults(struct demi_config *c);

/*
 * Loads the configuration over what *c holds (call config_defaults first):
 * the YAML file at `path` (NULL or "": no file, so an empty CONFIG_PATH= is
 * an unset one), then environment overrides. Returns 0, or -EINVAL after
 * printing one line on stderr that names the file, line and key at fault
 * (unknown key, wrong type, bad address, unreadable file). On success, a key
 * that is accepted but has no effect on Demi (CFG_UNUSED) and is set logs
 * one warning, unless the loaded log level hides warnings.
 */
int config_load(struct demi_config *c, const char *path);

/* Parses YAML text held in memory; same rules as config_load, without the environment or the warnings. */
int config_parse_string(struct demi_config *c, const char *yaml, const char *origin);

/* Applies environment overrides to *c. Returns 0 or -EINVAL (naming the variable). */
int config_apply_env(struct demi_config *c);

#endif
