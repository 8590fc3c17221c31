#!/usr/bin/env python3
# Edit-to-served latency of `almanac serve`: on a copy of the example site, rewrites one event's title
# 100 times and measures from the moment the write is complete (file closed, or renamed into place for an
# editor's atomic save) until the server answers with the edit, in two modes:
#   etag  until a HEAD of the feed, polled over one keep-alive connection, carries a new ETag: the
#         server's own reaction (watch, rebuild, swap), without the body's download (28 MB for the
#         10,000-event calendar); the last edit's body is then checked for the new title, and so is
#         any edit whose first rebuild was one the clock started (such an ETag change is not counted)
#   get   until a GET of the feed (If-None-Match, so an unchanged feed costs a 304) returns the new title:
#         what a client sees, the download included
# Prints count, timeouts and p50/p90/p99/max in ms for each mode and kind of write; the daemon's rebuild
# phases (from its debug log: list and read, site, render, sweep; median and max) and the process CPU time
# each rebuild took (all threads); and a memory trail: the
# server's RSS (anonymous, file, shared) and the memfds it holds, after start and every 10 edits.
# The client polls every --poll-interval ms (default 2): polling without a pause kept one of a 2-core
# machine's cores busy with the client and its requests, and the rebuild then ran on the other alone
# (render about 145 ms instead of 80 ms on the 10,000-event site).
# Back to back by default (the next edit is written as soon as the previous one is served, i.e. while the
# daemon may still be compressing the previous snapshot); --pause S waits between edits.
# usage: edit_latency.py ALMANAC_BINARY [EXAMPLES_DIR] [--rounds N] [--pause S] [--mode etag|get|both]
#                        [--file events/x.md] [--feed /events.ics] [--poll-interval MS]
import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE = 5.0  # seconds one edit may take to be served before it counts as a timeout
START_DEADLINE = 60.0


