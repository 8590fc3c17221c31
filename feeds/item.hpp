// The content model (SPEC §2): an Item is one post, one event or one page, parsed from a file or
// from one entry of an event data file. Values only; built by feeds/content.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "feeds/event_time.hpp"
#include "feeds/site_config.hpp"

namespace almanac {

enum class EventStatus { confirmed,
                         tentative,
                         cancelled };

struct Geo {
    double lat = 0;
    double lon = 0;
    friend bool operator==(const Geo&, const Geo&) = default;
};

struct Organizer {
    std::string name;
    std::string email;
    friend bool operator==(const Organizer&, const Organizer&) = default;
};

struct Event {
    EventTime start;
    EventTime end;                     // exclusive, same kind as start (all-day: the day after the last)
    std::optional<Duration> duration;  // as written, when the event gave one instead of `end`
    bool end_defaulted = false;        // neither end nor duration: one hour (timed) or one day
    Zone zone;                         // the event's zone (its `timezone`, else site.timezone)
    std::optional<RecurrenceRule> rrule;
    std::vector<EventTime> exdates;  // same kind as start
    std::vector<EventTime> rdates;   // same kind as start
    EventStatus status = EventStatus::confirmed;
    std::string location;
    std::optional<Geo> geo;
    std::string url;     // the event's own page
    std::string online;  // conference link (RFC 7986 CONFERENCE)
    std::optional<Organizer> organizer;
    int sequence = 0;
};

struct Item {
    SectionType type = SectionType::post;
    std::string section;
    std::string path;            // relative to the content dir, '/'-separated
    int line = 1;                // where the item starts: 1 for a file, the list entry's line in a data file
    int index = -1;              // position in a data file's `events:` list, -1 for a Markdown file
    std::uint64_t revision = 0;  // XXH3-64 of the file's bytes: equal revisions, equal items (one config)
    // Set by a caller that keeps items between builds (the daemon's ContentState): a number no other
    // parse of any file in this process has, so that equal serials (with equal index) are the same
    // item without comparing its path. 0: not set; the item is known by path and revision.
    std::uint64_t serial = 0;

    std::string uid;  // stable: explicit, else derived from site host + path (+ index)
    std::string slug;
    std::string permalink;  // absolute URL of the item's page

    std::string title;
    std::string summary;  // plain text
    std::string html;     // rendered body (or description)
    std::string text;     // plain-text body

    std::vector<std::string> authors;
    std::string kind;
    std::vector<std::string> tags;

    bool draft = false;
    std::optional<Instant> date;  // posts: publication date; events: unset
    std::optional<Instant> lastmod;
    std::optional<Instant> publish_date;
    std::optional<Instant> expiry_date;

    std::optional<Event> event;  // set exactly when type == event
};

// The instant an item counts as "last changed" for DTSTAMP, LAST-MODIFIED and the feeds' updated:
// the newest of its lastmod, date and publish_date that has come by `now` (a lastmod older than the
// date does not take the item back), else nothing. A date still to come is left out until it comes
// (next_visibility_change rebuilds then): no document states a change from the future.
std::optional<Instant> item_updated(const Item& item, Instant now = Instant::max());

// True when the item is published at `now`: not a draft, publish_date ≤ now, and now ≤ expiry_date.
bool is_visible(const Item& item, Instant now);

// The item's categories in every format: its kind, then its tags, each once.
std::vector<std::string> item_categories(const Item& item);

}  // namespace almanac
