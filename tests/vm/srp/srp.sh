# srp.sh - guest script: SRP over real verbs (rdma_rxe), our vHBA and target
# against each other and against the kernel's SRP initiator and target.
#   1-4  xsd-srpt on rxe1, xsvhba-fuse on rxe0 logging in over RoCE; fio
#        verify (crc32c, random writes then verify) through the FUSE file
#   5-8  Interop A: the kernel's ib_srp (rxe0) logs in to xsd-srpt; the LUNs
#        are SCSI disks; what our initiator wrote reads back through sdX; a
#        dd write + read-back; the remote port deleted: its channels close
#   9-10 Interop B: LIO ib_srpt (configfs, fileio backstore) on rxe1;
#        xsvhba-fuse logs in; written data reads back and is in the file
# Arguments: the fio binary's name in /xs/bin (default fio).
. /xs/guest-lib.sh
W=/tmp/srp
mkdir -p "$W"
SID=0x0013970053525054          # xsd-srpt's default service ID
PORT=$((SID & 0xffff))          # its rdma_cm TCP port on RoCE (20564)
PAT=$W/pattern
head -c 1048576 /dev/urandom > "$PAT"

kernel_tail() {  # the kernel's SRP lines, for a failure message
	dmesg | grep -iE 'srp|scsi|rdma|target|LIO' | tail -n 25
}

# --- 1. our SRP target on rxe1: two RAM LUNs
c=srpt-verbs
printf 'lun 0 ram size=67108864\nlun 1 ram size=33554432\n' > "$W/srpt.conf"
bg srpt xsd-srpt -F verbs:rxe1:1 -c "$W/srpt.conf"
wait_for 20 grep -q "ready: 2 LUN" "$LOGS/srpt.log" || fail $c "xsd-srpt did not come up on rxe1"
grep -q "listening for service ID $SID on RDMA TCP port $PORT" "$LOGS/srpt.log" ||
	fail $c "xsd-srpt does not listen on RDMA TCP port $PORT"
pass "$c (rdma_cm port $PORT)"

# --- 2. our initiator on rxe0 logs in over RoCE (rdma_cm form of the login)
c=vhba-roce-login
modprobe fuse || fail $c "modprobe fuse"
bg vhba xsvhba-fuse -F verbs:rxe0:1 -g "$RXE1_GID1" -m "$W/vhba" -W 40
wait_for 45 test -e "$W/vhba/lun1" || fail $c "no LUN files under $W/vhba"
s0=$(stat -c %s "$W/vhba/lun0")
s1=$(stat -c %s "$W/vhba/lun1")
[ "$s0" = 67108864 ] && [ "$s1" = 33554432 ] || fail $c "LUN sizes $s0 $s1, expected 67108864 33554432"
grep -q "logged in to the target" "$LOGS/vhba.log" || fail $c "no login in the initiator's log"
pass "$c (lun0 $s0 bytes, lun1 $s1 bytes)"

# --- 3. fio verify through the FUSE file: random writes, then verify
c=vhba-fio-verify
fio --name=verify --filename="$W/vhba/lun0" --size=16M --rw=randwrite --bsrange=4k-128k \
	--ioengine=io_uring --iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--output-format=json --output="$W/fio.json" > "$W/fio.err" 2>&1 ||
	fail $c "fio failed: $(tail -n 5 "$W/fio.err"; tail -n 20 "$W/fio.json")"
err=$(jq -M '.jobs[0].error' "$W/fio.json")
wb=$(jq -M '.jobs[0].write.io_bytes' "$W/fio.json")
rb=$(jq -M '.jobs[0].read.io_bytes' "$W/fio.json")
[ "$err" = 0 ] || fail $c "fio job error $err"
[ "$wb" = 16777216 ] || fail $c "fio wrote $wb bytes, expected 16777216"
[ "$rb" = 16777216 ] || fail $c "fio verified $rb bytes, expected 16777216"
if grep -q "connection to the target lost" "$LOGS/vhba.log"; then
	fail $c "the initiator lost its connection during the run"
fi
pass "$c (16 MiB written at 4-128 KiB random, all read back and crc32c-checked)"

# --- 4. a pattern through our initiator for the kernel to read later
c=vhba-pattern
dd if="$PAT" of="$W/vhba/lun0" bs=1M seek=40 conv=notrunc status=none || fail $c "dd write"
dd if="$W/vhba/lun0" of="$W/back-vhba" bs=1M skip=40 count=1 status=none || fail $c "dd read"
cmp -s "$PAT" "$W/back-vhba" || fail $c "read back through FUSE differs"
stop vhba
rc=$?
[ $rc = 0 ] || fail $c "xsvhba-fuse exited with $rc on SIGTERM"
wait_for 10 grep -q "initiator 0x2100001397000001: initiator logged out" "$LOGS/srpt.log" ||
	fail $c "the target saw no logout"
