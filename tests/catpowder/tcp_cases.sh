# TCP against the Linux kernel over veth: interoperability both ways, handshake options and SACK, loss,
# 1000 connections, wait fairness at 1000 connections. Sourced by tests/catpowder/run.sh for its tcp-* cases, inside the namespaces it made
# (it provides fail, need, tshark_check, count, $tmp, $build, $here and the topology); doc/tcp_interop.md.
#
# The Demi side is tests/tools/tcp_xfer on LIBOS=$TCP_LIBOS: catpowder (Demi's own TCP) by default;
# TCP_LIBOS=catnap runs the same PDPIX program on the kernel's sockets (with the kernel holding IP_A),
# which checks the tool and the peer themselves.
# Linux's side is tests/tools/xfer_peer.py (python3, asyncio) in NS_B.
#   TCP_BYTES (100M)            each way, tcp-linux-client and tcp-demi-client (and their -nooffload twins)
#   TCP_LOSSY_BYTES (8M)        each way and at each rate, tcp-lossy
#   TCP_LOSS_PERMILLES (10 50)  drop rates of tcp-lossy, in thousandths
#   TCP_LOSS_PERMILLE (20)      drop rate of the lossy filter, in thousandths (tcp-options)
# shellcheck shell=bash disable=SC2154 # fail, need, tshark_check, $tmp, $build, $here: from run.sh

TCP_LIBOS=${TCP_LIBOS:-catpowder}
xfer="$build/tests/tools/tcp_xfer"
peer="$here/../tools/xfer_peer.py"
port=5001
pids=()
pcap_prefix= # tcp-options under catpowder: each Demi process records its frames to $pcap_prefix-ROLE.pcap
demi_pcap=

# The Demi program in NS_A. catpowder reads LOCAL_IPV4_ADDR and LINUX_INTERFACE_NAME; catnap ignores them.
tdemi() {
	$IN_A env LIBOS="$TCP_LIBOS" LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A" \
		${demi_pcap:+DEMI_PCAP="$demi_pcap"} "$@"
}

tcp_setup() {
	need python3
	[ -x "$xfer" ] || fail "$xfer is not built"
	local i
	# Linux's defaults stay (TSO and GSO on: Linux sends 64 KiB super-frames, catpowder takes them whole
	# through PACKET_VNET_HDR and sends its own). The *-nooffload twins turn TSO, GSO and GRO off on every
	# veth, as a host with offloads off or an old kernel would be (doc/catpowder.md, offloads).
	if [ "${TCP_OFFLOADS:-on}" = off ]; then
		need ethtool
		for i in "$NS_A $IF_A" "$NS_B $IF_B" ${NS_R:+"$NS_R $IF_RA" "$NS_R $IF_RB"}; do
			set -- $i
			ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 ||
				fail "ethtool -K $2 tso off gso off gro off"
		done
	fi
	if [ "$TCP_LIBOS" = catnap ]; then
		# catnap is the kernel's TCP: the kernel in NS_A needs the address that catpowder would hold itself.
		ip -n "$NS_A" addr add "$IP_A/$PREFIX" dev "$IF_A" || fail "cannot add $IP_A to $IF_A"
		[ -z "${GW_A:-}" ] || ip -n "$NS_A" route add default via "$GW_A" || fail "no route via $GW_A"
	fi
	echo "tcp: Demi side on LIBOS=$TCP_LIBOS ($IP_A on $IF_A), Linux side $IP_B on $IF_B, offloads ${TCP_OFFLOADS:-on}"
}

# spawn NAME COMMAND...: runs COMMAND in the background, output in $tmp/NAME.log; $! in pid_NAME.
spawn() {
	local name=$1
	shift
	"$@" >"$tmp/$name.log" 2>&1 &
	eval "pid_${name//-/_}=$!"
	pids+=($!)
}

# listening NAME: waits until the server NAME says it listens.
listening() {
	local pid
	eval "pid=\$pid_${1//-/_}"
	for _ in $(seq 200); do
		grep -qs listening "$tmp/$1.log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$tmp/$1.log" >&2
	fail "$1 did not start listening"
}

