#!/usr/bin/env bash
# Scale-out as docs/deploy.md describes it: real nginx (Debian package nginx) on loopback, running the
# site config printed in docs/deploy.md, in front of two almanac replicas serving copies of the example
# site with the replicas' server block printed there (sendfile: false). Identical ETags and bytes
# from both replicas; through nginx MISS → HIT, 304, one cache entry
# per encoding, revalidation of one replica's entries by the other; one replica killed (SIGKILL) in
# the middle of a bounded load with zero failed requests seen by the client, and no sealed file
# (sendfile) on the survivor; stale entries served
# when both are down.
# usage: nginx_test.sh ALMANAC SOURCE_DIR
source "$(dirname "${BASH_SOURCE[0]}")/../script_harness.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
max_age=6   # the replicas' server.cache_max_age, short so that entries expire during the test

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx_bin" ]; then fail "nginx is not installed (Debian package nginx)"; finish; exit; fi

# get URL [curl args]: body to $tmp/body, headers (lower-case names, no CR) to $tmp/head; prints the status.
get() {
  local url=$1; shift
  curl -s --noproxy '*' --max-time 20 -o "$tmp/body" -D "$tmp/head.raw" -w '%{http_code}' "$@" "$url"
  tr -d '\r' <"$tmp/head.raw" | sed 's/^\([^:]*\):/\L\1:/' >"$tmp/head"
}
header() { sed -n "s/^$1: //p" "$tmp/head" | tail -1; }
# doc_block NAME: the fenced block between <!-- NAME:begin … --> and <!-- NAME:end --> in docs/deploy.md,
# without the markers and the fence lines.
doc_block() { sed -n "/<!-- $1:begin/,/<!-- $1:end/p" "$src/docs/deploy.md" | sed '1,2d;$d' | sed '$d'; }
expect() { # NAME ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', expected '$3'"; return 1; fi
}

# --- two replicas, each on its own copy of the example site (copied without keeping modification
# times: the bytes must not depend on them), with the server block of docs/deploy.md and a short
# max-age (the port comes from --listen).
doc_block replica-server >"$tmp/replica-server.yaml"
if [ "$(head -1 "$tmp/replica-server.yaml")" = "server:" ] && grep -q -E '^  sendfile: false( |$)' "$tmp/replica-server.yaml"; then
  ok "docs/deploy.md's replica server block, with sendfile: false"
else fail "docs/deploy.md's replica server block"; cat "$tmp/replica-server.yaml"; finish; exit; fi
for r in r1 r2; do
  cp -r "$src/examples" "$tmp/$r"
  awk '/^[^ #]/ { skip = ($0 ~ /^server:/) } !skip' "$src/examples/almanac.yaml" >"$tmp/$r/almanac.yaml"
  { echo; cat "$tmp/replica-server.yaml"; echo "  cache_max_age: ${max_age}s"; } >>"$tmp/$r/almanac.yaml"
  "$almanac" serve --config "$tmp/$r/almanac.yaml" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/$r.log" &
  pid=$!; pids+=("$pid"); eval "${r}_pid=$pid"
done
for r in r1 r2; do
  if wait_for "$tmp/$r.log" 'listening on http' 30; then
    eval "${r}_port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/$r.log" | head -1)"
  else fail "replica $r did not start"; cat "$tmp/$r.log"; finish; exit; fi
done
r1="http://127.0.0.1:$r1_port" r2="http://127.0.0.1:$r2_port"
echo "replicas: $r1 (pid $r1_pid), $r2 (pid $r2_pid)"

# --- the replicas agree: same ETag and bytes, in every encoding (each dates them itself).
paths=(/events.ics /meetups.ics /blog.rss /blog.atom /newsletter.json /events.json / /tz/Asia/Tokyo/events.ics
       /tz/America/Argentina/Buenos_Aires/meetups.ics "/events.ics?tag=ospo")
from_py /usr/bin/python3 "$here/compare_replicas.py" "$r1" "$r2" "${paths[@]}"

# --- nginx with the site config of docs/deploy.md.
port=$(free_port)
ndir="$tmp/nginx"; mkdir -p "$ndir/cache"
doc_block nginx-site >"$ndir/site.conf"
sed -e "s|server 127.0.0.1:8081 |server 127.0.0.1:$r1_port |" -e "s|server 127.0.0.1:8082 |server 127.0.0.1:$r2_port |" \
    -e "s|^\(    listen \)80;|\1127.0.0.1:$port;|" -e "s|/var/cache/nginx/almanac|$ndir/cache|" \
    "$ndir/site.conf" >"$ndir/almanac.conf"
