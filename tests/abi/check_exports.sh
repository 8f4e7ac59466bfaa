#!/usr/bin/env bash
# Checks the installed library: only demi_* is exported, libdemikernel.so and the
# pkg-config file are installed, and a program builds against the installed copy.
# Then the install as a user meets it (README, "Installing"): a program from outside the tree
# (outside_program.c, only <demi/*.h>) built with `pkg-config --cflags --libs demi` and run
#   1. against a DESTDIR staging tree, as installed (demi.pc is relocatable), with an rpath;
#   2. against the same tree moved elsewhere (a --prefix=/elsewhere install), with an rpath;
#   3. as root with unshare(1): a real `meson install` to the build's prefix (/usr/local) inside a private
#      mount namespace (a tmpfs over the prefix, an overlay over /etc), the documented `ldconfig` step,
#      plain `pkg-config` and no rpath; skipped (said so) elsewhere.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LIBOS=catnap
unset CONFIG_PATH

lib=$(ls "$build"/src/libdemi.so.*.*.* | head -n1)
bad=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | grep -v '^demi_' || true)
if [ -n "$bad" ]; then
	echo "exported symbols outside demi_*:"; echo "$bad"; exit 1
fi
for sym in demi_init demi_socket demi_bind demi_listen demi_accept demi_connect demi_close demi_push \
	demi_pushto demi_pop demi_wait demi_wait_any demi_wait_next_n demi_sgaalloc demi_sgafree \
	demi_setsockopt demi_getsockopt demi_getpeername demi_getsockname demi_create_pipe demi_open_pipe demi_queue \
	demi_pipe_sgaalloc demi_open_file demi_storage_seek demi_storage_set_durability demi_storage_sgaalloc \
	demi_storage_stat demi_netstats demi_fini demi_shutdown demi_close_flush demi_qtoken_set_ud demi_wait_next_n_ud; do
	grep -qw "$sym" <<<"$(nm -D --defined-only "$lib")" || { echo "missing export: $sym"; exit 1; }
done

meson install -C "$build" --destdir "$tmp" --no-rebuild --quiet >/dev/null
root=$(find "$tmp" -name libdemi.so -printf '%h\n' | head -n1)
[ -e "$root/libdemikernel.so" ] || { echo "libdemikernel.so not installed"; exit 1; }
pc=$(find "$tmp" -name demi.pc | head -n1)
[ -n "$pc" ] || { echo "demi.pc not installed"; exit 1; }
inc=$(find "$tmp" -path '*/include/demi' -type d | head -n1)
for h in libos.h types.h wait.h sga.h cc.h memq.h pipe.h storage.h netstats.h fini.h shutdown.h userdata.h; do
	[ -f "$inc/$h" ] || { echo "header not installed: demi/$h"; exit 1; }
done
cc -std=c99 -Wall -Wextra -Werror -I"$(dirname "$inc")" "$(dirname "$0")/demikernel_program.c" \
	-L"$root" -ldemikernel -o "$tmp/prog"
LD_LIBRARY_PATH="$root" "$tmp/prog"
echo "exports: ok ($(nm -D --defined-only "$lib" | grep -c ' demi_') demi_* symbols)"

# shellcheck disable=SC2016 # the literal ${pcfiledir}
case "$(sed -n 's/^prefix=//p' "$pc")" in
'${pcfiledir}/'*) ;;
*) echo "demi.pc is not relocatable: $(grep '^prefix=' "$pc") (configure with -Dpkgconfig.relocatable=true, meson.build's default)"
	exit 1;;
esac
prefix=$(dirname "$(dirname "$inc")")   # DESTDIR + the build's prefix
unset LD_LIBRARY_PATH                    # meson test points it at the build tree: the installed copy must be found alone
pcdir=$(dirname "$pc")

# 1. DESTDIR staging: the flags point into the staging tree, not at the prefix it was built for.
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs demi)
libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir demi)
[ "$(realpath "$libdir")" = "$(realpath "$root")" ] || { echo "pkg-config libdir $libdir is not the installed $root"; exit 1; }
case "$flags" in *"-I$prefix/"*) ;; *) echo "pkg-config --cflags does not point into the staging tree: $flags"; exit 1;; esac
# shellcheck disable=SC2086 # the flags are words
cc -std=c99 -Wall -Wextra -Werror "$here/outside_program.c" -o "$tmp/outside1" \
	$flags -Wl,-rpath,"$libdir"
