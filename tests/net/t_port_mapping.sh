#!/bin/bash
# Port mapping (PortMapping = yes) against a real miniupnpd on the NAT router:
#
#   client 10.0.1.2 ── router 10.0.1.1 | 198.51.100.1 ── server 198.51.100.2 (+ .3 for STUN)
#                      nftables masquerade, miniupnpd (NAT-PMP + UPnP IGD)
#
# 1. NAT-PMP: the mapping appears in miniupnpd's lease file and its nftables chain, `myvpn show`
#    says mapped at 198.51.100.1, the server initiates the tunnel to that address and port (only
#    the mapping can carry it to the client), a new listen port moves the mapping, and a clean
#    exit deletes it.
# 2. UPnP IGD (miniupnpd without NAT-PMP): mapped, then deleted at exit.
# 3. No miniupnpd: state failed, one warning line, the tunnel still works.
#
# miniupnpd refuses to map behind a reserved external address (all documentation ranges are):
# it learns that its address is "public" from a STUN server (Debian's stund, which needs two
# addresses) on the server's side, as a router behind a 1:1 NAT would.
. "$(dirname "$0")/lib.sh"
topo_nat
at server ip addr add 198.51.100.3/24 dev "$P-s"
UPNP_TABLE="$P-upnp"
IFC="${P}pc"
LEASES="$TMP/miniupnpd.leases"

bg stund server stund -h 198.51.100.2 -a 198.51.100.3

upnp_table router "$UPNP_TABLE"

# start_miniupnpd yes|no: NAT-PMP on or off (UPnP IGD always on). Sets UPNPD_PID.
start_miniupnpd() {
	cat >"$TMP/miniupnpd.conf" <<-CONF
		ext_ifname=$P-rs
		listening_ip=$P-rc
		http_port=0
		enable_natpmp=$1
		enable_upnp=yes
		secure_mode=yes
		lease_file=$LEASES
		ext_perform_stun=yes
		ext_stun_host=198.51.100.2
		ext_stun_port=3478
		upnp_table_name=$UPNP_TABLE
		upnp_nat_table_name=$UPNP_TABLE
		uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
		allow 1024-65535 10.0.1.0/24 1024-65535
		deny 0-65535 0.0.0.0/0 0-65535
	CONF
	bg "miniupnpd-$1" router /usr/sbin/miniupnpd -d -f "$TMP/miniupnpd.conf" -P "$TMP/miniupnpd.pid"
	UPNPD_PID=$BG_PID
	wait_until 10 grep -q "Port forwarding is now enabled" "$TMP/miniupnpd-$1.log" ||
		fail "miniupnpd did not enable port forwarding: $(cat "$TMP/miniupnpd-$1.log")"
	wait_until 5 grep -q "HTTP listening on port" "$TMP/miniupnpd-$1.log" ||
		fail "miniupnpd did not start: $(cat "$TMP/miniupnpd-$1.log")"
}

wg_keys client; wg_keys server
# client_conf [ENDPOINT]: the client's file, port mapping on, the server as its peer
client_conf() {
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.9.0.2/24\nPortMapping = yes\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.0.1/32\n%s' \
		"$(cat "$TMP/client.key")" "$(cat "$TMP/server.pub")" "${1:+Endpoint = $1
}" >"$TMP/$IFC.conf"
	chmod 600 "$TMP/$IFC.conf"
}
# start_client NAME [VAR=VALUE...]; CLIENT_ARGS: more options
CLIENT_ARGS=()
start_client() {
	local name=$1; shift
	bg "client-$name" client env "$@" "$MYVPN" -v -c "$TMP/$IFC.conf" "${CLIENT_ARGS[@]}"
	CLIENT_PID=$BG_PID
	wait_ready "client-$name"
}
show_client() { "$MYVPN" show "$IFC"; }
mapped_at() { show_client | grep -q "port mapping: 198.51.100.1:[0-9]* ($1"; }
no_dnat() { ! at router nft list chain inet "$UPNP_TABLE" prerouting_miniupnpd | grep -q dnat; }
no_leases() { [ ! -s "$LEASES" ]; }

# ---- 1. NAT-PMP ----
start_miniupnpd yes
client_conf
start_client natpmp
wait_until 10 mapped_at natpmp ||
	fail "no NAT-PMP mapping: $(show_client); $(cat "$TMP/client-natpmp.log")"
ext=$(show_client | sed -n 's/.*port mapping: 198.51.100.1:\([0-9]*\) .*/\1/p')
log "mapped by NAT-PMP at 198.51.100.1:$ext"
show_client | grep -q "port mapping: 198.51.100.1:$ext (natpmp, TCP port [0-9]*), 59 minutes, 5[0-9] seconds left" ||
	fail "show: $(show_client)"
grep -q "^UDP:$ext:10.0.1.2:51820:" "$LEASES" || fail "not in miniupnpd's leases: $(cat "$LEASES")"
grep -q "^TCP:[0-9]*:10.0.1.2:51820:" "$LEASES" || fail "TCP not mapped: $(cat "$LEASES")"
at router nft list chain inet "$UPNP_TABLE" prerouting_miniupnpd |
	grep -q "th dport $ext dnat ip to 10.0.1.2:51820" || fail "no DNAT rule from miniupnpd"
