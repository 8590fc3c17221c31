// Reading a site from disk: the config file (or defaults) and the content tree, file by file,
// handed to the pure parsers in feeds/. The only place that walks the content directory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "feeds/content.hpp"
#include "feeds/site.hpp"

namespace almanac {

struct LoadedConfig {
    std::optional<SiteConfig> config;  // empty when the config has errors
    Diagnostics diagnostics;
};

// Command-line settings that replace the config file's (`serve --content DIR --listen ADDR
// --base-url URL`).
struct ConfigOverrides {
    std::optional<std::string> content_dir;  // relative to the working directory
    std::optional<std::string> base_url;     // becomes site.documents_url; checked, ends with '/'
    std::vector<std::string> listen;         // replaces server.listen when not empty
};

// Loads `path`, or ./almanac.yaml when `path` is empty and it exists, else the defaults. A missing
// or unreadable file named explicitly is an error. Folders of the content dir complete the config.
LoadedConfig load_config(const std::string& path, const ConfigOverrides& overrides = {});

// The top-level folders of the content dir that can be sections (not hidden, not symlinks), sorted;
// none when the content dir does not exist. Throws std::runtime_error when it exists but cannot be
// listed (permissions, no file descriptors left): a partial answer would make sections disappear.
std::vector<std::string> content_folders(const std::string& content_dir);

// Files bigger than this are an error for that file rather than read whole. The Markdown and YAML
// parsers need a few hundred times a file's size in memory at worst (deeply nested block quotes,
// long flow sequences): 1 MiB keeps that near 300 MB, and is 40 times the largest post of the corpus.
inline constexpr std::size_t max_content_file_bytes = std::size_t{1024} * 1024;

// How a file looked on disk when last read: any difference means it must be read again.
struct FileStamp {
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;
    std::uint64_t inode = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// One content file of a section, found by walking the content tree.
struct ContentFile {
    std::string path;                        // relative to the content dir, '/'-separated
    std::string absolute;                    // for reading
    std::string shown;                       // as diagnostics name it
    const SectionConfig* section = nullptr;  // points into the config given to list_content
    FileRole role = FileRole::markdown;
    FileStamp stamp;
    // Listed without an lstat (ListingStamps::no): it may have been gone already, which reading it
    // then finds, and it is left out as a file gone since its folder was read would be.
    bool unstamped = false;
};

struct ContentListing {
    std::vector<ContentFile> files;  // sorted by path
    // Folders (relative to the content dir, '/'-separated) that could not be listed: the files below
    // them are unknown, not gone.
    std::vector<std::string> unlisted;
    Diagnostics diagnostics;  // about folders: unknown ones, sections without one, unreadable ones
    // About entries listed but not read (symlinks, special files named like content), by path.
    std::map<std::string, Diagnostic> entry_diagnostics;

    // Both kinds: everything the listing has to say about the tree.
    Diagnostics tree_diagnostics() const;
};

// Walks every section folder of config.content.dir (without reading files), one folder open at a
// time. A folder that cannot be listed (permissions) is an error diagnostic and goes into `unlisted`;
// the rest is still listed. Throws std::runtime_error when the content dir itself cannot be listed, or
// any folder for want of file descriptors or memory: a listing that silently missed files would look
// like their deletion. With ListingStamps::no, files carry no FileStamp and their types come from
// readdir where the file system gives them: one lstat less per file, for a one-time read of the tree.
enum class ListingStamps { yes,
                           no };
ContentListing list_content(const SiteConfig& config, ListingStamps stamps = ListingStamps::yes);

// What one path below the content dir (relative, '/'-separated: what the watcher reports) is now, by
// the rules of list_content, found with an lstat per folder on the way rather than a walk.
struct ContentPath {
    enum class Kind {
        none,      // nothing list_content would list or report: gone, ignored, outside every section
        file,      // a content file, described by `file`
        reported,  // an entry list_content reports without reading it (a symlink, a special file): `diagnostic`
        folder,    // a folder, a top-level entry, or a path that cannot be examined: only a walk tells what is there
    };
    Kind kind = Kind::none;
    ContentFile file;
    Diagnostic diagnostic;
};
ContentPath examine_content_path(const SiteConfig& config, const std::string& path);

// Reads and parses one listed file. A file that cannot be read (too large, not a regular file, a
// symlink, no permission) is an error diagnostic for that file; running out of file descriptors or
// memory throws std::runtime_error instead, because the file itself is not at fault.
ParsedSource read_content_file(const ContentFile& file, const SiteConfig& config);

// Reads and parses every content file under config.content.dir; `progress` hears (files read, files).
Site load_site(const SiteConfig& config, const std::function<void(std::size_t, std::size_t)>& progress = nullptr);

// The relative path of `file` from `base` when it lies below it, else `file` itself.
std::string display_path(const std::string& base, const std::string& file);

}  // namespace almanac
