// Writing published documents to a directory (`almanac build --out DIR`): each file replaced
// atomically (temp file + rename) so a web server never serves half a file, and left alone when it
// already holds the same bytes, so its modification time (a static server's Last-Modified) stays.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "feeds/publisher.hpp"

namespace almanac {

// One document written to dir/path as its bytes come (publish_site's PublishControl::open). While
// they match the file already there they are only compared with it, so an unchanged file is neither
// written nor renamed; from the first difference on they go to a temporary file (after the matching
// part, copied from the old file), which close() renames into place.
class DocumentFile final : public DocumentOutput {
public:
    DocumentFile(const std::string& dir, const std::string& path);
    DocumentFile(const DocumentFile&) = delete;
    DocumentFile& operator=(const DocumentFile&) = delete;
    ~DocumentFile() override;  // before close(): the temporary file is removed
    void write(std::string_view bytes) override;
    void close() override;
    // After close(): an error message (the first), or empty.
    const std::string& problem() const { return problem_; }
    // After close(): whether the file was replaced (false: it held these bytes already, or an error).
    bool written() const { return written_; }

private:
    // The number of bytes at the start of `bytes` that the old file holds next.
    std::size_t compare(std::string_view bytes);
    // Opens the temporary file and copies the old file's first matched_ bytes into it.
    void start_writing();
    void flush();
    void fail(std::string message);

    std::filesystem::path target_;
    std::filesystem::path temp_;
    int old_ = -1;               // the file already there, while every byte so far matches it
    std::uint64_t matched_ = 0;  // bytes of it compared equal
    std::unique_ptr<char[]> block_;
    std::size_t block_size_ = 0, block_at_ = 0;  // the old file's bytes read, and compared so far
    int fd_ = -1;                                // the temporary file
    std::string pending_;                        // bytes not yet written to it
    std::string problem_;
    bool written_ = false;
};

// Writes one document's bytes to dir/path through a temporary file renamed into place, unless
// dir/path already holds exactly these bytes. `written`, when given, says which it was.
std::string write_document(const std::string& dir, const std::string& path, const Rope& body,
                           bool* written = nullptr);

// SOURCE_DATE_EPOCH from the environment, when set to a number of seconds up to 9999-12-31;
// `problem` says why a value that is set was not usable.
std::optional<Instant> source_date_epoch_from_env(std::string& problem);

// Writes all of `bytes` to `fd`, again after a short write or EINTR. Returns errno, or 0.
int write_all(int fd, std::string_view bytes);

}  // namespace almanac
