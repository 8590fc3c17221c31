#include "daemon/snapshot.hpp"

#include <algorithm>
#include <mutex>
#include <map>

#include "daemon/compression.hpp"
#include "feeds/event_text.hpp"

namespace almanac {

namespace {

// "\"abc-12\"" + ".gz" → "\"abc-12.gz\"": a distinct strong tag for each encoding of the same bytes.
std::string tag_variant(const std::string& etag, std::string_view suffix) {
    if (etag.size() < 2) return etag;
    return etag.substr(0, etag.size() - 1) + std::string(suffix) + "\"";
}

constexpr std::size_t min_compressed_bytes = 256;
// Documents up to this size are kept in one piece: copying them costs less than writing many small
// pieces on every request. Larger ones stay ropes, so an edit does not copy megabytes of entries.
constexpr std::size_t max_flattened_bytes = 1 << 20;
// Flattened documents from this size on are also put in a sealed file (SealedFile) when first sent
// uncompressed: sending a body of 200 KB from the heap cost almanac 52 µs of CPU a request against
// nginx's 29 µs with sendfile, and a 52 KB Atom feed 19.9 µs against 15.8 µs from a sealed file
// (bench/http_bench.py). Smaller ones gain less than the descriptor and the copy cost.
constexpr std::size_t min_sealed_bytes = 32 * 1024;

// Whether `r` is a large document, whose brotli may wait (see encode_snapshot).
bool is_large(const Representation& r) { return r.identity->size() > max_flattened_bytes; }

void add_brotli(Representation& r) {
    if (auto br = brotli_compress(*r.identity); br && br->size() < r.identity->size())
        r.brotli = std::make_shared<const std::string>(std::move(*br));
    r.brotli_deferred = false;
}

void add_encodings(Representation& r, GzipChunks* chunks, bool defer_large_brotli, std::string_view path = {}) {
    const Rope& body = *r.identity;
    if (body.size() >= min_compressed_bytes) {
        std::optional<Rope> gz;
        if (body.piece_count() == 1) {
            if (auto flat = gzip_compress(body.front()->str())) gz = Rope(std::move(*flat));
        } else if (chunks) {
            gz = chunks->compress(body, path);
        } else {
            GzipChunks once;
            gz = once.compress(body);
        }
        if (gz && gz->size() < body.size()) r.gzip = std::make_shared<const Rope>(std::move(*gz));
        if (defer_large_brotli && is_large(r))
            r.brotli_deferred = true;
        else
            add_brotli(r);
    }
    r.encoded = true;
}

}  // namespace

std::shared_ptr<const Representation> make_representation(Document doc, Instant last_modified, bool encode) {
    auto r = std::make_shared<Representation>();
    if (doc.body.piece_count() > 1 && doc.body.size() <= max_flattened_bytes) doc.body = Rope(doc.body.flat());
    r->identity = std::make_shared<const Rope>(std::move(doc.body));
    if (r->identity->size() >= min_sealed_bytes && r->identity->size() <= max_flattened_bytes)
        r->identity_file = std::make_shared<const LazySealedFile>();
    r->etag = std::move(doc.etag);
    r->etag_gzip = tag_variant(r->etag, ".gz");
    r->etag_brotli = tag_variant(r->etag, ".br");
    r->media_type = std::string(doc.media_type);
    r->last_modified = last_modified;
    r->last_modified_http = format_rfc822(last_modified).str();
    if (encode) add_encodings(*r, nullptr, false);
    return r;
}

std::shared_ptr<const Representation> encode_representation(const std::shared_ptr<const Representation>& rep,
                                                            GzipChunks* chunks, bool defer_large_brotli, std::string_view path) {
    if (rep->encoded && (!rep->brotli_deferred || defer_large_brotli)) return rep;
    auto copy = std::make_shared<Representation>(*rep);
    if (copy->encoded)
        add_brotli(*copy);
    else
        add_encodings(*copy, chunks, defer_large_brotli, path);
    return copy;
}

std::shared_ptr<const Snapshot> encode_snapshot(const Snapshot& snapshot, const std::function<bool()>& interrupted,
                                                GzipChunks* chunks, bool defer_large_brotli) {
    auto copy = std::make_shared<Snapshot>(static_cast<std::size_t>(snapshot.site->config.server.limits.max_cached_zones));
    copy->generation = snapshot.generation;
    copy->site = snapshot.site;
    copy->options = snapshot.options;
    copy->signatures = snapshot.signatures;
    copy->selections = snapshot.selections;
    copy->filters = snapshot.filters;
    copy->feeds_rendered = snapshot.feeds_rendered;
    copy->feeds_reused = snapshot.feeds_reused;
    copy->build_duration = snapshot.build_duration;
    bool stop = false;
    for (const auto& [path, rep] : snapshot.documents) {
        const bool work = !rep->encoded || (rep->brotli_deferred && !defer_large_brotli);
        stop = stop || (work && interrupted && interrupted());
        copy->documents.emplace(path, stop ? rep : encode_representation(rep, chunks, defer_large_brotli, path));
    }
    return copy;
}

bool is_encoded(const Snapshot& snapshot) {
    return std::all_of(snapshot.documents.begin(), snapshot.documents.end(),
                       [](const auto& entry) { return entry.second->encoded && !entry.second->brotli_deferred; });
}

bool is_gzip_encoded(const Snapshot& snapshot) {
    return std::all_of(snapshot.documents.begin(), snapshot.documents.end(),
                       [](const auto& entry) { return entry.second->encoded; });
}

std::shared_ptr<const Representation> ViewCache::find(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.position);
    return it->second.value;
}

