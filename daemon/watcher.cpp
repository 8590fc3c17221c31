// Watching the content tree with MPD's three layers: the inotify fd read on a strand (InotifyEvent),
// the recursive watches that know each folder's path and files (WatchTree, MPD's InotifyUpdate), and
// the debounced change queue (ChangeQueue, MPD's InotifyQueue); polling when inotify cannot cover it.
#include "daemon/watcher.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "daemon/fs_change.hpp"
#include "daemon/site_loader.hpp"
#include "feeds/content.hpp"

namespace almanac {
namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string child_path(const std::string& dir, std::string_view name) {
    return dir.empty() ? std::string(name) : dir + '/' + std::string(name);
}

std::string absolute_path(const std::string& root, const std::string& relative) {
    return relative.empty() ? root : root + '/' + relative;
}

struct DirEntry {
    std::string name;
    struct stat info;
};

// The entries of folder `path`, not following symlinks; none when it cannot be read (deleted
// meanwhile, permission denied), which only means that part of the tree is not seen.
std::vector<DirEntry> read_dir(const std::string& path) {
    std::vector<DirEntry> entries;
    const std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
    if (!dir) {
        spdlog::debug("watcher: skipping {}: {}", path, errno_text(errno));
        return entries;
    }
    while (const dirent* entry = readdir(dir.get())) {
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        DirEntry e{std::string(name), {}};
        // A failure here is an entry deleted since readdir: its own event reports it.
        if (fstatat(dirfd(dir.get()), entry->d_name, &e.info, AT_SYMLINK_NOFOLLOW) == 0) entries.push_back(std::move(e));
    }
    return entries;
}

// A file created by a hard link or as a symlink gets no IN_CLOSE_WRITE: its content is final now.
bool content_is_final(const std::string& path) {
    struct stat info;
    return lstat(path.c_str(), &info) == 0 && (!S_ISREG(info.st_mode) || info.st_nlink > 1);
}

using TreeStamps = std::map<std::string, FileStamp>;

// Every file below `root` with its stamp, by the same rules as the watches: ignored names skipped,
// symlinked folders not entered, and each folder entered once (a bind mount can make a cycle).
TreeStamps walk_tree(const std::string& root) {
    TreeStamps files;
    struct stat root_info;
    if (stat(root.c_str(), &root_info) != 0 || !S_ISDIR(root_info.st_mode)) return files;
    std::set<std::pair<dev_t, ino_t>> entered{{root_info.st_dev, root_info.st_ino}};
    std::vector<std::string> pending{""};
    while (!pending.empty()) {
        const std::string folder = std::move(pending.back());
        pending.pop_back();
        for (const auto& e : read_dir(absolute_path(root, folder))) {
            if (is_ignored_name(e.name)) continue;
            std::string path = child_path(folder, e.name);
            if (!S_ISDIR(e.info.st_mode)) {
                files.emplace(std::move(path), FileStamp{e.info.st_mtim.tv_sec * 1'000'000'000LL + e.info.st_mtim.tv_nsec,
                                                         static_cast<std::uint64_t>(e.info.st_size), e.info.st_ino});
            } else if (entered.insert({e.info.st_dev, e.info.st_ino}).second) {
                pending.push_back(std::move(path));
            }
        }
    }
    return files;
}

// The files that differ between two walks: new, changed or gone.
ChangeSet compare_walks(const TreeStamps& before, const TreeStamps& after) {
    ChangeSet changes;
    for (const auto& [path, stamp] : after) {
        const auto old = before.find(path);
        if (old == before.end() || !(old->second == stamp)) changes.paths.insert(path);
    }
    for (const auto& [path, stamp] : before)
        if (!after.contains(path)) changes.paths.insert(path);
    changes.folders = !changes.paths.empty();
    return changes;
}

std::uint64_t read_proc_number(const char* path) {
    std::ifstream in(path);
    std::uint64_t value = 0;
    in >> value;
    return value;
}

// The recursive watches (MPD's InotifyUpdate): one per folder, each knowing its path and the files
// seen in it, so that a folder renamed away can still be reported file by file.
class WatchTree {
public:
    enum class Outcome { ok,
                         watch_limit,
                         root_lost };

