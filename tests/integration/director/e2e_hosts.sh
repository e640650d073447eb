#!/bin/bash
# Integration, end to end on the soft fabric: one director and three host
# agents (xscored). Changes made with xcm reach the right host and only it;
# a director killed with SIGKILL comes back with its sessions and
# configuration and the hosts keep their devices (no churn); a restarted host
# gets its devices again; a host no profile binds is rejected with the reason
# visible in `xcm show hosts`, and accepted once a profile names it.
. "$(dirname "$0")/lib.sh"

start_fabricd
start_director
expect_out "config hello-interval set to 1" 0 config set hello-interval 1
expect_out "profile pA added" 0 profile add pA --hostname hostA
expect_out "profile pB added" 0 profile add pB --hostname hostB
"$XCM" vnic add a1 --profile pA >/dev/null
"$XCM" vnic add b1 --profile pB >/dev/null
"$XCM" target add t1 >/dev/null
"$XCM" vhba add fcb --profile pB --target t1 >/dev/null

start_host() { # NAME
	mkdir -p "$T/$1"
	"$XSCORED" -f -F "soft:$T/fabric.sock" -p "port-$1" -H "$1" -s "$T/$1" \
		--backoff-max 2 --no-devices >>"$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS+=("$!")
}
# devs NAME: "type name mtu-or-qdepth" lines of what host NAME holds, sorted
devs() {
	"$XSCTL" -S "$T/$1/xscored-port-$1.sock" status --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
for d in sorted(r["hosts"][0]["devices"], key=lambda d: d["name"]):
    c = d["config"]
    print(d["type"], d["name"], c["mtu"] if d["type"] == "vnic" else c["queue_depth"])'
}
# devkeys NAME: "name resource_id updates" (to see whether devices were re-created)
devkeys() {
	"$XSCTL" -S "$T/$1/xscored-port-$1.sock" status --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
for d in sorted(r["hosts"][0]["devices"], key=lambda d: d["name"]):
    print(d["name"], d["resource_id"], d["updates"], "%.1f" % d["installed_s_ago"])'
}
devs_are() { [ "$(devs "$1")" = "$2" ]; }
session_up() { "$XCM" show sessions | grep -Eq "^$1 +0x[0-9a-f]+ +[0-9]+ +up "; }

start_host hostA
start_host hostB
start_host hostC
wait_for 20 "hostA session up" session_up hostA
wait_for 20 "hostB session up" session_up hostB
wait_for 20 "hostA holds a1" devs_are hostA "vnic a1 1500"
wait_for 20 "hostB holds b1 and fcb" devs_are hostB "vnic b1 1500
vhba fcb 32"
wait_for 20 "hostC rejected" bash -c "'$XCM' show hosts | grep -q '^hostC .* rejected .*unknown host: no profile binds it and auto-accept is off$'"
CHECKS=$((CHECKS + 1))
[ -z "$(devs hostC)" ] || fail "hostC holds devices: $(devs hostC)"
# the host sees the reason too: discovery worked (the XDS answers a host
# without a profile), the session shows the director's REG_REJECT text. The
# director lists hostC as rejected when it sends the REG_REJECT: wait for
# the host to have taken it (the first one may still be on its way).
hostc_status() {
	"$XSCTL" -S "$T/hostC/xscored-port-hostC.sock" status --json | python3 -c '
import json, sys
h = json.load(sys.stdin)["hosts"][0]; s = h["sessions"][0]
print(h["xds"]["result"] + " | " + s["state"] + " | " + s["last_error"] + " | rejects>0=" + str(s["rejects"] > 0))'
}
hostc_rejected() {
	case "$(hostc_status)" in
	"1 XCM from XDS LID "[0-9]*" | "*" | rejected by director: reason 1: unknown host: no profile binds it and auto-accept is off | rejects>0=True") ;;
	*) return 1 ;;
	esac
}
wait_for 10 "hostC's xsctl status shows the director's reason" hostc_rejected ||
	echo "  hostC's xsctl status: $(hostc_status)"
# from then on every retry is refused for the same reason, and reported so
CHECKS=$((CHECKS + 1))
for _ in 1 2 3; do
	hostc_rejected || fail "hostC's xsctl status: $(hostc_status)"
	sleep 1
done

# pushes reach the right host, acknowledged
expect_match "^vnic a2 installed on hostA \(acknowledged\)$" vnic add a2 --profile pA
expect_out "vnic b1 updated
vnic b1 updated on hostB (acknowledged)" 0 vnic set b1 --mtu 9000
expect_out "vnic a1 deleted
vnic a1 removed on hostA (acknowledged)" 0 vnic delete a1
expect_out "vhba fcb updated
vhba fcb updated on hostB (acknowledged)" 0 vhba set fcb --queue-depth 128
CHECKS=$((CHECKS + 3))
devs_are hostA "vnic a2 1500" || fail "hostA holds: $(devs hostA)"
devs_are hostB "vnic b1 9000
vhba fcb 128" || fail "hostB holds: $(devs hostB)"
[ -z "$(devs hostC)" ] || fail "hostC holds devices: $(devs hostC)"
expect_match "^a2 +pA +02:58:53:00:00:03 +1500 +untagged +- +up +hostA:installed$" show vnic

