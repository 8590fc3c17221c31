// The one place that turns a site into output documents: every feed in every format, in its
// default view and in each pre-rendered zone. `almanac build` writes these; `serve` serves them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "feeds/render.hpp"
#include "feeds/site.hpp"

namespace almanac {

struct Document {
    std::string body;
    std::string_view media_type;
    std::string etag;       // strong: "\"<fnv1a-64 of body hex>-<length hex>\"", the same on every machine
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

// Every feed × format × (default view + timezones.prerender). Keys are document_path()s.
std::map<std::string, Document> publish_site(const Site& site, const PublishOptions& options);

// A strong ETag for `body`: stable across machines and runs.
std::string strong_etag(std::string_view body);

}  // namespace almanac
