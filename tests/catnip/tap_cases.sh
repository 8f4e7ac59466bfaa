# catnip's TCP against Linux over net_tap, the no-copy check and the PDPIX conformance suite on catnip.
# Sourced by tests/catnip/run.sh for its tcp-*, nocopy and conformance cases, inside the namespace it
# made (it provides fail, need, skip_if_no_dpdk, wait_listening, $EAL, $tmp, $build, $here, $TAP, $TAP_IP).
#   TCP_BYTES (100M)  each way, tcp-linux-client and tcp-demi-client
# The Demi side is tests/tools/tcp_xfer on catnip, Linux's tests/tools/xfer_peer.py (SHA-256 both ends).
# shellcheck shell=bash disable=SC2154

xfer="$build/tests/tools/tcp_xfer"
peer="$here/../tools/xfer_peer.py"
TCP_BYTES=${TCP_BYTES:-100M}

demi() { $IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$EAL" DEMI_LOG=info "$@"; }

# Linux holds TAP_IP on a persistent tap made before catnip starts, so that Demi can reach it first
# (multi_queue: net_tap opens its queues that way).
linux_tap() {
	$IN_A ip tuntap add dev "$TAP" mode tap multi_queue || fail "cannot make tap $TAP"
	$IN_A ip addr add "$TAP_IP/$PREFIX" dev "$TAP"
	$IN_A ip link set "$TAP" up
}

tap_case() {
	case $1 in
	tcp-linux-client)
		# Demi serves, Linux connects: TCP_BYTES up, the digest back, TCP_BYTES down. TCP and IPv4
		# checksums are left to the port (net_tap offers both): Linux drops a segment whose sum is wrong.
		need python3
		demi TCP_CHECKSUM_OFFLOAD=true timeout 200 "$xfer" server "$IP_A" 5001 --conns 1 --timeout 190 \
			>"$tmp/demi-server.log" 2>&1 &
		local srv=$!
		wait_listening "$tmp/demi-server.log" "$srv" "tcp_xfer on catnip"
		$IN_A ip addr add "$TAP_IP/$PREFIX" dev "$TAP" || fail "cannot address $TAP"
		$IN_A ip link set "$TAP" up
		$IN_A timeout 200 python3 "$peer" client "$IP_A" 5001 --send "$TCP_BYTES" --recv --timeout 190 \
			>"$tmp/linux-client.log" 2>&1 || { tail -20 "$tmp/linux-client.log" >&2; fail "xfer_peer client"; }
		wait "$srv" || { tail -20 "$tmp/demi-server.log" >&2; fail "tcp_xfer server on catnip"; }
		grep -E '^xfer_peer: PASS|goodput' "$tmp/linux-client.log"
		check_digests "$tmp/linux-client.log" "$tmp/demi-server.log"
		grep -q "offload ipv4-cksum tcp-cksum" "$tmp/demi-server.log" || fail "TCP checksums were not left to net_tap"
		grep "catnip: port 0: rx" "$tmp/demi-server.log"
		;;
	tcp-demi-client)
		need python3
		linux_tap
		$IN_A timeout 200 python3 "$peer" server "$TAP_IP" 5001 --conns 1 --timeout 190 >"$tmp/linux-server.log" 2>&1 &
		local srv=$!
		wait_listening "$tmp/linux-server.log" "$srv" "xfer_peer server"
		demi timeout 200 "$xfer" client "$TAP_IP" 5001 --send "$TCP_BYTES" --recv --timeout 190 \
			>"$tmp/demi-client.log" 2>&1
		local rc=$?
		[ $rc -eq 0 ] || skip_if_no_dpdk "$tmp/demi-client.log"
		[ $rc -eq 0 ] || { tail -20 "$tmp/demi-client.log" >&2; fail "tcp_xfer client on catnip exited $rc"; }
		wait "$srv" || { tail -20 "$tmp/linux-server.log" >&2; fail "xfer_peer server"; }
		grep -E '^tcp_xfer: PASS|goodput' "$tmp/demi-client.log"
		check_digests "$tmp/demi-client.log" "$tmp/linux-server.log"
		grep "catnip: port 0: rx" "$tmp/demi-client.log"
		;;
	nocopy)
		# UDP and TCP echo servers on Linux; TCP is dropped on the tap's ingress (tc bpf) while the
		# test pushes and frees, so that catnip retransmits buffers the application no longer holds.
		need python3
		linux_tap
		$IN_A python3 "$here/../catpowder/udp_peer.py" server "$TAP_IP" 7 60 >"$tmp/udp-peer.log" 2>&1 &
		$IN_A python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d:
        break
    c.sendall(d)
