# nbd.sh - guest script: a vHBA LUN as /dev/nbdN over real verbs (rdma_rxe).
#   1  xsd-srpt on rxe1 with a 64 MiB RAM LUN
#   2  xsvhba-fuse --nbd on rxe0 logs in over RoCE: "lun0 -> /dev/nbdN",
#      the block device has the LUN's size, the FUSE file too
#   3  4 MiB written to /dev/nbdN with O_DIRECT read back equal (sha256),
#      and the same bytes through the FUSE file; 1 MiB written through the
#      FUSE file read back through /dev/nbdN; blkdiscard of 1 MiB (UNMAP)
#      reads back as zeros through both, the MiB before it intact
#   4  SIGTERM: exit 0, the nbd device disconnected (no pid, size 0, a
#      read gets nothing), the target saw the logout
. /xs/guest-lib.sh
W=/tmp/nbd
mkdir -p "$W"

# --- 1. our SRP target on rxe1: one RAM LUN
c=srpt-ram-lun
printf 'lun 0 ram size=67108864\n' > "$W/srpt.conf"
bg srpt xsd-srpt -F verbs:rxe1:1 -c "$W/srpt.conf"
wait_for 20 grep -q "ready: 1 LUN" "$LOGS/srpt.log" || fail $c "xsd-srpt did not come up on rxe1"
pass "$c"

# --- 2. xsvhba-fuse --nbd on rxe0
c=vhba-nbd-export
modprobe fuse || fail $c "modprobe fuse"
modprobe nbd || fail $c "modprobe nbd"
bg vhba xsvhba-fuse -F verbs:rxe0:1 -g "$RXE1_GID1" -m "$W/vhba" -W 40 --nbd
wait_for 45 grep -q "^lun0 -> /dev/nbd[0-9]*$" "$LOGS/vhba.log" ||
	fail $c "xsvhba-fuse printed no 'lun0 -> /dev/nbdN' line"
DEV=$(sed -n 's|^lun0 -> /dev/\(nbd[0-9]*\)$|\1|p' "$LOGS/vhba.log" | head -n1)
[ -b /dev/$DEV ] || fail $c "/dev/$DEV is not a block device"
sz=$(blockdev --getsize64 /dev/$DEV) || fail $c "blockdev --getsize64 /dev/$DEV"
[ "$sz" = 67108864 ] || fail $c "/dev/$DEV has $sz bytes, expected 67108864"
[ "$(cat /sys/block/$DEV/size)" = 131072 ] || fail $c "/sys/block/$DEV/size is $(cat /sys/block/$DEV/size)"
pid=$(cat /sys/block/$DEV/pid 2>/dev/null)
[ -n "$pid" ] || fail $c "/sys/block/$DEV/pid missing: not connected"
wait_for 5 test -e "$W/vhba/lun0" || fail $c "no FUSE file lun0"
fsz=$(stat -c %s "$W/vhba/lun0")
[ "$fsz" = 67108864 ] || fail $c "the FUSE file has $fsz bytes"
pass "$c (/dev/$DEV $sz bytes, nbd pid $pid; lun0 file $fsz bytes)"

# --- 3. data through /dev/nbdN and the FUSE file
c=vhba-nbd-data
head -c 4194304 /dev/urandom > "$W/pat4"
want=$(sha256sum < "$W/pat4" | cut -d' ' -f1)
dd if="$W/pat4" of=/dev/$DEV bs=1M seek=8 oflag=direct status=none ||
	fail $c "dd write to /dev/$DEV: $(dmesg | grep -i nbd | tail -n 5)"
got=$(dd if=/dev/$DEV bs=1M skip=8 count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail $c "read back through /dev/$DEV: sha256 $got, wrote $want"
got2=$(dd if="$W/vhba/lun0" bs=1M skip=8 count=4 status=none | sha256sum | cut -d' ' -f1)
[ "$got2" = "$want" ] || fail $c "the FUSE file at 8 MiB: sha256 $got2, wrote $want"
head -c 1048576 /dev/urandom > "$W/pat1"
want1=$(sha256sum < "$W/pat1" | cut -d' ' -f1)
dd if="$W/pat1" of="$W/vhba/lun0" bs=1M seek=20 conv=notrunc status=none || fail $c "dd write to the FUSE file"
got1=$(dd if=/dev/$DEV bs=64k skip=320 count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ "$got1" = "$want1" ] || fail $c "FUSE-written MiB through /dev/$DEV: sha256 $got1, wrote $want1"
# a flush reaches the target (SYNCHRONIZE CACHE) without error
sync /dev/$DEV 2>/dev/null || blockdev --flushbufs /dev/$DEV || fail $c "flush of /dev/$DEV"
grep -q "is /dev/$DEV" "$LOGS/vhba.log" && grep -q "trim as UNMAP) is /dev/$DEV" "$LOGS/vhba.log" ||
	fail $c "the RAM LUN (UNMAP in its VPD B0) was not exported with trim"
# discard 1 MiB in the middle of the pattern: UNMAP on the RAM LUN zeroes it
blkdiscard -o 9437184 -l 1048576 /dev/$DEV || fail $c "blkdiscard of /dev/$DEV: $(dmesg | grep -i nbd | tail -n 5)"
zero=$(head -c 1048576 /dev/zero | sha256sum | cut -d' ' -f1)
gotz=$(dd if=/dev/$DEV bs=1M skip=9 count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ "$gotz" = "$zero" ] || fail $c "the discarded MiB at 9 MiB does not read back as zeros"
gotf=$(dd if="$W/vhba/lun0" bs=1M skip=9 count=1 status=none | sha256sum | cut -d' ' -f1)
[ "$gotf" = "$zero" ] || fail $c "the discarded MiB is not zeros through the FUSE file"
want8=$(head -c 1048576 "$W/pat4" | sha256sum | cut -d' ' -f1)
got8=$(dd if=/dev/$DEV bs=1M skip=8 count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ "$got8" = "$want8" ] || fail $c "the MiB before the discarded one changed"
pass "$c (4 MiB sha256 ${want:0:16}... equal through nbd and FUSE; 1 MiB FUSE -> nbd equal; blkdiscard 1 MiB -> zeros, its neighbour intact)"

# --- 4. SIGTERM: the nbd device is disconnected
c=vhba-nbd-teardown
stop vhba
rc=$?
[ $rc = 0 ] || fail $c "xsvhba-fuse exited with $rc on SIGTERM"
grep -q "/dev/$DEV disconnected" "$LOGS/vhba.log" || fail $c "no 'disconnected' line in the log"
wait_for 10 bash -c "! test -e /sys/block/$DEV/pid" || fail $c "/sys/block/$DEV/pid still there"
s=$(cat /sys/block/$DEV/size)
[ "$s" = 0 ] || fail $c "/dev/$DEV still has $s sectors"
wait_for 10 grep -q "initiator 0x2100001397000001: initiator logged out" "$LOGS/srpt.log" ||
	fail $c "the target saw no logout"
n=$(dd if=/dev/$DEV bs=4k count=1 iflag=direct status=none 2>/dev/null | wc -c)
[ "$n" = 0 ] || fail $c "$n bytes read from the disconnected /dev/$DEV"
stop srpt
pass "$c (/dev/$DEV: no pid, size 0, a read gets 0 bytes; the target saw the logout)"

finish
