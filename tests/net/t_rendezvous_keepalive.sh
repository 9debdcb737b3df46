#!/bin/bash
# Rendezvous keepalives without PersistentKeepalive: a and b (behind NATs whose UDP conntrack
# forgets a flow after 4 s) learn from r's SEEN that they are behind NAT and keep their
# mappings open by themselves (NatKeepalive = 2 here; 25 s by default), so after 16 s of
# silence b still reaches a over the direct path at once, without punching again. c, a client
# on the bridge, is given the public address r sees it at (an address event), learns at once
# that it is not behind NAT, and sends no keepalive; r sends none either (counted by nftables on c and r: data messages of 32 bytes).
# NAT_KEEPALIVE=off runs the same without the keepalives: b's pings are lost (the test fails).
# Topology: tests/net/rendezvous.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rendezvous.sh"

topo_two_nats
for n in na nb; do
	at $n sysctl -qw net.netfilter.nf_conntrack_udp_timeout=4
	at $n sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream=4
done
ns_add c
veth inet "$P-ic" c "$P-c"
at inet ip link set "$P-ic" master br0
# c starts as 203.0.113.41 translated by its own snat to 203.0.113.40 (r reaches .40 through a
# static neighbour entry): r sees it at an address that is not c's, so c is "behind NAT".
# Then c gets 203.0.113.40 itself: the address event makes it tell r at once (not at its next
# HELLO, 15 s later), and r's answer says the address is now c's own.
at c ip addr add 203.0.113.41/24 dev "$P-c"
at c nft add table ip nat
at c nft add chain ip nat post '{ type nat hook postrouting priority srcnat; }'
at c nft add rule ip nat post oifname "$P-c" snat to 203.0.113.40
at r ip neigh add 203.0.113.40 lladdr "$(at c cat /sys/class/net/"$P-c"/address)" dev "$P-r"
rendezvous_confs
wg_keys c
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.6/32\n' "$(cat "$TMP/c.pub")" >>"$TMP/r.conf"
for n in a b; do
	sed -i '/^PersistentKeepalive/d' "$TMP/$n.conf"
	sed -i "s/^Rendezvous = .*/&\nNatKeepalive = ${NAT_KEEPALIVE:-2}/" "$TMP/$n.conf"
done
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.99.0.6/24\n' "$(cat "$TMP/c.key")"
	printf 'Rendezvous = %s\nNatKeepalive = 2\nPortMapping = no\n' "$(cat "$TMP/r.pub")"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.1/32\nEndpoint = 203.0.113.10:51820\n' "$(cat "$TMP/r.pub")"
} >"$TMP/c.conf"
chmod 600 "$TMP/c.conf"
# keepalives (data messages with an empty payload: 32 bytes) leaving r and c; c's first one
# confirms its new session with r (WireGuard's rule for initiators), so counted from then on
for n in r c; do
	at $n nft -f - <<-NFT
		table ip t {
			chain out {
				type filter hook output priority filter;
				udp length 40 @th,64,32 0x04000000 counter name keepalive
			}
			counter keepalive {}
		}
	NFT
done

start_rendezvous_nodes
bg c c "$MYVPN" -c "$TMP/c.conf" -i "$P-tc" -v
wait_ready c

ping_eventually a 15 10.99.0.3 || fail "a cannot reach b: $(tail -20 "$TMP/a.log")"
wait_until 10 grep -q "direct path to 203.0.113.2:" "$TMP/a.log" ||
	fail "a found no direct path: $(grep -i "peer 2\|rendezvous" "$TMP/a.log" | tail)"
grep -q "rendezvous sees us at 203.0.113.1:.*behind NAT" "$TMP/a.log" || fail "a does not know it is behind NAT"
grep -q "rendezvous sees us at 203.0.113.2:.*behind NAT" "$TMP/b.log" || fail "b does not know it is behind NAT"
wait_until 5 grep -q "sees us at 203.0.113.40:51820: behind NAT" "$TMP/c.log" ||
	fail "c does not know it is behind its snat: $(grep rendezvous "$TMP/c.log")"
at c ip addr add 203.0.113.40/32 dev "$P-c"
wait_until 3 grep -q "sees us at 203.0.113.40:51820, our own address: no keepalives" "$TMP/c.log" ||
	fail "c did not learn at once that its address is public: $(grep rendezvous "$TMP/c.log")"
log "c behind its snat, then given the address r sees: public within 3 s"

keepalives_of() { at "$1" nft list counter ip t keepalive | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
c_before=$(keepalives_of c)
punches=$(cat "$TMP/a.log" "$TMP/b.log" | grep -c "punching")
log "direct path; idle for 16 s (the NATs forget a UDP flow after 4 s, WireGuard's passive keepalive comes after 10 s)"
sleep 16
at b ping -c 3 -i 0.3 -W 1 10.99.0.2 >/dev/null ||
	fail "after 16 s idle, b's pings to a were lost: the NAT mapping was not kept open"
[ "$(cat "$TMP/a.log" "$TMP/b.log" | grep -c "punching")" -eq "$punches" ] ||
	fail "a or b punched again: the mapping had closed"
grep -q "relayed through the rendezvous" "$TMP/a.log" "$TMP/b.log" && fail "a or b fell back to the relay"
log "after 16 s idle b reaches a directly at once"

[ "$(keepalives_of r)" -eq 0 ] || fail "r sent $(keepalives_of r) keepalives"
[ "$(keepalives_of c)" -eq "$c_before" ] ||
	fail "c sent $(( $(keepalives_of c) - c_before )) keepalives in 16 s"
log "r and c (public addresses) sent no keepalives"
"$MYVPN" show "$P-ta" | grep -q "rendezvous: client, behind NAT (seen at 203.0.113.1:51820), keepalive every 2 s" ||
	fail "myvpn show on a: $("$MYVPN" show "$P-ta" | grep rendezvous)"
"$MYVPN" show "$P-tc" | grep -q "rendezvous: client, public address 203.0.113.40:51820, no keepalives" ||
	fail "myvpn show on c: $("$MYVPN" show "$P-tc" | grep rendezvous)"
"$MYVPN" show "$P-tr" | grep -q "rendezvous: serve" || fail "myvpn show on r: no rendezvous line"
log "ok"
