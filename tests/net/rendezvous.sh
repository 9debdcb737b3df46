# Helpers for the rendezvous tests (sourced after lib.sh): the "two NATs" topology and the
# three nodes' configurations.
#
#   a 10.1.0.2 ── natA (10.1.0.1 | 203.0.113.1) ──┐
#                                                 inet (a bridge) ── r 203.0.113.10
#   b 10.2.0.2 ── natB (10.2.0.1 | 203.0.113.2) ──┘
#
# natA and natB masquerade (plain: port-restricted NAT; NAT_B=fully-random: symmetric NAT).
# No route leads from the internet side into 10.1.0.0/24 or 10.2.0.0/24. Tunnel addresses:
# r 10.99.0.1, a 10.99.0.2, b 10.99.0.3.

topo_two_nats() {
	local nat_b=${1:-}
	ns_add inet; ns_add r; ns_add na; ns_add nb; ns_add a; ns_add b
	at inet ip link add br0 type bridge
	at inet ip link set br0 up
	veth inet "$P-ir" r "$P-r"
	veth inet "$P-ia" na "$P-nai"
	veth inet "$P-ib" nb "$P-nbi"
	for i in ir ia ib; do at inet ip link set "$P-$i" master br0; done
	veth a "$P-a" na "$P-naa"
	veth b "$P-b" nb "$P-nbb"
	at r ip addr add 203.0.113.10/24 dev "$P-r"
	at na ip addr add 203.0.113.1/24 dev "$P-nai"
	at nb ip addr add 203.0.113.2/24 dev "$P-nbi"
	at na ip addr add 10.1.0.1/24 dev "$P-naa"
	at nb ip addr add 10.2.0.1/24 dev "$P-nbb"
	at a ip addr add 10.1.0.2/24 dev "$P-a"
	at b ip addr add 10.2.0.2/24 dev "$P-b"
	at a ip route add default via 10.1.0.1
	at b ip route add default via 10.2.0.1
	at na sysctl -qw net.ipv4.ip_forward=1
	at nb sysctl -qw net.ipv4.ip_forward=1
	nat_rule na "$P-nai" ""
	nat_rule nb "$P-nbi" "$nat_b"
}

# nat_rule NS OUT_IF [fully-random | to ADDR]: masquerade (or snat to ADDR), and a home
# router's firewall: nothing new
# from the internet to the router itself. Without that drop, Linux conntrack records the other
# side's first (unsolicited) punch as a flow to the router, and when our peer then sends to
# that address the NAT finds the port taken and maps it to another one: plain masquerade turns
# symmetric for that pair, and only the relay works.
nat_rule() {
	local action="masquerade $3"
	[ "${3#to }" = "$3" ] || action="snat $3"
	at "$1" nft -f - <<-NFT
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat;
				oifname "$2" $action
			}
		}
		table ip filter {
			chain input {
				type filter hook input priority filter;
				iifname "$2" ct state new drop
			}
		}
	NFT
}

# rendezvous_confs: keys and -c files for r (serve), a and b (clients of r, each other's peer
# without an Endpoint).
rendezvous_confs() {
	local n
	for n in r a b; do wg_keys "$n"; done
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.99.0.1/24\nRendezvous = serve\n' "$(cat "$TMP/r.key")"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.2/32\n' "$(cat "$TMP/a.pub")"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.3/32\n' "$(cat "$TMP/b.pub")"
	} >"$TMP/r.conf"
	client_conf a 10.99.0.2 b 10.99.0.3
	client_conf b 10.99.0.3 a 10.99.0.2
	chmod 600 "$TMP"/*.conf
}

# client_conf NAME ADDR OTHER OTHER_ADDR
client_conf() {
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = %s/24\nRendezvous = %s\n' \
			"$(cat "$TMP/$1.key")" "$2" "$(cat "$TMP/r.pub")"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.1/32\nEndpoint = 203.0.113.10:51820\nPersistentKeepalive = 5\n' "$(cat "$TMP/r.pub")"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\nPersistentKeepalive = 10\n' "$(cat "$TMP/$3.pub")" "$4"
	} >"$TMP/$1.conf"
}

start_rendezvous_nodes() {
	bg r r "$MYVPN" -c "$TMP/r.conf" -i "$P-tr" -v
	R_PID=$BG_PID
	bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta" -v
	A_PID=$BG_PID
	bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb" -v
	B_PID=$BG_PID
	wait_ready r; wait_ready a; wait_ready b
}

# stat_of PID LOGNAME NAME: a counter of the "myvpn: stats:" line SIGUSR1 prints.
stat_of() {
	local before
	before=$(grep -c "myvpn: stats:" "$TMP/$2.log" || true)
	kill -USR1 "$1"
	wait_until 3 _stats_lines_above "$TMP/$2.log" "$before" || return 1
	grep "myvpn: stats:" "$TMP/$2.log" | tail -1 | sed -n "s/.* $3=\([0-9]*\).*/\1/p"
}
_stats_lines_above() { [ "$(grep -c "myvpn: stats:" "$1" || true)" -gt "$2" ]; }

# transfer_checks_out MEGABYTES: a file from a to b over the tunnel (socat, TCP), by sha256.
transfer_checks_out() {
	head -c "$(( $1 << 20 ))" /dev/urandom >"$TMP/payload"
	bg recv b socat -u TCP-LISTEN:5001,bind=10.99.0.3,reuseaddr "CREATE:$TMP/received"
	local recv=$BG_PID
	sleep 0.3
	at a timeout 60 socat -u "FILE:$TMP/payload" TCP:10.99.0.3:5001 || return 1
	wait "$recv" || true
	[ "$(sha256sum <"$TMP/payload")" = "$(sha256sum <"$TMP/received")" ]
}
