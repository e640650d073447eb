# bench/vm/guest.sh - run by bench/vm/run in the vm tier's guest (run-vm):
# one boot, all on rxe0 -> rxe1 over the veth pair.
#   vhba:   xsvhba-fuse (rxe0) -> xsd-srpt (rxe1), file LUN on tmpfs; fio on
#           the FUSE file
#   kernel: ib_srp (rxe0) -> LIO ib_srpt (rxe1), fileio LUN on tmpfs; fio on
#           /dev/sdX
#   fabric: xs-vm-sendbw vs ib_send_bw -R, 64 KiB RC SENDs, depth 128
# fio: 4 KiB random read QD32 and 1 MiB sequential read QD4, libaio direct,
# SECONDS each. Prints "RESULT name value" lines for bench/vm/run.
# Arguments: SECONDS
. /xs/guest-lib.sh
SECS=${1:-8}
W=/tmp/bench
mkdir -p "$W"
SIZE=134217728

fio_run() {  # name file rw bs qd -> RESULT name_iops / name_mbs
	local n=$1 f=$2 rw=$3 bs=$4 qd=$5
	fio --name="$n" --filename="$f" --size=$SIZE --rw="$rw" --bs="$bs" --iodepth="$qd" \
		--ioengine=libaio --direct=1 --time_based --runtime="$SECS" --ramp_time=1 \
		--output-format=json --output="$W/$n.json" > "$W/$n.err" 2>&1 ||
		fail "$n" "fio: $(tail -n 5 "$W/$n.err")"
	[ "$(jq -M '.jobs[0].error' "$W/$n.json")" = 0 ] || fail "$n" "fio job error"
	echo "RESULT ${n}_iops $(jq -M '.jobs[0].read.iops' "$W/$n.json")"
	echo "RESULT ${n}_mbs $(jq -M '.jobs[0].read.bw_bytes / 1048576' "$W/$n.json")"
}

# --- our target and initiator
head -c $SIZE /dev/urandom > "$W/ours.img"
echo "lun 0 $W/ours.img" > "$W/srpt.conf"
bg srpt xsd-srpt -F verbs:rxe1:1 -c "$W/srpt.conf"
wait_for 20 grep -q "ready: 1 LUN" "$LOGS/srpt.log" || fail srpt "xsd-srpt did not start"
modprobe fuse
bg vhba xsvhba-fuse -F verbs:rxe0:1 -g "$RXE1_GID1" -q 32 -m "$W/vhba" -W 40
wait_for 45 test -e "$W/vhba/lun0" || fail vhba "xsvhba-fuse did not log in"
fio_run vhba_4k "$W/vhba/lun0" randread 4k 32
fio_run vhba_seq "$W/vhba/lun0" read 1M 4
stop vhba
stop srpt
rm -f "$W/ours.img"
pass "vhba over rxe"

# --- the kernel's SRP initiator and target
modprobe sd_mod && modprobe ib_srp && modprobe ib_srpt && modprobe target_core_file ||
	fail kernel "modprobe"
CFG=/sys/kernel/config/target
mkdir -p $CFG/srpt
LG=$(cat /sys/module/ib_srpt/parameters/srpt_service_guid)
LPORT=$((LG & 0xffff))
echo $LPORT > $CFG/srpt/discovery_auth/rdma_cm_port
TP=$CFG/srpt/0x$(echo "$RXE1_GID0" | tr -d :)
mkdir -p $TP/tpgt_1
head -c $SIZE /dev/urandom > "$W/lio.img"
BS=$CFG/core/fileio_0/bench
mkdir -p $BS
echo "fd_dev_name=$W/lio.img,fd_dev_size=$SIZE" > $BS/control
echo 1 > $BS/enable
mkdir $TP/tpgt_1/lun/lun_0 && ln -s $BS $TP/tpgt_1/lun/lun_0/bench
ACL=$TP/tpgt_1/acls/0x0000000000000000$(echo "$RXE0_GUID" | tr -d :)
mkdir -p $ACL/lun_0 && ln -s $TP/tpgt_1/lun/lun_0 $ACL/lun_0/lun_0
echo 1 > $TP/tpgt_1/enable || fail kernel "LIO tpg enable"
echo "id_ext=${LG#0x},ioc_guid=${LG#0x},dest=$RXE1_IP:$LPORT" \
	> /sys/class/infiniband_srp/srp-rxe0-1/add_target || fail kernel "add_target: $(dmesg | tail -n 5)"
wait_for 30 bash -c 'ls /sys/class/scsi_disk/*/device/block 2>/dev/null | grep -q sd' ||
	fail kernel "no disk from LIO: $(dmesg | grep -i srp | tail -n 8)"
D=$(ls /sys/class/scsi_disk/*/device/block | grep sd | head -n1)
[ -b /dev/$D ] || mknod /dev/$D b $(tr : ' ' < /sys/block/$D/dev)
# ib_srp's RDMA channels to the target (one per CPU, at most)
echo "RESULT kernel_channels $(cat /sys/class/scsi_host/host*/ch_count 2>/dev/null | head -n1)"
fio_run kernel_4k /dev/$D randread 4k 32
fio_run kernel_seq /dev/$D read 1M 4
for p in /sys/class/srp_remote_ports/*; do echo 1 > "$p/delete"; done
pass "kernel ib_srp -> LIO ib_srpt over rxe"

# --- RC SEND bandwidth: ours, then ib_send_bw
N=2000
bg sbw xs-vm-sendbw -s verbs:rxe1:1 -n $N
sleep 1
out=$(xs-vm-sendbw -c verbs:rxe0:1 -d "$RXE1_IP" -n $N 2>&1) || fail fabric "xs-vm-sendbw: $out"
stop sbw > /dev/null 2>&1
echo "$out" | head -n 1
echo "RESULT fabric_mibs $(echo "$out" | tail -n 1 | jq -M '.mib_per_s')"
bg ibbw ib_send_bw -d rxe1 -R -F -s 65536 -n $N -t 128
sleep 1
out=$(ib_send_bw -d rxe0 -R -F -s 65536 -n $N -t 128 "$RXE1_IP" 2>&1) || fail ib_send_bw "$out"
# the result line: bytes iterations peak average msgrate
line=$(echo "$out" | awk '$1 == 65536 && NF >= 5 { print; exit }')
[ -n "$line" ] || fail ib_send_bw "no result line: $out"
echo "ib_send_bw: $line"
echo "RESULT ib_send_bw_mibs $(echo "$line" | awk '{ print $4 }')"
pass "RC SEND bandwidth"
finish
