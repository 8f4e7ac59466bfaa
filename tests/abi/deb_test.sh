#!/usr/bin/env bash
# The Debian packages (debian/, README "Installing"): builds libdemi0, libdemi-dev and demi-tools with
# `dpkg-buildpackage -us -uc -b` from a copy of the tree in a temporary directory (dpkg-buildpackage writes
# to ../ and the checkout stays clean), checks what each package holds, unpacks them with `dpkg -x` into a
# throwaway root (nothing is installed on the machine), builds outside_program.c against that root with
# pkg-config (PKG_CONFIG_SYSROOT_DIR) and runs it, then runs the packaged TCP echo over loopback.
# DEB_OUT=DIR keeps a copy of the packages. Exit 77 (skipped) where dpkg-buildpackage, dh or the build dependencies are missing (scripts/setup.sh
# installs them).
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
here=$src/tests/abi
for tool in dpkg-buildpackage dh dpkg-checkbuilddeps fakeroot; do
	command -v "$tool" >/dev/null || { echo "deb: $tool missing (scripts/setup.sh installs it): skipped"; exit 77; }
done
(cd "$src" && dpkg-checkbuilddeps) || { echo "deb: build dependencies missing: skipped"; exit 77; }

tmp=$(mktemp -d)
server=
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
export LIBOS=catnap
unset CONFIG_PATH

# The tree as it is (committed or not, less what git ignores: no build directories).
start=$(date +%s)
mkdir "$tmp/demi"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$src/$f" ] && printf '%s\0' "$f"; done |
		tar -C "$src" --null -T - -cf - | tar -C "$tmp/demi" -xf -
else
	tar -C "$src" --exclude='./build*' -cf - . | tar -C "$tmp/demi" -xf -
fi
(cd "$tmp/demi" && env -u MALLOC_PERTURB_ DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1) || {
	tail -n 60 "$tmp/build.log"; echo "deb: dpkg-buildpackage failed"; exit 1
}
echo "deb: dpkg-buildpackage took $(($(date +%s) - start)) s"
[ -z "${DEB_OUT:-}" ] || cp "$tmp"/*.deb "$DEB_OUT"/   # DEB_OUT=DIR keeps the packages (for lintian, say)

triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb() { ls "$tmp"/"$1"_*_"$arch".deb; }
list() { dpkg -c "$(deb "$1")" | awk '{print $6}'; }
has() { # package path-regex
	list "$1" >"$tmp/list"
	grep -qE "^\./$2\$" "$tmp/list" || { echo "deb: $1 lacks $2"; cat "$tmp/list"; exit 1; }
}
hasnt() {
	list "$1" >"$tmp/list"
	! grep -qE "^\./$2\$" "$tmp/list" || { echo "deb: $1 must not hold $2"; exit 1; }
}
lib=usr/lib/$triplet
has libdemi0 "$lib/libdemi\.so\.0\.[0-9.]+"
has libdemi0 "$lib/libdemi\.so\.0"
has libdemi0 "$lib/libdemikernel\.so"
hasnt libdemi0 "$lib/libdemi\.so"
hasnt libdemi0 "usr/include/.*"
has libdemi-dev "$lib/libdemi\.so"
has libdemi-dev "$lib/pkgconfig/demi\.pc"
for h in libos types wait sga cc memq pipe storage netstats; do has libdemi-dev "usr/include/demi/$h\.h"; done
has demi-tools "usr/libexec/demi/tcp_echo"
has demi-tools "usr/bin/demi-tcp-echo"
has demi-tools "usr/bin/demi-udp-echo"
has demi-tools "usr/bin/demi-kv" # an app: its name already has the prefix
grep -q 'libdemi0' <<<"$(dpkg-deb -f "$(deb demi-tools)" Depends)" || { echo "deb: demi-tools does not depend on libdemi0"; exit 1; }
grep -q 'libdemi0 (= ' <<<"$(dpkg-deb -f "$(deb libdemi-dev)" Depends)" || { echo "deb: libdemi-dev does not depend on libdemi0 (= version)"; exit 1; }

# The runtime package alone: libdemikernel.so resolves inside it (programs linked against Demikernel).
dpkg -x "$(deb libdemi0)" "$tmp/rt"
[ -e "$tmp/rt/$lib/libdemikernel.so" ] || { echo "deb: libdemikernel.so dangles without libdemi-dev"; exit 1; }

# All three into a throwaway root.
root=$tmp/root
for p in libdemi0 libdemi-dev demi-tools; do dpkg -x "$(deb "$p")" "$root"; done
grep -qx 'prefix=/usr' "$root/$lib/pkgconfig/demi.pc" || { echo "deb: demi.pc prefix is not /usr"; grep prefix= "$root/$lib/pkgconfig/demi.pc"; exit 1; }
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_PATH=$root/$lib/pkgconfig
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
flags=$(pkg-config --cflags --libs demi)
case "$flags" in *"-I$root/usr/include"*) ;; *) echo "deb: pkg-config flags do not point into the root: $flags"; exit 1;; esac
# shellcheck disable=SC2086 # the flags are words
cc -std=c99 -Wall -Wextra -Werror "$here/outside_program.c" -o "$tmp/outside" $flags
export LD_LIBRARY_PATH=$root/$lib
grep -q "libdemi.so.0 => $root/" <<<"$(ldd "$tmp/outside")" || { echo "deb: the outside program does not load the packaged library"; ldd "$tmp/outside"; exit 1; }
grep -qx "outside: ok" <<<"$("$tmp/outside")" || { echo "deb: outside program failed"; exit 1; }

# The packaged example, through its /usr/bin link: 200 round trips over loopback.
port=$((20000 + RANDOM % 20000))
"$root/usr/bin/demi-tcp-echo" server "127.0.0.1:$port" >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q ":$port " <<<"$(ss -ltn 2>/dev/null)" && break; sleep 0.1; done
timeout 30 "$root/usr/bin/demi-tcp-echo" client "127.0.0.1:$port" 200 64 >"$tmp/client.log" 2>&1 || {
	cat "$tmp/client.log" "$tmp/server.log"; echo "deb: demi-tcp-echo failed"; exit 1
}
echo "deb: ok ($(cd "$tmp" && ls ./*.deb | tr '\n' ' ')in $(($(date +%s) - start)) s)"
