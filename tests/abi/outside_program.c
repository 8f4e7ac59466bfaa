/*
 * A program from outside the tree: it includes only the installed <demi/...h> headers and is built with
 * `pkg-config --cflags --libs demi` against an installed copy (tests/abi/check_exports.sh for
 * `meson install`, tests/abi/deb_test.sh for the Debian packages). Under LIBOS=catnap it pushes one
 * message through a memory queue (<demi/memq.h>) and pops it back, then prints "outside: ok".
 */
#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FAIL(what, err) (fprintf(stderr, "outside: %s: %s\n", (what), strerror(err)), 1)

int main(int argc, char *const argv[])
{
	static const char msg[] = "hello from outside";
	const struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	demi_qtoken_t qt;
	demi_qresult_t qr;
	int qd, err;

	if ((err = demi_init(&args)) != 0)
		return FAIL("demi_init", err);
	if ((err = demi_queue(&qd)) != 0)
		return FAIL("demi_queue", err);
	demi_sgarray_t sga = demi_sgaalloc(sizeof(msg));
	if (sga.sga_numsegs != 1 || sga.sga_segs[0].sgaseg_len < sizeof(msg))
		return FAIL("demi_sgaalloc", ENOMEM);
	memcpy(sga.sga_segs[0].sgaseg_buf, msg, sizeof(msg));
	sga.sga_segs[0].sgaseg_len = sizeof(msg);
	if ((err = demi_push(&qt, qd, &sga)) != 0)
		return FAIL("demi_push", err);
	if ((err = demi_wait(&qr, qt, NULL)) != 0 || qr.qr_opcode != DEMI_OPC_PUSH)
		return FAIL("push: demi_wait", err ? err : EIO);
	demi_sgafree(&sga);
	if ((err = demi_pop(&qt, qd)) != 0)
		return FAIL("demi_pop", err);
	if ((err = demi_wait(&qr, qt, NULL)) != 0 || qr.qr_opcode != DEMI_OPC_POP)
		return FAIL("pop: demi_wait", err ? err : EIO);
	const demi_sgarray_t *got = &qr.qr_value.sga;
	if (got->sga_numsegs != 1 || got->sga_segs[0].sgaseg_len != sizeof(msg) ||
	    memcmp(got->sga_segs[0].sgaseg_buf, msg, sizeof(msg)) != 0)
		return FAIL("popped message", EBADMSG);
	demi_sgafree(&qr.qr_value.sga);
	if ((err = demi_close(qd)) != 0)
		return FAIL("demi_close", err);
	printf("outside: ok\n");
	return 0;
}
