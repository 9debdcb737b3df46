#!/bin/bash
# Rendezvous through a symmetric NAT (natB: masquerade fully-random): punching cannot work, so
# after a few seconds a and b talk through r's relay; a transfer from a to b checks out by
# sha256, and r's counters show it relayed it. When natB turns plain masquerade, a and b find
# the direct path on their next try and the traffic leaves the relay. Abuse: a stranger x (not
# r's peer) gets no session, so neither addresses nor introductions, and its forged relay
# envelopes are refused; m, a peer of r that looks for b while b does not look for m, gets
# neither b's addresses nor r's relay to b.
# Topology: tests/net/rendezvous.sh, plus x 203.0.113.20 and m 203.0.113.21 on the bridge.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rendezvous.sh"

topo_two_nats fully-random
for n in x m; do
	ns_add $n
	veth inet "$P-i$n" $n "$P-$n"
	at inet ip link set "$P-i$n" master br0
done
at x ip addr add 203.0.113.20/24 dev "$P-x"
at m ip addr add 203.0.113.21/24 dev "$P-m"
rendezvous_confs
wg_keys m; wg_keys x
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.8/32\n' "$(cat "$TMP/m.pub")" >>"$TMP/r.conf"
start_rendezvous_nodes

# x (a stranger to r) and m (r's peer, unknown to b) both look for b through r (checked below).
for n in x m; do
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.99.0.9/24\nRendezvous = %s\n' \
			"$(cat "$TMP/$n.key")" "$(cat "$TMP/r.pub")"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.1/32\nEndpoint = 203.0.113.10:51820\n' "$(cat "$TMP/r.pub")"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.3/32\n' "$(cat "$TMP/b.pub")"
	} >"$TMP/$n.conf"
	chmod 600 "$TMP/$n.conf"
	bg $n $n "$MYVPN" -c "$TMP/$n.conf" -i "$P-t$n" -v
	eval "${n^^}_PID=$BG_PID"
done
wait_ready x; wait_ready m

ping_eventually a 20 10.99.0.3 || fail "a cannot reach b: $(tail -20 "$TMP/a.log")"
# whichever side gives up punching first moves both: the other follows its relayed handshake
grep -q "relayed through the rendezvous" "$TMP/a.log" "$TMP/b.log" || fail "a and b are not on the relay"
grep -q "direct path to" "$TMP/a.log" "$TMP/b.log" && fail "a direct path through a symmetric NAT?"
log "relayed: $(grep -h -m1 "relayed through" "$TMP/a.log" "$TMP/b.log" | head -1)"

before=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
transfer_checks_out 3 || fail "the relayed transfer from a to b did not check out"
after=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
[ $(( after - before )) -gt $(( 3 << 20 )) ] || fail "r relayed only $(( after - before )) bytes of a 3 MiB transfer"
log "3 MiB a -> b through r, sha256 ok; r relayed $(( after - before )) bytes"

"$MYVPN" show "$P-ta" | grep -A10 "$(cat "$TMP/b.pub")" | grep -q "path: relayed through the rendezvous" ||
	fail "myvpn show does not say b is relayed: $("$MYVPN" show "$P-ta")"
"$MYVPN" show "$P-tr" | grep -A10 "$(cat "$TMP/a.pub")" | grep -q "relayed from this peer: [1-9]" ||
	fail "myvpn show on r does not count what it relayed: $("$MYVPN" show "$P-tr")"

# A flood through the relay: r forwards at most its per-peer budget (8 MiB/s) and drops the
# rest as relay_ratelimited.
bg iperf b iperf3 -s -1 -B 10.99.0.3
sleep 0.3
before=$(stat_of "$R_PID" r relayed_bytes)
limited=$(drop_count "$(myvpn_drops "$R_PID" r)" relay_ratelimited)
at a iperf3 -u -b 200M -l 1200 -t 1 -c 10.99.0.3 >/dev/null || fail "iperf3 flood failed"
after=$(stat_of "$R_PID" r relayed_bytes)
now_limited=$(drop_count "$(myvpn_drops "$R_PID" r)" relay_ratelimited)
# 1 s of flood, plus the budget of a window or two around it
[ $(( after - before )) -le $(( (8 << 20) * 13 / 10 )) ] ||
	fail "r relayed $(( after - before )) bytes in a 1 s flood: over its 8 MiB/s budget"
[ $(( now_limited - limited )) -gt 1000 ] || fail "r rate-limited only $(( now_limited - limited )) datagrams of a 200 Mbit/s flood"
log "200 Mbit/s flood: r relayed $(( (after - before) >> 10 )) KiB in 1 s, dropped $(( now_limited - limited ))"

wait_until 10 grep -q "its public key is not one of our peers" "$TMP/r.log" || fail "r did not reject the stranger"
wait_until 10 grep -q "peer 3 asked for peer 2, which does not look for it" "$TMP/r.log" ||
	fail "m did not ask r for b: $(grep -i "peer 3" "$TMP/r.log" | tail -5)"
sleep 1
grep -q "candidate address" "$TMP/x.log" && fail "the stranger learnt b's addresses"
grep -q "candidate address" "$TMP/m.log" && fail "m learnt the addresses of b, which does not look for m"

# Forged envelopes: from x's address "from a (id 1) to b (id 2)" and the reverse; from m's own
# address, which r knows from m's session, as itself (id 3) to b (m stopped, to free its port).
relayed=$(stat_of "$R_PID" r relayed_packets)
envelopes() {
	python3 - "$@" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
for pair in sys.argv[2:]:
    dst, src = map(int, pair.split(":"))
    env = bytes([0xf1, ord('r'), ord('l'), ord('y')]) + struct.pack(">II", dst, src)
    for _ in range(20):
        s.sendto(env + struct.pack("<IIQ", 4, 1, 0) + bytes(64), ("203.0.113.10", 51820))
PY
}
stop_pid "$X_PID"
stop_pid "$M_PID"
at x bash -c "$(declare -f envelopes); envelopes 40000 2:1 1:2"
at m bash -c "$(declare -f envelopes); envelopes 51820 2:3" || fail "cannot send from m's port"
sleep 0.5
line=$(myvpn_drops "$R_PID" r) || fail "no drops from r"
[ "$(drop_count "$line" relay_denied)" -ge 60 ] || fail "r did not refuse the forged envelopes: $line"
[ "$(stat_of "$R_PID" r relayed_packets)" -lt $(( relayed + 20 )) ] || fail "r relayed forged envelopes"
log "stranger: no session, no addresses; m: no introduction; 60 forged envelopes refused"

# natB becomes port-restricted: the next try (every 20 s, or when r sees b's new mapping)
# punches through, and the relay carries nothing more.
at nb nft flush ruleset
nat_rule nb "$P-nbi" ""
at nb conntrack -F 2>/dev/null
wait_until 40 grep -q "direct path to 203.0.113.2:" "$TMP/a.log" ||
	fail "no direct path after natB turned plain: $(grep "peer 2" "$TMP/a.log" | grep -v sending | tail)"
ping_ok a 10.99.0.3 || fail "a cannot reach b on the direct path"
before=$(stat_of "$R_PID" r relayed_bytes)
at a ping -q -c 20 -i 0.05 -s 1000 10.99.0.3 >/dev/null || fail "pings lost on the direct path"
after=$(stat_of "$R_PID" r relayed_bytes)
[ $(( after - before )) -lt 2000 ] || fail "r still relays ($(( after - before )) bytes) after the direct path opened"
log "natB plain again: $(grep -m1 "direct path to" "$TMP/a.log" | sed 's/.*info: //'); r relays no more"
log "ok"
