# catnip on a veth through DPDK's kernel-socket PMDs, against the Linux kernel at the other end:
# net_af_packet (a packet socket, case afpacket) and net_af_xdp (an AF_XDP socket, case afxdp). Sourced
# by tests/catnip/run.sh, inside the two namespaces netns.sh run2 made: catnip takes IP_A on IF_A (NS_A,
# where the kernel holds no address), Linux holds IP_B on IF_B (NS_B). Each case: Linux pings Demi
# (small, full-MTU, fragmented), a Linux UDP client against udp_echo on catnip, and TCP_BYTES each way
# with tcp_xfer on catnip against xfer_peer.py on Linux, Demi serving and then Demi connecting, SHA-256
# compared on both sides. (run.sh provides fail, need, eal_prefix, $tmp, $build, $here.)
#   TCP_BYTES (20M)  each way
# shellcheck shell=bash disable=SC2154

xfer="$build/tests/tools/tcp_xfer"
peer="$here/../tools/xfer_peer.py"
TCP_BYTES=${TCP_BYTES:-20M}
veth_server=

# The port could not be brought up by this kernel or this DPDK build: a skip that says why, with the
# PMD's own lines (net_af_xdp needs AF_XDP sockets and an XDP program the kernel accepts on a veth).
veth_skip_if_no_port() { # log
	local why="catnip: (cannot start DPDK|DPDK found no port)"
	# net_af_xdp fails at queue setup when the kernel refuses the AF_XDP socket or its XDP program.
	[ "$pmd" != net_af_xdp ] || why="$why|libOS catnip failed to start"
	grep -qE "$why" "$1" || return 0
	grep -iE "af_xdp|xdp|xsk|bpf|af_packet|catnip" "$1" >&2
	echo "SKIP ($case): DPDK's $pmd could not open $IF_A here (see the lines above)" >&2
	rm -rf "$tmp"
	exit 77
}

veth_started() { # log pid: 0 once LOG says `listening`, 1 if PID exits first or 15 s go by
	for _ in $(seq 300); do
		grep -qs listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	grep -qs listening "$1"
}

veth_wait_listening() { # log pid what
	veth_started "$1" "$2" && return 0
	wait "$2" 2>/dev/null
	veth_skip_if_no_port "$1"
	cat "$1" >&2
	fail "$3 did not start"
}

