#!/bin/bash
# control-tests.sh CASE HARNESS FABRIC_DIR - the control plane on the real
# OpenSM (ibsim): xsdirectord and xscored on the umad backend.
#   xds_record  xsdirectord -F umad on "director" registers XSIGOXDS; saquery -S
#               on "host2" shows its name, ServiceID, GID, LID and GUID; SIGTERM
#               deletes it (saquery no longer lists it)
#   discovery   xscored -F umad on "host1" finds the director through the
#               real SA and gets its XCM list over XCPM: xsctl status --json
#               shows the XDS at the director's LID (per iblinkinfo) and one
#               XCM with the director's GUID; the session fails with the
#               MAD-only transport error. Three director starts in a row,
#               each answering (control socket up, XCM_REQUEST answered).
# Environment: DIRECTORD, XCM, XSCORED, XSCTL, XSSA = binaries.
set -u
CASE=$1 H=$2 DIR=$3
NAME=XSIGOXDS
SID=0x0000000002139702
W=$DIR/control-$CASE
PIDS=()

fail() {
	echo "FAIL ($CASE): $*" >&2
	for f in "$W"/*.log; do [ -f "$f" ] && { echo "---- $f" >&2; tail -n 30 "$f" >&2; }; done
	exit 1
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
}
trap cleanup EXIT

now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds, fail after SECONDS
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(now_ms) + secs * 1000))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$end" ] || fail "timed out after ${secs}s waiting for: $what"
		sleep 0.05
	done
}

rm -rf "$W"
mkdir -p "$W" || fail "cannot create $W"
read -r _ DLID DGUID < <("$H" lids "$DIR" | awk '$1 == "director"') ||
	fail "no director in the fabric (did ibsim_fabric_start run?)"
[ -n "${DLID:-}" ] || fail "no director LID"
DGUID_HEX=$(printf '0x%016x' "$DGUID")
echo "director (iblinkinfo): lid $DLID port guid $DGUID_HEX"

# The PID of the attached program whose command line holds $1 (the harness
# runs it under timeout in a subshell, so $! is not its PID).
pid_of() { pgrep -f -- "$1" | while read -r p; do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && echo "$p"; done | head -1; }

DPID=""
start_director() {  # N: the Nth start (own control socket and log)
	local n=$1 sock=$W/ctl-$1.sock
	IBSIM_RUN_TIMEOUT=60 "$H" run "$DIR" director "$DIRECTORD" -f -F umad \
		--state-dir "$W/state" --ctl-socket "$sock" --name ibsim-director \
		>> "$W/director-$n.log" 2>&1 &
	local bg=$!
	PIDS+=("$bg")
	wait_for 10 "control socket $sock of director start $n" \
		bash -c "test -S '$sock' || ! kill -0 $bg"
	[ -S "$sock" ] || fail "director start $n exited without a control socket"
	DPID=$(pid_of "--ctl-socket $sock" xsdirectord)
	[ -n "$DPID" ] || fail "no xsdirectord process for $sock"
	PIDS+=("$DPID")
	CTL=$sock
	wait_for 10 "ServiceRecord registered (director start $n)" \
		grep -q "ServiceRecord $NAME registered" "$W/director-$n.log"
}
stop_director() {  # N
	kill -TERM "$DPID" || fail "director $DPID is gone"
	# Our part is bounded (SHUTDOWN to hosts, record deleted: 2 s); after
	# "stopped" only umad2sim's exit handler runs, which removes its fake
	# sysfs (./sys-PID) and can take seconds when the disk is busy.
	wait_for 5 "director start $1 to stop on SIGTERM" grep -q "notice: stopped" "$W/director-$1.log"
	wait_for 30 "director start $1 to exit after 'stopped'" bash -c "! kill -0 $DPID"
	grep -q "ServiceRecord $NAME deleted" "$W/director-$1.log" ||
		fail "no 'ServiceRecord $NAME deleted' in the director's log after SIGTERM"
}
stat_of() { "$XCM" --socket "$CTL" --json show stats | python3 -c \
	'import json, sys; print(json.load(sys.stdin)["stats"][sys.argv[1]])' "$1"; }

saquery_S() { "$H" run "$DIR" host2 saquery -S 2>&1; }
field() {  # saquery output, field name -> value
	awk -v f="$2" '{ line = $0; sub(/^[ \t]+/, "", line);
		if (index(line, f ".") == 1) { line = substr(line, length(f) + 1);
			sub(/^\.+/, "", line); print line } }' <<< "$1"
}

# The director's GID as our umad backend reads it from the port.
port_json=$("$H" run "$DIR" director "$XSSA" -F umad --json port) || fail "xs-sa port failed"
GID=$(sed -n 's/.*"gid":"\([^"]*\)".*/\1/p' <<< "$port_json")
[ -n "$GID" ] || fail "no gid in: $port_json"

# xsctl status --json of host1 (stdin): XDS and XCM as iblinkinfo saw the director
read -r -d '' CHECK_PY <<'PY'
import json, sys
lid, guid = int(sys.argv[1]), sys.argv[2]
h = json.load(sys.stdin)["hosts"][0]
x = h["xds"]
want_err = "connect failed: fabric 'umad' has no connection manager (MADs only)"
problems = []
if x["lid"] != lid: problems.append("xds lid %s != %s" % (x["lid"], lid))
if x["guid"] != guid: problems.append("xds guid %s != %s" % (x["guid"], guid))
if x["result"] != "1 XCM from XDS LID %d" % lid: problems.append("xds result %r" % x["result"])
if x["failures"] != 0: problems.append("discovery failures %s" % x["failures"])
s = h["sessions"]
if len(s) != 1: problems.append("%d sessions, expected 1" % len(s))
elif s[0]["xcm_guid"] != guid: problems.append("XCM guid %s != %s" % (s[0]["xcm_guid"], guid))
elif s[0]["xcm_lid"] != lid: problems.append("XCM lid %s != %s" % (s[0]["xcm_lid"], lid))
elif s[0]["state"] == "up": problems.append("session up on a MAD-only fabric?")
elif s[0]["last_error"] != want_err: problems.append("last error %r" % s[0]["last_error"])
for p in problems: print("  " + p)
sys.exit(1 if problems else 0)
PY

case "$CASE" in
xds_record)
	start_director 1
	out=$(saquery_S) || fail "saquery -S failed: $out"
	echo "$out"
	[ "$(field "$out" ServiceName)" = "$NAME" ] || fail "saquery -S shows no ServiceName $NAME"
	[ "$(field "$out" ServiceID)" = "$SID" ] || fail "ServiceID is not $SID"
	[ "$(field "$out" ServiceGID)" = "$GID" ] || fail "ServiceGID is not the director's $GID"
	[ "$(field "$out" ServiceData16.1)" = "$(printf '0x%x' "$DLID")" ] ||
		fail "ServiceData16.1 is not the director's LID $DLID"
	[ "$(field "$out" ServiceData64.1)" = "$DGUID_HEX" ] ||
		fail "ServiceData64.1 is not the director's port GUID $DGUID_HEX"
	[ "$(field "$out" ServiceLease)" = "0x3C" ] || fail "ServiceLease is not 60 s (0x3C)"
	[ "$(stat_of xds_record)" = registered ] || fail "xcm show stats: record not 'registered'"
	[ "$(stat_of sa_registrations)" = 1 ] || fail "xcm show stats: sa_registrations != 1"
	stop_director 1
	out=$(saquery_S) || fail "saquery -S failed: $out"
	[ -z "$(field "$out" ServiceName | grep -x "$NAME")" ] ||
		fail "saquery -S still lists $NAME after the director stopped"
	echo "PASS: xsdirectord -F umad: saquery -S shows $NAME, ID $SID, GID $GID, LID $DLID," \
	     "GUID $DGUID_HEX; deleted on SIGTERM"
	;;
