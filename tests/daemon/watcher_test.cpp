// The watcher against real folders and real inotify (daemon/watcher.cpp), with the io_context on
// two threads as in the daemon. Every wait has a deadline; short sleeps only prove that nothing
// arrives.
#include "daemon/watcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace almanac {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto deadline = 5s;
constexpr auto quiet = 300ms;  // long enough for a debounced callback that should not come

fs::path make_temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "almanac_watch_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
}

void write_file(const fs::path& path, const std::string& text = "text") {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

// Opens and closes `path` for writing: one IN_CLOSE_WRITE, nothing written.
void open_for_writing(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
}

// Polls `condition` (for states with no callback of their own) until it holds or the deadline.
template <typename Condition>
bool eventually(Condition condition) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

class WatcherTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = make_temp_dir();
        for (auto& thread : threads_) thread = std::thread([this] { ioc_.run(); });
    }

    void TearDown() override {
        watcher_.reset();
        work_.reset();
        for (auto& thread : threads_) thread.join();
        std::error_code ignored;
        fs::remove_all(root_, ignored);
        for (const auto& dir : outside_) fs::remove_all(dir, ignored);
    }

    void start(std::chrono::milliseconds debounce = 50ms, std::chrono::milliseconds max_delay = 2s,
               bool force_polling = false) {
        watcher_ = std::make_unique<Watcher>(ioc_, root_.string(), debounce, max_delay, [this](ChangeSet changes) {
            {
                std::lock_guard lock(mutex_);
                received_.push_back(std::move(changes));
            }
            changed_.notify_all();
            if (after_callback_) after_callback_();
        });
        watcher_->start(100ms, force_polling);
    }

    // A folder outside the root, removed at the end.
    fs::path outside_dir() { return outside_.emplace_back(make_temp_dir()); }

    std::set<std::string> reported_locked() const {
        std::set<std::string> paths;
        for (const auto& changes : received_) paths.insert(changes.paths.begin(), changes.paths.end());
        return paths;
    }

    // True once every path of `expected` has been reported.
    bool wait_for(const std::set<std::string>& expected) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, deadline, [&] {
            const auto seen = reported_locked();
            return std::includes(seen.begin(), seen.end(), expected.begin(), expected.end());
        });
    }

    bool wait_for_rescan() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, deadline, [&] {
            return std::any_of(received_.begin(), received_.end(), [](const ChangeSet& c) { return c.rescan; });
        });
    }

    // True once a change set saying that a folder changed has been delivered.
    bool wait_for_folders() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, deadline, [&] {
            return std::any_of(received_.begin(), received_.end(), [](const ChangeSet& c) { return c.folders; });
        });
    }

    std::set<std::string> reported() {
        std::lock_guard lock(mutex_);
        return reported_locked();
    }

    std::size_t callbacks() {
        std::lock_guard lock(mutex_);
        return received_.size();
    }

    void forget_received() {
        std::lock_guard lock(mutex_);
        received_.clear();
    }

    // Holds both io_context threads until the returned object is destroyed, so that events pile up
    // in the kernel's queue and the watcher reads them in one go, in the order they happened.
    std::shared_ptr<void> hold_io_threads() {
        struct Gate {
            std::mutex mutex;
            std::condition_variable cv;
            int held = 0;
            bool released = false;
        };
        auto gate = std::make_shared<Gate>();
        for (int i = 0; i < 2; ++i)
            boost::asio::post(ioc_, [gate] {
                std::unique_lock lock(gate->mutex);
                ++gate->held;
                gate->cv.notify_all();
                gate->cv.wait(lock, [&] { return gate->released; });
            });
        {
            std::unique_lock lock(gate->mutex);
            if (!gate->cv.wait_for(lock, deadline, [&] { return gate->held == 2; }))
                throw std::runtime_error("the io_context threads were not held");
        }
        return std::shared_ptr<void>(nullptr, [gate](void*) {
            {
                std::lock_guard lock(gate->mutex);
                gate->released = true;
            }
            gate->cv.notify_all();
        });
    }

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(ioc_);
    std::thread threads_[2];
    fs::path root_;
    std::vector<fs::path> outside_;
    std::unique_ptr<Watcher> watcher_;
    std::function<void()> after_callback_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<ChangeSet> received_;
};

