#!/bin/bash
# Bad input: command-line errors give one clear line, a non-zero exit and no leftover interface;
# malformed datagrams are dropped and counted per reason, never reach the TUN, and the tunnel
# keeps working.
. "$(dirname "$0")/lib.sh"
topo_direct

links() { at a ip -o link show | wc -l; }
base_links=$(links)

# expect_error "message fragment" args...: exit status non-zero, exactly one line on stderr.
expect_error() {
	local want=$1 status=0; shift
	at a "$@" >"$TMP/out" 2>"$TMP/err" || status=$?
	[ "$status" -ne 0 ] || fail "'$*' exited 0"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "'$*' printed more than one line: $(cat "$TMP/err")"
	grep -q -- "$want" "$TMP/err" || fail "'$*': expected '$want', got: $(cat "$TMP/err")"
	[ "$(links)" -eq "$base_links" ] || fail "'$*' left an interface behind: $(at a ip -o link)"
}

expect_error "unknown option '--bogus'" "$MYVPN" --bogus
expect_error "option '-a' needs an argument" "$MYVPN" -a
expect_error "missing -a ADDRESS" "$MYVPN_NAT" --mode client
expect_error "invalid address '300.1.1.1'" "$MYVPN" -a 300.1.1.1
expect_error "invalid address '10.0.0.1/40'" "$MYVPN" -a 192.0.2.2 --address 10.0.0.1/40
expect_error "port '70000' out of range" "$MYVPN" -a 192.0.2.2 -p 70000
expect_error "listen port '65536' out of range" "$MYVPN" -a 192.0.2.2 -s 65536
expect_error "MTU '100' out of range" "$MYVPN" -a 192.0.2.2 --mtu 100
expect_error "invalid interface name 'averyveryverylongname'" "$MYVPN" -a 192.0.2.2 -i averyveryverylongname
expect_error "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups "$MYVPN" -a 192.0.2.2 -s 40000
expect_error "-t command failed (status 1)" "$MYVPN" -a 192.0.2.2 -i "$P-tx" -t "false %s"
expect_error "cannot add address" "$MYVPN" -a 192.0.2.2 -i "$P-tx" --address fe80::1/64 --address fe80::1/64
bg busy a "$MYVPN" -a 192.0.2.2 -s 40100 -i "$P-tbusy"
wait_ready busy
base_links=$(links)
expect_error "cannot listen on UDP port 40100: Address already in use" "$MYVPN" -a 192.0.2.2 -s 40100 -i "$P-tx"
stop_pid "$BG_PID"
busy_gone() { [ "$(links)" -eq $((base_links - 1)) ]; }
wait_until 3 busy_gone || fail "interface left after SIGTERM"
base_links=$(links)
# Encrypted mode: a bad config line is FILE:LINE: message; bad keys are named.
printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.1.0.0/33\n' \
	"$("$MYVPN" genkey)" "$("$MYVPN" genkey | "$MYVPN" pubkey)" >"$TMP/bad.conf"
chmod 600 "$TMP/bad.conf"
expect_error "$TMP/bad.conf:7: " "$MYVPN" -c "$TMP/bad.conf" -i "$P-tx"
printf '[Interface]\nPrivateKey = %s\nPortMapping = maybe\n' "$("$MYVPN" genkey)" >"$TMP/bad.conf"
expect_error "$TMP/bad.conf:3: PortMapping 'maybe' is neither yes nor no" "$MYVPN" -c "$TMP/bad.conf" -i "$P-tx"
expect_error "invalid --port-mapping 'maybe' (yes or no)" "$MYVPN" -a 192.0.2.2 --port-mapping=maybe
printf '[Interface]\nPrivateKey = %s\n[Peer]\nPublicKey = %s\nTcpPort = 70000\n' \
	"$("$MYVPN" genkey)" "$("$MYVPN" genkey | "$MYVPN" pubkey)" >"$TMP/bad.conf"
expect_error "$TMP/bad.conf:5: TcpPort '70000' out of range (1-65535)" "$MYVPN" -c "$TMP/bad.conf" -i "$P-tx"
printf 'not a key\n' >"$TMP/bad.key"; chmod 600 "$TMP/bad.key"
expect_error "key file '$TMP/bad.key' does not hold a base64 key" "$MYVPN" -a 192.0.2.2 --private-key "$TMP/bad.key" --peer-key "$("$MYVPN" genkey)" -i "$P-tx"
"$MYVPN" genkey >"$TMP/good.key"; chmod 600 "$TMP/good.key"
expect_error "--peer-key 'AAAA' is not a base64 public key" "$MYVPN" -a 192.0.2.2 --private-key "$TMP/good.key" --peer-key AAAA -i "$P-tx"
expect_error "--peer-key needs --private-key" "$MYVPN" -a 192.0.2.2 --peer-key AAAA
log "command-line errors ok"

# The packet path. No IPv6 on the TUNs: router solicitations would blur the RX count below.
at a sysctl -qw net.ipv6.conf.default.disable_ipv6=1
at b sysctl -qw net.ipv6.conf.default.disable_ipv6=1
bg a a "$MYVPN" -a 192.0.2.2 -i "$P-ta" --address 10.9.0.1/24
A=$BG_PID
bg b b "$MYVPN" -a 192.0.2.1 -i "$P-tb" --address 10.9.0.2/24
wait_ready a; wait_ready b
ping_eventually b 5 10.9.0.1 || fail "tunnel did not come up"
tun_rx() { at a cat "/sys/class/net/$P-ta/statistics/rx_packets"; }
rx_before=$(tun_rx)

# Each datagram is built in a file and sent with one write (printf itself may write in pieces).
send() { printf "$1" >"$TMP/dgram"; at b bash -c "cat '$TMP/dgram' > /dev/udp/192.0.2.1/12345"; }
send 'mv\x01'                                          # short
send 'XX\x01\x01\x45\x00\x00\x14'                      # bad magic
send 'mv\x01\x07\x45\x00\x00\x14'                      # unknown type
send "mv\x01\x01$(head -c 2000 /dev/zero | tr '\0' E)" # oversized
send 'mv\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00'      # not IP
send 'mv\x01\x01\x45\x00\x03\xe8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' # claims 1000 bytes
# A well-formed packet, but from a port that is not the peer's.
send 'mv\x01\x01\x45\x00\x00\x14\x00\x00\x00\x00\x40\x01\x00\x00\x0a\x09\x00\x02\x0a\x09\x00\x01'
sleep 0.5
kill -USR1 "$A"
wait_until 3 grep -q "drops:" "$TMP/a.log" || fail "no counters on SIGUSR1"
drops=$(grep "drops:" "$TMP/a.log" | tail -1)
for want in short=1 bad_header=2 oversized=1 not_ip=1 bad_ip_length=1 unknown_source=1; do
	grep -q " $want" <<<"$drops" || fail "expected $want in: $drops"
done
[ "$(tun_rx)" -eq "$rx_before" ] || fail "a malformed datagram reached the TUN ($rx_before -> $(tun_rx))"
kill -0 "$A" || fail "myvpn died"
ping_ok b 10.9.0.1 || fail "tunnel broken after bad datagrams"
log "packet path ok"
