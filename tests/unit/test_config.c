/* Unit tests for the configuration loader: defaults, YAML files, errors, environment. */
#include "runtime/config.h"
#include "runtime/config_schema.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DEMI_TEST_DATA
#define DEMI_TEST_DATA "tests/data"
#endif
#define FIXTURE(name) DEMI_TEST_DATA "/config/" name

static const char *const env_names[] = {
	"LIBOS", "LOCAL_IPV4_ADDR", "LOCAL_LINK_ADDR", "LINUX_INTERFACE_NAME",
	"XDP_INTERFACE_INDEX", "EAL_INIT", "KEEPALIVE", "LINGER", "NODELAY", "MTU", "MSS",
	"ENABLE_JUMBO_FRAMES", "UDP_CHECKSUM_OFFLOAD", "TCP_CHECKSUM_OFFLOAD",
	"ARP_REQUEST_RETRIES", "ARP_REQUEST_TIMEOUT", "ARP_CACHE_TTL", "POLL_IDLE_US",
	"MAX_QTOKENS", "MAX_QUEUES", "MAX_BUFFERS", "MAX_BUFFER_BYTES", "COROUTINE_STACK",
	"DEMI_LOG", "STORAGE_DURABILITY", "STORAGE_SQPOLL", "STORAGE_DIRECT", "STORAGE_SUBMIT",
	"STORAGE_RING_ENTRIES", "CATMEM_MEMBARRIER",
};

/* The runner's own environment (a CI job setting LIBOS, say) must not leak into the tests. */
static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
}

TestSuite(config, .init = clear_env);

/*
 * Captures what the code under test writes on stderr. fd 2 is put back
 * afterwards so that sanitizer reports at exit still reach the runner.
 */
struct capture {
	int saved;
	FILE *tmp;
	char text[4096];
};

static void capture_start(struct capture *cap)
{
	fflush(stderr);
	cap->tmp = tmpfile();
	cr_assert_not_null(cap->tmp);
	cap->saved = dup(STDERR_FILENO);
	cr_assert_geq(cap->saved, 0);
	dup2(fileno(cap->tmp), STDERR_FILENO);
}

static const char *capture_end(struct capture *cap)
{
	fflush(stderr);
	dup2(cap->saved, STDERR_FILENO);
	close(cap->saved);
	rewind(cap->tmp);
	size_t n = fread(cap->text, 1, sizeof(cap->text) - 1, cap->tmp);
	cap->text[n] = '\0';
	fclose(cap->tmp);
	return cap->text;
}

/* Every error is exactly one line on stderr, and that line names what is at fault. */
static void assert_one_line(const char *err, const char *needle)
{
	size_t len = strlen(err);

	cr_assert_gt(len, 0, "nothing on stderr");
	cr_assert_eq(err[len - 1], '\n', "stderr: %s", err);
	cr_assert_eq(strchr(err, '\n'), err + len - 1, "more than one line: %s", err);
	cr_assert_not_null(strstr(err, needle), "stderr lacks \"%s\": %s", needle, err);
}

static void expect_yaml_error(const char *yaml, const char *needle)
{
	struct demi_config c;
	struct capture cap;

	config_defaults(&c);
	capture_start(&cap);
	int rc = config_parse_string(&c, yaml, "test.yaml");
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, -EINVAL, "accepted: %s", yaml);
	assert_one_line(err, needle);
}

static void expect_yaml_ok(struct demi_config *c, const char *yaml)
{
	struct capture cap;

	config_defaults(c);
	capture_start(&cap);
	int rc = config_parse_string(c, yaml, "test.yaml");
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, 0, "refused: %s\nstderr: %s", yaml, err);
	cr_assert_str_empty(err);
}

static void expect_env_error(const char *name, const char *value)
{
	struct demi_config c;
	struct capture cap;
	char needle[64];

	setenv(name, value, 1);
	config_defaults(&c);
	capture_start(&cap);
	int rc = config_apply_env(&c);
	const char *err = capture_end(&cap);
	unsetenv(name);
	cr_assert_eq(rc, -EINVAL, "%s=%s accepted", name, value);
	snprintf(needle, sizeof(needle), "environment: %s:", name);
	assert_one_line(err, needle);
}

static void assert_ip(struct in_addr a, const char *dotted)
{
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	cr_assert_str_eq(buf, dotted);
}

static void assert_mac(const uint8_t *mac, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
		       uint8_t e, uint8_t f)
{
	const uint8_t want[6] = { a, b, c, d, e, f };

	cr_assert_arr_eq(mac, want, 6);
}

