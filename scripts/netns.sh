#!/usr/bin/env bash
# Network-namespace harness: builds a private topology of namespaces joined by veth pairs, runs one
# command with the topology in its environment, and always tears everything down (exit, error, signal).
# Nothing is ever sent from the root namespace; 10.x addresses exist only inside these namespaces.
#
#   scripts/netns.sh run2 [--mtu N] -- COMMAND [ARG...]
#       NS_A [IF_A] ==veth== [IF_B] NS_B
#       IF_A is Demi's: up, no kernel IPv4 address, IPv6 off (the kernel stays out of the way).
#       IF_B is Linux's: IP_B/24.
#   scripts/netns.sh run3 [--mtu N] -- COMMAND [ARG...]
#       NS_A [IF_A] ==veth== [IF_RA] NS_R [IF_RB] ==veth== [IF_B] NS_B
#       NS_R forwards IPv4 and answers ARP on IF_RA for NS_B's subnet (proxy ARP), so a stack
#       without routes (Demi's) reaches IP_B by ARP alone; NS_B routes back through NS_R.
#   scripts/netns.sh check    exit 0 if namespaces can be made here, 77 (skip) if not
#   scripts/netns.sh clean    removes namespaces left by runs whose process is gone (kill -9)
#
# COMMAND runs in the root namespace with these exported (enter a namespace with $IN_A ...):
#   NS_A NS_B [NS_R]  namespace names        IN_A IN_B [IN_R]  "ip netns exec NS_x"
#   IF_A IF_B [IF_RA IF_RB]  interface names MAC_A MAC_B        their MACs
#   IP_A IP_B [GW_A GW_B]    addresses       PREFIX=24  MTU
# IP_A is the address the stack on IF_A should use (LOCAL_IPV4_ADDR); no kernel holds it.
# The exit status is COMMAND's; processes left inside the namespaces are killed.
set -euo pipefail

die() { echo "netns.sh: $*" >&2; exit 2; }

can_run() {
	[ "$(id -u)" -eq 0 ] || { echo "netns.sh: needs root" >&2; return 77; }
	command -v ip >/dev/null || { echo "netns.sh: no 'ip' (iproute2)" >&2; return 77; }
	local probe="demi-probe-$$"
	ip netns add "$probe" 2>/dev/null || { echo "netns.sh: 'ip netns add' fails here" >&2; return 77; }
	ip netns del "$probe"
}

# Namespaces of runs whose shell is dead: demi-<pid>x<rand>-<role>.
clean_stale() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^demi-[0-9]+x[0-9a-f]+-[abr]$' || true); do
		pid=${ns#demi-}; pid=${pid%%x*}
		if ! kill -0 "$pid" 2>/dev/null; then
			kill_inside "$ns"
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
}

# Kills, by pid, the processes still running inside a namespace we created.
kill_inside() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	[ -n "$pids" ] || return 0
	kill -TERM $pids 2>/dev/null || true
	sleep 0.2
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

CREATED=()
CHILD=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$CHILD" ]; then
		# The command's whole process group: what it started in the root namespace goes too.
		kill -TERM -- "-$CHILD" 2>/dev/null || true
	fi
	local ns
	for ns in "${CREATED[@]}"; do
		kill_inside "$ns"
		ip netns del "$ns" 2>/dev/null || true
	done
	exit "$rc"
}
on_signal() { exit $((128 + $1)); }

mkns() { # name
	ip netns add "$1"
	CREATED+=("$1")
	ip -n "$1" link set lo up
	# Before any veth exists, so that none ever sends a router solicitation or DAD probe.
	[ ! -d /proc/sys/net/ipv6 ] || ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

# A veth pair: $1 in namespace $2, $3 in namespace $4.
mkveth() {
	ip link add "$1" mtu "$MTU" netns "$2" type veth peer name "$3" mtu "$MTU" netns "$4"
	ip -n "$2" link set "$1" up
	ip -n "$4" link set "$3" up
}

noipv6() { # ns ifname: no router solicitations, DAD or MLD reports on the wire
	[ -d /proc/sys/net/ipv6 ] || return 0 # a kernel without IPv6 is quiet already
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
}

mac_of() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }

