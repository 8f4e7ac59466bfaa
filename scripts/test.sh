#!/usr/bin/env bash
# Installs what is missing, builds Demi, and runs every test suite: the normal build,
# the Debian packages (suite deb: tests/abi/deb_test.sh), then the unit, conformance, catmem, inet and
# storage and apps suites again under ASan + UBSan + LeakSanitizer. Ends with one line
# "N passed, N failed[, N skipped]" counted over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || exit 1
jobs=$(nproc)

build() { # dir, meson options...
	local dir=$1; shift
	[ -d "$dir" ] || meson setup "$dir" "$@" >/dev/null || return 1
	ninja -C "$dir" >/dev/null || { ninja -C "$dir"; return 1; }
}

status=0
build build || exit 1
meson test -C build --num-processes "$jobs" --print-errorlogs --no-suite deb || status=1

echo "== Debian packages: dpkg-buildpackage from a copy of the tree, an outside program built and run against them"
meson test -C build --suite deb --logbase deblog --print-errorlogs --verbose || status=1

echo "== clang: the whole tree must also build warning-free"
if command -v clang >/dev/null; then
	CC=clang build build-clang || status=1
fi

echo "== sanitizers (ASan + UBSan, LeakSanitizer): unit, conformance, catmem, inet, storage and apps suites"
build build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
meson test -C build-asan --suite unit --suite conformance --suite catmem --suite inet --suite storage --suite apps --num-processes "$jobs" --print-errorlogs || status=1
# Criterion reports a test as passed even when a sanitizer spoke in its process: read the logs.
if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" build-asan/meson-logs/testlog.txt; then
	echo "sanitizer reports found (above)"
	status=1
fi

python3 scripts/test_summary.py build/meson-logs/testlog.json build/meson-logs/deblog.json build-asan/meson-logs/testlog.json || status=1
exit $status
