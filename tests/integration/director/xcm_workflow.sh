#!/bin/bash
# Integration: xs-fabricd + xsdirectord on temporary sockets; xcm workflows
# with exact output, bad input lines, raw control-socket abuse, clean
# SIGTERM shutdown and restart from the store.
. "$(dirname "$0")/lib.sh"

start_fabricd
start_director

expect_out "no vnics" 0 show vnic
expect_out "profile p1 added" 0 profile add p1 --hostname host1 --host-guid 0x0002c90300001234
expect_out "uplink u1 added" 0 uplink add u1
expect_out "vnic eth1 added (MAC 02:58:53:00:00:01)
vnic eth1 configured; host1 not connected, will be installed when it registers" 0 \
	vnic add eth1 --profile p1 --mtu 9000 --vlans 10 --uplink u1
expect_out "vnic eth2 added (MAC 02:58:53:00:00:02)
vnic eth2 configured; host1 not connected, will be installed when it registers" 0 \
	vn a eth2 --pro p1 --vlan-mode trunk --vlans 30,10-12 --cir 100 --pir 200
expect_out "NAME  PROFILE  MAC                MTU   VLANS           UPLINK  ADMIN  STATUS
eth1  p1       02:58:53:00:00:01  9000  10              u1      up     -
eth2  p1       02:58:53:00:00:02  1500  trunk 10-12,30  -       up     -" 0 sh vn
expect_match "^  CIR / PIR    100 / 200 Mbit/s$" show vnic eth2
expect_match "^  resource id  0x[0-9a-f]{8}00000002$" show vnic eth2

# bad input: one clear line, exit 2 for usage, 1 for refusals
expect_out "xcm: vnic name 'averyveryverylongname' is 21 characters; at most 15 are allowed" 2 \
	vnic add averyveryverylongname --profile p1
expect_out "xcm: MTU 70000 out of range; allowed 68..65280" 2 vnic add eth3 --profile p1 --mtu 70000
expect_out "xcm: bad MAC 'zz:11:22:33:44:55'; expected six hex pairs like 02:11:22:33:44:55" 2 \
	vnic add eth3 --profile p1 --mac zz:11:22:33:44:55
expect_out "xcm: profile 'nosuch' does not exist" 1 vnic add eth3 --profile nosuch
expect_out "xcm: MAC 02:58:53:00:00:01 is already used by vnic 'eth1'" 1 \
	vnic add eth3 --profile p1 --mac 02:58:53:00:00:01
expect_out "xcm: vnic 'eth1' already exists" 1 vnic add eth1 --profile p1
expect_out "xcm: unknown word 'foo' after 'show'; expected one of: profile, vnic, vhba, sessions, hosts, log, config, uplinks, storage-pools, stats, storage, targets" 2 show foo
expect_out "xcm: ambiguous word 'v' after 'show'; could be: vnic, vhba" 2 show v
expect_out "xcm: 'vnic add eth3' needs --profile NAME" 2 vnic add eth3
expect_out "xcm: profile 'p1' still has 2 vNIC(s) and 0 vHBA(s); delete them first" 1 profile delete p1
expect_out "xcm: uplink 'u1' is used by 1 vNIC(s); move or delete them first" 1 uplink delete u1
expect_out "xcm: access mode carries one VLAN, 2 were given; use --vlan-mode trunk for a list" 1 \
	vnic set eth1 --vlans 10,20
expect_out "xcm: vnic 'eth9' does not exist" 1 vnic delete eth9
# nothing of the refused requests reached the store
expect_out "NAME  PROFILE  MAC                MTU   VLANS           UPLINK  ADMIN  STATUS
eth1  p1       02:58:53:00:00:01  9000  10              u1      up     -
eth2  p1       02:58:53:00:00:02  1500  trunk 10-12,30  -       up     -" 0 show vnic

# a vHBA names targets that exist (xcm target add); nothing is stored before
expect_out "xcm: target 'tgtA' does not exist" 1 \
	vhba add fc0 --profile p1 --target tgtA --target tgtB --lun-mask 7,0-3 --queue-depth 64
expect_out "target tgtA added (WWPN 50:01:39:70:00:00:00:01)" 0 target add tgtA --wwpn 50:01:39:70:00:00:00:01
expect_out "target tgtB added (WWPN 50:01:39:70:00:00:00:02)" 0 target add tgtB --wwpn 5001397000000002
expect_out "vhba fc0 added (WWPN 30:00:58:53:00:00:00:01, WWNN 30:00:58:53:00:00:00:00)
vhba fc0 configured; host1 not connected, will be installed when it registers" 0 \
	vhba add fc0 --profile p1 --target tgtA --target tgtB --lun-mask 7,0-3 --queue-depth 64
