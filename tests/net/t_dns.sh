#!/bin/bash
# --dns and DNS =: the resolver points into the tunnel while it runs, and comes back byte for
# byte on exit. The client's namespace has its own resolv.conf (/etc/netns/NAME/resolv.conf,
# which `ip netns exec` mounts over /etc/resolv.conf), so the host's is never touched.
#
#   client 192.0.2.2 ── home 192.0.2.1; tunnel 10.43.0.2 → 10.43.0.1 (the DNS server), fd43::
. "$(dirname "$0")/lib.sh"

ns_add client; ns_add home
NETNS_ETC=/etc/netns/$(ns client)
[ -d /etc/netns ] && NETNS_DIR_WAS=1 || NETNS_DIR_WAS=0
mkdir -p "$NETNS_ETC"
# ours only: the namespace's directory, and /etc/netns if this test made it (and it is empty)
trap 'rm -rf "$NETNS_ETC"; [ "$NETNS_DIR_WAS" = 1 ] || rmdir /etc/netns 2>/dev/null; cleanup' EXIT
printf '# the LAN resolver\nnameserver 192.0.2.53\noptions edns0\n' >"$NETNS_ETC/resolv.conf"
cp "$NETNS_ETC/resolv.conf" "$TMP/resolv.before"
veth client "$P-c" home "$P-h"
at client ip addr add 192.0.2.2/24 dev "$P-c"
at home ip addr add 192.0.2.1/24 dev "$P-h"
at client ip route add default via 192.0.2.1
wg_keys home; wg_keys client
TC=$P-tc TH=$P-th

bg home home "$MYVPN_NAT" -s 51820 -i "$TH" --private-key "$TMP/home.key" --peer-key "$(cat "$TMP/client.pub")" \
	--address 10.43.0.1/24 --address fd43::1/64
wait_ready home
# home's DNS "server" only records the queries it gets.
bg dns4 home socat -u UDP4-RECVFROM:53,bind=10.43.0.1,fork OPEN:"$TMP/queries",creat,append
bg dns6 home socat -u UDP6-RECVFROM:53,bind=[fd43::1],fork OPEN:"$TMP/queries",creat,append

# Bad input is one line, and leaves the file alone.
at client "$MYVPN_NAT" -a 192.0.2.1 -p 51820 -i "$TC" --private-key "$TMP/client.key" --peer-key "$(cat "$TMP/home.pub")" \
	--address 10.43.0.2/24 --dns 10.43.0.1,no_such!name >"$TMP/bad.log" 2>&1 && fail "a bad --dns was accepted"
grep -q "invalid DNS server or search domain 'no_such!name'" "$TMP/bad.log" || fail "no clear error: $(cat "$TMP/bad.log")"

client_start() {
	bg client client "$MYVPN_NAT" -a 192.0.2.1 -p 51820 -i "$TC" --private-key "$TMP/client.key" \
		--peer-key "$(cat "$TMP/home.pub")" --address 10.43.0.2/24 --address fd43::2/64 --route-all \
		--dns 10.43.0.1 --dns "fd43::1, example.test"
	CLIENT=$BG_PID
	wait_ready client
}
client_start
ping_eventually client 10 10.43.0.1 || fail "no tunnel: $(cat "$TMP/client.log")"
at client cat /etc/resolv.conf >"$TMP/resolv.during"
cmp -s "$TMP/resolv.during" "$NETNS_ETC/resolv.conf" || fail "the namespace's resolv.conf is not the one myvpn sees"
grep -qx "nameserver 10.43.0.1" "$TMP/resolv.during" && grep -qx "nameserver fd43::1" "$TMP/resolv.during" &&
	grep -qx "search example.test" "$TMP/resolv.during" && ! grep -q 192.0.2.53 "$TMP/resolv.during" ||
	fail "resolv.conf does not point into the tunnel: $(cat "$TMP/resolv.during")"

# A lookup goes through the tunnel to home, and nothing for port 53 crosses the underlay.
ip netns exec "$(ns client)" tcpdump -i "$P-c" -n -U -w "$TMP/dns.pcap" "port 53" 2>"$TMP/tcpdump.log" &
TCPDUMP=$!; PIDS+=("$TCPDUMP")
wait_until 5 grep -q "listening on" "$TMP/tcpdump.log" || fail "tcpdump did not start"
at client timeout 3 getent hosts probe4 >/dev/null 2>&1 || true
wait_until 3 grep -q probe4 "$TMP/queries" || fail "home got no query through the tunnel"
sleep 0.3; kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
[ "$(tcpdump -r "$TMP/dns.pcap" -n 2>/dev/null | wc -l)" = 0 ] || fail "DNS crossed the underlay: $(tcpdump -r "$TMP/dns.pcap" -n 2>/dev/null | head -3)"
log "the lookup reached home through the tunnel; none on the underlay"

stop_pid "$CLIENT"; [ "$STOPPED_STATUS" = 0 ] || fail "client exit status $STOPPED_STATUS"
cmp "$TMP/resolv.before" "$NETNS_ETC/resolv.conf" || fail "resolv.conf not restored: $(cat "$NETNS_ETC/resolv.conf")"

# A crash keeps the tunnel's resolv.conf; `myvpn down` gives the old one back.
client_start
kill -KILL "$CLIENT"; wait "$CLIENT" 2>/dev/null || true
grep -q "nameserver 10.43.0.1" "$NETNS_ETC/resolv.conf" || fail "the crash restored resolv.conf: the test cannot tell"
at client "$MYVPN" down "$TC" | grep -q "restored the resolv.conf" || fail "myvpn down did not restore resolv.conf"
cmp "$TMP/resolv.before" "$NETNS_ETC/resolv.conf" || fail "myvpn down restored something else: $(cat "$NETNS_ETC/resolv.conf")"

# DNS = in a -c file; after a crash, the next start still gives back the first original.
{
	printf '[Interface]\nPrivateKey = %s\nAddress = 10.43.0.2/24\nDNS = 10.43.0.1\nDNS = example.test\n\n' "$(cat "$TMP/client.key")"
	printf '[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.1:51820\nAllowedIPs = 10.43.0.1/32\n' "$(cat "$TMP/home.pub")"
} >"$TMP/$TC.conf"; chmod 600 "$TMP/$TC.conf"
bg c1 client "$MYVPN" -c "$TMP/$TC.conf"; C1=$BG_PID; wait_ready c1
kill -KILL "$C1"; wait "$C1" 2>/dev/null || true
bg c2 client "$MYVPN" -c "$TMP/$TC.conf"; C2=$BG_PID; wait_ready c2
grep -qx "nameserver 10.43.0.1" "$NETNS_ETC/resolv.conf" && grep -qx "search example.test" "$NETNS_ETC/resolv.conf" ||
	fail "DNS = was not applied: $(cat "$NETNS_ETC/resolv.conf")"
stop_pid "$C2"; [ "$STOPPED_STATUS" = 0 ] || fail "exit status $STOPPED_STATUS"
cmp "$TMP/resolv.before" "$NETNS_ETC/resolv.conf" || fail "after a crash and a restart, resolv.conf not restored: $(cat "$NETNS_ETC/resolv.conf")"
[ ! -e "/run/myvpn/$TC.resolv.conf" ] || fail "the backup copy was left behind"
log "ok"