TEST_F(WatcherTest, ReportsAWrittenFile) {
    start();
    EXPECT_FALSE(watcher_->polling());
    EXPECT_EQ(watcher_->watch_count(), 1u);
    write_file(root_ / "x.md");
    ASSERT_TRUE(wait_for({"x.md"}));
    std::lock_guard lock(mutex_);
    EXPECT_FALSE(received_.front().rescan);
}

TEST_F(WatcherTest, FileEditsAreTheirPathsAloneFolderChangesAskForAListing) {
    // The daemon trusts the paths of a change set without `folders` and lists the tree only for one
    // with it: files written, saved or deleted must not set it; a folder made, emptied or removed must,
    // even when it holds no file to report.
    write_file(root_ / "keep.md");
    start();
    write_file(root_ / "x.md");
    write_file(root_ / ".y.md.tmp");
    fs::rename(root_ / ".y.md.tmp", root_ / "y.md");
    fs::remove(root_ / "keep.md");
    ASSERT_TRUE(wait_for({"x.md", "y.md", "keep.md"}));
    {
        std::lock_guard lock(mutex_);
        for (const auto& changes : received_) EXPECT_FALSE(changes.folders);
    }
    forget_received();
    fs::create_directory(root_ / "empty");
    ASSERT_TRUE(wait_for_folders());
    EXPECT_TRUE(reported().empty());
    forget_received();
    fs::remove(root_ / "empty");
    EXPECT_TRUE(wait_for_folders());
}

TEST_F(WatcherTest, AtomicSaveReportsTheTarget) {
    write_file(root_ / "x.md", "old");
    start();
    write_file(root_ / ".x.md.tmp", "new");
    fs::rename(root_ / ".x.md.tmp", root_ / "x.md");
    ASSERT_TRUE(wait_for({"x.md"}));
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(reported(), std::set<std::string>{"x.md"});
}

TEST_F(WatcherTest, VimStyleSaveReportsOnlyTheFile) {
    write_file(root_ / "x.md", "old");
    start();
    write_file(root_ / "4913");
    fs::remove(root_ / "4913");
    write_file(root_ / ".x.md.swp");
    fs::rename(root_ / "x.md", root_ / "x.md~");
    write_file(root_ / "x.md", "new");
    fs::remove(root_ / "x.md~");
    fs::remove(root_ / ".x.md.swp");
    ASSERT_TRUE(wait_for({"x.md"}));
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(reported(), std::set<std::string>{"x.md"});
}

TEST_F(WatcherTest, ReportsADeletedFile) {
    write_file(root_ / "gone.md");
    start();
    fs::remove(root_ / "gone.md");
    EXPECT_TRUE(wait_for({"gone.md"}));
}

TEST_F(WatcherTest, NewFolderIsWatchedAndItsEarlyFilesReported) {
    start();
    // Written before the watcher can have added a watch on the new folder.
    fs::create_directory(root_ / "blog");
    write_file(root_ / "blog" / "first.md");
    ASSERT_TRUE(wait_for({"blog/first.md"}));
    EXPECT_EQ(watcher_->watch_count(), 2u);
    write_file(root_ / "blog" / "second.md");
    EXPECT_TRUE(wait_for({"blog/second.md"}));
}

TEST_F(WatcherTest, NestedFoldersFromMkdirP) {
    start();
    fs::create_directories(root_ / "a" / "b" / "c");
    write_file(root_ / "a" / "b" / "c" / "deep.md");
    ASSERT_TRUE(wait_for({"a/b/c/deep.md"}));
    EXPECT_TRUE(eventually([&] { return watcher_->watch_count() == 4; }));
    write_file(root_ / "a" / "b" / "later.md");
    EXPECT_TRUE(wait_for({"a/b/later.md"}));
}

TEST_F(WatcherTest, FolderMovedInIsWatchedAndItsFilesReported) {
    const auto outside = outside_dir();
    fs::create_directories(outside / "events" / "2025");
    write_file(outside / "events" / "one.md");
    write_file(outside / "events" / "2025" / "two.md");
    write_file(outside / "events" / ".one.md.swp");
    start();
    fs::rename(outside / "events", root_ / "events");
    ASSERT_TRUE(wait_for({"events/one.md", "events/2025/two.md"}));
    EXPECT_FALSE(reported().contains("events/.one.md.swp"));
    EXPECT_EQ(watcher_->watch_count(), 3u);
    write_file(root_ / "events" / "2025" / "three.md");
    EXPECT_TRUE(wait_for({"events/2025/three.md"}));
}

