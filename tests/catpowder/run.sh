#!/usr/bin/env bash
# catpowder against the Linux kernel, each case in fresh namespaces made by scripts/netns.sh.
#   tests/catpowder/run.sh CASE BUILD_DIR
# Cases: device, device-pcap (raw frames, no stack); ping, udp-linux-client, udp-demi-client, pcap,
# router, errors, kernel-addr, conformance, pipes (the catpowder libOS); tcp-* (tcp_cases.sh); neigh-* (neigh_cases.sh). Exit 77 without root or `ip netns`.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
netns="$here/../../scripts/netns.sh"

if [ "${1:-}" != inner ]; then
	[ $# -eq 2 ] || { sed -n '2,5p' "$0" >&2; exit 2; }
	"$netns" check || exit 77
	topo=run2
	case $1 in router | tcp-lossy | tcp-options | neigh-route) topo=run3 ;; esac
	exec "$netns" "$topo" -- "$0" inner "$1" "$(cd "$2" && pwd)"
fi
case=$2 build=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/demi-catpowder-$case.XXXXXX")
server=

fail() {
	echo "FAIL ($case): $*" >&2
	echo "logs and captures kept in $tmp" >&2
	exit 1
}
need() { command -v "$1" >/dev/null || { echo "run.sh: '$1' is missing (scripts/setup.sh installs it)" >&2; exit 77; }; }

# A Demi program in NS_A on catpowder; extra VAR=value arguments go before the program.
demi() { $IN_A env LIBOS=catpowder LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A" "$@"; }

start_server() { # [VAR=value...]: the udp_echo example as a Demi UDP echo server on IP_A:7
	demi "$@" timeout 60 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/server.log" 2>&1 &
	server=$!
	for _ in $(seq 100); do
		grep -qs listening "$tmp/server.log" && return 0
		kill -0 "$server" 2>/dev/null || break
		sleep 0.05
	done
	cat "$tmp/server.log" >&2
	fail "the Demi server did not start"
}

stop_server() {
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	server=
}

# Linux in NS_B has IP_A in its neighbour table with MAC $1: it learnt it from our ARP.
check_neigh() {
	local got
	got=$($IN_B ip neigh show "$IP_A" dev "$IF_B" | awk '{print $3}')
	[ "$got" = "$1" ] || fail "Linux's neighbour entry for $IP_A is '$got', want $1"
	echo "ok: Linux resolved $IP_A to $1 by ARP"
}

# tshark reads the capture without errors, malformed frames or bad checksums; at least $2 frames.
# More arguments go to tshark (decode-as rules).
tshark_check() {
	local f=$1 min=$2 n bad
	shift 2
	need tshark
	tshark -r "$f" -n "$@" >"$tmp/tshark.txt" 2>"$tmp/tshark.err" || { cat "$tmp/tshark.err" >&2; fail "tshark cannot read $f"; }
	if grep -v 'Running as user' "$tmp/tshark.err" | grep -q .; then
		cat "$tmp/tshark.err" >&2
		fail "tshark complained about $f"
	fi
	n=$(wc -l <"$tmp/tshark.txt")
	[ "$n" -ge "$min" ] || fail "$f holds $n frames, want at least $min"
	# Checksum validation is off by default in tshark: turn it on (ICMP's is always checked).
	tshark -r "$f" -n "$@" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE \
		-Y '_ws.malformed || _ws.expert.severity >= 0x00800000' >"$tmp/tshark.bad" 2>"$tmp/tshark.err" ||
		{ cat "$tmp/tshark.err" >&2; fail "tshark filter failed"; }
	bad=$(wc -l <"$tmp/tshark.bad")
	[ "$bad" -eq 0 ] || { head "$tmp/tshark.bad" >&2; fail "$bad malformed or erroneous frames in $f"; }
	echo "ok: tshark reads $n frames from $(basename "$f"): no errors, no malformed frames, checksums valid"
}

count() { tshark -r "$1" -n -Y "$2" 2>/dev/null | wc -l; }

# ping from NS_B; every request must be answered (ping itself only fails when none is).
ping_all() { # ping arguments
	$IN_B timeout 20 ping -i 0.2 -W 2 "$@" "$IP_A" >"$tmp/ping.log" 2>&1
	cat "$tmp/ping.log"
	grep -q ' 0% packet loss' "$tmp/ping.log" || fail "ping $* $IP_A: not every request was answered"
}

case $case in
device | device-pcap)
	pcap=
	[ "$case" = device-pcap ] && pcap="$tmp/device.pcap"
	$IN_A env DEMI_PCAP="$pcap" timeout 60 "$build/tests/catpowder/test_catpowder_device" || fail "test_device"
	if [ -n "$pcap" ]; then
		# The test's payloads are arbitrary bytes: decode them as data, not as whatever a heuristic guesses (QUIC).
		tshark_check "$pcap" 5000 -d udp.port==7000,data -d udp.port==7001,data
		[ "$(count "$pcap" 'arp.opcode == 2')" -ge 1 ] || fail "no ARP reply in the capture"
	fi
	;;
