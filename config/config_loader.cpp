#include "config/config_loader.hpp"

#include "feeds/event_time.hpp"
#include "feeds/front_matter.hpp"
#include "feeds/text.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

namespace almanac {
namespace {

// Aliases let a few lines of YAML stand for millions of nodes ("billion laughs"). yaml-cpp shares an
// aliased node instead of copying it, so loading is cheap; only walking costs, and it stops here.
constexpr std::size_t max_visited_nodes = 100'000;

// Values quoted in messages are cut so that one bad line cannot flood the output.
constexpr std::size_t max_quoted_bytes = 60;

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alnum(char c) { return is_ascii_alpha(c) || is_ascii_digit(c); }
bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

bool has_space_or_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == ' ' || is_control(c); });
}

// A scalar's text, valid UTF-8 even where yaml-cpp decoded an escape wrongly (feeds/text.hpp).
std::string scalar_of(const YAML::Node& node) { return yaml_scalar_utf8(node.Scalar()); }

std::string in_quotes(std::string_view s) {
    std::string_view shown = s;
    if (shown.size() > max_quoted_bytes) {
        shown = shown.substr(0, max_quoted_bytes);
        // Cut before the last, possibly incomplete, UTF-8 sequence so the message stays valid UTF-8.
        while (!shown.empty() && (static_cast<unsigned char>(shown.back()) & 0xC0) == 0x80) shown.remove_suffix(1);
        if (!shown.empty() && static_cast<unsigned char>(shown.back()) >= 0xC0) shown.remove_suffix(1);
    }
    std::string out = "'";
    for (char c : shown) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else out += is_control(c) ? '?' : c;
    }
    if (shown.size() < s.size()) out += "…";
    return out + "'";
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Scalar: return in_quotes(scalar_of(node));
        default: return "an empty value";
    }
}

template <class Range>
std::string join(const Range& items, std::string_view separator, std::string_view last_separator) {
    std::string out;
    std::size_t i = 0;
    const std::size_t n = std::size(items);
    for (const auto& item : items) {
        if (i > 0) out += (i + 1 == n) ? last_separator : separator;
        out += item;
        ++i;
    }
    return out;
}

