#include "daemon/request_handler.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "feeds/event_text.hpp"
#include "feeds/text.hpp"

namespace almanac {

namespace {

constexpr std::size_t max_filter_values = 16;
constexpr std::size_t max_filter_bytes = 256;
// Request text repeated in an answer is cut: a 10 KB zone name need not come back whole.
constexpr std::size_t max_echoed_bytes = 100;

// `text` as an answer repeats it: at most max_echoed_bytes, cut on a character boundary, with "…".
std::string echoed(std::string_view text) {
    if (text.size() <= max_echoed_bytes) return std::string(text);
    std::size_t cut = max_echoed_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) --cut;
    return std::string(text.substr(0, cut)) + "…";
}

Response plain(unsigned status, std::string reason, std::string route = "other") {
    Response r;
    r.status = status;
    r.route = std::move(route);
    // Browser code that asked for a feed may read why it failed (a 404 for a misspelt feed, a 400 for a
    // zone): without this header it would see only a network error.
    r.headers = {{"Content-Type", "text/plain; charset=utf-8"},
                 {"Cache-Control", "no-store"},
                 {"Access-Control-Allow-Origin", "*"}};
    r.body = std::make_shared<const std::string>(std::move(reason) + "\n");
    return r;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes `text` (and '+' as a space when `plus_is_space`); nullopt for a bad escape, NUL,
// a control character or invalid UTF-8.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    if (find_invalid_utf8(out) != std::string::npos || has_control_chars(out) || out.find('\n') != std::string::npos)
        return std::nullopt;
    return out;
}

// The decoded path and the values of the parameters this server knows, each split at commas and
// trimmed, empty ones dropped. Other parameters are ignored undecoded, whatever they hold.
struct Target {
    std::string path;
    std::vector<std::string> tz, tags, kinds;
};

void add_values(std::vector<std::string>& out, std::string_view value) {
    for (const auto& piece : split(value, ','))
        if (const auto v = trim(piece); !v.empty()) out.emplace_back(v);
}

// Nullopt for a target that is neither origin-form nor absolute-form, or whose path or known
// parameters are not cleanly percent-encoded.
std::optional<Target> parse_target(std::string_view target) {
    const auto question = target.find('?');
    std::string_view path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    // Absolute-form ("http://host/path?query") is allowed by RFC 9112 §3.2.2; the authority is dropped
    // and an empty path is "/".
    if (const auto scheme = path.find("://"); scheme != std::string_view::npos && !path.starts_with("/")) {
        const auto slash = path.find('/', scheme + 3);
        path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
    if (!path.starts_with("/")) return std::nullopt;
    Target out;
    auto decoded = percent_decode(path, false);
    if (!decoded) return std::nullopt;
    out.path = std::move(*decoded);
    if (query.empty()) return out;
    for (const auto& part : split(query, '&')) {
        const auto eq = part.find('=');
        const auto name = percent_decode(part.substr(0, eq), false);
        std::vector<std::string>* values = !name             ? nullptr
                                           : *name == "tz"   ? &out.tz
                                           : *name == "tag"  ? &out.tags
                                           : *name == "kind" ? &out.kinds
                                                             : nullptr;
        if (!values) continue;
        // A zone name never has a space, but may have a '+' ("Etc/GMT+5"); in tags and kinds '+' is a
        // space, as HTML forms send it.
        const auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1),
                                          values != &out.tz);
        if (!value) return std::nullopt;
        add_values(*values, *value);
    }
    return out;
}

// The zone a request asks for, or the reason it cannot have it.
struct ZoneChoice {
    std::optional<Zone> zone;
    std::optional<Response> error;
};

ZoneChoice choose_zone(const SiteConfig& config, const std::string& name) {
    auto zone = find_zone(name);
    if (!zone || name == "localtime") return {std::nullopt, plain(404, "unknown time zone '" + echoed(name) + "'")};
    const auto& offered = config.timezones.prerender;
    if (!config.timezones.allow_any && std::find(offered.begin(), offered.end(), name) == offered.end())
        return {std::nullopt, plain(404, "time zone '" + echoed(name) + "' is not offered here (timezones.prerender)")};
    return {std::move(zone).value(), std::nullopt};
}

