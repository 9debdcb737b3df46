#!/bin/bash
# t_workers.sh against the ThreadSanitizer build (make tsan: build/tsan/myvpn). Fails when the
# test fails or when any log it kept (every daemon's stderr) holds a ThreadSanitizer report.
# Not named t_*: tests/run-all does not run it; `make check-tsan` does.
#   tests/net/tsan-workers.sh        KEEP_LOGS=DIR keeps the logs there (default: a temporary
#                                    directory, removed when all is clean)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$ROOT/build/tsan/myvpn" ] || make -s -C "$ROOT" tsan || exit 1
logs=${KEEP_LOGS:-$(mktemp -d /tmp/myvpn-tsan.XXXXXX)}
mkdir -p "$logs"

MYVPN=$ROOT/build/tsan/myvpn KEEP_LOGS=$logs \
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
	bash "$ROOT/tests/net/t_workers.sh"
rc=$?

reports=$(grep -l "WARNING: ThreadSanitizer" "$logs"/*.log 2>/dev/null)
if [ -n "$reports" ]; then
	for f in $reports; do
		echo "== $f" >&2
		sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY: ThreadSanitizer/p' "$f" | head -80 >&2
	done
	echo "tsan-workers: ThreadSanitizer reports in: $reports" >&2
	rc=1
fi
ls "$logs"/*.log >/dev/null 2>&1 || { echo "tsan-workers: no logs kept in $logs" >&2; rc=1; }
if [ "$rc" -eq 0 ]; then
	echo "tsan-workers: ok, no ThreadSanitizer reports"
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$logs"
else
	echo "tsan-workers: FAIL (logs in $logs)" >&2
fi
exit "$rc"