class Server:
    def __init__(self, almanac, config):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen([almanac, "serve", "--config", config, "--listen", "127.0.0.1:0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait_log(r"info: listening on http://127\.0\.0\.1:(\d+)/").group(1))
        # The watch is set up after the listening socket: edits before it would be lost.
        self.wait_log(r"info: watching ")

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()

    def wait_log(self, pattern):
        regex = re.compile(pattern)
        end = time.monotonic() + START_DEADLINE
        with self.cond:
            while True:
                for line in self.lines:
                    if m := regex.search(line):
                        return m
                if time.monotonic() > end or self.proc.poll() is not None:
                    sys.exit(f"almanac serve did not start (no {pattern!r}); log:\n" + "\n".join(self.lines[-20:]))
                self.cond.wait(0.1)

    def rebuilds(self):
        with self.cond:
            return sum(1 for line in self.lines if re.search(r"info: generation \d+ \(change", line))

    def phases(self, since=0):
        """The "rebuild phases" debug lines logged from line `since` on, as lists of ms."""
        with self.cond:
            lines = self.lines[since:]
        out = []
        for line in lines:
            if m := re.search(r"rebuild phases: list and read ([\d.]+) ms, site ([\d.]+) ms, render ([\d.]+) ms, "
                              r"sweep ([\d.]+) ms.*?(?:process CPU ([\d.]+) ms)?$", line):
                out.append([float(x) if x is not None else float("nan") for x in m.groups()])
        return out

    def first_generation_since(self, index, timeout):
        """The reason ("change", "time", ...) of the first generation logged from line `index` on,
        waiting up to `timeout` seconds for one; None if none came."""
        regex = re.compile(r"info: generation \d+ \((\w+)")
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[index:]:
                    if m := regex.search(line):
                        return m.group(1)
                if time.monotonic() > end:
                    return None
                self.cond.wait(0.05)

    def log_length(self):
        with self.cond:
            return len(self.lines)

    def memory(self):
        """(VmRSS, RssAnon, RssFile, RssShmem) in MB, and (count, MB) of the memfds the server holds."""
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    fields[key] = int(value.split()[0]) / 1024
        memfds, memfd_bytes = 0, 0
        fd_dir = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)).startswith("/memfd:"):
                    memfds += 1
                    memfd_bytes += os.stat(os.path.join(fd_dir, fd)).st_size
            except OSError:
                pass  # closed meanwhile
        return ([fields.get(k, float("nan")) for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")],
                (memfds, memfd_bytes / 1e6))

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


class Poller:
    """GETs one path over a keep-alive connection, with If-None-Match of the last body seen."""

    def __init__(self, port, path, interval):
        self.port, self.path, self.interval = port, path, interval
        self.conn = None
        self.etag = None

    def get(self):
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                headers = {"If-None-Match": self.etag} if self.etag else {}
                self.conn.request("GET", self.path, headers=headers)
                r = self.conn.getresponse()
                body = r.read()
                if r.status == 304:
                    return None
                if r.status != 200:
                    sys.exit(f"GET {self.path}: {r.status} {body[:200]!r}")
                self.etag = r.headers.get("ETag")
                return body
            except (ConnectionError, http.client.HTTPException):
                # An idle timeout closed the connection between two edits: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def head_etag(self):
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("HEAD", self.path)
                r = self.conn.getresponse()
                r.read()
                if r.status != 200:
                    sys.exit(f"HEAD {self.path}: {r.status}")
                return r.headers.get("ETag")
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def wait_for_etag(self, old, deadline):
        """Polls HEAD until the ETag differs from `old`: (time, new ETag), or (None, old)."""
        while time.perf_counter() < deadline:
            etag = self.head_etag()
            if etag != old:
                return time.perf_counter(), etag
            time.sleep(self.interval)
        return None, old

    def wait_for(self, needle, deadline):
        while time.perf_counter() < deadline:
            body = self.get()
            if body is not None and needle in body:
                return time.perf_counter()
            time.sleep(self.interval)
        return None


def percentile(sorted_values, p):
    # Nearest rank.
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def report(name, latencies, timeouts, rebuilds):
    ms = sorted(x * 1000 for x in latencies)
    print(f"{name:<20} n={len(ms):<4} timeouts={timeouts:<3} rebuilds={rebuilds:<4} "
          f"p50={percentile(ms, 50):7.1f}  p90={percentile(ms, 90):7.1f}  p99={percentile(ms, 99):7.1f}  "
          f"max={ms[-1] if ms else float('nan'):7.1f}  min={ms[0] if ms else float('nan'):6.1f} ms")


class MemoryTrail:
    """The server's memory after start and after every 10th edit, printed as it goes."""

    def __init__(self, server):
        self.server = server
        self.edits = 0
        self.rows = []
        self.sample("start")

    def sample(self, label):
        (rss, anon, file, shmem), (memfds, memfd_mb) = self.server.memory()
        # The memfds' pages are not mapped, so not in RSS: they are added (the issue's "counting any
        # memfd the process holds").
        self.rows.append((label, rss + memfd_mb))
        print(f"  memory {label:>12}: RSS {rss:7.1f} MB (anon {anon:7.1f}, file {file:6.1f}, shmem {shmem:6.1f}), "
              f"memfds {memfds} ({memfd_mb:.1f} MB)", flush=True)

    def edited(self):
        self.edits += 1
        if self.edits % 10 == 0:
            self.sample(f"{self.edits} edits")


def run(server, poller, path, rounds, atomic, tag, pause, mode, trail):
    with open(path, encoding="utf-8") as f:
        original = f.read()
    if not re.search(r'(?m)^title: .*$', original):
        sys.exit(f"{path}: no 'title:' line to edit")
    latencies, timeouts, spurious = [], 0, 0
    rebuilds_before = server.rebuilds()
    etag = poller.head_etag() if mode == "etag" else None
    for n in range(rounds):
        time.sleep(pause)
        title = f"Edit {tag}{n}"
        text = re.sub(r'(?m)^title: .*$', f'title: "{title}"', original, count=1)
        if atomic:
            tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.rename(tmp, path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        written = time.perf_counter()
        if mode == "etag":
            # A new ETag from a rebuild the clock started (an event's start or end passing) is not the
            # edit's. When the first generation logged after the write is a "time" one, the body must
            # hold the new title (the two may have been one rebuild); if it does not, that ETag becomes
            # the one to change, and polling goes on.
            while True:
                logged = server.log_length()
                served, new_etag = poller.wait_for_etag(etag, written + DEADLINE)
                if served is None:
                    break
                etag = new_etag
                if server.first_generation_since(logged, 1.0) != "time":
                    break
                poller.etag = None
                if f"SUMMARY:{title}\r\n".encode() in (poller.get() or b""):
                    break
                spurious += 1
        else:
            served = poller.wait_for(f"SUMMARY:{title}\r\n".encode(), written + DEADLINE)
        if served is None:
            timeouts += 1
        else:
            latencies.append(served - written)
        trail.edited()
    if spurious:
        print(f"  ({spurious} ETag change(s) came from time-triggered rebuilds, not the edit: not counted)")
    if mode == "etag" and rounds:
        # The new ETag must name the new bytes: the last edit's title is in the body it tags.
        poller.etag = None
        if f"SUMMARY:{title}\r\n".encode() not in (poller.get() or b""):
            sys.exit(f"the feed tagged {etag} does not hold the last edit ({title})")
    return latencies, timeouts, server.rebuilds() - rebuilds_before


def report_phases(phases):
    if not phases:
        print("rebuild phases: none logged (the config sets its own log level?)")
        return
    names = ("list and read", "site", "render", "sweep")
    walls = [p[:4] for p in phases]
    columns = list(zip(*walls))
    print(f"rebuild phases over {len(phases)} rebuilds (ms, median / max): " + ", ".join(
        f"{name} {statistics.median(col):.1f} / {max(col):.1f}" for name, col in zip(names, columns))
        + f"; total {statistics.median([sum(p) for p in walls]):.1f} / {max(sum(p) for p in walls):.1f}")
    # The CPU time of the whole process during each rebuild (all threads): steadier than wall time
    # on a shared machine, and the work a rebuild costs.
    cpu = [p[4] for p in phases if len(p) > 4 and p[4] == p[4]]
    if cpu:
        print(f"rebuild CPU time (process, all threads) over {len(cpu)} rebuilds (ms): "
              f"median {statistics.median(cpu):.1f}, max {max(cpu):.1f}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="edit-to-served latency of almanac serve")
    parser.add_argument("almanac")
    parser.add_argument("examples", nargs="?", default=os.path.join(here, "..", "examples"))
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds to wait before each edit")
    parser.add_argument("--file", default="events/ospocon-europe-2026.md", help="the event file, inside content/")
    parser.add_argument("--feed", default="/events.ics", help="the calendar feed holding that event")
    parser.add_argument("--mode", choices=("etag", "get", "both"), default="both",
                        help="time until a new ETag (HEAD), until GET returns the new title, or both (default)")
    parser.add_argument("--poll-interval", type=float, default=2.0,
                        help="ms between the client's requests while it waits for the edit (default 2)")
    args = parser.parse_args()
    if args.poll_interval < 0:
        parser.error("--poll-interval must be 0 or more")

    root = tempfile.mkdtemp(prefix="almanac-bench-")
    server = None
    try:
        site = os.path.join(root, "site")
        shutil.copytree(args.examples, site, symlinks=True)
        path = os.path.join(site, "content", args.file)
        config = os.path.join(site, "almanac.yaml")
        with open(config, encoding="utf-8") as f:
            has_log = re.search(r"(?m)^log:", f.read())
        if not has_log:  # the rebuild phases are debug lines
            with open(config, "a", encoding="utf-8") as f:
                f.write("\nlog:\n  level: debug\n")
        server = Server(os.path.abspath(args.almanac), config)
        poller = Poller(server.port, args.feed, args.poll_interval / 1000)
        poller.get()
        print(f"almanac serve on {args.examples}: editing content/{args.file}, polling {args.feed}, "
              f"{args.rounds} rounds each, {args.pause:g} s between edits, a request every {args.poll_interval:g} ms "
              f"while waiting, deadline {DEADLINE:.0f} s per edit")
        # The first snapshot is served before it is compressed: the memory after start counts its encodings.
        if not has_log:
            server.wait_log(r"debug: generation 1 compressed in")
        time.sleep(max(args.pause, 1.0))
        trail = MemoryTrail(server)
        log_start = server.log_length()
        failed = False
        results = []
        for mode in (("etag", "get") if args.mode == "both" else (args.mode,)):
            for name, atomic, tag in (("write+close", False, "w"), ("atomic save", True, "a")):
                latencies, timeouts, rebuilds = run(server, poller, path, args.rounds, atomic, tag + mode[0],
                                                    args.pause, mode, trail)
                results.append((f"{mode} {name}", latencies, timeouts, rebuilds))
                failed |= timeouts > 0
        print("edit -> new ETag (HEAD) is the server's reaction; edit -> GET with the new title adds the download")
        for result in results:
            report(*result)
        report_phases(server.phases(log_start))
        print("memory (RSS + memfds, MB): " + ", ".join(f"{label} {rss:.0f}" for label, rss in trail.rows))
        print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
        return 1 if failed else 0
    finally:
        if server:
            server.kill()
        shutil.rmtree(root, True)


if __name__ == "__main__":
    sys.exit(main())
