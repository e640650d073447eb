#!/bin/bash
# SPDX-License-Identifier: MIT
# The vHBA end to end on the soft fabric: xs-fabricd, the director
# (xsdirectord) and a host agent (xscored) with its vHBA module; storage,
# a target, LUNs and a vHBA configured with xcm; the LUNs used as files
# under a private mount root (--vhba-root):
#  1. the LUN file appears sized to the LUN; a LUN outside the vHBA's mask
#     is not there;
#  2. fio random writes then verify (crc32c) through the file; the backing
#     file holds the same bytes;
#  3. `xsctl vhba show`: the target up, logged in once, the LUNs with
#     vendor/product; the director sees the vHBA up;
#  4. the director SIGKILLed in the middle of a fio write run and restarted
#     within the link-down timeout: zero I/O errors, verify passes, the host
#     logged in again;
#  5. a LUN hot-added with xcm shows up as a new file; a write past its end
#     is EIO on the host, with the target's ILLEGAL REQUEST / LBA OUT OF
#     RANGE sense decoded by the initiator and counted;
#  6. xcm vhba set --queue-depth applies live (new login, files stay);
#  7. the director gone longer than the link-down timeout (3 s): a read
#     fails with EIO after the timeout, not before, and works again once
#     the director is back;
#  8. xcm vhba delete unmounts; SIGTERM of xscored with a vHBA mounted
#     leaves no mount behind.
# Needs root, /dev/fuse and fio.
. "$(dirname "$0")/../director/lib.sh"

ROOT=$T/vhba
cd "$T" || exit 1   # fio writes its verify state files in the working directory
TW=5001397000000010       # the target's WWPN
VW=5001397000000021       # the vHBA's WWPN
SOCK=$T/hostA/xscored-port-hostA.sock

unmount_stale() {
	local m
	for m in $(awk -v r="$ROOT" 'index($2, r) == 1 { print $2 }' /proc/mounts); do
		umount -l "$m" 2>/dev/null
	done
}
trap 'unmount_stale; cleanup' EXIT

[ "$(id -u)" = 0 ] || { fail "needs root (FUSE mounts)"; finish; }
[ -c /dev/fuse ] || { fail "no /dev/fuse"; finish; }
command -v fio >/dev/null || { fail "fio is not installed"; finish; }

start_host() {
	mkdir -p "$T/hostA"
	"$XSCORED" -f -F "soft:$T/fabric.sock" -p port-hostA -H hostA -s "$T/hostA" \
		--backoff-max 2 --vhba-root "$ROOT" >>"$T/hostA.log" 2>&1 &
	HOST_PID=$!
	PIDS+=("$HOST_PID")
}
vjson() { # python expression on the first vHBA's "io" object (v) -> printed
	"$XSCTL" -S "$SOCK" vhba show --json 2>/dev/null | python3 -c "
import json, sys
d = [x for x in json.load(sys.stdin)['hosts'][0]['devices'] if x['type'] == 'vhba']
v = d[0]['io'] if d else None
print($1)"
}
check() { # DESCRIPTION COMMAND...: one counted check
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	"$@" || fail "$what"
}
L=$ROOT/vh1/tgt1

start_fabricd
start_director
expect_out "config hello-interval set to 1" 0 config set hello-interval 1
expect_out "profile p1 added" 0 profile add p1 --hostname hostA
expect_out "storage d0 added" 0 storage add d0 --file "$T/d0.img" --size 256M
expect_out "storage d1 added" 0 storage add d1 --file "$T/d1.img" --size 64M
expect_out "storage d2 added" 0 storage add d2 --file "$T/d2.img" --size 32M
expect_out "target tgt1 added (WWPN 50:01:39:70:00:00:00:10)" 0 target add tgt1 --wwpn $TW
expect_out "lun 0 of target tgt1 added" 0 lun add tgt1 0 --storage d0
expect_out "lun 1 of target tgt1 added" 0 lun add tgt1 1 --storage d1
expect_match "^vhba vh1 added" vhba add vh1 --profile p1 --target tgt1 --wwpn $VW \
	--wwnn 5001397000000020 --lun-mask 0,2 --link-down-timeout 30 --queue-depth 32
start_host

# ---- 1. the LUN file, sized; the masked LUN absent
# (a failure here ends the test: fio must not write into a plain directory)
wait_for 30 "$L/lun0" mountpoint -q "$L" || finish
wait_for 30 "$L/lun0" test -e "$L/lun0" || finish
check "lun0 size $(stat -c %s "$L/lun0" 2>&1)" test "$(stat -c %s "$L/lun0")" = 268435456
check "masked lun1 is visible" test ! -e "$L/lun1"
check "directory listing: $(ls "$L" 2>&1 | tr '\n' ' ')" test "$(ls "$L")" = lun0
echo "LUN files: $(ls "$L" | tr '\n' ' ')(lun1 masked)"

