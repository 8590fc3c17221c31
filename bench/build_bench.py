#!/usr/bin/env python3
"""Full-build benchmark: `almanac build` on synthetic sites of N events (+ N/10 newsletters), and Hugo
on the same content files, run alternately in one session. Prints, per site, the median (and min/max)
wall time and peak RSS over --runs runs, and the Hugo/almanac ratios.

usage: build_bench.py ALMANAC_BINARY [--sizes 1000,10000,100000] [--runs 3] [--work DIR] [--no-hugo]

Sites are generated once into --work (default: /tmp/almanac-bench) by generate_site.py and reused.
Peak RSS is the child's ru_maxrss (os.wait4), wall time is measured around the process."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

HUGO_CONFIG = """baseURL = "https://bench.example.org/"
title = "Synthetic site"
disableKinds = ["taxonomy", "term"]
[outputs]
  home = ["HTML", "RSS"]
  section = ["HTML", "RSS"]
"""
# The smallest layouts that make Hugo render every page and list, as a site would.
HUGO_LAYOUTS = {
    "_default/single.html": "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>{{ .Content }}\n",
    "_default/list.html": "<!doctype html><title>{{ .Title }}</title><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a>{{ end }}</ul>\n",
}


def run(cmd, cwd=None):
    """Runs cmd; returns (seconds, peak RSS in MB, returncode)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(f"{' '.join(cmd)} exited {code}:\n{err[-2000:]}\n")
    return elapsed, usage.ru_maxrss / 1024.0, code


def ensure_site(work, n):
    site = os.path.join(work, f"syn{n}")
    if not os.path.exists(os.path.join(site, "almanac.yaml")):
        print(f"generating {site} ...", flush=True)
        shutil.rmtree(site, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "generate_site.py"), str(n), site], check=True)
    return site


def ensure_hugo_site(site):
    """A Hugo site whose content/ is the almanac site's content/ (a symlink: the same files)."""
    hugo = site + "-hugo"
    if not os.path.exists(os.path.join(hugo, "config.toml")):
        os.makedirs(hugo, exist_ok=True)
        with open(os.path.join(hugo, "config.toml"), "w") as f:
            f.write(HUGO_CONFIG)
        for rel, text in HUGO_LAYOUTS.items():
            path = os.path.join(hugo, "layouts", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        os.symlink(os.path.join(site, "content"), os.path.join(hugo, "content"))
    return hugo


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("almanac")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="/tmp/almanac-bench")
    parser.add_argument("--no-hugo", action="store_true")
    args = parser.parse_args()
    almanac = os.path.abspath(args.almanac)
    hugo_bin = None if args.no_hugo else shutil.which("hugo")
    os.makedirs(args.work, exist_ok=True)
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        site = ensure_site(args.work, n)
        hugo_site = ensure_hugo_site(site) if hugo_bin else None
        out = os.path.join(args.work, f"out{n}")
        results = {"almanac": [], "hugo": []}
        for i in range(args.runs):
            shutil.rmtree(out, ignore_errors=True)
            t, rss, code = run([almanac, "build", "--config", os.path.join(site, "almanac.yaml"), "--out", out])
            if code == 0:
                results["almanac"].append((t, rss))
            print(f"  N={n} run {i + 1}: almanac {t:.2f} s {rss:.0f} MB", end="", flush=True)
            if hugo_bin:
                hugo_out = os.path.join(args.work, f"hugo-out{n}")
                shutil.rmtree(hugo_out, ignore_errors=True)
                t, rss, code = run([hugo_bin, "--quiet", "--source", hugo_site, "--destination", hugo_out])
                if code == 0:
                    results["hugo"].append((t, rss))
                print(f"; hugo {t:.2f} s {rss:.0f} MB", end="", flush=True)
            print(flush=True)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs) if os.path.isdir(out) else 0
        rows.append((n, results, size))

    print()
    print(f"{'site':>28} | {'almanac build':>22} | {'peak RSS':>9} | {'output':>8} | {'hugo':>22} | {'hugo RSS':>9} | {'time ×':>6} | {'RSS ×':>5}")
    for n, results, size in rows:
        a = results["almanac"]
        h = results["hugo"]
        if not a:
            print(f"{n:>6} events + {n // 10:>6} posts | failed")
            continue
        at, at_min, at_max = summary([t for t, _ in a])
        ar = statistics.median([r for _, r in a])
        line = f"{n:>6} events + {n // 10:>6} posts | {at:6.2f} s ({at_min:.2f}–{at_max:.2f}) | {ar:6.0f} MB | {size / 1e6:5.0f} MB"
        if h:
            ht, ht_min, ht_max = summary([t for t, _ in h])
            hr = statistics.median([r for _, r in h])
            line += f" | {ht:6.2f} s ({ht_min:.2f}–{ht_max:.2f}) | {hr:6.0f} MB | {ht / at:6.1f} | {hr / ar:5.1f}"
        print(line)
    print(f"\n(median of {args.runs} runs, min–max in brackets; ALMANAC_THREADS={os.environ.get('ALMANAC_THREADS', 'default')}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
