#!/bin/bash
# Multi-threaded data path: two myvpn peers (-c files) with --workers 2 each get a TUN with
# IFF_MULTI_QUEUE and 16 queues (8 lanes per worker, struct worker_lane); 4 parallel TCP transfers (2 each way) of random files arrive
# intact (sha256 per flow) while iperf3 -P 4 runs alongside, every one of its streams moving
# data; the per-worker counters add up to at least those transfers. Then
# --workers 1 (ping, one transfer) and the default worker count (ping).
#
#   a (192.0.2.1) ── veth ── b (192.0.2.2); tunnel 10.40.0.0/24, fd40::/64
#
# KEEP_LOGS=DIR keeps every log (lib.sh); tests/net/tsan-workers.sh uses it.
. "$(dirname "$0")/lib.sh"

topo_direct
wg_keys a; wg_keys b
wg_conf a b "10.40.0.1/24, fd40::1/64" "10.40.0.2/32, fd40::2/128" 192.0.2.2:51820
wg_conf b a "10.40.0.2/24, fd40::2/64" "10.40.0.1/32, fd40::1/128" 192.0.2.1:51820

# start CASE [FLAGS...]: myvpn on both sides, interfaces $P-aCASE / $P-bCASE. Sets A, B.
start() {
	local c=$1; shift
	bg "a$c" a "$MYVPN" -c "$TMP/a.conf" -i "$P-a$c" "$@"
	A=$BG_PID
	bg "b$c" b "$MYVPN" -c "$TMP/b.conf" -i "$P-b$c" "$@"
	B=$BG_PID
	wait_ready "a$c"; wait_ready "b$c"
	ping_eventually a 10 10.40.0.2 || fail "case $c: no ping through the tunnel: $(cat "$TMP/a$c.log")"
}
stop() {
	stop_pid "$A"; [ "$STOPPED_STATUS" -eq 0 ] || fail "case $1: myvpn on a exited $STOPPED_STATUS: $(tail -5 "$TMP/a$1.log")"
	stop_pid "$B"; [ "$STOPPED_STATUS" -eq 0 ] || fail "case $1: myvpn on b exited $STOPPED_STATUS: $(tail -5 "$TMP/b$1.log")"
}

# last_words LOG: a sanitizer's report from a daemon's log, else its end.
last_words() { grep -m1 -A16 "WARNING: .*Sanitizer" "$1" || tail -20 "$1"; }

# transfers CASE SPEC...: SPEC is FROM:TO:PORT:MB. All run at once, each a socat of a fresh
# random file to TO's tunnel address; each received file must have the sent sha256.
transfers() {
	local c=$1 spec from to port mb dst n=0 all_done pids=() rpids=() names=()
	shift
	for spec in "$@"; do
		IFS=: read -r from to port mb <<<"$spec"
		dst=10.40.0.1; [ "$to" = b ] && dst=10.40.0.2
		head -c "$((mb * 1000000))" /dev/urandom >"$TMP/blob$port"
		bg "recv$c-$port" "$to" socat -u "TCP-LISTEN:$port,bind=$dst,reuseaddr" \
			"OPEN:$TMP/got$port,creat,trunc"
		rpids+=("$BG_PID")
		wait_until 5 at "$to" sh -c "ss -ltn | grep -q ':$port '" || fail "receiver on $port did not start"
	done
	for spec in "$@"; do
		IFS=: read -r from to port mb <<<"$spec"
		dst=10.40.0.1; [ "$to" = b ] && dst=10.40.0.2
		at "$from" timeout 60 socat -u "FILE:$TMP/blob$port" "TCP:$dst:$port" &
		pids+=("$!"); names+=("$from->$to:$port"); PIDS+=("$!")
	done
	# A daemon that dies (a sanitizer halting it, say) fails the test now, not at the timeout.
	# Meanwhile the counters are read, as a monitoring tool would, while the workers count.
	while :; do
		"$MYVPN" show "$P-a$c" --json >/dev/null 2>&1 || true
		at b wg show "$P-b$c" transfer >/dev/null 2>&1 || true
		kill -0 "$A" 2>/dev/null || fail "case $c: myvpn on a died: $(last_words "$TMP/a$c.log")"
		kill -0 "$B" 2>/dev/null || fail "case $c: myvpn on b died: $(last_words "$TMP/b$c.log")"
		all_done=1
		for n in "${pids[@]}"; do kill -0 "$n" 2>/dev/null && all_done=0; done
		[ "$all_done" = 1 ] && break
		sleep 0.2
	done
	for n in "${!pids[@]}"; do
		wait "${pids[$n]}" || fail "case $c: transfer ${names[$n]} failed"
		wait "${rpids[$n]}" || fail "case $c: receiver of ${names[$n]} failed"
	done
	for spec in "$@"; do
		IFS=: read -r from to port mb <<<"$spec"
		[ "$(sha256sum <"$TMP/blob$port")" = "$(sha256sum <"$TMP/got$port")" ] ||
			fail "case $c: flow $from->$to:$port: $(stat -c %s "$TMP/got$port") of $((mb * 1000000)) bytes, checksum mismatch"
		rm -f "$TMP/blob$port" "$TMP/got$port"
	done
	log "case $c: $# parallel transfers arrived intact"
}