TEST_F(WatcherTest, FolderMovedOutReportsItsFiles) {
    fs::create_directories(root_ / "blog" / "drafts");
    write_file(root_ / "blog" / "post.md");
    write_file(root_ / "blog" / "drafts" / "draft.md");
    const auto outside = outside_dir();
    start();
    EXPECT_EQ(watcher_->watch_count(), 3u);
    fs::rename(root_ / "blog", outside / "blog");
    ASSERT_TRUE(wait_for({"blog/post.md", "blog/drafts/draft.md"}));
    EXPECT_TRUE(eventually([&] { return watcher_->watch_count() == 1; }));
    forget_received();
    write_file(outside / "blog" / "post.md", "changed outside");
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), 0u);
}

TEST_F(WatcherTest, FolderDeletedReportsItsFiles) {
    fs::create_directories(root_ / "d" / "e");
    write_file(root_ / "d" / "x.md");
    write_file(root_ / "d" / "e" / "y.md");
    start();
    fs::remove_all(root_ / "d");
    ASSERT_TRUE(wait_for({"d/x.md", "d/e/y.md"}));
    EXPECT_TRUE(eventually([&] { return watcher_->watch_count() == 1; }));
}

TEST_F(WatcherTest, FolderRenamedInsideTheTree) {
    fs::create_directories(root_ / "a" / "sub");
    write_file(root_ / "a" / "sub" / "x.md");
    start();
    fs::rename(root_ / "a", root_ / "b");
    ASSERT_TRUE(wait_for({"a/sub/x.md", "b/sub/x.md"}));
    write_file(root_ / "b" / "sub" / "y.md");
    ASSERT_TRUE(wait_for({"b/sub/y.md"}));
    EXPECT_FALSE(reported().contains("a/sub/y.md"));
    EXPECT_EQ(watcher_->watch_count(), 3u);
}

TEST_F(WatcherTest, FolderMovedIntoAFolderNotYetWatchedIsWatchedAtItsNewPlace) {
    // `mkdir archive && mv 2024 archive/`: the move happens before `archive` has a watch, so it is
    // seen only as 2024 leaving the root (and 2024's own IN_MOVE_SELF), while reading `archive`
    // finds a folder whose watch the kernel still has under the old path.
    fs::create_directories(root_ / "2024" / "sub");
    write_file(root_ / "2024" / "x.md");
    write_file(root_ / "2024" / "sub" / "y.md");
    start();
    {
        const auto held = hold_io_threads();
        fs::create_directory(root_ / "archive");
        fs::rename(root_ / "2024", root_ / "archive" / "2024");
    }
    ASSERT_TRUE(wait_for({"2024/x.md", "2024/sub/y.md", "archive/2024/x.md", "archive/2024/sub/y.md"}));
    EXPECT_TRUE(eventually([&] { return watcher_->watch_count() == 4; })) << watcher_->watch_count();
    // Later edits there are seen, under the new paths only.
    forget_received();
    write_file(root_ / "archive" / "2024" / "x.md", "edited");
    write_file(root_ / "archive" / "2024" / "sub" / "z.md");
    ASSERT_TRUE(wait_for({"archive/2024/x.md", "archive/2024/sub/z.md"}));
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(reported(), (std::set<std::string>{"archive/2024/x.md", "archive/2024/sub/z.md"}));
}

TEST_F(WatcherTest, CheckoutLikeChurnReportsEveryPath) {
    fs::create_directory(root_ / "sub");
    for (int i = 0; i < 30; ++i) write_file(root_ / ("f" + std::to_string(i) + ".md"));
    for (int i = 0; i < 5; ++i) write_file(root_ / "sub" / ("s" + std::to_string(i) + ".md"));
    start();
    std::set<std::string> expected;
    for (int i = 0; i < 30; ++i) {
        const std::string name = "f" + std::to_string(i) + ".md";
        expected.insert(name);
        if (i % 3 == 0) {
            fs::remove(root_ / name);
        } else if (i % 3 == 1) {
            fs::remove(root_ / name);
            write_file(root_ / name, "rewritten");
        } else {
            write_file(root_ / ("." + name + ".lock"), "renamed over");
            fs::rename(root_ / ("." + name + ".lock"), root_ / name);
        }
    }
    for (int i = 0; i < 10; ++i) {
        write_file(root_ / ("n" + std::to_string(i) + ".md"));
        expected.insert("n" + std::to_string(i) + ".md");
    }
    fs::rename(root_ / "sub", root_ / "renamed");
    for (int i = 0; i < 5; ++i) {
        expected.insert("sub/s" + std::to_string(i) + ".md");
        expected.insert("renamed/s" + std::to_string(i) + ".md");
    }
    ASSERT_TRUE(wait_for(expected));
    std::this_thread::sleep_for(quiet);
    for (const auto& path : reported()) EXPECT_TRUE(expected.contains(path)) << path;
}

