#!/bin/bash
# A big `wg addconf` does not stall forwarding: pings every 10 ms run through the tunnel while
# 10,000 peers (a 1.1 MB file) are added, and the worst RTT stays far below a second. The
# request is parsed and checked off the data path; workers wait only while it applies.
# `wg addconf` itself must succeed (it used to die of SIGPIPE on a file this size).
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b
wg_conf a b 10.5.0.1/24 10.5.0.2/32 192.0.2.2:51820
wg_conf b a 10.5.0.2/24 10.5.0.1/32 192.0.2.1:51820
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
wait_ready a; wait_ready b
ping_eventually a 5 10.5.0.2 || fail "no tunnel"

python3 - "$TMP/peers.conf" <<'PY'
import base64, os, sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write("[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32, fd00:%x::/64\n\n" % (
            base64.b64encode(os.urandom(32)).decode(), 100 + i // 65536, i // 256 % 256, i % 256, i))
PY
log "peers file: $(stat -c %s "$TMP/peers.conf") bytes"

at a ping -i 0.01 -w 12 -W 2 10.5.0.2 >"$TMP/ping.txt" 2>&1 &
PING=$!
sleep 1
start=$(date +%s%N)
at a wg addconf "$P-ta" "$TMP/peers.conf" 2>"$TMP/addconf.err" || fail "wg addconf failed: $(cat "$TMP/addconf.err")"
log "wg addconf of 10,000 peers: $(( ($(date +%s%N) - start) / 1000000 )) ms"
sleep 1
kill -INT "$PING" 2>/dev/null || true
wait "$PING" || true
[ "$(at a wg show "$P-ta" peers | wc -l)" -eq 10001 ] || fail "the peers were not all added"
max=$(sed -n 's/.*= [0-9.]*\/[0-9.]*\/\([0-9.]*\)\/.*/\1/p' "$TMP/ping.txt")
loss=$(grep -o '[0-9.]*% packet loss' "$TMP/ping.txt")
log "pings during the set: max RTT $max ms, $loss"
[ -n "$max" ] || fail "no ping statistics: $(tail -3 "$TMP/ping.txt")"
awk -v m="$max" 'BEGIN { exit !(m < 250) }' || fail "forwarding stalled: max RTT $max ms"
log "ok"
