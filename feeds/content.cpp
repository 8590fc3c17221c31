#include "feeds/content.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include <xxhash.h>

#include "feeds/front_matter.hpp"
#include "feeds/markdown.hpp"
#include "feeds/text.hpp"
#include "feeds/uri.hpp"

namespace almanac {

std::optional<Instant> item_updated(const Item& item, Instant now) {
    std::optional<Instant> newest;
    for (const auto& t : {item.lastmod, item.date, item.publish_date})
        if (t && *t <= now && (!newest || *newest < *t)) newest = t;
    return newest;
}

bool is_visible(const Item& item, Instant now) {
    if (item.draft) return false;
    if (item.publish_date && now < *item.publish_date) return false;
    if (item.expiry_date && *item.expiry_date < now) return false;
    return true;
}

std::vector<std::string> item_categories(const Item& item) {
    std::vector<std::string> categories;
    const auto add = [&](const std::string& term) {
        if (!term.empty() && std::find(categories.begin(), categories.end(), term) == categories.end())
            categories.push_back(term);
    };
    add(item.kind);
    for (const auto& tag : item.tags) add(tag);
    return categories;
}

// ---------------------------------------------------------------------------------------------
// Which files are content

namespace {

bool match_class(std::string_view pattern, std::size_t& pi, char c) {
    // pattern[pi] == '['; on return pi is just past ']' (or unchanged if the class is unterminated).
    std::size_t i = pi + 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    bool matched = false;
    bool first = true;
    while (i < pattern.size() && (first || pattern[i] != ']')) {
        first = false;
        char lo = pattern[i];
        char hi = lo;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            hi = pattern[i + 2];
            i += 2;
        }
        if (lo <= c && c <= hi) matched = true;
        ++i;
    }
    if (i >= pattern.size()) return false;  // unterminated: no match
    pi = i + 1;
    return matched != negate;
}

bool glob_from(std::string_view p, std::size_t pi, std::string_view s, std::size_t si) {
    while (pi < p.size()) {
        const char c = p[pi];
        if (c == '*') {
            if (pi + 1 < p.size() && p[pi + 1] == '*') {
                // "**/" matches zero or more whole segments; a bare "**" matches anything.
                std::size_t next = pi + 2;
                const bool slash = next < p.size() && p[next] == '/';
                if (slash) ++next;
                for (std::size_t k = si; k <= s.size(); ++k) {
                    if (slash && k != si && s[k - 1] != '/') continue;
                    if (glob_from(p, next, s, k)) return true;
                }
                return false;
            }
            for (std::size_t k = si; k <= s.size(); ++k) {
                if (glob_from(p, pi + 1, s, k)) return true;
                if (k < s.size() && s[k] == '/') break;
            }
            return false;
        }
        if (si >= s.size()) return false;
        if (c == '?') {
            if (s[si] == '/') return false;
            ++pi;
            ++si;
        } else if (c == '[') {
            if (s[si] == '/') return false;
            std::size_t np = pi;
            if (!match_class(p, np, s[si])) return false;
            pi = np;
            ++si;
        } else {
            if (c != s[si]) return false;
            ++pi;
            ++si;
        }
    }
    return si == s.size();
}

std::string_view basename(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view extension(std::string_view name) {
    const auto dot = name.rfind('.');
    return dot == std::string_view::npos || dot == 0 ? std::string_view{} : name.substr(dot);
}

std::string_view stem(std::string_view name) {
    const auto ext = extension(name);
    return name.substr(0, name.size() - ext.size());
}

}  // namespace

std::string site_host(const std::string& base_url) {
    auto rest = std::string_view(base_url);
    if (const auto p = rest.find("://"); p != std::string_view::npos) rest.remove_prefix(p + 3);
    rest = rest.substr(0, rest.find('/'));
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    return rest.empty() ? std::string("almanac.invalid") : std::string(rest);
}

bool glob_match(std::string_view pattern, std::string_view path) { return glob_from(pattern, 0, path, 0); }

bool is_ignored_name(std::string_view name) {
    if (name.empty() || name.front() == '.') return true;                            // hidden, .#lock, .x.swp
    if (name.back() == '~') return true;                                             // emacs/vim backups
    if (name.size() >= 2 && name.front() == '#' && name.back() == '#') return true;  // emacs autosave
    if (name == "4913") return true;                                                 // vim's write test file
    const auto ext = ascii_lower(extension(name));
    return ext == ".swp" || ext == ".swo" || ext == ".swx" || ext == ".tmp" || ext == ".bak";
}

FileRole classify_path(std::string_view path, const SectionConfig& section) {
    if (!path.starts_with(section.name) || path.size() <= section.name.size() || path[section.name.size()] != '/')
        return FileRole::ignored;
    const std::string_view rel = path.substr(section.name.size() + 1);
    for (std::size_t start = 0; start < rel.size();) {
        const auto end = rel.find('/', start);
        const auto segment = rel.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (is_ignored_name(segment)) return FileRole::ignored;
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    const auto ext = ascii_lower(extension(basename(rel)));
    FileRole role = FileRole::unhandled;
    if (ext == ".md" || ext == ".markdown") {
        role = FileRole::markdown;
    } else if (section.type == SectionType::event &&
               (ext == ".yaml" || ext == ".yml" || ext == ".toml" || ext == ".json")) {
        role = FileRole::data;
    }
    const bool section_page = basename(rel) == "_index.md";
    if (!section.include.empty() && !section_page &&
        std::none_of(section.include.begin(), section.include.end(), [&](const auto& g) { return glob_match(g, rel); }))
        return FileRole::ignored;
    if (std::any_of(section.exclude.begin(), section.exclude.end(), [&](const auto& g) { return glob_match(g, rel); }))
        return FileRole::ignored;
    return role;
}

// ---------------------------------------------------------------------------------------------
// Reading front matter values, each problem reported at its key

namespace {

constexpr std::array event_keys{"title", "start", "end", "duration", "timezone", "rrule",
                                "exdate", "rdate", "status", "location", "geo", "url",
                                "online", "organizer", "kind", "tags", "description", "uid",
                                "sequence", "lastmod", "draft", "publishDate", "expiryDate", "slug",
                                "summary", "author", "authors"};

// Hugo keys that a page may carry for its theme; they mean nothing to feeds and are not typos.
constexpr std::array hugo_keys{"aliases", "weight", "layout", "type", "images", "params", "keywords",
                               "linkTitle", "subtitle", "categories", "series", "toc", "featured_image",
                               "image", "menu", "outputs", "markup", "headless", "cascade", "date",
                               "build", "resources", "translationKey", "isCJKLanguage", "sitemap"};

int edit_distance(std::string_view a, std::string_view b) {
    std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = static_cast<int>(i);
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const int sub = prev[j - 1] + (ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]) ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

class Reader {
public:
    Reader(const std::string& path, std::string prefix, Diagnostics& out) : path_(path), prefix_(std::move(prefix)), out_(out) {}

    // A reader for the keys of a nested map: its messages say "geo.lat: …".
    Reader nested(const std::string& key) const { return Reader(path_, prefix_ + key + ".", out_); }

    void error(const FmNode& at, const std::string& key, const std::string& message) {
        add(at.line, at.column, Severity::error, key, message);
    }
    void warning(const FmNode& at, const std::string& key, const std::string& message) {
        add(at.line, at.column, Severity::warning, key, message);
    }
    void add(int line, int column, Severity sev, const std::string& key, const std::string& message) {
        out_.push_back({path_, line, column, sev, (key.empty() ? prefix_.empty() ? "" : prefix_ + ": " : prefix_ + key + ": ") + message});
    }

    // A scalar's text; an error for lists and maps. Null (key with no value) gives nullopt.
    std::optional<std::string> string(const FmNode& map, const std::string& key) {
        const FmNode* n = map.find(key);
        if (!n || n->kind == FmNode::Kind::null) return std::nullopt;
        if (n->kind != FmNode::Kind::scalar) {
            error(*n, key, "expected text, got " + std::string(kind_name(n->kind)));
            return std::nullopt;
        }
        if (has_control_chars(n->scalar) && key != "description") {
            error(*n, key, "contains control characters");
            return std::nullopt;
        }
        return n->scalar;
    }

    std::optional<bool> boolean(const FmNode& map, const std::string& key) {
        const auto s = string(map, key);
        if (!s) return std::nullopt;
        const auto v = ascii_lower(trim(*s));  // YAML 1.2 core schema and Hugo: true, True, TRUE
        if (v == "true") return true;
        if (v == "false") return false;
        error(*map.find(key), key, "expected true or false, got '" + *s + "'");
        return std::nullopt;
    }

    std::optional<long long> integer(const FmNode& map, const std::string& key, long long min, long long max) {
        const auto s = string(map, key);
        if (!s) return std::nullopt;
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(s->c_str(), &end, 10);
        if (s->empty() || *end != '\0' || errno != 0 || v < min || v > max) {
            error(*map.find(key), key,
                  "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + *s + "'");
            return std::nullopt;
        }
        return v;
    }

    std::optional<double> number(const FmNode& map, const std::string& key, double min, double max) {
        const auto s = string(map, key);
        if (!s) return std::nullopt;
        char* end = nullptr;
        const double v = std::strtod(s->c_str(), &end);
        if (s->empty() || *end != '\0' || !std::isfinite(v) || v < min || v > max) {
            char range[64];
            // NOLINTNEXTLINE(cert-err33-c): two %g fit in 64 bytes; the result cannot be cut or fail
            std::snprintf(range, sizeof range, "%g to %g", min, max);
            error(*map.find(key), key, std::string("expected a number from ") + range + ", got '" + *s + "'");
            return std::nullopt;
        }
        return v;
    }

    // A list of strings; a single scalar counts as a one-element list.
    std::vector<std::string> strings(const FmNode& map, const std::string& key) {
        std::vector<std::string> out;
        const FmNode* n = map.find(key);
        if (!n || n->kind == FmNode::Kind::null) return out;
        if (n->kind == FmNode::Kind::scalar) {
            if (!trim(n->scalar).empty()) out.emplace_back(trim(n->scalar));
            return out;
        }
        if (n->kind != FmNode::Kind::list) {
            error(*n, key, "expected a list of text, got " + std::string(kind_name(n->kind)));
            return out;
        }
        for (std::size_t i = 0; i < n->list.size(); ++i) {
            const auto& e = n->list[i];
            if (e.kind != FmNode::Kind::scalar) {
                error(e, key + "[" + std::to_string(i) + "]", "expected text, got " + std::string(kind_name(e.kind)));
                continue;
            }
            if (!trim(e.scalar).empty()) out.emplace_back(trim(e.scalar));
        }
        return out;
    }

    // A date or date-time as an instant: dates are midnight and wall times are read in `zone`.
    std::optional<Instant> instant(const FmNode& map, const std::string& key, const Zone& zone) {
        const auto s = string(map, key);
        if (!s) return std::nullopt;
        const auto t = parse_event_time(trim(*s));
        if (!t) {
            error(*map.find(key), key, t.error());
            return std::nullopt;
        }
        return to_instant(*t, zone);
    }

    void check_keys(const FmNode& map, bool strict) {
        for (const auto& e : map.map) {
            const auto same = [&](const char* k) { return ascii_iequals(k, e.key); };
            const bool known = std::any_of(event_keys.begin(), event_keys.end(), same) ||
                               std::any_of(hugo_keys.begin(), hugo_keys.end(), same);
            if (known || !strict) continue;
            std::string best;
            int best_d = 3;
            for (const char* k : event_keys) {
                const int d = edit_distance(e.key, k);
                if (d < best_d) {
                    best_d = d;
                    best = k;
                }
            }
            add(e.line, e.column, Severity::warning, e.key,
                best.empty() ? "unknown key, ignored" : "unknown key, ignored (did you mean '" + best + "'?)");
        }
    }

private:
    const std::string& path_;
    std::string prefix_;
    Diagnostics& out_;
};

bool is_absolute_url(std::string_view s) {
    const auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    for (std::size_t i = 0; i < colon; ++i) {
        const char c = s[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok) return false;
    }
    return true;
}

// A path on the site: "/blog/x/" under base_url "https://ex.org/sub/" is https://ex.org/sub/blog/x/
// (the base's own path is kept, unlike an RFC 3986 root-relative reference). Absolute URLs stay.
std::string site_url(const std::string& base_url, std::string_view path) {
    if (is_absolute_url(path)) return std::string(path);
    while (path.starts_with('/')) path.remove_prefix(1);
    // With a colon in its first segment the rest would read as a URL of its own ("/javascript:x/"
    // as the scheme javascript): RFC 3986 §4.2 has such a relative path start with "./".
    if (path.find(':') < path.find('/')) return resolve_url(base_url, "./" + std::string(path));
    return resolve_url(base_url, path);
}

std::string two_digits(unsigned v) { return v < 10 ? "0" + std::to_string(v) : std::to_string(v); }

std::string expand_permalink(const std::string& pattern, const std::string& base_url, const std::string& section,
                             const std::string& slug, const std::string& filename,
                             std::optional<date::year_month_day> day) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        auto placeholder = [&](std::string_view name) {
            return pattern.compare(i, name.size(), name) == 0 &&
                   (i + name.size() == pattern.size() ||
                    !std::isalnum(static_cast<unsigned char>(pattern[i + name.size()])));
        };
        // NOLINTNEXTLINE(bugprone-branch-clone): a plain character and an unknown ':name' are both copied as is
        if (pattern[i] != ':') {
            out += pattern[i++];
        } else if (placeholder(":slug")) {
            out += slug;
            i += 5;
        } else if (placeholder(":filename")) {
            out += filename;
            i += 9;
        } else if (placeholder(":section")) {
            out += section;
            i += 8;
        } else if (placeholder(":year")) {
            out += day ? std::to_string(int{day->year()}) : "";
            i += 5;
        } else if (placeholder(":month")) {
            out += day ? two_digits(unsigned{day->month()}) : "";
            i += 6;
        } else if (placeholder(":day")) {
            out += day ? two_digits(unsigned{day->day()}) : "";
            i += 4;
        } else {
            out += pattern[i++];
        }
    }
    if (is_absolute_url(out)) return out;
    return site_url(base_url, out);
}

std::optional<date::year_month_day> file_name_date(std::string_view name) {
    if (name.size() < 10) return std::nullopt;
    const auto t = parse_event_time(name.substr(0, 10));
    if (!t) return std::nullopt;
    if (const auto* d = std::get_if<CivilDate>(&*t)) return d->ymd;
    return std::nullopt;
}

date::year_month_day local_day(Instant t, const Zone& zone) {
    const auto info = zone_info_at(zone, t);
    return date::year_month_day{date::floor<date::days>(t + info.offset)};
}

std::string describe_shift(const EventTime& written, const Zone& zone, WallTimeKind kind) {
    const auto& wall = std::get<WallTime>(written);
    const auto instant = to_instant(wall, zone);
    const auto info = zone_info_at(zone, instant);
    const EventTime shifted = WallTime{date::local_seconds{instant.time_since_epoch() + info.offset}};
    if (kind == WallTimeKind::nonexistent)
        return format_event_time(written) + " does not exist in " + zone.name +
               " (the clocks skip it); it is taken as " + format_event_time(shifted) + " (RFC 5545 §3.3.5)";
    return format_event_time(written) + " happens twice in " + zone.name +
           " (the clocks go back); the first occurrence is used (RFC 5545 §3.3.5)";
}

// Converts `t` into the kind of `start` where that is meaningful; nullopt with a message otherwise.
std::optional<EventTime> same_kind(const EventTime& t, const EventTime& start, const Zone& zone, std::string& why) {
    if (std::holds_alternative<CivilDate>(start) != std::holds_alternative<CivilDate>(t)) {
        why = std::holds_alternative<CivilDate>(start) ? "is a date-time but start is a date (an all-day event)"
                                                       : "is a date but start has a time";
        return std::nullopt;
    }
    if (std::holds_alternative<WallTime>(start)) {
        if (const auto* i = std::get_if<Instant>(&t)) {
            const auto info = zone_info_at(zone, *i);
            return WallTime{date::local_seconds{i->time_since_epoch() + info.offset}};
        }
    } else if (std::holds_alternative<Instant>(start)) {
        if (const auto* w = std::get_if<WallTime>(&t)) return to_instant(*w, zone);
    }
    return t;
}

struct Context {
    const SourceFile& file;
    const SectionConfig& section;
    const SiteConfig& config;
    Zone site_zone;
};

void parse_event_fields(Reader& r, const FmNode& fm, Item& item, const Context& ctx, bool& failed) {
    Event ev;
    ev.zone = ctx.site_zone;
    if (const auto tz = r.string(fm, "timezone")) {
        if (auto z = find_zone(trim(*tz))) {
            ev.zone = *z;
        } else {
            r.error(*fm.find("timezone"), "timezone", z.error());
            failed = true;
        }
    }

    const FmNode* start_node = fm.find("start");
    const auto start_text = r.string(fm, "start");
    if (!start_text) {
        if (!start_node || start_node->kind == FmNode::Kind::null)
            r.add(std::max(fm.line, 1), fm.column, Severity::error, "", "an event needs a start (start: YYYY-MM-DD or YYYY-MM-DDTHH:MM)");
        failed = true;
        return;
    }
    const auto start = parse_event_time(trim(*start_text));
    if (!start) {
        r.error(*start_node, "start", start.error());
        failed = true;
        return;
    }
    ev.start = *start;
    auto check_wall = [&](const EventTime& t, const FmNode& at, const std::string& key) {
        if (const auto* w = std::get_if<WallTime>(&t)) {
            const auto kind = classify(*w, ev.zone);
            if (kind != WallTimeKind::unique) r.warning(at, key, describe_shift(t, ev.zone, kind));
        }
    };
    check_wall(ev.start, *start_node, "start");

    const FmNode* end_node = fm.find("end");
    const FmNode* duration_node = fm.find("duration");
    const bool has_end = end_node && end_node->kind != FmNode::Kind::null;
    const bool has_duration = duration_node && duration_node->kind != FmNode::Kind::null;
    const bool all_day = std::holds_alternative<CivilDate>(ev.start);
    if (has_end && has_duration) {
        r.error(*duration_node, "duration", "give either end or duration, not both");
        failed = true;
    } else if (has_end) {
        const auto text = r.string(fm, "end");
        if (!text) {
            failed = true;
        } else if (const auto end = parse_event_time(trim(*text)); !end) {
            r.error(*end_node, "end", end.error());
            failed = true;
        } else {
            std::string why;
            const auto converted = same_kind(*end, ev.start, ev.zone, why);
            if (!converted) {
                r.error(*end_node, "end", format_event_time(*end) + " " + why);
                failed = true;
            } else if (all_day) {
                const auto last = std::get<CivilDate>(*converted);
                if (last < std::get<CivilDate>(ev.start)) {
                    r.error(*end_node, "end", "the last day " + format_event_time(last) + " is before start " + format_event_time(ev.start));
                    failed = true;
                }
                ev.end = CivilDate{date::sys_days(last.ymd) + date::days{1}};  // inclusive → exclusive
            } else {
                check_wall(*converted, *end_node, "end");
                ev.end = *converted;
                if (to_instant(ev.end, ev.zone) < to_instant(ev.start, ev.zone)) {
                    r.error(*end_node, "end", format_event_time(*end) + " is before start " + format_event_time(ev.start));
                    failed = true;
                }
            }
        }
    } else if (has_duration) {
        const auto text = r.string(fm, "duration");
        if (!text) {
            failed = true;
        } else if (const auto d = parse_duration(trim(*text)); !d) {
            r.error(*duration_node, "duration", d.error());
            failed = true;
        } else if (all_day && d->seconds.count() != 0) {
            r.error(*duration_node, "duration", "an all-day event lasts whole days (P1D, P2D, P1W), got " + *text);
            failed = true;
        } else {
            ev.duration = *d;
            ev.end = add_duration(ev.start, *d, ev.zone);
        }
    } else {
        ev.end_defaulted = true;
        ev.end = add_duration(ev.start, all_day ? Duration{1, {}} : Duration{0, std::chrono::hours{1}}, ev.zone);
        if (!all_day)
            r.add(start_node->line, start_node->column, Severity::warning, "",
                  "a timed event without end or duration; it is taken to last one hour");
    }

    if (const auto rule = r.string(fm, "rrule")) {
        if (auto rr = parse_rrule(trim(*rule), ev.start, ev.zone)) {
            ev.rrule = *rr;
        } else {
            r.error(*fm.find("rrule"), "rrule", rr.error());
            failed = true;
        }
    }
    for (const char* key : {"exdate", "rdate"}) {
        const FmNode* n = fm.find(key);
        if (!n || n->kind == FmNode::Kind::null) continue;
        std::vector<const FmNode*> values;
        if (n->kind == FmNode::Kind::scalar) {
            values.push_back(n);
        } else if (n->kind == FmNode::Kind::list) {
            for (const auto& e : n->list) values.push_back(&e);
        } else {
            r.error(*n, key, "expected a date-time or a list of them, got a map");
            failed = true;
            continue;
        }
        auto& target = std::string_view(key) == "exdate" ? ev.exdates : ev.rdates;
        for (std::size_t i = 0; i < values.size(); ++i) {
            const auto& v = *values[i];
            const std::string k = n->kind == FmNode::Kind::list ? std::string(key) + "[" + std::to_string(i) + "]" : key;
            if (v.kind != FmNode::Kind::scalar) {
                r.error(v, k, "expected a date-time, got " + std::string(kind_name(v.kind)));
                failed = true;
                continue;
            }
            if (auto t = parse_recurrence_date(trim(v.scalar), ev.start, ev.zone)) {
                check_wall(*t, v, k);
                target.push_back(*t);
            } else {
                r.error(v, k, t.error());
                failed = true;
            }
        }
    }
    if (!ev.exdates.empty() && !ev.rrule && ev.rdates.empty())
        r.warning(*fm.find("exdate"), "exdate", "has no effect on an event without rrule or rdate");

    if (const auto status = r.string(fm, "status")) {
        const auto s = ascii_lower(trim(*status));
        if (s == "confirmed") ev.status = EventStatus::confirmed;
        else if (s == "tentative") ev.status = EventStatus::tentative;
        else if (s == "cancelled" || s == "canceled") ev.status = EventStatus::cancelled;
        else {
            r.error(*fm.find("status"), "status", "expected confirmed, tentative or cancelled, got '" + *status + "'");
            failed = true;
        }
    }
    ev.location = std::string(trim(r.string(fm, "location").value_or("")));
    if (const FmNode* g = fm.find("geo"); g && g->kind != FmNode::Kind::null) {
        if (g->kind != FmNode::Kind::map) {
            r.error(*g, "geo", "expected {lat: …, lon: …}, got " + std::string(kind_name(g->kind)));
            failed = true;
        } else {
            Reader gr = r.nested("geo");
            const auto lat = gr.number(*g, "lat", -90, 90);
            const auto lon = gr.number(*g, "lon", -180, 180);
            for (const auto& e : g->map)
                if (e.key != "lat" && e.key != "lon")
                    r.add(e.line, e.column, Severity::error, "geo." + e.key, "unknown key (expected lat and lon)");
            if (lat && lon) ev.geo = Geo{*lat, *lon};
            else {
                if (!g->find("lat") || !g->find("lon"))
                    r.error(*g, "geo", "needs both lat and lon");
                failed = true;
            }
        }
    }
    for (const char* key : {"url", "online"}) {
        const auto v = r.string(fm, key);
        if (!v || trim(*v).empty()) continue;
        const std::string s(trim(*v));
        if (s.find_first_of(" \t\n\r") != std::string::npos || has_control_chars(s)) {
            r.error(*fm.find(key), key, "a URL cannot contain spaces or control characters (percent-encode them)");
            failed = true;
            continue;
        }
        std::string resolved;
        if (is_absolute_url(s)) resolved = s;
        else if (s.starts_with('/')) resolved = site_url(ctx.config.site.base_url, s);
        else {
            r.error(*fm.find(key), key, "expected an absolute URL (https://…) or a path starting with '/', got '" + s + "'");
            failed = true;
            continue;
        }
        const auto l = ascii_lower(resolved);
        if (l.starts_with("javascript:") || l.starts_with("vbscript:") || l.starts_with("data:")) {
            r.error(*fm.find(key), key, "URL scheme not allowed: '" + s + "'");
            failed = true;
            continue;
        }
        const auto ascii = to_ascii_uri(resolved);
        if (!ascii) {
            r.error(*fm.find(key), key, ascii.error());
            failed = true;
            continue;
        }
        (std::string_view(key) == "url" ? ev.url : ev.online) = *ascii;
    }
    if (const FmNode* o = fm.find("organizer"); o && o->kind != FmNode::Kind::null) {
        Organizer org;
        if (o->kind == FmNode::Kind::scalar) {
            org.name = std::string(trim(o->scalar));
        } else if (o->kind == FmNode::Kind::map) {
            Reader orr = r.nested("organizer");
            org.name = std::string(trim(orr.string(*o, "name").value_or("")));
            org.email = std::string(trim(orr.string(*o, "email").value_or("")));
            for (const auto& e : o->map)
                if (e.key != "name" && e.key != "email")
                    r.add(e.line, e.column, Severity::error, "organizer." + e.key, "unknown key (expected name and email)");
            if (!org.email.empty() &&
                (org.email.find('@') == std::string::npos || org.email.find_first_of(" <>\"\t\n\r") != std::string::npos ||
                 has_control_chars(org.email))) {
                r.error(*o->find("email"), "organizer.email", "not an email address: '" + org.email + "'");
                failed = true;
            }
        } else {
            r.error(*o, "organizer", "expected a name or {name, email}, got a list");
            failed = true;
        }
        if (!org.name.empty() || !org.email.empty()) ev.organizer = org;
    }
    if (const auto seq = r.integer(fm, "sequence", 0, 2147483647)) ev.sequence = static_cast<int>(*seq);
    else if (fm.find("sequence") && fm.find("sequence")->kind != FmNode::Kind::null) failed = true;

    item.event = std::move(ev);
}

}  // namespace

ParsedSource parse_source(const SourceFile& file, const SectionConfig& section, const SiteConfig& config) {
    ParsedSource out;
    auto& diags = out.diagnostics;
    const auto& dpath = file.display_path.empty() ? file.path : file.display_path;
    out.display_path = dpath;

    const auto normalized = normalize_text(file.bytes, dpath);
    if (!normalized.ok) {
        diags.push_back(normalized.error);
        return out;
    }
    const std::string& text = normalized.text;
    const auto site_zone = find_zone(config.site.timezone);
    Context ctx{file, section, config, site_zone ? *site_zone : *find_zone("UTC")};
    const std::string name(basename(file.path));
    const std::string rel_no_ext = std::string(stem(file.path));
    const std::string host = site_host(config.site.base_url);
    const std::uint64_t revision = XXH3_64bits(file.bytes.data(), file.bytes.size());

    // One item from a front matter map and a Markdown body.
    auto make_item = [&](const FmNode& fm, std::string_view body, int body_line, int index, int item_line,
                         const std::string& prefix) -> std::optional<Item> {
        Reader r(dpath, prefix, diags);
        bool failed = false;
        Item item;
        item.type = section.type;
        item.section = section.name;
        item.path = file.path;
        item.index = index;
        item.revision = revision;
        item.line = item_line;
        r.check_keys(fm, section.type == SectionType::event);

        const auto title = r.string(fm, "title");
        item.title = std::string(trim(title.value_or("")));
        if (const auto d = r.boolean(fm, "draft")) item.draft = *d;
        item.summary = std::string(trim(r.string(fm, "summary").value_or("")));
        item.kind = std::string(trim(r.string(fm, "kind").value_or("")));
        item.tags = r.strings(fm, "tags");
        for (auto* key : {"author", "authors"})
            for (auto& a : r.strings(fm, key))
                if (std::find(item.authors.begin(), item.authors.end(), a) == item.authors.end()) item.authors.push_back(a);

        if (section.type == SectionType::event) parse_event_fields(r, fm, item, ctx, failed);
        const Zone& zone = item.event ? item.event->zone : ctx.site_zone;

        item.lastmod = r.instant(fm, "lastmod", zone);
        item.publish_date = r.instant(fm, "publishDate", zone);
        item.expiry_date = r.instant(fm, "expiryDate", zone);
        if (item.publish_date && item.expiry_date && *item.expiry_date < *item.publish_date) {
            r.error(*fm.find("expiryDate"), "expiryDate", "is before publishDate");
            failed = true;
        }
        std::optional<date::year_month_day> day;
        if (section.type == SectionType::post) {
            item.date = r.instant(fm, "date", zone);
            const FmNode* date_node = fm.find("date");
            const bool date_given = date_node && date_node->kind != FmNode::Kind::null;
            if (!item.date && !date_given) {
                if (const auto d = file_name_date(name)) item.date = to_instant(CivilDate{*d}, zone);
            }
            if (!item.date) {
                if (!date_given)
                    r.add(item_line, 0, Severity::error, "",
                          "a post needs a date: add `date: YYYY-MM-DD` or name the file YYYY-MM-DD-….md");
                failed = true;
            } else {
                day = local_day(*item.date, zone);
                // A post dated in the future is scheduled for that moment, as publishDate schedules
                // it (content.build_future: true publishes it at once, with its date as written).
                if (!ctx.config.content.build_future && (!item.publish_date || *item.publish_date < *item.date))
                    item.publish_date = item.date;
            }
        } else if (item.event) {
            day = local_day(to_instant(item.event->start, zone), zone);
        }

        if (const auto uid = r.string(fm, "uid")) {
            if (trim(*uid).empty() || uid->size() > 255) {
                r.error(*fm.find("uid"), "uid", "must be 1 to 255 characters");
                failed = true;
            }
            item.uid = std::string(trim(*uid));
        } else {
            // '#' keeps a data file's entries apart from files: calls.yaml#1 never equals calls-1.md.
            item.uid = rel_no_ext + (index >= 0 ? "#" + std::to_string(index + 1) : "") + "@" + host;
        }

        // Slugs go into URLs: always slugified, never empty.
        const std::string file_slug =
            slugify(stem(name)).empty() ? "item" : slugify(stem(name)) + (index >= 0 ? "-" + std::to_string(index + 1) : "");
        if (const auto slug = r.string(fm, "slug"); slug && !slugify(*slug).empty()) {
            item.slug = slugify(*slug);
        } else if (index >= 0 && !slugify(item.title).empty()) {
            item.slug = slugify(item.title);
        } else {
            item.slug = index >= 0 ? file_slug : (slugify(stem(name)).empty() ? "item" : slugify(stem(name)));
        }
        const auto page_url = section.type != SectionType::event ? r.string(fm, "url") : std::nullopt;
        const std::string page_url_text(trim(page_url.value_or("")));
        const bool page_url_ok = page_url_text.empty() || ((page_url_text.starts_with('/') || page_url_text.starts_with("http://") ||
                                                            page_url_text.starts_with("https://")) &&
                                                           page_url_text.find_first_of(" \t") == std::string::npos);
        if (!page_url_ok) {
            r.error(*fm.find("url"), "url", "expected an http(s) URL or a path starting with '/', got '" + page_url_text + "'");
            failed = true;
        }
        if (!page_url_text.empty() && page_url_ok) {
            item.permalink = site_url(config.site.base_url, page_url_text);
        } else {
            item.permalink = expand_permalink(section.permalink.empty() ? "/:section/:slug/" : section.permalink,
                                              config.site.base_url, section.name, item.slug, name, day);
        }
        if (const auto ascii = to_ascii_uri(item.permalink)) {
            item.permalink = *ascii;
        } else if (!page_url_text.empty() && page_url_ok) {
            r.error(*fm.find("url"), "url", ascii.error());
            failed = true;
        }

        MarkdownOptions md;
        md.unsafe_html = config.content.unsafe_html;
        md.page_url = item.permalink;
        md.take_title = item.title.empty() && section.type == SectionType::post;
        md.shortcodes = config.content.shortcodes;
        std::string_view source = body;
        int source_line = body_line;
        const auto description = section.type == SectionType::event ? r.string(fm, "description") : std::nullopt;
        if (description) {
            source = *description;
            source_line = fm.find("description")->line;
        }
        auto rendered = render_markdown(source, md, dpath, source_line);
        diags.insert(diags.end(), rendered.diagnostics.begin(), rendered.diagnostics.end());
        item.html = std::move(rendered.html);
        item.text = std::move(rendered.text);
        if (item.summary.empty()) item.summary = std::move(rendered.summary);
        if (item.title.empty()) item.title = std::move(rendered.title);
        if (item.title.empty() && section.type != SectionType::page) {
            r.add(item_line, 0, Severity::error, "",
                  section.type == SectionType::post ? "a post needs a title: add `title:` or a first '# ' heading"
                                                    : "an event needs a title");
            failed = true;
        }
        if (failed) return std::nullopt;
        return item;
    };

    auto file_has_errors = [&] { return has_errors(diags); };

    if (classify_path(file.path, section) == FileRole::data) {
        const auto ext = ascii_lower(extension(name));
        const auto format = ext == ".toml" ? DataFormat::toml : ext == ".json" ? DataFormat::json
                                                                               : DataFormat::yaml;
        const auto data = parse_data(text, format, dpath);
        diags.insert(diags.end(), data.diagnostics.begin(), data.diagnostics.end());
        if (file_has_errors()) return out;
        const FmNode* events = data.root.kind == FmNode::Kind::map ? data.root.find("events") : nullptr;
        if (!events || events->kind != FmNode::Kind::list) {
            diags.push_back({dpath, events ? events->line : 1, events ? events->column : 0, Severity::error,
                             "a data file needs an `events:` list of events"});
            return out;
        }
        for (const auto& e : data.root.map)
            if (e.key != "events")
                diags.push_back({dpath, e.line, e.column, Severity::warning, e.key + ": unknown key, ignored"});
        std::vector<Item> items;
        for (std::size_t i = 0; i < events->list.size(); ++i) {
            const auto& entry = events->list[i];
            const std::string prefix = "events[" + std::to_string(i) + "].";
            if (entry.kind != FmNode::Kind::map) {
                diags.push_back({dpath, entry.line, entry.column, Severity::error,
                                 "events[" + std::to_string(i) + "]: expected a map of event keys, got " +
                                     std::string(kind_name(entry.kind))});
                continue;
            }
            if (auto item = make_item(entry, {}, entry.line, static_cast<int>(i), entry.line, prefix))
                items.push_back(std::move(*item));
        }
        if (!file_has_errors()) out.items = std::move(items);
        return out;
    }

    const auto doc = split_front_matter(text, dpath);
    diags.insert(diags.end(), doc.diagnostics.begin(), doc.diagnostics.end());
    if (file_has_errors()) return out;
    if (name == "_index.md") {
        // A section page: its front matter and Markdown are checked, but it is not an item.
        Reader r(dpath, "", diags);
        (void)r.string(doc.front_matter, "title");
        MarkdownOptions md;
        md.shortcodes = config.content.shortcodes;
        auto rendered = render_markdown(doc.body, md, dpath, doc.body_first_line);
        diags.insert(diags.end(), rendered.diagnostics.begin(), rendered.diagnostics.end());
        return out;
    }
    auto item = make_item(doc.front_matter, doc.body, doc.body_first_line, -1, 1, "");
    if (item && !file_has_errors()) out.items.push_back(std::move(*item));
    return out;
}

}  // namespace almanac
