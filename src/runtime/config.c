/* Configuration: reads Demikernel-style YAML with libyaml, then environment overrides. */
#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#define WHY_MAX 96
#define NAME_MAX_LEN 128

enum kind {
	K_BOOL,
	K_U32,
	K_U64,
	K_INT,
	K_IPV4,
	K_MAC,
	K_STR,
	K_LEVEL,
	K_WORD,      /* one of the words in key.words ("a|b|c") */
	K_EAL,       /* YAML list of strings; environment: space separated */
	K_ARP,       /* YAML mapping "mac": "ipv4"; no environment form */
	K_KEEPALIVE, /* bool, or Demikernel's {enabled, time_millis, interval} */
	K_LINGER,    /* seconds (-1 = off), or Demikernel's {enabled, time_seconds} */
	K_IGNORED,   /* Demikernel key with no meaning on Demi: accepted, skipped */
};

struct key {
	const char *section; /* NULL: environment only */
	const char *name;
	const char *env;     /* NULL: no environment override */
	enum kind kind;
	size_t off;          /* the field in struct demi_config */
	size_t size;         /* its size: bounds strings */
	size_t has_off;      /* K_IPV4, K_MAC: the has_ flag to set */
	int64_t min;         /* numeric kinds: accepted range */
	uint64_t max;
	const char *words;   /* K_WORD: the accepted values, "a|b|c" */
};

#define FIELD(f) offsetof(struct demi_config, f), sizeof(((struct demi_config *)0)->f)
#define VAL(sec, name, env, kind, f) { sec, name, env, kind, FIELD(f), 0, 0, 0, NULL }
#define NUM(sec, name, env, kind, f, lo, hi) { sec, name, env, kind, FIELD(f), 0, lo, hi, NULL }
#define ADDR(sec, name, env, kind, f, has) \
	{ sec, name, env, kind, FIELD(f), offsetof(struct demi_config, has), 0, 0, NULL }
#define IGNORED(sec, name) { sec, name, NULL, K_IGNORED, 0, 0, 0, 0, 0, NULL }
#define WORD(sec, name, env, f, words) { sec, name, env, K_WORD, FIELD(f), 0, 0, 0, words }

