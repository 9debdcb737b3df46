#!/bin/bash
# Encrypted mode, an endpoint given by name (a home server with a dynamic address and a dynamic
# DNS name): when the peer stops answering, a looks the name up again and follows it.
#  1. a's -c file says Endpoint = NAME:51820; NAME is 192.0.2.2 in a's /etc/hosts (ns_etc).
#     The tunnel works; `myvpn show` and the UAPI name the endpoint.
#  2. b restarts at 192.0.2.3 (a home router that got a new address), and the name follows it
#     (the hosts file rewritten, as a dynamic DNS update would). The new b knows nothing of a,
#     so only a can bring the tunnel back: its pings get no answer, it looks the name up
#     again, moves its endpoint to the new address and handshakes there, without a restart.
#  3. `wg set ... endpoint ADDR` (an address, no name) makes the endpoint an address: the
#     name is forgotten.
#  4. The same for a plaintext client (myvpn_nat -a NAME): its server restarts at another
#     address, the keepalives go unanswered, the client looks the name up again and follows.
#  5. At start-up, as wg(8): a lookup that may pass (no DNS server reachable yet, as at boot)
#     is retried until it does; one that cannot (no such name) fails at once, in one line.
. "$(dirname "$0")/lib.sh"

NAME=home-$P.example.test
topo_direct
at b sysctl -qw net.ipv4.conf.all.promote_secondaries=1
at b sysctl -qw "net.ipv4.conf.$P-b.promote_secondaries=1"
ns_etc a hosts "127.0.0.1 localhost" "192.0.2.2 $NAME"
wg_keys a; wg_keys b
wg_conf a b 10.31.0.1/24 10.31.0.2/32 "$NAME:51820"
wg_conf b a 10.31.0.2/24 10.31.0.1/32
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
wait_ready a; wait_ready b

# --- 1. the name is resolved at start and kept ------------------------------------------------
ping_eventually a 10 10.31.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"
show=$(at a "$MYVPN" show "$P-ta")
grep -q "endpoint: 192.0.2.2:51820 ($NAME:51820)" <<<"$show" ||
	fail "show does not name the endpoint: $show"
uapi=$(printf 'get=1\n\n' | at a socat - "UNIX-CONNECT:/var/run/wireguard/$P-ta.sock")
grep -qx "endpoint_name=$NAME:51820" <<<"$uapi" || fail "the UAPI does not name the endpoint: $uapi"
at a wg show "$P-ta" endpoints | grep -q "192.0.2.2:51820" ||
	fail "wg show (which skips myvpn's own keys) lost the endpoint: $(at a wg show "$P-ta")"
log "the endpoint's name is kept: ok"

# --- 2. b moves, the name follows; a follows the name -----------------------------------------
stop_pid "$B"
at b ip addr add 192.0.2.3/24 dev "$P-b"
at b ip addr del 192.0.2.2/24 dev "$P-b"
ns_etc a hosts "127.0.0.1 localhost" "192.0.2.3 $NAME"
bg b2 b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready b2
ping_ok a 10.31.0.2 && fail "a ping passed with b gone from the address a sends to"
# a notices after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s) of silence, then looks the name up
ping_eventually a 45 10.31.0.2 ||
	fail "a did not follow $NAME to 192.0.2.3: $(at a "$MYVPN" show "$P-ta"); $(cat "$TMP/a.log")"
grep -q "$NAME resolves to 192.0.2.3:51820 now (was 192.0.2.2:51820)" "$TMP/a.log" ||
	fail "a's log does not say why its endpoint moved: $(cat "$TMP/a.log")"
show=$(at a "$MYVPN" show "$P-ta")
grep -q "endpoint: 192.0.2.3:51820 ($NAME:51820)" <<<"$show" || fail "endpoint after the move: $show"
metrics=$("$MYVPN" show "$P-ta" --prometheus)
grep -Eq '^myvpn_endpoint_lookups_total\{.*\} [1-9]' <<<"$metrics" &&
	grep -Eq '^myvpn_endpoint_changes_total\{.*\} [1-9]' <<<"$metrics" ||
	fail "the lookup and the move are not counted: $(grep endpoint <<<"$metrics")"
kill -0 "$A" || fail "a died"
log "a follows the name to b's new address: ok"

