#include "feeds/render.hpp"

#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "feeds/publisher.hpp"

namespace almanac {
namespace {

Instant at(const char* s) { return to_instant(*parse_event_time(s), *find_zone("UTC")); }

// `site` with `edit` applied to a copy of the item of `path` (a site's items are shared and const).
template <class Edit>
Site with_edit(const Site& site, const std::string& path, Edit edit) {
    Site out = site;
    out.items = {};
    for (const auto& item : site.items) {
        Item copy = item;
        if (copy.path == path) edit(copy);
        out.items.push_back(std::move(copy));
    }
    return out;
}

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
}

TEST(SelectItems, ACappedEventFeedKeepsTheNextEventsToCome) {
    Fixture f;
    FeedConfig next{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, 2, {}};
    // Before anything: the two earliest (W's series has begun, B comes next).
    EXPECT_EQ(f.titles(next, {}, "2023-01-01T00:00Z"), (Titles{"W", "B"}));
    // 2024-03-15: B is over; W still runs, A comes next.
    EXPECT_EQ(f.titles(next, {}, "2024-03-15T00:00Z"), (Titles{"W", "A"}));
    // 2024-06-15: only W is still to come; the latest past one (A, then D is newer: D starts 04-01,
    // A 05-01) fills the other place, in start order.
    EXPECT_EQ(f.titles(next, {}, "2024-06-15T00:00Z"), (Titles{"W", "A"}));
    // 2026: all over (D has expired): the latest two.
    EXPECT_EQ(f.titles(next, {}, "2026-01-01T00:00Z"), (Titles{"B", "A"}));
    // The end of B is a moment the selection changes: a rebuild is due then.
    f.site.config.feeds = {next};
    const auto next_change = next_visibility_change(f.site, at("2024-03-01T09:30Z"));
    ASSERT_TRUE(next_change);
    EXPECT_LE(*next_change, at("2024-03-01T10:00Z"));  // B: 10:00-11:00 Berlin = 09:00-10:00Z
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
    EXPECT_EQ(feed_updated(items, Instant{}), at("2024-02-03T04:05:06Z"));
    EXPECT_EQ(feed_updated({}, at("2001-01-01T00:00Z")), at("2001-01-01T00:00Z"));
    // A date still to come is not stated: before New's lastmod, its date is its newest.
    EXPECT_EQ(feed_updated(items, Instant{}, at("2024-01-15T00:00Z")), at("2024-01-01T00:00Z") - std::chrono::hours(1));
}

TEST(SelectItems, APostDatedInTheFutureIsScheduledForItsDate) {
    for (const bool build_future : {false, true}) {
        SCOPED_TRACE(build_future);
        SiteConfig c;
        c.site.base_url = "https://example.org/";
        c.content.build_future = build_future;
        c.content.sections = {{"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
        std::map<std::string, ParsedSource> files;
        for (const auto& [path, text] : std::map<std::string, std::string>{
                 {"blog/now.md", "---\ntitle: Now\ndate: 2026-01-01T00:00:00Z\n---\n"},
                 {"blog/soon.md", "---\ntitle: Soon\ndate: 2030-01-01T14:00:00Z\n---\n"}})
            files[path] = parse_source(SourceFile{path, path, text}, c.content.sections[0], c);
        const Site site = assemble_site(c, files, {});
        const FeedConfig blog{"blog", "B", "", {"blog"}, {FeedFormat::rss}, {}, {}, {}, {}};
        const Instant before = at("2027-01-01T00:00Z");
        const auto items = select_items(site, blog, {}, before);
        if (build_future) {
            // Published at once, as the site asked; its date is stated once it has come.
            ASSERT_EQ(items.size(), 2u);
            EXPECT_EQ(feed_updated(items, Instant{}, before), at("2026-01-01T00:00Z"));
        } else {
            // Not in any feed until its date, which is a moment the daemon rebuilds at; nothing dates
            // the feed from the future meanwhile.
            ASSERT_EQ(items.size(), 1u);
            EXPECT_EQ(items[0]->title, "Now");
            EXPECT_EQ(feed_updated(items, Instant{}, before), at("2026-01-01T00:00Z"));
            EXPECT_EQ(next_visibility_change(site, before), at("2030-01-01T14:00Z"));
            EXPECT_EQ(select_items(site, blog, {}, at("2030-01-01T14:00Z")).size(), 2u);
        }
    }
}

TEST(Publisher, NoDateFromTheFutureInAnyFormat) {
    // An event whose lastmod is still to come: until then no DTSTAMP, LAST-MODIFIED, updated,
    // pubDate, lastBuildDate or date_modified states it; from then on, they do.
    SiteConfig c;
    c.site.base_url = "https://example.org/";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"}};
    c.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    std::map<std::string, ParsedSource> files;
    files["events/e.md"] = parse_source(
        SourceFile{"events/e.md", "events/e.md", "---\ntitle: E\nstart: 2031-05-01T10:00Z\nduration: PT1H\nlastmod: 2030-02-03T04:05:06Z\n---\n"},
        c.content.sections[0], c);
    const Site site = assemble_site(c, files, {});
    for (const auto format : c.feeds[0].formats) {
        const auto text = [&](const char* now) {
            return render_document(site, site.config.feeds[0], format, {}, PublishOptions{at(now), std::nullopt}).body.str();
        };
        const std::string before = text("2029-01-01T00:00Z"), after = text("2030-02-03T04:05:06Z");
        for (const char* stamp : {"20300203T040506Z", "2030-02-03T04:05:06Z", "Sun, 03 Feb 2030 04:05:06"}) {
            EXPECT_EQ(before.find(stamp), std::string::npos) << stamp << "\n"
                                                             << before;
        }
        EXPECT_TRUE(after.find("20300203T040506Z") != std::string::npos || after.find("2030-02-03T04:05:06Z") != std::string::npos ||
                    after.find("Sun, 03 Feb 2030 04:05:06") != std::string::npos)
            << after;
    }
}

TEST(FeedUpdated, NeverOlderThanAnEntryAndNeverFromAnotherFeed) {
    SiteConfig c;
    c.site.base_url = "https://example.org/";
    c.site.id_date = "2019-06";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"}, {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    std::map<std::string, ParsedSource> files;
    const auto add = [&](const std::string& path, const std::string& text) {
        files[path] = parse_source(SourceFile{path, path, text}, *find_section(c, path.substr(0, path.find('/'))), c);
    };
    // lastmod before date: the entry is updated at its date, and so is the feed.
    add("blog/a.md", "---\ntitle: A\ndate: 2025-01-02T00:00:00Z\nlastmod: 2024-12-01T00:00:00Z\n---\n");
    add("events/e.md", "---\ntitle: E\nstart: 2025-03-01T10:00Z\nduration: PT1H\n---\n");
    const Site site = assemble_site(c, files, {});
    const auto posts = select_items(site, FeedConfig{"blog", "B", "", {"blog"}, {}, {}, {}, {}, {}}, {}, at("2026-01-01T00:00Z"));
    EXPECT_EQ(feed_updated(posts, Instant{}), at("2025-01-02T00:00Z"));
    // An events feed without any dated event is dated by site.id_date, not by the blog.
    const auto events = select_items(site, FeedConfig{"events", "E", "", {"events"}, {}, {}, {}, {}, {}}, {}, at("2026-01-01T00:00Z"));
    EXPECT_EQ(feed_updated(events, undated_feed_date(c, std::nullopt)), at("2019-06-01T00:00Z"));
    EXPECT_EQ(undated_feed_date(c, at("2023-03-03T00:00Z")), at("2023-03-03T00:00Z"));  // SOURCE_DATE_EPOCH first
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
    // Pinned: the file names of a site's event documents never change between versions.
    EXPECT_EQ(event_slug("events/000/event-000001@bench.example.org"), "events-000-event-000001@bench.example.org-d0ab0418");
    EXPECT_NE(event_slug("a/b"), event_slug("a b"));
    EXPECT_NE(event_slug("a/b"), event_slug("a-b"));
    for (const std::string& uid : std::vector<std::string>{".", "..", "/", "ü", "a?b", std::string(255, 'x'), "%2e"}) {
        const auto slug = event_slug(uid);
        EXPECT_FALSE(slug.empty() || slug == "." || slug == "..") << uid;
        EXPECT_LE(slug.size(), 129u) << uid;
        EXPECT_EQ(slug.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~@"),
                  std::string::npos)
            << uid;
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
    for (const std::optional<Zone>& zone : {std::optional<Zone>(), std::optional<Zone>(*find_zone("Asia/Tokyo"))}) {
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
            if (std::string(path) == "events/weekly.md") {
                EXPECT_NE(ics.find("RRULE:FREQ=WEEKLY;COUNT=100"), std::string::npos);
            }
            // With the zones it uses; without the calendar's name and refresh interval.
            if (std::string(path) == "events/b.md") {
                EXPECT_NE(ics.find(zone ? "BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo" : "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"), std::string::npos);
            }
            for (const char* absent : {"X-WR-CALNAME", "\r\nNAME:", "REFRESH-INTERVAL", "X-PUBLISHED-TTL", "Described"})
                EXPECT_EQ(ics.find(absent), std::string::npos) << absent;
            EXPECT_NE(ics.find("URL:" + event_url(f.site.config, feed, slug(path), zone).substr(0, 60)), std::string::npos);
            // Its first lines exactly as libical wrote them (they are written without it now): the
            // URL line folded at 75 octets, then the view's zone.
            std::string url_line = "URL:" + event_url(f.site.config, feed, slug(path), zone);
            std::string folded = url_line.substr(0, 75) + "\r\n";
            for (std::size_t at = 75; at < url_line.size(); at += 74) folded += " " + url_line.substr(at, 74) + "\r\n";
            const std::string start =
                "BEGIN:VCALENDAR\r\nPRODID:-//almanac//almanac//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\n"
                "METHOD:PUBLISH\r\n" +
                folded + (zone ? "X-WR-TIMEZONE:Asia/Tokyo\r\n" : "") + "BEGIN:V";  // a VTIMEZONE, or the VEVENT of an event in UTC
            EXPECT_EQ(ics.substr(0, start.size()), start);
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
    publish_site(
        f.site, options, [&](std::string path, Document doc) { built.emplace(std::move(path), std::move(doc)); }, control);
    EXPECT_EQ(built.size(), 10u + 4u);  // 3 formats × 3 views, the index page, and the 4 visible events
    for (const char* path : {"events/a.md", "events/b.md", "events/d.md", "events/weekly.md"}) {
        const auto key = "events/" + slug(path) + ".ics";
        ASSERT_TRUE(built.contains(key)) << key;
        EXPECT_EQ(built.at(key).body, render_event_document(f.site, feed, slug(path), std::nullopt, options)->body);
    }
    EXPECT_EQ(publish_site(f.site, options).size(), 10u);  // not without control.events
}

// A DocumentOutput that keeps what is written to it, for the streamed documents' tests.
class StringOutput final : public DocumentOutput {
public:
    StringOutput(std::map<std::string, std::string>& documents, std::string path)
        : documents_(documents), path_(std::move(path)) {}
    void write(std::string_view bytes) override { bytes_ += bytes; }
    void close() override { EXPECT_TRUE(documents_.emplace(path_, std::move(bytes_)).second) << path_; }

private:
    std::map<std::string, std::string>& documents_;
    std::string path_;
    std::string bytes_;
};

TEST(Publisher, StreamedDocumentsAreTheDocuments) {
    Fixture f;
    // Bodies that each format escapes (written apart from each view's entry when streamed), one of
    // them not valid UTF-8.
    f.site = with_edit(f.site, "events/b.md", [](Item& item) {
        item.html = "<p>Tom &amp; \"Jerry\" — ‘quoted’, \\ \x01 </content>" + std::string(300, 'x') + "</p>\n";
        item.text = "Tom & \"Jerry\"";
    });
    f.site = with_edit(f.site, "events/a.md", [](Item& item) { item.html = "<p>bad \xff byte</p>"; });
    f.site.config.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}},
                           {"blog", "B", "", {"blog"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}},
                           {"none", "N", "", {"pages"}, {FeedFormat::ics, FeedFormat::json}, {}, {}, {}, {}}};
    // As it is (b, a single timed event, has its own document written by the calendar's pass), and
    // with b an event of several VEVENTs (RDATEs without a rule), which a streamed calendar writes apart.
    const Site with_rdates = with_edit(f.site, "events/b.md", [](Item& item) {
        item.event->rdates = {*parse_event_time("2024-07-02T09:00"), *parse_event_time("2023-12-24T18:00")};
    });
    for (const Site* site : {static_cast<const Site*>(&f.site), &with_rdates}) {
        const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
        PublishControl control;
        control.events = true;
        std::map<std::string, Document> whole;
        publish_site(
            *site, options, [&](std::string path, Document doc) { whole.emplace(std::move(path), std::move(doc)); }, control);
        std::map<std::string, std::string> streamed;
        control.open = [&](const std::string& path) { return std::make_unique<StringOutput>(streamed, path); };
        publish_site(
            *site, options, [](std::string, Document) { ADD_FAILURE() << "not streamed"; }, control);
        ASSERT_EQ(streamed.size(), whole.size());
        for (const auto& [path, doc] : whole) {
            SCOPED_TRACE(path);
            ASSERT_TRUE(streamed.contains(path));
            EXPECT_EQ(doc.body, streamed.at(path));
        }
        EXPECT_EQ(streamed.at("events.ics").find("-rdate-20240702T090000") != std::string::npos, site == &with_rdates);
    }
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
    // A feed without any dated item is dated by site.id_date (default 2026), whatever the other
    // sections' dates (the blog's 2024-02-03 here) or a publishDate elsewhere in the site; the
    // SOURCE_DATE_EPOCH comes first.
    const FeedConfig meetups{"m", "M", "", {"events"}, {FeedFormat::ics}, {}, {"meetup"}, {}, {}};
    const auto dtstamp = [&](const PublishOptions& o) {
        const std::string ics = render_document(f.site, meetups, FeedFormat::ics, {}, o).body.str();
        return ics.substr(ics.find("DTSTAMP:"), 24);
    };
    EXPECT_EQ(dtstamp(options), "DTSTAMP:20260101T000000Z");
    EXPECT_EQ(dtstamp(PublishOptions{at("2024-05-01T00:00Z"), std::nullopt}), "DTSTAMP:20260101T000000Z");
    EXPECT_EQ(dtstamp(PublishOptions{options.now, at("2023-01-02T03:04:05Z")}), "DTSTAMP:20230102T030405Z");
    EXPECT_EQ(strong_etag("abc"), "\"c2406917ed28dc80-3\"");  // feeds/rope_test.cpp says how
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
        publish_site(
            f.site, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); }, control);
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
        // Every piece: the entries are the kept ones, and the head, the tail and JSON's separators
        // are the same text at the same place as in the previous document, so its pieces. The
        // documents are then the same runs (feeds/rope.hpp).
        EXPECT_EQ(shared, a.size()) << path;
        EXPECT_EQ(first.at(path).body.blocks(), second.at(path).body.blocks()) << path;
    }
}

