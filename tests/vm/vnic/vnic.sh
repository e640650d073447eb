# vnic.sh - guest script: the vNIC data path over real verbs (Soft-RoCE).
# The director (xsdirectord, verbs backend) runs on rxe1 with its uplink
# upl0, a veth whose peer lan0 is in the network namespace "lan"; the host
# agent (xscored, whose xsvnic module opens the verbs backend too) runs on
# rxe0 and is given the director's GID. `xcm vnic add` must make a TAP
# interface appear in the guest's root namespace that reaches the LAN: every
# frame crosses the vNIC's RC connections (rxe0 -> veth0/veth1 -> rxe1), the
# director's 802.1Q switch and the uplink's packet socket.
#
#   vnic.sh roce   vNIC h0-eth0: configured MAC, IPv4 and IPv6 pings, 2 MiB
#                  of TCP each way with sha256 compared, the packets seen on
#                  rxe0, counters in xcm and xsctl, MTU 9000, the director
#                  SIGKILLed and restarted, uplink down/up -> carrier, delete
#   vnic.sh vlan   trunk vNIC t30 (VLANs 10,30) with 802.1Q sub-interfaces on
#                  the host: t30.30 reaches the LAN's VLAN 30; t30.20 (VLAN
#                  20, not allowed) reaches nothing and the director counts
#                  the drops
. /xs/guest-lib.sh

PART=${1:-}
case $PART in
roce | vlan) ;;
*) echo "usage: vnic.sh roce|vlan"; exit 2 ;;
esac
DIR=/tmp/director
HOSTDIR=/tmp/host0
mkdir -p "$DIR" "$HOSTDIR"
export XCM_SOCKET=$DIR/director.sock
CTL="xsctl -S $HOSTDIR/xscored-p0.sock"
MAC_ETH0=02:00:5e:77:00:11
MAC_T30=02:00:5e:77:00:30
LAN="ip netns exec lan"
lan() { $LAN "$@"; }
# io NAME JQ: a field of the director's I/O module entry of vNIC NAME
io() {
	xcm --json show vnic "$1" |
		jq -M -r ".vnics[0].status[] | select(.host == \"io-module\") | $2"
}

# --- the LAN behind the director: namespace "lan", lan0 <-> upl0
c=lan-setup
modprobe 8021q || fail $c "cannot load 8021q (VLAN sub-interfaces)"
modprobe tun || fail $c "cannot load tun (the vNICs' TAP devices)"
{
	ip netns add lan &&
	ip -n lan link set lo up &&
	ip link add upl0 type veth peer name lan0 netns lan &&
	ip -n lan addr add 10.77.0.1/24 dev lan0 &&
	ip -n lan link set lan0 up &&
	ip link set upl0 mtu 9000 up &&
	ip -n lan link set lan0 mtu 9000 &&
	# VLAN 30 and VLAN 20 sub-interfaces on the LAN side: a trunk vNIC
	# allowed VLAN 30 reaches 10.30.0.1, one tagging 20 must not reach
	# 10.20.0.1 although it is there
	ip -n lan link add link lan0 name lan0.30 type vlan id 30 &&
	ip -n lan addr add 10.30.0.1/24 dev lan0.30 &&
	ip -n lan link set lan0.30 up &&
	ip -n lan link add link lan0 name lan0.20 type vlan id 20 &&
	ip -n lan addr add 10.20.0.1/24 dev lan0.20 &&
	ip -n lan link set lan0.20 up
} > "$LOGS/lan-setup.log" 2>&1 || fail $c "$(cat "$LOGS/lan-setup.log")"
pass $c

# --- the director on rxe1
c=director-start
start_director() {  # log name
	rm -f "$XCM_SOCKET"
	bg $1 xsdirectord -f -F verbs:rxe1:1 --state-dir "$DIR" --ctl-socket "$XCM_SOCKET" \
		--name vm-director
	local v="PID_$1"
	PID_director=${!v}
	wait_for 20 bash -c "test -S $XCM_SOCKET || ! kill -0 $PID_director"
	[ -S "$XCM_SOCKET" ] || fail $c "xsdirectord made no control socket on verbs:rxe1:1"
}
start_director director
pass $c

