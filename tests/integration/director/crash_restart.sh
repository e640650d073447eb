#!/bin/bash
# Integration: a script adds vNICs while the director is killed with SIGKILL
# again and again and restarted. Afterwards every add the director
# acknowledged is present, each vnic row has exactly its one audit row, and
# the database passes SQLite's integrity and foreign-key checks.
. "$(dirname "$0")/lib.sh"

N=${N:-400}
KILLS=${KILLS:-10}
start_fabricd
start_director
expect_out "profile p1 added" 0 profile add p1

# writer: vN for N names; a name is retried until the director answers
# (added, or "already exists" when the lost reply's add had committed)
(
	for i in $(seq 1 "$N"); do
		for _ in $(seq 400); do
			out=$("$XCM" vnic add "v$i" --profile p1 2>&1)
			rc=$?
			if [ $rc = 0 ]; then echo "v$i" >>"$T/acked"; break; fi
			case "$out" in *"already exists"*) echo "v$i" >>"$T/existed"; break ;; esac
			sleep 0.05
		done
	done
	echo done >"$T/writer.done"
) &
WRITER=$!
PIDS+=("$WRITER")

kills=0
while [ ! -e "$T/writer.done" ] && [ $kills -lt "$KILLS" ]; do
	sleep "0.$((RANDOM % 4 + 1))"
	kill -KILL "$DIRECTOR_PID" 2>/dev/null
	wait "$DIRECTOR_PID" 2>/dev/null
	kills=$((kills + 1))
	start_director || break
done
wait_for 60 "writer finished" test -e "$T/writer.done"
echo "killed the director $kills times; $(wc -l <"$T/acked") adds acknowledged," \
	"$(cat "$T/existed" 2>/dev/null | wc -l) found committed after a lost reply"
CHECKS=$((CHECKS + 1))
[ "$kills" -ge 3 ] || fail "only $kills kills happened"

# one more kill right now, then check the database with the director down
kill -KILL "$DIRECTOR_PID"; wait "$DIRECTOR_PID" 2>/dev/null
DB=$T/state/director.db
CHECKS=$((CHECKS + 1))
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
CHECKS=$((CHECKS + 1))
[ -z "$(sqlite3 "$DB" 'PRAGMA foreign_key_check')" ] || fail "foreign_key_check"
CHECKS=$((CHECKS + 1))
missing=0
while read -r name; do
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM vnics WHERE name = '$name'")" = 1 ] ||
		{ missing=$((missing + 1)); echo "acknowledged $name is missing"; }
done <"$T/acked"
[ $missing = 0 ] || fail "$missing acknowledged vNICs missing after SIGKILL"
CHECKS=$((CHECKS + 1))
rows=$(sqlite3 "$DB" "SELECT count(*) FROM vnics")
[ "$rows" = "$N" ] || fail "$rows vnic rows, expected $N"
CHECKS=$((CHECKS + 1))
orphans=$(sqlite3 "$DB" "SELECT count(*) FROM vnics v WHERE (SELECT count(*) FROM audit_log
	WHERE what LIKE 'vnic add ' || v.name || ' %') != 1")
[ "$orphans" = 0 ] || fail "$orphans vnic rows without exactly one audit row"
CHECKS=$((CHECKS + 1))
audits=$(sqlite3 "$DB" "SELECT count(*) FROM audit_log WHERE what LIKE 'vnic add %'")
[ "$audits" = "$N" ] || fail "$audits 'vnic add' audit rows for $N vnics (half-written change)"
CHECKS=$((CHECKS + 1))
[ "$(sqlite3 "$DB" "SELECT count(DISTINCT mac) || ' ' || count(DISTINCT resource_id) FROM vnics")" = "$N $N" ] ||
	fail "MACs or resource ids not unique"

# and the director starts from it
start_director
expect_match "^v$N +p1 +02:58:53:" show vnic
finish
