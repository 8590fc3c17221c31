#include "daemon/output_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace almanac {

namespace fs = std::filesystem;

namespace {

// Writes every piece of `body` to `fd`, up to IOV_MAX pieces per system call. Returns errno, or 0.
int write_pieces(int fd, const Rope& body) {
    const auto& pieces = body.pieces();
    std::vector<iovec> iov;
    iov.reserve(std::min<std::size_t>(pieces.size(), IOV_MAX));
    std::size_t next = 0;  // the first piece not yet in iov
    while (next < pieces.size() || !iov.empty()) {
        while (next < pieces.size() && iov.size() < IOV_MAX) {
            iov.push_back({const_cast<char*>(pieces[next]->data()), pieces[next]->size()});
            ++next;
        }
        const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        // Drop what was written; a partial write leaves the rest of its piece first.
        auto written = static_cast<std::size_t>(n);
        std::size_t done = 0;
        while (done < iov.size() && written >= iov[done].iov_len) written -= iov[done++].iov_len;
        iov.erase(iov.begin(), iov.begin() + static_cast<std::ptrdiff_t>(done));
        if (!iov.empty() && written > 0) {
            iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + written;
            iov.front().iov_len -= written;
        }
    }
    return 0;
}

// True when `target` is a regular file holding exactly `body` (compared as it is read, in blocks).
bool holds(const fs::path& target, const Rope& body) {
    const int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    struct stat st {};
    bool same = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) == body.size();
    // Not zeroed (every byte compared is read first), and only as large as the file: a build of
    // 10,000 small documents cleared 64 KiB for each.
    const std::size_t block_size = std::min<std::size_t>(std::size_t{1} << 16, std::max<std::size_t>(body.size(), 1));
    const auto block = std::make_unique_for_overwrite<char[]>(block_size);
    const auto& pieces = body.pieces();
    std::size_t piece = 0, offset = 0;  // where the next byte to compare is in body
    while (same) {
        const ssize_t n = ::read(fd, block.get(), block_size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            same = n == 0;  // the sizes are equal: the end of the file is the end of body
            break;
        }
        for (std::size_t at = 0; same && at < static_cast<std::size_t>(n);) {
            while (piece < pieces.size() && offset == pieces[piece]->size()) ++piece, offset = 0;
            if (piece == pieces.size()) {
                same = false;  // the file grew while it was read
                break;
            }
            const std::size_t len = std::min(static_cast<std::size_t>(n) - at, pieces[piece]->size() - offset);
            same = std::memcmp(block.get() + at, pieces[piece]->data() + offset, len) == 0;
            at += len;
            offset += len;
        }
    }
    ::close(fd);
    return same;
}

}  // namespace

std::string write_document(const std::string& dir, const std::string& path, const Rope& body, bool* written) {
    std::error_code ec;
    const fs::path target = fs::path(dir) / path;
    if (written) *written = false;
    if (holds(target, body)) return {};
    fs::create_directories(target.parent_path(), ec);
    if (ec) return "cannot create " + target.parent_path().string() + ": " + ec.message();
    const fs::path temp = target.string() + ".tmp";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return "cannot write " + temp.string() + ": " + std::generic_category().message(errno);
    const int write_error = write_pieces(fd, body);
    const int close_error = ::close(fd) == 0 ? 0 : errno;
    if (write_error || close_error)
        return "cannot write " + temp.string() + ": " + std::generic_category().message(write_error ? write_error : close_error);
    fs::rename(temp, target, ec);
    if (ec) return "cannot rename " + temp.string() + " to " + target.string() + ": " + ec.message();
    if (written) *written = true;
    return {};
}

std::string write_documents(const std::string& dir, const std::map<std::string, Document>& documents) {
    for (const auto& [path, doc] : documents)
        if (auto problem = write_document(dir, path, doc.body); !problem.empty()) return problem;
    return {};
}

std::optional<Instant> source_date_epoch_from_env(std::string& problem) {
    const char* s = std::getenv("SOURCE_DATE_EPOCH");
    if (!s || !*s) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s, &end, 10);
    constexpr long long last_second_of_9999 = 253402300799;
    if (*end != '\0' || errno != 0 || v < 0 || v > last_second_of_9999) {
        problem = std::string("SOURCE_DATE_EPOCH='") + s + "' is not a number of seconds from 0 to " +
                  std::to_string(last_second_of_9999) + "; ignored";
        return std::nullopt;
    }
    return Instant{std::chrono::seconds{v}};
}

}  // namespace almanac
