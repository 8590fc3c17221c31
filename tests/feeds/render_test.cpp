#include "feeds/render.hpp"

#include <gtest/gtest.h>

#include "feeds/publisher.hpp"

namespace almanac {
namespace {

Instant at(const char* s) { return to_instant(*parse_event_time(s), *find_zone("UTC")); }

struct Fixture {
    Site site;

    Fixture() {
        SiteConfig c;
        c.site.base_url = "https://example.org/";
        c.site.timezone = "Europe/Berlin";
        c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                              {"blog", SectionType::post, {}, {}, "/blog/:slug/"},
                              {"pages", SectionType::page, {}, {}, "/:slug/"}};
        c.timezones.prerender = {"UTC", "Asia/Tokyo"};
        std::map<std::string, ParsedSource> files;
        const auto add = [&](const std::string& path, const std::string& text) {
            const auto section = path.substr(0, path.find('/'));
            files[path] = parse_source(SourceFile{path, path, text}, *find_section(c, section), c);
            EXPECT_FALSE(has_errors(files[path].diagnostics)) << path;
        };
        add("events/a.md", "---\ntitle: A\nstart: 2024-05-01\nkind: conference\ntags: [x]\n---\n");
        add("events/b.md", "---\ntitle: B\nstart: 2024-03-01T10:00\nduration: PT1H\nkind: meetup\ntags: [y]\n---\n");
        add("events/c.md", "---\ntitle: C\nstart: 2025-01-01\ndraft: true\n---\n");
        add("events/d.md", "---\ntitle: D\nstart: 2024-04-01\npublishDate: 2024-06-01\nexpiryDate: 2024-07-01\n---\n");
        add("events/weekly.md",
            "---\ntitle: W\nstart: 2023-01-05T10:00\nduration: PT1H\nrrule: FREQ=WEEKLY;COUNT=100\n---\n");
        add("blog/old.md", "---\ntitle: Old\ndate: 2020-01-01\ntags: [x]\n---\n");
        add("blog/new.md", "---\ntitle: New\ndate: 2024-01-01\nlastmod: 2024-02-03T04:05:06Z\n---\n");
        add("blog/mid.md", "---\ntitle: Mid\ndate: 2022-01-01\n---\n");
        add("pages/about.md", "---\ntitle: About\n---\n");
        site = assemble_site(c, files, {});
    }

    std::vector<std::string> titles(const FeedConfig& feed, const FeedView& view, const char* now) const {
        std::vector<std::string> out;
        for (const auto* i : select_items(site, feed, view, at(now))) out.push_back(i->title);
        return out;
    }
};

using Titles = std::vector<std::string>;

TEST(SelectItems, EventsByStartPostsNewestFirst) {
    Fixture f;
    FeedConfig events{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}};
    EXPECT_EQ(f.titles(events, {}, "2024-06-15T00:00Z"), (Titles{"W", "B", "D", "A"}));
    FeedConfig blog{"blog", "B", "", {"blog", "pages"}, {FeedFormat::rss}, {}, {}, {}, {}};
    EXPECT_EQ(f.titles(blog, {}, "2024-06-15T00:00Z"), (Titles{"New", "Mid", "Old"}));
}

TEST(SelectItems, DraftsPublishAndExpiryAtTheMoment) {
    Fixture f;
    FeedConfig events{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}};
    EXPECT_EQ(f.titles(events, {}, "2024-05-31T21:59:59Z"), (Titles{"W", "B", "A"}));  // 2024-06-01 Berlin midnight
    EXPECT_EQ(f.titles(events, {}, "2024-05-31T22:00:00Z"), (Titles{"W", "B", "D", "A"}));
    EXPECT_EQ(f.titles(events, {}, "2024-07-01T00:00:00Z"), (Titles{"W", "B", "A"}));
}

