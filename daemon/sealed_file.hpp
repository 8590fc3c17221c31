// A document's bytes in a sealed memory file (memfd), which the HTTP server sends with sendfile(2):
// the kernel hands its pages to the socket instead of copying the bytes from this process's heap on
// every request, as nginx does with a file in the page cache. Sealed against writing, shrinking and
// growing, so that bytes still queued in the socket can never change under a client.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>

#include "feeds/rope.hpp"

namespace almanac {

class SealedFile {
public:
    // Every file open at once, counted against these (process-wide): each holds a descriptor and a
    // copy of its bytes, so they must not take the descriptors connections need or grow memory
    // without bound. Past either limit make() gives null and the body is sent from the heap.
    static constexpr std::size_t max_files = 128;
    static constexpr std::size_t max_bytes = std::size_t{64} * 1024 * 1024;

    // `bytes` (a rope's pieces, in order) in a new sealed file; null when the kernel refuses (no
    // memfd or seals here), `bytes` is empty, or the limits above are reached.
    static std::shared_ptr<const SealedFile> make(const Rope& bytes);

    ~SealedFile();
    SealedFile(const SealedFile&) = delete;
    SealedFile& operator=(const SealedFile&) = delete;

    int fd() const { return fd_; }
    std::size_t size() const { return size_; }

    // What is open now (for tests and metrics).
    static std::size_t open_files();
    static std::size_t open_bytes();

private:
    SealedFile(int fd, std::size_t size) : fd_(fd), size_(size) {}
    int fd_;
    std::size_t size_;
};

// A sealed copy of a document's bytes made when a client first asks for them uncompressed: most
// clients take gzip or brotli, and a copy nobody is sent would only hold memory and a descriptor.
// Thread-safe; shared by the copies of a representation, which hold the same bytes.
class LazySealedFile {
public:
    // The file holding `bytes` (the same bytes on every call), made by the first call that finds room
    // under SealedFile's limits; null until one does.
    std::shared_ptr<const SealedFile> get(const Rope& bytes) const;

private:
    mutable std::mutex mutex_;
    mutable std::shared_ptr<const SealedFile> file_;
};

}  // namespace almanac
