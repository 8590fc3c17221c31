// Mozilla ical.js (Thunderbird's parser) reads a calendar of VTIMEZONEs and converts wall times in
// them to UTC, as it does for a DTSTART with that TZID.
// Usage: node icaljs_wall_to_utc.mjs CALENDAR.ics POINTS   (POINTS: "ZONE YYYY-MM-DDTHH:MM:SS" lines)
// Prints one line per point: the Unix seconds, or "missing" when the calendar has no such zone.
const ICAL = (await import(new URL("../../oracles/node_modules/ical.js/dist/ical.js", import.meta.url))).default;
import { readFileSync } from "node:fs";

const [calendarFile, pointsFile] = process.argv.slice(2);
const root = new ICAL.Component(ICAL.parse(readFileSync(calendarFile, "utf8")));
const zones = new Map();
for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
  const zone = new ICAL.Timezone(vtimezone);
  zones.set(zone.tzid, zone);
}
const out = [];
for (const line of readFileSync(pointsFile, "utf8").split("\n")) {
  if (!line) continue;
  const [name, wall] = line.split(" ");
  const zone = zones.get(name);
  if (!zone) {
    out.push("missing");
    continue;
  }
  const [date, time] = wall.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute, second] = time.split(":").map(Number);
  out.push(String(new ICAL.Time({ year, month, day, hour, minute, second, isDate: false }, zone).toUnixTime()));
}
process.stdout.write(out.join("\n") + "\n");