grep -q 'NEEDED.*\[libdemi\.so\.0\]' <<<"$(readelf -d "$tmp/outside1")" || { echo "outside program does not need libdemi.so.0"; exit 1; }
grep -q "libdemi.so.0 => $root/" <<<"$(ldd "$tmp/outside1")" || { echo "outside program does not load the installed library"; ldd "$tmp/outside1"; exit 1; }
grep -qx "outside: ok" <<<"$("$tmp/outside1")" || { echo "outside program (DESTDIR staging) failed"; exit 1; }

# 2. The same tree moved: a relocatable .pc keeps working at any prefix.
mkdir -p "$tmp/moved"
mv "$prefix" "$tmp/moved/demi"
pcdir=${pcdir/#$prefix/$tmp\/moved\/demi}
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs demi)
libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir demi)
[ -e "$libdir/libdemi.so.0" ] || { echo "pkg-config libdir after a move is wrong: $libdir"; exit 1; }
# shellcheck disable=SC2086 # the flags are words
cc -std=c99 -Wall -Wextra -Werror "$here/outside_program.c" -o "$tmp/outside2" $flags -Wl,-rpath,"$libdir"
grep -qx "outside: ok" <<<"$("$tmp/outside2")" || { echo "outside program (moved prefix) failed"; exit 1; }
for ex in tcp_echo udp_echo; do # installed with an rpath to the installed library (prefix is not /usr)
	f=$(find "$tmp/moved/demi" -path "*/demi/$ex" -type f | head -n1)
	[ -x "$f" ] || { echo "example $ex not installed"; exit 1; }
	grep -qE "(RPATH|RUNPATH).*\[/" <<<"$(readelf -d "$f")" || { echo "example $ex has no rpath to the installed library"; exit 1; }
done
echo "install: ok (pkg-config, DESTDIR staging and a moved prefix)"

# 3. A real install to the build's prefix, in a private mount namespace, with the ldconfig step.
realprefix=$(meson introspect --buildoptions "$build" | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || [ "$realprefix" != /usr/local ]; then
	echo "install: real $realprefix install skipped (needs root, unshare and prefix /usr/local)"
	exit 0
fi
mkdir -p "$tmp/ns"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m bash -euo pipefail -c '
	tmp=$1 build=$2 src=$3
	mount --make-rprivate /
	mount -t tmpfs none "$tmp/ns"
	mkdir "$tmp/ns/up" "$tmp/ns/work"
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$tmp/ns/up,workdir=$tmp/ns/work" /etc
	mount -t tmpfs none /usr/local
	meson install -C "$build" --no-rebuild --quiet >/dev/null
	ldconfig
	ldconfig -p >"$tmp/ns/cache.txt"
	grep -q "libdemi.so.0 .*=> /usr/local/" "$tmp/ns/cache.txt" || { echo "ldconfig did not pick up /usr/local"; exit 1; }
	cc -std=c99 -Wall -Wextra -Werror "$src" -o "$tmp/ns/outside3" $(pkg-config --cflags --libs demi)
	grep -qE "RPATH|RUNPATH" <<<"$(readelf -d "$tmp/ns/outside3")" && { echo "unexpected rpath"; exit 1; }
	grep -qx "outside: ok" <<<"$("$tmp/ns/outside3")" || { echo "outside program (/usr/local, ldconfig) failed"; exit 1; }
	for ex in tcp_echo udp_echo; do
		grep -q "libdemi.so.0 => /usr/local/" <<<"$(LD_LIBRARY_PATH= ldd /usr/local/libexec/demi/$ex)" || { echo "$ex does not find libdemi"; exit 1; }
	done
' ns "$tmp" "$build" "$here/outside_program.c"
echo "install: ok (meson install to /usr/local, ldconfig, plain pkg-config)"
