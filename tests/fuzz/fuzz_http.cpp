// handle_request on arbitrary requests against a snapshot of a small site built once at start-up:
// routing, percent-decoding, zone views and filters (rendered on demand), conditional GET and
// content negotiation.
//
// Input: a request in HTTP/1.1 text form, "METHOD TARGET" on the first line and "Name: value"
// header lines after it; If-None-Match, If-Modified-Since, Accept-Encoding and (for OPTIONS)
// Access-Control-Request-Method reach the handler,
// "X-Fuzz-Strict:" picks a snapshot whose config has timezones.allow_any: false.
#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "daemon/request_handler.hpp"
#include "feeds/content.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace almanac;
using almanac::fuzz::check;

std::shared_ptr<const Snapshot> make_snapshot(bool allow_any) {
    SiteConfig c;
    c.site.base_url = "https://example.org/cal/";
    c.site.timezone = "America/Los_Angeles";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    c.content.sections_given = true;
    FeedConfig events{"events", "Events", "Meetups, calls", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}};
    events.window = {90, 365};
    c.feeds = {events,
               {"meetups", "Meetups only", "", {"events"}, {FeedFormat::ics}, {}, {"meetup"}, {}, {}},
               {"blog", "Blog", "", {"blog"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, 5, {}}};
    c.feeds_given = true;
    c.timezones.prerender = {"UTC", "Asia/Tokyo"};
    c.timezones.allow_any = allow_any;
    c.server.cache_max_age_seconds = 120;
    // Few on-demand views are kept, so that long runs also exercise eviction.
    c.server.limits.max_cached_zones = 8;
    std::map<std::string, ParsedSource> files;
    const auto add = [&](const std::string& path, const std::string& text) {
        files[path] = parse_source(SourceFile{path, path, text}, *find_section(c, path.substr(0, path.find('/'))), c);
    };
    add("events/weekly.md",
        "---\ntitle: Weekly call\nstart: 2025-10-02T10:00\nduration: PT1H\ntimezone: Europe/Berlin\n"
        "rrule: FREQ=WEEKLY;BYDAY=TH\nexdate: [2025-12-25T10:00]\nkind: call\ntags: [members, calls]\n---\n"
        "Join us on [the call](https://zoom.us/j/1).\n");
    add("events/meetup.md",
        "---\ntitle: \"Meetup: Ünïcödé, commas; semicolons\"\nstart: 2026-03-29T02:30\nend: 2026-03-29T05:00\n"
        "timezone: Europe/Berlin\nkind: meetup\ntags: [x, y]\nlocation: Berlin\n---\n" +
            std::string(300, 'a') + "\n");
    add("events/fair.md", "---\ntitle: Fair\nstart: 2026-02-01\nend: 2026-02-03\nkind: meetup\n---\n");
    add("events/launch.md", "---\ntitle: Launch\nstart: 2026-01-15T17:00:00Z\nduration: PT30M\n---\n");
    add("events/calls.yaml",
        "events:\n  - title: Monthly\n    start: 2025-01-09T09:00\n    duration: PT1H\n"
        "    rrule: \"FREQ=MONTHLY;BYDAY=2TH\"\n    kind: call\n");
    add("blog/2025-11-02-hello.md", "# Hello\n\nFirst post with a [link](../other/).\n");
    add("blog/news.md", "---\ntitle: News\ndate: 2025-12-01T08:00:00Z\ntags: [news]\n---\nBody\n");
    SnapshotInput input;
    input.site = std::make_shared<const Site>(assemble_site(c, files, {}));
    input.options = {date::sys_days{date::year{2026} / 1 / 1}, std::nullopt};
    input.generation = 3;
    return encode_snapshot(*build_snapshot(input));
}

// RFC 9110 tchar: what Beast's parser lets through as a method.
bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
}

// What Beast accepts in a request-target: visible ASCII and obs-text.
bool is_target(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
}

