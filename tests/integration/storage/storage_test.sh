#!/bin/bash
# Integration: the director's storage configuration served over SRP.
#  1. xcm: storage (a file made with --size, RAM, a file for hot-add), a
#     target with its WWPN, LUNs, two vHBAs (h1 no mask, h2 --lun-mask 0);
#     bad input refused with the exact line and nothing stored.
#  2. SRP logins as each vHBA (service ID = target WWPN, initiator port id
#     = vHBA WWPN): h2 does not see LUN 1, h1 does (and the target answers
#     h2's raw command to LUN 1 with LOGICAL UNIT NOT SUPPORTED, as it does
#     any LUN for an initiator that is no vHBA); a pattern written
#     through SRP reads back equal and is in the backing file at its offset.
#  3. xcm lun add while h1 is logged in: h1 sees the new LUN without a new
#     login; h2 (mask 0) does not.
#  4. A back end that cannot open: the director keeps running and
#     `xcm show storage` says why.
#  5. SIGKILL + restart: the same target and LUNs are served from the store,
#     the data is still there. SIGTERM: initiators are logged out.
. "$(dirname "$0")/../director/lib.sh"

TW=5001397000000010            # target WWPN
H1=5001397000000021; H2=5001397000000031
start_fabricd
start_director
dlid() { sed -n "s/.*port 'director': LID \([0-9]*\).*/\1/p" "$T/fabricd.log" | tail -n 1; }
DLID=$(dlid)
[ -n "$DLID" ] || { fail "director LID not found in the fabricd log"; finish; }
probe() { # WWPN COMMAND...
	local w=$1
	shift
	"$PROBE" "soft:$T/fabric.sock" "$DLID" "$TW" "$w" "$@" 2>>"$T/probe.log"
}
# expect_probe "EXPECTED" WWPN COMMAND...
expect_probe() {
	local want=$1 got
	shift
	CHECKS=$((CHECKS + 1))
	got=$(probe "$@")
	if [ "$got" != "$want" ]; then
		fail "probe $*"
		echo "  expected:"; printf '%s\n' "$want" | sed 's/^/    |/'
		echo "  got:"; printf '%s\n' "$got" | sed 's/^/    |/'
	fi
}

# wait_state NAME STATE: back ends open on a thread of their own
wait_state() { wait_for 20 "storage $1 $2" sh -c "[ \"\$(\"$XCM\" show storage $1 | sed -n 's/^  state     //p')\" = '$2' ]"; }

# ---- 1. configuration, and bad input refused verbatim
expect_out "profile p1 added" 0 profile add p1
expect_out "storage disk0 added" 0 storage add disk0 --file "$T/disk0.img" --size 16M
CHECKS=$((CHECKS + 1))
[ "$(stat -c %s "$T/disk0.img")" = 16777216 ] || fail "disk0.img is not 16 MiB"
expect_out "storage mem1 added" 0 storage add mem1 --ram 8M
expect_out "storage disk2 added" 0 storage add disk2 --file "$T/disk2.img" --size 4M
expect_out "xcm: file '$T/none.img' does not exist; give --size to create it" 1 \
	storage add bad --file "$T/none.img"
expect_out "xcm: give only one of --file, --block, --sg, --iscsi, --ram" 1 \
	storage add bad --file "$T/x.img" --ram 1M
expect_out "xcm: give one of --file, --block, --sg, --iscsi, --ram" 1 storage add bad
expect_out "xcm: bad iSCSI URL 'iscsi://host'; expected iscsi://HOST[:PORT]/IQN/LUN" 1 \
	storage add bad --iscsi iscsi://host
expect_out "xcm: bad size '12Q'; expected bytes with an optional K, M, G or T suffix (1024-based)" 2 \
	storage add bad --file "$T/x.img" --size 12Q
