#!/bin/bash
# Encrypted mode, endpoints and allowed IPs:
#  1. roaming: myvpn (a, bound to the wildcard address) talks to wireguard-go (b); a's underlay
#     address changes (new one added, old one deleted); traffic continues and wireguard-go
#     follows a to its new address.
#  2. a myvpn server with two clients, wireguard-go (10.20.0.2/32) and myvpn (10.20.0.3/32):
#     the server learns both endpoints, routes each address to its own client only, and drops
#     (source_not_allowed) a client's packets whose source is the other client's address.
. "$(dirname "$0")/lib.sh"

# --- 1. roaming ----------------------------------------------------------------------------
topo_direct
wg_keys a; wg_keys b
wg_conf a b 10.10.0.1/24 10.10.0.2/32 192.0.2.2:51820
start_wireguard_go b "$P-wb" 10.10.0.2/24 fd10::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 10.10.0.1/32
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
wait_ready a
at a ss -Hlun "sport = :51820" | grep -Eq '(\*|0\.0\.0\.0|\[::\]):51820' ||
	fail "myvpn is not bound to the wildcard address: $(at a ss -Hlun)"
b_endpoint() { at b wg show "$P-wb" endpoints | awk '{print $2}'; }

ping_eventually a 10 10.10.0.2 || fail "ping a -> b before roaming: $(cat "$TMP/a.log")"
ping_ok b 10.10.0.1 || fail "ping b -> a before roaming"
[ "$(b_endpoint)" = 192.0.2.1:51820 ] || fail "wireguard-go's endpoint for a before roaming: $(b_endpoint)"

# a moves from 192.0.2.1 to 192.0.2.11. Without promote_secondaries, deleting the primary
# address would delete the new (secondary) one with it.
at a sysctl -qw net.ipv4.conf.all.promote_secondaries=1
at a sysctl -qw "net.ipv4.conf.$P-a.promote_secondaries=1"
at a ip addr add 192.0.2.11/24 dev "$P-a"
at a ip addr del 192.0.2.1/24 dev "$P-a"
addrs=$(at a ip -4 -o addr show dev "$P-a")
grep -q "192.0.2.11/24" <<<"$addrs" || fail "the new address went away with the old one: $addrs"
grep -q "192.0.2.1/24" <<<"$addrs" && fail "the old address is still there: $addrs"
ping_eventually a 10 10.10.0.2 || fail "ping a -> b after a moved: $(cat "$TMP/a.log")"
wait_until 5 eval '[ "$(b_endpoint)" = 192.0.2.11:51820 ]' ||
	fail "wireguard-go did not follow a to 192.0.2.11: endpoint $(b_endpoint)"
ping_ok b 10.10.0.1 || fail "ping b -> a after a moved"
kill -0 "$A" || fail "myvpn died"
stop_pid "$A"; stop_pid "$WGGO_PID"
log "roaming: wireguard-go follows myvpn to 192.0.2.11: ok"

# --- 2. one server, two clients, each with its own allowed IPs ---------------------------------
# hub 203.0.113.1 ── c1 203.0.113.2 (wireguard-go, 10.20.0.2)
# hub 198.51.100.1 ── c2 198.51.100.2 (myvpn, 10.20.0.3)
ns_add hub; ns_add c1; ns_add c2
veth hub "$P-h1" c1 "$P-c1"
veth hub "$P-h2" c2 "$P-c2"
at hub ip addr add 203.0.113.1/24 dev "$P-h1"
at c1 ip addr add 203.0.113.2/24 dev "$P-c1"
at hub ip addr add 198.51.100.1/24 dev "$P-h2"
at c2 ip addr add 198.51.100.2/24 dev "$P-c2"
wg_keys hub; wg_keys c1; wg_keys c2
cat >"$TMP/hub.conf" <<CONF
[Interface]
PrivateKey = $(cat "$TMP/hub.key")
ListenPort = 51830
Address = 10.20.0.1/24

[Peer]
PublicKey = $(cat "$TMP/c1.pub")
AllowedIPs = 10.20.0.2/32

