#!/usr/bin/env bash
# libFuzzer campaigns over almanac's parsers and request handler (docs/fuzzing.md):
#   scripts/fuzz.sh short [TARGET...]          build, run each target ALMANAC_FUZZ_SECONDS (20) s; any crash,
#                                              leak, timeout or out-of-memory fails
#   scripts/fuzz.sh long [SECONDS] [TARGET...] build, run each target SECONDS (600) one after another on its
#                                              kept corpus (build-fuzz/corpus/); prints execs and coverage.
#                                              A hang is an input over ALMANAC_FUZZ_TIMEOUT s: 10 in short
#                                              runs, 30 in long ones (kept corpora hold slow inputs, and long
#                                              runs share the machine under nice)
#   scripts/fuzz.sh build                      install what is missing, configure and build only
#   scripts/fuzz.sh repro TARGET FILE...       run a target once on saved inputs (a crash, a seed)
# Builds with clang++ into build-fuzz/ next to build/; findings go to build-fuzz/crashes/<target>/.
# Idempotent: packages already present are not reinstalled, the build dir and long corpora are reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ALMANAC_FUZZ_BUILD_DIR:-$here/build-fuzz}
jobs=${ALMANAC_JOBS:-2}
site_src=${ALMANAC_FUZZ_SITE:-$here/examples}  # a site to seed from: almanac.yaml and content/
all_targets=(fuzz_content fuzz_markdown fuzz_rrule fuzz_config fuzz_http)

# shellcheck source=scripts/lib.sh
source "$here/scripts/lib.sh"

# The build dependencies and the compiler with its libFuzzer runtime.
packages=("${build_packages[@]}" clang libclang-rt-14-dev)

build() {
  install_missing "${packages[@]}"
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DALMANAC_FUZZ=ON -DALMANAC_BUILD_TESTS=OFF >/dev/null
  timeout 3000 cmake --build "$build_dir" -j "$jobs"
}

# Which dictionaries (tests/fuzz/dict/) each target reads.
dicts_of() {
  case "$1" in
    fuzz_content) echo yaml markdown rrule ;;
    fuzz_markdown) echo markdown ;;
    fuzz_rrule) echo rrule ;;
    fuzz_config) echo yaml ;;
    fuzz_http) echo http ;;
  esac
}

# Seeds from the example site (the TODO Group corpus) and tests/fixtures/seeds, rebuilt on every run into build-fuzz/seeds/<target>/ (the committed
# hand-written and regression seeds stay in tests/fuzz/seeds/<target>/ and are read from there).
make_seeds() {
  local seeds=$build_dir/seeds content=$site_src/content
  rm -rf "$seeds"
  mkdir -p "$seeds"/{fuzz_content,fuzz_markdown,fuzz_rrule,fuzz_config,fuzz_http} "$build_dir/dicts"
  for t in "${all_targets[@]}"; do
    local d
    for d in $(dicts_of "$t"); do cat "$here/tests/fuzz/dict/$d.dict"; done >"$build_dir/dicts/$t.dict"
  done

  local c=0 config
  for config in "$site_src"/almanac.yaml "$here"/systemd/almanac.yaml \
    "$here"/tests/fixtures/*/almanac.yaml "$here"/tests/conformance/*/site/almanac.yaml; do
    if [ -f "$config" ]; then cp "$config" "$seeds/fuzz_config/corpus-$((c += 1)).yaml"; fi
  done

  local feed ext
  for feed in events meetups blog; do
    for ext in ics rss atom json; do
      printf 'GET /%s.%s\nAccept-Encoding: gzip, br\n' "$feed" "$ext" >"$seeds/fuzz_http/get-$feed-$ext"
      printf 'GET /tz/Europe/Stockholm/%s.%s?tag=members\n' "$feed" "$ext" >"$seeds/fuzz_http/zone-$feed-$ext"
    done
  done

  if [ ! -d "$content" ]; then
    echo "== no corpus at $content: only the committed seeds are used" >&2
    return 0
  fi

  # fuzz_content reads a selector byte (tests/fuzz/fuzz_content.cpp) before the file: 'P' an event
  # page, 'Q' a section page, 'R' a YAML data file, 'U' a post, 'W' a page; all in the site zone
  # America/Los_Angeles, as in the corpus config. fuzz_markdown reads a flag byte: 'B' takes the title.
  local n=0 file rel selector flags
  while IFS= read -r -d '' file; do
    rel=${file#"$content"/}
    case "$rel" in
      */_index.md) selector=Q ;;
      events/*.md | meetups/*.md) selector=P ;;
      events/*.y*ml | meetups/*.y*ml) selector=R ;;
      pages/*) selector=W ;;
      *.md) selector=U ;;
      *) continue ;;
    esac
    n=$((n + 1))
    { printf '%s' "$selector"; cat "$file"; } >"$seeds/fuzz_content/corpus-$n"
    case "$file" in *.md) ;; *) continue ;; esac
    flags=@
    [ "$selector" = U ] && flags=B
    # The Markdown body: the file without its front matter.
    { printf '%s' "$flags"; awk 'NR == 1 && /^(---|\+\+\+)$/ { fm = $0; next } fm != "" && $0 == fm { fm = ""; next } fm == ""' "$file"; } \
      >"$seeds/fuzz_markdown/corpus-$n"
  done < <(find "$content" "$here/tests/fixtures/seeds" -type f \( -name '*.md' -o -name '*.yaml' -o -name '*.yml' \) -print0 2>/dev/null | sort -z)

  # fuzz_rrule: start / zone / rrule / duration-or-end / "X:" exdates of every event in the corpus.
  local zone
  zone=$(awk '/^[ \t]+timezone:/ { print $2; exit }' "$site_src/almanac.yaml")
  find "$content" -type f \( -name '*.md' -o -name '*.yaml' \) -print0 | sort -z | xargs -0 awk -v out="$seeds/fuzz_rrule" -v zone="${zone:-UTC}" -v quote="'" '
    function flush(  f, i, k, parts) {
      if (start != "") {
        count++
        f = out "/corpus-" count
        printf("%s\n%s\n%s\n%s\n", start, (tz != "" ? tz : zone), rrule, (dur != "" ? dur : end)) > f
        k = split(ex, parts, ",")
        for (i = 1; i <= k; i++) if (parts[i] != "") printf "X:%s\n", parts[i] > f
        close(f)
      }
      start = tz = rrule = dur = end = ex = ""
    }
    FNR == 1 { flush() }
    /^[ \t]*- title:/ { flush() }
    {
      line = $0
      sub(/^[ \t-]+/, "", line)
      if (!match(line, /^(start|timezone|rrule|duration|end|exdate):[ \t]*/)) next
      key = substr(line, 1, index(line, ":") - 1)
      val = substr(line, RLENGTH + 1)
      gsub("[\"" quote "\\[\\] ]", "", val)
      if (key == "start") start = val; else if (key == "timezone") tz = val; else if (key == "rrule") rrule = val
      else if (key == "duration") dur = val; else if (key == "end") end = val; else ex = val
    }
    END { flush() }'

}