ping)
	need ping
	start_server
	ping_all -c 5
	ping_all -c 2 -s 1472 # a full-MTU packet
	ping_all -c 2 -s 4000 # fragmented both ways
	check_neigh "$MAC_A"
	stop_server
	;;
udp-linux-client)
	start_server
	# 1473 and up do not fit one frame: Linux fragments, Demi reassembles, and the echo comes back fragmented.
	$IN_B timeout 30 python3 "$here/udp_peer.py" client "$IP_A" 7 1 64 1472 1473 3000 8972 20000 65507 ||
		fail "Linux client against the Demi echo server"
	check_neigh "$MAC_A"
	stop_server
	;;
udp-demi-client)
	$IN_B python3 "$here/udp_peer.py" server "$IP_B" 7 40 >"$tmp/linux-server.log" 2>&1 &
	for _ in $(seq 100); do grep -qs listening "$tmp/linux-server.log" && break; sleep 0.05; done
	# A MAC of our own (not the interface's): Linux must learn it from our ARP.
	mac=02:00:00:00:00:01
	for run in "200 64" "20 3000" "5 65507"; do
		set -- $run
		demi LOCAL_LINK_ADDR=$mac timeout 30 "$build/examples/udp_echo" client "$IP_B:7" "$1" "$2" \
			>"$tmp/client.log" 2>&1 || { cat "$tmp/client.log" >&2; fail "Demi client, $1 x $2 B"; }
		cat "$tmp/client.log"
		! grep -q lost "$tmp/client.log" || fail "datagrams lost on veth"
	done
	check_neigh "$mac"
	;;
pcap)
	start_server DEMI_PCAP="$tmp/demi.pcap"
	ping_all -c 3 >/dev/null
	$IN_B timeout 20 python3 "$here/udp_peer.py" client "$IP_A" 7 64 3000 || fail "UDP echo"
	stop_server
	tshark_check "$tmp/demi.pcap" 10
	[ "$(count "$tmp/demi.pcap" "arp.opcode == 2 && eth.src == $MAC_A")" -ge 1 ] || fail "no ARP reply of ours in the capture"
	[ "$(count "$tmp/demi.pcap" 'icmp.type == 0')" -ge 3 ] || fail "fewer than 3 echo replies in the capture"
	[ "$(count "$tmp/demi.pcap" "ip.flags.mf == 1 && ip.src == $IP_A")" -ge 1 ] || fail "no fragment of ours in the capture"
	[ "$(count "$tmp/demi.pcap" "udp.length == 3008 && ip.src == $IP_A")" -ge 1 ] || fail "tshark did not reassemble our 3000 B echo"
	echo "ok: the capture shows our ARP reply, echo replies and a reassembled 3000 B datagram"
	tshark -r "$tmp/demi.pcap" -n 2>/dev/null | head -12
	;;
router)
	# NS_A - NS_R - NS_B: Linux reaches us through a forwarding namespace; we ARP for IP_B and
	# the router answers for it (proxy ARP).
	start_server
	ping_all -c 3
	$IN_B timeout 30 python3 "$here/udp_peer.py" client "$IP_A" 7 64 3000 || fail "UDP echo through the router"
	stop_server
	;;
errors)
	# demi_init refuses with one line naming the cause, never an abort.
	expect_refusal() { # want-message, VAR=value... (the environment of a udp_echo server)
		local want=$1 rc
		shift
		$IN_A env LIBOS=catpowder "$@" timeout 10 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/err.log" 2>&1
		rc=$?
		[ $rc -eq 1 ] && grep -q "catpowder: $want" "$tmp/err.log" ||
			{ cat "$tmp/err.log" >&2; fail "want exit 1 and 'catpowder: $want', got exit $rc"; }
		echo "ok: refused: $(grep "catpowder: $want" "$tmp/err.log")"
	}
	expect_refusal "no local address" LINUX_INTERFACE_NAME="$IF_A"
	expect_refusal "no interface: set" LOCAL_IPV4_ADDR="$IP_A"
	expect_refusal "no interface named 'nosuch0'" LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME=nosuch0
	expect_refusal "interface lo is not an Ethernet" LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME=lo
	ip -n "$NS_A" link set "$IF_A" down
	expect_refusal "interface $IF_A is down" LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A"
	ip -n "$NS_A" link set "$IF_A" up
	nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	# Only where an unprivileged user can reach the build (a private home directory stops it).
	if command -v setpriv >/dev/null && $nobody test -x "$build/examples/udp_echo"; then
		IN_A="$IN_A $nobody" expect_refusal "a packet socket needs CAP_NET_RAW" LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A"
	fi
	;;