[Peer]
PublicKey = $(cat "$TMP/c2.pub")
AllowedIPs = 10.20.0.3/32
CONF
WG_PORT=51832 wg_conf c2 hub 10.20.0.3/24 10.20.0.0/24 198.51.100.1:51830
chmod 600 "$TMP/hub.conf"
bg hub hub "$MYVPN" -c "$TMP/hub.conf" -i "$P-th"
HUB=$BG_PID
bg c2 c2 "$MYVPN" -c "$TMP/c2.conf" -i "$P-t2"
C2=$BG_PID
wait_ready hub; wait_ready c2
start_wireguard_go c1 "$P-w1" 10.20.0.2/24 fd20::2/64 51831 "$(cat "$TMP/hub.pub")" 203.0.113.1:51830 10.20.0.0/24
rx() { at "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

# The server knows no endpoint: each client speaks first.
ping_eventually c1 10 10.20.0.1 || fail "ping wireguard-go client -> server: $(cat "$TMP/hub.log")"
ping_eventually c2 10 10.20.0.1 || fail "ping myvpn client -> server: $(cat "$TMP/hub.log")"
grep -q "endpoint is now 203.0.113.2:51831" "$TMP/hub.log" || fail "server did not learn client 1: $(cat "$TMP/hub.log")"
grep -q "endpoint is now 198.51.100.2:51832" "$TMP/hub.log" || fail "server did not learn client 2: $(cat "$TMP/hub.log")"

# Each address goes to its own client, and only there.
c1_rx=$(rx c1 "$P-w1"); c2_rx=$(rx c2 "$P-t2")
at hub ping -c 3 -i 0.2 -W 1 10.20.0.2 >/dev/null || fail "ping server -> client 1 (10.20.0.2)"
[ "$(rx c2 "$P-t2")" = "$c2_rx" ] || fail "packets for 10.20.0.2 reached client 2 as well"
c1_rx=$(rx c1 "$P-w1")
at hub ping -c 3 -i 0.2 -W 1 10.20.0.3 >/dev/null || fail "ping server -> client 2 (10.20.0.3)"
[ "$(rx c1 "$P-w1")" = "$c1_rx" ] || fail "packets for 10.20.0.3 reached client 1 as well"

# spoof NS IFNAME ADDR WHO: the client pings the server from the other client's address;
# every packet is dropped as source_not_allowed and no reply reaches the other client.
spoof() {
	local n=$1 ifname=$2 addr=$3 who=$4 before after other_rx
	at "$n" ip addr add "$addr/32" dev "$ifname"
	before=$(drop_count "$(myvpn_drops "$HUB" hub)" source_not_allowed)
	other_rx=$(rx "$5" "$6")
	! at "$n" ping -c 3 -i 0.2 -W 1 -I "$addr" 10.20.0.1 >/dev/null 2>&1 ||
		fail "$who spoofing $addr got a reply from the server"
	after=$(drop_count "$(myvpn_drops "$HUB" hub)" source_not_allowed)
	[ "$((after - before))" -ge 3 ] || fail "$who spoofing $addr: source_not_allowed went $before -> $after"
	[ "$(rx "$5" "$6")" = "$other_rx" ] || fail "$who spoofing $addr: something reached the other client"
	at "$n" ip addr del "$addr/32" dev "$ifname"
	log "$who spoofing $addr: source_not_allowed $before -> $after"
}
spoof c1 "$P-w1" 10.20.0.3 "wireguard-go client 1" c2 "$P-t2"
spoof c2 "$P-t2" 10.20.0.2 "myvpn client 2" c1 "$P-w1"
# An address belonging to nobody is not allowed either.
spoof c1 "$P-w1" 10.20.0.99 "wireguard-go client 1" c2 "$P-t2"

# Both clients still work with their own addresses.
ping_ok c1 10.20.0.1 || fail "client 1 lost its tunnel after the spoofing"
ping_ok c2 10.20.0.1 || fail "client 2 lost its tunnel after the spoofing"
ping_ok hub 10.20.0.2 || fail "ping server -> client 1 after the spoofing"
ping_ok hub 10.20.0.3 || fail "ping server -> client 2 after the spoofing"
kill -0 "$HUB" || fail "server died"
kill -0 "$C2" || fail "myvpn client died"
log "two clients, routed and filtered by allowed IPs: ok"
log "ok"
