#!/usr/bin/env bash
# Checks the installed library: only demi_* is exported, libdemikernel.so and the
# pkg-config file are installed, and a program builds against the installed copy.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lib=$(ls "$build"/src/libdemi.so.*.*.* | head -n1)
bad=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | grep -v '^demi_' || true)
if [ -n "$bad" ]; then
	echo "exported symbols outside demi_*:"; echo "$bad"; exit 1
fi
for sym in demi_init demi_socket demi_bind demi_listen demi_accept demi_connect demi_close demi_push \
	demi_pushto demi_pop demi_wait demi_wait_any demi_wait_next_n demi_sgaalloc demi_sgafree \
	demi_setsockopt demi_getsockopt demi_getpeername demi_getsockname demi_create_pipe demi_open_pipe demi_queue \
	demi_pipe_sgaalloc demi_open_file demi_storage_seek demi_storage_set_durability demi_storage_sgaalloc \
	demi_storage_stat demi_netstats demi_fini; do
	nm -D --defined-only "$lib" | grep -qw "$sym" || { echo "missing export: $sym"; exit 1; }
done

meson install -C "$build" --destdir "$tmp" --no-rebuild --quiet >/dev/null
root=$(find "$tmp" -name libdemi.so -printf '%h\n' | head -n1)
[ -e "$root/libdemikernel.so" ] || { echo "libdemikernel.so not installed"; exit 1; }
pc=$(find "$tmp" -name demi.pc | head -n1)
[ -n "$pc" ] || { echo "demi.pc not installed"; exit 1; }
inc=$(find "$tmp" -path '*/include/demi' -type d | head -n1)
for h in libos.h types.h wait.h sga.h cc.h memq.h pipe.h storage.h netstats.h fini.h; do
	[ -f "$inc/$h" ] || { echo "header not installed: demi/$h"; exit 1; }
done
cc -std=c99 -Wall -Wextra -Werror -I"$(dirname "$inc")" "$(dirname "$0")/demikernel_program.c" \
	-L"$root" -ldemikernel -o "$tmp/prog"
LD_LIBRARY_PATH="$root" "$tmp/prog"
echo "exports: ok ($(nm -D --defined-only "$lib" | grep -c ' demi_') demi_* symbols)"