static void assert_defaults(const struct demi_config *c)
{
	cr_assert_str_eq(c->libos, "catnap");
	cr_assert_not(c->has_local_ipv4_addr);
	cr_assert_not(c->has_local_link_addr);
	cr_assert_str_eq(c->linux_interface_name, "");
	cr_assert_eq(c->xdp_interface_index, -1);
	cr_assert_eq(c->eal_argc, 0);
	cr_assert_not(c->tcp_keepalive);
	cr_assert_eq(c->tcp_linger_s, -1);
	cr_assert(c->tcp_nodelay);
	cr_assert_eq(c->mtu, 1500);
	cr_assert_eq(c->mss, 1460);
	cr_assert_not(c->enable_jumbo_frames);
	cr_assert_not(c->udp_checksum_offload);
	cr_assert_not(c->tcp_checksum_offload);
	cr_assert_eq(c->arp_table_len, 0);
	cr_assert_eq(c->arp_request_retries, 5);
	cr_assert_eq(c->arp_request_timeout_ms, 20);
	cr_assert_eq(c->arp_cache_ttl_s, 15);
	cr_assert_eq(c->poll_idle_us, 50);
	cr_assert_eq(c->max_qtokens, 65536);
	cr_assert_eq(c->max_queues, 65536);
	cr_assert_eq(c->max_buffers, 262144);
	cr_assert_eq(c->max_buffer_bytes, 1ULL << 30);
	cr_assert_eq(c->coroutine_stack, 65536);
	cr_assert_str_eq(c->log_level, "warn");
	cr_assert(c->catmem_membarrier);
}

Test(config, defaults)
{
	struct demi_config c;

	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	assert_defaults(&c);
}

Test(config, full_file_sets_every_key)
{
	struct demi_config c;

	config_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("full.yaml")), 0);
	cr_assert(c.has_local_ipv4_addr);
	assert_ip(c.local_ipv4_addr, "192.168.1.2");
	cr_assert(c.has_local_link_addr);
	assert_mac(c.local_link_addr, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc);
	cr_assert_str_eq(c.linux_interface_name, "eth1");
	cr_assert_eq(c.xdp_interface_index, 3);
	cr_assert_eq(c.eal_argc, 6);
	cr_assert_str_eq(c.eal_argv[0], "");
	cr_assert_str_eq(c.eal_argv[2], "0xff");
	cr_assert_str_eq(c.eal_argv[5], "--proc-type=auto");
	cr_assert(c.tcp_keepalive);
	cr_assert_eq(c.tcp_linger_s, 7);
	cr_assert_not(c.tcp_nodelay);
	cr_assert_eq(c.mtu, 9000);
	cr_assert_eq(c.mss, 8960);
	cr_assert(c.enable_jumbo_frames);
	cr_assert(c.udp_checksum_offload);
	cr_assert(c.tcp_checksum_offload);
	cr_assert_eq(c.arp_table_len, 2);
	assert_mac(c.arp_table[0].mac, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01);
	assert_ip(c.arp_table[0].ip, "192.168.1.1");
	assert_mac(c.arp_table[1].mac, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x03);
	assert_ip(c.arp_table[1].ip, "192.168.1.3");
	cr_assert_eq(c.arp_request_retries, 9);
	cr_assert_eq(c.arp_request_timeout_ms, 250);
	cr_assert_eq(c.arp_cache_ttl_s, 600);
	cr_assert_eq(c.poll_idle_us, 0);
	cr_assert_eq(c.max_qtokens, 1024);
	cr_assert_eq(c.max_queues, 512);
	cr_assert_eq(c.max_buffers, 4096);
	cr_assert_eq(c.max_buffer_bytes, 268435456);
	cr_assert_eq(c.coroutine_stack, 131072);
	cr_assert_str_eq(c.log_level, "debug");
	cr_assert_str_eq(c.libos, "catnap");
	cr_assert_str_eq(c.storage_durability, "fua");
	cr_assert_str_eq(c.storage_sqpoll, "off");
	cr_assert_str_eq(c.storage_direct, "auto");
	cr_assert_str_eq(c.storage_submit, "batch");
	cr_assert_eq(c.storage_ring_entries, 64);
	cr_assert_not(c.catmem_membarrier);
}

Test(config, storage_word_not_in_list)
{
	struct demi_config c;
	config_defaults(&c);
	cr_assert_str_eq(c.storage_durability, "flush");
	setenv("STORAGE_DURABILITY", "sometimes", 1);
	cr_assert_eq(config_apply_env(&c), -EINVAL);
	cr_assert_str_eq(c.storage_durability, "flush");
	setenv("STORAGE_DURABILITY", "none", 1);
	cr_assert_eq(config_apply_env(&c), 0);
	cr_assert_str_eq(c.storage_durability, "none");
	cr_assert_eq(config_parse_string(&c, "storage:\n  sqpoll: maybe\n", "inline"), -EINVAL);
	cr_assert_str_eq(c.storage_sqpoll, "auto");
}

/* The tcp: section: defaults, YAML, environment, and words outside the list refused. */
Test(config, tcp_section)
{
	struct demi_config c;
	config_defaults(&c);
	cr_assert_str_eq(c.tcp_cc, "cubic");
	cr_assert_eq(c.tcp_rcvbuf, 1u << 20);
	cr_assert(c.tcp_sack && c.tcp_timestamps && c.tcp_window_scale && c.tcp_syncookies);
	cr_assert_eq(c.tcp_rto_min_ms, 200);
	cr_assert_eq(config_parse_string(&c,
					 "tcp:\n  congestion_control: newreno\n  rcvbuf: 65536\n  sack: false\n"
					 "  time_wait_ms: 5\n  delayed_ack_ms: 0\n  keepalive_probes: 3\n",
					 "inline"),
		     0);
	cr_assert_str_eq(c.tcp_cc, "newreno");
	cr_assert_eq(c.tcp_rcvbuf, 65536);
	cr_assert_not(c.tcp_sack);
	cr_assert_eq(c.tcp_time_wait_ms, 5);
	cr_assert_eq(c.tcp_delayed_ack_ms, 0);
	cr_assert_eq(c.tcp_keepalive_probes, 3);
	cr_assert_eq(config_parse_string(&c, "tcp:\n  congestion_control: bbr\n", "inline"), -EINVAL);
	cr_assert_eq(config_parse_string(&c, "tcp:\n  rcvbuf: 100\n", "inline"), -EINVAL);
	cr_assert_eq(config_parse_string(&c, "tcp:\n  no_such_key: 1\n", "inline"), -EINVAL);
	setenv("TCP_CONGESTION_CONTROL", "cubic", 1);
	cr_assert_eq(config_apply_env(&c), 0);
	unsetenv("TCP_CONGESTION_CONTROL");
	cr_assert_str_eq(c.tcp_cc, "cubic");
}

