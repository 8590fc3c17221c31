#!/usr/bin/env python3
"""Responses cut by a SIGKILL, with server.sendfile on and off: `almanac serve` on a copy of the
example site, --clients keep-alive clients fetching one document (default /blog.rss, about 180 KB)
uncompressed in a loop, killed with SIGKILL at a random moment; --trials times per setting.
Prints, for each setting, the whole responses, the responses cut short (a head received, fewer body
bytes than its Content-Length: what a proxy can no longer retry) and the requests that got no
answer at all (a reset before the head: what a proxy retries on another replica).
Loopback only; bounded in count and time.

usage: kill_cuts.py ALMANAC_BINARY [--trials 25] [--clients 8] [--path /blog.rss] [--work DIR]"""
import argparse
import http.client
import os
import random
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from edit_latency import Server  # noqa: E402
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")


def site_with(work, sendfile):
    """A copy of examples/ whose server block says only `sendfile: <sendfile>`."""
    site = os.path.join(work, f"site-sendfile-{sendfile}")
    shutil.copytree(EXAMPLES, site, symlinks=True)
    with open(os.path.join(EXAMPLES, "almanac.yaml")) as f:
        lines, skip = [], False
        for line in f:
            if line[:1] not in (" ", "#", "\n"):
                skip = line.startswith("server:")
            if not skip:
                lines.append(line)
    lines.append(f"\nserver:\n  sendfile: {'true' if sendfile else 'false'}\n")
    with open(os.path.join(site, "almanac.yaml"), "w") as f:
        f.writelines(lines)
    return site


def trial(binary, config, path, clients, rng):
    server = Server(binary, config)  # started, listening and watching, or the script exits
    port = server.port
    counts = {"whole": 0, "cut": 0, "unanswered": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client():
        mine = {"whole": 0, "cut": 0, "unanswered": 0}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while not stop.is_set():
            try:
                conn.request("GET", path)
                r = conn.getresponse()
            except (OSError, http.client.HTTPException):
                mine["unanswered"] += 1
                break
            length = int(r.getheader("Content-Length") or -1)
            try:
                body = r.read()
            except (OSError, http.client.HTTPException):
                body = b""
            if len(body) == length:
                mine["whole"] += 1
            else:
                mine["cut"] += 1
                break
        conn.close()
        with lock:
            for k, v in mine.items():
                counts[k] += v

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.3, 1.0))
    server.kill()  # SIGKILL
    stop.set()
    for t in threads:
        t.join(10)
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("almanac")
    ap.add_argument("--trials", type=int, default=25)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--path", default="/blog.rss")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    binary = os.path.abspath(args.almanac)
    work = tempfile.mkdtemp(prefix="kill-cuts-", dir=args.work)
    rng = random.Random(1)
    try:
        print(f"{args.trials} SIGKILLs per setting, {args.clients} clients fetching {args.path} uncompressed")
        for sendfile in (True, False):
            config = os.path.join(site_with(work, sendfile), "almanac.yaml")
            total = {"whole": 0, "cut": 0, "unanswered": 0}
            for _ in range(args.trials):
                for k, v in trial(binary, config, args.path, args.clients, rng).items():
                    total[k] += v
            print(f"  server.sendfile: {'true ' if sendfile else 'false'}  {total['whole']:7d} whole, "
                  f"{total['cut']:3d} cut short, {total['unanswered']:4d} unanswered (reset before a head)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