# Runs `target` for `seconds` on `corpus`, an input taking more than `timeout` seconds counting as a
# hang; its log goes to build-fuzz/logs/<target>.log.
run_target() {
  local target=$1 seconds=$2 corpus=$3 timeout=$4 log=$build_dir/logs/$1.log
  mkdir -p "$corpus" "$build_dir/crashes/$target" "$build_dir/logs"
  local status=0
  # Findings are fatal (UBSan halts, libFuzzer stops at the first crash, leak or timeout).
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    timeout $((seconds + 300)) "$build_dir/tests/fuzz/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout="$timeout" -print_final_stats=1 \
    -dict="$build_dir/dicts/$target.dict" -artifact_prefix="$build_dir/crashes/$target/" \
    "$corpus" "$build_dir/seeds/$target" "$here/tests/fuzz/seeds/$target" >"$log" 2>&1 || status=$?
  summarize "$target" "$log"
  if [ "$status" -ne 0 ]; then
    echo "== $target FAILED (exit $status); the input is under $build_dir/crashes/$target/. Log tail:" >&2
    grep -av '^#[0-9]' "$log" | tail -n 60 >&2
    return 1
  fi
}

# One line per target from libFuzzer's final stats and last status line.
summarize() {
  local target=$1 log=$2 execs rate cov ft corp rss
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
  cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -ao 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  corp=$(grep -ao 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1 | cut -d' ' -f2)
  printf '%-14s execs %-10s exec/s %-6s cov %-6s ft %-7s corpus %-12s rss %s MB\n' \
    "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}"
}

pick_targets() {
  if [ $# -eq 0 ]; then
    targets=("${all_targets[@]}")
  else
    targets=("$@")
  fi
}

command_name=${1:-}
[ $# -gt 0 ] && shift
case "$command_name" in
  build)
    build
    ;;
  short)
    pick_targets "$@"
    build
    make_seeds
    failed=0
    for t in "${targets[@]}"; do
      # A fresh corpus each time: the run is the seeds (and regression inputs) plus what it finds.
      rm -rf "$build_dir/corpus-short/$t"
      run_target "$t" "${ALMANAC_FUZZ_SECONDS:-20}" "$build_dir/corpus-short/$t" "${ALMANAC_FUZZ_TIMEOUT:-10}" || failed=1
    done
    exit "$failed"
    ;;
  long)
    seconds=600
    if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
      seconds=$1
      shift
    fi
    pick_targets "$@"
    build
    make_seeds
    failed=0
    for t in "${targets[@]}"; do
      echo "== $t for $seconds s"
      run_target "$t" "$seconds" "$build_dir/corpus/$t" "${ALMANAC_FUZZ_TIMEOUT:-30}" || failed=1
    done
    echo "== corpora: $build_dir/corpus/<target>/; logs: $build_dir/logs/; findings: $build_dir/crashes/"
    exit "$failed"
    ;;
  repro)
    [ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh repro TARGET FILE..." >&2; exit 2; }
    target=$1
    shift
    [ -x "$build_dir/tests/fuzz/$target" ] || build
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$build_dir/tests/fuzz/$target" -rss_limit_mb=2048 -timeout=10 "$@"
    ;;
  *)
    echo "usage: scripts/fuzz.sh short [TARGET...] | long [SECONDS] [TARGET...] | build | repro TARGET FILE..." >&2
    exit 2
    ;;
esac
