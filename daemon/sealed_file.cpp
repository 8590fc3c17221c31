#include "daemon/sealed_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>  // memfd_create
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <vector>

namespace almanac {

namespace {

std::atomic<std::size_t> files_open{0};
std::atomic<std::size_t> bytes_open{0};

// Reserves room for one more file of `size` bytes under the limits; false when there is none.
bool reserve(std::size_t size) {
    if (files_open.fetch_add(1) >= SealedFile::max_files) {
        files_open.fetch_sub(1);
        return false;
    }
    if (bytes_open.fetch_add(size) + size > SealedFile::max_bytes) {
        bytes_open.fetch_sub(size);
        files_open.fetch_sub(1);
        return false;
    }
    return true;
}

void release(std::size_t size) {
    bytes_open.fetch_sub(size);
    files_open.fetch_sub(1);
}

// Writes every piece of `bytes` to `fd` from its start; false on any error.
bool write_all(int fd, const Rope& bytes) {
    std::vector<iovec> iov;
    iov.reserve(std::min<std::size_t>(bytes.pieces().size(), IOV_MAX));
    std::size_t piece = 0;
    std::size_t skip = 0;  // bytes of pieces()[piece] already written
    const auto& pieces = bytes.pieces();
    while (piece < pieces.size()) {
        iov.clear();
        for (std::size_t i = piece; i < pieces.size() && iov.size() < IOV_MAX; ++i) {
            const std::size_t from = i == piece ? skip : 0;
            iov.push_back({const_cast<char*>(pieces[i]->data()) + from, pieces[i]->size() - from});
        }
        const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        auto left = static_cast<std::size_t>(n);
        while (left > 0) {
            const std::size_t rest = pieces[piece]->size() - skip;
            if (left < rest) {
                skip += left;
                break;
            }
            left -= rest;
            skip = 0;
            ++piece;
        }
    }
    return true;
}

}  // namespace

std::shared_ptr<const SealedFile> SealedFile::make(const Rope& bytes) {
    const std::size_t size = bytes.size();
    if (size == 0 || !reserve(size)) return nullptr;
    const int fd = ::memfd_create("almanac-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        release(size);
        return nullptr;
    }
    constexpr int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || !write_all(fd, bytes) ||
        ::fcntl(fd, F_ADD_SEALS, seals) != 0) {
        ::close(fd);
        release(size);
        return nullptr;
    }
    return std::shared_ptr<const SealedFile>(new SealedFile(fd, size));
}

SealedFile::~SealedFile() {
    ::close(fd_);
    release(size_);
}

std::shared_ptr<const SealedFile> LazySealedFile::get(const Rope& bytes) const {
    const std::lock_guard lock(mutex_);
    if (!file_) file_ = SealedFile::make(bytes);
    return file_;
}

std::size_t SealedFile::open_files() { return files_open.load(); }
std::size_t SealedFile::open_bytes() { return bytes_open.load(); }

}  // namespace almanac
