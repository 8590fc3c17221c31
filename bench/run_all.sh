#!/usr/bin/env bash
# Every benchmark, one after another, printing its figures (nothing is asserted):
#   bench/run_all.sh            full runs (about 35 minutes on 2 cores; N = 100,000 takes the longest)
#   BENCH_QUICK=1 bench/run_all.sh   N = 1,000 and 10,000 only, one run each, short wrk runs
# Installs what it needs (wrk, nginx, hugo) like scripts/dev.sh does, and builds almanac first.
# Everything runs on 127.0.0.1 and in $BENCH_WORK (default /tmp/almanac-bench).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
work=${BENCH_WORK:-/tmp/almanac-bench}
py=/usr/bin/python3

"$root/scripts/dev.sh" build >/dev/null
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
install_missing wrk nginx hugo
almanac="$root/build/almanac"
mkdir -p "$work"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  sizes=1000,10000; runs=1; rounds=20; wrk_rounds=1; duration=5; kills=5
else
  sizes=1000,10000,100000; runs=3; rounds=100; wrk_rounds=3; duration=10; kills=25
fi

echo "== full build: almanac build vs hugo (bench/build_bench.py)"
timeout 3600 "$py" "$here/build_bench.py" "$almanac" --sizes "$sizes" --runs "$runs" --work "$work"

echo
echo "== the I/O of that build alone, 10,000-event site (bench/io_floor.py)"
timeout 900 "$py" "$here/io_floor.py" "$almanac" --size 10000 --rounds "$runs" --work "$work"
echo

echo "== edit → new bytes served, 10,000-event site (bench/edit_latency.py), one edit per second"
timeout 1800 "$py" "$here/edit_latency.py" "$almanac" "$work/syn10000" --rounds "$rounds" --pause 1 \
  --file events/000/event-000001.md --feed /events.ics
echo
echo "== the same, back to back (the next edit as soon as the previous one is served)"
timeout 1800 "$py" "$here/edit_latency.py" "$almanac" "$work/syn10000" --rounds "$rounds" \
  --file events/000/event-000001.md --feed /events.ics
echo
echo "== edit → new bytes served, the example site"
timeout 900 "$py" "$here/edit_latency.py" "$almanac" "$root/examples" --rounds "$rounds"

echo
echo "== HTTP: almanac serve vs nginx on the same bytes (bench/http_bench.py)"
timeout 1800 "$py" "$here/http_bench.py" "$almanac" --rounds "$wrk_rounds" --duration "$duration" --work "$work"

echo
echo "== heap allocations per request (bench/http_allocations.py)"
timeout 600 "$py" "$here/http_allocations.py" "$almanac" --work "$work"

echo
echo "== responses cut by a SIGKILL, server.sendfile on and off (bench/kill_cuts.py)"
timeout 900 "$py" "$here/kill_cuts.py" "$almanac" --trials "$kills" --work "$work"
