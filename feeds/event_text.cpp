#include "feeds/text.hpp"
#include "feeds/event_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

namespace almanac {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Names are spelled out here rather than taken from strftime, whose output follows the locale.
constexpr std::array<std::string_view, 7> weekday_short = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> weekday_long = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                                          "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> month_short = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 12> month_long = {"January", "February", "March", "April",
                                                         "May", "June", "July", "August",
                                                         "September", "October", "November", "December"};

std::string_view short_weekday(date::year_month_day ymd) {
    return weekday_short[date::weekday{date::sys_days{ymd}}.c_encoding()];
}

std::string_view short_month(date::year_month_day ymd) { return month_short[unsigned{ymd.month()} - 1]; }

// Appends `n` in decimal.
void append_number(std::string& out, long n) {
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

// Appends `n` in two digits ("07"); outside 0..99, as std::to_string writes it, after a "0" when
// below 10.
void append_pad2(std::string& out, long n) {
    if (n >= 0 && n < 100) {
        char two[2];
        put_two_digits(two, n);
        out.append(two, 2);
        return;
    }
    if (n < 10) out += '0';
    append_number(out, n);
}

// The date and time texts below are appended to one string (they are written for every entry of
// every view), each also as a function returning its own.

// "16 Apr 2024".
void append_day_month_year(std::string& out, date::year_month_day ymd) {
    append_number(out, static_cast<long>(unsigned{ymd.day()}));
    out += ' ';
    out += short_month(ymd);
    out += ' ';
    append_number(out, int{ymd.year()});
}

std::string day_month_year(date::year_month_day ymd) {
    std::string out;
    append_day_month_year(out, ymd);
    return out;
}

// "Tue 16 Apr 2024".
void append_full_date(std::string& out, date::year_month_day ymd) {
    out += short_weekday(ymd);
    out += ' ';
    append_day_month_year(out, ymd);
}

std::string full_date(date::year_month_day ymd) {
    std::string out;
    append_full_date(out, ymd);
    return out;
}

// "Tue 16 Apr".
std::string date_without_year(date::year_month_day ymd) {
    return std::string(short_weekday(ymd)) + " " + std::to_string(unsigned{ymd.day()}) + " " +
           std::string(short_month(ymd));
}

// "09:30", or "09:30:15" for the rare time with seconds, which would otherwise be hidden.
void append_clock_time(std::string& out, date::local_seconds t) {
    const date::hh_mm_ss<seconds> hms{t - date::floor<date::days>(t)};
    append_pad2(out, hms.hours().count());
    out += ':';
    append_pad2(out, hms.minutes().count());
    if (hms.seconds().count() != 0) {
        out += ':';
        append_pad2(out, hms.seconds().count());
    }
}

std::string clock_time(date::local_seconds t) {
    std::string out;
    append_clock_time(out, t);
    return out;
}

// "UTC+05:45", "UTC-03:00".
void append_utc_offset(std::string& out, seconds offset) {
    const auto magnitude = std::abs(offset.count());
    out += offset.count() < 0 ? "UTC-" : "UTC+";
    append_pad2(out, magnitude / 3600);
    out += ':';
    append_pad2(out, magnitude % 3600 / 60);
}

// An instant as read on the clocks of a zone.
struct LocalReading {
    date::local_seconds local;
    date::year_month_day day;
    std::string abbrev;
    seconds offset;
};

LocalReading read_in(Instant t, const Zone& zone) {
    const auto info = zone_info_at(zone, t);
    const date::local_seconds local{t.time_since_epoch() + info.offset};
    return {local, date::year_month_day{date::floor<date::days>(local)}, info.abbrev, info.offset};
}

// "CEST (UTC+02:00)".
void append_zone_label(std::string& out, const LocalReading& r) {
    out += r.abbrev;
    out += " (";
    append_utc_offset(out, r.offset);
    out += ')';
}

std::string describe_days(date::year_month_day first, date::year_month_day last) {
    if (last <= first) return full_date(first);
    if (first.year() == last.year()) return date_without_year(first) + " – " + full_date(last);
    return full_date(first) + " – " + full_date(last);
}

std::string describe_times(Instant start, Instant end, const Zone& view) {
    const auto s = read_in(start, view);
    const auto e = read_in(end, view);
    std::string out;
    out.reserve(64);
    append_full_date(out, s.day);
    out += ", ";
    append_clock_time(out, s.local);
    out += ' ';
    // A DST change inside the event puts a different zone label on each end.
    const bool same_label = s.abbrev == e.abbrev && s.offset == e.offset;
    if (end <= start || (s.day == e.day && same_label)) {
        if (end > start) {
            out.pop_back();
            out += "–";
            append_clock_time(out, e.local);
            out += ' ';
        }
        append_zone_label(out, s);
        return out;
    }
    if (same_label) {
        out.pop_back();
    } else {
        append_zone_label(out, s);
    }
    out += " – ";
    if (s.day != e.day) {
        append_full_date(out, e.day);
        out += ", ";
    }
    append_clock_time(out, e.local);
    out += ' ';
    append_zone_label(out, same_label ? s : e);
    return out;
}

// "a", "a and b", "a, b and c".
std::string join_list(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
        out += items[i];
    }
    return out;
}

