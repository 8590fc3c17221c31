// Snapshots: each document's Last-Modified, decided when a build replaces the snapshot being served.
#include "daemon/snapshot.hpp"

#include <gtest/gtest.h>

#include "daemon/request_handler.hpp"
#include "feeds/content.hpp"

namespace almanac {
namespace {

Instant at(const char* text) { return std::get<Instant>(parse_event_time(text).value()); }

SiteConfig config() {
    SiteConfig c;
    c.site.base_url = "https://example.org/";
    c.site.timezone = "Europe/Berlin";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    c.feeds = {{"events", "Events", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}},
               {"blog", "Blog", "", {"blog"}, {FeedFormat::atom}, {}, {}, {}, {}}};
    return c;
}

std::shared_ptr<const Site> site(const std::string& location) {
    const SiteConfig c = config();
    std::map<std::string, ParsedSource> files;
    const auto add = [&](const std::string& path, const std::string& text) {
        files[path] = parse_source(SourceFile{path, path, text}, *find_section(c, path.substr(0, path.find('/'))), c);
    };
    add("events/a.md", "---\ntitle: A\nstart: 2030-05-01T10:00\nduration: PT1H\nlocation: " + location + "\n---\n");
    add("blog/p.md", "---\ntitle: Post\ndate: 2024-02-03T04:05:06Z\n---\nHello\n");
    return std::make_shared<const Site>(assemble_site(c, files, {}));
}

std::shared_ptr<const Snapshot> build(std::shared_ptr<const Site> s, const char* now,
                                      std::shared_ptr<const Snapshot> live, bool same_config = true) {
    SnapshotInput input;
    // Each file's content version, as ContentState keeps it: here, the location's.
    std::string location;
    for (const auto& item : s->items)
        if (item.event) location = item.event->location;
    input.version = [location](const std::string&) { return std::hash<std::string>{}(location); };
    input.site = std::move(s);
    input.options = {at(now), std::nullopt};
    input.previous = same_config ? live : nullptr;
    input.live = std::move(live);
    return build_snapshot(input);
}

Instant modified(const Snapshot& s, const char* path) { return s.documents.at(path)->last_modified; }

TEST(SnapshotLastModified, KeptWhileTheBytesAreTheSameAndMovedWhenTheyChange) {
    const auto first = build(site("Berlin"), "2026-01-01T00:00:00Z", nullptr);
    EXPECT_EQ(modified(*first, "events.ics"), at("2026-01-01T00:00:00Z"));  // no earlier version: built now

    // A later build with the same content (a time-triggered rebuild, a config reload) keeps the dates.
    const auto same = build(site("Berlin"), "2026-01-02T00:00:00Z", first);
    EXPECT_EQ(modified(*same, "events.ics"), at("2026-01-01T00:00:00Z"));
    EXPECT_EQ(modified(*build(site("Berlin"), "2026-01-02T00:00:00Z", first, false), "events.ics"),
              at("2026-01-01T00:00:00Z"));

    // Only the location changes, no date in the content does: the document is dated by the build.
    const auto moved = build(site("Hamburg"), "2026-01-03T00:00:00Z", same);
    EXPECT_EQ(modified(*moved, "events.ics"), at("2026-01-03T00:00:00Z"));
    EXPECT_EQ(modified(*moved, "blog.atom"), at("2026-01-01T00:00:00Z"));  // its bytes did not change

    // Changed again within the same second: a second later, never the same date for other bytes.
    const auto again = build(site("Leipzig"), "2026-01-03T00:00:00Z", moved);
    EXPECT_EQ(modified(*again, "events.ics"), at("2026-01-03T00:00:01Z"));
    const auto third = build(site("Bonn"), "2026-01-03T00:00:00Z", again);
    EXPECT_EQ(modified(*third, "events.ics"), at("2026-01-03T00:00:02Z"));
}

// A document rendered again with the bytes the served snapshot has (the index page after an edit
// that does not show on it, a config reload) takes the served representation, compressed copies
// included, instead of compressing the same bytes again; other bytes get one of their own.
TEST(SnapshotReuse, TheSameBytesKeepTheServedRepresentation) {
    const auto first = build(site("Berlin"), "2026-01-01T00:00:00Z", nullptr);
    const auto served = encode_snapshot(*first);
    ASSERT_TRUE(served->documents.at("index.html")->encoded);
    const auto next = build(site("Hamburg"), "2026-01-02T00:00:00Z", served, false);  // everything rendered again
    EXPECT_EQ(next->documents.at("blog.atom"), served->documents.at("blog.atom"));
    EXPECT_EQ(next->documents.at("index.html"), served->documents.at("index.html"));
    EXPECT_NE(next->documents.at("events.ics"), served->documents.at("events.ics"));
    EXPECT_FALSE(next->documents.at("events.ics")->encoded);
    EXPECT_NE(next->documents.at("events.ics")->etag, served->documents.at("events.ics")->etag);
}

TEST(SnapshotLastModified, ADateStillToComeIsNotSentButStillValidates) {
    // Two versions within one second: the second is dated a second later, after its build's clock
    // (here far ahead of the test's). That date is not sent before it has come (RFC 9110 §8.8.2.1),
    // and If-Modified-Since with the first version's date gets the document, not a 304.
    const auto first = build(site("Berlin"), "2999-01-01T00:00:00Z", nullptr);
    const auto second = build(site("Hamburg"), "2999-01-01T00:00:00Z", first);
    ASSERT_EQ(modified(*second, "events.ics"), at("2999-01-01T00:00:01Z"));
    Metrics metrics;
    Request request;
    request.method = "GET";
    request.target = "/events.ics";
    const auto header = [](const Response& r, const std::string& name) {
        for (const auto& [n, v] : r.headers)
            if (n == name) return v.str();
        return std::string();
    };
    EXPECT_EQ(header(handle_request(*first, request, metrics), "Last-Modified"), "Tue, 01 Jan 2999 00:00:00 GMT");
    const auto r = handle_request(*second, request, metrics);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(header(r, "Last-Modified"), "");
    EXPECT_NE(header(r, "ETag"), "");
    request.if_modified_since = "Tue, 01 Jan 2999 00:00:00 GMT";
    EXPECT_EQ(handle_request(*first, request, metrics).status, 304u);
    EXPECT_EQ(handle_request(*second, request, metrics).status, 200u);
}

}  // namespace
}  // namespace almanac
