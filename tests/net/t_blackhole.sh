#!/bin/bash
# One don't-fragment policy for every datagram of the tunnel, and path MTU probing over a path
# that drops ICMP. The middle link has MTU 1280 and
# the routers send no ICMP and forward no ICMP error (a path-MTU black hole; echo crosses, so
# that plain pings show the hole first): an outer datagram larger than 1280 bytes crosses only
# if it leaves without DF, so that the router may fragment it. A lone
# full-sized packet (a ping: one sendmsg) and bulk TCP (UDP_SEGMENT batches) must both get
# through, and no outer datagram of the tunnel, handshakes and keepalives included, carries DF,
# but the path MTU probes. The probes find the path's MTU (1280 - 28 - 32 = 1220: 1216 on
# 16-byte steps); then a ping too big for the path gets a "fragmentation needed" from myvpn,
# and a 20 MB transfer and an interactive session cross.
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
# b first: an initiation from a that b is not up to answer would move a to TCP after 3 s.
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready b
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
wait_ready a
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

# Probing: each side finds the path's MTU and shows it; `wg` still reads the device.
path_mtu_shown() { at "$1" "$MYVPN" show "$2" | grep -q "peer $(cat "$TMP/$3.pub"): 1216"; }
wait_until 20 path_mtu_shown a "$P-ta" b || fail "a found no path MTU: $(at a "$MYVPN" show "$P-ta"; grep -i mtu "$TMP/a.log")"
wait_until 5 path_mtu_shown b "$P-tb" a || fail "b found no path MTU: $(at b "$MYVPN" show "$P-tb")"
at a wg show "$P-ta" >"$TMP/wg-show.txt" 2>&1 && grep -q "peer: $(cat "$TMP/b.pub")" "$TMP/wg-show.txt" ||
	fail "wg show failed on a probed device: $(cat "$TMP/wg-show.txt")"
at a wg showconf "$P-ta" >"$TMP/wg-showconf.txt" 2>&1 && grep -q "AllowedIPs = 10.41.0.2/32" "$TMP/wg-showconf.txt" ||
	fail "wg showconf failed on a probed device: $(cat "$TMP/wg-showconf.txt")"
# A ping that fits the TUN (1420) but not the path gets its answer from myvpn. (The kernel
# may have learnt 1216 for b from myvpn's answers to TCP segments: forget it first.)
at a ip route flush cache
at a ping -c 1 -W 2 -M do -s 1300 10.41.0.2 >"$TMP/ping-big.txt" 2>&1 || true
grep -q "From 10.41.0.2 icmp_seq=1 Frag needed and DF set (mtu = 1216)" "$TMP/ping-big.txt" ||
	fail "no 'fragmentation needed' from myvpn: $(cat "$TMP/ping-big.txt")"
# What crosses the narrow link from a, counted by r2 before anything reassembles it.
at r2 nft -f - <<-NFT
	table ip narrow {
		counter frags {}
		counter whole {}
		chain pre {
			type filter hook prerouting priority -450;
			ip saddr 192.0.2.1 ip frag-off & 0x3fff != 0 counter name frags
			ip saddr 192.0.2.1 ip frag-off & 0x3fff == 0 counter name whole
		}
	}
