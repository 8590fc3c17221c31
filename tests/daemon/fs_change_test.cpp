// Classifying and decoding inotify events (daemon/fs_change.cpp): a table of masks and names with
// the action each must give, and kernel-shaped buffers built by hand.
#include "daemon/fs_change.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <sys/inotify.h>

namespace almanac {
namespace {

const char* action_name(FsAction action) {
    switch (action) {
        case FsAction::ignore: return "ignore";
        case FsAction::file_changed: return "file_changed";
        case FsAction::file_created: return "file_created";
        case FsAction::file_removed: return "file_removed";
        case FsAction::dir_added: return "dir_added";
        case FsAction::dir_removed: return "dir_removed";
        case FsAction::watch_gone: return "watch_gone";
        case FsAction::watch_moved: return "watch_moved";
        case FsAction::rescan: return "rescan";
    }
    return "?";
}

struct Case {
    const char* what;
    std::uint32_t mask;
    const char* name;
    FsAction expected;
};

const Case cases[] = {
    {"written and closed", IN_CLOSE_WRITE, "x.md", FsAction::file_changed},
    {"atomic save: temp renamed over the target", IN_MOVED_TO, "x.md", FsAction::file_changed},
    {"atomic save: the temp file leaving", IN_MOVED_FROM, ".x.md.tmp", FsAction::ignore},
    {"touch or chmod", IN_ATTRIB, "x.md", FsAction::file_changed},
    {"created, maybe still being written", IN_CREATE, "x.md", FsAction::file_created},
    {"deleted", IN_DELETE, "x.md", FsAction::file_removed},
    {"renamed away", IN_MOVED_FROM, "x.md", FsAction::file_removed},
    {"UTF-8 name with a space", IN_CLOSE_WRITE, "caf\xc3\xa9 du jour.md", FsAction::file_changed},
    {"name with a newline", IN_CLOSE_WRITE, "a\nb.md", FsAction::file_changed},
    {"data file", IN_CLOSE_WRITE, "events.yaml", FsAction::file_changed},
    {"vim swap file", IN_CLOSE_WRITE, ".x.md.swp", FsAction::ignore},
    {"vim swap file deleted", IN_DELETE, ".x.md.swp", FsAction::ignore},
    {"backup file", IN_MOVED_TO, "x.md~", FsAction::ignore},
    {"vim's write test", IN_CREATE, "4913", FsAction::ignore},
    {"emacs autosave", IN_CLOSE_WRITE, "#x.md#", FsAction::ignore},
    {"emacs lock", IN_CREATE, ".#x.md", FsAction::ignore},
    {"hidden file", IN_CLOSE_WRITE, ".hidden.md", FsAction::ignore},
    {"folder created", IN_CREATE | IN_ISDIR, "blog", FsAction::dir_added},
    {"folder moved in", IN_MOVED_TO | IN_ISDIR, "blog", FsAction::dir_added},
    {"folder chmod'ed readable", IN_ATTRIB | IN_ISDIR, "blog", FsAction::dir_added},
    {"folder deleted", IN_DELETE | IN_ISDIR, "blog", FsAction::dir_removed},
    {"folder moved out", IN_MOVED_FROM | IN_ISDIR, "blog", FsAction::dir_removed},
    {"hidden folder created", IN_CREATE | IN_ISDIR, ".git", FsAction::ignore},
    {"hidden folder deleted", IN_DELETE | IN_ISDIR, ".git", FsAction::ignore},
    {"watched folder deleted", IN_DELETE_SELF, "", FsAction::watch_gone},
    {"watched folder moved", IN_MOVE_SELF, "", FsAction::watch_moved},
    {"file system unmounted", IN_UNMOUNT, "", FsAction::watch_gone},
    {"watch removed", IN_IGNORED, "", FsAction::ignore},
    {"attribute of the watched folder itself", IN_ATTRIB | IN_ISDIR, "", FsAction::ignore},
    {"queue overflow", IN_Q_OVERFLOW, "", FsAction::rescan},
    {"opened for reading only", IN_OPEN, "x.md", FsAction::ignore},
    {"folder opened", IN_OPEN | IN_ISDIR, "blog", FsAction::ignore},
};

TEST(ClassifyInotifyEvent, Table) {
    for (const auto& c : cases)
        EXPECT_STREQ(action_name(classify_inotify_event(c.mask, c.name)), action_name(c.expected)) << c.what;
}

TEST(WatchMask, AsksForFinalContentNotEveryWrite) {
    const auto mask = watch_mask();
    EXPECT_TRUE(mask & IN_CLOSE_WRITE);
    EXPECT_TRUE(mask & IN_MOVED_TO);
    EXPECT_TRUE(mask & IN_MOVED_FROM);
    EXPECT_TRUE(mask & IN_CREATE);
    EXPECT_TRUE(mask & IN_DELETE);
    EXPECT_TRUE(mask & IN_DELETE_SELF);
    EXPECT_TRUE(mask & IN_MOVE_SELF);
    EXPECT_TRUE(mask & IN_DONT_FOLLOW);
    EXPECT_TRUE(mask & IN_ONLYDIR);
    EXPECT_FALSE(mask & IN_MODIFY);
    EXPECT_FALSE(mask & IN_ACCESS);
}

// Appends one event the way the kernel lays it out: header, then the name NUL-padded to `len`.
void append_event(std::string& buffer, int wd, std::uint32_t mask, const std::string& name, std::uint32_t len) {
    inotify_event header{};
    header.wd = wd;
    header.mask = mask;
    header.len = len;
    buffer.append(reinterpret_cast<const char*>(&header), sizeof header);
    std::string padded = name;
    padded.resize(len, '\0');
    buffer += padded;
}

TEST(DecodeInotifyEvents, ReadsPackedEventsAndStripsPadding) {
    std::string buffer;
    append_event(buffer, 1, IN_CLOSE_WRITE, "x.md", 16);
    append_event(buffer, 2, IN_DELETE_SELF, "", 0);
    append_event(buffer, 3, IN_MOVED_TO, "caf\xc3\xa9 a\nb.md", 32);
    append_event(buffer, -1, IN_Q_OVERFLOW, "", 0);

    const auto events = decode_inotify_events(buffer);
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0].wd, 1);
    EXPECT_EQ(events[0].mask, std::uint32_t{IN_CLOSE_WRITE});
    EXPECT_EQ(events[0].name, "x.md");
    EXPECT_EQ(events[1].wd, 2);
    EXPECT_EQ(events[1].name, "");
    EXPECT_EQ(events[2].name, "caf\xc3\xa9 a\nb.md");
    EXPECT_EQ(events[3].wd, -1);
    EXPECT_EQ(events[3].mask, std::uint32_t{IN_Q_OVERFLOW});
}

TEST(DecodeInotifyEvents, DropsATruncatedTail) {
    std::string buffer;
    append_event(buffer, 1, IN_CLOSE_WRITE, "a.md", 16);
    append_event(buffer, 2, IN_CLOSE_WRITE, "b.md", 16);
    for (std::size_t cut = 1; cut < sizeof(inotify_event) + 16; ++cut) {
        const auto events = decode_inotify_events(std::span<const char>(buffer.data(), buffer.size() - cut));
        ASSERT_EQ(events.size(), 1u) << "cut " << cut;
        EXPECT_EQ(events[0].name, "a.md");
    }
    EXPECT_TRUE(decode_inotify_events({}).empty());
}

}  // namespace
}  // namespace almanac