TEST(SelectItems, FiltersAndLimit) {
    Fixture f;
    FeedConfig tagged{"t", "T", "", {"events", "blog"}, {FeedFormat::rss}, {"x"}, {}, {}, {}};
    EXPECT_EQ(f.titles(tagged, {}, "2024-06-15T00:00Z"), (Titles{"A", "Old"}));
    FeedConfig events{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}};
    EXPECT_EQ(f.titles(events, FeedView{std::nullopt, {}, {"meetup"}}, "2024-06-15T00:00Z"), (Titles{"B"}));
    EXPECT_EQ(f.titles(events, FeedView{std::nullopt, {"y", "x"}, {}}, "2024-06-15T00:00Z"), (Titles{"B", "A"}));
    FeedConfig blog{"blog", "B", "", {"blog"}, {FeedFormat::rss}, {}, {}, 2, {}};
    EXPECT_EQ(f.titles(blog, {}, "2024-06-15T00:00Z"), (Titles{"New", "Mid"}));
    FeedConfig latest{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, 2, {}};
    EXPECT_EQ(f.titles(latest, {}, "2024-06-15T00:00Z"), (Titles{"D", "A"}));
}

TEST(SelectItems, WindowUsesOccurrences) {
    Fixture f;
    FeedConfig window{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {30, 30}};
    // The weekly event (100 weeks from 2023-01-05) still occurs in mid-2024; B (March) and D are out.
    EXPECT_EQ(f.titles(window, {}, "2024-05-15T00:00Z"), (Titles{"W", "A"}));
    EXPECT_EQ(f.titles(window, {}, "2026-01-01T00:00Z"), (Titles{}));
}

TEST(FeedUpdated, NewestDatedItemElseFallback) {
    Fixture f;
    FeedConfig blog{"blog", "B", "", {"blog"}, {FeedFormat::rss}, {}, {}, {}, {}};
    const auto items = select_items(f.site, blog, {}, at("2024-06-15T00:00Z"));
    EXPECT_EQ(feed_updated(items, std::nullopt), at("2024-02-03T04:05:06Z"));
    EXPECT_EQ(feed_updated({}, at("2001-01-01T00:00Z")), at("2001-01-01T00:00Z"));
    EXPECT_EQ(feed_updated({}, std::nullopt), Instant{});
}

TEST(OutputFormats, TableAndUrls) {
    ASSERT_NE(find_output_format("ics"), nullptr);
    EXPECT_EQ(find_output_format("ics")->media_type, "text/calendar; charset=utf-8");
    EXPECT_EQ(find_output_format("json")->format, FeedFormat::json);
    EXPECT_EQ(find_output_format("html"), nullptr);
    for (const auto& f : output_formats()) EXPECT_EQ(output_format(f.format).extension, f.extension);
    Fixture fx;
    FeedConfig events{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}};
    EXPECT_EQ(feed_url(fx.site.config, events, FeedFormat::ics, *find_zone("America/Argentina/Buenos_Aires")),
              "https://example.org/tz/America/Argentina/Buenos_Aires/events.ics");
    EXPECT_EQ(document_path(events, FeedFormat::atom, std::nullopt), "events.atom");
}

TEST(EventUrls, SlugsAreStableUniqueAndSafe) {
    // A UID of path-safe characters is its own slug; any other keeps its safe runs and gets a hash.
    EXPECT_EQ(event_slug("summit-2024@example.org"), "summit-2024@example.org");
    const auto derived = event_slug("events/summit#2@example.org");
    EXPECT_TRUE(derived.starts_with("events-summit-2@example.org-")) << derived;
    EXPECT_EQ(derived.size(), std::string("events-summit-2@example.org-").size() + 8);
    EXPECT_EQ(derived, event_slug("events/summit#2@example.org"));
    EXPECT_NE(event_slug("a/b"), event_slug("a b"));
    EXPECT_NE(event_slug("a/b"), event_slug("a-b"));
    for (const char* uid : {".", "..", "/", "ü", "a?b", std::string(255, 'x').c_str(), "%2e"}) {
        const auto slug = event_slug(uid);
        EXPECT_FALSE(slug.empty() || slug == "." || slug == "..") << uid;
        EXPECT_LE(slug.size(), 129u) << uid;
        EXPECT_EQ(slug.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~@"),
                  std::string::npos) << uid;
    }
    Fixture fx;
    FeedConfig events{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}};
    EXPECT_EQ(event_url(fx.site.config, events, "s@x", std::nullopt), "https://example.org/events/s@x.ics");
    EXPECT_EQ(event_url(fx.site.config, events, "s@x", *find_zone("America/Argentina/Buenos_Aires")),
              "https://example.org/tz/America/Argentina/Buenos_Aires/events/s@x.ics");
    fx.site.config.site.documents_url = "http://127.0.0.1:8080/";
    EXPECT_EQ(event_url(fx.site.config, events, "s@x", std::nullopt), "http://127.0.0.1:8080/events/s@x.ics");
    EXPECT_EQ(event_document_path(events, "s@x", *find_zone("Asia/Tokyo")), "tz/Asia/Tokyo/events/s@x.ics");
}