    explicit WatchTree(std::string root) : root_(std::move(root)) {}

    // Watches the root and every folder below it on inotify instance `fd`, reporting nothing (the
    // caller has just read the tree). watch_limit or root_lost leave the reason in error().
    Outcome watch_all(int fd) {
        fd_ = fd;
        folders_.clear();
        ChangeSet unreported;
        return add_tree(no_parent, "", unreported, false);
    }

    // Applies one event: adds or drops watches and records in `out` the paths it touches.
    Outcome apply(const InotifyRecord& event, ChangeSet& out) {
        const FsAction action = classify_inotify_event(event.mask, event.name);
        if (action == FsAction::rescan) {
            out.rescan = true;
            return resync();
        }
        const auto it = folders_.find(event.wd);
        if (action == FsAction::ignore || it == folders_.end()) return Outcome::ok;  // or a watch already dropped
        Folder& folder = it->second;
        const std::string name(event.name);
        const std::string path = child_path(folder.path, name);
        switch (action) {
            case FsAction::ignore:
            case FsAction::rescan:
                break;
            case FsAction::watch_gone:
                if (event.wd == root_wd_) return Outcome::root_lost;
                out.folders = true;
                drop_tree(event.wd, out);
                break;
            case FsAction::watch_moved:
                // Below the root, the parent's IN_MOVED_FROM has already reported the move, and the folder
                // may since have been found at its new place (add_tree): dropping it now would lose that.
                if (event.wd == root_wd_) return Outcome::root_lost;
                break;
            case FsAction::file_changed:
                folder.files.insert(name);
                out.paths.insert(path);
                break;
            case FsAction::file_created:
                folder.files.insert(name);
                if (content_is_final(absolute_path(root_, path))) out.paths.insert(path);
                break;
            case FsAction::file_removed:
                folder.files.erase(name);
                out.paths.insert(path);
                break;
            case FsAction::dir_added:
                out.folders = true;
                return add_tree(event.wd, name, out, true);
            case FsAction::dir_removed:
                out.folders = true;
                if (const auto child = folder.subdirs.find(name); child != folder.subdirs.end()) drop_tree(child->second, out);
                break;
        }
        return Outcome::ok;
    }

    // Forgets every watch; closing the inotify fd is what removes them from the kernel.
    void clear() {
        folders_.clear();
        fd_ = -1;
    }

    std::size_t size() const { return folders_.size(); }
    int error() const { return error_; }

private:
    static constexpr int no_parent = -1;

    struct Folder {
        std::string path;  // relative to the root; empty for the root
        int parent_wd = no_parent;
        std::map<std::string, int> subdirs;  // name → watch descriptor
        std::set<std::string> files;         // names, without ignored ones
    };

    // Watches folder `name` of `parent_wd` and everything below it, reporting the files found when
    // `report`. Each folder is watched before it is read, so an entry made after the read still
    // gives an event: files written into a new folder before its watch existed are found here.
    Outcome add_tree(int parent_wd, const std::string& name, ChangeSet& out, bool report) {
        std::vector<int> moved;  // watches forgotten at their old place, to be found again below
        const Outcome outcome = watch_folders(parent_wd, name, out, report, moved);
        // The kernel keeps watching a moved folder that was not found again (moved on meanwhile).
        for (const int wd : moved)
            if (!folders_.contains(wd)) inotify_rm_watch(fd_, wd);
        return outcome;
    }