// A recurrence date as people read it in the feed's zone.
std::string describe_date(const EventTime& t, const Zone& event_zone, const Zone& view) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return full_date(d->ymd);
    const auto r = read_in(to_instant(t, event_zone), view);
    return full_date(r.day) + ", " + clock_time(r.local);
}

std::string describe_dates(const std::vector<EventTime>& dates, const Zone& event_zone, const Zone& view) {
    std::vector<std::string> items;
    items.reserve(dates.size());
    for (const auto& t : dates) items.push_back(describe_date(t, event_zone, view));
    return join_list(items);
}

// ---- RRULE ----------------------------------------------------------------------------------------

std::optional<int> parse_int(std::string_view s) {
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > 9) return std::nullopt;
    int value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return negative ? -value : value;
}

// "1st", "2nd", "15th", "23rd".
std::string numbered(int n) {
    const auto suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th"
                        : n % 10 == 1                    ? "st"
                        : n % 10 == 2                    ? "nd"
                        : n % 10 == 3                    ? "rd"
                                                         : "th";
    return std::to_string(n) + suffix;
}

// "first" … "fifth", "last", "second-to-last", and "20th" for the large positions yearly rules allow.
std::string ordinal(int n) {
    static constexpr std::array<std::string_view, 5> words = {"first", "second", "third", "fourth", "fifth"};
    if (n == -1) return "last";
    if (n < 0) return ordinal(-n) + "-to-last";
    if (n <= 5) return std::string(words[static_cast<std::size_t>(n - 1)]);
    return numbered(n);
}

std::optional<std::size_t> weekday_index(std::string_view code) {
    static constexpr std::array<std::string_view, 7> codes = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
    for (std::size_t i = 0; i < codes.size(); ++i)
        if (codes[i] == code) return i;
    return std::nullopt;
}

struct RuleParts {
    std::string freq;
    int interval = 1;
    std::vector<std::pair<int, std::size_t>> byday;  // (ordinal or 0, weekday index)
    std::vector<int> bymonthday;
    std::vector<int> bymonth;
    std::optional<int> count;
    std::string until;
    bool unsupported = false;  // a part this text cannot say simply
};

RuleParts read_rule(std::string_view text) {
    RuleParts r;
    for (const auto part : split(text, ';')) {
        const auto eq = part.find('=');
        if (eq == std::string_view::npos) return r.unsupported = true, r;
        const auto name = part.substr(0, eq);
        const auto value = part.substr(eq + 1);
        if (name == "FREQ") {
            r.freq = value;
        } else if (name == "INTERVAL") {
            const auto n = parse_int(value);
            if (!n || *n < 1) return r.unsupported = true, r;
            r.interval = *n;
        } else if (name == "COUNT") {
            r.count = parse_int(value);
            if (!r.count || *r.count < 1) return r.unsupported = true, r;
        } else if (name == "UNTIL") {
            r.until = value;
        } else if (name == "BYDAY") {
            for (const auto item : split(value, ',')) {
                if (item.size() < 2) return r.unsupported = true, r;
                const auto day = weekday_index(item.substr(item.size() - 2));
                const auto number =
                    item.size() == 2 ? std::optional<int>{0} : parse_int(item.substr(0, item.size() - 2));
                if (!day || !number) return r.unsupported = true, r;
                r.byday.emplace_back(*number, *day);
            }
        } else if (name == "BYMONTHDAY" || name == "BYMONTH") {
            auto& list = name == "BYMONTH" ? r.bymonth : r.bymonthday;
            for (const auto item : split(value, ',')) {
                const auto n = parse_int(item);
                if (!n || *n == 0 || (name == "BYMONTH" && (*n < 1 || *n > 12))) return r.unsupported = true, r;
                list.push_back(*n);
            }
        } else if (name != "WKST") {
            // WKST changes nothing this text says; BYSETPOS, BYHOUR, BYWEEKNO, … would need a sentence each.
            r.unsupported = true;
        }
    }
    if (r.freq.empty()) r.unsupported = true;
    return r;
}

