# Shared by the shell tests: arguments ALMANAC SOURCE_DIR, a temp dir removed on exit,
# processes killed on exit, ok/fail counters and the closing "N passed, M failed" line. Source it; call `finish` last.
set -uo pipefail
almanac=$(realpath "$1") src=$(realpath "$2")
fails=0 passes=0
tmp=$(mktemp -d)

# Every process a test starts goes into pids: on exit each is killed with its descendants, whatever happens.
pids=()
kill_tree() { # PID: stop it (so that nothing respawns), end its descendants, then it
  local c
  kill -STOP "$1" 2>/dev/null || return 0
  for c in $(pgrep -P "$1"); do kill_tree "$c"; done
  kill -KILL "$1" 2>/dev/null
}
cleanup() { for p in "${pids[@]}"; do kill_tree "$p"; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # FILE REGEX SECONDS: until a line of FILE matches
  local end=$((SECONDS + $3))
  until grep -q -E "$2" "$1" 2>/dev/null; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}
stop() { # PID [SIGNAL]: signal it, wait up to 20 s, return its exit status (124: had to be killed)
  kill -"${2:-TERM}" "$1" 2>/dev/null
  local end=$((SECONDS + 20))
  while kill -0 "$1" 2>/dev/null; do
    if [ $SECONDS -ge $end ]; then kill -KILL "$1"; wait "$1" 2>/dev/null; return 124; fi
    sleep 0.05
  done
  wait "$1"
}
ok()   { passes=$((passes + 1)); echo "ok   $1"; }
fail() { fails=$((fails + 1)); echo "FAIL $1"; }
finish() { echo "$passes passed, $fails failed"; [ "$fails" -eq 0 ]; }
from_py() { # runs a checker that prints "ok NAME" / "FAIL NAME: why"; counts its lines here
  local line failed=0 last=
  while IFS= read -r line; do
    case "$line" in
      "ok   "*) ok "${line#ok   }" ;;
      "FAIL "*) fail "${line#FAIL }"; failed=1 ;;
      "exit "[0-9]*) last=$line ;;
      *) echo "$line" ;;
    esac
  done < <("$@" 2>&1; echo "exit $?")
  [ "$last" = "exit 0" ] || [ $failed = 1 ] || fail "$(basename -- "$2") ended with '$last'"
}

