#include "feeds/fragments.hpp"

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

const Fragment* FragmentCache::find(const Item& item, std::string_view zone, Instant updated) {
    const auto it = entries_.find(KeyView{item.path, item.index, item.revision, zone, updated});
    if (it == entries_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    touch(it->second);
    return &it->second.fragment;
}

const Fragment& FragmentCache::insert(const Item& item, std::string zone, Instant updated, Fragment fragment) {
    auto [it, inserted] = entries_.insert_or_assign(Key{item.path, item.index, item.revision, std::move(zone), updated},
                                                    Entry{std::move(fragment), 0});
    touch(it->second);
    return it->second.fragment;
}

void FragmentCache::sweep() {
    if (entries_.size() > 2 * used_) {
        std::erase_if(entries_, [&](const auto& entry) { return entry.second.used != generation_; });
    }
    ++generation_;
    used_ = 0;
    hits_ = misses_ = 0;
}

}  // namespace almanac