// "daily", "every 2 days", "hourly", "every minute".
std::optional<std::string> frequency_phrase(const RuleParts& r) {
    struct Unit {
        std::string_view freq, adverb, singular;
    };
    static constexpr std::array<Unit, 7> units = {{{"SECONDLY", "every second", "second"},
                                                   {"MINUTELY", "every minute", "minute"},
                                                   {"HOURLY", "hourly", "hour"},
                                                   {"DAILY", "daily", "day"},
                                                   {"WEEKLY", "weekly", "week"},
                                                   {"MONTHLY", "monthly", "month"},
                                                   {"YEARLY", "yearly", "year"}}};
    for (const auto& u : units) {
        if (u.freq != r.freq) continue;
        if (r.interval == 1) return std::string(u.adverb);
        return "every " + std::to_string(r.interval) + " " + std::string(u.singular) + "s";
    }
    return std::nullopt;
}

std::string month_list(const std::vector<int>& months) {
    std::vector<std::string> names;
    names.reserve(months.size());
    for (const int m : months) names.emplace_back(month_long[static_cast<std::size_t>(m - 1)]);
    return join_list(names);
}

// "the 1st and 15th", "the last day", "the second-to-last day".
std::string month_days_phrase(const std::vector<int>& days) {
    std::vector<std::string> items;
    items.reserve(days.size());
    for (const int d : days) items.push_back(d < 0 ? ordinal(d) + " day" : numbered(d));
    return "the " + join_list(items);
}

// UNTIL as a date in the event's zone: RFC 5545 keeps it in UTC (or as a DATE for all-day events).
std::optional<std::string> until_phrase(std::string_view until, const Zone& event_zone) {
    if (until.size() < 8) return std::nullopt;
    const auto year = parse_int(until.substr(0, 4));
    const auto month = parse_int(until.substr(4, 2));
    const auto day = parse_int(until.substr(6, 2));
    if (!year || !month || !day) return std::nullopt;
    const date::year_month_day ymd{date::year{*year}, date::month(static_cast<unsigned>(*month)),
                                   date::day(static_cast<unsigned>(*day))};
    if (!ymd.ok()) return std::nullopt;
    if (until.size() == 8) return day_month_year(ymd);
    if (until.size() < 15 || until[8] != 'T') return std::nullopt;
    const auto hour = parse_int(until.substr(9, 2));
    const auto minute = parse_int(until.substr(11, 2));
    const auto second = parse_int(until.substr(13, 2));
    if (!hour || !minute || !second) return std::nullopt;
    const auto clock = hours{*hour} + minutes{*minute} + seconds{*second};
    if (until.size() == 16 && until[15] == 'Z')
        return day_month_year(read_in(Instant{date::sys_days{ymd} + clock}, event_zone).day);
    if (until.size() == 15) return day_month_year(ymd);  // floating: already the event's wall time
    return std::nullopt;
}

std::optional<std::string> say_rule(const RuleParts& r, const Zone& event_zone) {
    if (r.unsupported) return std::nullopt;
    auto text = frequency_phrase(r);
    if (!text) return std::nullopt;
    const bool monthly = r.freq == "MONTHLY";
    const bool yearly = r.freq == "YEARLY";
    const bool numbered = std::any_of(r.byday.begin(), r.byday.end(), [](const auto& d) { return d.first != 0; });
    if (!r.byday.empty() && !r.bymonthday.empty()) return std::nullopt;
    // A numbered weekday in a yearly rule without months counts weeks of the whole year.
    if (numbered && (!(monthly || yearly) || (yearly && r.bymonth.empty()))) return std::nullopt;
    if (!r.bymonthday.empty() && !(monthly || yearly)) return std::nullopt;

    if (!r.byday.empty()) {
        std::vector<std::string> days;
        for (const auto& [n, day] : r.byday) {
            const std::string name(weekday_long[day]);
            days.push_back(n != 0 ? "the " + ordinal(n) + " " + name : (monthly || yearly) ? "every " + name
                                                                                           : name);
        }
        *text += " on " + join_list(days);
    }
    if (!r.bymonthday.empty()) *text += " on " + month_days_phrase(r.bymonthday);
    if (!r.bymonth.empty()) {
        std::vector<int> excluded;
        for (int m = 1; m <= 12; ++m)
            if (std::find(r.bymonth.begin(), r.bymonth.end(), m) == r.bymonth.end()) excluded.push_back(m);
        // A yearly rule picks its months; for others the months filter, said the shorter way.
        if (yearly || r.bymonth.size() <= excluded.size())
            *text += " in " + month_list(r.bymonth);
        else
            *text += ", except in " + month_list(excluded);
    }
    if (r.count) {
        *text += *r.count == 1 ? ", once" : *r.count == 2 ? ", twice"
                                                          : ", " + std::to_string(*r.count) + " times";
    }
    if (!r.until.empty()) {
        const auto until = until_phrase(r.until, event_zone);
        if (!until) return std::nullopt;
        *text += " until " + *until;
    }
    return text;
}

}  // namespace

