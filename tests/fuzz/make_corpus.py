#!/usr/bin/env python3
"""Writes the seed frames of tests/fuzz/corpus (see fuzz_frame.c for the input format)."""
import os
import struct
import sys

US_MAC = bytes([2, 0, 0, 0, 0, 1])
PEER_MAC = bytes([2, 0, 0, 0, 0, 9])
US = bytes([10, 0, 0, 1])
PEER = bytes([10, 0, 0, 9])


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def eth(typ, payload, dst=US_MAC, src=PEER_MAC):
    return dst + src + struct.pack('!H', typ) + payload


def ipv4(proto, payload, ident=1, off=0, src=PEER, dst=US, opts=b''):
    ihl = 5 + len(opts) // 4
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, 4 * ihl + len(payload), ident, off, 64, proto, 0, src, dst) + opts
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, data, src=PEER, dst=US):
    u = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
    c = csum(src + dst + struct.pack('!BBH', 0, 17, len(u)) + u) or 0xffff
    return u[:6] + struct.pack('!H', c) + u[8:]


def icmp_echo(data):
    m = struct.pack('!BBHHH', 8, 0, 0, 0x1234, 1) + data
    return m[:2] + struct.pack('!H', csum(m)) + m[4:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def single(frame):
    return b'\0' + frame


def multi(frames):
    out = b'\x80'
    for delay, f in frames:
        out += struct.pack('!BH', delay, len(f)) + f
    return out


def frags(dgram, size, ident, order=None):
    pieces = [(off, dgram[off:off + size]) for off in range(0, len(dgram), size)]
    out = []
    for i, (off, p) in enumerate(pieces):
        more = 0x2000 if i + 1 < len(pieces) else 0
        out.append(eth(0x0800, ipv4(17, p, ident, more | off // 8)))
    return [out[i] for i in (order or range(len(out)))]


def main(d):
    os.makedirs(d, exist_ok=True)
    big = udp(4444, 7, bytes(range(256)) * 12)
    seeds = {
        'udp_port7': single(eth(0x0800, ipv4(17, udp(4444, 7, b'hello fuzzer')))),
        'udp_closed_port': single(eth(0x0800, ipv4(17, udp(4444, 9, b'nobody')))),
        'udp_no_checksum': single(eth(0x0800, ipv4(17, struct.pack('!HHHH', 1, 7, 12, 0) + b'abcd'))),
        'ip_options': single(eth(0x0800, ipv4(17, udp(4444, 7, b'opts'), opts=b'\x01\x01\x01\x00'))),
        'ip_truncated': single(eth(0x0800, ipv4(17, udp(4444, 7, b'cut'))[:25])),
        'icmp_echo': single(eth(0x0800, ipv4(1, icmp_echo(b'ping' * 14)))),
        'arp_request': single(eth(0x0806, arp(1, PEER_MAC, PEER, bytes(6), US), dst=b'\xff' * 6)),
        'arp_reply_unsolicited': single(eth(0x0806, arp(2, PEER_MAC, bytes([10, 0, 0, 77]), US_MAC, US))),
        'proto_unknown': single(eth(0x0800, ipv4(99, b'xxxxxxxx'))),
        'frags_in_order': multi([(0, f) for f in frags(big, 1480, 5)]),
        'frags_reversed': multi([(0, f) for f in frags(big, 800, 6, order=[3, 2, 1, 0])]),
        'frags_overlap': multi([(0, f) for f in frags(big, 1480, 7)[:1]] +
                               [(0, eth(0x0800, ipv4(17, big[1472:2400], 7, 0x2000 | 1472 // 8)))]),
        'frags_timeout': multi([(0, frags(big, 1480, 8)[0]), (255, b''), (255, frags(big, 1480, 8)[2])]),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus'))
