#!/bin/bash
# SPDX-License-Identifier: MIT
# fio's external ioengine on the xsvhba initiator library, against xsd-srpt:
#  1. random writes then verify (crc32c), iodepth 32, on a file LUN;
#  2. bytes fio wrote land in the target's backing file (buffer_pattern);
#  3. bytes put in the backing file are what fio reads (verify_only pattern),
#     and a wrong pattern is caught (the check can fail);
#  4. two jobs (two logins) with fsync on a RAM LUN, verify;
#  5. a LUN that does not exist: fio fails with the engine's message.
#
# usage: vhba_fio_test.sh XS-FABRICD XSD-SRPT XSVHBA_FIO.SO WORKDIR
set -u
FABRICD=$1 SRPT=$2 ENGINE=$3 WORK=$4
fail() { echo "FAIL: $*" >&2; dump; exit 1; }
dump() { for f in "$WORK"/*.log "$WORK"/*.txt; do [ -e "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done >&2; }
cleanup() {
	[ -n "${TGT_PID:-}" ] && kill "$TGT_PID" 2>/dev/null
	[ -n "${FD_PID:-}" ] && kill "$FD_PID" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT
command -v fio >/dev/null || fail "fio is not installed"
rm -rf "$WORK" && mkdir -p "$WORK" || fail "cannot create $WORK"
cd "$WORK" || fail "cannot enter $WORK"   # fio writes its verify state files here
SOCK=$WORK/fabric.sock

"$FABRICD" -f -s "$SOCK" 2>"$WORK/fabricd.log" &
FD_PID=$!
for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "xs-fabricd did not start"
cat >"$WORK/srpt.conf" <<CONF
lun 0 $WORK/lun0.img size=67108864
lun 1 ram size=33554432
CONF
"$SRPT" -F "soft:$SOCK" -p target -c "$WORK/srpt.conf" 2>"$WORK/srpt.log" &
TGT_PID=$!
for i in $(seq 100); do
	grep -q 'ready:' "$WORK/srpt.log" 2>/dev/null && break
	kill -0 "$TGT_PID" 2>/dev/null || fail "xsd-srpt did not start"
	sleep 0.05
done
grep -q 'ready:' "$WORK/srpt.log" || fail "xsd-srpt not ready within 5 s"

# The target port attached first: LID 2.
E=(--ioengine="external:$ENGINE" --filename=lun0 --xs_fabric="soft:$SOCK" --xs_target_lid=2)

# 1. random writes then verify.
fio --name=verify "${E[@]}" --rw=randwrite --bs=4k --size=32M --iodepth=32 \
	--verify=crc32c --verify_fatal=1 --output="$WORK/fio-verify.txt" 2>"$WORK/fio-verify.log" \
	|| fail "fio randwrite+verify failed"
grep -q "ioengine=xsvhba, iodepth=32" "$WORK/fio-verify.txt" || fail "fio did not use the xsvhba engine"
grep -q "err= 0" "$WORK/fio-verify.txt" || fail "fio verify reported errors"
# 8192 writes of 4 KiB, each read back for verify.
grep -Eq "read: IOPS=.*\(32.0MiB/" "$WORK/fio-verify.txt" || fail "verify did not read 32 MiB"
echo "fio randwrite 32 MiB QD32 + crc32c verify through the engine: ok"

# 2. Written bytes land in the backing file.
fio --name=pat "${E[@]}" --rw=write --bs=128k --offset=16M --size=4M --iodepth=4 \
	--buffer_pattern=0x5a --output="$WORK/fio-pat.txt" 2>"$WORK/fio-pat.log" || fail "pattern write"
head -c 4194304 /dev/zero | tr '\0' 'Z' >"$WORK/expect"
cmp -i 0:16777216 -n 4194304 "$WORK/expect" "$WORK/lun0.img" || fail "backing file does not hold fio's pattern"
echo "4 MiB of 0x5a written by fio found at 16 MiB in the backing file"

# 3. Bytes in the backing file are what fio reads.
head -c 4194304 /dev/zero | tr '\0' 'Q' | dd of="$WORK/lun0.img" bs=1M seek=40 conv=notrunc status=none
fio --name=rd "${E[@]}" --rw=read --bs=64k --offset=40M --size=4M --iodepth=8 \
	--verify=pattern --verify_pattern=0x51 --verify_only \
	--output="$WORK/fio-rd.txt" 2>"$WORK/fio-rd.log" || fail "read of 0x51 did not verify"
if fio --name=rdbad "${E[@]}" --rw=read --bs=64k --offset=40M --size=4M --iodepth=8 \
	--verify=pattern --verify_pattern=0x52 --verify_only \
	--output="$WORK/fio-rdbad.txt" 2>"$WORK/fio-rdbad.log"; then
	fail "a wrong verify pattern passed"
fi
grep -q "got pattern '51', wanted '52'" "$WORK/fio-rdbad.log" || fail "mismatch not reported as expected"
echo "backing-file bytes read back through the engine; a wrong pattern is caught"

# 4. Two jobs, two logins, fsync every 16 writes, on the RAM LUN.
# Each job verifies its own 4 MiB (offset_increment): two writers of one
# range would overwrite each other's verify headers.
fio --name=two "${E[@]}" --xs_lun=1 --numjobs=2 --rw=randwrite --bs=8k --size=4M \
	--offset_increment=4M --iodepth=16 \
	--fsync=16 --verify=crc32c --verify_fatal=1 --group_reporting \
	--output="$WORK/fio-two.txt" 2>"$WORK/fio-two.log" || fail "two-job run failed"
grep -q "err= 0" "$WORK/fio-two.txt" || fail "two-job run reported errors"
grep -q "jobs=2" "$WORK/fio-two.txt" || fail "not two jobs"
# The two logins share the WWPN (multi-channel): neither logs the other out.
if grep -E "logged us out|connection to the target lost" "$WORK/fio-two.log"; then
	fail "the two jobs' logins ended each other's channel"
fi
echo "two jobs on the RAM LUN with fsync + verify: ok"

# 5. No such LUN.
if fio --name=nolun "${E[@]}" --xs_lun=7 --rw=read --size=1M \
	--output="$WORK/fio-nolun.txt" 2>"$WORK/fio-nolun.log"; then
	fail "fio succeeded on a LUN that does not exist"
fi
grep -q "xsvhba: the target has no LUN 7 (or it is masked)" "$WORK/fio-nolun.log" "$WORK/fio-nolun.txt" \
	|| fail "no clear error for a missing LUN"
echo "missing LUN 7: fio fails with \"the target has no LUN 7\""
echo PASS
