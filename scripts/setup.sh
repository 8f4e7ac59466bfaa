#!/usr/bin/env bash
# Installs every Debian package Demi needs to build, test and benchmark. Idempotent; run as root.
set -euo pipefail

PACKAGES=(
	build-essential meson ninja-build pkg-config
	libyaml-dev         # configuration files
	libcriterion-dev    # unit and conformance tests
	iproute2            # network namespaces for network tests
	procps              # ps/pgrep in test scripts
	python3             # test summary
	libpcap-dev         # packet capture files (DEMI_PCAP)
	tshark              # reads captures in the catpowder tests
	iputils-ping netcat-openbsd # Linux peers in the catpowder tests and demos
	liburing-dev fio    # storage queues (io_uring) and their fio baseline (bench/storage_run)
	clang               # second compiler in CI; libFuzzer for tests/fuzz
	libbpf-dev bpftool  # the TCP tests' lossy link: a tc BPF filter (clang -target bpf) and its drop counters
	ethtool             # the TCP tests' -nooffload twins turn veth offloads off
	hping3              # spoofed SYN floods and a LAND packet (tests/catpowder neigh-*, bench/syn_flood_run)
	valgrind            # callgrind instruction counts (bench/inet_cost_run)
	dpdk-dev libdpdk-dev # the catnip libOS (DPDK 22.11); Demi builds without it, catnip is then left out
	debhelper dpkg-dev fakeroot # the Debian packages (debian/, dpkg-buildpackage; tests/abi/deb_test.sh)
	redis-server redis-tools # apps/kv: the real clients (redis-cli, redis-benchmark) and the reference server; bench/resp_wait_any_run
	gnuplot-nox         # demi-kvbench --plot (apps/kvbench); without it the plot is skipped with one line
)

# catnip (DPDK) prefers 2 MiB hugepages: reserve a modest number where the machine allows it and mount
# hugetlbfs where none is. Never fatal: without them catnip starts the EAL with --no-huge itself and
# says so in its log (doc/catnip.md). HUGEPAGES=0 skips this step.
reserve_hugepages() {
	local want=${HUGEPAGES:-256} nr=/proc/sys/vm/nr_hugepages have
	[ "$want" -gt 0 ] && [ -w "$nr" ] || return 0
	have=$(cat "$nr" 2>/dev/null || echo 0)
	if [ "$have" -lt "$want" ]; then
		echo "$want" >"$nr" 2>/dev/null || true
		have=$(cat "$nr" 2>/dev/null || echo 0)
		if [ "$have" -lt "$want" ]; then
			echo "setup: only $have of $want 2 MiB hugepages could be reserved (catnip runs with --no-huge when too few are free)" >&2
		fi
	fi
	if [ "$have" -gt 0 ] && ! grep -q " hugetlbfs " /proc/mounts; then
		mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null ||
			echo "setup: cannot mount hugetlbfs on /dev/hugepages (catnip runs with --no-huge)" >&2
	fi
}
[ "$(id -u)" -ne 0 ] || reserve_hugepages

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture: no (and no question).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
