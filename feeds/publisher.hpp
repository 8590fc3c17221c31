// The one place that turns a site into output documents: every feed in every format, in its
// default view and in each pre-rendered zone. `almanac build` writes these; `serve` serves them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "feeds/render.hpp"
#include "feeds/site.hpp"

namespace almanac {

struct Document {
    std::string body;
    std::string_view media_type;
    std::string etag;       // strong: "\"<XXH3-64 of body, hex>-<length hex>\"", the same on every machine
    Instant last_modified;  // the document's deterministic updated instant (whole seconds)
};

struct PublishOptions {
    Instant now;                               // decides visibility (publishDate, expiryDate, window)
    std::optional<Instant> source_date_epoch;  // "updated" when no item of the site has a date
};

// The relative output path of a view: "events.ics", "tz/Europe/Berlin/events.ics".
std::string document_path(const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone);

// Renders one feed in one format and view.
Document render_document(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const PublishOptions& options);

// The views every feed is published in: the default (nullopt), then each timezones.prerender zone.
std::vector<std::optional<Zone>> prerendered_views(const SiteConfig& config);

// The "updated" a feed falls back to when none of its items is dated: the newest dated visible item
// of the whole site, else options.source_date_epoch.
std::optional<Instant> site_updated(const Site& site, const PublishOptions& options);

// Every document of one feed: each of its formats × (default view + timezones.prerender), handed to
// `sink` one at a time with its document_path, so a caller that writes them never holds them all.
using DocumentSink = std::function<void(std::string path, Document doc)>;
void publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options, const DocumentSink& sink);

// The same documents, keyed by document_path.
std::map<std::string, Document> publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options);

// The index page (feeds/index_page.hpp) in `zone`'s view, or the site's zone.
Document render_index_document(const Site& site, const std::optional<Zone>& zone, const PublishOptions& options);

// The path of the index page among the published documents.
inline constexpr std::string_view index_document_path = "index.html";

// Every feed's documents (publish_feed) and then the index page, handed to `sink` one at a time with
// their document_path()s and index_document_path. `progress` hears (feeds done, feeds) before each feed.
void publish_site(const Site& site, const PublishOptions& options, const DocumentSink& sink,
                  const std::function<void(std::size_t, std::size_t)>& progress = nullptr);

// The same documents, keyed by path.
std::map<std::string, Document> publish_site(const Site& site, const PublishOptions& options);

// A strong ETag for `body`: stable across machines and runs.
std::string strong_etag(std::string_view body);

}  // namespace almanac
