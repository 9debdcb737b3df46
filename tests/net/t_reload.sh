#!/bin/bash
# Reload (SIGHUP) as `wg syncconf`: while peer B is pinged 100 times a second, the -c file gains
# 100 peers, loses peer C and gives B one more allowed prefix; after SIGHUP no ping is lost,
# B keeps its session (same latest handshake, counters not reset), the new peers and the prefix
# are there and C is gone. Then a broken file plus SIGHUP logs FILE:LINE and changes nothing.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b; wg_keys c
wg_conf a b 10.20.0.1/24 10.20.0.2/32 192.0.2.2:51820
printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.20.0.3/32\n' "$(cat "$TMP/c.pub")" >>"$TMP/a.conf"
wg_conf b a 10.20.0.2/24 10.20.0.0/24 192.0.2.1:51820
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
wait_ready a; wait_ready b
ping_eventually a 10 10.20.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"
B_PUB=$(cat "$TMP/b.pub")
hs() { wg show "$P-ta" latest-handshakes | awk -v k="$B_PUB" '$1 == k { print $2 }'; }
rx() { wg show "$P-ta" transfer | awk -v k="$B_PUB" '$1 == k { print $2 }'; }
hs0=$(hs)
[ "${hs0:-0}" -gt 0 ] || fail "no handshake with B"

# The new file: B with one more prefix, C gone, 100 new peers.
{
	sed '/^\[Peer\]/,$d' "$TMP/a.conf"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.20.0.2/32, 10.99.0.0/24\nEndpoint = 192.0.2.2:51820\n' "$B_PUB"
	for i in $(seq 100); do
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.21.%d.0/24\n' "$(wg genkey | wg pubkey)" "$i"
	done
} >"$TMP/a.new"
chmod 600 "$TMP/a.new"

at a ping -i 0.01 -c 300 -W 1 10.20.0.2 >"$TMP/ping.out" 2>&1 &
PING=$!
PIDS+=("$PING")
sleep 1
rx0=$(rx)
mv "$TMP/a.new" "$TMP/a.conf"
kill -HUP "$A"
wait_until 5 grep -q "reloaded .*a.conf: 100 peers added, 1 removed, 101 in all" "$TMP/a.log" ||
	fail "no reload: $(tail -5 "$TMP/a.log")"
wait "$PING" || true
grep -q " 300 received" "$TMP/ping.out" || fail "pings lost across the reload: $(tail -2 "$TMP/ping.out")"
kill -0 "$A" || fail "myvpn exited on SIGHUP"
[ "$(hs)" = "$hs0" ] || fail "B's latest handshake changed: $hs0 -> $(hs): the session was not kept"
[ "$(rx)" -ge "$rx0" ] || fail "B's counters were reset: $rx0 -> $(rx)"
[ "$(wg show "$P-ta" peers | wc -l)" = 101 ] || fail "$(wg show "$P-ta" peers | wc -l) peers, not 101"
wg show "$P-ta" peers | grep -qxF "$(cat "$TMP/c.pub")" && fail "C was not removed"
wg show "$P-ta" allowed-ips | grep -F "$B_PUB" | grep -q "10.99.0.0/24" || fail "B has no 10.99.0.0/24"
wg show "$P-ta" allowed-ips | grep -q "10.21.100.0/24" || fail "the 100th new peer is missing"
log "reload: 300/300 pings, handshake kept ($hs0), 101 peers"

# A broken file: FILE:LINE in the log, the device unchanged.
before=$(wg show "$P-ta" allowed-ips | sort)
cp "$TMP/a.conf" "$TMP/a.good"
sed -i '0,/^AllowedIPs = 10.21.1.0\/24/s//AllowedIPs = 10.21.1.0\/99/' "$TMP/a.conf"
sed -i '/10.21.2.0\/24/,$d' "$TMP/a.conf" # also drops peers: must not apply
line=$(grep -n "10.21.1.0/99" "$TMP/a.conf" | cut -d: -f1)
kill -HUP "$A"
wait_until 5 grep -q "a.conf:$line: .*configuration unchanged" "$TMP/a.log" ||
	fail "no FILE:LINE error: $(tail -3 "$TMP/a.log")"
[ "$(wg show "$P-ta" allowed-ips | sort)" = "$before" ] || fail "a broken file changed the device"
ping_ok a 10.20.0.2 || fail "the tunnel broke after a broken reload"
log "ok"