Test(config, catmem_section)
{
	struct demi_config c;
	config_defaults(&c);
	cr_assert(c.catmem_membarrier);
	cr_assert_eq(config_parse_string(&c, "catmem:\n  membarrier: false\n", "inline"), 0);
	cr_assert_not(c.catmem_membarrier);
	cr_assert_eq(config_parse_string(&c, "catmem:\n  membarrier: sometimes\n", "inline"), -EINVAL);
	cr_assert_eq(config_parse_string(&c, "catmem:\n  fence: true\n", "inline"), -EINVAL);
	setenv("CATMEM_MEMBARRIER", "true", 1);
	cr_assert_eq(config_apply_env(&c), 0);
	unsetenv("CATMEM_MEMBARRIER");
	cr_assert(c.catmem_membarrier);
}

Test(config, demikernel_file_loads_unchanged)
{
	struct demi_config c;

	config_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("demikernel.yaml")), 0);
	assert_ip(c.local_ipv4_addr, "10.0.0.1");
	assert_mac(c.local_link_addr, 0x02, 0, 0, 0, 0, 0x01);
	cr_assert_str_eq(c.linux_interface_name, "veth0");
	cr_assert_eq(c.xdp_interface_index, 0);
	cr_assert_eq(c.eal_argc, 7);
	cr_assert_str_eq(c.eal_argv[5], "0000:00:08.0");
	cr_assert(c.tcp_keepalive);
	cr_assert_eq(c.tcp_linger_s, 10);
	cr_assert(c.tcp_nodelay);
	cr_assert_eq(c.mss, 1500);
	/* Application sections (catnip: has its own arp_table) must not leak in. */
	cr_assert_eq(c.arp_table_len, 2);
	assert_ip(c.arp_table[1].ip, "10.0.0.3");
	cr_assert_eq(c.arp_request_timeout_ms, 1);
}

Test(config, empty_and_comment_only_files_keep_defaults)
{
	struct demi_config c;

	config_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("empty.yaml")), 0);
	assert_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("comments-only.yaml")), 0);
	assert_defaults(&c);
	expect_yaml_ok(&c, "");
	assert_defaults(&c);
	expect_yaml_ok(&c, "---\n...\n");
	assert_defaults(&c);
}

Test(config, null_sections_and_values_keep_defaults)
{
	struct demi_config c;

	config_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("null-sections.yaml")), 0);
	assert_defaults(&c);
	expect_yaml_ok(&c, "inetstack_config: {mtu: null, mss: ~}\ndpdk: {eal_init: }\n");
	assert_defaults(&c);
}

Test(config, null_path_reads_only_environment)
{
	struct demi_config c;

	setenv("MTU", "4000", 1);
	config_defaults(&c);
	cr_assert_eq(config_load(&c, NULL), 0);
	cr_assert_eq(c.mtu, 4000);
}

Test(config, load_does_not_apply_defaults)
{
	struct demi_config c;

	config_defaults(&c);
	c.mss = 1000; /* a value set by the caller survives a file that does not mention it */
	cr_assert_eq(config_load(&c, FIXTURE("empty.yaml")), 0);
	cr_assert_eq(c.mss, 1000);
}

Test(config, environment_overrides_file)
{
	struct demi_config c;

	setenv("MTU", "1400", 1);
	setenv("LOCAL_IPV4_ADDR", "172.16.0.5", 1);
	setenv("NODELAY", "yes", 1);
	config_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("full.yaml")), 0);
	cr_assert_eq(c.mtu, 1400);
	assert_ip(c.local_ipv4_addr, "172.16.0.5");
	cr_assert(c.tcp_nodelay);
	cr_assert_eq(c.mss, 8960); /* from the file */
}