static const struct key keys[] = {
	VAL(NULL, "libos", "LIBOS", K_STR, libos),

	ADDR("demikernel", "local_ipv4_addr", "LOCAL_IPV4_ADDR", K_IPV4, local_ipv4_addr,
	     has_local_ipv4_addr),
	ADDR("demikernel", "local_link_addr", "LOCAL_LINK_ADDR", K_MAC, local_link_addr,
	     has_local_link_addr),

	VAL("raw_socket", "linux_interface_name", "LINUX_INTERFACE_NAME", K_STR,
	    linux_interface_name),
	NUM("raw_socket", "xdp_interface_index", "XDP_INTERFACE_INDEX", K_INT,
	    xdp_interface_index, -1, INT32_MAX),
	/* Windows XDP tuning in Demikernel's own files: accepted so that they load unchanged. */
	IGNORED("raw_socket", "xdp_vf_interface_index"),
	IGNORED("raw_socket", "xdp_cohost_mode"),
	IGNORED("raw_socket", "xdp_always_poke_tx"),
	IGNORED("raw_socket", "xdp_always_send_on_vf"),
	IGNORED("raw_socket", "xdp_tcp_ports"),
	IGNORED("raw_socket", "xdp_udp_ports"),
	IGNORED("raw_socket", "xdp_reserved_port_count"),
	IGNORED("raw_socket", "xdp_reserved_port_protocol"),
	IGNORED("raw_socket", "xdp_rx_batch_size"),
	IGNORED("raw_socket", "xdp_tx_batch_size"),
	IGNORED("raw_socket", "xdp_buffer_provision_batch_size"),
	IGNORED("raw_socket", "xdp_adaptive_batching"),
	IGNORED("raw_socket", "xdp_buffer_overallocation_factor"),
	IGNORED("raw_socket", "rx_buffer_count"),
	IGNORED("raw_socket", "tx_buffer_count"),
	IGNORED("raw_socket", "rx_ring_size"),
	IGNORED("raw_socket", "tx_ring_size"),
	IGNORED("raw_socket", "rx_fill_ring_size"),
	IGNORED("raw_socket", "tx_fill_ring_size"),
	IGNORED("raw_socket", "tx_completion_ring_size"),

	VAL("dpdk", "eal_init", "EAL_INIT", K_EAL, eal_argv),

	VAL("tcp_socket_options", "keepalive", "KEEPALIVE", K_KEEPALIVE, tcp_keepalive),
	NUM("tcp_socket_options", "linger", "LINGER", K_LINGER, tcp_linger_s, -1, 65535),
	VAL("tcp_socket_options", "nodelay", "NODELAY", K_BOOL, tcp_nodelay),

	NUM("inetstack_config", "mtu", "MTU", K_U32, mtu, 68, 65535),
	NUM("inetstack_config", "mss", "MSS", K_U32, mss, 88, 65495),
	VAL("inetstack_config", "enable_jumbo_frames", "ENABLE_JUMBO_FRAMES", K_BOOL,
	    enable_jumbo_frames),
	VAL("inetstack_config", "udp_checksum_offload", "UDP_CHECKSUM_OFFLOAD", K_BOOL,
	    udp_checksum_offload),
	VAL("inetstack_config", "tcp_checksum_offload", "TCP_CHECKSUM_OFFLOAD", K_BOOL,
	    tcp_checksum_offload),
	VAL("inetstack_config", "arp_table", NULL, K_ARP, arp_table),
	NUM("inetstack_config", "arp_request_retries", "ARP_REQUEST_RETRIES", K_U32,
	    arp_request_retries, 0, UINT32_MAX),
	NUM("inetstack_config", "arp_request_timeout", "ARP_REQUEST_TIMEOUT", K_U64,
	    arp_request_timeout_ms, 1, UINT64_MAX),
	NUM("inetstack_config", "arp_cache_ttl", "ARP_CACHE_TTL", K_U64, arp_cache_ttl_s, 0,
	    UINT64_MAX),

	NUM("demi", "poll_idle_us", "POLL_IDLE_US", K_U64, poll_idle_us, 0, UINT64_MAX),
	NUM("demi", "max_qtokens", "MAX_QTOKENS", K_U32, max_qtokens, 16, UINT32_MAX),
	NUM("demi", "max_queues", "MAX_QUEUES", K_U32, max_queues, 16, UINT32_MAX),
	NUM("demi", "max_buffers", "MAX_BUFFERS", K_U32, max_buffers, 16, UINT32_MAX),
	NUM("demi", "max_buffer_bytes", "MAX_BUFFER_BYTES", K_U64, max_buffer_bytes, 1 << 20,
	    UINT64_MAX),
	NUM("demi", "coroutine_stack", "COROUTINE_STACK", K_U32, coroutine_stack, 16384,
	    8 << 20),
	VAL("demi", "log_level", "DEMI_LOG", K_LEVEL, log_level),

	WORD("tcp", "congestion_control", "TCP_CONGESTION_CONTROL", tcp_cc, "cubic|newreno|reno"),
	NUM("tcp", "rcvbuf", "TCP_RCVBUF", K_U32, tcp_rcvbuf, 4096, 1u << 30),
	NUM("tcp", "sndbuf", "TCP_SNDBUF", K_U32, tcp_sndbuf, 4096, 1u << 30),
	VAL("tcp", "window_scale", "TCP_WINDOW_SCALE", K_BOOL, tcp_window_scale),
	VAL("tcp", "timestamps", "TCP_TIMESTAMPS", K_BOOL, tcp_timestamps),
	VAL("tcp", "sack", "TCP_SACK", K_BOOL, tcp_sack),
	VAL("tcp", "syncookies", "TCP_SYNCOOKIES", K_BOOL, tcp_syncookies),
	NUM("tcp", "syn_backlog", "TCP_SYN_BACKLOG", K_U32, tcp_syn_backlog, 1, 1u << 20),
	NUM("tcp", "rto_min_ms", "TCP_RTO_MIN_MS", K_U64, tcp_rto_min_ms, 1, 3600000),
	NUM("tcp", "rto_max_ms", "TCP_RTO_MAX_MS", K_U64, tcp_rto_max_ms, 1, 3600000),
	NUM("tcp", "rto_initial_ms", "TCP_RTO_INITIAL_MS", K_U64, tcp_rto_initial_ms, 1, 3600000),
	NUM("tcp", "retries", "TCP_RETRIES", K_U32, tcp_retries, 1, 100),
	NUM("tcp", "syn_retries", "TCP_SYN_RETRIES", K_U32, tcp_syn_retries, 1, 100),
	NUM("tcp", "delayed_ack_ms", "TCP_DELAYED_ACK_MS", K_U64, tcp_delayed_ack_ms, 0, 500),
	NUM("tcp", "time_wait_ms", "TCP_TIME_WAIT_MS", K_U64, tcp_time_wait_ms, 0, 3600000),
	NUM("tcp", "fin_timeout_ms", "TCP_FIN_TIMEOUT_MS", K_U64, tcp_fin_timeout_ms, 1, 3600000),
	NUM("tcp", "keepalive_idle_s", "TCP_KEEPALIVE_IDLE_S", K_U64, tcp_keepalive_idle_s, 1, 32767),
	NUM("tcp", "keepalive_intvl_s", "TCP_KEEPALIVE_INTVL_S", K_U64, tcp_keepalive_intvl_s, 1, 32767),
	NUM("tcp", "keepalive_probes", "TCP_KEEPALIVE_PROBES", K_U32, tcp_keepalive_probes, 1, 127),

	WORD("storage", "durability", "STORAGE_DURABILITY", storage_durability, "flush|fua|none"),
	WORD("storage", "sqpoll", "STORAGE_SQPOLL", storage_sqpoll, "auto|on|off"),
	WORD("storage", "direct", "STORAGE_DIRECT", storage_direct, "auto|off"),
	WORD("storage", "submit", "STORAGE_SUBMIT", storage_submit, "eager|batch"),
	NUM("storage", "ring_entries", "STORAGE_RING_ENTRIES", K_U32, storage_ring_entries, 8, 32768),

	VAL("catmem", "membarrier", "CATMEM_MEMBARRIER", K_BOOL, catmem_membarrier),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void config_defaults(struct demi_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->libos, sizeof(c->libos), "%s", "catnap");
	c->xdp_interface_index = -1;
	c->tcp_keepalive = false;
	c->tcp_linger_s = -1;
	c->tcp_nodelay = true;
	c->mtu = 1500;
	c->mss = 1460;
	c->arp_request_retries = 5;
	c->arp_request_timeout_ms = 20;
	c->arp_cache_ttl_s = 15;
	c->poll_idle_us = 50;
	snprintf(c->storage_durability, sizeof(c->storage_durability), "flush");
	snprintf(c->storage_sqpoll, sizeof(c->storage_sqpoll), "auto");
	snprintf(c->storage_direct, sizeof(c->storage_direct), "auto");
	snprintf(c->storage_submit, sizeof(c->storage_submit), "eager");
	c->storage_ring_entries = 256;
	c->catmem_membarrier = true;
	snprintf(c->tcp_cc, sizeof(c->tcp_cc), "cubic");
	c->tcp_rcvbuf = 1u << 20;
	c->tcp_sndbuf = 1u << 20;
	c->tcp_window_scale = true;
	c->tcp_timestamps = true;
	c->tcp_sack = true;
	c->tcp_syncookies = true;
	c->tcp_syn_backlog = 256;
	c->tcp_rto_min_ms = 200;
	c->tcp_rto_max_ms = 60000;
	c->tcp_rto_initial_ms = 1000;
	c->tcp_retries = 12;
	c->tcp_syn_retries = 6;
	c->tcp_delayed_ack_ms = 40;
	c->tcp_time_wait_ms = 60000;
	c->tcp_fin_timeout_ms = 60000;
	c->tcp_keepalive_idle_s = 7200;
	c->tcp_keepalive_intvl_s = 75;
	c->tcp_keepalive_probes = 9;

	c->max_qtokens = 65536;
	c->max_queues = 65536;
	c->max_buffers = 262144;
	c->max_buffer_bytes = 1ULL << 30;
	c->coroutine_stack = 65536;
	snprintf(c->log_level, sizeof(c->log_level), "%s", "warn");
}

