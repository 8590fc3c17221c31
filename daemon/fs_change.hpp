// What an inotify event means for the content tree, decided without touching the disk (Zola's
// detect_change_kind): the watcher decodes the kernel's buffer here, classifies each event, and
// only then acts (adds or drops watches, reports paths).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace almanac {

// The events every watched folder asks for. Regular files have their final content only at
// IN_CLOSE_WRITE (or when renamed into place), so IN_MODIFY is not wanted; IN_CREATE is, because a
// new folder must be watched at once. IN_ONLYDIR and IN_DONT_FOLLOW make a watch fail rather than
// land on a file or on a symlink's target.
std::uint32_t watch_mask();

enum class FsAction {
    ignore,        // nothing the content tree cares about (editor files, events on a folder itself)
    file_changed,  // a file's content is final: written and closed, renamed into place, or chmod'ed
    file_created,  // a file name appeared; its content may still be being written
    file_removed,  // a file was deleted or renamed away
    dir_added,     // a folder appeared or became accessible: watch it and everything below it
    dir_removed,   // a folder was deleted or renamed away: drop its watches, report its files
    watch_gone,    // the watched folder itself was deleted or unmounted
    watch_moved,   // the watched folder itself was renamed (its parent's IN_MOVED_FROM tells which)
    rescan,        // the kernel's queue overflowed: events were lost
};

// What the event with `mask` about the entry `name` (empty for events on the watched folder itself)
// asks for. Names that is_ignored_name() rejects (hidden, editor swap and backup files) are ignored.
FsAction classify_inotify_event(std::uint32_t mask, std::string_view name);

// One event as the kernel wrote it; `name` points into the buffer it was decoded from.
struct InotifyRecord {
    int wd = -1;
    std::uint32_t mask = 0;
    std::string_view name;  // without the NUL padding; empty for events on the watched folder
};

// The events in `bytes` (what one read() of an inotify fd returned), in order. A truncated last
// record is dropped rather than read past the end.
std::vector<InotifyRecord> decode_inotify_events(std::span<const char> bytes);

}  // namespace almanac
