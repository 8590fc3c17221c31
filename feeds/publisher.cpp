#include "feeds/publisher.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <unordered_set>

#include <xxhash.h>

#include "feeds/ics_writer.hpp"
#include "feeds/index_page.hpp"

namespace almanac {

std::string document_path(const FeedConfig& feed, FeedFormat format, const std::optional<Zone>& zone) {
    std::string path = zone ? "tz/" + zone->name + "/" : std::string();
    path += feed.name;
    path += '.';
    path += output_format(format).extension;
    return path;
}

std::string event_document_path(const FeedConfig& feed, std::string_view slug, const std::optional<Zone>& zone) {
    std::string path = zone ? "tz/" + zone->name + "/" : std::string();
    path += feed.name;
    path += '/';
    path += slug;
    path += ".ics";
    return path;
}

const Item* find_event(const std::vector<const Item*>& items, std::string_view slug) {
    for (const auto* item : items)
        if (item->event && event_slug(item->uid) == slug) return item;
    return nullptr;
}

namespace {

std::string format_etag(std::uint64_t hash, std::size_t size) {
    char buf[48];
    // NOLINTNEXTLINE(cert-err33-c): two 64-bit numbers in hex and 3 more characters fit in 48 bytes
    std::snprintf(buf, sizeof buf, "\"%016llx-%llx\"", static_cast<unsigned long long>(hash),
                  static_cast<unsigned long long>(size));
    return buf;
}

}  // namespace

namespace {

// XXH3-64 over each piece's XXH3-128 and length, as little-endian 64-bit words.
std::string etag_of_pieces(const std::vector<std::pair<PieceHash, std::size_t>>& pieces, std::size_t size) {
    std::vector<std::uint64_t> words;
    words.reserve(pieces.size() * 3);
    for (const auto& [hash, length] : pieces) {
        words.push_back(little_endian(hash.low));
        words.push_back(little_endian(hash.high));
        words.push_back(little_endian(static_cast<std::uint64_t>(length)));
    }
    return format_etag(XXH3_64bits(words.data(), words.size() * sizeof(std::uint64_t)), size);
}

}  // namespace

std::string strong_etag(std::string_view body) {
    if (body.empty()) return etag_of_pieces({}, 0);
    const XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
    return etag_of_pieces({{PieceHash{h.low64, h.high64}, body.size()}}, body.size());
}

std::string strong_etag(const Rope& body) {
    // Each piece was hashed when it was made, and each run of pieces when it was made (feeds/rope.hpp):
    // tagging a 25 MB calendar after an edit reads 24 bytes per run of 128 pieces instead of hashing
    // every byte again. A rope of one run is tagged by its pieces, so that a one-piece document's
    // tag is its bytes'.
    std::vector<std::pair<PieceHash, std::size_t>> parts;
    if (body.blocks().size() == 1) {
        parts.reserve(body.piece_count());
        body.for_each_piece([&](const Piece& piece) { parts.emplace_back(piece->hash(), piece->size()); });
    } else {
        parts.reserve(body.blocks().size());
        for (const auto& block : body.blocks()) parts.emplace_back(block->hash, block->size);
    }
    return etag_of_pieces(parts, body.size());
}

std::vector<std::optional<Zone>> prerendered_views(const SiteConfig& config) {
    std::vector<std::optional<Zone>> views{std::nullopt};
    for (const auto& name : config.timezones.prerender)
        if (auto z = find_zone(name)) views.emplace_back(*z);
    return views;
}


namespace {

RenderRequest selected_request(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                               const std::vector<const Item*>& items, Instant updated, Instant now,
                               FragmentCache* fragments, ByteSink* out, EntryStamps stamps = nullptr) {
    RenderRequest request;
    request.fragments = fragments;
    request.stamps = std::move(stamps);
    request.out = out;
    request.site = &site;
    request.feed = &feed;
    request.items = items;
    request.view = view;
    request.self_url = view_url(site.config, feed, format, view);
    request.updated = updated;
    request.now = now;
    return request;
}

// Renders already selected items; the selection and the dates do not depend on format or zone.
Document render_selected(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const std::vector<const Item*>& items, Instant updated, Instant now,
                         FragmentCache* fragments = nullptr, ByteSink* out = nullptr, EntryStamps stamps = nullptr) {
    const RenderRequest request = selected_request(site, feed, format, view, items, updated, now, fragments, out, stamps);
    const OutputFormat& f = output_format(format);
    Document doc;
    // The next render of this view asks for its entries in (nearly) the same order.
    if (fragments) fragments->begin_pass(view.zone ? view.zone->name : std::string_view(), request.stamps, updated);
    doc.body = f.render(request);
    if (fragments) {
        if (!out) fragments->keep_rope(doc.body);
        fragments->end_pass();
    }
    doc.media_type = f.media_type;
    if (!out) doc.etag = strong_etag(doc.body);
    return doc;
}

// One event's document, from the feed's selection and "updated" (so that its VEVENTs are the feed's).
Document render_event_selected(const Site& site, const FeedConfig& feed, const Item& item, const std::optional<Zone>& zone,
                               Instant updated, Instant now, FragmentCache* fragments = nullptr,
                               ByteSink* out = nullptr) {
    RenderRequest request;
    request.fragments = fragments;
    request.out = out;
    request.site = &site;
    request.feed = &feed;
    request.items = {&item};
    request.view.zone = zone;
    request.self_url = event_url(site.config, feed, event_slug(item.uid), zone);
    request.updated = updated;
    request.now = now;
    Document doc;
    doc.body = render_event_ics(request);
    doc.media_type = output_format(FeedFormat::ics).media_type;
    if (!out) doc.etag = strong_etag(doc.body);
    return doc;
}

}  // namespace

std::optional<Document> render_event_document(const Site& site, const FeedConfig& feed, std::string_view slug,
                                              const std::optional<Zone>& zone, const PublishOptions& options) {
    if (!publishes(feed, FeedFormat::ics)) return std::nullopt;
    // A slug no event has is answered without selecting the feed (a tenth of the cost on a large site).
    if (std::none_of(site.items.begin(), site.items.end(),
                     [&](const Item& item) { return item.event && event_slug(item.uid) == slug; }))
        return std::nullopt;
    const auto items = select_items(site, feed, FeedView{}, options.now);
    const Item* item = find_event(items, slug);
    if (!item) return std::nullopt;
    const Instant updated = feed_updated(items, undated_feed_date(site.config, options.source_date_epoch), options.now);
    return render_event_selected(site, feed, *item, zone, updated, options.now);
}

Document render_document(const Site& site, const FeedConfig& feed, FeedFormat format, const FeedView& view,
                         const PublishOptions& options) {
    const auto items = select_items(site, feed, view, options.now);
    const Instant updated = feed_updated(items, undated_feed_date(site.config, options.source_date_epoch), options.now);
    return render_selected(site, feed, format, view, items, updated, options.now);
}

namespace {
void publish(const Site& site, const std::vector<const FeedConfig*>& feeds, const PublishOptions& options,
             const DocumentSink& sink, const PublishControl& control);
}  // namespace

void publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options, const DocumentSink& sink) {
    PublishControl control;
    control.index = false;
    publish(site, {&feed}, options, sink, control);
}

