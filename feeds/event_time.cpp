#include "feeds/text.hpp"
#include "feeds/event_time.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include <libical/ical.h>

#include "feeds/posix_tz.hpp"

namespace almanac {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string to_upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return to_upper(c); });
    return out;
}

// The value of exactly `n` ASCII digits at `pos`, or -1.
int read_digits(std::string_view s, std::size_t pos, std::size_t n) {
    if (pos > s.size() || s.size() - pos < n) return -1;
    int value = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (!is_digit(s[i])) return -1;
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

// An optionally signed decimal integer of at most 9 digits (so it cannot overflow).
std::optional<long> parse_integer(std::string_view s, bool allow_sign) {
    long sign = 1;
    if (allow_sign && !s.empty() && (s[0] == '+' || s[0] == '-')) {
        sign = s[0] == '-' ? -1 : 1;
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), is_digit)) return std::nullopt;
    long value = 0;
    for (char c : s) value = value * 10 + (c - '0');
    return sign * value;
}

std::string pad2(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }

// ---- dates and date-times -------------------------------------------------------------------------

// The numbers of a date or date-time as written, before any range check.
struct Fields {
    int year = 0, month = 0, day = 0;
    bool has_time = false;
    int hour = 0, minute = 0, second = 0;
    enum class Suffix { none,
                        utc,
                        offset } suffix = Suffix::none;
    int offset_sign = 1, offset_hour = 0, offset_minute = 0;
};

// What went wrong when text is not one of the accepted shapes; `detail` is set when a more precise
// message than "expected …" is possible.
struct ScanError {
    std::string detail;
};

using Scan = std::variant<Fields, ScanError>;

// Z, ±HH:MM or ±HHMM (or nothing) from `pos` to the end of `s`.
Scan scan_suffix(std::string_view s, std::size_t pos, Fields f) {
    if (pos == s.size()) return f;
    const auto rest = s.substr(pos);
    if (rest == "Z" || rest == "z") {
        f.suffix = Fields::Suffix::utc;
        return f;
    }
    if (rest[0] != '+' && rest[0] != '-') return ScanError{};
    f.suffix = Fields::Suffix::offset;
    f.offset_sign = rest[0] == '-' ? -1 : 1;
    if (rest.size() == 6 && rest[3] == ':') {
        f.offset_hour = read_digits(rest, 1, 2);
        f.offset_minute = read_digits(rest, 4, 2);
    } else if (rest.size() == 5) {
        f.offset_hour = read_digits(rest, 1, 2);
        f.offset_minute = read_digits(rest, 3, 2);
    } else {
        return ScanError{};
    }
    if (f.offset_hour < 0 || f.offset_minute < 0) return ScanError{};
    return f;
}

// ISO 8601 extended form: YYYY-MM-DD[(T|t| )HH:MM[:SS][Z|±HH:MM|±HHMM]].
Scan scan_extended(std::string_view s) {
    Fields f;
    if (s.size() < 10 || s[4] != '-' || s[7] != '-') return ScanError{};
    f.year = read_digits(s, 0, 4);
    f.month = read_digits(s, 5, 2);
    f.day = read_digits(s, 8, 2);
    if (f.year < 0 || f.month < 0 || f.day < 0) return ScanError{};
    if (s.size() == 10) return f;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return ScanError{};
    f.has_time = true;
    f.hour = read_digits(s, 11, 2);
    f.minute = read_digits(s, 14, 2);
    if (f.hour < 0 || s.size() < 16 || s[13] != ':' || f.minute < 0) return ScanError{};
    std::size_t pos = 16;
    if (pos < s.size() && s[pos] == ':') {
        f.second = read_digits(s, pos + 1, 2);
        if (f.second < 0) return ScanError{};
        pos += 3;
    }
    // iCalendar has no fractional seconds; dropping them silently could move an event.
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ','))
        return ScanError{"fractional seconds are not supported, got " + quoted(s)};
    return scan_suffix(s, pos, f);
}

// iCalendar's basic form: YYYYMMDD or YYYYMMDDTHHMMSS[Z] (RFC 5545 §3.3.4, §3.3.5).
Scan scan_basic(std::string_view s) {
    Fields f;
    f.year = read_digits(s, 0, 4);
    f.month = read_digits(s, 4, 2);
    f.day = read_digits(s, 6, 2);
    if (f.year < 0 || f.month < 0 || f.day < 0) return ScanError{};
    if (s.size() == 8) return f;
    if (s.size() != 15 && s.size() != 16) return ScanError{};
    if (s[8] != 'T' && s[8] != 't') return ScanError{};
    f.has_time = true;
    f.hour = read_digits(s, 9, 2);
    f.minute = read_digits(s, 11, 2);
    f.second = read_digits(s, 13, 2);
    if (f.hour < 0 || f.minute < 0 || f.second < 0) return ScanError{};
    if (s.size() == 16) {
        if (s[15] != 'Z' && s[15] != 'z') return ScanError{};
        f.suffix = Fields::Suffix::utc;
    }
    return f;
}

