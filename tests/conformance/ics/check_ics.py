#!/usr/bin/python3
"""Cross-checks almanac's .ics files with parsers we did not write.

Usage: check_ics.py DIR ICALJS_JSON LIBICAL_JSON (check_ics.sh runs it).

DIR holds the default view (DIR/*.ics) and zone views (DIR/tz/**/*.ics). The reference set of
every UID is computed from the DEFAULT view alone by python-dateutil + zoneinfo (the system tz
database, POSIX footer included): DTSTART in its TZID keeps its wall time through RRULE/RDATE/EXDATE,
gaps and overlaps resolved as RFC 5545 §3.3.5 says (zoneinfo's fold=0). Every file, default and
views, must then give the same UTC instants for the same UID in ical.js, libical and vobject (each
using the file's own VTIMEZONEs), python-icalendar must parse it, and the texts must agree.
"""
import datetime
import json
import pathlib
import sys
import zoneinfo

import icalendar
import vobject
from dateutil import rrule

BOUND = datetime.datetime(2042, 1, 1, tzinfo=datetime.timezone.utc)
# libical 3.0.16 expands VTIMEZONE rules only up to 2035 (ICALTIMEZONE_MAX_YEAR) and its
# recurrence expansion stops short of 2040: its answers after this are not evidence.
LIBICAL_HORIZON = "2036"

failures = []


def fail(message):
    failures.append(message)
    print("FAIL:", message)


def content_lines(text):
    lines = []
    for raw in text.split("\r\n"):
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def check_form(path, data):
    if b"\n" in data.replace(b"\r\n", b""):
        fail(f"{path}: a line break that is not CRLF")
    for number, line in enumerate(data.split(b"\r\n")[:-1], 1):
        if len(line) > 75:
            fail(f"{path}:{number}: {len(line)} octets")
        try:
            (line[1:] if line.startswith(b" ") else line).decode("utf-8")
        except UnicodeDecodeError:
            fail(f"{path}:{number}: a folded line splits a UTF-8 sequence")


def split_property(line):
    """NAME, {PARAM: value}, value of a date or rule line (their parameters are never quoted)."""
    head, _, value = line.partition(":")
    name, *params = head.split(";")
    return name, dict(p.split("=", 1) for p in params), value


def parse_time(params, value, zone_of):
    if params.get("VALUE") == "DATE":
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    naive = datetime.datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    if value.endswith("Z"):
        return naive.replace(tzinfo=datetime.timezone.utc)
    return naive.replace(tzinfo=zone_of(params["TZID"]))


def show(t):
    if isinstance(t, datetime.datetime) and t.tzinfo is not None:
        return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (t.date() if isinstance(t, datetime.datetime) else t).isoformat()


def before_bound(t):
    if isinstance(t, datetime.datetime) and t.tzinfo is not None:
        return t < BOUND
    return (t.date() if isinstance(t, datetime.datetime) else t) < BOUND.date()


