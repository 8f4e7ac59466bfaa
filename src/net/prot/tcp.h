/* TCP wire format: the header (RFC 9293 section 3.1) and option kinds (RFC 9293, RFC 7323, RFC 2018). */
#ifndef DEMI_INETSTACK_PROT_TCP_H
#define DEMI_INETSTACK_PROT_TCP_H

#include <stdint.h>


#define TCP_HDR_LEN 20     /* without options */
#define TCP_MAX_HDR_LEN 60 /* data offset is 4 bits of 32-bit words */
#define TCP_MAX_OPT_LEN 40
#define TCP_DEFAULT_MSS 536 /* RFC 9293 section 3.7.1 (MUST-15): assumed when no MSS option came */

struct tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t off;   /* data offset (32-bit words) << 4 | reserved (4 bits) */
	uint8_t flags; /* TH_* */
	uint16_t win;
	uint16_t sum;
	uint16_t urp;  /* urgent pointer */
} __attribute__((packed));

/* Control bits (RFC 9293 section 3.1; CWR and ECE from RFC 3168 section 6.1). */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* The header length in bytes from the data offset field. */
static inline unsigned tcp_hdr_len(const struct tcp_hdr *th) { return (unsigned)(th->off >> 4) * 4; }
/* The data offset field for a header of hlen bytes (a multiple of 4, 20 to 60). */
static inline uint8_t tcp_off(unsigned hlen) { return (uint8_t)((hlen / 4) << 4); }

/* Option kinds and their fixed lengths (kind and length bytes included). */
#define TCPOPT_EOL 0            /* end of option list, RFC 9293 section 3.1 */
#define TCPOPT_NOP 1            /* no-operation, RFC 9293 section 3.1 */
#define TCPOPT_MSS 2            /* maximum segment size, RFC 9293 section 3.7.1 */
#define TCPOLEN_MSS 4
#define TCPOPT_WSCALE 3         /* window scale, RFC 7323 section 2.2 (SYN only) */
#define TCPOLEN_WSCALE 3
#define TCPOPT_SACK_PERMITTED 4 /* RFC 2018 section 2 (SYN only) */
#define TCPOLEN_SACK_PERMITTED 2
#define TCPOPT_SACK 5           /* RFC 2018 section 3: 2 + 8 bytes per block */
#define TCPOLEN_SACK_BLOCK 8
#define TCPOPT_TIMESTAMP 8      /* RFC 7323 section 3.2 */
#define TCPOLEN_TIMESTAMP 10

#define TCP_MAX_WINSHIFT 14 /* RFC 7323 section 2.3 */

#endif
