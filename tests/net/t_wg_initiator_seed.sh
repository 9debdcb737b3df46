#!/bin/bash
# Encrypted mode, complementing t_wg_peers.sh (credential mismatches):
#  1. wireguard-go initiates first (myvpn has sent nothing yet, checked with an nftables
#     counter): the handshake completes and ping works both ways, IPv4 and IPv6.
#  2. the seed-style encrypted one-liner (--private-key/--peer-key): myvpn <-> myvpn peer to
#     peer, and myvpn_nat server <-> myvpn_nat client behind a NAT router.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b
A_PUB=$(cat "$TMP/a.pub"); B_PUB=$(cat "$TMP/b.pub")

# myvpn_conf FILE PEER_PUB [PSK_FILE]: a's wg-quick file, peer b at 192.0.2.2:51820.
myvpn_conf() {
	cat >"$1" <<-CONF
		[Interface]
		PrivateKey = $(cat "$TMP/a.key")
		ListenPort = 51820
		Address = 10.10.0.1/24, fd10::1/64

		[Peer]
		PublicKey = $2
		${3:+PresharedKey = $(cat "${3:-/dev/null}")}
		Endpoint = 192.0.2.2:51820
		AllowedIPs = 10.10.0.2/32, fd10::2/128
	CONF
	chmod 600 "$1"
}
start_b() {
	start_wireguard_go b "$P-wb" 10.10.0.2/24 fd10::2/64 51820 "$A_PUB" 192.0.2.1:51820 "10.10.0.1/32,fd10::1/128"
	[ -z "${1:-}" ] || at b wg set "$P-wb" peer "$A_PUB" preshared-key "$1"
}
start_a() {
	bg "$1" a "$MYVPN" -v -c "$2" -i "$P-ta"
	A=$BG_PID
	wait_ready "$1"
}
# --- 1. wireguard-go initiates before myvpn has sent anything ---------------------------------
# Count every UDP datagram a's myvpn sends to b, to show that b spoke first.
at b nft -f - <<NFT
table inet t {
	counter from_a { }
	chain input {
		type filter hook input priority 0;
		ip saddr 192.0.2.1 udp dport 51820 counter name from_a
	}
}
NFT
from_a() { at b nft list counter inet t from_a | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

myvpn_conf "$TMP/a1.conf" "$B_PUB"
start_a a1 "$TMP/a1.conf"
start_b
sleep 1
[ "$(from_a)" = 0 ] || fail "myvpn sent $(from_a) datagrams before wireguard-go spoke: $(cat "$TMP/a1.log")"
grep -q "sending handshake initiation" "$TMP/a1.log" && fail "myvpn initiated on its own: $(cat "$TMP/a1.log")"
ping_eventually b 10 10.10.0.1 || fail "ping wireguard-go -> myvpn (wireguard-go initiating): $(cat "$TMP/a1.log")"
grep -q "received handshake initiation" "$TMP/a1.log" || fail "myvpn did not log wireguard-go's initiation: $(cat "$TMP/a1.log")"
grep -q "sending handshake initiation" "$TMP/a1.log" && fail "myvpn initiated although wireguard-go did: $(cat "$TMP/a1.log")"
grep -q "handshake complete" "$TMP/a1.log" || fail "no handshake logged"
ping_ok a 10.10.0.2 || fail "ping myvpn -> wireguard-go after wireguard-go initiated"
ping_ok a fd10::2 || fail "IPv6 ping myvpn -> wireguard-go"
ping_ok b fd10::1 || fail "IPv6 ping wireguard-go -> myvpn"
at b wg show "$P-wb" latest-handshakes | awk '{exit !($2 > 0)}' || fail "wg shows no handshake"
at b nft delete table inet t
stop_pid "$A"; stop_pid "$WGGO_PID"
log "wireguard-go initiating first: ok"

# --- 2a. seed-style encrypted one-liner, peer to peer ------------------------------------------
bg sa a "$MYVPN" -a 192.0.2.2 -p 51821 -s 51821 --private-key "$TMP/a.key" --peer-key "$B_PUB" \
	--address 10.11.0.1/24 -i "$P-sa"
SA=$BG_PID
bg sb b "$MYVPN" -a 192.0.2.1 -p 51821 -s 51821 --private-key "$TMP/b.key" --peer-key "$A_PUB" \
	--address 10.11.0.2/24 -i "$P-sb"
SB=$BG_PID
wait_ready sa; wait_ready sb
grep -q "encrypted mode" "$TMP/sa.log" || fail "seed-style one-liner not in encrypted mode: $(cat "$TMP/sa.log")"
grep -q "NEITHER encrypted" "$TMP/sa.log" && fail "seed-style encrypted one-liner warns about plaintext"
ping_eventually a 10 10.11.0.2 || fail "seed-style encrypted p2p: ping a -> b: $(cat "$TMP/sa.log")"
ping_ok b 10.11.0.1 || fail "seed-style encrypted p2p: ping b -> a"
grep -q "handshake complete" "$TMP/sa.log" || fail "seed-style p2p: no handshake logged"
stop_pid "$SA"; stop_pid "$SB"
log "seed-style encrypted peer to peer: ok"

# --- 2b. seed-style encrypted one-liner, myvpn_nat server <-> client behind NAT -----------------
topo_nat
wg_keys server; wg_keys client
bg server server "$MYVPN_NAT" -s 51822 --private-key "$TMP/server.key" --peer-key "$(cat "$TMP/client.pub")" \
	--address 10.12.0.1/24 -i "$P-ts"
bg client client "$MYVPN_NAT" -a 198.51.100.2 -p 51822 --private-key "$TMP/client.key" \
	--peer-key "$(cat "$TMP/server.pub")" --address 10.12.0.2/24 -i "$P-tc"
wait_ready server; wait_ready client
grep -q "encrypted mode" "$TMP/server.log" || fail "myvpn_nat server not in encrypted mode: $(cat "$TMP/server.log")"
ping_eventually client 10 10.12.0.1 || fail "seed-style encrypted NAT: ping client -> server: $(cat "$TMP/client.log")"
ping_ok server 10.12.0.2 || fail "seed-style encrypted NAT: ping server -> client"
grep -q "endpoint is now 198.51.100.1:" "$TMP/server.log" ||
	fail "server did not learn the router's public address: $(cat "$TMP/server.log")"
log "seed-style encrypted client/server through NAT: ok"
log "ok"