TEST_F(WatcherTest, BurstGivesOneCallbackWithEveryPath) {
    start(200ms, 5s);
    std::set<std::string> expected;
    for (int i = 0; i < 50; ++i) {
        const std::string name = "burst" + std::to_string(i) + ".md";
        write_file(root_ / name);
        expected.insert(name);
    }
    ASSERT_TRUE(wait_for(expected));
    std::this_thread::sleep_for(quiet);
    EXPECT_LE(callbacks(), 2u);
}

TEST_F(WatcherTest, MaxDelayBoundsALongBurst) {
    start(150ms, 400ms);
    std::set<std::string> expected;
    // Events every 30 ms for 1.5 s: the debounce alone would wait for the end.
    for (int i = 0; i < 50; ++i) {
        const std::string name = "steady" + std::to_string(i) + ".md";
        write_file(root_ / name);
        expected.insert(name);
        std::this_thread::sleep_for(30ms);
    }
    EXPECT_GE(callbacks(), 1u);
    EXPECT_TRUE(wait_for(expected));
}

TEST_F(WatcherTest, EditorFilesAreNotReported) {
    start();
    write_file(root_ / ".x.md.swp");
    write_file(root_ / "x.md~");
    write_file(root_ / "#x.md#");
    write_file(root_ / "4913");
    write_file(root_ / ".#x.md");
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), 0u);
    write_file(root_ / "x.md");
    ASSERT_TRUE(wait_for({"x.md"}));
    EXPECT_EQ(reported(), std::set<std::string>{"x.md"});
}

TEST_F(WatcherTest, GitFolderIsNotWatched) {
    fs::create_directories(root_ / ".git" / "objects");
    start();
    EXPECT_EQ(watcher_->watch_count(), 1u);
    write_file(root_ / ".git" / "index");
    write_file(root_ / ".git" / "objects" / "ab");
    fs::create_directories(root_ / ".cache" / "inner");
    write_file(root_ / ".cache" / "inner" / "x.md");
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), 0u);
    EXPECT_EQ(watcher_->watch_count(), 1u);
}

TEST_F(WatcherTest, SymlinkedFolderIsNotFollowed) {
    const auto outside = outside_dir();
    fs::create_directory_symlink(outside, root_ / "link");
    start();
    EXPECT_EQ(watcher_->watch_count(), 1u);
    fs::create_directory_symlink(outside, root_ / "link2");
    ASSERT_TRUE(wait_for({"link2"}));  // a new entry of the root, reported as such, never entered
    EXPECT_EQ(watcher_->watch_count(), 1u);
    forget_received();
    write_file(outside / "x.md");
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), 0u);
}

TEST_F(WatcherTest, RootMayBeASymlink) {
    const auto outside = outside_dir();
    fs::create_directory(outside / "real");
    fs::remove(root_);
    fs::create_directory_symlink(outside / "real", root_);
    start();
    EXPECT_FALSE(watcher_->polling());
    write_file(outside / "real" / "x.md");
    EXPECT_TRUE(wait_for({"x.md"}));
}

TEST_F(WatcherTest, OddNames) {
    start();
    const std::string spaced = "with space.md", accented = "caf\xc3\xa9 \xe2\x98\x95.md", newline = "new\nline.md";
    fs::create_directory(root_ / "dir with space");
    write_file(root_ / spaced);
    write_file(root_ / accented);
    write_file(root_ / newline);
    write_file(root_ / "dir with space" / accented);
    EXPECT_TRUE(wait_for({spaced, accented, newline, "dir with space/" + accented}));
}

TEST_F(WatcherTest, FoldersCreatedAndDeletedQuicklyLeaveNoStaleWatches) {
    start();
    for (int i = 0; i < 50; ++i) {
        fs::create_directories(root_ / "q" / "a" / "b" / "c");
        write_file(root_ / "q" / "a" / "b" / "c" / "f.md");
        fs::remove_all(root_ / "q");
    }
    write_file(root_ / "after.md");
    ASSERT_TRUE(wait_for({"after.md"}));
    EXPECT_TRUE(eventually([&] { return watcher_->watch_count() == 1; }));
}

