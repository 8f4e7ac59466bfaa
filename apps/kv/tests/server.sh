#!/usr/bin/env bash
# demi-kv driven by real clients (redis-benchmark, redis-cli, Linux sockets from kvclient.py).
#   apps/kv/tests/server.sh CASE BUILD_DIR
# Cases (catnap over loopback unless said):
#   benchmark        redis-benchmark's default test list (-n 1000): every test completes, no error reply
#   catpowder        the same with demi-kv on catpowder in one namespace and redis-benchmark in a peer
#                    namespace (scripts/netns.sh; Linux offloads left at their defaults); 77 without root
#   catnip           the same with demi-kv on catnip (DPDK's net_tap, --no-huge) and redis-benchmark on the
#                    tap's Linux side, in a namespace; 77 without root or where DPDK cannot start
#   clients-1000     1,000 connections open at once, each served; then redis-benchmark -c 1000
#   garbage          a client sends up to 1 GiB of random bytes: a protocol error, closed; others still served
#   noread           a client that never reads its replies: disconnected at the output buffer limit, counted
#   maxclients       the connection past --maxclients is told so and closed
# Every case ends with SIGTERM: demi-kv must exit 0.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)

if [ "${1:-}" = inner ]; then
	shift
	inner=1
else
	inner=0
	[ $# -eq 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
fi
case=$1
build=$(cd "$2" && pwd)
kv="$build/apps/kv/demi-kv"
client="$here/kvclient.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/demi-kv-$case.XXXXXX")
server=

fail() {
	echo "FAIL ($case): $*" >&2
	if [ -n "$server" ]; then # timeout passes SIGTERM on to demi-kv; a KILL would leave demi-kv behind
		kill -TERM "$server" 2>/dev/null
		sleep 1
		pkill -KILL -P "$server" 2>/dev/null
		kill -KILL "$server" 2>/dev/null
	fi
	echo "--- demi-kv's stderr:" >&2
	tail -20 "$tmp/server.err" >&2 2>/dev/null
	echo "logs kept in $tmp" >&2
	exit 1
}
need() { command -v "$1" >/dev/null || { echo "server.sh: '$1' is missing (scripts/setup.sh installs it)" >&2; exit 77; }; }
need redis-cli
need redis-benchmark
need python3

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server [PREFIX...] -- [demi-kv options]: waits for its "ready" line.
start_server() {
	local prefix=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
	shift
	"${prefix[@]}" timeout 120 "$kv" "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
	server=$!
	for _ in $(seq 200); do
		grep -qs "^ready to accept connections on " "$tmp/server.out" && return 0
		kill -0 "$server" 2>/dev/null || break
		sleep 0.05
	done
	fail "demi-kv did not print its ready line"
}

stop_server() {
	kill -TERM "$server" 2>/dev/null
	local rc=0
	wait "$server" || rc=$?
	server=
	[ "$rc" -eq 0 ] || fail "demi-kv exited $rc after SIGTERM, want 0"
	echo "ok: demi-kv exited 0 on SIGTERM"
}

alive() { # host port [prefix...]: the server still answers
	local host=$1 port=$2
	shift 2
	local got
	got=$("$@" redis-cli -h "$host" -p "$port" PING 2>&1)
	[ "$got" = PONG ] || fail "demi-kv no longer answers PING (got '$got')"
	kill -0 "$server" 2>/dev/null || fail "demi-kv is gone"
}

# The default test list of redis-benchmark 7.0 (what it runs without -t).
default_tests="PING_INLINE PING_MBULK SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN LRANGE_100 LRANGE_300 LRANGE_500 LRANGE_600 MSET"

benchmark() { # host port n clients [prefix...]
	local host=$1 port=$2 n=$3 c=$4
	shift 4
	"$@" timeout 120 redis-benchmark -h "$host" -p "$port" -n "$n" -c "$c" --csv >"$tmp/bench.csv" 2>"$tmp/bench.err"
	local rc=$?
	[ $rc -eq 0 ] || { cat "$tmp/bench.err" >&2; fail "redis-benchmark exited $rc"; }
	! grep -qi "error" "$tmp/bench.csv" "$tmp/bench.err" || { cat "$tmp/bench.err" >&2; fail "redis-benchmark saw errors"; }
	for t in $default_tests; do
		grep -q "^\"$t" "$tmp/bench.csv" || { cat "$tmp/bench.csv" >&2; fail "redis-benchmark did not complete $t"; }
	done
	echo "ok: redis-benchmark -n $n -c $c: all $(echo $default_tests | wc -w) default tests completed without errors"
}

case $case in
benchmark)
	port=$(free_port)
	start_server env LIBOS=catnap -- --port "$port"
	benchmark 127.0.0.1 "$port" 1000 50
	alive 127.0.0.1 "$port"
	stop_server
	;;