namespace {

// The memory a cached view holds: its bodies in every encoding.
std::size_t body_bytes(const Representation& rep) {
    std::size_t n = 0;
    if (rep.identity) n += rep.identity->size();
    if (rep.gzip) n += rep.gzip->size();
    if (rep.brotli) n += rep.brotli->size();
    return n;
}

}  // namespace

void ViewCache::insert(const std::string& key, std::shared_ptr<const Representation> value) {
    const std::size_t size = body_bytes(*value);
    std::lock_guard lock(mutex_);
    // A view bigger than the whole budget would evict every other one: it is served once, not kept.
    if (capacity_ == 0 || size > max_bytes_) return;
    if (const auto it = entries_.find(key); it != entries_.end()) {
        bytes_ -= it->second.bytes;
        order_.erase(it->second.position);
        entries_.erase(it);
    }
    bytes_ += size;
    order_.push_front(key);
    entries_.emplace(key, Entry{std::move(value), order_.begin(), size});
    // Least recently used out until both the count and the bytes fit (the new view alone fits).
    while (entries_.size() > capacity_ || bytes_ > max_bytes_) {
        const auto last = entries_.find(order_.back());
        bytes_ -= last->second.bytes;
        entries_.erase(last);
        order_.pop_back();
    }
}

std::shared_ptr<const Representation> ViewCache::find_or_render(const std::string& key, Instant last_modified,
                                                                const std::function<Document()>& render) {
    if (auto found = find(key)) return found;
    auto rep = make_representation(render(), last_modified);
    insert(key, rep);
    return rep;
}

std::size_t ViewCache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::size_t ViewCache::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