c=xcm-config
out=$( {
	xcm uplink add lan --interface upl0 &&
	xcm profile add host0 --hostname host0 &&
	if [ $PART = roce ]; then
		xcm vnic add h0-eth0 --profile host0 --uplink lan --mac $MAC_ETH0 --mtu 9000
	else
		xcm vnic add t30 --profile host0 --uplink lan --mac $MAC_T30 \
			--vlan-mode trunk --vlans 10,30
	fi
} 2>&1) || fail $c "xcm failed: $out"
pass $c

# --- the host agent on rxe0, given the director's link-local GID
c=xsmp-session
# vlan: no IPv6 on the interfaces made from here on: the trunk vNIC's own
# untagged frames (router solicitations, MLD reports) would also count as
# VLAN drops
[ $PART = vlan ] && sysctl -qw net.ipv6.conf.default.disable_ipv6=1
bg xscored xscored -f -F verbs:rxe0:1 -p p0 -H host0 -s "$HOSTDIR" --xds-gid "$RXE1_LL" \
	--backoff-max 1
wait_for 40 bash -c "$CTL status --json | jq -e '.hosts[0].sessions[0].state == \"up\"'" ||
	fail $c "no XSMP session up in 40 s: $($CTL status --json 2>&1 | jq -M -c '.hosts[0] | {xds, sessions}')"
# the director names the host by the host's port GUID and the GID its
# connection came from (the verbs backend's view of the CM request)
HOST_GUID=0x$(echo "$RXE0_GUID" | tr -d :)
want="host host0 (GUID $HOST_GUID, GID $RXE0_GID0) registered"
wait_for 5 grep -qF "$want" "$LOGS/director.log" ||
	fail $c "the director's log lacks '$want': $(grep -F 'host host0' "$LOGS/director.log")"
pass $c

# carrier IF: the interface exists and has its carrier
carrier() { ip link show "$1" 2>/dev/null | grep -q 'LOWER_UP'; }
# the vNIC's interface: exists, configured MAC, carrier (the director's
# START_RX_RESPONSE and LINK_UP arrived over the control RC connection)
vnic_up() {  # NAME MAC
	local c=$1-interface
	wait_for 30 ip link show "$1" ||
		fail $c "no interface $1 on the host in 30 s; host devices:" \
			"$($CTL status --json | jq -M -c '.hosts[0].devices')"
	wait_for 30 carrier "$1" ||
		fail $c "$1 has no carrier after 30 s: $(ip link show "$1"); xsctl vnic show:" \
			"$($CTL vnic show 2>&1)"
	ip link show "$1"
	[ "$(cat /sys/class/net/$1/address)" = "$2" ] ||
		fail $c "$1 has MAC $(cat /sys/class/net/$1/address), configured $2"
	pass $c
}

# rxe PORTDEV COUNTER: a Soft-RoCE port counter (what `rdma statistic` shows)
rxe() { cat /sys/class/infiniband/$1/ports/1/hw_counters/$2; }

# tcp_to FROM TO ADDR: 2 MiB of random bytes over TCP to ADDR:5001, the
# receiver's sha256 compared with the sender's; FROM and TO are command
# prefixes ("" for the root namespace, "$LAN" for the LAN's)
tcp_to() {
	local from=$1 to=$2 addr=$3 want got srv
	head -c 2097152 /dev/urandom > /tmp/blob
	want=$(sha256sum < /tmp/blob | cut -d' ' -f1)
	rm -f /tmp/got
	$to timeout 60 nc -l -p 5001 > /tmp/got &
	srv=$!
	wait_for 5 bash -c "$to netstat -ltn | grep -q ':5001 '" ||
		fail $c "no TCP listener on port 5001"
	$from timeout 60 bash -c "cat /tmp/blob > /dev/tcp/$addr/5001" ||
		fail $c "sending 2 MiB over TCP to $addr:5001 failed"
	wait $srv
	got=$(sha256sum < /tmp/got | cut -d' ' -f1)
	[ "$got" = "$want" ] ||
		fail $c "$addr received $(stat -c %s /tmp/got) bytes with sha256 $got," \
			"sent 2097152 with $want"
	echo "2097152 bytes to $addr, sha256 $got on both ends"
}

