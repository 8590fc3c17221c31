// VTIMEZONE components generated from the system tz database (not libical's built-in zones),
// trimmed to the instants a feed needs, with yearly runs folded into RRULE observances (Outlook
// ignores RDATE-only ones), and the small RAII wrappers the iCalendar writer uses around libical.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <libical/ical.h>

#include "feeds/event_time.hpp"

namespace almanac {

// Makes libical report errors instead of aborting; idempotent and thread-safe. Call it before
// any other libical use.
void init_libical();

struct IcalComponentFree {
    void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using IcalComponent = std::unique_ptr<icalcomponent, IcalComponentFree>;

// libical time values: a local date-time (written bare, or with a TZID parameter), a UTC date-time
// (written with Z), a date (VALUE=DATE).
icaltimetype ical_local_time(date::local_seconds t);
icaltimetype ical_utc_time(Instant t);
icaltimetype ical_date(date::year_month_day d);

// One STANDARD or DAYLIGHT sub-component. Times are local, in the offset before the onset
// (`offset_from`), as RFC 5545 §3.6.5 writes DTSTART and RDATE there.
struct Observance {
    bool daylight = false;
    date::local_seconds start;  // DTSTART: the first onset
    std::chrono::seconds offset_from{0};
    std::chrono::seconds offset_to{0};
    std::string name;                         // TZNAME: the tz abbreviation ("EST", "+0545")
    std::string rrule;                        // "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU[;UNTIL=…Z]", or empty
    std::vector<date::local_seconds> rdates;  // onsets listed one by one; the first repeats DTSTART
};

struct VTimezone {
    std::string tzid;                     // the zone name as the event wrote it (links stay links)
    std::vector<Observance> observances;  // ordered by DTSTART
};

// The VTIMEZONE for `zone` that gives the right offset at every instant in [first, last]. Offsets
// come from zone_info_at, so they follow the tz file's POSIX rule after 2037. Whole calendar years
// around the span are used, so a DST zone always gets its STANDARD and DAYLIGHT pair; the last
// yearly runs stay open-ended (no UNTIL), as clients extend them past the span anyway.
VTimezone make_vtimezone(const Zone& zone, Instant first, Instant last);

// The libical component of `tz`.
IcalComponent vtimezone_component(const VTimezone& tz);

}  // namespace almanac