# finish NAME: waits for NAME, which must exit 0.
finish() {
	local pid rc
	eval "pid=\$pid_${1//-/_}"
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] || { tail -20 "$tmp/$1.log" >&2; fail "$1 exited $rc"; }
}

# run_fg NAME COMMAND...: runs COMMAND in the foreground, shows its result lines, fails unless it exits 0.
run_fg() {
	local name=$1 rc
	shift
	"$@" >"$tmp/$name.log" 2>&1
	rc=$?
	grep -E '^(conn [0-9]+ (up|down)|goodput|tcp_xfer: (PASS|FAIL)|xfer_peer: (PASS|FAIL))' "$tmp/$name.log" | tail -6
	[ $rc -eq 0 ] || { tail -20 "$tmp/$name.log" >&2; fail "$name exited $rc"; }
}

# same_digest CLIENT_LOG SERVER_LOG: the digest the client expects of what it sent is the one the server
# printed for what it received (two programs, two implementations: tcp_xfer.c and xfer_peer.py).
same_digest() {
	local want got
	want=$(sed -n 's/^conn 0 up bytes [0-9]* sha256 expected \([0-9a-f]*\) .*/\1/p' "$tmp/$1.log")
	got=$(sed -n 's/^conn 0 bytes [0-9]* sha256 \([0-9a-f]*\) pattern ok.*/\1/p' "$tmp/$2.log")
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "digests differ: $1 expects '$want', $2 printed '$got'"
	echo "ok: $2 received the bytes $1 sent: sha256 $got on both sides"
}

# A Demi server for N connections, a Linux client; then a Linux server, a Demi client. Both each way.
xfer_both_ways() { # BYTES CONNS TIMEOUT
	local bytes=$1 conns=$2 t=$3
	demi_pcap=${pcap_prefix:+$pcap_prefix-server.pcap}
	# Each program's own --timeout ends it 10 s before `timeout` would, so that it says where it stood.
	spawn demi-server tdemi timeout "$t" "$xfer" server "$IP_A" $port --conns "$conns" --timeout $((t - 10))
	listening demi-server
	run_fg linux-client $IN_B timeout "$t" python3 "$peer" client "$IP_A" $port --send "$bytes" --recv \
		--conns "$conns" --timeout $((t - 10))
	finish demi-server
	tail -1 "$tmp/demi-server.log"
	[ "$conns" -gt 1 ] || same_digest linux-client demi-server
	spawn linux-server $IN_B timeout "$t" python3 "$peer" server "$IP_B" $port --conns "$conns" --timeout $((t - 10))
	listening linux-server
	demi_pcap=${pcap_prefix:+$pcap_prefix-client.pcap}
	run_fg demi-client tdemi timeout "$t" "$xfer" client "$IP_B" $port --send "$bytes" --recv --conns "$conns" \
		--timeout $((t - 10))
	finish linux-server
	tail -1 "$tmp/linux-server.log"
	[ "$conns" -gt 1 ] || same_digest demi-client linux-server
	if [ "$conns" -gt 1 ]; then
		local n
		n=$(grep -c '^conn [0-9]* bytes .* pattern ok' "$tmp/demi-server.log")
		[ "$n" -eq "$conns" ] || fail "the Demi server verified $n of $conns connections"
		n=$(grep -c '^conn [0-9]* bytes .* pattern ok' "$tmp/linux-server.log")
		[ "$n" -eq "$conns" ] || fail "the Linux server verified $n of $conns connections"
		echo "ok: $conns concurrent connections each way, every one verified on both sides"
	fi
}