if [ $PART = roce ]; then
	vnic_up h0-eth0 $MAC_ETH0
	ip addr add 10.77.0.11/24 dev h0-eth0
	ip addr add fd77::11/64 dev h0-eth0 nodad
	ip -n lan addr add fd77::1/64 dev lan0 nodad

	c=ping-lan
	out=$(ping -c 5 -i 0.2 -W 3 10.77.0.1 2>&1)
	echo "$out" | tail -n 2
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping h0-eth0 -> 10.77.0.1: $out"
	pass $c

	c=ping-from-lan
	out=$(lan ping -c 3 -i 0.2 -W 3 10.77.0.11 2>&1)
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping lan0 -> 10.77.0.11: $out"
	pass $c

	c=ping6-lan   # neighbour discovery: multicast solicitations through the switch
	out=$(ping -6 -c 3 -i 0.2 -W 3 fd77::1 2>&1)
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping -6 h0-eth0 -> fd77::1: $out"
	pass $c

	# the frames really ride RC SENDs on rxe0: at least one RoCE packet per
	# path-MTU of payload leaves rxe0
	c=tcp-host-to-lan
	mtu=$(ibv_devinfo -d rxe0 | awk '/active_mtu:/ { print $2; exit }')
	s0=$(rxe rxe0 sent_pkts)
	tcp_to "" "$LAN" 10.77.0.1
	s1=$(rxe rxe0 sent_pkts)
	echo "rxe0 sent $((s1 - s0)) RoCE packets (path MTU $mtu) during the transfer"
	[ $((s1 - s0)) -ge $((2097152 / mtu)) ] ||
		fail $c "rxe0 sent only $((s1 - s0)) packets for 2 MiB at MTU $mtu: the frames did not cross rxe"
	pass $c

	c=tcp-lan-to-host
	r0=$(rxe rxe0 rcvd_pkts)
	tcp_to "$LAN" "" 10.77.0.11
	r1=$(rxe rxe0 rcvd_pkts)
	echo "rxe0 received $((r1 - r0)) RoCE packets during the transfer"
	[ $((r1 - r0)) -ge $((2097152 / mtu)) ] ||
		fail $c "rxe0 received only $((r1 - r0)) packets for 2 MiB at MTU $mtu"
	pass $c

	c=counters   # one call of each tool: every start costs under emulation
	txt=$(xcm show vnic h0-eth0)
	echo "$txt"
	# (a here-string, not <(...): the guest has no /dev/fd)
	read -r ff tf fb tb <<< "$(xcm --json show vnic h0-eth0 | jq -M -r '.vnics[0].status[] |
		select(.host == "io-module") |
		"\(.from_host_frames) \(.to_host_frames) \(.from_host_bytes) \(.to_host_bytes)"')"
	# 2 MiB each way: at least 32 frames (a TSO segment is at most 64 KiB)
	[ "$ff" -ge 32 ] && [ "$tf" -ge 32 ] && [ "$fb" -ge 2097152 ] && [ "$tb" -ge 2097152 ] ||
		fail $c "xcm show vnic h0-eth0 --json: frames from/to host $ff/$tf, bytes $fb/$tb" \
			"after 2 MiB each way (expected >= 32 frames and >= 2097152 bytes each way)"
	echo "$txt" | grep -Eq '^  data path +up on uplink lan \(link up\)' ||
		fail $c "xcm show vnic h0-eth0 does not show the data path up on uplink lan"
	echo "$txt" | grep -Eq '^  drops in +none$' ||
		fail $c "the director dropped frames of h0-eth0: $(echo "$txt" | grep drops)"
	txt=$($CTL vnic show)
	echo "$txt"
	line=$(echo "$txt" | awk '$1 == "h0-eth0"')
	[ "$(echo "$line" | awk '{ print $2, $3 }')" = "up up" ] ||
		fail $c "xsctl vnic show: h0-eth0 is not up with link up: $line"
	[ "$(echo "$line" | awk '{ print $4 }')" -ge 32 ] && [ "$(echo "$line" | awk '{ print $5 }')" -ge 32 ] ||
		fail $c "xsctl vnic show: h0-eth0's frame counters are low: $line"
	pass $c

	# MTU 9000 from the configuration: 9000-byte IPv4 packets both ways
	# (the uplink and lan0 have MTU 9000 too); a ping this size that was
	# cut down or dropped anywhere gets no reply
	c=mtu-9000
	[ "$(cat /sys/class/net/h0-eth0/mtu)" = 9000 ] ||
		fail $c "h0-eth0 has MTU $(cat /sys/class/net/h0-eth0/mtu), configured 9000"
	out=$(ping -c 3 -i 0.2 -W 3 -s 8972 10.77.0.1 2>&1)
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping -s 8972 h0-eth0 -> 10.77.0.1: $out"
	out=$(lan ping -c 3 -i 0.2 -W 3 -s 8972 10.77.0.11 2>&1)
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping -s 8972 lan0 -> 10.77.0.11: $out"
	pass $c

	# the director SIGKILLed: its QPs die with it; the host keeps the
	# interface, reconnects its vNIC connections to the restarted director
	# over rdma_cm and traffic resumes on the same ifindex
	c=director-restart
	idx=$(cat /sys/class/net/h0-eth0/ifindex)
	kill -KILL $PID_director
	wait $PID_director 2>/dev/null
	start_director director2
	t1=$(uptime_s)
	wait_for 30 ping -c 1 -W 1 10.77.0.1 ||
		fail $c "no ping h0-eth0 -> 10.77.0.1 within 30 s of the director's restart; xsctl vnic show:" \
			"$($CTL vnic show 2>&1)"
	t2=$(uptime_s)
	echo "traffic resumed $(awk -v a=$t1 -v b=$t2 'BEGIN { printf "%.1f", b - a }') s" \
		"(guest time) after the restarted director's control socket appeared"
	[ "$(cat /sys/class/net/h0-eth0/ifindex)" = "$idx" ] ||
		fail $c "h0-eth0 was re-created (ifindex $idx -> $(cat /sys/class/net/h0-eth0/ifindex))"
	line=$($CTL vnic show | awk '$1 == "h0-eth0"')
	echo "$line"
	[ "$(echo "$line" | awk '{ print $2 }')" = up ] || fail $c "xsctl vnic show: h0-eth0 is not up: $line"
	[ "$(echo "$line" | awk '{ print $10 }')" -ge 2 ] ||
		fail $c "xsctl vnic show: h0-eth0 counts $(echo "$line" | awk '{ print $10 }') connections, expected 2"
	tcp_to "" "$LAN" 10.77.0.1
	pass $c

	# the uplink's link state reaches the host's carrier (LINK_DOWN and
	# LINK_UP on the control RC connection)
	c=uplink-carrier
	ip link set upl0 down
	wait_for 10 bash -c "ip link show h0-eth0 | grep -q NO-CARRIER" ||
		fail $c "h0-eth0 kept its carrier 10 s after the uplink went down: $(ip link show h0-eth0)"
	ip link set upl0 up
	wait_for 10 carrier h0-eth0 ||
		fail $c "h0-eth0 got no carrier back 10 s after the uplink came up: $(ip link show h0-eth0)"
	wait_for 10 ping -c 1 -W 1 10.77.0.1 || fail $c "no ping to the LAN after the uplink came back"
	pass $c

	# xcm vnic delete: the interface goes away, the host holds no device;
	# the host's session to the restarted director is up by now, so the
	# delete reaches it as a DELETE at once (it once reached it only with
	# the resync of a session that waited 10 s for a REG_CONFIRM, its
	# REGISTER having beaten rdma_cm's ESTABLISHED to the director)
	c=vnic-delete
	out=$(xcm vnic delete h0-eth0 2>&1) || fail $c "xcm vnic delete h0-eth0: $out"
	echo "$out"
	echo "$out" | grep -q 'not connected' && fail $c "xcm vnic delete found no session: $out"
	wait_for 5 bash -c "! ip link show h0-eth0" ||
		fail $c "h0-eth0 still exists 5 s after xcm vnic delete"
	grep -q 'vNIC h0-eth0 (resource [0-9a-f]*) removed (DELETE)' "$LOGS/xscored.log" ||
		fail $c "the host did not remove h0-eth0 on a DELETE: $(grep -F h0-eth0 "$LOGS/xscored.log" | tail -n 3)"
	wait_for 5 bash -c "$CTL status --json | jq -e '.hosts[0].devices | length == 0'" ||
		fail $c "the host still holds devices: $($CTL status --json | jq -M -c '.hosts[0].devices')"
	pass $c