/* ---- Value parsing, shared by the YAML reader and the environment ---- */

/* YAML 1.1 spellings, so that files written for yaml-rust and PyYAML both work. */
static int parse_bool(const char *s, bool *out, char *why, size_t len)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	snprintf(why, len, "expected true or false (yes/no, on/off, 1/0)");
	return -EINVAL;
}

static void range_why(int64_t min, uint64_t max, char *why, size_t len)
{
	if (max == UINT64_MAX)
		snprintf(why, len, "expected an integer >= %" PRId64, min);
	else
		snprintf(why, len, "expected an integer in [%" PRId64 ", %" PRIu64 "]", min, max);
}

/* Decimal only; the leading-digit check stops strtoull from taking "-1" or " 1". */
static int parse_uint(const char *s, int64_t min, uint64_t max, uint64_t *out, char *why,
		      size_t len)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < (uint64_t)(min < 0 ? 0 : min) || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	range_why(min, max, why, len);
	return -EINVAL;
}

static int parse_int(const char *s, int64_t min, uint64_t max, int64_t *out, char *why,
		     size_t len)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	char *end;
	long long v;

	if (!isdigit((unsigned char)digits[0]))
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || (v >= 0 && (uint64_t)v > max))
		goto bad;
	*out = v;
	return 0;