Test(config, environment_sets_every_variable)
{
	struct demi_config c;
	static const char *const vars[][2] = {
		{ "LIBOS", "catnip" },
		{ "LOCAL_IPV4_ADDR", "10.1.2.3" },
		{ "LOCAL_LINK_ADDR", "de:ad:be:ef:00:01" },
		{ "LINUX_INTERFACE_NAME", "ens5" },
		{ "XDP_INTERFACE_INDEX", "4" },
		{ "EAL_INIT", "  -c 0x3\t-n 2 " },
		{ "KEEPALIVE", "on" },
		{ "LINGER", "30" },
		{ "NODELAY", "false" },
		{ "MTU", "9000" },
		{ "MSS", "8960" },
		{ "ENABLE_JUMBO_FRAMES", "true" },
		{ "UDP_CHECKSUM_OFFLOAD", "1" },
		{ "TCP_CHECKSUM_OFFLOAD", "YES" },
		{ "ARP_REQUEST_RETRIES", "0" },
		{ "ARP_REQUEST_TIMEOUT", "100" },
		{ "ARP_CACHE_TTL", "60" },
		{ "POLL_IDLE_US", "1000" },
		{ "MAX_QTOKENS", "16" },
		{ "MAX_QUEUES", "32" },
		{ "MAX_BUFFERS", "64" },
		{ "MAX_BUFFER_BYTES", "1048576" },
		{ "COROUTINE_STACK", "16384" },
		{ "DEMI_LOG", "trace" },
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i][0], vars[i][1], 1);
	config_defaults(&c);
	cr_assert_eq(config_apply_env(&c), 0);
	cr_assert_str_eq(c.libos, "catnip");
	assert_ip(c.local_ipv4_addr, "10.1.2.3");
	cr_assert(c.has_local_ipv4_addr);
	assert_mac(c.local_link_addr, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01);
	cr_assert(c.has_local_link_addr);
	cr_assert_str_eq(c.linux_interface_name, "ens5");
	cr_assert_eq(c.xdp_interface_index, 4);
	cr_assert_eq(c.eal_argc, 4);
	cr_assert_str_eq(c.eal_argv[0], "-c");
	cr_assert_str_eq(c.eal_argv[1], "0x3");
	cr_assert_str_eq(c.eal_argv[3], "2");
	cr_assert(c.tcp_keepalive);
	cr_assert_eq(c.tcp_linger_s, 30);
	cr_assert_not(c.tcp_nodelay);
	cr_assert_eq(c.mtu, 9000);
	cr_assert_eq(c.mss, 8960);
	cr_assert(c.enable_jumbo_frames);
	cr_assert(c.udp_checksum_offload);
	cr_assert(c.tcp_checksum_offload);
	cr_assert_eq(c.arp_request_retries, 0);
	cr_assert_eq(c.arp_request_timeout_ms, 100);
	cr_assert_eq(c.arp_cache_ttl_s, 60);
	cr_assert_eq(c.poll_idle_us, 1000);
	cr_assert_eq(c.max_qtokens, 16);
	cr_assert_eq(c.max_queues, 32);
	cr_assert_eq(c.max_buffers, 64);
	cr_assert_eq(c.max_buffer_bytes, 1048576);
	cr_assert_eq(c.coroutine_stack, 16384);
	cr_assert_str_eq(c.log_level, "trace");
}

Test(config, environment_eal_init_replaces_file_list)
{
	struct demi_config c;

	setenv("EAL_INIT", "", 1);
	config_defaults(&c);
	cr_assert_eq(config_load(&c, FIXTURE("full.yaml")), 0);
	cr_assert_eq(c.eal_argc, 0);
}

Test(config, environment_bad_values_name_the_variable)
{
	expect_env_error("MTU", "abc");
	expect_env_error("MTU", "67");
	expect_env_error("MSS", "-1");
	expect_env_error("MAX_QTOKENS", "15");
	expect_env_error("COROUTINE_STACK", "16777216");
	expect_env_error("ARP_CACHE_TTL", "99999999999999999999");
	expect_env_error("LINGER", "-2");
	expect_env_error("XDP_INTERFACE_INDEX", "one");
	expect_env_error("KEEPALIVE", "maybe");
	expect_env_error("NODELAY", "");
	expect_env_error("LOCAL_IPV4_ADDR", "10.0.0");
	expect_env_error("LOCAL_LINK_ADDR", "de:ad:be:ef:00");
	expect_env_error("DEMI_LOG", "verbose");
	expect_env_error("LINUX_INTERFACE_NAME", "an-interface-name-longer-than-31-chars");
	expect_env_error("LIBOS", "a-libos-name-that-is-far-too-long-to-fit");
}

Test(config, environment_too_many_eal_args)
{
	char buf[256] = "";

	for (int i = 0; i <= CONFIG_EAL_ARGS_MAX; i++)
		strcat(buf, "-x ");
	expect_env_error("EAL_INIT", buf);
}

Test(config, missing_file)
{
	struct demi_config c;
	struct capture cap;

	config_defaults(&c);
	capture_start(&cap);
	int rc = config_load(&c, FIXTURE("no-such-file.yaml"));
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, -EINVAL);
	assert_one_line(err, "no-such-file.yaml: cannot read: No such file or directory");
}

Test(config, directory_is_not_a_file)
{
	struct demi_config c;
	struct capture cap;

	config_defaults(&c);
	capture_start(&cap);
	int rc = config_load(&c, DEMI_TEST_DATA "/config");
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, -EINVAL);
	assert_one_line(err, "Is a directory");
}

Test(config, unknown_key_names_file_line_and_key)
{
	struct demi_config c;
	struct capture cap;

	config_defaults(&c);
	capture_start(&cap);
	int rc = config_load(&c, FIXTURE("unknown-key.yaml"));
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, -EINVAL);
	cr_assert_str_eq(err, "demi: config: " FIXTURE("unknown-key.yaml")
			      ":7: unknown key 'inetstack_config.mtux'\n");
}