# check_offloads NAME: the Demi program NAME (run with DEMI_LOG=info) dropped no frame as too large for its
# ring, took Linux's super-frames whole when Linux's offloads are on (none arrive with them off), and sent
# TSO super-segments either way (with them off, the kernel cuts them in software: the GSO fallback).
check_offloads() {
	[ "$TCP_LIBOS" = catpowder ] || return 0
	local line big sf tso
	line=$(grep 'inet device:' "$tmp/$1.log" | tail -1)
	[ -n "$line" ] || fail "no device counters at exit in $1.log"
	big=$(sed -n 's/.*drop rx too-large \([0-9]*\).*/\1/p' <<<"$line")
	sf=$(sed -n 's/.*rx super-frames \([0-9]*\).*/\1/p' <<<"$line")
	tso=$(sed -n 's/.*tx TSO super-segments \([0-9]*\).*/\1/p' <<<"$line")
	[ "$big" = 0 ] || fail "$1 dropped $big frames larger than its ring slots: $line"
	if [ "${TCP_OFFLOADS:-on}" = off ]; then
		[ "$sf" = 0 ] || fail "$1 received $sf super-frames although Linux's offloads are off"
	else
		[ "${sf:-0}" -gt 0 ] || fail "$1 received no super-frame from Linux (are PACKET_VNET_HDR and TSO working?)"
	fi
	[ "${tso:-0}" -gt 0 ] || fail "$1 sent no TSO super-segment"
	echo "ok: $1: $sf super-frames received whole, $tso TSO super-segments sent, none dropped as too large"
}

# ---- the lossy filter (lossy.bpf.c) ----

lossy_build() { # [PERMILLE]: $tmp/lossy.o, or $tmp/lossyPERMILLE.o when given
	need clang
	local inc
	inc="/usr/include/$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
	[ -f /usr/include/bpf/bpf_helpers.h ] || { echo "tcp: libbpf-dev is missing (scripts/setup.sh)" >&2; exit 77; }
	clang -O2 -g -target bpf -I"$inc" -DLOSS_PERMILLE="${1:-${TCP_LOSS_PERMILLE:-20}}" \
		-c "$here/lossy.bpf.c" -o "$tmp/lossy${1:-}.o" 2>"$tmp/clang.log" ||
		{ cat "$tmp/clang.log" >&2; fail "clang lossy.bpf.c"; }
}

lossy_attach() { # NS DEV DIRECTION(ingress|egress) [OBJECT]: attached, or put in the place of the one attached
	ip netns exec "$1" tc qdisc replace dev "$2" clsact || fail "tc qdisc clsact on $2"
	ip netns exec "$1" tc filter replace dev "$2" "$3" pref 1 handle 1 bpf da obj "${4:-$tmp/lossy.o}" sec tc ||
		fail "cannot attach ${4:-lossy.o} to $2 $3"
}

# lossy_count NS DEV DIRECTION: "SEEN DROPPED" from the filter's map (bpftool), or "- DROPPED" from the
# clsact qdisc's statistics, which add up both directions of DEV.
lossy_count() {
	local id map
	if command -v bpftool >/dev/null; then
		id=$(ip netns exec "$1" tc filter show dev "$2" "$3" | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -1)
		map=$(bpftool prog show id "$id" --json 2>/dev/null |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["map_ids"][0])' 2>/dev/null)
		[ -n "$map" ] || fail "no map for the lossy program on $2 $3 (prog id '$id')"
		bpftool map dump id "$map" --json |
			python3 -c 'import json, sys; v = {e["formatted"]["key"]: e["formatted"]["value"] for e in json.load(sys.stdin)}; print(v[0], v[1])'
	else
		echo "- $(ip netns exec "$1" tc -s qdisc show dev "$2" | sed -n '/clsact/,$ s/.*dropped \([0-9]*\),.*/\1/p' | head -1)"
	fi
}

# check_dropped NS DEV DIRECTION: the filter saw TCP packets and dropped some.
check_dropped() {
	local seen dropped
	read -r seen dropped < <(lossy_count "$@")
	[ "${dropped:-0}" -gt 0 ] 2>/dev/null || fail "the lossy filter on $2 $3 dropped nothing (seen $seen, dropped '$dropped')"
	echo "ok: the lossy filter on $2 $3 dropped $dropped of $seen TCP packets"
}

