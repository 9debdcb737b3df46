#!/bin/bash
# `ip link set IF mtu N` on running tunnels is followed.
# - plaintext: both ends start at the default 1448 and go to 1500; a 1500-byte ping must pass
#   (the receiver used to keep its start-up MTU and drop it as "oversized");
# - encrypted: both ends go to 8000 before any handshake; the very first packet, 8000 bytes,
#   waits for the handshake and must then be delivered (it used to be dropped for not fitting
#   the staging slots sized at start-up).
. "$(dirname "$0")/lib.sh"
topo_direct
at a ip link set "$P-a" mtu 9000
at b ip link set "$P-b" mtu 9000

# plaintext
bg pa a "$MYVPN" -a 192.0.2.2 -i "$P-pa" --address 10.7.0.1/24
PA=$BG_PID
bg pb b "$MYVPN" -a 192.0.2.1 -i "$P-pb" --address 10.7.0.2/24
wait_ready pa; wait_ready pb
ping_eventually a 5 10.7.0.2 || fail "plaintext: no tunnel"
at a ip link set "$P-pa" mtu 1500
at b ip link set "$P-pb" mtu 1500
wait_until 5 at a ping -c 1 -W 1 -M do -s 1472 10.7.0.2 || fail "plaintext: no 1500-byte ping after mtu 1500"
grep -q "MTU 1500 (was 1448)" "$TMP/pb.log" || fail "plaintext: the MTU change was not logged"
[ "$(drop_count "$(myvpn_drops "$PA" pa)" oversized)" -eq 0 ] || fail "plaintext: a counted oversized"
log "plaintext: 1500-byte packets pass after mtu 1500"
stop_pid "$PA"

# encrypted
wg_keys a; wg_keys b
wg_conf a b 10.8.0.1/24 10.8.0.2/32 192.0.2.2:51820
wg_conf b a 10.8.0.2/24 10.8.0.1/32 192.0.2.1:51820
bg wa a "$MYVPN" -c "$TMP/a.conf" -i "$P-wa"
WA=$BG_PID
bg wb b "$MYVPN" -c "$TMP/b.conf" -i "$P-wb"
wait_ready wa; wait_ready wb
at a ip link set "$P-wa" mtu 8000
at b ip link set "$P-wb" mtu 8000
sleep 0.5 # the daemons hear the change through netlink
grep -q "handshake complete" "$TMP/wa.log" && fail "encrypted: a handshake happened too early for this test"
at a ping -c 1 -W 5 -M do -s 7972 10.8.0.2 >/dev/null ||
	fail "encrypted: the first (staged) 8000-byte packet was lost: $(myvpn_drops "$WA" wa)"
drops=$(myvpn_drops "$WA" wa)
[ "$(drop_count "$drops" staged_oversized)" -eq 0 ] || fail "encrypted: drops: $drops"
grep -q "MTU 8000 (was 1420)" "$TMP/wa.log" || fail "encrypted: the MTU change was not logged"
log "encrypted: a staged 8000-byte first packet passes after mtu 8000"
log "ok"
