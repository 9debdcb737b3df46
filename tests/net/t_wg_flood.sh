#!/bin/bash
# Handshake flood: while tools/hsflood sends 20,000 initiations/s with a valid mac1 (and random
# keys, so each fails after mac1) from a third namespace, an established myvpn client pings the
# myvpn server every 20 ms without losing one reply; every flood message the daemon read is
# counted under some drop reason of `myvpn show` (or was dropped by the kernel, full socket
# buffer: UdpRcvbufErrors); the daemon did not pay a DH for most of them
# (cookies or rate limiting); it stays alive and the tunnel still works; and a newcomer that
# starts during the flood completes its handshake before the flood ends (perhaps after a cookie
# reply): the flood does not starve other addresses. Once from one source address, then
# round-robin from 1,000.
#
#   client c ── 192.0.2.2 | 192.0.2.1 ── server s ── 198.51.100.1 | 198.51.100.2 ── flooder f
#                                            └── 203.0.113.1 | 203.0.113.2 ── newcomer n
#   tunnel 10.50.0.2 (c), 10.50.0.3 (n) ↔ 10.50.0.1; the flooder's extra sources are
#   10.77.x.y/32 on its lo, routed by s via 198.51.100.2 (one neighbour entry, however many)
. "$(dirname "$0")/lib.sh"
RATE=${FLOOD_RATE:-20000}
SECONDS_=${FLOOD_SECONDS:-10} # a newcomer under load needs a cookie and a retry 5 s later

HSFLOOD=$ROOT/build/tools/hsflood
make -s -C "$ROOT" build/tools/hsflood >"$TMP/make.log" 2>&1 || fail "cannot build hsflood: $(cat "$TMP/make.log")"

ns_add c; ns_add s; ns_add f; ns_add n
veth c "$P-c" s "$P-sc"
veth f "$P-f" s "$P-sf"
veth n "$P-n" s "$P-sn"
at s ip addr add 203.0.113.1/24 dev "$P-sn"
at n ip addr add 203.0.113.2/24 dev "$P-n"
at c ip addr add 192.0.2.2/24 dev "$P-c"
at s ip addr add 192.0.2.1/24 dev "$P-sc"
at s ip addr add 198.51.100.1/24 dev "$P-sf"
at f ip addr add 198.51.100.2/24 dev "$P-f"
at f ip route add default via 198.51.100.1
at s ip route add 10.77.0.0/16 via 198.51.100.2

wg_keys s; wg_keys c; wg_keys n
wg_conf s c 10.50.0.1/24 10.50.0.2/32
printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.50.0.3/32\n' "$(cat "$TMP/n.pub")" >>"$TMP/s.conf"
wg_conf c s 10.50.0.2/24 10.50.0.1/32 192.0.2.1:51820
wg_conf n s 10.50.0.3/24 10.50.0.1/32 203.0.113.1:51820
bg s s "$MYVPN" -c "$TMP/s.conf" -i "$P-ts"
S=$BG_PID
bg c c "$MYVPN" -c "$TMP/c.conf" -i "$P-tc"
C=$BG_PID
wait_ready s; wait_ready c
ping_eventually c 10 10.50.0.1 || fail "no tunnel before the flood: $(cat "$TMP/c.log")"

# drops: "reason count" lines, every drop counter of the server.
drops() {
	"$MYVPN" show "$P-ts" --json | sed -n '/"drops": {/,/}/p' |
		sed -n 's/^ *"\([a-z0-9_]*\)": \([0-9]*\).*/\1 \2/p'
}
# delta BEFORE AFTER: the counters that grew, "reason +n" each, and their total in TOTAL.
delta() {
	awk 'NR == FNR { b[$1] = $2; next } $2 > b[$1] { printf "%s +%d\n", $1, $2 - b[$1] }' "$1" "$2"
}
rcvbuf_errors() {
	at s nstat -az UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" { print $2 }'
}

