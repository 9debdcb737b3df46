#!/bin/bash
# myvpn show: between two myvpn peers (-c files), `myvpn show IFNAME` prints what `wg show`
# prints (peer, endpoint, handshake, transfer) plus the drop counters, --json holds the same
# data, and a junk datagram sent to the listen port appears as a drop. stats=1 does not change
# what other requests get; a wireguard-go interface is shown without counters; a missing
# interface is one line and exit 1.
. "$(dirname "$0")/lib.sh"
topo_direct
wg_keys a; wg_keys b; wg_keys g
SOCK=/var/run/wireguard

# conf NAME PEER ADDRESS PEER_ADDRESS PEER_UNDERLAY
conf() { wg_conf "$1" "$2" "$3/24" "$4/32" "$5:51820" "PersistentKeepalive = 25"; }
conf a b 10.20.0.1 10.20.0.2 192.0.2.2
conf b a 10.20.0.2 10.20.0.1 192.0.2.1
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta"
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
wait_ready a; wait_ready b
ping_eventually a 10 10.20.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"
at a ping -c 3 -i 0.2 -q 10.20.0.2 >/dev/null || fail "ping lost packets"

# The text: wg's lines, then the drops.
out=$("$MYVPN" show "$P-ta") || fail "myvpn show $P-ta failed"
expect_line() { grep -qxE -- "$1" <<<"$out" || fail "no line /$1/ in:"$'\n'"$out"; }
expect_line "interface: $P-ta"
expect_line "  public key: $(sed 's/[+]/\\&/g' "$TMP/a.pub")"
expect_line "  private key: \(hidden\)"
expect_line "  listening port: 51820"
expect_line "peer: $(sed 's/[+]/\\&/g' "$TMP/b.pub")"
expect_line "  endpoint: 192\.0\.2\.2:51820"
expect_line "  allowed ips: 10\.20\.0\.2/32"
expect_line "  latest handshake: (Now|[0-9]+ seconds? ago)"
expect_line "  transfer: [0-9.]+ (B|KiB) received, [0-9.]+ (B|KiB) sent"
expect_line "  persistent keepalive: every 25 seconds"
expect_line "drops:( none)?"

# Everything above the drops is what wg itself prints. The handshake age may tick and a
# keepalive may pass between the two commands: a few tries.
same_as_wg() {
	local lines
	lines=$(wg show "$1" | wc -l)
	diff -u <(wg show "$1" | grep -v "latest handshake") \
		<("$MYVPN" show "$1" | head -n "$lines" | grep -v "latest handshake") >"$TMP/diff"
}
wait_until 3 same_as_wg "$P-ta" || fail "myvpn show differs from wg show: $(cat "$TMP/diff")"
lines=$(wg show "$P-ta" | wc -l)
[ "$("$MYVPN" show "$P-ta" | sed -n "$((lines + 1))p")" = "" ] || fail "no blank line before the drops"
"$MYVPN" show "$P-ta" | grep -A1 "^transport:$" | grep -q "^  peer .*: udp, 0 switches$" ||
	fail "no transport section: $("$MYVPN" show "$P-ta")"

# JSON: the same data, and well formed as far as grep can tell (python may be absent).
json=$("$MYVPN" show "$P-ta" --json) || fail "myvpn show --json failed"
expect_json() { grep -qE -- "$1" <<<"$json" || fail "no /$1/ in:"$'\n'"$json"; }
[ "$(head -c1 <<<"$json")" = "[" ] && [ "$(tail -n1 <<<"$json")" = "]" ] || fail "not an array: $json"
[ "$(tr -cd '{' <<<"$json" | wc -c)" = "$(tr -cd '}' <<<"$json" | wc -c)" ] || fail "unbalanced braces"
expect_json "\"interface\": \"$P-ta\","
expect_json "\"public_key\": \"$(sed 's/[+]/\\&/g' "$TMP/a.pub")\","
expect_json "\"listen_port\": 51820,"
expect_json "\"fwmark\": 0,"
expect_json "\"public_key\": \"$(sed 's/[+]/\\&/g' "$TMP/b.pub")\","
expect_json "\"endpoint\": \"192\.0\.2\.2:51820\","
expect_json "\"allowed_ips\": \[\"10\.20\.0\.2/32\"\],"
expect_json "\"latest_handshake\": [1-9][0-9]{9},"
expect_json "\"rx_bytes\": [1-9][0-9]*,"
expect_json "\"tx_bytes\": [1-9][0-9]*,"
expect_json "\"persistent_keepalive\": 25"
expect_json "\"counters\": \{"
expect_json "\"rx_packets\": [1-9][0-9]*,"
expect_json "\"drops\": \{"
expect_json "\"bad_header\": [0-9]+"
if command -v python3 >/dev/null && python3 -c 'import json' 2>/dev/null; then
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["peers"][0]["endpoint"]=="192.0.2.2:51820"' <<<"$json" ||
		fail "python cannot read the JSON"