kernel-addr)
	# The kernel also holding LOCAL_IPV4_ADDR answers our clients with RSTs: start-up warns once, with the fix.
	ip -n "$NS_A" addr add "$IP_A/24" dev "$IF_A"
	start_server
	stop_server
	n=$(grep -c "warn: catpowder: the kernel also owns $IP_A on $IF_A: every TCP client will get a RST" "$tmp/server.log")
	[ "$n" -eq 1 ] || { cat "$tmp/server.log" >&2; fail "want one warning that the kernel owns $IP_A, got $n"; }
	grep -q "ip addr del $IP_A/24 dev $IF_A" "$tmp/server.log" || { cat "$tmp/server.log" >&2; fail "the warning gives no fix"; }
	echo "ok: $(grep -o 'catpowder: the kernel also owns.*' "$tmp/server.log")"
	# On another interface of the namespace the kernel still answers what arrives on IF_A.
	ip -n "$NS_A" addr del "$IP_A/24" dev "$IF_A"
	ip -n "$NS_A" addr add "$IP_A/32" dev lo
	start_server
	stop_server
	grep -q "the kernel also owns $IP_A on lo, and receives what arrives on $IF_A" "$tmp/server.log" ||
		{ cat "$tmp/server.log" >&2; fail "no warning for $IP_A on lo"; }
	echo "ok: warned for $IP_A on lo"
	ip -n "$NS_A" addr del "$IP_A/32" dev lo
	start_server
	stop_server
	! grep -q "kernel also owns" "$tmp/server.log" || { cat "$tmp/server.log" >&2; fail "a warning without the address"; }
	echo "ok: no warning once the kernel does not own $IP_A"
	;;
conformance)
	# The PDPIX suite on catpowder (UDP rows), one test at a time: two stacks on one interface would
	# both answer for IP_A.
	for t in init socket io sockopt sga wait limits shutdown userdata; do
		demi DEMI_TEST_LIBOSES=catpowder DEMI_TEST_ADDR="$IP_A" timeout 300 \
			"$build/tests/conformance/conformance_$t" --jobs=1 >"$tmp/conf-$t.log" 2>&1
		rc=$?
		tail -1 "$tmp/conf-$t.log"
		[ $rc -eq 0 ] || { cat "$tmp/conf-$t.log" >&2; fail "conformance_$t"; }
		# Criterion passes a test whose process a sanitizer spoke in: read the log (sanitized builds).
		! grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$tmp/conf-$t.log" >&2 ||
			fail "sanitizer reports in conformance_$t"
	done
	;;
pipes)
	# catmem pipes under catpowder (both ends in one thread, tests/catmem/test_pipe_local.c): pipes work
	# under every libOS, here next to a stack that sleeps in ppoll on its packet socket.
	demi DEMI_TEST_PIPE_LIBOSES=catpowder timeout 300 "$build/tests/catmem/test_catmem_pipe_local" --jobs=1 \
		>"$tmp/pipes.log" 2>&1
	rc=$?
	tail -1 "$tmp/pipes.log"
	[ $rc -eq 0 ] || { cat "$tmp/pipes.log" >&2; fail "catmem pipes under catpowder"; }
	grep -Eq "Tested: ([1-9][0-9]*) \| Passing: \1 \|" "$tmp/pipes.log" || fail "not every pipe test passed under catpowder"
	! grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$tmp/pipes.log" >&2 ||
		fail "sanitizer reports in the pipe tests"
	;;
tcp-*)
	. "$here/tcp_cases.sh"
	tcp_case "$case"
	;;
neigh-*)
	. "$here/neigh_cases.sh"
	neigh_case "$case"
	;;
*)
	echo "run.sh: unknown case $case" >&2
	exit 2
	;;
esac
rm -rf "$tmp"
echo "PASS ($case)"
