#!/bin/bash
# vNIC end to end: host1's vNIC pings the LAN behind the director (IPv4 and
# IPv6 with neighbour discovery); a TCP transfer verified by sha256; the
# director SIGKILLed and restarted: traffic resumes within 2 s on the same
# interface (ifindex unchanged); the uplink down/up turns the host's carrier
# off/on; a vNIC deleted removes the interface.
source "$(dirname "$0")/lib.sh"

setup_net
start_fabricd
start_director
xcm uplink add lan --interface upl0 >/dev/null
xcm profile add web --hostname host1 >/dev/null
xcm vnic add veth1 --profile web --uplink lan >/dev/null
start_host "$NS_H1" host1

wait_for 20 "interface veth1 on host1" ip -n "$NS_H1" link show veth1
ip -n "$NS_H1" addr add 10.77.0.11/24 dev veth1
ip -n "$NS_H1" addr add fd77::11/64 dev veth1 nodad
wait_for 15 "carrier on veth1" carrier "$NS_H1" veth1
check "IPv4 ping host1 -> LAN" in_ns "$NS_H1" ping -c 3 -i 0.2 -W 2 10.77.0.1
check "IPv6 ping host1 -> LAN (neighbour discovery)" in_ns "$NS_H1" ping -6 -c 3 -i 0.2 -W 2 fd77::1

# TCP: 8 MiB of random bytes from the LAN to host1 and back, sha256 compared
head -c 8388608 /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
in_ns "$NS_H1" timeout 30 python3 -c '
import socket,sys,hashlib
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.11", 5001)); s.listen(1); c,_=s.accept(); h=hashlib.sha256()
while True:
    b=c.recv(65536)
    if not b: break
    h.update(b)
open(sys.argv[1],"w").write(h.hexdigest())' "$T/got" &
srv=$!
wait_for 5 "TCP listener on host1" bash -c "ip netns exec $NS_H1 ss -ltn | grep -q :5001"
in_ns "$NS_LAN" timeout 30 python3 -c '
import socket,sys
s=socket.create_connection(("10.77.0.11", 5001), timeout=10)
s.sendall(open(sys.argv[1],"rb").read()); s.close()' "$T/blob"
wait $srv
check "TCP 8 MiB LAN -> host1, sha256 equal" test "$(cat "$T/got" 2>/dev/null)" = "$want"

# UDP: 200 datagrams host1 -> LAN, each numbered, all received in order
in_ns "$NS_LAN" timeout 20 python3 -c '
import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.1", 5002)); s.settimeout(5)
got=[]
try:
    while len(got) < 200: got.append(int(s.recv(100)))
except socket.timeout: pass
open(sys.argv[1],"w").write(" ".join(map(str,got)))' "$T/udp" &
srv=$!
wait_for 5 "UDP socket on the LAN" bash -c "ip netns exec $NS_LAN ss -lun | grep -q :5002"
in_ns "$NS_H1" python3 -c '
import socket,time
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    s.sendto(b"%d" % i, ("10.77.0.1", 5002)); time.sleep(0.001)'
wait $srv
check "UDP 200 datagrams host1 -> LAN, all in order" test "$(cat "$T/udp")" = "$(seq -s' ' 0 199)"

# a UDP burst (no pauses): frames batched host -> director arrive in order
in_ns "$NS_LAN" timeout 20 python3 -c '
import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.1", 5003)); s.settimeout(3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
got=[]
try:
    while len(got) < 3000: got.append(int(s.recv(100)))
