// A snapshot: one immutable, complete build of the site — every published document with its gzip
// and brotli encodings and validators — shared by all requests as shared_ptr<const Snapshot> and
// replaced whole by a rebuild. Views not pre-rendered are rendered on first request into a bounded
// cache that lives and dies with the snapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "daemon/compression.hpp"
#include "daemon/sealed_file.hpp"
#include "feeds/publisher.hpp"
#include "feeds/site.hpp"

namespace almanac {

// One document ready to send: its bytes in each encoding, with one strong ETag per encoding. The
// tags do not depend on whether the encodings exist yet: a snapshot is served before it is compressed.
struct Representation {
    std::shared_ptr<const Rope> identity;  // one piece unless the document is large (see make_representation)
    // identity's bytes again in a sealed file, which the server sends from the kernel's pages, made
    // on the first uncompressed GET when server.sendfile is on; only for documents from 64 KiB to
    // 1 MiB (else null).
    std::shared_ptr<const LazySealedFile> identity_file;
    std::shared_ptr<const Rope> gzip;           // null when not smaller than identity
    std::shared_ptr<const std::string> brotli;  // null when not smaller than identity
    std::string etag;                           // of identity: "\"…\""
    std::string etag_gzip;                      // the identity tag with ".gz" inside the quotes
    std::string etag_brotli;                    // … with ".br"
    std::string media_type;
    // When these bytes went live here (build_snapshot): later than every earlier version's, so that
    // If-Modified-Since alone never earns a 304 for bytes the client has not seen.
    Instant last_modified;
    std::string last_modified_http;  // IMF-fixdate
    bool encoded = false;            // gzip/brotli were tried (they stay null when they do not help)
    bool brotli_deferred = false;    // encoded, but a large document's brotli waits (see encode_snapshot)
};

// `doc` ready to send, last modified at `last_modified`; with `encode`, also gzip- and
// brotli-compressed (bodies under 256 bytes stay identity only).
std::shared_ptr<const Representation> make_representation(Document doc, Instant last_modified, bool encode = true);

// `rep` with its encodings computed (rep itself when they already are). A large document's gzip
// reuses the chunks `chunks` compressed before (see GzipChunks), as the document at `path` when
// one is given (the chunks its previous body used and this one does not go); null compresses
// every chunk.
std::shared_ptr<const Representation> encode_representation(const std::shared_ptr<const Representation>& rep,
                                                            GzipChunks* chunks = nullptr,
                                                            bool defer_large_brotli = false, std::string_view path = {});

// A bounded least-recently-used map of views rendered on demand: at most `capacity` views and
// `max_bytes` of bodies (every encoding counted), so that one client asking for many zones of a
// large feed cannot fill the memory. A view bigger than `max_bytes` is served but not kept.
// Thread-safe.
class ViewCache {
public:
    static constexpr std::size_t default_max_bytes = std::size_t{256} * 1024 * 1024;
    explicit ViewCache(std::size_t capacity, std::size_t max_bytes = default_max_bytes)
        : capacity_(capacity), max_bytes_(max_bytes) {}
    std::shared_ptr<const Representation> find(const std::string& key);
    void insert(const std::string& key, std::shared_ptr<const Representation> value);
    // The cached view for `key`, else `render()`'s result with `last_modified`, kept. Rendering
    // happens outside the lock.
    std::shared_ptr<const Representation> find_or_render(const std::string& key, Instant last_modified,
                                                         const std::function<Document()>& render);
    std::size_t size() const;
    std::size_t bytes() const;  // of the bodies kept

private:
    using Order = std::list<std::string>;
    struct Entry {
        std::shared_ptr<const Representation> value;
        Order::iterator position;
        std::size_t bytes;  // as counted when inserted, so that evicting it gives back exactly that
    };
    mutable std::mutex mutex_;
    std::size_t capacity_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    Order order_;  // most recent first
    std::unordered_map<std::string, Entry> entries_;
};

// What a feed's default-view documents were rendered from: its selected items and their order,
// what their dates say at the build's instant (a lastmod that has just come changes the entry),
// and its "updated" instant. Equal signatures give equal bytes.
struct FeedSignature {
    struct Entry {
        // Item::serial with the index in the file, when the caller set it: no other item has it.
        std::uint64_t serial = 0;
        int index = 0;
        // Otherwise the path and the content version (SnapshotInput::version).
        std::string path;
        std::uint64_t version = 0;
        std::optional<Instant> dates;  // item_updated at the build's instant
        friend bool operator==(const Entry&, const Entry&) = default;
    };
    std::vector<Entry> items;
    Instant updated;
    friend bool operator==(const FeedSignature&, const FeedSignature&) = default;
};

struct Snapshot {
    Snapshot(std::size_t view_cache_capacity) : views(view_cache_capacity) {}