Test(config, unknown_keys_in_every_section)
{
	expect_yaml_error("demikernel: {local_ipv6_addr: x}", "unknown key 'demikernel.local_ipv6_addr'");
	expect_yaml_error("raw_socket: {ifname: eth0}", "unknown key 'raw_socket.ifname'");
	expect_yaml_error("dpdk: {eal: []}", "unknown key 'dpdk.eal'");
	expect_yaml_error("tcp_socket_options: {no_delay: true}",
			  "unknown key 'tcp_socket_options.no_delay'");
	expect_yaml_error("demi: {log: info}", "unknown key 'demi.log'");
	expect_yaml_error("tcp_socket_options: {linger: {enabled: true, time_millis: 1}}",
			  "unknown key 'tcp_socket_options.linger.time_millis'");
	expect_yaml_error("tcp_socket_options: {keepalive: {on: true}}",
			  "unknown key 'tcp_socket_options.keepalive.on'");
}

Test(config, syntax_error_names_line)
{
	struct demi_config c;
	struct capture cap;

	config_defaults(&c);
	capture_start(&cap);
	int rc = config_load(&c, FIXTURE("syntax-error.yaml"));
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, -EINVAL);
	assert_one_line(err, FIXTURE("syntax-error.yaml") ":");
	assert_one_line(err, "YAML syntax error: ");
	expect_yaml_error("a: b: c\n", "test.yaml:1: YAML syntax error: mapping values are not allowed");
	expect_yaml_error("demi:\n  log_level: \"warn\n", "test.yaml:");
	expect_yaml_error("demi:\n\tlog_level: warn\n", "YAML syntax error");
	expect_yaml_error("demi: {log_level: \xc3\x28}\n", "YAML encoding error");
}

Test(config, wrong_types)
{
	expect_yaml_error("inetstack_config:\n  mtu: abc\n",
			  "test.yaml:2: inetstack_config.mtu: expected an integer in [68, 65535], got 'abc'");
	expect_yaml_error("inetstack_config: {mtu: 1500.0}", "inetstack_config.mtu");
	expect_yaml_error("inetstack_config: {mtu: 0x5dc}", "inetstack_config.mtu");
	expect_yaml_error("inetstack_config: {mtu: [1500]}",
			  "inetstack_config.mtu: expected a single value");
	expect_yaml_error("inetstack_config: {arp_request_retries: -1}",
			  "inetstack_config.arp_request_retries");
	expect_yaml_error("demi: {poll_idle_us: \" 5\"}", "demi.poll_idle_us");
	expect_yaml_error("raw_socket: {xdp_interface_index: 1e3}", "raw_socket.xdp_interface_index");
	expect_yaml_error("inetstack_config: {enable_jumbo_frames: maybe}",
			  "inetstack_config.enable_jumbo_frames: expected true or false");
	expect_yaml_error("tcp_socket_options: {nodelay: 2}", "tcp_socket_options.nodelay");
	expect_yaml_error("tcp_socket_options: {keepalive: {enabled: sometimes}}",
			  "tcp_socket_options.keepalive.enabled");
	expect_yaml_error("tcp_socket_options: {linger: {enabled: true, time_seconds: -5}}",
			  "tcp_socket_options.linger.time_seconds");
	expect_yaml_error("dpdk: {eal_init: \"-c 0xff\"}", "dpdk.eal_init: expected a list of strings");
	expect_yaml_error("dpdk: {eal_init: [[\"-c\"]]}", "dpdk.eal_init: expected a list of strings");
	expect_yaml_error("inetstack_config: {arp_table: [a, b]}",
			  "inetstack_config.arp_table: expected a mapping");
	expect_yaml_error("demi: {log_level: loud}",
			  "demi.log_level: expected error, warn, info, debug or trace, got 'loud'");
}

Test(config, bool_spellings)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "on", "1" };
	static const char *const no[] = { "false", "False", "no", "OFF", "0" };
	struct demi_config c;
	char yaml[64];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(yaml, sizeof(yaml), "tcp_socket_options: {keepalive: %s}", yes[i]);
		expect_yaml_ok(&c, yaml);
		cr_assert(c.tcp_keepalive, "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(yaml, sizeof(yaml), "tcp_socket_options: {nodelay: %s}", no[i]);
		expect_yaml_ok(&c, yaml);
		cr_assert_not(c.tcp_nodelay, "%s", no[i]);
	}
}

Test(config, linger_forms)
{
	struct demi_config c;

	expect_yaml_ok(&c, "tcp_socket_options: {linger: 0}");
	cr_assert_eq(c.tcp_linger_s, 0);
	expect_yaml_ok(&c, "tcp_socket_options: {linger: -1}");
	cr_assert_eq(c.tcp_linger_s, -1);
	expect_yaml_ok(&c, "tcp_socket_options: {linger: {enabled: false, time_seconds: 9}}");
	cr_assert_eq(c.tcp_linger_s, -1);
	expect_yaml_ok(&c, "tcp_socket_options: {linger: {time_seconds: 9, enabled: true}}");
	cr_assert_eq(c.tcp_linger_s, 9);
	expect_yaml_error("tcp_socket_options: {linger: 65536}", "tcp_socket_options.linger");
	expect_yaml_error("tcp_socket_options: {linger: -2}", "tcp_socket_options.linger");
}

