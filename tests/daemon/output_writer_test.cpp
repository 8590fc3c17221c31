#include "daemon/output_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

namespace almanac {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "almanac-output-XXXXXX").string();
        path = ::mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Writes `bytes` in pieces of `step` bytes; returns whether the file was replaced.
bool stream(const fs::path& dir, const std::string& path, const std::string& bytes, std::size_t step = 7) {
    OutputDirectory folders(dir.string());
    DocumentFile file(folders, path);
    for (std::size_t at = 0; at < bytes.size(); at += step) file.write(std::string_view(bytes).substr(at, step));
    file.close();
    EXPECT_EQ(file.problem(), "");
    return file.written();
}

std::string big(char mark) {
    std::string s;
    for (int i = 0; i < 30000; ++i) s += "line " + std::to_string(i) + mark + "\n";
    return s;  // larger than the blocks files are compared and written in
}

TEST(DocumentFile, WritesOnlyWhatDiffers) {
    TempDir dir;
    const fs::path target = dir.path / "tz/UTC/events.ics";
    const std::string bytes = big('a');
    EXPECT_TRUE(stream(dir.path, "tz/UTC/events.ics", bytes));
    EXPECT_EQ(read(target), bytes);
    // The same bytes, in other pieces: not written again, so its modification time stays.
    const auto before = fs::last_write_time(target);
    EXPECT_FALSE(stream(dir.path, "tz/UTC/events.ics", bytes, 100000));
    EXPECT_EQ(fs::last_write_time(target), before);
    // A byte changed deep inside, a shorter and a longer document, an empty one: replaced, with the
    // matching start copied from the old file.
    std::string changed = bytes;
    changed[200000] = 'X';
    for (const std::string& next : {changed, bytes.substr(0, 150000), bytes + "more", std::string(), bytes}) {
        EXPECT_TRUE(stream(dir.path, "tz/UTC/events.ics", next, 4096));
        EXPECT_EQ(read(target), next);
    }
    EXPECT_FALSE(fs::exists(target.string() + ".tmp"));
}

TEST(DocumentFile, ReplacesASymlinkAndLeavesNothingWhenAbandoned) {
    TempDir dir;
    const fs::path target = dir.path / "events.ics";
    std::ofstream(dir.path / "elsewhere") << "body";
    fs::create_symlink(dir.path / "elsewhere", target);
    EXPECT_TRUE(stream(dir.path, "events.ics", "body"));
    EXPECT_FALSE(fs::is_symlink(target));
    EXPECT_EQ(read(target), "body");
    {
        OutputDirectory folders(dir.path.string());
        DocumentFile file(folders, "events.ics");
        file.write("half of another");
    }
    EXPECT_EQ(read(target), "body");
    EXPECT_FALSE(fs::exists(target.string() + ".tmp"));
}

// Whatever holds the temporary file's name (a symlink, a file a killed build left) is replaced, never
// written through.
TEST(DocumentFile, NeverWritesThroughWhatHoldsTheTemporaryName) {
    TempDir dir;
    std::ofstream(dir.path / "elsewhere") << "keep";
    fs::create_symlink(dir.path / "elsewhere", dir.path / "events.ics.tmp");
    EXPECT_TRUE(stream(dir.path, "events.ics", "body"));
    EXPECT_EQ(read(dir.path / "events.ics"), "body");
    EXPECT_EQ(read(dir.path / "elsewhere"), "keep");
    std::ofstream(dir.path / "blog.rss.tmp") << "half of a killed build's";
    EXPECT_TRUE(stream(dir.path, "blog.rss", "feed"));
    EXPECT_EQ(read(dir.path / "blog.rss"), "feed");
    EXPECT_FALSE(fs::exists(dir.path / "events.ics.tmp"));
    EXPECT_FALSE(fs::exists(dir.path / "blog.rss.tmp"));
}

TEST(DocumentFile, ReportsWhatCannotBeWritten) {
    TempDir dir;
    std::ofstream(dir.path / "file") << "x";
    OutputDirectory folders(dir.path.string());
    DocumentFile file(folders, "file/events.ics");
    file.write("bytes");
    file.close();
    EXPECT_NE(file.problem().find("cannot create"), std::string::npos) << file.problem();
    EXPECT_FALSE(file.written());
    Rope body(std::string("bytes"));
    EXPECT_NE(write_document(dir.path.string(), "file/events.ics", body), "");
    EXPECT_EQ(write_document(dir.path.string(), "events.ics", body), "");
    EXPECT_EQ(read(dir.path / "events.ics"), "bytes");
}