// The view a document request asks for: /tz/{zone}/ in the path (`zone_name`) or ?tz=, not both
// differing; none is the default view.
ZoneChoice request_zone(const SiteConfig& config, const Target& target, std::string_view zone_name) {
    const auto& tz = target.tz;
    if (!zone_name.empty() && !tz.empty() && tz.front() != zone_name)
        return {std::nullopt, plain(400, "two different time zones asked for: /tz/" + echoed(zone_name) + "/ and ?tz=" + echoed(tz.front()))};
    if (tz.size() > 1) return {std::nullopt, plain(400, "more than one ?tz= value")};
    const std::string wanted = !zone_name.empty() ? std::string(zone_name) : tz.empty() ? std::string()
                                                                                        : tz.front();
    if (wanted.empty()) return {};
    return choose_zone(config, wanted);
}

void sort_unique(std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Sends `rep` with validators, the negotiated encoding, or 304 when the client's copy is current.
Response send(const Snapshot& snapshot, const Request& request, const std::shared_ptr<const Representation>& held,
              std::string route,
              bool cors) {
    const Representation& rep = *held;
    Response r;
    r.route = std::move(route);
    r.head = request.method == "HEAD";
    r.keep = held;  // the ETag, dates and media type below are views of it
    const auto encoding = choose_encoding(request.accept_encoding, rep.gzip != nullptr, rep.brotli != nullptr);
    const std::string& etag = encoding == "br" ? rep.etag_brotli : encoding == "gzip" ? rep.etag_gzip
                                                                                      : rep.etag;
    const auto max_age = snapshot.site->config.server.cache_max_age_seconds;
    r.headers.reserve(10);  // every field below: no regrowth
    // Emplaced, not assigned from a list (the list's values would be made and then copied), and
    // made without an allocation: views of the representation, literals, a short inline text.
    r.headers.emplace_back("ETag", FieldValue::borrow(etag));
    char cache_control[48] = "public, max-age=";
    const std::size_t prefix = std::char_traits<char>::length(cache_control);
    const auto end = std::to_chars(cache_control + prefix, cache_control + sizeof cache_control, max_age).ptr;
    r.headers.emplace_back("Cache-Control", FieldValue::copy({cache_control, static_cast<std::size_t>(end - cache_control)}));
    r.headers.emplace_back("Vary", "Accept-Encoding");
    // A date still to come (a second version within one second, see build_snapshot) is not sent
    // before it has passed: Last-Modified is never later than Date (RFC 9110 §8.8.2.1).
    if (rep.last_modified <= snapshot.options.now ||
        rep.last_modified <= std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()))
        r.headers.emplace_back("Last-Modified", FieldValue::borrow(rep.last_modified_http));
    if (cors) {
        r.headers.emplace_back("Access-Control-Allow-Origin", "*");
        r.headers.emplace_back("Access-Control-Expose-Headers", "ETag, Last-Modified");
    }
    // If-None-Match wins; If-Modified-Since only counts without it, and compares "not newer than".
    bool not_modified = false;
    if (!request.if_none_match.empty()) {
        not_modified = etag_list_matches(request.if_none_match, rep.etag) ||
                       etag_list_matches(request.if_none_match, rep.etag_gzip) ||
                       etag_list_matches(request.if_none_match, rep.etag_brotli);
    } else if (!request.if_modified_since.empty()) {
        const auto since = parse_http_date(request.if_modified_since);
        not_modified = since && rep.last_modified <= *since;
    }
    if (not_modified) {
        r.status = 304;
        return r;
    }
    r.status = 200;
    r.headers.emplace_back("Content-Type", FieldValue::borrow(rep.media_type));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (encoding.empty()) {
        const bool from_file = rep.identity_file && !r.head && snapshot.site->config.server.sendfile;
        r.body = Body(rep.identity, from_file ? rep.identity_file->get(*rep.identity) : nullptr);
    } else {
        r.headers.emplace_back("Content-Encoding", FieldValue::copy(encoding));
        r.body = encoding == "br" ? Body(rep.brotli) : Body(rep.gzip);
    }
    return r;
}

