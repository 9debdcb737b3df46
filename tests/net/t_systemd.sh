#!/bin/bash
# systemd: with NOTIFY_SOCKET (a socat datagram listener here), myvpn sends READY=1 only once
# `wg show` answers, WATCHDOG=1 at half of WATCHDOG_USEC while its loop runs and none while the
# process is stopped (SIGSTOP), STATUS= lines, and STOPPING=1 on SIGTERM. The shipped unit
# passes `systemd-analyze verify`.
. "$(dirname "$0")/lib.sh"
ns_add a
wg_keys a; wg_keys b
WG_PORT=51830 wg_conf a b 10.20.0.1/24 10.20.0.2/32
N=$TMP/notify.sock
bg socat a socat -u "UNIX-RECV:$N" "OPEN:$TMP/notify.txt,creat,append"
wait_until 5 test -S "$N" || fail "socat did not listen: $(cat "$TMP/socat.log")"
count() { grep -o "$1" "$TMP/notify.txt" 2>/dev/null | wc -l; }

bg a a env NOTIFY_SOCKET="$N" WATCHDOG_USEC=400000 "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
PID=$BG_PID
# Poll fast: READY=1 must never be seen while the control socket does not answer yet.
for _ in $(seq 500); do
	[ "$(count READY=1)" -gt 0 ] && break
	sleep 0.01
done
[ "$(count READY=1)" -gt 0 ] || fail "no READY=1: $(cat "$TMP/a.log")"
wg show "$P-ta" >/dev/null 2>&1 || fail "READY=1 came before wg show answers"
[ "$(count READY=1)" -eq 1 ] || fail "READY=1 sent $(count READY=1) times"
grep -q "STATUS=1 peer, 0 with a handshake" "$TMP/notify.txt" || fail "no STATUS= line: $(cat "$TMP/notify.txt")"

# The watchdog: ~2 pings a second of 400 ms... every 200 ms.
w0=$(count WATCHDOG=1)
sleep 1
w1=$(count WATCHDOG=1)
[ $((w1 - w0)) -ge 3 ] || fail "only $((w1 - w0)) WATCHDOG=1 in a second (WATCHDOG_USEC=400000)"
kill -STOP "$PID"
sleep 0.3
w2=$(count WATCHDOG=1)
sleep 1.5
w3=$(count WATCHDOG=1)
kill -CONT "$PID"
[ "$w3" -eq "$w2" ] || fail "$((w3 - w2)) WATCHDOG=1 arrived while the process was stopped"
wait_until 2 test "$(count WATCHDOG=1)" -gt "$w3" || fail "no WATCHDOG=1 after SIGCONT"

stop_pid "$PID"
[ "$STOPPED_STATUS" = 0 ] || fail "exit status $STOPPED_STATUS"
grep -q "STOPPING=1" "$TMP/notify.txt" || fail "no STOPPING=1 on SIGTERM"
log "notify: READY once, $(count WATCHDOG=1) watchdog pings, none while stopped, STOPPING"

# The journal: with JOURNAL_STREAM naming its stderr, myvpn logs with sd_journal_send. A
# private /run (a mount namespace inside the test's network namespace) holds socat as journald.
J=$TMP/journal.txt
at a unshare -m --propagation private bash -c '
	set -e
	mount -t tmpfs none /run
	mkdir -p /run/systemd/journal
	socat -u UNIX-RECV:/run/systemd/journal/socket "OPEN:$2,creat,append" & sock=$!
	for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
	exec 2>"$3"
	JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) "$1" -c "$4" -i "$5" & pid=$!
	for _ in $(seq 50); do grep -q "listening on UDP" "$2" 2>/dev/null && break; sleep 0.1; done
	kill -TERM $pid; wait $pid || true
	kill $sock' _ "$MYVPN" "$J" "$TMP/j.err" "$TMP/a.conf" "$P-tj"
grep -aq "SYSLOG_IDENTIFIER=myvpn" "$J" || fail "nothing in the journal: $(cat "$TMP/j.err")"
grep -aq "MESSAGE=encrypted mode .* listening on UDP port" "$J" || fail "no start-up line in the journal"
grep -aA2 "^MESSAGE=encrypted mode" "$J" | grep -aqx "PRIORITY=6" || fail "info without PRIORITY=6: $(head -c 300 "$J")"
grep -q "myvpn: info:" "$TMP/j.err" && fail "log lines went to stderr as well"
log "journal: $(grep -ac SYSLOG_IDENTIFIER=myvpn "$J") entries"

# The unit, with ExecStart pointing at this build.
if ! command -v systemd-analyze >/dev/null; then
	log "SKIP systemd-analyze verify: systemd-analyze is not installed"
else
	sed "s|@BINDIR@|$(dirname "$MYVPN")|" "$ROOT/systemd/myvpn@.service.in" >"$TMP/myvpn@$P.service"
	out=$(systemd-analyze verify --man=no "$TMP/myvpn@$P.service" 2>&1) ||
		fail "systemd-analyze verify failed: $out"
	[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
	log "unit verified"
fi
log "ok"