    std::uint64_t generation = 0;
    std::shared_ptr<const Site> site;
    PublishOptions options;                                                               // options.now: the instant this snapshot decided visibility at
    std::map<std::string, std::shared_ptr<const Representation>, std::less<>> documents;  // by document_path
    std::map<std::string, FeedSignature, std::less<>> signatures;                         // by feed name
    // Each feed's default-view select_items at options.now, by feed name: pointers into `site`.
    std::map<std::string, std::vector<const Item*>, std::less<>> selections;
    // Each calendar's calendar_filters of its selection, by feed name (the index page's filters).
    std::map<std::string, CalendarFilters> filters;
    std::size_t feeds_rendered = 0;  // feeds rendered for this snapshot…
    std::size_t feeds_reused = 0;    // …and taken unchanged from the previous one
    std::chrono::steady_clock::duration build_duration{};
    mutable ViewCache views;
    // Events' own documents rendered on request (many and small): kept apart, so that a crawler
    // walking them does not evict the zone views, which cost far more to render again.
    mutable ViewCache event_documents{4096, std::size_t{64} * 1024 * 1024};
};

struct SnapshotInput {
    std::shared_ptr<const Site> site;
    PublishOptions options;
    std::uint64_t generation = 0;
    // The content version of a file, for items without a serial (Item::serial).
    std::function<std::uint64_t(const std::string& path)> version;
    // Documents of feeds whose signature did not change are taken from here. Only valid with the
    // same configuration: pass null after a config reload.
    std::shared_ptr<const Snapshot> previous;
    // Until when nothing but a file's change alters what select_items decides for previous's items:
    // next_visibility_change(*previous->site, previous->options.now), or Instant::max() for never.
    // Before it, each feed's selection is the previous one with the edited items swapped in
    // (reselect_items) instead of a walk of every item. Instant::min(): not known.
    Instant previous_selections_until = Instant::min();
    // The snapshot served until now, after a reload too (null at start): a document whose bytes it
    // holds keeps its Last-Modified, any other is dated options.now, and never earlier than a second
    // after the version it replaces.
    std::shared_ptr<const Snapshot> live;
    std::function<void(std::size_t feeds_done, std::size_t feeds)> progress;
    // Entries rendered by earlier builds under the same configuration (null: none kept), and how
    // to run the rendering tasks (null: one after another). See feeds/publisher.hpp.
    FragmentStore* fragments = nullptr;
    TaskRunner run;
    OccurrenceMemo* occurrences = nullptr;  // kept by the caller for the index page (null: none)
};

// Publishes every document of the site (publish_feed for each feed, and the index page), not yet
// compressed: the daemon serves it at once, then swaps in encode_snapshot's copy.
std::shared_ptr<const Snapshot> build_snapshot(const SnapshotInput& input);

// A copy of `snapshot` (same generation, bytes and tags) whose documents have their encodings.
// `interrupted` is asked between documents: once it says true, the rest are copied as they are.
// With `defer_large_brotli`, documents over 1 MiB get gzip only and are marked brotli_deferred: their
// gzip comes from kept chunks in milliseconds, where brotli costs about a second per 25 MB and would
// take a core from the next rebuild. A later call without it adds their brotli (the daemon makes it
// once the content has been quiet for a moment).
std::shared_ptr<const Snapshot> encode_snapshot(const Snapshot& snapshot,
                                                const std::function<bool()>& interrupted = nullptr,
                                                GzipChunks* chunks = nullptr, bool defer_large_brotli = false);

// True when every document of `snapshot` has all its encodings (none deferred).
bool is_encoded(const Snapshot& snapshot);
// True when every document has been through encode_representation (a large one's brotli may wait).
bool is_gzip_encoded(const Snapshot& snapshot);

}  // namespace almanac