Response healthz(const Snapshot& snapshot) {
    const Site& site = *snapshot.site;
    nlohmann::ordered_json body;
    body["status"] = "ok";
    body["generation"] = snapshot.generation;
    body["built_at"] = format_rfc3339(snapshot.options.now).str();
    body["items"] = site.items.size();
    body["documents"] = snapshot.documents.size();
    auto errors = nlohmann::json::array();
    std::size_t warnings = 0;
    for (const auto& d : site.diagnostics) {
        if (d.severity != Severity::error) {
            ++warnings;
            continue;
        }
        std::string where = d.path;
        if (d.line > 0) where += ":" + std::to_string(d.line);
        errors.push_back(where + ": " + d.message);
    }
    body["error_count"] = errors.size();
    body["warning_count"] = warnings;
    body["errors"] = errors;
    Response r;
    r.route = "healthz";
    r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
    r.body = std::make_shared<const std::string>(body.dump(2) + "\n");
    return r;
}

Response feed_response(const Snapshot& snapshot, const Request& request, const Target& target, std::string_view zone_name,
                       std::string_view file) {
    const Site& site = *snapshot.site;
    const auto dot = file.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return plain(404, "not found: " + echoed(target.path));
    const std::string name(file.substr(0, dot));
    const std::string extension(file.substr(dot + 1));
    const FeedConfig* feed = find_feed(site.config, name);
    if (!feed) return plain(404, "no feed named '" + echoed(name) + "'");
    const OutputFormat* format = find_output_format(extension);
    if (!format || !publishes(*feed, format->format))
        return plain(404, "feed '" + name + "' is not published as ." + echoed(extension));

    FeedView view;
    auto zone = request_zone(site.config, target, zone_name);
    if (zone.error) return std::move(*zone.error);
    view.zone = std::move(zone.zone);
    view.tags = target.tags;
    view.kinds = target.kinds;
    if (view.tags.size() + view.kinds.size() > max_filter_values)
        return plain(400, "too many tag/kind values (at most " + std::to_string(max_filter_values) + ")");
    for (const auto* values : {&view.tags, &view.kinds})
        for (const auto& v : *values)
            if (v.size() > max_filter_bytes) return plain(400, "tag/kind value longer than 256 bytes");
    // Filters are a set: their order in the URL must not make a different document.
    sort_unique(view.tags);
    sort_unique(view.kinds);

    const std::string path = document_path(*feed, format->format, view.zone);
    if (view.tags.empty() && view.kinds.empty())
        if (const auto it = snapshot.documents.find(path); it != snapshot.documents.end())
            return send(snapshot, request, it->second, "feed", true);
    const std::string key = view_url(site.config, *feed, format->format, view);
    // A view rendered on request is dated by its snapshot: any rebuild may have changed it.
    const auto rep = snapshot.views.find_or_render(
        key, snapshot.options.now, [&] { return render_document(site, *feed, format->format, view, snapshot.options); });
    return send(snapshot, request, rep, "feed", true);
}

// One event's document (SPEC §5 `GET /{feed}/{event}.ics`), rendered on its first request into the
// snapshot's cache of event documents: a rebuild renders none of them.
Response event_response(const Snapshot& snapshot, const Request& request, const Target& target, std::string_view zone_name,
                        std::string_view feed_name, std::string_view file) {
    if (!file.ends_with(".ics") || file.size() == 4) return plain(404, "not found: " + echoed(target.path) + " (expected /{feed}/{event}.ics)");
    const Site& site = *snapshot.site;
    const FeedConfig* feed = find_feed(site.config, feed_name);
    if (!feed) return plain(404, "no feed named '" + echoed(feed_name) + "'");
    const auto slug = file.substr(0, file.size() - 4);
    auto zone = request_zone(site.config, target, zone_name);
    if (zone.error) return std::move(*zone.error);
    const std::string key = event_url(site.config, *feed, slug, zone.zone);
    auto rep = snapshot.event_documents.find(key);
    if (!rep) {
        auto doc = render_event_document(site, *feed, slug, zone.zone, snapshot.options);
        if (!doc) return plain(404, "feed '" + feed->name + "' has no event '" + echoed(slug) + "'");
        // Dated by its snapshot, as every view rendered on request.
        rep = make_representation(std::move(*doc), snapshot.options.now);
        snapshot.event_documents.insert(key, rep);
    }
    return send(snapshot, request, rep, "event", true);
}

