// The request handler as a function: routes, views, filters, validators, negotiation and errors,
// against a snapshot built from a small site. No sockets: the end-to-end tests cover those.
#include "daemon/request_handler.hpp"

#include <gtest/gtest.h>

#include <map>

#include <unistd.h>
#include <zlib.h>

#include "daemon/compression.hpp"
#include "feeds/content.hpp"
#include "feeds/text.hpp"

namespace almanac {
namespace {

Instant at(const char* text) { return std::get<Instant>(parse_event_time(text).value()); }

std::shared_ptr<const Snapshot> make_snapshot(bool allow_any = true) {
    SiteConfig c;
    c.site.base_url = "https://example.org/cal/";
    c.site.timezone = "Europe/Berlin";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    c.feeds = {{"events", "Events", "", {"events"}, {FeedFormat::ics, FeedFormat::rss}, {}, {}, {}, {}},
               {"blog", "Blog", "", {"blog"}, {FeedFormat::atom}, {}, {}, {}, {}}};
    c.timezones.prerender = {"Asia/Tokyo"};
    c.timezones.allow_any = allow_any;
    c.server.cache_max_age_seconds = 120;
    std::map<std::string, ParsedSource> files;
    const auto add = [&](const std::string& path, const std::string& text) {
        files[path] = parse_source(SourceFile{path, path, text}, *find_section(c, path.substr(0, path.find('/'))), c);
    };
    add("events/a.md", "---\ntitle: Alpha\nstart: 2030-05-01T10:00\nduration: PT1H\nkind: meetup\ntags: [x, y]\n---\n" +
                           std::string(600, 'a') + "\n");
    add("events/b.md", "---\ntitle: Beta\nstart: 2030-06-01T10:00\nduration: PT1H\nkind: talk\ntags: [z]\n---\n");
    add("events/bad.md", "---\ntitle: Bad\nstart: 2030-13-01\n---\n");
    add("blog/p.md", "---\ntitle: Post\ndate: 2024-02-03T04:05:06Z\n---\nHello\n");
    SnapshotInput input;
    input.site = std::make_shared<const Site>(assemble_site(c, files, {}));
    input.options = {at("2026-01-01T00:00:00Z"), std::nullopt};
    input.generation = 7;
    return encode_snapshot(*build_snapshot(input));
}

struct HandlerTest : ::testing::Test {
    std::shared_ptr<const Snapshot> snapshot = make_snapshot();
    Metrics metrics;

