// The HTML index page (SPEC §5 `GET /`): every feed with its https:// and webcal:// links, one-click
// subscribe links (Apple, Google, Outlook.com, Microsoft 365) and filtered ones by tag and kind, a
// time-zone picker that works without JavaScript (a GET form), and the upcoming events in the chosen
// zone, each with its own .ics and a Google Calendar link, also as schema.org Event JSON-LD. Pure: the
// caller passes the instant "now".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "feeds/event_time.hpp"
#include "feeds/recurrence.hpp"
#include "feeds/site.hpp"

namespace almanac {

// A calendar's tags and kinds, which the index page offers as filtered calendars, each with the
// number of the calendar's events naming it: a caller that keeps them patches them after an edit
// (remove the item replaced, add the new one) instead of reading every event again.
struct CalendarFilters {
    std::map<std::string, std::size_t, std::less<>> tags;
    std::map<std::string, std::size_t, std::less<>> kinds;
    void add(const Item& item);     // counts an event's tags and kind; anything else is not counted
    void remove(const Item& item);  // the opposite of add()
    friend bool operator==(const CalendarFilters&, const CalendarFilters&) = default;
};
CalendarFilters calendar_filters(const std::vector<const Item*>& items);

struct IndexOptions {
    Instant now;               // the snapshot's build instant: "upcoming" starts here
    std::optional<Zone> zone;  // the chosen zone (?tz=); nullopt: the site's timezone
    int upcoming_days = 90;    // how far ahead upcoming occurrences are listed
    int upcoming_limit = 50;   // at most this many occurrences
    // Recurring events' occurrences kept from earlier pages (null: expanded here); same page either way.
    OccurrenceMemo* occurrences = nullptr;
    // Every calendar feed's default-view items at `now` (select_items), by feed name, when the caller
    // has selected them already (null: selected here); same page either way.
    const std::map<std::string, std::vector<const Item*>>* calendars = nullptr;
    // Each calendar's calendar_filters of those items, by feed name, when the caller keeps them
    // (null, or a feed not there: gathered here); same page either way.
    const std::map<std::string, CalendarFilters>* filters = nullptr;
};

// A complete UTF-8 HTML5 document. Links are absolute (documents from feed_url/view_url/event_url,
// item pages from site.base_url); with a chosen zone, the calendar links and the events' documents
// point at that zone's view (/tz/Area/Location/{feed}.ics, /tz/Area/Location/{feed}/{event}.ics).
std::string render_index_page(const Site& site, const IndexOptions& options);

}  // namespace almanac
