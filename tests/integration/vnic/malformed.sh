#!/bin/bash
# Malformed input to the director's vNIC I/O module (vnic_poke plays the
# host): bad CM private data and an unknown vNIC are rejected, malformed
# control messages and frames are counted and the vNIC keeps being served.
source "$(dirname "$0")/lib.sh"
: "${POKE:?POKE = the vnic_poke binary}"

setup_net
start_fabricd
start_director
xcm uplink add lan --interface upl0 >/dev/null
xcm profile add nobody --hostname nobody >/dev/null
xcm vnic add ghost --profile nobody --uplink lan >/dev/null
rid=$("$XCM" --json show vnic ghost | python3 -c 'import json,sys; print(json.load(sys.stdin)["vnics"][0]["resource_id"])')
lid=$(grep -o "ready: soft port 'director' LID [0-9]*" "$T/director.log" | grep -o '[0-9]*$')
check "vnic_poke against the I/O module (LID $lid, vNIC $rid)" "$POKE" "soft:$T/fabric.sock" "$lid" "$rid"
cat "$T/check.out"
io() {
	"$XCM" --json show vnic ghost | python3 -c '
import json, sys
d = json.load(sys.stdin)
io = [s for s in d["vnics"][0]["status"] if s["host"] == "io-module"][0]
v = io
for k in sys.argv[1].split("."): v = v.get(k, 0)
print(v)' "$1"
}
check "3 malformed control messages counted (ctrl_bad)" test "$(io ctrl_bad)" = 3
check "2 malformed frames counted (drops_in.malformed)" test "$(io drops_in.malformed)" = 2
check "3 connection requests rejected (vio_rejects)" bash -c "\"$XCM\" --json show stats | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d.get(\"stats\", d); assert s[\"vio_rejects\"] == 3, s[\"vio_rejects\"]'"
check "director still running" kill -0 "$DIRECTOR_PID"

echo "vnic malformed: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
