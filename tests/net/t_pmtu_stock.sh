#!/bin/bash
# Path MTU probing is invisible to a stock WireGuard peer: myvpn's tags (padding after an IP
# packet) are accepted and trimmed by wireguard-go, which never gets a probe, so it logs no
# invalid packet; myvpn never probes it and shows no path MTU for it.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b
wg_conf a b "10.44.0.1/24" "10.44.0.2/32" 192.0.2.2:51820
export LOG_LEVEL=verbose # wireguard-go logs each invalid packet at this level
start_wireguard_go b "$P-wb" 10.44.0.2/24 fd44::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 "10.44.0.1/32"
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta" -v
A=$BG_PID
wait_ready a
ping_eventually a 10 10.44.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"

# Small packets every 0.2 s for 3 s: the first a worker sends after the handshake carries a
# tag (and would make a prober of a peer that took it for one). Every ping must come back.
at a ping -q -c 15 -i 0.2 -W 1 10.44.0.2 >"$TMP/ping.txt" || fail "pings lost: $(cat "$TMP/ping.txt")"
grep -q "15 received" "$TMP/ping.txt" || fail "pings lost: $(cat "$TMP/ping.txt")"
at b ping -q -c 5 -i 0.2 -W 1 10.44.0.1 >/dev/null || fail "no ping from wireguard-go"
grep -q "Received handshake" "$TMP/wggo-$P-wb.log" || fail "wireguard-go logs nothing at this level: the test cannot tell"
grep -q "carries our path MTU tag" "$TMP/a.log" || fail "myvpn sent no tagged packet: the test cannot tell"
! grep -i "invalid\|disallowed\|Packet with\|dropped" "$TMP/wggo-$P-wb.log" ||
	fail "wireguard-go saw packets it refused"
! at a "$MYVPN" show "$P-ta" | grep -q "path mtu" || fail "myvpn probed a stock peer"
! grep -q ": path MTU [0-9]" "$TMP/a.log" || fail "myvpn found a path MTU for a stock peer: $(grep ": path MTU [0-9]" "$TMP/a.log")"
stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn exited $STOPPED_STATUS"
log "ok"
