#!/bin/bash
# One don't-fragment policy for every datagram of the tunnel. The middle link has MTU 1280 and
# the routers send no ICMP and forward no ICMP error (a path-MTU black hole; echo crosses, so
# that plain pings show the hole first): an outer datagram larger than 1280 bytes crosses only
# if it leaves without DF, so that the router may fragment it. A lone
# full-sized packet (a ping: one sendmsg) and bulk TCP (UDP_SEGMENT batches) must both get
# through, and no outer datagram of the tunnel, handshakes and keepalives included, carries DF.
#
#   a 192.0.2.1 ── r1 ══ MTU 1280, ICMP dropped ══ r2 ── b 203.0.113.2
#                     198.51.100.1    198.51.100.2
#   tunnel 10.41.0.1 ↔ 10.41.0.2 (MTU 1420: a full packet is a 1480-byte outer datagram)
. "$(dirname "$0")/lib.sh"

ns_add a; ns_add r1; ns_add r2; ns_add b
veth a "$P-a" r1 "$P-ra"
veth r1 "$P-r1" r2 "$P-r2"
veth r2 "$P-rb" b "$P-b"
at a ip addr add 192.0.2.1/24 dev "$P-a"
at r1 ip addr add 192.0.2.254/24 dev "$P-ra"
at r1 ip addr add 198.51.100.1/24 dev "$P-r1"
at r2 ip addr add 198.51.100.2/24 dev "$P-r2"
at r2 ip addr add 203.0.113.254/24 dev "$P-rb"
at b ip addr add 203.0.113.2/24 dev "$P-b"
at r1 ip link set "$P-r1" mtu 1280
at r2 ip link set "$P-r2" mtu 1280
at a ip route add default via 192.0.2.254
at b ip route add default via 203.0.113.254
at r1 ip route add 203.0.113.0/24 via 198.51.100.2
at r2 ip route add 192.0.2.0/24 via 198.51.100.1
for r in r1 r2; do
	at "$r" sysctl -qw net.ipv4.ip_forward=1
	at "$r" nft -f - <<-NFT
		table inet blackhole {
			chain output { type filter hook output priority 0; meta l4proto icmp drop; }
			chain forward { type filter hook forward priority 0; icmp type { destination-unreachable, time-exceeded, parameter-problem } drop; }
		}
	NFT
done

# The path is a black hole for DF datagrams and open to the rest (the routers fragment them).
ping_eventually a 3 -s 1400 -M dont 203.0.113.2 || fail "a 1428-byte ping without DF does not cross the routers"
ping_ok a -s 1400 -M do 203.0.113.2 && fail "a 1428-byte ping with DF crossed the 1280-byte link"
ping_ok a -s 1000 -M do 203.0.113.2 || fail "a small ping with DF does not cross the routers"

# Every outer datagram on a's link, with its DF bit, while the tunnel runs.
ip netns exec "$(ns a)" tcpdump -i "$P-a" -nn -U -s 64 -w "$TMP/outer.pcap" udp port 51820 >"$TMP/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
wait_until 5 grep -q "listening on" "$TMP/tcpdump.log" || fail "tcpdump did not start: $(cat "$TMP/tcpdump.log")"

wg_keys a; wg_keys b
wg_conf a b 10.41.0.1/24 10.41.0.2/32 203.0.113.2:51820 "PersistentKeepalive = 1"
wg_conf b a 10.41.0.2/24 10.41.0.1/32
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready a; wait_ready b
ping_eventually a 10 10.41.0.2 || fail "no small ping through the tunnel: $(cat "$TMP/a.log")"

# Single packets: each full-sized ping and its reply leave in one sendmsg of their own.
at a ping -q -c 5 -i 0.2 -W 2 -s 1392 10.41.0.2 >"$TMP/ping.txt" 2>&1 ||
	fail "full-sized pings (1420 bytes) through the tunnel were lost: $(cat "$TMP/ping.txt")"

# Bulk: TCP both ways at full segment size; the workers send it in batches.
bg iperf3-server b iperf3 -s -1 -B 10.41.0.2
wait_until 5 at b ss -ltn "sport = :5201" | grep -q 5201 || true
sleep 0.3
at a timeout 20 iperf3 -c 10.41.0.2 -t 2 -J >"$TMP/iperf-up.json" 2>&1 ||
	fail "bulk TCP a -> b through the black hole failed: $(tail -5 "$TMP/iperf-up.json")"
up=$(iperf_received_bytes "$TMP/iperf-up.json")
[ "${up:-0}" -gt 1000000 ] || fail "bulk TCP a -> b moved only ${up:-0} bytes"
log "full-sized pings crossed; bulk TCP moved $up bytes"
sleep 1.5 # a keepalive each way

kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
count() { tcpdump -r "$TMP/outer.pcap" -nn "$@" 2>/dev/null | wc -l; }
all=$(count)
df=$(count 'ip[6:2] & 0x4000 != 0')
big=$(count 'ip[2:2] > 1280')
small=$(count 'ip[2:2] <= 200')
log "outer datagrams on a's link: $all, with DF: $df, over 1280 bytes: $big, small (handshakes, keepalives, ACKs): $small"
[ "$big" -gt 100 ] || fail "too few full-sized outer datagrams ($big): the test did not exercise them"
[ "$small" -gt 0 ] || fail "no small outer datagram seen"
[ "$df" -eq 0 ] || fail "$df of $all outer datagrams carry DF: $(tcpdump -r "$TMP/outer.pcap" -nn -v 'ip[6:2] & 0x4000 != 0' 2>/dev/null | head -4)"

stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on a exited $STOPPED_STATUS"
stop_pid "$B"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on b exited $STOPPED_STATUS"
log "ok"
