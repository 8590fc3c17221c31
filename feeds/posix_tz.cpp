#include "feeds/posix_tz.hpp"

#include <algorithm>
#include <vector>

namespace almanac {
namespace {

using std::chrono::seconds;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// Reads the text left to right; every read_* returns nothing (and the parse fails) on bad input.
struct Reader {
    std::string_view s;
    std::size_t pos = 0;

    bool done() const { return pos == s.size(); }
    bool eat(char c) {
        if (done() || s[pos] != c) return false;
        ++pos;
        return true;
    }

    std::optional<int> read_number(int max_digits) {
        int value = 0, digits = 0;
        while (!done() && is_digit(s[pos]) && digits < max_digits) value = value * 10 + (s[pos++] - '0'), ++digits;
        if (digits == 0) return std::nullopt;
        return value;
    }

    // An abbreviation: three or more letters, or <…> with letters, digits, '+' and '-'.
    std::optional<std::string> read_abbrev() {
        const auto begin = pos;
        if (eat('<')) {
            while (!done() && s[pos] != '>' && (is_alpha(s[pos]) || is_digit(s[pos]) || s[pos] == '+' || s[pos] == '-'))
                ++pos;
            const auto text = s.substr(begin + 1, pos - begin - 1);
            if (!eat('>') || text.size() < 3) return std::nullopt;
            return std::string(text);
        }
        while (!done() && is_alpha(s[pos])) ++pos;
        if (pos - begin < 3) return std::nullopt;
        return std::string(s.substr(begin, pos - begin));
    }

    // [+|-]hh[:mm[:ss]] with hh at most `max_hours`.
    std::optional<seconds> read_hms(int max_hours) {
        int sign = 1;
        if (eat('-')) sign = -1;
        else eat('+');
        const auto h = read_number(3);
        if (!h || *h > max_hours) return std::nullopt;
        int m = 0, sec = 0;
        if (eat(':')) {
            const auto mm = read_number(2);
            if (!mm || *mm > 59) return std::nullopt;
            m = *mm;
            if (eat(':')) {
                const auto ss = read_number(2);
                if (!ss || *ss > 59) return std::nullopt;
                sec = *ss;
            }
        }
        return seconds{sign * (*h * 3600 + m * 60 + sec)};
    }

    // POSIX offsets count west of UTC ("EST5"); ours count east.
    std::optional<seconds> read_offset() {
        const auto west = read_hms(24);
        if (!west) return std::nullopt;
        return -*west;
    }

