# control.sh - guest script: the control plane on RoCE. The director
# (xsdirectord) runs on rxe1, the host agent (xscored) on rxe0. RoCE has no
# SA and no LIDs: the host is given the director's address and sends its
# XCPM XCM_REQUEST over QP1 to the director's IPv6 link-local GID (GID index
# 0; GetResp to IPv4-mapped GIDs is dropped by the kernel). Then the XSMP
# session must come up and a vNIC configured with xcm must arrive in
# `xsctl status --json`. Where a product lacks what RoCE needs, the check
# fails and says precisely what is missing.
. /xs/guest-lib.sh

DIR=/tmp/director
HOSTDIR=/tmp/host0
mkdir -p "$DIR" "$HOSTDIR"
export XCM_SOCKET=$DIR/director.sock
# rxe1's port GUID as the wire shows it (sysfs: "fcf1:42ff:fe73:f17e")
XDS_GUID=0x$(echo "$RXE1_GUID" | tr -d :)

# --- 1. the director starts on a RoCE port
c=director-start
bg director xsdirectord -f -F verbs:rxe1:1 --state-dir "$DIR" --ctl-socket "$XCM_SOCKET" \
	--name vm-director -d xds,xcm
# until the socket exists or the director is gone
wait_for 20 bash -c "test -S $XCM_SOCKET || ! kill -0 $PID_director"
if [ ! -S "$XCM_SOCKET" ]; then
	if alive director; then
		fail $c "xsdirectord runs but made no control socket in 20 s"
	fi
	stop director
	st=$?
	maxcqe=$(ibv_devinfo -v -d rxe1 | awk '/max_cqe:/ { print $2 }')
	fail $c "xsdirectord exited with status $st on verbs:rxe1:1 before its control" \
		"socket existed, and its log names no reason (log below). On rxe the device" \
		"allows max_cqe=$maxcqe completion queue entries; xsd_xcm_new()" \
		"(director/xcm/xcm.c) asks xs_cq_create() for (max_sessions_cap 2048 + 64)" \
		"x CQ_PER_SESSION 32 = 67584, so ibv_create_cq() fails with EINVAL, and" \
		"main() (director/xsdirectord/main.c) unwinds without logging. Needed: the" \
		"verbs backend's verbs_cq_create() clamping the depth to ibv_device_attr.max_cqe" \
		"(or the XCM sizing its CQ within it), and an error logged on that path"
fi
pass $c

# --- 2. configuration through xcm
c=xcm-config
out=$( { xcm config set hello-interval 2 &&
	xcm profile add host0 --hostname host0 &&
	xcm vnic add h0-eth0 --profile host0 --mtu 9000; } 2>&1) ||
	fail $c "xcm failed: $out"
xcm show vnic | grep -q '^h0-eth0 ' || fail $c "xcm show vnic does not list h0-eth0: $(xcm show vnic 2>&1)"
pass $c

# --- 3. XCPM over QP1, by the director's IPv6 link-local GID
c=xcpm-link-local-gid
out=$(timeout 30 xs-vm-xcpm verbs:rxe0:1 "$RXE1_LL" host0 2>&1) ||
	fail $c "no XCPM answer from the director at $RXE1_LL: $out"
echo "$out"
echo "$out" | grep -qx "XCM_REQUEST GetResp from $RXE1_LL: 1 XCM" ||
	fail $c "expected exactly one XCM in the reply"
echo "$out" | grep -qx "xcm $XDS_GUID lid 0" ||
	fail $c "the XCM is not the director's port $XDS_GUID (LID 0 on RoCE)"
pass $c

