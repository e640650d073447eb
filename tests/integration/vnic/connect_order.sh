#!/bin/bash
# The order of a vNIC's two connect requests must not matter: vnic_order
# plays a host whose data request reaches the I/O module before its control
# request (once with the data connection established first, once with both
# requests sent back to back, data first). Neither connection may be closed,
# START_RX is answered at the first try, the frames arrive, and the director
# counts two sessions, both data-first, and no "host reconnected".
source "$(dirname "$0")/lib.sh"
: "${ORDER:?ORDER = the vnic_order binary}"

setup_net
start_fabricd
start_director
xcm uplink add lan --interface upl0 >/dev/null
xcm profile add nobody --hostname nobody >/dev/null
xcm vnic add early --profile nobody --uplink lan >/dev/null
rid=$("$XCM" --json show vnic early | python3 -c 'import json,sys; print(json.load(sys.stdin)["vnics"][0]["resource_id"])')
lid=$(grep -o "ready: soft port 'director' LID [0-9]*" "$T/director.log" | grep -o '[0-9]*$')
check "vnic_order against the I/O module (LID $lid, vNIC $rid)" "$ORDER" "soft:$T/fabric.sock" "$lid" "$rid"
cat "$T/check.out"
io() {
	"$XCM" --json show vnic early | python3 -c '
import json, sys
d = json.load(sys.stdin)
io = [s for s in d["vnics"][0]["status"] if s["host"] == "io-module"][0]
print(io.get(sys.argv[1], "absent"))' "$1"
}
check "2 frames from the host counted (from_host_frames)" test "$(io from_host_frames)" = 2
check "2 sessions started (connects)" test "$(io connects)" = 2
check "2 data connections came first and were kept (data_first)" test "$(io data_first)" = 2
check "2 sessions closed, both by the host at the end of its round (disconnects)" \
	test "$(io disconnects)" = 2
check "the director never took a control request for a reconnection" \
	bash -c "! grep -F 'host reconnected' '$T/director.log'"
check "director still running" kill -0 "$DIRECTOR_PID"

echo "vnic connect order: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
