#!/bin/bash
# harness-test.sh RUN_VM - the vm tier's harness itself: a guest script's
# arguments arrive intact and its exit status comes back; rxe0/rxe1 exist
# with both GIDs; a VM that can't finish in time (124) or dies (125) is a
# loud failure with the console tail; a missing input is a usage error (2).
set -u
RUN_VM=$1
T=$(mktemp -d /tmp/xs-vm-harness.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat > "$T/guest.sh" <<'GUEST'
. /xs/rxe.env
echo "argc=$# arg1=[$1] arg2=[$2]"
ibv_devices | awk '/rxe/ { print "device", $1 }'
for d in rxe0 rxe1; do
	echo "$d state $(cat /sys/class/infiniband/$d/ports/1/state)"
	echo "$d link_layer $(cat /sys/class/infiniband/$d/ports/1/link_layer)"
done
echo "gid0 $RXE1_GID0"
echo "gid1 $RXE1_GID1"
echo "sh is $(readlink -f /bin/sh)"
exit 7
GUEST
"$RUN_VM" "$T/guest.sh" "a b" 'c$d' > "$T/out" 2> "$T/err"
rc=$?
cat "$T/out"
[ $rc = 7 ] || { bad "the guest script's exit status 7 came back as $rc"; cat "$T/err"; }
grep -qxF 'argc=2 arg1=[a b] arg2=[c$d]' "$T/out" || bad "arguments did not arrive intact"
for d in rxe0 rxe1; do
	grep -qx "device $d" "$T/out" || bad "no $d in ibv_devices"
	grep -qx "$d state 4: ACTIVE" "$T/out" || bad "$d is not ACTIVE"
	grep -qx "$d link_layer Ethernet" "$T/out" || bad "$d is not RoCE"
done
grep -qE '^gid0 fe80:0000:0000:0000:' "$T/out" || bad "GID 0 of rxe1 is not IPv6 link-local"
grep -qx 'gid1 0000:0000:0000:0000:0000:ffff:0a00:0002' "$T/out" || bad "GID 1 of rxe1 is not ::ffff:10.0.0.2"
grep -qx 'sh is /usr/bin/bash' "$T/out" || bad "/bin/sh is not bash"
grep -q 'run-vm: VM ran' "$T/err" || bad "no 'VM ran' timing line"

# a VM that can't finish in time: killed, 124, console tail shown
printf 'sleep 600\n' > "$T/slow.sh"
XS_VM_KEEP=1 XS_VM_TIMEOUT=4 "$RUN_VM" "$T/slow.sh" > "$T/out2" 2> "$T/err2"
rc=$?
[ $rc = 124 ] || bad "a timed-out VM gave $rc, not 124"
grep -q 'FAILED: the VM timed out after 4 s' "$T/err2" || bad "no timeout message: $(cat "$T/err2")"
grep -q 'guest console (tail)' "$T/err2" || bad "no console tail after a timeout"
kept=$(sed -n 's/^run-vm: kept //p' "$T/err2")
if [ -n "$kept" ] && [ -d "$kept" ]; then
	pgrep -f "$kept/initrd.gz" > /dev/null && bad "the QEMU of the timed-out run is still there"
	rm -rf "$kept"
else
	bad "XS_VM_KEEP=1 did not name the run directory"
fi

# a guest that dies (kernel panic): no exit status comes back -> 125, console tail
printf 'echo 1 > /proc/sys/kernel/sysrq\necho c > /proc/sysrq-trigger\nsleep 60\n' > "$T/crash.sh"
"$RUN_VM" "$T/crash.sh" > "$T/out4" 2> "$T/err4"
rc=$?
[ $rc = 125 ] || bad "a guest that panicked gave $rc, not 125"
grep -q 'FAILED: the VM stopped without reporting' "$T/err4" || bad "no message for a VM that died"
grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$T/err4" || bad "the console tail does not show the panic: $(tail -5 "$T/err4")"

"$RUN_VM" "$T/no-such-script.sh" > /dev/null 2> "$T/err3"
rc=$?
[ $rc = 2 ] || bad "a missing guest script gave $rc, not 2"
grep -q "no guest script $T/no-such-script.sh" "$T/err3" || bad "no message for a missing script"

[ $fails = 0 ] && echo "harness: all checks passed" || echo "harness: $fails check(s) failed"
[ $fails = 0 ]
