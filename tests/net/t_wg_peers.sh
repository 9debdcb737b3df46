#!/bin/bash
# Encrypted mode against wireguard-go with mismatched credentials: a wrong peer public key on
# either side, or a preshared-key mismatch, passes no traffic either way, completes no handshake,
# is counted as handshake_invalid by myvpn, and kills nothing. Each case then fixes the mismatch
# on the wireguard-go side with wg, and traffic must flow: the failure was the credentials.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b; wg_keys x   # x: a key pair neither side should accept in place of the other
"$MYVPN" genkey >"$TMP/psk1"; "$MYVPN" genkey >"$TMP/psk2"
chmod 600 "$TMP/psk1" "$TMP/psk2"
at a sysctl -qw net.ipv6.conf.default.disable_ipv6=1

# start_a PEER_PUB_FILE [PSK_FILE]: myvpn on a, peer at 192.0.2.2:51820. Sets A.
start_a() {
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$TMP/a.key")"
		echo "ListenPort = 51820"
		echo "Address = 10.30.0.1/24"
		echo "[Peer]"
		echo "PublicKey = $(cat "$1")"
		[ -z "${2:-}" ] || echo "PresharedKey = $(cat "$2")"
		echo "Endpoint = 192.0.2.2:51820"
		echo "AllowedIPs = 10.30.0.2/32"
	} >"$TMP/a.conf"
	chmod 600 "$TMP/a.conf"
	bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
	A=$BG_PID
	wait_ready a
}
invalid() { drop_count "$(myvpn_drops "$A" a || fail "myvpn gave no counters")" handshake_invalid; }
tun_rx() { at a cat "/sys/class/net/$P-ta/statistics/rx_packets"; }
wg_handshakes() { at b wg show "$1" latest-handshakes | awk '$2 > 0' | wc -l; }

# no_traffic WG_IF WHAT: for 6 s (past one retransmission) pings both ways, at once, all fail,
# and so do handshakes; myvpn counts some handshake_invalid; both processes live.
no_traffic() {
	local before rx pa pb
	before=$(invalid); rx=$(tun_rx)
	# myvpn speaks first, so that its initiation meets the mismatch before wireguard-go's
	# crosses it (crossing initiations would make what myvpn counts a matter of timing).
	at a ping -c 6 -i 1 -W 1 10.30.0.2 >/dev/null 2>&1 & pa=$!
	sleep 0.5
	at b ping -c 6 -i 1 -W 1 10.30.0.1 >/dev/null 2>&1 & pb=$!
	! wait "$pa" || fail "$2: a ping from myvpn got through"
	! wait "$pb" || fail "$2: a ping from wireguard-go got through"
	! grep -q "handshake complete" "$TMP/a.log" || fail "$2: myvpn completed a handshake"
	[ "$(wg_handshakes "$1")" -eq 0 ] || fail "$2: wireguard-go completed a handshake"
	[ "$(invalid)" -gt "$before" ] || fail "$2: myvpn counted no handshake_invalid"
	[ "$(tun_rx)" -eq "$rx" ] || fail "$2: something reached myvpn's TUN"
	kill -0 "$A" || fail "$2: myvpn died"
	kill -0 "$WGGO_PID" || fail "$2: wireguard-go died"
	log "$2: no traffic, handshake_invalid $before -> $(invalid)"
}

# 1. myvpn has a wrong key for its peer: its initiations fail wireguard-go's mac1, and
#    wireguard-go's initiations carry a static key myvpn does not know.
start_a "$TMP/x.pub"
start_wireguard_go b "$P-wb" 10.30.0.2/24 fd30::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 10.30.0.1/32
no_traffic "$P-wb" "wrong peer key in myvpn"
at b wg set "$P-wb" private-key "$TMP/x.key"   # wireguard-go becomes the peer myvpn expects
ping_eventually a 15 10.30.0.2 || fail "no traffic once the keys matched"
log "wrong peer key in myvpn: fixed, traffic flows"
stop_pid "$A"; stop_pid "$WGGO_PID"

# 2. wireguard-go has a wrong key for myvpn: its initiations fail myvpn's mac1 (keyed by the
#    wrong public key), and myvpn's initiations come from a static key it does not know.
start_a "$TMP/b.pub"
start_wireguard_go b "$P-wb2" 10.30.0.2/24 fd30::2/64 51820 "$(cat "$TMP/x.pub")" 192.0.2.1:51820 10.30.0.1/32
no_traffic "$P-wb2" "wrong peer key in wireguard-go"
at b wg set "$P-wb2" peer "$(cat "$TMP/x.pub")" remove peer "$(cat "$TMP/a.pub")" \
	endpoint 192.0.2.1:51820 allowed-ips 10.30.0.1/32
ping_eventually b 15 10.30.0.1 || fail "no traffic once the keys matched"
log "wrong peer key in wireguard-go: fixed, traffic flows"
stop_pid "$A"; stop_pid "$WGGO_PID"

# 3. Right keys, different preshared keys: initiations are accepted, responses are not.
start_a "$TMP/b.pub" "$TMP/psk1"
start_wireguard_go b "$P-wb3" 10.30.0.2/24 fd30::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 10.30.0.1/32
at b wg set "$P-wb3" peer "$(cat "$TMP/a.pub")" preshared-key "$TMP/psk2"
no_traffic "$P-wb3" "preshared key mismatch"
at b wg set "$P-wb3" peer "$(cat "$TMP/a.pub")" preshared-key "$TMP/psk1"
ping_eventually a 15 10.30.0.2 || fail "no traffic once the preshared keys matched"
ping_ok b 10.30.0.1 || fail "no traffic back once the preshared keys matched"
kill -0 "$A" || fail "myvpn died"
log "ok"
