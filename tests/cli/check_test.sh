#!/usr/bin/env bash
# End-to-end tests of `almanac check`, `--version` and `help` with the real binary.
# usage: check_test.sh ALMANAC SOURCE_DIR   (ALMANAC_UPDATE_GOLDEN=1 rewrites golden files)
source "$(dirname "${BASH_SOURCE[0]}")/../script_harness.sh"
expect_status() { # name expected actual
  if [ "$2" = "$3" ]; then ok "$1 (exit $3)"; else fail "$1: exit $3, expected $2"; fi
}

# The example site (the TODO Group corpus): no error, and no warning for files the include glob leaves out.
(cd "$src/examples" && "$almanac" check >"$tmp/corpus.out" 2>"$tmp/corpus.err"); st=$?
expect_status "corpus check" 0 $st
if grep -q ': error: ' "$tmp/corpus.out"; then fail "corpus has errors"; cat "$tmp/corpus.out"; else ok "corpus has no error"; fi
if grep -q -E 'README|newsletter-template|newsletter-guidelines' "$tmp/corpus.out"; then
  fail "files outside the include glob were reported"; else ok "excluded files are silent"; fi
grep -q '0 error(s)' "$tmp/corpus.err" && ok "corpus summary" || { fail "corpus summary"; cat "$tmp/corpus.err"; }
echo "--- corpus check output:"; cat "$tmp/corpus.out" "$tmp/corpus.err"; echo "---"

# The same with the config named, from another directory.
(cd / && "$almanac" check --config "$src/examples/almanac.yaml" >/dev/null 2>&1); expect_status "examples check --config" 0 $?

# The invalid fixture: exactly the expected diagnostics, exit 1.
fixture="$src/tests/fixtures/invalid"
(cd "$fixture" && "$almanac" check --config almanac.yaml >"$tmp/invalid.out" 2>"$tmp/invalid.err"); st=$?
expect_status "invalid fixture check" 1 $st
if [ "${ALMANAC_UPDATE_GOLDEN:-}" = 1 ]; then cp "$tmp/invalid.out" "$fixture/expected-check.txt"; fi
if diff -u "$fixture/expected-check.txt" "$tmp/invalid.out"; then ok "invalid fixture diagnostics"; else fail "invalid fixture diagnostics differ"; fi
grep -q '7 item(s)' "$tmp/invalid.err" && ok "good files still load" || { fail "good files still load"; cat "$tmp/invalid.err"; }

# The same from another working directory: paths stay relative to the config file.
"$almanac" check --config "$fixture/almanac.yaml" >"$tmp/invalid2.out" 2>/dev/null
if diff -q "$fixture/expected-check.txt" "$tmp/invalid2.out" >/dev/null; then ok "paths relative to the config"; else fail "paths depend on the working directory"; fi

# github and json formats.
(cd "$fixture" && "$almanac" check --format github >"$tmp/gh.out" 2>/dev/null); expect_status "github format" 1 $?
if grep -q -E '^::error file=content/events/bad-zone.md,line=5,col=[0-9]+::timezone: unknown time zone' "$tmp/gh.out"; then
  ok "github annotation"; else fail "github annotation"; cat "$tmp/gh.out"; fi
(cd "$fixture" && "$almanac" check --format=json >"$tmp/json.out" 2>/dev/null); expect_status "json format" 1 $?
if /usr/bin/python3 - "$tmp/json.out" "$fixture/expected-check.txt" <<'PY'
import json, sys
ds = json.load(open(sys.argv[1]))
lines = [l for l in open(sys.argv[2]).read().splitlines() if l]
assert len(ds) == len(lines), (len(ds), len(lines))
for d, l in zip(ds, lines):
    assert set(d) == {"path", "line", "column", "severity", "message"}, d
    assert l.endswith(d["severity"] + ": " + d["message"]), (d, l)
    assert l.startswith(d["path"] + ":"), (d, l)
PY
then ok "json matches text"; else fail "json matches text"; fi