// Range checks, then the EventTime the fields describe.
Expected<EventTime> to_event_time(const Fields& f, std::string_view text) {
    const auto in = " in " + quoted(text);
    if (f.year < 1000) return unexpected("year " + std::to_string(f.year) + " out of range (1000-9999)" + in);
    if (f.month < 1 || f.month > 12) return unexpected("month " + std::to_string(f.month) + " out of range (1-12)" + in);
    const date::year_month_day ymd{date::year{f.year}, date::month{static_cast<unsigned>(f.month)},
                                   date::day{static_cast<unsigned>(f.day)}};
    if (!ymd.ok())
        return unexpected(std::to_string(f.year) + "-" + pad2(f.month) + "-" + pad2(f.day) + " is not a valid date");
    if (!f.has_time) return EventTime{CivilDate{ymd}};
    if (f.hour > 23) return unexpected("hour " + std::to_string(f.hour) + " out of range (0-23)" + in);
    if (f.minute > 59) return unexpected("minute " + std::to_string(f.minute) + " out of range (0-59)" + in);
    if (f.second > 59)
        return unexpected("second " + std::to_string(f.second) + " out of range (0-59; leap seconds are not supported)" + in);
    const auto local = date::local_days{ymd} + hours{f.hour} + minutes{f.minute} + seconds{f.second};
    switch (f.suffix) {
        case Fields::Suffix::none:
            return EventTime{WallTime{local}};
        case Fields::Suffix::utc:
            return EventTime{Instant{local.time_since_epoch()}};
        case Fields::Suffix::offset:
            break;
    }
    if (f.offset_hour > 23 || f.offset_minute > 59)
        return unexpected("UTC offset " + std::string(f.offset_sign < 0 ? "-" : "+") + pad2(f.offset_hour) + ":" +
                          pad2(f.offset_minute) + " out of range" + in);
    const minutes offset{f.offset_sign * (f.offset_hour * 60 + f.offset_minute)};
    return EventTime{Instant{local.time_since_epoch() - offset}};
}

Expected<EventTime> from_scan(const Scan& scan, std::string_view text, const std::string& expected) {
    if (const auto* e = std::get_if<ScanError>(&scan))
        return unexpected(e->detail.empty() ? expected + ", got " + quoted(text) : e->detail);
    return to_event_time(std::get<Fields>(scan), text);
}

const std::string expected_event_time = "expected a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM])";
const std::string expected_recurrence_time =
    "expected a date (YYYY-MM-DD or YYYYMMDD) or date-time (YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] or "
    "YYYYMMDDTHHMMSS[Z])";

// The ISO forms parse_event_time takes, and iCalendar's compact ones (EXDATE, RDATE, UNTIL).
Expected<EventTime> parse_ical_or_iso_time(std::string_view text) {
    const bool basic = text.size() >= 8 && read_digits(text, 0, 8) >= 0;
    return from_scan(basic ? scan_basic(text) : scan_extended(text), text, expected_recurrence_time);
}

// ---- zones -----------------------------------------------------------------------------------------

date::sys_info utc_info() {
    date::sys_info info{};
    info.begin = date::sys_days{date::year::min() / date::January / 1};
    info.end = date::sys_days{date::year::max() / date::December / date::last};
    info.abbrev = "UTC";
    return info;
}

// The library marks the period after the last transition it read with an end in year 32767; it
// does not apply the file's POSIX footer, so such a period is only right until the footer's next
// transition (for most zones: the TZif data stops in 2037).
bool open_ended(const date::sys_info& info) {
    return info.end >= date::sys_days{date::year::max() / date::January / 1};
}

// The POSIX TZ string that ends a version 2+ TZif file (RFC 8536 §3.3): the rule for every time
// after the file's last transition.
std::optional<PosixTz> read_footer_rule(const std::string& zone_name) {
    // The directory date/tz.h reads with USE_OS_TZDB on Debian; a link name opens its target.
    std::ifstream in("/usr/share/zoneinfo/" + zone_name, std::ios::binary);
    const std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (data.size() < 6 || data.compare(0, 4, "TZif") != 0 || data[4] < '2' || data.back() != '\n') return std::nullopt;
    const auto start = data.rfind('\n', data.size() - 2);
    if (start == std::string::npos || start + 2 == data.size()) return std::nullopt;
    return parse_posix_tz(std::string_view(data).substr(start + 1, data.size() - start - 2));
}