Response index_response(const Snapshot& snapshot, const Request& request, const Target& target) {
    const auto& tz = target.tz;
    if (tz.size() > 1) return plain(400, "more than one ?tz= value");
    if (tz.empty()) {
        const auto it = snapshot.documents.find(index_document_path);
        if (it == snapshot.documents.end()) return plain(503, "no index page in this snapshot");
        return send(snapshot, request, it->second, "index", false);
    }
    auto choice = choose_zone(snapshot.site->config, tz.front());
    if (choice.error) return std::move(*choice.error);
    const std::string key = "index.html?tz=" + choice.zone->name;
    const auto rep = snapshot.views.find_or_render(
        key, snapshot.options.now, [&] { return render_index_document(*snapshot.site, choice.zone, snapshot.options); });
    return send(snapshot, request, rep, "index", false);
}

// The answer to a CORS preflight (an OPTIONS request with Access-Control-Request-Method: the Fetch
// standard's CORS protocol): browser code on any origin may GET and HEAD with the validators and
// cache directives it needs to revalidate, and may keep this answer a day (Chromium keeps it two
// hours at most). The same on every path: the request that follows gets its own answer.
Response preflight() {
    Response r;
    r.status = 204;
    r.route = "other";
    r.headers = {{"Access-Control-Allow-Origin", "*"},
                 {"Access-Control-Allow-Methods", "GET, HEAD"},
                 {"Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since, Cache-Control, Pragma"},
                 {"Access-Control-Max-Age", "86400"}};
    return r;
}

Response route(const Snapshot& snapshot, const Request& request, const Metrics& metrics) {
    if (request.method == "OPTIONS" && !request.access_control_request_method.empty()) return preflight();
    if (request.method != "GET" && request.method != "HEAD") {
        auto r = plain(405, "method " + echoed(request.method) + " not allowed: use GET or HEAD");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    const auto target = parse_target(request.target);
    if (!target) return plain(400, "malformed request target");
    const std::string& path = target->path;
    if (path == "/" || path == "/index.html") return index_response(snapshot, request, *target);
    if (path == "/healthz") return healthz(snapshot);
    if (path == "/metrics") {
        Response r;
        r.route = "metrics";
        r.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}, {"Cache-Control", "no-store"}};
        r.body = std::make_shared<const std::string>(metrics.render(snapshot));
        return r;
    }
    const std::string_view p = path;
    if (path.starts_with("/tz/")) {
        const auto last = path.rfind('/');
        if (last <= 4) return plain(404, "not found: " + echoed(path) + " (expected /tz/Area/Location/{feed}.{ext})");
        // "/tz/{zone}/{feed}/{event}.ics" when what precedes the file is not a zone but what precedes
        // its folder is, or its folder names a feed (then an unknown zone is reported as such, not
        // as a feed named after the event).
        if (const auto folder = path.rfind('/', last - 1);
            folder > 4 && !find_zone(path.substr(4, last - 4)) &&
            (find_zone(path.substr(4, folder - 4)) || find_feed(snapshot.site->config, p.substr(folder + 1, last - folder - 1))))
            return event_response(snapshot, request, *target, p.substr(4, folder - 4), p.substr(folder + 1, last - folder - 1),
                                  p.substr(last + 1));
        return feed_response(snapshot, request, *target, p.substr(4, last - 4), p.substr(last + 1));
    }
    const auto slash = path.find('/', 1);
    if (slash == std::string::npos) return feed_response(snapshot, request, *target, {}, path.substr(1));
    if (path.find('/', slash + 1) == std::string::npos)
        return event_response(snapshot, request, *target, {}, p.substr(1, slash - 1), p.substr(slash + 1));
    return plain(404, "not found: " + echoed(path));
}

}  // namespace

Response handle_request(const Snapshot& snapshot, const Request& request, const Metrics& metrics) {
    Response r = route(snapshot, request, metrics);
    if (request.method == "HEAD") r.head = true;
    return r;
}

namespace {

// The part of `rest` up to the first `separator` (all of it when there is none), which is taken off
// `rest` with the separator: split() without a vector, for the fields read on every request.
std::string_view take_part(std::string_view& rest, char separator) {
    const auto at = rest.find(separator);
    const auto part = rest.substr(0, at);
    rest = at == std::string_view::npos ? std::string_view() : rest.substr(at + 1);
    return part;
}

}  // namespace

