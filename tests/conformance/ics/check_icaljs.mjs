// Mozilla ical.js (Thunderbird's parser) reads each .ics file given on the command line and expands
// every VEVENT with the file's own VTIMEZONEs; prints {file: {uid: {starts, summary, ...}}} as JSON.
// Usage: node check_icaljs.mjs BOUND_ISO FILE...
const ICAL = (await import(new URL("../../oracles/node_modules/ical.js/dist/ical.js", import.meta.url))).default;
import { readFileSync } from "node:fs";

const [boundText, ...files] = process.argv.slice(2);
const bound = Date.parse(boundText) / 1000;

function show(time) {
  if (time.isDate) return time.toString();  // YYYY-MM-DD: dates have no instant
  return new Date(time.toUnixTime() * 1000).toISOString().replace(".000Z", "Z");
}

const result = {};
for (const file of files) {
  const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
  // Zones are global in ical.js: start from a clean registry so each file uses its own VTIMEZONEs.
  ICAL.TimezoneService.reset();
  for (const vtimezone of root.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(vtimezone);
  const events = {};
  for (const vevent of root.getAllSubcomponents("vevent")) {
    const event = new ICAL.Event(vevent);
    const starts = [];
    if (event.isRecurring()) {
      const iterator = event.iterator();
      for (let next = iterator.next(); next && next.toUnixTime() < bound; next = iterator.next()) starts.push(show(next));
    } else if (event.startDate.toUnixTime() < bound) {
      starts.push(show(event.startDate));
    }
    events[event.uid] = {
      starts,
      summary: event.summary,
      description: vevent.getFirstPropertyValue("description") ?? "",
      location: event.location ?? "",
      categories: vevent.getAllProperties("categories").flatMap((p) => p.getValues()),
    };
  }
  result[file] = events;
}
process.stdout.write(JSON.stringify(result));
