#!/usr/bin/env bash
# The systemd integration, tested without systemd as PID 1: the sd_notify protocol (READY, STATUS,
# WATCHDOG, RELOADING, STOPPING) on a NOTIFY_SOCKET of our own, socket activation through
# systemd-socket-activate, `systemd-analyze verify` and `security` on the units generated from
# systemd/*.in, the journal log format, and an strace of the daemon checked against the unit's sandbox.
# usage: systemd_test.sh ALMANAC SOURCE_DIR
source "$(dirname "${BASH_SOURCE[0]}")/../script_harness.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
max_exposure=1.5

unset JOURNAL_STREAM NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES WATCHDOG_USEC WATCHDOG_PID

example="$src/examples/almanac.yaml"
cp -r "$src/examples" "$tmp/site"   # a copy the trace workload may edit

# --- (a) sd_notify: READY=1 after the first snapshot and listening, STATUS=, WATCHDOG=1, SIGHUP, SIGTERM.
mkdir "$tmp/notify"
from_py /usr/bin/python3 "$here/notify_check.py" "$almanac" "$example" "$tmp/notify"

# --- (b) socket activation: the daemon serves on the sockets it is handed and binds nothing itself.
p1=$(free_port) p2=$(free_port)
systemd-socket-activate -l "127.0.0.1:$p1" -l "127.0.0.1:$p2" \
  "$almanac" serve --config "$example" >/dev/null 2>"$tmp/activate.log" &
pid=$!; pids+=("$pid")
wait_for "$tmp/activate.log" "^Listening on 127.0.0.1:$p2" 10 || fail "systemd-socket-activate did not listen"
# systemd-socket-activate starts the daemon at the first connection; the socket queues this request
# while the daemon builds its first snapshot.
code=$(curl -s --noproxy '*' --max-time 30 -o "$tmp/activated.ics" -w '%{http_code}' "http://127.0.0.1:$p1/events.ics")
[ "$code" = 200 ] && head -1 "$tmp/activated.ics" | grep -q '^BEGIN:VCALENDAR' \
  && ok "socket activation: the first request, queued during start-up, is served" \
  || { fail "socket activation: /events.ics gave $code"; cat "$tmp/activate.log"; }
code=$(curl -s --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p2/healthz")
[ "$code" = 200 ] && ok "socket activation: the second passed socket is served too" || fail "second socket: $code"
n=$(grep -c 'serving on 127.0.0.1:[0-9]* (socket from systemd)' "$tmp/activate.log")
[ "$n" = 2 ] && ok "both passed sockets adopted" || fail "adopted $n socket(s)"
grep -q 'listening on http' "$tmp/activate.log" && fail "bound server.listen despite passed sockets" \
  || ok "server.listen ignored when sockets are passed"
stop "$pid"; st=$?
[ "$st" = 0 ] && ok "socket-activated daemon: SIGTERM exits 0" || fail "socket-activated daemon exit $st"

# --- (c) systemd-analyze verify on the units, placeholders filled as CMake's configure_file() does.
mkdir "$tmp/units"
for unit in almanac.service almanac.socket; do
  sed -e "s|@CMAKE_INSTALL_FULL_BINDIR@/almanac|$almanac|g" -e 's|@CMAKE_INSTALL_FULL_SYSCONFDIR@|/etc|g' \
      -e 's|@CMAKE_INSTALL_FULL_DOCDIR@|/usr/share/doc/almanac|g' "$src/systemd/$unit.in" >"$tmp/units/$unit"
done
if grep -n '@[A-Za-z_]*@' "$tmp/units"/*; then fail "a placeholder the test does not know"; else ok "placeholders filled"; fi
(cd "$tmp/units" && systemd-analyze verify ./almanac.service ./almanac.socket) >"$tmp/verify.out" 2>&1; st=$?
if [ "$st" = 0 ] && [ ! -s "$tmp/verify.out" ]; then ok "systemd-analyze verify: clean"
else fail "systemd-analyze verify: exit $st"; cat "$tmp/verify.out"; fi

# --- (d) the exposure score.
systemd-analyze security --offline=true --no-pager "$tmp/units/almanac.service" >"$tmp/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for almanac.service: \([0-9.]*\).*/\1/p' "$tmp/security.out")
echo "exposure score: ${score:-none}"
if [ -n "$score" ] && awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
  ok "systemd-analyze security: exposure $score ≤ $max_exposure"
else fail "systemd-analyze security: exposure '${score}' > $max_exposure"; grep '✗' "$tmp/security.out"; fi

# --- the example config for /etc/almanac is valid (its content dir replaced by a small site).
mkdir -p "$tmp/etc-site/content/events" "$tmp/etc-site/content/blog"
printf -- '---\ntitle: Launch\nstart: 2030-01-01T10:00\nduration: PT1H\n---\n' >"$tmp/etc-site/content/events/launch.md"
printf -- '---\ntitle: Hello\ndate: 2025-01-01\n---\nFirst post.\n' >"$tmp/etc-site/content/blog/hello.md"
sed "s|/srv/almanac/content|$tmp/etc-site/content|" "$src/systemd/almanac.yaml" >"$tmp/etc-site/almanac.yaml"
if "$almanac" check --config "$tmp/etc-site/almanac.yaml" >"$tmp/etc-check.out" 2>&1 \
   && grep -q '0 error(s), 0 warning(s); 2 item(s)' "$tmp/etc-check.out"; then ok "systemd/almanac.yaml: check clean"
else fail "systemd/almanac.yaml: check"; cat "$tmp/etc-check.out"; fi
grep -q -F 'dir: /srv/almanac/content' "$src/systemd/almanac.yaml" && grep -q -F 'ReadOnlyPaths=-/srv/almanac' "$src/systemd/almanac.service.in" \
  && ok "example config and unit agree on /srv/almanac" || fail "example config and unit disagree on the content dir"

# --- (e) journal log format: JOURNAL_STREAM set ⇒ "<N>message", no timestamp, levels as priorities.
{ cat "$tmp/site/almanac.yaml"; printf '\nlog:\n  level: info\n'; } >"$tmp/site/journal.yaml"
# A content warning to log (a timed event with neither end nor duration lasts an hour).
printf -- '---\ntitle: One hour\nstart: 2030-01-01T10:00\n---\n' >"$tmp/site/content/events/journal-warning.md"
# As systemd does: JOURNAL_STREAM names the device and inode of standard error.
: >"$tmp/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/journal.log") \
  "$almanac" serve --config "$tmp/site/journal.yaml" --listen 127.0.0.1:0 2>>"$tmp/journal.log" &