# Each replacement must have happened: nothing may point at an address the test did not start.
subst_ok=1
for want in "server 127.0.0.1:$r1_port " "server 127.0.0.1:$r2_port " "listen 127.0.0.1:$port;" "proxy_cache_path $ndir/cache "; do
  grep -q -F "$want" "$ndir/almanac.conf" || { fail "docs/deploy.md's nginx block: no line for '$want'"; subst_ok=0; }
done
if [ "$(grep -c -E '^\s*(server [0-9]|listen )' "$ndir/almanac.conf")" != 3 ]; then
  fail "docs/deploy.md's nginx block: expected 2 upstream servers and 1 listen"; subst_ok=0; fi
[ $subst_ok = 1 ] && ok "the nginx config is docs/deploy.md's, with the test's ports and paths" \
  || { cat "$ndir/almanac.conf"; finish; exit; }
sed "s|@DIR@|$ndir|g" "$here/nginx.conf.in" >"$ndir/nginx.conf"
# As root, the whole nginx runs as nobody; otherwise as the user running the test.
run_nginx=("$nginx_bin")
if [ "$(id -u)" = 0 ]; then
  chmod 711 "$tmp"; chown -R 65534:65534 "$ndir"
  run_nginx=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all "$nginx_bin")
fi
if "${run_nginx[@]}" -t -q -p "$ndir" -c "$ndir/nginx.conf" -e "$ndir/error.log" >"$ndir/t.out" 2>&1; then
  ok "nginx -t"; else fail "nginx -t"; cat "$ndir/t.out"; cat "$ndir/error.log" 2>/dev/null; finish; exit; fi
"${run_nginx[@]}" -p "$ndir" -c "$ndir/nginx.conf" -e "$ndir/error.log" >"$ndir/stdout" 2>&1 &
nginx_pid=$!; pids+=("$nginx_pid")
n="http://127.0.0.1:$port"
end=$((SECONDS + 10))
until curl -s --noproxy '*' --max-time 2 -o /dev/null "$n/healthz"; do
  [ $SECONDS -ge $end ] && { fail "nginx did not answer"; cat "$ndir/error.log"; finish; exit; }; sleep 0.05
done
[ "$(stat -c %u /proc/$nginx_pid)" != 0 ] && ok "nginx runs unprivileged (uid $(stat -c %u /proc/$nginx_pid))" \
  || fail "nginx runs as root"

# --- the cache honours almanac's headers.
direct_etag=$(get "$r1/events.ics" >/dev/null; header etag)
expect "first request: MISS" "$(get "$n/events.ics"; echo " $(header x-cache-status)")" "200 MISS"
expect "same ETag through nginx" "$(header etag)" "$direct_etag"
expect "Cache-Control passed on" "$(header cache-control)" "public, max-age=$max_age"
sha_miss=$(sha256sum <"$tmp/body")
expect "second request: HIT" "$(get "$n/events.ics"; echo " $(header x-cache-status)")" "200 HIT"
expect "HIT: same bytes" "$(sha256sum <"$tmp/body")" "$sha_miss"
expect "If-None-Match through nginx: 304" "$(get "$n/events.ics" -H "If-None-Match: $direct_etag"; echo " $(header x-cache-status)")" "304 HIT"
expect "304 carries the ETag" "$(header etag)" "$direct_etag"
lm=$(header last-modified)
expect "If-Modified-Since through nginx: 304" "$(get "$n/events.ics" -H "If-Modified-Since: $lm")" 304
expect "another ETag: 200" "$(get "$n/events.ics" -H 'If-None-Match: "other"')" 200
# One entry per encoding, whatever the client's spelling of Accept-Encoding.
expect "br: its own entry, MISS" "$(get "$n/events.ics" -H 'Accept-Encoding: br'; echo " $(header x-cache-status) $(header content-encoding)")" "200 MISS br"
expect "br ETag" "$(header etag)" "${direct_etag%\"}.br\""
expect "'gzip, deflate, br' is the br entry: HIT" "$(get "$n/events.ics" -H 'Accept-Encoding: gzip, deflate, br'; echo " $(header x-cache-status) $(header content-encoding)")" "200 HIT br"
expect "gzip: MISS" "$(get "$n/events.ics" -H 'Accept-Encoding: gzip'; echo " $(header x-cache-status) $(header content-encoding)")" "200 MISS gzip"
expect "'br;q=0, gzip;q=0.5' is identity: HIT" "$(get "$n/events.ics" -H 'Accept-Encoding: br;q=0, gzip;q=0.5'; echo " $(header x-cache-status) $(header content-encoding)")" "200 HIT "
expect "identity entry still there: HIT" "$(get "$n/events.ics"; echo " $(header x-cache-status)")" "200 HIT"
# no-store answers are never cached.
get "$n/healthz" >/dev/null
expect "/healthz not cached" "$(get "$n/healthz"; echo " $(header x-cache-status)")" "200 MISS"
get "$n/nope.ics" >/dev/null
expect "404 not cached" "$(get "$n/nope.ics"; echo " $(header x-cache-status)")" "404 MISS"
expect "/metrics not exposed" "$(get "$n/metrics")" 403
# Entries for revalidation later, filled round-robin by both replicas.
reval=(/meetups.ics /blog.rss /blog.atom /newsletter.json /events.json /tz/Asia/Tokyo/events.ics)
for p in "${reval[@]}"; do get "$n$p" >/dev/null; done
reval_filled=$EPOCHREALTIME