bad:
	range_why(min, max, why, len);
	return -EINVAL;
}

static int parse_ipv4(const char *s, struct in_addr *out, char *why, size_t len)
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 0;
	snprintf(why, len, "expected an IPv4 address like 192.168.1.2");
	return -EINVAL;
}

static int hexval(char ch)
{
	return isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10;
}

/* Only the canonical "aa:bb:cc:dd:ee:ff": other spellings are more likely typos than intent. */
static int parse_mac(const char *s, uint8_t mac[6], char *why, size_t len)
{
	uint8_t tmp[6];

	if (strlen(s) != 17)
		goto bad;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			goto bad;
		if (i < 5 && p[2] != ':')
			goto bad;
		tmp[i] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	}
	memcpy(mac, tmp, sizeof(tmp));
	return 0;
bad:
	snprintf(why, len, "expected a MAC address like aa:bb:cc:dd:ee:ff");
	return -EINVAL;
}

static int copy_str(char *dst, size_t size, const char *s, size_t n, char *why, size_t len)
{
	if (n >= size) {
		snprintf(why, len, "longer than %zu characters", size - 1);
		return -EINVAL;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Accepts s when it is one of the '|'-separated words. */
static int parse_word(const char *s, const char *words, char *dst, size_t size, char *why, size_t len)
{
	size_t n = strlen(s);
	for (const char *w = words; *w;) {
		size_t wl = strcspn(w, "|");
		if (wl == n && strncmp(w, s, n) == 0)
			return copy_str(dst, size, s, n, why, len);
		w += wl + (w[wl] == '|');
	}
	snprintf(why, len, "not one of %s", words);
	return -EINVAL;
}

static int parse_level(const char *s, char *dst, size_t size, char *why, size_t len)
{
	if (log_parse_level(s) < 0 || strlen(s) >= size) {
		snprintf(why, len, "expected error, warn, info, debug or trace");
		return -EINVAL;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* Appends one EAL argument; the YAML list and EAL_INIT both come through here. */
static int eal_add(struct demi_config *c, const char *arg, size_t n, char *why, size_t len)
{
	if (c->eal_argc >= CONFIG_EAL_ARGS_MAX) {
		snprintf(why, len, "too many arguments (at most %d)", CONFIG_EAL_ARGS_MAX);
		return -EINVAL;
	}
	int rc = copy_str(c->eal_argv[c->eal_argc], CONFIG_STR_MAX, arg, n, why, len);
	if (rc == 0)
		c->eal_argc++;
	return rc;
}

static int eal_set_words(struct demi_config *c, const char *s, char *why, size_t len)
{
	static const char spaces[] = " \t";
	int rc = 0;

	c->eal_argc = 0;
	for (s += strspn(s, spaces); *s && rc == 0; s += strspn(s, spaces)) {
		size_t n = strcspn(s, spaces);
		rc = eal_add(c, s, n, why, len);
		s += n;
	}
	return rc;
}

static int set_uint(struct demi_config *c, const struct key *k, const char *s, char *why,
		    size_t len)
{
	uint64_t v;
	int rc = parse_uint(s, k->min, k->max, &v, why, len);

	if (rc == 0 && k->kind == K_U32)
		*(uint32_t *)((char *)c + k->off) = (uint32_t)v;
	else if (rc == 0)
		*(uint64_t *)((char *)c + k->off) = v;
	return rc;
}

static int set_int(struct demi_config *c, const struct key *k, const char *s, char *why,
		   size_t len)
{
	int64_t v;
	int rc = parse_int(s, k->min, k->max, &v, why, len);

	if (rc == 0)
		*(int *)((char *)c + k->off) = (int)v;
	return rc;
}

static int set_addr(struct demi_config *c, const struct key *k, const char *s, char *why,
		    size_t len)
{
	void *dst = (char *)c + k->off;
	int rc = k->kind == K_IPV4 ? parse_ipv4(s, dst, why, len) : parse_mac(s, dst, why, len);

	if (rc == 0)
		*(bool *)((char *)c + k->has_off) = true;
	return rc;
}

/*
 * Parses one value written as text and stores it in *c: the single place
 * where a value's spelling is checked, for the file and the environment
 * alike. Returns 0, or -EINVAL with the reason in `why`.
 */
static int key_set(struct demi_config *c, const struct key *k, const char *s, char *why,
		   size_t len)
{
	char *dst = (char *)c + k->off;

	switch (k->kind) {
	case K_BOOL:
	case K_KEEPALIVE:
		return parse_bool(s, (bool *)dst, why, len);
	case K_U32:
	case K_U64:
		return set_uint(c, k, s, why, len);
	case K_INT:
	case K_LINGER:
		return set_int(c, k, s, why, len);
	case K_IPV4:
	case K_MAC:
		return set_addr(c, k, s, why, len);
	case K_STR:
		return copy_str(dst, k->size, s, strlen(s), why, len);
	case K_LEVEL:
		return parse_level(s, dst, k->size, why, len);
	case K_WORD:
		return parse_word(s, k->words, dst, k->size, why, len);
	case K_EAL:
		return eal_set_words(c, s, why, len);
	case K_ARP:
	case K_IGNORED:
		break;
	}
	snprintf(why, len, "cannot be set from a single value");
	return -EINVAL;
}

/* ---- Environment ---- */

int config_apply_env(struct demi_config *c)
{
	char why[WHY_MAX];

	for (size_t i = 0; i < NKEYS; i++) {
		const char *s = keys[i].env ? getenv(keys[i].env) : NULL;
		if (s && key_set(c, &keys[i], s, why, sizeof(why)) != 0) {
			fprintf(stderr, "demi: config: environment: %s: %s, got '%.64s'\n",
				keys[i].env, why, s);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- YAML ---- */

struct reader {
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, owned while have_ev */
	bool have_ev;
	size_t key_line; /* line of the mapping key being read, for "unknown key" */
	const char *origin;
	struct demi_config *c;
};

/* Every entry of a mapping goes to one of these, with the reader on its value. */
typedef int entry_fn(struct reader *r, const char *path, const char *name, void *ctx);

static int fail_at(const struct reader *r, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(const struct reader *r, size_t line, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "demi: config: %s:%zu: %s\n", r->origin, line, msg);
	return -EINVAL;
}

#define fail(r, ...) fail_at((r), (r)->ev.start_mark.line + 1, __VA_ARGS__)

static int syntax_error(const struct reader *r)
{
	const yaml_parser_t *p = &r->parser;
	/* A reader error (bad encoding, I/O) has no problem_mark; the reader's position is the best guess. */
	yaml_mark_t m = p->error == YAML_READER_ERROR ? p->mark : p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR || !p->problem)
		return fail_at(r, m.line + 1, "YAML error: out of memory");
	if (p->error == YAML_READER_ERROR)
		return fail_at(r, m.line + 1, "YAML encoding error: %s", p->problem);
	if (p->context)
		return fail_at(r, m.line + 1, "YAML syntax error: %s (%s)", p->problem, p->context);
	return fail_at(r, m.line + 1, "YAML syntax error: %s", p->problem);
}

static int next(struct reader *r)
{
	if (r->have_ev)
		yaml_event_delete(&r->ev);
	r->have_ev = false;
	if (!yaml_parser_parse(&r->parser, &r->ev))
		return syntax_error(r);
	r->have_ev = true;
	return 0;
}

static const char *text(const struct reader *r)
{
	return (const char *)r->ev.data.scalar.value;
}

/* `key:` with nothing after it, or ~ / null: the key keeps its current value. */
static bool is_null(const struct reader *r)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (r->ev.type != YAML_SCALAR_EVENT || r->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(text(r), nulls[i]) == 0)
			return true;
	return false;
}

/* Consumes the node that starts at the current event, however deeply nested. */
static int skip_node(struct reader *r)
{
	int depth = 0;

	for (;;) {
		yaml_event_type_t t = r->ev.type;
		if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT)
			depth++;
		else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT)
			depth--;
		if (depth == 0)
			return 0;
		int rc = next(r);
		if (rc)
			return rc;
	}
}

static int read_key_name(struct reader *r, const char *path, char *name, size_t size)
{
	if (r->ev.type != YAML_SCALAR_EVENT)
		return fail(r, "%s: keys must be plain strings", path);
	if (r->ev.data.scalar.length >= size)
		return fail(r, "%s: key '%.32s...' is too long", path, text(r));
	memcpy(name, text(r), r->ev.data.scalar.length + 1);
	r->key_line = r->ev.start_mark.line + 1;
	return 0;
}

/* Calls `entry` for each key of the mapping that starts at the current event. */
static int read_map(struct reader *r, const char *path, entry_fn *entry, void *ctx)
{
	char name[NAME_MAX_LEN];
	int rc;

	if (is_null(r))
		return 0;
	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return fail(r, "%s: expected a mapping", path);
	for (;;) {
		if ((rc = next(r)))
			return rc;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if ((rc = read_key_name(r, path, name, sizeof(name))) || (rc = next(r)))
			return rc;
		if ((rc = entry(r, path, name, ctx)))
			return rc;
	}
}

static int unknown_key(const struct reader *r, const char *path, const char *name)
{
	return fail_at(r, r->key_line, "unknown key '%s.%s'", path, name);
}

/* Reports a value that key_set or a parse_ function refused. */
static int bad_value(const struct reader *r, const char *path, const char *name,
		     const char *why)
{
	return fail(r, "%s.%s: %s, got '%.64s'", path, name, why, text(r));
}

static int expect_scalar(const struct reader *r, const char *path, const char *name)
{
	if (r->ev.type == YAML_SCALAR_EVENT)
		return 0;
	if (r->ev.type == YAML_ALIAS_EVENT)
		return fail(r, "%s.%s: aliases are not supported", path, name);
	return fail(r, "%s.%s: expected a single value, not a list or mapping", path, name);
}

static int read_eal(struct reader *r, const char *path, const struct key *k)
{
	char why[WHY_MAX];
	int rc;

	if (is_null(r))
		return 0;
	if (r->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail(r, "%s.%s: expected a list of strings", path, k->name);
	r->c->eal_argc = 0;
	for (;;) {
		if ((rc = next(r)))
			return rc;
		if (r->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (r->ev.type != YAML_SCALAR_EVENT)
			return fail(r, "%s.%s: expected a list of strings", path, k->name);
		if (eal_add(r->c, text(r), strlen(text(r)), why, sizeof(why)))
			return bad_value(r, path, k->name, why);
	}
}

/* One `"mac": "ip"` entry of inetstack_config.arp_table. */
static int arp_entry(struct reader *r, const char *path, const char *mac, void *ctx)
{
	struct demi_config *c = r->c;
	struct config_arp_entry e;
	char why[WHY_MAX];

	(void)ctx;
	if (parse_mac(mac, e.mac, why, sizeof(why)))
		return fail_at(r, r->key_line, "%s: %s, got '%.64s'", path, why, mac);
	if (expect_scalar(r, path, mac))
		return -EINVAL;
	if (parse_ipv4(text(r), &e.ip, why, sizeof(why)))
		return bad_value(r, path, mac, why);
	if (c->arp_table_len >= CONFIG_ARP_TABLE_MAX)
		return fail(r, "%s: too many entries (at most %d)", path, CONFIG_ARP_TABLE_MAX);
	c->arp_table[c->arp_table_len++] = e;
	return 0;
}

static int read_arp(struct reader *r, const char *path, const struct key *k)
{
	char full[NAME_MAX_LEN];

	snprintf(full, sizeof(full), "%s.%s", path, k->name);
	if (!is_null(r))
		r->c->arp_table_len = 0; /* the file's table replaces, not extends, the current one */
	return read_map(r, full, arp_entry, NULL);
}

/* Demikernel's {enabled, time_...} forms of keepalive and linger. */
struct toggle {
	bool linger;     /* else keepalive */
	bool enabled;
	uint64_t seconds; /* linger.time_seconds */
};

static bool is_timer(const struct toggle *t, const char *name)
{
	if (t->linger)
		return strcmp(name, "time_seconds") == 0;
	return strcmp(name, "time_millis") == 0 || strcmp(name, "interval") == 0;
}

static int toggle_entry(struct reader *r, const char *path, const char *name, void *ctx)
{
	struct toggle *t = ctx;
	char why[WHY_MAX];
	uint64_t v;

	if (strcmp(name, "enabled") != 0 && !is_timer(t, name))
		return unknown_key(r, path, name);
	if (expect_scalar(r, path, name))
		return -EINVAL;
	if (is_null(r))
		return 0;
	if (strcmp(name, "enabled") == 0) {
		if (parse_bool(text(r), &t->enabled, why, sizeof(why)))
			return bad_value(r, path, name, why);
		return 0;
	}
	/* Linux has no per-socket keepalive timings in Demikernel either: checked, then unused. */
	if (parse_uint(text(r), 0, t->linger ? 65535 : UINT64_MAX, &v, why, sizeof(why)))
		return bad_value(r, path, name, why);
	t->seconds = v;
	return 0;
}

static int read_toggle(struct reader *r, const char *path, const struct key *k)
{
	struct toggle t = { .linger = k->kind == K_LINGER, .enabled = false, .seconds = 0 };
	char full[NAME_MAX_LEN];
	int rc;

	snprintf(full, sizeof(full), "%s.%s", path, k->name);
	if ((rc = read_map(r, full, toggle_entry, &t)))
		return rc;
	if (t.linger)
		r->c->tcp_linger_s = t.enabled ? (int)t.seconds : -1;
	else
		r->c->tcp_keepalive = t.enabled;
	return 0;
}

static const struct key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section && strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Returns the table's copy of the section name, which outlives the parser's events. */
static const char *find_section(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section && strcmp(keys[i].section, name) == 0)
			return keys[i].section;
	return NULL;
}

static int section_entry(struct reader *r, const char *path, const char *name, void *ctx)
{
	const struct key *k = find_key(path, name);
	char why[WHY_MAX];

	(void)ctx;
	if (!k)
		return unknown_key(r, path, name);
	if (k->kind == K_IGNORED)
		return skip_node(r);
	if (r->ev.type == YAML_ALIAS_EVENT)
		return expect_scalar(r, path, name);
	if (k->kind == K_EAL)
		return read_eal(r, path, k);
	if (k->kind == K_ARP)
		return read_arp(r, path, k);
	if ((k->kind == K_KEEPALIVE || k->kind == K_LINGER) && r->ev.type == YAML_MAPPING_START_EVENT)
		return read_toggle(r, path, k);
	if (expect_scalar(r, path, name))
		return -EINVAL;
	if (is_null(r))
		return 0;
	if (key_set(r->c, k, text(r), why, sizeof(why)))
		return bad_value(r, path, name, why);
	return 0;
}

/* Sections other than ours (client:, server:, catnip:, ...) belong to applications. */
static int top_entry(struct reader *r, const char *path, const char *name, void *ctx)
{
	const char *section = find_section(name);

	(void)path;
	(void)ctx;
	if (!section)
		return skip_node(r);
	return read_map(r, section, section_entry, NULL);
}

static int read_document(struct reader *r)
{
	int rc;

	if ((rc = next(r))) /* the root node */
		return rc;
	if (r->ev.type != YAML_MAPPING_START_EVENT && !is_null(r))
		return fail(r, "the top level must be a mapping of sections");
	if ((rc = read_map(r, "top level", top_entry, NULL)))
		return rc;
	return next(r); /* DOCUMENT_END */
}

static int read_stream(struct reader *r)
{
	int rc;

	if ((rc = next(r)) || (rc = next(r))) /* STREAM_START, then a document or STREAM_END */
		return rc;
	if (r->ev.type == YAML_STREAM_END_EVENT)
		return 0; /* an empty file, or only comments */
	if ((rc = read_document(r)) || (rc = next(r)))
		return rc;
	if (r->ev.type != YAML_STREAM_END_EVENT)
		return fail(r, "more than one YAML document");
	return 0;
}

static int reader_run(struct reader *r)
{
	int rc = read_stream(r);

	if (r->have_ev)
		yaml_event_delete(&r->ev);
	yaml_parser_delete(&r->parser);
	return rc;
}

static int reader_init(struct reader *r, struct demi_config *c, const char *origin)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->origin = origin;
	if (yaml_parser_initialize(&r->parser))
		return 0;
	fprintf(stderr, "demi: config: %s: cannot start the YAML parser: out of memory\n", origin);
	return -EINVAL;
}

int config_parse_string(struct demi_config *c, const char *yaml, const char *origin)
{
	struct reader r;

	if (!origin)
		origin = "<string>";
	if (!yaml) {
		fprintf(stderr, "demi: config: %s: no YAML text\n", origin);
		return -EINVAL;
	}
	if (reader_init(&r, c, origin))
		return -EINVAL;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)yaml, strlen(yaml));
	return reader_run(&r);
}

static int cannot_read(const char *path, int err)
{
	fprintf(stderr, "demi: config: %s: cannot read: %s\n", path, strerror(err));
	return -EINVAL;
}

static int load_file(struct demi_config *c, const char *path)
{
	struct reader r;
	struct stat st;
	int rc;
	FILE *f = fopen(path, "rb");

	if (!f)
		return cannot_read(path, errno);
	/* fopen accepts a directory; libyaml would then report a vague "input error". */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return cannot_read(path, EISDIR);
	}
	rc = reader_init(&r, c, path);
	if (rc == 0) {
		yaml_parser_set_input_file(&r.parser, f);
		rc = reader_run(&r);
	}
	fclose(f);
	return rc;
}

int config_load(struct demi_config *c, const char *path)
{
	int rc = path ? load_file(c, path) : 0;

	return rc ? rc : config_apply_env(c);
}