expect_out "xcm: '/dev/null' is not a block device" 1 storage add bad --block /dev/null
expect_out "xcm: storage 'disk0' already exists" 1 storage add disk0 --file "$T/other.img" --size 1M
CHECKS=$((CHECKS + 1))
[ ! -e "$T/other.img" ] || fail "a refused storage add left $T/other.img behind"
expect_out "target tgt1 added (WWPN 50:01:39:70:00:00:00:10)" 0 target add tgt1 --wwpn $TW
expect_out "xcm: WWN 50:01:39:70:00:00:00:10 is already used by target 'tgt1'" 1 \
	target add tgt2 --wwpn 50:01:39:70:00:00:00:10
expect_out "xcm: target name 'this-name-is-longer-than-24' is 27 characters; at most 24 are allowed" 2 \
	target add this-name-is-longer-than-24
expect_out "lun 0 of target tgt1 added" 0 lun add tgt1 0 --storage disk0
expect_out "lun 1 of target tgt1 added" 0 lun add tgt1 1 --storage mem1
expect_out "xcm: target 'tgt1' already has LUN 1 (storage 'mem1')" 1 lun add tgt1 1 --storage disk2
expect_out "xcm: storage 'disk0' is already LUN 0 of target 'tgt1'" 1 lun add tgt1 5 --storage disk0
expect_out "xcm: target 'nosuch' does not exist" 1 lun add nosuch 0 --storage disk2
expect_out "xcm: storage 'nosuch' does not exist" 1 lun add tgt1 7 --storage nosuch
expect_out "xcm: 'lun add tgt1 3' needs --storage NAME" 2 lun add tgt1 3
expect_out "xcm: LUN 16384 out of range; allowed 0..16383" 2 lun add tgt1 16384 --storage disk2
expect_out "xcm: target 'nosuch' does not exist" 1 vhba add h1 --profile p1 --target nosuch
expect_out "vhba h1 added (WWPN 50:01:39:70:00:00:00:21, WWNN 50:01:39:70:00:00:00:20)
vhba h1 configured; profile p1 binds no host yet" 0 \
	vhba add h1 --profile p1 --target tgt1 --wwnn 5001397000000020 --wwpn $H1
expect_out "vhba h2 added (WWPN 50:01:39:70:00:00:00:31, WWNN 50:01:39:70:00:00:00:30)
vhba h2 configured; profile p1 binds no host yet" 0 \
	vhba add h2 --profile p1 --target tgt1 --lun-mask 0 --wwnn 5001397000000030 --wwpn $H2
expect_match "^  targets            tgt1 \(WWPN 50:01:39:70:00:00:00:10\)$" show vhba h1
expect_out "xcm: storage 'disk0' is used by LUN 0 of target 'tgt1'; delete the LUN first" 1 \
	storage delete disk0
expect_out "xcm: target 'tgt1' is used by vhba 'h1', 'h2'; take it out of the vhba first" 1 \
	target delete tgt1