    // add_tree's walk; `moved` collects the watches of folders found here under an older path.
    Outcome watch_folders(int parent_wd, const std::string& name, ChangeSet& out, bool report, std::vector<int>& moved) {
        std::vector<std::pair<int, std::string>> pending{{parent_wd, name}};
        while (!pending.empty()) {
            auto [up, entry] = std::move(pending.back());
            pending.pop_back();
            const auto parent = folders_.find(up);
            if (up != no_parent && parent == folders_.end()) continue;
            const std::string path = up == no_parent ? std::string() : child_path(parent->second.path, entry);
            // The root may itself be a symlink to the content; below it, symlinks are not followed.
            const std::uint32_t mask = up == no_parent ? watch_mask() & ~IN_DONT_FOLLOW : watch_mask();
            const int wd = inotify_add_watch(fd_, absolute_path(root_, path).c_str(), mask);
            if (wd < 0) {
                error_ = errno;
                if (error_ == ENOSPC) return Outcome::watch_limit;
                if (up == no_parent) return Outcome::root_lost;
                spdlog::debug("watcher: not watching {}: {}", absolute_path(root_, path), errno_text(error_));
                continue;
            }
            if (up != no_parent) {
                // A folder renamed over an empty one replaces it under the same name.
                const auto old = parent->second.subdirs.find(entry);
                if (old != parent->second.subdirs.end() && old->second != wd) drop_tree(old->second, out);
            }
            if (const auto known = folders_.find(wd); known != folders_.end()) {
                // Watched here already: its events keep it current.
                if (known->second.parent_wd == up && known->second.path == path) continue;
                // Watched higher up this same path: a bind mount making a cycle, not entered again.
                if (is_at_or_above(wd, up)) continue;
                // Watched under its old path: moved here while this folder had no watch yet (`mkdir
                // archive && mv 2024 archive/`), the move seen only as it leaving its old parent. Its
                // records move here; the kernel's watches stay, and the walk below finds them again.
                const auto forgotten = forget_tree(wd, out);
                moved.insert(moved.end(), forgotten.begin(), forgotten.end());
            }
            if (up == no_parent) root_wd_ = wd;
            else parent->second.subdirs[entry] = wd;
            Folder& folder = folders_.emplace(wd, Folder{path, up, {}, {}}).first->second;
            for (const auto& e : read_dir(absolute_path(root_, path))) {
                if (is_ignored_name(e.name)) continue;
                if (S_ISDIR(e.info.st_mode)) {
                    pending.emplace_back(wd, e.name);
                    continue;
                }
                folder.files.insert(e.name);
                if (report) out.paths.insert(child_path(path, e.name));
            }
        }
        return Outcome::ok;
    }

    // True when folder `wd` is folder `from` or one of its ancestors.
    bool is_at_or_above(int wd, int from) const {
        for (int at = from; at != no_parent;) {
            if (at == wd) return true;
            const auto it = folders_.find(at);
            if (it == folders_.end()) return false;
            at = it->second.parent_wd;
        }
        return false;
    }

    // Forgets folder `top` and everything below it, reporting every file they knew; returns their
    // watch descriptors, whose kernel watches are left as they are.
    std::vector<int> forget_tree(int top, ChangeSet& out) {
        std::vector<int> forgotten;
        const auto it = folders_.find(top);
        if (it == folders_.end()) return forgotten;
        if (const auto parent = folders_.find(it->second.parent_wd); parent != folders_.end())
            std::erase_if(parent->second.subdirs, [top](const auto& child) { return child.second == top; });
        std::vector<int> pending{top};
        while (!pending.empty()) {
            const auto folder = folders_.find(pending.back());
            pending.pop_back();
            if (folder == folders_.end()) continue;
            for (const auto& file : folder->second.files) out.paths.insert(child_path(folder->second.path, file));
            for (const auto& [name, wd] : folder->second.subdirs) pending.push_back(wd);
            forgotten.push_back(folder->first);
            folders_.erase(folder);
        }
        return forgotten;
    }

    // Drops the watches of folder `top` and everything below it, reporting every file they knew.
    void drop_tree(int top, ChangeSet& out) {
        // Fails harmlessly when the kernel already dropped the watch of a deleted folder.
        for (const int wd : forget_tree(top, out)) inotify_rm_watch(fd_, wd);
    }

