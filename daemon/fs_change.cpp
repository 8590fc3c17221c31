// Classifying and decoding inotify events: the pure half of the watcher, kept apart from the
// watches and the event loop so that a table of masks can test it (see fs_change.hpp).
#include "daemon/fs_change.hpp"

#include <cstring>
#include <sys/inotify.h>

#include "feeds/content.hpp"

namespace almanac {

std::uint32_t watch_mask() {
    // IN_ATTRIB: a chmod can make an unreadable file or folder readable, and touch changes mtime.
    return IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
           IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
}

FsAction classify_inotify_event(std::uint32_t mask, std::string_view name) {
    if (mask & IN_Q_OVERFLOW) return FsAction::rescan;
    if (mask & (IN_DELETE_SELF | IN_UNMOUNT)) return FsAction::watch_gone;
    if (mask & IN_MOVE_SELF) return FsAction::watch_moved;
    // IN_IGNORED follows the events above or our own inotify_rm_watch: nothing new to act on.
    if (name.empty() || (mask & IN_IGNORED) || is_ignored_name(name)) return FsAction::ignore;

    if (mask & IN_ISDIR) {
        if (mask & (IN_DELETE | IN_MOVED_FROM)) return FsAction::dir_removed;
        if (mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB)) return FsAction::dir_added;
        return FsAction::ignore;
    }
    if (mask & (IN_DELETE | IN_MOVED_FROM)) return FsAction::file_removed;
    if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB)) return FsAction::file_changed;
    if (mask & IN_CREATE) return FsAction::file_created;
    return FsAction::ignore;
}

std::vector<InotifyRecord> decode_inotify_events(std::span<const char> bytes) {
    std::vector<InotifyRecord> records;
    std::size_t offset = 0;
    while (bytes.size() - offset >= sizeof(inotify_event)) {
        // The buffer is only char-aligned for us: copy the header out instead of casting.
        inotify_event header;
        std::memcpy(&header, bytes.data() + offset, sizeof header);
        const std::size_t name_offset = offset + sizeof header;
        if (header.len > bytes.size() - name_offset) break;
        std::string_view name(bytes.data() + name_offset, header.len);
        name = name.substr(0, name.find('\0'));  // the kernel pads names with NULs to alignment
        records.push_back({header.wd, header.mask, name});
        offset = name_offset + header.len;
    }
    return records;
}

}  // namespace almanac