Test(config, quoted_values_are_accepted)
{
	struct demi_config c;

	expect_yaml_ok(&c, "inetstack_config: {mtu: \"1400\"}\nraw_socket: {linux_interface_name: 'lo'}");
	cr_assert_eq(c.mtu, 1400);
	cr_assert_str_eq(c.linux_interface_name, "lo");
	/* Quoted "null" is a string, not a missing value. */
	expect_yaml_ok(&c, "raw_socket: {linux_interface_name: \"null\"}");
	cr_assert_str_eq(c.linux_interface_name, "null");
}

Test(config, bad_ipv4)
{
	expect_yaml_error("demikernel: {local_ipv4_addr: 10.0.0.256}",
			  "demikernel.local_ipv4_addr: expected an IPv4 address");
	expect_yaml_error("demikernel: {local_ipv4_addr: XX.XX.XX.XX}", "demikernel.local_ipv4_addr");
	expect_yaml_error("demikernel: {local_ipv4_addr: \"::1\"}", "demikernel.local_ipv4_addr");
	expect_yaml_error("inetstack_config: {arp_table: {\"aa:bb:cc:dd:ee:ff\": 1.2.3}}",
			  "inetstack_config.arp_table.aa:bb:cc:dd:ee:ff: expected an IPv4 address");
}

Test(config, bad_mac)
{
	static const char *const bad[] = {
		"aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff",
		"aa:bb:cc:dd:ee:fg", "a:bb:cc:dd:ee:ff0", "",
	};
	char yaml[96];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "demikernel: {local_link_addr: \"%s\"}", bad[i]);
		expect_yaml_error(yaml, "demikernel.local_link_addr: expected a MAC address");
	}
	expect_yaml_error("inetstack_config:\n  arp_table:\n    \"zz:bb:cc:dd:ee:ff\": 1.2.3.4\n",
			  "test.yaml:3: inetstack_config.arp_table: expected a MAC address");
}

Test(config, too_many_eal_args)
{
	char yaml[512] = "dpdk:\n  eal_init: [";

	for (int i = 0; i <= CONFIG_EAL_ARGS_MAX; i++)
		strcat(yaml, "\"-x\", ");
	strcat(yaml, "]\n");
	expect_yaml_error(yaml, "dpdk.eal_init: too many arguments (at most 32)");
}

Test(config, eal_args_up_to_the_limit)
{
	struct demi_config c;
	char yaml[512] = "dpdk:\n  eal_init: [";

	for (int i = 0; i < CONFIG_EAL_ARGS_MAX; i++)
		strcat(yaml, "\"-x\", ");
	strcat(yaml, "]\n");
	expect_yaml_ok(&c, yaml);
	cr_assert_eq(c.eal_argc, CONFIG_EAL_ARGS_MAX);
}

Test(config, too_many_arp_entries)
{
	char yaml[8192] = "inetstack_config:\n  arp_table:\n";
	char line[64];

	for (int i = 0; i <= CONFIG_ARP_TABLE_MAX; i++) {
		snprintf(line, sizeof(line), "    \"02:00:00:00:00:%02x\": 10.0.0.%d\n", i, i + 1);
		strcat(yaml, line);
	}
	expect_yaml_error(yaml, "inetstack_config.arp_table: too many entries (at most 64)");
}