TEST_F(WatcherTest, PermissionDeniedFolderIsSkippedUntilReadable) {
    if (geteuid() == 0) GTEST_SKIP() << "root reads every folder";
    fs::create_directory(root_ / "locked");
    write_file(root_ / "locked" / "x.md");
    fs::permissions(root_ / "locked", fs::perms::none);
    start();
    EXPECT_EQ(watcher_->watch_count(), 1u);
    write_file(root_ / "open.md");
    ASSERT_TRUE(wait_for({"open.md"}));
    fs::permissions(root_ / "locked", fs::perms::owner_all);
    ASSERT_TRUE(wait_for({"locked/x.md"}));
    EXPECT_EQ(watcher_->watch_count(), 2u);
}

TEST_F(WatcherTest, QueueOverflowAsksForARescan) {
    std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
    long limit = 0;
    limit_file >> limit;
    if (limit <= 0 || limit > 100000) GTEST_SKIP() << "max_queued_events is " << limit;
    start();
    {
        const auto held = hold_io_threads();  // so that the kernel's queue fills up
        // Alternating files, since the kernel merges identical consecutive events.
        const std::string a = (root_ / "a.md").string(), b = (root_ / "b.md").string();
        for (long i = 0; i < limit / 2 + 1000; ++i)
            for (const auto* path : {&a, &b}) open_for_writing(*path);
    }

    ASSERT_TRUE(wait_for_rescan());
    write_file(root_ / "after.md");
    EXPECT_TRUE(wait_for({"after.md"}));
    EXPECT_EQ(watcher_->watch_count(), 1u);
}

TEST_F(WatcherTest, RootDeletedAsksForARescanAndIsWatchedAgainWhenBack) {
    write_file(root_ / "x.md");
    start();
    fs::remove_all(root_);
    ASSERT_TRUE(wait_for_rescan());
    EXPECT_TRUE(reported().contains("x.md"));
    EXPECT_TRUE(eventually([&] { return watcher_->polling(); }));
    forget_received();
    fs::create_directory(root_);
    ASSERT_TRUE(eventually([&] { return !watcher_->polling(); }));
    EXPECT_TRUE(wait_for_rescan());  // whatever happened while it was gone
    write_file(root_ / "back.md");
    EXPECT_TRUE(wait_for({"back.md"}));
}

TEST_F(WatcherTest, CallbackExceptionIsCaught) {
    after_callback_ = [] { throw std::runtime_error("rebuild failed"); };
    start();
    write_file(root_ / "one.md");
    ASSERT_TRUE(wait_for({"one.md"}));
    write_file(root_ / "two.md");
    EXPECT_TRUE(wait_for({"two.md"}));
}

TEST_F(WatcherTest, StopPreventsFurtherCallbacks) {
    start();
    write_file(root_ / "before.md");
    ASSERT_TRUE(wait_for({"before.md"}));
    watcher_->stop();
    const auto seen = callbacks();
    write_file(root_ / "after.md");
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), seen);
    EXPECT_FALSE(reported().contains("after.md"));
}

TEST_F(WatcherTest, StopFromInsideTheCallback) {
    // Not through watcher_, which TearDown resets while this callback may still be running.
    std::atomic<Watcher*> watcher = nullptr;
    after_callback_ = [&watcher] { watcher.load()->stop(); };
    start();
    watcher = watcher_.get();
    write_file(root_ / "one.md");
    ASSERT_TRUE(wait_for({"one.md"}));
    write_file(root_ / "two.md");
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), 1u);
}

TEST_F(WatcherTest, StopBeforeTheBurstIsDelivered) {
    start(200ms, 5s);
    write_file(root_ / "pending.md");
    watcher_->stop();
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(callbacks(), 0u);
}

TEST_F(WatcherTest, PollingDetectsWriteNewFileAndDelete) {
    write_file(root_ / "old.md", "old");
    write_file(root_ / "doomed.md");
    fs::create_directory(root_ / ".git");
    start(50ms, 2s, true);
    EXPECT_TRUE(watcher_->polling());
    EXPECT_EQ(watcher_->watch_count(), 0u);

    write_file(root_ / "old.md", "changed text");
    ASSERT_TRUE(wait_for({"old.md"}));
    fs::create_directories(root_ / "blog");
    write_file(root_ / "blog" / "new.md");
    write_file(root_ / ".git" / "index");
    write_file(root_ / "blog" / ".new.md.swp");
    ASSERT_TRUE(wait_for({"blog/new.md"}));
    fs::remove(root_ / "doomed.md");
    ASSERT_TRUE(wait_for({"doomed.md"}));
    EXPECT_EQ(reported(), (std::set<std::string>{"old.md", "blog/new.md", "doomed.md"}));
    // Polling sees files only: what it finds asks for a listing too.
    std::lock_guard lock(mutex_);
    for (const auto& changes : received_) EXPECT_TRUE(changes.folders);
}