TEST(Publisher, EventDocumentsHoldTheFeedsVevents) {
    Fixture f;
    f.site.config.feeds = {{"events", "E", "Described", {"events"}, {FeedFormat::ics, FeedFormat::rss}, {}, {}, {}, {}},
                           {"blog", "B", "", {"blog"}, {FeedFormat::atom}, {}, {}, {}, {}}};
    const auto& feed = f.site.config.feeds[0];
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    const auto slug = [&](const char* path) {
        for (const auto& item : f.site.items)
            if (item.path == path) return event_slug(item.uid);
        return std::string();
    };
    // Each VEVENT block of a document.
    const auto vevents = [](const std::string& ics) {
        std::vector<std::string> out;
        for (auto at = ics.find("BEGIN:VEVENT"); at != std::string::npos; at = ics.find("BEGIN:VEVENT", at + 1))
            out.push_back(ics.substr(at, ics.find("END:VEVENT", at) + 12 - at));
        return out;
    };
    for (const std::optional<Zone> zone : {std::optional<Zone>(), std::optional<Zone>(*find_zone("Asia/Tokyo"))}) {
        const auto whole = render_document(f.site, feed, FeedFormat::ics, FeedView{zone, {}, {}}, options).body.str();
        for (const char* path : {"events/b.md", "events/weekly.md", "events/a.md"}) {
            SCOPED_TRACE(path);
            const auto doc = render_event_document(f.site, feed, slug(path), zone, options);
            ASSERT_TRUE(doc);
            const auto ics = doc->body.str();
            EXPECT_EQ(doc->etag, strong_etag(doc->body));
            EXPECT_EQ(doc->media_type, "text/calendar; charset=utf-8");
            // The feed's own bytes for this event, the whole series for a recurring one.
            const auto mine = vevents(ics);
            ASSERT_EQ(mine.size(), 1u);
            EXPECT_NE(whole.find(mine[0]), std::string::npos);
            if (std::string(path) == "events/weekly.md") EXPECT_NE(ics.find("RRULE:FREQ=WEEKLY;COUNT=100"), std::string::npos);
            // With the zones it uses; without the calendar's name and refresh interval.
            if (std::string(path) == "events/b.md")
                EXPECT_NE(ics.find(zone ? "BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo" : "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"), std::string::npos);
            for (const char* absent : {"X-WR-CALNAME", "\r\nNAME:", "REFRESH-INTERVAL", "X-PUBLISHED-TTL", "Described"})
                EXPECT_EQ(ics.find(absent), std::string::npos) << absent;
            EXPECT_NE(ics.find("URL:" + event_url(f.site.config, feed, slug(path), zone).substr(0, 60)), std::string::npos);
        }
    }
    // Only events the feed holds now: not a draft, not one expired, not another feed's, not a post.
    EXPECT_FALSE(render_event_document(f.site, feed, slug("events/c.md"), std::nullopt, options));
    EXPECT_FALSE(render_event_document(f.site, feed, slug("events/d.md"), std::nullopt, PublishOptions{at("2024-08-01T00:00Z"), {}}));
    EXPECT_TRUE(render_event_document(f.site, feed, slug("events/d.md"), std::nullopt, options));
    EXPECT_FALSE(render_event_document(f.site, f.site.config.feeds[1], slug("blog/old.md"), std::nullopt, options));
    EXPECT_FALSE(render_event_document(f.site, feed, "nothing", std::nullopt, options));
    // `almanac build` writes them in the default view, the same bytes as rendered on request.
    PublishControl control;
    control.events = true;
    std::map<std::string, Document> built;
    publish_site(f.site, options, [&](std::string path, Document doc) { built.emplace(std::move(path), std::move(doc)); }, control);
    EXPECT_EQ(built.size(), 10u + 4u);  // 3 formats × 3 views, the index page, and the 4 visible events
    for (const char* path : {"events/a.md", "events/b.md", "events/d.md", "events/weekly.md"}) {
        const auto key = "events/" + slug(path) + ".ics";
        ASSERT_TRUE(built.contains(key)) << key;
        EXPECT_EQ(built.at(key).body, render_event_document(f.site, feed, slug(path), std::nullopt, options)->body);
    }
    EXPECT_EQ(publish_site(f.site, options).size(), 10u);  // not without control.events
}

