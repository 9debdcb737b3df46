#!/bin/bash
# Moving the interface to another network namespace is not a deletion (as with wireguard-go):
# the daemon keeps serving, the tunnel works from the new namespace (the UDP socket stays where
# the daemon runs), and `wg show` still answers. A real deletion there then goes unseen.
. "$(dirname "$0")/lib.sh"
topo_direct
ns_add c
wg_keys a; wg_keys b
wg_conf a b 10.6.0.1/24 10.6.0.2/32 192.0.2.2:51820
wg_conf b a 10.6.0.2/24 10.6.0.1/32 192.0.2.1:51820
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
wait_ready a; wait_ready b
ping_eventually a 5 10.6.0.2 || fail "no tunnel"

at a ip link set "$P-ta" netns "$(ns c)"
at c ip addr add 10.6.0.1/24 dev "$P-ta"
at c ip link set "$P-ta" up
ping_eventually c 5 10.6.0.2 || fail "no tunnel from the new namespace"
kill -0 "$A" || fail "the daemon exited when its interface moved: $(cat "$TMP/a.log")"
grep -q "moved to another network namespace" "$TMP/a.log" || fail "the move was not logged"
at a wg show "$P-ta" >/dev/null || fail "wg show no longer answers"
log "ok"
