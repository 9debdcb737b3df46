# Helpers for the netns tests: namespaces, topologies, background processes, cleanup.
# Each test script sources this file, builds a topology, and asserts. Everything a test creates
# carries a per-run prefix and is removed on exit, pass or fail; only PIDs started here are killed.
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MYVPN=${MYVPN:-$ROOT/myvpn}
MYVPN_NAT=${MYVPN_NAT:-$ROOT/myvpn_nat}
P=mv$$                     # prefix for namespaces and interfaces (IFNAMSIZ is 16)
TMP=$(mktemp -d /tmp/myvpn-test.XXXXXX)
NAMESPACES=()
NETNS_ETC=()               # /etc/netns/NS directories a test made (ns_etc)
PIDS=()

log() { printf '  [%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# KEEP_LOGS=DIR: every log of $TMP is copied there at exit as TEST-NAME.log, once the
# processes have stopped (so that a sanitizer's report at exit is complete).
keep_logs() {
	local f test
	[ -n "${KEEP_LOGS:-}" ] || return 0
	test=$(basename "$0" .sh)
	mkdir -p "$KEEP_LOGS"
	for f in "$TMP"/*.log; do
		[ -f "$f" ] && cp "$f" "$KEEP_LOGS/${test#t_}-$(basename "$f")"
	done
	return 0
}

cleanup() {
	local pid ns
	for pid in "${PIDS[@]:-}"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]:-}"; do
		[ -n "$pid" ] || continue
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	keep_logs
	for ns in "${NAMESPACES[@]:-}"; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
	done
	for ns in "${NETNS_ETC[@]:-}"; do
		[ -n "$ns" ] && rm -rf "/etc/netns/$ns"
	done
	[ -z "${NETNS_ETC_MADE:-}" ] || rmdir /etc/netns 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns() { echo "$P-$1"; }
# Runs a command inside a test namespace: at NAME cmd...
at() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

ns_add() {
	ip netns add "$(ns "$1")"
	NAMESPACES+=("$(ns "$1")")
	at "$1" ip link set lo up
	at "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 2>/dev/null || true
}

# ns_etc NAME FILE LINE...: /etc/FILE (hosts, resolv.conf, nsswitch.conf) as programs started
# in NAME (at, bg) see it: ip netns exec binds /etc/netns/NS/FILE over it. Called again, it
# rewrites the same file in place, so that running programs see the new lines at their next
# lookup. Files made for a namespace are bound from its next command on.
ns_etc() {
	local n=$1 file=$2 dir; shift 2
	dir=/etc/netns/$(ns "$n")
	[ -d /etc/netns ] || NETNS_ETC_MADE=1
	if [ ! -d "$dir" ]; then
		mkdir -p "$dir"
		NETNS_ETC+=("$(ns "$n")")
	fi
	printf '%s\n' "$@" >"$dir/$file"
}

# veth A_NS A_IF B_NS B_IF: a cable between two namespaces.
veth() {
	ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
	at "$1" ip link set "$2" up
	at "$3" ip link set "$4" up
}

# Starts a command at a namespace at the background; its output goes to $TMP/LOGNAME.log.
# Sets BG_PID. Usage: bg LOGNAME NS cmd...
bg() {
	local name=$1 n=$2; shift 2
	ip netns exec "$(ns "$n")" "$@" >"$TMP/$name.log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_pid PID: SIGTERM and wait; the exit status is left in STOPPED_STATUS.
stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	STOPPED_STATUS=0
	wait "$pid" 2>/dev/null || STOPPED_STATUS=$?
}

# wait_until SECONDS cmd...: polls every 0.1 s.
wait_until() {
	local limit=$(( $1 * 10 )); shift
	for _ in $(seq "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

link_exists() { at "$1" ip link show "$2" >/dev/null 2>&1; }
ping_ok() { local n=$1; shift; at "$n" ping -c 1 -W 1 "$@" >/dev/null 2>&1; }
# Succeeds once a ping gets through within SECONDS (the tunnel may need a moment).
ping_eventually() { local n=$1 t=$2; shift 2; wait_until "$t" ping_ok "$n" "$@"; }

# direct: a ── veth ── b, underlay 192.0.2.1/24 ↔ 192.0.2.2/24 and 2001:db8::1/64 ↔ 2001:db8::2/64
topo_direct() {
	ns_add a; ns_add b
	veth a "$P-a" b "$P-b"
	at a ip addr add 192.0.2.1/24 dev "$P-a"
	at b ip addr add 192.0.2.2/24 dev "$P-b"
	at a ip addr add 2001:db8::1/64 dev "$P-a" nodad
	at b ip addr add 2001:db8::2/64 dev "$P-b" nodad
}

# nat: client 10.0.1.2 ── router (10.0.1.1 | 198.51.100.1, nftables masquerade) ── server
# 198.51.100.2. The server has no route back to 10.0.1.0/24, so only NAT makes replies work.
topo_nat() {
	ns_add client; ns_add router; ns_add server
	veth client "$P-c" router "$P-rc"
	veth router "$P-rs" server "$P-s"
	at client ip addr add 10.0.1.2/24 dev "$P-c"
	at client ip route add default via 10.0.1.1
	at router ip addr add 10.0.1.1/24 dev "$P-rc"
	at router ip addr add 198.51.100.1/24 dev "$P-rs"
	at server ip addr add 198.51.100.2/24 dev "$P-s"
	at router sysctl -qw net.ipv4.ip_forward=1
	at router nft -f - <<-NFT
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat;
				oifname "$P-rs" masquerade
			}
		}
	NFT
}

# Shortens the router's UDP conntrack timeouts so that an idle NAT mapping expires quickly.
nat_udp_timeout() {
	at router sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$1"
	at router sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream="$1"
}

# UDP blocked on the nat topology's router (table blockudp, its drops counted in udp_dropped).
block_udp() {
	at router nft -f - <<-NFT
		table inet blockudp {
			counter udp_dropped { }
			chain forward {
				type filter hook forward priority 0;
				meta l4proto udp counter name udp_dropped drop
			}
		}
	NFT
}
unblock_udp() { at router nft delete table inet blockudp; }

# upnp_table NS TABLE: the chains miniupnpd's nftables back end expects (what Debian's
# nft_init.sh creates), in a table of the test's own in namespace NS.
upnp_table() {
	at "$1" nft -f - <<-NFT
		table inet $2 {
			chain forward {
				type filter hook forward priority filter; policy accept;
				jump miniupnpd
			}
			chain miniupnpd {
			}
			chain prerouting {
				type nat hook prerouting priority dstnat; policy accept;
				jump prerouting_miniupnpd
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				jump postrouting_miniupnpd
			}
			chain prerouting_miniupnpd {
			}
			chain postrouting_miniupnpd {
			}
		}
	NFT
}

# gateway: client 192.0.2.2 ── server (192.0.2.1 | 203.0.113.1) ── internet 203.0.113.2
# "internet" has no route to the client's networks: only the server's masquerade reaches it.
topo_gateway() {
	ns_add client; ns_add server; ns_add internet
	veth client "$P-c" server "$P-sc"
	veth server "$P-si" internet "$P-i"
	at client ip addr add 192.0.2.2/24 dev "$P-c"
	at server ip addr add 192.0.2.1/24 dev "$P-sc"
	at server ip addr add 203.0.113.1/24 dev "$P-si"
	at internet ip addr add 203.0.113.2/24 dev "$P-i"
	at server sysctl -qw net.ipv4.ip_forward=1
}

# Waits until a myvpn log says it is running, or fails the test with the log.
wait_ready() {
	local name=$1
	wait_until 10 grep -q "listening on UDP port" "$TMP/$name.log" ||
		fail "$name did not start: $(cat "$TMP/$name.log")"
}

# Bytes the receiver got, from an iperf3 -J report.
iperf_received_bytes() {
	sed -n '/"sum_received"/,/}/p' "$1" | grep -m1 '"bytes"' | tr -dc 0-9
}

# wg_keys NAME: $TMP/NAME.key and $TMP/NAME.pub, made with myvpn (checked against wg below).
wg_keys() {
	(umask 077; "$MYVPN" genkey >"$TMP/$1.key")
	"$MYVPN" pubkey <"$TMP/$1.key" >"$TMP/$1.pub"
	[ "$(wg pubkey <"$TMP/$1.key")" = "$(cat "$TMP/$1.pub")" ] || fail "myvpn pubkey disagrees with wg pubkey"
}

# start_wireguard_go NS IFNAME ADDR4 ADDR6 PORT PEER_PUB PEER_ENDPOINT ALLOWED [KEEPALIVE]
# Runs Debian's wireguard-go in the foreground in NS, configured with wg. Sets WGGO_PID.
start_wireguard_go() {
	local n=$1 ifname=$2
	bg "wggo-$ifname" "$n" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifname"
	WGGO_PID=$BG_PID
	wait_until 5 test -S "/var/run/wireguard/$ifname.sock" || fail "wireguard-go did not start: $(cat "$TMP/wggo-$ifname.log")"
	at "$n" wg set "$ifname" private-key "$TMP/$n.key" listen-port "$5" \
		peer "$6" endpoint "$7" allowed-ips "$8" ${9:+persistent-keepalive $9}
	at "$n" ip addr add "$3" dev "$ifname"
	at "$n" ip addr add "$4" dev "$ifname" nodad
	at "$n" ip link set "$ifname" mtu 1420 up
}

# myvpn_drops PID LOGNAME: sends SIGUSR1 to a myvpn and prints the "myvpn: drops:" line it
# writes in answer (fails if none appears within 3 s).
myvpn_drops() {
	local pid=$1 logf=$TMP/$2.log before
	before=$(grep -c "myvpn: drops:" "$logf" || true)
	kill -USR1 "$pid" || return 1
	wait_until 3 _drops_lines_above "$logf" "$before" || return 1
	grep "myvpn: drops:" "$logf" | tail -1
}
_drops_lines_above() { [ "$(grep -c "myvpn: drops:" "$1" || true)" -gt "$2" ]; }

# drop_count LINE REASON: the counter REASON (e.g. decrypt) in a "myvpn: drops:" line.
drop_count() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

# wg_conf NAME PEER ADDRESS ALLOWED_IPS [ENDPOINT [EXTRA_PEER_LINE...]]: writes $TMP/NAME.conf
# (mode 600), a wg-quick file for NAME's keys (wg_keys) with one [Peer], PEER, listening on
# ${WG_PORT:-51820}.
wg_conf() {
	local name=$1 peer=$2 address=$3 allowed=$4 endpoint=${5:-} line
	shift 4; [ $# -gt 0 ] && shift
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\n\n' \
			"$(cat "$TMP/$name.key")" "${WG_PORT:-51820}" "$address"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s\n' "$(cat "$TMP/$peer.pub")" "$allowed"
		[ -z "$endpoint" ] || printf 'Endpoint = %s\n' "$endpoint"
		for line in "$@"; do printf '%s\n' "$line"; done
	} >"$TMP/$name.conf"
	chmod 600 "$TMP/$name.conf"
}
