#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus_tcpseg (the record format is in fuzz_tcp.c's header comment).
The bug_* files there are fuzzer findings kept as regression inputs: not written here."""
import os
import struct
import sys

# Tuples, flags, modes (fuzz_tcp.c).
P, H, C, N3, N4, N5, N6, CLOSED = range(8)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# Config byte: bits 0-2 our SYN's options (TS, SACK-permitted, WS), 3 small rcvbuf, 4 no delayed ACK,
# 5 newreno, 6 4000 bytes from A in flight on P, 7 small sndbuf.
ALL_OPTS, INFLIGHT = 0x07, 0x40
MSS_1460, MSS_536 = 120, 43  # mss byte: 20 + 12 * b; bit 7: the ISN key that puts P's ISS above 2^31
HIGH_ISS = 0x80


def seg(tuple_, flags, seq=0, ack=0, smode=0, amode=0, win=65535, plen=0, delay=0, omode=1, cnt=0, opt=b'',
        bad_sum=False, set_off=False):
    """A segment record; omode 1 with cnt 0: timestamps only. opt: the option bytes the mode reads.
    bad_sum: a wrong checksum; set_off: the data offset field is cnt."""
    if omode == 1 and not opt:
        opt = b'\0'
    sel = tuple_ | smode << 3 | amode << 5
    o = omode | cnt << 2 | (0x40 if bad_sum else 0) | (0x80 if set_off else 0)
    return struct.pack('!BBhhHBHB', sel, flags, seq, ack, win, o, plen, delay) + opt


def ts_sack(*blocks, tsdelta=0):
    """Option bytes of mode 1: a TSval delta (s), then SACK blocks (start offset from snd_una, length)."""
    return struct.pack('!b', tsdelta) + b''.join(struct.pack('!hH', s, n) for s, n in blocks)


def app(action, arg=0, delay=0):
    return bytes([0x80, action, arg, delay])


PUSH_P, PUSH, READ_TOGGLE, CLOSE_P, CLOSE, CLOSE_L, ABORT, RCVBUF, ACCEPT_TOGGLE, BURST = range(10)


SYNOPT = b'\x05\xb4\x07\x0f'  # option mode 3: MSS 1460, window shift 7, MSS+WS+SACK-permitted+TS


def head(cfg=ALL_OPTS | INFLIGHT, mss=MSS_1460):
    return bytes([cfg, mss])


def data(n, plen=1000, delay=0, tuple_=P):
    """n in-order full segments on tuple_, each acknowledging what A sent."""
    return b''.join(seg(tuple_, ACK | PSH, seq=0, amode=1, plen=plen, delay=delay) for _ in range(n))


SEEDS = {
    'fixture_only': head(),
    'fixture_no_options': head(0),
    'p_data_in_order': head() + data(4) + seg(P, ACK, amode=1, delay=50),
    'p_out_of_order_then_fill': head() + seg(P, ACK, seq=2000, amode=1, plen=1000)
    + seg(P, ACK, seq=1000, amode=1, plen=500) + seg(P, ACK, seq=0, amode=1, plen=1000)
    + seg(P, ACK, seq=0, amode=1, plen=1000),
    'p_overlapping_retransmits': head() + seg(P, ACK, seq=500, amode=1, plen=1000)
    + seg(P, ACK, seq=-200, amode=1, plen=1000) + seg(P, ACK, seq=-100, amode=1, plen=1400),
    'p_sack_fast_recovery': head(ALL_OPTS | INFLIGHT | 0x10, MSS_536)
    + seg(P, ACK, cnt=1, opt=ts_sack((536, 536)))
    + seg(P, ACK, cnt=1, opt=ts_sack((536, 1072)))
    + seg(P, ACK, cnt=2, opt=ts_sack((536, 1608), (2680, 536)))
    + seg(P, ACK, ack=536, cnt=1, opt=ts_sack((1072, 536)), delay=5)
    + seg(P, ACK, amode=1, delay=5),
    'p_newreno_dupacks': head(INFLIGHT | 0x20 | 0x10, MSS_536)
    + seg(P, ACK, omode=0) * 3 + seg(P, ACK, ack=536, omode=0) + seg(P, ACK, amode=1, omode=0),
    'p_newreno_dupacks_high_iss': head(INFLIGHT | 0x20 | 0x10, MSS_536 | HIGH_ISS)
    + seg(P, ACK, omode=0) * 3 + seg(P, ACK, ack=536, omode=0) + seg(P, ACK, amode=1, omode=0),
    'p_rto_backoff': head() + seg(P, ACK, delay=0x81) + seg(P, ACK, delay=0x84) + seg(P, ACK, amode=1, delay=0x88),
    'p_rst_exact': head() + seg(P, RST),
    'p_rst_in_window_challenge': head() + seg(P, RST, seq=100) + seg(P, RST | ACK, seq=-1),
    'p_syn_in_window': head() + seg(P, SYN, seq=5) + seg(P, SYN | ACK, amode=1, omode=3, opt=b'\x05\xb4\x07\x0f'),
    'p_ack_beyond_snd_max': head() + seg(P, ACK, amode=1, ack=5000) + seg(P, ACK, amode=3, ack=-100),
    'p_paws_old_timestamp': head() + data(1) + seg(P, ACK | PSH, amode=1, plen=10, opt=ts_sack(tsdelta=-100)),
    'p_fin_then_close': head() + seg(P, ACK | FIN, amode=1, plen=10) + app(CLOSE_P) + seg(P, ACK, amode=1, delay=1),
    'p_close_then_fin_time_wait': head() + seg(P, ACK, amode=1) + app(CLOSE_P, delay=1) + seg(P, ACK, amode=1)
    + seg(P, ACK | FIN, amode=1) + seg(P, SYN, seq=1000, omode=3, opt=b'\x05\xb4\x07\x0f', delay=0x85),
    'p_simultaneous_close': head(ALL_OPTS) + app(CLOSE_P) + seg(P, ACK | FIN, amode=0) + seg(P, ACK, amode=1, delay=2),
    'p_zero_window_persist': head(ALL_OPTS | 0x08) + app(READ_TOGGLE) + data(6, plen=1000)
    + app(PUSH_P, 100) + seg(P, ACK, amode=1, win=0) + seg(P, ACK, amode=1, win=0, delay=0x82)
    + seg(P, ACK, amode=1, win=0, delay=0x85) + app(READ_TOGGLE) + seg(P, ACK, amode=1, delay=0x81),
    'p_keepalive_idle': head(ALL_OPTS) + seg(P, ACK, amode=1, delay=0xff) + seg(P, ACK, amode=1, delay=0xff),
    'p_abort_with_unread': head() + app(READ_TOGGLE) + data(2) + app(CLOSE_P) + seg(P, ACK, amode=1),
    'c_synack_then_data': head() + seg(C, SYN | ACK, amode=1, omode=3, opt=b'\x05\xb4\x07\x0f')
    + seg(C, ACK | PSH, amode=1, plen=100) + app(PUSH, 1, 0) + seg(C, ACK | FIN, amode=1),
    'c_rst_refused': head() + seg(C, RST | ACK, amode=1),
    'c_bad_ack': head() + seg(C, SYN | ACK, amode=1, ack=5, omode=3, opt=b'\x05\xb4\x07\x0f'),
    'c_simultaneous_open': head() + seg(C, SYN, omode=3, opt=b'\x05\xb4\x07\x0f') + seg(C, ACK, seq=0, amode=1),
    'c_syn_timeout': head() + seg(C, ACK, amode=1, delay=0xff),
    'h_complete_and_accept': head() + seg(H, ACK, amode=1) + seg(H, ACK | PSH, amode=1, plen=200),
    'h_rst': head() + seg(H, RST) + seg(H, ACK, amode=1),
    'h_syn_again': head() + seg(H, SYN, seq=-1, omode=3, opt=b'\x05\xb4\x07\x0f'),
    'syn_cookie': head() + seg(N3, SYN, omode=3, opt=b'\x05\xb4\x07\x0f') + seg(N4, SYN, omode=3, opt=b'\x05\xb4\x07\x0f')
    + seg(N4, ACK, amode=1) + seg(N4, ACK | PSH, amode=1, plen=300),
    'syn_cookie_bad': head() + seg(N3, SYN, omode=3, opt=b'\x05\xb4\x07\x0f') + seg(N4, SYN, omode=3, opt=b'\x05\xb4\x07\x0f')
    + seg(N4, ACK, amode=1, ack=7) + seg(N5, ACK, ack=1234),
    'listener_closed_with_children': head() + seg(N3, SYN, omode=3, opt=b'\x05\xb4\x07\x0f') + seg(N3, ACK, amode=1)
    + app(CLOSE_L) + seg(N5, SYN, omode=3, opt=b'\x05\xb4\x07\x0f'),
    'closed_port': head() + seg(CLOSED, SYN, omode=3, opt=b'\x05\xb4\x07\x0f') + seg(CLOSED, ACK, plen=10)
    + seg(CLOSED, RST) + seg(CLOSED, FIN, plen=3),
    'accept_queue_overflow': head() + app(ACCEPT_TOGGLE) + seg(H, ACK, amode=1)
    + seg(N3, SYN, omode=3, opt=SYNOPT) + seg(N3, ACK, amode=1) + seg(N4, SYN, omode=3, opt=SYNOPT)
    + seg(N4, ACK, amode=1) + seg(N5, SYN, omode=3, opt=SYNOPT) + app(ACCEPT_TOGGLE) + app(ACCEPT_TOGGLE)
    + app(ACCEPT_TOGGLE),
    'receive_queue_full': head() + app(READ_TOGGLE) + app(BURST, 127) + seg(P, ACK, amode=1)
    + app(READ_TOGGLE) + app(BURST, 3),
    'small_window_burst': head(ALL_OPTS | 0x08) + app(READ_TOGGLE) + app(BURST, 0x85) + seg(P, ACK, amode=1, delay=0x85)
    + app(READ_TOGGLE, delay=0x81),
    'paws_after_25_days': head(ALL_OPTS) + data(1) + seg(P, ACK | PSH, amode=1, plen=10, delay=0xfe,
                                                         opt=ts_sack(tsdelta=-128)),
    'bad_checksum_and_offsets': head() + seg(P, ACK | PSH, amode=1, plen=10, bad_sum=True)
    + seg(P, ACK, amode=1, omode=0, cnt=4, set_off=True, opt=bytes(16)) + seg(P, ACK, amode=1, omode=0, cnt=15,
                                                                                set_off=True, plen=0)
    + seg(P, ACK, amode=1, omode=0, cnt=15, set_off=True, plen=100),
    'raw_options': head() + seg(P, ACK, amode=1, omode=0, cnt=3, opt=bytes([8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])),
}


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, body in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(body)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                              'corpus_tcpseg'))