TEST(Publisher, EveryViewDeterministic) {
    Fixture f;
    f.site.config.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss}, {}, {}, {}, {}},
                           {"blog", "B", "", {"blog"}, {FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    const auto a = publish_site(f.site, options);
    const auto b = publish_site(f.site, options);
    ASSERT_EQ(a.size(), 13u);  // 4 documents × (default + 2 zones), and the index page
    for (const char* path : {"events.ics", "tz/UTC/events.rss", "tz/Asia/Tokyo/blog.json", "blog.atom", "index.html"})
        ASSERT_TRUE(a.contains(path)) << path;
    for (const auto& [path, doc] : a) {
        EXPECT_EQ(doc.body, b.at(path).body) << path;
        EXPECT_EQ(doc.etag, strong_etag(doc.body));
        EXPECT_FALSE(doc.body.empty()) << path;
    }
    EXPECT_NE(a.at("events.ics").etag, a.at("tz/Asia/Tokyo/events.ics").etag);
    const std::string atom = a.at("blog.atom").body.str();
    EXPECT_EQ(atom.substr(atom.find("<updated>"), 39), "<updated>2024-02-03T04:05:06Z</updated>");  // the feed's own
    // A feed without any dated item is as new as the site's newest visible dated item (D's publishDate).
    const FeedConfig meetups{"m", "M", "", {"events"}, {FeedFormat::ics}, {}, {"meetup"}, {}, {}};
    const auto dtstamp = [&](const PublishOptions& o) {
        const std::string ics = render_document(f.site, meetups, FeedFormat::ics, {}, o).body.str();
        return ics.substr(ics.find("DTSTAMP:"), 24);
    };
    EXPECT_EQ(dtstamp(options), "DTSTAMP:20240531T220000Z");
    const PublishOptions before_d{at("2024-05-01T00:00Z"), std::nullopt};
    EXPECT_EQ(dtstamp(before_d), "DTSTAMP:20240203T040506Z");
    EXPECT_EQ(strong_etag("abc"), "\"78af5f94892f3950-3\"");  // XXH3-64("abc")
    EXPECT_EQ(a.at("index.html").media_type, "text/html; charset=utf-8");
}

// A kept entry is not copied into the next document: the documents share its bytes.
TEST(Publisher, DocumentsShareKeptEntries) {
    Fixture f;
    f.site.config.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    FragmentStore store;
    const auto publish = [&] {
        std::map<std::string, Document> out;
        PublishControl control;
        control.fragments = &store;
        publish_site(f.site, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); }, control);
        return out;
    };
    const auto first = publish();
    store.sweep();
    const auto second = publish();
    for (const char* path : {"events.ics", "events.rss", "events.atom", "events.json", "tz/Asia/Tokyo/events.ics"}) {
        const auto& a = first.at(path).body.pieces();
        const auto& b = second.at(path).body.pieces();
        ASSERT_EQ(a.size(), b.size()) << path;
        ASSERT_GT(a.size(), 3u) << path;  // a head, two entries or more, a tail
        std::size_t shared = 0;
        for (std::size_t i = 0; i < a.size(); ++i) shared += a[i] == b[i];
        // XML and iCalendar: every piece but the head and the tail. JSON also writes its separators.
        if (std::string_view(path).ends_with(".json"))
            EXPECT_GE(shared, 2u) << path;
        else
            EXPECT_EQ(shared, a.size() - 2) << path;
    }
}

