#!/usr/bin/env python3
"""The Linux side of the catpowder interop tests: a UDP echo client or server on kernel sockets.

  udp_peer.py client HOST PORT SIZE...   send one datagram of each SIZE, expect the same bytes back
  udp_peer.py server HOST PORT SECONDS   echo every datagram to its sender, for SECONDS at most
"""
import socket
import sys
import time


def client(host, port, sizes):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    for size in sizes:
        data = bytes((i * 7 + size) & 0xFF for i in range(size))
        for attempt in range(3):  # UDP: a lost datagram is retried, not a failure
            s.sendto(data, (host, port))
            try:
                back, peer = s.recvfrom(65536)
            except socket.timeout:
                continue
            if back != data:
                sys.exit(f"udp_peer: echo of {size} B differs ({len(back)} B back)")
            if peer != (host, port):
                sys.exit(f"udp_peer: echo of {size} B came from {peer}")
            print(f"udp_peer: {size} B echoed")
            break
        else:
            sys.exit(f"udp_peer: no echo of {size} B after 3 tries")


def server(host, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(0.5)
    print("udp_peer: listening", flush=True)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(65536)
        except socket.timeout:
            continue
        s.sendto(data, peer)
        n += 1
    print(f"udp_peer: echoed {n} datagrams")


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in ("client", "server"):
        sys.exit(__doc__)
    host, port = sys.argv[2], int(sys.argv[3])
    if sys.argv[1] == "client":
        client(host, port, [int(a) for a in sys.argv[4:]])
    else:
        server(host, port, float(sys.argv[4]))


main()