# --- 4. the host agent: discovery by GID, XSMP session, vNIC configuration
# what the host side needs after the XCM_REQUEST: named when it is missing
LID0_PIECE="xs_host_apply_xcms() (xscore/host/host.c) drops every XCM whose LID is 0,
which on RoCE is every XCM: it must keep them on an Ethernet port."
CONNECT_PIECE="fc_connect() (xscore/host/transport.c) sets only dest.lid (0 on RoCE),
and the verbs backend's verbs_qp_connect() refuses a RoCE connect without dest.ip
(-EDESTADDRREQ): the host must connect to the XCM's GID (the director's, the source
GID of the XCPM reply) and verbs_qp_connect() must turn a GID into an address
(IPv4-mapped -> AF_INET; otherwise IPv6, link-local scoped to the port's netdev,
/sys/class/infiniband/DEV/ports/N/gid_attrs/ndevs/GID_INDEX)."
NEXT_PIECES="Then: $LID0_PIECE Then: $CONNECT_PIECE"
c=xscored-xds-address
if ! xscored --help 2>&1 | grep -q -- '--xds-gid'; then
	# what a user gets today: the only address option is a LID
	bg xscored xscored -f -F verbs:rxe0:1 -p p0 -H host0 -s "$HOSTDIR" --xds-lid 1 \
		--backoff-max 1 -d disc
	wait_for 15 bash -c "xsctl -S $HOSTDIR/xscored-p0.sock status --json | jq -e '.hosts[0].xds.failures > 0'"
	res=$(xsctl -S "$HOSTDIR/xscored-p0.sock" status --json | jq -r '.hosts[0].xds.result')
	fail $c "xscored cannot address the XDS on RoCE: its only option is --xds-lid, and" \
		"a LID-routed MAD (no GRH) cannot leave a RoCE port; with --xds-lid 1 the host" \
		"reports: '$res'. Needed: an option --xds-gid GID (xscored/xscored.c, a GID in" \
		"struct xs_host_opts) that start_query() takes as 'skip the SA' and" \
		"send_xcm_request() (xscore/host/discovery.c) sends to with" \
		"xs_mad_addr.has_grh=true. $NEXT_PIECES"
fi
# the vNIC module makes a TAP device for each vNIC it is given
modprobe tun || fail xscored-tun "cannot load the tun module (needed for vNIC TAP devices)"
bg xscored xscored -f -F verbs:rxe0:1 -p p0 -H host0 -s "$HOSTDIR" --xds-gid "$RXE1_LL" \
	--backoff-max 1 -d disc,xsmp
CTL="xsctl -S $HOSTDIR/xscored-p0.sock"
if ! wait_for 40 bash -c "$CTL status --json | jq -e '.hosts[0].sessions[0].state == \"up\"'"; then
	st=$($CTL status --json 2>&1)
	why="no XSMP session up in 40 s: $(echo "$st" | jq -M -c '.hosts[0] | {xds, sessions}')."
	if [ "$(echo "$st" | jq '.hosts[0].xds.failures')" != 0 ] &&
	   [ "$(echo "$st" | jq '.hosts[0].sessions | length')" = 0 ]; then
		fail $c "$why The XCM_REQUEST by GID failed."
	elif [ "$(echo "$st" | jq '.hosts[0].sessions | length')" = 0 ]; then
		fail $c "$why The host got its XCM but opened no session: $LID0_PIECE"
	else
		fail $c "$why $CONNECT_PIECE"
	fi
fi
pass $c

c=xsmp-session
st=$($CTL status --json)
echo "$st" | jq -M -c '.hosts[0].sessions[0] | {xcm_guid, director, state, hello_interval_s}'
[ "$(echo "$st" | jq -r '.hosts[0].sessions[0].xcm_guid')" = "$XDS_GUID" ] ||
	fail $c "the session is not with the director's port $XDS_GUID"
[ "$(echo "$st" | jq -r '.hosts[0].sessions[0].director')" = vm-director ] ||
	fail $c "the session does not name the director vm-director"
xcm show sessions | grep -Eq '^host0 .* up ' || fail $c "xcm does not show host0's session up: $(xcm show sessions 2>&1)"
pass $c

c=vnic-config
wait_for 15 bash -c "$CTL status --json | jq -e '.hosts[0].devices | map(select(.type == \"vnic\" and .name == \"h0-eth0\")) | length == 1'" ||
	fail $c "the vNIC h0-eth0 did not arrive: $($CTL status --json | jq -M -c '.hosts[0].devices')"
$CTL status --json | jq -M -c '.hosts[0].devices[] | {type, name, state, "module": .module, mtu: .config.mtu}'
[ "$($CTL status --json | jq -r '.hosts[0].devices[] | select(.name == "h0-eth0") | .config.mtu')" = 9000 ] ||
	fail $c "h0-eth0 arrived without its MTU 9000"
[ "$($CTL status --json | jq '.hosts[0].devices | length')" = 1 ] ||
	fail $c "host0 holds other devices than h0-eth0"
pass $c

c=shutdown
stop xscored
st=$?
[ $st = 0 ] || fail $c "xscored exited with $st on SIGTERM"
stop director
st=$?
[ $st = 0 ] || fail $c "xsdirectord exited with $st on SIGTERM"
pass $c

finish