// The daemon keeps rendered entries between builds: whatever it reuses, every document must be the
// bytes a fresh render gives, after an edit of one item, a new fallback date, and in parallel tasks.
TEST(Publisher, KeptEntriesGiveFreshBytes) {
    Fixture f;
    f.site.config.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}},
                           {"blog", "B", "", {"blog"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    FragmentStore store;
    const auto publish = [&](const Site& site, FragmentStore* fragments) {
        std::map<std::string, Document> out;
        PublishControl control;
        control.fragments = fragments;
        publish_site(site, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); }, control);
        return out;
    };
    const auto expect_same = [](const std::map<std::string, Document>& a, const std::map<std::string, Document>& b) {
        ASSERT_EQ(a.size(), b.size());
        for (const auto& [path, doc] : a) EXPECT_EQ(doc.body, b.at(path).body) << path;
    };
    expect_same(publish(f.site, &store), publish(f.site, nullptr));
    EXPECT_GT(store.size(), 0u);
    store.sweep();
    expect_same(publish(f.site, &store), publish(f.site, nullptr));  // every entry from the store
    EXPECT_EQ(store.misses(), 0u);
    EXPECT_GT(store.hits(), 0u);
    store.sweep();

    // An edited item (a new revision) is rendered again; the others are reused.
    Site edited = f.site;
    for (auto& item : edited.items)
        if (item.path == "events/b.md") {
            item.title = "B, moved";
            item.revision += 1;
        }
    const auto after_edit = publish(edited, &store);
    expect_same(after_edit, publish(edited, nullptr));
    EXPECT_NE(after_edit.at("events.rss").body, publish(f.site, nullptr).at("events.rss").body);
    EXPECT_GT(store.hits(), 0u);
    EXPECT_GT(store.misses(), 0u);
    store.sweep();

    // A newer lastmod moves every feed's fallback date (DTSTAMP of undated events): nothing stale.
    Site dated = edited;
    for (auto& item : dated.items)
        if (item.path == "blog/new.md") {
            item.lastmod = at("2024-06-01T00:00Z");
            item.revision += 1;
        }
    expect_same(publish(dated, &store), publish(dated, nullptr));
}

TEST(Publisher, FilteredViewsHaveTheirOwnSelfUrl) {
    Fixture f;
    const FeedConfig feed{"events", "E", "", {"events"}, {FeedFormat::atom}, {}, {}, {}, {}};
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    const FeedView view{std::nullopt, {"a b", "x&y"}, {"meetup"}};
    const auto doc = render_document(f.site, feed, FeedFormat::atom, view, options);
    EXPECT_NE(doc.body.str().find("events.atom?tag=a%20b&amp;tag=x%26y&amp;kind=meetup"), std::string::npos) << doc.body;
    EXPECT_EQ(percent_encode("Area/Loc ü~"), "Area%2FLoc%20%C3%BC~");
}

TEST(Render, NextVisibilityChange) {
    Fixture f;
    const Instant now = at("2024-01-01T00:00Z");
    const auto next = next_visibility_change(f.site, now);
    ASSERT_TRUE(next);
    EXPECT_LT(now, *next);
    // Nothing before it changes what is visible; at it, something does (a publishDate or expiryDate here).
    const FeedConfig all{"all", "A", "", {"events", "blog"}, {FeedFormat::json}, {}, {}, {}, {}};
    EXPECT_EQ(select_items(f.site, all, {}, now).size(), select_items(f.site, all, {}, *next - std::chrono::seconds(1)).size());
    EXPECT_NE(select_items(f.site, all, {}, now).size(), select_items(f.site, all, {}, *next).size());
}

TEST(Render, NextVisibilityChangeAtAWindowEdge) {
    Fixture f;
    FeedConfig soon{"soon", "S", "", {"events"}, {FeedFormat::ics}, {}, {"meetup"}, {}, {}};
    soon.window.future_days = 30;
    f.site.config.feeds = {soon};
    // B starts 2024-03-01 10:00 Berlin (09:00Z): it enters the 30-day window one second after 2024-01-31T09:00Z.
    Instant t = at("2024-01-20T00:00Z");
    std::vector<Instant> changes;
    while (const auto next = next_visibility_change(f.site, t)) {
        if (at("2024-02-01T00:00Z") < *next) break;
        changes.push_back(*next);
        t = *next;
    }
    ASSERT_FALSE(changes.empty());
    EXPECT_EQ(f.titles(soon, {}, "2024-01-31T09:00:00Z"), Titles{});
    EXPECT_EQ(f.titles(soon, {}, "2024-01-31T09:00:01Z"), Titles{"B"});
    EXPECT_NE(std::find(changes.begin(), changes.end(), at("2024-01-31T09:00:01Z")), changes.end());
}

}  // namespace
}  // namespace almanac
