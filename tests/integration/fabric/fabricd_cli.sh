#!/bin/bash
# xs-fabricd's command line and life cycle: help, bad options, one daemon per
# socket, SIGTERM and SIGINT shut down cleanly (exit 0, socket removed).
set -u
bin=$1
tmp=$(mktemp -d /tmp/xs-fabricd-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/log" ] && sed 's/^/  log: /' "$tmp/log"; exit 1; }
pass() { echo "ok: $*"; }

wait_sock() {
	for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}

"$bin" -h | grep -q -- "-P SPEC" || fail "-h does not describe -P"
pass "help"

out=$("$bin" -f -s "$tmp/x.sock" -P 0x0000:a 2>&1); rc=$?
[ $rc -eq 2 ] || fail "bad partition: exit $rc, want 2"
echo "$out" | grep -q "bad partition '0x0000:a'" || fail "bad partition message: $out"
out=$("$bin" -f -s "$tmp/x.sock" -P 0x8001: 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "names no ports" || fail "empty partition: $rc $out"
"$bin" -f -z >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option must exit 2"
pass "bad options refused with exit 2 and a message"

for sig in TERM INT; do
	sock=$tmp/f-$sig.sock
	"$bin" -f -s "$sock" -P 0x8001:a,b 2>"$tmp/log" &
	pid=$!
	wait_sock "$sock" || fail "no socket at $sock"
	# a second daemon on the same socket refuses and leaves the first alone
	out=$("$bin" -f -s "$sock" 2>&1); rc=$?
	[ $rc -ne 0 ] || fail "second daemon on $sock started"
	echo "$out" | grep -q "another xs-fabricd is serving $sock" || fail "second daemon: $out"
	[ -S "$sock" ] || fail "second daemon removed the first one's socket"
	kill -$sig $pid
	wait $pid; rc=$?
	[ $rc -eq 0 ] || fail "SIG$sig: exit $rc, want 0"
	[ -e "$sock" ] && fail "SIG$sig: socket $sock left behind"
	grep -q "signal .*: shutting down" "$tmp/log" || fail "no shutdown message"
	grep -q "counters:" "$tmp/log" || fail "no counters at exit"
	pass "SIG$sig: exit 0, socket removed"
done

# a stale socket file (no daemon behind it) is replaced
sock=$tmp/stale.sock
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])" "$sock" 2>/dev/null ||
	{ : > "$sock"; }
"$bin" -f -s "$sock" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do grep -q "soft fabric up on $sock" "$tmp/log" && break; sleep 0.05; done
grep -q "soft fabric up on $sock" "$tmp/log" && kill -0 $pid 2>/dev/null ||
	fail "did not replace a stale socket"
kill $pid; wait $pid || fail "exit after stale socket"

pass "stale socket replaced"
