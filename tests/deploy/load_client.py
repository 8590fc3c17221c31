#!/usr/bin/env python3
# A bounded load on nginx in front of the replicas, killing one replica (SIGKILL) part-way through.
# Each request is a feed with a unique cache-busting parameter (almanac ignores unknown parameters,
# nginx's cache key does not), so every request reaches a replica; one in three is conditional.
# Every answer must be 200 with the reference bytes, or 304: anything else, or a connection error,
# is a request the client saw fail.
# usage: load_client.py NGINX_URL REFERENCE_URL KILL_PID [--total N] [--seconds S] [--threads T]
#                       [--kill-at N] PATH...
# Prints "ok NAME" / "FAIL NAME: why" lines, and the counts.
import argparse
import collections
import hashlib
import http.client
import os
import signal
import sys
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("nginx")
ap.add_argument("reference")
ap.add_argument("kill_pid", type=int)
ap.add_argument("paths", nargs="+")
ap.add_argument("--total", type=int, default=2000)
ap.add_argument("--seconds", type=float, default=20.0)
ap.add_argument("--threads", type=int, default=8)
ap.add_argument("--kill-at", type=int, default=600)
args = ap.parse_args()


def connection(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


# The reference: each path's bytes and ETag, straight from a replica.
reference = {}
ref = connection(args.reference)
for path in args.paths:
    ref.request("GET", path)
    r = ref.getresponse()
    body = r.read()
    if r.status != 200 or not r.getheader("ETag"):
        print(f"FAIL reference {path}: {r.status}")
        sys.exit(1)
    reference[path] = (r.getheader("ETag"), hashlib.sha256(body).hexdigest(), len(body))
ref.close()

lock = threading.Lock()
counter = 0  # requests started
done = 0
done_after_kill = 0
killed_at = None
statuses = collections.Counter()
failures = []
deadline = time.monotonic() + args.seconds


def next_index():
    global counter
    with lock:
        if counter >= args.total or time.monotonic() >= deadline:
            return None
        counter += 1
        return counter


def finished(status, problem):
    global done, done_after_kill, killed_at
    with lock:
        done += 1
        statuses[status] += 1
        if problem:
            failures.append(problem)
        if killed_at is not None:
            done_after_kill += 1
        elif done >= args.kill_at:
            os.kill(args.kill_pid, signal.SIGKILL)
            killed_at = time.monotonic()


def worker(seed):
    conn = None
    while (i := next_index()) is not None:
        path = args.paths[(i + seed) % len(args.paths)]
        etag, digest, length = reference[path]
        conditional = i % 3 == 0
        target = f"{path}{'&' if '?' in path else '?'}n={i}"
        headers = {"If-None-Match": etag} if conditional else {}
        try:
            if conn is None:
                conn = connection(args.nginx)
            conn.request("GET", target, headers=headers)
            r = conn.getresponse()
            body = r.read()
            problem = None
            if conditional and r.status != 304:
                problem = f"{target} (If-None-Match): {r.status}"
            elif not conditional and r.status != 200:
                problem = f"{target}: {r.status}"
            elif r.status == 200 and (hashlib.sha256(body).hexdigest() != digest or r.getheader("ETag") != etag):
                problem = f"{target}: other bytes ({len(body)} of {length}, ETag {r.getheader('ETag')})"
            if r.will_close:
                conn.close()
                conn = None
            finished(r.status, problem)
        except (OSError, http.client.HTTPException) as e:
            finished("error", f"{target}: {type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


started = time.monotonic()
threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - started

print(f"load: {done} requests in {elapsed:.1f} s ({done / elapsed:.0f}/s), {args.threads} connections; "
      f"statuses {dict(statuses)}; replica killed after {args.kill_at}, {done_after_kill} requests after")


def check(name, cond, why=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {why}"), flush=True)
    return cond


results = [
    check("load: a replica was killed mid-load", killed_at is not None and done_after_kill >= args.kill_at // 2,
          f"killed: {killed_at is not None}, {done_after_kill} requests after"),
    check(f"load: zero failed requests ({done} requests, 200/304 only)", not failures and done > 0,
          f"{len(failures)} failed: {failures[:5]}"),
]
sys.exit(0 if all(results) else 1)