def dateutil_expansion(text, zone_of):
    """{uid: [starts]}, {uid: DTSTART} and {uid: [(RDATE instant, its wall clock read as UTC)]}: dateutil
    expands DTSTART/RRULE/RDATE/EXDATE in wall time; zone_of(TZID) gives the tzinfo that maps it."""
    events, dtstarts, rdates = {}, {}, {}
    current = None
    for line in content_lines(text):
        if line == "BEGIN:VEVENT":
            current = {"rdate": [], "exdate": []}
        elif line == "END:VEVENT":
            if current["rdate"] and "rrule" not in current:
                fail(f"{current['uid']}: RDATE without RRULE (Outlook hides it, ical.js drops DTSTART)")
            start = current["dtstart"]
            as_datetime = start if isinstance(start, datetime.datetime) else datetime.datetime(start.year, start.month, start.day)
            rules = rrule.rruleset()
            if "rrule" in current:
                rules.rrule(rrule.rrulestr(current["rrule"], dtstart=as_datetime))
            rules.rdate(as_datetime)
            for t in current["rdate"]:
                rules.rdate(t if isinstance(t, datetime.datetime) else datetime.datetime(t.year, t.month, t.day))
            for t in current["exdate"]:
                rules.exdate(t if isinstance(t, datetime.datetime) else datetime.datetime(t.year, t.month, t.day))
            starts = []
            for t in rules:
                if not before_bound(t):
                    break
                starts.append(show(t if isinstance(start, datetime.datetime) else t.date()))
            events[current["uid"]] = starts
            dtstarts[current["uid"]] = start
            rdates[current["uid"]] = [(show(t), show(t.replace(tzinfo=datetime.timezone.utc)))
                                      for t in current["rdate"] if isinstance(t, datetime.datetime)]
            current = None
        elif current is not None and line.split(":")[0].split(";")[0] in ("UID", "DTSTART", "RRULE", "RDATE", "EXDATE"):
            name, params, value = split_property(line)
            if name == "UID":
                current["uid"] = value
            elif name == "DTSTART":
                current["dtstart"] = parse_time(params, value, zone_of)
            elif name == "RRULE":
                current["rrule"] = value
            elif name in ("RDATE", "EXDATE"):
                current[name.lower()].append(parse_time(params, value, zone_of))
    return events, dtstarts, rdates


def wall_time_trouble(start):
    """'gap' or 'overlap' when DTSTART's wall time is not a unique instant in its zone."""
    if not isinstance(start, datetime.datetime) or not isinstance(start.tzinfo, zoneinfo.ZoneInfo):
        return None
    first, second = start.replace(fold=0), start.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    round_trip = first.astimezone(datetime.timezone.utc).astimezone(start.tzinfo)
    return "overlap" if round_trip.replace(tzinfo=None) == start.replace(tzinfo=None) else "gap"


def vobject_zones(text):
    """Our VTIMEZONEs as tzinfo objects, read by vobject (through dateutil's tzical). vobject's own
    expansion is not used: it swaps in pytz zones by name and pytz cannot do wall-time arithmetic."""
    calendar = vobject.readOne(text)
    zones = {tz.tzid.value: tz.gettzinfo() for tz in getattr(calendar, "vtimezone_list", [])}
    texts = {}
    for vevent in calendar.vevent_list:
        texts[vevent.uid.value] = {
            "summary": vevent.summary.value,
            "description": vevent.description.value if hasattr(vevent, "description") else "",
            "location": vevent.location.value if hasattr(vevent, "location") else "",
        }
    return zones, texts


def icalendar_texts(data):
    texts = {}
    for vevent in icalendar.Calendar.from_ical(data).walk("VEVENT"):
        texts[str(vevent["UID"])] = {
            "summary": str(vevent.get("SUMMARY", "")),
            "description": str(vevent.get("DESCRIPTION", "")),
            "location": str(vevent.get("LOCATION", "")),
        }
    return texts


