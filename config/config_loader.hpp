// Loading and validating the YAML site configuration (SPEC §3) into an almanac::SiteConfig.
// Pure: it takes the text; reading the file is the caller's job.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "feeds/diagnostic.hpp"
#include "feeds/site_config.hpp"

namespace almanac {

struct ConfigLoadResult {
    std::optional<SiteConfig> config;  // empty when any error was found
    Diagnostics diagnostics;           // errors and warnings, each naming the key path and its line
};

// Parses and validates `yaml_text`. `path` is used in diagnostics and stored in the result;
// `base_dir` is the directory relative paths (content.dir) resolve against. Unknown keys, wrong
// types, out-of-range values, unknown zones, bad globs, feeds naming unknown sections, duplicate
// feed names: each an error "key.path: message" at the key's line and column.
ConfigLoadResult parse_config(std::string_view yaml_text, const std::string& path, const std::string& base_dir);

// The configuration used when no config file exists: every default, content dir `base_dir/content`.
SiteConfig default_config(const std::string& base_dir);

// The schema's own checks, shared with the command line (--listen) and the server (?tz=):

// Why `text` is not a listen address ("127.0.0.1:8080", "[::1]:8080", "localhost:8080", port
// 1–65535), or nullopt when it is one.
std::optional<std::string> listen_address_problem(std::string_view text);

// Why `text` is not a site base URL (an absolute http:// or https:// URL without spaces, query or
// fragment), or nullopt when it is one. Callers append the final '/' when it is missing.
std::optional<std::string> base_url_problem(std::string_view text);

// Seconds in "3600", "30s", "5m", "1h30m", "1d", "1w" or ISO 8601 "PT1H", "P1DT12H"; nullopt when
// malformed or above INT_MAX. Months and years (ambiguous lengths) are not accepted.
std::optional<int> parse_duration_seconds(std::string_view text);

// True when the system tz database knows `name` (zones and links such as US/Eastern or UTC);
// "localtime" is refused because it differs from machine to machine.
bool is_known_time_zone(std::string_view name);

}  // namespace almanac
