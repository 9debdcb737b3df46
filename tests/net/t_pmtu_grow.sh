#!/bin/bash
# Path MTU probing follows a path that grows: the middle link's MTU goes from 1280 to 1500, and
# within the re-search interval (shortened to 4 s by MYVPN_TEST_PMTU_RAISE) both peers raise
# their path MTU from 1216 (1280 - 28 - 32, on 16-byte steps) to the TUN's 1420; a full-sized
# ping with DF, refused by myvpn before, then crosses.
#
#   a 192.0.2.1 ── r ══ MTU 1280, then 1500 ══ b 198.51.100.2
#   tunnel 10.44.0.1 ↔ 10.44.0.2 (MTU 1420)
. "$(dirname "$0")/lib.sh"

ns_add a; ns_add r; ns_add b
veth a "$P-a" r "$P-ra"
veth r "$P-rb" b "$P-b"
at a ip addr add 192.0.2.1/24 dev "$P-a"
at r ip addr add 192.0.2.254/24 dev "$P-ra"
at r ip addr add 198.51.100.1/24 dev "$P-rb"
at b ip addr add 198.51.100.2/24 dev "$P-b"
at a ip route add default via 192.0.2.254
at b ip route add default via 198.51.100.1
at r sysctl -qw net.ipv4.ip_forward=1
narrow() { at r ip link set "$P-rb" mtu "$1"; at b ip link set "$P-b" mtu "$1"; }
narrow 1280

wg_keys a; wg_keys b
wg_conf a b 10.44.0.1/24 10.44.0.2/32 198.51.100.2:51820
wg_conf b a 10.44.0.2/24 10.44.0.1/32
bg a a env MYVPN_TEST_PMTU_RAISE=4 "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b env MYVPN_TEST_PMTU_RAISE=4 "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready a; wait_ready b
ping_eventually a 10 10.44.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"

path_mtu() { at "$1" "$MYVPN" show "$2" | grep -q "peer $(cat "$TMP/$3.pub"): $4"; }
wait_until 15 path_mtu a "$P-ta" b 1216 || fail "a found no path MTU of 1216: $(at a "$MYVPN" show "$P-ta")"
wait_until 5 path_mtu b "$P-tb" a 1216 || fail "b found no path MTU of 1216: $(at b "$MYVPN" show "$P-tb")"
at a ping -c 1 -W 2 -M do -s 1392 10.44.0.2 >"$TMP/ping-narrow.txt" 2>&1 || true
grep -q "Frag needed and DF set (mtu = 1216)" "$TMP/ping-narrow.txt" ||
	fail "a full-sized ping on the narrow path got no 'fragmentation needed': $(cat "$TMP/ping-narrow.txt")"
log "both sides probed 1216 on the 1280-byte link"

narrow 1500
wait_until 12 path_mtu a "$P-ta" b 1420 || fail "a did not raise its path MTU: $(at a "$MYVPN" show "$P-ta"; grep -i mtu "$TMP/a.log")"
wait_until 5 path_mtu b "$P-tb" a 1420 || fail "b did not raise its path MTU: $(at b "$MYVPN" show "$P-tb"; grep -i mtu "$TMP/b.log")"
at a ip route flush cache # the 1216 that myvpn's answer taught a's kernel
at a ping -c 1 -W 2 -M do -s 1392 10.44.0.2 >"$TMP/ping-wide.txt" 2>&1 ||
	fail "a full-sized ping with DF did not cross the grown path: $(cat "$TMP/ping-wide.txt")"
log "the link grew to 1500: both sides raised their path MTU to 1420; a full-sized ping crossed"

stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on a exited $STOPPED_STATUS"
stop_pid "$B"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on b exited $STOPPED_STATUS"
log "ok"