# Linux's TCP retransmissions in a namespace (/proc/net/snmp is the reader's namespace's).
retrans() {
	$1 awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (n[i] == "RetransSegs") print $i }' /proc/net/snmp
}

# ---- captures (tcp-options) ----

pcaps=()
cap_pid=

# capture_start: under catpowder each Demi process records its own frames (DEMI_PCAP, set by tdemi
# from $pcap_prefix); under catnap, which has no DEMI_PCAP, tshark records IF_A in NS_A.
capture_start() {
	if [ "$TCP_LIBOS" != catnap ]; then
		pcap_prefix="$tmp/demi"
		pcaps+=("$pcap_prefix-server.pcap" "$pcap_prefix-client.pcap")
	else
		pcaps+=("$tmp/if-a.pcap")
		$IN_A tshark -i "$IF_A" -f tcp -s 160 -w "$tmp/if-a.pcap" -q >"$tmp/tshark-capture.log" 2>&1 &
		cap_pid=$!
		pids+=("$cap_pid")
		for _ in $(seq 200); do
			grep -qs 'Capturing on' "$tmp/tshark-capture.log" && return 0
			kill -0 $cap_pid 2>/dev/null || break
			sleep 0.05
		done
		cat "$tmp/tshark-capture.log" >&2
		fail "tshark did not start capturing on $IF_A"
	fi
}

capture_stop() {
	[ -n "$cap_pid" ] || return 0
	sleep 0.2
	kill -INT "$cap_pid" 2>/dev/null
	wait "$cap_pid"
	cap_pid=
}

# pcount FILTER: sets PC to the number of frames matching FILTER, over every capture. A filter tshark
# refuses (a misspelt field) fails the case rather than counting 0.
pcount() {
	local f
	PC=0
	for f in "${pcaps[@]}"; do
		tshark -r "$f" -n -Y "$1" >"$tmp/pcount.out" 2>"$tmp/pcount.err" ||
			{ cat "$tmp/pcount.err" >&2; fail "tshark -Y '$1' on $f"; }
		PC=$((PC + $(wc -l <"$tmp/pcount.out")))
	done
}

# has_options WHO FILTER: every frame of FILTER (at least one) carries MSS, window scale, timestamps and SACK-permitted.
has_options() {
	local opts='tcp.options.mss_val && tcp.options.wscale.shift && tcp.options.timestamp.tsval && tcp.options.sack_perm'
	local all lacking
	pcount "$2"
	all=$PC
	pcount "($2) && !($opts)"
	lacking=$PC
	[ "$all" -ge 1 ] || fail "no $1 in the capture"
	[ "$lacking" -eq 0 ] || fail "$lacking of $all $1 lack MSS, window scale, timestamps or SACK-permitted"
	echo "ok: $1: $all, each with MSS, window scale, timestamps and SACK-permitted"
}

# ---- the cases ----

