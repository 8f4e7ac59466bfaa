/* Compile-time ABI check of the PDPIX types against Demikernel's packed x86-64 layout. */
#include <demi/cc.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>
#include <stddef.h>
#include <stdio.h>

#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(demi_qtoken_t) == 8, "demi_qtoken_t");
_Static_assert(DEMI_SGARRAY_MAXSIZE == 1, "DEMI_SGARRAY_MAXSIZE");
_Static_assert(sizeof(struct sockaddr_in) == 16, "sockaddr_in");
_Static_assert(sizeof(demi_sgaseg_t) == 12, "demi_sgaseg_t");
_Static_assert(sizeof(demi_sgarray_t) == 40, "demi_sgarray_t");
_Static_assert(offsetof(demi_sgarray_t, sga_numsegs) == 8, "sga_numsegs");
_Static_assert(offsetof(demi_sgarray_t, sga_segs) == 12, "sga_segs");
_Static_assert(offsetof(demi_sgarray_t, sga_addr) == 24, "sga_addr");
_Static_assert(sizeof(demi_accept_result_t) == 20, "demi_accept_result_t");
_Static_assert(sizeof(demi_qresult_t) == 64, "demi_qresult_t");
_Static_assert(sizeof(enum demi_opcode) == 4, "demi_opcode_t");
_Static_assert(offsetof(demi_qresult_t, qr_qd) == 4, "qr_qd");
_Static_assert(offsetof(demi_qresult_t, qr_qt) == 8, "qr_qt");
_Static_assert(offsetof(demi_qresult_t, qr_ret) == 16, "qr_ret");
_Static_assert(sizeof(((demi_qresult_t *)0)->qr_ret) == 8, "qr_ret is 64-bit");
_Static_assert(offsetof(demi_qresult_t, qr_value) == 24, "qr_value");
_Static_assert(sizeof(struct demi_args) == 20, "demi_args");
_Static_assert(DEMI_OPC_INVALID == 0 && DEMI_OPC_PUSH == 1 && DEMI_OPC_POP == 2 && DEMI_OPC_ACCEPT == 3 &&
		       DEMI_OPC_CONNECT == 4 && DEMI_OPC_CLOSE == 5 && DEMI_OPC_FAILED == 6,
	       "opcodes");
#endif

int main(void)
{
	printf("sgaseg %zu sgarray %zu accept_result %zu qresult %zu args %zu\n", sizeof(demi_sgaseg_t),
	       sizeof(demi_sgarray_t), sizeof(demi_accept_result_t), sizeof(demi_qresult_t), sizeof(struct demi_args));
	return 0;
}
