#!/bin/bash
# Roaming: the client's NAT mapping moves to a new public address; the server follows it from
# the client's next packet and traffic resumes without a restart.
. "$(dirname "$0")/lib.sh"
topo_nat

bg server server "$MYVPN_NAT" -s 12345 -i "$P-ts" --address 10.9.0.1/24
bg client client "$MYVPN_NAT" -a 198.51.100.2 -p 12345 -i "$P-tc" --address 10.9.0.2/24 --keepalive 1
wait_ready server; wait_ready client
ping_eventually client 5 10.9.0.1 || fail "ping before roaming"
grep -q "client endpoint is now 198.51.100.1:" "$TMP/server.log" || fail "first endpoint not learned"

# The router gets a new public address; the old mappings die with the old address. Without
# promote_secondaries, deleting the primary address would delete the new one too.
at router sysctl -qw net.ipv4.conf.all.promote_secondaries=1
at router sysctl -qw "net.ipv4.conf.$P-rs.promote_secondaries=1"
at router ip addr add 198.51.100.7/24 dev "$P-rs"
at router ip addr del 198.51.100.1/24 dev "$P-rs"
at router conntrack -F >/dev/null 2>&1 || true

ping_eventually client 10 10.9.0.1 || fail "ping client -> server after roaming"
wait_until 5 grep -q "client endpoint is now 198.51.100.7:" "$TMP/server.log" ||
	fail "server did not follow the client: $(cat "$TMP/server.log")"
ping_ok server 10.9.0.2 || fail "ping server -> client after roaming"
log "ok"
