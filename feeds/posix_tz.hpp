// The POSIX TZ rule that ends a version 2+ TZif file (RFC 8536 §3.3): the zone's offsets after its
// last listed transition (2037 in Debian's files). The whole grammar, with RFC 8536's extensions:
// transition times from -167 to 167 hours (Greenland's "M3.5.0/-1", Gaza's "M3.4.4/50").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <date/tz.h>

namespace almanac {

// One transition date of a rule: Jn (day 1-365, 29 February never counted), n (day 0-365,
// counting it) or Mm.w.d (weekday d of week w of month m; week 5 is the last), and the wall time
// it happens at, in the time in effect before it.
struct PosixRuleDate {
    enum class Kind { julian_no_leap,
                      julian_zero,
                      month_week_day } kind = Kind::month_week_day;
    int day = 0;  // Jn, n: the day; Mm.w.d: the weekday (0 = Sunday)
    int month = 0, week = 0;
    std::chrono::seconds time{2 * 3600};

    date::local_days date_in(date::year y) const;
};

struct PosixTz {
    std::string std_abbrev;
    std::chrono::seconds std_offset{0};  // east of UTC (the string's sign is the other way)
    std::optional<std::string> dst_abbrev;
    std::chrono::seconds dst_offset{0};
    PosixRuleDate start, end;

    // The offset, abbreviation and period in effect at `t`. `save` is 1 minute in DST and 0
    // otherwise, as date/tz.h reports the TZif files' is-DST flag. A period with no further
    // change ends in year::max.
    date::sys_info info_at(date::sys_seconds t) const;

    // How wall time `t` maps onto this rule's timeline, as date::time_zone::get_info does.
    date::local_info local_info(date::local_seconds t) const;
};

// The rule `text` states, or nothing when it is not a valid POSIX TZ string (or has DST but no
// rule dates, which TZif footers always give).
std::optional<PosixTz> parse_posix_tz(std::string_view text);

}  // namespace almanac
