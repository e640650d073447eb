# Helpers for the vNIC integration tests (sourced by bash): network
# namespaces for the director, the LAN and the hosts, the soft fabric, the
# director with its uplink a veth into the LAN namespace, host agents.
# Everything started is stopped by PID, every namespace deleted, on any exit.
# Environment: FABRICD, DIRECTORD, XCM, XSCORED, XSCTL = binaries.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "vnic tests: need root (network namespaces, TAP devices)" >&2
	exit 1
fi
T=$(mktemp -d /tmp/xsv-it.XXXXXX)
SFX=$$
NS_DIR=xsvd$SFX
NS_LAN=xsvl$SFX
NS_H1=xsv1$SFX
NS_H2=xsv2$SFX
PIDS=()
FAILS=0
CHECKS=0
export XCM_SOCKET=$T/ctl.sock
export XS_FABRIC_SOCK=$T/fabric.sock

cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in $NS_DIR $NS_LAN $NS_H1 $NS_H2; do ip netns del "$n" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ] || [ "$FAILS" -ne 0 ]; then
		echo "logs kept in $T"
		for f in "$T"/*.log; do echo "---- $f (tail)"; tail -n 30 "$f"; done
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	CHECKS=$((CHECKS + 1))
	if "$@" >"$T/check.out" 2>&1; then echo "ok: $what"; else fail "$what"; cat "$T/check.out"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local secs=$1 what=$2 end
	shift 2
	end=$(($(now_ms) + secs * 1000))
	while [ "$(now_ms)" -lt $end ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
	done
	fail "timed out after ${secs}s waiting for: $what"
	return 1
}
xcm() { "$XCM" "$@"; }
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# The LAN: namespace NS_LAN with lan0 10.77.0.1/24 + fd77::1/64, its peer
# upl0 in NS_DIR (the director's uplink).
setup_net() {
	local n
	for n in $NS_DIR $NS_LAN $NS_H1 $NS_H2; do ip netns add "$n"; ip -n "$n" link set lo up; done
	ip link add upl0 netns "$NS_DIR" type veth peer name lan0 netns "$NS_LAN"
	ip -n "$NS_LAN" addr add 10.77.0.1/24 dev lan0
	ip -n "$NS_LAN" addr add fd77::1/64 dev lan0 nodad
	ip -n "$NS_LAN" link set lan0 up
	ip -n "$NS_DIR" link set upl0 up
}

start_fabricd() {
	"$FABRICD" -f -s "$T/fabric.sock" -S "$T/fabric.state" >>"$T/fabricd.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 "xs-fabricd socket" test -S "$T/fabric.sock"
}

start_director() {
	rm -f "$T/ctl.sock"
	ip netns exec "$NS_DIR" "$DIRECTORD" -f -F "soft:$T/fabric.sock" --state-dir "$T/state" \
		--ctl-socket "$T/ctl.sock" --name vnic-it "$@" \
		>>"$T/director.log" 2>&1 &
	DIRECTOR_PID=$!
	PIDS+=("$DIRECTOR_PID")
	wait_for 15 "director control socket" xcm show config
}

# start_host NS NAME: xscored for host NAME inside namespace NS.
start_host() {
	mkdir -p "$T/$2"
	ip netns exec "$1" "$XSCORED" -f -F "soft:$T/fabric.sock" -p "port-$2" -H "$2" \
		-s "$T/$2" --backoff-max 2 >>"$T/$2.log" 2>&1 &
	PIDS+=($!)
}
xsctl_h() { "$XSCTL" -S "$T/$1/xscored-port-$1.sock" "${@:2}"; }

# carrier NS IF: the interface exists and has its carrier (LOWER_UP).
carrier() { ip -n "$1" link show "$2" 2>/dev/null | grep -q 'LOWER_UP'; }
no_carrier() { ip -n "$1" link show "$2" 2>/dev/null | grep -q 'NO-CARRIER'; }
ifindex() { ip -n "$1" -o link show "$2" | cut -d: -f1; }