# workers_counted IFNAME MIN: `myvpn show IFNAME --prometheus` has both workers' datagram
# counters (myvpn_worker_{rx,tx}_packets_total), and together they count at least MIN each way.
# One peer's datagrams all reach one socket of the group (the kernel hashes the address pair),
# so one worker may carry all of them: the split is logged, not asserted.
workers_counted() {
	local text counts sum
	text=$("$MYVPN" show "$1" --prometheus) || fail "myvpn show $1 --prometheus failed"
	for dir in rx tx; do
		counts=$(sed -n "s/^myvpn_worker_${dir}_packets_total{.*worker=\"[0-9]*\"} \([0-9]*\)$/\1/p" <<<"$text")
		[ "$(wc -l <<<"$counts")" -eq 2 ] ||
			fail "$1: expected 2 workers' $dir counters, got: $(grep worker_${dir}_packets <<<"$text")"
		sum=$(paste -sd+ <<<"$counts" | bc)
		[ "$sum" -ge "$2" ] || fail "$1: the workers counted $sum $dir datagrams, fewer than the $2 the transfers took"
		log "$1: $dir datagrams per worker: $(tr '\n' ' ' <<<"$counts")"
	done
}

# 1. --workers 2
start 2 --workers 2
for side in a b; do
	details=$(at "$side" ip -d link show "$P-${side}2")
	grep -qw multi_queue <<<"$details" || fail "$P-${side}2 is not multi_queue: $details"
	grep -qw "numqueues 16" <<<"$details" || fail "$P-${side}2 does not have 2 x 8 queues: $details"
done
ping_ok b 10.40.0.1 || fail "ping b -> a"
ping_ok a fd40::2 || fail "IPv6 ping through the tunnel"
bg iperfd b iperf3 -s -1 -B 10.40.0.2 -p 5201
wait_until 5 at b sh -c "ss -ltn | grep -q ':5201 '" || fail "iperf3 server did not start"
at a iperf3 -c 10.40.0.2 -p 5201 -P 4 -t 3 -J >"$TMP/iperf.json" 2>&1 &
IPERF=$!
PIDS+=("$IPERF")
transfers 2 a:b:5001:16 a:b:5002:16 b:a:5003:16 b:a:5004:16
wait "$IPERF" || fail "iperf3 -P 4 failed: $(tail -20 "$TMP/iperf.json")"
streams=$(grep -c '"socket":' "$TMP/iperf.json" || true)
[ "$streams" -ge 4 ] || fail "iperf3 ran $streams streams"
# The end section lists each stream's sum_received; none may be empty.
zero=$(sed -n '/"end"/,$p' "$TMP/iperf.json" | sed -n '/"receiver"/,/}/p' | grep '"bytes"' | tr -dc '0-9\n' | grep -cx 0 || true)
[ "$zero" -eq 0 ] || fail "an iperf3 stream received nothing"
log "iperf3 -P 4: $(( $(iperf_received_bytes "$TMP/iperf.json") / 1000000 )) MB received"
# 32 MB each way in the transfers alone: at least 22,000 full-sized datagrams each way.
workers_counted "$P-a2" 22000; workers_counted "$P-b2" 22000
kill -0 "$A" && kill -0 "$B" || fail "a daemon died"
stop 2

# 2. --workers 1
start 1 --workers 1
log "case 1: $(at a ip -d link show "$P-a1" | grep -o 'multi_queue numqueues [0-9]*' || echo 'single queue')"
at a ping -c 5 -i 0.1 -q 10.40.0.2 >/dev/null || fail "case 1: ping lost packets"
transfers 1 a:b:5011:16
stop 1

# 3. the default worker count: ping works.
start d
at a ping -c 5 -i 0.1 -q 10.40.0.2 >/dev/null || fail "case default: ping lost packets"
ping_ok b fd40::1 || fail "case default: IPv6 ping b -> a"
log "case default: $(at a ip -d link show "$P-ad" | grep -o 'multi_queue numqueues [0-9]*' || echo 'single queue')"
stop d
log "ok"
