// Watching the content tree (MPD's InotifyEvent/InotifyUpdate/InotifyQueue): inotify watches on
// every folder, new folders picked up as they appear, events merged and debounced into one change
// set; IN_Q_OVERFLOW asks for a full rescan; when watches run out, a polling fallback.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>

namespace almanac {

// What the rebuild worker is told: paths relative to the watched root, '/'-separated, of files
// that were written, created, moved in or out, or deleted; `rescan` when events were lost (queue
// overflow, polling) and the whole tree must be compared; `folders` when a folder appeared, went,
// moved or changed its permissions, or when polling found the paths (it sees files only), so that
// the paths alone do not say everything: the tree must be listed again. Without either, the paths
// are every change.
struct ChangeSet {
    std::set<std::string> paths;
    bool rescan = false;
    bool folders = false;
    bool empty() const { return paths.empty() && !rescan && !folders; }
};

class Watcher {
public:
    using Callback = std::function<void(ChangeSet)>;

    // `on_change` runs on the io_context `debounce` after the last of a burst of events (and at most
    // `max_delay` after the first), with everything that happened since the previous call.
    Watcher(boost::asio::io_context& ioc, std::string root, std::chrono::milliseconds debounce,
            std::chrono::milliseconds max_delay, Callback on_change);
    ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // Starts watching. Never throws: when inotify is unavailable or the watch limit is reached, logs
    // one clear line (naming fs.inotify.max_user_watches) and polls every `poll_interval` instead;
    // `force_polling` polls from the start (for tests, and file systems inotify cannot see into).
    void start(std::chrono::milliseconds poll_interval = std::chrono::seconds(2), bool force_polling = false);
    void stop();

    bool polling() const;
    std::size_t watch_count() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace almanac
