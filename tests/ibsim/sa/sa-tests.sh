#!/bin/bash
# sa-tests.sh CASE HARNESS FABRIC_DIR XS_SA - ServiceRecords through OpenSM's SA.
#   sr_visible  xs-sa on "director" registers XSIGOXDS (data16[0] = its LID,
#               data64[0] = its port GUID); saquery -S on "host2" shows it
#   sr_get      xs-sa on "host1" finds XSIGOXDS by name; GUID/LID/GID match
#               what iblinkinfo (run by the harness) saw for "director"
#   sr_delete   xs-sa on "director" deletes it; host1 and saquery no longer see it
set -u
CASE=$1 H=$2 DIR=$3 XSSA=$4
NAME=XSIGOXDS
SID=0x0013970200000001

fail() { echo "FAIL ($CASE): $*" >&2; exit 1; }
run() { "$H" run "$DIR" "$@"; }

# The director's LID and port GUID as iblinkinfo reported them at start.
read -r _ DLID DGUID < <("$H" lids "$DIR" | awk '$1 == "director"') ||
	fail "no director in the fabric (did ibsim_fabric_start run?)"
[ -n "${DLID:-}" ] || fail "no director LID"
DGUID_HEX=$(printf '0x%016x' "$DGUID")
echo "director: lid $DLID port guid $DGUID_HEX"

# The director's GID as our umad backend reads it.
port_json=$(run director "$XSSA" -F umad --json port) || fail "xs-sa port on director failed"
echo "xs-sa port: $port_json"
GID=$(sed -n 's/.*"gid":"\([^"]*\)".*/\1/p' <<< "$port_json")
[ -n "$GID" ] || fail "no gid in: $port_json"
grep -q "\"lid\":$DLID," <<< "$port_json" || fail "umad backend LID differs from iblinkinfo's $DLID"
grep -q "\"port_guid\":\"$DGUID_HEX\"" <<< "$port_json" ||
	fail "umad backend port GUID differs from iblinkinfo's $DGUID_HEX"

register() {
	local out
	out=$(run director "$XSSA" -F umad --json sr-register "$NAME" --id "$SID" \
		--data16 0=lid --data64 0=guid) || fail "sr-register failed: $out"
	echo "sr-register: $out"
	grep -q "\"name\":\"$NAME\"" <<< "$out" || fail "SA's answer lacks the name"
}

saquery_S() { run host2 saquery -S 2>&1; }

field() {  # saquery output, field name -> value
	awk -v f="$2" '{ line = $0; sub(/^[ \t]+/, "", line);
		if (index(line, f ".") == 1) { line = substr(line, length(f) + 1);
			sub(/^\.+/, "", line); print line } }' <<< "$1"
}

case "$CASE" in
sr_visible)
	register
	out=$(saquery_S) || fail "saquery -S failed: $out"
	echo "$out"
	[ "$(field "$out" ServiceName)" = "$NAME" ] || fail "saquery -S shows no ServiceName $NAME"
	[ "$(field "$out" ServiceID)" = "$SID" ] || fail "saquery ServiceID is not $SID"
	[ "$(field "$out" ServiceGID)" = "$GID" ] || fail "saquery ServiceGID is not $GID"
	[ "$(field "$out" ServiceData16.1)" = "$(printf '0x%x' "$DLID")" ] ||
		fail "saquery ServiceData16.1 is not the director's LID $DLID"
	[ "$(field "$out" ServiceData64.1)" = "$DGUID_HEX" ] ||
		fail "saquery ServiceData64.1 is not the director's GUID $DGUID_HEX"
	echo "PASS: saquery -S shows $NAME, ID $SID, GID $GID, LID $DLID, GUID $DGUID_HEX"
	;;
sr_get)
	register
	out=$(run host1 "$XSSA" -F umad --json sr-get "$NAME") || fail "sr-get on host1 failed: $out"
	echo "sr-get (host1): $out"
	grep -q "\"name\":\"$NAME\"" <<< "$out" || fail "no record named $NAME"
	grep -q "\"id\":\"$SID\"" <<< "$out" || fail "ServiceID is not $SID"
	grep -q "\"gid\":\"$GID\"" <<< "$out" || fail "ServiceGID is not $GID"
	grep -q "\"data16\":\[$DLID," <<< "$out" || fail "ServiceData16[0] is not LID $DLID"
	grep -q "\"data64\":\[\"$DGUID_HEX\"" <<< "$out" || fail "ServiceData64[0] is not $DGUID_HEX"
	# and the path to it, from the GID we found
	pout=$(run host1 "$XSSA" -F umad --json path --dgid "$GID") || fail "path query failed: $pout"
	echo "path (host1): $pout"
	grep -q "\"dlid\":$DLID," <<< "$pout" || fail "PathRecord DLID is not $DLID"
	echo "PASS: host1 found $NAME through the SA: lid $DLID guid $DGUID_HEX gid $GID"
	;;
sr_delete)
	register
	out=$(run director "$XSSA" -F umad --json sr-delete "$NAME" --id "$SID") ||
		fail "sr-delete failed: $out"
	echo "sr-delete: $out"
	err=$(run host1 "$XSSA" -F umad sr-get "$NAME" 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] || fail "sr-get after delete exited $rc, expected 1"
	[ "$err" = "xs-sa: no ServiceRecord named \"$NAME\"" ] || fail "unexpected message: $err"
	out=$(saquery_S) || fail "saquery -S failed: $out"
	[ -z "$(field "$out" ServiceName | grep -x "$NAME")" ] || fail "saquery -S still shows $NAME"
	echo "PASS: $NAME deleted; host1: '$err'; saquery -S no longer lists it"
	;;
*)
	fail "unknown case"
	;;
esac