// An event's entry is rendered once per zone view (its "When:" line), but its body is the same in
// each: one piece, shared by the views' documents. The pieces are cut alike with or without a kept
// cache, so `almanac build` and `serve` give every document the same ETag.
TEST(Publisher, ZoneViewsShareEventBodies) {
    Fixture f;
    std::string body;
    for (int i = 0; i < 40; ++i) body += "Line " + std::to_string(i) + " of <the> \"agenda\" & caf\u00e9 \u2014 \U0001F600.\n";
    std::map<std::string, ParsedSource> files;
    const auto add = [&](const std::string& path, const std::string& text) {
        files[path] = parse_source(SourceFile{path, path, text}, *find_section(f.site.config, "events"), f.site.config);
        ASSERT_FALSE(has_errors(files[path].diagnostics)) << path;
    };
    add("events/long.md", "---\ntitle: Long\nstart: 2024-07-01T10:00\nduration: PT1H\ntimezone: Europe/Paris\n---\n" + body);
    add("events/short.md", "---\ntitle: Short\nstart: 2024-07-02T10:00\nduration: PT1H\n---\nbrief\n");
    SiteConfig c = f.site.config;
    c.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    const Site site = assemble_site(c, files, {});
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    FragmentStore store;
    PublishControl control;
    control.fragments = &store;
    std::map<std::string, Document> kept;
    publish_site(
        site, options, [&](std::string path, Document doc) { kept.emplace(std::move(path), std::move(doc)); }, control);
    const auto fresh = publish_site(site, options);
    ASSERT_EQ(kept.size(), fresh.size());
    for (const auto& [path, doc] : fresh) {
        EXPECT_EQ(kept.at(path).body, doc.body) << path;
        EXPECT_EQ(kept.at(path).etag, doc.etag) << path;
    }
    for (const char* extension : {"rss", "atom", "json"}) {
        std::set<const PieceText*> bodies;
        for (const char* view : {"", "tz/UTC/", "tz/Asia/Tokyo/"}) {
            const auto& doc = kept.at(std::string(view) + "events." + extension);
            for (const auto& piece : doc.body.pieces())
                if (piece->str().find("Line 39 of") != std::string::npos) {
                    EXPECT_EQ(piece->str().find("When:"), std::string::npos) << view << extension;
                    bodies.insert(piece.get());
                }
        }
        EXPECT_EQ(bodies.size(), 1u) << extension;  // one piece in all three views
    }
    // iCalendar: the VEVENT's lines from SUMMARY on, after the times that differ between views.
    std::set<const PieceText*> tails;
    std::set<std::string> heads;
    for (const char* view : {"", "tz/UTC/", "tz/Asia/Tokyo/"})
        for (const auto& piece : kept.at(std::string(view) + "events.ics").body.pieces()) {
            if (piece->str().starts_with("SUMMARY:Long\r\n")) tails.insert(piece.get());
            if (piece->str().find("UID:") != std::string::npos && piece->str().ends_with("\r\n") &&
                piece->str().find("DTSTART") != std::string::npos && piece->str().find("Long") == std::string::npos)
                heads.insert(piece->str());
        }
    EXPECT_EQ(tails.size(), 1u);
    EXPECT_GE(heads.size(), 3u);  // the times differ in each view
}