# A broken config: the key path and its line, exit 1.
printf 'site:\n  title: x\n  timezone: Mars/Olympus\nfeeds:\n  - name: a\n    sections: [nope]\n    limit: ten\n' >"$tmp/bad.yaml"
mkdir -p "$tmp/content"
"$almanac" check --config "$tmp/bad.yaml" >"$tmp/badcfg.out" 2>&1; expect_status "bad config" 1 $?
grep -q 'bad.yaml:3:[0-9]*: error: site.timezone: unknown time zone' "$tmp/badcfg.out" && ok "config zone error" || { fail "config zone error"; cat "$tmp/badcfg.out"; }
grep -q 'bad.yaml:7:[0-9]*: error: feeds\[0\].limit' "$tmp/badcfg.out" && ok "config limit error" || { fail "config limit error"; cat "$tmp/badcfg.out"; }

# No config at all: defaults, sections detected from ./content.
mkdir -p "$tmp/site/content/events" "$tmp/site/content/news"
printf -- '---\ntitle: T\nstart: 2025-01-01\n---\n' >"$tmp/site/content/events/a.md"
printf '# Hello\n\nbody\n' >"$tmp/site/content/news/2025-02-03-hello.md"
(cd "$tmp/site" && "$almanac" check >"$tmp/def.out" 2>"$tmp/def.err"); expect_status "defaults" 0 $?
grep -q '2 item(s)' "$tmp/def.err" && ok "defaults load both sections" || { fail "defaults"; cat "$tmp/def.out" "$tmp/def.err"; }

# build --base-url: the feeds and the index page are addressed there; item links and UIDs are not.
"$almanac" build --config "$src/examples/almanac.yaml" --out "$tmp/plain" >/dev/null 2>&1
"$almanac" build --config "$src/examples/almanac.yaml" --out "$tmp/preview" --base-url http://127.0.0.1:9999 >/dev/null 2>&1
expect_status "build --base-url" 0 $?
grep -q 'href="webcal://127.0.0.1:9999/events.ics"' "$tmp/preview/index.html" && ok "index links follow --base-url" \
  || fail "index links do not follow --base-url"
grep -q -E '(https|webcal)://todogroup\.org/[a-z]+\.(ics|rss|atom|json)' "$tmp/preview/index.html" \
  && fail "the index page still links the feeds at site.base_url" || ok "no feed link left at site.base_url"
grep -q '<atom:link href="http://127.0.0.1:9999/blog.rss" rel="self"' "$tmp/preview/blog.rss" && ok "self links follow --base-url" \
  || fail "self links do not follow --base-url"
diff <(grep -E '^(UID|DTSTART|SUMMARY)' "$tmp/plain/events.ics") <(grep -E '^(UID|DTSTART|SUMMARY)' "$tmp/preview/events.ics") >/dev/null \
  && ok "UIDs do not depend on --base-url" || fail "UIDs change with --base-url"
"$almanac" build --config "$src/examples/almanac.yaml" --out "$tmp/bad" --base-url ftp://x/ >/dev/null 2>"$tmp/baseurl.err"
expect_status "bad --base-url" 2 $?
grep -q -- '--base-url: expected an absolute http:// or https:// URL' "$tmp/baseurl.err" && ok "bad --base-url message" \
  || { fail "bad --base-url message"; cat "$tmp/baseurl.err"; }

