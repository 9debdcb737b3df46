#!/bin/bash
# Home as the exit, one flag per side: --gateway on home, --route-all (and --dns) on the client.
#
#   client 192.0.2.2 ── home (192.0.2.1 | 203.0.113.1, 2001:db8:1::1) ── www 203.0.113.2, 2001:db8:1::2
#                                                                         resolver 203.0.113.53, 2001:db8:1::53
#
# The client's own default route points at home's underlay address, so anything that escapes
# the tunnel leaves on the client's uplink in the clear, where tcpdump sees it. www has no
# route back to the tunnel's prefixes: only home's masquerade reaches it, and it answers HTTP
# with the caller's address. The client's namespace has its own resolv.conf (/etc/netns/NAME,
# which `ip netns exec` mounts over /etc/resolv.conf): the host's is never touched.
. "$(dirname "$0")/lib.sh"

ns_add client; ns_add home; ns_add www
NETNS_ETC=/etc/netns/$(ns client)
[ -d /etc/netns ] && NETNS_DIR_WAS=1 || NETNS_DIR_WAS=0
mkdir -p "$NETNS_ETC"
trap 'rm -rf "$NETNS_ETC"; [ "$NETNS_DIR_WAS" = 1 ] || rmdir /etc/netns 2>/dev/null; cleanup' EXIT
printf '# the LAN resolver\nnameserver 192.0.2.53\n' >"$NETNS_ETC/resolv.conf"
veth client "$P-c" home "$P-hc"
veth home "$P-hw" www "$P-w"
at client ip addr add 192.0.2.2/24 dev "$P-c"
at client ip addr add 2001:db8:2::2/64 dev "$P-c" nodad
at client ip route add default via 192.0.2.1
at client ip -6 route add default via 2001:db8:2::1
at home ip addr add 192.0.2.1/24 dev "$P-hc"
at home ip addr add 2001:db8:2::1/64 dev "$P-hc" nodad
at home ip addr add 203.0.113.1/24 dev "$P-hw"
at home ip addr add 2001:db8:1::1/64 dev "$P-hw" nodad
at home ip route add default via 203.0.113.2
at home ip -6 route add default via 2001:db8:1::2
at www ip addr add 203.0.113.2/24 dev "$P-w"
at www ip addr add 2001:db8:1::2/64 dev "$P-w" nodad
at www ip addr add 203.0.113.53/24 dev "$P-w"
at www ip addr add 2001:db8:1::53/64 dev "$P-w" nodad
# www counts what reaches it from anyone but home (a spoofed source, a leak through home), the
# DNS queries home forwards, and 333-byte pings (the spoofing check's marker).
at www nft -f - <<'NFT'
table inet watch {
	counter others {}
	counter dns {}
	counter marked {}
	chain input {
		type filter hook input priority filter;
		ip saddr != 203.0.113.1 counter name others
		ip6 saddr != 2001:db8:1::1 ip6 saddr != fe80::/10 counter name others
		udp dport 53 counter name dns
		icmp type echo-request ip length 361 counter name marked
	}
}
NFT
counted() { at www nft list counter inet watch "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
bg www4 www socat TCP4-LISTEN:80,fork,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR'
bg www6 www socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=1 SYSTEM:'echo $SOCAT_PEERADDR'

# The state a clean exit must give back, byte for byte.
snapshot() {
	local n=$1
	at "$n" nft list ruleset
	at "$n" ip rule; at "$n" ip -6 rule
	at "$n" ip route show table all; at "$n" ip -6 route show table all
	at "$n" sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
	at "$n" cat /etc/resolv.conf
}
no_tentative() { [ -z "$(at "$1" ip -6 addr show tentative)" ]; } # link-local DAD still running
wait_until 5 no_tentative client; wait_until 5 no_tentative home
snapshot client >"$TMP/client.before"; snapshot home >"$TMP/home.before"

wg_keys home; wg_keys client; wg_keys client2
TC=$P-tc TH=$P-th
home_oneliner() {
	bg home home "$MYVPN_NAT" -s 51820 -i "$TH" --private-key "$TMP/home.key" --peer-key "$(cat "$TMP/client.pub")" \
		--address 10.10.0.1/24 --address fd10::1/64 --gateway "$@"
	HOME_PID=$BG_PID
}
client_start() {
	bg client client "$MYVPN_NAT" -a 192.0.2.1 -p 51820 -i "$TC" --private-key "$TMP/client.key" \
		--peer-key "$(cat "$TMP/home.pub")" --address 10.10.0.2/24 --address fd10::2/64 --route-all \
		--dns 203.0.113.53,2001:db8:1::53
	CLIENT_PID=$BG_PID
}

# Bad input: a wrong uplink is one line, non-zero, and leaves nothing behind.
if at home "$MYVPN_NAT" -s 51821 -i "$TH" --private-key "$TMP/home.key" --peer-key "$(cat "$TMP/client.pub")" \
	--address 10.10.0.1/24 --gateway=nosuch0 >"$TMP/bad.log" 2>&1; then fail "a missing uplink was accepted"; fi
grep -q "no uplink interface 'nosuch0'" "$TMP/bad.log" || fail "no clear error for a missing uplink: $(cat "$TMP/bad.log")"
[ "$(grep -c error "$TMP/bad.log")" = 1 ] || fail "more than one error line: $(cat "$TMP/bad.log")"
snapshot home | diff "$TMP/home.before" - >&2 || fail "a failed start left something behind"

home_oneliner; wait_ready home
client_start; wait_ready client
ping_eventually client 5 10.10.0.1 || fail "tunnel did not come up: $(cat "$TMP/client.log")"

# leak_watch_start / leak_count: every packet leaving on the client's uplink that is not the tunnel's
# (nor ARP and IPv6 neighbour discovery, which carry no data).
leak_watch_start() {
	bg tcpdump client tcpdump -i "$P-c" -Q out -n -U -w "$TMP/leak.pcap" 'not (udp port 51820) and not arp and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 136)'
	LEAK_PID=$BG_PID
	wait_until 5 grep -q "listening on" "$TMP/tcpdump.log" || fail "tcpdump did not start"
}
leak_count() { sleep 0.5; kill -INT "$LEAK_PID"; wait "$LEAK_PID" 2>/dev/null || true; tcpdump -r "$TMP/leak.pcap" -n 2>/dev/null | tee "$TMP/leaks.txt" | wc -l; }
fetch() { at client timeout 3 socat -T2 - "$1" </dev/null 2>/dev/null; }
# socat writes an IPv6 peer as [0000:0db8:...]: the short form, for comparison.
fetch6() { python3 -c 'import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1].strip("[]")))' "$(fetch "$1")" 2>/dev/null; }

lookup() { at client timeout 2 getent hosts "$1" >/dev/null 2>&1 || true; } # www answers no DNS

leak_watch_start
[ "$(fetch TCP4:203.0.113.2:80)" = 203.0.113.1 ] || fail "www did not see home's IPv4 address"
[ "$(fetch6 'TCP6:[2001:db8:1::2]:80')" = 2001:db8:1::1 ] || fail "www did not see home's IPv6 address"
# DNS: the resolver is www's, and the queries reach it from home (through the tunnel).
at client grep -qx "nameserver 203.0.113.53" /etc/resolv.conf && ! at client grep -q 192.0.2.53 /etc/resolv.conf ||
	fail "--dns did not set the client's resolver: $(at client cat /etc/resolv.conf)"
lookup probe.example
[ "$(counted dns)" -gt 0 ] || fail "no DNS query reached www's resolver through home"
# Spoofing: a source outside the tunnel's prefixes is dropped by home, never forwarded.
at client ip addr add 10.99.0.5/32 dev lo
at client ping -c 2 -i 0.2 -W 1 -I 10.99.0.5 203.0.113.2 >/dev/null 2>&1 || true
at home nft list table inet "myvpn-$TH" | grep -A0 spoofed | grep -q "packets [1-9]" ||
	fail "home did not drop the spoofed packets: $(at home nft list table inet "myvpn-$TH")"
at www nft list counter inet watch others | grep -q "packets 0 " || fail "www saw a source other than home: $(at www nft list counter inet watch others)"
[ "$(leak_count)" = 0 ] || fail "packets left the client outside the tunnel: $(cat "$TMP/leaks.txt")"
log "www sees home's IPv4 and IPv6 addresses and the DNS queries; nothing leaves outside the tunnel; spoofing dropped"

# Kill switch: home dies during a transfer (a ping every 0.1 s, lookups, IPv6); for 10 s
# nothing leaves the client but the tunnel's own handshakes.
bg pingload client ping -i 0.1 -W 1 203.0.113.2 # bg: PING_PID is ping itself, which kill stops
PING_PID=$BG_PID
leak_watch_start
kill -KILL "$HOME_PID"; wait "$HOME_PID" 2>/dev/null || true
dead_until=$(( $(date +%s%N) / 1000000 + 10000 ))
lookup dead.example
at client ping -6 -c 3 -i 0.2 -W 1 2001:db8:1::2 >/dev/null 2>&1 || true
left=$(( dead_until - $(date +%s%N) / 1000000 ))
[ "$left" -le 0 ] || sleep "$(( left / 1000 )).$(printf %03d $(( left % 1000 )))"
[ "$(leak_count)" = 0 ] || fail "with home dead, packets left the client outside the tunnel: $(cat "$TMP/leaks.txt")"

# A crashed home leaves its table (and forwarding on); the next start, here from a -c file
# with a second client, replaces it: one table, not two. The client's traffic resumes.
at home nft list tables | grep -q "myvpn-$TH" || fail "kill -9 removed the table: the test cannot tell"
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.10.0.1/24, fd10::1/64\nGateway = %s\n\n' \
		"$(cat "$TMP/home.key")" "$P-hw"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.10.0.2/32, fd10::2/128\n\n' "$(cat "$TMP/client.pub")"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.10.0.3/32, fd10::3/128\n' "$(cat "$TMP/client2.pub")"
} >"$TMP/$TH.conf"; chmod 600 "$TMP/$TH.conf"
bg home2 home "$MYVPN" -c "$TMP/$TH.conf"; HOME_PID=$BG_PID; wait_ready home2
[ "$(at home nft list tables | grep -c "myvpn-")" = 1 ] || fail "a restarted home left two tables: $(at home nft list tables)"
ping_eventually client 10 203.0.113.2 || fail "traffic did not resume with home back: $(tail -5 "$TMP/client.log")"
[ "$(fetch TCP4:203.0.113.2:80)" = 203.0.113.1 ] || fail "www did not see home's address with home back"
log "kill switch held 10 s with home dead; a restarted home replaced its stale table; traffic resumed"

