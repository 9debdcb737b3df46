#!/bin/bash
# A crash writes no key to disk. myvpn (-c, a peer with a preshared key) runs with its key
# pages locked (VmLck), and warns when it cannot lock them; a peer added under --user and the
# sandbox is locked too (mlock allowed). With the test-only
# MYVPN_TEST_ABORT_AFTER_START it aborts once up, in a directory of its own with
# `ulimit -c unlimited`: no core file appears. The same with
# --allow-core-dumps does leave a core, and that core holds the private key: the check can
# fail. core_pattern must name a file in the working directory; any other pattern is set to
# "core" for the test and restored at exit.
. "$(dirname "$0")/lib.sh"

PATTERN=/proc/sys/kernel/core_pattern
saved_pattern=$(cat "$PATTERN")
restore_pattern() { [ "$(cat "$PATTERN")" = "$saved_pattern" ] || printf '%s\n' "$saved_pattern" >"$PATTERN"; }
trap 'restore_pattern; cleanup' EXIT
case $saved_pattern in
core*) ;;
*) echo core >"$PATTERN" ;;
esac

ns_add a
wg_keys a; wg_keys b
(umask 077; wg genpsk >"$TMP/psk")
wg_conf a b 10.42.0.1/24 10.42.0.2/32 192.0.2.2:51820 "PresharedKey = $(cat "$TMP/psk")"

# The daemon up, its keys locked in memory. AddressSanitizer turns mlock into a no-op, so a
# sanitized build (make check-sanitized) skips that part.
if grep -qa __asan_init "$MYVPN"; then
	log "AddressSanitizer build: mlock is a no-op there, the lock checks are skipped"
else
	bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-t"
	A=$BG_PID
	wait_ready a
	locked=$(awk '/^VmLck:/ { print $2 }' "/proc/$A/status")
	[ "${locked:-0}" -gt 0 ] || fail "no memory locked (VmLck ${locked:-?} kB): $(cat "$TMP/a.log")"
	grep -q "cannot lock key memory" "$TMP/a.log" && fail "key memory not locked: $(cat "$TMP/a.log")"
	stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn exited $STOPPED_STATUS"
	log "key pages locked (VmLck $locked kB)"

	# Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0 the keys cannot be locked: myvpn says so
	# and runs on.
	bg nolock a prlimit --memlock=0:0 setpriv --bounding-set=-ipc_lock "$MYVPN" -c "$TMP/a.conf" -i "$P-t"
	A=$BG_PID
	wait_ready nolock
	grep -q "cannot lock key memory.*RLIMIT_MEMLOCK 0 KiB" "$TMP/nolock.log" || fail "no warning for unlocked keys: $(cat "$TMP/nolock.log")"
	stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn without mlock exited $STOPPED_STATUS"
	log "without CAP_IPC_LOCK and RLIMIT_MEMLOCK: $(grep -o "cannot lock key memory.*" "$TMP/nolock.log")"
fi

# A peer added at run time has its keys locked too, under --user and the seccomp sandbox
# (which must allow mlock: without it the daemon dies of SIGSYS here).
wg_keys c
bg sandboxed a "$MYVPN" -c "$TMP/a.conf" -i "$P-t" --user nobody
A=$BG_PID
wait_ready sandboxed
wait_until 5 grep -q "running as user nobody" "$TMP/sandboxed.log" || fail "no change of user: $(cat "$TMP/sandboxed.log")"
at a wg set "$P-t" peer "$(cat "$TMP/c.pub")" preshared-key "$TMP/psk" allowed-ips 10.42.0.3/32 ||
	fail "wg set of a new peer failed: $(cat "$TMP/sandboxed.log")"
sleep 0.3
kill -0 "$A" 2>/dev/null || fail "myvpn died adding a peer under the sandbox: $(tail -3 "$TMP/sandboxed.log")"
[ "$(at a wg show "$P-t" peers | wc -l)" -eq 2 ] || fail "the new peer is missing"
stop_pid "$A"
log "a peer added under --user and the sandbox: daemon alive"

# crash NAME [FLAGS...]: myvpn aborts once up, in $TMP/NAME with core files allowed; its
# exit status is left in STOPPED_STATUS.
crash() {
	local name=$1; shift
	mkdir -p "$TMP/$name"
	bg "$name" a bash -c 'cd "$1" && ulimit -c unlimited && shift && exec "$@"' _ "$TMP/$name" \
		env MYVPN_TEST_ABORT_AFTER_START=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:disable_coredump=0" \
		"$MYVPN" -c "$TMP/a.conf" -i "$P-t$name" "$@"
	STOPPED_STATUS=0
	wait "$BG_PID" || STOPPED_STATUS=$?
	grep -q "aborting (a test-only trigger)" "$TMP/$name.log" || fail "$name: myvpn did not reach the trigger: $(cat "$TMP/$name.log")"
}

# The key bytes as written in the file (base64) and as held in memory (raw; the private key
# also clamped, as Curve25519 keeps it). Prints the names of those found in FILE.
keys_in() {
	python3 - "$1" "$(cat "$TMP/a.key")" "$(cat "$TMP/psk")" <<-'PY'
		import base64, sys
		core = open(sys.argv[1], "rb").read()
		priv, psk = (base64.b64decode(k) for k in sys.argv[2:4])
		clamped = bytes([priv[0] & 248]) + priv[1:31] + bytes([(priv[31] & 127) | 64])
		for name, needle in (("private key", priv), ("clamped private key", clamped),
		                     ("preshared key", psk), ("private key base64", sys.argv[2].encode()),
		                     ("preshared key base64", sys.argv[3].encode())):
		    if needle in core:
		        print(name)
	PY
}

crash nodump
[ "$STOPPED_STATUS" -eq 134 ] || fail "nodump: exit status $STOPPED_STATUS, not 134 (SIGABRT)"
cores=$(ls "$TMP/nodump")
[ -z "$cores" ] || fail "a core file was written: $cores (keys in it: $(keys_in "$TMP/nodump/$(ls "$TMP/nodump" | head -1)" | paste -sd,))"
log "SIGABRT left no core file"

crash dump --allow-core-dumps
[ "$STOPPED_STATUS" -eq 134 ] || fail "dump: exit status $STOPPED_STATUS, not 134 (SIGABRT)"
core=$(ls "$TMP/dump" | head -1)
[ -n "$core" ] || fail "--allow-core-dumps: no core file, so the check above proves nothing (core_pattern '$(cat "$PATTERN")')"
found=$(keys_in "$TMP/dump/$core" | paste -sd,)
[ -n "$found" ] || fail "--allow-core-dumps: the core holds no key, so the check above proves nothing"
log "with --allow-core-dumps the core holds: $found"
log "ok"