catpowder)
	if [ $inner -eq 0 ]; then
		"$root/scripts/netns.sh" check || exit 77
		exec "$root/scripts/netns.sh" run2 -- "$0" inner "$case" "$build"
	fi
	start_server $IN_A env LIBOS=catpowder LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A" -- \
		--bind "$IP_A" --port 6379
	benchmark "$IP_A" 6379 1000 50 $IN_B
	alive "$IP_A" 6379 $IN_B
	stop_server
	;;
catnip)
	if [ $inner -eq 0 ]; then
		"$root/scripts/netns.sh" check || exit 77
		exec "$root/scripts/netns.sh" run2 -- "$0" inner "$case" "$build"
	fi
	# as tests/catnip/run.sh: Demi on the DPDK side of net_tap, Linux on dtap0, all inside NS_A
	tap=dtap0 tap_ip=10.0.0.3 prefix="demi-kv-$$"
	trap 'rm -rf /var/run/dpdk/"$prefix"*' EXIT
	eal="--no-huge --no-pci --no-shconf --no-telemetry -l 0 --vdev=net_tap0,iface=$tap --file-prefix=$prefix"
	$IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$eal" timeout 120 "$kv" --bind "$IP_A" --port 6379 \
		>"$tmp/server.out" 2>"$tmp/server.err" &
	server=$!
	for _ in $(seq 200); do
		grep -qs "^ready to accept connections on " "$tmp/server.out" && break
		if ! kill -0 "$server" 2>/dev/null; then
			wait "$server"
			echo "server.sh: demi-kv did not start on catnip (DPDK cannot start here?):" >&2
			tail -5 "$tmp/server.err" >&2
			exit 77
		fi
		sleep 0.05
	done
	grep -qs "^ready" "$tmp/server.out" || fail "demi-kv on catnip did not print its ready line"
	$IN_A ip addr add "$tap_ip/$PREFIX" dev "$tap" || fail "cannot address $tap"
	$IN_A ip link set "$tap" up
	benchmark "$IP_A" 6379 1000 50 $IN_A
	alive "$IP_A" 6379 $IN_A
	stop_server
	;;
clients-1000)
	ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 2100 ] || { echo "server.sh: cannot raise the open file limit to 2100" >&2; exit 77; }
	port=$(free_port)
	start_server env LIBOS=catnap -- --port "$port"
	timeout 60 python3 "$client" many 127.0.0.1 "$port" 1000 || fail "1,000 concurrent clients"
	timeout 60 redis-benchmark -p "$port" -c 1000 -n 2000 -t ping,set,get -q >"$tmp/bench.out" 2>&1 ||
		{ cat "$tmp/bench.out" >&2; fail "redis-benchmark -c 1000"; }
	! grep -qi error "$tmp/bench.out" || { cat "$tmp/bench.out" >&2; fail "redis-benchmark -c 1000 saw errors"; }
	echo "ok: redis-benchmark -c 1000 -t ping,set,get completed without errors"
	alive 127.0.0.1 "$port"
	stop_server
	;;
garbage)
	port=$(free_port)
	start_server env LIBOS=catnap -- --port "$port"
	timeout 120 python3 "$client" garbage 127.0.0.1 "$port" $((1 << 30)) || fail "garbage"
	# a stream of one byte repeated, no line end: refused once it passes 64 KiB
	timeout 60 python3 - 127.0.0.1 "$port" <<'EOF' || fail "an endless inline request was not refused"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
got = b""
try:
    for _ in range(16384):
        s.sendall(b"x" * 65536)
except (BrokenPipeError, ConnectionResetError):
    pass
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except OSError:
    pass
assert got.startswith(b"-ERR Protocol error: too big inline request\r\n"), got[:100]
print("ok: an endless inline request: -ERR Protocol error: too big inline request, closed")
EOF
	alive 127.0.0.1 "$port"
	stop_server
	;;
noread)
	port=$(free_port)
	start_server env LIBOS=catnap -- --port "$port" --client-output-buffer-limit 1mb
	timeout 120 python3 "$client" noread 127.0.0.1 "$port" $((1 << 30)) || fail "noread"
	grep -q "reached the output buffer limit" "$tmp/server.err" || fail "demi-kv did not say why it closed the client"
	alive 127.0.0.1 "$port"
	stop_server
	grep -q "1 closed at the output limit" "$tmp/server.err" || fail "the disconnect was not counted"
	echo "ok: the disconnect was said once and counted"
	;;
maxclients)
	port=$(free_port)
	start_server env LIBOS=catnap -- --port "$port" --maxclients 3
	timeout 60 python3 "$client" maxclients 127.0.0.1 "$port" 3 || fail "maxclients"
	stop_server
	grep -q "1 rejected (maxclients)" "$tmp/server.err" || fail "the rejected connection was not counted"
	;;
*)
	echo "server.sh: unknown case $case" >&2
	exit 2
	;;
esac
rm -rf "$tmp"