    std::optional<PosixRuleDate> read_rule_date() {
        PosixRuleDate d;
        if (eat('M')) {
            d.kind = PosixRuleDate::Kind::month_week_day;
            const auto m = read_number(2);
            if (!m || *m < 1 || *m > 12 || !eat('.')) return std::nullopt;
            const auto w = read_number(1);
            if (!w || *w < 1 || *w > 5 || !eat('.')) return std::nullopt;
            const auto wd = read_number(1);
            if (!wd || *wd > 6) return std::nullopt;
            d.month = *m;
            d.week = *w;
            d.day = *wd;
        } else if (eat('J')) {
            d.kind = PosixRuleDate::Kind::julian_no_leap;
            const auto n = read_number(3);
            if (!n || *n < 1 || *n > 365) return std::nullopt;
            d.day = *n;
        } else {
            d.kind = PosixRuleDate::Kind::julian_zero;
            const auto n = read_number(3);
            if (!n || *n > 365) return std::nullopt;
            d.day = *n;
        }
        if (eat('/')) {
            const auto t = read_hms(167);
            if (!t) return std::nullopt;
            d.time = *t;
        }
        return d;
    }
};

struct Change {
    date::sys_seconds at;
    bool to_dst = false;
};

// The rule's changes in the years around `y`, in order, each one a real change of state: a
// change of state and its reverse at the same instant cancel out (DST all year, RFC 8536 §3.3.1).
std::vector<Change> changes_around(const PosixTz& tz, date::year y) {
    std::vector<Change> all;
    for (auto year = y - date::years{2}; year <= y + date::years{2}; ++year) {
        const auto start = tz.start.date_in(year) + tz.start.time;
        const auto end = tz.end.date_in(year) + tz.end.time;
        all.push_back({date::sys_seconds{start.time_since_epoch() - tz.std_offset}, true});
        all.push_back({date::sys_seconds{end.time_since_epoch() - tz.dst_offset}, false});
    }
    std::stable_sort(all.begin(), all.end(), [](const Change& a, const Change& b) { return a.at < b.at; });
    std::vector<Change> out;
    for (std::size_t i = 0; i < all.size();) {
        std::size_t j = i;
        bool any_dst = false, any_std = false;
        for (; j < all.size() && all[j].at == all[i].at; ++j) (all[j].to_dst ? any_dst : any_std) = true;
        if (!(any_dst && any_std) && (out.empty() || out.back().to_dst != all[i].to_dst)) out.push_back(all[i]);
        i = j;
    }
    return out;
}

const date::sys_seconds far_past = date::sys_days{date::year::min() / date::January / 1};
const date::sys_seconds far_future = date::sys_days{date::year::max() / date::December / date::last};

}  // namespace

date::local_days PosixRuleDate::date_in(date::year y) const {
    const date::local_days jan1{y / date::January / 1};
    switch (kind) {
        case Kind::julian_no_leap:
            // Day 60 is 1 March in every year.
            return jan1 + date::days{day - 1 + (y.is_leap() && day >= 60 ? 1 : 0)};
        case Kind::julian_zero:
            return jan1 + date::days{day};
        case Kind::month_week_day:
            break;
    }
    const auto m = date::month{static_cast<unsigned>(month)};
    const auto wd = date::weekday{static_cast<unsigned>(day)};
    if (week == 5) return date::local_days{y / m / wd[date::last]};
    return date::local_days{y / m / wd[static_cast<unsigned>(week)]};
}

date::sys_info PosixTz::info_at(date::sys_seconds t) const {
    date::sys_info info{};
    info.begin = far_past;
    info.end = far_future;
    info.offset = std_offset;
    info.abbrev = std_abbrev;
    if (!dst_abbrev) return info;
    const auto changes = changes_around(*this, date::year_month_day{date::floor<date::days>(t)}.year());
    bool dst = true;  // every change cancelled out: DST all year
    if (!changes.empty()) {
        const auto next = std::find_if(changes.begin(), changes.end(), [&](const Change& c) { return c.at > t; });
        if (next != changes.end()) info.end = next->at;
        if (next != changes.begin()) info.begin = std::prev(next)->at;
        dst = next != changes.begin() ? std::prev(next)->to_dst : !next->to_dst;
    }
    if (dst) {
        info.offset = dst_offset;
        info.abbrev = *dst_abbrev;
        info.save = std::chrono::minutes{1};
    }
    return info;
}

date::local_info PosixTz::local_info(date::local_seconds t) const {
    const auto lo = std::min(std_offset, dst_offset);
    const auto hi = std::max(std_offset, dst_offset);
    // The candidates: t read with each offset. An instant whose period has that offset is a real
    // reading of t; two are an overlap, none a gap (between the period before and the one after).
    const auto early = info_at(date::sys_seconds{t.time_since_epoch() - hi});
    const auto late = info_at(date::sys_seconds{t.time_since_epoch() - lo});
    const bool early_ok = early.offset == hi;
    const bool late_ok = late.offset == lo;
    date::local_info out{};
    out.first = early;
    if (early_ok && late_ok && early.begin != late.begin) {
        out.result = date::local_info::ambiguous;
        out.second = late;
    } else if (early_ok || late_ok) {
        out.result = date::local_info::unique;
        out.first = early_ok ? early : late;
    } else {
        out.result = date::local_info::nonexistent;
        out.second = late;
    }
    return out;
}

std::optional<PosixTz> parse_posix_tz(std::string_view text) {
    Reader r{text};
    PosixTz tz;
    const auto std_abbrev = r.read_abbrev();
    const auto std_offset = std_abbrev ? r.read_offset() : std::nullopt;
    if (!std_offset) return std::nullopt;
    tz.std_abbrev = *std_abbrev;
    tz.std_offset = tz.dst_offset = *std_offset;
    if (r.done()) return tz;
    tz.dst_abbrev = r.read_abbrev();
    if (!tz.dst_abbrev) return std::nullopt;
    tz.dst_offset = tz.std_offset + std::chrono::hours{1};
    if (!r.done() && r.s[r.pos] != ',') {
        const auto dst_offset = r.read_offset();
        if (!dst_offset) return std::nullopt;
        tz.dst_offset = *dst_offset;
    }
    if (!r.eat(',')) return std::nullopt;
    const auto start = r.read_rule_date();
    if (!start || !r.eat(',')) return std::nullopt;
    const auto end = r.read_rule_date();
    if (!end || !r.done()) return std::nullopt;
    tz.start = *start;
    tz.end = *end;
    return tz;
}

}  // namespace almanac
