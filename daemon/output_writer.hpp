// Writing published documents to a directory (`almanac build --out DIR`): each file replaced
// atomically (temp file + rename) so a web server never serves half a file, and left alone when it
// already holds the same bytes, so its modification time (a static server's Last-Modified) stays.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "feeds/publisher.hpp"

namespace almanac {

// The folders of one build's output (`almanac build --out DIR`), each created and opened once, for
// every DocumentFile of that build, on any thread: documents are then opened and renamed relative
// to their folder's descriptor (no path walked again from the root), and in a folder that held
// nothing (this build made it, or an empty root) there is no old file to compare with, so none is
// looked for.
class OutputDirectory {
public:
    explicit OutputDirectory(std::string root);
    OutputDirectory(const OutputDirectory&) = delete;
    OutputDirectory& operator=(const OutputDirectory&) = delete;
    ~OutputDirectory();

    struct Folder {
        int fd = -1;          // an O_PATH descriptor of the folder; -1 when it could not be made
        bool fresh = false;   // it held nothing: made by this build, or an empty root
        std::string problem;  // why fd is -1
    };
    // The folder `relative` ("" is the root; "a/b" a folder inside it), made when missing.
    Folder folder(const std::string& relative);
    const std::string& root() const { return root_; }

private:
    Folder find(const std::string& relative);  // with mutex_ held

    std::string root_;
    std::mutex mutex_;
    std::unordered_map<std::string, Folder> folders_;  // by `relative`
};

// One document written to dir/path as its bytes come (publish_site's PublishControl::open). While
// they match the file already there they are only compared with it, so an unchanged file is neither
// written nor renamed; from the first difference on they go to a temporary file (after the matching
// part, copied from the old file), which close() renames into place.
class DocumentFile final : public DocumentOutput {
public:
    // dir/path, in a folder of `dir` (which must outlive the file).
    DocumentFile(OutputDirectory& dir, const std::string& path);
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
    // Opens the file already there, if it is a regular one, to compare the new bytes with.
    void open_old();
    // Opens the temporary file and copies the old file's first matched_ bytes into it.
    void start_writing();
    void flush();
    void fail(std::string message);

    // The file and its temporary one are opened, renamed and removed as dirfd_/name_ and
    // dirfd_/temp_name_: names in their folder's descriptor.
    std::string target_;  // the whole path, for messages
    int dirfd_ = -1;
    std::string name_;
    std::string temp_name_;
    bool fresh_folder_ = false;   // the folder held nothing (OutputDirectory): nothing to compare or remove
    std::string folder_problem_;  // why the folder could not be made
    int old_ = -1;                // the file already there, while every byte so far matches it
    std::uint64_t matched_ = 0;   // bytes of it compared equal
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
