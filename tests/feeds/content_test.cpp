#include "feeds/content.hpp"

#include <gtest/gtest.h>

namespace almanac {
namespace {

TEST(GlobMatch, Table) {
    struct Case {
        const char* pattern;
        const char* path;
        bool match;
    };
    const Case cases[] = {
        {"????-??-??.md", "2025-06-02.md", true},
        {"????-??-??.md", "README.md", false},
        {"????-??-??.md", "Italian Version/2022-09-26.md", false},
        {"*.md", "a.md", true},
        {"*.md", "sub/a.md", false},
        {"**/*.md", "a.md", true},
        {"**/*.md", "sub/deeper/a.md", true},
        {"sub/**", "sub/x/y.md", true},
        {"sub/**", "other/x.md", false},
        {"[0-9]*.md", "2025.md", true},
        {"[!0-9]*.md", "2025.md", false},
        {"[!0-9]*.md", "readme.md", true},
        {"a?c", "a/c", false},
        {"draft-*", "draft-x", true},
        {"[abc", "a", false},
    };
    for (const auto& c : cases) EXPECT_EQ(glob_match(c.pattern, c.path), c.match) << c.pattern << " ~ " << c.path;
}

TEST(IgnoredName, Table) {
    for (const char* n : {".hidden.md", ".post.md.swp", "post.md~", "#post.md#", "4913", ".#post.md", "x.swp", "x.bak"})
        EXPECT_TRUE(is_ignored_name(n)) << n;
    for (const char* n : {"post.md", "_index.md", "2025-01-01.md", "4914", "touchpoints.yaml"})
        EXPECT_FALSE(is_ignored_name(n)) << n;
}

TEST(ClassifyPath, Table) {
    SectionConfig events{"events", SectionType::event, {}, {}, "/:slug/"};
    SectionConfig news{"newsletter", SectionType::post, {"????-??-??.md"}, {}, "/:slug/"};
    SectionConfig blog{"blog", SectionType::post, {}, {"drafts/**"}, "/:slug/"};
    EXPECT_EQ(classify_path("events/a.md", events), FileRole::markdown);
    EXPECT_EQ(classify_path("events/calls.yaml", events), FileRole::data);
    EXPECT_EQ(classify_path("events/calls.toml", events), FileRole::data);
    EXPECT_EQ(classify_path("events/photo.png", events), FileRole::unhandled);
    EXPECT_EQ(classify_path("events/.a.md.swp", events), FileRole::ignored);
    EXPECT_EQ(classify_path("events/.git/config", events), FileRole::ignored);
    EXPECT_EQ(classify_path("events/_index.md", events), FileRole::markdown);
    EXPECT_EQ(classify_path("newsletter/2025-06-02.md", news), FileRole::markdown);
    EXPECT_EQ(classify_path("newsletter/README.md", news), FileRole::ignored);
    EXPECT_EQ(classify_path("newsletter/_index.md", news), FileRole::markdown);
    EXPECT_EQ(classify_path("blog/x.yaml", blog), FileRole::unhandled);  // data files are for events only
    EXPECT_EQ(classify_path("blog/drafts/x.md", blog), FileRole::ignored);
    EXPECT_EQ(classify_path("blogx/a.md", blog), FileRole::ignored);
}

SiteConfig test_config() {
    SiteConfig c;
    c.site.base_url = "https://example.org/";
    c.site.timezone = "Europe/Berlin";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:year/:month/:slug/"},
                          {"news", SectionType::post, {}, {}, "https://github.com/x/y/blob/main/news/:filename"}};
    return c;
}

ParsedSource parse(const std::string& path, const std::string& text) {
    static const SiteConfig config = test_config();
    const auto section = path.substr(0, path.find('/'));
    return parse_source(SourceFile{path, "content/" + path, text}, *find_section(config, section), config);
}

std::string dump(const Diagnostics& ds) {
    std::string out;
    for (const auto& d : ds) out += format_text(d) + "\n";
    return out;
}

TEST(ParseSource, FullEvent) {
    const auto r = parse("events/conf.md",
                         "---\n"
                         "title: \"Conf\"\n"
                         "start: 2024-09-16T09:00\n"
                         "end: 2024-09-18T17:30\n"
                         "timezone: Europe/Vienna\n"
                         "location: \"Vienna\"\n"
                         "geo: { lat: 48.2349, lon: 16.4136 }\n"
                         "url: https://example.com/conf\n"
                         "online: /live\n"
                         "organizer: { name: \"TODO\", email: \"info@example.org\" }\n"
                         "kind: conference\n"
                         "tags: [a, \"b,c\"]\n"
                         "status: Cancelled\n"
                         "sequence: 2\n"
                         "lastmod: 2024-06-10T08:30:00Z\n"
                         "---\n"
                         "Body with [a link](../x/).\n");
    ASSERT_EQ(r.items.size(), 1u) << dump(r.diagnostics);
    EXPECT_TRUE(r.diagnostics.empty()) << dump(r.diagnostics);
    const Item& it = r.items[0];
    ASSERT_TRUE(it.event);
    const Event& ev = *it.event;
    EXPECT_EQ(it.title, "Conf");
    EXPECT_EQ(it.uid, "events/conf@example.org");
    EXPECT_EQ(it.permalink, "https://example.org/events/conf/");
    EXPECT_EQ(ev.zone.name, "Europe/Vienna");
    EXPECT_EQ(format_event_time(ev.start), "2024-09-16T09:00:00");
    EXPECT_EQ(format_event_time(ev.end), "2024-09-18T17:30:00");
    EXPECT_EQ(ev.status, EventStatus::cancelled);
    EXPECT_EQ(ev.sequence, 2);
    ASSERT_TRUE(ev.geo);
    EXPECT_DOUBLE_EQ(ev.geo->lat, 48.2349);
    EXPECT_EQ(ev.url, "https://example.com/conf");
    EXPECT_EQ(ev.online, "https://example.org/live");
    ASSERT_TRUE(ev.organizer);
    EXPECT_EQ(ev.organizer->email, "info@example.org");
    EXPECT_EQ(it.tags, (std::vector<std::string>{"a", "b,c"}));
    EXPECT_EQ(it.kind, "conference");
    ASSERT_TRUE(it.lastmod);
    EXPECT_EQ(format_event_time(*it.lastmod), "2024-06-10T08:30:00Z");
    EXPECT_NE(it.html.find("href=\"https://example.org/events/x/\""), std::string::npos) << it.html;
}

TEST(ParseSource, AllDayEndIsInclusiveInFrontMatter) {
    const auto r = parse("events/d.md", "---\ntitle: D\nstart: 2024-04-16\nend: 2024-04-18\n---\n");
    ASSERT_EQ(r.items.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(format_event_time(r.items[0].event->end), "2024-04-19");
    const auto single = parse("events/s.md", "---\ntitle: S\nstart: 2024-04-16\n---\n");
    ASSERT_EQ(single.items.size(), 1u);
    EXPECT_EQ(format_event_time(single.items[0].event->end), "2024-04-17");
    EXPECT_TRUE(single.diagnostics.empty()) << dump(single.diagnostics);
}

TEST(ParseSource, DurationAndKinds) {
    const auto r = parse("events/a.md", "---\ntitle: A\nstart: 2026-11-18T17:00-08:00\nduration: PT1H30M\n---\n");
    ASSERT_EQ(r.items.size(), 1u) << dump(r.diagnostics);
    EXPECT_TRUE(std::holds_alternative<Instant>(r.items[0].event->start));
    EXPECT_EQ(format_event_time(r.items[0].event->start), "2026-11-19T01:00:00Z");
    EXPECT_EQ(format_event_time(r.items[0].event->end), "2026-11-19T02:30:00Z");
}

TEST(ParseSource, EventErrorsEachAtTheirKey) {
    struct Case {
        const char* name;
        std::string text;
        int line;
        const char* message;
    };
    const Case cases[] = {
        {"no start", "---\ntitle: X\n---\n", 2, "needs a start"},
        {"bad start", "---\ntitle: X\nstart: 2024-13-01\n---\n", 3, "start: "},
        {"bad zone", "---\ntitle: X\nstart: 2024-01-01T10:00\ntimezone: Mars/Base\n---\n", 4, "timezone: unknown time zone 'Mars/Base'"},
        {"end before start", "---\ntitle: X\nstart: 2024-01-01T10:00\nend: 2024-01-01T09:00\n---\n", 4, "is before start"},
        {"all-day end before", "---\ntitle: X\nstart: 2024-01-05\nend: 2024-01-04\n---\n", 4, "is before start"},
        {"mixed kinds", "---\ntitle: X\nstart: 2024-01-05\nend: 2024-01-06T10:00\n---\n", 4, "is a date-time but start is a date"},
        {"both", "---\ntitle: X\nstart: 2024-01-05T10:00\nend: 2024-01-05T11:00\nduration: PT1H\n---\n", 5, "either end or duration"},
        {"bad duration", "---\ntitle: X\nstart: 2024-01-05T10:00\nduration: 90 minutes\n---\n", 4, "duration: "},
        {"all-day hours", "---\ntitle: X\nstart: 2024-01-05\nduration: PT3H\n---\n", 4, "whole days"},
        {"bad rrule", "---\ntitle: X\nstart: 2024-01-05\nrrule: FREQ=SOMETIMES\n---\n", 4, "rrule: "},
        {"bad exdate", "---\ntitle: X\nstart: 2024-01-05T10:00\nduration: PT1H\nrrule: FREQ=DAILY\nexdate: [2024-01-06]\n---\n", 6, "exdate[0]: "},
        {"bad status", "---\ntitle: X\nstart: 2024-01-05\nstatus: maybe\n---\n", 4, "status: expected confirmed"},
        {"bad geo", "---\ntitle: X\nstart: 2024-01-05\ngeo: { lat: 91, lon: 0 }\n---\n", 4, "geo.lat"},
        {"bad url", "---\ntitle: X\nstart: 2024-01-05\nurl: example.com\n---\n", 4, "url: expected an absolute URL"},
        {"js url", "---\ntitle: X\nstart: 2024-01-05\nurl: \"javascript:alert(1)\"\n---\n", 4, "not allowed"},
        {"bad email", "---\ntitle: X\nstart: 2024-01-05\norganizer: { name: A, email: nope }\n---\n", 4, "organizer.email"},
        {"no title", "---\nstart: 2024-01-05\n---\n", 1, "needs a title"},
        {"title list", "---\ntitle: [a]\nstart: 2024-01-05\n---\n", 2, "title: expected text, got a list"},
        {"draft word", "---\ntitle: X\nstart: 2024-01-05\ndraft: yes\n---\n", 4, "draft: expected true or false"},
        {"sequence", "---\ntitle: X\nstart: 2024-01-05\nsequence: -1\n---\n", 4, "sequence: expected an integer"},
        {"expiry", "---\ntitle: X\nstart: 2024-01-05\npublishDate: 2024-02-01\nexpiryDate: 2024-01-01\n---\n", 5, "is before publishDate"},
    };
    for (const auto& c : cases) {
        const auto r = parse("events/e.md", c.text);
        EXPECT_TRUE(r.items.empty()) << c.name;
        bool found = false;
        for (const auto& d : r.diagnostics)
            if (d.severity == Severity::error && d.line == c.line && d.message.find(c.message) != std::string::npos) found = true;
        EXPECT_TRUE(found) << c.name << ":\n"
                           << dump(r.diagnostics);
    }
}

TEST(ParseSource, WarningsKeepTheEvent) {
    struct Case {
        const char* name;
        std::string text;
        int line;
        const char* message;
    };
    const Case cases[] = {
        {"no end", "---\ntitle: X\nstart: 2024-01-05T10:00\n---\n", 3, "one hour"},
        {"typo", "---\ntitle: X\nstart: 2024-01-05\ntimezon: Europe/Paris\n---\n", 4, "did you mean 'timezone'"},
        {"gap", "---\ntitle: X\nstart: 2025-03-30T02:30\nduration: PT1H\n---\n", 3, "does not exist in Europe/Berlin"},
        {"overlap", "---\ntitle: X\nstart: 2025-10-26T02:30\nduration: PT1H\n---\n", 3, "happens twice"},
    };
    for (const auto& c : cases) {
        const auto r = parse("events/w.md", c.text);
        EXPECT_EQ(r.items.size(), 1u) << c.name << "\n"
                                      << dump(r.diagnostics);
        ASSERT_EQ(r.diagnostics.size(), 1u) << c.name << "\n"
                                            << dump(r.diagnostics);
        EXPECT_EQ(r.diagnostics[0].severity, Severity::warning) << c.name;
        EXPECT_EQ(r.diagnostics[0].line, c.line) << c.name;
        EXPECT_NE(r.diagnostics[0].message.find(c.message), std::string::npos) << c.name << ": " << r.diagnostics[0].message;
    }
}

TEST(ParseSource, GapStartIsShiftedForward) {
    const auto r = parse("events/g.md", "---\ntitle: X\nstart: 2025-03-30T02:30\nduration: PT1H\n---\n");
    ASSERT_EQ(r.items.size(), 1u);
    EXPECT_EQ(format_event_time(to_instant(r.items[0].event->start, r.items[0].event->zone)), "2025-03-30T01:30:00Z");
}

TEST(ParseSource, PostWithoutFrontMatter) {
    const auto r = parse("news/2025-06-02.md", "# OSPO Newsletter 39\n\n## Section\n\nText.\n");
    ASSERT_EQ(r.items.size(), 1u) << dump(r.diagnostics);
    const Item& it = r.items[0];
    EXPECT_EQ(it.title, "OSPO Newsletter 39");
    ASSERT_TRUE(it.date);
    EXPECT_EQ(format_event_time(*it.date), "2025-06-01T22:00:00Z");  // midnight in Europe/Berlin
    EXPECT_EQ(it.permalink, "https://github.com/x/y/blob/main/news/2025-06-02.md");
    EXPECT_EQ(it.html.find("OSPO Newsletter 39"), std::string::npos) << "the title heading is not repeated";
}

TEST(ParseSource, PostPermalinkAndAuthors) {
    const auto r = parse("blog/hello.md",
                         "---\ntitle: Hello\ndate: 2024-03-05T10:00:00+01:00\nauthor: ann\nauthors: [bob, ann]\n"
                         "subtitle: ignored theme key\nsummary: Short.\n---\nBody\n");
    ASSERT_EQ(r.items.size(), 1u) << dump(r.diagnostics);
    EXPECT_TRUE(r.diagnostics.empty()) << dump(r.diagnostics);
    EXPECT_EQ(r.items[0].permalink, "https://example.org/blog/2024/03/hello/");
    EXPECT_EQ(r.items[0].authors, (std::vector<std::string>{"ann", "bob"}));
    EXPECT_EQ(r.items[0].summary, "Short.");
}

TEST(ParseSource, PostErrors) {
    const auto undated = parse("blog/x.md", "# Title\n\nno date\n");
    EXPECT_TRUE(undated.items.empty());
    ASSERT_EQ(undated.diagnostics.size(), 1u) << dump(undated.diagnostics);
    EXPECT_NE(undated.diagnostics[0].message.find("needs a date"), std::string::npos);
    const auto untitled = parse("blog/2024-01-01-x.md", "no heading at all\n");
    EXPECT_TRUE(untitled.items.empty());
    EXPECT_NE(dump(untitled.diagnostics).find("needs a title"), std::string::npos);
}

TEST(ParseSource, DataFileItems) {
    const auto r = parse("events/calls.yaml",
                         "events:\n"
                         "  - title: \"Call A\"\n"
                         "    start: 2024-01-11T09:00\n"
                         "    duration: PT1H\n"
                         "    timezone: Europe/Madrid\n"
                         "    rrule: \"FREQ=MONTHLY;BYDAY=2TH\"\n"
                         "  - title: \"Call B\"\n"
                         "    start: 2024-01-12T09:00\n"
                         "    duration: PT1H\n");
    ASSERT_EQ(r.items.size(), 2u) << dump(r.diagnostics);
    EXPECT_EQ(r.items[0].uid, "events/calls#1@example.org");
    EXPECT_EQ(r.items[1].uid, "events/calls#2@example.org");
    EXPECT_EQ(r.items[0].line, 2);
    EXPECT_EQ(r.items[1].line, 7);
    EXPECT_EQ(r.items[0].slug, "call-a");
    ASSERT_TRUE(r.items[0].event->rrule);
    EXPECT_EQ(r.items[0].event->zone.name, "Europe/Madrid");
    EXPECT_EQ(r.items[1].event->zone.name, "Europe/Berlin");
}

TEST(ParseSource, DataFileErrorDropsTheFile) {
    const auto r = parse("events/calls.yaml",
                         "events:\n  - title: ok\n    start: 2024-01-11\n  - title: bad\n    start: 2024-01-32\n");
    EXPECT_TRUE(r.items.empty());
    ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(r.diagnostics[0].line, 5);
    EXPECT_NE(r.diagnostics[0].message.find("events[1].start: "), std::string::npos) << r.diagnostics[0].message;
    const auto not_list = parse("events/x.json", "{\"events\": {\"a\": 1}}");
    EXPECT_NE(dump(not_list.diagnostics).find("needs an `events:` list"), std::string::npos);
}

TEST(ParseSource, InvalidUtf8AndBom) {
    const auto bad = parse("events/x.md", "---\ntitle: \"caf\xE9\"\nstart: 2024-01-01\n---\n");
    EXPECT_TRUE(bad.items.empty());
    ASSERT_EQ(bad.diagnostics.size(), 1u);
    EXPECT_EQ(bad.diagnostics[0].line, 2);
    const auto bom = parse("events/y.md", "\xEF\xBB\xBF---\r\ntitle: B\r\nstart: 2024-01-01\r\n---\r\nx\r\n");
    ASSERT_EQ(bom.items.size(), 1u) << dump(bom.diagnostics);
    EXPECT_EQ(bom.items[0].title, "B");
}

TEST(ParseSource, SectionPageIsNotAnItem) {
    const auto r = parse("blog/_index.md", "---\ntitle: Blog\n---\n");
    EXPECT_TRUE(r.items.empty());
    EXPECT_TRUE(r.diagnostics.empty());
}

TEST(Visibility, DraftPublishExpiry) {
    Item it;
    const auto t = [](const char* s) { return to_instant(*parse_event_time(s), *find_zone("UTC")); };
    EXPECT_TRUE(is_visible(it, t("2024-01-01T00:00Z")));
    it.publish_date = t("2024-02-01T00:00Z");
    it.expiry_date = t("2024-03-01T00:00Z");
    EXPECT_FALSE(is_visible(it, t("2024-01-31T23:59:59Z")));
    EXPECT_TRUE(is_visible(it, t("2024-02-01T00:00Z")));
    EXPECT_TRUE(is_visible(it, t("2024-03-01T00:00Z")));
    EXPECT_FALSE(is_visible(it, t("2024-03-01T00:00:01Z")));
    it.draft = true;
    EXPECT_FALSE(is_visible(it, t("2024-02-15T00:00Z")));
}

}  // namespace
}  // namespace almanac

