#!/bin/bash
# A multihomed server: s has two addresses on its uplink, and a wireguard-go client uses the
# SECOND one as its Endpoint. The tunnel works both ways, and every datagram the server sends
# the client (handshake response, data) comes from that second address, as tcpdump on the
# client's link shows; wireguard-go, which roams to the source of what it receives, still has
# the second address as its endpoint. Over an IPv4 underlay, then an IPv6 one.
#
#   client c (192.0.2.2, 2001:db8::2, port 51821) ── veth ── server s (192.0.2.1 + 192.0.2.11,
#   2001:db8::1 + 2001:db8::11, port 51820); tunnel 10.60.0.2 ↔ 10.60.0.1
. "$(dirname "$0")/lib.sh"
ns_add c; ns_add s
veth c "$P-c" s "$P-s"
at c ip addr add 192.0.2.2/24 dev "$P-c"
at c ip addr add 2001:db8::2/64 dev "$P-c" nodad
at s ip addr add 192.0.2.1/24 dev "$P-s"
at s ip addr add 192.0.2.11/24 dev "$P-s"
at s ip addr add 2001:db8::1/64 dev "$P-s" nodad
at s ip addr add 2001:db8::11/64 dev "$P-s" nodad
# The kernel's own choice of source towards the client is the FIRST address (a route with a
# preferred source; without it IPv6 would pick whichever was added last): only a daemon that
# answers from the address it was reached at gets the second one.
at s ip route add 192.0.2.2/32 dev "$P-s" src 192.0.2.1
at s ip -6 route add 2001:db8::2/128 dev "$P-s" src 2001:db8::1

wg_keys s; wg_keys c
wg_conf s c "10.60.0.1/24, fd60::1/64" "10.60.0.2/32, fd60::2/128"

# check CASE SERVER_ADDR ENDPOINT: a fresh server and client; the client reaches ENDPOINT.
check() {
	local case=$1 want=$2 endpoint=$3 from total wrong
	bg "s$case" s "$MYVPN" -c "$TMP/s.conf" -i "$P-s$case"
	local server=$BG_PID
	wait_ready "s$case"
	bg "tcpdump$case" c tcpdump -n -l -i "$P-c" udp and port 51821
	local dump=$BG_PID
	wait_until 5 grep -q "listening on" "$TMP/tcpdump$case.log" || fail "$case: tcpdump did not start: $(cat "$TMP/tcpdump$case.log")"
	start_wireguard_go c "$P-c$case" 10.60.0.2/24 fd60::2/64 51821 "$(cat "$TMP/s.pub")" \
		"$endpoint" "10.60.0.1/32,fd60::1/128"
	ping_eventually c 10 10.60.0.1 || fail "$case: no tunnel to $endpoint: $(cat "$TMP/s$case.log")"
	at c ping -c 5 -i 0.1 -q 10.60.0.1 >/dev/null || fail "$case: ping client -> server lost packets"
	at s ping -c 5 -i 0.1 -q 10.60.0.2 >/dev/null || fail "$case: ping server -> client lost packets"
	at c ping -c 3 -i 0.1 -q fd60::1 >/dev/null || fail "$case: IPv6 ping through the tunnel"
	sleep 0.3
	stop_pid "$dump"
	# "IP 192.0.2.11.51820 > 192.0.2.2.51821: UDP, length 92"; IP6 alike. What went to the client:
	awk '$2 == "IP" || $2 == "IP6" { if ($5 ~ /\.51821:$/) print $3 }' "$TMP/tcpdump$case.log" |
		sed 's/\.[0-9]*$//' | sort | uniq -c >"$TMP/from$case"
	total=$(awk '{ n += $1 } END { print n + 0 }' "$TMP/from$case")
	wrong=$(awk -v w="$want" '$2 != w { n += $1 } END { print n + 0 }' "$TMP/from$case")
	log "$case: datagrams to the client by source: $(tr -s ' \n' ' ' <"$TMP/from$case")"
	[ "$total" -ge 10 ] || fail "$case: tcpdump saw only $total datagrams to the client"
	[ "$wrong" -eq 0 ] || fail "$case: $wrong of $total replies did not come from $want (the address the client reached)"
	from=$(at c wg show "$P-c$case" endpoints | awk '{ print $2 }')
	[ "$from" = "$endpoint" ] || fail "$case: wireguard-go roamed to $from (it reached $endpoint)"
	kill -0 "$server" || fail "$case: the server died"
	stop_pid "$WGGO_PID"
	stop_pid "$server"
	log "$case: ok"
}

check 4 192.0.2.11 192.0.2.11:51820
check 6 2001:db8::11 "[2001:db8::11]:51820"
log "ok"
