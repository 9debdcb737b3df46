#!/bin/bash
# Plaintext server roaming resists a stranger: once a client is known, a keepalive from another
# address, an IP packet whose inner source is not the client's tunnel address, and even a
# packet with the right inner source while the client is talking, all leave the endpoint where
# it is (counted as unknown_source); the server keeps reaching the real client. (A real NAT
# re-mapping still moves it: t_roaming.sh.)
#
#   client 10.0.1.2 ── router (NAT) ── server 198.51.100.2 | 203.0.113.1 ── stranger 203.0.113.2
. "$(dirname "$0")/lib.sh"
topo_nat
ns_add x
veth server "$P-sx" x "$P-x"
at server ip addr add 203.0.113.1/24 dev "$P-sx"
at x ip addr add 203.0.113.2/24 dev "$P-x"

bg server server "$MYVPN_NAT" -s 12345 -i "$P-ts" --address 10.9.0.1/24
S=$BG_PID
bg client client "$MYVPN_NAT" -a 198.51.100.2 -p 12345 -i "$P-tc" --address 10.9.0.2/24 --keepalive 1
wait_ready server; wait_ready client
ping_eventually client 5 10.9.0.1 || fail "no tunnel"
grep -q "client endpoint is now 198.51.100.1:" "$TMP/server.log" || fail "first endpoint not learned"
# The client keeps talking: its pings and keepalives keep the old endpoint "not silent".
at client ping -i 0.2 -c 40 10.9.0.1 >/dev/null 2>&1 &
PING=$!

# stranger KIND: one datagram to the server from 203.0.113.2: a keepalive, or a well-formed
# IPv4/UDP packet from the inner source KIND (an address).
cat >"$TMP/stranger.py" <<'PY'
import socket, struct, sys
hdr = b"mv\x01"
if sys.argv[1] == "keepalive":
    msg = hdr + b"\x02"
else:
    src = socket.inet_aton(sys.argv[1]); dst = socket.inet_aton("10.9.0.1")
    udp = struct.pack("!HHHH", 4444, 9, 8 + 4, 0) + b"evil"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
    s = 0
    for i in range(0, 20, 2):
        s += (ip[i] << 8) | ip[i + 1]
    s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
    msg = hdr + b"\x01" + ip + udp
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("203.0.113.2", 40000))
for _ in range(3):
    sock.sendto(msg, ("203.0.113.1", 12345))
PY

for kind in keepalive 10.9.0.99 10.9.0.2; do
	at x python3 "$TMP/stranger.py" "$kind"
	sleep 0.3
	! grep -q "client endpoint is now 203.0.113.2" "$TMP/server.log" ||
		fail "a stranger's datagram ($kind) moved the client's endpoint"
	ping_ok server 10.9.0.2 || fail "the server lost its client after a stranger's datagram ($kind)"
	log "stranger's $kind: endpoint stayed"
done
grep -q "client endpoint not moved to 203.0.113.2:40000" "$TMP/server.log" ||
	fail "the refusals were not logged"
[ "$(drop_count "$(myvpn_drops "$S" server)" unknown_source)" -ge 9 ] ||
	fail "the stranger's datagrams were not counted as unknown_source"
wait "$PING" || true
kill -0 "$S" || fail "server died"
log "ok"