    // After a queue overflow nothing is known: watch the tree again. Re-adding a watch returns the
    // folder's existing descriptor, so only watches of folders no longer in the tree are removed.
    Outcome resync() {
        const auto before = std::exchange(folders_, {});
        ChangeSet unreported;  // the caller asks for a full rescan
        const Outcome outcome = add_tree(no_parent, "", unreported, false);
        for (const auto& [wd, folder] : before)
            if (!folders_.contains(wd)) inotify_rm_watch(fd_, wd);
        return outcome;
    }

    const std::string root_;
    int fd_ = -1;
    int root_wd_ = -1;
    int error_ = 0;
    std::unordered_map<int, Folder> folders_;
};

// Changes waiting out the debounce (MPD's InotifyQueue): merged as they come, due `debounce` after
// the last one but never later than `max_delay` after the first.
class ChangeQueue {
public:
    ChangeQueue(Clock::duration debounce, Clock::duration max_delay) : debounce_(debounce), max_delay_(max_delay) {}

    void merge(ChangeSet&& changes, Clock::time_point now) {
        if (pending_.empty()) first_ = now;
        last_ = now;
        pending_.paths.merge(changes.paths);
        pending_.rescan = pending_.rescan || changes.rescan;
        pending_.folders = pending_.folders || changes.folders;
    }

    bool empty() const { return pending_.empty(); }
    Clock::time_point due() const { return std::min(last_ + debounce_, first_ + max_delay_); }
    ChangeSet take() { return std::exchange(pending_, {}); }

private:
    const Clock::duration debounce_;
    const Clock::duration max_delay_;
    ChangeSet pending_;
    Clock::time_point first_;
    Clock::time_point last_;
};

}  // namespace

// Everything lives on one strand (the io_context may run on several threads); handlers hold a
// shared_ptr to the state, so it outlives the Watcher until they have all finished.
struct Watcher::State : std::enable_shared_from_this<State> {
    enum class Mode { idle,
                      inotify,
                      polling };

    State(boost::asio::io_context& ioc, std::string root, std::chrono::milliseconds debounce,
          std::chrono::milliseconds max_delay, Callback on_change)
        : strand_(boost::asio::make_strand(ioc)),
          root_(normalized(std::move(root))),
          on_change_(std::move(on_change)),
          inotify_(strand_),
          tree_(root_),
          queue_(debounce, max_delay),
          flush_timer_(strand_),
          poll_timer_(strand_) {}

    // Runs on the caller's thread before any handler exists, so that watching has begun when
    // start() returns.
    void start(std::chrono::milliseconds poll_interval, bool force_polling) {
        if (stopped_ || started_.exchange(true)) return;
        poll_interval_ = poll_interval;
        if (force_polling) {
            spdlog::info("watcher: polling {} every {} ms", root_, poll_interval_.count());
            start_polling(false);
            return;
        }
        watch_or_poll(false);
    }

