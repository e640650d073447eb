# guest-lib.sh - sourced by the vm tier's guest scripts (run by run-vm in
# the guest, cwd /xs). Checks print "PASS name" or "FAIL name: reason"; the
# first failure dumps the logs of everything started with bg and exits 1.

. /xs/rxe.env
LOGS=/tmp/xs-logs
mkdir -p "$LOGS"
BG_NAMES=()
CHECKS_PASSED=0
T_START=$(cut -d' ' -f1 /proc/uptime)

uptime_s() { cut -d' ' -f1 /proc/uptime; }

pass() {
	CHECKS_PASSED=$((CHECKS_PASSED + 1))
	echo "PASS $1 (guest time $(uptime_s) s)"
}

dump_logs() {
	local n
	for n in "${BG_NAMES[@]}"; do
		echo "----- log of $n (last 60 lines) -----"
		tail -n 60 "$LOGS/$n.log"
	done
	echo "----- kernel (rxe/rdma lines, last 20) -----"
	dmesg | grep -iE 'rxe|rdma|infiniband|ib_' | tail -n 20
}

fail() {  # check reason...
	local c=$1
	shift
	echo "FAIL $c: $*"
	dump_logs
	exit 1
}

# bg NAME CMD...: start CMD in the background, output to $LOGS/NAME.log
bg() {
	local n=$1
	shift
	"$@" > "$LOGS/$n.log" 2>&1 &
	eval "PID_$n=$!"
	BG_NAMES+=("$n")
}

# alive NAME: the background program NAME still runs
alive() { local v="PID_$1"; kill -0 "${!v}" 2>/dev/null; }

# stop NAME: SIGTERM, then SIGKILL after 3 s; returns its exit status
stop() {
	local v="PID_$1" _i
	local p=${!v}
	kill -TERM "$p" 2>/dev/null
	for _i in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p"
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 on timeout
wait_for() {
	local secs=$1
	shift
	local end
	end=$(awk -v now="$(uptime_s)" -v s="$secs" 'BEGIN { print now + s }')
	until "$@" > /dev/null 2>&1; do
		awk -v now="$(uptime_s)" -v end="$end" 'BEGIN { exit !(now >= end) }' && return 1
		sleep 0.2
	done
	return 0
}

finish() {
	echo "all $CHECKS_PASSED checks passed in $(awk -v a="$T_START" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }') s of guest time"
	exit 0
}
