// Whole-site tests: the shared todogroup corpus and the invalid fixture, read from disk.
#include "daemon/site_loader.hpp"
#include "config/config_loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
    const auto loaded = load_config(ALMANAC_SOURCE_DIR "/examples/almanac.yaml");
    ASSERT_TRUE(loaded.config) << (loaded.diagnostics.empty() ? "" : format_text(loaded.diagnostics[0]));
    const Site site = load_site(*loaded.config);
    for (const auto& d : site.diagnostics) EXPECT_NE(d.severity, Severity::error) << format_text(d);

    EXPECT_EQ(count_section(site, "events"), 12u);
    EXPECT_EQ(count_section(site, "meetups"), 6u);      // four pages and two entries of touchpoints.yaml
    EXPECT_EQ(count_section(site, "blog"), 136u);       // _index.md is a section page
    EXPECT_EQ(count_section(site, "newsletter"), 43u);  // only YYYY-MM-DD.md at the top, by the include glob
    EXPECT_EQ(count_section(site, "pages"), 2u);

    const Item* news = find_item(site, "newsletter/2025-06-02.md");
    ASSERT_NE(news, nullptr);
    EXPECT_EQ(news->title, "OSPO Newsletter 39");
    EXPECT_EQ(news->permalink, "https://github.com/todogroup/ospology/blob/main/newsletter/2025-06-02.md");
    EXPECT_NE(news->html.find("<table"), std::string::npos) << "the sanitizer keeps a newsletter's table";

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

// A content dir with an `events` section, removed at the end of the test.
class ContentDir {
public:
    ContentDir() : root_(fs::temp_directory_path() / ("almanac-hostile-" + std::to_string(::getpid()))) {
        fs::remove_all(root_);
        fs::create_directories(root_ / "content/events");
        // Readable by the unprivileged user the permission tests switch to.
        fs::permissions(root_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                   fs::perms::others_read | fs::perms::others_exec);
        config_ = default_config(root_.string());
        complete_config(config_, {"events"});
    }
    ~ContentDir() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    ContentDir(const ContentDir&) = delete;
    ContentDir& operator=(const ContentDir&) = delete;

    fs::path path(const std::string& rel) const { return root_ / "content/events" / rel; }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories(path(rel).parent_path());
        std::ofstream(path(rel), std::ios::binary) << text;
    }
    const SiteConfig& config() const { return config_; }
    ContentFile file(const std::string& rel) const {
        return {"events/" + rel, path(rel).string(), "content/events/" + rel, &config_.content.sections.at(0), FileRole::markdown, {}};
    }

private:
    fs::path root_;
    SiteConfig config_;
};

const std::string event_text = "---\ntitle: A\nstart: 2025-01-01\n---\n";

std::vector<std::string> paths_of(const ContentListing& listing) {
    std::vector<std::string> out;
    for (const auto& f : listing.files) out.push_back(f.path);
    return out;
}

std::string messages_of(const Diagnostics& diagnostics) {
    std::string out;
    for (const auto& d : diagnostics) out += format_text(d) + "\n";
    return out;
}

// Lowers the soft limit on open files for one scope (the hard limit stays, so it can come back).
class OpenFileLimit {
public:
    explicit OpenFileLimit(rlim_t soft) {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        rlimit lowered = saved_;
        lowered.rlim_cur = soft;
        ::setrlimit(RLIMIT_NOFILE, &lowered);
    }
    ~OpenFileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    OpenFileLimit(const OpenFileLimit&) = delete;
    OpenFileLimit& operator=(const OpenFileLimit&) = delete;

private:
    rlimit saved_{};
};

// The number of file descriptors this process has open.
rlim_t open_descriptors() {
    rlim_t n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
    return n - 1;  // the iterator's own
}

TEST(SiteLoader, DeepFoldersNeedOneDescriptorAtATime) {
    // recursive_directory_iterator keeps every folder on the way open: 400 levels need 400 files.
    ContentDir dir;
    fs::path deep = "d";
    for (int i = 1; i < 400; ++i) deep /= "d";
    dir.write((deep / "deep.md").string(), event_text);
    dir.write("top.md", event_text);
    ContentListing listing;
    {
        const OpenFileLimit limit(open_descriptors() + 64);
        listing = list_content(dir.config());
    }
    EXPECT_EQ(messages_of(listing.diagnostics), "");
    EXPECT_TRUE(listing.unlisted.empty());
    const std::vector<std::string> expected{"events/" + (deep / "deep.md").generic_string(), "events/top.md"};
    EXPECT_EQ(paths_of(listing), expected);
}

