#!/usr/bin/python3
"""Recurrence oracle for tests/feeds/recurrence_test.cpp: expands RRULE + RDATE - EXDATE with
python3-dateutil, which shares no code with libical, and prints the UTC start instants.

Input: a JSON file holding a list of cases
  {"zone": "Europe/Berlin", "dtstart": "2024-03-28T02:30:00", "all_day": false,
   "rrule": "FREQ=DAILY;COUNT=5", "exdates": [...], "rdates": [...], "until_year": 2030}
where dtstart, exdates and rdates are wall times in `zone` (dates "YYYY-MM-DD" when all_day; an
all-day occurrence starts at local midnight). Output: a JSON list with, per case, the sorted list
of "YYYY-MM-DDTHH:MM:SSZ" instants before 1 January of until_year (UTC).

Wall times are resolved by zoneinfo with fold=0: in a DST gap that applies the offset before the
transition, which moves the time forward by the gap's length, and in an overlap it picks the first
occurrence - both as RFC 5545 section 3.3.5 says.
"""

import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr, rruleset


def wall(text, all_day):
    if all_day:
        return datetime.strptime(text, "%Y-%m-%d")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")


def expand(case):
    zone = ZoneInfo(case["zone"])
    all_day = case.get("all_day", False)
    bound = datetime(case["until_year"], 1, 1, tzinfo=timezone.utc)
    # An all-day rule has a DATE UNTIL, which dateutil only accepts with a naive DTSTART; the
    # occurrences are dates, placed at midnight in the zone afterwards.
    attach = (lambda d: d) if all_day else (lambda d: d.replace(tzinfo=zone))
    start = attach(wall(case["dtstart"], all_day))

    rules = rruleset()
    if case.get("rrule"):
        rules.rrule(rrulestr(case["rrule"], dtstart=start))
    rules.rdate(start)  # RFC 5545: DTSTART is always the first occurrence; dateutil omits it otherwise
    for t in case.get("rdates", []):
        rules.rdate(attach(wall(t, all_day)))
    for t in case.get("exdates", []):
        rules.exdate(attach(wall(t, all_day)))

    instants = []
    for occurrence in rules:
        if all_day:
            occurrence = occurrence.replace(tzinfo=zone)
        instant = occurrence.astimezone(timezone.utc)
        # Occurrences come in wall-clock order; a time in a DST gap can map after a later one, so
        # stop only well past the bound.
        if (instant - bound).days >= 2:
            break
        if instant < bound:
            instants.append(instant)
    # Two wall times can resolve to one instant (a time in a gap and the time it is shifted to).
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in sorted(set(instants))]


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    json.dump([expand(case) for case in cases], sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
