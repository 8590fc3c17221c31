#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, or with sudo available):
#   scripts/dev.sh run    install what is missing, build, run almanac on the example site
#                         (ALMANAC_LISTEN=ADDR:PORT to listen elsewhere than 127.0.0.1:8080)
#   scripts/dev.sh test   install what is missing (with the test oracles), build, run every test
#   scripts/dev.sh build  install the build dependencies and build only
# Idempotent: packages already present are not reinstalled; the build dir is reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ALMANAC_BUILD_DIR:-$here/build}
jobs=${ALMANAC_JOBS:-$(nproc 2>/dev/null || echo 2)}

# shellcheck source=scripts/lib.sh
source "$here/scripts/lib.sh"  # build_packages, install_missing, as_root

test_packages=(
  python3 python3-icalendar python3-vobject python3-feedparser python3-dateutil libxml2-utils
  jing ruby python3-brotli python3-html5lib curl nginx strace systemd chromium fonts-dejavu-core
  dpkg-dev lintian clang-format
)


# build [BUILD_DIR [CMAKE ARGS...]]: configures BUILD_DIR and builds $targets (default: everything).
targets=()
build() {
  local dir=${1:-$build_dir}
  [ $# -gt 0 ] && shift
  install_missing "${build_packages[@]}"
  cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${ALMANAC_CMAKE_ARGS:-} "$@" >/dev/null
  timeout 3000 cmake --build "$dir" -j "$jobs" ${targets[@]:+--target "${targets[@]}"}
}

command_name=${1:-}
[ $# -gt 0 ] && shift
case "$command_name" in
  build)
    build
    ;;
  run)
    targets=(almanac) # only what it runs: the test suite is built by `test`
    build
    cd "$here/examples"
    # Links on the index page and in the feeds point at this server, not at the site's real address.
    listen=${ALMANAC_LISTEN:-127.0.0.1:8080}
    echo "== almanac serve on the example site (examples/almanac.yaml): open http://$listen/"
    echo "   edit any file under examples/content and it is served again at once; Ctrl-C stops."
    exec "$build_dir/almanac" serve --config almanac.yaml --listen "$listen" --base-url "http://$listen/" "$@"
    ;;
  test)
    install_missing "${test_packages[@]}"
    command -v npm >/dev/null || install_missing nodejs npm
    # Oracles from npm (ical.js, ajv), pinned by tests/oracles/package-lock.json.
    if [ ! -d "$here/tests/oracles/node_modules/ical.js" ] || [ "$here/tests/oracles/package-lock.json" -nt "$here/tests/oracles/node_modules/.package-lock.json" ]; then
      (cd "$here/tests/oracles" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
    fi
    stage() { echo "== $1 took $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }
    stage_start=0  # SECONDS counts from the start of this script
    stage "installing the test packages and oracles"
    build
    stage "the build"
    (cd "$build_dir" && timeout 1800 ctest --output-on-failure -j "$jobs" --timeout 300)
    stage "the suite"
    # The same suite against an ASan + UBSan build (any report fails its test). The output checks
    # against third-party oracles (conformance_build, the zone sweep) are left to the plain build:
    # they check output, not memory. -O1 -g1, as the sanitizers' own docs advise: half the compile
    # time of -O2 -g, stack traces still with file and line. ALMANAC_SANITIZE_SUITE=0 skips it.
    if [ "${ALMANAC_SANITIZE_SUITE:-1}" != 0 ]; then
      echo "== the suite again under AddressSanitizer and UndefinedBehaviorSanitizer ($build_dir-sanitize)"
      build "$build_dir-sanitize" -DALMANAC_SANITIZE=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
      stage "the sanitizer build"
      (cd "$build_dir-sanitize" &&
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        timeout 1800 ctest --output-on-failure -j "$jobs" --timeout 300 -E '^(conformance_build|conformance_tz_sweep)$')
      stage "the sanitizer suite"
    fi
    # A short libFuzzer run of every target (docs/fuzzing.md); ALMANAC_FUZZ_SUITE=0 skips it.
    if [ "${ALMANAC_FUZZ_SUITE:-1}" != 0 ]; then
      "$here/scripts/fuzz.sh" short
      stage "the fuzzers"
    fi
    ;;
  *)
    echo "usage: scripts/dev.sh run|test|build" >&2
    exit 2
    ;;
esac
