#!/bin/bash
# --keepalive keeps a NAT mapping alive: with a 5 s conntrack timeout and 12 s of silence, the
# server can still reach the client with keepalives every 2 s, and cannot without them.
. "$(dirname "$0")/lib.sh"
topo_nat
nat_udp_timeout 5
# A new interface sends IPv6 router solicitations and MLD reports for several seconds; they
# would refresh the mapping and hide what keepalives do. This test wants true silence.
at client sysctl -qw net.ipv6.conf.default.disable_ipv6=1
at server sysctl -qw net.ipv6.conf.default.disable_ipv6=1

reach_after_idle() {
	local keepalive=$1 result=0
	bg server server "$MYVPN_NAT" -s 12345 -i "$P-ts" --address 10.9.0.1/24
	local s=$BG_PID
	bg client client "$MYVPN_NAT" -a 198.51.100.2 -p 12345 -i "$P-tc" --address 10.9.0.2/24 --keepalive "$keepalive"
	local c=$BG_PID
	wait_ready server; wait_ready client
	ping_eventually client 5 10.9.0.1 || fail "ping client -> server (keepalive $keepalive)"
	sleep 12
	ping_ok server -c 2 10.9.0.2 || result=1
	stop_pid "$c"; stop_pid "$s"
	at router conntrack -F >/dev/null 2>&1 || true
	return $result
}

reach_after_idle 2 || fail "server could not reach the client after idling with --keepalive 2"
log "with keepalive 2: reachable after 12 s idle"
if reach_after_idle 0; then
	fail "server reached the client without keepalives: the test cannot tell"
fi
log "with keepalive 0: unreachable, as expected"
log "ok"
