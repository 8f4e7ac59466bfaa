#!/usr/bin/env bash
# Builds Demi and runs the demo: a TCP echo server and client on loopback over the
# default libOS (catnap, or $LIBOS), printing round-trip latency percentiles.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then scripts/setup.sh; fi
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

port=$((20000 + RANDOM % 20000))
build/examples/tcp_echo server "127.0.0.1:$port" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
# The server prints its address once it listens; give it a moment.
for _ in $(seq 50); do
	if ss -ltn 2>/dev/null | grep -q ":$port "; then break; fi
	sleep 0.1
done
build/examples/tcp_echo client "127.0.0.1:$port" "${MESSAGES:-20000}" "${SIZE:-64}"
