// Minimized reproducer: list_content (daemon/site_loader.cpp) stops listing a whole section when a
// folder inside it vanishes between the read of its parent and its own opening, and says nothing.
// The daemon then takes every file listed after that point as deleted (ContentState::refresh): their
// items leave the feeds until the next rebuild, and a broken file loses its last good version.
// (Found by tests/e2e/churn_test.py; list_content now walks one folder at a time.)
#include "daemon/site_loader.hpp"
#include "config/config_loader.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace almanac {
namespace {

namespace fs = std::filesystem;

TEST(ListContent, AFolderVanishingWhileListedHidesNoOtherFile) {
    char tmpl[] = "/tmp/almanac-list-race-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const fs::path dir = tmpl;
    std::size_t kept = 0;
    for (int d = 0; d < 20; ++d)
        for (int f = 0; f < 5; ++f, ++kept) {
            const fs::path file = dir / "content/events" / ("keep-" + std::to_string(d)) / ("e" + std::to_string(f) + ".md");
            fs::create_directories(file.parent_path());
            std::ofstream(file) << "---\ntitle: E\nstart: 2030-01-01\n---\n";
        }
    SiteConfig config = default_config(dir.string());
    complete_config(config, {"events"});

    // Empty folders appear and go beside the kept ones, as build tools and `git checkout` make them.
    std::atomic<bool> stop{false};
    std::thread flapper([&] {
        for (unsigned n = 0; !stop; ++n) {
            const fs::path flap = dir / "content/events" / ("flap-" + std::to_string(n % 8));
            std::error_code ec;
            fs::create_directory(flap, ec);
            fs::remove(flap, ec);
        }
    });
    std::size_t listings = 0, short_listings = 0, fewest = kept;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < end) {
        const auto listing = list_content(config);
        ++listings;
        if (listing.files.size() != kept) ++short_listings;
        fewest = std::min(fewest, listing.files.size());
    }
    stop = true;
    flapper.join();
    fs::remove_all(dir);
    EXPECT_EQ(short_listings, 0u) << short_listings << " of " << listings << " listings missed files (one listed "
                                  << fewest << " of " << kept << ")";
}

}  // namespace
}  // namespace almanac
