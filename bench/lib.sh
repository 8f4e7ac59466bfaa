# Sourced by every bench runner (bench/run, bench/*_run): one build directory, one way to build into it, one way
# to read the common options. Not run on its own.
#
# A runner's usage is its leading comment block (from line 2 to the first line that is not a comment); every
# runner also takes the common options below, which bench_opt reads:
#   --build-dir DIR   build into and run from DIR (default build-bench, or $BUILD)
#   --no-build        run what the build directory already holds
#   -h, --help        print the usage and exit 0

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_build=${BUILD:-$bench_root/build-bench}
bench_nobuild=0
bench_name=bench/$(basename "$0")

bench_usage() {
	sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
	echo "Common options: --build-dir DIR (default build-bench, or \$BUILD), --no-build, -h/--help."
}

# bench_opt "$@": reads one common option from the front of the arguments and sets bench_used to how many
# arguments it took; an option it does not know is an error (exit 2). Use as the last case of the runner's loop:
#   *) bench_opt "$@"; shift "$bench_used"; continue ;;
bench_opt() {
	case "$1" in
	--build-dir)
		[ $# -ge 2 ] || { echo "$bench_name: --build-dir needs a directory" >&2; exit 2; }
		bench_build=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") bench_used=2 ;;
	--no-build) bench_nobuild=1 bench_used=1 ;;
	-h | --help) bench_usage; exit 0 ;;
	*) echo "$bench_name: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
}

# bench_make TARGET...: configures the build directory if it has no build.ninja (release, tests off, as every
# figure in doc/bench.md was measured) and builds the targets, unless --no-build. Exported as BUILD so that a
# runner that re-runs itself (in a namespace) finds the same directory.
bench_make() {
	export BUILD="$bench_build"
	[ "$bench_nobuild" = 0 ] || return 0
	if [ ! -f "$bench_build/build.ninja" ]; then
		meson setup "$bench_build" "$bench_root" -Dbuildtype=release -Dtests=disabled >/dev/null
	fi
	ninja -C "$bench_build" "$@" >/dev/null
}
