#include "feeds/publisher.hpp"

#include <cstdio>

#include <xxhash.h>

#include "feeds/index_page.hpp"

namespace almanac {

std::string document_path(const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone) {
    std::string path = zone ? "tz/" + zone->name + "/" : std::string();
    path += feed.name;
    path += '.';
    path += output_format(format).extension;
    return path;
}

std::string strong_etag(std::string_view body) {
    // XXH3-64: specified, seed 0, the same value on every platform; ~20 GB/s, so tagging the tens of
    // megabytes a large site's feeds hold costs milliseconds, where a byte loop cost ~10 ms per MB.
    const std::uint64_t h = XXH3_64bits(body.data(), body.size());
    char buf[48];
    std::snprintf(buf, sizeof buf, "\"%016llx-%llx\"", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(body.size()));
    return buf;
}

std::vector<std::optional<Zone>> prerendered_views(const SiteConfig& config) {
    std::vector<std::optional<Zone>> views{std::nullopt};
    for (const auto& name : config.timezones.prerender)
        if (auto z = find_zone(name)) views.emplace_back(*z);
    return views;
}

// Events rarely carry lastmod: the site's newest date is deterministic and moves with the content.
std::optional<Instant> site_updated(const Site& site, const PublishOptions& options) {
    std::vector<const Item*> all;
    all.reserve(site.items.size());
    for (const auto& item : site.items)
        if (item.type != SectionType::page && is_visible(item, options.now)) all.push_back(&item);
    return feed_updated(all, options.source_date_epoch);
}

namespace {

// Renders already selected items; the selection and the dates do not depend on format or zone.
Document render_selected(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const std::vector<const Item*>& items, Instant updated) {
    RenderRequest request;
    request.site = &site;
    request.feed = &feed;
    request.items = items;
    request.view = view;
    request.self_url = view_url(site.config, feed, format, view);
    request.updated = updated;
    const OutputFormat& f = output_format(format);
    Document doc;
    doc.body = f.render(request);
    doc.media_type = f.media_type;
    doc.etag = strong_etag(doc.body);
    doc.last_modified = updated;
    return doc;
}

}  // namespace

Document render_document(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const PublishOptions& options) {
    const auto items = select_items(site, feed, view, options.now);
    return render_selected(site, feed, format, view, items, feed_updated(items, site_updated(site, options)));
}

void publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options, const DocumentSink& sink) {
    const auto items = select_items(site, feed, FeedView{}, options.now);
    const Instant updated = feed_updated(items, site_updated(site, options));
    for (const auto format : feed.formats)
        for (const auto& zone : prerendered_views(site.config)) {
            const FeedView view{zone, {}, {}};
            sink(document_path(feed, format, zone), render_selected(site, feed, format, view, items, updated));
        }
}

std::map<std::string, Document> publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options) {
    std::map<std::string, Document> out;
    publish_feed(site, feed, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); });
    return out;
}

Document render_index_document(const Site& site, const std::optional<Zone>& zone, const PublishOptions& options) {
    IndexOptions index;
    index.now = options.now;
    index.zone = zone;
    Document doc;
    doc.body = render_index_page(site, index);
    doc.media_type = "text/html; charset=utf-8";
    doc.etag = strong_etag(doc.body);
    doc.last_modified = site_updated(site, options).value_or(Instant{});
    return doc;
}

void publish_site(const Site& site, const PublishOptions& options, const DocumentSink& sink,
                  const std::function<void(std::size_t, std::size_t)>& progress) {
    const auto& feeds = site.config.feeds;
    for (std::size_t i = 0; i < feeds.size(); ++i) {
        if (progress) progress(i, feeds.size());
        publish_feed(site, feeds[i], options, sink);
    }
    sink(std::string(index_document_path), render_index_document(site, std::nullopt, options));
}

std::map<std::string, Document> publish_site(const Site& site, const PublishOptions& options) {
    std::map<std::string, Document> out;
    publish_site(site, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); });
    return out;
}

}  // namespace almanac
