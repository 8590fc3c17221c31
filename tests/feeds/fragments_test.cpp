#include "feeds/fragments.hpp"

#include <gtest/gtest.h>

namespace almanac {
namespace {

Item item(const std::string& path, std::uint64_t revision) {
    Item i;
    i.path = path;
    i.revision = revision;
    return i;
}

Fragment text(const std::string& bytes) {
    Fragment f;
    f.text = make_piece(bytes);
    return f;
}

TEST(FragmentCache, FindsOnlyTheSameItemZoneAndDate) {
    FragmentCache cache;
    const Instant day{std::chrono::seconds(86400)};
    cache.insert(item("events/a.md", 1), "Europe/Paris", day, text("A"));
    const Fragment* found = cache.find(item("events/a.md", 1), "Europe/Paris", day);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->text->str(), "A");
    EXPECT_EQ(cache.find(item("events/a.md", 2), "Europe/Paris", day), nullptr);  // another revision
    EXPECT_EQ(cache.find(item("events/a.md", 1), "UTC", day), nullptr);
    EXPECT_EQ(cache.find(item("events/a.md", 1), "Europe/Paris", Instant{}), nullptr);
    EXPECT_EQ(cache.find(item("events/b.md", 1), "Europe/Paris", day), nullptr);
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.misses(), 4u);
}

// Unused entries go once they outnumber the used ones; until then a sweep does not walk the cache.
TEST(FragmentCache, SweepDropsUnusedEntriesOnceTheyOutnumberUsedOnes) {
    FragmentCache cache;
    for (int i = 0; i < 10; ++i) cache.insert(item("p" + std::to_string(i), 1), "", Instant{}, text("x"));
    cache.sweep();
    EXPECT_EQ(cache.size(), 10u);
    // Nine reused, one edited (a new revision): the old one is unused but kept for now.
    for (int i = 0; i < 9; ++i) ASSERT_NE(cache.find(item("p" + std::to_string(i), 1), "", Instant{}), nullptr);
    cache.insert(item("p9", 2), "", Instant{}, text("y"));
    cache.sweep();
    EXPECT_EQ(cache.size(), 11u);
    ASSERT_NE(cache.find(item("p9", 1), "", Instant{}), nullptr);  // still there, and used again
    // Only two used: the nine others outnumber them and go.
    ASSERT_NE(cache.find(item("p0", 1), "", Instant{}), nullptr);
    cache.sweep();
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_NE(cache.find(item("p0", 1), "", Instant{}), nullptr);
    EXPECT_EQ(cache.find(item("p1", 1), "", Instant{}), nullptr);
    cache.sweep();
    cache.sweep();  // nothing used since: everything goes
    EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace almanac
