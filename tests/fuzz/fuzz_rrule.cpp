// Event times, zones, durations, RRULE/EXDATE/RDATE parsing, and the expansion of the resulting
// event into occurrences within a bounded window (libical, DST gaps and overlaps, post-2037 zones).
//
// Input: lines.
//   1  start              2024-03-31T02:30 / 2024-05-14 / 2024-05-14T07:30:00Z
//   2  zone               Europe/Berlin
//   3  rrule              FREQ=MONTHLY;BYDAY=2TH;COUNT=10
//   4  duration or end    PT1H30M / 2024-05-15
//   5… exdates and rdates "X:20240611T093000" / "R:2024-07-01T10:00"
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "feeds/event_time.hpp"
#include "feeds/recurrence.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace almanac;
using almanac::fuzz::check;
using std::chrono::hours;
using std::chrono::seconds;

constexpr std::size_t max_lines = 24;
constexpr std::size_t occurrence_limit = 64;

void check_round_trips(const EventTime& t) {
    const std::string text = format_event_time(t);
    const auto again = parse_event_time(text);
    check(again.has_value(), "format_event_time output does not parse", text);
    check(*again == t, "event time does not round-trip", text);
}

void check_zone_info(const Zone& zone, Instant t) {
    const auto info = zone_info_at(zone, t);
    check(info.begin <= t && t < info.end, "zone_info_at period does not hold the instant", zone.name);
    check(info.offset >= -hours{26} && info.offset <= hours{26}, "zone offset beyond a day", zone.name);
}

EventTime default_end(const EventTime& start, const Zone& zone) {
    if (std::holds_alternative<CivilDate>(start)) return add_duration(start, Duration{1, seconds{0}}, zone);
    return add_duration(start, Duration{0, hours{1}}, zone);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string_view> lines;
    std::string_view rest = almanac::fuzz::as_text(data, size);
    while (!rest.empty() && lines.size() < max_lines) {
        const std::size_t lf = rest.find('\n');
        lines.push_back(rest.substr(0, lf));
        rest = lf == std::string_view::npos ? std::string_view{} : rest.substr(lf + 1);
    }
    lines.resize(std::max<std::size_t>(lines.size(), 4));

    const auto start = parse_event_time(lines[0]);
    if (start) check_round_trips(*start);

    auto zone = find_zone(lines[1]);
    if (zone) {
        check(zone->tz != nullptr, "find_zone gave a zone without tz", lines[1]);
        check(zone->name == lines[1], "find_zone renamed the zone", zone->name);
    } else {
        zone = find_zone("UTC");
    }

    const auto duration = parse_duration(lines[3]);
    if (duration) {
        check(duration->days >= 0 && duration->seconds >= seconds{0}, "negative duration", lines[3]);
        check(duration->days > 0 || duration->seconds > seconds{0}, "zero duration accepted", lines[3]);
        const std::string text = format_duration(*duration);
        const auto again = parse_duration(text);
        check(again.has_value() && *again == *duration, "duration does not round-trip", text);
    }
    if (!start) return 0;

    check_zone_info(*zone, to_instant(*start, *zone));
    check_zone_info(*zone, to_instant(*start, *zone) + date::days{365 * 60});
    if (const auto* w = std::get_if<WallTime>(&*start)) {
        const auto kind = classify(*w, *zone);
        const Instant i = to_instant(*w, *zone);
        const auto offset = zone_info_at(*zone, i).offset;
        if (kind == WallTimeKind::unique)
            check(date::local_seconds{(i + offset).time_since_epoch()} == w->local, "unique wall time does not map back",
                  lines[0]);
        if (kind == WallTimeKind::nonexistent)
            check(date::local_seconds{(i + offset).time_since_epoch()} > w->local, "gap time not shifted forward", lines[0]);
    }

    Event event;
    event.start = *start;
    event.zone = *zone;
    if (duration) {
        event.end = add_duration(*start, *duration, *zone);
    } else if (const auto end = parse_event_time(lines[3]); end && end->index() == start->index() && *end > *start) {
        event.end = *end;
    } else {
        event.end = default_end(*start, *zone);
    }
    check(event.end.index() == start->index(), "end of another kind than start", lines[3]);
    check(to_instant(event.end, *zone) >= to_instant(*start, *zone), "end before start", lines[3]);

    if (!lines[2].empty()) {
        const auto rule = parse_rrule(lines[2], *start, *zone);
        if (rule) {
            check(!rule->text.empty() && !rule->text.starts_with("RRULE:"), "normalized rule text", rule->text);
            const auto again = parse_rrule(rule->text, *start, *zone);
            check(again.has_value(), "normalized rule does not parse again", rule->text);
            check(again->text == rule->text, "rule normalization is not idempotent", again->text);
            event.rrule = *rule;
        }
    }
    for (std::size_t i = 4; i < lines.size(); ++i) {
        const auto line = lines[i];
        if (line.size() < 2 || line[1] != ':') continue;
        const auto t = parse_recurrence_date(line.substr(2), *start, *zone);
        if (!t) continue;
        check(t->index() == start->index() || std::holds_alternative<Instant>(*start), "recurrence date of another kind",
              line);
        if (t->index() != start->index()) continue;
        (line[0] == 'X' ? event.exdates : event.rdates).push_back(*t);
    }

    // A window from a month before DTSTART to about a year after it, clamped to what dates allow.
    const Instant first = to_instant(*start, *zone);
    const Instant from = first - date::days{31};
    const Instant to = first + date::days{400};
    const auto found = occurrences(event, from, to, occurrence_limit);
    check(found.size() <= occurrence_limit, "more occurrences than the limit");
    for (std::size_t i = 0; i < found.size(); ++i) {
        const auto& o = found[i];
        check(o.start_instant >= from && o.start_instant < to, "occurrence outside the window", format_event_time(o.start));
        check(o.start.index() == start->index() && o.end.index() == start->index(), "occurrence of another kind");
        check(o.end_instant >= o.start_instant, "occurrence ends before it starts", format_event_time(o.start));
        check(o.start_instant == to_instant(o.start, *zone), "occurrence instant is not its time's",
              format_event_time(o.start));
        if (i > 0) check(found[i - 1].start_instant < o.start_instant, "occurrences out of order or repeated");
        check(std::find(event.exdates.begin(), event.exdates.end(), o.start) == event.exdates.end(),
              "an excluded occurrence was produced", format_event_time(o.start));
    }
    const bool excluded = std::find(event.exdates.begin(), event.exdates.end(), *start) != event.exdates.end();
    if (!excluded && found.size() < occurrence_limit)
        check(std::any_of(found.begin(), found.end(), [&](const Occurrence& o) { return o.start_instant == first; }),
              "DTSTART is not an occurrence", lines[0]);
    if (!found.empty()) check(occurs_between(event, from, to), "occurs_between disagrees with occurrences");
    return 0;
}