// The footer rule of `tz`, read once per zone; nullptr when the zone has none we can use.
const PosixTz* footer_rule(const date::time_zone& tz) {
    // Asked for at almost every conversion in a zone with no transition ahead (UTC, much of Africa
    // and Asia): each thread keeps its last few answers, found without the lock. The map's entries
    // are never removed, so the pointers stay good; a zone's address names one zone for the life of
    // the process, as the tz database is read once and never reloaded.
    struct Recent {
        const date::time_zone* tz = nullptr;
        const PosixTz* rule = nullptr;
    };
    thread_local std::array<Recent, 4> recent;
    thread_local std::size_t next_recent = 0;
    for (const Recent& r : recent)
        if (r.tz == &tz) return r.rule;
    static std::mutex mutex;
    static std::map<std::string, std::optional<PosixTz>> cache;
    const PosixTz* rule = nullptr;
    {
        const std::lock_guard lock(mutex);
        auto it = cache.find(tz.name());
        if (it == cache.end()) it = cache.emplace(tz.name(), read_footer_rule(tz.name())).first;
        rule = it->second ? &*it->second : nullptr;
    }
    recent[next_recent++ % recent.size()] = {&tz, rule};
    return rule;
}

bool valid_zone_name(std::string_view name) {
    const auto allowed = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '+' || c == '-' ||
               c == '/';
    };
    return !name.empty() && name.front() != '/' && name.find("..") == std::string_view::npos &&
           std::all_of(name.begin(), name.end(), allowed);
}

WallTime wall_time_of(Instant t, const Zone& zone) {
    return WallTime{date::local_seconds{t.time_since_epoch() + zone_info_at(zone, t).offset}};
}

std::string format_compact_utc(Instant t) { return date::format("%Y%m%dT%H%M%SZ", t); }

std::string format_compact_date(date::year_month_day ymd) { return date::format("%Y%m%d", ymd); }

// ---- RRULE -----------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 7> weekday_names = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
constexpr std::array<std::string_view, 7> frequency_names = {"SECONDLY", "MINUTELY", "HOURLY", "DAILY",
                                                             "WEEKLY", "MONTHLY", "YEARLY"};

enum class Part { freq,
                  until,
                  count,
                  interval,
                  bysecond,
                  byminute,
                  byhour,
                  byday,
                  bymonthday,
                  byyearday,
                  byweekno,
                  bymonth,
                  bysetpos,
                  wkst };
constexpr std::array<std::string_view, 14> part_names = {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND",
                                                         "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY",
                                                         "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"};

std::optional<Part> part_of(std::string_view name) {
    for (std::size_t i = 0; i < part_names.size(); ++i)
        if (part_names[i] == name) return static_cast<Part>(i);
    return std::nullopt;
}

bool is_weekday(std::string_view s) {
    return std::find(weekday_names.begin(), weekday_names.end(), s) != weekday_names.end();
}

std::string range_text(long lo, long hi, bool allow_sign) {
    const auto plain = std::to_string(lo) + " to " + std::to_string(hi);
    return allow_sign ? plain + " or " + std::to_string(-hi) + " to " + std::to_string(-lo) : plain;
}

// A comma-separated list of integers in [lo, hi] (or [-hi, -lo] when signed); an error message or "".
std::string check_number_list(std::string_view value, long lo, long hi, bool allow_sign) {
    for (const auto item : split(value, ',')) {
        if (item.empty()) return "empty item in the list";
        const auto n = parse_integer(item, allow_sign);
        if (!n) return quoted(item) + " is not " + (allow_sign ? "an integer" : "a non-negative integer");
        const long magnitude = allow_sign ? std::abs(*n) : *n;
        if (magnitude < lo || magnitude > hi)
            return std::to_string(*n) + " is out of range (" + range_text(lo, hi, allow_sign) + ")";
    }
    return {};
}

// BYDAY: a list of [+|-][n]WD with n in 1..53; `numbered` is set when any item has n.
std::string check_byday(std::string_view value, bool& numbered) {
    for (const auto item : split(value, ',')) {
        if (item.size() < 2) return item.empty() ? "empty item in the list" : "unknown weekday " + quoted(item);
        const auto day = item.substr(item.size() - 2);
        if (!is_weekday(day)) return "unknown weekday " + quoted(day);
        const auto ordinal = item.substr(0, item.size() - 2);
        if (ordinal.empty()) continue;
        const auto n = parse_integer(ordinal, true);
        if (!n) return quoted(item) + ": expected [+|-]n before the weekday";
        if (std::abs(*n) < 1 || std::abs(*n) > 53)
            return "week number " + std::to_string(*n) + " in " + quoted(item) + " is out of range (1 to 53 or -53 to -1)";
        numbered = true;
    }
    return {};
}

