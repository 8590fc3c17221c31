// The daemon's content state and snapshot builder on a real temp directory: what is re-read after
// an edit, a broken edit keeping the last good version, deletions, and feeds reused between builds.
#include "daemon/content_state.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

#include "config/config_loader.hpp"
#include "daemon/snapshot.hpp"

namespace almanac {
namespace {

namespace fs = std::filesystem;

struct ContentStateTest : ::testing::Test {
    fs::path dir;

    void SetUp() override {
        char tmpl[] = "/tmp/almanac-state-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        write("content/events/a.md", "---\ntitle: A\nstart: 2030-01-01\n---\n");
        write("content/events/b.md", "---\ntitle: B\nstart: 2030-02-01\n---\n");
        write("content/blog/p.md", "---\ntitle: P\ndate: 2024-01-01\n---\nfirst\n");
    }
    void TearDown() override { fs::remove_all(dir); }

    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((dir / rel).parent_path());
        // Same-size rewrites within one clock tick would keep the stamp: the hint covers those.
        std::ofstream(dir / rel, std::ios::binary | std::ios::trunc) << text;
    }

    SiteConfig config() const {
        SiteConfig c = default_config(dir.string());
        complete_config(c, {"blog", "events"});
        return c;
    }

    static std::string messages(const Site& site) {
        std::string out;
        for (const auto& d : site.diagnostics) out += format_text(d) + "\n";
        return out;
    }