bool write_proc(const char* path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.close();
    return !out.fail();
}

// Runs `body` in a child process inside a new user namespace whose inotify watch limit is `limit`,
// so that the limit can be reached without touching the host's. 77 when that cannot be set up.
int run_with_watch_limit(int limit, int (*body)()) {
    const pid_t pid = fork();
    if (pid < 0) return 77;
    if (pid == 0) {
        const auto uid = std::to_string(getuid()), gid = std::to_string(getgid());
        if (unshare(CLONE_NEWUSER) != 0 || !write_proc("/proc/self/setgroups", "deny") ||
            !write_proc("/proc/self/uid_map", "0 " + uid + " 1") || !write_proc("/proc/self/gid_map", "0 " + gid + " 1") ||
            !write_proc("/proc/sys/user/max_inotify_watches", std::to_string(limit)))
            _exit(77);
        _exit(body());
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 77;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A watcher on a single-threaded io_context in the child, with its log captured.
struct LimitedWatcher {
    LimitedWatcher() : root(make_temp_dir()) {
        spdlog::set_default_logger(
            std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
    }
    ~LimitedWatcher() { fs::remove_all(root); }

    void start() {
        watcher = std::make_unique<Watcher>(ioc, root.string(), 20ms, 1s, [this](ChangeSet changes) {
            rescan = rescan || changes.rescan;
            paths.merge(changes.paths);
        });
        watcher->start(50ms);
    }

    bool run_until(const std::function<bool()>& done) {
        const auto end = std::chrono::steady_clock::now() + deadline;
        while (!done() && std::chrono::steady_clock::now() < end) ioc.run_one_for(50ms);
        return done();
    }

    // The fallback is announced in one line, naming the knob and how to turn it.
    bool warned_once() const {
        const std::string text = log.str();
        return std::count(text.begin(), text.end(), '\n') == 1 &&
               text.find("sysctl fs.inotify.max_user_watches=") != std::string::npos;
    }

    boost::asio::io_context ioc;
    fs::path root;
    std::ostringstream log;
    std::unique_ptr<Watcher> watcher;
    std::set<std::string> paths;
    bool rescan = false;
};

int limit_reached_at_start() {
    LimitedWatcher w;
    fs::create_directories(w.root / "a" / "b" / "c" / "d");
    w.start();
    if (!w.watcher->polling() || w.watcher->watch_count() != 0) return 1;
    if (!w.warned_once()) return 2;
    write_file(w.root / "a" / "b" / "c" / "d" / "x.md");
    return w.run_until([&] { return w.paths.contains("a/b/c/d/x.md"); }) ? 0 : 3;
}

int limit_reached_later() {
    LimitedWatcher w;
    w.start();
    if (w.watcher->polling() || w.watcher->watch_count() != 1) return 1;
    fs::create_directories(w.root / "a" / "b" / "c" / "d");
    if (!w.run_until([&] { return w.rescan; }) || !w.watcher->polling()) return 2;
    if (!w.warned_once()) return 3;
    write_file(w.root / "a" / "b" / "c" / "d" / "y.md");
    return w.run_until([&] { return w.paths.contains("a/b/c/d/y.md"); }) ? 0 : 4;
}

TEST(WatchLimit, ReachedAtStartFallsBackToPollingWithOneWarning) {
    const int result = run_with_watch_limit(3, limit_reached_at_start);
    if (result == 77) GTEST_SKIP() << "cannot lower the inotify watch limit in a user namespace";
    EXPECT_EQ(result, 0);
}

TEST(WatchLimit, ReachedLaterFallsBackToPollingAndAsksForARescan) {
    const int result = run_with_watch_limit(3, limit_reached_later);
    if (result == 77) GTEST_SKIP() << "cannot lower the inotify watch limit in a user namespace";
    EXPECT_EQ(result, 0);
}

}  // namespace
}  // namespace almanac
