#!/bin/bash
# The netns suite against the daemon built with AddressSanitizer and UndefinedBehaviorSanitizer
# (make asan: build/asan/myvpn). Fails when a test fails or when the sanitizers reported
# anything: every report goes to a file of its own (log_path), also from a daemon that went to
# the background with its stderr closed, and every test's logs are kept and searched too.
# Not named t_*: tests/run-all does not run it; `make check-sanitized` does.
#   tests/net/sanitized.sh [NAME...]   NAME as in tests/run-all (uapi, wg_interop, ...);
#                                      default: every test. KEEP_LOGS=DIR keeps the logs there
#                                      (default: a temporary directory, removed when all is clean)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$ROOT/build/asan/myvpn" ] || make -s -C "$ROOT" asan || exit 1
logs=${KEEP_LOGS:-$(mktemp -d /tmp/myvpn-asan.XXXXXX)}
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)

# halt_on_error: the first report ends the daemon (and so its test); UBSan's checks cannot
# recover anyway (-fno-sanitize-recover=undefined). The daemon's seccomp sandbox forbids what
# LeakSanitizer (ptrace) and the symbolizer (a child process) need: no leak check, and the
# reports are symbolized here, afterwards.
MYVPN=$ROOT/build/asan/myvpn MYVPN_NAT=$ROOT/build/asan/myvpn_nat KEEP_LOGS=$logs NET_TESTS="$*" \
	ASAN_OPTIONS="halt_on_error=1 detect_leaks=0 symbolize=0 log_path=$logs/sanitizer ${ASAN_OPTIONS:-}" \
	UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1 symbolize=0 log_path=$logs/sanitizer ${UBSAN_OPTIONS:-}" \
	env -u SANITIZED -u TSAN -u WORKERS1_TESTS -u FUZZ_BINS "$ROOT/tests/run-all"
rc=$?

# A report in a file of its own, or in a log (a sanitizer started before log_path applied).
pattern='ERROR: (Address|Leak)Sanitizer|\.[ch]:[0-9]+:[0-9]+: runtime error:|SUMMARY: UndefinedBehaviorSanitizer'
# symbolize: each frame "(BINARY+0xOFFSET)" followed by its function and line.
symbolize() {
	local line
	while IFS= read -r line; do
		if [[ $line =~ \((/[^+\)]+)\+(0x[0-9a-f]+)\) ]]; then
			printf '%s  %s\n' "$line" "$(llvm-symbolizer --obj="${BASH_REMATCH[1]}" \
				"${BASH_REMATCH[2]}" 2>/dev/null | sed '/^$/d' | paste -sd' ')"
		else
			printf '%s\n' "$line"
		fi
	done
}
reports=$(ls "$logs"/sanitizer.* 2>/dev/null; grep -lE "$pattern" "$logs"/*.log 2>/dev/null)
if [ -n "$reports" ]; then
	for f in $reports; do
		echo "== $f" >&2
		grep -m1 -A30 -E "$pattern|ERROR: " "$f" | head -40 | symbolize >&2
	done
	echo "sanitized: sanitizer reports in: $(echo $reports)" >&2
	rc=1
fi
ls "$logs"/*.log >/dev/null 2>&1 || { echo "sanitized: no logs kept in $logs" >&2; rc=1; }
if [ "$rc" -eq 0 ]; then
	echo "sanitized: ok, no sanitizer reports"
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$logs"
else
	echo "sanitized: FAIL (logs in $logs)" >&2
fi
exit "$rc"
