# sgio.sh - guest script: the director's SG_IO pass-through back end on a
# scsi_debug disk, reached through SRP on the soft fabric.
. /xs/guest-lib.sh
W=/tmp/sgio
mkdir -p "$W"

# --- 1. a scsi_debug disk
c=scsi-debug
modprobe sd_mod 2>/dev/null
modprobe scsi_debug dev_size_mb=64 || fail $c "modprobe scsi_debug failed"
DISK=
wait_for 10 bash -c 'grep -l "^Linux" /sys/block/sd*/device/vendor' ||
	fail $c "no scsi_debug disk appeared in /sys/block"
for v in /sys/block/sd*/device/vendor; do
	if grep -q "^Linux" "$v"; then DISK=$(basename "$(dirname "$(dirname "$v")")"); break; fi
done
[ -b "/dev/$DISK" ] || mknod "/dev/$DISK" b $(tr : ' ' <"/sys/block/$DISK/dev")
[ -b "/dev/$DISK" ] || fail $c "no /dev/$DISK"
pass "$c (/dev/$DISK, $(cat /sys/block/$DISK/size) sectors)"

# --- 2. xs-fabricd and xsd-srpt with LUN 0 on sg:/dev/sdX
c=srpt-sg
SOCK=$W/fabric.sock
bg fabricd xs-fabricd -f -s "$SOCK"
wait_for 10 test -S "$SOCK" || fail $c "xs-fabricd made no socket"
echo "lun 0 sg:/dev/$DISK" >"$W/srpt.conf"
bg srpt xsd-srpt -F "soft:$SOCK" -p target -c "$W/srpt.conf"
wait_for 15 grep -q "ready: 1 LUN" "$LOGS/srpt.log" || fail $c "xsd-srpt did not come up with the sg LUN"
grep -q "sg /dev/$DISK" "$LOGS/srpt.log" || fail $c "the LUN is not on the SG_IO back end"
pass $c

# --- 3. INQUIRY through SRP is scsi_debug's; capacity 64 MiB
c=inquiry
out=$(srp_probe "soft:$SOCK" 2 0 inquiry capacity 2>"$W/probe.err") || fail $c "srp_probe: $(cat $W/probe.err)"
echo "$out"
grep -q "^inquiry vendor=Linux " <<<"$out" || fail $c "vendor is not scsi_debug's \"Linux\": $out"
grep -q "^capacity blocks=131072 block_size=512$" <<<"$out" || fail $c "capacity: $out"
pass $c

# --- 4. a pattern written through SRP is on the disk and reads back
c=pattern
head -c 2097152 /dev/urandom >"$W/pat"
out=$(srp_probe "soft:$SOCK" 2 0 write 1048576 "$W/pat" sync read 1048576 2097152 "$W/back" oor \
	2>"$W/probe.err") || fail $c "srp_probe: $(cat $W/probe.err)"
echo "$out"
cmp "$W/pat" "$W/back" || fail $c "read back through SRP differs"
dd if="/dev/$DISK" of="$W/disk" bs=1M skip=1 count=2 iflag=direct status=none
cmp "$W/pat" "$W/disk" || fail $c "the disk does not hold the pattern"
grep -q "^oor status=2 sense=5/21/00$" <<<"$out" || fail $c "out-of-range READ: $out"
pass "$c (2 MiB at 1 MiB: through SRP and on /dev/$DISK; out-of-range sense 5/21/00)"

stop srpt
stop fabricd
finish
