#!/bin/bash
# --gateway and --route-all refuse bad input with one error line, a non-zero exit and nothing
# half installed (nft ruleset, rules, routes, forwarding, interfaces, UAPI socket): an uplink
# that is missing (no name and no default route) or wrong (a -c file's Gateway =), and a
# kernel without nftables. The last is tools/no_nfnetlink: socket(AF_NETLINK, NETLINK_NETFILTER)
# fails with EPROTONOSUPPORT, as on a kernel built without nfnetlink (libnftables would exit
# the process from inside).
#
#   home 192.0.2.1 ── up 192.0.2.2 (home has no default route)
. "$(dirname "$0")/lib.sh"

NO_NFT=$ROOT/build/tools/no_nfnetlink
make -s -C "$ROOT" build/tools/no_nfnetlink >"$TMP/make.log" 2>&1 || fail "cannot build no_nfnetlink: $(cat "$TMP/make.log")"
ns_add home; ns_add up
veth home "$P-hu" up "$P-u"
at home ip addr add 192.0.2.1/24 dev "$P-hu"
at up ip addr add 192.0.2.2/24 dev "$P-u"
at home nft add table inet "$P-theirs" # someone else's table, which must stay
wg_keys home; wg_keys peer
TH=$P-th

snapshot() {
	at home nft list ruleset
	at home ip rule; at home ip -6 rule
	at home ip route show table all; at home ip -6 route show table all
	at home sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
	at home ip -o link show | cut -d' ' -f2
	ls /var/run/wireguard/ 2>/dev/null | grep "^$P-" || true
}
link_local() { at home ip -6 addr show dev "$P-hu" scope link | grep -q inet6 && [ -z "$(at home ip -6 addr show tentative)" ]; }
wait_until 5 link_local || fail "no link-local address on $P-hu"
snapshot >"$TMP/before"

# expect_error "message" cmd...: non-zero exit, one error line with message, nothing changed.
expect_error() {
	local want=$1 status=0; shift
	at home "$@" >"$TMP/out" 2>&1 || status=$?
	[ "$status" -ne 0 ] || fail "'$*' exited 0"
	[ "$status" -lt 128 ] || fail "'$*' died of a signal ($status): $(cat "$TMP/out")"
	[ "$(grep -c "error" "$TMP/out")" = 1 ] || fail "'$*': not one error line: $(cat "$TMP/out")"
	grep -q "^myvpn: error: .*$want" "$TMP/out" || fail "'$*': expected '$want', got: $(cat "$TMP/out")"
	snapshot | diff "$TMP/before" - >&2 || fail "'$*' left something behind"
}
server() { echo "$MYVPN_NAT" -s 51820 -i "$TH" --private-key "$TMP/home.key" --peer-key "$(cat "$TMP/peer.pub")" --address 10.10.0.1/24; }

expect_error "gateway: no default route to take the uplink from; name it with --gateway=IFNAME" $(server) --gateway
wg_conf home peer 10.10.0.1/24 10.10.0.2/32
sed -i 's/^Address = .*/&\nGateway = nosuch0/' "$TMP/home.conf"
expect_error "gateway: no uplink interface 'nosuch0'" "$MYVPN" -c "$TMP/home.conf" -i "$TH"
log "a missing or wrong uplink: one error line, nothing left"

# The kernel without nftables: the tool does refuse nft itself (the test can tell).
at home "$NO_NFT" nft list tables >/dev/null 2>&1 && fail "nft still works under no_nfnetlink: the test cannot tell"
expect_error "nftables unavailable: no netfilter netlink socket: Protocol not supported" "$NO_NFT" $(server) --gateway="$P-hu"
expect_error "nftables unavailable: no netfilter netlink socket: Protocol not supported" "$NO_NFT" \
	"$MYVPN_NAT" -a 192.0.2.2 -p 51820 -i "$TH" --private-key "$TMP/peer.key" --peer-key "$(cat "$TMP/home.pub")" \
	--address 10.10.0.2/24 --route-all
log "no nftables support (gateway, kill switch): one error line, nothing left"
log "ok"