// The checks of one part's value on its own; an error message or "".
std::string check_part_value(Part part, std::string_view value, bool& numbered_byday) {
    switch (part) {
        case Part::freq:
            if (std::find(frequency_names.begin(), frequency_names.end(), value) == frequency_names.end())
                return "unknown frequency " + quoted(value) + " (expected SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY)";
            return {};
        case Part::until:
            return {};  // checked against DTSTART later
        case Part::count:
        case Part::interval: {
            const long max = part == Part::count ? 999999 : 9999;
            const auto n = parse_integer(value, false);
            if (!n || *n < 1) return std::string(part_names[static_cast<std::size_t>(part)]) + " must be a positive integer";
            if (*n > max) return std::to_string(*n) + " is too large (at most " + std::to_string(max) + ")";
            return {};
        }
        case Part::bysecond:
            return check_number_list(value, 0, 60, false);
        case Part::byminute:
            return check_number_list(value, 0, 59, false);
        case Part::byhour:
            return check_number_list(value, 0, 23, false);
        case Part::byday:
            return check_byday(value, numbered_byday);
        case Part::bymonthday:
            return check_number_list(value, 1, 31, true);
        case Part::byyearday:
        case Part::bysetpos:
            return check_number_list(value, 1, 366, true);
        case Part::byweekno:
            return check_number_list(value, 1, 53, true);
        case Part::bymonth:
            return check_number_list(value, 1, 12, false);
        case Part::wkst:
            return is_weekday(value) ? std::string{} : "unknown weekday " + quoted(value);
    }
    return {};
}

// The clock or calendar reading libical expands a rule in: a date, a wall time, or UTC for an instant.
date::local_seconds local_reading(const CivilDate& d) { return date::local_days{d.ymd}; }
date::local_seconds local_reading(const WallTime& w) { return w.local; }
date::local_seconds local_reading(const Instant& i) { return date::local_seconds{i.time_since_epoch()}; }

// Integers of a part's value that check_part_value has accepted ("" gives none).
std::vector<long> number_list(std::string_view value) {
    std::vector<long> out;
    if (value.empty()) return out;
    for (const auto item : split(value, ',')) out.push_back(*parse_integer(item, true));
    return out;
}

// How many values a part's list has, or 1 when it is absent (the start's own value is used).
std::size_t list_size(std::string_view value) { return value.empty() ? 1 : split(value, ',').size(); }

// Why a FREQ=MONTHLY rule (its parts' values as written, uppercased) can never give an occurrence
// after a start on `start`, or "". libical looks for a rule's first occurrence month by month up to
// the year 2582 before it returns an iterator, seconds of work on every expansion, so such rules are
// refused here. Month shapes (length, weekday of the 1st) repeat every 400 years: trying the months
// the rule visits in one such cycle answers exactly whether a day can ever match, and how many days
// one month can give at most (the bound for BYSETPOS). `part_at_fault` is set with the message.
std::string check_monthly_rule(std::string_view bymonth, std::string_view bymonthday, std::string_view byday,
                               std::string_view bysetpos, std::string_view byhour, std::string_view byminute,
                               std::string_view bysecond, std::string_view interval, date::year_month_day start,
                               std::string& part_at_fault) {
    struct WeekdayNum {
        long n;            // 0: every such weekday
        unsigned weekday;  // 0 = SU
    };
    std::vector<WeekdayNum> weekdays;
    if (!byday.empty()) {
        for (const auto item : split(byday, ',')) {
            const auto ordinal = item.substr(0, item.size() - 2);
            const long n = ordinal.empty() ? 0 : *parse_integer(ordinal, true);
            if (std::abs(n) > 5) {
                part_at_fault = "BYDAY";
                return quoted(item) + " never occurs: a month has at most 5 of each weekday (1 to 5 or -5 to -1)";
            }
            const auto name = std::find(weekday_names.begin(), weekday_names.end(), item.substr(item.size() - 2));
            weekdays.push_back({n, static_cast<unsigned>(name - weekday_names.begin())});
        }
    }
    const std::vector<long> months = number_list(bymonth);
    const std::vector<long> monthdays = number_list(bymonthday);
    const long step = interval.empty() ? 1 : *parse_integer(interval, false);
    constexpr long cycle = 400L * 12;

    // The days of one month that match, from its length and the weekday of its 1st.
    const auto matching_days = [&](unsigned length, unsigned first_weekday) {
        std::size_t count = 0;
        for (unsigned d = 1; d <= length; ++d) {
            const bool day_ok = monthdays.empty()
                                    ? (!weekdays.empty() || d == unsigned{start.day()})
                                    : std::any_of(monthdays.begin(), monthdays.end(), [&](long v) {
                                          return v > 0 ? d == static_cast<unsigned>(v)
                                                       : static_cast<unsigned>(-v) <= length && d == length + 1 - static_cast<unsigned>(-v);
                                      });
            const unsigned weekday = (first_weekday + d - 1) % 7;
            const bool weekday_ok = weekdays.empty() || std::any_of(weekdays.begin(), weekdays.end(), [&](const WeekdayNum& w) {
                                        if (w.weekday != weekday) return false;
                                        if (w.n > 0) return (d - 1) / 7 + 1 == static_cast<unsigned>(w.n);
                                        if (w.n < 0) return (length - d) / 7 + 1 == static_cast<unsigned>(-w.n);
                                        return true;
                                    });
            if (day_ok && weekday_ok) ++count;
        }
        return count;
    };
    // A month's count depends only on its shape, so each of the 28 shapes (4 lengths, 7 weekdays of
    // the 1st) is counted once; the cycle's months are walked one by one, the weekday of each 1st
    // following from the month before, and those the rule visits are looked up. Once every shape
    // has been visited, no later month can change the answer (within 28 years for a rule that
    // visits every month, instead of the whole 400-year cycle).
    std::array<std::optional<std::size_t>, 4 * 7> by_shape;
    std::size_t shapes_seen = 0;
    std::size_t most = 0;  // the most days one visited month can give
    date::year_month ym{start.year(), start.month()};
    unsigned first_weekday = date::weekday{date::sys_days{ym / 1}}.c_encoding();
    for (long k = 0; k < cycle; ++k, ym += date::months{1}) {
        const unsigned length = unsigned{(ym / date::last).day()};
        const unsigned weekday = std::exchange(first_weekday, (first_weekday + length) % 7);
        if (k % step != 0) continue;
        if (!months.empty() && std::find(months.begin(), months.end(), static_cast<long>(unsigned{ym.month()})) == months.end())
            continue;
        std::optional<std::size_t>& count = by_shape[(length - 28) * 7 + weekday];
        if (!count) {
            count = matching_days(length, weekday);
            most = std::max(most, *count);
            if (++shapes_seen == by_shape.size()) break;
        }
    }
    if (most == 0) {
        std::string parts;
        for (const auto& [name, value] : {std::pair{"INTERVAL", interval}, std::pair{"BYMONTH", bymonth},
                                          std::pair{"BYMONTHDAY", bymonthday}, std::pair{"BYDAY", byday}}) {
            if (value.empty()) continue;
            parts += parts.empty() ? "" : ";";
            parts += std::string(name) + "=" + std::string(value);
        }
        part_at_fault = !bymonthday.empty() ? "BYMONTHDAY" : !byday.empty() ? "BYDAY"
                                                         : !bymonth.empty() ? "BYMONTH"
                                                                            : "INTERVAL";
        if (bymonthday.empty() && byday.empty())
            return "no month it visits has day " + std::to_string(unsigned{start.day()}) +
                   " (the start's day), so the rule never occurs";
        return "no month it visits has a day matching " + parts + ", so the rule never occurs";
    }
    const std::size_t per_month = most * list_size(byhour) * list_size(byminute) * list_size(bysecond);
    for (const long position : number_list(bysetpos)) {
        if (static_cast<std::size_t>(std::abs(position)) > per_month) {
            part_at_fault = "BYSETPOS";
            return std::to_string(position) + " never occurs: the rule gives at most " + std::to_string(per_month) +
                   " occurrence" + (per_month == 1 ? "" : "s") + " a month";
        }
    }
    return {};
}