discovery)
	# No TAP interfaces: on a MAD-only fabric no vNIC can come up anyway.
	NODEV=()
	"$XSCORED" --help | grep -q -- --no-devices && NODEV=(--no-devices)
	for n in 1 2 3; do
		start_director "$n"
		hs=$W/host1-$n.sock
		IBSIM_RUN_TIMEOUT=60 "$H" run "$DIR" host1 "$XSCORED" -f -F umad -p host1 \
			-H ibsim-host1 -s "$W/host1-state" -S "$hs" --backoff-max 2 "${NODEV[@]}" \
			>> "$W/host1-$n.log" 2>&1 &
		bg=$!
		PIDS+=("$bg")
		wait_for 10 "xscored control socket $hs" bash -c "test -S '$hs' || ! kill -0 $bg"
		[ -S "$hs" ] || fail "xscored (start $n) exited without a control socket"
		HPID=$(pid_of "-S $hs" xscored)
		[ -n "$HPID" ] || fail "no xscored process for $hs"
		PIDS+=("$HPID")
		got_list() { "$XSCTL" -S "$hs" status --json |
			grep -q "\"result\": *\"1 XCM from XDS LID $DLID\""; }
		wait_for 15 "host1 to get the XCM list (start $n)" got_list
		# and the session to have tried (and failed) at least once
		wait_for 10 "a session attempt on host1" bash -c "'$XSCTL' -S '$hs' status --json |
			grep -q '\"last_error\": *\"connect failed'"
		st=$("$XSCTL" -S "$hs" status --json) || fail "xsctl status failed"
		python3 -c "$CHECK_PY" "$DLID" "$DGUID_HEX" <<< "$st" ||
			fail "xsctl status --json (start $n): $st"
		"$XSCTL" -S "$hs" status
		req=$(stat_of xcpm_requests) rep=$(stat_of xcpm_replies) bad=$(stat_of xcpm_malformed)
		[ "$req" -ge 1 ] && [ "$rep" = "$req" ] && [ "$bad" = 0 ] ||
			fail "director XCPM counters: requests $req replies $rep malformed $bad"
		grep -q "XCM_REQUEST" "$W/host1-$n.log" &&
			fail "host1 logged an XCM_REQUEST failure"
		echo "start $n: host1 has 1 XCM ($DGUID_HEX, LID $DLID); director answered $rep of $req"
		kill -TERM "$HPID"
		wait_for 30 "xscored to exit" bash -c "! kill -0 $HPID"
		stop_director "$n"
	done
	echo "PASS: host1 discovered the director through OpenSM's SA and got its XCM list" \
	     "over XCPM (3 director starts); session error: MAD-only fabric"
	;;
*)
	fail "unknown case"
	;;
esac