    Response get(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {},
                 const std::string& method = "GET") {
        Request r;
        r.method = method;
        r.target = target;
        for (auto& [k, v] : headers) {
            if (k == "Access-Control-Request-Method") r.access_control_request_method = v;
            if (k == "If-None-Match") r.if_none_match = v;
            if (k == "If-Modified-Since") r.if_modified_since = v;
            if (k == "Accept-Encoding") r.accept_encoding = v;
        }
        return handle_request(*snapshot, r, metrics);
    }
};

std::string header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v.str();
    return "";
}

std::string body(const Response& r) { return r.body.str(); }

// A document's ETag, Last-Modified and media type are views of its representation, which the
// response keeps: they stay whole after the snapshot that held it is gone (a rebuild swapped in a
// new one while the head was written), for documents of the snapshot and views rendered on request.
TEST_F(HandlerTest, ResponseFieldsOutliveTheSnapshot) {
    std::vector<Response> responses;
    for (const char* target : {"/events.ics", "/tz/Asia/Tokyo/events.ics", "/tz/America/Lima/events.rss"})
        responses.push_back(get(target, {{"Accept-Encoding", "gzip"}}));
    std::vector<std::map<std::string, std::string>> before;
    for (const auto& r : responses) {
        ASSERT_EQ(r.status, 200u);
        std::map<std::string, std::string> fields;
        for (const auto& [k, v] : r.headers) fields[std::string(k)] = v.str();
        before.push_back(fields);
        EXPECT_EQ(fields["Cache-Control"], "public, max-age=120");
        EXPECT_FALSE(fields["ETag"].empty());
        EXPECT_FALSE(fields["Last-Modified"].empty());
    }
    snapshot.reset();  // the last owner of the snapshot and of the views it rendered
    for (std::size_t i = 0; i < responses.size(); ++i) {
        std::map<std::string, std::string> fields;
        for (const auto& [k, v] : responses[i].headers) fields[std::string(k)] = v.str();
        EXPECT_EQ(fields, before[i]);
        EXPECT_FALSE(responses[i].body.str().empty());
    }
}

TEST_F(HandlerTest, RoutesAndStatuses) {
    struct Case {
        const char* method;
        const char* target;
        unsigned status;
        const char* route;
        const char* body_has;
    };
    const Case cases[] = {
        {"GET", "/events.ics", 200, "feed", "BEGIN:VCALENDAR"},
        {"GET", "/events.rss", 200, "feed", "<rss"},
        {"GET", "/blog.atom", 200, "feed", "<feed"},
        {"GET", "/", 200, "index", "<!DOCTYPE html>"},
        {"GET", "/index.html", 200, "index", "<form"},
        {"GET", "/?tz=Asia/Tokyo", 200, "index", "Asia/Tokyo"},
        {"GET", "/healthz", 200, "healthz", "\"generation\": 7"},
        {"GET", "/metrics", 200, "metrics", "almanac_snapshot_generation 7"},
        {"GET", "/tz/Asia/Tokyo/events.ics", 200, "feed", "X-WR-TIMEZONE:Asia/Tokyo"},
        {"GET", "/tz/America/Argentina/Buenos_Aires/events.ics", 200, "feed", "X-WR-TIMEZONE:America/Argentina/Buenos_Aires"},
        {"GET", "/events.ics?tz=America%2FNew_York", 200, "feed", "X-WR-TIMEZONE:America/New_York"},
        {"GET", "http://example.org/events.ics", 200, "feed", "BEGIN:VCALENDAR"},
        {"GET", "/nope.ics", 404, "other", "no feed named 'nope'"},
        {"GET", "/events.atom", 404, "other", "feed 'events' is not published as .atom"},
        {"GET", "/events.pdf", 404, "other", "not published as .pdf"},
        {"GET", "/tz/Mars/Olympus/events.ics", 404, "other", "unknown time zone 'Mars/Olympus'"},
        {"GET", "/tz/Mars/Olympus/events/launch.ics", 404, "other", "unknown time zone 'Mars/Olympus'"},
        {"GET", "/tz/Mars/Olympus/nope/launch.ics", 404, "other", "no feed named 'launch'"},
        {"GET", "/tz/../events.ics", 404, "other", "unknown time zone '..'"},
        {"GET", "/events.ics?tz=localtime", 404, "other", "unknown time zone"},
        {"GET", "/tz/Asia/Tokyo/events.ics?tz=UTC", 400, "other", "two different time zones"},
        {"GET", "/etc/passwd", 404, "other", "not found"},
        {"GET", "/%2e%2e/%2e%2e/etc/passwd", 404, "other", "not found"},
        {"GET", "/events.ics%00", 400, "other", "malformed"},
        {"GET", "/%zz", 400, "other", "malformed"},
        {"GET", "events.ics", 400, "other", "malformed"},
        {"POST", "/events.ics", 405, "other", "use GET or HEAD"},
        {"DELETE", "/", 405, "other", "use GET or HEAD"},
    };
    for (const auto& c : cases) {
        const auto r = get(c.target, {}, c.method);
        EXPECT_EQ(r.status, c.status) << c.method << ' ' << c.target << ": " << body(r);
        EXPECT_EQ(r.route, c.route) << c.target;
        EXPECT_NE(body(r).find(c.body_has), std::string::npos) << c.target << ": " << body(r);
        if (c.status == 405) {
            EXPECT_EQ(header(r, "Allow"), "GET, HEAD");
        }
        if (c.status >= 400) {
            EXPECT_EQ(body(r).find('\n'), body(r).size() - 1) << "one line: " << body(r);
        }
    }
}

TEST_F(HandlerTest, ZonePathAndQueryGiveIdenticalBytes) {
    const auto a = get("/tz/America/New_York/events.ics");
    const auto b = get("/events.ics?tz=America/New_York");
    ASSERT_EQ(a.status, 200u);
    EXPECT_EQ(body(a), body(b));
    EXPECT_EQ(header(a, "ETag"), header(b, "ETag"));
    // Prerendered and on-demand views agree with `almanac build`'s bytes.
    const auto c = get("/events.ics?tz=Asia/Tokyo");
    EXPECT_EQ(body(c), snapshot->documents.at("tz/Asia/Tokyo/events.ics")->identity->str());
    EXPECT_EQ(snapshot->views.size(), 1u);  // New York, rendered once and cached
}

TEST_F(HandlerTest, FeedHeaders) {
    const auto r = get("/events.ics");
    EXPECT_EQ(header(r, "Content-Type"), "text/calendar; charset=utf-8");
    EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=120");
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
    EXPECT_EQ(header(r, "ETag"), snapshot->documents.at("events.ics")->etag);
    EXPECT_EQ(header(r, "Last-Modified"), "Thu, 01 Jan 2026 00:00:00 GMT");  // when the snapshot was built
    EXPECT_EQ(header(get("/"), "Access-Control-Allow-Origin"), "");
    EXPECT_EQ(header(get("/"), "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(header(get("/healthz"), "Cache-Control"), "no-store");
}

TEST_F(HandlerTest, HeadHasTheHeadersOfGet) {
    const auto g = get("/events.rss");
    const auto h = get("/events.rss", {}, "HEAD");
    EXPECT_TRUE(h.head);
    EXPECT_FALSE(g.head);
    EXPECT_EQ(body(h), body(g));  // the server sends its length, not its bytes
    EXPECT_EQ(header(h, "ETag"), header(g, "ETag"));
}

TEST_F(HandlerTest, ConditionalRequests) {
    const auto first = get("/events.ics");
    const std::string etag = header(first, "ETag");
    const std::string modified = header(first, "Last-Modified");
    struct Case {
        std::vector<std::pair<std::string, std::string>> headers;
        unsigned status;
    };
    const Case cases[] = {
        {{{"If-None-Match", etag}}, 304},
        {{{"If-None-Match", "W/" + etag}}, 304},  // weak comparison (RFC 9110 §13.1.2)
        {{{"If-None-Match", "\"other\", " + etag}}, 304},
        {{{"If-None-Match", "*"}}, 304},
        {{{"If-None-Match", "\"other\""}}, 200},
        // If-None-Match wins: a stale tag means 200 even when the date would say 304.
        {{{"If-None-Match", "\"other\""}, {"If-Modified-Since", modified}}, 200},
        {{{"If-Modified-Since", modified}}, 304},
        {{{"If-Modified-Since", "Sun, 03 Feb 2030 00:00:00 GMT"}}, 304},  // not newer than: later dates too
        {{{"If-Modified-Since", "Wed, 31 Dec 2025 23:59:59 GMT"}}, 200},
        {{{"If-Modified-Since", "Thursday, 01-Jan-26 00:00:00 GMT"}}, 304},
        {{{"If-Modified-Since", "Thu Jan  1 00:00:00 2026"}}, 304},
        {{{"If-Modified-Since", "yesterday"}}, 200},
        // The gzip representation's tag validates too: it stands for the same bytes.
        {{{"If-None-Match", snapshot->documents.at("events.ics")->etag_gzip}}, 304},
    };
    for (const auto& c : cases) {
        const auto r = get("/events.ics", c.headers);
        EXPECT_EQ(r.status, c.status) << c.headers.front().first << ": " << c.headers.front().second;
        if (r.status == 304) {
            EXPECT_EQ(body(r), "");
            EXPECT_EQ(header(r, "ETag"), etag);
            EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=120");
        }
    }
}

TEST_F(HandlerTest, ContentEncoding) {
    const auto& rep = *snapshot->documents.at("events.ics");
    ASSERT_TRUE(rep.gzip && rep.brotli);
    struct Case {
        const char* accept;
        const char* encoding;
    };
    const Case cases[] = {
        {"", ""},
        {"gzip", "gzip"},
        {"gzip, deflate, br", "br"},
        {"br;q=0.5, gzip;q=0.9", "gzip"},
        {"br;q=0, gzip", "gzip"},
        {"gzip;q=0", ""},
        {"*", "br"},
        {"identity", ""},
        {"identity;q=1, gzip;q=0.1", "gzip"},
        {"x-gzip", "gzip"},
        {"GZIP", "gzip"},
        {"br;q=abc", ""},
    };
    for (const auto& c : cases) {
        const auto r = get("/events.ics", {{"Accept-Encoding", c.accept}});
        EXPECT_EQ(header(r, "Content-Encoding"), c.encoding) << c.accept;
        const std::string e = c.encoding;
        EXPECT_EQ(body(r), e == "br" ? *rep.brotli : e == "gzip" ? rep.gzip->str()
                                                                 : rep.identity->str())
            << c.accept;
        EXPECT_EQ(header(r, "ETag"), e == "br" ? rep.etag_brotli : e == "gzip" ? rep.etag_gzip
                                                                               : rep.etag);
        EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
    }
    EXPECT_NE(rep.etag, rep.etag_gzip);
    EXPECT_EQ(rep.etag_gzip.back(), '"');
}

TEST_F(HandlerTest, BeforeCompressionIdentityIsServedWithTheSameTags) {
    SnapshotInput input;
    input.site = snapshot->site;
    input.options = snapshot->options;
    input.generation = 7;
    const auto plain_snapshot = build_snapshot(input);
    EXPECT_FALSE(is_encoded(*plain_snapshot));
    EXPECT_TRUE(is_encoded(*snapshot));
    const auto r = handle_request(*plain_snapshot, Request{"GET", "/events.ics", "", "", "gzip, br", ""}, metrics);
    EXPECT_EQ(header(r, "Content-Encoding"), "");
    EXPECT_EQ(header(r, "ETag"), snapshot->documents.at("events.ics")->etag);
    EXPECT_EQ(body(r), snapshot->documents.at("events.ics")->identity->str());
}

TEST_F(HandlerTest, FiltersAreASetAndCached) {
    const auto a = get("/events.rss?tag=z&tag=x");
    const auto b = get("/events.rss?tag=x,z");
    ASSERT_EQ(a.status, 200u);
    EXPECT_EQ(body(a), body(b));
    EXPECT_NE(body(a).find("Alpha"), std::string::npos);
    EXPECT_NE(body(a).find("Beta"), std::string::npos);
    const auto talks = get("/events.rss?kind=talk");
    EXPECT_EQ(body(talks).find("Alpha"), std::string::npos);
    EXPECT_NE(body(talks).find("Beta"), std::string::npos);
    EXPECT_NE(body(talks).find("events.rss?kind=talk"), std::string::npos) << "own rel=self";
    const auto none = get("/events.ics?tag=nothing");
    EXPECT_EQ(none.status, 200u);
    EXPECT_EQ(body(none).find("BEGIN:VEVENT"), std::string::npos);
    EXPECT_EQ(get("/events.ics?tag=" + std::string(300, 'x')).status, 400u);
    std::string many = "/events.ics?tag=a";
    for (int i = 0; i < 20; ++i) many += "&tag=t" + std::to_string(i);
    EXPECT_EQ(get(many).status, 400u);
    EXPECT_EQ(get("/events.ics?utm_source=x").status, 200u);  // unknown parameters are ignored
}

// Absolute-form keeps its query; '+' in a zone is a '+' (no zone name has a space), in a tag a space;
// only the parameters the server knows must be cleanly encoded.
TEST_F(HandlerTest, QueryParameters) {
    const auto tokyo = get("http://example.org?tz=Asia/Tokyo");
    ASSERT_EQ(tokyo.status, 200u) << body(tokyo);
    EXPECT_EQ(body(tokyo), body(get("/?tz=Asia/Tokyo")));
    EXPECT_NE(body(get("http://example.org/events.ics?tz=Asia/Tokyo")).find("X-WR-TIMEZONE:Asia/Tokyo"),
              std::string::npos);
    EXPECT_EQ(body(get("HTTP://example.org:8080/events.ics?tag=z")), body(get("/events.ics?tag=z")));

    for (const char* zone : {"Etc/GMT+5", "Etc/GMT%2B5"}) {
        const auto r = get(std::string("/events.ics?tz=") + zone);
        EXPECT_EQ(r.status, 200u) << zone << ": " << body(r);
        EXPECT_NE(body(r).find("X-WR-TIMEZONE:Etc/GMT+5"), std::string::npos) << zone;
    }
    EXPECT_EQ(get("/events.ics?tz=Etc/GMT+5").status, 200u);
    EXPECT_EQ(body(get("/tz/Etc/GMT+5/events.ics")), body(get("/events.ics?tz=Etc/GMT+5")));
    EXPECT_NE(body(get("/?tz=Etc/GMT+5")).find("Etc/GMT+5"), std::string::npos);

    EXPECT_EQ(body(get("/events.rss?tag=z+q")), body(get("/events.rss?tag=z%20q"))) << "'+' is a space in a tag";
    EXPECT_EQ(get("/events.rss?tag=z+q").status, 200u);

    for (const char* ignored : {"/events.ics?utm=%zz", "/events.ics?x=%00&y=%ff%fe", "/?ref=%", "/events.ics?%zz=1"}) {
        const auto r = get(ignored);
        EXPECT_EQ(r.status, 200u) << ignored << ": " << body(r);
        EXPECT_EQ(body(r), body(get(std::string(ignored).substr(0, std::string(ignored).find('?')))));
    }
    for (const char* malformed : {"/events.ics?tz=%zz", "/events.ics?tag=%", "/events.ics?kind=%00", "/?tz=%C3",
                                  "/events.ics?t%61g=%zz"}) {
        const auto r = get(malformed);
        EXPECT_EQ(r.status, 400u) << malformed;
        EXPECT_EQ(body(r), "malformed request target\n") << malformed;
    }
}

// CORS: feeds carry Access-Control-Allow-Origin and expose their validators, 304s and errors too; a
// preflight allows GET and HEAD with the conditional and cache headers.
TEST_F(HandlerTest, CrossOriginFeeds) {
    const auto ok = get("/events.ics");
    const auto not_modified = get("/events.ics", {{"If-None-Match", header(ok, "ETag")}});
    ASSERT_EQ(not_modified.status, 304u);
    for (const auto* r : {&ok, &not_modified}) {
        EXPECT_EQ(header(*r, "Access-Control-Allow-Origin"), "*");
        EXPECT_EQ(header(*r, "Access-Control-Expose-Headers"), "ETag, Last-Modified");
    }
    for (const char* target : {"/nope.ics", "/events.atom", "/tz/Mars/Olympus/events.ics", "/events.ics?tz=%zz",
                               "/events.ics?tag=a&tz=A&tz=B", "/nowhere/x"}) {
        const auto r = get(target);
        EXPECT_GE(r.status, 400u) << target;
        EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*") << target;
    }
    const auto post = get("/events.ics", {}, "POST");
    EXPECT_EQ(post.status, 405u);
    EXPECT_EQ(header(post, "Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(header(get("/"), "Access-Control-Allow-Origin"), "");
    EXPECT_EQ(header(get("/healthz"), "Access-Control-Allow-Origin"), "");

    for (const char* target : {"/events.ics", "/tz/Asia/Tokyo/events.rss?tag=x", "/nope.ics"}) {
        const auto r = get(target, {{"Access-Control-Request-Method", "GET"}}, "OPTIONS");
        EXPECT_EQ(r.status, 204u) << target;
        EXPECT_FALSE(r.body) << target;
        EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
        EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "GET, HEAD");
        const auto allowed = ascii_lower(header(r, "Access-Control-Allow-Headers"));
        for (const char* name : {"if-none-match", "if-modified-since", "cache-control"})
            EXPECT_NE(allowed.find(name), std::string::npos) << name;
        EXPECT_EQ(header(r, "Access-Control-Max-Age"), "86400");
    }
    const auto options = get("/events.ics", {}, "OPTIONS");  // no preflight: OPTIONS is not served
    EXPECT_EQ(options.status, 405u);
    EXPECT_EQ(header(options, "Allow"), "GET, HEAD");
}

TEST_F(HandlerTest, HealthzListsErrors) {
    const auto r = get("/healthz");
    EXPECT_NE(body(r).find("events/bad.md:3: "), std::string::npos) << body(r);
    EXPECT_NE(body(r).find("\"error_count\": 1"), std::string::npos) << body(r);
    EXPECT_NE(body(r).find("\"items\": 3"), std::string::npos) << body(r);
}

TEST_F(HandlerTest, HostileTargetsGetOneShortLine) {
    const std::string long_zone(10240, 'A');
    const struct {
        std::string method;
        std::string target;
        unsigned status;
    } cases[] = {
        {"GET", "/events.ics?tz=" + long_zone, 404},
        {"GET", "/tz/" + long_zone + "/x/events.ics", 404},
        {"GET", "/" + std::string(5000, 'n') + ".ics", 404},
        {"GET", "/" + std::string(5000, 'n'), 404},
        {"GET", "/events." + std::string(5000, 'e'), 404},
        {"GET", "/tz/Asia/Tokyo/events.ics?tz=" + long_zone, 400},
        {std::string(5000, 'M'), "/", 405},
        // Multi-byte characters are not cut in half.
        {"GET", "/events.ics?tz=" + std::string(30, 'a') + [] {
             std::string s;
             for (int i = 0; i < 100; ++i) s += "%C3%A9";
             return s;
         }(),
         404},
        // Files of the tz database that are not zones, and other names that are no zone.
        {"GET", "/events.ics?tz=zone.tab", 404},
        {"GET", "/events.ics?tz=tzdata.zi", 404},
        {"GET", "/events.ics?tz=leapseconds", 404},
        {"GET", "/events.ics?tz=leap-seconds.list", 404},
        {"GET", "/events.ics?tz=iso3166.tab", 404},
        {"GET", "/events.ics?tz=posixrules", 404},
        {"GET", "/events.ics?tz=right/UTC", 404},
        {"GET", "/events.ics?tz=posix/Europe/Berlin", 404},
        {"GET", "/events.ics?tz=Etc/GMT%2B99", 404},
        {"GET", "/events.ics?tz=Factory", 404},
        {"GET", "/events.ics?tz=%2Fetc%2Fpasswd", 404},
        {"GET", "/events.ics?tz=..%2F..%2Fetc%2Fpasswd", 404},
        {"GET", "/events.ics?tz=UTC%00", 400},
        {"GET", "/tz\\..\\..\\etc\\passwd", 404},
        {"GET", "/%252e%252e/%252e%252e/etc/passwd", 404},
        {"GET", "http://host/../../etc/passwd", 404},
        {"GET", "http://host/tz/../../events.ics", 404},
        {"GET", "*", 400},
    };
    for (const auto& c : cases) {
        const auto r = get(c.target, {}, c.method);
        EXPECT_EQ(r.status, c.status) << c.target.substr(0, 80) << ": " << body(r).substr(0, 200);
        EXPECT_LE(body(r).size(), 200u) << c.target.substr(0, 80);
        EXPECT_EQ(body(r).find('\n'), body(r).size() - 1) << "one line: " << body(r).substr(0, 200);
        EXPECT_TRUE(find_invalid_utf8(body(r)) == std::string::npos) << body(r);
    }
    EXPECT_EQ(body(get("/events.ics?tz=" + long_zone)), "unknown time zone '" + std::string(100, 'A') + "…'\n");
    EXPECT_EQ(snapshot->views.size(), 0u) << "nothing rendered for a request that fails";
}

TEST(Handler, ThousandsOfZonesKeepTheViewCacheBounded) {
    const auto snapshot = make_snapshot();
    Metrics metrics;
    std::size_t served = 0;
    for (const auto& zone : date::get_tzdb().zones) {
        const auto r = handle_request(*snapshot, Request{"GET", "/events.rss?tz=" + zone.name(), "", "", "", ""}, metrics);
        if (r.status == 200) ++served;
    }
    EXPECT_GT(served, 400u);
    EXPECT_EQ(snapshot->views.size(), 256u);  // server.limits.max_cached_zones
}

TEST(Handler, ZonesOnlyFromThePrerenderListWhenAllowAnyIsOff) {
    const auto snapshot = make_snapshot(false);
    Metrics metrics;
    const auto r = handle_request(*snapshot, Request{"GET", "/tz/Europe/Paris/events.ics", "", "", "", ""}, metrics);
    EXPECT_EQ(r.status, 404u);
    EXPECT_NE(body(r).find("not offered"), std::string::npos);
    EXPECT_EQ(handle_request(*snapshot, Request{"GET", "/tz/Asia/Tokyo/events.ics", "", "", "", ""}, metrics).status, 200u);
}

// A document of 32 KiB to 1 MiB sent uncompressed goes with its sealed copy (the server sends that
// with sendfile), made by that first GET; HEAD and compressed answers make none.
TEST_F(HandlerTest, MidSizedDocumentsAreSentFromTheirSealedCopy) {
    auto big = std::make_shared<Snapshot>(4);
    big->site = snapshot->site;
    big->options = snapshot->options;
    big->documents = snapshot->documents;
    std::string bytes;
    while (bytes.size() < 200'000) bytes += "BEGIN:VEVENT\r\nSUMMARY:" + std::to_string(bytes.size()) + "\r\nEND:VEVENT\r\n";
    big->documents["events.ics"] =
        encode_representation(make_representation(Document{Rope(bytes), "text/calendar", strong_etag(Rope(bytes))}, Instant{}));
    const auto& rep = *big->documents.at("events.ics");
    ASSERT_TRUE(rep.identity_file);
    const auto ask = [&](const std::string& method, const std::string& encoding) {
        return handle_request(*big, Request{method, "/events.ics", "", "", encoding, ""}, metrics);
    };
    EXPECT_FALSE(ask("HEAD", "").body.file());
    EXPECT_FALSE(ask("GET", "gzip").body.file());
    const std::size_t files_before = SealedFile::open_files();
    const auto r = ask("GET", "");
    ASSERT_TRUE(r.body.file());
    EXPECT_EQ(r.body.file()->size(), bytes.size());
    EXPECT_EQ(SealedFile::open_files(), files_before + 1);
    EXPECT_EQ(ask("GET", "").body.file(), r.body.file()) << "one copy for every request";
    std::string sent(bytes.size(), '\0');
    ASSERT_EQ(::pread(r.body.file()->fd(), sent.data(), sent.size(), 0), static_cast<ssize_t>(sent.size()));
    EXPECT_TRUE(sent == bytes);

    // server.sendfile: false sends every body from the heap: no sealed copy.
    auto site = std::make_shared<Site>(*snapshot->site);
    site->config.server.sendfile = false;
    big->site = site;
    const auto heap = ask("GET", "");
    EXPECT_EQ(heap.status, 200u);
    EXPECT_FALSE(heap.body.file());
    EXPECT_EQ(heap.body.size(), bytes.size());
}

TEST(Handler, ViewCacheIsBounded) {
    ViewCache cache(2);
    const auto rep = make_representation(Document{Rope(std::string("x")), "text/plain", "\"1\""}, Instant{});
    cache.insert("a", rep);
    cache.insert("b", rep);
    ASSERT_TRUE(cache.find("a"));  // a is now the most recent
    cache.insert("c", rep);
    EXPECT_TRUE(cache.find("a"));
    EXPECT_FALSE(cache.find("b"));
    EXPECT_TRUE(cache.find("c"));
    EXPECT_EQ(cache.size(), 2u);
}

TEST(Handler, ViewCacheIsBoundedInBytes) {
    ViewCache cache(100, 10'000);
    const auto rep = [](std::size_t n, bool encode = false) {
        return make_representation(Document{Rope(std::string(n, 'x')), "text/plain", "\"1\""}, Instant{}, encode);
    };
    cache.insert("a", rep(4'000));
    cache.insert("b", rep(4'000));
    ASSERT_TRUE(cache.find("a"));   // a is now the most recent
    cache.insert("c", rep(4'000));  // b goes: 12,000 bytes do not fit
    EXPECT_TRUE(cache.find("a"));
    EXPECT_FALSE(cache.find("b"));
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.bytes(), 8'000u);
    cache.insert("huge", rep(20'000));  // bigger than the budget: not kept, nothing evicted
    EXPECT_FALSE(cache.find("huge"));
    EXPECT_EQ(cache.size(), 2u);
    cache.insert("c", rep(1'000));  // replaced
    EXPECT_EQ(cache.bytes(), 5'000u);
    // Every encoding counts: identity plus the (smaller) gzip and brotli bodies.
    const auto encoded = rep(3'000, true);
    ASSERT_TRUE(encoded->gzip && encoded->brotli);
    cache.insert("encoded", encoded);
    EXPECT_EQ(cache.bytes(), 5'000u + 3'000u + encoded->gzip->size() + encoded->brotli->size());
}

TEST(Handler, HttpDates) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), at("1994-11-06T08:49:37Z"));
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), at("1994-11-06T08:49:37Z"));
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), at("1994-11-06T08:49:37Z"));
    for (const char* bad : {"", "Sun, 06 Nov 1994 08:49:37 CET", "Sun, 31 Feb 1994 08:49:37 GMT",
                            "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "1994-11-06",
                            "Sun, 06 Nov 1994 08:49:37 GMT trailing"})
        EXPECT_FALSE(parse_http_date(bad)) << bad;
}

// The path of an item's own document, from its UID.
std::string event_path(const Snapshot& snapshot, const char* item_path, const std::string& prefix = "/") {
    for (const auto& item : snapshot.site->items)
        if (item.path == item_path) return prefix + "events/" + event_slug(item.uid) + ".ics";
    return "";
}

TEST_F(HandlerTest, EventDocumentsInEveryView) {
    const auto path = event_path(*snapshot, "events/a.md");
    const auto r = get(path);
    ASSERT_EQ(r.status, 200u) << body(r);
    EXPECT_EQ(r.route, "event");
    EXPECT_EQ(header(r, "Content-Type"), "text/calendar; charset=utf-8");
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
    EXPECT_NE(body(r).find("SUMMARY:Alpha"), std::string::npos);
    EXPECT_EQ(body(r).find("SUMMARY:Beta"), std::string::npos);
    EXPECT_NE(body(r).find("DTSTART;TZID=Europe/Berlin:20300501T100000"), std::string::npos);
    // A zone view, by path (Area/Location and a three-part zone) or by ?tz=, the same bytes either way.
    const auto tokyo = get(event_path(*snapshot, "events/a.md", "/tz/Asia/Tokyo/"));
    ASSERT_EQ(tokyo.status, 200u) << body(tokyo);
    EXPECT_NE(body(tokyo).find("DTSTART;TZID=Asia/Tokyo:20300501T170000"), std::string::npos);
    EXPECT_EQ(body(get(path + "?tz=Asia/Tokyo")), body(tokyo));
    const auto ba = get(event_path(*snapshot, "events/a.md", "/tz/America/Argentina/Buenos_Aires/"));
    ASSERT_EQ(ba.status, 200u) << body(ba);
    EXPECT_NE(body(ba).find("TZID=America/Argentina/Buenos_Aires:20300501T050000"), std::string::npos);
    // Validators, 304 and gzip as for every document; HEAD has the headers of GET.
    EXPECT_EQ(get(path, {{"If-None-Match", header(r, "ETag")}}).status, 304u);
    EXPECT_EQ(get(path, {{"If-Modified-Since", header(r, "Last-Modified")}}).status, 304u);
    const auto gz = get(path, {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(header(gz, "Content-Encoding"), "gzip");
    EXPECT_EQ(get(path, {{"If-None-Match", header(gz, "ETag")}}).status, 304u);
    const auto head = get(path, {}, "HEAD");
    EXPECT_TRUE(head.head);
    EXPECT_EQ(header(head, "ETag"), header(r, "ETag"));
    // Rendered once, then served from the snapshot's cache of event documents.
    EXPECT_EQ(snapshot->event_documents.size(), 3u);
    EXPECT_EQ(snapshot->views.size(), 0u);
}

TEST_F(HandlerTest, EventDocumentErrors) {
    const auto path = event_path(*snapshot, "events/a.md");
    const auto slug = path.substr(std::string("/events/").size());
    struct Case {
        std::string target;
        unsigned status;
        const char* body_has;
    };
    const std::vector<Case> cases = {
        {"/events/nothing.ics", 404, "feed 'events' has no event 'nothing'"},
        {"/blog/" + slug, 404, "feed 'blog' has no event"},
        {"/nofeed/" + slug, 404, "no feed named 'nofeed'"},
        {"/events/" + slug.substr(0, slug.size() - 4) + ".rss", 404, "expected /{feed}/{event}.ics"},
        {"/events/.ics", 404, "expected /{feed}/{event}.ics"},
        {"/tz/Mars/Base/events/" + slug, 404, "unknown time zone 'Mars/Base'"},
        {"/tz/Asia/Tokyo/events/" + slug + "?tz=UTC", 400, "two different time zones"},
        {path + "?tz=Nowhere/Here", 404, "unknown time zone"},
        {"/events/a/b.ics", 404, "not found"},
    };
    for (const auto& c : cases) {
        const auto r = get(c.target);
        EXPECT_EQ(r.status, c.status) << c.target << ": " << body(r);
        EXPECT_NE(body(r).find(c.body_has), std::string::npos) << c.target << ": " << body(r);
    }
    const auto strict = make_snapshot(false);
    Request request;
    request.method = "GET";
    request.target = event_path(*strict, "events/a.md", "/tz/Europe/Paris/");
    EXPECT_EQ(handle_request(*strict, request, metrics).status, 404u);
    request.target = event_path(*strict, "events/a.md", "/tz/Asia/Tokyo/");
    EXPECT_EQ(handle_request(*strict, request, metrics).status, 200u);
}

TEST(Handler, GzipRoundTripsThroughZlib) {
    std::string text;
    for (int i = 0; i < 500; ++i) text += "line " + std::to_string(i) + " \xc3\xbc\n";
    const auto gz = gzip_compress(text);
    ASSERT_TRUE(gz);
    EXPECT_EQ(gz->substr(0, 2), std::string("\x1f\x8b"));
    EXPECT_LT(gz->size(), text.size() / 3);
    std::string back(text.size() + 16, '\0');
    z_stream zs{};
    ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz->data()));
    zs.avail_in = static_cast<uInt>(gz->size());
    zs.next_out = reinterpret_cast<Bytef*>(back.data());
    zs.avail_out = static_cast<uInt>(back.size());
    EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
    back.resize(zs.total_out);
    inflateEnd(&zs);
    EXPECT_EQ(back, text);
    const auto br = brotli_compress(text);
    ASSERT_TRUE(br);
    EXPECT_LT(br->size(), text.size() / 3);
}

}  // namespace
}  // namespace almanac