# build writes only what changed: the same build again rewrites nothing (same inode, same time),
# and an edit to one event rewrites the documents that hold it, not the blog's.
cp -r "$src/examples" "$tmp/site2"
"$almanac" build --config "$tmp/site2/almanac.yaml" --out "$tmp/out2" 2>/dev/null
(cd "$tmp/out2" && find . -type f -printf '%p %i %T@\n' | sort) >"$tmp/stamps1"
sleep 0.05
"$almanac" build --config "$tmp/site2/almanac.yaml" --out "$tmp/out2" 2>"$tmp/again.err"
(cd "$tmp/out2" && find . -type f -printf '%p %i %T@\n' | sort) >"$tmp/stamps2"
cmp -s "$tmp/stamps1" "$tmp/stamps2" && ok "a second build rewrites no file" || { fail "a second build rewrote files"; diff "$tmp/stamps1" "$tmp/stamps2" | head -5; }
grep -q -E 'wrote 0 document\(s\), [0-9]+ unchanged' "$tmp/again.err" && ok "build says what it left unchanged" || { fail "build summary"; cat "$tmp/again.err"; }
event=$(grep -l '^location:' "$tmp/site2"/content/events/*.md | head -1)
sed -i 's/^location: .*/location: "Somewhere else entirely"/' "$event"
"$almanac" build --config "$tmp/site2/almanac.yaml" --out "$tmp/out2" 2>/dev/null
(cd "$tmp/out2" && find . -type f -printf '%p %i %T@\n' | sort) >"$tmp/stamps3"
changed=$(diff "$tmp/stamps2" "$tmp/stamps3" | grep '^>' | awk '{print $2}')
echo "$changed" | grep -q '^\./events\.ics$' && ok "the edited event's calendar is rewritten" || fail "events.ics was not rewritten"
echo "$changed" | grep -q 'blog' && fail "blog documents were rewritten for an event edit" || ok "the blog's files are left alone"
grep -q 'Somewhere else entirely' "$tmp/out2/events.ics" && ok "the new bytes are there" || fail "events.ics lacks the edit"

# A task renders a feed's views into files held open together (formats × zones): with 40 zones the
# build needs more descriptors than a low soft limit gives, and raises it towards the hard limit.
if [ "$(ulimit -H -n)" = unlimited ] || [ "$(ulimit -H -n)" -ge 4096 ]; then
  cp -r "$src/examples" "$tmp/site3"
  zones="UTC, Europe/Berlin, Europe/Paris, Europe/London, Europe/Madrid, Europe/Rome, Europe/Vienna, Europe/Oslo"
  zones="$zones, Europe/Helsinki, Europe/Athens, Europe/Lisbon, Europe/Dublin, Europe/Warsaw, Europe/Prague, Europe/Kyiv"
  zones="$zones, Asia/Tokyo, Asia/Seoul, Asia/Shanghai, Asia/Kolkata, Asia/Dubai, Asia/Singapore, Asia/Jakarta, Asia/Manila"
  zones="$zones, America/New_York, America/Chicago, America/Denver, America/Los_Angeles, America/Toronto, America/Mexico_City"
  zones="$zones, America/Sao_Paulo, America/Bogota, America/Lima, America/Halifax, America/St_Johns, Pacific/Auckland"
  zones="$zones, Australia/Sydney, Australia/Perth, Africa/Cairo, Africa/Lagos, Africa/Nairobi"
  sed -i "s|^  prerender: .*|  prerender: [$zones]|" "$tmp/site3/almanac.yaml"
  (ulimit -S -n 48 && "$almanac" build --config "$tmp/site3/almanac.yaml" --out "$tmp/out3" >/dev/null 2>"$tmp/nofile.err")
  expect_status "build with 40 zones under a soft limit of 48 open files" 0 $?
  [ -s "$tmp/out3/tz/Africa/Nairobi/events.ics" ] && ok "every zone's documents are written" || { fail "zone documents missing"; head -3 "$tmp/nofile.err"; }
else
  ok "skipped: the hard open-file limit is below 4096"
fi

# --version, help, usage errors.
"$almanac" --version | grep -q -E '^almanac [0-9]+\.[0-9]+\.[0-9]+$' && ok "--version" || fail "--version"
"$almanac" help | grep -q 'almanac check' && ok "help" || fail "help"
"$almanac" help check | grep -q -- '--format' && ok "help check" || fail "help check"
"$almanac" check --bogus >/dev/null 2>"$tmp/usage.err"; expect_status "unknown flag" 2 $?
grep -q '^usage: almanac check' "$tmp/usage.err" && ok "usage line" || fail "usage line"
"$almanac" frobnicate >/dev/null 2>&1; expect_status "unknown command" 2 $?
"$almanac" check --format yaml >/dev/null 2>&1; expect_status "unknown format" 2 $?

finish
