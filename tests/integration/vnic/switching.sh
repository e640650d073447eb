#!/bin/bash
# vNIC switching in the director: VLAN isolation (VLAN 10 can't reach 20),
# a trunk vNIC sending 802.1Q-tagged frames (through a packet socket: this
# kernel may lack 8021q), multicast join and receive from the LAN, MTU 9000
# pings with DF, a forged source MAC dropped and counted, and a vNIC added
# and another deleted while a third carries traffic without loss.
source "$(dirname "$0")/lib.sh"

setup_net
ip -n "$NS_LAN" link set lan0 mtu 9000
ip -n "$NS_DIR" link set upl0 mtu 9000
start_fabricd
start_director
xcm uplink add lan --interface upl0 >/dev/null
xcm profile add p1 --hostname host1 >/dev/null
xcm profile add p2 --hostname host2 >/dev/null
xcm vnic add a10 --profile p1 --uplink lan --vlan-mode access --vlans 10 >/dev/null
xcm vnic add u1 --profile p1 --uplink lan --mtu 9000 >/dev/null
xcm vnic add b20 --profile p2 --uplink lan --vlan-mode access --vlans 20 >/dev/null
xcm vnic add c10 --profile p2 --uplink lan --vlan-mode access --vlans 10 >/dev/null
xcm vnic add t30 --profile p2 --uplink lan --vlan-mode trunk --vlans 10,30 >/dev/null
start_host "$NS_H1" host1
start_host "$NS_H2" host2
for i in a10 u1; do wait_for 20 "$i on host1" carrier "$NS_H1" $i; done
for i in b20 c10 t30; do wait_for 20 "$i on host2" carrier "$NS_H2" $i; done
ip -n "$NS_H1" addr add 10.10.0.1/24 dev a10
ip -n "$NS_H2" addr add 10.10.0.2/24 dev c10
ip -n "$NS_H2" addr add 10.10.0.3/24 dev b20
ip -n "$NS_H1" addr add 10.77.0.11/24 dev u1
mac() { ip -n "$1" -o link show "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }

# host2 answers ARP only on the interface that holds the address (else c10
# would answer for b20's address and hide the isolation)
ip netns exec "$NS_H2" sysctl -qw net.ipv4.conf.all.arp_ignore=1
# drops NAME REASON: the director's ingress drop counter of a vNIC
drops() {
	"$XCM" --json show vnic "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
io = [s for s in d["vnics"][0]["status"] if s["host"] == "io-module"][0]
print(io["drops_in"].get(sys.argv[1], 0))' "$2"
}

# VLAN isolation: a10 (VLAN 10) reaches c10 (VLAN 10), not b20 (VLAN 20)
check "VLAN 10 -> VLAN 10 (host1 a10 -> host2 c10)" in_ns "$NS_H1" ping -c 2 -i 0.2 -W 2 -I a10 10.10.0.2
check "VLAN 10 cannot reach VLAN 20 (a10 -> b20)" bash -c "! ip netns exec $NS_H1 ping -c 2 -i 0.2 -W 1 -I a10 10.10.0.3"

# raw frames: send on one interface, expect (or not) on another
RAW='
import socket, sys, struct, binascii, select
mode, ifname = sys.argv[1], sys.argv[2]
def m(s): return binascii.unhexlify(s.replace(":", ""))
if mode == "send":
    dst, src, vid, payload = sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6].encode()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((ifname, 0))
    hdr = m(dst) + m(src)
    if vid: hdr += struct.pack("!HH", 0x8100, vid)
    s.send(hdr + struct.pack("!H", 0x88b5) + payload.ljust(46, b"\0"))
else:
    want = sys.argv[3].encode()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5)); s.bind((ifname, 0))
    print("ready", flush=True)
    while select.select([s], [], [], float(sys.argv[4]))[0]:
        f = s.recv(65535)
        if want in f: print("got", flush=True); sys.exit(0)
    sys.exit(1)
'
# recv_expect NS IF PAYLOAD SECONDS -> starts a receiver, prints its pid in RX_PID
recv_start() {
	ip netns exec "$1" python3 -c "$RAW" recv "$2" "$3" "$4" >"$T/rx.$3" 2>&1 &
	RX_PID=$!
	wait_for 5 "raw receiver on $2" grep -q ready "$T/rx.$3"
}
A10=$(mac "$NS_H1" a10); T30=$(mac "$NS_H2" t30)
recv_start "$NS_H1" a10 trunk-vlan10 5
in_ns "$NS_H2" python3 -c "$RAW" send t30 "$A10" "$T30" 10 trunk-vlan10
check "trunk vNIC: a frame tagged VLAN 10 reaches the access vNIC untagged" wait $RX_PID
recv_start "$NS_H1" a10 trunk-vlan30 2
in_ns "$NS_H2" python3 -c "$RAW" send t30 "$A10" "$T30" 30 trunk-vlan30
check "trunk vNIC: a frame tagged VLAN 30 does not reach VLAN 10" bash -c "! wait $RX_PID"
v0=$(drops t30 vlan)
recv_start "$NS_H1" a10 trunk-vlan20 2
in_ns "$NS_H2" python3 -c "$RAW" send t30 "$A10" "$T30" 20 trunk-vlan20
check "trunk vNIC: VLAN 20 (not in its list) is dropped" bash -c "! wait $RX_PID"
v1=$(drops t30 vlan)
check "xcm counts the trunk's VLAN drop ($v0 -> $v1)" test "$v1" -ge $((v0 + 1))

