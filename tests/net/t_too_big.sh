#!/bin/bash
# A packet larger than the tunnel's MTU that must not be fragmented (IPv4 with DF, IPv6) gets
# an ICMP "fragmentation needed" / ICMPv6 "packet too big" from myvpn, written into the TUN,
# instead of a silent drop; the drop is counted as too_big.
#
#   a 192.0.2.1 ── b 192.0.2.2, tunnel 10.42.0.1 ↔ 10.42.0.2, fd42::1 ↔ fd42::2 (MTU 1420)
#
# The kernel never hands the TUN a DF packet larger than the route's MTU, so a's routes to b
# through the tunnel say 1500 while the link and myvpn say 1420: what myvpn sees when its own
# limit (a peer's path MTU) is below the link's.
. "$(dirname "$0")/lib.sh"

topo_direct
wg_keys a; wg_keys b
wg_conf a b "10.42.0.1/24, fd42::1/64" "10.42.0.2/31, fd42::2/128" 192.0.2.2:51820
wg_conf b a "10.42.0.2/24, 10.42.0.3/24, fd42::2/64" "10.42.0.1/32, fd42::1/128"
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready a; wait_ready b
ping_eventually a 10 10.42.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"
ping_eventually a 5 fd42::2 || fail "no IPv6 ping through the tunnel: $(cat "$TMP/a.log")"
[ "$(at a cat "/sys/class/net/$P-ta/mtu")" = 1420 ] || fail "the tunnel's MTU is not 1420"
at a ip route replace 10.42.0.2/32 dev "$P-ta" mtu 1500
at a ip -6 route replace fd42::2/128 dev "$P-ta" mtu 1500
# For TCP, whose path MTU nothing taught yet; b advertises the MSS of a 1500-byte route too.
at a ip route replace 10.42.0.3/32 dev "$P-ta" mtu 1500
at b ip route replace 10.42.0.1/32 dev "$P-tb" mtu 1500

# Full-sized packets still cross both ways.
at a ping -c 2 -i 0.2 -W 2 -M do -s 1392 10.42.0.2 >/dev/null || fail "a 1420-byte ping did not cross"
at a ping -c 2 -i 0.2 -W 2 -s 1372 fd42::2 >/dev/null || fail "a 1420-byte IPv6 ping did not cross"

# 1428 bytes with DF: myvpn answers from the destination, with the tunnel's MTU.
at a ping -c 1 -W 2 -M do -s 1400 10.42.0.2 >"$TMP/ping4.txt" 2>&1 || true
grep -q "From 10.42.0.2 icmp_seq=1 Frag needed and DF set (mtu = 1420)" "$TMP/ping4.txt" ||
	fail "no 'fragmentation needed' from myvpn: $(cat "$TMP/ping4.txt")"
# The kernel learnt it: the next one fails locally.
at a ping -c 1 -W 2 -M do -s 1400 10.42.0.2 >"$TMP/ping4b.txt" 2>&1 || true
grep -q "mtu=1420\|mtu = 1420" "$TMP/ping4b.txt" || fail "the kernel did not learn the MTU: $(cat "$TMP/ping4b.txt")"
# Without DF the packet is carried (and fragmented on the underlay if need be).
at a ip route flush cache
at a ping -c 1 -W 2 -M dont -s 1400 10.42.0.2 >/dev/null || fail "a 1428-byte ping without DF was not carried"

at a ping -6 -c 1 -W 2 -s 1400 fd42::2 >"$TMP/ping6.txt" 2>&1 || true
grep -q "From fd42::2 icmp_seq=1 Packet too big: mtu=1420" "$TMP/ping6.txt" ||
	fail "no 'packet too big' from myvpn: $(cat "$TMP/ping6.txt")"
log "IPv4: $(grep -m1 Frag "$TMP/ping4.txt"); IPv6: $(grep -m1 'too big' "$TMP/ping6.txt")"

drops=$(myvpn_drops "$A" a) || fail "no drops line"
[ "$(drop_count "$drops" too_big)" -ge 2 ] || fail "too_big not counted: $drops"
[ "$(drop_count "$drops" too_big)" -le 3 ] || fail "more too_big drops than packets: $drops"

# TCP sizes its segments by the route (1500): the TUN hands over super-packets whose segments
# are too big, the first ones are answered, and TCP shrinks its segments and gets through.
bg iperf3-server b iperf3 -s -1 -B 10.42.0.3
wait_until 5 at b ss -ltn "sport = :5201" | grep -q 5201 || true
at a timeout 10 iperf3 -c 10.42.0.3 -t 1 -J >"$TMP/iperf.json" 2>&1 || fail "TCP failed: $(tail -5 "$TMP/iperf.json")"
got=$(iperf_received_bytes "$TMP/iperf.json")
[ "${got:-0}" -ge 1000000 ] || fail "TCP moved too little: ${got:-0} bytes"
grep -q '"tcp_mss_default":.*14[0-9][0-9],' "$TMP/iperf.json" || fail "TCP did not start with 1500-byte segments: the test cannot tell"
drops2=$(myvpn_drops "$A" a) || fail "no drops line"
[ "$(drop_count "$drops2" too_big)" -gt "$(drop_count "$drops" too_big)" ] || fail "no TCP segment was too big: $drops2"
log "TCP moved $got bytes after its first segments were answered: $(drop_count "$drops2" too_big) too big"

stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on a exited $STOPPED_STATUS"
stop_pid "$B"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on b exited $STOPPED_STATUS"
log "ok"