TEST(SiteLoader, RunningOutOfDescriptorsThrowsInsteadOfLosingFiles) {
#if defined(__SANITIZE_ADDRESS__)
    // With every descriptor taken, UBSan's vptr check (which reads the process's maps) misreads
    // std::error_category as "invalid vptr": a report about the sanitizer's own starvation.
    GTEST_SKIP() << "needs descriptors the sanitizer runtime also uses; covered by the plain build";
#endif
    // A listing that silently stopped short would make the daemon drop every file it missed.
    ContentDir dir;
    dir.write("a.md", event_text);
    const auto file = dir.file("a.md");
    const OpenFileLimit limit(open_descriptors() + 16);
    std::vector<int> hogs;  // every descriptor left, so that the next open fails with EMFILE
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) hogs.push_back(fd);
    EXPECT_THROW(list_content(dir.config()), std::runtime_error);
    EXPECT_THROW(content_folders(dir.config().content.dir), std::runtime_error);
    EXPECT_THROW(read_content_file(file, dir.config()), std::runtime_error);
    for (const int fd : hogs) ::close(fd);
}

TEST(SiteLoader, UnreadableFolderIsAnErrorAndItsSiblingsAreListed) {
    ContentDir dir;
    dir.write("locked/hidden.md", event_text);
    dir.write("open.md", event_text);
    fs::permissions(dir.path("locked"), fs::perms::none);
    // As root, permissions do not apply: list as an unprivileged user (the effective uid decides).
    const bool root = ::geteuid() == 0;
    if (root) {
        ASSERT_EQ(::seteuid(65534), 0);
    }
    const auto listing = list_content(dir.config());
    if (root) {
        ASSERT_EQ(::seteuid(0), 0);
    }
    fs::permissions(dir.path("locked"), fs::perms::owner_all);
    EXPECT_EQ(paths_of(listing), (std::vector<std::string>{"events/open.md"}));
    EXPECT_EQ(listing.unlisted, (std::vector<std::string>{"events/locked"}));
    ASSERT_EQ(listing.diagnostics.size(), 1u) << messages_of(listing.diagnostics);
    EXPECT_EQ(listing.diagnostics[0].severity, Severity::error);
    EXPECT_EQ(listing.diagnostics[0].path, "content/events/locked");
    EXPECT_EQ(listing.diagnostics[0].message, "cannot list: Permission denied; the files below it are not read");
}

TEST(SiteLoader, SpecialFilesAreWarnedAndNeverOpened) {
    ContentDir dir;
    dir.write("good.md", event_text);
    ASSERT_EQ(::mkfifo(dir.path("fifo.md").c_str(), 0644), 0);
    fs::create_directories(dir.path("folder.md"));
    const Site site = load_site(dir.config());
    EXPECT_EQ(site.items.size(), 1u);
    ASSERT_EQ(site.diagnostics.size(), 1u) << messages_of(site.diagnostics);
    EXPECT_EQ(site.diagnostics[0].path, "content/events/fifo.md");
    EXPECT_EQ(site.diagnostics[0].severity, Severity::warning);
    EXPECT_EQ(site.diagnostics[0].message, "a FIFO, not a regular file: ignored");
}

TEST(SiteLoader, ReadingAFifoDoesNotWaitForAWriter) {
    // A file replaced by a FIFO after the listing: opening it for reading must not block.
    ContentDir dir;
    ASSERT_EQ(::mkfifo(dir.path("x.md").c_str(), 0644), 0);
    const auto file = dir.file("x.md");
    auto read = std::async(std::launch::async, [&] { return read_content_file(file, dir.config()); });
    if (read.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        const int writer = ::open(dir.path("x.md").c_str(), O_WRONLY | O_NONBLOCK);  // unblocks the reader
        read.wait();
        if (writer >= 0) ::close(writer);
        FAIL() << "read_content_file blocked on a FIFO";
    }
    const auto parsed = read.get();
    EXPECT_TRUE(parsed.items.empty());
    ASSERT_EQ(parsed.diagnostics.size(), 1u);
    EXPECT_EQ(parsed.diagnostics[0].message, "not a regular file");
}

