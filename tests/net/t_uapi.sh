#!/bin/bash
# The UAPI socket, as the stock wg tool uses it: myvpn IFNAME daemonizes only once ready; the
# same wg commands give the same `wg show dump` / `wg showconf` as against wireguard-go; a bad
# set answers errno=-22 and applies nothing; a silent client does not stall the data path; the
# daemon refuses a live socket, replaces a stale one, and exits when its socket is deleted.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b; wg_keys c
SOCK=/var/run/wireguard

# uapi NS IF REQUEST: sends a raw request, prints the reply.
uapi() { printf '%b' "$3" | at "$1" socat -t 2 - "UNIX-CONNECT:$SOCK/$2.sock"; }

at a "$MYVPN" "$P-ma" 2>"$TMP/ma.log" || fail "myvpn $P-ma exited non-zero: $(cat "$TMP/ma.log")"
test -S "$SOCK/$P-ma.sock" || fail "parent returned before the socket existed"
link_exists a "$P-ma" || fail "parent returned before the interface existed"
MA=$(at a ss -xlpn | grep -F "$SOCK/$P-ma.sock" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
[ -n "$MA" ] || fail "no daemon behind $P-ma.sock"
PIDS+=("$MA")

# The same wg commands against both; then compare what wg prints.
configure() {
	local n=$1 ifname=$2
	at "$n" wg set "$ifname" private-key "$TMP/a.key" listen-port 51840 fwmark 0x42 \
		peer "$(cat "$TMP/b.pub")" endpoint 192.0.2.77:51820 allowed-ips 10.60.0.0/24,fd60::/64 \
		peer "$(cat "$TMP/c.pub")" endpoint "[2001:db8::77]:51821" allowed-ips 10.61.0.1/32 persistent-keepalive 0
	at "$n" wg set "$ifname" peer "$(cat "$TMP/c.pub")" preshared-key "$TMP/psk" allowed-ips 10.61.0.2/32,10.61.0.0/16 endpoint 192.0.2.78:9
	at "$n" wg set "$ifname" peer "$(cat "$TMP/b.pub")" remove
	at "$n" wg addconf "$ifname" <(printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.62.0.0/16\n' "$(cat "$TMP/b.pub")")
}
(umask 077; wg genpsk >"$TMP/psk")
# The reference wireguard-go lives in b: the same listen port must be free for both.
bg wgref b env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$P-ga"
WGREF=$BG_PID
wait_until 5 test -S "$SOCK/$P-ga.sock" || fail "wireguard-go did not start"
configure a "$P-ma"; configure b "$P-ga"
# wireguard-go lists peers in Go map order, which is random: compare them sorted.
at a wg show "$P-ma" dump | sort >"$TMP/mine"
at b wg show "$P-ga" dump | sort >"$TMP/ref"
diff -u "$TMP/ref" "$TMP/mine" >&2 || fail "wg show dump differs from wireguard-go's"
# showconf: the same sections, in either order.
at a wg showconf "$P-ma" | awk -v RS= '{print}' | sort >"$TMP/mine"
at b wg showconf "$P-ga" | awk -v RS= '{print}' | sort >"$TMP/ref"
diff -u "$TMP/ref" "$TMP/mine" >&2 || fail "wg showconf differs from wireguard-go's"
for sel in public-key private-key listen-port fwmark peers preshared-keys endpoints allowed-ips \
	latest-handshakes persistent-keepalive transfer; do
	[ "$(at a wg show "$P-ma" $sel | sort)" = "$(at b wg show "$P-ga" $sel | sort)" ] || fail "wg show $sel differs"
done
at a wg syncconf "$P-ma" <(at b wg showconf "$P-ga") || fail "wg syncconf"
at a wg setconf "$P-ma" <(at b wg showconf "$P-ga") || fail "wg setconf"
stop_pid "$WGREF"
log "wg set/addconf/syncconf/setconf and every wg show view match wireguard-go"

# A bad set: errno=-22, nothing applied (the valid line before the bad one included).
before=$(at a wg show "$P-ma" dump)
reply=$(uapi a "$P-ma" "set=1\nlisten_port=51999\nbogus_key=1\n\n")
grep -q "errno=-22" <<<"$reply" || fail "bad set answered: $reply"
reply=$(uapi a "$P-ma" "set=1\npublic_key=zz\n\n")
grep -q "errno=-22" <<<"$reply" || fail "bad key answered: $reply"
[ "$(at a wg show "$P-ma" dump)" = "$before" ] || fail "a failed set changed the device"
kill -0 "$MA" || fail "daemon died on a bad request"

# Two daemons configured by wg talk to each other while a silent client holds a's socket.
at b "$MYVPN" "$P-mb" 2>"$TMP/mb.log" || fail "myvpn $P-mb: $(cat "$TMP/mb.log")"
MB=$(at b ss -xlpn | grep -F "$SOCK/$P-mb.sock" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
PIDS+=("$MB")
at a wg setconf "$P-ma" <(printf '[Interface]\nPrivateKey = %s\nListenPort = 51850\n[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.2:51851\nAllowedIPs = 10.70.0.2/32\n' "$(cat "$TMP/a.key")" "$(cat "$TMP/b.pub")")
at b wg setconf "$P-mb" <(printf '[Interface]\nPrivateKey = %s\nListenPort = 51851\n[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.1:51850\nAllowedIPs = 10.70.0.1/32\n' "$(cat "$TMP/b.key")" "$(cat "$TMP/a.pub")")
at a ip addr add 10.70.0.1/24 dev "$P-ma"; at a ip link set "$P-ma" up
at b ip addr add 10.70.0.2/24 dev "$P-mb"; at b ip link set "$P-mb" up
# A client that connects and says nothing, and one that sends half a request and stalls.
bg silent a socat -u "UNIX-CONNECT:$SOCK/$P-ma.sock" /dev/null
mkfifo "$TMP/slow"
bg slow a socat -u "$TMP/slow" "UNIX-CONNECT:$SOCK/$P-ma.sock"
exec 7>"$TMP/slow"
printf 'get=' >&7
ping_eventually a 10 10.70.0.2 || fail "tunnel between two wg-configured daemons"
ping_ok b 10.70.0.1 || fail "ping back"
at a wg show "$P-ma" latest-handshakes | awk '{exit !($2 > 1000000000)}' || fail "last handshake is not absolute Unix time"
log "data path unaffected by idle UAPI clients"

# A second daemon for a live socket refuses; a stale socket is replaced.
ns_add c
at c timeout 5 "$MYVPN" -f "$P-ma" 2>"$TMP/dup.log" && fail "a second daemon started for a live socket"
grep -q "another process serves this interface" "$TMP/dup.log" || fail "unclear refusal: $(cat "$TMP/dup.log")"
at c link_exists c "$P-ma" 2>/dev/null && fail "the refused daemon left its interface"
bg stale c socat "UNIX-LISTEN:$SOCK/$P-mc.sock" /dev/null
wait_until 3 test -S "$SOCK/$P-mc.sock"; kill -KILL "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
test -S "$SOCK/$P-mc.sock" || fail "could not make a stale socket"
at c "$MYVPN" "$P-mc" 2>"$TMP/mc.log" || fail "stale socket not replaced: $(cat "$TMP/mc.log")"
MC=$(at c ss -xlpn | grep -F "$SOCK/$P-mc.sock" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
PIDS+=("$MC")

# Deleting the socket stops the daemon; SIGTERM stops one and removes its socket.
rm "$SOCK/$P-mc.sock"
wait_until 5 sh -c "! kill -0 $MC 2>/dev/null" || fail "daemon survived the deletion of its socket"
link_exists c "$P-mc" && fail "interface left after the socket was deleted"
kill -TERM "$MB"
wait_until 5 sh -c "! kill -0 $MB 2>/dev/null" || fail "daemon survived SIGTERM"
test -e "$SOCK/$P-mb.sock" && fail "socket left after SIGTERM"
log "ok"
