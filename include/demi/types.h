/* PDPIX types: queue tokens, scatter-gather arrays, results; packed as Demikernel lays them out. */
#ifndef DEMI_TYPES_H_IS_INCLUDED
#define DEMI_TYPES_H_IS_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum number of segments in a scatter-gather array. */
#define DEMI_SGARRAY_MAXSIZE 1

/** An I/O queue token: opaque, never 0, waited on once. */
typedef uint64_t demi_qtoken_t;

/** A segment of a scatter-gather array. */
typedef struct __attribute__((__packed__)) demi_sgaseg {
	void *sgaseg_buf;     /**< Start of the data.  */
	uint32_t sgaseg_len;  /**< Length in bytes.    */
} demi_sgaseg_t;

/** A scatter-gather array. `sga_buf` is an opaque token naming the buffer that backs the segment. */
typedef struct __attribute__((__packed__)) demi_sgarray {
	void *sga_buf;                                /**< Opaque buffer token (owned by Demi). */
	uint32_t sga_numsegs;                         /**< Number of segments (1).              */
	demi_sgaseg_t sga_segs[DEMI_SGARRAY_MAXSIZE]; /**< Segments.                            */
	struct sockaddr_in sga_addr;                  /**< Peer address of a datagram.          */
} demi_sgarray_t;

/** Opcodes of asynchronous operations. */
typedef enum demi_opcode {
	DEMI_OPC_INVALID = 0,
	DEMI_OPC_PUSH,
	DEMI_OPC_POP,
	DEMI_OPC_ACCEPT,
	DEMI_OPC_CONNECT,
	DEMI_OPC_CLOSE,
	DEMI_OPC_FAILED,
} demi_opcode_t;

/** Result of an accept. */
typedef struct __attribute__((__packed__)) demi_accept_result {
	int qd;                  /**< Queue descriptor of the new connection. */
	struct sockaddr_in addr; /**< Address of the peer.                    */
} demi_accept_result_t;

/** Result of an asynchronous operation. */
typedef struct __attribute__((__packed__)) demi_qresult {
	enum demi_opcode qr_opcode; /**< Completed operation, or DEMI_OPC_FAILED. */
	int qr_qd;                  /**< Queue descriptor it ran on.              */
	demi_qtoken_t qr_qt;        /**< Its token.                               */
	int64_t qr_ret;             /**< 0, or the errno of a failed operation.   */
	union __attribute__((__packed__)) {
		demi_sgarray_t sga;        /**< Pushed or popped data.  */
		demi_accept_result_t ares; /**< Accepted connection.    */
	} qr_value;
} demi_qresult_t;

/** Callback carried in demi_args (kept for source compatibility; Demi does not call it). */
typedef void (*demi_callback_t)(const char *, uint32_t, uint64_t);

/** Arguments of demi_init. */
struct __attribute__((__packed__)) demi_args {
	int argc;                 /**< Number of command-line arguments. */
	char *const *argv;        /**< Command-line arguments.           */
	demi_callback_t callback; /**< Unused by Demi.                   */
};

#ifdef __cplusplus
}
#endif

#endif /* DEMI_TYPES_H_IS_INCLUDED */
