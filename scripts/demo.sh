#!/usr/bin/env bash
# Builds Demi and runs the demo: a TCP echo server and client on loopback over the
# default libOS (catnap, or $LIBOS), printing round-trip latency percentiles.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "demo: $*"; }
if [ "$(id -u)" -eq 0 ]; then
	say "checking the Debian packages Demi needs (scripts/setup.sh; installs what is missing)"
	scripts/setup.sh
fi
if [ ! -d build ]; then
	say "configuring (meson setup build)"
	meson setup build >/dev/null
fi
# ninja's own lines condensed to one every 10% of the steps; warnings and errors pass through as they come.
say "building (ninja -C build; about a minute on 2 cores the first time)"
ninja -C build 2>&1 | awk '
	/^\[[0-9]+\/[0-9]+\] / {
		split(substr($1, 2), f, "/"); pct = int(100 * f[1] / f[2])
		if (pct >= next_pct || f[1] == f[2]) { printf "demo: built %d/%d (%d%%)\n", f[1], f[2], pct; fflush(); next_pct = pct - pct % 10 + 10 }
		next
	}
	/^ninja: (Entering|Leaving) directory/ { next }
	/^ninja: no work to do/ { print "demo: already built"; fflush(); next }
	{ print; fflush() }'
say "running tcp_echo over ${LIBOS:-catnap} on loopback: ${MESSAGES:-20000} messages of ${SIZE:-64} bytes"

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
