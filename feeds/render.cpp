#include "feeds/render.hpp"

#include <algorithm>

#include "feeds/ics_writer.hpp"
#include "feeds/recurrence.hpp"
#include "feeds/syndication.hpp"

namespace almanac {

const std::vector<OutputFormat>& output_formats() {
    static const std::vector<OutputFormat> table{
        {FeedFormat::ics, "ics", "text/calendar; charset=utf-8", render_ics},
        {FeedFormat::rss, "rss", "application/rss+xml; charset=utf-8", render_rss},
        {FeedFormat::atom, "atom", "application/atom+xml; charset=utf-8", render_atom},
        {FeedFormat::json, "json", "application/feed+json; charset=utf-8", render_json_feed},
    };
    return table;
}

const OutputFormat* find_output_format(std::string_view extension) {
    for (const auto& f : output_formats())
        if (f.extension == extension) return &f;
    return nullptr;
}

const OutputFormat& output_format(FeedFormat f) { return output_formats().at(static_cast<std::size_t>(f)); }

namespace {

bool any_in(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
    return std::any_of(wanted.begin(), wanted.end(),
                       [&](const std::string& w) { return std::find(have.begin(), have.end(), w) != have.end(); });
}

bool passes(const Item& item, const std::vector<std::string>& tags, const std::vector<std::string>& kinds) {
    if (!tags.empty() && !any_in(tags, item.tags)) return false;
    if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), item.kind) == kinds.end()) return false;
    return true;
}

Instant start_instant(const Item& item) {
    if (item.event) return to_instant(item.event->start, item.event->zone);
    return item.date.value_or(Instant{});
}

}  // namespace

std::vector<const Item*> select_items(const Site& site, const FeedConfig& feed, const FeedView& view, Instant now) {
    std::vector<const Item*> out;
    bool only_events = true;
    for (const auto& name : feed.sections) {
        const auto* section = find_section(site.config, name);
        if (section && section->type != SectionType::event) only_events = false;
    }
    // Far bounds for a window with one side open; years 1000 and 9999 bound every parsed date.
    const Instant earliest = date::sys_days{date::year{1000} / 1 / 1};
    const Instant latest = date::sys_days{date::year{9999} / 12 / 31};
    const auto& w = feed.window;
    const Instant from = w.past_days ? now - date::days{*w.past_days} : earliest;
    const Instant to = w.future_days ? now + date::days{*w.future_days} : latest;
    for (const auto& item : site.items) {
        if (item.type == SectionType::page) continue;
        if (std::find(feed.sections.begin(), feed.sections.end(), item.section) == feed.sections.end()) continue;
        if (!is_visible(item, now)) continue;
        if (!passes(item, feed.tags, feed.kinds) || !passes(item, view.tags, view.kinds)) continue;
        if (item.event && (w.past_days || w.future_days) && !occurs_between(*item.event, from, to)) continue;
        out.push_back(&item);
    }
    // Event feeds read in time order; post (and mixed) feeds newest first, as readers expect.
    std::sort(out.begin(), out.end(), [&](const Item* a, const Item* b) {
        const Instant sa = start_instant(*a);
        const Instant sb = start_instant(*b);
        if (sa != sb) return only_events ? sa < sb : sb < sa;
        return a->uid < b->uid;
    });
    if (feed.limit && out.size() > static_cast<std::size_t>(*feed.limit)) {
        // Capping an event feed keeps its latest events, not its oldest.
        const auto n = static_cast<std::ptrdiff_t>(*feed.limit);
        if (only_events) out.erase(out.begin(), out.end() - n);
        else out.resize(static_cast<std::size_t>(n));
    }
    return out;
}

Instant feed_updated(const std::vector<const Item*>& items, std::optional<Instant> fallback) {
    std::optional<Instant> newest;
    for (const auto* item : items)
        if (const auto u = item_updated(*item); u && (!newest || *newest < *u)) newest = u;
    if (newest) return *newest;
    return fallback.value_or(Instant{});
}

std::string feed_url(const SiteConfig& config, const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone) {
    std::string url = config.site.base_url;
    if (zone) url += "tz/" + zone->name + "/";
    url += feed.name;
    url += '.';
    url += output_format(format).extension;
    return url;
}

}  // namespace almanac