namespace {

// The Last-Modified of a document with `etag` at `path` (see SnapshotInput::live). Two versions
// within one second: the second is dated a second later, which the handler holds back until then.
Instant last_modified(const SnapshotInput& input, const std::string& path, const std::string& etag) {
    const Snapshot* live = input.live ? input.live.get() : input.previous.get();
    if (!live) return input.options.now;
    const auto it = live->documents.find(path);
    if (it == live->documents.end()) return input.options.now;
    if (it->second->etag == etag) return it->second->last_modified;
    return std::max(input.options.now, it->second->last_modified + std::chrono::seconds(1));
}

// The live snapshot's representation of `path` when it holds the same bytes as `doc`, else null.
std::shared_ptr<const Representation> same_as_live(const SnapshotInput& input, const std::string& path, const Document& doc) {
    const Snapshot* live = input.live ? input.live.get() : input.previous.get();
    if (!live) return nullptr;
    const auto it = live->documents.find(path);
    if (it == live->documents.end() || it->second->etag != doc.etag || it->second->media_type != doc.media_type) return nullptr;
    return it->second;
}

// At most this many items swapped by an edit are placed in the previous selections
// (reselect_items); more, and every feed is selected afresh.
constexpr std::size_t max_reselected = 64;

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(const SnapshotInput& input) {
    const auto started = std::chrono::steady_clock::now();
    const Site& site = *input.site;
    auto snap = std::make_shared<Snapshot>(static_cast<std::size_t>(site.config.server.limits.max_cached_zones));
    snap->generation = input.generation;
    snap->site = input.site;
    snap->options = input.options;
    const Instant fallback = undated_feed_date(site.config, input.options.source_date_epoch);
    const auto views = prerendered_views(site.config);

    // The positions of the site's items that are not the previous snapshot's (an edit swaps the edited
    // file's items in, ContentState::site), when its selections may be patched with them.
    std::optional<std::vector<std::size_t>> changed;
    const Snapshot* before = input.previous.get();
    if (before && before->site && input.options.now >= before->options.now &&
        input.options.now < input.previous_selections_until && before->site->items.size() == site.items.size()) {
        changed.emplace();
        for (std::size_t i = 0; i < site.items.size() && changed; ++i)
            if (site.items.shared(i) != before->site->items.shared(i)) {
                changed->push_back(i);
                if (changed->size() > max_reselected) changed.reset();
            }
    }
    const auto entry_of = [&](const Item& item) {
        FeedSignature::Entry entry;
        entry.serial = item.serial;
        entry.index = item.index;
        if (!item.serial) {
            entry.path = item.path;
            entry.version = input.version ? input.version(item.path) : 0;
        }
        entry.dates = item_updated(item, input.options.now);
        return entry;
    };

    // The feeds whose documents must be rendered, with their selected items (publish_site needs them
    // too) and their entries' stamps.
    std::map<std::string, std::vector<const Item*>> render;
    std::map<std::string, EntryStamps> stamps;
    for (const auto& feed : site.config.feeds) {
        if (input.progress) input.progress(snap->feeds_rendered + snap->feeds_reused, site.config.feeds.size());
        FeedSignature signature;
        std::optional<std::vector<const Item*>> reselected;
        const std::vector<const Item*>* was = nullptr;
        const FeedSignature* was_signed = nullptr;
        if (changed) {
            const auto selection = before->selections.find(feed.name);
            const auto signed_ = before->signatures.find(feed.name);
            if (selection != before->selections.end() && signed_ != before->signatures.end() &&
                selection->second.size() == signed_->second.items.size()) {
                was = &selection->second;
                was_signed = &signed_->second;
                reselected = reselect_items(*was, *before->site, site, *changed, feed, FeedView{}, input.options.now);
            }
        }
        std::vector<const Item*> items;
        std::vector<std::size_t> swapped;  // where the reselected items differ from the previous ones
        if (reselected) {
            // The previous signature, but where an item was swapped in: the others' dates at this
            // instant are those at the previous one (next_visibility_change counts a date coming due).
            items = std::move(*reselected);
            for (std::size_t j = 0; j < items.size(); ++j)
                if (items[j] != (*was)[j]) swapped.push_back(j);
            signature = *was_signed;
            for (const std::size_t j : swapped) signature.items[j] = entry_of(*items[j]);
        } else {
            items = select_items(site, feed, FeedView{}, input.options.now);
            signature.items.reserve(items.size());
            for (const auto* item : items) signature.items.push_back(entry_of(*item));
        }
        // feed_updated, from the dates the signature holds.
        std::optional<Instant> newest;
        for (const auto& entry : signature.items)
            if (entry.dates && (!newest || *newest < *entry.dates)) newest = entry.dates;
        signature.updated = newest.value_or(fallback);
        if (publishes(feed, FeedFormat::ics)) {
            // The index page's filters: patched where items were swapped, like the signature.
            CalendarFilters filters;
            const CalendarFilters* kept = nullptr;
            if (reselected)
                if (const auto it = before->filters.find(feed.name); it != before->filters.end()) kept = &it->second;
            if (kept) {
                filters = *kept;
                for (const std::size_t j : swapped) {
                    filters.remove(*(*was)[j]);
                    filters.add(*items[j]);
                }
            } else {
                filters = calendar_filters(items);
            }
            snap->filters.emplace(feed.name, std::move(filters));
        }
        snap->selections.emplace(feed.name, items);

        // Same items at the same versions with the same date: the previous bytes are this feed's bytes.
        std::vector<std::pair<std::string, std::shared_ptr<const Representation>>> kept;
        if (input.previous) {
            const auto prev = input.previous->signatures.find(feed.name);
            if (prev != input.previous->signatures.end() && prev->second == signature) {
                for (const auto format : feed.formats)
                    for (const auto& zone : views) {
                        const auto path = document_path(feed, format, zone);
                        if (const auto it = input.previous->documents.find(path); it != input.previous->documents.end())
                            kept.emplace_back(path, it->second);
                    }
                if (kept.size() != feed.formats.size() * views.size()) kept.clear();
            }
        }
        if (!kept.empty()) {
            snap->documents.insert(kept.begin(), kept.end());
            ++snap->feeds_reused;
        } else {
            // The stamps publish_site gives each pass of the feed (entry_stamps), from the signature.
            auto feed_stamps = std::make_shared<std::vector<EntryStamp>>();
            feed_stamps->reserve(signature.items.size());
            for (const auto& entry : signature.items) {
                if (!entry.serial) {
                    feed_stamps = nullptr;
                    break;
                }
                feed_stamps->push_back({entry.serial, entry.index, entry.dates.value_or(signature.updated)});
            }
            stamps.emplace(feed.name, std::move(feed_stamps));
            render.emplace(feed.name, std::move(items));
            ++snap->feeds_rendered;
        }
        snap->signatures.emplace(feed.name, std::move(signature));
    }

    // The changed feeds and the index page, as parallel as input.run makes them.
    PublishControl control;
    control.include_feed = [&](const FeedConfig& feed) { return render.contains(feed.name); };
    control.selected = [&](const FeedConfig& feed) { return &render.at(feed.name); };
    control.stamps = [&](const FeedConfig& feed) { return stamps.at(feed.name); };
    control.fragments = input.fragments;
    control.occurrences = input.occurrences;
    control.filters = &snap->filters;
    control.run = input.run;
    std::mutex mutex;
    publish_site(
        site, input.options, [&](std::string path, Document doc) {
            // The same bytes as the snapshot being served (the index page after most edits, a
            // view the edit did not change): its representation, already compressed, is this one.
            auto rep = same_as_live(input, path, doc);
            if (!rep) rep = make_representation(std::move(doc), last_modified(input, path, doc.etag), false);
            const std::lock_guard lock(mutex);
            snap->documents.emplace(std::move(path), std::move(rep));
        },
        control);
    snap->build_duration = std::chrono::steady_clock::now() - started;
    return snap;
}

}  // namespace almanac
