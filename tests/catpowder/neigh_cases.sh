# Neighbours, martians and routes against Linux peers (doc/inetstack.md): a spoofed SYN flood beside a real
# client, a LAND packet, and a route through a gateway without proxy ARP. Sourced by tests/catpowder/run.sh for
# its neigh-* cases, inside the namespaces it made; uses tcp_cases.sh's helpers (spawn, listening, tcp_setup,
# xfer_both_ways). The Demi side is tests/tools/tcp_xfer on catpowder, its counters read from the summary it
# logs at exit (DEMI_LOG=info).
# shellcheck shell=bash disable=SC2154 # fail, need, $tmp, $build, $here: from run.sh
. "$here/tcp_cases.sh"
syn_client="$here/syn_client.py"

# counter LOG 'LINE PREFIX' 'NAME': the number after NAME in the summary line that starts with PREFIX.
counter() {
	local v
	v=$(grep -o "$2: .*" "$1" | tail -1 | grep -o "$3 [0-9]*" | head -1 | awk '{print $NF}')
	[ -n "$v" ] || { tail -20 "$1" >&2; fail "no counter '$3' in the '$2' line of $(basename "$1")"; }
	echo "$v"
}

# A tcp_xfer server on Demi that logs its counters when it exits (after CONNS connections, or SECONDS).
neigh_server() { # CONNS SECONDS
	spawn demi-server $IN_A env LIBOS=catpowder LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A" DEMI_LOG=info \
		timeout $(($2 + 10)) "$xfer" server "$IP_A" $port --conns "$1" --timeout "$2"
	listening demi-server
}

neigh_wait_server() {
	wait "$pid_demi_server" 2>/dev/null
	grep -q "inet neigh:" "$tmp/demi-server.log" || { tail -20 "$tmp/demi-server.log" >&2; fail "no counters logged at exit"; }
}

neigh_case() {
	need python3
	tcp_setup
	case $1 in
	neigh-synflood)
		# hping3 floods SYNs from random (spoofed) sources for 10 s; Demi answers each with a SYN-ACK or a
		# cookie, which would need ARP for the spoofed address. A real client in NS_B connects meanwhile.
		need hping3
		neigh_server 0 16
		$IN_B python3 "$syn_client" "$IP_A" $port --count 3 >"$tmp/warm.log" 2>&1
		$IN_B timeout 10 hping3 -q -S --rand-source -p $port --flood "$IP_A" >"$tmp/hping3.log" 2>&1 &
		local flood=$!
		$IN_B python3 "$syn_client" "$IP_A" $port --seconds 9 --interval 0.05 >"$tmp/client.log" 2>&1
		wait "$flood" 2>/dev/null
		neigh_wait_server
		cat "$tmp/client.log"
		grep -oE "inet (arp|neigh|tcp):.*" "$tmp/demi-server.log" | sed 's/^/  /' | cut -c1-240
		local att ok req ru rx
		read -r att ok < <(awk '/^syn_client:/ {print $3, $5}' "$tmp/client.log")
		[ -n "$att" ] && [ "$att" -gt 0 ] || fail "the client made no attempt"
		req=$(counter "$tmp/demi-server.log" "inet arp" "tx req")
		ru=$(counter "$tmp/demi-server.log" "inet neigh" "reply-unresolved")
		rx=$(counter "$tmp/demi-server.log" "inet tcp" "rx")
		[ "$rx" -ge 2000 ] || fail "only $rx segments reached Demi: the flood did not run"
		[ "$ru" -ge 1 ] || fail "no reply to a spoofed source was dropped for want of ARP"
		# The budget: a burst of 128, then 256 a second, over the server's 16 s (doc/inetstack.md).
		[ "$req" -le $((128 + 256 * 17)) ] || fail "$req ARP requests: the request budget did not hold"
		[ $((ok * 100)) -ge $((att * 90)) ] || fail "$ok of $att connects succeeded during the flood (want 90%)"
		echo "ok: $ok of $att connects during a flood of $rx segments; $req ARP requests, $ru replies dropped unresolved"
		;;
	neigh-land)
		# A SYN from our own address and port to our listener: dropped as a martian, and no storm after it.
		need hping3
		neigh_server 1 12
		$IN_B hping3 -q -a "$IP_A" -s $port -k -p $port -S -c 1 "$IP_A" >"$tmp/hping3.log" 2>&1 ||
			{ cat "$tmp/hping3.log" >&2; fail "hping3"; }
		sleep 2
		$IN_B python3 "$syn_client" "$IP_A" $port --count 1 >"$tmp/client.log" 2>&1
		neigh_wait_server
		cat "$tmp/client.log"
		grep -oE "inet (ipv4|neigh):.*" "$tmp/demi-server.log" | sed 's/^/  /' | cut -c1-200
		local own rx
		own=$(counter "$tmp/demi-server.log" "inet neigh" "martians own")
		rx=$(counter "$tmp/demi-server.log" "inet ipv4" "rx")
		[ "$own" -ge 1 ] || fail "the LAND packet was not dropped as a martian"
		[ "$rx" -le 100 ] || fail "$rx IPv4 packets processed after one LAND packet and one connection: a storm"
		grep -q "attempts 1 ok 1" "$tmp/client.log" || fail "the connection after the LAND packet failed"
		echo "ok: the LAND packet was dropped (martian own-address $own); $rx IPv4 packets in all"
		;;
	neigh-route)
		# NS_A - NS_R - NS_B with proxy ARP off: Demi reaches IP_B only through its gateway GW_A.
		need tshark
		ip netns exec "$NS_R" sysctl -qw "net.ipv4.conf.$IF_RA.proxy_arp=0"
		tdemi() {
			$IN_A env LIBOS=catpowder LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A" IPV4_PREFIX_LEN=24 \
				DEFAULT_GATEWAY="$GW_A" "$@"
		}
		$IN_R timeout 90 tshark -n -i "$IF_RA" -f arp -w "$tmp/arp.pcap" >"$tmp/tshark-cap.log" 2>&1 &
		local cap=$!
		for _ in $(seq 100); do grep -qs Capturing "$tmp/tshark-cap.log" && break; sleep 0.05; done
		xfer_both_ways 4M 1 60
		sleep 0.5
		kill "$cap" 2>/dev/null
		wait "$cap" 2>/dev/null
		local to_b to_gw
		to_b=$(count "$tmp/arp.pcap" "arp.opcode == 1 && arp.src.proto_ipv4 == $IP_A && arp.dst.proto_ipv4 == $IP_B")
		to_gw=$(count "$tmp/arp.pcap" "arp.opcode == 1 && arp.src.proto_ipv4 == $IP_A && arp.dst.proto_ipv4 == $GW_A")
		[ "$to_b" -eq 0 ] || fail "Demi asked ARP for the off-link $IP_B $to_b times"
		[ "$to_gw" -ge 1 ] || echo "note: Demi learnt $GW_A from the router's own request (no request of ours)"
		echo "ok: 4 MiB each way between $IP_A and $IP_B through $GW_A, no proxy ARP; ARP asked for the gateway only"
		;;
	*)
		echo "run.sh: unknown case $1" >&2
		exit 2
		;;
	esac
}