tcp_case() {
	local t0=$EPOCHREALTIME
	# The *-nooffload twins: the same case with TSO, GSO and GRO off on every veth (tcp_setup).
	case $1 in *-nooffload) TCP_OFFLOADS=off; set -- "${1%-nooffload}" ;; esac
	trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
	[ "$1" != tcp-wait-fair ] || TCP_OFFLOADS=default
	tcp_setup
	case $1 in
	tcp-linux-client)
		# Linux's TCP client against the Demi server: 100 MiB each way.
		local bytes=${TCP_BYTES:-100M}
		spawn demi-server tdemi DEMI_LOG=info timeout 200 "$xfer" server "$IP_A" $port --conns 1 --timeout 190
		listening demi-server
		run_fg linux-client $IN_B timeout 200 python3 "$peer" client "$IP_A" $port --send "$bytes" --recv --timeout 190
		finish demi-server
		grep '^conn 0 bytes' "$tmp/demi-server.log"
		same_digest linux-client demi-server
		check_offloads demi-server
		;;
	tcp-demi-client)
		# The Demi client against Linux's TCP server: 100 MiB each way.
		local bytes=${TCP_BYTES:-100M}
		spawn linux-server $IN_B timeout 200 python3 "$peer" server "$IP_B" $port --conns 1 --timeout 190
		listening linux-server
		run_fg demi-client tdemi DEMI_LOG=info timeout 200 "$xfer" client "$IP_B" $port --send "$bytes" --recv --timeout 190
		finish linux-server
		grep '^conn 0 bytes' "$tmp/linux-server.log"
		same_digest demi-client linux-server
		check_offloads demi-client
		;;
	tcp-conns)
		# 1000 concurrent connections of 4 KiB each way: Linux clients to the Demi server, then the Demi
		# client's 1000 connections, all driven from one thread, to a Linux server.
		xfer_both_ways 4K 1000 120
		;;
	tcp-wait-fair)
		# Wait fairness at 1,000 connections (issue 18): bench/wait_fair's echo server on Demi's TCP waiting with
		# demi_wait_any over its array (the accept, a pop per connection, the pushes in flight), 1,000 Linux
		# connections from one epoll client in NS_B, one 64-byte message in flight each, offloads at Linux's
		# defaults (tcp_case skips ethtool for this case). The server fails when a result is returned before one
		# that completed earlier, or when a token sat through more waits than the array has tokens (2,001);
		# the client fails unless every connection was answered and then closed by the server.
		local wf="$build/bench/wait_fair"
		[ -x "$wf" ] || fail "$wf is not built"
		spawn demi-server tdemi timeout 40 "$wf" --mode any --listen "$IP_A:$port" --conns 1000 --secs 2 \
			--max-age 2001
		listening demi-server
		run_fg linux-client $IN_B timeout 40 "$wf" --client "$IP_A:$port" --conns 1000 --secs 2
		grep '^wait_fair: client' "$tmp/linux-client.log"
		finish demi-server
		grep -E '^any ' "$tmp/demi-server.log"
		;;
	tcp-options)
		# Both handshakes of Demi (its SYN as client, its SYN-ACK as server) carry MSS, window scale,
		# timestamps and SACK-permitted, and so do Linux's; with 2% of the packets dropped each way by the
		# router (run3, as tcp-lossy), each side sends SACK blocks.
		need tshark
		lossy_build
		lossy_attach "$NS_R" "$IF_RA" egress
		lossy_attach "$NS_R" "$IF_RB" egress
		capture_start
		xfer_both_ways 4M 1 60
		capture_stop
		check_dropped "$NS_R" "$IF_RA" egress
		check_dropped "$NS_R" "$IF_RB" egress
		local syn='tcp.flags.syn == 1 && tcp.flags.ack == 0' synack='tcp.flags.syn == 1 && tcp.flags.ack == 1'
		echo "handshakes (src dst ack mss wscale sack_perm tsval):"
		for f in "${pcaps[@]}"; do
			tshark -r "$f" -n -Y 'tcp.flags.syn == 1' -T fields -e ip.src -e ip.dst -e tcp.flags.ack \
				-e tcp.options.mss_val -e tcp.options.wscale.shift -e tcp.options.sack_perm \
				-e tcp.options.timestamp.tsval 2>/dev/null | sed 's/^/  /'
		done
		has_options "Demi SYN" "ip.src == $IP_A && $syn"
		has_options "Demi SYN-ACK" "ip.src == $IP_A && $synack"
		has_options "Linux SYN" "ip.src == $IP_B && $syn"
		has_options "Linux SYN-ACK" "ip.src == $IP_B && $synack"
		local n
		pcount "ip.src == $IP_A && tcp.options.sack_le"
		n=$PC
		[ "$n" -ge 1 ] || fail "Demi sent no SACK block although Linux's segments were dropped"
		echo "ok: Demi sent $n segments with SACK blocks"
		pcount "ip.src == $IP_B && tcp.options.sack_le"
		n=$PC
		[ "$n" -ge 1 ] || fail "Linux sent no SACK block although Demi's segments were dropped"
		echo "ok: Linux sent $n segments with SACK blocks"
		if [ "$TCP_LIBOS" = catpowder ]; then
			# Demi's own record: every frame well-formed, every checksum right.
			tshark_check "$tmp/demi-server.pcap" 100
			tshark_check "$tmp/demi-client.pcap" 100
		fi
		;;
	tcp-exit-drain)
		# Issue 12's program, TCP_EXIT_RUNS (20) times in a row: a PDPIX sender pushes 16 MiB in 64 KiB pushes,
		# waits for every push, closes and returns from main (no demi_fini): exit() must tear its runtime down
		# and drain TCP (rt.c's exit hook), so the slow Linux receiver gets every byte (SHA-256) and EOF, each run.
		local bytes=$((16 << 20)) runs=${TCP_EXIT_RUNS:-20} i
		spawn linux-sink $IN_B timeout 300 python3 -c '
