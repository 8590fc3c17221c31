#include "feeds/fragments.hpp"

#include <xxhash.h>

namespace almanac {

std::size_t FragmentCache::KeyHash::operator()(const Key& k) const {
    std::uint64_t h = XXH3_64bits_withSeed(k.path.data(), k.path.size(), k.revision);
    h = XXH3_64bits_withSeed(k.zone.data(), k.zone.size(), h);
    h ^= static_cast<std::uint64_t>(k.index) * 0x9E3779B97F4A7C15ull;
    h ^= static_cast<std::uint64_t>(k.updated.time_since_epoch().count()) * 0xC2B2AE3D27D4EB4Full;
    return static_cast<std::size_t>(h);
}

const Fragment* FragmentCache::find(const Item& item, std::string_view zone, Instant updated) {
    const auto it = entries_.find(Key{item.path, item.index, item.revision, std::string(zone), updated});
    if (it == entries_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    it->second.used = true;
    return &it->second.fragment;
}

const Fragment& FragmentCache::insert(const Item& item, std::string zone, Instant updated, Fragment fragment) {
    auto [it, inserted] = entries_.insert_or_assign(Key{item.path, item.index, item.revision, std::move(zone), updated},
                                                    Entry{std::move(fragment), true});
    return it->second.fragment;
}

void FragmentCache::sweep() {
    std::erase_if(entries_, [](auto& entry) { return !entry.second.used; });
    for (auto& [key, entry] : entries_) entry.used = false;
    hits_ = misses_ = 0;
}

}  // namespace almanac
