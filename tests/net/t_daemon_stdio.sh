#!/bin/bash
# `myvpn IFNAME` goes to the background without holding its caller's output: `out=$(myvpn IF
# 2>&1)` returns as soon as the daemon is ready (it used to wait for the daemon's exit). Logs
# redirected to a regular file keep coming.
. "$(dirname "$0")/lib.sh"
ns_add a
start=$(date +%s%N)
# (inside a shell that timeout can kill: an outer $(...) would wait for the daemon too)
timeout 5 bash -c 'out=$(ip netns exec "$1" "$2" "$3" 2>&1); printf "%s" "$out"' _ "$(ns a)" "$MYVPN" "$P-d1" \
	>"$TMP/out.txt" || {
	rm -f "/var/run/wireguard/$P-d1.sock" # the daemon exits without its socket
	fail "out=\$(myvpn IF 2>&1) did not return"
}
out=$(cat "$TMP/out.txt")
log "out=\$(myvpn IF 2>&1) returned in $(( ($(date +%s%N) - start) / 1000000 )) ms"
grep -q "control socket" <<<"$out" || fail "the start-up lines were not printed: $out"
test -S "/var/run/wireguard/$P-d1.sock" || fail "the daemon is not serving"
at a wg show "$P-d1" >/dev/null || fail "wg show"

at a "$MYVPN" "$P-d2" 2>>"$TMP/d2.log" || fail "myvpn IF 2>>FILE"
at a ip link set "$P-d2" mtu 1400
wait_until 3 grep -q "MTU 1400" "$TMP/d2.log" || fail "logs to a regular file stopped at readiness"
at a ip link del "$P-d1"; at a ip link del "$P-d2"
wait_until 5 sh -c "! test -e /var/run/wireguard/$P-d1.sock && ! test -e /var/run/wireguard/$P-d2.sock" ||
	fail "the daemons did not exit with their interfaces"
log "ok"