import hashlib, socket, sys, time
n_want, runs = int(sys.argv[3]), int(sys.argv[4])
period = bytes((k * 7 + k // 251) & 0xff for k in range(251 * 256))  # the pattern repeats every 64,256 bytes
whole = (period * (n_want // len(period) + 1))[:n_want]
want = hashlib.sha256(whole).hexdigest()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); print("listening", flush=True)
ok = 0
for r in range(runs):
    c, _ = s.accept(); time.sleep(0.1)  # let unacknowledged data pile up at the sender
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b: break
        h.update(b); n += len(b)
    c.close()
    good = n == n_want and h.hexdigest() == want
    ok += good
    print("run", r + 1, "received", n, "bytes then EOF, sha256", "ok" if good else "WRONG", flush=True)
print(ok, "of", runs, "runs intact", flush=True)
sys.exit(0 if ok == runs else 1)
' "$IP_B" $port $bytes "$runs"
		listening linux-sink
		for i in $(seq "$runs"); do
			run_fg demi-sender tdemi DEMI_LOG=info timeout 60 "$build/tests/tools/tcp_send_exit" "$IP_B" $port $bytes
			[ "$TCP_LIBOS" != catpowder ] || grep -q "inet tcp: rx" "$tmp/demi-sender.log" ||
				fail "no counters at process exit (run $i)"
		done
		finish linux-sink
		tail -3 "$tmp/linux-sink.log"
		echo "ok: every byte and EOF after a return from main, $runs runs of $((bytes >> 20)) MiB"
		;;
	tcp-lossy)
		# NS_A - NS_R - NS_B; the router drops 1%, then 5% (TCP_LOSS_PERMILLES) of the TCP packets it forwards,
		# each way, data and ACKs; TCP_LOSSY_BYTES (8 MiB) each way must arrive intact at each rate, with Demi
		# as server and as client (Demi sending: RACK-TLP, doc/tcp.md). Demi has no gateway route: the router
		# answers ARP for NS_B's subnet (proxy ARP, scripts/netns.sh run3).
		local before after p
		for p in ${TCP_LOSS_PERMILLES:-10 50}; do
			lossy_build "$p"
			lossy_attach "$NS_R" "$IF_RA" egress "$tmp/lossy$p.o" # towards Demi
			lossy_attach "$NS_R" "$IF_RB" egress "$tmp/lossy$p.o" # towards Linux
			before=$(retrans "$IN_B")
			echo "tcp-lossy: $p per mille lost each way"
			xfer_both_ways "${TCP_LOSSY_BYTES:-8M}" 1 120
			check_dropped "$NS_R" "$IF_RA" egress
			check_dropped "$NS_R" "$IF_RB" egress
			after=$(retrans "$IN_B")
			[ "$after" -gt "$before" ] || fail "Linux retransmitted nothing: the loss did not reach TCP"
			echo "ok: Linux retransmitted $((after - before)) segments at $p per mille"
		done
		;;
	*)
		echo "run.sh: unknown case $1" >&2
		exit 2
		;;
	esac
	echo "tcp: $1 on $TCP_LIBOS, offloads ${TCP_OFFLOADS:-on}, took $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}