int line_of(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

// Collects diagnostics for one file and spends the node budget.
class Walker {
public:
    Walker(const std::string& path, Diagnostics& out) : path_(path), out_(out) {}

    void report(const YAML::Mark& mark, Severity severity, const std::string& key_path, std::string_view message) {
        Diagnostic d;
        d.path = path_;
        d.line = line_of(mark);
        d.column = mark.is_null() ? 0 : mark.column + 1;
        d.severity = severity;
        d.message = key_path.empty() ? std::string(message) : key_path + ": " + std::string(message);
        out_.push_back(std::move(d));
    }

    // Counts one visited node; false, after one error, once the budget is spent.
    bool visit(const YAML::Mark& mark) {
        if (visited_ == max_visited_nodes) {
            report(mark, Severity::error, "",
                   "config too large: more than " + std::to_string(max_visited_nodes) +
                       " YAML nodes (each use of an alias counts)");
        }
        return ++visited_ <= max_visited_nodes;
    }

private:
    const std::string& path_;
    Diagnostics& out_;
    std::size_t visited_ = 0;
};

// A YAML node and its key path ("feeds[1].limit"): what every reader takes and reports against.
class Value {
public:
    Value(Walker& walker, const YAML::Node& node, std::string key_path)
        : walker_(&walker), node_(node), key_path_(std::move(key_path)) {}

    const YAML::Node& node() const { return node_; }
    const std::string& key_path() const { return key_path_; }
    Walker& walker() const { return *walker_; }
    bool is_null() const { return !node_.IsDefined() || node_.IsNull(); }

    void error(std::string_view message) const {
        walker_->report(node_.Mark(), Severity::error, key_path_, message);
    }
    void warning(std::string_view message) const {
        walker_->report(node_.Mark(), Severity::warning, key_path_, message);
    }

    // Reports "expected <what>, got <this value>"; returns nullopt so that readers can return it.
    std::nullopt_t expected(std::string_view what) const {
        error("expected " + std::string(what) + ", got " + describe(node_));
        return std::nullopt;
    }

    // The scalar's text; a map, a list or an empty value is reported as not being `what`.
    std::optional<std::string> scalar(std::string_view what) const {
        if (!node_.IsScalar()) return expected(what);
        return scalar_of(node_);
    }

    Value item(std::size_t index, const YAML::Node& node) const {
        return Value(*walker_, node, key_path_ + "[" + std::to_string(index) + "]");
    }
    Value member(const std::string& key, const YAML::Node& node) const {
        return Value(*walker_, node, key_path_.empty() ? key : key_path_ + "." + key);
    }

private:
    Walker* walker_;
    YAML::Node node_;
    std::string key_path_;
};

template <class T, class U>
bool assign(T& out, std::optional<U> value) {
    if (!value) return false;
    out = std::move(*value);
    return true;
}

// Calls read(item) for each item of a list; false after reporting a value that is not a list.
template <class Read>
bool for_each_item(const Value& list, std::string_view what, Read read) {
    if (!list.node().IsSequence()) {
        list.expected(what);
        return false;
    }
    std::size_t index = 0;
    for (const YAML::Node& node : list.node()) {
        if (!list.walker().visit(node.Mark())) return false;
        read(list.item(index++, node));
    }
    return true;
}

// Calls read(member, key) for each entry of a map. yaml-cpp keeps duplicate keys and keys that are
// not strings; both are reported here, so readers only see the first of each key.
template <class Read>
void for_each_entry(const Value& map, Read read) {
    if (!map.node().IsMap()) {
        map.expected("a map");
        return;
    }
    std::map<std::string, int, std::less<>> first_line;
    // Range-for keeps the iterator's entry alive; `it->first` would refer into a temporary.
    for (const auto& entry : map.node()) {
        const YAML::Node& key = entry.first;
        if (!map.walker().visit(key.Mark())) return;
        if (!key.IsScalar()) {
            map.walker().report(key.Mark(), Severity::error, map.key_path(),
                                "expected a string key, got " + describe(key));
            continue;
        }
        const Value member = map.member(scalar_of(key), entry.second);
        const auto [first, fresh] = first_line.emplace(scalar_of(key), line_of(key.Mark()));
        if (!fresh) {
            map.walker().report(key.Mark(), Severity::error, member.key_path(),
                                "duplicate key (first at line " + std::to_string(first->second) + ")");
            continue;
        }
        read(member, key);
    }
}

// One key of a map in the schema and the function that reads its (non-null) value into T.
template <class T>
struct Field {
    std::string_view key;
    void (*read)(const Value&, T&);
};

// Reads a map through its schema table. Null values keep the defaults already in `out`.
template <class T, std::size_t N>
void read_fields(const Value& map, T& out, const Field<T> (&fields)[N]) {
    if (map.is_null()) return;
    for_each_entry(map, [&](const Value& member, const YAML::Node& key) {
        const auto field = std::find_if(std::begin(fields), std::end(fields),
                                        [&](const Field<T>& f) { return f.key == scalar_of(key); });
        if (field == std::end(fields)) {
            std::vector<std::string_view> keys;
            for (const auto& f : fields) keys.push_back(f.key);
            member.walker().report(key.Mark(), Severity::error, member.key_path(),
                                   "unknown key (expected one of: " + join(keys, ", ", ", ") + ")");
            return;
        }
        if (!member.is_null()) field->read(member, out);
    });
}

// --- Scalars ---------------------------------------------------------------------------------------

// Decimal digits with an optional sign; YAML's hex, octal and '_' forms are rejected as typos.
std::optional<long long> parse_integer(std::string_view s) {
    if (s.starts_with('+')) {
        s.remove_prefix(1);
        if (s.starts_with('-')) return std::nullopt;
    }
    long long n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
}

std::optional<std::string> read_string(const Value& v) { return v.scalar("a string"); }

std::optional<std::string> read_non_empty_string(const Value& v) {
    auto s = v.scalar("a non-empty string");
    if (s && s->empty()) return v.expected("a non-empty string");
    return s;
}

// Only true and false: YAML 1.1's yes/no/on/off turn country codes like "no" into booleans.
std::optional<bool> read_bool(const Value& v) {
    const auto s = v.scalar("true or false");
    if (s == "true") return true;
    if (s == "false") return false;
    return s ? v.expected("true or false") : std::nullopt;
}

struct IntRange {
    long long min;
    long long max = INT_MAX;
};

std::optional<int> read_int(const Value& v, IntRange range) {
    const std::string what = range.max == INT_MAX
                                 ? "an integer ≥ " + std::to_string(range.min)
                                 : "an integer from " + std::to_string(range.min) + " to " + std::to_string(range.max);
    const auto s = v.scalar(what);
    if (!s) return std::nullopt;
    const auto n = parse_integer(*s);
    if (!n || *n < range.min || *n > range.max) return v.expected(what);
    return static_cast<int>(*n);
}

// Picks the value named by the scalar from `choices`, or reports every allowed name.
template <class T, std::size_t N>
std::optional<T> read_choice(const Value& v, const std::pair<std::string_view, T> (&choices)[N]) {
    std::vector<std::string_view> names;
    for (const auto& c : choices) names.push_back(c.first);
    const std::string what = join(names, ", ", " or ");
    const auto s = v.scalar(what);
    if (!s) return std::nullopt;
    for (const auto& c : choices)
        if (c.first == *s) return c.second;
    return v.expected(what);
}

// Sums "<number><unit>…" where units appear in the table's order, each at most once.
std::optional<long long> sum_units(std::string_view s, std::initializer_list<std::pair<char, long long>> units) {
    long long total = 0;
    auto unit = units.begin();
    while (!s.empty()) {
        std::size_t digits = 0;
        while (digits < s.size() && is_ascii_digit(s[digits])) ++digits;
        // Nine digits keep every product below LLONG_MAX; the total is capped by the caller.
        if (digits == 0 || digits > 9 || digits == s.size()) return std::nullopt;
        while (unit != units.end() && unit->first != s[digits]) ++unit;
        if (unit == units.end()) return std::nullopt;
        total += *parse_integer(s.substr(0, digits)) * unit->second;
        ++unit;
        s.remove_prefix(digits + 1);
    }
    return total;
}

std::optional<int> read_duration(const Value& v, int min_seconds) {
    constexpr std::string_view what = "a duration (seconds, or like 30s, 5m, 1h, 1d, PT1H)";
    const auto s = v.scalar(what);
    if (!s) return std::nullopt;
    const auto seconds = parse_duration_seconds(*s);
    if (!seconds) return v.expected(what);
    if (*seconds < min_seconds)
        return v.expected(min_seconds == 1 ? "a duration > 0"
                                           : "a duration of at least " + std::to_string(min_seconds) + " seconds");
    return seconds;
}

// --- Names, URLs, paths ----------------------------------------------------------------------------

bool is_http_url(std::string_view s) {
    std::size_t scheme = 0;
    for (std::string_view prefix : {"http://", "https://"}) {
        if (s.size() >= prefix.size() &&
            std::equal(prefix.begin(), prefix.end(), s.begin(),
                       [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b); }))
            scheme = prefix.size();
    }
    if (scheme == 0) return false;
    const std::string_view rest = s.substr(scheme);
    const std::size_t host_end = rest.find_first_of("/?#");
    return host_end != 0 && !rest.empty();
}

