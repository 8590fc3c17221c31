# Shared by the shell tests: arguments ALMANAC SOURCE_DIR SHARED_DIR, a temp dir removed on exit,
# ok/fail counters and the closing "N passed, M failed" line. Source it; call `finish` last.
set -uo pipefail
almanac=$(realpath "$1") src=$(realpath "$2") shared=$(realpath "$3")
fails=0 passes=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok()   { passes=$((passes + 1)); echo "ok   $1"; }
fail() { fails=$((fails + 1)); echo "FAIL $1"; }
finish() { echo "$passes passed, $fails failed"; [ "$fails" -eq 0 ]; }