# anti-spoofing: a frame from u1 with a source MAC that is not its own
U1=$(mac "$NS_H1" u1)
s0=$(drops u1 spoof)
in_ns "$NS_H1" python3 -c "$RAW" send u1 ff:ff:ff:ff:ff:ff 02:00:00:00:66:66 0 forged
in_ns "$NS_H1" python3 -c "$RAW" send u1 ff:ff:ff:ff:ff:ff 02:00:00:00:66:66 0 forged
spoofs_reach() { [ "$(drops u1 spoof)" -ge "$1" ]; }
wait_for 5 "spoof counter" spoofs_reach $((s0 + 2))
s1=$(drops u1 spoof)
check "forged source MAC dropped and counted (spoof $s0 -> $s1)" test "$s1" = $((s0 + 2))

# MTU 9000 with DF set, both directions of the uplink
check "MTU 9000: ping -M do -s 8972 host1 -> LAN" in_ns "$NS_H1" ping -c 3 -i 0.2 -W 2 -M do -s 8972 10.77.0.1
check "MTU 9000: ping -M do -s 8972 LAN -> host1" in_ns "$NS_LAN" ping -c 3 -i 0.2 -W 2 -M do -s 8972 10.77.0.11

# multicast: host1 joins 239.7.7.7 on u1 and receives from the LAN
in_ns "$NS_H1" timeout 15 python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("239.7.7.7", 5007))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("239.7.7.7") + socket.inet_aton("10.77.0.11"))
print("joined", flush=True); s.settimeout(10)
print(s.recv(100).decode(), flush=True)' >"$T/mc" 2>&1 &
mc=$!
wait_for 5 "multicast join" grep -q joined "$T/mc"
check "the director learned host1's multicast list" wait_for 5 "mcast list" bash -c "\"$XCM\" show vnic u1 | grep -E 'multicast lists' | grep -vE ' 0 multicast'"
for _ in 1 2 3 4 5; do
	in_ns "$NS_LAN" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.77.0.1"))
s.sendto(b"mc-hello", ("239.7.7.7", 5007))'
	grep -q mc-hello "$T/mc" && break
	sleep 0.3
done
wait $mc
check "multicast 239.7.7.7 from the LAN received on host1" grep -q mc-hello "$T/mc"

# more than 128 groups: the host asks for all-multicast
io_u1() {
	"$XCM" --json show vnic u1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
io = [s for s in d["vnics"][0]["status"] if s["host"] == "io-module"][0]
print(io[sys.argv[1]])' "$1"
}
check "u1 reports its groups (not all-multicast)" test "$(io_u1 all_multicast)" = False
in_ns "$NS_H1" timeout 20 python3 -c '
import os, socket, sys, time
socks = []
for i in range(130):
    if i % 20 == 0:
        socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    socks[-1].setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                         socket.inet_aton("239.8.%d.%d" % (i // 200, i % 200 + 1)) + socket.inet_aton("10.77.0.11"))
print("joined", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)' "$T/mc130.stop" >"$T/mc130" 2>&1 &
mcj=$!
wait_for 10 "130 joins" grep -q joined "$T/mc130"
all_multi() { [ "$(io_u1 all_multicast)" = True ]; }
wait_for 5 "all-multicast on u1" all_multi && echo "ok: 130 groups -> all-multicast on the director's port"
CHECKS=$((CHECKS + 1))
touch "$T/mc130.stop"; wait "$mcj"
not_all_multi() { [ "$(io_u1 all_multicast)" = False ]; }
wait_for 5 "back to a group list on u1" not_all_multi && echo "ok: groups left -> a list again"
CHECKS=$((CHECKS + 1))

# a vNIC added and another deleted while u1 carries a ping stream: no loss
in_ns "$NS_H1" ping -c 150 -i 0.02 -W 2 10.77.0.1 >"$T/stream" 2>&1 &
st=$!
xcm vnic add d1 --profile p2 --uplink lan >/dev/null
xcm vnic delete b20 >/dev/null
wait_for 20 "d1 on host2" carrier "$NS_H2" d1
wait_for 20 "b20 gone" bash -c "! ip -n $NS_H2 link show b20"
wait $st
check "ping stream on u1 lost nothing while d1 was added and b20 deleted" grep -q ' 0% packet loss' "$T/stream"
grep -E 'packets transmitted' "$T/stream"

# rate limit: u1 policed to CIR 20 / PIR 40 Mbit/s; 200 Mbit/s of UDP offered
xcm vnic set u1 --cir 20 --pir 40 >/dev/null
in_ns "$NS_LAN" iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
ip3=$!
wait_for 5 "iperf3 server" bash -c "ip netns exec $NS_LAN ss -ltn | grep -q :5301"
r0=$(drops u1 rate_in)
in_ns "$NS_H1" iperf3 -c 10.77.0.1 -p 5301 -u -b 200M -l 1400 -t 2 -J >"$T/rate.json" 2>&1
wait $ip3
got=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
print(int((s["packets"] - s["lost_packets"]) * 1400 * 8 / s["seconds"] / 1e6))' "$T/rate.json")
r1=$(drops u1 rate_in)
echo "policed UDP: $got Mbit/s received of 200 offered, rate_in drops $r0 -> $r1"
check "rate limit: received rate below 1.5 x PIR ($got Mbit/s)" test "$got" -lt 60
check "rate limit: something passed ($got Mbit/s)" test "$got" -gt 5
check "rate limit: red frames counted (rate_in)" test "$r1" -gt "$r0"

echo "vnic switching: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
