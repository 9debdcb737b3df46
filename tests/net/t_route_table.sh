#!/bin/bash
# Table in a -c file, as wg-quick reads it: off puts no route anywhere; a number or a name puts
# every allowed IP's route (the default route included) into that table and sets up no full
# tunnel (no rules, nothing in main); auto (the default) routes the allowed IPs in main. A
# route someone else made to the same prefix stays as it was, and the tunnel still works. A
# reload keeps the routes in their table; a Table that does not resolve is a one-line error.
#
#   a (192.0.2.1) ── veth ── b (192.0.2.2); tunnel 10.60.0.0/24
. "$(dirname "$0")/lib.sh"

topo_direct
wg_keys a; wg_keys b
wg_conf b a 10.60.0.2/24 10.60.0.1/32 192.0.2.1:51820
bg mb b "$MYVPN" -c "$TMP/b.conf" -i "$P-tb"
wait_ready mb

# run_a CASE TABLE_LINE: a with allowed IPs 10.61.0.0/24, 0.0.0.0/0 and that Table line (none
# if empty); the routing state of a's namespace while it runs goes to $TMP/CASE.routes and
# $TMP/CASE.rules. Sets A.
run_a() {
	wg_conf a b 10.60.0.1/24 "10.61.0.0/24, 0.0.0.0/0" 192.0.2.2:51820
	[ -z "$2" ] || sed -i "/^Address/a $2" "$TMP/a.conf"
	bg "a$1" a "$MYVPN" -c "$TMP/a.conf" -i "$P-t$1"
	A=$BG_PID
	wait_ready "a$1"
	ping_eventually a 5 10.60.0.2 || fail "$1: no ping through the tunnel: $(tail -3 "$TMP/a$1.log")"
	at a ip route show table all | grep -v -e '^local' -e '^multicast' -e '^fe80' -e '^broadcast' \
		-e '^ff00' >"$TMP/$1.routes"
	at a ip rule show >"$TMP/$1.rules"
	stop_pid "$A"
}
rules_untouched() {
	[ "$(wc -l <"$TMP/$1.rules")" -eq 3 ] || fail "$1: rules were added: $(cat "$TMP/$1.rules")"
}

run_a off "Table = off"
! grep -q "10.61.0.0/24" "$TMP/off.routes" || fail "Table = off, yet: $(grep 10.61 "$TMP/off.routes")"
! grep -q "^default dev $P-toff" "$TMP/off.routes" || fail "Table = off made a default route"
rules_untouched off

run_a num "Table = 1234"
grep -q "^10.61.0.0/24 dev $P-tnum table 1234" "$TMP/num.routes" ||
	fail "Table = 1234: no route for 10.61.0.0/24 there: $(cat "$TMP/num.routes")"
grep -q "^default dev $P-tnum table 1234" "$TMP/num.routes" ||
	fail "Table = 1234: no default route there: $(cat "$TMP/num.routes")"
! grep "dev $P-tnum" "$TMP/num.routes" | grep -v "table 1234" | grep -vq "proto kernel" ||
	fail "Table = 1234, yet routes elsewhere: $(grep "dev $P-tnum" "$TMP/num.routes")"
rules_untouched num

# auto, with a route to 10.61.0.0/24 that was there before: it stays, through lo.
at a ip route add 10.61.0.0/24 dev lo
run_a auto ""
grep -q "^10.61.0.0/24 dev lo" "$TMP/auto.routes" ||
	fail "the existing route to 10.61.0.0/24 was replaced: $(grep 10.61 "$TMP/auto.routes")"
at a ip route del 10.61.0.0/24 dev lo
run_a auto2 ""
grep -q "^10.61.0.0/24 dev $P-tauto2 scope link" "$TMP/auto2.routes" ||
	fail "auto: no route for 10.61.0.0/24 in main: $(cat "$TMP/auto2.routes")"

# a reload (SIGHUP) keeps the routes where they are: a bad Table changes nothing, another one
# is warned about; the daemon runs on in both cases
wg_conf a b 10.60.0.1/24 "10.60.0.2/32, 10.61.0.0/24" 192.0.2.2:51820
sed -i '/^Address/a Table = 1234' "$TMP/a.conf"
bg ahup a "$MYVPN" -c "$TMP/a.conf" -i "$P-thup"
A=$BG_PID
wait_ready ahup
sed -i 's/^Table = 1234/Table = no-such-table/' "$TMP/a.conf"
kill -HUP "$A"
wait_until 5 grep -q "Table 'no-such-table' is not a table named in /etc/iproute2/rt_tables; configuration unchanged" \
	"$TMP/ahup.log" || fail "a bad Table on reload: $(tail -2 "$TMP/ahup.log")"
sed -i 's/^Table = no-such-table/Table = 4321/' "$TMP/a.conf"
kill -HUP "$A"
wait_until 5 grep -q "a new Table takes a restart" "$TMP/ahup.log" ||
	fail "another Table on reload: $(tail -2 "$TMP/ahup.log")"
kill -0 "$A" || fail "the reloads stopped the daemon"
at a ip route show table 1234 | grep -q "^10.61.0.0/24 dev $P-thup" || fail "the routes left table 1234"
[ -z "$(at a ip route show table 4321 2>/dev/null)" ] || fail "routes went to table 4321 on reload"
ping_eventually a 5 10.60.0.2 || fail "no ping after the reloads"
stop_pid "$A"

# a Table that does not resolve: one line, FILE:LINE, nothing left behind
wg_conf a b 10.60.0.1/24 10.61.0.0/24 192.0.2.2:51820
sed -i '/^Address/a Table = no-such-table' "$TMP/a.conf"
out=$(at a "$MYVPN" -c "$TMP/a.conf" -i "$P-tbad" 2>&1) && fail "an unknown Table was accepted"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "more than one line: $out"
grep -q "a.conf:5: Table 'no-such-table' is not a table named in /etc/iproute2/rt_tables" <<<"$out" ||
	fail "unclear error: $out"
! at a ip link show "$P-tbad" >/dev/null 2>&1 || fail "the interface was left behind"
log "ok"
