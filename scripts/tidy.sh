#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over feeds/, config/ and daemon/ (docs/development.md):
#   scripts/tidy.sh [check] [FILE...]   report the findings and a count per check; exit 1 when there is any
#   scripts/tidy.sh fix [FILE...]       the same, applying the fixes clang-tidy offers (review the diff)
# Uses build/compile_commands.json (configured first when missing; ALMANAC_BUILD_DIR overrides the
# directory) and ALMANAC_JOBS files at a time (2). The full report goes to BUILD_DIR/clang-tidy.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ALMANAC_BUILD_DIR:-$here/build}
jobs=${ALMANAC_JOBS:-2}

mode=check
case "${1:-}" in check | fix) mode=$1; shift ;; -*) echo "usage: scripts/tidy.sh [check|fix] [FILE...]" >&2; exit 2 ;; esac

# shellcheck source=scripts/lib.sh
source "$here/scripts/lib.sh"
install_missing clang-tidy
[ -f "$build_dir/compile_commands.json" ] ||
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${ALMANAC_CMAKE_ARGS:-} >/dev/null

cd "$here"
if [ $# -eq 0 ]; then
  mapfile -t files < <(git ls-files 'feeds/*.cpp' 'config/*.cpp' 'daemon/*.cpp')
else
  files=("$@")
fi

fix=
[ "$mode" = fix ] && fix=-fix
report=$build_dir/clang-tidy.txt
parts=$(mktemp -d)
trap 'rm -rf "$parts"' EXIT
# One clang-tidy per file, $jobs at a time, each into a file of its own so that outputs do not mix.
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} sh -c 'clang-tidy -p "$1" --quiet $2 "$3" >"$4/$(echo "$3" | tr / _).txt" 2>/dev/null' \
    _ "$build_dir" "$fix" {} "$parts" || true
cat "$parts"/*.txt >"$report"

# A finding is a "file:line:col: warning|error: message [check]" line; a header's findings repeat
# once per file including it, so each is counted once.
findings=$(grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): .*\[[a-z0-9.,-]+\]$' "$report" | sort -u || true)
if [ -z "$findings" ]; then
  echo "clang-tidy: no findings in ${#files[@]} files"
  exit 0
fi
echo "$findings"
echo
echo "== findings per check (${#files[@]} files; full report: $report)"
echo "$findings" | sed -E 's/.*\[([^]]*)\]$/\1/' | sort | uniq -c | sort -rn
echo "== $(echo "$findings" | wc -l) findings"
exit 1
