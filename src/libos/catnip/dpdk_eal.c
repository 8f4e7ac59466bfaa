/*
 * catnip's process-wide part: DPDK's EAL, which starts once per process and
 * cannot start again after rte_eal_cleanup, and the ports it found. Each
 * catnip instance (one per thread, as for every libOS) drives a port of its
 * own, the first one not taken; the last one to close cleans the EAL up.
 * This is the only state catnip shares between threads, under one lock.
 */
#include "dpdk_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "../../runtime/config.h"
#include "../../runtime/log.h"

static pthread_mutex_t eal_lock = PTHREAD_MUTEX_INITIALIZER;
static int eal_users;                         /* ports taken */
static bool eal_up, eal_gone;                 /* started; cleaned up (for good) */
static bool port_taken[RTE_MAX_ETHPORTS];

/* DPDK functions that fail with -1 leave the cause in rte_errno: we want -errno. */
static int rte_err(void)
{
	return rte_errno > 0 ? -rte_errno : -EIO;
}

/* Whether the EAL arguments name one of these options. */
static bool eal_has(const struct demi_config *cfg, const char *const *opts)
{
	for (int i = 0; i < cfg->eal_argc; i++)
		for (const char *const *o = opts; *o; o++)
			if (strncmp(cfg->eal_argv[i], *o, strlen(*o)) == 0)
				return true;
	return false;
}

/* Free hugepages of the default size, in bytes, where a hugetlbfs is mounted; 0 otherwise. */
static uint64_t huge_free_bytes(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];
	bool mounted = false;
	while (f && fgets(line, sizeof(line), f))
		mounted |= strstr(line, " hugetlbfs ") != NULL;
	if (f)
		fclose(f);
	unsigned long long n = 0, kb = 0, v;
	f = mounted ? fopen("/proc/meminfo", "r") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			n = v;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			kb = v;
	}
	if (f)
		fclose(f);
	return (uint64_t)n * kb * 1024u;
}

/*
 * rte_eal_init takes argv as main() has it: a program name first. It permutes
 * the array (getopt) but not the strings, which stay those of the runtime's
 * configuration (or static ones): they outlive the EAL, in case it keeps a
 * pointer to one. Without enough free hugepages, and unless the arguments
 * choose the memory themselves, --no-huge is added (hugepages when the
 * machine has them, ordinary pages otherwise, and the log says which);
 * --in-memory, refused with --no-huge by DPDK 22.11, becomes --no-shconf.
 */
static int eal_start(const struct demi_config *cfg)
{
	static char prog[] = "demi", no_huge[] = "--no-huge", no_shconf[] = "--no-shconf";
	static const char *const mem_opts[] = { "--no-huge", "--socket-mem", "--huge-dir", "--legacy-mem", NULL };
	char *argv[CONFIG_EAL_ARGS_MAX + 3];
	int argc = 0;
	bool fallback = false;
	uint64_t huge = 0;
	if (!eal_has(cfg, mem_opts) && (huge = huge_free_bytes()) < DPDK_DEV_HUGE_MIN)
		fallback = true;
	argv[argc++] = prog;
	for (int i = 0; i < cfg->eal_argc; i++)
		argv[argc++] = fallback && strcmp(cfg->eal_argv[i], "--in-memory") == 0 ? no_shconf : (char *)cfg->eal_argv[i];
	if (fallback)
		argv[argc++] = no_huge;
	argv[argc] = NULL;
	if (fallback)
		log_warn("catnip: %llu MiB of hugepages free (want %u): starting the EAL with --no-huge "
			 "(scripts/setup.sh reserves hugepages)", (unsigned long long)(huge >> 20), DPDK_DEV_HUGE_MIN >> 20);
	if (rte_eal_init(argc, argv) < 0) {
		int err = rte_err();
		if (err == -EALREADY)
			log_error("catnip: cannot start DPDK: the EAL was started before in this process");
		else
			log_error("catnip: cannot start DPDK: rte_eal_init failed (%s); check dpdk.eal_init / EAL_INIT",
				rte_strerror(-err));
		return err;
	}
	/* Issue 5: say whether we run on hugepages, since --no-huge costs TLB misses and a real NIC needs them. */
	if (rte_eal_has_hugepages())
		log_info("catnip: EAL up on hugepages, IOVA as %s", rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");
	else
		log_info("catnip: EAL up without hugepages (--no-huge): ordinary pages, virtual devices only");
	return 0;
}

/* The first port no other catnip in this process drives; -ENODEV when none. */
static int take_port(uint16_t *out)
{
	uint16_t port;
	RTE_ETH_FOREACH_DEV(port) {
		if (!port_taken[port]) {
			port_taken[port] = true;
			*out = port;
			return 0;
		}
	}
	if (eal_users)
		log_error("catnip: every DPDK port is driven by another thread's catnip: name one more with --vdev");
	else
		log_error("catnip: DPDK found no port: name one with --vdev in EAL_INIT, or bind a NIC to a DPDK driver");
	return -ENODEV;
}

int dpdk_eal_acquire(const struct demi_config *cfg, uint16_t *port)
{
	pthread_mutex_lock(&eal_lock);
	int err = 0;
	if (eal_gone) {
		log_error("catnip: cannot start DPDK: the EAL was started before in this process");
		err = -EALREADY;
	} else if (!eal_up) {
		err = eal_start(cfg);
		eal_up = err == 0;
	}
	if (!err && (err = take_port(port)) == 0)
		eal_users++;
	/* The EAL came up for nothing: give it back now, as the last close would. */
	if (err && eal_up && !eal_users) {
		rte_eal_cleanup();
		eal_up = false;
		eal_gone = true;
	}
	pthread_mutex_unlock(&eal_lock);
	return err;
}

void dpdk_eal_release(uint16_t port)
{
	pthread_mutex_lock(&eal_lock);
	port_taken[port] = false;
	if (--eal_users == 0) {
		rte_eal_cleanup();
		eal_up = false;
		eal_gone = true;
	}
	pthread_mutex_unlock(&eal_lock);
}
