// The three kinds of time an event can have, kept apart in the types (STYLE.md "Time"), and the
// parsers for the values front matter holds: date-times, durations, zone names, RRULE/EXDATE/RDATE.
#pragma once

#include <chrono>
#include <date/date.h>
#include <date/tz.h>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "feeds/expected.hpp"

namespace almanac {

using Instant = date::sys_seconds;  // an absolute instant (written with Z or ±HH:MM)

struct CivilDate {  // an all-day date, no zone
    date::year_month_day ymd;
    friend bool operator==(const CivilDate&, const CivilDate&) = default;
    friend auto operator<=>(const CivilDate& a, const CivilDate& b) { return date::sys_days(a.ymd) <=> date::sys_days(b.ymd); }
};

struct WallTime {  // a wall-clock time in the event's zone
    date::local_seconds local;
    friend bool operator==(const WallTime&, const WallTime&) = default;
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 takes the defaulted <=>'s own 0 for a null pointer
    friend auto operator<=>(const WallTime&, const WallTime&) = default;
};

using EventTime = std::variant<CivilDate, WallTime, Instant>;

// An IANA zone from the system tz database. `name` is what the user wrote (a link such as
// US/Eastern stays US/Eastern); `tz` is never null in a Zone returned by find_zone.
struct Zone {
    std::string name;
    const date::time_zone* tz = nullptr;
    friend bool operator==(const Zone& a, const Zone& b) { return a.name == b.name; }
};

// The zone of that name, or an error naming it ("unknown time zone 'Europe/Pariss'").
// Accepts canonical names and links (US/Eastern, GMT, Etc/UTC, UTC).
Expected<Zone> find_zone(std::string_view name);

// Parses YYYY-MM-DD → CivilDate, YYYY-MM-DDTHH:MM[:SS] → WallTime, and the same with Z or ±HH:MM
// → Instant. Also accepts a space for 'T' and lowercase t/z (RFC 3339). Fails with a message saying
// which form was expected and what was wrong (e.g. "month 13 out of range").
Expected<EventTime> parse_event_time(std::string_view text);

// A tag: URI's date (RFC 4151: "YYYY", "YYYY-MM" or "YYYY-MM-DD", a day that exists) as the instant
// its first day begins, 00:00 UTC; nullopt when malformed. site.id_date is one.
std::optional<Instant> parse_tag_date(std::string_view text);

// The zone's offset and abbreviation at `t`, and the period they hold for. Unlike tz->get_info it
// is right after 2037: beyond the last transition in the TZif file it applies the file's POSIX
// footer rule, which Debian's date library ignores. Use these two instead of tz->get_info.
date::sys_info zone_info_at(const Zone& zone, Instant t);

// How wall time `t` maps onto the zone's timeline (unique, nonexistent or ambiguous), with the same
// post-2037 correction.
date::local_info zone_local_info(const Zone& zone, date::local_seconds t);

// How a wall time maps onto the zone's UTC timeline.
enum class WallTimeKind { unique,
                          nonexistent,
                          ambiguous };
WallTimeKind classify(WallTime t, const Zone& zone);

// The instant of a wall time under RFC 5545 §3.3.5: a time in a DST gap is shifted forward by the
// gap's length; a time in an overlap is the first (earlier) occurrence.
Instant to_instant(WallTime t, const Zone& zone);

// The instant an event time starts at: dates start at local midnight in `zone`.
Instant to_instant(const EventTime& t, const Zone& zone);

// An RFC 5545 / ISO 8601 duration: nominal days (weeks become 7 days) plus exact seconds.
struct Duration {
    int days = 0;
    std::chrono::seconds seconds{0};
    friend bool operator==(const Duration&, const Duration&) = default;
};

// Parses PT1H30M, P2D, P1W, P1DT12H, PT90M, PT45S. Rejects negative and zero durations, years and
// months (not fixed lengths), and malformed text, with a message.
Expected<Duration> parse_duration(std::string_view text);

// RFC 5545 text of a duration: P2D, PT1H30M, P1DT2H; zero is PT0S.
std::string format_duration(const Duration& d);

// The end of an event that starts at `start` and lasts `d`: nominal days are added on the calendar
// (a wall time keeps its clock time across a DST change), exact seconds on the UTC timeline.
EventTime add_duration(const EventTime& start, const Duration& d, const Zone& zone);

// A validated recurrence rule. `text` is the normalized RFC 5545 value (no "RRULE:" prefix) with
// UNTIL rewritten to UTC (…T…Z) when DTSTART is a wall time or an instant, and to a DATE when DTSTART
// is a date, as RFC 5545 §3.3.10 requires.
struct RecurrenceRule {
    std::string text;
    friend bool operator==(const RecurrenceRule&, const RecurrenceRule&) = default;
};

// Parses an RRULE value (with or without a leading "RRULE:"), checked by libical and by us: FREQ
// required, COUNT and UNTIL not both, values in range, UNTIL not before DTSTART. `start` and
// `zone` are the event's, for UNTIL conversion. The message names the part that is wrong.
Expected<RecurrenceRule> parse_rrule(std::string_view text, const EventTime& start, const Zone& zone);

// Parses one EXDATE/RDATE value; it must be the same kind as `start` (a date for an all-day event,
// a date-time for a timed one). An instant given for a wall-time start is converted into `zone`'s
// wall time; a wall time given for an instant start is resolved in `zone`.
Expected<EventTime> parse_recurrence_date(std::string_view text, const EventTime& start, const Zone& zone);

// ISO text of an event time for messages and JSON: 2024-05-14, 2024-05-14T09:30:00, 2024-05-14T07:30:00Z.
std::string format_event_time(const EventTime& t);

}  // namespace almanac
