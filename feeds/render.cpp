#include "feeds/render.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_set>

#include <xxhash.h>

#include "feeds/ics_writer.hpp"
#include "feeds/recurrence.hpp"
#include "feeds/syndication.hpp"

namespace almanac {

const std::vector<OutputFormat>& output_formats() {
    static const std::vector<OutputFormat> table{
        {FeedFormat::ics, "ics", "text/calendar; charset=utf-8", render_ics, render_ics_views},
        {FeedFormat::rss, "rss", "application/rss+xml; charset=utf-8", render_rss, render_syndication_views},
        {FeedFormat::atom, "atom", "application/atom+xml; charset=utf-8", render_atom, render_syndication_views},
        {FeedFormat::json, "json", "application/feed+json; charset=utf-8", render_json_feed, render_syndication_views},
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

namespace {

// All that select_items decides about one item of a feed in a view at an instant: whether it passes
// the sections, visibility, filters and window; its place in the order (start, then UID); and, in
// a capped calendar, whether it is still to come. Two items placed alike are interchangeable there.
struct ItemPlacement {
    bool selected = false;
    Instant start;
    std::string_view uid;  // the item's
    bool coming = false;
    friend bool operator==(const ItemPlacement&, const ItemPlacement&) = default;
};

// What select_items needs to know of a feed and a view at one instant.
struct Selector {
    const FeedConfig& feed;
    const FeedView& view;
    Instant now;
    bool only_events = true;  // every section of the feed holds events
    Instant from, to;         // the window
    // Far bounds for a window with one side open; years 1000 and 9999 bound every parsed date.
    static constexpr Instant earliest = date::sys_days{date::year{1000} / 1 / 1};
    static constexpr Instant latest = date::sys_days{date::year{9999} / 12 / 31};

    Selector(const SiteConfig& config, const FeedConfig& f, const FeedView& v, Instant t) : feed(f), view(v), now(t) {
        for (const auto& name : feed.sections) {
            const auto* section = find_section(config, name);
            if (section && section->type != SectionType::event) only_events = false;
        }
        const auto& w = feed.window;
        from = w.past_days ? now - date::days{*w.past_days} : earliest;
        to = w.future_days ? now + date::days{*w.future_days} : latest;
    }

    ItemPlacement place(const Item& item) const {
        ItemPlacement p;
        if (item.type == SectionType::page) return p;
        if (std::find(feed.sections.begin(), feed.sections.end(), item.section) == feed.sections.end()) return p;
        if (!is_visible(item, now)) return p;
        if (!passes(item, feed.tags, feed.kinds) || !passes(item, view.tags, view.kinds)) return p;
        const auto& w = feed.window;
        if (item.event && (w.past_days || w.future_days) && !occurs_between(*item.event, from, to)) return p;
        p.selected = true;
        p.start = start_instant(item);
        p.uid = item.uid;
        // A capped calendar keeps the events still to come first (select_items).
        p.coming = feed.limit && only_events && item.event && occurs_between(*item.event, now, latest);
        return p;
    }
};

}  // namespace

std::vector<const Item*> select_items(const Site& site, const FeedConfig& feed, const FeedView& view, Instant now) {
    const Selector selector(site.config, feed, view, now);
    const bool only_events = selector.only_events;
    std::vector<const Item*> out;
    // Each item's start is computed once (a zone conversion), not at every comparison.
    std::vector<std::pair<ItemPlacement, const Item*>> keyed;
    keyed.reserve(site.items.size());
    for (const auto& item : site.items)
        if (auto p = selector.place(item); p.selected) keyed.emplace_back(p, &item);
    // Event feeds read in time order; post (and mixed) feeds newest first, as readers expect.
    std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        if (a.first.start != b.first.start) return only_events ? a.first.start < b.first.start : b.first.start < a.first.start;
        return a.first.uid < b.first.uid;
    });
    out.reserve(keyed.size());
    for (const auto& [place, item] : keyed) out.push_back(item);
    const auto n = static_cast<std::size_t>(feed.limit.value_or(0));
    if (feed.limit && out.size() > n) {
        if (!only_events) {
            out.resize(n);  // the newest posts
        } else {
            // The next events to come, as a subscriber expects: those not over at `now` (a series
            // still running counts), earliest first; when fewer than `limit` are left, the latest
            // past ones fill the feed. Start order is kept.
            std::vector<const Item*> coming, past;  // each in start order
            for (const auto& [place, item] : keyed) (place.coming ? coming : past).push_back(item);
            if (coming.size() > n) coming.resize(n);
            past.erase(past.begin(), past.end() - static_cast<std::ptrdiff_t>(std::min(past.size(), n - coming.size())));
            std::unordered_set<const Item*> kept(coming.begin(), coming.end());
            kept.insert(past.begin(), past.end());
            std::erase_if(out, [&](const Item* item) { return !kept.contains(item); });
        }
    }
    return out;
}

std::optional<std::vector<const Item*>> reselect_items(const std::vector<const Item*>& previous, const Site& before,
                                                       const Site& site, const std::vector<std::size_t>& changed,
                                                       const FeedConfig& feed, const FeedView& view, Instant now) {
    if (before.items.size() != site.items.size()) return std::nullopt;
    const Selector selector(site.config, feed, view, now);
    std::vector<const Item*> out = previous;
    for (const std::size_t at : changed) {
        if (at >= site.items.size()) return std::nullopt;
        const Item& old = before.items[at];
        const Item& now_item = site.items[at];
        const ItemPlacement place = selector.place(now_item);
        if (!(selector.place(old) == place)) return std::nullopt;
        if (!place.selected) continue;
        // In the selection unless the limit left it out, as it leaves out the item taking its place.
        if (const auto it = std::find(out.begin(), out.end(), &old); it != out.end()) *it = &now_item;
    }
    return out;
}

Instant feed_updated(const std::vector<const Item*>& items, Instant fallback, Instant now) {
    std::optional<Instant> newest;
    for (const auto* item : items)
        if (const auto u = item_updated(*item, now); u && (!newest || *newest < *u)) newest = u;
    return newest.value_or(fallback);
}

Instant undated_feed_date(const SiteConfig& config, std::optional<Instant> source_date_epoch) {
    if (source_date_epoch) return *source_date_epoch;
    // The config loader has checked site.id_date; a SiteConfig made in code may hold anything.
    return parse_tag_date(config.site.id_date).value_or(Instant{date::sys_days{date::year{2026} / 1 / 1}});
}

EntryStamps entry_stamps(const std::vector<const Item*>& items, Instant updated, Instant now) {
    auto stamps = std::make_shared<std::vector<EntryStamp>>();
    stamps->reserve(items.size());
    for (const Item* item : items) {
        if (item->serial == 0) return nullptr;
        stamps->push_back({item->serial, item->index, item_updated(*item, now).value_or(updated)});
    }
    return stamps;
}

Instant entry_date_key(const Item& item, const RenderRequest& request) {
    return item_updated(item, request.now).value_or(request.updated);
}

std::string feed_url(const SiteConfig& config, const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone) {
    std::string url = config.site.documents_url.empty() ? config.site.base_url : config.site.documents_url;
    if (zone) url += "tz/" + zone->name + "/";
    url += feed.name;
    url += '.';
    url += output_format(format).extension;
    return url;
}

std::string event_slug(std::string_view uid) {
    const auto kept = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~' || c == '@';
    };
    constexpr std::size_t max_kept = 120;  // a 255-byte UID still makes a short file name
    if (!uid.empty() && uid.size() <= max_kept && uid != "." && uid != ".." && std::all_of(uid.begin(), uid.end(), kept))
        return std::string(uid);
    // Made in a buffer (every feed view asks for each event's slug): the kept characters, runs of
    // others as one '-', then '-' and 8 hex digits of the UID's hash.
    char slug[max_kept + 9];
    std::size_t n = 0;
    for (const char c : uid) {
        if (n >= max_kept) break;
        if (kept(c)) slug[n++] = c;
        else if (n > 0 && slug[n - 1] != '-') slug[n++] = '-';
    }
    if (n > 0 && slug[n - 1] != '-') slug[n++] = '-';
    static constexpr char hex[] = "0123456789abcdef";
    const auto hash = static_cast<std::uint32_t>(XXH3_64bits(uid.data(), uid.size()));
    for (int shift = 28; shift >= 0; shift -= 4) slug[n++] = hex[(hash >> shift) & 0xF];
    return {slug, n};
}

