#!/bin/bash
# wg-quick with myvpn as its userspace implementation, full tunnel (AllowedIPs = 0.0.0.0/0):
# the client reaches "internet" through the server, the route to the server's endpoint survives
# (fwmark + policy routing), and wg-quick down removes the interface and stops the daemon.
. "$(dirname "$0")/lib.sh"
topo_gateway
wg_keys client; wg_keys server

wg_conf server client 10.40.0.1/24 10.40.0.2/32
bg server server "$MYVPN" -c "$TMP/server.conf" -i "$P-ts"
wait_ready server
at server nft -f - <<NFT
table ip myvpn {
	chain postrouting {
		type nat hook postrouting priority srcnat;
		oifname "$P-si" ip saddr 10.40.0.0/24 masquerade
	}
}
NFT

# wg-quick names the interface after the file.
IF="${P}q"
cat >"$TMP/$IF.conf" <<CONF
[Interface]
PrivateKey = $(cat "$TMP/client.key")
Address = 10.40.0.2/24

[Peer]
PublicKey = $(cat "$TMP/server.pub")
Endpoint = 192.0.2.1:51820
AllowedIPs = 0.0.0.0/0, ::/0
CONF
chmod 600 "$TMP/$IF.conf"
ping_ok client 203.0.113.2 && fail "client reached internet without the tunnel: the test cannot tell"

at client env WG_QUICK_USERSPACE_IMPLEMENTATION="$MYVPN" wg-quick up "$TMP/$IF.conf" >"$TMP/up.log" 2>&1 ||
	fail "wg-quick up failed: $(cat "$TMP/up.log")"
test -S "/var/run/wireguard/$IF.sock" || fail "no control socket after wg-quick up"
# The daemon wg-quick started is the process listening on that socket; cleanup stops it by PID
# even if wg-quick down is never reached.
pid=$(at client ss -xlpn | grep -F "/var/run/wireguard/$IF.sock" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
[ -n "$pid" ] || fail "cannot find the daemon serving $IF.sock"
PIDS+=("$pid")
at client wg show "$IF" fwmark | grep -q 0xca6c || fail "wg-quick did not set fwmark 51820"

ping_eventually client 10 203.0.113.2 || fail "client did not reach internet through the full tunnel: $(cat "$TMP/up.log")"
ping_ok client 10.40.0.1 || fail "ping to the server's tunnel address"
at client wg show "$IF" latest-handshakes | awk '{exit !($2 > 0)}' || fail "wg show: no handshake"
at client wg show "$IF" endpoints | grep -q "192.0.2.1:51820" || fail "wg show: wrong endpoint"

at client env WG_QUICK_USERSPACE_IMPLEMENTATION="$MYVPN" wg-quick down "$TMP/$IF.conf" >"$TMP/down.log" 2>&1 ||
	fail "wg-quick down failed: $(cat "$TMP/down.log")"
link_exists client "$IF" && fail "interface still there after wg-quick down"
wait_until 5 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon still running after wg-quick down"
test -e "/var/run/wireguard/$IF.sock" && fail "control socket left behind"
ping_ok client 203.0.113.2 && fail "internet still reachable after wg-quick down"
log "ok"
