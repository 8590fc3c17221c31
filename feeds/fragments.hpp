// Rendered entries that outlive one document: each item's entry in one format and zone, kept so that
// the views of a feed share the entries that do not depend on the zone (posts, recurring and all-day
// events), and so that the daemon's next rebuild renders only the items that changed. An entry is
// reused only when everything it was rendered from is the same: the item (path, index in its file,
// revision of its file's bytes), the zone its times are stated in, and the document's fallback date.
// It also keeps the document each pass (one document of the feed) made last, whose runs of pieces
// the next render of that document shares where nothing changed (feeds/rope.hpp). A cache belongs
// to one feed and format under one configuration; it is not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "feeds/event_time.hpp"
#include "feeds/item.hpp"
#include "feeds/rope.hpp"

namespace almanac {

// One VEVENT of an item, with the key the calendar is sorted by.
struct IcsEvent {
    Instant start;
    std::string uid;
    // BEGIN:VEVENT … END:VEVENT, folded, CRLF, in pieces shared by every document holding them: a
    // timed event's lines up to its times differ between zone views, the rest (SUMMARY on) does not.
    std::vector<Piece> pieces;
};

// A zone an item's times are written in (a TZID), and the span its VTIMEZONE must cover.
struct IcsZoneUse {
    Zone zone;
    Instant first;
    Instant last;
};

struct Fragment {
    // RSS, Atom, JSON Feed: the entry's bytes as they appear in the document, in order. An event's
    // entry keeps its body apart (see syndication.cpp), one piece shared by the zone views.
    std::vector<Piece> pieces;
    std::vector<IcsEvent> events;   // iCalendar: the item's VEVENTs
    std::vector<IcsZoneUse> zones;  // iCalendar: the TZIDs they use
};

// What an entry of a document is rendered from besides the zone: its item (a parse, named by its
// serial, and the entry's index in its file) and its date (entry_date_key). Two passes whose stamps
// are equal at a position hold the same entry there.
struct EntryStamp {
    std::uint64_t serial = 0;
    int index = 0;
    Instant date;
    friend bool operator==(const EntryStamp&, const EntryStamp&) = default;
};
using EntryStamps = std::shared_ptr<const std::vector<EntryStamp>>;

class FragmentCache {
public:
    // `keep_zoned` false: only entries no zone changes are kept, for a caller that renders each
    // zone once and keeps nothing between calls. Renderers ask keeps() before find() and insert().
    explicit FragmentCache(bool keep_zoned = true) : keep_zoned_(keep_zoned) {}
    bool keeps(std::string_view zone) const { return keep_zoned_ || zone.empty(); }

    // The entry rendered from `item` stated in `zone` ("" for an entry that no zone changes) with
    // fallback date `updated`, else null. A hit counts as a use for sweep().
    const Fragment* find(const Item& item, std::string_view zone, Instant updated);
    const Fragment& insert(const Item& item, std::string_view zone, Instant updated, Fragment fragment);

    // A part of `item`'s entries that is the same in several of them (an event's body in each zone
    // view): the piece kept under `name` (a name no zone has, such as "#body") when it holds exactly
    // `bytes`, else a new piece, kept for the next entry that asks when keeps(name). Parts take no
    // place in a pass.
    Piece shared_part(const Item& item, std::string_view name, std::string_view bytes);

    // Text that depends only on `key` under the cache's configuration (a zone's VTIMEZONE over whole
    // years), kept for as long as the cache: null when none is kept under `key`.
    const std::string* kept_text(const std::string& key) const;
    const std::string& keep_text(std::string key, std::string text);

    // Lookups between begin_pass(name) and end_pass() that come in the order of the previous pass
    // of that name (a document rendered again after an edit) find their entries by position: a key
    // comparison instead of hashing the key and walking a bucket, which for the 10,000 entries of
    // each of a large site's documents was a third of a rebuild. Any other order still finds them.
    void begin_pass(std::string_view name);
    // A pass over entries described by `stamps` (one per item of the document, in order, each with a
    // nonzero serial) in a document dated `updated`: when the previous pass of that name was over
    // the same number of entries and dated the same, changed_entries() tells which differ, and the
    // renderer may patch the previous document (patch_rope) instead of walking every entry.
    void begin_pass(std::string_view name, EntryStamps stamps, Instant updated);
    void end_pass();

    // Patching a pass. A renderer that records the pieces of each unit of its document (an entry; a
    // calendar's VEVENT in order) with unit() during a whole render may render the next pass of the same name as a patch: the positions whose stamps
    // changed, when they are few (at most max_patched) and the previous pass was patchable (each
    // item found or inserted in order, units recorded); else nullopt.
    static constexpr std::size_t max_patched = 16;
    std::optional<std::vector<std::size_t>> changed_entries() const;
    // Starts the patch: the pass holds the previous pass's entries; found() and insert() after
    // patch_at(i) record theirs at position i. abandon_patch() gives up (the renderer then renders
    // the whole document, finding and inserting from the first entry as in any pass).
    void begin_patch();
    void patch_at(std::size_t position) { patch_position_ = position; }
    void abandon_patch();
    // The previous pass's entry at `position`, its units' places (unit j's pieces are
    // [units[2j], units[2j + 1])), and its calendar events in document order (a calendar's units).
    const Fragment& previous_entry(std::size_t position) const { return previous_->entries.at(position)->second.fragment; }
    const std::vector<std::uint32_t>& previous_units() const { return previous_->units; }
    const std::vector<const IcsEvent*>& previous_events() const { return previous_->events; }
    // During a whole render: the next unit's pieces are [begin, end) (RopeBuilder::mark).
    void unit(std::size_t begin, std::size_t end) {
        if (!in_pass_) return;
        units_.push_back(static_cast<std::uint32_t>(begin));
        units_.push_back(static_cast<std::uint32_t>(end));
    }
    // A patch's units and events, replacing those recorded.
    void keep_units(std::vector<std::uint32_t> units) { units_ = std::move(units); }
    void keep_events(std::vector<const IcsEvent*> events) {
        if (in_pass_) events_ = std::move(events);
    }
    std::size_t patched() const { return patched_; }
    // The rope the previous pass of the current pass's name made (RopeBuilder's `previous`: the
    // new rope shares its unchanged runs), or null. Valid until the pass ends (end_pass, the next
    // begin_pass, sweep). keep_rope() gives the one this pass made, kept when the pass ends.
    const Rope* previous_rope() const { return in_pass_ && previous_ && !previous_->rope.empty() ? &previous_->rope : nullptr; }
    void keep_rope(Rope rope) { current_rope_ = std::move(rope); }

