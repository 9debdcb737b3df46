#!/bin/bash
# Rendezvous, both sides behind port-restricted NAT (plain masquerade): r introduces a and b,
# they punch through both NATs, and the path is direct: a transfer from a to b checks out by
# sha256 while r relays nothing of it. Topology: tests/net/rendezvous.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rendezvous.sh"

topo_two_nats
rendezvous_confs
start_rendezvous_nodes

ping_eventually a 15 10.99.0.3 || fail "a cannot reach b: $(tail -20 "$TMP/a.log")"
wait_until 10 grep -q "direct path to 203.0.113.2:" "$TMP/a.log" ||
	fail "a found no direct path: $(grep -i "peer 2\|rendezvous" "$TMP/a.log" | tail)"
grep -q "relayed through the rendezvous" "$TMP/a.log" "$TMP/b.log" && fail "a or b fell back to the relay"
log "direct path: $(grep -m1 "direct path" "$TMP/a.log")"

before=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
transfer_checks_out 4 || fail "the transfer from a to b did not check out"
after=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
[ $(( after - before )) -lt 10000 ] || fail "r relayed $(( after - before )) bytes of a direct transfer"
log "4 MiB a -> b direct, sha256 ok; r relayed $(( after - before )) bytes"

# myvpn show says how b is reached
"$MYVPN" show "$P-ta" | grep -A8 "$(cat "$TMP/b.pub")" | grep -q "path: direct" ||
	fail "myvpn show does not say the path is direct: $("$MYVPN" show "$P-ta")"
log "ok"
