#!/bin/bash
# Without -t: --address (IPv4 and IPv6), --mtu and -i configure the interface through netlink;
# the default MTU fits a 1500-byte underlay and is printed; IPv6 works inside the tunnel and as
# the underlay; the listen port can be chosen; txqueuelen is raised.
. "$(dirname "$0")/lib.sh"
topo_direct

# IPv6 underlay, non-default ports on both sides, no --mtu: the default applies.
bg a a "$MYVPN" -a 2001:db8::2 -p 40002 -s 40001 -i "$P-ta" --address 10.9.0.1/24 --address fd00:9::1/64
bg b b "$MYVPN" -a 2001:db8::1 -p 40001 -s 40002 -i "$P-tb" --address 10.9.0.2/24 --address fd00:9::2/64
wait_ready a; wait_ready b
grep -q "MTU 1448, listening on UDP port 40001" "$TMP/a.log" || fail "default MTU/port not reported: $(cat "$TMP/a.log")"
at a ip link show "$P-ta" | grep -q "mtu 1448" || fail "default MTU not applied"
at a ip link show "$P-ta" | grep -q "qlen 1000" || fail "txqueuelen not raised (the kernel default is 500)"
at a ip link show "$P-ta" | grep -q "state UNKNOWN\|,UP" || fail "link not up"
at a ip addr show "$P-ta" | grep -q "inet 10.9.0.1/24" || fail "IPv4 address missing"
at a ip addr show "$P-ta" | grep -q "inet6 fd00:9::1/64" || fail "IPv6 address missing"
at a ss -uln | grep -q "\]:40001\|:40001 " || fail "not listening on 40001"

ping_eventually a 5 10.9.0.2 || fail "IPv4 ping over IPv6 underlay"
ping_eventually a 5 fd00:9::2 || fail "IPv6 ping over IPv6 underlay"
# Full-size packets cross without fragmenting the underlay: 1448 - 28 = 1420 bytes of ICMP data.
at a ping -c 1 -W 1 -M do -s 1420 10.9.0.2 >/dev/null || fail "full-MTU packet did not cross"
stop_pid "${PIDS[0]}"; stop_pid "${PIDS[1]}"

# An explicit --mtu, the seed's PPPoE value, over an IPv4 underlay with the default port.
bg a2 a "$MYVPN" -a 192.0.2.2 -i "$P-ta" --mtu 1412 --address 10.9.1.1/24
bg b2 b "$MYVPN" -a 192.0.2.1 -i "$P-tb" --mtu 1412 --address 10.9.1.2/24
wait_ready a2; wait_ready b2
at a ip link show "$P-ta" | grep -q "mtu 1412" || fail "--mtu 1412 not applied"
ping_eventually a 5 10.9.1.2 || fail "ping with --mtu 1412"
at a ping -c 1 -W 1 -M do -s 1384 10.9.1.2 >/dev/null || fail "full 1412-byte packet did not cross"
log "ok"