TEST(SiteLoader, SymlinkInPlaceOfAListedFileIsNotFollowed) {
    ContentDir dir;
    fs::create_symlink("/etc/passwd", dir.path("x.md"));
    const auto parsed = read_content_file(dir.file("x.md"), dir.config());
    ASSERT_EQ(parsed.diagnostics.size(), 1u);
    EXPECT_EQ(parsed.diagnostics[0].message, "symbolic link not followed");
}

TEST(SiteLoader, ListingWithoutStampsFindsTheSameEntries) {
    // Types from readdir instead of lstat: the same files, the same reported entries and folders.
    ContentDir dir;
    dir.write("a.md", event_text);
    dir.write("deep/b.md", event_text);
    dir.write("c.yaml", "events: []\n");
    ASSERT_EQ(::mkfifo(dir.path("fifo.md").c_str(), 0644), 0);
    fs::create_symlink("/etc/passwd", dir.path("link.md"));
    fs::create_directories(dir.path(".hidden"));
    dir.write(".hidden/x.md", event_text);
    const auto stamped = list_content(dir.config());
    const auto unstamped = list_content(dir.config(), ListingStamps::no);
    EXPECT_EQ(paths_of(unstamped), paths_of(stamped));
    EXPECT_EQ(paths_of(stamped), (std::vector<std::string>{"events/a.md", "events/c.yaml", "events/deep/b.md"}));
    EXPECT_EQ(messages_of(unstamped.tree_diagnostics()), messages_of(stamped.tree_diagnostics()));
    EXPECT_EQ(unstamped.entry_diagnostics.size(), 2u) << messages_of(unstamped.tree_diagnostics());
    for (std::size_t i = 0; i < stamped.files.size() && i < unstamped.files.size(); ++i) {
        EXPECT_EQ(unstamped.files[i].role, stamped.files[i].role) << stamped.files[i].path;
        EXPECT_NE(stamped.files[i].stamp, FileStamp{}) << stamped.files[i].path;
        EXPECT_EQ(unstamped.files[i].stamp, FileStamp{}) << unstamped.files[i].path;
        EXPECT_TRUE(unstamped.files[i].unstamped);
        EXPECT_FALSE(stamped.files[i].unstamped);
    }
}

TEST(SiteLoader, AFileGoneSinceAnUnstampedListingIsLeftOutSilently) {
    // A listing with lstat leaves out what is gone by then; one without finds it gone on reading.
    ContentDir dir;
    ContentFile file = dir.file("gone.md");
    const auto stamped = read_content_file(file, dir.config());
    ASSERT_EQ(stamped.diagnostics.size(), 1u);
    EXPECT_EQ(stamped.diagnostics[0].severity, Severity::error);
    file.unstamped = true;
    const auto unstamped = read_content_file(file, dir.config());
    EXPECT_TRUE(unstamped.items.empty());
    EXPECT_TRUE(unstamped.diagnostics.empty()) << messages_of(unstamped.diagnostics);
    // Any other failure is still said.
    fs::create_symlink("/etc/passwd", dir.path("gone.md"));
    const auto link = read_content_file(file, dir.config());
    ASSERT_EQ(link.diagnostics.size(), 1u);
    EXPECT_EQ(link.diagnostics[0].message, "symbolic link not followed");
}

TEST(SiteLoader, FilesOverTheLimitAreTooLarge) {
    ContentDir dir;
    std::string text = event_text;
    text.resize(max_content_file_bytes, 'x');
    dir.write("limit.md", text);
    text += 'x';
    dir.write("over.md", text);
    EXPECT_FALSE(has_errors(read_content_file(dir.file("limit.md"), dir.config()).diagnostics));
    const auto over = read_content_file(dir.file("over.md"), dir.config());
    ASSERT_EQ(over.diagnostics.size(), 1u);
    EXPECT_EQ(over.diagnostics[0].path, "content/events/over.md");
    EXPECT_EQ(over.diagnostics[0].message, "file too large: 1048577 bytes (the limit is 1 MiB)");
}

}  // namespace
}  // namespace almanac
