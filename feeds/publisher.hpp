// The one place that turns a site into output documents: every feed in every format, in its
// default view and in each pre-rendered zone. `almanac build` writes these; `serve` serves them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "feeds/fragments.hpp"
#include "feeds/index_page.hpp"
#include "feeds/recurrence.hpp"
#include "feeds/render.hpp"
#include "feeds/site.hpp"

namespace almanac {

struct Document {
    Rope body;
    std::string_view media_type;
    std::string etag;  // strong_etag(body): the same on every machine
};

struct PublishOptions {
    Instant now;                               // decides visibility (publishDate, expiryDate, window)
    std::optional<Instant> source_date_epoch;  // "updated" when no item of the site has a date
};

// The relative output path of a view: "events.ics", "tz/Europe/Berlin/events.ics".
std::string document_path(const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone);

// The relative output path of one event's document: "events/{slug}.ics", "tz/Asia/Tokyo/events/{slug}.ics".
std::string event_document_path(const FeedConfig& feed, std::string_view slug, const std::optional<Zone>& zone);

// The event among `items` whose event_slug is `slug` (the first, should two UIDs repeat); null when none.
const Item* find_event(const std::vector<const Item*>& items, std::string_view slug);

// One event's iCalendar document (render_event_ics) in `zone`'s view, or the default one; its VEVENTs
// are byte for byte the feed's (the same DTSTAMP: the feed's "updated"). nullopt when the feed is
// not a calendar or its default view does not hold that event at options.now.
std::optional<Document> render_event_document(const Site& site, const FeedConfig& feed, std::string_view slug,
                                              const std::optional<Zone>& zone, const PublishOptions& options);

// Renders one feed in one format and view.
Document render_document(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const PublishOptions& options);

// The views every feed is published in: the default (nullopt), then each timezones.prerender zone.
std::vector<std::optional<Zone>> prerendered_views(const SiteConfig& config);


// Every document of one feed: each of its formats × (default view + timezones.prerender), handed to
// `sink` one at a time with its document_path, so a caller that writes them never holds them all.
using DocumentSink = std::function<void(std::string path, Document doc)>;
void publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options, const DocumentSink& sink);

// The same documents, keyed by document_path.
std::map<std::string, Document> publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options);

// The index page (feeds/index_page.hpp) in `zone`'s view, or the site's zone; `memo`, `calendars`
// and `filters`: see IndexOptions.
Document render_index_document(const Site& site, const std::optional<Zone>& zone, const PublishOptions& options,
                               OccurrenceMemo* memo = nullptr,
                               const std::map<std::string, std::vector<const Item*>>* calendars = nullptr,
                               const std::map<std::string, CalendarFilters>* filters = nullptr);

// The path of the index page among the published documents.
inline constexpr std::string_view index_document_path = "index.html";

// Fragment caches (feeds/fragments.hpp) by feed and format, for a caller that publishes again under
// the same configuration: the next publish renders only the entries whose item, zone or fallback
// date changed. Not thread-safe itself; publish_site gives each task its own cache.
class FragmentStore {
public:
    // `keep_zoned`: see FragmentCache.
    explicit FragmentStore(bool keep_zoned = true) : keep_zoned_(keep_zoned) {}
    FragmentCache& cache(const std::string& feed, FeedFormat format) {
        return caches_.try_emplace({feed, format}, keep_zoned_).first->second;
    }
    // Drops every entry the publishes since the last sweep did not use.
    void sweep();
    std::size_t size() const;     // entries
    std::size_t hits() const;     // since the last sweep
    std::size_t misses() const;   // since the last sweep
    std::size_t patched() const;  // documents patched since the last sweep (FragmentCache::changed_entries)

private:
    bool keep_zoned_;
    std::map<std::pair<std::string, FeedFormat>, FragmentCache> caches_;
};

// A document written as it is rendered (PublishControl::open): its bytes in order, then close().
// Destroyed without close(), it was abandoned (a render threw).
class DocumentOutput : public ByteSink {
public:
    virtual ~DocumentOutput() = default;
    virtual void close() = 0;
};

// Runs every task and returns when all are done. The pure library runs them one after another;
// a caller with threads may run them at once: they share nothing but the site and the sink.
using TaskRunner = std::function<void(std::vector<std::function<void()>>& tasks)>;

struct PublishControl {
    std::function<void(std::size_t, std::size_t)> progress;  // hears (feeds selected, feeds)
    TaskRunner run;                                          // null: one task after another
    FragmentStore* fragments = nullptr;                      // null: entries are not kept
    std::function<bool(const FeedConfig&)> include_feed;     // null: every feed
    // The feed's default-view select_items() at options.now, when the caller has it already
    // (null: selected here).
    std::function<const std::vector<const Item*>*(const FeedConfig&)> selected;
    // The entry_stamps of that selection, when the caller has them (null, or a null result: made here).
    std::function<EntryStamps(const FeedConfig&)> stamps;
    bool index = true;                                                // also the index page
    OccurrenceMemo* occurrences = nullptr;                            // for the index page (IndexOptions::occurrences)
    const std::map<std::string, CalendarFilters>* filters = nullptr;  // for the index page (IndexOptions::filters)
    // Also each event's own document (event_document_path), in the default view only: `almanac build`
    // writes them; `serve` renders them on request, so that a rebuild does not render one per event.
    bool events = false;
    // When set, each document is rendered straight into the output this gives for its document_path
    // instead of being handed to the sink whole: `almanac build` holds one entry of a feed at a time,
    // not its whole document (a 100,000-event calendar is 280 MB). Called from the tasks' threads.
    std::function<std::unique_ptr<DocumentOutput>(const std::string& path)> open;
};

// Every feed's documents (as publish_feed), the events' own documents with control.events, and then
// the index page, handed to `sink` (or written to control.open's outputs) with their
// document_path()s and index_document_path. The work is one task per feed and format (its default
// and pre-rendered views) plus one for the index page; with a parallel `run`, `sink` is called
// from its threads, at the same time, in no fixed order.
void publish_site(const Site& site, const PublishOptions& options, const DocumentSink& sink,
                  const PublishControl& control = {});

// The same documents, keyed by path.
std::map<std::string, Document> publish_site(const Site& site, const PublishOptions& options);

// A strong ETag for `body`: "\"<hash>-<length>\"", both in hex, where the hash is XXH3-64 over each
// piece's XXH3-128 and length (little-endian 64-bit words), or, for a rope of more than one run of
// pieces (feeds/rope.hpp), over each run's hash and length. Stable across machines and runs; it
// depends on where the pieces end and the runs start, which are themselves a function of the site
// and the view, so `build`, `serve` and every replica agree. The string_view form is the tag of a
// one-piece document.
std::string strong_etag(std::string_view body);
std::string strong_etag(const Rope& body);

}  // namespace almanac