    // Opens inotify and watches the whole tree, or logs one warning and polls. `lost_events`: changes
    // may have gone unseen before this, so the consumer is asked for a full rescan.
    void watch_or_poll(bool lost_events) {
        const bool was_waiting_for_root = std::exchange(retry_inotify_, false);
        const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        int err = fd < 0 ? errno : 0;
        if (fd >= 0) {
            boost::system::error_code ec;
            inotify_.assign(fd, ec);  // registering with epoll can fail too (fs.epoll.max_user_watches)
            if (ec) {
                ::close(fd);
                err = ec.value();
            }
        }
        if (err != 0) {
            // EMFILE is the per-user instance limit, a different knob from the watch limit.
            if (err == EMFILE) {
                const auto limit = read_proc_number("/proc/sys/fs/inotify/max_user_instances");
                spdlog::warn(
                    "watcher: too many inotify instances (fs.inotify.max_user_instances = {}); polling {} every "
                    "{} ms instead. Raise it with `sysctl fs.inotify.max_user_instances={}`, then restart",
                    limit, root_, poll_interval_.count(), std::max<std::uint64_t>(2 * limit, 1024));
            } else {
                spdlog::warn("watcher: inotify unavailable ({}); polling {} every {} ms instead", errno_text(err), root_,
                             poll_interval_.count());
            }
            start_polling(lost_events);
            return;
        }
        switch (tree_.watch_all(fd)) {
            case WatchTree::Outcome::ok:
                mode_ = Mode::inotify;
                polling_ = false;
                watch_count_ = tree_.size();
                if (lost_events) enqueue(ChangeSet{{}, true});
                read_events();
                return;
            case WatchTree::Outcome::watch_limit:
                warn_watch_limit();
                close_inotify();
                start_polling(lost_events);
                return;
            case WatchTree::Outcome::root_lost:
                if (!was_waiting_for_root)
                    spdlog::warn("watcher: cannot watch {} ({}); polling every {} ms until it can be watched", root_,
                                 errno_text(tree_.error()), poll_interval_.count());
                close_inotify();
                retry_inotify_ = true;
                start_polling(lost_events);
                return;
        }
    }

    void read_events() {
        inotify_.async_read_some(boost::asio::buffer(buffer_),
                                 [self = shared_from_this()](const boost::system::error_code& ec, std::size_t size) {
                                     self->on_events(ec, size);
                                 });
    }

    void on_events(const boost::system::error_code& ec, std::size_t size) {
        if (stopped_ || mode_ != Mode::inotify || ec == boost::asio::error::operation_aborted) return;
        if (ec) {
            spdlog::warn("watcher: reading inotify events failed ({}); polling {} every {} ms instead", ec.message(),
                         root_, poll_interval_.count());
            close_inotify();
            start_polling(true);
            return;
        }
        ChangeSet changes;
        for (const auto& event : decode_inotify_events(std::span<const char>(buffer_.data(), size))) {
            switch (tree_.apply(event, changes)) {
                case WatchTree::Outcome::ok:
                    continue;
                case WatchTree::Outcome::watch_limit:
                    enqueue(std::move(changes));
                    warn_watch_limit();
                    close_inotify();
                    start_polling(true);
                    return;
                case WatchTree::Outcome::root_lost:
                    spdlog::warn(
                        "watcher: {} was deleted or moved away; asking for a full rescan and polling every {} ms "
                        "until it is back",
                        root_, poll_interval_.count());
                    changes.rescan = true;
                    enqueue(std::move(changes));
                    close_inotify();
                    retry_inotify_ = true;
                    start_polling(false);
                    return;
            }
        }
        watch_count_ = tree_.size();
        enqueue(std::move(changes));
        read_events();
    }

    void warn_watch_limit() {
        const auto limit = read_proc_number("/proc/sys/fs/inotify/max_user_watches");
        spdlog::warn(
            "watcher: inotify watch limit reached watching {} (fs.inotify.max_user_watches = {}); polling every "
            "{} ms instead. Raise it with `sysctl fs.inotify.max_user_watches={}` (and a file in "
            "/etc/sysctl.d/ to keep it), then restart",
            root_, limit, poll_interval_.count(), std::max<std::uint64_t>(2 * limit, 524288));
    }

    void close_inotify() {
        boost::system::error_code ignored;
        inotify_.close(ignored);  // also removes every watch from the kernel
        tree_.clear();
        watch_count_ = 0;
    }

