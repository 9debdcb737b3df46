#!/bin/bash
# The control socket serves every client and never stalls:
# - a request over the size limit is read to its end and answered with an error (no EPIPE);
# - 20 clients dripping a byte every 0.3 s do not delay a `wg show`, and are closed in time;
# - beside them, 50 concurrent `wg show`, ten rounds: all 500 succeed;
# - at the fd limit, extra clients cause no busy loop, and `wg show` answers once they leave.
. "$(dirname "$0")/lib.sh"
ns_add a
IF=$P-u
bg d a "$MYVPN" -f "$IF"
D=$BG_PID
wait_until 5 test -S "/var/run/wireguard/$IF.sock" || fail "myvpn did not start: $(cat "$TMP/d.log")"
SOCK=/var/run/wireguard/$IF.sock

cat >"$TMP/client.py" <<'PY'
import socket, sys, time
path, what = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
if what == "oversized":
    # set=1, then 65 MiB of comment-free junk lines, then the end: over UAPI_MAX_REQUEST
    s = conn()
    s.sendall(b"set=1\n")
    line = b"x" * 1023 + b"\n"
    chunk = line * 1024
    for _ in range(65):
        s.sendall(chunk)
    s.sendall(b"\n")
    print(s.recv(4096).decode().strip())
elif what == "drip":
    n = int(sys.argv[3])
    socks = [conn() for _ in range(n)]
    print("ready", flush=True)
    try:
        for b in b"get=1" * 20:
            for s in socks:
                s.send(bytes([b]))
            time.sleep(0.3)
    except OSError as e:
        print("closed by the server:", e, flush=True)
elif what == "hold":
    socks = []
    try:
        for _ in range(int(sys.argv[3])):
            socks.append(conn())
    except OSError:
        pass
    print("holding", len(socks), flush=True)
    time.sleep(float(sys.argv[4]))
PY

# 1. oversized
reply=$(python3 "$TMP/client.py" "$SOCK" oversized) || fail "oversized request: the client failed (EPIPE?)"
[ "$reply" = "errno=-90" ] || fail "oversized request: answer '$reply', not errno=-90 (EMSGSIZE)"
log "a 65 MiB request is read to its end and refused: $reply"

# 2. drippers, and beside them 50 x 10 concurrent wg show (wg finds the socket by name, from
# any namespace)
bg drip a python3 "$TMP/client.py" "$SOCK" drip 20
DRIP=$BG_PID
wait_until 5 grep -q ready "$TMP/drip.log" || fail "drippers did not start"
start=$(date +%s%N)
timeout 2 wg show "$IF" >/dev/null || fail "wg show failed beside 20 dripping clients"
log "wg show beside 20 drippers: $(( ($(date +%s%N) - start) / 1000000 )) ms"
bad=0
for round in $(seq 10); do
	pids=()
	for i in $(seq 50); do wg show "$IF" >/dev/null 2>>"$TMP/show.err" & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
done
[ "$bad" -eq 0 ] || fail "$bad of 500 concurrent wg show failed: $(sort "$TMP/show.err" | uniq -c)"
log "500 concurrent wg show beside the drippers: all succeeded"
wait_until 10 grep -q "closed by the server" "$TMP/drip.log" || fail "dripping clients were never closed"
wait "$DRIP" || true

# 4. fd limit
ticks() { awk '{ print $14 + $15 }' "/proc/$D/stat"; }
# a limit just above the fds the daemon holds: four clients fill it
prlimit --pid "$D" --nofile=$(( $(ls "/proc/$D/fd" | wc -l) + 4 ))
bg hold a python3 "$TMP/client.py" "$SOCK" hold 20 4
HOLD=$BG_PID
wait_until 5 grep -q holding "$TMP/hold.log" || fail "holder did not start"
# more clients than fds: they wait or are refused; the daemon must not spin meanwhile
for i in $(seq 5); do timeout 1 wg show "$IF" >/dev/null 2>&1 & done
t0=$(ticks); sleep 2; t1=$(ticks)
log "at the fd limit: $(( t1 - t0 )) CPU ticks in 2 s; $(grep -c "cannot accept" "$TMP/d.log" || true) log lines"
[ $(( t1 - t0 )) -lt 50 ] || fail "the daemon spins at the fd limit: $(( t1 - t0 )) ticks in 2 s"
wait "$HOLD" || true
wait_until 5 wg show "$IF" || fail "wg show does not answer after the extra clients left"

kill -0 "$D" || fail "the daemon died"
log "ok"