except socket.timeout: pass
open(sys.argv[1],"w").write("%d %d" % (len(got), int(got == sorted(got) and len(set(got)) == len(got))))' "$T/burst" &
srv=$!
wait_for 5 "UDP socket on the LAN" bash -c "ip netns exec $NS_LAN ss -lun | grep -q :5003"
in_ns "$NS_H1" python3 -c '
import socket
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    s.sendto(b"%d" % i, ("10.77.0.1", 5003))'
wait $srv
read -r n inorder <"$T/burst"
echo "UDP burst: $n of 3000 datagrams received"
check "UDP burst: received in order without duplicates" test "$inorder" = 1
check "UDP burst: datagrams arrived ($n of 3000; a blast may overrun queues)" test "$n" -gt 0
batches() { "$XCM" --json show vnic veth1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print([s for s in d["vnics"][0]["status"] if s["host"]=="io-module"][0]["from_host_batches"])'; }
check "TX batching used (the director received $(batches) batches)" test "$(batches)" -gt 0

# and the other way: a burst LAN -> host1 leaves the director in batches
# (several frames per SEND) and still arrives in order without duplicates
io_field() { "$XCM" --json show vnic veth1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print([s for s in d["vnics"][0]["status"] if s["host"]=="io-module"][0][sys.argv[1]])' "$1"; }
to_host0=$(io_field to_host_frames)
in_ns "$NS_H1" timeout 20 python3 -c '
import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.11", 5004)); s.settimeout(3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
got=[]
try:
    while len(got) < 3000: got.append(int(s.recv(100)))
except socket.timeout: pass
open(sys.argv[1],"w").write("%d %d" % (len(got), int(got == sorted(got) and len(set(got)) == len(got))))' "$T/rburst" &
srv=$!
wait_for 5 "UDP socket on host1" bash -c "ip netns exec $NS_H1 ss -lun | grep -q :5004"
in_ns "$NS_LAN" python3 -c '
import socket
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    s.sendto(b"%d" % i, ("10.77.0.11", 5004))'
wait $srv
read -r n inorder <"$T/rburst"
echo "UDP burst LAN -> host1: $n of 3000 datagrams received"
check "UDP burst LAN -> host1: received in order without duplicates" test "$inorder" = 1
check "UDP burst LAN -> host1: datagrams arrived ($n of 3000)" test "$n" -gt 0
check "RX batching negotiated and used (the director sent $(io_field to_host_batches) batches)" \
	test "$(io_field rx_batching)" = True -a "$(io_field to_host_batches)" -gt 0
# frames in a batch are counted one by one: the director sent at least what
# host1 received (more: ARP, and what the host's socket queue dropped)
to_host1=$(io_field to_host_frames)
check "to_host_frames counts batched frames ($((to_host1 - to_host0)) sent, $n received, $(io_field to_host_drops) dropped with no send slot)" \
	test $((to_host1 - to_host0)) -ge "$n"

# fabric counters on the host, switch counters on the director
check "xsctl vnic show lists veth1 up" bash -c "\"$XSCTL\" -S \"$T/host1/xscored-port-host1.sock\" vnic show | grep -E '^veth1 +up'"
check "xcm show vnic veth1 has data-path counters" bash -c "\"$XCM\" --json show vnic veth1 | python3 -c 'import json,sys; d=json.load(sys.stdin); io=[s for s in d[\"vnics\"][0][\"status\"] if s[\"host\"]==\"io-module\"][0]; assert io[\"state\"]==\"up\" and io[\"from_host_frames\"]>200, io'"

# UPDATE live: MTU, MAC, admin state reach the interface without re-creating it
idx0=$(ifindex "$NS_H1" veth1)
mtu_is() { ip -n "$NS_H1" link show veth1 | grep -q "mtu $1 "; }
mac_is() { ip -n "$NS_H1" link show veth1 | grep -q "link/ether $1 "; }
admin_down() { ! ip -n "$NS_H1" link show veth1 | grep -q '<.*,UP'; }
xcm vnic set veth1 --mtu 9000 >/dev/null
wait_for 10 "MTU 9000 on veth1" mtu_is 9000 && echo "ok: xcm vnic set --mtu 9000 -> host MTU 9000"
xcm vnic set veth1 --mac 02:11:22:33:44:55 >/dev/null
wait_for 10 "new MAC on veth1" mac_is 02:11:22:33:44:55 && echo "ok: xcm vnic set --mac -> host MAC changed"
ip -n "$NS_LAN" neigh flush all
check "ping host1 -> LAN after the MAC change (switch port follows)" in_ns "$NS_H1" ping -c 2 -i 0.2 -W 2 10.77.0.1
xcm vnic set veth1 --admin down >/dev/null
wait_for 10 "veth1 admin down" admin_down && echo "ok: xcm vnic set --admin down -> interface down"
xcm vnic set veth1 --admin up >/dev/null
wait_for 10 "veth1 up with carrier" carrier "$NS_H1" veth1 && echo "ok: --admin up -> interface up"
ip -n "$NS_H1" addr add 10.77.0.11/24 dev veth1 2>/dev/null
check "ping host1 -> LAN after admin down/up" in_ns "$NS_H1" ping -c 2 -i 0.2 -W 2 10.77.0.1
check "UPDATE kept the interface (ifindex $idx0)" test "$(ifindex "$NS_H1" veth1)" = "$idx0"
CHECKS=$((CHECKS + 4))

# uplink down/up -> carrier off/on on the host
ip -n "$NS_DIR" link set upl0 down
wait_for 5 "carrier off on veth1 after uplink down" no_carrier "$NS_H1" veth1 && echo "ok: uplink down -> NO-CARRIER on host1"
ip -n "$NS_DIR" link set upl0 up
wait_for 10 "carrier on veth1 after uplink up" carrier "$NS_H1" veth1 && echo "ok: uplink up -> carrier on host1"
CHECKS=$((CHECKS + 2))

# director SIGKILLed and restarted: traffic resumes within 2 s, same ifindex
idx=$(ifindex "$NS_H1" veth1)
wait_for 10 "ping before the kill" in_ns "$NS_H1" ping -c 1 -W 1 10.77.0.1
kill -KILL "$DIRECTOR_PID"
wait "$DIRECTOR_PID" 2>/dev/null
start_director
t0=$(now_ms)
wait_for 15 "ping after the restart" in_ns "$NS_H1" ping -c 1 -W 0.2 10.77.0.1
t1=$(now_ms)
echo "traffic resumed $((t1 - t0)) ms after the director's control socket came back"
check "traffic resumes within 2 s of the restart" test $((t1 - t0)) -le 2000
check "interface not re-created (ifindex $idx)" test "$(ifindex "$NS_H1" veth1)" = "$idx"

# delete -> the interface goes away
xcm vnic delete veth1 >/dev/null
wait_for 10 "veth1 removed" bash -c "! ip -n $NS_H1 link show veth1"
CHECKS=$((CHECKS + 1))

echo "vnic basic: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
