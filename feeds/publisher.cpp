#include "feeds/publisher.hpp"

#include <cstdio>

namespace almanac {

std::string document_path(const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone) {
    std::string path = zone ? "tz/" + zone->name + "/" : std::string();
    path += feed.name;
    path += '.';
    path += output_format(format).extension;
    return path;
}

std::string strong_etag(std::string_view body) {
    std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64
    for (const char c : body) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "\"%016llx-%llx\"", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(body.size()));
    return buf;
}

Document render_document(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const PublishOptions& options) {
    RenderRequest request;
    request.site = &site;
    request.feed = &feed;
    request.items = select_items(site, feed, view, options.now);
    request.view = view;
    request.self_url = feed_url(site.config, feed, format, view.zone);
    // A feed with no dated item (events rarely carry lastmod) is as new as the newest dated item of
    // the whole site: deterministic, and it moves when the content does.
    std::vector<const Item*> all;
    all.reserve(site.items.size());
    for (const auto& item : site.items)
        if (item.type != SectionType::page && is_visible(item, options.now)) all.push_back(&item);
    request.updated = feed_updated(request.items, feed_updated(all, options.source_date_epoch));
    const OutputFormat& f = output_format(format);
    Document doc;
    doc.body = f.render(request);
    doc.media_type = f.media_type;
    doc.etag = strong_etag(doc.body);
    doc.last_modified = request.updated;
    return doc;
}

std::map<std::string, Document> publish_site(const Site& site, const PublishOptions& options) {
    std::vector<std::optional<Zone>> views{std::nullopt};
    for (const auto& name : site.config.timezones.prerender)
        if (auto z = find_zone(name)) views.emplace_back(*z);
    std::map<std::string, Document> out;
    for (const auto& feed : site.config.feeds)
        for (const auto format : feed.formats)
            for (const auto& zone : views)
                out.emplace(document_path(feed, format, zone),
                            render_document(site, feed, format, FeedView{zone, {}, {}}, options));
    return out;
}

}  // namespace almanac
