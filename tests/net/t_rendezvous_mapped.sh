#!/bin/bash
# Rendezvous with a port mapping: natA runs miniupnpd (NAT-PMP), natB is symmetric (masquerade
# fully-random). a maps its port by default (Rendezvous = KEY, no PortMapping line) and offers
# the mapped address to b through r, flagged as a mapping. Without it only the relay would work
# (t_rendezvous_relay); with it b's handshake reaches a through the mapping, the path is direct,
# b's `myvpn show` says "mapped", and r relays nothing.
# Topology: tests/net/rendezvous.sh; miniupnpd learns its "public" address from a STUN server
# on r (stund on 203.0.113.10 and .11), as in t_port_mapping.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rendezvous.sh"

topo_two_nats fully-random
# natA lets the internet reach it (miniupnpd's STUN check wants answers from another address):
# b's punches then meet the mapping's DNAT, not natA itself.
at na nft delete table ip filter
at r ip addr add 203.0.113.11/24 dev "$P-r"
bg stund r stund -h 203.0.113.10 -a 203.0.113.11
UPNP_TABLE="$P-upnp"
upnp_table na "$UPNP_TABLE"
cat >"$TMP/miniupnpd.conf" <<-CONF
	ext_ifname=$P-nai
	listening_ip=$P-naa
	http_port=0
	enable_natpmp=yes
	enable_upnp=yes
	secure_mode=yes
	lease_file=$TMP/miniupnpd.leases
	ext_perform_stun=yes
	ext_stun_host=203.0.113.10
	ext_stun_port=3478
	upnp_table_name=$UPNP_TABLE
	upnp_nat_table_name=$UPNP_TABLE
	uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
	allow 1024-65535 10.1.0.0/24 1024-65535
	deny 0-65535 0.0.0.0/0 0-65535
CONF
bg miniupnpd na /usr/sbin/miniupnpd -d -f "$TMP/miniupnpd.conf" -P "$TMP/miniupnpd.pid"
wait_until 10 grep -q "Port forwarding is now enabled" "$TMP/miniupnpd.log" ||
	fail "miniupnpd did not enable port forwarding: $(cat "$TMP/miniupnpd.log")"

rendezvous_confs
grep -qi "PortMapping" "$TMP/a.conf" && fail "the test needs a file without PortMapping"
# b starts once a holds its mapping, so that r introduces them with it
bg r r "$MYVPN" -c "$TMP/r.conf" -i "$P-tr" -v
R_PID=$BG_PID
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta" -v
wait_ready r; wait_ready a
wait_until 10 grep -q "port mapping: UDP port 51820 is reachable at 203.0.113.1:" "$TMP/a.log" ||
	fail "a got no mapping: $(grep "port mapping" "$TMP/a.log")"
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb" -v
wait_ready b

ping_eventually b 15 10.99.0.2 || fail "b cannot reach a: $(grep "peer 2" "$TMP/b.log" | grep -v sending | tail)"
grep -q "relayed through the rendezvous" "$TMP/a.log" "$TMP/b.log" && fail "a and b fell back to the relay"
wait_until 5 grep -q "direct path to 203.0.113.1:" "$TMP/b.log" || fail "b has no direct path to a's mapping"
"$MYVPN" show "$P-tb" | grep -A8 "$(cat "$TMP/a.pub")" | grep -q "path: mapped" ||
	fail "myvpn show on b does not say mapped: $("$MYVPN" show "$P-tb")"
before=$(stat_of "$R_PID" r relayed_bytes)
at b ping -q -c 20 -i 0.05 -s 1000 10.99.0.2 >/dev/null || fail "pings lost on the mapped path"
after=$(stat_of "$R_PID" r relayed_bytes)
[ "$after" -eq "$before" ] || fail "r relayed $(( after - before )) bytes of a mapped path"
log "symmetric NAT on b, a mapped by NAT-PMP: direct through the mapping, r relays nothing"
log "ok"