Test(config, string_too_long)
{
	char yaml[1024];
	char arg[CONFIG_STR_MAX + 1];

	expect_yaml_error("raw_socket: {linux_interface_name: abcdefghijklmnopqrstuvwxyz0123456}",
			  "raw_socket.linux_interface_name: longer than 31 characters");
	memset(arg, 'a', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	snprintf(yaml, sizeof(yaml), "dpdk: {eal_init: [%s]}", arg);
	expect_yaml_error(yaml, "dpdk.eal_init: longer than 255 characters");
}

Test(config, ranges)
{
	expect_yaml_error("inetstack_config: {mtu: 67}", "inetstack_config.mtu");
	expect_yaml_error("inetstack_config: {mtu: 65536}", "inetstack_config.mtu");
	expect_yaml_error("inetstack_config: {mss: 87}", "inetstack_config.mss");
	expect_yaml_error("inetstack_config: {mss: 65496}", "inetstack_config.mss");
	expect_yaml_error("inetstack_config: {arp_request_timeout: 0}",
			  "inetstack_config.arp_request_timeout: expected an integer >= 1");
	expect_yaml_error("demi: {max_qtokens: 15}", "demi.max_qtokens");
	expect_yaml_error("demi: {max_queues: 4294967296}", "demi.max_queues");
	expect_yaml_error("demi: {max_buffers: 0}", "demi.max_buffers");
	expect_yaml_error("demi: {max_buffer_bytes: 1024}", "demi.max_buffer_bytes");
	expect_yaml_error("demi: {coroutine_stack: 16383}", "demi.coroutine_stack");
	expect_yaml_error("demi: {coroutine_stack: 8388609}", "demi.coroutine_stack");
	expect_yaml_error("demi: {poll_idle_us: 18446744073709551616}", "demi.poll_idle_us");
}

Test(config, range_limits_are_inclusive)
{
	struct demi_config c;

	expect_yaml_ok(&c, "inetstack_config: {mtu: 68, mss: 88}\n"
			   "demi: {max_qtokens: 16, coroutine_stack: 8388608}\n");
	cr_assert_eq(c.mtu, 68);
	cr_assert_eq(c.mss, 88);
	cr_assert_eq(c.coroutine_stack, 8388608);
	expect_yaml_ok(&c, "inetstack_config: {mtu: 65535, mss: 65495}\n"
			   "demi: {max_qtokens: 4294967295, max_queues: 1073741824, poll_idle_us: 18446744073709551615}\n");
	cr_assert_eq(c.mtu, 65535);
	cr_assert_eq(c.max_qtokens, 4294967295u);
	cr_assert_eq(c.max_queues, 1u << 30); /* qds are 2^30 + a slot and must fit in an int */
	cr_assert_eq(c.poll_idle_us, UINT64_MAX);
	expect_yaml_error("demi: {max_queues: 1073741825}\n",
			  "demi.max_queues: expected an integer in [16, 1073741824], got '1073741825'");
}

Test(config, top_level_must_be_a_mapping)
{
	expect_yaml_error("- demi\n- dpdk\n", "test.yaml:1: the top level must be a mapping");
	expect_yaml_error("just a string\n", "the top level must be a mapping");
	expect_yaml_error("demi: [1, 2]\n", "demi: expected a mapping");
	expect_yaml_error("inetstack_config: 1500\n", "inetstack_config: expected a mapping");
	expect_yaml_error("? [a, b]\n: c\n", "top level: keys must be plain strings");
}

Test(config, unknown_top_level_sections_are_ignored)
{
	struct demi_config c;

	expect_yaml_ok(&c, "client: {connect_to: {host: x, port: [1, {a: b}]}}\n"
			   "catnip: {my_ipv4_addr: not-an-address}\n"
			   "future_section: &anchor {x: 1}\n"
			   "other: *anchor\n"
			   "inetstack_config: {mtu: 1400}\n");
	cr_assert_eq(c.mtu, 1400);
}

Test(config, ignored_demikernel_keys_accept_any_shape)
{
	struct demi_config c;

	expect_yaml_ok(&c, "raw_socket:\n  xdp_tcp_ports: [80, 443]\n  xdp_cohost_mode: true\n"
			   "  xdp_buffer_overallocation_factor: 1.5\n  tx_ring_size: {a: [1]}\n");
	assert_defaults(&c);
}

Test(config, aliases_in_our_sections_are_refused)
{
	expect_yaml_error("x: &m 1400\ninetstack_config: {mtu: *m}\n",
			  "inetstack_config.mtu: aliases are not supported");
}

Test(config, more_than_one_document)
{
	expect_yaml_error("demi: {max_queues: 64}\n---\ndemi: {max_queues: 128}\n",
			  "test.yaml:2: more than one YAML document");
}

Test(config, later_duplicates_win_and_lists_replace)
{
	struct demi_config c;

	expect_yaml_ok(&c, "inetstack_config: {mtu: 1000}\ninetstack_config: {mtu: 1200}\n"
			   "dpdk: {eal_init: [a, b, c]}\ndpdk: {eal_init: [d]}\n"
			   "inetstack_config: {arp_table: {\"02:00:00:00:00:01\": 10.0.0.1,"
			   " \"02:00:00:00:00:02\": 10.0.0.2}}\n"
			   "inetstack_config: {arp_table: {\"02:00:00:00:00:03\": 10.0.0.3}}\n");
	cr_assert_eq(c.mtu, 1200);
	cr_assert_eq(c.eal_argc, 1);
	cr_assert_str_eq(c.eal_argv[0], "d");
	cr_assert_eq(c.arp_table_len, 1);
	assert_ip(c.arp_table[0].ip, "10.0.0.3");
}

Test(config, null_text_is_an_error)
{
	struct demi_config c;
	struct capture cap;

	config_defaults(&c);
	capture_start(&cap);
	int rc = config_parse_string(&c, NULL, NULL);
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, -EINVAL);
	assert_one_line(err, "<string>");
}

Test(config, empty_path_is_no_file)
{
	struct demi_config c;
	struct capture cap;

	setenv("MTU", "4000", 1);
	config_defaults(&c);
	capture_start(&cap);
	int rc = config_load(&c, "");
	const char *err = capture_end(&cap);
	cr_assert_eq(rc, 0, "stderr: %s", err);
	cr_assert_str_empty(err);
	cr_assert_eq(c.mtu, 4000);
	unsetenv("MTU");
	config_defaults(&c);
	cr_assert_eq(config_load(&c, ""), 0);
	assert_defaults(&c);
}

/* Keys accepted for Demikernel's files but without effect here: one warning each when set, none otherwise. */
static const char *load_capturing(struct demi_config *c, struct capture *cap, const char *path)
{
	config_defaults(c);
	capture_start(cap);
	int rc = config_load(c, path);
	const char *err = capture_end(cap);
	cr_assert_eq(rc, 0, "stderr: %s", err);
	return err;
}