std::string describe_when(const EventTime& start, const EventTime& end, const Zone& event_zone, const Zone& view) {
    const auto* first = std::get_if<CivilDate>(&start);
    const auto* after_last = std::get_if<CivilDate>(&end);
    if (first && after_last) {
        // The end is exclusive; people expect the last day they can attend.
        return describe_days(first->ymd, date::year_month_day{date::sys_days{after_last->ymd} - date::days{1}});
    }
    return describe_times(to_instant(start, event_zone), to_instant(end, event_zone), view);
}

std::string describe_event_when(const Event& event, const Zone& view) {
    auto text = describe_when(event.start, event.end, event.zone, view);
    if (!std::holds_alternative<CivilDate>(event.start) && event.zone.name != view.name) {
        const auto start = to_instant(event.start, event.zone);
        // Zones with the same clocks (Europe/Paris for a Europe/Berlin feed) would only repeat the time.
        if (zone_info_at(event.zone, start).offset != zone_info_at(view, start).offset) {
            const auto own = read_in(start, event.zone);
            text += " (" + event.zone.name + ": " + full_date(own.day) + ", " + clock_time(own.local) + " " +
                    own.abbrev + ")";
        }
    }
    std::vector<std::string> clauses;
    if (event.rrule) clauses.push_back("repeats " + describe_rrule(*event.rrule, event.zone));
    if (!event.rdates.empty()) clauses.push_back("also on " + describe_dates(event.rdates, event.zone, view));
    if (!event.exdates.empty()) clauses.push_back("not on " + describe_dates(event.exdates, event.zone, view));
    for (std::size_t i = 0; i < clauses.size(); ++i) {
        // The first clause starts a sentence; each begins with one of the lowercase words above.
        if (i == 0) clauses[i][0] = static_cast<char>(clauses[i][0] - 'a' + 'A');
        text += (i == 0 ? ". " : "; ") + clauses[i];
    }
    return text;
}

std::string describe_rrule(const RecurrenceRule& rule, const Zone& event_zone) {
    if (auto text = say_rule(read_rule(rule.text), event_zone)) return *text;
    return "by the rule " + rule.text;
}

namespace {

// "hh:mm:ss", `t`'s time of day, at `p`.
char* put_clock(char* p, Instant t) {
    const date::hh_mm_ss<seconds> hms{t - date::floor<date::days>(t)};
    p = put_two_digits(p, hms.hours().count());
    *p++ = ':';
    p = put_two_digits(p, hms.minutes().count());
    *p++ = ':';
    return put_two_digits(p, hms.seconds().count());
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const DateText& text) { return out << text.view(); }

// Both are written for every entry of every view: the fixed-width parts in buffers, the year as
// std::to_chars writes it, into a DateText (no allocation).
DateText format_rfc822(Instant t) {
    const auto day = date::floor<date::days>(t);
    const date::year_month_day ymd{day};
    char head[12];  // "Thu, 16 May "
    std::copy_n(weekday_short[date::weekday{day}.c_encoding()].data(), 3, head);
    std::copy_n(", ", 2, head + 3);
    put_two_digits(head + 5, static_cast<long>(unsigned{ymd.day()}));
    head[7] = ' ';
    std::copy_n(short_month(ymd).data(), 3, head + 8);
    head[11] = ' ';
    char clock[13] = {' '};  // " 07:30:00 GMT"
    std::copy_n(" GMT", 4, put_clock(clock + 1, t));
    char year[12];
    const auto year_end = std::to_chars(year, year + sizeof year, int{ymd.year()}).ptr;
    DateText out;
    out.append({head, sizeof head});
    out.append({year, static_cast<std::size_t>(year_end - year)});
    out.append({clock, sizeof clock});
    return out;
}

DateText format_rfc3339(Instant t) {
    const date::year_month_day ymd{date::floor<date::days>(t)};
    char year[12];
    const auto year_end = std::to_chars(year, year + sizeof year, int{ymd.year()}).ptr;
    const auto digits = static_cast<std::size_t>(year_end - year);
    char rest[16] = {'-'};  // "-05-16T07:30:00Z"
    put_two_digits(rest + 1, static_cast<long>(unsigned{ymd.month()}));
    rest[3] = '-';
    put_two_digits(rest + 4, static_cast<long>(unsigned{ymd.day()}));
    rest[6] = 'T';
    *put_clock(rest + 7, t) = 'Z';
    DateText out;
    if (digits < 4) out.append(std::string_view("0000").substr(digits));
    out.append({year, digits});
    out.append({rest, sizeof rest});
    return out;
}

}  // namespace almanac
