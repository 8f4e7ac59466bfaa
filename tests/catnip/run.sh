#!/usr/bin/env bash
# catnip (the inetstack on DPDK) against the Linux kernel through DPDK's net_tap, and two Demi processes
# over net_memif, in a namespace made by scripts/netns.sh. net_tap creates the kernel interface dtap0
# inside that namespace: Demi is on the DPDK side, Linux on dtap0, and no frame leaves the namespace.
#   tests/catnip/run.sh CASE BUILD_DIR
# Cases: ping, udp-linux-client, udp-demi-client, udp-own-mac (a MAC of our own and UDP checksum
# offload), errors, shutdown (the port and the EAL torn down at thread exit), hugepages;
# tcp-linux-client, tcp-demi-client, nocopy, conformance (tap_cases.sh); memif-tcp, memif-udp,
# memif-conns (memif_cases.sh); afpacket, afxdp (veth_cases.sh: catnip on DPDK's net_af_packet and
# net_af_xdp on NS_A's veth, Linux in NS_B at the other end).
# Exit 77 (skipped) without root or `ip netns`, or where DPDK's EAL or net_tap cannot start.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
netns="$here/../../scripts/netns.sh"

if [ "${1:-}" != inner ]; then
	[ $# -eq 2 ] || { sed -n '5,12p' "$0" >&2; exit 2; }
	"$netns" check || exit 77
	exec "$netns" run2 -- "$0" inner "$1" "$(cd "$2" && pwd)"
fi
case=$2 build=$3
# Only NS_A is used (its veth stays idle): Demi takes IP_A over DPDK, Linux holds TAP_IP on dtap0.
TAP=dtap0 TAP_IP=10.0.0.3
# Each DPDK process gets a file prefix of its own (its runtime directory, /var/run/dpdk/PREFIX), all
# removed when the case ends.
prefix="demi-catnip-$$"
cleanup_dpdk() { rm -rf /var/run/dpdk/"$prefix"-*; }
trap cleanup_dpdk EXIT
eal_prefix() { echo "--file-prefix=$prefix-$1"; } # NAME
# --no-huge: no hugepages needed; --no-pci: no NIC probed; --no-shconf, not --in-memory: DPDK 22.11
# refuses --in-memory with --no-huge (it implies legacy memory); -l 0: one core.
EAL="--no-huge --no-pci --no-shconf --no-telemetry -l 0 --vdev=net_tap0,iface=$TAP $(eal_prefix tap)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/demi-catnip-$case.XXXXXX")
server=

fail() {
	echo "FAIL ($case): $*" >&2
	echo "logs kept in $tmp" >&2
	exit 1
}
need() { command -v "$1" >/dev/null || { echo "run.sh: '$1' is missing (scripts/setup.sh installs it)" >&2; exit 77; }; }

# The line each side prints per connection: what the sender expected the receiver to hash, and what it did.
check_digests() { # CLIENT_LOG SERVER_LOG (tcp_xfer.c or xfer_peer.py, each side)
	local want got
	want=$(sed -n 's/^conn 0 up bytes [0-9]* sha256 expected \([0-9a-f]*\) .*/\1/p' "$1")
	got=$(sed -n 's/^conn 0 bytes [0-9]* sha256 \([0-9a-f]*\) pattern ok.*/\1/p' "$2")
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "up: the client expects '$want', the server hashed '$got'"
	echo "ok: up $TCP_BYTES: sha256 $got on both sides"
	grep -E '^conn 0 down ' "$1"
	grep -qE '^conn 0 down .* ok' "$1" || grep -qE '^(tcp_xfer|xfer_peer): PASS' "$1" ||
		fail "down: the client did not receive the server's bytes intact"
}

# DPDK that cannot start here (no /dev/net/tun, a sandbox without the EAL's needs) is a skip, not a failure.
skip_if_no_dpdk() { # log
	# A second start in one process ("the EAL was started before") is the test's fault, not this host's: no skip.
	if grep -E "catnip: (cannot start DPDK|DPDK found no port)" "$1" | grep -qv "started before in this process"; then
		cat "$1" >&2
		echo "SKIP ($case): DPDK cannot start here" >&2
		rm -rf "$tmp"
		exit 77
	fi
}