Request decode(std::string_view text, bool& strict) {
    Request r;
    std::size_t line_no = 0;
    while (!text.empty()) {
        const std::size_t lf = text.find('\n');
        std::string_view line = text.substr(0, lf);
        text = lf == std::string_view::npos ? std::string_view{} : text.substr(lf + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line_no++ == 0) {
            const std::size_t sp = line.find(' ');
            r.method = std::string(line.substr(0, sp));
            r.target = sp == std::string_view::npos ? std::string() : std::string(line.substr(sp + 1));
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string name = ascii_lower(line.substr(0, colon));
        const std::string value(trim(line.substr(colon + 1)));
        if (name == "if-none-match") r.if_none_match = value;
        else if (name == "if-modified-since") r.if_modified_since = value;
        else if (name == "accept-encoding") r.accept_encoding = value;
        else if (name == "access-control-request-method" && r.method == "OPTIONS") r.access_control_request_method = value;
        else if (name == "x-fuzz-strict") strict = true;
    }
    return r;
}

std::string header(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v.str();
    return {};
}

bool accepts(std::string_view accept_encoding, std::string_view coding) {
    const std::string a = ascii_lower(accept_encoding);
    return a.find(coding) != std::string::npos || a.find('*') != std::string::npos;
}

// `on_the_wire`: the request is one the HTTP server could have parsed, so what the handler echoes
// of it (the method in a 405) must be clean; any other request must still be handled without harm.
void check_response(const Request& request, const Response& r, bool on_the_wire) {
    static const unsigned statuses[] = {200, 204, 304, 400, 404, 405, 503};
    check(std::find(std::begin(statuses), std::end(statuses), r.status) != std::end(statuses), "unexpected status",
          std::to_string(r.status) + " for " + request.target);
    static const char* routes[] = {"feed", "index", "healthz", "metrics", "other"};
    check(std::any_of(std::begin(routes), std::end(routes), [&](const char* x) { return r.route == x; }),
          "unknown route label", r.route);
    check(r.head == (request.method == "HEAD"), "head flag does not follow the method", request.method);
    for (const auto& [name, field] : r.headers) {
        const std::string value = field.str();
        check(!name.empty() && name.find_first_of(" :\r\n") == std::string::npos, "bad header name", name);
        for (const char c : value)
            check(static_cast<unsigned char>(c) >= 0x20 || c == '\t', "control character in a header value", value);
    }
    // Browser code on any origin may read a feed, its 304 and every error.
    if (r.route == "feed" || r.status >= 400)
        check(header(r, "Access-Control-Allow-Origin") == "*", "no Access-Control-Allow-Origin", request.target);
    const std::string body = r.body.str();
    if (r.status == 204) {
        check(!r.body, "204 with a body", body.substr(0, 200));
        check(request.method == "OPTIONS" && !request.access_control_request_method.empty(),
              "204 for a request that is no CORS preflight", request.method);
        check(header(r, "Access-Control-Allow-Methods") == "GET, HEAD", "preflight without the methods");
        return;
    }
    if (r.status == 304) {
        check(body.empty(), "304 with a body", body.substr(0, 200));
        check(!header(r, "ETag").empty(), "304 without ETag");
        return;
    }
    check(static_cast<bool>(r.body), "response without a body", request.target);
    check(!header(r, "Content-Type").empty(), "response without Content-Type", request.target);
    if (r.status >= 400) {
        check(body.ends_with('\n') && body.find('\n') == body.size() - 1, "error body is not one line", body);
        if (on_the_wire) almanac::fuzz::check_utf8(body, "error body is not UTF-8");
        if (r.status == 405) check(header(r, "Allow") == "GET, HEAD", "405 without Allow");
        return;
    }
    const std::string encoding = header(r, "Content-Encoding");
    if (!encoding.empty()) {
        check(encoding == "gzip" || encoding == "br", "unknown Content-Encoding", encoding);
        check(accepts(request.accept_encoding, encoding == "br" ? "br" : "gzip"), "encoding the client did not accept",
              request.accept_encoding);
        return;
    }
    if (r.route == "feed" && header(r, "Content-Type").starts_with("text/calendar")) almanac::fuzz::check_ics(body);
    else if (r.route != "metrics") almanac::fuzz::check_utf8(body, "body is not UTF-8");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::shared_ptr<const Snapshot> open = make_snapshot(true);
    static const std::shared_ptr<const Snapshot> strict_snapshot = make_snapshot(false);
    static const Metrics metrics;

    bool strict = false;
    const Request request = decode(almanac::fuzz::as_text(data, size), strict);
    const Snapshot& snapshot = strict ? *strict_snapshot : *open;
    const Response first = handle_request(snapshot, request, metrics);
    check_response(request, first, is_token(request.method) && is_target(request.target));
    // The same request gives the same answer (on-demand views come from the cache the second time).
    const Response again = handle_request(snapshot, request, metrics);
    check(again.status == first.status, "status changed on a repeated request", request.target);
    if (first.route != "metrics" && first.route != "healthz")
        check(first.body.str() == again.body.str(), "body changed on a repeated request",
              request.target);
    return 0;
}
