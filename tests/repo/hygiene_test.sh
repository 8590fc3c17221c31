#!/usr/bin/env bash
# The repository stands alone and carries no leftovers: no tracked file refers to a folder beside the
# clone (a user's clone has nothing beside it), and no merge or editor leftover is tracked outside the
# fixtures that need one (tests/fixtures/ holds an editor backup on purpose: almanac must ignore it).
# usage: hygiene_test.sh ALMANAC SOURCE_DIR
source "$(dirname "${BASH_SOURCE[0]}")/../script_harness.sh"

# The tracked files; in an export without .git, every file but the build trees.
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z) >"$tmp/files"
else
  (cd "$src" && find . -path './build*' -prune -o -path '*/node_modules' -prune -o -type f -printf '%P\0') >"$tmp/files"
fi
count=$(tr -cd '\0' <"$tmp/files" | wc -c)
[ "$count" -gt 100 ] && ok "$count files listed" || fail "only $count files listed"

# Written in two parts so that this file does not name the folder itself.
beside="../"shared
(cd "$src" && xargs -0 grep -l -F -- "$beside" <"$tmp/files") >"$tmp/outside" 2>/dev/null
if [ -s "$tmp/outside" ]; then fail "files refer to $beside, outside the clone:"; sed 's/^/    /' "$tmp/outside"
else ok "no file refers to $beside"; fi

# Merge and editor leftovers: *.orig, *.rej, *~, .#*.
tr '\0' '\n' <"$tmp/files" | grep -E '\.(orig|rej)$|~$|(^|/)\.#' | grep -v '^tests/fixtures/' >"$tmp/leftovers"
if [ -s "$tmp/leftovers" ]; then fail "merge or editor leftovers are tracked:"; sed 's/^/    /' "$tmp/leftovers"
else ok "no merge or editor leftover"; fi

# The checks themselves catch what they look for.
mkdir -p "$tmp/probe"
printf 'see %s/SPEC.md\n' "$beside" >"$tmp/probe/doc.md"
grep -q -l -F -- "$beside" "$tmp/probe/doc.md" && ok "the reference check sees a reference" || fail "the reference check is blind"
printf 'a.cpp.orig\nb/.#c.md\nd.rej\ne.md~\n' | grep -c -E '\.(orig|rej)$|~$|(^|/)\.#' | grep -qx 4 \
  && ok "the leftover pattern matches every kind" || fail "the leftover pattern misses a kind"

finish
