// Expanding an event into its occurrences (RRULE + RDATE − EXDATE) with libical, in the event's own
// wall time so that a weekly 10:00 meeting stays at 10:00 across DST changes of its zone.
#pragma once

#include <cstddef>
#include <vector>

#include "feeds/event_time.hpp"
#include "feeds/item.hpp"

namespace almanac {

struct Occurrence {
    EventTime start;  // same kind as the event's start
    EventTime end;    // start + the event's length (same kind)
    Instant start_instant;
    Instant end_instant;
};

// The occurrences of `event` whose start instant lies in [from, to), in order, at most `limit` of
// them (the first one is DTSTART itself even when the RRULE would not produce it, as RFC 5545
// says). A non-recurring event has one occurrence. Wall times are resolved by RFC 5545 §3.3.5.
std::vector<Occurrence> occurrences(const Event& event, Instant from, Instant to, std::size_t limit = 10000);

// True when the event has any occurrence overlapping [from, to).
bool occurs_between(const Event& event, Instant from, Instant to);

}  // namespace almanac
