#!/bin/bash
# Encrypted mode against a real wireguard-go (Debian's), configured with wg: each side
# initiates in turn; ping works both ways; 50 MB over TCP arrive intact; after wireguard-go
# restarts, traffic resumes.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b

# a: myvpn from a wg-quick style file. b: wireguard-go driven by wg.
cat >"$TMP/a.conf" <<CONF
[Interface]
PrivateKey = $(cat "$TMP/a.key")
ListenPort = 51820
Address = 10.10.0.1/24, fd10::1/64
FwMark = 0x1234

[Peer]
PublicKey = $(cat "$TMP/b.pub")
Endpoint = 192.0.2.2:51820
AllowedIPs = 10.10.0.2/32, fd10::2/128
CONF
chmod 600 "$TMP/a.conf"
start_wireguard_go b "$P-wb" 10.10.0.2/24 fd10::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 "10.10.0.1/32,fd10::1/128"
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
wait_ready a

[ "$(at a wg show "$P-ta" fwmark)" = 0x1234 ] || fail "FwMark from the file not applied: $(at a wg show "$P-ta" fwmark)"

# myvpn initiates.
ping_eventually a 10 10.10.0.2 || fail "ping myvpn -> wireguard-go (myvpn initiating): $(cat "$TMP/a.log")"
ping_ok b 10.10.0.1 || fail "ping wireguard-go -> myvpn"
ping_ok a fd10::2 || fail "IPv6 ping through the tunnel"
grep -q "handshake complete" "$TMP/a.log" || fail "no handshake logged"
at b wg show "$P-wb" latest-handshakes | awk '{exit !($2 > 0)}' || fail "wg shows no handshake"

# 50 MB over TCP, checked end to end.
head -c 50000000 /dev/urandom >"$TMP/blob"
want=$(sha256sum <"$TMP/blob" | cut -d' ' -f1)
bg recv b socat -u TCP-LISTEN:5001,bind=10.10.0.2,reuseaddr "OPEN:$TMP/received,creat,trunc"
RECV=$BG_PID
wait_until 5 at b sh -c "ss -ltn | grep -q 5001" || fail "receiver did not start"
at a socat -u "FILE:$TMP/blob" TCP:10.10.0.2:5001 || fail "50 MB transfer myvpn -> wireguard-go failed"
wait "$RECV" || fail "receiver failed: $(cat "$TMP/recv.log")"
got=$(sha256sum <"$TMP/received" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "checksum mismatch after 50 MB: $got != $want"
log "50 MB arrived intact"

# wireguard-go restarts: it has no session; it initiates; traffic resumes.
stop_pid "$WGGO_PID"
start_wireguard_go b "$P-wb" 10.10.0.2/24 fd10::2/64 51820 "$(cat "$TMP/a.pub")" 192.0.2.1:51820 "10.10.0.1/32,fd10::1/128"
ping_eventually b 15 10.10.0.1 || fail "traffic did not resume after wireguard-go restarted (wireguard-go initiating)"
ping_ok a 10.10.0.2 || fail "ping myvpn -> restarted wireguard-go"
kill -0 "$A" || fail "myvpn died"
log "ok"
