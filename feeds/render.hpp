// Rendering a feed view to bytes: which items a view holds, and the table of output formats
// (Hugo's outputFormat: name, extension, media type, renderer) that the builder and server share.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/event_time.hpp"
#include "feeds/fragments.hpp"
#include "feeds/item.hpp"
#include "feeds/rope.hpp"
#include "feeds/site.hpp"

namespace almanac {

// One representation of a feed: a format, optionally a zone view (SPEC §4.1) and filters (SPEC §5).
struct FeedView {
    std::optional<Zone> zone;        // nullopt: the default view
    std::vector<std::string> tags;   // ?tag=: keep items having any of these (in addition to the feed's own)
    std::vector<std::string> kinds;  // ?kind=
};

// Where a renderer puts a document's bytes as they are made, in order, when it is asked to stream
// them (RenderRequest::out): the caller decides what a write does (`almanac build` writes a file).
class ByteSink {
public:
    virtual void write(std::string_view bytes) = 0;

protected:
    ~ByteSink() = default;
};

// Everything a renderer needs besides the site: the feed, its items (already selected and ordered),
// the view, and the absolute URL the document is served at (for rel=self links).
struct RenderRequest {
    const Site* site = nullptr;
    const FeedConfig* feed = nullptr;
    std::vector<const Item*> items;
    FeedView view;
    std::string self_url;
    Instant updated;               // the document's "last changed": see feed_updated
    Instant now = Instant::max();  // the publishing instant: item dates after it are not stated (item_updated)
    // Entries rendered before, for this feed and format (feeds/fragments.hpp); null renders all.
    FragmentCache* fragments = nullptr;
    // Each item's EntryStamp (its serial, index and entry_date_key), when the caller knows every
    // item by a serial: a renderer may then patch the document the cache's previous pass made.
    EntryStamps stamps;
    // Null: the renderer returns the document. Else its bytes go to `out` as each entry is made and
    // the renderer returns an empty rope, so that a caller writing a 280 MB calendar holds one entry
    // of it at a time rather than all of it.
    ByteSink* out = nullptr;
};

// The document the request's fragment cache kept from the previous render of this one, whose
// unchanged runs the new one shares (RopeBuilder's `previous`), or null.
inline const Rope* previous_document(const RenderRequest& request) {
    return request.fragments ? request.fragments->previous_rope() : nullptr;
}

// A renderer's document as it is assembled: a rope (RopeBuilder), or bytes handed to a ByteSink.
class DocumentBuilder {
public:
    // `previous`: see RopeBuilder.
    explicit DocumentBuilder(ByteSink* out, const Rope* previous = nullptr) : out_(out), rope_(previous) {}
    DocumentBuilder& append(std::string_view text) {
        if (out_)
            out_->write(text);
        else
            rope_.append(text);
        return *this;
    }
    DocumentBuilder& share(const Piece& piece) {
        if (!out_)
            rope_.share(piece);
        else if (piece)
            out_->write(*piece);
        return *this;
    }
    // RopeBuilder::mark; 0 when the bytes go to the sink.
    std::size_t mark() { return out_ ? 0 : rope_.mark(); }
    // The rope; empty when the bytes went to the sink.
    Rope finish() && { return std::move(rope_).finish(); }

private:
    ByteSink* out_;
    RopeBuilder rope_;
};

// A document's bytes: its own head and tail, and its entries shared with the fragment cache.
using Renderer = Rope (*)(const RenderRequest&);

// One format's views of a feed, for a ViewsRenderer: requests for the same feed, items, dates and
// fragment cache (the format's), each with its own view, self_url and out (set).
struct FormatViews {
    FeedFormat format;
    std::vector<RenderRequest> views;
    // Calendars: when set, the pass also hands over each event's own document (render_event_ics in
    // the default view) that it can make from the lines it writes anyway (an event of one VEVENT that
    // the cache does not keep): `own_document(item, write)` calls `write` with where its bytes go, or
    // does nothing for an event whose document is not wanted.
    std::function<void(const Item&, const std::function<void(ByteSink&)>& write)> own_document;
};

// A feed's views in one or more formats, streamed at once: each out receives what the format's
// Renderer gives for its request, while what the views and formats share is made once. The
// publisher gives a ViewsRenderer, in one pass, every format of a feed whose render_views it is.
using ViewsRenderer = void (*)(const std::vector<FormatViews>& formats);

struct OutputFormat {
    FeedFormat format;
    std::string_view extension;   // "ics"
    std::string_view media_type;  // "text/calendar; charset=utf-8"
    Renderer render;
    ViewsRenderer render_views = nullptr;  // null: each view of the format is rendered on its own
};

// The formats, in the order of FeedFormat.
const std::vector<OutputFormat>& output_formats();
const OutputFormat* find_output_format(std::string_view extension);
const OutputFormat& output_format(FeedFormat f);

// The visible items of `feed` for `view` at `now`: sections, tag/kind filters (the feed's and the
// view's), drafts, publishDate/expiryDate, the feed's window (events: by their occurrences), then
// ordered — posts newest first, events by start — and capped by `limit`. The view's zone does not
// change the selection, only its tag/kind filters do.
std::vector<const Item*> select_items(const Site& site, const FeedConfig& feed, const FeedView& view, Instant now);

// select_items(site, feed, view, now) made from `previous`, the selection of `before` (whose config
// is site's) at an earlier instant, without a walk of every item: `site` holds before's items but at
// the `changed` positions, and the caller knows that nothing but those items changes what
// select_items decides between the two instants (now is before next_visibility_change(before, then)).
// Each changed item takes the place of the item it replaces when select_items decides the same of
// both at `now` (passes or not; start, UID; still to come in a capped calendar); nullopt when it
// does not for one, or the sites do not hold as many items.
std::optional<std::vector<const Item*>> reselect_items(const std::vector<const Item*>& previous, const Site& before,
                                                       const Site& site, const std::vector<std::size_t>& changed,
                                                       const FeedConfig& feed, const FeedView& view, Instant now);

// The document's deterministic "updated" instant: the newest item_updated of `items` at `now`, so
// never older than any of its entries; else `fallback` (undated_feed_date). Never the wall clock.
Instant feed_updated(const std::vector<const Item*>& items, Instant fallback, Instant now = Instant::max());

// The date of a feed none of whose items has a date of its own (events without lastmod): the
// SOURCE_DATE_EPOCH the options carry, else site.id_date (a day the site existed, fixed in the
// config) at 00:00 UTC. It comes from the config alone, never from another feed's items.
Instant undated_feed_date(const SiteConfig& config, std::optional<Instant> source_date_epoch);

// The stamps of `items` in a document dated `updated` at `now` (RenderRequest::stamps); null when an
// item has no serial.
EntryStamps entry_stamps(const std::vector<const Item*>& items, Instant updated, Instant now);

// The date an item's entry is keyed by in a fragment cache: what its dates say at `now`, else the
// document's `updated` (the only two things its entry's dates depend on).
Instant entry_date_key(const Item& item, const RenderRequest& request);

// Absolute URL of a feed document: documents_url (else base_url) + [tz/Area/Location/] + name + "." + extension.
std::string feed_url(const SiteConfig& config, const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone);

// Absolute URL of a view: feed_url plus its filters as a query ("?tag=a&tag=b&kind=c", values
// percent-encoded, in the order given), so a filtered view has its own rel=self and Atom id.
std::string view_url(const SiteConfig& config, const FeedConfig& feed, FeedFormat format, const FeedView& view);

// The URL path segment of an event's own document: its UID when every character is a letter, a
// digit or one of "-._~@" (and it is not "." or ".."), else those characters kept, every other run
// turned into '-', and "-" + 8 hex digits of the UID's XXH3 appended, so that two UIDs never share
// a segment. Stable: it depends on the UID only.
std::string event_slug(std::string_view uid);

// Absolute URL of one event's iCalendar document (SPEC §5): documents_url (else base_url) +
// [tz/Area/Location/] + feed name + "/" + event_slug + ".ics".
std::string event_url(const SiteConfig& config, const FeedConfig& feed, std::string_view slug,
                      const std::optional<Zone>& zone);

// `text` percent-encoded for a URL query value (RFC 3986 unreserved characters kept).
std::string percent_encode(std::string_view text);

// The next instant after `now` at which select_items could change without any file changing: a
// publishDate or expiryDate passing, an event entering or leaving a feed's window. nullopt: never.
std::optional<Instant> next_visibility_change(const Site& site, Instant now);

}  // namespace almanac
