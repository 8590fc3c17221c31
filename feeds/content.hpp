// Turning one source file (a Markdown page or an event data file) into items and diagnostics, and
// deciding which files of a content tree are content at all. Pure: the caller reads the bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "feeds/diagnostic.hpp"
#include "feeds/item.hpp"
#include "feeds/site_config.hpp"

namespace almanac {

struct SourceFile {
    std::string path;          // relative to the content dir, '/'-separated: "events/x.md"
    std::string display_path;  // how diagnostics name the file (relative to the config dir)
    std::string bytes;
};

struct ParsedSource {
    std::string display_path;  // the file as diagnostics name it
    std::vector<Item> items;   // empty when the file has an error (its last good version should stay)
    Diagnostics diagnostics;
};

// Parses one file of `section` (SPEC §2). Markdown files give one item (or a section page for
// _index.md, which gives none); data files in event sections give one item per `events:` entry.
// Any error in a file drops all of its items; warnings keep them.
ParsedSource parse_source(const SourceFile& file, const SectionConfig& section, const SiteConfig& config);

// The host (with its port, without user) of `base_url`, as derived UIDs name the site; the reserved
// "almanac.invalid" when it has none.
std::string site_host(const std::string& base_url);

enum class FileRole {
    ignored,    // hidden, editor temporary, not matching the section's globs: silently skipped
    markdown,   // a Markdown content file
    data,       // an event data file (.yaml/.yml/.toml/.json in an event section)
    unhandled,  // some other file inside a section (an image, a .txt): skipped
};

// What a file is, from its path relative to the content dir ("blog/x.md"). Pure.
FileRole classify_path(std::string_view path, const SectionConfig& section);

// True for names editors and tools leave behind: hidden files, .*.swp, *~, #*#, 4913, .#*.
bool is_ignored_name(std::string_view name);

// Glob match of `pattern` against a '/'-separated `path`: '*' and '?' stay inside one segment,
// '**' spans segments, [abc] and [!a-z] are classes. A pattern without '/' matches the whole path.
bool glob_match(std::string_view pattern, std::string_view path);

}  // namespace almanac