def main():
    root = pathlib.Path(sys.argv[1])
    icaljs = json.loads(pathlib.Path(sys.argv[2]).read_text())
    libical = json.loads(pathlib.Path(sys.argv[3]).read_text())
    files = sorted(root.rglob("*.ics"))
    defaults = [f for f in files if f.parent == root]
    if not defaults:
        fail(f"no default-view .ics directly under {root}")
    compared = known = 0
    events_checked = set()
    for default in defaults:
        text = default.read_bytes().decode("utf-8")
        reference, dtstarts, rdates = dateutil_expansion(text, zoneinfo.ZoneInfo)
        _, reference_texts = vobject_zones(text)
        views = [default] + [f for f in files if f.parent != root and f.name == default.name]
        # Each event's own document ({feed}/{event}.ics, in the default view or a zone's): the same
        # oracles, its UIDs the feed's; every event of the feed has one when the default view's were built.
        documents = [f for f in files if f.parent.name == default.stem and f.parent.parent != root / "tz"
                     and (f.parent.parent == root or root / "tz" in f.parents)]
        views += documents
        built = {f.parent.parent == root for f in documents}
        if True in built:
            held = {}
            for doc in (f for f in documents if f.parent.parent == root):
                for uid in icalendar_texts(doc.read_bytes()):
                    held.setdefault(uid, []).append(doc.name)
            missing = sorted(uid for uid in reference if "-rdate-" not in uid and len(held.get(uid, [])) != 1)
            if missing:
                fail(f"{default.name}: events without exactly one own document: {missing}")
        for view in views:
            data = view.read_bytes()
            check_form(view, data)
            view_text = data.decode("utf-8")
            ical_texts = icalendar_texts(data)
            zones, vobj_texts = vobject_zones(view_text)
            vtimezone, _, _ = dateutil_expansion(view_text, lambda tzid: zones[tzid])
            js = icaljs[str(view)]
            lib = libical[str(view)]
            if lib["errors"]:
                fail(f"{view}: libical reports {lib['errors']} parse errors")
            own = view in documents
            for uid, expected in reference.items():
                if own and uid not in ical_texts:
                    continue
                events_checked.add(uid)
                in_default_view = view == default or (own and view.parent.parent == root)
                trouble = wall_time_trouble(dtstarts[uid]) if in_default_view else None
                answers = {"ical.js": js.get(uid, {}).get("starts"), "dateutil+our VTIMEZONE via vobject": vtimezone.get(uid),
                           "libical": lib["events"].get(uid)}
                for parser, got in answers.items():
                    want = expected
                    if parser == "libical" and got is not None:
                        want = [t for t in expected if t < LIBICAL_HORIZON]
                        got = [t for t in got if t < LIBICAL_HORIZON]
                    compared += len(want)
                    if got == want:
                        continue
                    if trouble and len(got or []) == 1:
                        # Known: these read a wall time in a gap or overlap with the later offset,
                        # not as RFC 5545 §3.3.5 says; the zone views write an unambiguous time.
                        known += 1
                        print(f"known {parser} deviation ({trouble}) {view.relative_to(root)} {uid}: {got[0]} instead of {want[0]}")
                        continue
                    view_rdates = dateutil_expansion(view_text, lambda tzid: zones[tzid])[2].get(uid, [])
                    if parser == "libical" and view_rdates and sorted(got) == sorted(
                            [t for t in want if t not in {r for r, _ in view_rdates}] + [u for _, u in view_rdates]):
                        # Known: libical 3.0.16's icalcomponent_foreach_recurrence ignores an RDATE's TZID.
                        known += 1
                        print(f"known libical deviation (RDATE;TZID read as UTC) {view.relative_to(root)} {uid}")
                        continue
                    fail(f"{view.relative_to(root)} {uid}: {parser} {got} != dateutil {want}")
                for field in ("summary", "description", "location"):
                    values = {"vobject": vobj_texts.get(uid, {}).get(field), "icalendar": ical_texts.get(uid, {}).get(field),
                              "ical.js": js.get(uid, {}).get(field), "default view": reference_texts[uid][field]}
                    if len(set(values.values())) != 1:
                        fail(f"{view.relative_to(root)} {uid}: {field} differs: {values}")
            if own:
                if not ical_texts:
                    fail(f"{view.relative_to(root)}: no VEVENT")
                if b"X-WR-CALNAME" in data or b"REFRESH-INTERVAL" in data:
                    fail(f"{view.relative_to(root)}: an event's document names a calendar or asks to be polled")
            extra = set(js) - set(reference)
            if extra:
                fail(f"{view.relative_to(root)}: UIDs not in the default view: {sorted(extra)}")
    print(f"{len(files)} files, {len(events_checked)} events, {compared} occurrence starts compared "
          f"(ical.js, libical, dateutil with our VTIMEZONEs against dateutil with the tz database), {known} known client deviations, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