    // Drops the entries not found or inserted since the previous sweep. The walk over every entry
    // is skipped while they are few: the unused ones (an edited item's earlier versions) wait for a
    // later sweep, but never more than a sixteenth of the used ones, so that a daemon's memory does
    // not creep with every edit (it kept as many as the used ones). A cache nothing looked at and
    // no pass began in since the previous sweep (a feed not rendered again) keeps every entry.
    void sweep();
    std::size_t size() const { return entries_.size(); }
    std::size_t hits() const { return hits_; }
    std::size_t misses() const { return misses_; }

private:
    // An entry is known by path, index, revision, zone and date. The item's serial (Item::serial)
    // only makes the comparison cheaper: equal nonzero serials mean equal paths and revisions.
    struct Key {
        std::string path;
        int index;
        std::uint64_t revision;
        std::uint64_t serial;
        std::string_view zone;  // in zones_
        Instant updated;
        friend bool operator==(const Key& a, const Key& b) {
            return a.index == b.index && a.revision == b.revision && a.updated == b.updated && a.path == b.path &&
                   a.zone == b.zone;
        }
    };
    // A key to look up with, borrowing its strings: find() allocates nothing.
    struct KeyView {
        std::string_view path;
        int index;
        std::uint64_t revision;
        std::uint64_t serial;
        std::string_view zone;
        Instant updated;
    };
    struct KeyHash {
        using is_transparent = void;
        std::size_t operator()(const Key& k) const;
        std::size_t operator()(const KeyView& k) const;
    };
    struct KeyEqual {
        using is_transparent = void;
        bool operator()(const Key& a, const Key& b) const { return a == b; }
        bool operator()(const KeyView& a, const Key& b) const {
            return a.index == b.index && a.updated == b.updated && a.zone == b.zone &&
                   ((a.serial != 0 && a.serial == b.serial) || (a.revision == b.revision && a.path == b.path));
        }
        bool operator()(const Key& a, const KeyView& b) const { return (*this)(b, a); }
    };
    struct Entry {
        Fragment fragment;
        std::uint64_t used = 0;  // the sweep generation it was last found or inserted in
    };
    using Entries = std::unordered_map<Key, Entry, KeyHash, KeyEqual>;
    // The entries a pass found or inserted, in order. Node pointers stay valid until the entry is
    // erased, and sweep() keeps only the sequences whose entries it kept.
    struct Sequence {
        std::vector<Entries::value_type*> entries;
        std::uint64_t generation = 0;
        Rope rope;  // the document the pass made (empty: streamed)
        // For a patch of the next pass (changed_entries): the stamps and date the pass was given, where
        // its units begin, its calendar events; patchable when every item has its entry in order.
        EntryStamps stamps;
        Instant updated;
        std::vector<std::uint32_t> units;
        std::vector<const IcsEvent*> events;
        bool patchable = false;
        bool carried = false;  // a patch: its entries were not each found, sweep() counts them used
    };
    // Counts an entry as used in this generation.
    void touch(Entry& entry);
    // Counts `entry` as used and records it as the next entry of the current pass, if any.
    const Fragment& found(Entries::value_type& entry);
    Entries entries_;
    std::unordered_map<std::string, std::string> texts_;
    // The zone names keys hold, once each: a few distinct names, always in cache when compared.
    std::unordered_set<std::string> zones_;
    std::unordered_map<std::string, Sequence> sequences_;
    Sequence* previous_ = nullptr;  // the previous pass of the current pass's name
    std::string pass_;              // the current pass's name; empty: none
    bool in_pass_ = false;
    std::vector<Entries::value_type*> current_;
    Rope current_rope_;
    EntryStamps stamps_;  // the current pass's
    Instant updated_;
    std::vector<std::uint32_t> units_;
    std::vector<const IcsEvent*> events_;
    bool patching_ = false;
    std::size_t patch_position_ = 0;
    std::vector<Entries::value_type*> replaced_;  // entries patched passes replaced since the last sweep
    std::size_t patched_ = 0;                     // passes patched since the last sweep
    std::size_t position_ = 0;                    // where the next lookup is expected in previous_
    bool keep_zoned_;
    std::uint64_t generation_ = 1;
    std::size_t used_ = 0;  // entries used in this generation
    bool passed_ = false;   // a pass began in this generation
    std::size_t hits_ = 0;
    std::size_t misses_ = 0;
};

// `units` (FragmentCache::previous_units) after `edits` (in order, each a unit's whole range) made a
// patch: each place after an edit moved by the number of pieces it added or removed.
std::vector<std::uint32_t> patched_units(const std::vector<std::uint32_t>& units, const std::vector<RopeEdit>& edits);

}  // namespace almanac
