# Two Demi processes on catnip joined by DPDK's net_memif (shared memory, no kernel interface): TCP and
# UDP echo checked byte by byte, and 1,000 TCP connections at once. Sourced by tests/catnip/run.sh for
# its memif-* cases (it provides fail, skip_if_no_dpdk, wait_listening, eal_prefix, $tmp, $build, $here).
# The server holds the memif socket (role=server), the client connects to it; each process runs on a
# core of its own where there are two. No --no-huge: catnip uses hugepages when the machine has them
# free and adds --no-huge itself otherwise (--in-memory then becomes --no-shconf).
# shellcheck shell=bash disable=SC2154

MEMIF_SRV=10.1.0.1 MEMIF_CLI=10.1.0.2

memif_eal() { # ROLE CORE
	echo "--in-memory --no-pci --no-telemetry -l $2 $(eal_prefix "memif-$1")" \
		"--vdev=net_memif0,role=$1,socket=$tmp/memif.sock,socket-abstract=no"
}

# memif_pair SERVER_CMD... -- CLIENT_CMD...: the server on core 0, then the client on core 1; the
# client must exit 0. The server is left running ($memif_server); its log is $tmp/memif-server.log.
memif_pair() {
	local srv=() cli_core=0
	while [ "$1" != -- ]; do srv+=("$1"); shift; done
	shift
	[ "$(nproc)" -lt 2 ] || cli_core=1
	rm -f "$tmp/memif.sock"
	env LIBOS=catnip LOCAL_IPV4_ADDR=$MEMIF_SRV EAL_INIT="$(memif_eal server 0)" DEMI_LOG=info \
		timeout 200 "${srv[@]}" >"$tmp/memif-server.log" 2>&1 &
	memif_server=$!
	# The server's port comes up when the client connects: wait for its socket, not for it to listen.
	for _ in $(seq 200); do [ -S "$tmp/memif.sock" ] && break; kill -0 $memif_server 2>/dev/null || break; sleep 0.05; done
	if [ ! -S "$tmp/memif.sock" ]; then
		wait $memif_server
		skip_if_no_dpdk "$tmp/memif-server.log"
		cat "$tmp/memif-server.log" >&2
		fail "the memif server did not create its socket"
	fi
	sleep 0.1 # the socket file exists from bind(), a moment before listen()
	env LIBOS=catnip LOCAL_IPV4_ADDR=$MEMIF_CLI EAL_INIT="$(memif_eal client $cli_core)" DEMI_LOG=info \
		timeout 200 "$@" >"$tmp/memif-client.log" 2>&1
	local rc=$?
	[ $rc -eq 0 ] || skip_if_no_dpdk "$tmp/memif-client.log"
	[ $rc -eq 0 ] || { tail -20 "$tmp/memif-client.log" >&2; tail -20 "$tmp/memif-server.log" >&2; fail "client exited $rc: $*"; }
	grep -vE '^(EAL|rte_pmd_memif_probe|demi: info)' "$tmp/memif-client.log" | tail -3
	grep "catnip: port 0: rx" "$tmp/memif-client.log"
}

memif_stop() {
	kill $memif_server 2>/dev/null
	wait $memif_server 2>/dev/null
}

memif_case() {
	local run
	case $1 in
	memif-tcp)
		for run in "10000 64" "1000 1448" "200 65536" "5 1048576"; do
			set -- $run
			memif_pair "$build/examples/tcp_echo" server "$MEMIF_SRV:7" -- \
				"$build/examples/tcp_echo" client "$MEMIF_SRV:7" "$1" "$2"
			memif_stop
		done
		grep "EAL up" "$tmp/memif-server.log"
		;;
	memif-udp)
		for run in "10000 64" "1000 1472" "200 8000" "20 65507"; do
			set -- $run
			memif_pair "$build/examples/udp_echo" server "$MEMIF_SRV:7" -- \
				"$build/examples/udp_echo" client "$MEMIF_SRV:7" "$1" "$2"
			! grep -q lost "$tmp/memif-client.log" || fail "datagrams lost over memif"
			memif_stop
		done
		;;
	memif-conns)
		# 1,000 connections at once from one client process, 16 KiB each way on each, every byte hashed.
		local xfer="$build/tests/tools/tcp_xfer"
		memif_pair "$xfer" server "$MEMIF_SRV" 5001 --conns 1000 --timeout 180 -- \
			"$xfer" client "$MEMIF_SRV" 5001 --send 16K --recv --conns 1000 --window 1 --timeout 180
		wait $memif_server || { tail -20 "$tmp/memif-server.log" >&2; fail "tcp_xfer server on catnip"; }
		local n
		n=$(grep -c '^conn [0-9]* bytes .* pattern ok' "$tmp/memif-server.log")
		[ "$n" -eq 1000 ] || fail "the server verified $n of 1000 connections"
		grep -q '^tcp_xfer: PASS' "$tmp/memif-client.log" || fail "the client did not verify every connection"
		echo "ok: 1000 concurrent connections, 16 KiB each way on each, every one verified on both sides"
		;;
	esac
}
