#!/bin/bash
# Least privilege: --user nobody (a) and User = nobody in the file (b, on UDP port 500 below
# 1024) leave the daemon with that uid, exactly the capabilities it keeps, no_new_privs and a
# seccomp filter. The tunnel pings, `wg set listen-port` rebinds (below 1024 only where
# CAP_NET_BIND_SERVICE was kept), the gateway's teardown puts ip_forward back, a forbidden
# syscall kills the process with SIGSYS, and --no-sandbox leaves seccomp off.
. "$(dirname "$0")/lib.sh"
# A daemon running as nobody cannot remove its socket from root's directory: we do.
trap 'rm -f /var/run/wireguard/"$P"-t[abcd].sock; cleanup' EXIT
topo_direct
wg_keys a; wg_keys b
NOBODY=$(id -u nobody) NOGROUP=$(id -g nobody)
NET_ADMIN=0000000000001000 NET_ADMIN_BIND=0000000000001400

wg_conf a b 10.21.0.1/24 10.21.0.2/32 192.0.2.2:500 "PersistentKeepalive = 1"
sed -i "/^\[Interface\]/a Gateway = $P-a" "$TMP/a.conf"
WG_PORT=500 wg_conf b a 10.21.0.2/24 10.21.0.1/32 192.0.2.1:51820
sed -i "/^\[Interface\]/a User = nobody" "$TMP/b.conf"
bg a a "$MYVPN" -c "$TMP/a.conf" -i "$P-ta" --user nobody --workers 2
A_PID=$BG_PID
bg b b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb" --workers 2
B_PID=$BG_PID
wait_ready a; wait_ready b
wait_until 5 grep -q "running as user nobody" "$TMP/a.log" || fail "a did not switch user: $(cat "$TMP/a.log")"

# status PID FIELD: one line of /proc/PID/status, tabs as spaces
status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' '; }
check_confined() {
	local pid=$1 caps=$2 name=$3
	[ "$(status "$pid" Uid)" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] || fail "$name: Uid $(status "$pid" Uid)"
	[ "$(status "$pid" Gid)" = "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" ] || fail "$name: Gid $(status "$pid" Gid)"
	[ -z "$(status "$pid" Groups)" ] || fail "$name: supplementary groups kept: $(status "$pid" Groups)"
	[ "$(status "$pid" CapEff)" = "$caps" ] || fail "$name: CapEff $(status "$pid" CapEff), not $caps"
	[ "$(status "$pid" CapPrm)" = "$caps" ] || fail "$name: CapPrm $(status "$pid" CapPrm), not $caps"
	[ "$(status "$pid" CapBnd)" = 0000000000000000 ] || fail "$name: CapBnd $(status "$pid" CapBnd)"
	[ "$(status "$pid" NoNewPrivs)" = 1 ] || fail "$name: NoNewPrivs $(status "$pid" NoNewPrivs)"
	[ "$(status "$pid" Seccomp)" = 2 ] || fail "$name: Seccomp $(status "$pid" Seccomp)"
	# every thread, workers included
	for t in /proc/"$pid"/task/*; do
		grep -q "^CapEff:[[:space:]]*$caps$" "$t/status" || fail "$name: thread $t keeps more"
		grep -q "^Seccomp:[[:space:]]*2$" "$t/status" || fail "$name: thread $t unfiltered"
	done
}
check_confined "$A_PID" "$NET_ADMIN" a
check_confined "$B_PID" "$NET_ADMIN_BIND" b
ping_eventually a 10 10.21.0.2 || fail "no ping through the tunnel: $(cat "$TMP/a.log")"
# the control socket: still root's 0600, still served
[ "$(stat -c '%U %a' "/var/run/wireguard/$P-ta.sock")" = "root 600" ] || fail "socket is $(stat -c '%U %a' "/var/run/wireguard/$P-ta.sock")"
[ "$(at a sysctl -n net.ipv4.ip_forward)" = 1 ] || fail "the gateway did not turn on forwarding"

# Rebinding after the drop: a high port anywhere, a low one only with CAP_NET_BIND_SERVICE.
at a wg set "$P-ta" listen-port 51999 || fail "wg set listen-port failed after --user: $(tail -5 "$TMP/a.log")"
[ "$(at a wg show "$P-ta" listen-port)" = 51999 ] || fail "listen-port did not change"
! at a wg set "$P-ta" listen-port 600 2>/dev/null || fail "a rebound to port 600 without CAP_NET_BIND_SERVICE"
at b wg set "$P-tb" listen-port 501 || fail "b could not rebind to 501: $(tail -5 "$TMP/b.log")"
at a wg set "$P-ta" peer "$(cat "$TMP/b.pub")" endpoint 192.0.2.2:501
sleep 1
ping_eventually a 5 10.21.0.2 || fail "no ping after the rebinds"
ping_ok b 10.21.0.1 || fail "no ping from b after the rebinds"

# Teardown as nobody: clean exit, forwarding back to 0, the gateway table gone.
stop_pid "$A_PID"
[ "$STOPPED_STATUS" = 0 ] || fail "a exited with $STOPPED_STATUS: $(tail -5 "$TMP/a.log")"
[ "$(at a sysctl -n net.ipv4.ip_forward)" = 0 ] || fail "ip_forward not restored: $(tail -5 "$TMP/a.log")"
! at a nft list table inet "myvpn-$P-ta" >/dev/null 2>&1 || fail "the gateway table is left behind"

# A syscall outside the allowlist kills the process (SIGSYS: 128 + 31).
bg c a env MYVPN_TEST_FORBIDDEN_SYSCALL=1 "$MYVPN" -c "$TMP/a.conf" -i "$P-tc" --user nobody
C_PID=$BG_PID
status_c=0; wait "$C_PID" 2>/dev/null || status_c=$?
[ "$status_c" = 159 ] || fail "forbidden syscall: exit status $status_c, not 159 (SIGSYS): $(tail -3 "$TMP/c.log")"

# --no-sandbox: the user switch alone.
bg d a "$MYVPN" -c "$TMP/a.conf" -i "$P-td" --user nobody --no-sandbox
D_PID=$BG_PID
wait_ready d
wait_until 5 grep -q "running as user nobody" "$TMP/d.log" || fail "d did not switch user"
[ "$(status "$D_PID" Seccomp)" = 0 ] || fail "--no-sandbox: Seccomp $(status "$D_PID" Seccomp)"
[ "$(status "$D_PID" NoNewPrivs)" = 0 ] || fail "--no-sandbox: NoNewPrivs $(status "$D_PID" NoNewPrivs)"
[ "$(status "$D_PID" CapEff)" = "$NET_ADMIN" ] || fail "--no-sandbox: CapEff $(status "$D_PID" CapEff)"
log "ok: uid nobody, CapEff $NET_ADMIN / $NET_ADMIN_BIND, NoNewPrivs 1, Seccomp 2; rebind, teardown, SIGSYS"
