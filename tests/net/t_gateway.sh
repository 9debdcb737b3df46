#!/bin/bash
# The seed's default-gateway recipe (README, with ip and nft): the client reaches "internet"
# through the tunnel, and "internet" sees the server's address, never the client's.
. "$(dirname "$0")/lib.sh"
topo_gateway

bg server server "$MYVPN_NAT" -s 12345 -i "$P-ts" -t "ifconfig %s 192.168.1.2 mtu 1450 pointopoint 192.168.1.1"
bg client client "$MYVPN_NAT" -a 192.0.2.1 -p 12345 -i "$P-tc" -t "ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2"
wait_ready server; wait_ready client
ping_eventually client 5 192.168.1.2 || fail "tunnel did not come up"

# Before the recipe the client has no way to "internet".
ping_ok client 203.0.113.2 && fail "client reached internet without the tunnel: the test cannot tell"

# Client side: keep the server on the real link, send everything else into the tunnel.
at client ip route add 192.0.2.1/32 dev "$P-c"
at client ip route replace default via 192.168.1.2
# Server side: forward and masquerade the client's packets.
at server nft -f - <<NFT
table ip myvpn {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state related,established accept
		iifname "$P-ts" oifname "$P-si" ip saddr 192.168.1.1 accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat;
		oifname "$P-si" ip saddr 192.168.1.1 masquerade
	}
}
NFT
# "internet" counts who pings it.
at internet nft -f - <<NFT
table ip watch {
	chain input {
		type filter hook input priority filter;
		icmp type echo-request ip saddr 203.0.113.1 counter name from_server
		icmp type echo-request ip saddr != 203.0.113.1 counter name from_others
	}
	counter from_server {}
	counter from_others {}
}
NFT
ping_eventually client 5 203.0.113.2 || fail "client did not reach internet through the tunnel"
# The underlay itself must still work (the route to the server survived the new default).
ping_ok client 192.0.2.1 || fail "route to the server's real address was lost"
at internet nft list counter ip watch from_server | grep -q "packets [1-9]" || fail "internet did not see the server's address"
at internet nft list counter ip watch from_others | grep -q "packets 0" || fail "internet saw a non-server address"
log "ok"
