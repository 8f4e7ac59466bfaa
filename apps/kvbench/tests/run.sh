#!/usr/bin/env bash
# demi-kvbench against Debian's redis-server, which this script starts on a port of its own (--save ''
# --appendonly no) and kills after; never the system service.
#   apps/kvbench/tests/run.sh CASE BUILD_DIR
# Cases:
#   loopback   catnap over loopback: the request count is exact (the server's own command count agrees),
#              zero errors, the CSV is well formed and sums to the count, the RESULT line parses
#   open-loop  --rate: the run sends at the target rate (within 20%) for the duration asked
#   refused    nothing listens: a clear 'cannot connect' line and exit status 1, within the timeout
#   catpowder  demi-kvbench on catpowder in one namespace, redis-server in a peer namespace (scripts/netns.sh)
# Exit 77 (skip) without redis-server, or without root and `ip netns` for catpowder.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root="$here/../../.."
[ $# -eq 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
case=$1 build=$(cd "$2" && pwd)
kvbench="$build/apps/kvbench/demi-kvbench"
command -v redis-server >/dev/null || { echo "redis-server is missing (scripts/setup.sh installs it)"; exit 77; }
command -v redis-cli >/dev/null || { echo "redis-cli is missing (scripts/setup.sh installs it)"; exit 77; }
[ -x "$kvbench" ] || { echo "FAIL: $kvbench is not built"; exit 1; }

if [ "$case" = catpowder ] && [ "${NS_A:-}" = "" ]; then
	"$root/scripts/netns.sh" check || exit 77
	exec "$root/scripts/netns.sh" run2 -- "$0" "$case" "$build"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/demi-kvbench-$case.XXXXXX")
redis=
cleanup() {
	if [ -n "$redis" ]; then
		kill "$redis" 2>/dev/null
		wait "$redis" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL ($case): $*" >&2
	for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
	exit 1
}

# A port no other run of this script uses at the same time (the pid is unique while we live), below Linux's
# ephemeral range (32768-60999), where another test's outgoing connection could hold it.
port=$((10000 + $$ % 22000))

# start_redis [PREFIX...] ADDR: redis-server on ADDR:$port, waited for until it answers PING.
start_redis() {
	local addr=${*: -1}
	"${@:1:$#-1}" redis-server --bind "$addr" --port "$port" --save '' --appendonly no --daemonize no \
		--protected-mode no --logfile "$tmp/redis.log" --dir "$tmp" &
	redis=$!
	for _ in $(seq 100); do
		[ "$("${@:1:$#-1}" redis-cli -h "$addr" -p "$port" ping 2>/dev/null)" = PONG ] && return 0
		kill -0 "$redis" 2>/dev/null || break
		sleep 0.05
	done
	fail "redis-server did not start on $addr:$port"
}

# field NAME: a field of the RESULT line in $tmp/kvbench.out.
field() { sed -n 's/^RESULT .*\b'"$1"'=\([^ ]*\).*/\1/p' "$tmp/kvbench.out"; }

# commands PREFIX... ADDR: the server's count of processed commands.
commands() {
	local addr=${*: -1}
	"${@:1:$#-1}" redis-cli -h "$addr" -p "$port" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}

# check_run N: the run completed N requests without an error, and the server saw exactly N commands more.
check_count() {
	local want=$1 before=$2 after=$3
	[ "$(field requests)" = "$want" ] || fail "RESULT says requests=$(field requests), want $want"
	[ "$(field errors)" = 0 ] || fail "RESULT says errors=$(field errors)"
	# The server counts each command, and the INFO call that reads the count.
	[ $((after - before - 1)) -eq "$want" ] ||
		fail "redis-server processed $((after - before - 1)) commands, kvbench says it sent $want"
	echo "ok: $want requests, 0 errors, and redis-server processed exactly $want commands"
}

case $case in
loopback)
	start_redis 127.0.0.1
	n=20000
	before=$(commands 127.0.0.1)
	LIBOS=catnap timeout 20 "$kvbench" -p "$port" -n "$n" -c 8 -P 16 --ratio 1:1 -r 500 -d 100 -q \
		--csv "$tmp/lat.csv" --plot "$tmp/lat.png" >"$tmp/kvbench.out" 2>"$tmp/kvbench.log" ||
		fail "demi-kvbench exited $?"
	after=$(commands 127.0.0.1)
	check_count "$n" "$before" "$after"
	gets=$(field get) sets=$(field set)
	[ $((gets + sets)) -eq "$n" ] && [ "$gets" -gt 0 ] && [ "$sets" -gt 0 ] ||
		fail "get=$gets set=$sets do not add up to $n, or one is missing"
	# The CSV: its header, then op,low,high,count,cumulative rows; per op the counts sum to the op's total,
	# the buckets rise and do not overlap, and the cumulative fraction ends at 1.
	awk -F, -v all="$n" -v get="$gets" -v set="$sets" '
		NR == 1 { if ($0 != "op,low_us,high_us,count,cumulative") { print "bad header: " $0; bad = 1 }; next }
		NF != 5 || $4 !~ /^[0-9]+$/ || $4 == 0 || $2 + 0 >= $3 + 0 { print "bad row " NR ": " $0; bad = 1; next }
		{ if (($1 in hi) && $2 + 0 < hi[$1]) { print "row " NR " overlaps the previous bucket"; bad = 1 }
		  hi[$1] = $3 + 0; sum[$1] += $4; last[$1] = $5 }
		END { want["all"] = all; want["get"] = get; want["set"] = set
		      for (k in want) { if (sum[k] != want[k]) { print k ": counts sum to " sum[k] ", want " want[k]; bad = 1 }
		                        if (last[k] != "1.000000") { print k ": cumulative ends at " last[k]; bad = 1 } }
		      exit bad }' "$tmp/lat.csv" >"$tmp/csv-check.log" || fail "the CSV is malformed: $(head -3 "$tmp/csv-check.log")"
	echo "ok: the CSV has $(($(wc -l <"$tmp/lat.csv") - 1)) buckets and sums to the counts of each op"
	if command -v gnuplot >/dev/null; then
		[ "$(head -c 8 "$tmp/lat.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
			fail "--plot wrote no PNG: $(grep plot "$tmp/kvbench.out")"
		echo "ok: --plot drew $(stat -c %s "$tmp/lat.png") bytes of PNG with gnuplot"
	else
		grep -q "gnuplot is not installed: no plot" "$tmp/kvbench.out" || fail "no gnuplot, and no line that says so"
		echo "ok: no gnuplot here, and the run says so"
	fi
	for f in p50_us p99_us p999_us max_us get_p50_us set_p50_us; do
		v=$(field $f)
		awk -v v="$v" 'BEGIN { exit !(v > 0) }' || fail "RESULT $f='$v' is not a positive number"
	done
	awk -v a="$(field p50_us)" -v b="$(field p99_us)" -v c="$(field p999_us)" -v d="$(field max_us)" \
		'BEGIN { exit !(a <= b && b <= c && c <= d) }' || fail "percentiles out of order: $(grep ^RESULT "$tmp/kvbench.out")"
	# The size check fires: the run SETs its one key (100 B) and GETs it, while another client keeps setting
	# it to 5 B (a second writer is exactly what the check is there to notice).
	(while :; do redis-cli -p "$port" set key:000000000000 abcde >/dev/null; sleep 0.02; done) &
	writer=$!
	LIBOS=catnap timeout 20 "$kvbench" -p "$port" -t 1 -c 1 -r 1 -d 100 --prefill --ratio 0:1 -q \
		>"$tmp/kvbench.out" 2>"$tmp/size.log"
	rc=$?
	kill "$writer"
	wait "$writer" 2>/dev/null
	[ "$rc" = 1 ] || fail "GETs answered 5 B after a 100 B SET: exit status $rc, want 1"
	grep -q "after its SET: 5 bytes, want 100" "$tmp/size.log" || fail "the size error is not named: $(cat "$tmp/size.log")"
	echo "ok: a GET of another size than the run's SET fails the run: $(grep -m1 'after its SET' "$tmp/size.log")"
	# A server error reply (WRONGTYPE) counts as an error and is named.
	redis-cli -p "$port" flushall >/dev/null
	redis-cli -p "$port" rpush key:000000000000 x >/dev/null
	LIBOS=catnap timeout 20 "$kvbench" -p "$port" -n 100 -c 1 -r 1 --ratio 0:1 -q \
		>"$tmp/kvbench.out" 2>"$tmp/bad.log" && fail "a GET answered WRONGTYPE passed"
	grep -q "WRONGTYPE" "$tmp/bad.log" || fail "the error is not named: $(cat "$tmp/bad.log")"
	echo "ok: a server error (WRONGTYPE) fails the run and is named: $(grep -m1 WRONGTYPE "$tmp/bad.log")"
	;;
open-loop)
	start_redis 127.0.0.1
	rate=2000 secs=2
	LIBOS=catnap timeout 20 "$kvbench" -p "$port" --rate "$rate" -t "$secs" -c 4 -q \
		>"$tmp/kvbench.out" 2>"$tmp/kvbench.log" || fail "demi-kvbench exited $?"
	[ "$(field errors)" = 0 ] || fail "errors=$(field errors)"
	[ "$(field mode)" = open ] || fail "mode=$(field mode), want open"
	n=$(field requests) s=$(field seconds)
	# Every request due within the duration is sent: rate x duration of them (one more at most), over a run
	# that lasts the duration (the last replies add little).
	[ "$n" -ge $((rate * secs)) ] && [ "$n" -le $((rate * secs + 1)) ] ||
		fail "$n requests, want $((rate * secs)) for $rate/s over $secs s"
	awk -v s="$s" -v d="$secs" 'BEGIN { exit !(s >= d && s <= d * 1.2) }' ||
		fail "the run took $s s, want $secs s (within 20%)"
	echo "ok: open loop at $rate/s for $secs s: $n requests in $s s ($(field rps)/s), 0 errors"
	;;
refused)
	# A port nothing listens on: ours, before any server takes it.
	start=$(date +%s%N)
	LIBOS=catnap timeout 20 "$kvbench" -p "$port" -n 10 --timeout 5 >"$tmp/kvbench.out" 2>"$tmp/kvbench.log"
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$rc" = 1 ] || fail "exit status $rc, want 1"
	grep -q "cannot connect to 127.0.0.1:$port: Connection refused" "$tmp/kvbench.log" ||
		fail "no clear error: $(cat "$tmp/kvbench.log")"
	[ "$ms" -lt 4000 ] || fail "took $ms ms to report a refused connection"
	grep -q ^RESULT "$tmp/kvbench.out" && fail "a RESULT line for a run that did not happen"
	echo "ok: connection refused: exit 1 in $ms ms with: $(cat "$tmp/kvbench.log")"
	;;
catpowder)
	start_redis $IN_B "$IP_B"
	n=5000
	before=$(commands $IN_B "$IP_B")
	$IN_A env LIBOS=catpowder LOCAL_IPV4_ADDR="$IP_A" LINUX_INTERFACE_NAME="$IF_A" \
		timeout 30 "$kvbench" -h "$IP_B" -p "$port" -n "$n" -c 4 -P 8 -q \
		>"$tmp/kvbench.out" 2>"$tmp/kvbench.log" || fail "demi-kvbench on catpowder exited $?"
	after=$(commands $IN_B "$IP_B")
	[ "$(field libos)" = catpowder ] || fail "libos=$(field libos)"
	check_count "$n" "$before" "$after"
	echo "ok: catpowder in $NS_A -> redis-server at $IP_B in $NS_B: $(field rps) requests/s"
	;;
*)
	echo "unknown case $case" >&2
	exit 2
	;;
esac
