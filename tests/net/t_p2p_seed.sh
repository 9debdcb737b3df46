#!/bin/bash
# The seed's peer-to-peer command lines, verbatim: ping both ways, an iperf3 TCP transfer,
# a datagram from a stranger dropped, and a clean SIGTERM that removes the interface.
. "$(dirname "$0")/lib.sh"
topo_direct

bg a a "$MYVPN" -a 192.0.2.2 -p 12345 -i "$P-ta" -t "ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2"
A=$BG_PID
bg b b "$MYVPN" -a 192.0.2.1 -p 12345 -i "$P-tb" -t "ifconfig %s 192.168.1.2 mtu 1450 pointopoint 192.168.1.1"
B=$BG_PID
wait_ready a; wait_ready b
grep -q "NEITHER encrypted NOR authenticated" "$TMP/a.log" || fail "no plaintext warning"
[ "$(grep -c "NEITHER encrypted" "$TMP/a.log")" -eq 1 ] || fail "plaintext warning printed more than once"
at a ip link show "$P-ta" | grep -q "mtu 1450" || fail "the -t command's MTU was not applied"

ping_eventually a 5 192.168.1.2 || fail "ping a -> b"
ping_ok b 192.168.1.1 || fail "ping b -> a"

bg iperf-server b iperf3 -s -1 -B 192.168.1.2
wait_until 5 at b sh -c "ss -ltn | grep -q 5201" || fail "iperf3 server did not start"
at a iperf3 -c 192.168.1.2 -t 2 -J >"$TMP/iperf.json" || fail "iperf3 TCP transfer failed"
bytes=$(iperf_received_bytes "$TMP/iperf.json")
[ "${bytes:-0}" -gt 1000000 ] || fail "iperf3 moved only ${bytes:-0} bytes: $(head -c 600 "$TMP/iperf.json")"
log "iperf3 moved $bytes bytes"

# A datagram from the right address but the wrong port is not the peer: dropped and counted.
at b bash -c 'printf "mv\x01\x02" > /dev/udp/192.0.2.1/12345'
sleep 0.3
kill -USR1 "$A"
wait_until 3 grep -q "unknown_source=1" "$TMP/a.log" || fail "stranger's datagram not counted: $(grep drops "$TMP/a.log")"

# The control socket: wg show sees the plaintext interface, wg set cannot change it.
at a wg show "$P-ta" listen-port | grep -qx 12345 || fail "wg show on a plaintext interface: $(at a wg show "$P-ta" 2>&1)"
at a wg set "$P-ta" listen-port 4000 2>/dev/null && fail "wg set changed a plaintext interface"
at a "$MYVPN" show "$P-ta" | grep -q "unknown_source" || fail "myvpn show lacks the drop counters: $(at a "$MYVPN" show "$P-ta")"

stop_pid "$A"; status=$STOPPED_STATUS
[ "$status" -eq 0 ] || fail "myvpn exited with $status on SIGTERM"
link_exists a "$P-ta" && fail "interface still present after exit"
test -e "/var/run/wireguard/$P-ta.sock" && fail "control socket left after exit"
grep -q "drops:" "$TMP/a.log" || fail "no counters printed at exit"
log "ok"