# Spoofing inside the tunnel's prefix: the client's packet with the second client's source is
# dropped by home (cryptokey routing), not forwarded; the same ping from its own address is.
at client ping -c 1 -W 2 -s 333 203.0.113.2 >/dev/null || fail "a marked ping from the client's own address was lost"
[ "$(counted marked)" = 1 ] || fail "www counted $(counted marked) marked pings, not 1: the test cannot tell"
at client ip addr add 10.10.0.3/32 dev lo
at client ping -c 3 -i 0.2 -W 1 -s 333 -I 10.10.0.3 203.0.113.2 >/dev/null 2>&1 || true
at client ip addr del 10.10.0.3/32 dev lo
drops=$(myvpn_drops "$HOME_PID" home2) || fail "no drops line from home"
[ "$(drop_count "$drops" source_not_allowed)" -ge 3 ] || fail "home did not count the spoofed packets: $drops"
[ "$(counted marked)" = 1 ] || fail "home forwarded packets with another client's source address"
log "a packet with another client's source was dropped, not forwarded"

# The client crashes: its kill switch stays, and nothing leaks until `myvpn down`.
kill -KILL "$CLIENT_PID"; wait "$CLIENT_PID" 2>/dev/null || true
leak_watch_start
sleep 1
at client socat -T1 - UDP4:203.0.113.53:53 <<<"dns?" >/dev/null 2>&1 || true
[ "$(leak_count)" = 0 ] || fail "with the client dead, packets leaked: $(cat "$TMP/leaks.txt")"
at client "$MYVPN" down "$TC" | grep -q "kill switch" || fail "myvpn down removed no kill switch"
leak_watch_start
sleep 1
[ "$(leak_count)" != 0 ] || fail "no leak even without the kill switch: the test cannot tell"
kill "$PING_PID" 2>/dev/null || true; wait "$PING_PID" 2>/dev/null || true
at client ip addr del 10.99.0.5/32 dev lo
log "a crashed client kept its kill switch; myvpn down removed it"

# Clean exit on both sides gives everything back.
client_start; wait_ready client
ping_eventually client 10 10.10.0.1 || fail "tunnel did not come back: $(cat "$TMP/client.log")"
[ "$(fetch TCP4:203.0.113.2:80)" = 203.0.113.1 ] || fail "www did not see home's address after the restart"
stop_pid "$CLIENT_PID"; [ "$STOPPED_STATUS" = 0 ] || fail "client exit status $STOPPED_STATUS"
stop_pid "$HOME_PID"; [ "$STOPPED_STATUS" = 0 ] || fail "home exit status $STOPPED_STATUS"
snapshot client | diff "$TMP/client.before" - >&2 || fail "the client's rules, routes or sysctls changed"
snapshot home | diff "$TMP/home.before" - >&2 || fail "home's rules, routes or sysctls changed"
log "ok"