std::string event_url(const SiteConfig& config, const FeedConfig& feed, std::string_view slug,
                      const std::optional<Zone>& zone) {
    std::string url = config.site.documents_url.empty() ? config.site.base_url : config.site.documents_url;
    if (zone) url += "tz/" + zone->name + "/";
    url += feed.name;
    url += '/';
    url += slug;
    url += ".ics";
    return url;
}

std::string percent_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

std::string view_url(const SiteConfig& config, const FeedConfig& feed, FeedFormat format, const FeedView& view) {
    std::string url = feed_url(config, feed, format, view.zone);
    char separator = '?';
    const auto add = [&](std::string_view key, const std::vector<std::string>& values) {
        for (const auto& v : values) {
            url += separator;
            url += key;
            url += '=';
            url += percent_encode(v);
            separator = '&';
        }
    };
    add("tag", view.tags);
    add("kind", view.kinds);
    return url;
}

std::optional<Instant> next_visibility_change(const Site& site, Instant now) {
    std::optional<Instant> next;
    const auto consider = [&](Instant t) {
        if (now < t && (!next || t < *next)) next = t;
    };
    for (const auto& item : site.items) {
        if (item.draft) continue;
        if (item.publish_date) consider(*item.publish_date);
        // A lastmod (or a post's date, with content.build_future) still to come is stated once it comes.
        if (item.lastmod) consider(*item.lastmod);
        if (item.date) consider(*item.date);
        // Visible while now ≤ expiryDate: it disappears one second later.
        if (item.expiry_date) consider(*item.expiry_date + std::chrono::seconds(1));
    }
    for (const auto& feed : site.config.feeds) {
        // A capped feed keeps the events not over yet: the end of each one's current or next
        // occurrence may change which (a later occurrence that keeps it costs a rebuild that changes nothing).
        if (!feed.limit) continue;
        for (const auto& item : site.items) {
            if (!item.event || std::find(feed.sections.begin(), feed.sections.end(), item.section) == feed.sections.end())
                continue;
            const Event& e = *item.event;
            const auto length = to_instant(e.end, e.zone) - to_instant(e.start, e.zone);
            for (const auto& o : occurrences(e, now - length - std::chrono::seconds(1), now + date::days{3660}, 1))
                consider(o.end_instant);
        }
    }
    for (const auto& feed : site.config.feeds) {
        const auto& w = feed.window;
        if (!w.past_days && !w.future_days) continue;
        for (const auto& item : site.items) {
            if (!item.event || std::find(feed.sections.begin(), feed.sections.end(), item.section) == feed.sections.end())
                continue;
            const Event& e = *item.event;
            if (w.future_days) {
                // The next occurrence at or beyond the window's far edge [from, to) enters it once the edge passes it.
                const Instant edge = now + date::days{*w.future_days};
                const auto upcoming = occurrences(e, edge, edge + date::days{3660}, 1);
                if (!upcoming.empty())
                    consider(upcoming.front().start_instant - date::days{*w.future_days} + std::chrono::seconds(1));
            }
            if (w.past_days) {
                // Each occurrence now inside the window leaves it past_days after it ends; a later
                // occurrence may keep the event in, which costs only a rebuild that changes nothing.
                const auto length = to_instant(e.end, e.zone) - to_instant(e.start, e.zone);
                const Instant from = now - date::days{*w.past_days} - length - date::days{1};
                const Instant to = now + date::days{w.future_days.value_or(1)};
                for (const auto& o : occurrences(e, from, to, 1000))
                    consider(o.end_instant + date::days{*w.past_days} + std::chrono::seconds(1));
            }
        }
    }
    return next;
}

}  // namespace almanac