# control socket: requests pipelined behind one that waits for a host are
# answered in order; a client that leaves while its request waits harms nothing
CHECKS=$((CHECKS + 1))
python3 - "$T/ctl.sock" <<'PY' || fail "pipelined / abandoned control requests"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rwb")
f.write(b'{"op":"vnic.set","name":"a2","mtu":2000,"id":1}\n{"op":"ping","id":2}\n'); f.flush()
r1 = json.loads(f.readline()); r2 = json.loads(f.readline())
assert r1["id"] == 1 and r1["push"][0]["result"] == "acknowledged", r1
assert r1["vnic"]["status"] == [{"host": "hostA", "state": "installed", "reason": ""}], r1
assert r2 == {"id": 2, "ok": True, "version": "0.1.0", "schema": 3}, r2
t = socket.socket(socket.AF_UNIX); t.connect(sys.argv[1])
t.sendall(b'{"op":"vnic.set","name":"a2","mtu":1500}\n'); t.close()
PY
wait_for 10 "hostA has a2 at MTU 1500 again" devs_are hostA "vnic a2 1500"
expect_match "^a2 +pA +02:58:53:00:00:03 +1500 +untagged +- +up +hostA:installed$" show vnic

# moving a vNIC to another profile moves it to that host
# has_lines "OUTPUT" LINE...: every LINE is a line of OUTPUT
has_lines() {
	local out=$1 l
	shift
	CHECKS=$((CHECKS + 1))
	for l in "$@"; do
		printf '%s\n' "$out" | grep -qxF -- "$l" || { fail "missing line: $l"; printf '%s\n' "$out" | sed 's/^/    |/'; }
	done
}
has_lines "$("$XCM" vnic set a2 --profile pB)" "vnic a2 updated" \
	"vnic a2 removed on hostA (acknowledged)" "vnic a2 installed on hostB (acknowledged)"
CHECKS=$((CHECKS + 2))
devs_are hostA "" || fail "hostA holds: $(devs hostA)"
devs_are hostB "vnic a2 1500
vnic b1 9000
vhba fcb 128" || fail "hostB holds: $(devs hostB)"
has_lines "$("$XCM" vnic set a2 --profile pA)" "vnic a2 updated" \
	"vnic a2 removed on hostB (acknowledged)" "vnic a2 installed on hostA (acknowledged)"
expect_out "vnic a2 updated
vnic a2 updated on hostA (acknowledged)" 0 vnic set a2 --admin down
CHECKS=$((CHECKS + 1))
"$XSCTL" -S "$T/hostA/xscored-port-hostA.sock" status --json | grep -q '"admin": "down"' ||
	fail "a2 is not admin down on hostA"
expect_out "vnic a2 updated
vnic a2 updated on hostA (acknowledged)" 0 vnic set a2 --admin up

# director SIGKILL + restart: sessions back, config intact, no device churn
before=$(devkeys hostB)
kill -KILL "$DIRECTOR_PID"; wait "$DIRECTOR_PID" 2>/dev/null
start_director
wait_for 30 "hostA session back" session_up hostA
wait_for 30 "hostB session back" session_up hostB
after=$(devkeys hostB)
CHECKS=$((CHECKS + 1))
# same names, same resource ids, no update applied: the devices were kept
if [ "$(echo "$before" | cut -d' ' -f1-3)" != "$(echo "$after" | cut -d' ' -f1-3)" ]; then
	fail "hostB devices churned across the director restart"
	echo "before: $before"; echo "after: $after"
fi
CHECKS=$((CHECKS + 1))
python3 - "$before" "$after" <<'PY' || fail "hostB devices were re-created (install age went back)"
import sys
b = {l.split()[0]: float(l.split()[3]) for l in sys.argv[1].splitlines()}
a = {l.split()[0]: float(l.split()[3]) for l in sys.argv[2].splitlines()}
assert all(a[k] >= b[k] for k in b), (b, a)
PY
expect_out "NAME  PROFILE  MAC                MTU   VLANS     UPLINK  ADMIN  STATUS
a2    pA       02:58:53:00:00:03  1500  untagged  -       up     hostA:installed
b1    pB       02:58:53:00:00:02  9000  untagged  -       up     hostB:installed" 0 show vnic
# host records are in the store: the reconnect counts go on across the restart
expect_match "^hostA +0x[0-9a-f]+ +[0-9]+ +pA +up +[0-9]+s +.* +1 +-$" show hosts
expect_match "^hostB +0x[0-9a-f]+ +[0-9]+ +pB +up +[0-9]+s +.* +1 +-$" show hosts

# host restart: its devices are installed again
kill -TERM "$PID_hostA"; wait "$PID_hostA" 2>/dev/null
wait_for 10 "hostA down at the director" bash -c "'$XCM' show hosts | grep -Eq '^hostA .* down '"
start_host hostA
wait_for 20 "hostA back" session_up hostA
wait_for 20 "hostA re-installed a2" devs_are hostA "vnic a2 1500"
expect_match "^hostA +0x[0-9a-f]+ +[0-9]+ +pA +up +[0-9]+s +.* +2 +-$" show hosts

# the unknown host comes up once a profile binds it
expect_out "profile pC added" 0 profile add pC --hostname hostC
"$XCM" vnic add c1 --profile pC >/dev/null
wait_for 20 "hostC accepted" session_up hostC
wait_for 20 "hostC holds c1" devs_are hostC "vnic c1 1500"
CHECKS=$((CHECKS + 1))
devs_are hostA "vnic a2 1500" || fail "hostA holds: $(devs hostA)"

# clean director stop: every host is told, and keeps its devices
kill -TERM "$DIRECTOR_PID"
wait_for 10 "hostB told of the stop" grep -q "director shut the session down: director stopping" "$T/hostB.log"
wait_for 10 "hostC told of the stop" grep -q "director shut the session down: director stopping" "$T/hostC.log"
CHECKS=$((CHECKS + 1))
devs_are hostB "vnic b1 9000
vhba fcb 128" || fail "hostB lost devices when the director stopped: $(devs hostB)"
finish
