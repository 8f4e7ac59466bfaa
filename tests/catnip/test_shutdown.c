/*
 * catnip's clean shutdown: a thread starts Demi on catnip, opens, binds and
 * closes a UDP socket, and exits; thread exit tears the runtime down, which
 * stops and closes the DPDK port and cleans up the EAL. Run by run.sh inside
 * a namespace with LIBOS=catnip, LOCAL_IPV4_ADDR and EAL_INIT set. Exit 0 when
 * the thread got through, 1 on an error, 77 when DPDK cannot start here.
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *run(void *arg)
{
	(void)arg;
	static char prog[] = "test_catnip_shutdown";
	char *argv[] = { prog, NULL };
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	int err = demi_init(&args);
	if (err) {
		fprintf(stderr, "test_catnip_shutdown: demi_init: %s\n", strerror(err));
		return (void *)(long)77; /* run.sh reads the log to tell a DPDK that cannot start from a bug */
	}
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(7) };
	const char *ip = getenv("LOCAL_IPV4_ADDR");
	if (!ip || inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		return (void *)1L;
	int qd;
	if ((err = demi_socket(&qd, AF_INET, SOCK_DGRAM, 0)) != 0 ||
		(err = demi_bind(qd, (const struct sockaddr *)&sin, sizeof(sin))) != 0 || (err = demi_close(qd)) != 0) {
		fprintf(stderr, "test_catnip_shutdown: socket/bind/close: %s\n", strerror(err));
		return (void *)1L;
	}
	return NULL; /* the runtime, the libOS and DPDK are torn down as this thread exits */
}

int main(void)
{
	pthread_t t;
	void *rc;
	if (pthread_create(&t, NULL, run, NULL) != 0 || pthread_join(t, &rc) != 0)
		return 1;
	if (rc)
		return (int)(long)rc;
	printf("test_catnip_shutdown: thread exited, runtime torn down\n");
	return 0;
}
