// Tests for SealedFile: the bytes are in the file, the file cannot be changed, and the process-wide
// limits give null instead of taking descriptors or memory without bound. And for make_representation:
// which documents get a sealed copy.
#include "daemon/sealed_file.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "daemon/snapshot.hpp"

namespace almanac {
namespace {

std::string read_all(int fd, std::size_t size) {
    std::string out(size + 1, '\0');
    const auto n = ::pread(fd, out.data(), out.size(), 0);
    out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return out;
}

Rope rope_of(const std::vector<std::string>& parts) {
    RopeBuilder b;
    for (const auto& part : parts) b.share(make_piece(part));
    return std::move(b).finish();
}

TEST(SealedFile, HoldsTheRopesBytesInOrder) {
    std::vector<std::string> parts;
    std::string expected;
    for (int i = 0; i < 3000; ++i) {  // more pieces than one writev takes
        parts.push_back(std::to_string(i) + std::string(static_cast<std::size_t>(i % 300), 'x') + "\n");
        expected += parts.back();
    }
    const auto file = SealedFile::make(rope_of(parts));
    ASSERT_TRUE(file);
    EXPECT_EQ(file->size(), expected.size());
    EXPECT_TRUE(read_all(file->fd(), file->size()) == expected);
}

TEST(SealedFile, CannotBeWrittenShrunkOrGrown) {
    const auto file = SealedFile::make(Rope(std::string(100'000, 'a')));
    ASSERT_TRUE(file);
    const int seals = ::fcntl(file->fd(), F_GET_SEALS);
    EXPECT_EQ(seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
              F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    EXPECT_LT(::pwrite(file->fd(), "b", 1, 0), 0);
    EXPECT_NE(::ftruncate(file->fd(), 10), 0);
    EXPECT_NE(::ftruncate(file->fd(), 200'000), 0);
    EXPECT_EQ(read_all(file->fd(), file->size()), std::string(100'000, 'a'));
    EXPECT_EQ(::fcntl(file->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(SealedFile, EmptyBytesGiveNoFile) { EXPECT_FALSE(SealedFile::make(Rope())); }

// Other tests of this binary may hold files: the limits are checked from what is open already.
TEST(SealedFile, TheLimitsGiveNullAndClosingMakesRoomAgain) {
    const std::size_t files_before = SealedFile::open_files();
    const std::size_t bytes_before = SealedFile::open_bytes();
    std::vector<std::shared_ptr<const SealedFile>> files;
    for (std::size_t i = files_before; i < SealedFile::max_files; ++i) {
        files.push_back(SealedFile::make(Rope(std::string("x"))));
        ASSERT_TRUE(files.back()) << i;
    }
    EXPECT_EQ(SealedFile::open_files(), SealedFile::max_files);
    EXPECT_FALSE(SealedFile::make(Rope(std::string("x")))) << "one file more than max_files";
    files.pop_back();
    EXPECT_TRUE(SealedFile::make(Rope(std::string("x"))));
    files.clear();
    EXPECT_EQ(SealedFile::open_files(), files_before);

    const std::size_t half = (SealedFile::max_bytes - bytes_before) / 2 + 1;
    const auto big = SealedFile::make(Rope(std::string(half, 'a')));
    ASSERT_TRUE(big);
    EXPECT_FALSE(SealedFile::make(Rope(std::string(half, 'b')))) << "more than max_bytes in all";
    EXPECT_EQ(SealedFile::open_bytes(), bytes_before + half) << "a refused file must give its bytes back";
}

Document document(std::size_t size) {
    return Document{Rope(std::string(size, 'e')), "text/calendar", "\"t\""};
}

// A representation of 32 KiB to 1 MiB has a sealed copy made on its first use, once, with its bytes;
// until then it holds no file.
TEST(SealedFile, DocumentsFrom32KiBTo1MiBGetOneWithTheirBytes) {
    EXPECT_FALSE(make_representation(document(32 * 1024 - 1), Instant{}, false)->identity_file);
    EXPECT_TRUE(make_representation(document(32 * 1024), Instant{}, false)->identity_file);
    const std::size_t files_before = SealedFile::open_files();
    const auto mid = make_representation(document(200'000), Instant{}, false);
    ASSERT_TRUE(mid->identity_file);
    EXPECT_EQ(SealedFile::open_files(), files_before) << "made before anyone asked for it";
    const auto file = mid->identity_file->get(*mid->identity);
    ASSERT_TRUE(file);
    EXPECT_TRUE(read_all(file->fd(), file->size()) == mid->identity->str());
    EXPECT_EQ(mid->identity_file->get(*mid->identity), file) << "made again";
    EXPECT_EQ(SealedFile::open_files(), files_before + 1);
    EXPECT_TRUE(make_representation(document(1 << 20), Instant{}, false)->identity_file);
    EXPECT_FALSE(make_representation(document((1 << 20) + 1), Instant{}, false)->identity_file)
        << "a large document stays a rope of shared pieces";
}

}  // namespace
}  // namespace almanac
