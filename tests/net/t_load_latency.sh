#!/bin/bash
# Latency under load: while one bulk TCP transfer (iperf3, 8 s) fills an encrypted tunnel, a
# ping every 50 ms through the same tunnel is still served: none is lost, and the slowest
# stays below LOAD_MAX_RTT_MS (500 by default). The bound is generous on purpose: a queue
# that starves sparse flows (a ring or batch that the bulk flow keeps full, a socket buffer
# that holds seconds of data) breaks it, a slow or busy machine does not. Speed targets stay
# in `make bench`; this only asserts that the pings were never starved, and that the load was
# real (the transfer moved data during the whole ping run).
#
# Queue management (src/codel.h) acts meanwhile: the sender negotiates ECN (net.ipv4.tcp_ecn=1
# in a), and b's QueueTarget is far below what its receive queue holds under bulk load
# (50 µs), so b must mark the bulk flow's ECT packets CE instead of dropping them: b counts
# marks (ecn_marked), b's kernel counts CE-marked packets arriving (IpExt InCEPkts), and no
# ECT packet is dropped for queue delay (a few drops can only be retransmissions, which TCP
# sends without ECT). The pings themselves are too small to be marked or dropped.
#
#   a (192.0.2.1) ── veth ── b (192.0.2.2); tunnel 10.47.0.1 ↔ 10.47.0.2, MTU 1420
. "$(dirname "$0")/lib.sh"

MAX_RTT_MS=${LOAD_MAX_RTT_MS:-500}
PINGS=100		# 5 s at 0.05 s, inside the 8 s transfer
MIN_BULK_MB=50		# far below any working tunnel; proves the transfer ran

topo_direct
wg_keys a; wg_keys b
wg_conf a b 10.47.0.1/24 10.47.0.2/32 192.0.2.2:51820
wg_conf b a 10.47.0.2/24 10.47.0.1/32 192.0.2.1:51820
sed -i '/^ListenPort/a QueueTarget = 50us' "$TMP/b.conf"
at a sysctl -qw net.ipv4.tcp_ecn=1
bg myvpn-a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg myvpn-b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready myvpn-a; wait_ready myvpn-b
ping_eventually a 10 10.47.0.2 || fail "no ping through the tunnel: $(tail -5 "$TMP/myvpn-a.log")"

bg iperf-server b iperf3 -s -1 -B 10.47.0.2
wait_until 5 at b sh -c "ss -ltn | grep -q '10.47.0.2:5201 '" || fail "iperf3 server did not start"
bg iperf-client a iperf3 -c 10.47.0.2 -t 8 -J
IPERF=$BG_PID
sleep 1 # past slow start: the tunnel's queues are full when the pings begin

at a ping -n -q -i 0.05 -c "$PINGS" -W 2 10.47.0.2 >"$TMP/ping.log" 2>&1 || true
kill -0 "$IPERF" 2>/dev/null || fail "the transfer ended before the pings did: $(tail -5 "$TMP/iperf-client.log")"
wait "$IPERF" || fail "iperf3 failed: $(tail -5 "$TMP/iperf-client.log")"
cat "$TMP/ping.log" >&2

received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/ping.log")
# rtt min/avg/max/mdev = 0.101/2.345/12.345/1.234 ms
max_ms=$(sed -n 's|^rtt [^=]*= [0-9.]*/[0-9.]*/\([0-9.]*\)/.*|\1|p' "$TMP/ping.log")
bulk_mb=$(( $(iperf_received_bytes "$TMP/iperf-client.log") / 1000000 ))
log "bulk transfer ${bulk_mb} MB in 8 s; pings: ${received:-0}/$PINGS answered, max ${max_ms:-?} ms"

[ "$bulk_mb" -ge "$MIN_BULK_MB" ] || fail "the bulk transfer moved only ${bulk_mb} MB: no load"
[ "${received:-0}" -eq "$PINGS" ] || fail "pings lost under load: ${received:-0} of $PINGS answered"
[ -n "$max_ms" ] && awk -v m="$max_ms" -v b="$MAX_RTT_MS" 'BEGIN { exit !(m < b) }' ||
	fail "a ping waited ${max_ms:-?} ms under load (bound $MAX_RTT_MS ms): starved"

# ce_received: CE-marked IP packets b's kernel received (IpExt InCEPkts, /proc/net/netstat).
ce_received() {
	at b awk '$1 == "IpExt:" { if (!n++) { for (i = 2; i <= NF; i++) col[$i] = i } else print $col["InCEPkts"] }' /proc/net/netstat
}
myvpn_drops "$B" myvpn-b >/dev/null || fail "no counters from b"
stats=$(grep "myvpn: stats:" "$TMP/myvpn-b.log" | tail -1)
drops=$(grep "myvpn: drops:" "$TMP/myvpn-b.log" | tail -1)
marked=$(sed -n 's/.* ecn_marked=\([0-9]*\).*/\1/p' <<<"$stats")
dropped=$(drop_count "$drops" queue_delay)
ce=$(ce_received)
log "queue management in b: ${marked:-?} packets marked CE, ${dropped:-?} dropped; b's kernel received ${ce:-?} CE packets"
[ "${marked:-0}" -gt 0 ] || fail "b marked no packet CE above its 50 µs queue target"
[ "${ce:-0}" -gt 0 ] || fail "no CE-marked packet reached b's kernel"
[ "${dropped:-0}" -le $(( ${marked:-0} / 10 + 5 )) ] ||
	fail "b dropped $dropped packets for queue delay against $marked marked: ECT packets dropped instead of marked"

kill -0 "$A" && kill -0 "$B" || fail "a daemon died under load"
stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on a exited $STOPPED_STATUS"
stop_pid "$B"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on b exited $STOPPED_STATUS"
log "PASS"