"$MYVPN" show "$IFC" --json | grep -q '"state": "mapped"' || fail "json: $("$MYVPN" show "$IFC" --json)"
"$MYVPN" show "$IFC" --prometheus | grep -qx "myvpn_port_mapping_info{device=\"$IFC\",state=\"mapped\",protocol=\"natpmp\",external=\"198.51.100.1:$ext\"} 1" ||
	fail "metrics: $("$MYVPN" show "$IFC" --prometheus | grep port_mapping)"
# the mapping is in myvpn's stats=1 only: wg's own get=1 is unchanged
wg show "$IFC" >/dev/null || fail "wg show"
wg showconf "$IFC" | grep -q "^ListenPort = 51820$" || fail "wg showconf: $(wg showconf "$IFC")"

# The server knows the client only by its mapped address: it speaks first.
WG_PORT=51820 wg_conf server client 10.9.0.1/24 10.9.0.2/32 "198.51.100.1:$ext"
bg server server "$MYVPN" -c "$TMP/server.conf" -i "${P}ps"
wait_ready server
ping_eventually server 5 10.9.0.2 || fail "the server cannot reach the client at its mapped endpoint"
show_client | grep -q "endpoint: 198.51.100.2:51820" || fail "the client did not hear from the server: $(show_client)"

# A new listen port moves the mapping.
at client wg set "$IFC" listen-port 51821
wait_until 10 grep -q "^UDP:[0-9]*:10.0.1.2:51821:" "$LEASES" ||
	fail "the new port was not mapped: $(cat "$LEASES"); $(cat "$TMP/client-natpmp.log")"
grep -q "^UDP:[0-9]*:10.0.1.2:51820:" "$LEASES" && fail "the old port stayed mapped: $(cat "$LEASES")"
wait_until 5 mapped_at natpmp || fail "show after the new port: $(show_client)"

stop_pid "$CLIENT_PID"
[ "$STOPPED_STATUS" = 0 ] || fail "client exit status $STOPPED_STATUS"
wait_until 3 no_leases || fail "mapping left in miniupnpd's leases after exit: $(cat "$LEASES")"
no_dnat || fail "DNAT rule left after exit"
grep -q "port mapping: deleted 198.51.100.1:[0-9]* -> UDP port 51821 at the router (NAT-PMP)" \
	"$TMP/client-natpmp.log" || fail "no deletion logged: $(cat "$TMP/client-natpmp.log")"
stop_pid "$UPNPD_PID"

# ---- 2. UPnP IGD, with a lifetime of 4 s: renewed before it ends; as nobody, sandboxed ----
start_miniupnpd no
CLIENT_ARGS=(--user nobody)
start_client upnp MYVPN_TEST_PORTMAP_LIFETIME=4
CLIENT_ARGS=()
wait_until 10 mapped_at upnp || fail "no UPnP mapping: $(show_client); $(cat "$TMP/client-upnp.log")"
first=$(grep "^UDP:[0-9]*:10.0.1.2:51820:.*:myvpn $IFC$" "$LEASES") ||
	fail "not in miniupnpd's leases: $(cat "$LEASES")"
log "mapped by UPnP IGD: $(show_client | grep 'port mapping')"
lease_renewed() { grep "^UDP:" "$LEASES" | grep -vqx "$first"; }
wait_until 6 lease_renewed || fail "not renewed within the lifetime: $(cat "$LEASES")"
sleep 2 # past the first lease's end (it began about 3 s ago and lasted 4): still there
grep -q "^UDP:[0-9]*:10.0.1.2:51820:" "$LEASES" || fail "the mapping expired: $(cat "$LEASES")"
grep -q "port mapping: renewed UDP port 51820" "$TMP/client-upnp.log" || fail "no renewal logged"
grep -q "running as user nobody" "$TMP/client-upnp.log" || fail "not as nobody: $(cat "$TMP/client-upnp.log")"
mapped_at upnp || fail "show after renewals: $(show_client)"
stop_pid "$CLIENT_PID"
[ "$STOPPED_STATUS" = 0 ] || fail "client exit status $STOPPED_STATUS"
wait_until 3 no_leases || fail "UPnP mapping left after exit: $(cat "$LEASES")"
no_dnat || fail "DNAT rule left after exit (UPnP)"
stop_pid "$UPNPD_PID"

# ---- 3. a router without NAT-PMP or UPnP ----
client_conf 198.51.100.2:51820
start_client none
wait_until 10 eval 'show_client | grep -q "port mapping: failed (NAT-PMP: .*; UPnP: .*)"' ||
	fail "not failed: $(show_client)"
[ "$(grep -c "warning: port mapping" "$TMP/client-none.log")" = 1 ] ||
	fail "want one warning line: $(cat "$TMP/client-none.log")"
ping_eventually client 5 10.9.0.1 || fail "the tunnel does not work without a mapping"
log "ok"
