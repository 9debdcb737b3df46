#!/bin/bash
# The seed's myvpn_nat command lines behind a router that drops every forwarded UDP datagram:
# the plaintext client gets no answer over UDP, moves to TCP by itself within 5 s of its start
# (one unanswered keepalive: 3 s), the server listens on TCP on its UDP port's number, and the
# tunnel carries a ping both ways (the first within 10 s of the start) and 10 MB intact.
# Then an idle client (keepalives only) on UDP when UDP gets blocked: it moves to TCP, and its
# keepalives over TCP move the server too, so the server reaches it without its help.
# Throughout, `myvpn show` names each side's remote, its transport now and the switches so far
# (on the server: its client's moves between UDP and TCP).
. "$(dirname "$0")/lib.sh"
topo_nat
block_udp
# shows IFNAME REGEX: a line of `myvpn show IFNAME` matches REGEX whole.
shows() { "$MYVPN" show "$1" >"$TMP/show.out" && grep -qxE -- "$2" "$TMP/show.out"; }
expect_show() { shows "$1" "$2" || fail "myvpn show $1: no line /$2/ in:"$'\n'"$(cat "$TMP/show.out")"; }
udp_dropped() { at router nft list counter inet blockudp udp_dropped | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

bg server server "$MYVPN_NAT" -s 12345 -i "$P-ts" -t "ifconfig %s 192.168.1.2 mtu 1450 pointopoint 192.168.1.1"
SERVER=$BG_PID
wait_ready server
started=$SECONDS
bg client client "$MYVPN_NAT" -a 198.51.100.2 -p 12345 -i "$P-tc" -t "ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2"
CLIENT=$BG_PID
wait_ready client
grep -q "listening on TCP port 12345" "$TMP/server.log" || fail "server not on TCP: $(cat "$TMP/server.log")"
wait_until 5 grep -q "now over TCP" "$TMP/client.log" && [ $((SECONDS - started)) -le 5 ] ||
	fail "not on TCP within 5 s of the start: $(cat "$TMP/client.log")"
ping_eventually client 10 192.168.1.2 && [ $((SECONDS - started)) -le 10 ] ||
	fail "no ping over TCP within 10 s: $(cat "$TMP/client.log") $(cat "$TMP/server.log")"
log "on TCP, and a ping answered, $((SECONDS - started)) s after the start"
ping_ok server 192.168.1.1 || fail "ping server -> client over TCP"
grep -q "now over TCP" "$TMP/client.log" || fail "no move to TCP logged: $(cat "$TMP/client.log")"
[ "$(udp_dropped)" -gt 0 ] || fail "the client never tried UDP"
at server ss -tn | grep -q "198.51.100.2\]*:12345 " || fail "no TCP connection on the server"
expect_show "$P-tc" "  server 198\.51\.100\.2:12345: tcp, 1 switch"
expect_show "$P-ts" "  client 198\.51\.100\.1:[0-9]+: tcp, 0 switches" # first heard over TCP
"$MYVPN" show "$P-tc" --json | tr -d ' \n' |
	grep -q '"plain":{"role":"server","endpoint":"198.51.100.2:12345","endpoint_name":null,"transport":"tcp"}' ||
	fail "no plain object in: $("$MYVPN" show "$P-tc" --json)"
"$MYVPN" show "$P-tc" --prometheus | grep -qx "myvpn_plain_tcp{device=\"$P-tc\",role=\"server\"} 1" ||
	fail "metrics: $("$MYVPN" show "$P-tc" --prometheus | grep plain)"

head -c 10000000 /dev/urandom >"$TMP/blob"
want=$(sha256sum <"$TMP/blob" | cut -d' ' -f1)
bg recv server socat -u TCP-LISTEN:5001,bind=192.168.1.2,reuseaddr "OPEN:$TMP/received,creat,trunc"
RECV=$BG_PID
wait_until 5 at server sh -c "ss -ltn | grep -q 5001" || fail "receiver did not start"
timeout 60 ip netns exec "$(ns client)" socat -u "FILE:$TMP/blob" TCP:192.168.1.2:5001 ||
	fail "10 MB over TCP failed: $(tail -5 "$TMP/client.log")"
wait "$RECV" || fail "receiver failed: $(cat "$TMP/recv.log")"
got=$(sha256sum <"$TMP/received" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "checksum mismatch after 10 MB: $got != $want"
kill -0 "$SERVER" || fail "server died"
# Each datagram counted once: what the server accepted is at most what the client sent.
counter() { "$MYVPN" show "$1" --json | sed -n "s/^ *\"$2\": \([0-9]*\).*/\1/p" | head -1; }
rx=$(counter "$P-ts" rx_packets); tx=$(counter "$P-tc" tx_packets)
[ "$rx" -gt 7000 ] && [ "$rx" -le "$tx" ] || fail "server accepted $rx datagrams, client sent $tx"
log "plaintext over TCP: ping both ways and 10 MB intact (router dropped $(udp_dropped) UDP datagrams)"
stop_pid "$CLIENT"

# An idle client: on UDP while it works, then UDP blocked.
at router nft delete table inet blockudp
bg idle client "$MYVPN_NAT" -a 198.51.100.2 -p 12345 -i "$P-tc" --keepalive 2 \
	-t "ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2"
wait_ready idle
ping_eventually client 5 192.168.1.2 || fail "idle client: no ping over UDP: $(cat "$TMP/idle.log")"
expect_show "$P-tc" "  server 198\.51\.100\.2:12345: udp, 0 switches"
expect_show "$P-ts" "  client 198\.51\.100\.1:[0-9]+: udp, 1 switch" # from the first client's TCP
block_udp
wait_until 15 grep -q "now over TCP" "$TMP/idle.log" || fail "idle client stayed on UDP: $(cat "$TMP/idle.log")"
expect_show "$P-tc" "  server 198\.51\.100\.2:12345: tcp, 1 switch"
ping_eventually server 5 192.168.1.1 || fail "server cannot reach the idle client over TCP: $(tail -5 "$TMP/server.log")"
expect_show "$P-ts" "  client 198\.51\.100\.1:[0-9]+: tcp, 2 switches"
log "idle client: moved to TCP, and the server followed its keepalives"
log "ok"
