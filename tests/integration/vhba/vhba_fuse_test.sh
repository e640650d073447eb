#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end: xs-fabricd, an SRP target process (xsd-srpt) on file LUNs, and
# xsvhba-fuse mounting them; fio with crc32c verify through the FUSE file;
# the target killed with SIGKILL in the middle of a fio write run and
# restarted within the link-down timeout (no I/O error, verify passes); a
# masked LUN invisible; a LUN hot-added and seen, another removed and gone;
# clean unmount on SIGTERM.
#
# usage: vhba_fuse_test.sh XS-FABRICD XSD-SRPT XSVHBA-FUSE WORKDIR
set -u
FABRICD=$1 SRPT=$2 FUSE=$3 WORK=$4
WWPN=2100001397000001
fail() { echo "FAIL: $*" >&2; dump; exit 1; }
dump() {
	for f in "$WORK"/*.log; do echo "--- $f"; tail -n 30 "$f"; done >&2
}
cleanup() {
	[ -n "${FUSE_PID:-}" ] && kill "$FUSE_PID" 2>/dev/null && wait "$FUSE_PID" 2>/dev/null
	mountpoint -q "$WORK/mnt" 2>/dev/null && fusermount3 -u "$WORK/mnt" 2>/dev/null
	[ -n "${TGT_PID:-}" ] && kill "$TGT_PID" 2>/dev/null
	[ -n "${FD_PID:-}" ] && kill "$FD_PID" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "needs root (FUSE mount)"
[ -c /dev/fuse ] || fail "no /dev/fuse"
command -v fio >/dev/null || fail "fio is not installed"
rm -rf "$WORK" && mkdir -p "$WORK/mnt" || fail "cannot create $WORK"
SOCK=$WORK/fabric.sock

"$FABRICD" -f -s "$SOCK" 2>"$WORK/fabricd.log" &
FD_PID=$!
for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "xs-fabricd did not start"

cat >"$WORK/srpt.conf" <<CONF
lun 0 $WORK/lun0.img size=268435456
lun 1 $WORK/lun1.img size=67108864
lun 5 $WORK/lun5.img size=16777216
mask $WWPN 0,1,2
CONF

start_target() {
	for i in $(seq 50); do
		"$SRPT" -F "soft:$SOCK" -p target -c "$WORK/srpt.conf" 2>>"$WORK/srpt.log" &
		TGT_PID=$!
		sleep 0.2
		kill -0 "$TGT_PID" 2>/dev/null && return 0
		wait "$TGT_PID" 2>/dev/null   # port name still held by the dead one: retry
	done
	fail "xsd-srpt did not start"
}
start_target
# The target port attached first: LID 2.
"$FUSE" -F "soft:$SOCK" -t 2 -w $WWPN -q 32 -l 20000 -m "$WORK/mnt" 2>"$WORK/fuse.log" &
FUSE_PID=$!
for i in $(seq 100); do [ -e "$WORK/mnt/lun0" ] && break; sleep 0.1; done
[ -e "$WORK/mnt/lun0" ] || fail "lun0 did not appear"

# 1. Sizes and masking.
[ "$(stat -c %s "$WORK/mnt/lun0")" = 268435456 ] || fail "lun0 size"
[ "$(stat -c %s "$WORK/mnt/lun1")" = 67108864 ] || fail "lun1 size"
[ -e "$WORK/mnt/lun5" ] && fail "masked LUN 5 is visible"
echo "LUNs: $(ls "$WORK/mnt" | tr '\n' ' ') (lun5 masked)"

# 2. fio random writes then verify (crc32c), data checked against the backing file too.
fio --name=verify --filename="$WORK/mnt/lun1" --rw=randwrite --bs=4k --size=32M \
	--ioengine=libaio --iodepth=32 --direct=1 --verify=crc32c --verify_fatal=1 \
	--output="$WORK/fio-verify.txt" || fail "fio verify run failed"
grep -q "err= 0" "$WORK/fio-verify.txt" || fail "fio verify reported errors"
cmp -n 33554432 "$WORK/lun1.img" "$WORK/mnt/lun1" || fail "backing file differs from the FUSE file"
echo "fio randwrite+verify crc32c through FUSE: ok"

# 3. SIGKILL the target during a fio write run, restart it within the link-down timeout.
fio --name=kill --filename="$WORK/mnt/lun0" --rw=randwrite --bs=4k --size=160M \
	--ioengine=libaio --iodepth=16 --direct=1 --verify=crc32c --verify_fatal=1 \
	--output="$WORK/fio-kill.txt" &
FIO_PID=$!
sleep 1
kill -0 $FIO_PID 2>/dev/null || fail "fio finished before the kill (make the run longer)"
kill -KILL "$TGT_PID"
wait "$TGT_PID" 2>/dev/null
echo "target killed with SIGKILL while fio was writing"
sleep 2
start_target
wait $FIO_PID || fail "fio failed across the target restart"
grep -q "err= 0" "$WORK/fio-kill.txt" || fail "fio reported I/O errors across the restart"
grep -q "reconnected" "$WORK/fuse.log" || fail "the initiator did not log a reconnect"
echo "target restart during fio writes: zero errors, verify passed"

# 4. Hot-add LUN 2 (visible through the mask) and see it.
echo "lun 2 $WORK/lun2.img size=33554432" >>"$WORK/srpt.conf"
kill -HUP "$TGT_PID"
for i in $(seq 100); do [ -e "$WORK/mnt/lun2" ] && break; sleep 0.1; done
[ -e "$WORK/mnt/lun2" ] || fail "hot-added lun2 did not appear"
[ "$(stat -c %s "$WORK/mnt/lun2")" = 33554432 ] || fail "lun2 size"
head -c 1048576 /dev/urandom >"$WORK/pat"
dd if="$WORK/pat" of="$WORK/mnt/lun2" bs=1M conv=notrunc,fsync status=none || fail "write lun2"
cmp -n 1048576 "$WORK/pat" "$WORK/lun2.img" || fail "lun2 data"
echo "hot-added lun2 seen and written"

# 5. Remove LUN 1 on the target: its file goes away.
sed -i '/^lun 1 /d' "$WORK/srpt.conf"
kill -HUP "$TGT_PID"
for i in $(seq 100); do [ -e "$WORK/mnt/lun1" ] || break; sleep 0.1; done
[ -e "$WORK/mnt/lun1" ] && fail "removed lun1 is still there"
[ -e "$WORK/mnt/lun0" ] || fail "lun0 went away with lun1"
echo "removed lun1 gone: $(ls "$WORK/mnt" | tr '\n' ' ')"

# 6. Clean unmount on SIGTERM.
kill -TERM "$FUSE_PID"
wait "$FUSE_PID"
rc=$?
FUSE_PID=
[ $rc = 0 ] || fail "xsvhba-fuse exit status $rc"
mountpoint -q "$WORK/mnt" && fail "still mounted after SIGTERM"
echo "unmounted on SIGTERM"
echo PASS