// The rule's UNTIL in the form RFC 5545 §3.3.10 requires for this DTSTART, or an error message.
Expected<std::string> convert_until(std::string_view value, const EventTime& start, const Zone& zone) {
    const auto until = parse_ical_or_iso_time(value);
    if (!until) return unexpected(until.error());
    if (const auto* start_date = std::get_if<CivilDate>(&start)) {
        date::year_month_day day{};
        if (const auto* d = std::get_if<CivilDate>(&*until)) day = d->ymd;
        if (const auto* w = std::get_if<WallTime>(&*until)) day = date::year_month_day{date::floor<date::days>(w->local)};
        if (const auto* i = std::get_if<Instant>(&*until))
            day = date::year_month_day{date::floor<date::days>(wall_time_of(*i, zone).local)};
        if (CivilDate{day} < *start_date) return unexpected("UNTIL is before the event's start");
        return format_compact_date(day);
    }
    Instant instant{};
    if (const auto* d = std::get_if<CivilDate>(&*until))  // the whole of that day counts
        instant = to_instant(WallTime{date::local_days{d->ymd} + hours{23} + minutes{59} + seconds{59}}, zone);
    if (const auto* w = std::get_if<WallTime>(&*until)) instant = to_instant(*w, zone);
    if (const auto* i = std::get_if<Instant>(&*until)) instant = *i;
    if (instant < to_instant(start, zone)) return unexpected("UNTIL is before the event's start");
    return format_compact_utc(instant);
}

// libical's own reading of the rule, as a second opinion on what our checks let through.
bool libical_accepts(const std::string& rule) {
    static std::once_flag once;
    std::call_once(once, [] { icalerror_set_errors_are_fatal(0); });
    icalerror_clear_errno();
    // No RSCALE reaches libical (our checks reject it), so the result owns no heap memory.
    const auto recurrence = icalrecurrencetype_from_string(rule.c_str());
    const bool ok = recurrence.freq != ICAL_NO_RECURRENCE && icalerrno == ICAL_NO_ERROR;
    icalerror_clear_errno();
    return ok;
}

}  // namespace

// ---- public functions ------------------------------------------------------------------------------

date::sys_info zone_info_at(const Zone& zone, Instant t) {
    if (!zone.tz) return utc_info();
    auto info = zone.tz->get_info(t);
    if (!open_ended(info)) return info;
    const auto* rule = footer_rule(*zone.tz);
    if (!rule) return info;
    auto from_rule = rule->info_at(t);
    from_rule.begin = std::max(from_rule.begin, info.begin);  // the rule starts at the last transition
    return from_rule;
}

