// Whole-site tests: the shared todogroup corpus and the invalid fixture, read from disk.
#include "daemon/site_loader.hpp"
#include "config/config_loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace almanac {
namespace {

namespace fs = std::filesystem;

const Item* find_item(const Site& site, const std::string& path, int index = -1) {
    for (const auto& i : site.items)
        if (i.path == path && i.index == index) return &i;
    return nullptr;
}

std::size_t count_section(const Site& site, const std::string& section) {
    return static_cast<std::size_t>(
        std::count_if(site.items.begin(), site.items.end(), [&](const Item& i) { return i.section == section; }));
}

TEST(CorpusSite, LoadsWithoutErrors) {
    const auto loaded = load_config(ALMANAC_SHARED_DIR "/corpus/todogroup/almanac.yaml");
    ASSERT_TRUE(loaded.config) << (loaded.diagnostics.empty() ? "" : format_text(loaded.diagnostics[0]));
    const Site site = load_site(*loaded.config);
    for (const auto& d : site.diagnostics) EXPECT_NE(d.severity, Severity::error) << format_text(d);

    EXPECT_EQ(count_section(site, "events"), 12u);
    EXPECT_EQ(count_section(site, "meetups"), 6u);  // four pages and two entries of touchpoints.yaml
    EXPECT_EQ(count_section(site, "blog"), 136u);   // _index.md is a section page
    EXPECT_EQ(count_section(site, "newsletter"), 43u);  // only YYYY-MM-DD.md at the top, by the include glob
    EXPECT_EQ(count_section(site, "pages"), 2u);

    const Item* news = find_item(site, "newsletter/2025-06-02.md");
    ASSERT_NE(news, nullptr);
    EXPECT_EQ(news->title, "OSPO Newsletter 39");
    EXPECT_EQ(news->permalink, "https://github.com/todogroup/ospology/blob/main/newsletter/2025-06-02.md");
    EXPECT_EQ(news->html.find("<table"), std::string::npos) << "raw HTML is removed by default";

    const Item* touch = find_item(site, "meetups/touchpoints.yaml", 1);
    ASSERT_NE(touch, nullptr);
    EXPECT_EQ(touch->title, "TODO Touchpoint (AMER)");
    EXPECT_EQ(touch->uid, "meetups/touchpoints#2@todogroup.org");
    EXPECT_EQ(touch->event->zone.name, "America/Los_Angeles");
    EXPECT_EQ(touch->text, "Monthly member call, slot for the Americas.");

    const Item* japan = find_item(site, "meetups/japan.md");
    ASSERT_NE(japan, nullptr);
    ASSERT_TRUE(japan->event->rrule);
    EXPECT_EQ(japan->event->exdates.size(), 2u);
    EXPECT_EQ(japan->permalink, "https://todogroup.org/community/meetups/japan/");

    const Item* draft = find_item(site, "events/draft-event.md");
    ASSERT_NE(draft, nullptr);
    EXPECT_TRUE(draft->draft);

    const Item* cancelled = find_item(site, "events/ospocon-latam-2025-cancelled.md");
    ASSERT_NE(cancelled, nullptr);
    EXPECT_EQ(cancelled->event->status, EventStatus::cancelled);
    EXPECT_EQ(cancelled->event->sequence, 2);

    const Item* events_page = find_item(site, "pages/events.md");
    ASSERT_NE(events_page, nullptr);
    EXPECT_EQ(events_page->html.find("{{"), std::string::npos);
    EXPECT_NE(events_page->html.find("<h2>OSPOCon</h2>"), std::string::npos) << events_page->html;
}

TEST(InvalidSite, GoodFilesStillLoad) {
    const auto loaded = load_config(ALMANAC_SOURCE_DIR "/tests/fixtures/invalid/almanac.yaml");
    ASSERT_TRUE(loaded.config);
    const Site site = load_site(*loaded.config);
    for (const char* path : {"events/good.md", "events/gap.md", "events/no-end.md", "events/bom.md",
                             "blog/2025-01-15-no-front-matter.md", "blog/shortcodes.md"})
        EXPECT_NE(find_item(site, path), nullptr) << path;
    EXPECT_NE(find_item(site, "meetups/good-calls.toml", 0), nullptr);
    for (const char* path : {"events/bad-zone.md", "events/end-before-start.md", "events/bad-rrule.md",
                             "events/bad-date.md", "events/unclosed.md", "events/yaml-syntax.md",
                             "events/latin1.md", "events/both-end-and-duration.md", "blog/undated.md"})
        EXPECT_EQ(find_item(site, path), nullptr) << path;
    // One broken entry drops its whole data file (its last good version is kept by the daemon).
    EXPECT_EQ(find_item(site, "meetups/calls.yaml", 0), nullptr);
    // Each broken file gives exactly one error, at the file itself.
    for (const char* path : {"content/events/bad-zone.md", "content/events/end-before-start.md",
                             "content/events/bad-rrule.md", "content/events/bad-date.md", "content/events/unclosed.md",
                             "content/events/yaml-syntax.md", "content/events/latin1.md",
                             "content/events/both-end-and-duration.md", "content/blog/undated.md",
                             "content/meetups/calls.yaml"}) {
        const auto n = std::count_if(site.diagnostics.begin(), site.diagnostics.end(), [&](const Diagnostic& d) {
            return d.path == path && d.severity == Severity::error;
        });
        EXPECT_EQ(n, 1) << path;
    }
}

TEST(SiteLoader, IgnoresEditorFilesAndSymlinks) {
    const fs::path dir = fs::temp_directory_path() / ("almanac-loader-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "content/events");
    const auto write = [&](const fs::path& p, const std::string& s) { std::ofstream(dir / p) << s; };
    write("content/events/a.md", "---\ntitle: A\nstart: 2025-01-01\n---\n");
    write("content/events/.a.md.swp", "\xFF\xFF binary swap");
    write("content/events/a.md~", "old");
    write("content/events/4913", "");
    write("content/events/#a.md#", "autosave");
    fs::create_directory_symlink("/etc", dir / "content/events/outside");
    SiteConfig config = default_config(dir.string());
    complete_config(config, {"events"});
    const Site site = load_site(config);
    EXPECT_EQ(site.items.size(), 1u);
    ASSERT_EQ(site.diagnostics.size(), 1u);
    EXPECT_EQ(site.diagnostics[0].message, "symbolic link not followed");
    EXPECT_EQ(site.diagnostics[0].path, "content/events/outside");
    fs::remove_all(dir);
}

}  // namespace
}  // namespace almanac
