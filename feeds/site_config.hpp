// The site configuration as plain values (SPEC §3). config/config_loader.hpp fills it from YAML and
// validates it; everything in feeds/ reads it. Defaults here are the defaults of a site with no config.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/shortcode_template.hpp"

namespace almanac {

enum class SectionType { event,
                         post,
                         page };

struct SectionConfig {
    std::string name;  // the top-level folder under content.dir
    SectionType type = SectionType::post;
    std::vector<std::string> include;  // globs relative to the section folder; empty = every content file
    std::vector<std::string> exclude;
    std::string permalink;  // ":section/:slug/" style; absolute (https://…) or relative to base_url
};

enum class FeedFormat { ics,
                        rss,
                        atom,
                        json };

struct FeedWindow {
    std::optional<int> past_days;    // events that ended more than this many days ago are left out
    std::optional<int> future_days;  // events starting more than this many days ahead are left out
};

struct FeedConfig {
    std::string name;  // URL name: /{name}.{ext}
    std::string title;
    std::string description;
    std::vector<std::string> sections;
    std::vector<FeedFormat> formats;
    std::vector<std::string> tags;   // keep items having any of these tags (empty: no filter)
    std::vector<std::string> kinds;  // keep items of any of these kinds (empty: no filter)
    std::optional<int> limit;
    FeedWindow window;
};

// Whether `feed` is published as `format`.
inline bool publishes(const FeedConfig& feed, FeedFormat format) {
    return std::find(feed.formats.begin(), feed.formats.end(), format) != feed.formats.end();
}

struct ServerLimits {
    int max_header_bytes = 16 * 1024;
    int header_timeout_seconds = 10;
    int idle_timeout_seconds = 60;
    int max_connections = 10000;
    int max_cached_zones = 256;  // zone views rendered on demand and kept
};

struct ServerConfig {
    std::vector<std::string> listen{"127.0.0.1:8080"};
    int cache_max_age_seconds = 300;
    int refresh_interval_seconds = 3600;  // advertised to calendar clients (REFRESH-INTERVAL)
    bool access_log = false;
    // Large uncompressed bodies sent with sendfile(2) from a sealed copy (less CPU); false: copied to
    // the socket with one write, which a SIGKILL cannot cut once the socket took it (see deploy.md).
    bool sendfile = true;
    ServerLimits limits;
};

// What names a feed entry (RSS guid, Atom id, JSON Feed id): a tag: URI made from the site's host,
// site.id_date and the item's uid, or the item's permalink, for sites whose permalinks never move.
enum class EntryIds { tag,
                      permalink };

struct SiteInfo {
    std::string title = "almanac";
    std::string base_url = "http://127.0.0.1:8080/";  // always ends with '/'
    std::string timezone = "UTC";
    std::string language = "en";
    std::string author;
    // Where almanac's own documents (feeds, zone views, the index page) are served when that is not
    // base_url: `--base-url` for a local preview. Item permalinks, UIDs and ids keep base_url.
    std::string documents_url;  // empty, or ends with '/'
    // The date in tag: URIs (RFC 4151): "YYYY", "YYYY-MM" or "YYYY-MM-DD", a day the site's host was
    // the site's. It is part of every entry id, so it must never change once the site is live.
    std::string id_date = "2026";
    EntryIds ids = EntryIds::tag;
};

struct ContentConfig {
    std::string dir = "content";  // absolute after loading (relative paths resolve against the config dir)
    std::vector<SectionConfig> sections;
    bool sections_given = false;  // false: sections are detected from the folders (SPEC §1)
    bool unsafe_html = false;
    bool build_future = false;                    // publish posts dated in the future at once (Hugo's buildFuture)
    std::vector<ShortcodeDefinition> shortcodes;  // the site's own shortcodes, in the config's order
};

struct TimezonesConfig {
    std::vector<std::string> prerender;
    bool allow_any = true;
};

struct LogConfig {
    std::string level = "info";   // trace, debug, info, warn, error, off
    std::string format = "text";  // text, journal, json
};

struct SiteConfig {
    std::string path;      // the config file, or empty when defaults are used
    std::string base_dir;  // directory relative paths resolve against
    SiteInfo site;
    ContentConfig content;
    std::vector<FeedConfig> feeds;
    bool feeds_given = false;  // false: one feed per non-page section
    TimezonesConfig timezones;
    ServerConfig server;
    LogConfig log;
};

// The section a folder gets when the config names none: events/meetups are events, else posts.
SectionConfig detected_section(const std::string& folder);

// Fills sections (when not given) from the content folders, then feeds (when not given): one per
// non-page section with every format its type supports.
void complete_config(SiteConfig& config, const std::vector<std::string>& content_folders);

const SectionConfig* find_section(const SiteConfig& config, const std::string& name);
// The feed named `name`, or null.
const FeedConfig* find_feed(const SiteConfig& config, std::string_view name);

}  // namespace almanac