expect_out "xcm: target 'tgt1' has no LUN 9" 1 lun delete tgt1 9
wait_state disk0 online
wait_state mem1 online
W=$((${#T} + 10))   # the LOCATION column: "$T/disk0.img"
expect_out "$(printf '%-5s  %-4s  %-*s  %-5s  %-6s  %s\n' NAME TYPE $W LOCATION SIZE LUN STATE \
	disk0 file $W "$T/disk0.img" 16MiB tgt1/0 online disk2 file $W "$T/disk2.img" 4MiB - unused \
	mem1 ram $W - 8MiB tgt1/1 online)" 0 show storage
expect_out "NAME  WWPN                     LUNS  VHBAS  STATE    LOGINS
tgt1  50:01:39:70:00:00:00:10  0,1   h1,h2  serving  0" 0 show targets

# ---- 2. logins as each vHBA: masking, data
expect_probe "luns 0" $H2 luns
expect_probe "luns 0,1" $H1 luns
expect_probe "luns none" 5001397000000099 luns
expect_probe "read error ENXIO" $H2 read 1 0 4096 1
# the target itself refuses the masked LUN (LOGICAL UNIT NOT SUPPORTED), and
# answers the visible one
expect_probe "raw-read status=2 sense=5/25/00
raw-read status=0 sense=0/00/00" $H2 raw-read 1 raw-read 0
expect_probe "raw-read status=2 sense=5/25/00" 5001397000000099 raw-read 0
expect_probe "write ok
read equal" $H1 write 0 1048576 262144 5 read 0 1048576 262144 5
expect_probe "write ok
read equal
read differs" $H1 write 1 4096 65536 9 read 1 4096 65536 9 read 1 4096 65536 8
expect_probe "read equal" $H2 read 0 1048576 262144 5
# the bytes are in the backing file at that offset
python3 - "$T/disk0.img" <<'PY' || fail "disk0.img does not hold the pattern at 1 MiB"
import sys
d = open(sys.argv[1], 'rb').read()[1048576:1048576 + 262144]
want = bytes(((1048576 + i) * 31 + 5 * 7 + ((1048576 + i) >> 9)) & 0xff for i in range(262144))
sys.exit(0 if d == want else 1)
PY
CHECKS=$((CHECKS + 1))

# ---- 3. hot add while logged in
probe $H1 luns mark "$T/h1.ready" wait-lun 2 20 luns logins >"$T/h1.out" &
P1=$!
probe $H2 luns mark "$T/h2.ready" wait-lun 2 4 luns >"$T/h2.out" &
P2=$!
PIDS+=("$P1" "$P2")
wait_for 20 "probes logged in" test -e "$T/h1.ready" -a -e "$T/h2.ready"
# who is logged in: both vHBAs' WWPNs with their names and masks
expect_match "^  logins             2$" show targets tgt1
expect_match "^    initiator 50:01:39:70:00:00:00:21  vhba h1  LUNs 0,1$" show targets tgt1
expect_match "^    initiator 50:01:39:70:00:00:00:31  vhba h2  LUNs 0$" show targets tgt1
expect_match "^      logged in since [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC \([0-9]+ s\), [0-9]+ outstanding, [0-9]+ of [0-9]+ commands done, IU 1024 bytes$" show targets tgt1
CHECKS=$((CHECKS + 1))
"$XCM" --json show targets tgt1 | python3 -c '
import json, sys, time
t = json.load(sys.stdin)["targets"][0]
ch = {c["initiator"]: c for c in t["status"]["channels"]}
assert set(ch) == {"50:01:39:70:00:00:00:21", "50:01:39:70:00:00:00:31"}, ch
h1 = ch["50:01:39:70:00:00:00:21"]
assert h1["vhba"] == "h1" and h1["luns"] == "0,1", h1
assert h1["port_id"] == "00000000000000005001397000000021", h1
assert abs(h1["login_time"] - time.time()) < 60, h1
assert h1["commands"] >= 1 and h1["completed"] <= h1["commands"], h1
assert h1["outstanding"] >= 0 and h1["it_iu_len"] == 1024, h1
assert ch["50:01:39:70:00:00:00:31"]["vhba"] == "h2"
' || fail "xcm --json show targets tgt1: channels not as expected: $("$XCM" --json show targets tgt1)"
expect_out "lun 2 of target tgt1 added" 0 lun add tgt1 2 --storage disk2
wait "$P1"; wait "$P2"
# both logged out when they ended: no channel listed any more
wait_for 10 "h1 and h2 gone from show targets tgt1" sh -c \
	"\"$XCM\" show targets tgt1 | grep -q '^  logins             0\$'"
CHECKS=$((CHECKS + 1))
if "$XCM" show targets tgt1 | grep -q "initiator 50:01:39:70:00:00:00:21"; then
	fail "h1 still listed after its logout: $("$XCM" show targets tgt1)"
fi
CHECKS=$((CHECKS + 1))
[ "$("$XCM" --json show targets tgt1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["targets"][0]["status"]["channels"]))')" = 0 ] ||
	fail "channels left in --json after the logouts"
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/h1.out")" = "luns 0,1
lun 2 seen
luns 0,1,2
logins 1" ] || { fail "h1 did not see LUN 2 in its first login"; sed 's/^/    |/' "$T/h1.out"; }
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/h2.out")" = "luns 0
lun 2 not seen
luns 0" ] || { fail "h2 (mask 0) saw more than LUN 0"; sed 's/^/    |/' "$T/h2.out"; }
expect_out "vhba h2 updated
vhba h2 configured; profile p1 binds no host yet" 0 vhba set h2 --lun-mask 0,2
expect_probe "luns 0,2" $H2 luns

# ---- 4. a back end that does not open
expect_out "storage gone added" 0 storage add gone --file "$T/gone.img" --size 1M
rm -f "$T/gone.img"
expect_out "lun 3 of target tgt1 added" 0 lun add tgt1 3 --storage gone
wait_for 20 "storage gone in error" sh -c "\"$XCM\" show storage gone | grep -q 'state     error'"
expect_out "storage gone
  type      file
  location  $T/gone.img
  size      1MiB
  LUN       tgt1/3
  state     error: cannot open file $T/gone.img: No such file or directory" 0 show storage gone
expect_probe "luns 0,1,2" $H1 luns
expect_out "lun 3 of target tgt1 deleted" 0 lun delete tgt1 3
expect_out "storage gone deleted" 0 storage delete gone
# a target whose service ID is taken (the XCM's own): shown, nothing else hurt
expect_out "target clash added (WWPN 00:00:00:00:02:13:97:01)" 0 target add clash --wwpn 0000000002139701
expect_match "^clash +00:00:00:00:02:13:97:01 +- +- +error: cannot listen on service ID 0x0000000002139701: taken by another service +0$" show targets
expect_out "target clash deleted" 0 target delete clash
# an iSCSI portal that accepts and never answers: the login waits for its
# timeout on the open thread while the director goes on answering
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c = []
while True:
    c.append(s.accept()[0])
' >"$T/mute.port" 2>/dev/null &
PIDS+=("$!")
wait_for 10 "mute portal" test -s "$T/mute.port"
expect_out "storage mute added" 0 storage add mute --iscsi "iscsi://127.0.0.1:$(cat "$T/mute.port")/iqn.2026-01.com.example:mute/0"
t0=$(date +%s%N)
expect_out "lun 4 of target tgt1 added" 0 lun add tgt1 4 --storage mute
expect_match "^  state     opening$" show storage mute
expect_probe "luns 0,1,2" $H1 luns
CHECKS=$((CHECKS + 1))
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 5000 ] || fail "the director answered only after $ms ms while an iSCSI login hung"
echo "lun add + show storage + an SRP login took $ms ms while the iSCSI login hung"
expect_out "lun 4 of target tgt1 deleted" 0 lun delete tgt1 4
expect_out "storage mute deleted" 0 storage delete mute

# ---- 5. SIGKILL + restart: served again from the store
kill -KILL "$DIRECTOR_PID"; wait "$DIRECTOR_PID" 2>/dev/null
start_director
CHECKS=$((CHECKS + 1))
[ "$(dlid)" = "$DLID" ] || fail "the director's LID changed across the restart"
wait_state disk0 online
wait_state disk2 online
expect_probe "luns 0,1,2
read equal" $H1 luns read 0 1048576 262144 5
expect_probe "luns 0,2" $H2 luns
expect_match "^tgt1 +50:01:39:70:00:00:00:10 +0,1,2 +h1,h2 +serving" show targets
# SIGTERM with an initiator logged in: it is logged out by the target
probe $H1 luns mark "$T/h1b.ready" wait-lun 9 30 >"$T/h1b.out" &
P3=$!
PIDS+=("$P3")
wait_for 20 "probe logged in" test -e "$T/h1b.ready"
kill -TERM "$DIRECTOR_PID"; wait "$DIRECTOR_PID" 2>/dev/null
CHECKS=$((CHECKS + 1))
grep -q "target tgt1: stops serving (initiators logged out)" "$T/director.log" ||
	fail "no clean target stop in the director log"
kill "$P3" 2>/dev/null; wait "$P3" 2>/dev/null
finish
