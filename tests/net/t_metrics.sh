#!/bin/bash
# Prometheus metrics: myvpn (-c file with Metrics =, and --metrics) serves /metrics, scraped
# by Debian's prometheus every second. Its HTTP API sees wireguard_peer_receive_bytes_total
# grow during a transfer, and a replayed data datagram raise
# myvpn_dropped_packets_total{reason="replay"}. Unknown paths get 404, an oversized request is
# closed, and `myvpn show --prometheus` prints the same families.
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/install-deps)"
topo_direct
wg_keys a; wg_keys b
MPORT=9586 PPORT=9090

wg_conf a b 10.20.0.1/24 10.20.0.2/32 192.0.2.2:51820 "PersistentKeepalive = 25"
printf 'Metrics = 127.0.0.1:%s\n' "$MPORT" >>"$TMP/a.conf.extra"
sed -i "/^\[Interface\]/r $TMP/a.conf.extra" "$TMP/a.conf"
wg_conf b a 10.20.0.2/24 10.20.0.1/32 192.0.2.1:51820
# UDP only: the replay below is of a UDP datagram, and a, started first, could otherwise find b
# silent and move to TCP (the auto transport) before b is up
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta" --workers 2 --transport udp
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb" --metrics "127.0.0.1:$MPORT" --transport udp
wait_ready a; wait_ready b
ping_eventually a 10 10.20.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"

# The server by hand: the families, 404, 405, a request too large.
scrape() { at "$1" curl -sS --max-time 3 "http://127.0.0.1:$MPORT/metrics"; }
out=$(scrape a) || fail "no /metrics: $(cat "$TMP/a.log")"
expect() { grep -qE -- "$1" <<<"$out" || fail "no /$1/ in /metrics"; }
B_PUB=$(sed 's/[+/]/\\&/g' "$TMP/b.pub")
expect "^wireguard_peer_receive_bytes_total\{device=\"$P-ta\",public_key=\"$B_PUB\"\} [1-9][0-9]*$"
expect "^wireguard_peer_transmit_bytes_total\{device=\"$P-ta\",public_key=\"$B_PUB\"\} [1-9][0-9]*$"
expect "^wireguard_peer_last_handshake_seconds\{device=\"$P-ta\",public_key=\"$B_PUB\"\} [1-9][0-9]{9}$"
expect "^wireguard_peer_info\{device=\"$P-ta\",public_key=\"$B_PUB\",allowed_ips=\"10\.20\.0\.2/32\",endpoint=\"192\.0\.2\.2:51820\"\} 1$"
expect "^# TYPE myvpn_dropped_packets_total counter$"
expect "^myvpn_worker_rx_packets_total\{device=\"$P-ta\",worker=\"1\"\} [0-9]+$"
expect "^myvpn_handshakes_total\{device=\"$P-ta\",result=\"accepted\"\} [0-9]+$"
# every drop reason of the table, one line each
reasons=$(grep -c '^myvpn_dropped_packets_total{' <<<"$out")
[ "$reasons" -ge 25 ] || fail "only $reasons drop reasons in /metrics"
code=$(at a curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")
[ "$code" = 404 ] || fail "unknown path answered $code, not 404"
code=$(at a curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")
[ "$code" = 405 ] || fail "POST answered $code, not 405"
big=$(head -c 8000 /dev/zero | tr '\0' a)
reply=$(at a curl -s --max-time 3 -H "X-Big: $big" "http://127.0.0.1:$MPORT/metrics" || true)
[ -z "$reply" ] || fail "an oversized request was answered"
scrape b | grep -q "^myvpn_peers{device=\"$P-tb\"} 1$" || fail "--metrics on the command line serves nothing"
# the same families from the control socket
diff <(grep '^# ' <<<"$out") <("$MYVPN" show "$P-ta" --prometheus | grep '^# ') >&2 ||
	fail "myvpn show --prometheus differs from /metrics"

# A real Prometheus, scraping every second.
cat >"$TMP/prom.yml" <<CONF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: myvpn
    static_configs: [ { targets: ['127.0.0.1:$MPORT'] } ]
CONF
bg prom a prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/promdata" \
	--web.listen-address="127.0.0.1:$PPORT"
# query EXPR: the value of the first sample, or nothing
query() {
	at a curl -sS --max-time 2 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		grep -o '"value":\[[0-9.]*,"[0-9.e+]*"\]' | head -1 | sed 's/.*,"\(.*\)"\]/\1/'
}
rx_query="wireguard_peer_receive_bytes_total{device=\"$P-ta\",public_key=\"$(cat "$TMP/b.pub")\"}"
has_rx() { [ -n "$(query "$rx_query")" ]; }
wait_until 20 has_rx || fail "prometheus has no wireguard_peer_receive_bytes_total: $(tail -5 "$TMP/prom.log")"
rx0=$(query "$rx_query")
at b ping -c 100 -i 0.01 -s 1000 -q 10.20.0.1 >/dev/null || fail "ping lost packets"
grew() { [ "$(query "$rx_query")" -gt $((rx0 + 100000)) ]; }
wait_until 10 grew || fail "receive bytes did not grow in prometheus: $rx0 -> $(query "$rx_query")"
log "prometheus: receive bytes $rx0 -> $(query "$rx_query")"

# A replayed data datagram: captured on a's side, sent again from b.
replay_query="myvpn_dropped_packets_total{device=\"$P-ta\",reason=\"replay\"}"
[ "$(query "$replay_query")" = 0 ] || fail "replay drops before any replay: $(query "$replay_query")"
# tcpdump may take seconds to start on a busy host (the fuzzers run alongside): ping once it
# says it listens, until it has its datagram
bg dump a timeout 20 tcpdump -i "$P-a" -c 1 -w "$TMP/data.pcap" 'udp dst port 51820 and udp[8] = 4 and greater 100'
dump=$BG_PID
wait_until 15 grep -q "listening on" "$TMP/dump.log" || fail "tcpdump did not start: $(cat "$TMP/dump.log")"
for _ in $(seq 40); do
	kill -0 "$dump" 2>/dev/null || break
	at b ping -c 1 -W 1 -s 200 -q 10.20.0.1 >/dev/null || fail "ping lost"
	sleep 0.25
done
wait "$dump" || fail "no data datagram captured: $(cat "$TMP/dump.log")"
hex=$(tcpdump -r "$TMP/data.pcap" -x 2>/dev/null | sed -n 's/^\s*0x[0-9a-f]*:\s*//p' | tr -d ' \n' | cut -c57-)
[ -n "$hex" ] || fail "empty capture"
at b bash -c 'printf "%b" "$(sed "s/../\\\\x&/g" <<<"$1")" | socat -u - UDP:192.0.2.1:51820' _ "$hex"
replayed() { [ "$(query "$replay_query")" -ge 1 ] 2>/dev/null; }
wait_until 10 replayed || fail "prometheus saw no replay drop: $(query "$replay_query"); $(scrape a | grep replay)"
ping_ok a 10.20.0.2 || fail "the tunnel broke after the replay"
log "ok"