# Waits until LOG says `listening` while PID runs; otherwise a skip (DPDK cannot start) or a failure.
wait_listening() { # log pid what
	for _ in $(seq 200); do
		grep -qs listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	grep -qs listening "$1" && return 0
	wait "$2" 2>/dev/null
	skip_if_no_dpdk "$1"
	cat "$1" >&2
	fail "$3 did not start"
}

start_server() { # [VAR=value...]: the udp_echo example on catnip as a UDP echo server on IP_A:7
	$IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$EAL" DEMI_LOG=info "$@" \
		timeout 40 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/server.log" 2>&1 &
	server=$!
	wait_listening "$tmp/server.log" "$server" "the Demi server on catnip"
	grep "catnip:" "$tmp/server.log"
	# The tap interface exists once the port is up: give Linux its end of the link.
	$IN_A ip addr add "$TAP_IP/$PREFIX" dev "$TAP" || fail "cannot address $TAP"
	$IN_A ip link set "$TAP" up
}

stop_server() {
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	server=
}

ping_all() { # ping arguments
	$IN_A timeout 20 ping -I "$TAP" -i 0.2 -W 2 "$@" "$IP_A" >"$tmp/ping.log" 2>&1
	cat "$tmp/ping.log"
	grep -q ' 0% packet loss' "$tmp/ping.log" || fail "ping $* $IP_A: not every request was answered"
}

check_neigh() { # Linux learnt IP_A's MAC ($1) from our ARP reply
	local got
	got=$($IN_A ip neigh show "$IP_A" dev "$TAP" | awk '{print $3}')
	[ "$got" = "$1" ] || fail "Linux's neighbour entry for $IP_A is '$got', want $1"
	echo "ok: Linux resolved $IP_A to $1 by ARP"
}

case $case in
ping)
	need ping
	start_server
	ping_all -c 5
	ping_all -c 2 -s 1472 # a full-MTU packet
	ping_all -c 2 -s 4000 # fragmented both ways
	stop_server
	;;
udp-linux-client)
	start_server
	# 1473 and up do not fit one frame: Linux fragments, Demi reassembles, and the echo comes back fragmented.
	$IN_A timeout 30 python3 "$here/../catpowder/udp_peer.py" client "$IP_A" 7 1 64 1472 1473 3000 8972 65507 ||
		fail "Linux client against the Demi echo server on catnip"
	check_neigh "$($IN_A ip -br link show "$TAP" | awk '{print $3}')"
	stop_server
	;;
udp-demi-client)
	# Demi is the client: it resolves Linux's address by ARP and sends first, so Linux must hold
	# TAP_IP before catnip starts. A persistent tap made here first, which net_tap then attaches to
	# (multi_queue: net_tap opens its queues that way).
	$IN_A ip tuntap add dev "$TAP" mode tap multi_queue || fail "cannot make tap $TAP"
	$IN_A ip addr add "$TAP_IP/$PREFIX" dev "$TAP"
	$IN_A ip link set "$TAP" up
	$IN_A python3 "$here/../catpowder/udp_peer.py" server "$TAP_IP" 7 30 >"$tmp/linux-server.log" 2>&1 &
	for _ in $(seq 100); do grep -qs listening "$tmp/linux-server.log" && break; sleep 0.05; done
	for run in "200 64" "20 3000" "5 65507"; do
		set -- $run
		$IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$EAL" timeout 30 \
			"$build/examples/udp_echo" client "$TAP_IP:7" "$1" "$2" >"$tmp/client.log" 2>&1
		rc=$?
		[ $rc -eq 0 ] || skip_if_no_dpdk "$tmp/client.log"
		[ $rc -eq 0 ] || { cat "$tmp/client.log" >&2; fail "Demi client on catnip, $1 x $2 B"; }
		grep -v '^EAL:\|^tap_\|^eth_dev_tap\|^qdisc_' "$tmp/client.log"
		! grep -q lost "$tmp/client.log" || fail "datagrams lost on net_tap"
	done
	;;
