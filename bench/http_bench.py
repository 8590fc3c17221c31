#!/usr/bin/env python3
"""HTTP benchmark: wrk against `almanac serve` and against nginx serving the same bytes from disk
(`almanac build` output; sendfile; gzip_static with the same level-9 .gz files), same wrk threads and
connections, run alternately in one session, for: a ~200 KB .ics, a ~50 KB .atom, a 304 revalidation
(If-None-Match with each server's own ETag) and a gzip response, with the CPU time each server spent
per request (its processes' user + system time over the run: steadier than requests/s on a busy
machine, where the servers share the CPUs with wrk and whatever else runs). Then 10,000 idle keep-alive
connections held by almanac: its CPU time and RSS idle with and without them. Loopback only; every
step is bounded in time.

usage: http_bench.py ALMANAC_BINARY [--rounds 3] [--duration 10] [--connections 64] [--threads 2]
                     [--idle 10000] [--work DIR] [--nginx-www DIR]
Prints one line per wrk run, then a table of medians with the almanac/nginx ratios."""
import argparse
import gzip
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

NGINX_CONF = """worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
daemon off;
worker_rlimit_nofile 65536;
events {{ worker_connections 20000; }}
http {{
    types {{ text/calendar ics; application/atom+xml atom; application/rss+xml rss; application/feed+json json; text/html html; }}
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 600s;
    keepalive_requests 100000000;
    open_file_cache max=1000 inactive=60s;
    client_body_temp_path {work}/nginx-tmp;
    proxy_temp_path {work}/nginx-tmp;
    fastcgi_temp_path {work}/nginx-tmp;
    uwsgi_temp_path {work}/nginx-tmp;
    scgi_temp_path {work}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        gzip_static on;
        gzip_vary on;
        etag on;
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {deadline} s")


def make_site(work, almanac, www_dir=None):
    site = os.path.join(work, "http-site")
    if not os.path.exists(os.path.join(site, "almanac.yaml")):
        shutil.rmtree(site, ignore_errors=True)
        # 70 events: a ~200 KB calendar; the newsletter feed capped at 5 posts: a ~50 KB Atom feed.
        subprocess.run([sys.executable, os.path.join(HERE, "generate_site.py"), "70", site], check=True)
        path = os.path.join(site, "almanac.yaml")
        text = open(path).read().replace("limit: 50", "limit: 5")
        text += ("server:\n  cache_max_age: 300s\n  limits:\n    max_connections: 30000\n    idle_timeout: 600s\n"
                 "log:\n  level: warn\n")
        open(path, "w").write(text)
    www = os.path.join(www_dir or work, "http-www")
    shutil.rmtree(www, ignore_errors=True)
    subprocess.run([almanac, "build", "--config", os.path.join(site, "almanac.yaml"), "--out", www], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for d, _, files in os.walk(www):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as src, open(p + ".gz", "wb") as dst:
                dst.write(gzip.compress(src.read(), compresslevel=9, mtime=0))
    return site, www


def wrk(url, args, headers):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s", "--latency",
           "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=args.duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return (rps, float(p99.group(1)) * scale, (int(errors.group(1)) if errors else 0),
            (socket_errors.group(1) if socket_errors else ""), requests)


def response_headers(url, headers=()):
    req = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        return dict(r.headers.items()), len(body)


def proc_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    """The process ids whose parent is `pid` (nginx's workers)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            total += proc_cpu_seconds(pid)
        except OSError:
            pass
    return total


def proc_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_connections(port, pid, count, seconds):
    """Opens `count` keep-alive connections, each makes one request, then all sit idle for `seconds`.
    Returns (cpu seconds idle without, with the connections; RSS before, with; connections held)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
    time.sleep(1)
    c0 = proc_cpu_seconds(pid)
    time.sleep(seconds)
    idle_without = proc_cpu_seconds(pid) - c0
    rss_before = proc_rss_mb(pid)
    sel = selectors.DefaultSelector()
    socks = []
    request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
    deadline = time.time() + 120
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        s.send(request)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    answered = 0
    while answered < count and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)
            if data.startswith(b"HTTP/1.1 200"):
                answered += 1
            sel.unregister(key.fileobj)
    time.sleep(1)
    c1 = proc_cpu_seconds(pid)
    time.sleep(seconds)
    idle_with = proc_cpu_seconds(pid) - c1
    rss_with = proc_rss_mb(pid)
    # Still open? A closed socket reads b"" at once.
    alive = 0
    for s in socks:
        try:
            alive += s.recv(1, socket.MSG_PEEK) is None
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    # And a new client is still served at once.
    t = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{port}/events.ics", timeout=10).read()
    fresh_ms = (time.perf_counter() - t) * 1000
    for s in socks:
        s.close()
    return idle_without, idle_with, rss_before, rss_with, answered, alive, fresh_ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("almanac")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--idle-seconds", type=int, default=10)
    parser.add_argument("--work", default="/tmp/almanac-bench")
    # Where nginx's files are: by default under --work. A tmpfs (/dev/shm) puts them in the same kind
    # of memory as almanac's sealed bodies (shmem); a disk file system with large folios (ext4 from
    # Linux 6.16) lets sendfile look up a 200 KB file in a few folios instead of 49 pages.
    parser.add_argument("--nginx-www", default=None, help="the folder for nginx's copy of the files")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("nginx"):
        sys.exit("needs wrk and nginx (apt-get install wrk nginx)")
    almanac = os.path.abspath(args.almanac)
    os.makedirs(args.work, exist_ok=True)
    site, www = make_site(args.work, almanac, args.nginx_www)

    a_port, n_port = free_port(), free_port()
    almanac_proc = subprocess.Popen([almanac, "serve", "--config", os.path.join(site, "almanac.yaml"), "--listen",
                                     f"127.0.0.1:{a_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
    os.makedirs(os.path.join(args.work, "nginx-tmp"), exist_ok=True)
    conf = os.path.join(args.work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(workers=os.cpu_count(), work=args.work, port=n_port, root=www))
    nginx_proc = subprocess.Popen(["nginx", "-c", conf, "-e", os.path.join(args.work, "nginx-error.log")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        servers = {"almanac": f"http://127.0.0.1:{a_port}", "nginx": f"http://127.0.0.1:{n_port}"}
        for base in servers.values():
            wait_http(base + "/events.ics")
        time.sleep(2)  # almanac compresses its first snapshot right after start

        cases = []
        for name, path, extra in [(".ics 200", "/events.ics", []), (".atom 200", "/newsletter.atom", []),
                                  ("304 revalidation", "/events.ics", "etag"),
                                  ("gzip .ics 200", "/events.ics", ["Accept-Encoding: gzip"])]:
            per_server = {}
            for server, base in servers.items():
                if extra == "etag":
                    headers, _ = response_headers(base + path)
                    per_server[server] = [f"If-None-Match: {headers['ETag']}"]
                else:
                    per_server[server] = extra
            cases.append((name, path, per_server))
        for name, path, per_server in cases:
            revalidation = name.startswith("304")
            headers, size = response_headers(servers["almanac"] + path, [] if revalidation else per_server["almanac"])
            nheaders, nsize = response_headers(servers["nginx"] + path, [] if revalidation else per_server["nginx"])
            print(f"{name}: {path} almanac {size} bytes ({headers.get('Content-Encoding', 'identity')}), "
                  f"nginx {nsize} bytes ({nheaders.get('Content-Encoding', 'identity')})", flush=True)

        # The processes whose CPU time is counted: almanac's one, nginx's workers.
        pids = {"almanac": lambda: [almanac_proc.pid], "nginx": lambda: children(nginx_proc.pid)}
        load_before = open("/proc/loadavg").read().split()[:3]
        results = {}
        for r in range(args.rounds):
            for name, path, per_server in cases:
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for server in order:
                    counted = pids[server]()
                    cpu_before = cpu_seconds(counted)
                    rps, p99, non2xx, socket_errors, requests = wrk(servers[server] + path, args, per_server[server])
                    cpu_us = (cpu_seconds(counted) - cpu_before) / max(requests, 1) * 1e6
                    results.setdefault((name, server), []).append((rps, p99, cpu_us))
                    note = f" non-2xx/3xx {non2xx}" if non2xx and "304" not in name else ""
                    note += f" socket errors: {socket_errors}" if socket_errors else ""
                    print(f"  round {r + 1} {name:18} {server:8} {rps:10.0f} req/s  p99 {p99:7.2f} ms  "
                          f"CPU {cpu_us:6.1f} us/req{note}", flush=True)

        print()
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, median of {args.rounds} alternating rounds, "
              f"{os.cpu_count()} CPUs, load average {' '.join(load_before)} before, "
              f"{' '.join(open('/proc/loadavg').read().split()[:3])} after")
        print(f"{'case':18} | {'almanac req/s':>13} | {'nginx req/s':>11} | {'ratio':>5} | {'almanac p99':>11} | "
              f"{'nginx p99':>9} | {'almanac CPU/req':>15} | {'nginx CPU/req':>13}")
        for name, _, _ in cases:
            a = results[(name, "almanac")]
            n = results[(name, "nginx")]
            ar, nr = statistics.median(x[0] for x in a), statistics.median(x[0] for x in n)
            ap, np_ = statistics.median(x[1] for x in a), statistics.median(x[1] for x in n)
            ac, nc = statistics.median(x[2] for x in a), statistics.median(x[2] for x in n)
            print(f"{name:18} | {ar:13.0f} | {nr:11.0f} | {ar / nr:5.2f} | {ap:8.2f} ms | {np_:6.2f} ms | "
                  f"{ac:12.1f} us | {nc:10.1f} us")

        if args.idle > 0:
            print()
            w, c, rb, rw, answered, alive, fresh = idle_connections(a_port, almanac_proc.pid, args.idle, args.idle_seconds)
            print(f"idle keep-alive: {answered} of {args.idle} connections answered, {alive} still open after "
                  f"{args.idle_seconds} s idle; almanac CPU over {args.idle_seconds} s idle: {w * 1000:.0f} ms without them, "
                  f"{c * 1000:.0f} ms with them; RSS {rb:.0f} MB → {rw:.0f} MB; a new client got /events.ics in {fresh:.1f} ms")
    finally:
        for p in (almanac_proc, nginx_proc):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
