#!/bin/bash
# SPDX-License-Identifier: MIT
# The director's iSCSI back end against a real tgtd:
#  1. tgtd on 127.0.0.1:<free port> with its own control port, one LUN on a
#     backing file; xsd-srpt with LUN 0 = iscsi://127.0.0.1:<port>/<iqn>/1;
#  2. through SRP (srp_probe on the xsvhba initiator): INQUIRY answers
#     tgtd's vendor "IET" (pass-through), capacity is the backing file's;
#  3. 1 MiB written at 4 MiB lands in tgtd's backing file; bytes put in the
#     backing file read back through SRP; an out-of-range READ gets tgtd's
#     ILLEGAL REQUEST / LBA OUT OF RANGE (5/21/00) on the wire;
#  4. tgtd killed (SIGKILL) and restarted on the same portal: the back end
#     reconnects (libiscsi's reconnect, bounded) and I/O works again.
# Stops exactly the tgtd it started (by pid).
#
# usage: iscsi_backend_test.sh XS-FABRICD XSD-SRPT SRP_PROBE WORKDIR
set -u
FABRICD=$1 SRPT=$2 PROBE=$3 WORK=$4
IQN=iqn.2026-01.com.xsigo.test:iscsi-backend
fail() { echo "FAIL: $*" >&2; dump; exit 1; }
dump() { for f in "$WORK"/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done >&2; }
cleanup() {
	[ -n "${TGT_PID:-}" ] && kill "$TGT_PID" 2>/dev/null
	[ -n "${FD_PID:-}" ] && kill "$FD_PID" 2>/dev/null
	stop_tgtd
	wait 2>/dev/null
}
# tgtd ignores SIGTERM while it has targets: ask it to shut down through its
# own control port, SIGKILL (by pid) if it does not.
stop_tgtd() {
	[ -n "${TGTD_PID:-}" ] || return 0
	tgtadm -C "$CPORT" --op delete --mode system >/dev/null 2>&1
	for i in $(seq 30); do kill -0 "$TGTD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$TGTD_PID" 2>/dev/null
	wait "$TGTD_PID" 2>/dev/null
	TGTD_PID=
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || fail "needs root (tgtd)"
command -v tgtd >/dev/null && command -v tgtadm >/dev/null || fail "tgt (tgtd, tgtadm) is not installed"
rm -rf "$WORK" && mkdir -p "$WORK" || fail "cannot create $WORK"
SOCK=$WORK/fabric.sock

# A portal port and a control port nobody uses (control: tgtd's abstract
# socket is named by the port number).
PORT=$((20000 + RANDOM % 20000))
while ss -ltn | grep -q ":$PORT "; do PORT=$((PORT + 1)); done
CPORT=$((1000 + RANDOM % 8000))
truncate -s 67108864 "$WORK/backing.img"

start_tgtd() {
	tgtd -f -C "$CPORT" --iscsi "portal=127.0.0.1:$PORT" >>"$WORK/tgtd.log" 2>&1 &
	TGTD_PID=$!
	for i in $(seq 50); do
		tgtadm -C "$CPORT" --lld iscsi --op show --mode target >/dev/null 2>&1 && break
		sleep 0.1
	done
	tgtadm -C "$CPORT" --lld iscsi --op new --mode target --tid 1 -T "$IQN" &&
	tgtadm -C "$CPORT" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 \
		-b "$WORK/backing.img" &&
	tgtadm -C "$CPORT" --lld iscsi --op bind --mode target --tid 1 -I ALL ||
		fail "tgtadm could not set up the target"
	for i in $(seq 50); do ss -ltn | grep -q "127.0.0.1:$PORT " && return 0; sleep 0.1; done
	fail "tgtd is not listening on $PORT"
}
start_tgtd
echo "tgtd pid $TGTD_PID on 127.0.0.1:$PORT (control port $CPORT)"

"$FABRICD" -f -s "$SOCK" 2>"$WORK/fabricd.log" &
FD_PID=$!
for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "xs-fabricd did not start"
echo "lun 0 iscsi://127.0.0.1:$PORT/$IQN/1" >"$WORK/srpt.conf"
"$SRPT" -F "soft:$SOCK" -p target -c "$WORK/srpt.conf" 2>"$WORK/srpt.log" &
TGT_PID=$!
for i in $(seq 50); do grep -q "ready: 1 LUN" "$WORK/srpt.log" && break; sleep 0.1; done
grep -q "ready: 1 LUN" "$WORK/srpt.log" || fail "xsd-srpt did not come up with the iSCSI LUN"
probe() { "$PROBE" "soft:$SOCK" 2 0 "$@" 2>>"$WORK/probe.log"; }

# 2. INQUIRY and capacity.
out=$(probe inquiry capacity) || fail "probe inquiry"
echo "$out"
grep -q "^inquiry vendor=IET " <<<"$out" || fail "INQUIRY is not tgtd's (vendor IET expected)"
grep -q "^capacity blocks=131072 block_size=512$" <<<"$out" || fail "capacity is not 64 MiB"

# 3. Bytes both ways, out-of-range sense, SYNCHRONIZE CACHE.
head -c 1048576 /dev/urandom >"$WORK/pat"
head -c 524288 /dev/urandom >"$WORK/pat2"
dd if="$WORK/pat2" of="$WORK/backing.img" bs=512K seek=40 conv=notrunc status=none
out=$(probe write 4194304 "$WORK/pat" sync read 20971520 524288 "$WORK/back2" oor) ||
	fail "probe I/O"
echo "$out"
cmp -i 4194304:0 -n 1048576 "$WORK/backing.img" "$WORK/pat" || fail "tgtd's backing file does not hold what was written"
cmp "$WORK/pat2" "$WORK/back2" || fail "read through SRP differs from the backing file"
grep -q "^oor status=2 sense=5/21/00$" <<<"$out" || fail "out-of-range READ: wrong answer"
echo "1 MiB written through SRP found in tgtd's backing file; 512 KiB read back equal"

# 4. tgtd restart: the back end reconnects.
kill -KILL "$TGTD_PID"
wait "$TGTD_PID" 2>/dev/null
TGTD_PID=
sleep 1
start_tgtd
head -c 262144 /dev/urandom >"$WORK/pat3"
out=$(probe write 8388608 "$WORK/pat3" read 8388608 262144 "$WORK/back3") ||
	fail "I/O after the tgtd restart"
cmp "$WORK/pat3" "$WORK/back3" || fail "data after the restart"
cmp -i 8388608:0 -n 262144 "$WORK/backing.img" "$WORK/pat3" || fail "backing file after the restart"
echo "tgtd restarted: the iSCSI back end reconnected, 256 KiB written and read back"
stop_tgtd
echo PASS