bool is_language_tag(std::string_view s) {
    std::size_t index = 0;
    while (true) {
        const std::size_t dash = s.find('-');
        const std::string_view subtag = s.substr(0, dash);
        if (subtag.empty() || subtag.size() > 8 || !std::all_of(subtag.begin(), subtag.end(), is_ascii_alnum))
            return false;
        // The primary language subtag is letters only ("en", "pt"), as in BCP 47.
        if (index++ == 0 && (subtag.size() < 2 || !std::all_of(subtag.begin(), subtag.end(), is_ascii_alpha)))
            return false;
        if (dash == std::string_view::npos) return true;
        s.remove_prefix(dash + 1);
    }
}

// Section names are folder names under content.dir, and appear in URLs via :section.
std::optional<std::string> section_name_problem(std::string_view name) {
    if (name.empty() || name.front() == '.' || name.find_first_of("/\\") != std::string_view::npos ||
        std::any_of(name.begin(), name.end(), is_control))
        return "expected a folder name (not empty, no '/', not starting with '.'), got " + in_quotes(name);
    return std::nullopt;
}

std::optional<std::string> glob_problem(std::string_view glob) {
    if (glob.empty()) return "expected a non-empty glob";
    if (glob.front() == '/') return "globs are relative to the section folder, got " + in_quotes(glob);
    for (std::string_view rest = glob; !rest.empty();) {
        const std::size_t slash = rest.find('/');
        if (rest.substr(0, slash) == "..")
            return "a glob cannot leave the section folder ('..'), got " + in_quotes(glob);
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    return std::nullopt;
}

constexpr std::string_view permalink_placeholders[] = {"slug", "filename", "section", "year", "month", "day"};

std::optional<std::string> permalink_problem(std::string_view permalink) {
    if (has_space_or_control(permalink)) return "must not contain spaces or control characters";
    // "//host/…" would be read by browsers as another host, not as a path.
    const bool is_path = permalink.starts_with('/') && !permalink.starts_with("//");
    if (!is_path && !is_http_url(permalink))
        return "expected a path starting with '/' or an http(s):// URL, got " + in_quotes(permalink);
    bool names_item = false;
    for (std::size_t i = 0; i < permalink.size(); ++i) {
        // A placeholder is ':' and a letter; the ':' of "https://" or of a port is followed by '/' or a digit.
        if (permalink[i] != ':' || i + 1 == permalink.size() || !is_ascii_alpha(permalink[i + 1])) continue;
        std::size_t end = i + 1;
        while (end < permalink.size() && (is_ascii_alnum(permalink[end]) || permalink[end] == '_')) ++end;
        const std::string_view word = permalink.substr(i + 1, end - i - 1);
        if (std::find(std::begin(permalink_placeholders), std::end(permalink_placeholders), word) ==
            std::end(permalink_placeholders)) {
            std::vector<std::string> names;
            for (auto p : permalink_placeholders) names.push_back(":" + std::string(p));
            return "unknown placeholder ':" + std::string(word) + "' (expected one of: " + join(names, ", ", ", ") +
                   ")";
        }
        names_item = names_item || word == "slug" || word == "filename";
        i = end - 1;
    }
    if (!names_item) return "needs :slug or :filename, else every item gets the same URL";
    return std::nullopt;
}

constexpr std::string_view reserved_feed_names[] = {"tz", "healthz", "metrics", "index"};

std::optional<std::string> feed_name_problem(std::string_view name) {
    const auto lower_or_digit = [](char c) { return is_ascii_digit(c) || (c >= 'a' && c <= 'z'); };
    const bool well_formed = !name.empty() && lower_or_digit(name.front()) &&
                             std::all_of(name.begin(), name.end(),
                                         [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
    if (!well_formed)
        return "expected a name of lowercase letters, digits, '_' and '-' (starting with a letter or digit), got " +
               in_quotes(name);
    if (std::find(std::begin(reserved_feed_names), std::end(reserved_feed_names), name) !=
        std::end(reserved_feed_names))
        return in_quotes(name) + " is reserved for the server's own paths (" + join(reserved_feed_names, ", ", ", ") +
               ")";
    return std::nullopt;
}

bool is_ipv4(const std::string& host) {
    in_addr addr{};
    return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool is_ipv6(std::string_view host) {
    // A zone index ("fe80::1%eth0") names an interface; inet_pton knows only the address part.
    const std::size_t percent = host.find('%');
    if (percent != std::string_view::npos) {
        const std::string_view zone = host.substr(percent + 1);
        if (zone.empty() || !std::all_of(zone.begin(), zone.end(),
                                         [](char c) { return is_ascii_alnum(c) || c == '_' || c == '-' || c == '.'; }))
            return false;
    }
    in6_addr addr{};
    return inet_pton(AF_INET6, std::string(host.substr(0, percent)).c_str(), &addr) == 1;
}

bool is_hostname(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    // All digits and dots: meant as an IPv4 address, and is_ipv4 already said it is not one.
    if (std::all_of(host.begin(), host.end(), [](char c) { return is_ascii_digit(c) || c == '.'; })) return false;
    for (std::string_view rest = host;;) {
        const std::size_t dot = rest.find('.');
        const std::string_view label = rest.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(), [](char c) { return is_ascii_alnum(c) || c == '-'; }))
            return false;
        if (dot == std::string_view::npos) return true;
        rest.remove_prefix(dot + 1);
    }
}

std::optional<std::string> read_zone(const Value& v) {
    auto zone = v.scalar("a time zone name");
    if (zone && !is_known_time_zone(*zone)) {
        v.error("unknown time zone " + in_quotes(*zone));
        return std::nullopt;
    }
    return zone;
}

// Reads a list of scalars, each checked by `problem` (nullopt: accepted).
template <class Problem>
std::optional<std::vector<std::string>> read_string_list(const Value& v, std::string_view what, Problem problem) {
    std::vector<std::string> out;
    const bool is_list = for_each_item(v, what, [&](const Value& item) {
        auto s = item.scalar("a string");
        if (!s) return;
        if (auto p = problem(*s)) item.error(*p);
        else out.push_back(std::move(*s));
    });
    if (!is_list) return std::nullopt;
    return out;
}

std::optional<std::vector<std::string>> read_globs(const Value& v) {
    return read_string_list(v, "a list of globs", glob_problem);
}

std::optional<std::vector<std::string>> read_labels(const Value& v) {
    return read_string_list(v, "a list of strings", [](std::string_view s) -> std::optional<std::string> {
        if (s.empty()) return "expected a non-empty string";
        return std::nullopt;
    });
}

// --- The schema --------------------------------------------------------------------------------------

constexpr std::pair<std::string_view, EntryIds> entry_ids[] = {{"tag", EntryIds::tag}, {"permalink", EntryIds::permalink}};

constexpr std::pair<std::string_view, SectionType> section_types[] = {
    {"event", SectionType::event}, {"post", SectionType::post}, {"page", SectionType::page}};

constexpr std::pair<std::string_view, FeedFormat> feed_formats[] = {
    {"ics", FeedFormat::ics}, {"rss", FeedFormat::rss}, {"atom", FeedFormat::atom}, {"json", FeedFormat::json}};

constexpr std::pair<std::string_view, std::string_view> log_levels[] = {
    {"trace", "trace"}, {"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}, {"off", "off"}};

constexpr std::pair<std::string_view, std::string_view> log_formats[] = {
    {"text", "text"}, {"journal", "journal"}, {"json", "json"}};

// A feed as read, with the values that can only be checked once the whole file is read: its
// sections may be declared after it, and its title defaults to the site's title.
struct FeedDraft {
    FeedConfig feed;
    std::optional<Value> name;
    bool title_given = false;
    bool sections_given = false;
    std::vector<Value> section_items;
    bool formats_given = false;
    std::vector<std::pair<FeedFormat, Value>> format_items;
};

struct Document {
    SiteConfig config;
    std::vector<FeedDraft> feeds;
};

const Field<SiteInfo> site_fields[] = {
    {"title", [](const Value& v, SiteInfo& s) { assign(s.title, read_string(v)); }},
    {"base_url",
     [](const Value& v, SiteInfo& s) {
         auto url = v.scalar("an absolute http:// or https:// URL");
         if (!url) return;
         if (const auto problem = base_url_problem(*url)) return v.error(*problem);
         // Permalinks and feed URLs are appended to it.
         if (!url->ends_with('/')) *url += '/';
         s.base_url = std::move(*url);
     }},
    {"timezone", [](const Value& v, SiteInfo& s) { assign(s.timezone, read_zone(v)); }},
    {"language",
     [](const Value& v, SiteInfo& s) {
         constexpr std::string_view what = "a language tag like 'en' or 'pt-BR'";
         const auto tag = v.scalar(what);
         if (tag && !is_language_tag(*tag)) return void(v.expected(what));
         assign(s.language, tag);
     }},
    {"author", [](const Value& v, SiteInfo& s) { assign(s.author, read_string(v)); }},
    {"id_date",
     [](const Value& v, SiteInfo& s) {
         constexpr std::string_view what = "a date 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD'";
         const auto text = v.scalar(what);
         if (text && !parse_tag_date(*text)) return void(v.expected(what));
         assign(s.id_date, text);
     }},
    {"ids", [](const Value& v, SiteInfo& s) { assign(s.ids, read_choice(v, entry_ids)); }},
};

const Field<SectionConfig> section_fields[] = {
    {"type", [](const Value& v, SectionConfig& s) { assign(s.type, read_choice(v, section_types)); }},
    {"include", [](const Value& v, SectionConfig& s) { assign(s.include, read_globs(v)); }},
    {"exclude", [](const Value& v, SectionConfig& s) { assign(s.exclude, read_globs(v)); }},
    {"permalink",
     [](const Value& v, SectionConfig& s) {
         const auto permalink = v.scalar("a string");
         if (!permalink) return;
         if (auto problem = permalink_problem(*permalink)) return v.error(*problem);
         s.permalink = *permalink;
     }},
};

// A shortcode name as Hugo's tag scanner reads it: letters, digits and _ - . /
std::optional<std::string> shortcode_name_problem(std::string_view name) {
    const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return is_ascii_alpha(c) || is_ascii_digit(c) || c == '_' || c == '-' || c == '.' || c == '/';
    });
    if (ok) return std::nullopt;
    return "invalid shortcode name " + in_quotes(name) + " (letters, digits, '_', '-', '.', '/')";
}

// content.shortcodes: name → template. Each template is parsed here, so a broken one is reported
// at its line by `almanac check` and never reaches the content.
void read_shortcodes(const Value& v, ContentConfig& c) {
    for_each_entry(v, [&](const Value& member, const YAML::Node& key) {
        const std::string name = scalar_of(key);
        if (auto problem = shortcode_name_problem(name))
            return member.walker().report(key.Mark(), Severity::error, member.key_path(), *problem);
        const auto source = member.scalar("a template (a string)");
        if (!source) return;
        auto parsed = parse_shortcode_template(*source);
        if (!parsed) return member.error("invalid template: " + parsed.error());
        c.shortcodes.push_back({name, *source, std::move(parsed).value()});
    });
}

const Field<ContentConfig> content_fields[] = {
    {"dir", [](const Value& v, ContentConfig& c) { assign(c.dir, read_non_empty_string(v)); }},
    {"unsafe_html", [](const Value& v, ContentConfig& c) { assign(c.unsafe_html, read_bool(v)); }},
    {"build_future", [](const Value& v, ContentConfig& c) { assign(c.build_future, read_bool(v)); }},
    {"shortcodes", read_shortcodes},
    {"sections",
     [](const Value& v, ContentConfig& c) {
         c.sections_given = true;
         for_each_entry(v, [&](const Value& member, const YAML::Node& key) {
             if (auto problem = section_name_problem(scalar_of(key)))
                 return member.walker().report(key.Mark(), Severity::error, member.key_path(), *problem);
             // A section left untyped gets the type its folder name would get when detected.
             SectionConfig section = detected_section(scalar_of(key));
             read_fields(member, section, section_fields);
             c.sections.push_back(std::move(section));
         });
     }},
};

const Field<FeedWindow> window_fields[] = {
    {"past_days", [](const Value& v, FeedWindow& w) { assign(w.past_days, read_int(v, {0})); }},
    {"future_days", [](const Value& v, FeedWindow& w) { assign(w.future_days, read_int(v, {0})); }},
};

const Field<FeedDraft> feed_fields[] = {
    {"name",
     [](const Value& v, FeedDraft& f) {
         f.name = v;
         const auto name = v.scalar("a feed name");
         if (!name) return;
         if (auto problem = feed_name_problem(*name)) return v.error(*problem);
         f.feed.name = *name;
     }},
    {"title", [](const Value& v, FeedDraft& f) { f.title_given = assign(f.feed.title, read_string(v)); }},
    {"description", [](const Value& v, FeedDraft& f) { assign(f.feed.description, read_string(v)); }},
    {"sections",
     [](const Value& v, FeedDraft& f) {
         f.sections_given = true;
         const bool is_list = for_each_item(v, "a list of section names", [&](const Value& item) {
             const auto name = item.scalar("a section name");
             if (!name) return;
             if (auto problem = section_name_problem(*name)) return item.error(*problem);
             if (std::find(f.feed.sections.begin(), f.feed.sections.end(), *name) != f.feed.sections.end())
                 return item.error("duplicate section " + in_quotes(*name));
             f.feed.sections.push_back(*name);
             f.section_items.push_back(item);
         });
         if (is_list && v.node().size() == 0) v.error("expected at least one section");
     }},
    {"formats",
     [](const Value& v, FeedDraft& f) {
         f.formats_given = true;
         const bool is_list = for_each_item(v, "a list of formats (ics, rss, atom, json)", [&](const Value& item) {
             const auto format = read_choice(item, feed_formats);
             if (!format) return;
             if (publishes(f.feed, *format))
                 return item.error("duplicate format " + in_quotes(scalar_of(item.node())));
             f.feed.formats.push_back(*format);
             f.format_items.emplace_back(*format, item);
         });
         if (is_list && v.node().size() == 0) v.error("expected at least one of ics, rss, atom, json");
     }},
    {"tags", [](const Value& v, FeedDraft& f) { assign(f.feed.tags, read_labels(v)); }},
    {"kinds", [](const Value& v, FeedDraft& f) { assign(f.feed.kinds, read_labels(v)); }},
    {"limit", [](const Value& v, FeedDraft& f) { assign(f.feed.limit, read_int(v, {1})); }},
    {"window", [](const Value& v, FeedDraft& f) { read_fields(v, f.feed.window, window_fields); }},
};

const Field<TimezonesConfig> timezones_fields[] = {
    {"prerender",
     [](const Value& v, TimezonesConfig& t) {
         std::vector<std::string> zones;
         const bool is_list = for_each_item(v, "a list of time zone names", [&](const Value& item) {
             auto zone = read_zone(item);
             if (!zone) return;
             if (std::find(zones.begin(), zones.end(), *zone) != zones.end())
                 return item.warning("duplicate time zone " + in_quotes(*zone) + " ignored");
             zones.push_back(std::move(*zone));
         });
         if (is_list) t.prerender = std::move(zones);
     }},
    {"allow_any", [](const Value& v, TimezonesConfig& t) { assign(t.allow_any, read_bool(v)); }},
};

const Field<ServerLimits> limits_fields[] = {
    {"max_header_bytes",
     [](const Value& v, ServerLimits& l) { assign(l.max_header_bytes, read_int(v, {1024, 1024LL * 1024})); }},
    {"header_timeout", [](const Value& v, ServerLimits& l) { assign(l.header_timeout_seconds, read_duration(v, 1)); }},
    {"idle_timeout", [](const Value& v, ServerLimits& l) { assign(l.idle_timeout_seconds, read_duration(v, 1)); }},
    {"max_connections",
     [](const Value& v, ServerLimits& l) { assign(l.max_connections, read_int(v, {1, 1'000'000})); }},
    {"max_cached_zones",
     [](const Value& v, ServerLimits& l) { assign(l.max_cached_zones, read_int(v, {0, 100'000})); }},
};

const Field<ServerConfig> server_fields[] = {
    {"listen",
     [](const Value& v, ServerConfig& s) {
         std::vector<std::string> addresses;
         const bool is_list = for_each_item(v, "a list of ADDR:PORT", [&](const Value& item) {
             auto address = item.scalar("ADDR:PORT");
             if (!address) return;
             if (auto problem = listen_address_problem(*address)) return item.error(*problem);
             if (std::find(addresses.begin(), addresses.end(), *address) != addresses.end())
                 return item.error("duplicate address " + in_quotes(*address));
             addresses.push_back(std::move(*address));
         });
         if (!is_list) return;
         if (v.node().size() == 0) return v.error("expected at least one ADDR:PORT");
         s.listen = std::move(addresses);
     }},
    {"cache_max_age", [](const Value& v, ServerConfig& s) { assign(s.cache_max_age_seconds, read_duration(v, 1)); }},
    // Calendar clients poll at this interval; below a minute they would hammer the server.
    {"refresh_interval",
     [](const Value& v, ServerConfig& s) { assign(s.refresh_interval_seconds, read_duration(v, 60)); }},
    {"access_log", [](const Value& v, ServerConfig& s) { assign(s.access_log, read_bool(v)); }},
    {"sendfile", [](const Value& v, ServerConfig& s) { assign(s.sendfile, read_bool(v)); }},
    {"limits", [](const Value& v, ServerConfig& s) { read_fields(v, s.limits, limits_fields); }},
};

const Field<LogConfig> log_fields[] = {
    {"level", [](const Value& v, LogConfig& l) { assign(l.level, read_choice(v, log_levels)); }},
    {"format", [](const Value& v, LogConfig& l) { assign(l.format, read_choice(v, log_formats)); }},
};

const Field<Document> document_fields[] = {
    {"site", [](const Value& v, Document& d) { read_fields(v, d.config.site, site_fields); }},
    {"content", [](const Value& v, Document& d) { read_fields(v, d.config.content, content_fields); }},
    {"feeds",
     [](const Value& v, Document& d) {
         d.config.feeds_given = true;
         const bool is_list = for_each_item(v, "a list of feeds", [&](const Value& item) {
             if (!item.node().IsMap()) return void(item.expected("a feed (a map with name, sections, …)"));
             FeedDraft draft;
             read_fields(item, draft, feed_fields);
             if (!draft.name) item.error("missing required key 'name'");
             if (!draft.sections_given) item.error("missing required key 'sections'");
             d.feeds.push_back(std::move(draft));
         });
         if (is_list && v.node().size() == 0) v.warning("no feeds: the server will serve only its index page");
     }},
    {"timezones", [](const Value& v, Document& d) { read_fields(v, d.config.timezones, timezones_fields); }},
    {"server", [](const Value& v, Document& d) { read_fields(v, d.config.server, server_fields); }},
    {"log", [](const Value& v, Document& d) { read_fields(v, d.config.log, log_fields); }},
};

// The checks that need the whole file: unique names, known sections, formats their sections allow.
void finish_feeds(Document& doc) {
    SiteConfig& config = doc.config;
    std::map<std::string, int, std::less<>> first_line;
    for (FeedDraft& draft : doc.feeds) {
        FeedConfig& feed = draft.feed;
        if (!feed.name.empty()) {
            const auto [first, fresh] = first_line.emplace(feed.name, line_of(draft.name->node().Mark()));
            if (!fresh)
                draft.name->error("duplicate feed name " + in_quotes(feed.name) + " (first at line " +
                                  std::to_string(first->second) + ")");
        }
        if (!draft.title_given) feed.title = config.site.title + " — " + feed.name;

        bool all_known = true;
        bool has_event = false;
        for (std::size_t i = 0; i < feed.sections.size(); ++i) {
            const Value& item = draft.section_items[i];
            // Without configured sections, folders get their detected type when the site is built.
            std::optional<SectionType> type;
            if (!config.content.sections_given) type = detected_section(feed.sections[i]).type;
            else if (const SectionConfig* section = find_section(config, feed.sections[i])) type = section->type;
            if (!type) {
                std::vector<std::string> names;
                for (const auto& s : config.content.sections) names.push_back(s.name);
                item.error("unknown section " + in_quotes(feed.sections[i]) +
                           (names.empty() ? " (content.sections is empty)"
                                          : " (configured: " + join(names, ", ", ", ") + ")"));
                all_known = false;
                continue;
            }
            if (*type == SectionType::page)
                item.error("section " + in_quotes(feed.sections[i]) + " holds pages, and pages feed nothing");
            has_event = has_event || *type == SectionType::event;
        }

        if (!draft.formats_given) {
            if (has_event) feed.formats.push_back(FeedFormat::ics);
            feed.formats.insert(feed.formats.end(), {FeedFormat::rss, FeedFormat::atom, FeedFormat::json});
        } else if (all_known && !has_event) {
            for (const auto& [format, item] : draft.format_items)
                if (format == FeedFormat::ics) item.error("ics needs an event section");
        }
        config.feeds.push_back(std::move(feed));
    }
}

// Where each YAML document of a stream starts, read with yaml-cpp's event parser. YAML::LoadAll is
// not used: in yaml-cpp 0.7 some malformed streams (a lone ',') make the parser report an empty
// document again and again without reading on, and LoadAll collects them until memory runs out
// (yaml-cpp PR #1319). A document that starts where the previous one did is that loop.
class DocumentStarts : public YAML::EventHandler {
public:
    struct Start {
        YAML::Mark document;  // the first token of the document ("---" or its root)
        YAML::Mark root;      // the root node, as YAML::Node::Mark() gives it
    };

    std::vector<Start> starts;

    // True when the last document began where the one before it did.
    bool stuck() const { return starts.size() >= 2 && starts.back().document.pos == starts[starts.size() - 2].document.pos; }

    void OnDocumentStart(const YAML::Mark& mark) override {
        starts.push_back({mark, mark});
        awaiting_root_ = true;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override { node(mark); }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}

private:
    void node(const YAML::Mark& mark) {
        if (awaiting_root_ && !starts.empty()) starts.back().root = mark;
        awaiting_root_ = false;
    }

    bool awaiting_root_ = false;
};

std::string resolve_dir(const std::string& base_dir, const std::string& dir) {
    std::filesystem::path resolved = (std::filesystem::path(base_dir) / dir).lexically_normal();
    // "content/" and "content" name the same folder; keep one spelling.
    if (resolved.has_relative_path() && !resolved.has_filename()) resolved = resolved.parent_path();
    return resolved.string();
}

}  // namespace

std::optional<std::string> base_url_problem(std::string_view text) {
    if (!is_http_url(text) || has_space_or_control(text))
        return "expected an absolute http:// or https:// URL, got " + in_quotes(text);
    if (text.find_first_of("?#") != std::string_view::npos)
        return "expected a URL without query or fragment, got " + in_quotes(text);
    return std::nullopt;
}

bool is_known_time_zone(std::string_view name) { return find_zone(name).has_value(); }

std::optional<int> parse_duration_seconds(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::optional<long long> seconds;
    if (text.starts_with('P')) {
        const std::size_t t = text.find('T');
        const std::string_view date_part = text.substr(1, t == std::string_view::npos ? t : t - 1);
        const std::string_view time_part = t == std::string_view::npos ? std::string_view() : text.substr(t + 1);
        const auto days = sum_units(date_part, {{'W', 7 * 86400}, {'D', 86400}});
        const auto time = sum_units(time_part, {{'H', 3600}, {'M', 60}, {'S', 1}});
        const bool has_parts = t == std::string_view::npos ? !date_part.empty() : !time_part.empty();
        if (days && time && has_parts) seconds = *days + *time;
    } else if (std::all_of(text.begin(), text.end(), is_ascii_digit)) {
        seconds = text.size() <= 10 ? parse_integer(text) : std::nullopt;
    } else {
        seconds = sum_units(text, {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}});
    }
    if (!seconds || *seconds > INT_MAX) return std::nullopt;
    return static_cast<int>(*seconds);
}

std::optional<std::string> listen_address_problem(std::string_view text) {
    const std::string expected = "expected ADDR:PORT, got " + in_quotes(text);
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return expected;
    const std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']' || !is_ipv6(host.substr(1, host.size() - 2))) return expected;
    } else if (host.find(':') != std::string_view::npos) {
        return "an IPv6 address needs brackets, like '[::1]:8080', got " + in_quotes(text);
    } else if (!is_ipv4(std::string(host)) && !is_hostname(host)) {
        return expected;
    }
    const bool digits_only = !port.empty() && std::all_of(port.begin(), port.end(), is_ascii_digit);
    const auto number = digits_only ? parse_integer(port) : std::nullopt;
    if (!number || *number < 1 || *number > 65535) return "expected a port from 1 to 65535, got " + in_quotes(text);
    return std::nullopt;
}

ConfigLoadResult parse_config(std::string_view yaml_text, const std::string& path, const std::string& base_dir) {
    ConfigLoadResult result;
    // A NUL would make yaml-cpp read the file as UTF-16 (see yaml_control_character).
    if (auto refused = yaml_control_character(yaml_text, path)) {
        result.diagnostics.push_back(std::move(*refused));
        return result;
    }
    Walker walker(path, result.diagnostics);
    Document doc;
    doc.config.path = path;
    doc.config.base_dir = base_dir;
    try {
        const std::string text(yaml_text);
        std::istringstream stream(text);
        YAML::Parser parser(stream);
        DocumentStarts documents;
        while (parser.HandleNextDocument(documents) && !documents.stuck()) {
        }
        const auto& starts = documents.starts;
        if (documents.stuck()) {
            const auto& at = starts.back().document;
            walker.report(at, Severity::error, "",
                          "YAML syntax error: unexpected " +
                              (static_cast<std::size_t>(at.pos) < text.size() ? in_quotes(text.substr(at.pos, 1))
                                                                              : std::string("end of input")));
        } else {
            if (starts.size() > 1)
                walker.report(starts[1].root, Severity::error, "",
                              "expected one YAML document, found " + std::to_string(starts.size()));
            if (!starts.empty()) {
                const Value root(walker, YAML::Load(text), "");
                if (!root.is_null() && !root.node().IsMap()) root.expected("a map (site:, content:, feeds:, …)");
                else read_fields(root, doc, document_fields);
            }
        }
        // Readers keep content.dir as written; it resolves against the config's folder.
        doc.config.content.dir = resolve_dir(base_dir, doc.config.content.dir);
        finish_feeds(doc);
    } catch (const YAML::DeepRecursion& e) {
        walker.report(e.mark, Severity::error, "", "YAML syntax error: nested too deeply");
    } catch (const YAML::Exception& e) {
        // yaml-cpp quotes the byte it stopped at, which may be the first byte of a character.
        walker.report(e.mark, Severity::error, "", "YAML syntax error: " + valid_utf8(e.msg));
    }
    sort_diagnostics(result.diagnostics);
    if (!has_errors(result.diagnostics)) result.config = std::move(doc.config);
    return result;
}

SiteConfig default_config(const std::string& base_dir) {
    SiteConfig config;
    config.base_dir = base_dir;
    config.content.dir = resolve_dir(base_dir, config.content.dir);
    return config;
}

}  // namespace almanac
