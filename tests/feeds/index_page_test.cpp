// Tests for feeds/index_page.cpp: subscribe links and zone views, the zone picker, the upcoming
// occurrences (order, recurrence, limit, visibility, status), escaping, determinism and, with
// xmllint when installed, that the page parses as HTML and as XML.
#include "feeds/index_page.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "feeds/content.hpp"
#include "feeds/render.hpp"

namespace almanac {
namespace {

Instant utc(const char* s) { return to_instant(*parse_event_time(s), *find_zone("UTC")); }

const char* const now_text = "2024-06-01T00:00Z";

using Files = std::map<std::string, std::string>;  // content path → text

// A site of events in several zones and a blog, parsed from Markdown as the daemon would.
struct Fixture {
    Site site;

    explicit Fixture(const Files& extra = {}) {
        SiteConfig c;
        c.site.title = "Meetups <script>alert(1)</script> & more";
        c.site.base_url = "https://example.org/";
        c.site.timezone = "Europe/Berlin";
        c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                              {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
        c.feeds = {{"events", "All <b>events</b>", "Talks & meetups", {"events"}, {FeedFormat::ics, FeedFormat::rss}, {}, {}, {}, {}},
                   {"blog", "Blog", "", {"blog"}, {FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
        c.timezones.prerender = {"UTC", "Asia/Tokyo"};
        std::map<std::string, std::string> texts = {
            // 2024-06-19T22:00Z: earlier than Berlin's although its wall time reads later.
            {"events/tokyo.md",
             "---\ntitle: Tokyo talk\nstart: 2024-06-20T07:00\nduration: PT1H\n"
             "timezone: Asia/Tokyo\nlocation: Shibuya <Hall> & Co\n"
             "online: https://meet.example.com/t?a=1&b=2\n---\n"},
            // 2024-06-19T23:00Z.
            {"events/berlin.md",
             "---\ntitle: Berlin talk\nstart: 2024-06-20T01:00\nduration: PT1H\n"
             "url: https://berlin.example.com/talk\n---\n"},
            {"blog/hello.md", "---\ntitle: Hello\ndate: 2024-01-01\n---\n"},
        };
        for (const auto& [path, text] : extra) texts[path] = text;
        std::map<std::string, ParsedSource> files;
        for (const auto& [path, text] : texts) {
            const auto section = path.substr(0, path.find('/'));
            files[path] = parse_source(SourceFile{path, path, text}, *find_section(c, section), c);
            EXPECT_FALSE(has_errors(files[path].diagnostics)) << path;
        }
        site = assemble_site(c, files, {});
    }

    std::string page(std::optional<std::string> zone = std::nullopt, int days = 90, int limit = 50) const {
        IndexOptions options{utc(now_text), std::nullopt, days, limit};
        if (zone) options.zone = *find_zone(*zone);
        return render_index_page(site, options);
    }
};

std::size_t count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

// Asserts that the needles occur in this order.
void expect_in_order(const std::string& page, const std::vector<std::string>& needles) {
    std::size_t from = 0;
    for (const auto& needle : needles) {
        const auto pos = page.find(needle, from);
        ASSERT_NE(pos, std::string::npos) << "missing, or out of order: " << needle;
        from = pos + needle.size();
    }
}

struct Expectation {
    const char* name;
    std::optional<std::string> zone;
    std::vector<std::string> present;
    std::vector<std::string> absent;
};

TEST(IndexPage, TableOfExpectations) {
    const std::vector<Expectation> table = {
        {"escapes titles and descriptions",
         std::nullopt,
         {"<title>Meetups &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</title>",
          "<h1>Meetups &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</h1>", "All &lt;b&gt;events&lt;/b&gt;",
          "Talks &amp; meetups", "Shibuya &lt;Hall&gt; &amp; Co", "href=\"https://meet.example.com/t?a=1&amp;b=2\""},
         {"<script>", "<b>", "<Hall>"}},
        {"https and webcal links for calendar feeds, default views without a zone",
         std::nullopt,
         {"href=\"https://example.org/events.ics\"", "href=\"webcal://example.org/events.ics\"",
          "href=\"https://example.org/events.rss\"", "href=\"https://example.org/blog.atom\"",
          "href=\"https://example.org/blog.json\"", "Times in <strong>Europe/Berlin</strong>"},
         {"webcal://example.org/events.rss", "webcal://example.org/blog", "/tz/"}},
        {"a chosen zone: its views for event feeds, default views for posts",
         "Asia/Tokyo",
         {"href=\"https://example.org/tz/Asia/Tokyo/events.ics\"",
          "href=\"webcal://example.org/tz/Asia/Tokyo/events.ics\"",
          "href=\"https://example.org/tz/Asia/Tokyo/events.rss\"", "href=\"https://example.org/blog.atom\"",
          "Times in <strong>Asia/Tokyo</strong>"},
         {"href=\"https://example.org/events.ics\"", "tz/Asia/Tokyo/blog"}},
        {"autodiscovery of the default views",
         "Asia/Tokyo",
         {"<link rel=\"alternate\" type=\"application/rss+xml\" title=\"All &lt;b&gt;events&lt;/b&gt;\" "
          "href=\"https://example.org/events.rss\" />",
          "<link rel=\"alternate\" type=\"application/feed+json\" title=\"Blog\" "
          "href=\"https://example.org/blog.json\" />"},
         {"type=\"text/calendar"}},
        {"a GET form that works without JavaScript",
         std::nullopt,
         {"<form method=\"get\">", "<select id=\"tz\" name=\"tz\">",
          "<option value=\"America/New_York\">", "<button type=\"submit\">"},
         {"<script>", "<script src", "localtime"}},
        {"the site's zone selected without a choice",
         std::nullopt,
         {"<option value=\"Europe/Berlin\" selected=\"selected\">Europe/Berlin</option>"},
         {"<option value=\"Asia/Tokyo\" selected"}},
        {"the chosen zone selected, in the suggested group only",
         "Asia/Tokyo",
         {"<option value=\"Asia/Tokyo\" selected=\"selected\">Asia/Tokyo</option>", "<option value=\"Asia/Tokyo\">"},
         {"<option value=\"Europe/Berlin\" selected"}},
        {"location, online link, the event's own url, else its permalink",
         std::nullopt,
         {"<a href=\"https://berlin.example.com/talk\"><strong>Berlin talk</strong></a>",
          "<a href=\"https://example.org/events/tokyo/\"><strong>Tokyo talk</strong></a>", "Join online</a>"},
         {}},
    };
    Fixture f;
    for (const auto& row : table) {
        SCOPED_TRACE(row.name);
        const auto page = f.page(row.zone);
        for (const auto& s : row.present) EXPECT_NE(page.find(s), std::string::npos) << "missing: " << s;
        for (const auto& s : row.absent) EXPECT_EQ(page.find(s), std::string::npos) << "present: " << s;
    }
}

TEST(IndexPage, OneSelectedOption) {
    Fixture f;
    EXPECT_EQ(count(f.page(), "selected="), 1u);
    EXPECT_EQ(count(f.page("UTC"), "selected="), 1u);
    EXPECT_EQ(count(f.page("America/Argentina/Buenos_Aires"), "selected="), 1u);
}

TEST(IndexPage, PrerenderedZonesFirstInTheirOwnGroup) {
    Fixture f;
    expect_in_order(f.page(), {"<optgroup label=\"Suggested\">", "<option value=\"UTC\">",
                               "<option value=\"Asia/Tokyo\">", "</optgroup>", "<optgroup label=\"All time zones\">",
                               "<option value=\"Africa/Abidjan\">", "<option value=\"Asia/Tokyo\">",
                               "<option value=\"Europe/Berlin\"", "<option value=\"UTC\">", "</optgroup>"});
    f.site.config.timezones.prerender.clear();
    EXPECT_EQ(f.page().find("<optgroup"), std::string::npos);
}

TEST(IndexPage, UpcomingOrderedByInstantAcrossZones) {
    Fixture f;
    // Tokyo 07:00 JST is 22:00Z, Berlin 01:00 CEST is 23:00Z: both on 19 June in UTC.
    expect_in_order(f.page("UTC"), {"<h3>Wed 19 Jun 2024</h3>", "<span class=\"when\">22:00–23:00 UTC (UTC+00:00)",
                                    "Tokyo talk", "<span class=\"when\">23:00 – Thu 20 Jun 2024, 00:00 UTC",
                                    "Berlin talk"});
    expect_in_order(f.page(), {"<h3>Thu 20 Jun 2024</h3>", "00:00–01:00 CEST", "Tokyo talk", "01:00–02:00 CEST",
                               "Berlin talk"});
    EXPECT_EQ(count(f.page(), "<h3>Thu 20 Jun 2024</h3>"), 1u);
}

TEST(IndexPage, DayHeadingsInTheViewZone) {
    Fixture f(Files{{"events/later.md", "---\ntitle: Later\nstart: 2024-06-22\n---\n"}});
    const auto page = f.page("Asia/Tokyo");
    // An all-day event keeps its date in every zone.
    expect_in_order(page, {"<h3>Thu 20 Jun 2024</h3>", "Tokyo talk", "Berlin talk", "</ul>",
                           "<h3>Sat 22 Jun 2024</h3>", "Later", "</ul>"});
}

TEST(IndexPage, WeeklyEventOccursOncePerWeekWithinTheDays) {
    Fixture f(Files{{"events/weekly.md",
                     "---\ntitle: Weekly sync\nstart: 2024-01-04T10:00\nduration: PT1H\nrrule: FREQ=WEEKLY\n---\n"}});
    // From Sat 1 June: Thursdays 6, 13, 20 and 27 June in 28 days; 13 Thursdays up to 29 Aug in 90.
    EXPECT_EQ(count(f.page(std::nullopt, 28), "<strong>Weekly sync</strong>"), 4u);
    EXPECT_EQ(count(f.page(std::nullopt, 90), "<strong>Weekly sync</strong>"), 13u);
    expect_in_order(f.page(std::nullopt, 90),
                    {"<h3>Thu 6 Jun 2024</h3>", "<span class=\"when\">10:00–11:00 CEST", "<h3>Thu 29 Aug 2024</h3>",
                     "<span class=\"when\">10:00–11:00 CEST"});
    // Under its day's heading an entry does not repeat that date (one spanning days keeps its end's).
    EXPECT_EQ(f.page(std::nullopt, 90).find("Thu 6 Jun 2024, 10:00"), std::string::npos);
    EXPECT_NE(f.page(std::nullopt, 28).find("Starting in the next 28 days"), std::string::npos);
}

TEST(IndexPage, LimitCapsTheList) {
    Fixture f(Files{{"events/weekly.md",
                     "---\ntitle: Weekly sync\nstart: 2024-01-04T10:00\nduration: PT1H\nrrule: FREQ=WEEKLY\n---\n"}});
    const auto page = f.page(std::nullopt, 90, 3);
    EXPECT_EQ(count(page, "class=\"event"), 3u);
    // 6 and 13 June, then the Tokyo talk (19 June, 22:00Z); Berlin's talk and 20 June are cut.
    expect_in_order(page,
                    {"<h3>Thu 6 Jun 2024</h3>", "10:00", "Weekly sync", "<h3>Thu 13 Jun 2024</h3>", "10:00", "Weekly sync",
                     "Tokyo talk"});
    EXPECT_EQ(count(page, "<strong>Weekly sync</strong>"), 2u);
    EXPECT_EQ(page.find("Berlin talk"), std::string::npos);
    EXPECT_NE(page.find("Listing the first 3 events."), std::string::npos);
    EXPECT_EQ(f.page().find("Listing the first"), std::string::npos);
}

// The list asks later events only up to a few days past its current last entry; the memo is asked
// for the whole period. Both must give the same page for any site, limit and view: events in the
// zones furthest apart, all-day and timed, single and recurring, many on the same days.
TEST(IndexPage, BoundedExpansionGivesTheSamePageAsTheWholePeriod) {
    const std::vector<std::string> zones = {"Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "Europe/Berlin",
                                            "America/St_Johns", "UTC"};
    const std::vector<std::string> rules = {"", "", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,FR", "FREQ=MONTHLY;BYMONTHDAY=3",
                                            "FREQ=DAILY;INTERVAL=3;COUNT=9"};
    Files files;
    unsigned seed = 7;
    const auto next = [&](unsigned n) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 16) % n;
    };
    for (int i = 0; i < 120; ++i) {
        const bool all_day = next(3) == 0;
        char start[32];
        // NOLINTNEXTLINE(cert-err33-c): fits
        std::snprintf(start, sizeof start, all_day ? "2024-%02u-%02u" : "2024-%02u-%02uT%02u:30", 5 + next(3), 1 + next(28),
                      next(24));
        std::string text = "---\ntitle: Event " + std::to_string(i) + "\nstart: " + start + "\n";
        if (!all_day) text += "duration: PT1H\n";
        text += "timezone: " + zones[next(zones.size())] + "\n";
        if (const auto& rule = rules[next(rules.size())]; !rule.empty()) text += "rrule: \"" + rule + "\"\n";
        files["events/e" + std::to_string(i) + ".md"] = text + "---\n";
    }
    const Fixture f(files);
    for (const int limit : {1, 2, 3, 5, 8, 13, 21, 400}) {
        for (const auto& view : {std::optional<std::string>(), std::optional<std::string>("Pacific/Kiritimati"),
                                 std::optional<std::string>("Pacific/Pago_Pago")}) {
            IndexOptions options{utc(now_text), std::nullopt, 45, limit};
            if (view) options.zone = *find_zone(*view);
            const auto bounded = render_index_page(f.site, options);
            OccurrenceMemo memo;
            options.occurrences = &memo;
            EXPECT_EQ(bounded, render_index_page(f.site, options)) << "limit " << limit << " view " << view.value_or("site");
        }
    }
}

TEST(IndexPage, OnlyVisibleEventsStartingInThePeriod) {
    Fixture f(Files{{"events/past.md", "---\ntitle: Past event\nstart: 2024-05-01T10:00\n---\n"},
                    {"events/running.md", "---\ntitle: Running event\nstart: 2024-05-31\nend: 2024-06-02\n---\n"},
                    {"events/draft.md", "---\ntitle: Draft event\nstart: 2024-06-10T10:00\ndraft: true\n---\n"},
                    {"events/unpublished.md",
                     "---\ntitle: Unpublished event\nstart: 2024-06-10T10:00\npublishDate: 2024-06-05\n---\n"},
                    {"events/expired.md",
                     "---\ntitle: Expired event\nstart: 2024-06-10T10:00\nexpiryDate: 2024-05-20\n---\n"},
                    {"events/far.md", "---\ntitle: Far event\nstart: 2024-09-10T10:00\n---\n"},
                    {"events/soon.md", "---\ntitle: Soon event\nstart: 2024-06-10T10:00\n---\n"},
                    {"blog/post.md", "---\ntitle: A post\ndate: 2024-06-10\n---\n"}});
    const auto page = f.page();
    for (const char* absent : {"Past event", "Running event", "Draft event", "Unpublished event", "Expired event",
                               "Far event", "A post"})
        EXPECT_EQ(page.find(absent), std::string::npos) << absent;
    EXPECT_NE(page.find("Soon event"), std::string::npos);
    EXPECT_EQ(count(page, "class=\"event"), 3u);
}

TEST(IndexPage, StatusIsMarked) {
    Fixture f(Files{{"events/off.md", "---\ntitle: Called off\nstart: 2024-06-10T10:00\nstatus: cancelled\n---\n"},
                    {"events/maybe.md", "---\ntitle: Perhaps\nstart: 2024-06-11T10:00\nstatus: tentative\n---\n"}});
    const auto page = f.page();
    EXPECT_NE(page.find("<li class=\"event cancelled\">"), std::string::npos);
    EXPECT_NE(page.find("<span class=\"status\">Cancelled</span><del><a href=\"https://example.org/events/off/\">"
                        "<strong>Called off</strong></a></del>"),
              std::string::npos);
    EXPECT_NE(page.find("<span class=\"status\">Tentative</span><a href=\"https://example.org/events/maybe/\">"),
              std::string::npos);
    EXPECT_EQ(count(page, "<del>"), 1u);
}

TEST(IndexPage, NoUpcomingEventsSaysSo) {
    Fixture f;
    const auto page = f.page(std::nullopt, 7);
    EXPECT_NE(page.find("<p>No events in the next 7 days.</p>"), std::string::npos);
    EXPECT_EQ(page.find("class=\"event"), std::string::npos);
    EXPECT_NE(f.page(std::nullopt, 1).find("next 1 day."), std::string::npos);
}

TEST(IndexPage, SameInputSameBytes) {
    Fixture f(Files{{"events/weekly.md",
                     "---\ntitle: Weekly sync\nstart: 2024-01-04T10:00\nduration: PT1H\nrrule: FREQ=WEEKLY\n---\n"}});
    EXPECT_EQ(f.page(), f.page());
    EXPECT_EQ(f.page("Asia/Tokyo"), f.page("Asia/Tokyo"));
    EXPECT_EQ(Fixture().page(), Fixture().page());
}

// Calendars selected by the caller (publish_site's selections) give the page the page gives itself.
// A selection that differs shows in the page, so the page does use what it is given.
TEST(IndexPage, GivenCalendarsGiveTheSamePage) {
    Fixture f(Files{{"events/weekly.md",
                     "---\ntitle: Weekly sync\nstart: 2024-01-04T10:00\nduration: PT1H\nrrule: FREQ=WEEKLY\ntags: [ops]\n---\n"}});
    std::map<std::string, std::vector<const Item*>> calendars;
    for (const auto& feed : f.site.config.feeds)
        if (std::find(feed.formats.begin(), feed.formats.end(), FeedFormat::ics) != feed.formats.end())
            calendars[feed.name] = select_items(f.site, feed, FeedView{}, utc(now_text));
    IndexOptions options{utc(now_text), std::nullopt, 90, 50};
    const std::string own = render_index_page(f.site, options);
    options.calendars = &calendars;
    EXPECT_EQ(render_index_page(f.site, options), own);
    options.zone = *find_zone("Asia/Tokyo");
    const std::string tokyo = render_index_page(f.site, options);
    options.calendars = nullptr;
    EXPECT_EQ(render_index_page(f.site, options), tokyo);
    calendars["events"].clear();
    options.calendars = &calendars;
    EXPECT_NE(render_index_page(f.site, options), tokyo);
}

// The daemon keeps each calendar's filters and patches them after an edit: counted, so that a tag
// goes when its last event drops it, and stays while another event still names it.
TEST(IndexPage, GivenFiltersGiveTheSamePage) {
    Fixture f(Files{{"events/a.md", "---\ntitle: A\nstart: 2024-06-12T10:00\nkind: meetup\ntags: [x, y]\n---\n"},
                    {"events/b.md", "---\ntitle: B\nstart: 2024-06-13T10:00\nkind: talk\ntags: [y]\n---\n"}});
    const FeedConfig& feed = f.site.config.feeds.at(0);
    const auto items = select_items(f.site, feed, FeedView{}, utc(now_text));
    std::map<std::string, CalendarFilters> filters{{feed.name, calendar_filters(items)}};
    EXPECT_EQ(filters[feed.name].tags.at("y"), 2u);
    IndexOptions options{utc(now_text), std::nullopt, 90, 50};
    const std::string own = render_index_page(f.site, options);
    options.filters = &filters;
    EXPECT_EQ(render_index_page(f.site, options), own);
    // B edited to name no tag: y stays (A names it), and the counts are those of a fresh count.
    const Item* b = *std::find_if(items.begin(), items.end(), [](const Item* i) { return i->title == "B"; });
    Item edited = *b;
    edited.tags.clear();
    edited.kind = "meetup";
    CalendarFilters& kept = filters[feed.name];
    kept.remove(*b);
    kept.add(edited);
    std::vector<const Item*> now_items = items;
    std::replace(now_items.begin(), now_items.end(), b, static_cast<const Item*>(&edited));
    EXPECT_EQ(kept, calendar_filters(now_items));
    EXPECT_EQ(kept.tags.at("y"), 1u);
    EXPECT_FALSE(kept.kinds.contains("talk"));
    EXPECT_EQ(kept.kinds.at("meetup"), 2u);
    // The page says what it is given.
    EXPECT_EQ(render_index_page(f.site, options).find("<strong>talk</strong>"), std::string::npos);
    EXPECT_NE(own.find("<strong>talk</strong>"), std::string::npos);
}

// The values of an attribute on every element carrying `marker` (a class="…" or other fixed text before it).
std::vector<std::string> hrefs_after(const std::string& page, const std::string& marker) {
    std::vector<std::string> out;
    for (auto pos = page.find(marker); pos != std::string::npos; pos = page.find(marker, pos + 1)) {
        const auto start = page.find('"', page.find("=", pos + marker.size())) + 1;
        out.push_back(page.substr(start, page.find('"', start) - start));
    }
    return out;
}

TEST(IndexPage, OneClickSubscribeLinksInTheServicesForms) {
    Fixture f;
    const auto page = f.page();
    // Google takes the webcal:// address, Outlook.com and Microsoft 365 the https:// one and a name;
    // every value percent-encoded, every '&' escaped in the attribute.
    for (const auto* s : {"<a class=\"apple\" href=\"webcal://example.org/events.ics\">Apple Calendar</a>",
                          "<a class=\"google\" href=\"https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fexample.org%2Fevents.ics\">",
                          "<a class=\"outlook\" href=\"https://outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2Fexample.org%2Fevents.ics"
                          "&amp;name=All%20%3Cb%3Eevents%3C%2Fb%3E\">Outlook.com</a>",
                          "<a class=\"office\" href=\"https://outlook.office.com/calendar/0/addfromweb?url=https%3A%2F%2Fexample.org%2Fevents.ics"
                          "&amp;name=All%20%3Cb%3Eevents%3C%2Fb%3E\">Microsoft 365</a>",
                          "<label class=\"copy\">Copy address <input type=\"text\" readonly=\"readonly\" value=\"https://example.org/events.ics\" /></label>"})
        EXPECT_NE(page.find(s), std::string::npos) << s;
    // Only calendars get them, once each; a zone view subscribes to that zone's calendar.
    EXPECT_EQ(hrefs_after(page, "class=\"outlook\""), std::vector<std::string>{
                                                          "https://outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2Fexample.org%2Fevents.ics&amp;name=All%20%3Cb%3Eevents%3C%2Fb%3E"});
    const auto tokyo = f.page("Asia/Tokyo");
    EXPECT_NE(tokyo.find("cid=webcal%3A%2F%2Fexample.org%2Ftz%2FAsia%2FTokyo%2Fevents.ics\""), std::string::npos);
    EXPECT_NE(tokyo.find("value=\"https://example.org/tz/Asia/Tokyo/events.ics\""), std::string::npos);
}

TEST(IndexPage, DocumentsFollowDocumentsUrlItemPagesKeepBaseUrl) {
    Fixture f;
    f.site.config.site.documents_url = "http://127.0.0.1:8080/";
    const auto page = f.page("Asia/Tokyo");
    EXPECT_NE(page.find("value=\"http://127.0.0.1:8080/tz/Asia/Tokyo/events.ics\""), std::string::npos);
    EXPECT_NE(page.find("cid=webcal%3A%2F%2F127.0.0.1%3A8080%2Ftz%2FAsia%2FTokyo%2Fevents.ics"), std::string::npos);
    EXPECT_NE(page.find("class=\"ics\" href=\"http://127.0.0.1:8080/tz/Asia/Tokyo/events/"), std::string::npos);
    EXPECT_NE(page.find("href=\"https://example.org/events/tokyo/\""), std::string::npos);
    EXPECT_EQ(page.find("https://example.org/tz/"), std::string::npos);
}

TEST(IndexPage, TagsAndKindsAsFilteredCalendars) {
    Fixture f(Files{{"events/series.md",
                     "---\ntitle: Series\nstart: 2024-06-12T10:00\nkind: meetup\n"
                     "tags: [rust lang, \"a&b\"]\n---\n"}});
    const auto page = f.page("Asia/Tokyo");
    expect_in_order(page, {"<li class=\"filter\">Kind <strong>meetup</strong>",
                           "href=\"webcal://example.org/tz/Asia/Tokyo/events.ics?kind=meetup\"",
                           "<li class=\"filter\">Tag <strong>a&amp;b</strong>",
                           "href=\"webcal://example.org/tz/Asia/Tokyo/events.ics?tag=a%26b\"",
                           "<li class=\"filter\">Tag <strong>rust lang</strong>",
                           "cid=webcal%3A%2F%2Fexample.org%2Ftz%2FAsia%2FTokyo%2Fevents.ics%3Ftag%3Drust%2520lang\"",
                           "value=\"https://example.org/tz/Asia/Tokyo/events.ics?tag=rust%20lang\""});
    // No tags or kinds: no filters.
    EXPECT_EQ(Fixture().page().find("class=\"filter"), std::string::npos);
}

TEST(IndexPage, EachEventLinksItsOwnDocumentAndGoogle) {
    Fixture f(Files{{"events/weekly.md",
                     "---\ntitle: Weekly sync\nstart: 2024-01-04T10:00\nduration: PT1H\n"
                     "rrule: FREQ=WEEKLY;BYDAY=TH\nlocation: Room 1\n---\nEvery week.\n"},
                    {"events/fair.md", "---\ntitle: Fair\nstart: 2024-06-14\nend: 2024-06-15\n---\n"}});
    const auto page = f.page();
    const auto ics = hrefs_after(page, "class=\"ics\"");
    const auto slug = [&](const char* path) {
        for (const auto& item : f.site.items)
            if (item.path == path) return event_slug(item.uid);
        return std::string();
    };
    // Every upcoming occurrence links its event's document in the view it is shown in.
    EXPECT_EQ(count(page, "class=\"ics\""), count(page, "<li class=\"event"));
    EXPECT_NE(std::find(ics.begin(), ics.end(), "https://example.org/events/" + slug("events/weekly.md") + ".ics"), ics.end());
    const auto tokyo = f.page("Asia/Tokyo");
    EXPECT_NE(tokyo.find("href=\"https://example.org/tz/Asia/Tokyo/events/" + slug("events/tokyo.md") + ".ics\""), std::string::npos);
    // A single event: its UTC instants, shown in the view's zone.
    EXPECT_NE(tokyo.find("href=\"https://calendar.google.com/calendar/render?action=TEMPLATE&amp;text=Tokyo%20talk"
                         "&amp;dates=20240619T220000Z/20240619T230000Z&amp;ctz=Asia%2FTokyo&amp;details=https%3A%2F%2Fexample.org%2Fevents%2Ftokyo%2F"
                         "&amp;location=Shibuya%20%3CHall%3E%20%26%20Co\""),
              std::string::npos);
    // A series: its first start in its own wall time and zone, with its rule.
    EXPECT_NE(page.find("text=Weekly%20sync&amp;dates=20240104T100000/20240104T110000&amp;ctz=Europe%2FBerlin"
                        "&amp;recur=RRULE%3AFREQ%3DWEEKLY%3BBYDAY%3DTH&amp;details=Every%20week.%0A%0Ahttps%3A%2F%2Fexample.org%2Fevents%2Fweekly%2F"
                        "&amp;location=Room%201\""),
              std::string::npos);
    // All day: dates, the end exclusive.
    EXPECT_NE(page.find("text=Fair&amp;dates=20240614/20240616&amp;details="), std::string::npos);
}

// The JSON-LD block of a page, parsed.
nlohmann::json structured_data(const std::string& page) {
    const std::string open = "<script type=\"application/ld+json\">";
    const auto start = page.find(open);
    EXPECT_NE(start, std::string::npos);
    if (start == std::string::npos) return nullptr;
    const auto from = start + open.size();
    EXPECT_EQ(count(page, "<script"), 1u);
    return nlohmann::json::parse(page.substr(from, page.find("</script>", from) - from));
}

// "2024-06-20T07:00:00+09:00" as an instant.
Instant parse_offset_time(const std::string& text) {
    std::istringstream in(text);
    date::sys_seconds t{};
    in >> date::parse("%FT%T%Ez", t);
    EXPECT_FALSE(in.fail()) << text;
    return t;
}

TEST(IndexPage, SchemaOrgEventsForTheUpcomingOccurrences) {
    Fixture f(Files{{"events/off.md",
                     "---\ntitle: Called off\nstart: 2024-06-10T10:00\nstatus: cancelled\n"
                     "location: Hall </script><b>\ngeo: {lat: 52.5, lon: 13.4}\n---\nNo & more.\n"},
                    {"events/fair.md", "---\ntitle: Fair\nstart: 2024-06-14\nend: 2024-06-15\n---\n"}});
    for (const std::optional<std::string>& zone : {std::optional<std::string>(), std::optional<std::string>("Asia/Tokyo")}) {
        SCOPED_TRACE(zone.value_or("default"));
        const auto page = f.page(zone);
        EXPECT_EQ(page.find("</script><b>"), std::string::npos);
        const auto events = structured_data(page);
        ASSERT_TRUE(events.is_array());
        ASSERT_EQ(events.size(), count(page, "<li class=\"event"));
        std::map<std::string, nlohmann::json> by_name;
        for (const auto& e : events) {
            EXPECT_EQ(e["@context"], "https://schema.org");
            EXPECT_EQ(e["@type"], "Event");
            by_name[e["name"]] = e;
        }
        // Dates are the feed's instants, with the view's offset.
        const auto& tokyo = by_name.at("Tokyo talk");
        EXPECT_EQ(parse_offset_time(tokyo["startDate"]), utc("2024-06-19T22:00Z"));
        EXPECT_EQ(parse_offset_time(tokyo["endDate"]), utc("2024-06-19T23:00Z"));
        EXPECT_EQ(tokyo["startDate"], zone ? "2024-06-20T07:00:00+09:00" : "2024-06-20T00:00:00+02:00");
        EXPECT_EQ(tokyo["eventStatus"], "https://schema.org/EventScheduled");
        EXPECT_EQ(tokyo["eventAttendanceMode"], "https://schema.org/MixedEventAttendanceMode");
        EXPECT_EQ(tokyo["location"][0]["@type"], "Place");
        EXPECT_EQ(tokyo["location"][0]["name"], "Shibuya <Hall> & Co");
        EXPECT_EQ(tokyo["location"][1], (nlohmann::json{{"@type", "VirtualLocation"}, {"url", "https://meet.example.com/t?a=1&b=2"}}));
        EXPECT_EQ(tokyo["url"], "https://example.org/events/tokyo/");
        const auto& berlin = by_name.at("Berlin talk");
        EXPECT_EQ(berlin["url"], "https://berlin.example.com/talk");
        EXPECT_FALSE(berlin.contains("location"));
        EXPECT_EQ(berlin["eventAttendanceMode"], "https://schema.org/OfflineEventAttendanceMode");
        const auto& off = by_name.at("Called off");
        EXPECT_EQ(off["eventStatus"], "https://schema.org/EventCancelled");
        EXPECT_EQ(off["location"]["name"], "Hall </script><b>");
        EXPECT_EQ(off["location"]["geo"]["latitude"], 52.5);
        EXPECT_EQ(off["description"], "No & more.");
        EXPECT_EQ(parse_offset_time(off["startDate"]), utc("2024-06-10T08:00Z"));
        // All day: dates, the end the last day.
        EXPECT_EQ(by_name.at("Fair")["startDate"], "2024-06-14");
        EXPECT_EQ(by_name.at("Fair")["endDate"], "2024-06-15");
    }
}

// Runs `xmllint {args} file`; returns its exit status and what it printed.
std::pair<int, std::string> run_xmllint(const std::string& args, const std::string& file) {
    std::string output;
    FILE* pipe = popen(("xmllint " + args + " '" + file + "' 2>&1").c_str(), "r");
    if (!pipe) return {-1, "popen failed"};
    char buffer[4096];
    while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    return {pclose(pipe), output};
}

TEST(IndexPage, ParsesAsHtmlAndAsXml) {
    if (std::system("xmllint --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "xmllint is not installed";
    Fixture f(Files{{"events/off.md",
                     "---\ntitle: Called off\nstart: 2024-06-10T10:00\nstatus: cancelled\n"
                     "kind: talk\ntags: [x]\n---\n"}});
    const auto path = ::testing::TempDir() + "almanac_index_page_test.html";
    std::ofstream(path, std::ios::binary) << f.page("Asia/Tokyo");
    for (const char* args : {"--html --noout", "--noout"}) {
        const auto [status, output] = run_xmllint(args, path);
        EXPECT_EQ(status, 0) << args << "\n"
                             << output;
        EXPECT_EQ(output, "") << args;
    }
    std::remove(path.c_str());
}

}  // namespace
}  // namespace almanac