expect_out "NAME  PROFILE  WWPN                     WWNN                     QDEPTH  TARGETS    ADMIN  STATUS
fc0   p1       30:00:58:53:00:00:00:01  30:00:58:53:00:00:00:00  64      tgtA,tgtB  up     -" 0 show vhba
expect_match "^  LUN mask           0-3,7$" show vhba fc0
expect_out "vnic eth1 updated
vnic eth1 configured; host1 not connected, will be updated when it registers" 0 vnic set eth1 --mtu 1500
expect_out "vnic eth2 deleted
vnic eth2 configured; host1 not connected, will be removed when it registers" 0 vnic delete eth2
expect_out "NAME  HOSTNAME  HOST-GUIDS          VNICS  VHBAS
p1    host1     0x0002c90300001234  1      1" 0 show profile
expect_out "config auto-accept set to on" 0 config set auto-accept on
expect_out "config hello-interval set to 2" 0 conf set hello 2
expect_out "auto-accept          on
hello-interval       2
max-sessions         4096
mac-pool             02:58:53:00:00:01-02:58:53:ff:ff:ff
wwn-pool             30:00:58:53:00:00:00:00-30:00:58:53:ff:ff:ff:ff" 0 show config
me=$(id -un)
expect_match "^[0-9T:Z-]+  $me +vnic delete eth2$" show log --limit 3
expect_match "^[0-9T:Z-]+  $me +config set hello-interval 2$" show log --limit 3

# --json for scripts
CHECKS=$((CHECKS + 1))
"$XCM" --json show vnic eth1 | python3 -c '
import json, sys
r = json.load(sys.stdin)
v = r["vnics"][0]
assert r["ok"] is True and v["mtu"] == 1500 and v["mac"] == "02:58:53:00:00:01", r
assert v["vlans"] == "10" and v["uplink"] == "u1" and v["generation"] == 2, r
' || fail "xcm --json show vnic eth1"

# the control socket: mode 0660; bad JSON and unknown ops get an error reply
# and the connection stays usable; an over-long line is refused and closed
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a "$T/ctl.sock")" = 660 ] || fail "control socket mode is $(stat -c %a "$T/ctl.sock")"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %G "$T/ctl.sock")" = "$(id -gn)" ] || fail "control socket group is $(stat -c %G "$T/ctl.sock")"
CHECKS=$((CHECKS + 1))
python3 - "$T/ctl.sock" <<'PY' || fail "raw control socket checks"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rwb")
def ask(line):
    f.write(line + b"\n"); f.flush(); return json.loads(f.readline())
r = ask(b'{"op":'); assert r["ok"] is False and r["error"].startswith("bad JSON"), r
r = ask(b'{"op":"vnic.explode"}'); assert r == {"ok": False, "error": "unknown op 'vnic.explode'", "code": "EPROTO"}, r
r = ask(b'\x00\xff\xfe garbage'); assert r["ok"] is False, r
r = ask(b'{"op":"vnic.add","name":"x"}'); assert r["error"] == "missing field 'profile' for vnic.add", r
r = ask(b'{"op":"ping","id":42}'); assert r["ok"] is True and r["id"] == 42, r
t = socket.socket(socket.AF_UNIX); t.connect(sys.argv[1])
t.sendall(b"x" * 70000)
g = t.makefile("rb"); r = json.loads(g.readline()); assert r["error"] == "request line longer than 65536 bytes", r
assert g.read() == b"", "connection not closed after an over-long line"
PY
expect_match "^bad_json +2$" show stats
expect_match "^too_long +1$" show stats
expect_match "^xds_record +registered$" show stats

# clean stop: SIGTERM -> exit 0, socket removed, ServiceRecord deleted
kill -TERM "$DIRECTOR_PID"
CHECKS=$((CHECKS + 1))
wait_for 10 "director exit after SIGTERM" bash -c "! kill -0 $DIRECTOR_PID"
wait "$DIRECTOR_PID"; rc=$?
[ "$rc" = 0 ] || fail "xsdirectord exit status $rc after SIGTERM"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/ctl.sock" ] || fail "control socket left behind"
CHECKS=$((CHECKS + 1))
wait_for 5 "SA delete of XSIGOXDS" grep -q "ServiceRecord(s) deleted by 'director'" "$T/fabricd.log"
expect_out "xcm: cannot talk to the director at $T/ctl.sock: No such file or directory (is xsdirectord running?)" 1 show vnic

# a start that cannot work says why and exits 1 (bounded)
CHECKS=$((CHECKS + 1))
out=$(timeout 20 "$DIRECTORD" -f -F "soft:$T/fabric.sock" --port-name other --state-dir "$T/state2" \
	--ctl-socket "$T/ctl2.sock" --ctl-group no-such-group-xs 2>&1); rc=$?
[ $rc = 1 ] && printf '%s\n' "$out" | grep -q "control socket group 'no-such-group-xs' does not exist" ||
	fail "bad --ctl-group: rc $rc, output: $out"

# restart: everything committed is back
start_director
expect_out "NAME  PROFILE  MAC                MTU   VLANS  UPLINK  ADMIN  STATUS
eth1  p1       02:58:53:00:00:01  1500  10     u1      up     -" 0 show vnic
expect_match "^[0-9T:Z-]+  $me +profile add p1 hostname=host1 host-guids=0x0002c90300001234$" show log --limit 100
finish
