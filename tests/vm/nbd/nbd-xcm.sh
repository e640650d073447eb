# nbd-xcm.sh - guest script: xscored's vHBA module exports its LUNs as
# /dev/nbdN (--vhba-nbd) over real verbs (rdma_rxe).
#   1  xsdirectord on rxe1: a 64 MiB RAM storage, target, LUN 0 and a vHBA
#      configured with xcm; xscored --vhba-nbd on rxe0 (--xds-gid)
#   2  the LUN as /dev/nbdN with the LUN's size, the FUSE file too;
#      `xsctl vhba show` names the device (text and JSON)
#   3  4 MiB written to /dev/nbdN with O_DIRECT read back equal through it
#      and through the FUSE file
#   3b the initiator replaced (xcm vhba set --queue-depth) during a write
#      through /dev/nbdN: no error, the bytes read back equal, same device
#   4  a LUN hot-added with xcm becomes a second device; `xcm lun delete`
#      disconnects it
#   5  `xcm vhba delete`: the first device disconnected (no pid, size 0)
. /xs/guest-lib.sh
DIR=/tmp/director
HOSTDIR=/tmp/host0
ROOT=/tmp/vhba
mkdir -p "$DIR" "$HOSTDIR"
export XCM_SOCKET=$DIR/director.sock
CTL="xsctl -S $HOSTDIR/xscored-p0.sock"
L=$ROOT/vh1/tgt1

# nbd_of LUN: the device xsctl names for LUN id LUN ("" if none)
nbd_of() {
	$CTL vhba show --json |
		jq -M -r ".hosts[0].devices[] | select(.type == \"vhba\") | .io.targets[0].luns[] |
			select(.id == $1) | .nbd // empty"
}
# gone DEV: /dev/DEV disconnected (no pid, no sectors)
gone() { ! test -e /sys/block/$1/pid && [ "$(cat /sys/block/$1/size)" = 0 ]; }

# --- 1. director and host agent
c=xcm-vhba-config
modprobe fuse || fail $c "modprobe fuse"
modprobe nbd || fail $c "modprobe nbd"
bg director xsdirectord -f -F verbs:rxe1:1 --state-dir "$DIR" --ctl-socket "$XCM_SOCKET" \
	--name vm-director
wait_for 20 test -S "$XCM_SOCKET" || fail $c "xsdirectord made no control socket on verbs:rxe1:1"
out=$( {
	xcm profile add host0 --hostname host0 &&
	xcm storage add d0 --ram 64M &&
	xcm storage add d1 --ram 16M &&
	xcm target add tgt1 --wwpn 5001397000000010 &&
	xcm lun add tgt1 0 --storage d0 &&
	xcm vhba add vh1 --profile host0 --target tgt1 --wwpn 5001397000000021 \
		--wwnn 5001397000000020 \
		--link-down-timeout 30
} 2>&1) || fail $c "xcm failed: $out"
bg xscored xscored -f -F verbs:rxe0:1 -p p0 -H host0 -s "$HOSTDIR" --xds-gid "$RXE1_LL" \
	--backoff-max 1 --vhba-root "$ROOT" --vhba-nbd
pass $c

# --- 2. the LUN as /dev/nbdN
c=vhba-mod-nbd-export
wait_for 40 bash -c "[ -n \"\$($CTL vhba show --json 2>/dev/null | jq -M -r '.hosts[0].devices[] | select(.type == \"vhba\") | .io.targets[0].luns[0].nbd // empty')\" ]" ||
	fail $c "no nbd device for lun0 in 40 s: $($CTL vhba show 2>&1)"
NBD=$(nbd_of 0)
DEV=${NBD#/dev/}
case $NBD in /dev/nbd[0-9]*) ;; *) fail $c "xsctl names '$NBD' for lun0" ;; esac
[ -b "$NBD" ] || fail $c "$NBD is not a block device"
sz=$(blockdev --getsize64 "$NBD") || fail $c "blockdev --getsize64 $NBD"
[ "$sz" = 67108864 ] || fail $c "$NBD has $sz bytes, expected 67108864"
pid=$(cat /sys/block/$DEV/pid 2>/dev/null)
[ -n "$pid" ] || fail $c "/sys/block/$DEV/pid missing: not connected"
wait_for 10 test -e "$L/lun0" || fail $c "no FUSE file $L/lun0"
fsz=$(stat -c %s "$L/lun0")
[ "$fsz" = 67108864 ] || fail $c "the FUSE file has $fsz bytes"
$CTL vhba show > "$LOGS/show.txt"
grep -Eq "^    0 +64\.0 MiB +512 +.+ $NBD +[0-9]+ " "$LOGS/show.txt" ||
	fail $c "xsctl vhba show has no LUN line naming $NBD: $(cat "$LOGS/show.txt")"
grep -q "vh1/tgt1 lun0 is $NBD" "$LOGS/xscored.log" || fail $c "no 'vh1/tgt1 lun0 is $NBD' log line"
pass "$c ($NBD $sz bytes, nbd pid $pid; lun0 file $fsz bytes; xsctl names it)"