date::local_info zone_local_info(const Zone& zone, date::local_seconds t) {
    if (!zone.tz) return date::local_info{date::local_info::unique, utc_info(), {}};
    auto info = zone.tz->get_info(t);
    // A gap or overlap the library reports lies at a transition it read, so it is right but for
    // the end of the period after it; a unique answer in the open-ended period may miss a
    // transition only the footer knows.
    if (info.result != date::local_info::unique) {
        if (open_ended(info.second)) info.second = zone_info_at(zone, info.second.begin);
        return info;
    }
    if (!open_ended(info.first)) return info;
    const auto* rule = footer_rule(*zone.tz);
    if (!rule) return info;
    auto from_rule = rule->local_info(t);
    from_rule.first.begin = std::max(from_rule.first.begin, info.first.begin);
    return from_rule;
}

Expected<Zone> find_zone(std::string_view name) {
    if (name.empty()) return unexpected("empty time zone name; expected an IANA name such as Europe/Paris");
    if (!valid_zone_name(name))
        return unexpected("invalid time zone name " + quoted(name) + "; expected an IANA name such as Europe/Paris");
    // /usr/share/zoneinfo/localtime is this machine's zone: feeds must not change with the host.
    if (name == "localtime")
        return unexpected("'localtime' is not an IANA time zone name; write the zone's name, such as Europe/Paris");
    try {
        const auto* tz = date::locate_zone(name);
        tz->get_info(Instant{});  // the library reads the zone's file on first use; fail here, not later
        return Zone{std::string(name), tz};
    } catch (const std::exception&) {
        return unexpected("unknown time zone " + quoted(name));
    }
}

Expected<EventTime> parse_event_time(std::string_view text) {
    return from_scan(scan_extended(text), text, expected_event_time);
}

WallTimeKind classify(WallTime t, const Zone& zone) {
    switch (zone_local_info(zone, t.local).result) {
        case date::local_info::nonexistent:
            return WallTimeKind::nonexistent;
        case date::local_info::ambiguous:
            return WallTimeKind::ambiguous;
        default:
            return WallTimeKind::unique;
    }
}

Instant to_instant(WallTime t, const Zone& zone) {
    // In all three cases `first` is the right offset: the only one, the one in effect before the gap
    // (which moves the time forward by the gap's length), or the one of the first occurrence.
    return Instant{t.local.time_since_epoch() - zone_local_info(zone, t.local).first.offset};
}

Instant to_instant(const EventTime& t, const Zone& zone) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return to_instant(WallTime{date::local_days{d->ymd}}, zone);
    if (const auto* w = std::get_if<WallTime>(&t)) return to_instant(*w, zone);
    return std::get<Instant>(t);
}

Expected<Duration> parse_duration(std::string_view text) {
    const auto in = " in " + quoted(text);
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || to_upper(s[0]) != 'P')
        return unexpected("expected an ISO 8601 duration such as PT1H30M, P2D or P1W, got " + quoted(text));
    // Units in the order they must appear; W stands alone (RFC 5545 dur-week).
    constexpr std::string_view date_units = "WD";
    constexpr std::string_view time_units = "HMS";
    Duration d;
    bool in_time = false, any = false, any_time = false, weeks = false;
    int last_rank = -1;  // W=0 D=1 | H=2 M=3 S=4
    std::size_t pos = 1;
    while (pos < s.size()) {
        if (to_upper(s[pos]) == 'T') {
            if (in_time) return unexpected("'T' appears twice" + in);
            in_time = true;
            ++pos;
            continue;
        }
        const auto number_start = pos;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
        const auto digits = s.substr(number_start, pos - number_start);
        if (digits.empty()) return unexpected("expected a number before " + quoted(s.substr(pos, 1)) + in);
        if (pos < s.size() && (s[pos] == '.' || s[pos] == ','))
            return unexpected("fractional values are not supported" + in + "; use a smaller unit (PT1H30M, not PT1.5H)");
        if (pos == s.size()) return unexpected("missing unit after " + std::string(digits) + in);
        const char unit = to_upper(s[pos++]);
        if (unit == 'Y' || (unit == 'M' && !in_time))
            return unexpected("years and months have no fixed length" + in + "; use days or weeks (P30D, P4W)");
        const auto units = in_time ? time_units : date_units;
        const auto index = units.find(unit);
        if (index == std::string_view::npos) return unexpected("unknown unit " + quoted(std::string(1, unit)) + in);
        const int rank = static_cast<int>(index) + (in_time ? 2 : 0);
        if (rank <= last_rank) return unexpected("units out of order or repeated" + in + " (order: P…W or P…DT…H…M…S)");
        last_rank = rank;
        const auto n = parse_integer(digits, false);
        if (!n || *n > 999999) return unexpected("value " + std::string(digits) + " is too large" + in);
        const int value = static_cast<int>(*n);
        switch (unit) {
            case 'W':
                weeks = true;
                d.days += 7 * value;
                break;
            case 'D':
                d.days += value;
                break;
            case 'H':
                d.seconds += hours{value};
                break;
            case 'M':
                d.seconds += minutes{value};
                break;
            default:
                d.seconds += seconds{value};
                break;
        }
        any = true;
        any_time = any_time || in_time;
    }
    if (in_time && !any_time) return unexpected("no hours, minutes or seconds after 'T'" + in);
    if (!any) return unexpected("duration has no value" + in + "; expected e.g. PT1H30M, P2D or P1W");
    if (weeks && last_rank != 0) return unexpected("a week duration (PnW) cannot have other units" + in);
    if (negative || (d.days == 0 && d.seconds == seconds{0}))
        return unexpected("duration must be positive, got " + quoted(text));
    return d;
}