std::map<std::string, Document> publish_feed(const Site& site, const FeedConfig& feed, const PublishOptions& options) {
    std::map<std::string, Document> out;
    publish_feed(site, feed, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); });
    return out;
}

Document render_index_document(const Site& site, const std::optional<Zone>& zone, const PublishOptions& options,
                               OccurrenceMemo* memo, const std::map<std::string, std::vector<const Item*>>* calendars,
                               const std::map<std::string, CalendarFilters>* filters) {
    IndexOptions index;
    index.now = options.now;
    index.zone = zone;
    index.occurrences = memo;
    index.calendars = calendars;
    index.filters = filters;
    Document doc;
    doc.body = Rope(render_index_page(site, index));
    doc.media_type = "text/html; charset=utf-8";
    doc.etag = strong_etag(doc.body);
    return doc;
}

void FragmentStore::sweep() {
    for (auto& [key, cache] : caches_) cache.sweep();
}

std::size_t FragmentStore::size() const {
    std::size_t n = 0;
    for (const auto& [key, cache] : caches_) n += cache.size();
    return n;
}

std::size_t FragmentStore::hits() const {
    std::size_t n = 0;
    for (const auto& [key, cache] : caches_) n += cache.hits();
    return n;
}

std::size_t FragmentStore::patched() const {
    std::size_t n = 0;
    for (const auto& [key, cache] : caches_) n += cache.patched();
    return n;
}

