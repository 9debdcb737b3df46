#!/bin/bash
# The TCP transport, with a router that drops every forwarded UDP datagram (nftables) on demand:
#  0. UDP blocked from the start, a server with --tcp-port 4443 and a client whose -c file's
#     [Peer] has TcpPort = 4443: the client tries UDP, then dials TCP port 4443, and its ping
#     is answered within 10 s of its start. wg show and showconf still work.
#  1. UDP blocked from the start (TCP on the UDP port's number): --transport tcp pings at once;
#     --transport auto (the default) tries UDP, moves to TCP by itself, a ping is answered
#     within 10 s of the start, and 20 MB arrive with a sha256 that matches. myvpn show names
#     the transport and counts the move; wg show and showconf still work.
#  2. UDP blocked in the middle of a transfer (auto, on UDP until then): the inner TCP connection
#     stalls, the tunnel moves to TCP, and the transfer completes intact without a reset.
#  3. bad input on the server's TCP port (garbage, a length of 0, a length of 65,535 followed
#     by too few bytes, 1,000 idle connections): each case counted, and the tunnel keeps
#     forwarding. Meanwhile UDP is open again (the 30 s probe timer runs):
#  4. back on UDP within 40 s of the unblocking: the server counts UDP tunnel packets again, and
#     the TCP connection closes.
. "$(dirname "$0")/lib.sh"
topo_nat
wg_keys server; wg_keys client
udp_dropped() { at router nft list counter inet blockudp udp_dropped | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
server_udp_in() { at server nft list counter inet count udp_in | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
at server nft -f - <<NFT
table inet count {
	counter udp_in { }
	chain input {
		type filter hook input priority 0;
		udp dport 51830 counter name udp_in
	}
}
NFT
resets() { at "$1" nstat -asz TcpEstabResets | awk '/TcpEstabResets/ {print $2}'; }
no_tcp_conns() { [ "$(at server ss -Htn state established '( sport = :51830 )' | wc -l)" = 0 ]; }

# start_server LOGNAME [--tcp-port PORT]
start_server() {
	local name=$1; shift
	bg "$name" server "$MYVPN_NAT" -s 51830 --private-key "$TMP/server.key" --workers 2 \
		--peer-key "$(cat "$TMP/client.pub")" --address 10.13.0.1/24 -i "$P-ts" "$@"
	SERVER=$BG_PID
	wait_ready "$name"
}
# ping_within LIMIT START LOGNAME: a ping through the tunnel answered at most LIMIT s after START.
ping_within() {
	ping_eventually client "$1" 10.13.0.1 || fail "$3: no ping: $(cat "$TMP/$3.log")"
	[ $((SECONDS - $2)) -le "$1" ] ||
		fail "$3: first ping answered $((SECONDS - $2)) s after the start (> $1): $(cat "$TMP/$3.log")"
	log "$3: ping answered $((SECONDS - $2)) s after the start"
}

# --- 0. the peer's TcpPort ------------------------------------------------------------------------
block_udp
start_server server4443 --tcp-port 4443
grep -q "listening on TCP port 4443" "$TMP/server4443.log" || fail "no --tcp-port: $(cat "$TMP/server4443.log")"
cat >"$TMP/client.conf" <<CONF
[Interface]
PrivateKey = $(cat "$TMP/client.key")
Address = 10.13.0.2/24
[Peer]
PublicKey = $(cat "$TMP/server.pub")
Endpoint = 198.51.100.2:51830
AllowedIPs = 10.13.0.0/24
TcpPort = 4443
CONF
chmod 600 "$TMP/client.conf"
started=$SECONDS
bg tcpport client "$MYVPN" -c "$TMP/client.conf" -i "$P-tc"
CLIENT=$BG_PID
wait_ready tcpport
ping_within 10 "$started" tcpport
at server ss -Htn state established '( sport = :4443 )' | grep -q . ||
	fail "tcpport: no TCP connection to port 4443: $(at server ss -tn)"
printf 'get=1\n\n' | socat - UNIX-CONNECT:"/var/run/wireguard/$P-tc.sock" | grep -q "^tcp_port=4443$" ||
	fail "tcpport: not in the UAPI reply"
wg show "$P-tc" >"$TMP/wg-show" 2>&1 && grep -q "endpoint: 198.51.100.2:4443" "$TMP/wg-show" ||
	fail "tcpport: wg show: $(cat "$TMP/wg-show")"
wg showconf "$P-tc" >"$TMP/wg-showconf" 2>&1 && ! grep -qi tcp "$TMP/wg-showconf" ||
	fail "tcpport: wg showconf: $(cat "$TMP/wg-showconf")"
stop_pid "$CLIENT"
stop_pid "$SERVER"

start_server server
grep -q "listening on TCP port 51830" "$TMP/server.log" || fail "server not on TCP: $(cat "$TMP/server.log")"
# start_client LOGNAME [--transport MODE]
start_client() {
	local name=$1; shift
	bg "$name" client "$MYVPN_NAT" -a 198.51.100.2 -p 51830 --private-key "$TMP/client.key" \
		--peer-key "$(cat "$TMP/server.pub")" --address 10.13.0.2/24 -i "$P-tc" "$@"
	CLIENT=$BG_PID
	wait_ready "$name"
}
# receive_to FILE: a socat receiver on the server's tunnel address, port 5001 (sets RECV).
receive_to() {
	bg recv server socat -u TCP-LISTEN:5001,bind=10.13.0.1,reuseaddr "OPEN:$1,creat,trunc"
	RECV=$BG_PID
	wait_until 5 at server sh -c "ss -ltn | grep -q 5001" || fail "receiver did not start"
}
head -c 20000000 /dev/urandom >"$TMP/blob"
want=$(sha256sum <"$TMP/blob" | cut -d' ' -f1)
check_received() {
	wait "$RECV" || fail "$1: receiver failed: $(cat "$TMP/recv.log")"
	[ "$(sha256sum <"$TMP/received" | cut -d' ' -f1)" = "$want" ] || fail "$1: checksum mismatch"
	rm -f "$TMP/received"
}

# --- 1. blocked from the start --------------------------------------------------------------------
start_client forced --transport tcp
ping_eventually client 5 10.13.0.1 || fail "ping over forced TCP: $(cat "$TMP/forced.log")"
stop_pid "$CLIENT"
before=$(udp_dropped)
started=$SECONDS
start_client auto
ping_within 10 "$started" auto
ping_ok server 10.13.0.2 || fail "ping server -> client over TCP"
[ "$(udp_dropped)" -gt "$before" ] || fail "auto: the client never tried UDP"
grep -q "trying TCP" "$TMP/auto.log" || fail "auto: no fallback logged: $(cat "$TMP/auto.log")"
at server ss -tn | grep -q "198.51.100.2\]*:51830 " || fail "no TCP connection on the server"
receive_to "$TMP/received"
timeout 60 ip netns exec "$(ns client)" socat -u "FILE:$TMP/blob" TCP:10.13.0.1:5001 ||
	fail "20 MB over the TCP transport failed: $(tail -5 "$TMP/auto.log")"
check_received "blocked from the start"
# myvpn show names the transport and counts the move; wg show and showconf (which do not know
# myvpn's transport keys of the UAPI reply) still work and show none of them.
"$MYVPN" show "$P-tc" | grep -q "^  peer .*: tcp, 1 switch$" || fail "show: $("$MYVPN" show "$P-tc")"
"$MYVPN" show "$P-tc" --json | grep -q '"transport_switches": 1$' || fail "show --json: no switch counted"
wg show "$P-tc" >"$TMP/wg-show" 2>&1 && grep -q "endpoint: 198.51.100.2:51830" "$TMP/wg-show" &&
	! grep -qi transport "$TMP/wg-show" || fail "wg show: $(cat "$TMP/wg-show")"
wg showconf "$P-tc" >"$TMP/wg-showconf" 2>&1 && grep -q "^Endpoint = 198.51.100.2:51830" "$TMP/wg-showconf" &&
	! grep -qi transport "$TMP/wg-showconf" || fail "wg showconf: $(cat "$TMP/wg-showconf")"
"$MYVPN" show "$P-tc" --prometheus | grep -q '^myvpn_peer_tcp{.*} 1$' || fail "metrics: peer not on TCP"
log "blocked from the start: forced TCP pings, auto fell back to TCP, 20 MB intact"
stop_pid "$CLIENT"

# --- 2. blocked in the middle of a transfer -------------------------------------------------------
unblock_udp
start_client mid
ping_eventually client 5 10.13.0.1 || fail "mid: no ping over UDP: $(cat "$TMP/mid.log")"
"$MYVPN" show "$P-tc" | grep -q "^  peer .*: udp, 0 switches$" || fail "mid: not on UDP: $("$MYVPN" show "$P-tc")"
resets_client=$(resets client); resets_server=$(resets server)
receive_to "$TMP/received"
# The first 4 MB, then the rest once UDP is blocked.
{ head -c 4000000; while [ ! -e "$TMP/blocked" ]; do sleep 0.1; done; cat; } <"$TMP/blob" |
	timeout 90 ip netns exec "$(ns client)" socat -u - TCP:10.13.0.1:5001 &
SENDER=$!; PIDS+=("$SENDER")
wait_until 10 sh -c "[ \$(stat -c %s '$TMP/received') -ge 4000000 ]" || fail "mid: the first 4 MB did not arrive"
block_udp
touch "$TMP/blocked"
blocked_at=$SECONDS
wait "$SENDER" || fail "mid: the sender failed (received $(stat -c %s "$TMP/received") bytes): $(tail -5 "$TMP/mid.log")"
check_received "blocked mid-transfer"
[ "$(resets client)" = "$resets_client" ] && [ "$(resets server)" = "$resets_server" ] ||
	fail "mid: an inner TCP connection was reset"
log "blocked mid-transfer: 20 MB intact, no reset ($((SECONDS - blocked_at)) s after the block)"
grep -q "trying TCP" "$TMP/mid.log" || fail "mid: no move to TCP logged: $(cat "$TMP/mid.log")"
# The server heard nothing either, but its client's address is a NAT's: nothing to dial.
! grep -q "trying TCP" "$TMP/server.log" || fail "mid: the server tried to dial its client over TCP"
log "blocked mid-transfer: moved to TCP, the server did not dial"
unblock_udp
unblocked_at=$SECONDS

# --- 3. bad input on the TCP port -------------------------------------------------------------------
# Each case under its own drop reason, exactly once (tcp_silent: at least the 1,000).
count() { drop_count "$(myvpn_drops "$SERVER" server)" "$1"; }
is() { [ "$(count "$1")" = "$2" ]; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
send() { printf "$1" | timeout 3 ip netns exec "$(ns client)" socat -u - TCP:198.51.100.2:51830 || true; }
send 'GET / HTTP/1.0\r\n\r\n'
wait_until 3 is tcp_not_tunnel 1 || fail "garbage not counted: $(myvpn_drops "$SERVER" server)"
send '\000\000'
wait_until 3 is tcp_zero_length 1 || fail "a length of 0 not counted: $(myvpn_drops "$SERVER" server)"
# 65,535 announced, 200 bytes sent, then silence: the sweep closes it after 10 s.
(printf '\377\377\004'; head -c 200 /dev/zero; sleep 15) |
	ip netns exec "$(ns client)" socat -u - TCP:198.51.100.2:51830 >/dev/null 2>&1 &
PIDS+=($!)
# 1,000 idle strangers.
at client bash -c 'ulimit -n 2048; for i in $(seq 1000); do exec {fd}<>/dev/tcp/198.51.100.2/51830 || exit 1; done; sleep 14' &
IDLE=$!; PIDS+=("$IDLE")
wait_until 10 sh -c "[ \$(ip netns exec $(ns server) ss -tn state established '( sport = :51830 )' | wc -l) -gt 1000 ]" ||
	fail "1,000 connections not accepted"
ping_ok client 10.13.0.1 || fail "tunnel stalled with 1,000 idle connections"
rss=$(awk '/VmRSS/ {print $2}' /proc/"$SERVER"/status)
wait_until 15 at_least tcp_silent 1000 || fail "idle connections not timed out: $(myvpn_drops "$SERVER" server)"
wait_until 3 is tcp_incomplete 1 || fail "the unfinished frame not counted: $(myvpn_drops "$SERVER" server)"
is tcp_not_tunnel 1 && is tcp_zero_length 1 && is tcp_cut 0 ||
	fail "a case counted twice or under another reason: $(myvpn_drops "$SERVER" server)"
ping_ok client 10.13.0.1 || fail "tunnel broken after the bad input"
kill -0 "$SERVER" || fail "server died"
log "bad input: counted ($(myvpn_drops "$SERVER" server | tr ' ' '\n' | grep tcp_ | tr '\n' ' ')), server RSS ${rss} kB with 1,000 idle connections"

# --- 4. back on UDP -------------------------------------------------------------------------------
wait_until $((40 - (SECONDS - unblocked_at))) grep -q "now over UDP" "$TMP/mid.log" ||
	fail "not back on UDP within 40 s: $(cat "$TMP/mid.log")"
udp_before=$(server_udp_in)
ping_ok client 10.13.0.1 || fail "no ping after the return to UDP"
[ "$(server_udp_in)" -gt "$udp_before" ] || fail "the ping did not travel over UDP"
wait_until 5 no_tcp_conns || fail "the TCP connection stayed open: $(at server ss -tn)"
"$MYVPN" show "$P-tc" | grep -q "^  peer .*: udp, 2 switches$" || fail "show after the return: $("$MYVPN" show "$P-tc")"
"$MYVPN" show "$P-tc" --prometheus | grep -q '^myvpn_transport_switches_total{.*} 2$' ||
	fail "metrics: switches not counted"
log "back on UDP $((SECONDS - unblocked_at)) s after the unblocking; TCP connection closed"
log "ok"
