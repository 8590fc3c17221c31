#!/usr/bin/env python3
"""How much of `almanac build` is I/O no program could skip. Rounds alternate between
  - `almanac build` of the site into a new folder (wall and CPU time, user + system), and
  - io_floor (io_floor.c, built here with cc): the same threads reading every content file, then
    making its folders and writing every file of the finished output again as the build does
    (NAME.tmp, write, rename),
    the bytes already in memory,
and the medians are printed side by side. The floor is what the kernel charges for the bytes and
files themselves; the rest of the build's time is parsing and rendering.

usage: io_floor.py BINARY [--site DIR | --size N] [--rounds 5] [--threads 2] [--work DIR]"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from build_ab import run_build  # noqa: E402


def build(binary, site, out, threads):
    usage, wall = run_build(binary, site, out, threads)
    return {"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime}


def floor(tool, content, out, scratch, threads):
    shutil.rmtree(scratch, ignore_errors=True)
    result = subprocess.run([tool, content, out, scratch, str(threads)], check=True, capture_output=True, text=True)
    shutil.rmtree(scratch, ignore_errors=True)
    figures = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if words[0] in ("read", "write"):
            figures[words[0] + "_files"] = int(words[1])
            figures[words[0] + "_mb"] = float(words[3])
            for key in ("wall", "user", "sys"):
                figures[f"{words[0]}_{key}"] = float(words[words.index(key) + 1])
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--site")
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    # almanac's own default: the CPUs it may use, at most 8
    parser.add_argument("--threads", type=int, default=min(len(os.sched_getaffinity(0)), 8))
    parser.add_argument("--work", default="/tmp/almanac-bench")
    args = parser.parse_args()

    os.makedirs(args.work, exist_ok=True)
    site = args.site or os.path.join(args.work, f"syn{args.size}")
    if not os.path.exists(os.path.join(site, "almanac.yaml")):
        subprocess.run([sys.executable, os.path.join(HERE, "generate_site.py"), str(args.size), site], check=True)
    tool = os.path.join(args.work, "io_floor")
    subprocess.run(["cc", "-O2", "-pthread", "-o", tool, os.path.join(HERE, "io_floor.c")], check=True)
    out = os.path.join(args.work, "io-floor-out")
    scratch = os.path.join(args.work, "io-floor-scratch")
    content = os.path.join(site, "content")

    builds, floors = [], []
    for _ in range(args.rounds):
        builds.append(build(args.binary, site, out, args.threads))
        floors.append(floor(tool, content, out, scratch, args.threads))
    shutil.rmtree(out, ignore_errors=True)

    def median(rows, key):
        return statistics.median(row[key] for row in rows)

    f0 = floors[0]
    print(f"{site}: {f0['read_files']} content files ({f0['read_mb']:.0f} MB) in, "
          f"{f0['write_files']} files ({f0['write_mb']:.0f} MB) out; {args.threads} threads, "
          f"median of {args.rounds} alternating rounds")
    print(f"{'':28}| {'wall':>8} | {'user':>8} | {'system':>8} | {'CPU':>8}")
    rows = [("almanac build", {k: median(builds, k) for k in ("wall", "user", "sys")})]
    for part in ("read", "write"):
        rows.append((f"floor: {part} the files", {k: median(floors, f"{part}_{k}") for k in ("wall", "user", "sys")}))
    total = {k: rows[1][1][k] + rows[2][1][k] for k in ("wall", "user", "sys")}
    rows.append(("floor: read + write", total))
    for name, r in rows:
        print(f"{name:28}| {r['wall']:7.3f}s | {r['user']:7.3f}s | {r['sys']:7.3f}s | {r['user'] + r['sys']:7.3f}s")
    b = rows[0][1]
    print(f"the floor is {100 * (total['user'] + total['sys']) / (b['user'] + b['sys']):.0f}% of the build's CPU "
          f"and {100 * total['wall'] / b['wall']:.0f}% of its wall time")


if __name__ == "__main__":
    main()