# ---- 2. fio random writes then verify; the bytes in the backing file
fio --name=verify --filename="$L/lun0" --rw=randwrite --bs=4k --size=32M \
	--ioengine=libaio --iodepth=32 --direct=1 --verify=crc32c --verify_fatal=1 \
	--output="$T/fio-verify.txt" 2>"$T/fio-verify.log"
check "fio randwrite+verify failed" grep -q "err= 0" "$T/fio-verify.txt"
check "verify did not read 32 MiB" grep -Eq "read: IOPS=.*\(32.0MiB/" "$T/fio-verify.txt"
check "backing file differs from the LUN file" cmp -n 33554432 "$T/d0.img" "$L/lun0"
echo "fio randwrite 32 MiB QD32 + crc32c verify through $L/lun0: ok"

# ---- 3. xsctl vhba show; the director's view
wait_for 20 "vHBA oper up on the host" bash -c "'$XSCTL' -S '$SOCK' vhba show | grep -q '^vhba vh1  admin up  oper up'"
"$XSCTL" -S "$SOCK" vhba show >"$T/show.txt"
cat "$T/show.txt"
check "xsctl vhba show header: $(head -1 "$T/show.txt")" grep -Eq \
	"^vhba vh1  admin up  oper up  wwpn 0x5001397000000021  queue depth 32  exec throttle [0-9]+  link-down timeout 30s  in flight 0$" "$T/show.txt"
check "xsctl vhba show target line" grep -Eq \
	"^  tgt1 +0x5001397000000010 +up +1 +0 +[0-9]+ +0 +0 +0 +0 +$L$" "$T/show.txt"
check "xsctl vhba show LUN line" grep -Eq \
	"^    0 +256\.0 MiB +512 +[A-Z]+ +.+ +0 +[0-9]+ +[0-9]+ +0$" "$T/show.txt"
check "xsctl vhba show lists a masked LUN" test "$(grep -Ec '^    [0-9]' "$T/show.txt")" = 1
check "vhba show NAME" "$XSCTL" -S "$SOCK" vhba show vh1
CHECKS=$((CHECKS + 1))
out=$("$XSCTL" -S "$SOCK" vhba show nosuch 2>&1); rc=$?
[ "$out" = "xsctl: no vHBA named 'nosuch'" ] && [ $rc = 1 ] || fail "vhba show nosuch: rc $rc: $out"
check "LUN 0 write count in JSON" test "$(vjson "v['targets'][0]['luns'][0]['writes'] > 0")" = True
wait_for 20 "the director sees vh1 up" bash -c "'$XCM' show vhba | grep -Eq '^vh1 .* up'"

# ---- 4. the director SIGKILLed during a fio write run, back within the link-down timeout
fio --name=kill --filename="$L/lun0" --rw=randwrite --bs=4k --size=160M \
	--ioengine=libaio --iodepth=16 --direct=1 --verify=crc32c --verify_fatal=1 \
	--output="$T/fio-kill.txt" 2>"$T/fio-kill.log" &
FIO_PID=$!
sleep 1
CHECKS=$((CHECKS + 1))
kill -0 $FIO_PID 2>/dev/null || fail "fio finished before the kill (make the run longer)"
kill -KILL "$DIRECTOR_PID"
wait "$DIRECTOR_PID" 2>/dev/null
echo "director killed with SIGKILL while fio was writing"
sleep 2
start_director
wait $FIO_PID
check "fio failed across the director restart" grep -q "err= 0" "$T/fio-kill.txt"
check "the host did not log in again" test "$(vjson "v['targets'][0]['reconnects'] >= 1")" = True
check "commands timed out" test "$(vjson "v['targets'][0]['timed_out']")" = 0
echo "director restart during fio writes: zero errors, verify passed, reconnects $(vjson "v['targets'][0]['reconnects']")"

# ---- 5. hot-add, and a write past the end
expect_out "lun 2 of target tgt1 added" 0 lun add tgt1 2 --storage d2
wait_for 20 "hot-added $L/lun2" test -e "$L/lun2" || finish
check "lun2 size" test "$(stat -c %s "$L/lun2")" = 33554432
head -c 1048576 /dev/urandom >"$T/pat"
dd if="$T/pat" of="$L/lun2" bs=1M conv=notrunc,fsync status=none
check "lun2 data not in d2.img" cmp -n 1048576 "$T/pat" "$T/d2.img"
echo "hot-added lun2 seen and written: $(ls "$L" | tr '\n' ' ')"
e0=$(vjson "v['targets'][0]['errors']")
CHECKS=$((CHECKS + 1))
if dd if="$T/pat" of="$L/lun2" bs=4096 count=1 seek=8192 conv=notrunc status=none 2>"$T/dd.err"; then
	fail "a write past the end of lun2 succeeded"
