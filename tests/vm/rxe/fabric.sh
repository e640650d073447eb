# fabric.sh - guest script: the fabric layer on the verbs backend, rxe0 ->
# rxe1 over the veth pair (xs-rcping, then xs-vm-fabric). Run by run-vm.
. /xs/guest-lib.sh

c=devices
info=$(ibv_devinfo 2>&1)
for d in rxe0 rxe1; do
	echo "$info" | grep -A 30 "hca_id:.*$d" | grep -q 'state:.*PORT_ACTIVE' ||
		fail $c "$d is not PORT_ACTIVE: $info"
done
echo "$info" | grep -q 'link_layer:.*Ethernet' || fail $c "rxe ports are not Ethernet (RoCE)"
pass $c

# --- xs-rcping: private data, SEND/RECV + immediate, RDMA WRITE/READ, bad rkey
bg rcping_server xs-rcping -F verbs:rxe1:1 -c 3 server
wait_for 10 grep -q 'listening on service ID' "$LOGS/rcping_server.log" ||
	fail rcping "the xs-rcping server did not start listening"

c=rcping-4k
out=$(timeout 60 xs-rcping -F verbs:rxe0:1 client --ip "$RXE1_IP" -n 20 -s 4096 2>&1) ||
	fail $c "client failed: $out"
echo "$out"
echo "$out" | grep -q '^connected in .* ms' || fail $c "no 'connected' line"
echo "$out" | grep -q '^20 round trips of 4096 bytes' || fail $c "no '20 round trips' line"
echo "$out" | grep -qx 'RDMA WRITE + READ of 4096 bytes: verified' || fail $c "RDMA not verified"
pass $c

c=rcping-64k-json
out=$(timeout 60 xs-rcping -F verbs:rxe0:1 client --ip "$RXE1_IP" -n 5 -s 65536 --json 2>&1) ||
	fail $c "client failed: $out"
echo "$out"
[ "$(echo "$out" | jq -r '[.backend, .size, .count, .rdma_verified] | @tsv')" = \
	"$(printf 'verbs\t65536\t5\ttrue')" ] || fail $c "unexpected JSON: $out"
echo "$out" | jq -e '.rtt_us_min > 0 and .rtt_us_min <= .rtt_us_avg and .rtt_us_avg <= .rtt_us_max' \
	> /dev/null || fail $c "round-trip times out of order: $out"
pass $c

c=rcping-bad-rkey
out=$(timeout 60 xs-rcping -F verbs:rxe0:1 client --ip "$RXE1_IP" -n 2 --bad-rkey 2>&1) ||
	fail $c "client failed: $out"
echo "$out"
echo "$out" | grep -qx 'RDMA WRITE with a wrong rkey: remote access error, QP in error (as it must)' ||
	fail $c "no remote access error reported"
pass $c

c=rcping-server
wait_for 10 bash -c "! kill -0 $PID_rcping_server" 2>/dev/null
stop rcping_server
src=$?
cat "$LOGS/rcping_server.log"
[ $src = 0 ] || fail $c "the server exited with $src after 3 clients"
[ "$(grep -c '^server: connection established' "$LOGS/rcping_server.log")" = 3 ] ||
	fail $c "the server did not see 3 connections"
[ "$(grep '^server: client disconnected after' "$LOGS/rcping_server.log" | awk '{ print $5 }' | tr '\n' ' ')" = "20 5 2 " ] ||
	fail $c "the server did not see 20, 5 and 2 messages before the disconnects"
pass $c

# --- what xs-rcping does not cover
c=fabric-api
out=$(timeout 120 xs-vm-fabric verbs:rxe0:1 verbs:rxe1:1 "$RXE1_IP" 2>&1)
rc=$?
echo "$out"
[ $rc = 0 ] || fail $c "xs-vm-fabric exited with $rc"
[ "$(echo "$out" | grep -c '^ok ')" = 7 ] || fail $c "not all 7 checks reported ok"
pass $c

finish
