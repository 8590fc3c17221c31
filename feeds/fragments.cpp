#include "feeds/fragments.hpp"

#include <algorithm>

#include <xxhash.h>

namespace almanac {

namespace {

std::size_t key_hash(std::string_view path, int index, std::uint64_t revision, std::string_view zone, Instant updated) {
    std::uint64_t h = XXH3_64bits_withSeed(path.data(), path.size(), revision);
    h = XXH3_64bits_withSeed(zone.data(), zone.size(), h);
    h ^= static_cast<std::uint64_t>(index) * 0x9E3779B97F4A7C15ull;
    h ^= static_cast<std::uint64_t>(updated.time_since_epoch().count()) * 0xC2B2AE3D27D4EB4Full;
    return static_cast<std::size_t>(h);
}

}  // namespace

std::size_t FragmentCache::KeyHash::operator()(const Key& k) const {
    return key_hash(k.path, k.index, k.revision, k.zone, k.updated);
}

std::size_t FragmentCache::KeyHash::operator()(const KeyView& k) const {
    return key_hash(k.path, k.index, k.revision, k.zone, k.updated);
}

void FragmentCache::touch(Entry& entry) {
    if (entry.used == generation_) return;
    entry.used = generation_;
    ++used_;
}

const Fragment& FragmentCache::found(Entries::value_type& entry) {
    touch(entry.second);
    if (patching_) {
        // The entry it replaces is likely unused now: sweep() drops it at once if so.
        if (current_.at(patch_position_) != &entry) replaced_.push_back(current_.at(patch_position_));
        current_.at(patch_position_) = &entry;
    } else if (in_pass_)
        current_.push_back(&entry);
    return entry.second.fragment;
}

const Fragment* FragmentCache::find(const Item& item, std::string_view zone, Instant updated) {
    const KeyView key{item.path, item.index, item.revision, item.serial, zone, updated};
    if (previous_ && !patching_) {
        // The entry where the previous pass had it, or one further on (an item removed or moved away).
        for (std::size_t at = position_; at < previous_->entries.size() && at <= position_ + 1; ++at) {
            auto* candidate = previous_->entries[at];
            if (!KeyEqual{}(key, candidate->first)) continue;
            position_ = at + 1;
            ++hits_;
            return &found(*candidate);
        }
        // The same item changed (a new revision or date): its old entry's place is passed.
        if (position_ < previous_->entries.size()) {
            const Key& old = previous_->entries[position_]->first;
            if (old.index == item.index && old.path == item.path) ++position_;
        }
    }
    const auto it = entries_.find(key);
    if (it == entries_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    return &found(*it);
}

const Fragment& FragmentCache::insert(const Item& item, std::string_view zone, Instant updated, Fragment fragment) {
    const std::string_view kept_zone = *zones_.emplace(zone).first;
    auto [it, inserted] = entries_.insert_or_assign(Key{item.path, item.index, item.revision, item.serial, kept_zone, updated},
                                                    Entry{std::move(fragment), 0});
    return found(*it);
}

Piece FragmentCache::shared_part(const Item& item, std::string_view name, std::string_view bytes) {
    if (!keeps(name)) return make_piece(std::string(bytes));
    const auto it = entries_.find(KeyView{item.path, item.index, item.revision, item.serial, name, Instant{}});
    // Used only when its bytes are these: a part may depend on more than the item (LAST-MODIFIED
    // comes due with the clock).
    if (it != entries_.end() && !it->second.fragment.pieces.empty() && it->second.fragment.pieces.front()->str() == bytes) {
        ++hits_;
        touch(it->second);
        return it->second.fragment.pieces.front();
    }
    ++misses_;
    Piece piece = make_piece(std::string(bytes));
    const std::string_view kept_name = *zones_.emplace(name).first;
    auto [at, inserted] = entries_.insert_or_assign(Key{item.path, item.index, item.revision, item.serial, kept_name, Instant{}},
                                                    Entry{Fragment{{piece}, {}, {}}, 0});
    touch(at->second);
    return piece;
}

const std::string* FragmentCache::kept_text(const std::string& key) const {
    const auto it = texts_.find(key);
    return it == texts_.end() ? nullptr : &it->second;
}

const std::string& FragmentCache::keep_text(std::string key, std::string text) {
    return texts_.insert_or_assign(std::move(key), std::move(text)).first->second;
}

void FragmentCache::begin_pass(std::string_view name) {
    end_pass();
    pass_ = name;
    in_pass_ = true;
    passed_ = true;
    current_rope_ = Rope();
    const auto it = sequences_.find(pass_);
    previous_ = it == sequences_.end() ? nullptr : &it->second;
    position_ = 0;
    current_.clear();
    stamps_ = nullptr;
    updated_ = Instant{};
    units_.clear();
    events_.clear();
}

void FragmentCache::begin_pass(std::string_view name, EntryStamps stamps, Instant updated) {
    begin_pass(name);
    stamps_ = std::move(stamps);
    updated_ = updated;
}

std::optional<std::vector<std::size_t>> FragmentCache::changed_entries() const {
    if (!in_pass_ || !previous_ || !previous_->patchable || !stamps_ || previous_->updated != updated_) return std::nullopt;
    const auto& before = *previous_->stamps;
    const auto& now = *stamps_;
    if (before.size() != now.size()) return std::nullopt;
    std::vector<std::size_t> changed;
    for (std::size_t i = 0; i < now.size(); ++i) {
        if (now[i].serial == 0) return std::nullopt;  // an item not known by a serial: not comparable
        if (before[i] == now[i]) continue;
        if (changed.size() == max_patched) return std::nullopt;
        changed.push_back(i);
    }
    return changed;
}

void FragmentCache::begin_patch() {
    current_ = previous_->entries;
    patching_ = true;
}

void FragmentCache::abandon_patch() {
    patching_ = false;
    current_.clear();
    units_.clear();
    events_.clear();
    position_ = 0;
}

void FragmentCache::end_pass() {
    if (!in_pass_) return;
    in_pass_ = false;
    previous_ = nullptr;
    Sequence& s = sequences_[pass_];
    s.entries.swap(current_);
    s.generation = generation_;
    s.rope = std::move(current_rope_);
    s.stamps = std::move(stamps_);
    s.updated = updated_;
    s.units.swap(units_);
    s.events.swap(events_);
    s.carried = patching_;
    s.patchable = s.stamps && !s.rope.empty() && !s.units.empty() && s.entries.size() == s.stamps->size();
    if (patching_) ++patched_;
    patching_ = false;
    current_rope_ = Rope();
    current_.clear();
    stamps_ = nullptr;
    units_.clear();
    events_.clear();
}

void FragmentCache::sweep() {
    end_pass();
    // Not looked at since the previous sweep: its feed was not rendered again (its documents, still
    // served, share these entries' pieces). Kept whole, so that the feed's next edit renders one
    // entry, not all of them (an event edited after a newsletter took 1.3-1.7 s instead of 0.1 s).
    if (used_ == 0 && !passed_) {
        hits_ = misses_ = patched_ = 0;
        return;
    }
    passed_ = false;
    // A patched pass found only the entries it changed: the others it holds are used too.
    for (auto& [name, s] : sequences_)
        if (s.generation == generation_ && s.carried)
            for (auto* entry : s.entries) touch(entry->second);
    // The entries patched passes replaced (an edited item's earlier versions) that nothing used go
    // now, instead of waiting for the walk below: a daemon edited back to back held 12 more a
    // rebuild, about 40 MB on the 10k site before the walk came due.
    std::sort(replaced_.begin(), replaced_.end());
    replaced_.erase(std::unique(replaced_.begin(), replaced_.end()), replaced_.end());
    bool dropped = false;
    for (auto* entry : replaced_) {
        if (entry->second.used == generation_) continue;
        entries_.erase(entries_.find(entry->first));
        dropped = true;
    }
    replaced_.clear();
    // A sequence of an earlier generation may point at entries just erased.
    if (dropped) std::erase_if(sequences_, [&](const auto& s) { return s.second.generation != generation_; });
    if (entries_.size() > used_ + std::max<std::size_t>(used_ / 16, 1)) {
        std::erase_if(entries_, [&](const auto& entry) { return entry.second.used != generation_; });
        // A sequence of an earlier generation may point at entries just erased.
        std::erase_if(sequences_, [&](const auto& s) { return s.second.generation != generation_; });
    }
    ++generation_;
    used_ = 0;
    hits_ = misses_ = patched_ = 0;
}

std::vector<std::uint32_t> patched_units(const std::vector<std::uint32_t>& units, const std::vector<RopeEdit>& edits) {
    std::vector<std::uint32_t> out;
    out.reserve(units.size());
    auto edit = edits.begin();
    std::int64_t shift = 0;
    for (const std::uint32_t at : units) {
        for (; edit != edits.end() && edit->end <= at; ++edit)
            shift += static_cast<std::int64_t>(kept_pieces(edit->pieces)) - static_cast<std::int64_t>(edit->end - edit->begin);
        out.push_back(static_cast<std::uint32_t>(static_cast<std::int64_t>(at) + shift));
    }
    return out;
}

}  // namespace almanac