# flood NAME HSFLOOD_ARGS...: the flood and the pings at once, then the assertions.
flood() {
	local name=$1 sent counted invalid kdrops k0 lost newcomer pinger joined=no
	shift
	drops >"$TMP/$name.before" || fail "$name: myvpn show failed"
	k0=$(rcvbuf_errors)
	bg "$name" f "$HSFLOOD" -d 198.51.100.1:51820 -k "$(cat "$TMP/s.pub")" -r "$RATE" -t "$SECONDS_" "$@"
	local flooder=$BG_PID
	sleep 0.5
	bg "$name-ping" c ping -i 0.02 -c 250 -q 10.50.0.1
	pinger=$BG_PID
	bg "$name-newcomer" n "$MYVPN" -c "$TMP/n.conf" -i "$P-tn"
	newcomer=$BG_PID
	while kill -0 "$flooder" 2>/dev/null; do
		if ping_ok n 10.50.0.1; then
			kill -0 "$flooder" 2>/dev/null && joined=yes
			break
		fi
	done
	wait "$pinger" || true
	wait "$flooder" || fail "$name: hsflood failed: $(cat "$TMP/$name.log")"
	[ "$joined" = yes ] || fail "$name: a newcomer could not complete a handshake during the flood: $(tail -5 "$TMP/$name-newcomer.log")"
	stop_pid "$newcomer"
	sleep 0.5 # the daemon reads what is still queued
	lost=$(grep -o '[0-9.]*% packet loss' "$TMP/$name-ping.log" || echo "no ping summary")
	sent=$(sed -n 's/^hsflood: sent \([0-9]*\) .*/\1/p' "$TMP/$name.log")
	[ -n "$sent" ] || fail "$name: no report from hsflood: $(cat "$TMP/$name.log")"
	kill -0 "$S" || fail "$name: the server died: $(tail -20 "$TMP/s.log")"
	drops >"$TMP/$name.after" || fail "$name: myvpn show failed after the flood"
	delta "$TMP/$name.before" "$TMP/$name.after" >"$TMP/$name.delta"
	# What the kernel dropped is counted once, from nstat, even if myvpn reports it too.
	counted=$(awk '$1 !~ /kernel/ { n += $2 } END { print n + 0 }' "$TMP/$name.delta")
	invalid=$(awk '$1 == "handshake_invalid" { print $2 + 0 }' "$TMP/$name.delta")
	kdrops=$(( $(rcvbuf_errors) - k0 ))
	log "$name: $(cat "$TMP/$name.log")"
	log "$name: ping $lost; newcomer joined during the flood; drops: $(tr '\n' ' ' <"$TMP/$name.delta"); kernel UdpRcvbufErrors +$kdrops"
	[ "$lost" = "0% packet loss" ] || fail "$name: the established peer lost pings under the flood: $lost"
	[ "$sent" -ge $((RATE * ${SECONDS_%.*} * 8 / 10)) ] || fail "$name: hsflood sent only $sent"
	[ $((counted + kdrops)) -ge $((sent * 95 / 100)) ] ||
		fail "$name: $sent sent, but only $counted counted by myvpn and $kdrops dropped by the kernel"
	[ "$counted" -ge $((sent / 10)) ] || fail "$name: myvpn counted only $counted of $sent"
	[ "${invalid:-0}" -le $((sent / 2)) ] ||
		fail "$name: $invalid of $sent went as far as a DH (handshake_invalid): no load defence"
	ping_ok c 10.50.0.1 || fail "$name: tunnel broken after the flood"
}

flood one-source
log "one source: ok"

# 1,000 sources, 10.77.1.1 .. 10.77.4.250.
for i in $(seq 0 999); do
	echo "10.77.$((i / 250 + 1)).$((i % 250 + 1))" >>"$TMP/sources"
done
sed 's|.*|address add &/32 dev lo|' "$TMP/sources" | at f ip -batch - || fail "cannot add the 1,000 sources"
flood thousand-sources -S "$TMP/sources"
kill -0 "$C" || fail "the client died"
log "ok"