Test(config, unused_keys_warn_when_set)
{
	struct demi_config c;
	struct capture cap;
	const char *err;

	err = load_capturing(&c, &cap, FIXTURE("empty.yaml"));
	cr_assert_str_empty(err);

	setenv("ENABLE_JUMBO_FRAMES", "true", 1);
	err = load_capturing(&c, &cap, NULL);
	cr_assert(c.enable_jumbo_frames);
	assert_one_line(err, "warn: config: inetstack_config.enable_jumbo_frames is set: No effect on Demi");
	unsetenv("ENABLE_JUMBO_FRAMES");

	setenv("XDP_INTERFACE_INDEX", "2", 1);
	err = load_capturing(&c, &cap, NULL);
	cr_assert_eq(c.xdp_interface_index, 2);
	assert_one_line(err, "warn: config: raw_socket.xdp_interface_index is set: No effect on Demi");

	/* A log level that hides warnings hides these too. */
	setenv("DEMI_LOG", "error", 1);
	err = load_capturing(&c, &cap, NULL);
	cr_assert_str_empty(err);
	unsetenv("DEMI_LOG");
	unsetenv("XDP_INTERFACE_INDEX");

	/* Demikernel's file sets xdp_interface_index (0) and leaves enable_jumbo_frames false. */
	err = load_capturing(&c, &cap, FIXTURE("demikernel.yaml"));
	assert_one_line(err, "raw_socket.xdp_interface_index is set");
	/* config_parse_string checks but does not warn: the warning belongs to loading. */
	expect_yaml_ok(&c, "inetstack_config: {enable_jumbo_frames: true}\n");
	cr_assert(c.enable_jumbo_frames);
}

/* The defaults the tables give, for the keys assert_defaults does not cover (as config_defaults set them before the schema). */
Test(config, tcp_storage_and_socket_defaults)
{
	struct demi_config c;

	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	cr_assert_str_eq(c.tcp_cc, "cubic");
	cr_assert_eq(c.tcp_rcvbuf, 1u << 20);
	cr_assert_eq(c.tcp_sndbuf, 1u << 20);
	cr_assert(c.tcp_window_scale && c.tcp_timestamps && c.tcp_sack && c.tcp_syncookies);
	cr_assert_eq(c.tcp_syn_backlog, 256);
	cr_assert_eq(c.tcp_rto_min_ms, 200);
	cr_assert_eq(c.tcp_rto_max_ms, 60000);
	cr_assert_eq(c.tcp_rto_initial_ms, 1000);
	cr_assert_eq(c.tcp_retries, 12);
	cr_assert_eq(c.tcp_syn_retries, 6);
	cr_assert_eq(c.tcp_delayed_ack_ms, 40);
	cr_assert_eq(c.tcp_time_wait_ms, 60000);
	cr_assert_eq(c.tcp_fin_timeout_ms, 60000);
	cr_assert_eq(c.tcp_keepalive_idle_s, 7200);
	cr_assert_eq(c.tcp_keepalive_intvl_s, 75);
	cr_assert_eq(c.tcp_keepalive_probes, 9);
	cr_assert_str_eq(c.storage_durability, "flush");
	cr_assert_str_eq(c.storage_sqpoll, "auto");
	cr_assert_str_eq(c.storage_direct, "auto");
	cr_assert_str_eq(c.storage_submit, "eager");
	cr_assert_eq(c.storage_ring_entries, 256);
	cr_assert_eq(c.arp_table_len, 0);
	cr_assert_eq(c.eal_argc, 0);
}

/* Every row is well formed: one row per key and per variable, defaults inside their own ranges. */
Test(config, schema_rows_are_consistent)
{
	const struct cfg_key *all[256];
	size_t n = 0;

	for (size_t i = 0; i < cfg_ntables; i++)
		for (size_t j = 0; j < cfg_tables[i]->n; j++) {
			cr_assert_lt(n, sizeof(all) / sizeof(all[0]));
			all[n++] = &cfg_tables[i]->keys[j];
		}
	for (size_t i = 0; i < n; i++) {
		const struct cfg_key *k = all[i];
		cr_assert(k->section || k->env, "%s: neither a YAML path nor a variable", k->name);
		cr_assert(k->type == CFG_IGNORED || (k->doc && *k->doc), "%s: no doc line", k->name);
		for (size_t j = 0; j < i; j++) {
			const struct cfg_key *o = all[j];
			cr_assert(!(k->section && o->section && strcmp(k->section, o->section) == 0 &&
				    strcmp(k->name, o->name) == 0), "%s.%s declared twice", k->section, k->name);
			cr_assert(!(k->env && o->env && strcmp(k->env, o->env) == 0), "%s used twice", k->env);
		}
		if (k->type == CFG_UINT)
			cr_assert(k->def.u >= (uint64_t)k->min && k->def.u <= k->max, "%s: default out of range", k->name);
		if (k->type == CFG_INT)
			cr_assert(k->def.i >= k->min && (k->def.i < 0 || (uint64_t)k->def.i <= k->max), "%s", k->name);
		if (k->type == CFG_STR || k->type == CFG_ENUM)
			cr_assert(!k->def.s || strlen(k->def.s) < k->size, "%s: default does not fit", k->name);
		if (k->type == CFG_ENUM) {
			char bar[64];
			snprintf(bar, sizeof(bar), "|%s|", k->def.s);
			char words[128];
			snprintf(words, sizeof(words), "|%s|", k->words);
			cr_assert_not_null(strstr(words, bar), "%s: default not one of %s", k->name, k->words);
		}
		cr_assert(!(k->flags & CFG_UNUSED) || k->type == CFG_BOOL || k->type == CFG_INT || k->type == CFG_UINT,
			  "%s: CFG_UNUSED needs a scalar to compare with its default", k->name);
	}
}