    static const Item* item(const Site& site, const std::string& path) {
        for (const auto& i : site.items)
            if (i.path == path) return &i;
        return nullptr;
    }
};

TEST_F(ContentStateTest, ReadsOnlyWhatChanged) {
    ContentState state(config());
    auto r = state.refresh({});
    EXPECT_EQ(r.read.size(), 3u);
    EXPECT_FALSE(state.refresh({}).changed());
    const auto v = state.version("events/a.md");
    write("content/events/a.md", "---\ntitle: A2 (longer)\nstart: 2030-01-01\n---\n");
    r = state.refresh({});
    EXPECT_EQ(r.read, std::vector<std::string>{"events/a.md"});
    EXPECT_NE(state.version("events/a.md"), v);
    EXPECT_EQ(item(state.site(), "events/a.md")->title, "A2 (longer)");
    // A hint re-reads a file even when its stamp looks the same.
    EXPECT_EQ(state.refresh({"events/b.md"}).read, std::vector<std::string>{"events/b.md"});
}

// Serials (Item::serial) name one parse of one file in the whole process: a re-read gives new ones,
// an unchanged file keeps its own, and a second state (after a config reload) never repeats one.
TEST_F(ContentStateTest, EveryParseGetsSerialsNoOtherHas) {
    ContentState state(config());
    state.refresh({});
    const auto first = state.site();
    const std::uint64_t a = item(first, "events/a.md")->serial, b = item(first, "events/b.md")->serial;
    EXPECT_NE(a, 0u);
    EXPECT_NE(a, b);
    write("content/events/a.md", "---\ntitle: A2 (longer)\nstart: 2030-01-01\n---\n");
    state.refresh({"events/a.md"});
    const auto second = state.site();
    EXPECT_NE(item(second, "events/a.md")->serial, a);
    EXPECT_EQ(item(second, "events/b.md")->serial, b);
    EXPECT_EQ(item(second, "events/b.md"), item(first, "events/b.md"));  // shared, not copied
    ContentState reloaded(config());
    reloaded.refresh({});
    std::set<std::uint64_t> seen;
    for (const auto& site : {first, second, reloaded.site()})
        for (const auto& i : site.items) seen.insert(i.serial);
    EXPECT_EQ(seen.size(), 3u + 1 + 3);  // three, the edited one, three more
}

TEST_F(ContentStateTest, WatcherPathsAreReadWithoutListingTheTree) {
    ContentState state(config());
    EXPECT_TRUE(state.refresh_paths({"events/a.md"}).walked) << "the first refresh lists the tree";
    // b.md changes size and mtime but nobody reports it: a listing would read it, the paths alone do not.
    write("content/events/a.md", "---\ntitle: A2 (longer)\nstart: 2030-01-01\n---\n");
    write("content/events/b.md", "---\ntitle: B2 (unreported)\nstart: 2030-02-01\n---\n");
    auto r = state.refresh_paths({"events/a.md"});
    EXPECT_FALSE(r.walked);
    EXPECT_EQ(r.read, std::vector<std::string>{"events/a.md"});
    EXPECT_EQ(item(state.site(), "events/a.md")->title, "A2 (longer)");
    EXPECT_EQ(item(state.site(), "events/b.md")->title, "B");

    // New, deleted, not content, outside every section, below an ignored folder.
    write("content/events/c.md", "---\ntitle: C\nstart: 2030-03-01\n---\n");
    write("content/events/notes.txt", "not content");
    write("content/events/.hidden/e.md", "---\ntitle: E\nstart: 2030-03-01\n---\n");
    fs::remove(dir / "content/blog/p.md");
    r = state.refresh_paths({"events/c.md", "events/notes.txt", "drafts/d.md", "events/.hidden/e.md", "blog/p.md",
                             "events/gone.md"});
    EXPECT_FALSE(r.walked);
    EXPECT_EQ(r.read, std::vector<std::string>{"events/c.md"});
    EXPECT_EQ(r.removed, std::vector<std::string>{"blog/p.md"});
    EXPECT_EQ(item(state.site(), "events/c.md")->title, "C");
    EXPECT_EQ(item(state.site(), "blog/p.md"), nullptr);

    // A symlink and a FIFO in a content file's place are reported as a listing reports them.
    fs::remove(dir / "content/events/c.md");
    fs::create_symlink(dir / "content/events/a.md", dir / "content/events/c.md");
    ASSERT_EQ(mkfifo((dir / "content/events/f.md").c_str(), 0644), 0);
    r = state.refresh_paths({"events/c.md", "events/f.md"});
    EXPECT_FALSE(r.walked);
    EXPECT_TRUE(r.tree_changed);
    EXPECT_EQ(r.removed, std::vector<std::string>{"events/c.md"});
    // The listing finds what the paths left alone (b.md) and nothing else: the same site.
    write("content/events/b.md", "---\ntitle: B\nstart: 2030-02-01\n---\n");
    state.refresh_paths({"events/b.md"});
    ContentState listed(config());
    listed.refresh({});
    EXPECT_EQ(messages(state.site()), messages(listed.site()));
    EXPECT_EQ(state.site().items.size(), listed.site().items.size());
    EXPECT_FALSE(state.refresh({}).changed());

    // Gone again: their warnings go.
    fs::remove(dir / "content/events/c.md");
    fs::remove(dir / "content/events/f.md");
    r = state.refresh_paths({"events/c.md", "events/f.md"});
    EXPECT_TRUE(r.tree_changed);
    EXPECT_EQ(messages(state.site()), "");
}

TEST_F(ContentStateTest, AFolderAmongThePathsListsTheTree) {
    // A folder is never trusted to be what its path says: its files, and anything else that changed
    // meanwhile, are found by listing (the daemon also lists for the watcher's folder events and
    // overflows: ChangeSet::folders and ::rescan).
    ContentState state(config());
    state.refresh({});
    write("content/events/sub/d.md", "---\ntitle: D\nstart: 2030-04-01\n---\n");
    write("content/events/b.md", "---\ntitle: B2 (unreported)\nstart: 2030-02-01\n---\n");
    const auto r = state.refresh_paths({"events/sub"});
    EXPECT_TRUE(r.walked);
    EXPECT_EQ(r.read, (std::vector<std::string>{"events/b.md", "events/sub/d.md"}));
    // So is a top-level entry: a section folder, or one that is not a section.
    EXPECT_TRUE(state.refresh_paths({"events"}).walked);
    EXPECT_TRUE(state.refresh_paths({"README.md"}).walked);
}

TEST_F(ContentStateTest, SitesShareTheItemsOfUnchangedFiles) {
    // A site holds the items of 11,000 files on a large site: one built after an edit shares every
    // item the edit left alone with the site before it (and with the state) instead of copying it.
    ContentState state(config());
    state.refresh({});
    const Site before = state.site();
    write("content/events/a.md", "---\ntitle: A2 (longer)\nstart: 2030-01-01\n---\n");
    state.refresh_paths({"events/a.md"});
    const Site after = state.site();
    ASSERT_NE(item(before, "events/b.md"), nullptr);
    EXPECT_EQ(item(before, "events/b.md"), item(after, "events/b.md"));
    EXPECT_EQ(item(before, "blog/p.md"), item(after, "blog/p.md"));
    EXPECT_NE(item(before, "events/a.md"), item(after, "events/a.md"));
    EXPECT_EQ(item(before, "events/a.md")->title, "A");
    EXPECT_EQ(item(after, "events/a.md")->title, "A2 (longer)");
}

// What a site says, item by item and diagnostic by diagnostic, to compare two sites.
std::string describe(const Site& site) {
    std::string out;
    for (const auto& i : site.items)
        out += i.path + "#" + std::to_string(i.index) + " " + i.uid + " " + i.permalink + " " + i.title + "\n";
    for (const auto& d : site.diagnostics) out += format_text(d) + "\n";
    return out;
}

// An edit that keeps every UID, permalink and diagnostic patches the last site; any other change
// assembles it afresh. Over random edits, the site is always what a state reading everything
// afresh assembles. (No edit breaks a file here: the fresh state would not have its last good
// version. A broken edit changes the diagnostics, which the next test shows is never patched.)
TEST_F(ContentStateTest, PatchedSitesAreWhatAFreshStateAssembles) {
    const std::vector<std::string> titles{"A", "B", "Longer title", "C"};
    const std::vector<std::string> uids{"", "", "", "u-1", "u-2", "u-1"};  // "" keeps the derived UID
    const std::vector<std::string> slugs{"", "", "", "same", "other"};
    auto event = [&](unsigned r) {
        std::string text = "---\ntitle: " + titles[r % titles.size()] + "\nstart: 2030-01-0" + std::to_string(1 + r % 9) + "\n";
        if (const auto& uid = uids[(r / 7) % uids.size()]; !uid.empty()) text += "uid: " + uid + "\n";
        if (const auto& slug = slugs[(r / 43) % slugs.size()]; !slug.empty()) text += "slug: " + slug + "\n";
        return text + "---\nbody " + std::to_string(r) + "\n";
    };
    for (int f = 0; f < 8; ++f) write("content/events/e" + std::to_string(f) + ".md", event(static_cast<unsigned>(f * 11)));
    ContentState state(config());
    state.refresh({});
    (void)state.site();
    unsigned seed = 12345;
    auto next = [&] { return seed = seed * 1103515245u + 12345u; };
    int patched = 0;
    for (int round = 0; round < 200; ++round) {
        std::set<std::string> paths;
        const int edits = 1 + static_cast<int>((next() >> 16) % 3);
        for (int e = 0; e < edits; ++e) {
            const std::string rel = "events/e" + std::to_string((next() >> 16) % 10) + ".md";  // e8, e9 come and go
            const unsigned r = next() >> 8;
            if (r % 17 == 0 && fs::exists(dir / "content" / rel)) fs::remove(dir / "content" / rel);
            else if (r % 2 == 0) write("content/" + rel, "---\ntitle: Retitled " + std::to_string(round) + "\nstart: 2030-01-01\n---\n");
            else write("content/" + rel, event(r));
            paths.insert(rel);
        }
        const auto before = state.assemblies();
        state.refresh_paths(paths);
        const Site site = state.site();
        patched += state.assemblies() == before;
        ContentState fresh(config());
        fresh.refresh({});
        ASSERT_EQ(describe(site), describe(fresh.site())) << "round " << round;
    }
    EXPECT_GT(patched, 20) << "the rounds that could be patched were assembled afresh";
}

// A title edit patches; a new UID, a repeated permalink or a new diagnostic assembles afresh.
TEST_F(ContentStateTest, OnlyEditsThatKeepUidsPermalinksAndDiagnosticsArePatched) {
    ContentState state(config());
    state.refresh({});
    (void)state.site();
    const auto assembled = [&](const std::string& text) {
        const auto before = state.assemblies();
        write("content/events/a.md", text);
        state.refresh_paths({"events/a.md"});
        (void)state.site();
        return state.assemblies() != before;
    };
    EXPECT_FALSE(assembled("---\ntitle: A2\nstart: 2030-01-01\n---\n"));
    EXPECT_TRUE(assembled("---\ntitle: A2\nstart: 2030-01-01\nuid: new\n---\n"));
    EXPECT_FALSE(assembled("---\ntitle: A3\nstart: 2030-01-01\nuid: new\n---\n"));
    EXPECT_TRUE(assembled("---\ntitle: A3\nstart: 2030-01-01\nuid: new\nslug: b\n---\n"));
    EXPECT_TRUE(assembled("---\ntitle: A3\nstart: 2030-13-01\nuid: new\nslug: b\n---\n"));
}

TEST_F(ContentStateTest, RereadAllFindsAnEditThatKeptTheStamp) {
    // `rsync --inplace -t`, or an edit within one clock tick: same inode, size and mtime. Only the
    // watcher's event can tell; when events were lost (queue overflow), everything is read again.
    ContentState state(config());
    state.refresh({});
    const auto mtime = fs::last_write_time(dir / "content/events/a.md");
    write("content/events/a.md", "---\ntitle: Z\nstart: 2030-01-01\n---\n");
    fs::last_write_time(dir / "content/events/a.md", mtime);
    EXPECT_FALSE(state.refresh({}).changed());
    EXPECT_EQ(item(state.site(), "events/a.md")->title, "A");
    EXPECT_EQ(state.refresh({}, nullptr, true).read.size(), 3u);
    EXPECT_EQ(item(state.site(), "events/a.md")->title, "Z");
}

TEST_F(ContentStateTest, BrokenEditKeepsTheLastGoodVersion) {
    ContentState state(config());
    state.refresh({});
    const auto v = state.version("events/a.md");
    write("content/events/a.md", "---\ntitle: A broken\nstart: 2030-13-01\n---\n");
    state.refresh({"events/a.md"});
    const Site broken = state.site();
    ASSERT_NE(item(broken, "events/a.md"), nullptr);
    EXPECT_EQ(item(broken, "events/a.md")->title, "A");
    EXPECT_EQ(state.version("events/a.md"), v);
    ASSERT_TRUE(has_errors(broken.diagnostics));
    bool kept_warning = false;
    for (const auto& d : broken.diagnostics) kept_warning |= d.message.find("last good version") != std::string::npos;
    EXPECT_TRUE(kept_warning);

    write("content/events/a.md", "---\ntitle: A fixed\nstart: 2030-01-01\n---\n");
    state.refresh({"events/a.md"});
    EXPECT_EQ(item(state.site(), "events/a.md")->title, "A fixed");
    EXPECT_FALSE(has_errors(state.site().diagnostics));
}

TEST_F(ContentStateTest, ANewFileThatIsBrokenGivesNoItem) {
    ContentState state(config());
    state.refresh({});
    write("content/events/new.md", "---\nstart: 2030-01-01\n---\n");
    state.refresh({});
    EXPECT_EQ(item(state.site(), "events/new.md"), nullptr);
    EXPECT_TRUE(has_errors(state.site().diagnostics));
}

TEST_F(ContentStateTest, DeletionsAndNewFolders) {
    ContentState state(config());
    state.refresh({});
    fs::remove(dir / "content/events/b.md");
    write("content/events/2031/c.md", "---\ntitle: C\nstart: 2031-01-01\n---\n");
    const auto r = state.refresh({});
    EXPECT_EQ(r.removed, std::vector<std::string>{"events/b.md"});
    EXPECT_EQ(r.read, std::vector<std::string>{"events/2031/c.md"});
    EXPECT_EQ(item(state.site(), "events/b.md"), nullptr);
    EXPECT_NE(item(state.site(), "events/2031/c.md"), nullptr);
    EXPECT_EQ(state.version("events/b.md"), 0u);
}

TEST_F(ContentStateTest, AFolderThatCannotBeListedKeepsItsFiles) {
    write("content/events/sub/c.md", "---\ntitle: C\nstart: 2031-01-01\n---\n");
    ContentState state(config());
    state.refresh({});
    ASSERT_NE(item(state.site(), "events/sub/c.md"), nullptr);
    fs::permissions(dir / "content/events/sub", fs::perms::none);
    for (const auto& folder : {dir, dir / "content", dir / "content/events", dir / "content/blog"})
        fs::permissions(folder, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    // Root reads every folder: list as an unprivileged user (the effective uid decides).
    const bool root = ::geteuid() == 0;
    if (root) {
        ASSERT_EQ(::seteuid(65534), 0);
    }
    const auto r = state.refresh({});
    if (root) {
        ASSERT_EQ(::seteuid(0), 0);
    }
    fs::permissions(dir / "content/events/sub", fs::perms::owner_all);
    EXPECT_TRUE(r.removed.empty());
    EXPECT_TRUE(r.changed());  // the folder's error is new
    const Site site = state.site();
    EXPECT_NE(item(site, "events/sub/c.md"), nullptr) << "unknown is not gone";
    EXPECT_TRUE(has_errors(site.diagnostics));
}

TEST_F(ContentStateTest, ANewSymlinkAloneIsAChangeToReport) {
    ContentState state(config());
    state.refresh({});
    fs::create_directory_symlink("/etc", dir / "content/events/etc");
    const auto r = state.refresh({});
    EXPECT_TRUE(r.read.empty());
    EXPECT_TRUE(r.changed());
    EXPECT_FALSE(state.refresh({}).changed());
}

TEST_F(ContentStateTest, SnapshotsReuseFeedsWhoseInputsDidNotChange) {
    ContentState state(config());
    state.refresh({});
    const auto build = [&](std::shared_ptr<const Snapshot> previous, std::uint64_t generation) {
        SnapshotInput in;
        in.site = std::make_shared<const Site>(state.site());
        in.options = {date::sys_days{date::year{2026} / 1 / 1}, std::nullopt};
        in.generation = generation;
        in.version = [&](const std::string& p) { return state.version(p); };
        in.previous = std::move(previous);
        return build_snapshot(in);
    };
    const auto first = build(nullptr, 1);
    EXPECT_EQ(first->feeds_rendered, 2u);
    // The post's body changes, not its date: the events feed is reused.
    write("content/blog/p.md", "---\ntitle: P\ndate: 2024-01-01\n---\nsecond, longer\n");
    state.refresh({});
    const auto second = build(first, 2);
    EXPECT_EQ(second->feeds_rendered, 1u);
    EXPECT_EQ(second->feeds_reused, 1u);
    EXPECT_EQ(second->documents.at("events.ics"), first->documents.at("events.ics"));
    EXPECT_NE(second->documents.at("blog.rss")->etag, first->documents.at("blog.rss")->etag);
    // A reused document is byte-identical to a fresh build of the same content.
    const auto fresh = build(nullptr, 3);
    for (const auto& [path, rep] : second->documents) EXPECT_EQ(rep->identity->str(), fresh->documents.at(path)->identity->str()) << path;
    // A newer post date moves the blog's "updated", never the events feed's (its own items date it).
    write("content/blog/p.md", "---\ntitle: P\ndate: 2025-01-01\n---\nsecond, longer\n");
    state.refresh({});
    const auto third = build(second, 4);
    EXPECT_EQ(third->feeds_rendered, 1u);
    EXPECT_EQ(third->documents.at("events.ics"), first->documents.at("events.ics"));
}

}  // namespace
}  // namespace almanac
