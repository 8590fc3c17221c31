#!/bin/sh
# Runs third-party checkers over every .rss, .atom and .json file under DIR (zone views included):
# xmllint (well-formed XML), jing with atom.rnc (RFC 4287), Ruby's validating RSS parser, feedparser
# (every field read back, formats agree) and ajv with jsonfeed.schema.json. One line per check, then
# "N passed, M failed" counting documents; exit 1 on any failure.
set -u
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: check_feeds.sh DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "$1" && pwd)  # absolute, as jing names files in its messages
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

find "$dir" -type f -name '*.rss' | LC_ALL=C sort >"$work/rss"
find "$dir" -type f -name '*.atom' | LC_ALL=C sort >"$work/atom"
find "$dir" -type f -name '*.json' | LC_ALL=C sort >"$work/json"
cat "$work/rss" "$work/atom" >"$work/xml"

passed=0
failed=0
# report NAME RESULTS: RESULTS holds "ok FILE" / "FAIL FILE: why" lines; prints the failures and
# one figure line, and adds to the totals.
report() {
  ok=$(grep -c '^ok ' "$2")
  bad=$(grep -c '^FAIL ' "$2")
  grep '^FAIL ' "$2" | sed 's/^/  /'
  printf '%-12s%d/%d documents pass\n' "$1:" "$ok" $((ok + bad))
  passed=$((passed + ok))
  failed=$((failed + bad))
}

: >"$work/out"
while read -r f; do
  if err=$(xmllint --noout "$f" 2>&1); then echo "ok $f"; else echo "FAIL $f: $(echo "$err" | head -1)"; fi
done <"$work/xml" >"$work/out"
report xmllint "$work/out"

# One jing run for all Atom files (the JVM starts once); a file is failed when jing names it.
: >"$work/out"
if [ -s "$work/atom" ]; then
  xargs jing -c "$here/atom.rnc" <"$work/atom" >"$work/jing" 2>/dev/null
  while read -r f; do
    msg=$(awk -v p="$f:" 'index($0, p) == 1 { print; exit }' "$work/jing")
    if [ -n "$msg" ]; then echo "FAIL $msg"; else echo "ok $f"; fi
  done <"$work/atom" >"$work/out"
fi
report jing "$work/out"

: >"$work/out"
[ -s "$work/rss" ] && xargs ruby "$here/check_rss.rb" <"$work/rss" >"$work/out" 2>&1
report ruby-rss "$work/out"

/usr/bin/python3 "$here/check_feedparser.py" "$dir" >"$work/out" 2>&1 || grep -q '^FAIL ' "$work/out" || echo "FAIL $dir: check_feedparser.py crashed: $(tail -1 "$work/out")" >>"$work/out"
report feedparser "$work/out"

: >"$work/out"
[ -s "$work/json" ] && xargs node "$here/validate_jsonfeed.js" <"$work/json" >"$work/out" 2>&1
report ajv "$work/out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