# --- 3. an address set through the UAPI replaces the name -------------------------------------
at a wg set "$P-ta" peer "$(cat "$TMP/b.pub")" endpoint 192.0.2.3:51820
show=$(at a "$MYVPN" show "$P-ta")
grep -q "endpoint: 192.0.2.3:51820$" <<<"$show" || fail "the name survived wg set endpoint: $show"
ping_ok a 10.31.0.2 || fail "ping after wg set endpoint"
stop_pid "$A"; stop_pid "$B"
log "an address from wg set replaces the name: ok"

# --- 4. a plaintext client follows its server's name ------------------------------------------
bg ps b "$MYVPN_NAT" -s 12345 -i "$P-pb" --address 10.32.0.1/24
S=$BG_PID
bg pc a "$MYVPN_NAT" -a "$NAME" -p 12345 -i "$P-pa" --address 10.32.0.2/24
C=$BG_PID
ping_eventually a 10 10.32.0.1 || fail "no ping through the plaintext tunnel: $(cat "$TMP/pc.log")"
stop_pid "$S"
at b ip addr add 192.0.2.2/24 dev "$P-b"
at b ip addr del 192.0.2.3/24 dev "$P-b"
ns_etc a hosts "127.0.0.1 localhost" "192.0.2.2 $NAME"
bg ps2 b "$MYVPN_NAT" -s 12345 -i "$P-pb" --address 10.32.0.1/24
S=$BG_PID
wait_ready ps2
ping_ok a 10.32.0.1 && fail "a plaintext ping passed with the server gone from the address a sends to"
ping_eventually a 30 10.32.0.1 ||
	fail "the plaintext client did not follow $NAME to 192.0.2.2: $(cat "$TMP/pc.log")"
grep -q "server: $NAME resolves to 192.0.2.2:12345 now (was 192.0.2.3:12345)" "$TMP/pc.log" ||
	fail "the plaintext client's log does not say why it moved: $(cat "$TMP/pc.log")"
show=$(at a "$MYVPN" show "$P-pa")
grep -q "server 192.0.2.2:12345 ($NAME:12345): udp" <<<"$show" ||
	fail "show does not name the plaintext client's server: $show"
kill -0 "$C" || fail "the plaintext client died"
stop_pid "$C"; stop_pid "$S"
log "a plaintext client follows its server's name: ok"

# --- 5. at start-up, a failed lookup that may pass is retried --------------------------------
LATE=late-$P.example.test
ns_etc a hosts "127.0.0.1 localhost"
ns_etc a resolv.conf "nameserver 203.0.113.99" "options timeout:1 attempts:1" # no route: EAI_AGAIN
ns_etc a nsswitch.conf "hosts: files dns"
wg_conf a b 10.31.0.1/24 10.31.0.2/32 "$LATE:51820"
bg b3 b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
bg a3 a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
wait_until 5 grep -q "cannot resolve '$LATE': .*; trying again in" "$TMP/a3.log" ||
	fail "no retry of a lookup that may pass: $(cat "$TMP/a3.log")"
kill -0 "$A" || fail "a gave up on a lookup that may pass: $(cat "$TMP/a3.log")"
ns_etc a hosts "127.0.0.1 localhost" "192.0.2.2 $LATE"
wait_ready a3
ping_eventually a 10 10.31.0.2 || fail "no ping after the late lookup: $(cat "$TMP/a3.log")"
stop_pid "$A"; stop_pid "$B"

ns_etc a nsswitch.conf "hosts: files" # no DNS: an unknown name is EAI_NONAME at once
wg_conf a b 10.31.0.1/24 10.31.0.2/32 "nosuch-$P.example.test:51820"
start=$(date +%s)
if out=$(at a timeout 20 "$MYVPN" -c "$TMP/a.conf" -i "$P-tx" 2>&1); then
	fail "myvpn started with an endpoint that does not exist: $out"
fi
[ $(( $(date +%s) - start )) -le 3 ] || fail "a name that does not exist was retried: $out"
grep -q "^myvpn: error: $TMP/a.conf:[0-9]*: endpoint: cannot resolve 'nosuch-$P.example.test'" <<<"$out" ||
	fail "not a one-line FILE:LINE error: $out"
log "start-up lookups: retried when they may pass, an error at once when not: ok"