udp-own-mac)
	# A MAC of our own (the port goes promiscuous) and UDP checksums left to the port; Linux
	# verifies every checksum it receives from a tap, so a wrong offload shows as lost echoes.
	mac=02:00:00:00:00:01
	start_server LOCAL_LINK_ADDR=$mac UDP_CHECKSUM_OFFLOAD=true
	grep -q "MAC $mac" "$tmp/server.log" || fail "catnip did not take MAC $mac"
	$IN_A timeout 30 python3 "$here/../catpowder/udp_peer.py" client "$IP_A" 7 1 64 1472 3000 ||
		fail "UDP echo with our own MAC and checksum offload"
	check_neigh "$mac"
	stop_server
	;;
shutdown)
	# Thread exit tears the runtime down: catnip's fini stops and closes the port and cleans up the EAL.
	$IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$EAL" DEMI_LOG=info timeout 30 \
		"$build/tests/catnip/test_catnip_shutdown" >"$tmp/shutdown.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || skip_if_no_dpdk "$tmp/shutdown.log"
	[ $rc -eq 0 ] || { cat "$tmp/shutdown.log" >&2; fail "test_catnip_shutdown exited $rc"; }
	grep -q "catnip: port 0: rx" "$tmp/shutdown.log" || { cat "$tmp/shutdown.log" >&2; fail "the port was not closed"; }
	grep "catnip: port 0: rx\|torn down" "$tmp/shutdown.log"
	;;
errors)
	# demi_init refuses with one line naming the cause, never an abort.
	expect_refusal() { # want-message, VAR=value...
		local want=$1 rc
		shift
		$IN_A env LIBOS=catnip "$@" timeout 20 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/err.log" 2>&1
		rc=$?
		[ $rc -eq 1 ] && grep -q "catnip: $want" "$tmp/err.log" ||
			{ cat "$tmp/err.log" >&2; fail "want exit 1 and 'catnip: $want', got exit $rc"; }
		echo "ok: refused: $(grep "catnip: $want" "$tmp/err.log")"
	}
	expect_refusal "no local address" EAL_INIT="$EAL"
	expect_refusal "cannot start DPDK: rte_eal_init failed" LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="--no-such-eal-option"
	# The EAL starts but has no device to drive: a skip if the EAL itself cannot start here.
	$IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="--no-huge --no-pci --no-shconf --no-telemetry -l 0 $(eal_prefix noport)" \
		timeout 20 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/err.log" 2>&1
	rc=$?
	if grep -q "catnip: cannot start DPDK" "$tmp/err.log"; then
		skip_if_no_dpdk "$tmp/err.log"
	fi
	[ $rc -eq 1 ] && grep -q "catnip: DPDK found no port" "$tmp/err.log" ||
		{ cat "$tmp/err.log" >&2; fail "want exit 1 and 'catnip: DPDK found no port', got exit $rc"; }
	echo "ok: refused: $(grep "catnip: DPDK found no port" "$tmp/err.log")"
	;;
hugepages)
	# No --no-huge: catnip takes hugepages when scripts/setup.sh could reserve them, and otherwise
	# adds --no-huge itself (and --no-shconf for --in-memory); either way its log says which.
	need ping
	EAL="--in-memory --no-pci --no-telemetry -l 0 --vdev=net_tap0,iface=$TAP $(eal_prefix tap)"
	free=$(awk '/^HugePages_Free/ {n=$2} /^Hugepagesize/ {k=$2} END {print n * k / 1024}' /proc/meminfo)
	start_server
	if grep -q " hugetlbfs " /proc/mounts && [ "${free%.*}" -ge 64 ]; then
		grep -q "EAL up on hugepages" "$tmp/server.log" || fail "$free MiB of hugepages free, but catnip did not use them"
	else
		grep -q "starting the EAL with --no-huge" "$tmp/server.log" && grep -q "EAL up without hugepages" "$tmp/server.log" ||
			fail "no hugepages ($free MiB free): catnip should have said it added --no-huge"
	fi
	ping_all -c 3 -s 1472
	stop_server
	;;
tcp-* | nocopy | conformance)
	. "$here/tap_cases.sh"
	tap_case "$case"
	;;
afpacket | afxdp)
	. "$here/veth_cases.sh"
	veth_case "$case"
	;;
memif-*)
	. "$here/memif_cases.sh"
	memif_case "$case"
	;;
*)
	echo "run.sh: unknown case $case" >&2
	exit 2
	;;
esac
rm -rf "$tmp"
echo "PASS ($case)"