fi

if [ $PART = vlan ]; then
	vnic_up t30 $MAC_T30
	{
		ip link add link t30 name t30.30 type vlan id 30 &&
		ip addr add 10.30.0.2/24 dev t30.30 &&
		ip link set t30.30 up &&
		ip link add link t30 name t30.20 type vlan id 20 &&
		ip addr add 10.20.0.2/24 dev t30.20 &&
		ip link set t30.20 up
	} > "$LOGS/vlan-setup.log" 2>&1 ||
		fail t30-subinterfaces "$(cat "$LOGS/vlan-setup.log")"

	c=vlan30-ping
	out=$(ping -c 5 -i 0.2 -W 3 -I t30.30 10.30.0.1 2>&1)
	echo "$out" | tail -n 2
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping t30.30 -> 10.30.0.1 (lan0.30): $out"
	out=$(lan ping -c 3 -i 0.2 -W 3 10.30.0.2 2>&1)
	echo "$out" | grep -q ' 0% packet loss' || fail $c "ping lan0.30 -> 10.30.0.2 (t30.30): $out"
	pass $c

	c=vlan20-isolated
	d0=$(io t30 '.drops_in.vlan // 0')
	l0=$(lan cat /sys/class/net/lan0.20/statistics/rx_packets)
	out=$(ping -c 3 -i 0.5 -W 1 -I t30.20 10.20.0.1 2>&1) &&
		fail $c "t30.20 reached 10.20.0.1 on VLAN 20, which t30 does not allow: $out"
	echo "$out" | tail -n 2
	d1=$(io t30 '.drops_in.vlan // 0')
	l1=$(lan cat /sys/class/net/lan0.20/statistics/rx_packets)
	echo "director: t30 ingress VLAN drops $d0 -> $d1; lan0.20 received $((l1 - l0)) packets"
	[ "$d1" -gt "$d0" ] || fail $c "the director's VLAN drop counter for t30 did not rise ($d0 -> $d1)"
	[ "$l1" = "$l0" ] || fail $c "lan0.20 received $((l1 - l0)) packets from t30.20"
	xcm show vnic t30 | grep -E '^  (VLANs|drops in) '
	xcm show vnic t30 | grep -Eq "^  drops in +(.*, )?vlan $d1(,|\$)" ||
		fail $c "xcm show vnic t30 does not show 'vlan $d1' among the drops in"
	pass $c
fi

c=shutdown
stop xscored
st=$?
[ $st = 0 ] || fail $c "xscored exited with $st on SIGTERM"
stop director
st=$?
[ $st = 0 ] || fail $c "xsdirectord exited with $st on SIGTERM"
pass $c

finish