setup2() {
	mkns "$NS_A"; mkns "$NS_B"
	mkveth "$IF_A" "$NS_A" "$IF_B" "$NS_B"
	noipv6 "$NS_A" "$IF_A"; noipv6 "$NS_B" "$IF_B"
	ip -n "$NS_B" addr add "$IP_B/$PREFIX" dev "$IF_B"
}

setup3() {
	mkns "$NS_A"; mkns "$NS_R"; mkns "$NS_B"
	mkveth "$IF_A" "$NS_A" "$IF_RA" "$NS_R"
	mkveth "$IF_RB" "$NS_R" "$IF_B" "$NS_B"
	local ns i
	for i in "$NS_A $IF_A" "$NS_R $IF_RA" "$NS_R $IF_RB" "$NS_B $IF_B"; do
		noipv6 $i
	done
	ip -n "$NS_R" addr add "$GW_A/$PREFIX" dev "$IF_RA"
	ip -n "$NS_R" addr add "$GW_B/$PREFIX" dev "$IF_RB"
	ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
	# Demi has no routing table: it ARPs for IP_B itself, and the router answers for its other side.
	ip netns exec "$NS_R" sysctl -qw "net.ipv4.conf.$IF_RA.proxy_arp=1"
	# Linux delays proxy ARP replies by up to 0.8 s by default, longer than Demi's ARP retries.
	ip netns exec "$NS_R" sysctl -qw "net.ipv4.neigh.$IF_RA.proxy_delay=0"
	ip -n "$NS_B" addr add "$IP_B/$PREFIX" dev "$IF_B"
	ip -n "$NS_B" route add default via "$GW_B"
}

run() { # topology, args
	local topo=$1; shift
	MTU=1500
	while [ $# -gt 0 ]; do
		case "$1" in
		--mtu) MTU=$2; shift 2 ;;
		--) shift; break ;;
		*) die "unknown option $1 (usage: see the top of $0)" ;;
		esac
	done
	[ $# -gt 0 ] || die "no command after --"
	can_run || exit $?
	clean_stale
	local s
	s="$$x$(printf %04x $((RANDOM % 65536)))"
	NETNS_SUFFIX=$s PREFIX=24
	NS_A="demi-$s-a" NS_B="demi-$s-b" IF_A="a$s" IF_B="b$s"
	trap cleanup EXIT
	trap 'on_signal 2' INT
	trap 'on_signal 15' TERM
	if [ "$topo" = run2 ]; then
		IP_A=10.0.0.1 IP_B=10.0.0.2
		setup2
	else
		NS_R="demi-$s-r" IF_RA="r$s" IF_RB="s$s"
		IP_A=10.0.1.1 GW_A=10.0.1.254 IP_B=10.0.2.1 GW_B=10.0.2.254
		setup3
		export NS_R IF_RA IF_RB GW_A GW_B
		export IN_R="ip netns exec $NS_R"
	fi
	MAC_A=$(mac_of "$NS_A" "$IF_A") MAC_B=$(mac_of "$NS_B" "$IF_B")
	export NETNS_SUFFIX PREFIX MTU NS_A NS_B IF_A IF_B IP_A IP_B MAC_A MAC_B
	export IN_A="ip netns exec $NS_A" IN_B="ip netns exec $NS_B"
	# In the background, so that a signal reaches our trap while the command runs; in a process
	# group of its own (setsid execs without forking here), so that cleanup can end all of it.
	setsid "$@" &
	CHILD=$!
	local rc=0
	wait "$CHILD" || rc=$?
	exit "$rc" # cleanup also ends what the command left running in its process group
}

case "${1:-}" in
run2 | run3) run "$@" ;;
check) can_run ;;
clean) [ "$(id -u)" -eq 0 ] || die "needs root"; clean_stale ;;
*) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
