#!/bin/bash
# Encrypted mode across REKEY_AFTER_TIME (120 s), against wireguard-go, slow (~140 s). Two
# pairs run side by side, each with a ping every 0.1 s for 135 s:
#   a (myvpn) -> b (wireguard-go): myvpn initiated the session, so myvpn must rekey;
#   d (wireguard-go) -> c (myvpn): wireguard-go initiated, so myvpn must answer its rekey.
# In both, a second handshake completes and not a single ping is lost across the rekey.
. "$(dirname "$0")/lib.sh"
COUNT=${REKEY_PINGS:-1350}   # at 0.1 s: 135 s, past the 120 s rekey and well short of 180 s

topo_direct
ns_add c; ns_add d
veth c "$P-c" d "$P-d"
at c ip addr add 198.51.100.1/24 dev "$P-c"
at d ip addr add 198.51.100.2/24 dev "$P-d"
wg_keys a; wg_keys b; wg_keys c; wg_keys d

# myvpn_conf NAME PEER PEER_ENDPOINT ADDR PEER_ADDR
myvpn_conf() { wg_conf "$1" "$2" "$4/24" "$5/32" "$3:51820"; }
myvpn_conf a b 192.0.2.2 10.10.0.1 10.10.0.2
myvpn_conf c d 198.51.100.2 10.40.0.1 10.40.0.2
bg a a "$MYVPN" -v -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg c c "$MYVPN" -v -c "$TMP/c.conf" -i "$P-tc"
C=$BG_PID
wait_ready a; wait_ready c
start_wireguard_go b "$P-wb" 10.10.0.2/24 fd10::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 10.10.0.1/32
start_wireguard_go d "$P-wd" 10.40.0.2/24 fd40::2/64 51820 "$(cat "$TMP/c.pub")" 198.51.100.1:51820 10.40.0.1/32

# First sessions: myvpn initiates towards b, wireguard-go (d) towards c.
ping_eventually a 10 10.10.0.2 || fail "first handshake a -> b: $(cat "$TMP/a.log")"
ping_eventually d 10 10.40.0.1 || fail "first handshake d -> c: $(cat "$TMP/c.log")"
grep -q "sending handshake initiation" "$TMP/a.log" || fail "myvpn a did not initiate"
grep -q "sending handshake initiation" "$TMP/c.log" && fail "myvpn c initiated; wireguard-go was to: $(cat "$TMP/c.log")"
hs() { at "$1" wg show "$2" latest-handshakes | awk '{print $2}'; }
hs_b=$(hs b "$P-wb"); hs_d=$(hs d "$P-wd")
log "sessions up; pinging every 0.1 s for $((COUNT / 10)) s"

at a ping -q -i 0.1 -W 2 -c "$COUNT" 10.10.0.2 >"$TMP/ping-ab.txt" 2>&1 & PAB=$!
at d ping -q -i 0.1 -W 2 -c "$COUNT" 10.40.0.1 >"$TMP/ping-dc.txt" 2>&1 & PDC=$!
rab=0; rdc=0
wait "$PAB" || rab=$?
wait "$PDC" || rdc=$?
summary() { grep "packets transmitted" "$1" || cat "$1"; }
log "a -> b: $(summary "$TMP/ping-ab.txt")"
log "d -> c: $(summary "$TMP/ping-dc.txt")"
drops_a=$(myvpn_drops "$A" a) || fail "no counters from a"
drops_c=$(myvpn_drops "$C" c) || fail "no counters from c"

# A second handshake happened in each pair, started by the session's initiator.
# Exactly two: the first session and one rekey, not a handshake storm.
[ "$(grep -c "handshake complete" "$TMP/a.log")" -eq 2 ] || fail "a -> b: not exactly two handshakes: $(cat "$TMP/a.log")"
[ "$(grep -c "handshake complete" "$TMP/c.log")" -eq 2 ] || fail "d -> c: not exactly two handshakes: $(cat "$TMP/c.log")"
[ "$(grep -c "sending handshake initiation" "$TMP/a.log")" -ge 2 ] || fail "myvpn a (initiator) did not rekey: $(cat "$TMP/a.log")"
[ "$(grep -c "received handshake initiation" "$TMP/c.log")" -ge 2 ] || fail "wireguard-go d did not rekey: $(cat "$TMP/c.log")"
# ... and the rekey came at REKEY_AFTER_TIME (120 s, on the first packet sent after it).
gap_b=$(( $(hs b "$P-wb") - hs_b )); gap_d=$(( $(hs d "$P-wd") - hs_d ))
log "second handshake after $gap_b s (a -> b) and $gap_d s (d -> c)"
[ "$gap_b" -ge 118 ] && [ "$gap_b" -le 130 ] || fail "wg show on b: rekey $gap_b s after the first handshake, not ~120 s"
[ "$gap_d" -ge 118 ] && [ "$gap_d" -le 130 ] || fail "wg show on d: rekey $gap_d s after the first handshake, not ~120 s"

# Not a single packet lost across the rekey.
grep -q "$COUNT packets transmitted, $COUNT received" "$TMP/ping-ab.txt" && [ "$rab" -eq 0 ] ||
	fail "a -> b lost packets across the rekey: $(summary "$TMP/ping-ab.txt"); $drops_a; $(cat "$TMP/a.log")"
grep -q "$COUNT packets transmitted, $COUNT received" "$TMP/ping-dc.txt" && [ "$rdc" -eq 0 ] ||
	fail "d -> c lost packets across the rekey: $(summary "$TMP/ping-dc.txt"); $drops_c; $(cat "$TMP/c.log")"
for r in decrypt replay key_expired unknown_index no_endpoint staged_overflow handshake_timeout; do
	[ "$(drop_count "$drops_a" "$r")" = 0 ] || fail "a counted $r drops: $drops_a"
	[ "$(drop_count "$drops_c" "$r")" = 0 ] || fail "c counted $r drops: $drops_c"
done
kill -0 "$A" || fail "myvpn a died"
kill -0 "$C" || fail "myvpn c died"
log "ok"