std::string format_duration(const Duration& d) {
    if (d.days == 0 && d.seconds == seconds{0}) return "PT0S";
    std::string out = "P";
    if (d.days != 0) out += std::to_string(d.days) + "D";
    if (d.seconds != seconds{0}) {
        const auto total = d.seconds.count();
        out += "T";
        if (total / 3600 != 0) out += std::to_string(total / 3600) + "H";
        if (total % 3600 / 60 != 0) out += std::to_string(total % 3600 / 60) + "M";
        if (total % 60 != 0) out += std::to_string(total % 60) + "S";
    }
    return out;
}

EventTime add_duration(const EventTime& start, const Duration& d, const Zone& zone) {
    const date::days days{d.days};
    if (const auto* c = std::get_if<CivilDate>(&start)) {
        // A date has no clock time: any part of a day occupies the whole day.
        return CivilDate{date::sys_days{c->ymd} + days + date::ceil<date::days>(d.seconds)};
    }
    if (const auto* w = std::get_if<WallTime>(&start)) {
        const WallTime moved{w->local + days};
        if (d.seconds == seconds{0}) return moved;
        const Instant end = to_instant(moved, zone) + d.seconds;
        const WallTime wall = wall_time_of(end, zone);
        // An end in the second pass of a repeated hour has a wall time that names the first pass
        // (RFC 5545 §3.3.5), up to an hour early and possibly before the start: end when the repeat
        // does instead, at the first wall time that is not earlier than the exact end.
        const auto info = zone_local_info(zone, wall.local);
        if (info.result == date::local_info::ambiguous && end >= info.second.begin)
            return WallTime{date::local_seconds{(info.second.begin + info.first.offset).time_since_epoch()}};
        return wall;
    }
    // UTC has no DST, so a nominal day from an instant is 24 hours.
    return std::get<Instant>(start) + days + d.seconds;
}