    // Takes the walk that later ones are compared with.
    void start_polling(bool lost_events) {
        mode_ = Mode::polling;
        polling_ = true;
        polled_ = walk_tree(root_);
        if (lost_events) enqueue(ChangeSet{{}, true});
        poll_timer_.expires_after(poll_interval_);
        poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) { self->on_poll(ec); });
    }

    void on_poll(const boost::system::error_code& ec) {
        if (ec || stopped_ || mode_ != Mode::polling) return;
        struct stat info;
        if (retry_inotify_ && stat(root_.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
            watch_or_poll(true);
            return;
        }
        auto now = walk_tree(root_);
        enqueue(compare_walks(polled_, now));
        polled_ = std::move(now);
        poll_timer_.expires_after(poll_interval_);
        poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) { self->on_poll(e); });
    }

    void enqueue(ChangeSet&& changes) {
        if (changes.empty() || stopped_) return;
        queue_.merge(std::move(changes), Clock::now());
        arm_flush();
    }

    // One timer for the whole burst: when it fires early (events came after it was set), it is set
    // again for the new due time rather than being reset on every event.
    void arm_flush() {
        if (flush_armed_) return;
        flush_armed_ = true;
        flush_timer_.expires_at(queue_.due());
        flush_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            self->flush_armed_ = false;
            if (ec || self->stopped_ || self->queue_.empty()) return;
            if (Clock::now() < self->queue_.due()) {
                self->arm_flush();
                return;
            }
            self->deliver(self->queue_.take());
        });
    }

    void deliver(ChangeSet changes) {
        std::lock_guard lock(callback_mutex_);
        if (stopped_ || !on_change_) return;
        try {
            on_change_(std::move(changes));
        } catch (const std::exception& e) {
            spdlog::error("watcher: the change handler failed: {}", e.what());
        } catch (...) {
            spdlog::error("watcher: the change handler failed with an unknown exception");
        }
    }

    // On the strand, after stopped_ is set.
    void shut_down() {
        mode_ = Mode::idle;
        polling_ = false;
        close_inotify();
        flush_timer_.cancel();
        poll_timer_.cancel();
    }

    static std::string normalized(std::string path) {
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        return path;
    }

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    const std::string root_;
    Callback on_change_;
    // Held while the callback runs, so that stop() on another thread waits for it; recursive, so
    // that the callback itself may call stop().
    std::recursive_mutex callback_mutex_;
    std::atomic<bool> started_{false};
    std::atomic<bool> stopped_{false};
    std::atomic<bool> polling_{false};
    std::atomic<std::size_t> watch_count_{0};

    Mode mode_ = Mode::idle;
    std::chrono::milliseconds poll_interval_{0};
    boost::asio::posix::stream_descriptor inotify_;
    std::array<char, std::size_t{64} * 1024> buffer_{};
    WatchTree tree_;
    ChangeQueue queue_;
    boost::asio::steady_timer flush_timer_;
    bool flush_armed_ = false;
    boost::asio::steady_timer poll_timer_;
    TreeStamps polled_;
    bool retry_inotify_ = false;  // polling only because the root is gone: watch again once it is back
};

Watcher::Watcher(boost::asio::io_context& ioc, std::string root, std::chrono::milliseconds debounce,
                 std::chrono::milliseconds max_delay, Callback on_change)
    : state_(std::make_shared<State>(ioc, std::move(root), debounce, max_delay, std::move(on_change))) {}

// stop() locks a mutex and posts to the strand, either of which can throw; a destructor must not.
// Should it fail, stopped_ is still set, so that no callback starts after the Watcher is gone.
Watcher::~Watcher() {
    try {
        stop();
    } catch (const std::exception& e) {
        state_->stopped_ = true;
        spdlog::error("watcher: stopping the watch of {} failed: {}", state_->root_, e.what());
    }
}

void Watcher::start(std::chrono::milliseconds poll_interval, bool force_polling) {
    state_->start(poll_interval, force_polling);
}

// Waits for a callback running on another thread, so that none runs once this returns; the
// teardown itself happens on the strand.
void Watcher::stop() {
    {
        std::lock_guard lock(state_->callback_mutex_);
        state_->stopped_ = true;
    }
    boost::asio::dispatch(state_->strand_, [state = state_] { state->shut_down(); });
}

bool Watcher::polling() const { return state_->polling_; }

std::size_t Watcher::watch_count() const { return state_->watch_count_; }

}  // namespace almanac
