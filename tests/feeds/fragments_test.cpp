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
    f.pieces = {make_piece(bytes)};
    return f;
}

TEST(FragmentCache, FindsOnlyTheSameItemZoneAndDate) {
    FragmentCache cache;
    const Instant day{std::chrono::seconds(86400)};
    cache.insert(item("events/a.md", 1), "Europe/Paris", day, text("A"));
    const Fragment* found = cache.find(item("events/a.md", 1), "Europe/Paris", day);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->pieces.at(0)->str(), "A");
    EXPECT_EQ(cache.find(item("events/a.md", 2), "Europe/Paris", day), nullptr);  // another revision
    EXPECT_EQ(cache.find(item("events/a.md", 1), "UTC", day), nullptr);
    EXPECT_EQ(cache.find(item("events/a.md", 1), "Europe/Paris", Instant{}), nullptr);
    EXPECT_EQ(cache.find(item("events/b.md", 1), "Europe/Paris", day), nullptr);
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.misses(), 4u);
}

// Unused entries go once they are more than a sixteenth of the used ones (and more than one); until
// then a sweep does not walk the cache. A cache not looked at between two sweeps keeps everything
// (its feed was not rendered again); one whose pass found nothing drops everything.
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
    cache.sweep();  // not looked at since: everything stays, and is found after
    cache.sweep();
    ASSERT_EQ(cache.size(), 2u);
    EXPECT_NE(cache.find(item("p0", 1), "", Instant{}), nullptr);
    EXPECT_NE(cache.find(item("p9", 1), "", Instant{}), nullptr);
    cache.sweep();
    EXPECT_EQ(cache.size(), 2u);
    cache.begin_pass("");  // a pass that finds nothing (the feed is empty now): everything goes
    cache.end_pass();
    cache.sweep();
    EXPECT_EQ(cache.size(), 0u);
}

// Passes find entries by their position in the previous pass of the same name; whatever the edits
// between passes (revisions, moves, removals, additions, a sweep that erases) and however passes of
// other names interleave, every lookup gives the entry of its own key, and finds every entry kept.
TEST(FragmentCache, PassesFindByPositionWhateverChangesBetweenThem) {
    FragmentCache cache;
    std::vector<std::pair<std::string, std::uint64_t>> order;  // path, revision
    for (int i = 0; i < 200; ++i) order.emplace_back("events/" + std::to_string(i) + ".md", 1);
    std::uint64_t seed = 12345;
    const auto next = [&](std::size_t n) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::size_t>((seed >> 33) % n);
    };
    const auto bytes = [](const std::string& path, std::uint64_t revision, std::string_view zone) {
        return path + "@" + std::to_string(revision) + "@" + std::string(zone);
    };
    std::size_t hits_expected = 0;
    for (int round = 0; round < 60; ++round) {
        for (const std::string_view pass : {"", "Asia/Tokyo"}) {
            cache.begin_pass(pass);
            for (std::size_t i = 0; i < order.size(); ++i) {
                const auto& [path, revision] = order[i];
                const Item it = item(path, revision);
                // About a third of the items have an entry no zone changes, shared by both passes.
                const std::string zone = path.size() % 3 == 0 ? std::string() : std::string(pass) + "-";
                const Fragment* f = cache.find(it, zone, Instant{});
                if (!f) f = &cache.insert(it, zone, Instant{}, text(bytes(path, revision, zone)));
                ASSERT_EQ(f->pieces.at(0)->str(), bytes(path, revision, zone)) << "round " << round;
            }
            cache.end_pass();
        }
        hits_expected += cache.hits();
        cache.sweep();
        // Edits: a new revision, a move, a removal, an addition.
        order[next(order.size())].second += 1;
        const std::size_t from = next(order.size());
        auto moved = order[from];
        order.erase(order.begin() + static_cast<std::ptrdiff_t>(from));
        order.insert(order.begin() + static_cast<std::ptrdiff_t>(next(order.size())), moved);
        if (round % 2) order.erase(order.begin() + static_cast<std::ptrdiff_t>(next(order.size())));
        order.insert(order.begin() + static_cast<std::ptrdiff_t>(next(order.size())),
                     {"events/new" + std::to_string(round) + ".md", 1});
        if (round % 10 == 9) {  // a pass that finds nothing, then a sweep: everything goes
            cache.begin_pass("empty");
            cache.end_pass();
            cache.sweep();
        }
    }
    EXPECT_GT(hits_expected, 60u * 2 * 180);
}

}  // namespace
}  // namespace almanac