Expected<RecurrenceRule> parse_rrule(std::string_view text, const EventTime& start, const Zone& zone) {
    std::string rule = to_upper(text);
    if (rule.starts_with("RRULE:")) rule.erase(0, 6);
    if (rule.empty()) return unexpected("RRULE is empty; expected e.g. FREQ=WEEKLY;BYDAY=TH");
    if (rule.find_first_of(" \t\r\n") != std::string::npos)
        return unexpected("RRULE " + quoted(text) + " contains spaces; write NAME=VALUE parts joined by ';'");

    std::vector<std::pair<Part, std::string>> parts;     // in the order written
    std::array<std::string, part_names.size()> written;  // each part (uppercased), "" when absent
    std::string freq;
    bool numbered_byday = false;
    for (const auto item : split(rule, ';')) {
        const auto prefix = "RRULE part " + quoted(item) + ": ";
        if (item.empty()) return unexpected("RRULE " + quoted(text) + " has an empty part (check the ';' separators)");
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) return unexpected(prefix + "expected NAME=VALUE");
        const auto name = item.substr(0, eq);
        const auto value = item.substr(eq + 1);
        const auto part = part_of(name);
        if (!part) return unexpected(prefix + "unknown rule part " + quoted(name));
        const auto index = static_cast<std::size_t>(*part);
        if (!written[index].empty()) return unexpected(prefix + std::string(name) + " is given twice");
        if (value.empty()) return unexpected(prefix + "empty value");
        if (const auto why = check_part_value(*part, value, numbered_byday); !why.empty())
            return unexpected(prefix + why);
        written[index] = std::string(item);
        if (*part == Part::freq) freq = value;
        parts.emplace_back(*part, std::string(value));
    }

    // The rules between parts that RFC 5545 §3.3.10 states with MUST.
    const auto has = [&](Part p) { return !written[static_cast<std::size_t>(p)].empty(); };
    const auto fail = [&](Part p, const std::string& why) {
        return unexpected("RRULE part " + quoted(written[static_cast<std::size_t>(p)]) + ": " + why);
    };
    if (!has(Part::freq)) return unexpected("RRULE " + quoted(text) + " has no FREQ (e.g. FREQ=WEEKLY)");
    if (has(Part::count) && has(Part::until)) return fail(Part::until, "COUNT and UNTIL cannot both be given");
    if (numbered_byday && freq != "MONTHLY" && freq != "YEARLY")
        return fail(Part::byday, "a numbered weekday needs FREQ=MONTHLY or FREQ=YEARLY");
    if (numbered_byday && freq == "YEARLY" && has(Part::byweekno))
        return fail(Part::byday, "a numbered weekday cannot be combined with BYWEEKNO");
    if (has(Part::bymonthday) && freq == "WEEKLY") return fail(Part::bymonthday, "not allowed with FREQ=WEEKLY");
    if (has(Part::byyearday) && (freq == "DAILY" || freq == "WEEKLY" || freq == "MONTHLY"))
        return fail(Part::byyearday, "not allowed with FREQ=" + freq);
    if (has(Part::byweekno) && freq != "YEARLY") return fail(Part::byweekno, "needs FREQ=YEARLY");
    if (has(Part::bysetpos) && !(has(Part::bysecond) || has(Part::byminute) || has(Part::byhour) || has(Part::byday) ||
                                 has(Part::bymonthday) || has(Part::byyearday) || has(Part::byweekno) ||
                                 has(Part::bymonth)))
        return fail(Part::bysetpos, "needs another BYxxx part to select from");
    if (std::holds_alternative<CivilDate>(start)) {
        for (const auto p : {Part::byhour, Part::byminute, Part::bysecond})
            if (has(p)) return fail(p, "not allowed for an all-day event");
    }
    if (freq == "MONTHLY") {
        const auto value = [&](Part p) {
            const auto& w = written[static_cast<std::size_t>(p)];
            return std::string_view(w).substr(std::min(w.size(), w.find('=') + 1));
        };
        std::string fault;
        const date::year_month_day start_day{
            date::floor<date::days>(std::visit([](const auto& t) { return local_reading(t); }, start))};
        const auto why = check_monthly_rule(value(Part::bymonth), value(Part::bymonthday), value(Part::byday),
                                            value(Part::bysetpos), value(Part::byhour), value(Part::byminute),
                                            value(Part::bysecond), value(Part::interval), start_day, fault);
        if (!why.empty()) return fail(*part_of(fault), why);
    }

    std::string normalized;
    for (auto& [part, value] : parts) {
        if (part == Part::until) {
            auto until = convert_until(value, start, zone);
            if (!until) return fail(Part::until, until.error());
            value = *until;
        }
        if (!normalized.empty()) normalized += ';';
        normalized += std::string(part_names[static_cast<std::size_t>(part)]) + "=" + value;
    }
    if (!libical_accepts(normalized)) return unexpected("RRULE " + quoted(text) + " is not valid (rejected by libical)");
    return RecurrenceRule{normalized};
}

Expected<EventTime> parse_recurrence_date(std::string_view text, const EventTime& start, const Zone& zone) {
    auto t = parse_ical_or_iso_time(text);
    if (!t) return t;
    const bool is_date = std::holds_alternative<CivilDate>(*t);
    if (std::holds_alternative<CivilDate>(start)) {
        if (!is_date)
            return unexpected("EXDATE/RDATE " + format_event_time(*t) +
                              " has a time but the event is all-day; give a date (YYYY-MM-DD)");
        return t;
    }
    if (is_date) return unexpected("EXDATE/RDATE " + format_event_time(*t) + " is a date but the event has a time");
    if (std::holds_alternative<WallTime>(start)) {
        if (const auto* i = std::get_if<Instant>(&*t)) return EventTime{wall_time_of(*i, zone)};
        return t;
    }
    if (const auto* w = std::get_if<WallTime>(&*t)) return EventTime{to_instant(*w, zone)};
    return t;
}

std::string format_event_time(const EventTime& t) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return date::format("%F", d->ymd);
    if (const auto* w = std::get_if<WallTime>(&t)) return date::format("%FT%T", w->local);
    return date::format("%FT%TZ", std::get<Instant>(t));
}

std::optional<Instant> parse_tag_date(std::string_view s) {
    const auto digits = [&](std::size_t from, std::size_t n) {
        return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(from + n),
                           [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!(s.size() == 4 || (s.size() == 7 && s[4] == '-') || (s.size() == 10 && s[4] == '-' && s[7] == '-'))) return std::nullopt;
    if (!digits(0, 4) || (s.size() >= 7 && !digits(5, 2)) || (s.size() == 10 && !digits(8, 2))) return std::nullopt;
    const auto number = [&](std::size_t at, std::size_t n) { return std::stoi(std::string(s.substr(at, n))); };
    const date::year_month_day day{date::year{number(0, 4)}, date::month{static_cast<unsigned>(s.size() >= 7 ? number(5, 2) : 1)},
                                   date::day{static_cast<unsigned>(s.size() == 10 ? number(8, 2) : 1)}};
    if (!day.ok()) return std::nullopt;
    return Instant{date::sys_days{day}};
}

}  // namespace almanac
