#include "daemon/sealed_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>  // memfd_create
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "daemon/output_writer.hpp"

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
    bool written = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
    bytes.for_each_piece([&](const Piece& piece) { written = written && write_all(fd, *piece) == 0; });
    if (!written || ::fcntl(fd, F_ADD_SEALS, seals) != 0) {
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