namespace almanac {
namespace {

TEST(ParseSource, UrlsAndEmailsCannotCarryLineBreaks) {
    // A line break in a URI value would end the iCalendar content line and inject properties.
    for (const std::string fm : {"url: \"https://a.org/x\\nBEGIN:VALARM\"", "online: \"https://a.org/x y\"",
                                 "organizer: { email: \"a@b.org\\nX-EVIL:1\" }"}) {
        const auto r = parse("events/i.md", "---\ntitle: I\nstart: 2024-01-01\n" + fm + "\n---\n");
        EXPECT_TRUE(r.items.empty()) << fm;
        EXPECT_TRUE(has_errors(r.diagnostics)) << fm << "\n"
                                               << dump(r.diagnostics);
    }
}

TEST(ParseSource, SlugsAreUrlSafeAndNeverEmpty) {
    const auto spaced = parse("blog/My Post.md", "---\ntitle: T\ndate: 2024-01-01\n---\n");
    ASSERT_EQ(spaced.items.size(), 1u) << dump(spaced.diagnostics);
    EXPECT_EQ(spaced.items[0].permalink, "https://example.org/blog/2024/01/my-post/");
    const auto bangs = parse("blog/x.md", "---\ntitle: T\ndate: 2024-01-01\nslug: \"!!!\"\n---\n");
    ASSERT_EQ(bangs.items.size(), 1u);
    EXPECT_EQ(bangs.items[0].slug, "x");
    const auto data = parse("events/calls.yaml", "events:\n  - title: \"!!!\"\n    start: 2024-01-01\n");
    ASSERT_EQ(data.items.size(), 1u) << dump(data.diagnostics);
    EXPECT_EQ(data.items[0].slug, "calls-1");
}

TEST(ParseSource, PermalinksKeepTheBasePath) {
    SiteConfig c = test_config();
    c.site.base_url = "https://example.org/sub/";
    const auto r = parse_source(SourceFile{"events/d.md", "d.md", "---\ntitle: D\nstart: 2024-01-01\nurl: /live/\n---\n"},
                                *find_section(c, "events"), c);
    ASSERT_EQ(r.items.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(r.items[0].permalink, "https://example.org/sub/events/d/");
    EXPECT_EQ(r.items[0].event->url, "https://example.org/sub/live/");
}

TEST(ParseSource, PostUrlMustBeHttpOrAPath) {
    const auto bad = parse("blog/x.md", "---\ntitle: T\ndate: 2024-01-01\nurl: \"javascript:alert(1)\"\n---\n");
    EXPECT_TRUE(bad.items.empty());
    EXPECT_NE(dump(bad.diagnostics).find("url: expected an http(s) URL"), std::string::npos) << dump(bad.diagnostics);
    const auto good = parse("blog/y.md", "---\ntitle: T\ndate: 2024-01-01\nurl: /about/y/\n---\n");
    ASSERT_EQ(good.items.size(), 1u);
    EXPECT_EQ(good.items[0].permalink, "https://example.org/about/y/");
}

// Found by fuzz_content: a path whose first segment holds a colon became a URL of its own, so
// `url: /javascript:alert(1)/` on a post gave that permalink, past the http(s)-or-path check.
TEST(ParseSource, ColonInAPathsFirstSegmentStaysOnTheSite) {
    SiteConfig c = test_config();
    c.site.base_url = "https://example.org/sub/";
    c.content.sections.push_back({"pages", SectionType::page, {}, {}, "/:section/:slug/"});
    const auto page = parse_source(SourceFile{"pages/p.md", "p.md", "---\nurl: \"/javascript:alert(1)/\"\n---\n"},
                                   *find_section(c, "pages"), c);
    ASSERT_EQ(page.items.size(), 1u) << dump(page.diagnostics);
    EXPECT_EQ(page.items[0].permalink, "https://example.org/sub/javascript:alert(1)/");
    const auto post = parse("blog/x.md", "---\ntitle: T\ndate: 2024-01-01\nurl: /events:2024/x/\n---\n");
    ASSERT_EQ(post.items.size(), 1u) << dump(post.diagnostics);
    EXPECT_EQ(post.items[0].permalink, "https://example.org/events:2024/x/");
    // An event's url resolves the same way, so it is not refused as a javascript: URL either.
    const auto event = parse("events/e.md", "---\ntitle: E\nstart: 2024-01-01\nurl: /vbscript:x\n---\n");
    ASSERT_EQ(event.items.size(), 1u) << dump(event.diagnostics);
    EXPECT_EQ(event.items[0].event->url, "https://example.org/vbscript:x");
}

TEST(ParseSource, EmptyDateIsAbsentAndBooleansIgnoreCase) {
    const auto named = parse("blog/2024-01-02-x.md", "---\ntitle: T\ndate:\ndraft: True\n---\n");
    ASSERT_EQ(named.items.size(), 1u) << dump(named.diagnostics);
    EXPECT_TRUE(named.items[0].draft);
    const auto none = parse("blog/x.md", "---\ntitle: T\ndate:\n---\n");
    EXPECT_TRUE(none.items.empty());
    EXPECT_NE(dump(none.diagnostics).find("needs a date"), std::string::npos) << dump(none.diagnostics);
}

}  // namespace
}  // namespace almanac