pass "$c (1 MiB at 40 MiB of LUN 0; xsvhba-fuse logged out)"

# --- 5. Interop A: the kernel's ib_srp on rxe0 logs in to xsd-srpt
c=kernel-srp-login
modprobe sd_mod && modprobe ib_srp || fail $c "modprobe ib_srp"
ADD=/sys/class/infiniband_srp/srp-rxe0-1/add_target
wait_for 10 test -e $ADD || fail $c "no $ADD"
# RoCE: ib_srp connects through rdma_cm to dest=IP:port; id_ext and ioc_guid
# make the target port ID (ours: 0 and the service ID). No other option:
# ib_srp asks for its default IT IU length (8260, room for 8 KiB of
# immediate data), which xsd-srpt accepts (up to 8276 by default).
TGT="id_ext=0000000000000000,ioc_guid=${SID#0x},dest=$RXE1_IP:$PORT"
echo "$TGT" > $ADD || fail $c "add_target '$TGT' refused: $(kernel_tail)"
disk_of() {  # LUN -> sdX of an XSIGO disk
	local d
	for d in /sys/class/scsi_disk/*:"$1"; do
		[ -e "$d/device/vendor" ] || continue
		grep -q '^XSIGO' "$d/device/vendor" || continue
		ls "$d/device/block" 2>/dev/null | head -n1
		return 0
	done
	return 1
}
wait_for 40 bash -c "$(declare -f disk_of); disk_of 0 | grep -q sd && disk_of 1 | grep -q sd" ||
	fail $c "the LUNs did not appear as SCSI disks: $(kernel_tail)"
D0=$(disk_of 0)
D1=$(disk_of 1)
for d in $D0 $D1; do
	[ -b /dev/$d ] || mknod /dev/$d b $(tr : ' ' < /sys/block/$d/dev)
done
[ "$(cat /sys/block/$D0/size)" = 131072 ] || fail $c "$D0 has $(cat /sys/block/$D0/size) sectors"
[ "$(cat /sys/block/$D1/size)" = 65536 ] || fail $c "$D1 has $(cat /sys/block/$D1/size) sectors"
IGUID=$(echo "$RXE0_GUID" | tr -d :)
grep -q "initiator 0x$IGUID logged in: IU 8260 bytes" "$LOGS/srpt.log" ||
	fail $c "xsd-srpt logged no login of the kernel's port 0x$IGUID with its default 8260-byte IUs: $(grep -i "0x$IGUID" "$LOGS/srpt.log" | tail -n 3)"
pass "$c (LUN 0 /dev/$D0, LUN 1 /dev/$D1, $(grep -c "initiator 0x$IGUID logged in" "$LOGS/srpt.log") channel(s))"

# --- 6. the kernel reads what our initiator wrote
c=kernel-reads-vhba-data
dd if=/dev/$D0 of="$W/back-kernel" bs=1M skip=40 count=1 iflag=direct status=none ||
	fail $c "dd read of /dev/$D0: $(kernel_tail)"
cmp -s "$PAT" "$W/back-kernel" || fail $c "/dev/$D0 at 40 MiB differs from what xsvhba-fuse wrote"
pass "$c (/dev/$D0 at 40 MiB)"

# --- 7. dd write + read-back through the kernel initiator
c=kernel-srp-dd
head -c 4194304 /dev/urandom > "$W/pat4"
dd if="$W/pat4" of=/dev/$D1 bs=1M seek=8 oflag=direct status=none || fail $c "dd write: $(kernel_tail)"
echo 3 > /proc/sys/vm/drop_caches
dd if=/dev/$D1 of="$W/back4" bs=64k skip=128 count=64 iflag=direct status=none ||
	fail $c "dd read: $(kernel_tail)"
cmp -s "$W/pat4" "$W/back4" || fail $c "4 MiB read back from /dev/$D1 differ"
pass "$c (4 MiB at 8 MiB of /dev/$D1 in 1 MiB writes, read back in 64 KiB reads)"

# --- 8. the kernel deletes its remote port: logout
c=kernel-srp-logout
for p in /sys/class/srp_remote_ports/*; do echo 1 > "$p/delete"; done
wait_for 20 bash -c "! ls /sys/class/scsi_disk/*/device/vendor 2>/dev/null | grep -q ." ||
	fail $c "the SCSI disks did not go"
# ib_srp ends its channels with a CM disconnect (DREQ), not SRP_I_LOGOUT
nlog=$(grep -c "initiator 0x$IGUID logged in" "$LOGS/srpt.log")
closed() { [ "$(grep -c "initiator 0x$IGUID: channel closed" "$LOGS/srpt.log")" = "$nlog" ]; }
wait_for 10 closed || fail $c "xsd-srpt closed $(grep -c "0x$IGUID: channel closed" "$LOGS/srpt.log") of $nlog channels"
grep -q "initiator 0x$IGUID: closing channel: the initiator disconnected" "$LOGS/srpt.log" ||
	fail $c "the channels did not close on the kernel's disconnect"
stop srpt
rc=$?
[ $rc = 0 ] || fail $c "xsd-srpt exited with $rc on SIGTERM"
pass "$c ($nlog channels closed)"

# --- 9. Interop B: LIO's ib_srpt on rxe1, a 64 MiB fileio LUN
c=lio-srpt-config
modprobe ib_srpt && modprobe target_core_file || fail $c "modprobe ib_srpt target_core_file"
CFG=/sys/kernel/config/target
mkdir -p $CFG/srpt || fail $c "no srpt fabric in configfs"
# the service GUID (the first device's node GUID) is the target port ID in
# both halves; our initiator's service ID gives the rdma_cm port (its low
# 16 bits), so LIO listens on that port
LG=$(cat /sys/module/ib_srpt/parameters/srpt_service_guid)
LPORT=$((LG & 0xffff))
echo $LPORT > $CFG/srpt/discovery_auth/rdma_cm_port || fail $c "rdma_cm_port $LPORT refused"
TP=$CFG/srpt/0x$(echo "$RXE1_GID0" | tr -d :)   # rxe1 port 1 by its GID
mkdir -p $TP/tpgt_1 || fail $c "mkdir $TP/tpgt_1: $(kernel_tail)"
truncate -s 64M "$W/lio.img"
BS=$CFG/core/fileio_0/lio0
mkdir -p $BS
echo "fd_dev_name=$W/lio.img,fd_dev_size=67108864" > $BS/control
echo 1 > $BS/enable || fail $c "fileio backstore: $(kernel_tail)"
mkdir $TP/tpgt_1/lun/lun_0 && ln -s $BS $TP/tpgt_1/lun/lun_0/lio0 || fail $c "LUN 0 link"
# our initiator port ID: 8 zero bytes, then the WWPN (xsvhba-fuse default)
ACL=$TP/tpgt_1/acls/0x00000000000000002100001397000001
mkdir -p $ACL/lun_0 && ln -s $TP/tpgt_1/lun/lun_0 $ACL/lun_0/lun_0 || fail $c "ACL"
echo 1 > $TP/tpgt_1/enable || fail $c "enable: $(kernel_tail)"
pass "$c (service GUID $LG, rdma_cm port $LPORT)"

# --- 10. our initiator logs in to LIO; data reads back and is in the file
c=vhba-to-lio
# ib_srpt answers the requested IT IU length (our default 1024) as its
# MAXIMUM TARGET TO INITIATOR IU LENGTH; our receive buffers hold what we
# request, so no -i and no srp_max_rsp_size setting is needed
bg vhbalio xsvhba-fuse -F verbs:rxe0:1 -g "$RXE1_GID1" -s "$LG" -x "${LG#0x}" \
	-m "$W/lio" -W 40
wait_for 45 test -e "$W/lio/lun0" || fail $c "no LUN file from LIO: $(kernel_tail)"
s=$(stat -c %s "$W/lio/lun0")
[ "$s" = 67108864 ] || fail $c "LIO LUN is $s bytes, expected 67108864"
grep -q "logged in to the target: .*IU 1024 bytes" "$LOGS/vhbalio.log" ||
	fail $c "xsvhba-fuse logged no login to LIO with 1024-byte IUs"
dd if="$PAT" of="$W/lio/lun0" bs=1M seek=5 conv=notrunc status=none || fail $c "dd write"
dd if="$W/lio/lun0" of="$W/back-lio" bs=1M skip=5 count=1 status=none || fail $c "dd read"
cmp -s "$PAT" "$W/back-lio" || fail $c "read back through LIO differs"
dd if="$W/lio.img" of="$W/back-file" bs=1M skip=5 count=1 status=none
cmp -s "$PAT" "$W/back-file" || fail $c "LIO's backing file does not hold the pattern"
fio --name=lio --filename="$W/lio/lun0" --size=4M --offset=16M --rw=randwrite --bs=16k \
	--ioengine=io_uring --iodepth=8 --verify=crc32c --do_verify=1 --verify_fatal=1 \
	> "$W/fio-lio.out" 2>&1 || fail $c "fio verify through LIO: $(tail -n 8 "$W/fio-lio.out")"
stop vhbalio
rc=$?
[ $rc = 0 ] || fail $c "xsvhba-fuse exited with $rc on SIGTERM"
pass "$c (LIO vendor $(cat $BS/wwn/vendor_id 2>/dev/null | tr -d ' '); 1 MiB pattern in the file; fio verify 4 MiB)"

finish
