/*
 * A program written for Demikernel's C API, using only its headers and calls,
 * as its own examples do: it must build with -std=c99 -Wall -Wextra -Werror and
 * run against Demi. It runs a UDP round trip over loopback through one socket.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char *const argv[])
{
	const struct demi_args args = {
		.argc = argc,
		.argv = argv,
		.callback = NULL,
	};
	int qd = -1;
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	demi_qtoken_t qt = (demi_qtoken_t)-1;
	demi_qresult_t qr;
	demi_sgarray_t sga;

	if (demi_init(&args) != 0)
		return 1;
	if (demi_socket(&qd, AF_INET, SOCK_DGRAM, 0) != 0)
		return 1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (demi_bind(qd, (const struct sockaddr *)&addr, sizeof(addr)) != 0)
		return 1;
	if (demi_getsockname(qd, (struct sockaddr *)&addr, &len) != 0)
		return 1;

	sga = demi_sgaalloc(5);
	assert(sga.sga_buf != NULL && sga.sga_numsegs == 1);
	memcpy(sga.sga_segs[0].sgaseg_buf, "hello", 5);
	if (demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&addr, sizeof(addr)) != 0)
		return 1;
	if (demi_wait(&qr, qt, NULL) != 0 || qr.qr_opcode != DEMI_OPC_PUSH)
		return 1;
	if (demi_sgafree(&sga) != 0)
		return 1;
	if (demi_pop(&qt, qd) != 0)
		return 1;
	if (demi_wait(&qr, qt, NULL) != 0 || qr.qr_opcode != DEMI_OPC_POP)
		return 1;
	if (qr.qr_value.sga.sga_segs[0].sgaseg_len != 5 || memcmp(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "hello", 5))
		return 1;
	if (qr.qr_value.sga.sga_addr.sin_port != addr.sin_port)
		return 1;
	if (demi_sgafree(&qr.qr_value.sga) != 0 || demi_close(qd) != 0)
		return 1;
	printf("demikernel program: ok\n");
	return 0;
}
