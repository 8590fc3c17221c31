#include "feeds/syndication.hpp"
#include "feeds/publisher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "feeds/event_text.hpp"
#include "tests/feeds/time_helpers.hpp"

namespace almanac {
namespace {

using namespace almanac::test;

namespace fs = std::filesystem;

// ---- fixtures ----------------------------------------------------------------------------------

SiteConfig small_config() {
    SiteConfig c;
    c.site.title = "Example & Co";
    c.site.base_url = "https://example.org/";
    c.site.timezone = "Europe/Berlin";
    c.site.language = "en";
    c.site.author = "Example Editors";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    c.feeds = {{"blog", "Example blog", "Posts from the example site", {"blog"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}},
               {"events", "Example events", "", {"events"}, {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    return c;
}

const std::map<std::string, std::string>& small_sources() {
    static const std::map<std::string, std::string> sources = {
        {"blog/hello.md",
         "---\ntitle: \"Hello & <welcome>\"\ndate: 2024-05-02T10:00:00Z\nlastmod: 2024-05-03T08:00:00Z\n"
         "authors: [Ann Example, Bob Example]\ntags: [news, meta]\nsummary: \"A first post.\"\n---\n"
         "Some *text* with a [link](/about/).\n"},
        {"blog/older.md", "---\ntitle: Older\ndate: 2024-01-15\n---\nOlder body.\n"},
        {"events/latam.md",
         "---\ntitle: \"OSPOlogyLive LATAM 2025\"\nstart: 2025-06-12T10:00\nend: 2025-06-12T17:00\n"
         "timezone: America/Bogota\nlocation: \"Bogotá, Colombia\"\nurl: https://events.example.com/latam/\n"
         "online: https://meet.example.com/latam\nkind: conference\ntags: [ospologylive, latam]\n"
         "status: cancelled\nlastmod: 2025-05-20T15:00:00Z\n---\n"
         "This event has been cancelled.\n"},
        {"events/sync.md",
         "---\ntitle: Sync call\nstart: 2025-07-01T09:00\nduration: PT1H\nstatus: tentative\nkind: call\n"
         "tags: [call]\npublishDate: 2025-06-01T00:00:00Z\n---\nA call.\n"},
    };
    return sources;
}

// A site from `sources` (path → file text) parsed by the real content parser.
Site make_site(const SiteConfig& config, const std::map<std::string, std::string>& sources) {
    std::map<std::string, ParsedSource> parsed;
    for (const auto& [path, text] : sources) {
        const SectionConfig* section = find_section(config, path.substr(0, path.find('/')));
        parsed[path] = parse_source(SourceFile{path, "content/" + path, text}, *section, config);
        EXPECT_FALSE(has_errors(parsed[path].diagnostics)) << path << ": " << format_json(parsed[path].diagnostics);
    }
    return assemble_site(config, parsed, {});
}

const Site& small_site() {
    static const Site site = make_site(small_config(), small_sources());
    return site;
}


const FeedConfig& feed_named(const Site& site, const std::string& name) {
    return *std::find_if(site.config.feeds.begin(), site.config.feeds.end(), [&](const FeedConfig& f) { return f.name == name; });
}

RenderRequest request_for(const Site& site, const FeedConfig& feed, FeedFormat format, std::optional<Zone> zone = {}) {
    RenderRequest r;
    r.site = &site;
    r.feed = &feed;
    r.view.zone = zone;
    r.items = select_items(site, feed, r.view, utc("2026-01-01T00:00:00Z"));
    r.self_url = feed_url(site.config, feed, format, zone);
    r.updated = utc("2025-06-30T12:00:00Z");
    return r;
}

// The text between the first `open` at or after `from` and the next `close`.
std::string between(const std::string& doc, const std::string& open, const std::string& close, std::size_t from = 0) {
    const auto b = doc.find(open, from);
    if (b == std::string::npos) return "";
    const auto e = doc.find(close, b + open.size());
    return e == std::string::npos ? "" : doc.substr(b + open.size(), e - b - open.size());
}


std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- RSS ---------------------------------------------------------------------------------------

TEST(Rss, ChannelAndPostItem) {
    const Site& site = small_site();
    const std::string rss = render_rss(request_for(site, feed_named(site, "blog"), FeedFormat::rss)).str();
    EXPECT_TRUE(rss.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\""));
    EXPECT_NE(rss.find("  <channel>\n    <title>Example blog</title>\n    <link>https://example.org/</link>\n"
                       "    <description>Posts from the example site</description>\n    <language>en</language>\n"
                       "    <pubDate>Mon, 30 Jun 2025 12:00:00 GMT</pubDate>\n"
                       "    <lastBuildDate>Mon, 30 Jun 2025 12:00:00 GMT</lastBuildDate>\n"),
              std::string::npos)
        << rss;
    EXPECT_NE(rss.find(R"(<atom:link href="https://example.org/blog.rss" rel="self" type="application/rss+xml"/>)"), std::string::npos);

    const std::string item = between(rss, "<item>", "</item>");
    EXPECT_NE(item.find("<title>Hello &amp; &lt;welcome&gt;</title>"), std::string::npos) << item;
    EXPECT_NE(item.find("<link>https://example.org/blog/hello/</link>"), std::string::npos) << item;
    EXPECT_NE(item.find("<description>A first post.</description>"), std::string::npos) << item;
    // The HTML body, escaped once, links absolute.
    EXPECT_NE(item.find("<content:encoded>&lt;p&gt;Some &lt;em&gt;text&lt;/em&gt; with a &lt;a href=&quot;https://example.org/about/&quot;"),
              std::string::npos)
        << item;
    EXPECT_NE(item.find("<dc:creator>Ann Example</dc:creator>\n      <dc:creator>Bob Example</dc:creator>"), std::string::npos);
    EXPECT_NE(item.find("<category>news</category>\n      <category>meta</category>"), std::string::npos);
    EXPECT_NE(item.find("<guid isPermaLink=\"false\">tag:example.org,2026:blog/hello@example.org</guid>"), std::string::npos) << item;
    EXPECT_NE(item.find("<pubDate>Thu, 02 May 2024 10:00:00 GMT</pubDate>"), std::string::npos) << item;
    // Newest first, as given.
    EXPECT_LT(rss.find("<title>Hello"), rss.find("<title>Older</title>"));
}

TEST(Rss, CancelledEventItem) {
    const Site& site = small_site();
    const std::string rss = render_rss(request_for(site, feed_named(site, "events"), FeedFormat::rss, zone("Asia/Tokyo"))).str();
    const std::string item = between(rss, "<item>", "</item>");
    EXPECT_NE(item.find("<title>Cancelled: OSPOlogyLive LATAM 2025</title>"), std::string::npos) << item;
    EXPECT_NE(item.find("<description>&lt;p&gt;Status: cancelled&lt;br&gt;\nWhen: Fri 13 Jun 2025, 00:00"), std::string::npos) << item;
    // Events have no date: publishDate, else lastmod, else the document's updated.
    EXPECT_NE(item.find("<pubDate>Tue, 20 May 2025 15:00:00 GMT</pubDate>"), std::string::npos) << item;
    EXPECT_NE(item.find("<category>conference</category>"), std::string::npos);
}

// ---- Atom --------------------------------------------------------------------------------------

TEST(Atom, FeedHeadAndPostEntry) {
    const Site& site = small_site();
    const std::string atom = render_atom(request_for(site, feed_named(site, "blog"), FeedFormat::atom)).str();
    EXPECT_NE(atom.find("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n"
                        "  <id>tag:example.org,2026:blog.atom</id>\n"
                        "  <title type=\"text\">Example blog</title>\n"
                        "  <subtitle type=\"text\">Posts from the example site</subtitle>\n"
                        "  <updated>2025-06-30T12:00:00Z</updated>\n"
                        "  <author>\n    <name>Example Editors</name>\n  </author>\n"
                        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"https://example.org/blog.atom\"/>\n"
                        "  <link rel=\"alternate\" type=\"text/html\" href=\"https://example.org/\"/>\n"),
              std::string::npos)
        << atom;
    const std::string entry = between(atom, "<entry>", "</entry>");
    EXPECT_NE(entry.find("<id>tag:example.org,2026:blog/hello@example.org</id>"), std::string::npos) << entry;
    EXPECT_NE(entry.find("<updated>2024-05-03T08:00:00Z</updated>\n    <published>2024-05-02T10:00:00Z</published>"), std::string::npos);
    EXPECT_NE(entry.find("<author>\n      <name>Ann Example</name>\n    </author>"), std::string::npos);
    EXPECT_NE(entry.find(R"(<link rel="alternate" type="text/html" href="https://example.org/blog/hello/"/>)"), std::string::npos);
    EXPECT_NE(entry.find(R"(<category term="news"/>)"), std::string::npos);
    EXPECT_NE(entry.find(R"(<summary type="text">A first post.</summary>)"), std::string::npos);
    EXPECT_NE(entry.find(R"(<content type="html">&lt;p&gt;Some &lt;em&gt;)"), std::string::npos) << entry;
}

TEST(Atom, FeedAuthorFallsBackToSiteTitle) {
    SiteConfig config = small_config();
    config.site.author.clear();
    const Site site = make_site(config, small_sources());
    const std::string atom = render_atom(request_for(site, feed_named(site, "events"), FeedFormat::atom)).str();
    EXPECT_NE(atom.find("<author>\n    <name>Example &amp; Co</name>\n  </author>"), std::string::npos) << atom;
    EXPECT_EQ(atom.find("<subtitle"), std::string::npos);  // the feed has no description
}

TEST(Atom, EventEntryInZoneView) {
    const Site& site = small_site();
    const std::string atom = render_atom(request_for(site, feed_named(site, "events"), FeedFormat::atom, zone("Asia/Tokyo"))).str();
    EXPECT_NE(atom.find("<id>tag:example.org,2026:tz/Asia/Tokyo/events.atom</id>"), std::string::npos);
    const std::string entry = between(atom, "<entry>", "</entry>");
    EXPECT_NE(entry.find("<title type=\"text\">Cancelled: OSPOlogyLive LATAM 2025</title>"), std::string::npos) << entry;
    EXPECT_NE(entry.find("<updated>2025-05-20T15:00:00Z</updated>\n    <published>2025-05-20T15:00:00Z</published>"), std::string::npos);
    EXPECT_NE(entry.find(R"(<link rel="related" type="text/html" href="https://events.example.com/latam/"/>)"), std::string::npos);
    EXPECT_NE(entry.find("<category term=\"conference\"/>\n    <category term=\"ospologylive\"/>\n    <category term=\"latam\"/>"),
              std::string::npos);
    // 10:00 in Bogotá (UTC-5) is 00:00 the next day in Tokyo; the event's own zone is named too.
    const std::string summary = between(entry, "<summary type=\"text\">", "</summary>");
    EXPECT_TRUE(summary.starts_with("Status: cancelled\nWhen: Fri 13 Jun 2025, 00:00")) << summary;
    EXPECT_NE(summary.find("America/Bogota: Thu 12 Jun 2025, 10:00"), std::string::npos) << summary;
    EXPECT_NE(summary.find("\nWhere: Bogotá, Colombia\nOnline: https://meet.example.com/latam\n"
                           "Event page: https://events.example.com/latam/\n\nThis event has been cancelled."),
              std::string::npos)
        << summary;
    const std::string content = between(entry, "<content type=\"html\">", "</content>");
    EXPECT_TRUE(content.starts_with("&lt;p&gt;Status: cancelled&lt;br&gt;\nWhen: ")) << content;
    EXPECT_NE(content.find("Online: &lt;a href=&quot;https://meet.example.com/latam&quot;&gt;"), std::string::npos) << content;
    EXPECT_NE(content.find("&lt;/p&gt;\n&lt;p&gt;This event has been cancelled.&lt;/p&gt;"), std::string::npos) << content;
}

TEST(Atom, TentativeEventIsMarkedInTextNotTitle) {
    const Site& site = small_site();
    const std::string atom = render_atom(request_for(site, feed_named(site, "events"), FeedFormat::atom)).str();
    const std::string entry = between(atom, "<entry>", "</entry>", atom.find("<entry>") + 1);
    EXPECT_NE(entry.find("<title type=\"text\">Sync call</title>"), std::string::npos) << entry;
    EXPECT_NE(entry.find("Status: tentative (not yet confirmed)\nWhen: Tue 1 Jul 2025, 09:00–10:00 CEST (UTC+02:00)\n\nA call."), std::string::npos) << entry;
    // In the site zone (the default view) the event's zone is the view's: no second zone.
    EXPECT_EQ(entry.find("(Europe/Berlin:"), std::string::npos) << entry;
    EXPECT_NE(entry.find("<published>2025-06-01T00:00:00Z</published>"), std::string::npos);
}

// ---- JSON Feed ---------------------------------------------------------------------------------

TEST(JsonFeed, Structure) {
    const Site& site = small_site();
    const std::string text = render_json_feed(request_for(site, feed_named(site, "events"), FeedFormat::json, zone("Asia/Tokyo"))).str();
    const auto doc = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& [key, value] : doc.items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"version", "title", "home_page_url", "feed_url", "language", "authors", "items"}));
    EXPECT_EQ(doc["version"], "https://jsonfeed.org/version/1.1");
    EXPECT_EQ(doc["feed_url"], "https://example.org/tz/Asia/Tokyo/events.json");
    EXPECT_EQ(doc["authors"][0]["name"], "Example Editors");
    ASSERT_EQ(doc["items"].size(), 2u);
    const auto& event = doc["items"][0];
    EXPECT_EQ(event["id"], "tag:example.org,2026:events/latam@example.org");
    EXPECT_EQ(event["url"], "https://example.org/events/latam/");
    EXPECT_EQ(event["external_url"], "https://events.example.com/latam/");
    EXPECT_EQ(event["title"], "Cancelled: OSPOlogyLive LATAM 2025");
    EXPECT_TRUE(event["summary"].get<std::string>().starts_with("Status: cancelled\nWhen: Fri 13 Jun 2025, 00:00"));
    EXPECT_TRUE(event["content_html"].get<std::string>().starts_with("<p>Status: cancelled<br>\nWhen: Fri 13 Jun 2025, 00:00"));
    EXPECT_EQ(event["date_published"], "2025-05-20T15:00:00Z");
    EXPECT_EQ(event["date_modified"], "2025-05-20T15:00:00Z");
    EXPECT_EQ(event["tags"], (nlohmann::ordered_json{"conference", "ospologylive", "latam"}));
    EXPECT_FALSE(event.contains("authors"));  // the feed's authors apply
    EXPECT_TRUE(text.ends_with("}\n"));
}

TEST(JsonFeed, PostItem) {
    const Site& site = small_site();
    const auto doc = nlohmann::json::parse(render_json_feed(request_for(site, feed_named(site, "blog"), FeedFormat::json)).str());
    const auto& post = doc["items"][0];
    EXPECT_EQ(post["title"], "Hello & <welcome>");
    EXPECT_EQ(post["summary"], "A first post.");
    EXPECT_EQ(post["date_published"], "2024-05-02T10:00:00Z");
    EXPECT_EQ(post["date_modified"], "2024-05-03T08:00:00Z");
    EXPECT_EQ(post["authors"], (nlohmann::json{{{"name", "Ann Example"}}, {{"name", "Bob Example"}}}));
    EXPECT_EQ(post["tags"], (nlohmann::json{"news", "meta"}));
    EXPECT_FALSE(post.contains("external_url"));
    EXPECT_EQ(doc["description"], "Posts from the example site");
}

// Entries are written without nlohmann's serializer: parsing the feed and dumping it again must give
// the same bytes, escapes included.
TEST(JsonFeed, EntriesAreLaidOutAsDumpLaysThemOut) {
    const Site& site = small_site();
    for (const auto& feed : site.config.feeds) {
        const std::string text = render_json_feed(request_for(site, feed, FeedFormat::json, zone("Asia/Tokyo"))).str();
        EXPECT_EQ(nlohmann::ordered_json::parse(text).dump(2) + "\n", text);
    }
    // Titles with what JSON escapes (tab, quote, backslash) and what it does not (slash, non-ASCII).
    std::map<std::string, std::string> sources = small_sources();
    for (auto& [path, text] : sources)
        if (const auto at = text.find("title: "); at != std::string::npos)
            text.insert(at + 7, R"("Tab\t quote \" backslash \\ slash / \u00e9 \U0001F600" #)");
    const Site escaped = make_site(small_config(), sources);
    for (const auto& feed : escaped.config.feeds) {
        const std::string text = render_json_feed(request_for(escaped, feed, FeedFormat::json)).str();
        EXPECT_NE(text.find(R"(Tab\t quote \" backslash \\ slash / é 😀)"), std::string::npos);
        EXPECT_EQ(nlohmann::ordered_json::parse(text).dump(2) + "\n", text);
    }
}

TEST(JsonFeed, InvalidUtf8IsReplacedNotThrown) {
    SiteConfig config = small_config();
    config.feeds[0].title = "Bad \xFF byte";
    const Site site = make_site(config, small_sources());
    std::string text;
    ASSERT_NO_THROW(text = render_json_feed(request_for(site, site.config.feeds[0], FeedFormat::json)).str());
    EXPECT_EQ(nlohmann::json::parse(text)["title"], "Bad \xEF\xBF\xBD byte");
    EXPECT_NE(render_rss(request_for(site, site.config.feeds[0], FeedFormat::rss)).str().find("<title>Bad \xEF\xBF\xBD byte</title>"),
              std::string::npos);
}

// ---- every format ------------------------------------------------------------------------------

TEST(Syndication, DeterministicAndClockFree) {
    const Site& site = small_site();
    for (const auto& feed : site.config.feeds) {
        for (const FeedFormat format : {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}) {
            const RenderRequest r = request_for(site, feed, format, zone("America/New_York"));
            const std::string first = output_format(format).render(r).str();
            EXPECT_EQ(first, output_format(format).render(r));
            // A second site parsed from the same files gives the same bytes.
            const Site again = make_site(small_config(), small_sources());
            EXPECT_EQ(first, output_format(format).render(request_for(again, feed_named(again, feed.name), format, zone("America/New_York"))));
            EXPECT_EQ(first.find('\r'), std::string::npos);
            EXPECT_TRUE(first.ends_with("\n"));
        }
    }
    // Dates come from the request and the items, never from the clock.
    RenderRequest r = request_for(site, feed_named(site, "events"), FeedFormat::rss);
    r.items = {};
    r.updated = utc("1999-12-31T23:59:59Z");
    EXPECT_NE(render_rss(r).str().find("<lastBuildDate>Fri, 31 Dec 1999 23:59:59 GMT</lastBuildDate>"), std::string::npos);
    EXPECT_NE(render_atom(r).str().find("<updated>1999-12-31T23:59:59Z</updated>"), std::string::npos);
}

TEST(Syndication, EventWithoutDatesIsDatedByTheDocument) {
    const Site site = make_site(small_config(), {{"events/bare.md", "---\ntitle: Bare\nstart: 2025-03-01\n---\n"}});
    const auto doc = nlohmann::json::parse(render_json_feed(request_for(site, feed_named(site, "events"), FeedFormat::json)).str());
    EXPECT_EQ(doc["items"][0]["date_published"], "2025-06-30T12:00:00Z");
    EXPECT_EQ(doc["items"][0]["date_modified"], "2025-06-30T12:00:00Z");
    // No body: the facts alone are the summary.
    EXPECT_EQ(doc["items"][0]["summary"], "When: Sat 1 Mar 2025");
}

TEST(Syndication, DateFormats) {
    const Site& site = small_site();
    const std::regex rfc822(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)");
    const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
    for (const auto& feed : site.config.feeds) {
        const std::string rss = render_rss(request_for(site, feed, FeedFormat::rss)).str();
        for (const char* tag : {"pubDate", "lastBuildDate"}) {
            const std::string open = std::string("<") + tag + ">";
            for (auto p = rss.find(open); p != std::string::npos; p = rss.find(open, p + 1))
                EXPECT_TRUE(std::regex_match(between(rss, open, "<", p), rfc822)) << between(rss, open, "<", p);
        }
        const std::string atom = render_atom(request_for(site, feed, FeedFormat::atom)).str();
        for (const char* tag : {"updated", "published"}) {
            const std::string open = std::string("<") + tag + ">";
            for (auto p = atom.find(open); p != std::string::npos; p = atom.find(open, p + 1))
                EXPECT_TRUE(std::regex_match(between(atom, open, "<", p), rfc3339)) << between(atom, open, "<", p);
        }
    }
}

// ---- ids ---------------------------------------------------------------------------------------

// Every id of every format for the blog post, as the feeds carry them.
std::vector<std::string> hello_ids(const SiteConfig& config, const std::string& source) {
    const Site site = make_site(config, {{"blog/hello.md", source}});
    const FeedConfig& blog = feed_named(site, "blog");
    const std::string rss = render_rss(request_for(site, blog, FeedFormat::rss)).str();
    const std::string atom = render_atom(request_for(site, blog, FeedFormat::atom)).str();
    const auto json = nlohmann::json::parse(render_json_feed(request_for(site, blog, FeedFormat::json)).str());
    return {between(rss, "<guid", "</guid>"), between(between(atom, "<entry>", "</entry>"), "<id>", "</id>"),
            json["items"][0]["id"].get<std::string>()};
}

TEST(Ids, TagUrisThatNoEditMoves) {
    const std::string source = small_sources().at("blog/hello.md");
    const auto ids = hello_ids(small_config(), source);
    EXPECT_EQ(ids, (std::vector<std::string>{" isPermaLink=\"false\">tag:example.org,2026:blog/hello@example.org",
                                             "tag:example.org,2026:blog/hello@example.org",
                                             "tag:example.org,2026:blog/hello@example.org"}));
    // A new title, date, lastmod, body and permalink (slug): the same ids.
    std::string edited = source;
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"Hello & <welcome>", "Hello again"}, {"2024-05-02T10:00:00Z", "2024-06-01T09:00:00Z"}, {"lastmod: 2024-05-03T08:00:00Z", "lastmod: 2024-06-02T08:00:00Z\nslug: renamed"}, {"Some *text*", "Other words"}})
        edited.replace(edited.find(from), from.size(), to);
    const Site renamed = make_site(small_config(), {{"blog/hello.md", edited}});
    ASSERT_EQ(renamed.items.front().permalink, "https://example.org/blog/renamed/");
    EXPECT_EQ(hello_ids(small_config(), edited), ids);
    // --base-url (site.documents_url) moves the links, not the ids; id_date is part of them.
    SiteConfig preview = small_config();
    preview.site.documents_url = "http://127.0.0.1:8080/";
    EXPECT_EQ(hello_ids(preview, source), ids);
    const Site site = make_site(preview, {{"blog/hello.md", source}});
    const std::string atom = render_atom(request_for(site, feed_named(site, "blog"), FeedFormat::atom)).str();
    EXPECT_NE(atom.find("<id>tag:example.org,2026:blog.atom</id>"), std::string::npos) << atom.substr(0, 400);
    SiteConfig dated = small_config();
    dated.site.id_date = "2019-04";
    EXPECT_EQ(hello_ids(dated, source)[1], "tag:example.org,2019-04:blog/hello@example.org");
}

TEST(Ids, TheTaggingEntityIsTheHostAlone) {
    SiteConfig c = small_config();
    c.site.base_url = "https://user@Cal.Example.ORG:8443/sub/";
    EXPECT_EQ(hello_ids(c, small_sources().at("blog/hello.md"))[1], "tag:cal.example.org,2026:blog/hello@Cal.Example.ORG:8443");
    c.site.base_url = "http://[::1]:8080/";
    EXPECT_TRUE(hello_ids(c, small_sources().at("blog/hello.md"))[1].starts_with("tag:almanac.invalid,2026:"));
}

TEST(Ids, PermalinksWhereTheSiteSaysTheyAreStable) {
    SiteConfig c = small_config();
    c.site.ids = EntryIds::permalink;
    const auto ids = hello_ids(c, small_sources().at("blog/hello.md"));
    EXPECT_EQ(ids, (std::vector<std::string>{" isPermaLink=\"true\">https://example.org/blog/hello/", "https://example.org/blog/hello/",
                                             "https://example.org/blog/hello/"}));
}

// ---- the corpus --------------------------------------------------------------------------------

const fs::path source_dir = fs::path(ALMANAC_SOURCE_DIR);

// examples/almanac.yaml (the TODO Group corpus), as values (the config loader lives in another library).
SiteConfig todogroup_config() {
    SiteConfig c;
    c.site = {"TODO Group", "https://todogroup.org/", "America/Los_Angeles", "en", "TODO Group", ""};
    c.content.dir = (source_dir / "examples" / "content").string();
    c.content.sections = {
        {"events", SectionType::event, {}, {}, "/community/events/:slug/"},
        {"meetups", SectionType::event, {}, {}, "/community/meetups/:slug/"},
        {"blog", SectionType::post, {}, {}, "/blog/:slug/"},
        {"newsletter", SectionType::post, {"????"
                                           "-??"
                                           "-??.md"},
         {},
         "https://github.com/todogroup/ospology/blob/main/newsletter/:filename"},
        {"pages", SectionType::page, {}, {}, ""},
    };
    using F = FeedFormat;
    c.feeds = {{"events", "TODO Group events and meetups", "", {"events", "meetups"}, {F::ics, F::rss, F::atom, F::json}, {}, {}, {}, {}},
               {"meetups", "OSPO local meetups", "", {"meetups"}, {F::ics, F::rss, F::atom}, {}, {}, {}, {}},
               {"newsletter", "OSPO Newsletter", "", {"newsletter"}, {F::rss, F::atom, F::json}, {}, {}, 20, {}},
               {"blog", "TODO Group blog", "", {"blog"}, {F::rss, F::atom, F::json}, {}, {}, 30, {}}};
    return c;
}

const Site& todogroup_site() {
    static const Site site = [] {
        const SiteConfig config = todogroup_config();
        std::map<std::string, ParsedSource> parsed;
        for (const auto& entry : fs::recursive_directory_iterator(config.content.dir)) {
            if (!entry.is_regular_file()) continue;
            const std::string path = fs::relative(entry.path(), config.content.dir).generic_string();
            const SectionConfig* section = find_section(config, path.substr(0, path.find('/')));
            if (!section) continue;
            const FileRole role = classify_path(path, *section);
            if (role != FileRole::markdown && role != FileRole::data) continue;
            parsed[path] = parse_source(SourceFile{path, path, read_file(entry.path())}, *section, config);
        }
        return assemble_site(config, parsed, {});
    }();
    return site;
}

TEST(Corpus, NewsletterTitledByHeadingAndDatedByFileName) {
    const Site& site = todogroup_site();
    RenderRequest r = request_for(site, feed_named(site, "newsletter"), FeedFormat::rss);
    const auto it = std::find_if(site.items.begin(), site.items.end(), [](const Item& i) { return i.path == "newsletter/2021-07-26.md"; });
    ASSERT_NE(it, site.items.end());
    r.items = {&*it};
    const std::string rss = render_rss(r).str();
    EXPECT_NE(rss.find("<title>OSPO Newsletter 1</title>"), std::string::npos) << rss.substr(0, 2000);
    EXPECT_NE(rss.find("<link>https://github.com/todogroup/ospology/blob/main/newsletter/2021-07-26.md</link>"), std::string::npos);
    EXPECT_NE(rss.find("<pubDate>" + format_rfc822(*it->date).str() + "</pubDate>"), std::string::npos);
    // The file name's date, at midnight in the site's zone.
    EXPECT_EQ(date::format("%F", date::make_zoned(zone("America/Los_Angeles").tz, *it->date)), "2021-07-26");
    // The heading became the title: it is not repeated at the top of the content.
    EXPECT_EQ(between(rss, "<content:encoded>", "</content:encoded>").find("OSPO Newsletter 1"), std::string::npos);
}

TEST(Corpus, EventsPageShortcodesComeOutClean) {
    SiteConfig config = small_config();
    std::string text = read_file(source_dir / "tests" / "fixtures" / "seeds" / "events-page.md");
    text.insert(text.find('\n') + 1, "date: 2024-05-01\n");  // posts need a date; the page has none
    const Site site = make_site(config, {{"blog/events-page.md", text}});
    for (const FeedFormat format : {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}) {
        const std::string doc = output_format(format).render(request_for(site, feed_named(site, "blog"), format)).str();
        EXPECT_EQ(doc.find("{{"), std::string::npos) << doc;
        EXPECT_EQ(doc.find("{%"), std::string::npos);
        EXPECT_NE(doc.find("OSPOlogy Live Europe"), std::string::npos);
    }
}

// Renders every corpus feed (default view and two zone views) and, when ALMANAC_FEEDS_OUT is set,
// writes them there as `almanac build` would, for tests/conformance/feeds/check_feeds.sh.
TEST(Corpus, RendersEveryFeed) {
    const Site& site = todogroup_site();
    const char* out = std::getenv("ALMANAC_FEEDS_OUT");
    const std::vector<std::optional<Zone>> views = {std::nullopt, zone("Asia/Tokyo"), zone("Europe/Stockholm")};
    for (const auto& feed : site.config.feeds) {
        for (const FeedFormat format : feed.formats) {
            if (format == FeedFormat::ics) continue;
            for (const auto& view : views) {
                RenderRequest r = request_for(site, feed, format, view);
                ASSERT_FALSE(r.items.empty()) << feed.name;
                r.updated = feed_updated(r.items, undated_feed_date(site.config, std::nullopt));  // as served
                const std::string doc = output_format(format).render(r).str();
                EXPECT_EQ(doc, output_format(format).render(r));
                if (!out) continue;
                const fs::path path = fs::path(out) / document_path(feed, format, view);
                fs::create_directories(path.parent_path());
                std::ofstream(path, std::ios::binary) << doc;
            }
        }
    }
}

}  // namespace
}  // namespace almanac