' "$TAP_IP" 7001 >"$tmp/tcp-peer.log" 2>&1 &
		local tcp_peer=$!
		wait_listening "$tmp/tcp-peer.log" "$tcp_peer" "the Linux TCP echo server"
		for _ in $(seq 100); do grep -qs listening "$tmp/udp-peer.log" && break; sleep 0.05; done
		local drop=
		if command -v clang >/dev/null && [ -f /usr/include/linux/bpf.h ] &&
			clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c "$here/drop_tcp.bpf.c" \
				-o "$tmp/drop_tcp.o" 2>"$tmp/clang.log"; then
			drop=1
		else
			echo "nocopy: no clang/BPF here: TCP is not interrupted, retransmission is not checked"
		fi
		demi timeout 60 "$build/tests/catnip/test_catnip_nocopy" "$TAP_IP:7" "$TAP_IP:7001" "$tmp/go" \
			${drop:+retransmit} >"$tmp/nocopy.log" 2>&1 &
		local t=$!
		for _ in $(seq 400); do grep -qs '^connected' "$tmp/nocopy.log" && break; kill -0 $t 2>/dev/null || break; sleep 0.05; done
		if [ -n "$drop" ] && grep -qs '^connected' "$tmp/nocopy.log"; then
			$IN_A tc qdisc add dev "$TAP" clsact && $IN_A tc filter add dev "$TAP" ingress bpf da obj "$tmp/drop_tcp.o" sec tc ||
				fail "cannot attach drop_tcp.o to $TAP"
		fi
		touch "$tmp/go"
		for _ in $(seq 400); do grep -qs '^pushed' "$tmp/nocopy.log" && break; kill -0 $t 2>/dev/null || break; sleep 0.05; done
		if [ -n "$drop" ]; then
			sleep 1.5 # past the first retransmission timeout (1 s before any RTT sample, 200 ms after)
			$IN_A tc qdisc del dev "$TAP" clsact
		fi
		wait $t
		local rc=$?
		[ $rc -eq 0 ] || skip_if_no_dpdk "$tmp/nocopy.log"
		grep -E '^test_catnip_nocopy|FAIL' "$tmp/nocopy.log"
		[ $rc -eq 0 ] || { cat "$tmp/nocopy.log" >&2; fail "test_catnip_nocopy exited $rc"; }
		;;
	conformance)
		# The PDPIX suite on catnip, one test at a time (each test process starts DPDK and net_tap afresh,
		# and two would both claim dtap0). Two ports, and memory for both (-m): init's second thread runs
		# a catnip of its own.
		local t eal="$EAL -m 256 --vdev=net_tap1,iface=dtap1"
		for t in init socket io sockopt sga wait limits shutdown userdata; do
			$IN_A env LIBOS=catnip LOCAL_IPV4_ADDR="$IP_A" EAL_INIT="$eal" DEMI_TEST_LIBOSES=catnip \
				DEMI_TEST_ADDR="$IP_A" timeout 500 "$build/tests/conformance/conformance_$t" --jobs=1 \
				>"$tmp/conf-$t.log" 2>&1
			local rc=$?
			tail -1 "$tmp/conf-$t.log"
			[ $rc -eq 0 ] || skip_if_no_dpdk "$tmp/conf-$t.log"
			[ $rc -eq 0 ] || { grep -v '^EAL\|^tap_\|^eth_dev_tap\|^qdisc_' "$tmp/conf-$t.log" | tail -40 >&2; fail "conformance_$t"; }
			! grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$tmp/conf-$t.log" >&2 ||
				fail "sanitizer reports in conformance_$t"
		done
		;;
	esac
}