// A FIFO where a document goes is replaced, not waited on; a directory there is reported, and the
// temporary file does not stay behind.
TEST(DocumentFile, NeitherWaitsOnAFifoNorLeavesATemporaryFile) {
    TempDir dir;
    ASSERT_EQ(::mkfifo((dir.path / "events.ics").c_str(), 0644), 0);
    ::alarm(20);  // a build that waits on the FIFO ends the test instead of hanging it
    EXPECT_TRUE(stream(dir.path, "events.ics", "body"));
    ::alarm(0);
    EXPECT_EQ(read(dir.path / "events.ics"), "body");

    fs::create_directories(dir.path / "blog.atom" / "inside");
    OutputDirectory folders(dir.path.string());
    DocumentFile file(folders, "blog.atom");
    file.write("feed");
    file.close();
    EXPECT_NE(file.problem().find("cannot rename"), std::string::npos) << file.problem();
    EXPECT_FALSE(fs::exists(dir.path / "blog.atom.tmp"));
}

// A build's files through one OutputDirectory: folders made once; a file in a folder that was there
// before is compared (and left alone when it holds the bytes), one in a folder made now is written.
TEST(OutputDirectory, ComparesOnlyInFoldersThatWereThere) {
    TempDir dir;
    const fs::path root = dir.path / "out";
    const auto put = [&](OutputDirectory& out, const std::string& path, const std::string& bytes) {
        DocumentFile file(out, path);
        file.write(bytes);
        file.close();
        EXPECT_EQ(file.problem(), "") << path;
        return file.written();
    };
    {
        OutputDirectory out(root.string());
        EXPECT_TRUE(out.folder("").fresh);
        EXPECT_TRUE(put(out, "events.ics", "a"));
        EXPECT_TRUE(put(out, "tz/America/New_York/events.ics", "b"));
        EXPECT_TRUE(out.folder("tz/America").fresh);
        EXPECT_TRUE(put(out, "tz/America/Chicago/events.ics", "c"));
    }
    EXPECT_EQ(read(root / "tz/America/New_York/events.ics"), "b");
    const auto before = fs::last_write_time(root / "tz/America/New_York/events.ics");
    // A second build into the same folders: unchanged files stay, changed and new ones are written.
    fs::create_directories(dir.path / "elsewhere");
    fs::create_directory_symlink(dir.path / "elsewhere", root / "linked");
    {
        OutputDirectory out(root.string());
        EXPECT_FALSE(out.folder("").fresh);
        EXPECT_FALSE(put(out, "events.ics", "a"));
        EXPECT_FALSE(put(out, "tz/America/New_York/events.ics", "b"));
        EXPECT_TRUE(put(out, "tz/America/Chicago/events.ics", "changed"));
        EXPECT_TRUE(put(out, "tz/Europe/Berlin/events.ics", "d"));
        EXPECT_FALSE(out.folder("tz/America").fresh);
        EXPECT_TRUE(out.folder("tz/Europe").fresh);
        EXPECT_TRUE(put(out, "linked/events.ics", "e"));  // a symlinked folder is followed
    }
    EXPECT_EQ(fs::last_write_time(root / "tz/America/New_York/events.ics"), before);
    EXPECT_EQ(read(root / "tz/America/Chicago/events.ics"), "changed");
    {
        // A root named through a folder made on the way ("out/new/..") is the old one, files and all.
        OutputDirectory out((root / "new" / "..").string());
        EXPECT_FALSE(out.folder("").fresh);
        EXPECT_FALSE(put(out, "events.ics", "a"));
    }
    EXPECT_EQ(read(dir.path / "elsewhere/events.ics"), "e");
    for (const auto& entry : fs::recursive_directory_iterator(dir.path))
        EXPECT_FALSE(entry.path().string().ends_with(".tmp")) << entry.path();
}

TEST(OutputDirectory, ReportsAFileWhereAFolderGoes) {
    TempDir dir;
    std::ofstream(dir.path / "file") << "x";
    OutputDirectory out(dir.path.string());
    for (int i = 0; i < 2; ++i) {  // the second time from what the first found
        DocumentFile file(out, "file/inside/events.ics");
        file.write("bytes");
        file.close();
        EXPECT_NE(file.problem().find("cannot create " + (dir.path / "file").string()), std::string::npos) << file.problem();
        EXPECT_FALSE(file.written());
    }
    DocumentFile fine(out, "events.ics");
    fine.write("bytes");
    fine.close();
    EXPECT_TRUE(fine.written());
    EXPECT_EQ(read(dir.path / "events.ics"), "bytes");
}

}  // namespace
}  // namespace almanac
