# Shared helpers for the director's integration tests (sourced by bash).
# Every process a test starts is recorded and stopped by PID on exit; every
# wait polls a condition against a deadline (no sleeps used as assertions).
# Environment: FABRICD, DIRECTORD, XCM (and XSCORED, XSCTL) = binaries.

set -u
T=$(mktemp -d /tmp/xsd-it.XXXXXX)
PIDS=()
FAILS=0
CHECKS=0
export XCM_SOCKET=$T/ctl.sock
export XS_FABRIC_SOCK=$T/fabric.sock

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	if [ "${KEEP:-0}" = 1 ] || [ "$FAILS" -ne 0 ]; then
		echo "logs kept in $T"
		for f in "$T"/*.log; do echo "---- $f (tail)"; tail -n 25 "$f"; done
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(date +%s%N) / 1000000 + secs * 1000))
	while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
	done
	fail "timed out after ${secs}s waiting for: $what"
	return 1
}

start_fabricd() {
	"$FABRICD" -f -s "$T/fabric.sock" >>"$T/fabricd.log" 2>&1 &
	FABRICD_PID=$!
	PIDS+=("$FABRICD_PID")
	wait_for 10 "xs-fabricd socket" test -S "$T/fabric.sock"
}

# start_director [extra args]: starts xsdirectord and waits for its socket.
start_director() {
	rm -f "$T/ctl.sock"
	"$DIRECTORD" -f -F "soft:$T/fabric.sock" --state-dir "$T/state" \
		--ctl-socket "$T/ctl.sock" --ctl-group "$(id -gn)" --name director-it "$@" \
		>>"$T/director.log" 2>&1 &
	DIRECTOR_PID=$!
	PIDS+=("$DIRECTOR_PID")
	wait_for 15 "director control socket" "$XCM" show config
}

# expect_out "EXPECTED STDOUT" EXPECTED_RC xcm-args...: run xcm, compare
# stdout+stderr and the exit status exactly.
expect_out() {
	local want=$1 want_rc=$2 got rc
	shift 2
	CHECKS=$((CHECKS + 1))
	got=$("$XCM" "$@" 2>&1)
	rc=$?
	if [ "$got" != "$want" ] || [ "$rc" != "$want_rc" ]; then
		fail "xcm $*"
		echo "  expected (rc $want_rc):"; printf '%s\n' "$want" | sed 's/^/    |/'
		echo "  got (rc $rc):"; printf '%s\n' "$got" | sed 's/^/    |/'
	fi
}

# expect_match REGEX xcm-args...: output must match (grep -E) the regex.
expect_match() {
	local re=$1 got
	shift
	CHECKS=$((CHECKS + 1))
	got=$("$XCM" "$@" 2>&1)
	if ! printf '%s\n' "$got" | grep -Eq -- "$re"; then
		fail "xcm $*: output does not match /$re/"
		printf '%s\n' "$got" | sed 's/^/    |/'
	fi
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS of $CHECKS checks failed"
		exit 1
	fi
	echo "all $CHECKS checks passed"
	exit 0
}
