#!/bin/bash
# The seed's myvpn_nat: the server learns a client that sits behind an nftables masquerade.
. "$(dirname "$0")/lib.sh"
topo_nat

bg server server "$MYVPN_NAT" -s 12345 -i "$P-ts" -t "ifconfig %s 192.168.1.2 mtu 1450 pointopoint 192.168.1.1"
bg client client "$MYVPN_NAT" -a 198.51.100.2 -p 12345 -i "$P-tc" -t "ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2"
wait_ready server; wait_ready client

ping_eventually client 5 192.168.1.2 || fail "ping client -> server"
ping_ok server 192.168.1.1 || fail "ping server -> client"
grep -q "client endpoint is now 198.51.100.1:" "$TMP/server.log" ||
	fail "server did not learn the router's public address: $(cat "$TMP/server.log")"
log "ok"