# --- 3. data through /dev/nbdN and the FUSE file
c=vhba-mod-nbd-data
head -c 4194304 /dev/urandom > /tmp/pat4
want=$(sha256sum < /tmp/pat4 | cut -d' ' -f1)
dd if=/tmp/pat4 of="$NBD" bs=1M seek=8 oflag=direct status=none ||
	fail $c "dd write to $NBD: $(dmesg | grep -i nbd | tail -n 5)"
got=$(dd if="$NBD" bs=1M skip=8 count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail $c "read back through $NBD: sha256 $got, wrote $want"
got2=$(dd if="$L/lun0" bs=1M skip=8 count=4 status=none | sha256sum | cut -d' ' -f1)
[ "$got2" = "$want" ] || fail $c "the FUSE file at 8 MiB: sha256 $got2, wrote $want"
blockdev --flushbufs "$NBD" || fail $c "flush of $NBD"
w=$($CTL vhba show --json | jq -M -r '.hosts[0].devices[] | select(.type == "vhba") | .io.targets[0].luns[0].errors')
[ "$w" = 0 ] || fail $c "the FUSE side counted $w errors"
pass "$c (4 MiB sha256 ${want:0:16}... equal through $NBD and $L/lun0)"

# --- 3b. the initiator replaced (queue depth changed) under a write through
# /dev/nbdN: the I/O is held, nothing fails, the device stays
c=vhba-mod-nbd-relogin
head -c 2097152 /dev/urandom > /tmp/pat4b
wantb=$(sha256sum < /tmp/pat4b | cut -d' ' -f1)
t0=$(uptime_s)
dd if=/tmp/pat4b of="$NBD" bs=4k seek=8192 oflag=direct status=none &
ddpid=$!
xcm vhba set vh1 --queue-depth 16 > /dev/null || fail $c "xcm vhba set vh1 --queue-depth 16"
wait $ddpid || fail $c "dd through $NBD failed across the re-login: $(dmesg | grep -i nbd | tail -n 5)"
ddt=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
relog() { [ "$($CTL vhba show --json | jq -M -r '.hosts[0].devices[] | select(.type == "vhba") | .io.targets[0] | "\(.restarts) \(.state)"')" = "1 up" ]; }
wait_for 20 relog || fail $c "no new login: $($CTL vhba show 2>&1)"
gotb=$(dd if="$NBD" bs=1M skip=32 count=2 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ "$gotb" = "$wantb" ] || fail $c "read back through $NBD after the re-login: sha256 $gotb, wrote $wantb"
[ "$(nbd_of 0)" = "$NBD" ] || fail $c "lun0 is now '$(nbd_of 0)', was $NBD"
pass "$c (2 MiB in 4 KiB O_DIRECT writes, $ddt s, across the re-login: no error, read back equal; 1 restart, $NBD kept)"

# --- 4. exports follow the LUNs: hot-added LUN 1, then deleted
c=vhba-mod-nbd-hotplug
xcm lun add tgt1 1 --storage d1 > /dev/null || fail $c "xcm lun add tgt1 1"
wait_for 20 bash -c "$CTL vhba show --json | jq -e '.hosts[0].devices[] | select(.type == \"vhba\") | .io.targets[0].luns[] | select(.id == 1) | .nbd | strings'" ||
	fail $c "no nbd device for the hot-added lun1 in 20 s: $($CTL vhba show 2>&1)"
NBD1=$(nbd_of 1)
[ "$NBD1" != "$NBD" ] || fail $c "lun1 got the same device $NBD1 as lun0"
sz1=$(blockdev --getsize64 "$NBD1") || fail $c "blockdev --getsize64 $NBD1"
[ "$sz1" = 16777216 ] || fail $c "$NBD1 has $sz1 bytes, expected 16777216"
xcm lun delete tgt1 1 > /dev/null || fail $c "xcm lun delete tgt1 1"
wait_for 20 gone "${NBD1#/dev/}" || fail $c "$NBD1 still connected 20 s after xcm lun delete"
[ "$(nbd_of 1)" = "" ] || fail $c "xsctl still names $(nbd_of 1) for lun1"
test -e /sys/block/$DEV/pid || fail $c "$NBD (lun0) lost its connection with lun1's"
pass "$c (lun1 -> $NBD1 $sz1 bytes; xcm lun delete -> disconnected, $NBD kept)"

# --- 5. xcm vhba delete disconnects the device
c=vhba-mod-nbd-delete
xcm vhba delete vh1 > /dev/null || fail $c "xcm vhba delete vh1"
wait_for 20 gone "$DEV" || fail $c "$NBD still connected 20 s after xcm vhba delete"
n=$(dd if="$NBD" bs=4k count=1 iflag=direct status=none 2>/dev/null | wc -c)
[ "$n" = 0 ] || fail $c "$n bytes read from the disconnected $NBD"
wait_for 10 grep -q "/dev/$DEV disconnected" "$LOGS/xscored.log" || fail $c "no '/dev/$DEV disconnected' log line"
mountpoint -q "$L" && fail $c "$L still mounted"
stop xscored
rc=$?
[ $rc = 0 ] || fail $c "xscored exited with $rc on SIGTERM"
stop director
pass "$c ($NBD: no pid, size 0, a read gets 0 bytes; xscored exit 0)"

finish