fi

# A junk datagram to the listen port is dropped and counted (too short, or an unknown type).
junk_drops() {
	"$MYVPN" show "$P-ta" --json | sed -n 's/^ *"\(short\|bad_header\)": \([0-9]*\).*/\2/p' |
		awk '{ n += $1 } END { print n + 0 }'
}
before=$(junk_drops)
at b bash -c 'printf junk >/dev/udp/192.0.2.1/51820' || fail "cannot send the junk datagram"
wait_until 3 test "$(junk_drops)" -gt "$before" ||
	fail "the junk datagram was not counted: $("$MYVPN" show "$P-ta" --json)"
out=$("$MYVPN" show "$P-ta")
expect_line "drops:"
expect_line "  (short|bad_header): [1-9][0-9]*"
ping_ok a 10.20.0.2 || fail "the tunnel broke after the junk datagram"
log "junk counted: $(junk_drops) drop(s)"

# Without a name: every interface that answers, ours among them, one blank line between.
all=$("$MYVPN" show) || fail "myvpn show (all) failed"
grep -qx "interface: $P-ta" <<<"$all" || fail "myvpn show lists no $P-ta"
grep -qx "interface: $P-tb" <<<"$all" || fail "myvpn show lists no $P-tb"
"$MYVPN" show --json | grep -q "\"interface\": \"$P-tb\"," || fail "myvpn show --json lists no $P-tb"

# The raw extension, and that other requests are answered as before it.
stats=$(printf 'stats=1\n\n' | socat -t 2 - "UNIX-CONNECT:$SOCK/$P-ta.sock")
grep -qx "drop_bad_header=[0-9]*" <<<"$stats" || fail "stats=1 reply without drop_bad_header: $stats"
[ "$(tail -n1 <<<"$stats")" = "errno=0" ] || fail "stats=1 reply does not end with errno=0: $stats"
[ "$(printf 'stats=1\nx=1\n\n' | socat -t 2 - "UNIX-CONNECT:$SOCK/$P-ta.sock")" = "errno=-22" ] ||
	fail "stats=1 with a stray line is not refused"
[ "$(printf 'bogus=1\n\n' | socat -t 2 - "UNIX-CONNECT:$SOCK/$P-ta.sock")" = "errno=-22" ] ||
	fail "an unknown operation is not refused as before"
wg show "$P-ta" dump >/dev/null || fail "wg show fails after stats=1"

# A wireguard-go interface: what wg shows, without counters (it does not know stats=1).
bg wggo b env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$P-wg"
wait_until 5 test -S "$SOCK/$P-wg.sock" || fail "wireguard-go did not start: $(cat "$TMP/wggo.log")"
at b wg set "$P-wg" private-key "$TMP/g.key" listen-port 51821 peer "$(cat "$TMP/a.pub")" allowed-ips 10.30.0.1/32
diff -u <(wg show "$P-wg") <("$MYVPN" show "$P-wg") >&2 || fail "myvpn show differs from wg show for wireguard-go"
grep -q "drops" <("$MYVPN" show "$P-wg") && fail "wireguard-go shown with drops"
"$MYVPN" show "$P-wg" --json | grep -q '"counters": null,' || fail "wireguard-go shown with counters"

# A missing interface: one line, exit 1.
set +e
"$MYVPN" show "$P-none" >"$TMP/none.out" 2>"$TMP/none.err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "myvpn show of a missing interface exited $rc"
[ ! -s "$TMP/none.out" ] && [ "$(wc -l <"$TMP/none.err")" -eq 1 ] ||
	fail "expected one line on stderr: $(cat "$TMP/none.out" "$TMP/none.err")"
grep -q "no such interface" "$TMP/none.err" || fail "unclear error: $(cat "$TMP/none.err")"
log "ok"