fi
check "dd past the end: $(cat "$T/dd.err")" grep -q "Input/output error" "$T/dd.err"
check "the initiator did not count the error" test "$(vjson "v['targets'][0]['errors']")" = $((e0 + 1))
check "lun2 last error" test "$(vjson "v['targets'][0]['luns'][1]['last_error']")" = "Input/output error"
check "no ILLEGAL REQUEST / LBA OUT OF RANGE sense in the host log" \
	grep -q "LUN I/O failed: sense key 0x5 ASC/ASCQ 21/00" "$T/hostA.log"
echo "write past the end of lun2: EIO, sense 5/21/00 from the target"

# ---- 6. a live queue depth change
"$XCM" vhba set vh1 --queue-depth 16 >/dev/null
qd16_up() {
	"$XSCTL" -S "$SOCK" vhba show >"$T/show16.txt" &&
		grep -q "  queue depth 16  " "$T/show16.txt" &&
		grep -Eq "^  tgt1 +0x5001397000000010 +up " "$T/show16.txt"
}
wait_for 20 "new login with queue depth 16" qd16_up
check "restart count" test "$(vjson "v['targets'][0]['restarts']")" = 1
check "lun0 still there" cmp -n 1048576 "$T/d0.img" "$L/lun0"
echo "queue depth 16 applied live: $(vjson "v['targets'][0]['logins']") logins"

# ---- 7. the director gone for longer than the link-down timeout: EIO, not before
"$XCM" vhba set vh1 --link-down-timeout 3 >/dev/null
ldt3_up() {
	"$XSCTL" -S "$SOCK" vhba show >"$T/show3.txt" &&
		grep -q "  link-down timeout 3s  " "$T/show3.txt" &&
		grep -Eq "^  tgt1 +0x5001397000000010 +up " "$T/show3.txt"
}
wait_for 20 "new login with link-down timeout 3 s" ldt3_up
kill -KILL "$DIRECTOR_PID"
wait "$DIRECTOR_PID" 2>/dev/null
t0=$(date +%s%N)
CHECKS=$((CHECKS + 1))
if dd if="$L/lun0" of=/dev/null bs=4096 count=1 skip=100 iflag=direct status=none 2>"$T/dd-ldt.err"; then
	fail "a read with the director gone past the link-down timeout succeeded"
fi
ms=$((($(date +%s%N) - t0) / 1000000))
check "dd with the director gone: $(cat "$T/dd-ldt.err")" grep -q "Input/output error" "$T/dd-ldt.err"
check "EIO after $ms ms: not held for the 3 s link-down timeout" test "$ms" -ge 2500 -a "$ms" -lt 10000
check "timed_out not counted" test "$(vjson "v['targets'][0]['timed_out'] >= 1")" = True
start_director
wait_for 30 "target up again after the director's restart" bash -c "'$XSCTL' -S '$SOCK' vhba show | grep -Eq '^  tgt1 +0x5001397000000010 +up '"
check "read after the director came back" dd if="$L/lun0" of=/dev/null bs=4096 count=1 skip=100 iflag=direct status=none
echo "director gone past the 3 s link-down timeout: EIO after $ms ms; reads work again after its restart"

# ---- 8. delete unmounts; SIGTERM leaves no mount
expect_match "^vhba vh1 deleted" vhba delete vh1
wait_for 20 "vh1 unmounted" bash -c "! grep -q ' $ROOT/' /proc/mounts && [ ! -e '$ROOT/vh1' ]"
expect_match "^vhba vh2 added" vhba add vh2 --profile p1 --target tgt1 --wwpn 5001397000000031 \
	--wwnn 5001397000000030
wait_for 30 "vh2's lun0" test -e "$ROOT/vh2/tgt1/lun0"
check "vh2 sees lun1 (no mask)" test -e "$ROOT/vh2/tgt1/lun1"
kill -TERM "$HOST_PID"
wait "$HOST_PID"
rc=$?
check "xscored exit status $rc after SIGTERM" test $rc = 0
check "a mount is left after SIGTERM" bash -c "! grep -q ' $ROOT/' /proc/mounts"
check "vh2's directory is left" test ! -e "$ROOT/vh2"
echo "xcm vhba delete unmounted vh1; SIGTERM unmounted vh2"
finish