pid=$!; pids+=("$pid")
if wait_for "$tmp/journal.log" 'listening on http' 30; then
  printf 'site:\n  timezone: Mars/Olympus\n' >"$tmp/site/journal.yaml"  # a bad config: the reload is rejected
  kill -HUP "$pid"
  wait_for "$tmp/journal.log" 'config reload rejected' 30
fi
stop "$pid"; st=$?
[ "$st" = 0 ] && ok "journal run exits 0" || fail "journal run exit $st"
if grep -v -q -E '^<[0-7]>' "$tmp/journal.log"; then fail "a line without a <N> prefix"; grep -v -E '^<[0-7]>' "$tmp/journal.log" | head -3
else ok "every line starts with <N>"; fi
if grep -q -E '^<[0-7]>[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (info|warning|error)' "$tmp/journal.log"
then fail "timestamps in journal lines"; else ok "no timestamp (the journal adds its own)"; fi
grep -q -E '^<6>listening on http' "$tmp/journal.log" && ok "info is <6>" || fail "info is not <6>"
grep -q -E '^<4>content/[^ ]*: ' "$tmp/journal.log" && ok "warning is <4>" || fail "warning is not <4>"
grep -q -E '^<[34]>.*: (warning|error): ' "$tmp/journal.log" && fail "a diagnostic says its severity beside its level" \
  || ok "the level alone says the severity"
grep -q -E '^<3>config reload rejected' "$tmp/journal.log" && ok "error is <3>" || fail "error is not <3>"
grep -q -E '^<6>stopped$' "$tmp/journal.log" && ok "the last line: <6>stopped" || fail "no <6>stopped"

# An explicit log.format json stays json under the journal.
{ cat "$tmp/site/almanac.yaml"; printf '\nlog:\n  format: json\n'; } >"$tmp/site/json.yaml"
: >"$tmp/json.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/json.log") \
  "$almanac" serve --config "$tmp/site/json.yaml" --listen 127.0.0.1:0 2>>"$tmp/json.log" &
pid=$!; pids+=("$pid")
wait_for "$tmp/json.log" 'listening on http' 30
stop "$pid" >/dev/null
grep -q -E '^\{"time":"[^"]+","level":"info","message":"listening on http' "$tmp/json.log" \
  && ok "log.format json is kept under the journal" || { fail "json under the journal"; head -3 "$tmp/json.log"; }

# --- (f) the sandbox: an strace of the daemon under a workload, checked against the unit.
if ! command -v strace >/dev/null; then
  fail "strace is not installed (Debian package strace)"
else
  port=$(free_port)
  /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(1)
out = open(sys.argv[2], "w"); end = time.monotonic() + 60
while time.monotonic() < end:
    try: m = s.recv(4096).decode()
    except socket.timeout: continue
    out.write(m.replace("\n", " ") + "\n"); out.flush()
    if "STOPPING=1" in m.split("\n"): break
