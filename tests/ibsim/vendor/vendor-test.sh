#!/bin/bash
# vendor-test.sh HARNESS FABRIC_DIR PROGRAM - a vendor MAD exchange (class
# 0x0B version 2, attribute 0xB002) through the fabric API between two ibsim
# nodes: a server agent (XS_MAD_AGENT_SERVER) on "director", xs_mad_rpc from
# "host1"; the asker checks every byte of every reply.
set -u
H=$1 DIR=$2 PROG=$3
N=20
fail() { echo "FAIL (vendor_mad): $*" >&2; exit 1; }

read -r _ DLID _ < <("$H" lids "$DIR" | awk '$1 == "director"') || fail "no director in the fabric"
out=$DIR/vendor-serve.out
"$H" run "$DIR" director "$PROG" serve -F umad -n "$N" -t 20 > "$out" 2>&1 &
srv=$!
# wait (bounded) until the server has its agent and IsSM up
for _ in $(seq 1 100); do
	grep -q "^ready lid" "$out" && break
	kill -0 "$srv" 2>/dev/null || break
	sleep 0.05
done
grep -q '^ready lid' "$out" || { kill "$srv" 2>/dev/null; cat "$out" >&2; fail "server not ready"; }
cat "$out"
"$H" run "$DIR" host1 "$PROG" ask -F umad -l "$DLID" -n "$N"
arc=$?
wait "$srv"
src=$?
cat "$out"
[ "$arc" = 0 ] || fail "asker exit $arc"
[ "$src" = 0 ] || fail "server exit $src"
grep -q "^serve: served $N$" "$out" || fail "server did not serve $N requests"
echo "PASS: $N vendor MADs director <-> host1, every reply byte exact"
