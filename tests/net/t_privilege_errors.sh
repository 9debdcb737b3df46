#!/bin/bash
# Privilege errors name their real cause, and the documented non-root way works:
# - a user who may not open /dev/net/tun is told its mode and owner (not "needs CAP_NET_ADMIN");
# - a non-root user with CAP_NET_ADMIN and access to the TUN node is told that the control
#   socket directory is not writable, and how to fix it;
# - with that directory its own, the same user runs `myvpn IF` and `wg show` answers.
# The TUN node and the directory are swapped only inside a private mount namespace.
. "$(dirname "$0")/lib.sh"
ns_add a
as_nobody() {
	ip netns exec "$NSNAME" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=+net_admin --ambient-caps=+net_admin "$@"
}

# 1. /dev/net/tun is 0600 root here, or made so in a private mount namespace
mknod "$TMP/tun600" c 10 200; chmod 600 "$TMP/tun600"
mknod "$TMP/tun666" c 10 200; chmod 666 "$TMP/tun666"
mkdir -m 755 "$TMP/run"; chown nobody "$TMP/run"
export -f as_nobody; export P TMP MYVPN
export NSNAME=$(ns a)
out=$(unshare -m --propagation private bash -c '
	mount --bind "$TMP/tun600" /dev/net/tun
	as_nobody "$MYVPN" -f "$P-n1"' 2>&1) && fail "myvpn started without access to /dev/net/tun"
log "no access to the TUN node: $out"
grep -q "cannot open /dev/net/tun: Permission denied (mode 0600, owner uid 0" <<<"$out" ||
	fail "the message does not name the mode of /dev/net/tun: $out"
grep -q "CAP_NET_ADMIN" <<<"$out" && fail "the message still blames CAP_NET_ADMIN: $out"

# 2. the TUN node is open to all, the socket directory is root's
out=$(unshare -m --propagation private bash -c '
	mount --bind "$TMP/tun666" /dev/net/tun
	as_nobody "$MYVPN" -f "$P-n2"' 2>&1) && fail "myvpn started without a writable socket directory"
log "no writable socket directory: $out"
grep -q "cannot open /var/run/wireguard/$P-n2.sock: Permission denied (the directory must be writable" <<<"$out" ||
	fail "the message does not name the socket directory: $out"

# 3. the same, with a socket directory of its own: it works
unshare -m --propagation private bash -c '
	mount --bind "$TMP/tun666" /dev/net/tun
	mount --bind "$TMP/run" /var/run/wireguard
	as_nobody "$MYVPN" "$P-n3" 2>"$TMP/n3.log" || exit 1
	wg show "$P-n3" >"$TMP/n3.show" || exit 2
	rm "/var/run/wireguard/$P-n3.sock"' || fail "non-root with CAP_NET_ADMIN: status $? $(cat "$TMP/n3.log")"
grep -q "listening port" "$TMP/n3.show" || fail "wg show: $(cat "$TMP/n3.show")"
log "non-root with CAP_NET_ADMIN, its own /var/run/wireguard: serves wg show"
log "ok"
