// Expanding an event into its occurrences (RRULE + RDATE − EXDATE) with libical, in the event's own
// wall time so that a weekly 10:00 meeting stays at 10:00 across DST changes of its zone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
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

// Recurring events' occurrences for a window that moves with the clock (the index page's next N
// days), kept between calls: each event is expanded once over a day-aligned window a day wider than
// the one asked for, and later calls that day filter what was kept instead of stepping libical
// through the rule again (the index page of 1,000 recurring events cost ~40 ms of libical per
// rebuild). Keyed by the item's file, entry and revision, so an edited event is expanded afresh.
// Not thread-safe.
class OccurrenceMemo {
public:
    // occurrences(*item.event, from, to, limit): the same list.
    std::vector<Occurrence> occurrences(const Item& item, Instant from, Instant to, std::size_t limit);
    // Drops what no call since the previous sweep asked for.
    void sweep();
    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        Instant from;  // the kept window [from, to)
        Instant to;
        std::vector<Occurrence> list;  // occurrences(event, from, to, cap)
        bool complete = false;         // list holds every occurrence in the window (fewer than cap)
        bool used = true;
    };
    std::unordered_map<std::string, Entry> entries_;  // by path, entry index and revision
};

}  // namespace almanac