std::size_t FragmentStore::misses() const {
    std::size_t n = 0;
    for (const auto& [key, cache] : caches_) n += cache.misses();
    return n;
}

namespace {

// publish_site for `feeds` (control.include_feed is publish_site's business).
void publish(const Site& site, const std::vector<const FeedConfig*>& feeds, const PublishOptions& options,
             const DocumentSink& sink, const PublishControl& control) {
    const Instant fallback = undated_feed_date(site.config, options.source_date_epoch);
    const auto views = prerendered_views(site.config);

    struct Selection {
        const FeedConfig* feed;
        std::vector<const Item*> items;
        Instant updated;
        EntryStamps stamps;  // for documents kept in control.fragments, which the next publish may patch
    };
    std::vector<Selection> selections;
    selections.reserve(feeds.size());
    for (std::size_t i = 0; i < feeds.size(); ++i) {
        if (control.progress) control.progress(i, feeds.size());
        const auto* known = control.selected ? control.selected(*feeds[i]) : nullptr;
        auto items = known ? *known : select_items(site, *feeds[i], FeedView{}, options.now);
        const Instant updated = feed_updated(items, fallback, options.now);
        EntryStamps stamps;
        if (control.fragments && !control.open) {
            if (control.stamps) stamps = control.stamps(*feeds[i]);
            if (!stamps) stamps = entry_stamps(items, updated, options.now);
        }
        selections.push_back({feeds[i], std::move(items), updated, std::move(stamps)});
    }

    // Each document to the sink, or rendered into control.open's output: `render` is given the
    // output to render into (null: none) and returns the document.
    const auto deliver = [&sink, &control](std::string path, const auto& render) {
        if (!control.open) return sink(std::move(path), render(nullptr));
        const auto out = control.open(path);
        render(out.get());
        out->close();
    };
    // Local caches when none is kept: the views of a feed still share their zone-free entries.
    FragmentStore local(false);
    FragmentStore& store = control.fragments ? *control.fragments : local;
    // Each task with a guess at its work, so that the longest start first: with a task per feed and
    // format group and one for the index page, the last one to start otherwise ran alone at the end.
    // The unit is about one entry in one view of RSS, Atom or JSON Feed; a calendar's VEVENT in a
    // view costs about two, an event's own document one, the index page two per item.
    std::vector<std::pair<std::size_t, std::function<void()>>> tasks;
    for (const auto& s : selections) {
        // A format's documents, one view after another, then (for a calendar, with control.events)
        // each event's own document.
        const auto views_of = [&site, &deliver, &views, &s, &options](FeedFormat format, FragmentCache* cache) {
            for (const auto& zone : views)
                deliver(document_path(*s.feed, format, zone), [&](ByteSink* out) {
                    return render_selected(site, *s.feed, format, FeedView{zone, {}, {}}, s.items, s.updated, options.now, cache,
                                           out, s.stamps);
                });
        };
        // The events whose own documents are published: a repeated UID's slug is published once,
        // for the event find_event gives.
        const auto published_events = [&s] {
            std::unordered_set<const Item*> out;
            std::unordered_set<std::string> slugs;
            out.reserve(s.items.size());
            slugs.reserve(s.items.size());
            for (const auto* item : s.items)
                if (item->event && slugs.insert(event_slug(item->uid)).second) out.insert(item);
            return out;
        };
        const auto events_of = [&site, &deliver, &control, &s, &options](FeedFormat format, FragmentCache* cache,
                                                                         const std::unordered_set<const Item*>& owners,
                                                                         const std::unordered_set<const Item*>& done) {
            if (!control.events || format != FeedFormat::ics) return;
            // After the feed's views, whose entries the cache now holds.
            for (const auto* item : s.items)
                if (owners.contains(item) && !done.contains(item))
                    deliver(event_document_path(*s.feed, event_slug(item->uid), std::nullopt), [&](ByteSink* out) {
                        return render_event_selected(site, *s.feed, *item, std::nullopt, s.updated, options.now, cache, out);
                    });
        };
        // Streamed, the formats with the same ViewsRenderer are one task that renders all their
        // views at once (what they share is made once); other formats are a task each.
        std::vector<std::pair<ViewsRenderer, std::vector<FeedFormat>>> groups;
        for (const auto format : s.feed->formats) {
            const ViewsRenderer renderer = control.open ? output_format(format).render_views : nullptr;
            const auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return renderer && g.first == renderer; });
            if (group == groups.end())
                groups.push_back({renderer, {format}});
            else
                group->second.push_back(format);
        }
        for (auto& group : groups) {
            // Named copies, not structured bindings: clang (the sanitizer build) cannot capture those.
            const auto renderer = group.first;
            const auto formats = group.second;
            std::vector<FragmentCache*> caches;  // looked up here, not in the tasks
            for (const auto format : formats) caches.push_back(&store.cache(s.feed->name, format));
            std::size_t work = 0;
            for (const auto format : formats)
                work += s.items.size() * views.size() * (format == FeedFormat::ics ? 2 : 1) +
                        (control.events && format == FeedFormat::ics ? s.items.size() : 0);
            tasks.emplace_back(work, [&site, &control, &views, &s, &options, views_of, published_events, events_of, renderer, formats, caches] {
                const std::unordered_set<const Item*> publish =
                    control.events ? published_events() : std::unordered_set<const Item*>();
                std::unordered_set<const Item*> done;  // those the pass wrote
                done.reserve(publish.size());
                if (!renderer) {
                    views_of(formats.front(), caches.front());
                    events_of(formats.front(), caches.front(), publish, done);
                    return;
                }
                std::vector<std::unique_ptr<DocumentOutput>> outs;
                std::vector<FormatViews> requests;
                for (std::size_t f = 0; f < formats.size(); ++f) {
                    requests.push_back({formats[f], {}, {}});
                    if (control.events && formats[f] == FeedFormat::ics)
                        requests.back().own_document = [&](const Item& item, const std::function<void(ByteSink&)>& write) {
                            if (!publish.contains(&item)) return;
                            const auto out = control.open(event_document_path(*s.feed, event_slug(item.uid), std::nullopt));
                            write(*out);
                            out->close();
                            done.insert(&item);
                        };
                    for (const auto& zone : views) {
                        outs.push_back(control.open(document_path(*s.feed, formats[f], zone)));
                        requests.back().views.push_back(selected_request(site, *s.feed, formats[f], FeedView{zone, {}, {}}, s.items,
                                                                         s.updated, options.now, caches[f], outs.back().get()));
                    }
                }
                renderer(requests);
                for (const auto& out : outs) out->close();
                for (std::size_t f = 0; f < formats.size(); ++f) events_of(formats[f], caches[f], publish, done);
            });
        }
    }
    if (control.index)
        tasks.emplace_back(2 * site.items.size(), [&] {
            // The page lists every calendar's default-view items: taken from the selections above when
            // every calendar is published here (an edit may publish only the feeds it changed).
            std::map<std::string, std::vector<const Item*>> calendars;
            bool all_calendars = true;
            for (const auto& feed : site.config.feeds) {
                if (!publishes(feed, FeedFormat::ics)) continue;
                const auto s = std::find_if(selections.begin(), selections.end(), [&](const Selection& x) { return x.feed->name == feed.name; });
                if (s == selections.end()) all_calendars = false;
                else calendars.emplace(feed.name, s->items);
            }
            deliver(std::string(index_document_path), [&](ByteSink* out) {
                Document doc = render_index_document(site, std::nullopt, options, control.occurrences,
                                                     all_calendars ? &calendars : nullptr, control.filters);
                if (out)
                    doc.body.for_each_piece([&](const Piece& piece) { out->write(*piece); });
                return doc;
            });
        });
    std::stable_sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::function<void()>> ordered;
    ordered.reserve(tasks.size());
    for (auto& [work, task] : tasks) ordered.push_back(std::move(task));
    if (control.run) {
        control.run(ordered);
    } else {
        for (auto& task : ordered) task();
    }
}

}  // namespace

void publish_site(const Site& site, const PublishOptions& options, const DocumentSink& sink,
                  const PublishControl& control) {
    std::vector<const FeedConfig*> feeds;
    for (const auto& feed : site.config.feeds)
        if (!control.include_feed || control.include_feed(feed)) feeds.push_back(&feed);
    publish(site, feeds, options, sink, control);
}

std::map<std::string, Document> publish_site(const Site& site, const PublishOptions& options) {
    std::map<std::string, Document> out;
    publish_site(site, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); }, {});
    return out;
}

}  // namespace almanac
