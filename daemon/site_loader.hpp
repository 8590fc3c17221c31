// Reading a site from disk: the config file (or defaults) and the content tree, file by file,
// handed to the pure parsers in feeds/. The only place that walks the content directory.
#pragma once

#include <optional>
#include <string>

#include "feeds/site.hpp"

namespace almanac {

struct LoadedConfig {
    std::optional<SiteConfig> config;  // empty when the config has errors
    Diagnostics diagnostics;
};

// Loads `path`, or ./almanac.yaml when `path` is empty and it exists, else the defaults. A missing
// or unreadable file named explicitly is an error. Folders of the content dir complete the config.
LoadedConfig load_config(const std::string& path);

// Files bigger than this are an error for that file rather than read whole.
inline constexpr std::size_t max_content_file_bytes = 8 * 1024 * 1024;

// Reads and parses every content file under config.content.dir.
Site load_site(const SiteConfig& config);

// The relative path of `file` from `base` when it lies below it, else `file` itself.
std::string display_path(const std::string& base, const std::string& file);

}  // namespace almanac
