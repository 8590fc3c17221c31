#!/usr/bin/env bash
# `almanac build` end to end: the corpus and the tricky ICS fixture site are built, checked by the
# third-party oracles (tests/conformance/ics/check_ics.sh, tests/conformance/feeds/check_feeds.sh),
# compared with the golden files, and rebuilt under another TZ/locale to prove byte-identical output.
# usage: build_test.sh ALMANAC SOURCE_DIR   (ALMANAC_UPDATE_GOLDEN=1 rewrites golden files)
source "$(dirname "${BASH_SOURCE[0]}")/../script_harness.sh"

export SOURCE_DATE_EPOCH=1700000000
build() { # config out [env...]
  local config=$1 out=$2; shift 2
  env "$@" "$almanac" build --config "$config" --out "$out" 2>"$out.log"
}

build "$src/examples/almanac.yaml" "$tmp/corpus" && ok "corpus build" || { fail "corpus build"; cat "$tmp/corpus.log"; }
for f in events.ics events.rss events.atom events.json meetups.ics newsletter.rss blog.atom blog.json \
         tz/Asia/Tokyo/events.ics tz/Europe/Stockholm/meetups.ics tz/UTC/events.json; do
  [ -s "$tmp/corpus/$f" ] && ok "wrote $f" || fail "missing $f"
done
count=$(find "$tmp/corpus" -type f | wc -l)
# Formats of the four feeds × (default view + five zones), index.html, and each calendar's events' own
# documents in the default view (17 in events, 6 in meetups; check_ics.sh checks there is one per event).
expected=$(( (4 + 3 + 3 + 3) * 6 + 1 + 17 + 6 ))
[ "$count" -eq "$expected" ] && ok "$count documents" || fail "$count documents, expected $expected"

# The index page: valid HTML, every feed linked by https and webcal.
if [ -s "$tmp/corpus/index.html" ] && xmllint --html --noout "$tmp/corpus/index.html" 2>"$tmp/index.err" && [ ! -s "$tmp/index.err" ]; then
  ok "index.html parses as HTML"
else
  fail "index.html"; head -5 "$tmp/index.err"
fi
grep -q 'webcal://todogroup.org/events.ics' "$tmp/corpus/index.html" && grep -q 'https://todogroup.org/blog.atom' "$tmp/corpus/index.html" \
  && ok "index.html links the feeds" || fail "index.html does not link the feeds"

# Determinism: another zone, locale and working directory give the same bytes.
(cd /tmp && build "$src/examples/almanac.yaml" "$tmp/corpus2" TZ=Pacific/Auckland LC_ALL=C.UTF-8 LANG=de_DE.UTF-8)
if diff -r -q "$tmp/corpus" "$tmp/corpus2" >/dev/null; then ok "byte-identical under another TZ and locale"; else fail "output depends on TZ/locale"; diff -r "$tmp/corpus" "$tmp/corpus2" | head -20; fi

# Golden files: the default view of every corpus feed (not index.html: its upcoming events move with the day).
golden="$src/tests/golden/corpus"
if [ "${ALMANAC_UPDATE_GOLDEN:-}" = 1 ]; then
  rm -rf "$golden"; mkdir -p "$golden"; find "$tmp/corpus" -maxdepth 1 -type f ! -name index.html -exec cp {} "$golden/" \;
fi
for g in "$golden"/*; do
  name=$(basename "$g")
  if cmp -s "$g" "$tmp/corpus/$name"; then ok "golden $name"; else fail "golden $name differs"; diff -u "$g" "$tmp/corpus/$name" | head -30; fi
done

# The third-party oracles over everything that was built.
ics_site="$src/tests/conformance/ics/site"
if [ -f "$ics_site/almanac.yaml" ]; then
  build "$ics_site/almanac.yaml" "$tmp/ics" && ok "ics fixture build" || { fail "ics fixture build"; cat "$tmp/ics.log"; }
fi
for dir in "$tmp/corpus" "$tmp/ics"; do
  [ -d "$dir" ] || continue
  if [ -x "$src/tests/conformance/ics/check_ics.sh" ]; then
    if "$src/tests/conformance/ics/check_ics.sh" "$dir"; then ok "iCalendar oracles on $(basename "$dir")"; else fail "iCalendar oracles on $(basename "$dir")"; fi
  fi
  if [ -x "$src/tests/conformance/feeds/check_feeds.sh" ] && ls "$dir"/*.rss "$dir"/*.atom "$dir"/*.json >/dev/null 2>&1; then
    if "$src/tests/conformance/feeds/check_feeds.sh" "$dir"; then ok "feed oracles on $(basename "$dir")"; else fail "feed oracles on $(basename "$dir")"; fi
  fi
done

# Usage errors.
"$almanac" build >/dev/null 2>&1; [ $? -eq 2 ] && ok "build without --out is a usage error" || fail "build without --out"

finish
