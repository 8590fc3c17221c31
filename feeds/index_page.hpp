// The HTML index page (SPEC §5 `GET /`): every feed with its https:// and webcal:// subscribe links,
// a time-zone picker that works without JavaScript (a GET form), and the upcoming events in the
// chosen zone. Pure: the caller passes the instant "now".
#pragma once

#include <optional>
#include <string>

#include "feeds/event_time.hpp"
#include "feeds/site.hpp"

namespace almanac {

struct IndexOptions {
    Instant now;                 // the snapshot's build instant: "upcoming" starts here
    std::optional<Zone> zone;    // the chosen zone (?tz=); nullopt: the site's timezone
    int upcoming_days = 90;      // how far ahead upcoming occurrences are listed
    int upcoming_limit = 50;     // at most this many occurrences
};

// A complete UTF-8 HTML5 document. Links are absolute (from site.base_url); with a chosen zone, the
// calendar links point at that zone's view (/tz/Area/Location/{feed}.ics).
std::string render_index_page(const Site& site, const IndexOptions& options);

}  // namespace almanac