# A Demi program in NS_A. exec: started with & it runs in a subshell, and $! must be the program's own
# pid for kill to reach it (ip netns exec, env and timeout each exec or pass the signal on); in the
# foreground, call it in ( ).
vdemi() { exec $IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$EAL" DEMI_LOG=info "$@"; }

# A process killed by a signal leaves net_af_xdp's XDP program on the veth, and the next socket on that
# queue would then fail to bind: detach it (whichever mode it went on in) before the next process.
veth_xdp_off() {
	[ "$pmd" = net_af_xdp ] || return 0
	$IN_A ip link set dev "$IF_A" xdp off 2>/dev/null
	$IN_A ip link set dev "$IF_A" xdpgeneric off 2>/dev/null
	return 0
}

veth_stop() {
	[ -n "$veth_server" ] || return 0
	kill "$veth_server" 2>/dev/null
	wait "$veth_server" 2>/dev/null
	veth_server=
	veth_xdp_off
}

veth_case() {
	local vdev i big
	need ping
	need python3
	need ethtool
	case $1 in
	afpacket)
		pmd=net_af_packet
		vdev="net_af_packet0,iface=$IF_A"
		# DPDK 22.11's net_af_packet joins its socket to a fanout group with PACKET_FANOUT_FLAG_DEFRAG (no
		# devarg turns it off): the kernel reassembles fragments before the socket, and a datagram larger
		# than a ring frame (2048 B with its headers; the PMD refuses frames larger than catnip's 2 KiB
		# mbufs) reaches catnip cut short. So incoming datagrams stay under 1968 B of IP here; catnip's
		# answers are still fragmented by catnip (1900 B: two fragments).
		big=1900
		;;
	afxdp)
		pmd=net_af_xdp
		# One queue on the veth, and the socket on it. The PMD loads its XDP program through libxdp
		# (without a bpffs, without libxdp's dispatcher) in native mode, which a veth has; a veth has
		# no zero-copy AF_XDP, so the kernel binds the socket in copy mode. Should the port not come
		# up, the case tries once more with force_copy=1 (copy mode asked for) before it skips.
		vdev="net_af_xdp0,iface=$IF_A,start_queue=0,queue_count=1"
		big="4000 8972 65507" # fragments both ways, reassembled by catnip
		;;
	esac
	# No TSO/GSO/GRO on either end: Linux would hand the socket 64 KB super-frames otherwise. And no
	# transmit checksum offload: on a veth Linux leaves UDP and TCP checksums unfinished (CHECKSUM_PARTIAL),
	# a packet or XDP socket sees them so, and catnip (unlike catpowder, which finishes them itself on
	# TP_STATUS_CSUMNOTREADY) drops a segment whose checksum is wrong; Linux then computes them in software.
	for i in "$NS_A $IF_A" "$NS_B $IF_B"; do
		set -- $i # shellcheck disable=SC2086
		ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null 2>&1 ||
			fail "ethtool -K $2 tso off gso off gro off tx off"
	done
	[ -z "$($IN_A ip -4 -o addr show dev "$IF_A")" ] || fail "the kernel holds an IPv4 address on $IF_A"
	EAL="--no-huge --no-pci --no-shconf --no-telemetry -l 0 --vdev=$vdev $(eal_prefix "$pmd")"
	echo "$pmd on $IF_A: Demi $IP_A (NS_A), Linux $IP_B on $IF_B (NS_B)"

	# Ping and UDP: udp_echo on catnip.
	vdemi timeout 60 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/udp-server.log" 2>&1 &
	veth_server=$!
	if [ "$pmd" = net_af_xdp ] && ! veth_started "$tmp/udp-server.log" "$veth_server"; then
		kill "$veth_server" 2>/dev/null
		wait "$veth_server" 2>/dev/null
		veth_xdp_off
		grep -iE "xdp|xsk|bpf|catnip:" "$tmp/udp-server.log" | sed 's/^/first try: /'
		echo "net_af_xdp did not come up; again with force_copy=1"
		vdev="$vdev,force_copy=1"
		EAL="--no-huge --no-pci --no-shconf --no-telemetry -l 0 --vdev=$vdev $(eal_prefix "$pmd-copy")"
		vdemi timeout 60 "$build/examples/udp_echo" server "$IP_A:7" >"$tmp/udp-server.log" 2>&1 &
		veth_server=$!
	fi
	veth_wait_listening "$tmp/udp-server.log" "$veth_server" "udp_echo on catnip over $pmd"
	grep "catnip: port 0 up" "$tmp/udp-server.log"
	[ "$pmd" != net_af_xdp ] || echo "XDP on $IF_A:$($IN_A ip -d link show dev "$IF_A" |
		grep -oE ' (xdp|xdpgeneric|xdpdrv|xdpoffload) |prog/xdp id [0-9]+( name [^ ]+)?' | tr -s ' \n' ' ')"
	for i in "-c 5" "-c 3 -s 1472" "-c 3 -s ${big%% *}"; do
		# shellcheck disable=SC2086 # $i: ping's arguments
		$IN_B timeout 20 ping -I "$IF_B" -i 0.2 -W 2 $i "$IP_A" >"$tmp/ping.log" 2>&1
		grep -E 'packets transmitted|rtt' "$tmp/ping.log" | sed "s/^/ping $i: /"
		grep -q ' 0% packet loss' "$tmp/ping.log" || { cat "$tmp/ping.log" >&2; fail "ping $i $IP_A over $pmd"; }
	done
	# shellcheck disable=SC2086 # $big: a list of sizes
	$IN_B timeout 30 python3 "$here/../catpowder/udp_peer.py" client "$IP_A" 7 1 64 1472 1473 $big ||
		fail "Linux UDP client against udp_echo on catnip over $pmd"
	veth_stop

	# TCP: Demi serves, Linux connects; then Linux serves, Demi connects. TCP_BYTES each way, hashed.
	vdemi timeout 200 "$xfer" server "$IP_A" 5001 --conns 1 --timeout 190 >"$tmp/demi-server.log" 2>&1 &
	veth_server=$!
	veth_wait_listening "$tmp/demi-server.log" "$veth_server" "tcp_xfer on catnip over $pmd"
	$IN_B timeout 200 python3 "$peer" client "$IP_A" 5001 --send "$TCP_BYTES" --recv --timeout 190 \
		>"$tmp/linux-client.log" 2>&1 || { tail -20 "$tmp/linux-client.log" >&2; fail "xfer_peer client"; }
	wait "$veth_server" || { tail -20 "$tmp/demi-server.log" >&2; fail "tcp_xfer server on catnip"; }
	veth_server=
	veth_xdp_off
	grep -E '^xfer_peer: PASS|goodput' "$tmp/linux-client.log" | sed 's/^/linux client: /'
	check_digests "$tmp/linux-client.log" "$tmp/demi-server.log"
	grep "catnip: port 0: rx" "$tmp/demi-server.log"

	$IN_B timeout 200 python3 "$peer" server "$IP_B" 5001 --conns 1 --timeout 190 >"$tmp/linux-server.log" 2>&1 &
	local lsrv=$!
	for _ in $(seq 200); do grep -qs listening "$tmp/linux-server.log" && break; sleep 0.05; done
	(vdemi timeout 200 "$xfer" client "$IP_B" 5001 --send "$TCP_BYTES" --recv --timeout 190) \
		>"$tmp/demi-client.log" 2>&1 || { tail -20 "$tmp/demi-client.log" >&2; fail "tcp_xfer client on catnip"; }
	wait "$lsrv" || { tail -20 "$tmp/linux-server.log" >&2; fail "xfer_peer server"; }
	grep -E '^tcp_xfer: PASS|goodput' "$tmp/demi-client.log" | sed 's/^/demi client: /'
	check_digests "$tmp/demi-client.log" "$tmp/linux-server.log"
	grep "catnip: port 0: rx" "$tmp/demi-client.log"
}
