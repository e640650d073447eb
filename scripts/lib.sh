# scripts/lib.sh - shared by ./scripts/demo, ./scripts/test and bench/run.
# Installs Debian packages (idempotent, quiet) and builds the tree.

XS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages the build and the test tiers need.
XS_BUILD_PKGS="build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  libcmocka-dev libsqlite3-dev libjansson-dev
  libibverbs-dev librdmacm-dev libibumad-dev ibverbs-providers rdma-core
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev liburing-dev libfuse3-dev fuse3 libiscsi-dev
  dpkg-dev"
XS_TEST_PKGS="ibsim-utils libumad2sim0 opensm infiniband-diags iproute2 iputils-ping
  mingw-w64 cppcheck clang-tidy procps psmisc python3 jq fio tgt iperf3 util-linux
  qemu-system-x86 ibverbs-utils rdmacm-utils perftest"

xs_die() { echo "error: $*" >&2; exit 1; }
xs_say() { echo "==> $*"; }

# xs_ensure_packages PKG...: install what is missing; apt-get update once.
xs_ensure_packages() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		xs_die "missing Debian packages:$missing; run as root (or install them with apt-get) and try again"
	fi
	xs_say "installing Debian packages:$missing"
	local log; log=$(mktemp /tmp/xs-apt.XXXXXX)
	if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
		tail -20 "$log" >&2
		xs_die "apt-get update failed (log above, full log $log); check the network and /etc/apt/sources.list"
	fi
	# shellcheck disable=SC2086
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1; then
		tail -20 "$log" >&2
		xs_die "apt-get install of$missing failed (log above, full log $log)"
	fi
	rm -f "$log"
}

# xs_build DIR [cmake args...]: configure (cheap when nothing changed) and build DIR.
xs_build() {
	local dir=$1; shift
	local jobs; jobs=$(nproc 2>/dev/null || echo 2)
	cmake -S "$XS_TOP" -B "$dir" "$@" >"$dir.configure.log" 2>&1 ||
		{ cat "$dir.configure.log" >&2; xs_die "cmake configure of $dir failed"; }
	cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 ||
		{ grep -E 'error|Error' -A3 "$dir.build.log" | head -60 >&2; xs_die "build of $dir failed (full log $dir.build.log)"; }
}

# xs_fio_src: print the configured source tree of the installed fio (Debian
# ships no fio headers; the vHBA fio engine is built against it).
xs_fio_src() {
	local src
	src=$("$XS_TOP/xsvhba/fio/fetch-fio-src.sh") ||
		xs_die "could not fetch and configure the fio source (apt-get source fio); see the messages above"
	echo "$src"
}