' "$tmp/trace-notify.sock" "$tmp/trace-notify.txt" &
  pids+=("$!"); disown "$!"
  for _ in $(seq 100); do [ -S "$tmp/trace-notify.sock" ] && break; sleep 0.05; done
  # LeakSanitizer cannot run under ptrace: a sanitizer build checks for leaks in the other tests.
  # (systemd-socket-activate passes only the variables given with -E.)
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  strace -f -qq -o "$tmp/trace.txt" \
    systemd-socket-activate -l "127.0.0.1:$port" -E NOTIFY_SOCKET="$tmp/trace-notify.sock" -E WATCHDOG_USEC=200000 \
    -E ASAN_OPTIONS="$ASAN_OPTIONS" \
    "$almanac" serve --config "$tmp/site/almanac.yaml" >/dev/null 2>"$tmp/trace.log" &
  pid=$!; pids+=("$pid")
  wait_for "$tmp/trace.log" "^Listening on 127.0.0.1:$port" 10
  base="http://127.0.0.1:$port"
  c() { # curl [-H HEADER]... URL...: prints the status codes (the URLs share one keep-alive connection)
    local args=() a
    for a in "$@"; do case "$a" in http*) args+=(-o /dev/null "$a") ;; *) args+=("$a") ;; esac; done
    curl -s --noproxy '*' --max-time 30 -w '%{http_code} ' "${args[@]}"
  }
  {
    c "$base/events.ics" "$base/" "$base/blog.rss" "$base/healthz" "$base/metrics"   # one keep-alive connection
    c -H 'Accept-Encoding: gzip' "$base/events.ics"; c -H 'Accept-Encoding: br' "$base/blog.atom"
    c "$base/tz/Asia/Kolkata/events.ics" "$base/events.json?tag=ospo" "$base/nope.ics"
    etag=$(curl -s --noproxy '*' --max-time 10 -o /dev/null -D - "$base/meetups.ics" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
    c -H "If-None-Match: $etag" "$base/meetups.ics"
  } >"$tmp/trace-codes.txt"
  # Edits: a change, a new folder with a file, an editor's atomic rename, a deletion; then SIGHUP.
  f="$tmp/site/content/blog/2023-state-of-ospo.md"
  printf '\nOne more line.\n' >>"$f"
  mkdir "$tmp/site/content/blog/2031" && cp "$f" "$tmp/site/content/blog/2031/copy.md"
  cp "$f" "$tmp/site/content/blog/.tmp-save" && mv "$tmp/site/content/blog/.tmp-save" "$f"
  rm "$tmp/site/content/blog/2024-steering-committee.md"
  wait_for "$tmp/trace.log" 'generation [2-9] \(change' 30 || fail "no rebuild after the edits"
  apid=$(pgrep -P "$pid" | head -1)   # strace's child: systemd-socket-activate exec'd into almanac
  kill -HUP "$apid"; wait_for "$tmp/trace.log" 'generation [0-9]+ \(reload' 30 || fail "no reload"
  c "$base/events.ics" >>"$tmp/trace-codes.txt"
  sleep 0.3   # a few watchdog pings
  kill -TERM "$apid"
  stop "$pid"; st=$?
  [ "$st" = 0 ] && ok "traced daemon: SIGTERM exits 0" || fail "traced daemon exit $st"
  echo "trace workload status codes: $(cat "$tmp/trace-codes.txt")"
  [ "$(tr ' ' '\n' <"$tmp/trace-codes.txt" | grep -v -c -E '^(200|304|404|)$')" = 0 ] \
    && ok "trace workload answered" || fail "trace workload: $(cat "$tmp/trace-codes.txt")"
  grep -q 'READY=1' "$tmp/trace-notify.txt" && grep -q 'WATCHDOG=1' "$tmp/trace-notify.txt" \
    && grep -q 'STOPPING=1' "$tmp/trace-notify.txt" && ok "traced run notified READY, WATCHDOG, STOPPING" \
    || { fail "traced run notifications"; cat "$tmp/trace-notify.txt"; }
  # And without socket activation: the daemon binds its own address (socket, bind, listen).
  strace -f -qq -o "$tmp/trace-listen.txt" "$almanac" serve --config "$tmp/site/almanac.yaml" \
    --listen 127.0.0.1:0 >/dev/null 2>"$tmp/trace-listen.log" &
  pid=$!; pids+=("$pid")
  if wait_for "$tmp/trace-listen.log" 'listening on http' 30; then
    lport=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/trace-listen.log" | head -1)
    c "http://127.0.0.1:$lport/events.ics" "http://127.0.0.1:$lport/healthz" >/dev/null
  fi
  kill -TERM "$(pgrep -P "$pid" | head -1)"; stop "$pid" >/dev/null
  from_py /usr/bin/python3 "$here/trace_check.py" "$tmp/units/almanac.service" "$almanac" \
    "$tmp/trace.txt" "$tmp/trace-listen.txt"
fi

finish
