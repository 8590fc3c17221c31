#include "daemon/output_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>

#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace almanac {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t compare_block = std::size_t{1} << 16;
constexpr std::size_t write_buffer = std::size_t{1} << 18;
constexpr std::size_t first_buffer = std::size_t{1} << 14;

}  // namespace

int write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

OutputDirectory::OutputDirectory(std::string root) : root_(root.empty() ? std::string(".") : std::move(root)) {}

OutputDirectory::~OutputDirectory() {
    for (auto& [relative, folder] : folders_)
        if (folder.fd >= 0) ::close(folder.fd);
}

OutputDirectory::Folder OutputDirectory::folder(const std::string& relative) {
    const std::lock_guard lock(mutex_);
    return find(relative);
}

OutputDirectory::Folder OutputDirectory::find(const std::string& relative) {
    if (const auto known = folders_.find(relative); known != folders_.end()) return known->second;
    Folder made;
    const std::string shown = relative.empty() ? root_ : (fs::path(root_) / relative).string();
    int error = 0;
    if (relative.empty()) {
        std::error_code ec;
        fs::create_directories(root_, ec);
        made.fd = ::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (made.fd < 0) {
            error = errno;
            made.problem = "cannot create " + shown + ": " + (ec ? ec.message() : std::generic_category().message(error));
        } else {
            // Whether it holds anything, rather than whether create_directories made something: for
            // "out/new/.." it makes out/new, and out may hold the files of the last build.
            made.fresh = fs::is_empty(root_, ec) && !ec;
        }
    } else {
        const std::size_t slash = relative.rfind('/');
        const Folder parent = find(slash == std::string::npos ? std::string() : relative.substr(0, slash));
        const std::string name = slash == std::string::npos ? relative : relative.substr(slash + 1);
        if (parent.fd < 0) {
            made.problem = parent.problem;
        } else {
            made.fresh = ::mkdirat(parent.fd, name.c_str(), 0777) == 0;
            // Followed when it is a symlink to a folder, as std::filesystem::create_directories does.
            if (!made.fresh && errno != EEXIST)
                error = errno;
            else if ((made.fd = ::openat(parent.fd, name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                error = errno;
            if (error) made.problem = "cannot create " + shown + ": " + std::generic_category().message(error);
        }
    }
    // Out of descriptors or memory says nothing about the folder: the next file tries again.
    if (error == EMFILE || error == ENFILE || error == ENOMEM) return made;
    return folders_.emplace(relative, std::move(made)).first->second;
}

DocumentFile::DocumentFile(OutputDirectory& dir, const std::string& path) {
    // root/path as fs::path's operator/ joins a relative path (a build writes ten thousand of these).
    const std::string& root = dir.root();
    target_.reserve(root.size() + 1 + path.size());
    target_ = root;
    if (!target_.empty() && target_.back() != '/') target_ += '/';
    target_ += path;
    const std::size_t slash = path.rfind('/');
    const OutputDirectory::Folder folder = dir.folder(slash == std::string::npos ? std::string() : path.substr(0, slash));
    name_ = slash == std::string::npos ? path : path.substr(slash + 1);
    temp_name_ = name_ + ".tmp";
    if (folder.fd < 0) {
        folder_problem_ = folder.problem;  // reported when the file is written
        return;
    }
    dirfd_ = folder.fd;
    fresh_folder_ = folder.fresh;
    if (!fresh_folder_) open_old();
}

void DocumentFile::open_old() {
    // Compared only when it is a regular file (not followed when a symlink: that is replaced; not
    // waited on when a FIFO: O_NONBLOCK).
    old_ = ::openat(dirfd_, name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (old_ < 0 && (errno == EMFILE || errno == ENFILE)) {
        // Not "no old file": the temporary file could not be opened either.
        fail("cannot open " + target_ + ": " + std::generic_category().message(errno));
        return;
    }
    struct stat st {};
    if (old_ >= 0 && (::fstat(old_, &st) != 0 || !S_ISREG(st.st_mode))) {
        ::close(old_);
        old_ = -1;
    }
}

DocumentFile::~DocumentFile() {
    if (old_ >= 0) ::close(old_);
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlinkat(dirfd_, temp_name_.c_str(), 0);
    }
}

void DocumentFile::fail(std::string message) {
    if (problem_.empty()) problem_ = std::move(message);
    if (old_ >= 0) ::close(old_);
    old_ = -1;
}

std::size_t DocumentFile::compare(std::string_view bytes) {
    std::size_t same = 0;
    while (same < bytes.size()) {
        if (block_at_ == block_size_) {
            // Not zeroed (every byte compared is read first), and allocated only once a file is
            // compared: most builds write into an empty directory.
            if (!block_) block_ = std::make_unique_for_overwrite<char[]>(compare_block);
            ssize_t n = 0;
            do n = ::read(old_, block_.get(), compare_block);
            while (n < 0 && errno == EINTR);
            if (n <= 0) return same;  // the old file ends here (or cannot be read): it differs
            block_size_ = static_cast<std::size_t>(n);
            block_at_ = 0;
        }
        const std::size_t len = std::min(bytes.size() - same, block_size_ - block_at_);
        if (std::memcmp(block_.get() + block_at_, bytes.data() + same, len) != 0) return same;
        block_at_ += len;
        same += len;
    }
    return same;
}

void DocumentFile::start_writing() {
    if (!folder_problem_.empty()) return fail(folder_problem_);
    // A temporary file left by a build that was killed, or anything else under its name, goes first:
    // never followed (a symlink there would have the bytes written through it), never shared with
    // another writer (O_EXCL: two builds into one folder fail rather than interleave their bytes).
    if (!fresh_folder_) ::unlinkat(dirfd_, temp_name_.c_str(), 0);  // a folder this build made holds none
    fd_ = ::openat(dirfd_, temp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) return fail("cannot write " + target_ + ".tmp: " + std::generic_category().message(errno));
    // Room for a small document at once (an event's own is a few KB), not grown a few bytes at a time.
    pending_.reserve(first_buffer);
    // The bytes that matched are the old file's first ones: copied from it.
    if (matched_ == 0 || old_ < 0) return;
    const auto block = std::make_unique_for_overwrite<char[]>(compare_block);
    for (std::uint64_t at = 0; at < matched_;) {
        const ssize_t n = ::pread(old_, block.get(), std::min<std::uint64_t>(compare_block, matched_ - at), static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("cannot read " + target_ + ": " + std::generic_category().message(n < 0 ? errno : EIO));
        if (const int error = write_all(fd_, {block.get(), static_cast<std::size_t>(n)}))
            return fail("cannot write " + target_ + ".tmp: " + std::generic_category().message(error));
        at += static_cast<std::uint64_t>(n);
    }
    ::close(old_);
    old_ = -1;
}

void DocumentFile::flush() {
    if (const int error = write_all(fd_, pending_)) fail("cannot write " + target_ + ".tmp: " + std::generic_category().message(error));
    pending_.clear();
}

void DocumentFile::write(std::string_view bytes) {
    if (!problem_.empty() || bytes.empty()) return;
    if (fd_ < 0) {
        if (old_ >= 0) {
            const std::size_t same = compare(bytes);
            matched_ += same;
            if (same == bytes.size()) return;
            bytes.remove_prefix(same);
        }
        start_writing();
        if (!problem_.empty()) return;
    }
    if (pending_.size() + bytes.size() > write_buffer) {
        flush();
        if (bytes.size() >= write_buffer) {
            if (const int error = write_all(fd_, bytes))
                fail("cannot write " + target_ + ".tmp: " + std::generic_category().message(error));
            return;
        }
    }
    // A document that outgrows the first buffer is a large one: room for a whole write_buffer at
    // once, rather than doubling four times with a copy each.
    if (pending_.size() + bytes.size() > pending_.capacity() && pending_.capacity() < write_buffer)
        pending_.reserve(write_buffer);
    pending_ += bytes;
}

void DocumentFile::close() {
    if (!problem_.empty()) return;
    if (fd_ < 0) {
        // Every byte matched: the same file when the old one ends here too.
        if (old_ >= 0 && block_at_ == block_size_) {
            char extra = 0;
            ssize_t n = 0;
            do n = ::read(old_, &extra, 1);
            while (n < 0 && errno == EINTR);
            if (n == 0) {
                ::close(old_);
                old_ = -1;
                return;
            }
        }
        start_writing();
        if (!problem_.empty()) return;
    }
    flush();
    const int close_error = ::close(fd_) == 0 ? 0 : errno;
    fd_ = -1;
    if (!problem_.empty() || close_error) {
        ::unlinkat(dirfd_, temp_name_.c_str(), 0);
        return fail("cannot write " + target_ + ".tmp: " + std::generic_category().message(close_error));
    }
    if (::renameat(dirfd_, temp_name_.c_str(), dirfd_, name_.c_str()) != 0) {
        const int error = errno;
        ::unlinkat(dirfd_, temp_name_.c_str(), 0);
        return fail("cannot rename " + target_ + ".tmp to " + target_ + ": " + std::generic_category().message(error));
    }
    written_ = true;
}

std::string write_document(const std::string& dir, const std::string& path, const Rope& body, bool* written) {
    OutputDirectory folders(dir);
    DocumentFile file(folders, path);
    body.for_each_piece([&](const Piece& piece) { file.write(*piece); });
    file.close();
    if (written) *written = file.written();
    return file.problem();
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
