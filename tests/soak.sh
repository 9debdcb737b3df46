#!/bin/bash
# make soak: at least 10 minutes of traffic through an encrypted tunnel while handshakes, peers
# and keys churn, sampling both daemons' resident memory and open fds; fails when either keeps
# growing. Not part of make check.
#   SOAK_SECONDS=600 (default)   how long the churn runs
#   SOAK_SAMPLE=10               seconds between samples
# The verdict compares the last quarter of the samples with the second quarter (the first is
# warm-up): RSS may grow by at most 25 % + 2 MB, fds by at most 4.
. "$(dirname "$0")/net/lib.sh"
DURATION=${SOAK_SECONDS:-600}
SAMPLE=${SOAK_SAMPLE:-10}

topo_direct
wg_keys a; wg_keys b
wg_conf a b 10.60.0.1/24 10.60.0.2/32 192.0.2.2:51820 "PersistentKeepalive = 5"
wg_conf b a 10.60.0.2/24 10.60.0.1/32
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
A=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
B=$BG_PID
wait_ready a; wait_ready b
ping_eventually a 10 10.60.0.2 || fail "no tunnel: $(cat "$TMP/a.log")"
bg iperf-server b iperf3 -s -B 10.60.0.2

# Traffic: short TCP transfers and pings, back to back.
traffic() {
	while :; do
		at a iperf3 -c 10.60.0.2 -t 5 -b 300M >/dev/null 2>&1
		at a ping -c 20 -i 0.05 -q 10.60.0.2 >/dev/null 2>&1
	done
}
# Peer churn: b gains 200 peers with random keys, then loses them again.
peer_churn() {
	local i
	while :; do
		: >"$TMP/extra.conf"
		for i in $(seq 200); do
			printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.61.%d.%d/32\n\n' \
				"$(head -c 32 /dev/urandom | base64)" $((i / 250)) $((i % 250)) >>"$TMP/extra.conf"
		done
		at b wg addconf "$P-tb" "$TMP/extra.conf" || echo "addconf failed" >>"$TMP/churn.err"
		sleep 2
		sed -n 's/^PublicKey = //p' "$TMP/extra.conf" | while read -r key; do
			printf 'peer %s remove ' "$key"
		done | xargs ip netns exec "$(ns b)" wg set "$P-tb" || echo "remove failed" >>"$TMP/churn.err"
		sleep 2
	done
}
# Key rotation and handshake churn: a takes a new static key every 20 s and b follows; every
# 7 s a restates its own key, which drops its sessions and forces a new handshake.
key_churn() {
	local old new n=0
	while :; do
		sleep 7
		at a wg set "$P-ta" private-key "$TMP/a.key"
		n=$((n + 1))
		[ $((n % 3)) -eq 0 ] || continue
		old=$(cat "$TMP/a.pub")
		(umask 077; wg genkey >"$TMP/a.key")
		wg pubkey <"$TMP/a.key" >"$TMP/a.pub"
		new=$(cat "$TMP/a.pub")
		at b wg set "$P-tb" peer "$old" remove peer "$new" allowed-ips 10.60.0.1/32
		at a wg set "$P-ta" private-key "$TMP/a.key"
	done
}
traffic & PIDS+=($!)
peer_churn & PIDS+=($!)
key_churn & PIDS+=($!)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
: >"$TMP/samples"
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt "$DURATION" ]; do
	sleep "$SAMPLE"
	for pid in "$A" "$B"; do kill -0 "$pid" || fail "a daemon died: $(tail -5 "$TMP/a.log" "$TMP/b.log")"; done
	echo "$(( $(date +%s) - start )) $(rss_kb "$A") $(fds "$A") $(rss_kb "$B") $(fds "$B")" | tee -a "$TMP/samples" |
		awk '{ printf "  [soak] %4d s: a %6d KB %3d fds   b %6d KB %3d fds\n", $1, $2, $3, $4, $5 }' >&2
done
[ ! -s "$TMP/churn.err" ] || fail "churn commands failed: $(sort "$TMP/churn.err" | uniq -c)"
destroyed=$(grep -c "destroyed" "$TMP/b.log"); handshakes=$(grep -c "handshake complete" "$TMP/a.log")
log "churn: $destroyed peers came and went on b, $handshakes handshakes on a"
[ "$destroyed" -ge 200 ] && [ "$handshakes" -ge $((DURATION / 20)) ] || fail "the churn did not happen"
ping_ok a 10.60.0.2 || fail "tunnel broken at the end"

# max of column C over samples [from, to) (1-based sample numbers)
window_max() { awk -v c="$1" -v f="$2" -v t="$3" 'NR >= f && NR < t && $c > m { m = $c } END { print m + 0 }' "$TMP/samples"; }
n=$(wc -l <"$TMP/samples")
[ "$n" -ge 8 ] || fail "only $n samples: run longer (SOAK_SECONDS) or sample more often (SOAK_SAMPLE)"
q=$((n / 4))
verdict=0
for col in 2 4; do
	early=$(window_max "$col" $((q + 1)) $((2 * q + 1))); late=$(window_max "$col" $((3 * q + 1)) $((n + 1)))
	log "RSS column $col: $early KB -> $late KB"
	[ "$late" -le $((early * 125 / 100 + 2048)) ] || { log "FAIL: RSS keeps growing"; verdict=1; }
done
for col in 3 5; do
	early=$(window_max "$col" $((q + 1)) $((2 * q + 1))); late=$(window_max "$col" $((3 * q + 1)) $((n + 1)))
	log "fds column $col: $early -> $late"
	[ "$late" -le $((early + 4)) ] || { log "FAIL: fds keep growing"; verdict=1; }
done
[ "$verdict" -eq 0 ] || fail "resources grew over $DURATION s; samples (s, a KB, a fds, b KB, b fds):
$(cat "$TMP/samples")"
log "ok: $n samples over $DURATION s, no growth"
