#!/usr/bin/env python3
"""Writes the seed option lists of tests/fuzz/corpus_tcp (see fuzz_tcp_opt.c: the input is the option bytes)."""
import os
import struct
import sys

MSS = struct.pack('!BBH', 2, 4, 1460)
WS = bytes([1, 3, 3, 7])
SACKP = bytes([4, 2])
TS = struct.pack('!BBII', 8, 10, 0x01020304, 0)


def sack(*blocks):
    return bytes([1, 1, 5, 2 + 8 * len(blocks)]) + b''.join(struct.pack('!II', a, b) for a, b in blocks)


SEEDS = {
    'linux_syn': MSS + SACKP + TS + WS,
    'synack_no_ts': MSS + bytes([1, 1]) + SACKP + WS,
    'data_ts': bytes([1, 1]) + TS,
    'data_ts_sack3': bytes([1, 1]) + TS + sack((1, 2), (3, 4), (5, 6)),
    'data_sack4': sack((0xfffffff0, 16), (100, 200), (300, 400), (500, 600)),
    'eol_padding': MSS + bytes([0, 0, 0, 0]),
    'unknown_kind': bytes([30, 4, 0xaa, 0xbb, 34, 2]) + MSS,
    'wscale_over_14': bytes([1, 3, 3, 255]),
    'bad_len_zero': bytes([2, 0, 5, 0xb4]),
    'bad_len_one': bytes([99, 1, 1, 1]),
    'bad_past_end': bytes([8, 10, 0, 0, 0, 0]),
    'bad_sack_len': bytes([5, 11]) + bytes(9),
}


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        assert len(data) <= 40, name
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus_tcp'))