std::string_view choose_encoding(std::string_view accept_encoding, bool have_gzip, bool have_brotli) {
    // q-values by coding; "*" stands for every coding not named.
    double q_br = -1, q_gzip = -1, q_any = -1;
    for (std::string_view parts = accept_encoding; !parts.empty();) {
        std::string_view fields = take_part(parts, ',');
        const auto coding = trim(take_part(fields, ';'));
        double q = 1;
        while (!fields.empty()) {
            const auto param = trim(take_part(fields, ';'));
            if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                // strtod needs a terminated string; a qvalue is at most "1.000" (RFC 9110 §12.4.2).
                const auto digits = param.substr(2, 31);
                char value[32] = {};
                std::copy(digits.begin(), digits.end(), value);
                char* end = nullptr;
                q = std::strtod(value, &end);
                if (end == value || q < 0 || q > 1) q = 0;
            }
        }
        if (ascii_iequals(coding, "br")) q_br = q;
        else if (ascii_iequals(coding, "gzip") || ascii_iequals(coding, "x-gzip")) q_gzip = q;
        else if (coding == "*") q_any = q;
    }
    if (q_br < 0) q_br = q_any < 0 ? 0 : q_any;
    if (q_gzip < 0) q_gzip = q_any < 0 ? 0 : q_any;
    // Any acceptable compression beats identity (its q only matters when it is refused, which we
    // ignore: identity is always sent rather than 406); between the two, the higher q, then brotli.
    const bool br_ok = have_brotli && q_br > 0;
    const bool gzip_ok = have_gzip && q_gzip > 0;
    if (br_ok && (!gzip_ok || q_br >= q_gzip)) return "br";
    if (gzip_ok) return "gzip";
    return "";
}

bool etag_list_matches(std::string_view if_none_match, std::string_view etag) {
    const auto opaque = [](std::string_view tag) {
        tag = trim(tag);
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        return tag;
    };
    for (std::string_view parts = if_none_match; !parts.empty();) {
        const auto tag = trim(take_part(parts, ','));
        if (tag == "*") return true;
        if (!tag.empty() && opaque(tag) == opaque(etag)) return true;
    }
    return false;
}

std::optional<Instant> parse_http_date(std::string_view text) {
    static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::string s(trim(text));
    char wday[16] = {}, mon[4] = {}, zone[4] = {};
    int day = 0, year = 0, hh = 0, mm = 0, ss = 0, consumed = 0;
    bool ok = false;
    // NOLINTBEGIN(bugprone-branch-clone): RFC 9110's three date forms, one branch each, all ending in ok = true
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (std::sscanf(s.c_str(), "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wday, &day, mon, &year, &hh, &mm, &ss, zone,
                    &consumed) == 8 &&
        consumed == static_cast<int>(s.size()) && std::string_view(zone) == "GMT") {
        ok = true;
    } else if (std::sscanf(s.c_str(), "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wday, &day, mon, &year, &hh, &mm,
                           &ss, zone, &consumed) == 8 &&
               consumed == static_cast<int>(s.size()) && std::string_view(zone) == "GMT") {
        // RFC 850 two-digit years: RFC 9110 says a date more than 50 years ahead is in the past century.
        year += year < 70 ? 2000 : 1900;
        ok = true;
    } else if (std::sscanf(s.c_str(), "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, mon, &day, &hh, &mm, &ss, &year,
                           &consumed) == 7 &&
               consumed == static_cast<int>(s.size())) {
        ok = true;
    }
    // NOLINTEND(bugprone-branch-clone)
    if (!ok) return std::nullopt;
    const auto m = std::find(months.begin(), months.end(), std::string_view(mon));
    if (m == months.end() || hh > 23 || mm > 59 || ss > 60 || year < 1900 || year > 9999) return std::nullopt;
    const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(m - months.begin() + 1)},
                                   date::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) return std::nullopt;
    return date::sys_days{ymd} + std::chrono::hours{hh} + std::chrono::minutes{mm} + std::chrono::seconds{ss};
}

}  // namespace almanac
