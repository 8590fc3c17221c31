#!/usr/bin/env bash
# The C++ layout of .clang-format (docs/development.md, "Formatting"):
#   scripts/format.sh check [FILE...]   print the diff and exit 1 when a file's layout drifts from it
#   scripts/format.sh apply [FILE...]   rewrite the files in place
# Without FILE: every tracked .cpp and .hpp under feeds/, config/, daemon/ and tests/.
# Debian 12's clang-format (14) is the reference: other versions may lay out a few lines differently.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-}
case "$mode" in
  check | apply) shift ;;
  *) echo "usage: scripts/format.sh check|apply [FILE...]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/lib.sh
source "$here/scripts/lib.sh"
install_missing clang-format

cd "$here"
if [ $# -eq 0 ]; then
  mapfile -t files < <(git ls-files 'feeds/*.[ch]pp' 'config/*.[ch]pp' 'daemon/*.[ch]pp' 'tests/*.[ch]pp')
else
  files=("$@")
fi

if [ "$mode" = apply ]; then
  clang-format -i --style=file "${files[@]}"
  exit 0
fi

drifted=0
for f in "${files[@]}"; do
  if ! clang-format --style=file "$f" | diff -u --label "a/$f" --label "b/$f" "$f" -; then
    drifted=$((drifted + 1))
  fi
done
if [ $drifted -gt 0 ]; then
  echo "format: $drifted of ${#files[@]} files differ from .clang-format ($(clang-format --version)); scripts/format.sh apply rewrites them" >&2
  exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