// Every document publish_site gives for `site`, keeping entries in `fragments` (null: none).
std::map<std::string, Document> published(const Site& site, const PublishOptions& options, FragmentStore* fragments,
                                          bool index = true) {
    std::map<std::string, Document> out;
    PublishControl control;
    control.fragments = fragments;
    control.index = index;
    publish_site(
        site, options, [&](std::string path, Document doc) { out.emplace(std::move(path), std::move(doc)); }, control);
    return out;
}

// The daemon keeps rendered entries between builds: whatever it reuses, every document must be the
// bytes a fresh render gives, after an edit of one item, a new fallback date, and in parallel tasks.
TEST(Publisher, KeptEntriesGiveFreshBytes) {
    Fixture f;
    f.site.config.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}},
                           {"blog", "B", "", {"blog"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    FragmentStore store;
    const auto publish = [&](const Site& site, FragmentStore* fragments) { return published(site, options, fragments); };
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
    const Site edited = with_edit(f.site, "events/b.md", [](Item& item) {
        item.title = "B, moved";
        item.revision += 1;
    });
    const auto after_edit = publish(edited, &store);
    expect_same(after_edit, publish(edited, nullptr));
    EXPECT_NE(after_edit.at("events.rss").body, publish(f.site, nullptr).at("events.rss").body);
    EXPECT_GT(store.hits(), 0u);
    EXPECT_GT(store.misses(), 0u);
    store.sweep();

    // A newer lastmod moves every feed's fallback date (DTSTAMP of undated events): nothing stale.
    const Site dated = with_edit(edited, "blog/new.md", [](Item& item) {
        item.lastmod = at("2024-06-01T00:00Z");
        item.revision += 1;
    });
    expect_same(publish(dated, &store), publish(dated, nullptr));
}

// The daemon's items have serials, and a document whose entries changed at a few places is patched
// from the one before (FragmentCache::changed_entries) rather than rendered whole. Whatever the edit
// (a title, a body that no longer gets a piece of its own, a start that moves an event, a new zone, a
// date that moves the feed's, an item added or removed), every document keeps the bytes and the ETag
// of a fresh render, and most one-file edits are patches.
TEST(Publisher, PatchedDocumentsAreFreshRenders) {
    SiteConfig c;
    c.site.base_url = "https://example.org/";
    c.site.timezone = "Europe/Berlin";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    c.timezones.prerender = {"UTC", "Asia/Tokyo"};
    c.feeds = {{"events", "E", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}},
               {"blog", "B", "", {"blog"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    std::uint64_t serial = 0;
    std::map<std::string, std::string> texts;
    for (int i = 0; i < 60; ++i) {
        const std::string n = std::to_string(i);
        const std::string body = i % 3 ? std::string(i % 2 ? 400 : 40, 'b') + n : "Short " + n;
        const char* start[] = {"2024-05-01", "2024-03-01T10:00", "2024-07-01T18:00\ntimezone: America/New_York"};
        texts["events/e" + n + ".md"] = "---\ntitle: E" + n + "\nstart: " + start[i % 3] + "\nduration: " + (i % 3 ? "PT1H" : "P1D") + "\n" +
                                        (i % 7 == 0 ? "rrule: FREQ=WEEKLY;COUNT=5\n" : "") + "---\n" + body + "\n";
        texts["blog/p" + n + ".md"] = "---\ntitle: P" + n + "\ndate: 2023-01-" + (i % 28 < 9 ? "0" : "") + std::to_string(i % 28 + 1) +
                                      "\n---\n" + body + "\n";
    }
    std::map<std::string, ParsedSource> files;
    const auto parse = [&](const std::string& path) {
        const auto section = path.substr(0, path.find('/'));
        auto parsed = parse_source(SourceFile{path, path, texts.at(path)}, *find_section(c, section), c);
        ASSERT_FALSE(has_errors(parsed.diagnostics)) << path << "\n"
                                                     << texts.at(path);
        for (auto& item : parsed.items) item.serial = ++serial;
        files[path] = std::move(parsed);
    };
    for (const auto& [path, text] : texts) parse(path);
    const PublishOptions options{at("2024-06-15T00:00Z"), std::nullopt};
    FragmentStore store;
    const auto publish = [&](const Site& site, FragmentStore* fragments) { return published(site, options, fragments, false); };
    std::size_t patched = 0;
    std::uint64_t seed = 99;
    const auto next = [&](std::size_t n) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::size_t>((seed >> 33) % n);
    };
    const auto replace = [&](const std::string& path, const std::string& from, const std::string& to) {
        std::string& text = texts.at(path);
        const auto at = text.find(from);
        if (at != std::string::npos) text.replace(at, from.size(), to);
    };
    for (int round = 0; round < 80; ++round) {
        const Site site = assemble_site(c, files, {});
        const auto kept = publish(site, &store);
        const auto fresh = publish(site, nullptr);
        ASSERT_EQ(kept.size(), fresh.size());
        for (const auto& [path, doc] : fresh) {
            EXPECT_EQ(kept.at(path).body, doc.body) << path << " round " << round;
            EXPECT_EQ(kept.at(path).etag, doc.etag) << path << " round " << round;
        }
        patched += store.patched();
        store.sweep();
        // The next edit: mostly one title, else something that moves, grows or dates a document.
        const std::string n = std::to_string(next(60));
        const std::string event = "events/e" + n + ".md", post = "blog/p" + n + ".md";
        switch (round % 10 < 6 ? 0 : next(6)) {
            case 0: replace(next(2) ? event : post, "\ntitle: ", "\ntitle: Edited "); break;
            case 1:
                replace(event, std::string(40, 'b'), std::string(300, 'c'));
                replace(event, std::string(400, 'b'), "tiny");
                break;
            case 2: replace(event, "start: 2024-", "start: 2023-"); break;
            case 3: replace(event, "duration: PT1H", "timezone: Asia/Kolkata\nduration: PT1H"); break;
            case 4: replace(post, "\n---\n", "\nlastmod: 2024-06-01\n---\n"); break;
            default:
                if (files.erase(event) == 0) parse(event);
                continue;
        }
        if (files.contains(event)) parse(event);
        parse(post);
    }
    // Every feed is published each round here (the daemon reuses the unchanged ones): most of the
    // 21 documents of each round after the first are patches.
    EXPECT_GT(patched, 79u * 21 * 3 / 4) << patched;
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

// An edit swaps one file's items into the site; until the next visibility change, each feed's
// selection is the previous one with the edited item in the old one's place, when both are placed
// alike. Whatever the edit and the feed (capped, windowed, filtered, posts), a patched selection is
// select_items' own, and an edit that leaves the placement alone (a title) is always patched.
TEST(SelectItems, ReselectIsSelectWhereItAnswers) {
    Fixture f;
    std::vector<FeedConfig> feeds{{"events", "E", "", {"events"}, {FeedFormat::ics}, {}, {}, {}, {}},
                                  {"blog", "B", "", {"blog"}, {FeedFormat::rss}, {}, {}, {}, {}},
                                  {"tagged", "T", "", {"events", "blog"}, {FeedFormat::rss}, {"x"}, {}, {}, {}}};
    FeedConfig capped = feeds[0];
    capped.name = "capped";
    capped.limit = 2;
    FeedConfig windowed = feeds[0];
    windowed.name = "windowed";
    windowed.window.past_days = 10;
    windowed.window.future_days = 60;
    FeedConfig latest = feeds[1];
    latest.name = "latest";
    latest.limit = 2;
    feeds.insert(feeds.end(), {capped, windowed, latest});
    f.site.config.feeds = feeds;
    using Edit = std::function<void(Item&)>;
    const std::vector<std::pair<std::string, Edit>> edits{
        {"title", [](Item& i) { i.title += " (edited)"; }},
        {"tags", [](Item& i) { i.tags = {"x"}; }},
        {"start", [](Item& i) {
             if (!i.event) {
                 i.date = at("2024-06-20T10:00Z");
             } else if (std::holds_alternative<CivilDate>(i.event->start)) {  // all-day: the same kind of time
                 i.event->start = *parse_event_time("2024-06-20");
                 i.event->end = *parse_event_time("2024-06-21");
             } else {
                 i.event->start = *parse_event_time("2024-06-20T10:00");
                 i.event->end = *parse_event_time("2024-06-20T11:00");
             }
         }},
        {"draft", [](Item& i) { i.draft = true; }},
        {"lastmod", [](Item& i) { i.lastmod = at("2024-06-10T00:00Z"); }},
    };
    std::size_t patched = 0, titles = 0;
    for (const char* then : {"2024-02-01T00:00Z", "2024-06-15T00:00Z"}) {
        const Instant t0 = at(then);
        const Instant t1 = std::min(t0 + date::days{1}, next_visibility_change(f.site, t0).value_or(Instant::max()) - std::chrono::seconds(1));
        for (const auto& feed : feeds) {
            const auto before = select_items(f.site, feed, {}, t0);
            for (std::size_t at_item = 0; at_item < f.site.items.size(); ++at_item) {
                for (const auto& [name, edit] : edits) {
                    Site after = f.site;
                    Item edited = f.site.items[at_item];
                    edit(edited);
                    after.items.replace(at_item, std::make_shared<const Item>(std::move(edited)));
                    const auto reselected = reselect_items(before, f.site, after, {at_item}, feed, {}, t1);
                    if (name == "title") {
                        ++titles;
                        EXPECT_TRUE(reselected) << feed.name << " " << f.site.items[at_item].path;
                    }
                    if (!reselected) continue;
                    ++patched;
                    EXPECT_EQ(*reselected, select_items(after, feed, {}, t1))
                        << feed.name << " " << name << " " << f.site.items[at_item].path << " at " << then;
                }
            }
        }
    }
    EXPECT_GT(patched, titles);  // more than the titles: edits that leave an item out of a feed too
    // Sites of different sizes are never patched.
    Site fewer = f.site;
    fewer.items = {};
    EXPECT_FALSE(reselect_items({}, f.site, fewer, {}, feeds[0], {}, at("2024-06-15T00:00Z")));
}

TEST(Render, NextVisibilityChange) {
    Fixture f;
    const Instant now = at("2024-01-01T00:00Z");
    const auto next = next_visibility_change(f.site, now);
    ASSERT_TRUE(next);
    EXPECT_LT(now, *next);
    // Nothing before it changes what the feed says; at it, something does: here New's lastmod comes,
    // which moves the feed's date (then D's publishDate changes the selection).
    const FeedConfig all{"all", "A", "", {"events", "blog"}, {FeedFormat::json}, {}, {}, {}, {}};
    const auto says = [&](Instant t) {
        const auto items = select_items(f.site, all, {}, t);
        return std::make_pair(items.size(), feed_updated(items, Instant{}, t));
    };
    EXPECT_EQ(*next, at("2024-02-03T04:05:06Z"));
    EXPECT_EQ(says(now), says(*next - std::chrono::seconds(1)));
    EXPECT_NE(says(now), says(*next));
    const auto then = next_visibility_change(f.site, *next);
    ASSERT_TRUE(then);
    EXPECT_NE(says(*next).first, says(*then).first);  // D appears (and dates the feed)
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
