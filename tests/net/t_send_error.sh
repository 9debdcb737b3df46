#!/bin/bash
# One peer's send error costs only its own datagrams. A server with two peers sends a burst that
# alternates between them; an nftables output rule makes every datagram to p1 fail with EPERM.
# p2 must receive as many packets as in a control run without the rule (before the fix, a failed
# datagram dropped the rest of its sendmmsg batch: p2 got a few percent). The failures are
# counted as udp_send_blocked (EPERM) and logged at a limited rate.
#
#   p1 (192.0.2.2) ── s (192.0.2.1 | 198.51.100.1) ── p2 (198.51.100.2)
. "$(dirname "$0")/lib.sh"
ns_add s; ns_add p1; ns_add p2
veth s "$P-s1" p1 "$P-p1"
veth s "$P-s2" p2 "$P-p2"
at s ip addr add 192.0.2.1/24 dev "$P-s1"
at p1 ip addr add 192.0.2.2/24 dev "$P-p1"
at s ip addr add 198.51.100.1/24 dev "$P-s2"
at p2 ip addr add 198.51.100.2/24 dev "$P-p2"
wg_keys s; wg_keys p1; wg_keys p2

wg_conf s p1 10.40.0.1/24 10.40.0.2/32 192.0.2.2:51820 "" "[Peer]" \
	"PublicKey = $(cat "$TMP/p2.pub")" "AllowedIPs = 10.40.0.3/32" "Endpoint = 198.51.100.2:51820"
wg_conf p1 s 10.40.0.2/24 10.40.0.1/32 192.0.2.1:51820
wg_conf p2 s 10.40.0.3/24 10.40.0.1/32 198.51.100.1:51820
bg s s "$MYVPN" -c "$TMP/s.conf" -i "$P-ts" --workers 1
S=$BG_PID
bg p1 p1 "$MYVPN" -c "$TMP/p1.conf" -i "$P-t1" --workers 1
bg p2 p2 "$MYVPN" -c "$TMP/p2.conf" -i "$P-t2" --workers 1
wait_ready s; wait_ready p1; wait_ready p2
ping_eventually s 10 10.40.0.2 || fail "no tunnel to p1"
ping_eventually s 10 10.40.0.3 || fail "no tunnel to p2"

# burst: 20,000 UDP datagrams, alternately to p1 and p2, as fast as the server's TUN takes them
# (so that the worker reads, seals and sends them in mixed batches), paced in rounds of 50 so
# that neither socket buffer overflows.
cat >"$TMP/burst.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data = b"x" * 200
for r in range(400):
    for i in range(25):
        s.sendto(data, ("10.40.0.2", 9))
        s.sendto(data, ("10.40.0.3", 9))
    time.sleep(0.002)
PY
# count: p2's datagrams on port 9 until 1 s of silence (the TUN's counters would count the
# super-packets of TUN GRO, not datagrams).
cat >"$TMP/count.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("10.40.0.3", 9))
print("ready", flush=True)
n = 0
s.settimeout(5)
try:
    while True:
        s.recv(2048)
        n += 1
        s.settimeout(1)
except socket.timeout:
    pass
sys.stderr.write("%d\n" % n)
PY
burst() {
	bg count p2 python3 "$TMP/count.py"
	wait_until 5 grep -q ready "$TMP/count.log" || fail "counter did not start"
	at s python3 "$TMP/burst.py"
	wait "$BG_PID" || true
	tail -1 "$TMP/count.log"
}

control=$(burst)
log "control run: p2 received $control of 10000"
[ "$control" -ge 9000 ] || fail "control run lost too much ($control of 10000): the machine is too busy"

at s nft -f - <<-NFT
	table inet $P-block {
		chain out {
			type filter hook output priority filter;
			ip daddr 192.0.2.2 udp dport 51820 drop
		}
	}
NFT
before=$(drop_count "$(myvpn_drops "$S" s)" udp_send_blocked)
blocked=$(burst)
after=$(drop_count "$(myvpn_drops "$S" s)" udp_send_blocked)
log "with p1 blocked: p2 received $blocked of 10000, udp_send_blocked drops $before -> $after"
[ "$blocked" -ge $(( control * 95 / 100 )) ] ||
	fail "p2 lost packets because p1's sends failed: $blocked against $control"
[ $(( after - before )) -ge 9000 ] || fail "p1's failed datagrams were not counted as udp_send_blocked"
lines=$(grep -c "cannot send" "$TMP/s.log" || true)
[ "$lines" -le 20 ] || fail "the send error was logged $lines times: not rate-limited"
kill -0 "$S" || fail "the server died"
log "ok"