# --- one replica killed in the middle of a bounded load: the client sees no failure.
# (The braces keep bash's "Killed" job notice out of the output.)
{ from_py /usr/bin/python3 "$here/load_client.py" "$n" "$r2" "$r1_pid" --total 3000 --seconds 20 --threads 8 \
    --kill-at 1000 /events.ics /meetups.ics /blog.rss /newsletter.json /events.json "/events.ics?tag=ospo"
  wait "$r1_pid"; r1_status=$?; } 2>/dev/null
expect "replica 1 died of SIGKILL" "$r1_status" 137
retried=$(grep -c -E "\"127.0.0.1:$r1_port, 127.0.0.1:$r2_port\"" "$ndir/access.log")
[ "$retried" -ge 1 ] && ok "nginx retried on the surviving replica ($retried request(s))" \
  || { fail "no request was retried"; grep -c . "$ndir/access.log"; }
grep -q -E 'connect\(\) failed \(111|upstream prematurely closed|recv\(\) failed \(104' "$ndir/error.log" \
  && ok "nginx logged the dead replica" || fail "no upstream error in nginx's log"
# The surviving replica sent /blog.rss (180 KB) uncompressed, with one write: no sealed copy for sendfile.
expect "sendfile: false: replica 2 holds no sealed file" \
  "$(curl -s --noproxy '*' --max-time 5 "$r2/metrics" | sed -n 's/^almanac_sealed_files //p')" 0

# --- expired entries filled by replica 1 are revalidated by replica 2 (same ETags): 304 upstream.
sleep "$(awk -v f="$reval_filled" -v now="$EPOCHREALTIME" -v m="$max_age" 'BEGIN { w = f + m + 1.2 - now; if (w < 0) w = 0; printf "%.2f", w }')"
from_r1=0 revalidated=0
for p in "${reval[@]}"; do
  grep -q -E "^$(printf '%s' "$p" | sed 's/[.?]/\\&/g') 200 MISS \"127.0.0.1:$r1_port\"" "$ndir/access.log" && from_r1=$((from_r1 + 1))
  [ "$(get "$n$p"; echo " $(header x-cache-status)")" = "200 REVALIDATED" ] && revalidated=$((revalidated + 1))
done
[ "$from_r1" -ge 1 ] && ok "$from_r1 of the entries came from replica 1" || fail "no entry came from replica 1"
expect "all ${#reval[@]} expired entries REVALIDATED by replica 2" "$revalidated" "${#reval[@]}" \
  || { grep -E "^($(IFS='|'; echo "${reval[*]}" | sed 's/[.?]/\\&/g')) " "$ndir/access.log"; cat "$ndir/error.log"; }
up304=$(tail -n "${#reval[@]}" "$ndir/access.log" | grep -c -E "200 REVALIDATED \"[^\"]*127.0.0.1:$r2_port\" \"([0-9]+, )?304\"")
expect "replica 2 answered 304 to nginx's revalidations" "$up304" "${#reval[@]}"

# --- both replicas down: expired entries are served stale.
stop "$r2_pid"; expect "replica 2: SIGTERM exits 0" $? 0
# /events.ics expired long ago and was not revalidated since.
expect "both down: an expired entry is served STALE" "$(get "$n/events.ics"; echo " $(header x-cache-status)")" "200 STALE"
expect "STALE: same bytes" "$(sha256sum <"$tmp/body")" "$sha_miss"
expect "both down: an uncached one is 502" "$(get "$n/events.ics?uncached=1")" 502

stop "$nginx_pid" QUIT; expect "nginx: graceful stop" $? 0
finish
