#!/usr/bin/env python3
"""Heap allocations per request: `almanac serve` on bench/http_bench.py's site, with
bench/malloc_count.c preloaded (built here with cc), answering keep-alive requests as wrk sends
them (Host and the case's own field only) for a 304 revalidation, the .ics, its gzip and the .atom.
Prints malloc + calloc + realloc calls per request, counted over --requests requests after a warm-up.
Loopback only; bounded in time.

usage: http_allocations.py ALMANAC_BINARY [--requests 5000] [--work DIR]"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from http_bench import free_port, make_site, wait_http  # noqa: E402


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def request(self, path, field=None):
        extra = f"{field}\r\n" if field else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        length = int(m.group(1)) if m else 0
        while len(self.buf) < length:
            self.buf += self.sock.recv(1 << 20)
        self.buf = self.buf[length:]
        return head


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("almanac")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--work", default="/tmp/almanac-bench")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    site, _ = make_site(args.work, os.path.abspath(args.almanac))
    counter = os.path.join(args.work, "malloc_count.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", counter, os.path.join(HERE, "malloc_count.c")], check=True)
    port = free_port()
    log_path = os.path.join(args.work, "http_allocations.log")
    env = dict(os.environ, LD_PRELOAD=counter)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([os.path.abspath(args.almanac), "serve", "--config", os.path.join(site, "almanac.yaml"),
                                 "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=log, env=env,
                                start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/events.ics")
        time.sleep(2)  # the first snapshot is compressed right after start

        def count():
            os.kill(proc.pid, signal.SIGUSR2)
            deadline = time.time() + 5
            while time.time() < deadline:
                found = re.findall(r"mallocs (\d+)", open(log_path).read())
                if len(found) > count.seen:
                    count.seen = len(found)
                    return int(found[-1])
                time.sleep(0.05)
            sys.exit("the counter did not answer")
        count.seen = 0

        c = Connection(port)
        etag = re.search(rb"\r\netag: *(\S+)", c.request("/events.ics"), re.I).group(1).decode()
        print(f"almanac serve, {args.requests} keep-alive requests per case (Host and the case's field only)")
        for name, path, field in [("304 revalidation", "/events.ics", f"If-None-Match: {etag}"),
                                  (".ics 200", "/events.ics", None),
                                  ("gzip .ics 200", "/events.ics", "Accept-Encoding: gzip"),
                                  (".atom 200", "/newsletter.atom", None)]:
            for _ in range(100):
                c.request(path, field)
            before = count()
            for _ in range(args.requests):
                c.request(path, field)
            after = count()
            print(f"  {name:18} {(after - before) / args.requests:6.2f} allocations per request")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
