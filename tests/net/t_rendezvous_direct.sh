#!/bin/bash
# Rendezvous, both sides behind port-restricted NAT (plain masquerade): r introduces a and b,
# they punch through both NATs, and the path is direct: a transfer from a to b checks out by
# sha256 while r relays nothing of it. Interop: a stock wireguard-go peer g of r (203.0.113.30
# on the bridge, tunnel 10.99.0.5) works as usual and never gets a message type other than
# WireGuard's four. Topology: tests/net/rendezvous.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rendezvous.sh"

topo_two_nats
ns_add g
veth inet "$P-ig" g "$P-g"
at inet ip link set "$P-ig" master br0
at g ip addr add 203.0.113.30/24 dev "$P-g"
rendezvous_confs
wg_keys g
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.5/32\n' "$(cat "$TMP/g.pub")" >>"$TMP/r.conf"
# what reaches g from r's port: anything but WireGuard's types 1-4 (first 4 bytes, LE) counts
at g nft -f - <<-NFT
	table ip t {
		chain in {
			type filter hook input priority filter;
			udp sport 51820 @th,64,32 != { 0x01000000, 0x02000000, 0x03000000, 0x04000000 } counter name other
			udp sport 51820 @th,64,32 0x04000000 counter name data
		}
		counter other {}
		counter data {}
	}
NFT
# r comes up last, so a's and b's first initiations to it are lost (as when a client starts
# before its network): the first ping, sent as r comes up, waits for the path and is
# answered within 3 s (a retries r after 1 s, not WireGuard's 5 s, and keeps the ping).
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta" -v
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb" -v
wait_ready a; wait_ready b
bg r r "$MYVPN" -c "$TMP/r.conf" -i "$P-tr" -v
R_PID=$BG_PID
wait_ready r
start=$(date +%s%N)
at a ping -c 1 -W 3 10.99.0.3 >/dev/null ||
	fail "the first ping a -> b got no answer within 3 s: $(grep -v dropped "$TMP/a.log" | tail -20)"
log "first ping a -> b answered $(( ($(date +%s%N) - start) / 1000000 )) ms after r came up"
start_wireguard_go g "$P-wg" 10.99.0.5/24 fd99::5/64 51820 "$(cat "$TMP/r.pub")" 203.0.113.10:51820 10.99.0.1/32 5

wait_until 10 grep -q "direct path to 203.0.113.2:" "$TMP/a.log" ||
	fail "a found no direct path: $(grep -i "peer 2\|rendezvous" "$TMP/a.log" | tail)"
grep -q "relayed through the rendezvous" "$TMP/a.log" "$TMP/b.log" && fail "a or b fell back to the relay"
log "direct path: $(grep -m1 "direct path" "$TMP/a.log")"

before=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
transfer_checks_out 20 || fail "the transfer from a to b did not check out"
after=$(stat_of "$R_PID" r relayed_bytes) || fail "no stats from r"
[ $(( after - before )) -lt 10000 ] || fail "r relayed $(( after - before )) bytes of a direct transfer"
log "20 MiB a -> b direct, sha256 ok; r relayed $(( after - before )) bytes"

ping_eventually g 5 10.99.0.1 || fail "the wireguard-go peer cannot reach r"
at g ping -q -c 5 -i 0.2 10.99.0.1 >/dev/null || fail "pings from the wireguard-go peer lost"
at g nft list counter ip t data | grep -q "packets [1-9]" || fail "the capture on g saw no data messages"
at g nft list counter ip t other | grep -q "packets 0 " ||
	fail "g got non-WireGuard messages: $(at g nft list counter ip t other)"
log "wireguard-go peer of r: tunnel works, only WireGuard message types received"

# Roaming: natA's public address changes (snat to a new one, its mappings gone). r sees a's
# next packet come from the new address and introduces a and b again; they punch again.
at na ip addr add 203.0.113.3/24 dev "$P-nai"
at na nft flush ruleset
nat_rule na "$P-nai" "to 203.0.113.3"
at na conntrack -F 2>/dev/null
start=$(date +%s%N)
wait_until 20 ping_ok a 10.99.0.3 || fail "no ping from a to b after natA's address changed"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "peer 1 moved; introducing it again" "$TMP/r.log" || fail "r did not introduce a again"
[ "$ms" -lt 15000 ] || fail "pings took ${ms} ms to resume after natA's address changed"
wait_until 5 grep -q "direct path to 203.0.113.3:" "$TMP/b.log" || fail "b has no direct path to a's new address"
log "natA's address changed: pings resumed after ${ms} ms, direct again"

# myvpn show says how b is reached
"$MYVPN" show "$P-ta" | grep -A8 "$(cat "$TMP/b.pub")" | grep -q "path: direct" ||
	fail "myvpn show does not say the path is direct: $("$MYVPN" show "$P-ta")"
log "ok"