NFT
packets() { at r2 nft list counter ip narrow "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
# The counter sees fragments: a ping without DF, too big for the path, is carried whole and
# fragmented by r1 (unless a's kernel fragments it first, by the MTU myvpn taught it: forget).
at a ip route flush cache
ping_ok a -M dont -s 1300 10.41.0.2 || fail "a ping too big for the path, without DF, was lost"
[ "$(packets frags)" -ge 2 ] || fail "r2 counted no fragments of a too-big ping: the test cannot tell"
at r2 nft reset counters table ip narrow >/dev/null
# 20 MB over TCP, whose SYNs myvpn clamps to the path: whole datagrams, no fragments.
bg sink b sh -c "socat -u TCP-LISTEN:8080,bind=10.41.0.2 - | wc -c >'$TMP/sink.count'"
SINK=$BG_PID
wait_until 5 at b ss -ltn "sport = :8080" | grep -q 8080 || true
sleep 0.2
at a sh -c "head -c 20971520 /dev/zero | timeout 20 socat -u - TCP:10.41.0.2:8080" || fail "the 20 MB transfer failed"
wait "$SINK" 2>/dev/null || true
[ "$(cat "$TMP/sink.count")" = 20971520 ] || fail "b received $(cat "$TMP/sink.count") of 20971520 bytes"
crossed=$(packets whole); frags=$(packets frags)
[ "$crossed" -gt 100 ] || fail "only $crossed datagrams of the transfer crossed the narrow link: the test cannot tell"
[ "$frags" = 0 ] || fail "$frags fragments crossed the narrow link during the transfer: it did not fit the path"
log "both sides probed a path MTU of 1216; myvpn answered a too-big ping; 20 MB crossed in $crossed unfragmented datagrams"
# An interactive session (an echo server, lines typed one by one) alongside.
bg echo b socat TCP-LISTEN:2222,bind=10.41.0.2 EXEC:cat
wait_until 5 at b ss -ltn "sport = :2222" | grep -q 2222 || true
at a sh -c '(for i in 1 2 3 4 5; do echo "line $i"; sleep 0.1; done; sleep 0.3) | timeout 5 socat - TCP:10.41.0.2:2222' >"$TMP/echo.txt" || true
[ "$(grep -c "^line [1-5]$" "$TMP/echo.txt")" = 5 ] || fail "the interactive session lost lines: $(cat "$TMP/echo.txt")"
sleep 1.5 # a keepalive each way

kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
count() { tcpdump -r "$TMP/outer.pcap" -nn "$@" 2>/dev/null | wc -l; }
all=$(count)
df=$(count 'ip[6:2] & 0x4000 != 0')
df_small=$(count 'ip[6:2] & 0x4000 != 0 and ip[2:2] < 1260') # not a probe: at least 1200 + 60
big=$(count 'ip[2:2] > 1280')
small=$(count 'ip[2:2] <= 200')
log "outer datagrams on a's link: $all, with DF (probes): $df, over 1280 bytes: $big, small (handshakes, keepalives, ACKs): $small"
# The full-sized pings leave before probing has lowered the MTU (that takes seconds of lost probes).
[ "$big" -ge 5 ] || fail "too few full-sized outer datagrams ($big): the test did not exercise them"
[ "$small" -gt 0 ] || fail "no small outer datagram seen"
[ "$df_small" -eq 0 ] || fail "$df_small outer datagrams that are not probes carry DF: $(tcpdump -r "$TMP/outer.pcap" -nn -v 'ip[6:2] & 0x4000 != 0 and ip[2:2] < 1260' 2>/dev/null | head -4)"
[ "$df" -gt 0 ] && [ "$df" -le 40 ] || fail "$df probes (DF) of $all outer datagrams: expected a few"

stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on a exited $STOPPED_STATUS"

# The TCP transport through the same hole: its segments leave without DF as well, so the
# routers fragment a full-sized one instead of swallowing it (both ways: b answers on the
# connection it accepted).
sed -i 's/^\[Interface\]$/[Interface]\nTransport = tcp/' "$TMP/a.conf"
bg atcp a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
wait_ready atcp
ping_eventually a 10 10.41.0.2 || fail "no ping over the TCP transport: $(cat "$TMP/atcp.log")"
at a ss -Htn state established '( dport = :51820 )' | grep -q . || fail "a is not over TCP: $(cat "$TMP/atcp.log")"
at a ip route flush cache
at a ping -q -c 3 -i 0.2 -W 2 -M dont -s 1392 10.41.0.2 >"$TMP/ping-tcp.txt" 2>&1 ||
	fail "full-sized pings over the TCP transport were lost in the black hole: $(cat "$TMP/ping-tcp.txt")"
log "full-sized pings crossed over the TCP transport too"
stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on a (TCP) exited $STOPPED_STATUS"
stop_pid "$B"; [ "$STOPPED_STATUS" -eq 0 ] || fail "myvpn on b exited $STOPPED_STATUS"
log "ok"
