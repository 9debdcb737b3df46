#!/bin/bash
# Rendezvous through a symmetric NAT (natB: masquerade fully-random): punching cannot work, so
# after a few seconds a and b talk through r's relay; a transfer from a to b checks out by
# sha256, and r's counters show it relayed it. Abuse: a stranger (not r's peer) gets no
# session, so neither addresses nor introductions, and its forged relay envelopes are refused.
# Topology: tests/net/rendezvous.sh, plus the stranger x 203.0.113.20 on the bridge.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rendezvous.sh"

topo_two_nats fully-random
ns_add x
veth inet "$P-ix" x "$P-x"
at inet ip link set "$P-ix" master br0
at x ip addr add 203.0.113.20/24 dev "$P-x"
rendezvous_confs
start_rendezvous_nodes

ping_eventually a 20 10.99.0.3 || fail "a cannot reach b: $(tail -20 "$TMP/a.log")"
grep -q "relayed through the rendezvous" "$TMP/a.log" || fail "a is not on the relay"
grep -q "direct path to" "$TMP/a.log" "$TMP/b.log" && fail "a direct path through a symmetric NAT?"
log "relayed: $(grep -m1 "relayed through" "$TMP/a.log")"

before=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
transfer_checks_out 3 || fail "the relayed transfer from a to b did not check out"
after=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
[ $(( after - before )) -gt $(( 3 << 20 )) ] || fail "r relayed only $(( after - before )) bytes of a 3 MiB transfer"
log "3 MiB a -> b through r, sha256 ok; r relayed $(( after - before )) bytes"

"$MYVPN" show "$P-ta" | grep -A10 "$(cat "$TMP/b.pub")" | grep -q "path: relayed through the rendezvous" ||
	fail "myvpn show does not say b is relayed: $("$MYVPN" show "$P-ta")"
"$MYVPN" show "$P-tr" | grep -A10 "$(cat "$TMP/a.pub")" | grep -q "relayed from this peer: [1-9]" ||
	fail "myvpn show on r does not count what it relayed: $("$MYVPN" show "$P-tr")"

# A stranger speaking the extension: r does not know its key, so no session, no HELLO.
wg_keys x
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.99.0.9/24\nRendezvous = %s\n' \
		"$(cat "$TMP/x.key")" "$(cat "$TMP/r.pub")"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.1/32\nEndpoint = 203.0.113.10:51820\n' "$(cat "$TMP/r.pub")"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.3/32\n' "$(cat "$TMP/b.pub")"
} >"$TMP/x.conf"
chmod 600 "$TMP/x.conf"
bg x x "$MYVPN" -c "$TMP/x.conf" -i "$P-tx" -v
wait_ready x
wait_until 10 grep -q "its public key is not one of our peers" "$TMP/r.log" || fail "r did not reject the stranger"
grep -q "candidate address" "$TMP/x.log" && fail "the stranger learnt b's addresses"

# Forged envelopes from the stranger's address: "from a (id 1) to b (id 2)" and the reverse.
denied=$(stat_of "$R_PID" r relayed_packets)
at x python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for dst, src in ((2, 1), (1, 2)):
    env = bytes([0xf1, ord('r'), ord('l'), ord('y')]) + struct.pack(">II", dst, src)
    for _ in range(20):
        s.sendto(env + struct.pack("<IIQ", 4, 1, 0) + bytes(64), ("203.0.113.10", 51820))
PY
sleep 0.5
line=$(myvpn_drops "$R_PID" r) || fail "no drops from r"
[ "$(drop_count "$line" relay_denied)" -ge 40 ] || fail "r did not refuse the forged envelopes: $line"
[ "$(stat_of "$R_PID" r relayed_packets)" -lt $(( denied + 40 )) ] || fail "r relayed forged envelopes"
log "stranger: no session, no addresses; 40 forged envelopes refused"
log "ok"
