#!/usr/bin/python3
"""Every zone of the system tz database, 1970 to 2100, against the tz database itself.

For each zone, zdump lists the transitions; around each one (and between them) wall times are
chosen, and python's zoneinfo gives their UTC instants under RFC 5545 §3.3.5 (a time in a gap is
shifted forward by the gap's length, a time in an overlap is its first occurrence). Then:
  1. almanac's wall-time-to-UTC conversion (tz_probe to-utc) must give every one of them;
  2. almanac's VTIMEZONEs for 1970-2100, as Mozilla ical.js expands them, must give every wall time
     that is neither in a gap nor in an overlap (there ical.js has rules of its own).

Usage: tz_sweep_test.py TZ_PROBE SOURCE_DIR
"""
import collections
import datetime
import os
import subprocess
import sys
import tempfile
import time
import zoneinfo

FIRST_YEAR, LAST_YEAR = 1970, 2100
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1)
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


def zones():
    # 'localtime' is this machine's zone and 'Factory' the placeholder of a machine with none set:
    # neither is a place, and almanac refuses both by name.
    return sorted(z for z in zoneinfo.available_timezones() if z not in ("localtime", "Factory"))


def transitions(names):
    """{zone: [(utc seconds, offset before, offset after)]} from zdump -v."""
    out = subprocess.run(["zdump", "-v", "-c", f"{FIRST_YEAR},{LAST_YEAR + 1}", *names],
                         check=True, capture_output=True, text=True).stdout
    result = collections.defaultdict(list)
    previous = {}
    for line in out.splitlines():
        name, _, rest = line.partition("  ")
        if "gmtoff=" not in rest:
            continue
        # "Sun Mar 27 01:00:00 2039 UT = Sun Mar 27 00:00:00 2039 -01 isdst=1 gmtoff=-3600"
        fields = rest.split()
        hh, mm, ss = map(int, fields[3].split(":"))
        when = datetime.datetime(int(fields[4]), MONTHS[fields[1]], int(fields[2]), hh, mm, ss)
        seconds = int((when - EPOCH).total_seconds())
        offset = int(rest.rsplit("gmtoff=", 1)[1])
        last = previous.get(name)
        if last and last[0] == seconds - 1:
            result[name].append((seconds, last[1], offset))
        previous[name] = (seconds, offset)
    return result


def wall_text(seconds):
    return (EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def points(name, changes):
    """Wall times (as Unix-like local seconds) worth checking in this zone."""
    walls = set()
    bounds = [int((datetime.datetime(y, 1, 1) - EPOCH).total_seconds()) for y in (FIRST_YEAR, 2000, LAST_YEAR)]
    walls.update(b + 43200 for b in bounds)
    for i, (at, before, after) in enumerate(changes):
        low, high = min(before, after), max(before, after)
        walls.update({at + low - 1, at + low, at + (low + high) // 2, at + high})
        if i + 1 < len(changes):  # the middle of the period that follows
            walls.add((at + changes[i + 1][0]) // 2 + after)
    first, last = bounds[0], int((datetime.datetime(LAST_YEAR, 12, 31, 23) - EPOCH).total_seconds())
    return sorted(w for w in walls if first <= w <= last)


def expected(zone, wall):
    """UTC seconds of a wall time under RFC 5545, whether the wall time is unique, and whether its
    offset has seconds (before 1972, Africa/Monrovia was 44 minutes 30 seconds behind UTC)."""
    local = EPOCH + datetime.timedelta(seconds=wall)
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    instant = int(first.timestamp())
    unique = first.utcoffset() == second.utcoffset()
    return instant, unique, first.utcoffset().total_seconds() % 60 != 0


def main():
    probe, source_dir = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    names = zones()
    changes = transitions(names)
    cases = []  # (zone, wall text, expected UTC, unique, offset with seconds)
    for name in names:
        zone = zoneinfo.ZoneInfo(name)
        for wall in points(name, changes.get(name, [])):
            cases.append((name, wall_text(wall), *expected(zone, wall)))
    print(f"{len(names)} zones, {sum(len(c) for c in changes.values())} transitions, {len(cases)} wall times",
          flush=True)

    failures = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        points_file = os.path.join(tmp, "points.txt")
        with open(points_file, "w") as f:
            f.writelines(f"{name} {wall}\n" for name, wall, *_ in cases)
        with open(points_file) as f:
            ours = subprocess.run([probe, "to-utc"], stdin=f, check=True, capture_output=True, text=True).stdout.splitlines()
        assert len(ours) == len(cases), f"tz_probe to-utc answered {len(ours)} of {len(cases)} lines"
        for (name, wall, want, *_), got in zip(cases, ours):
            if got != str(want):
                failures[name].append(f"to-utc {wall}: {got} (tz database: {want})")

        calendar = os.path.join(tmp, "zones.ics")
        with open(calendar, "w", newline="") as f:
            result = subprocess.run([probe, "vtimezones", f"{FIRST_YEAR}-01-01T00:00:00Z", f"{LAST_YEAR}-12-31T00:00:00Z"],
                                    input="\n".join(names) + "\n", capture_output=True, text=True)
            f.write(result.stdout)
        for line in result.stderr.splitlines():
            failures[line.split()[1].rstrip(":")].append(line)
        icaljs = os.path.join(source_dir, "tests/conformance/tz/icaljs_wall_to_utc.mjs")
        client = subprocess.run(["node", icaljs, calendar, points_file], check=True, capture_output=True,
                                text=True).stdout.splitlines()
        assert len(client) == len(cases), f"ical.js answered {len(client)} of {len(cases)} lines"
        for (name, wall, want, unique, odd_offset), got in zip(cases, client):
            # ical.js reads a UTC offset's hours and minutes only: our -004430 comes out as -0044.
            if unique and got != str(want) and not (odd_offset and got.lstrip("-").isdigit() and abs(int(got) - want) < 60):
                failures[name].append(f"VTIMEZONE in ical.js, {wall}: {got} (tz database: {want})")

    for name in sorted(failures):
        lines = failures[name]
        print(f"FAIL {name}: {len(lines)} wrong")
        for line in lines[:4]:
            print(f"    {line}")
    print(f"{len(failures)} of {len(names)} zones wrong; {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
