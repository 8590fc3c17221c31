#include "feeds/ics_writer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <clocale>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace almanac {
namespace {

namespace fs = std::filesystem;

SiteConfig test_config() {
    SiteConfig c;
    c.site.title = "Test site";
    c.site.base_url = "https://example.org/";
    c.site.timezone = "Europe/Berlin";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"}};
    c.content.sections_given = true;
    c.feeds = {{"events", "Events, all of them", "", {"events"}, {FeedFormat::ics}, {}, {}, std::nullopt, {}}};
    c.feeds_given = true;
    c.server.refresh_interval_seconds = 12 * 3600;
    return c;
}

// A site of events, each given as "file name → Markdown with front matter".
Site make_site(const std::map<std::string, std::string>& files, SiteConfig config = test_config()) {
    std::map<std::string, ParsedSource> parsed;
    for (const auto& [name, text] : files) {
        const auto path = "events/" + name;
        parsed[path] = parse_source(SourceFile{path, "content/" + path, text}, *find_section(config, "events"), config);
        for (const auto& d : parsed[path].diagnostics)
            EXPECT_NE(d.severity, Severity::error) << format_text(d);
    }
    return assemble_site(std::move(config), parsed, {});
}

std::string render(const Site& site, std::optional<std::string_view> view_zone = std::nullopt) {
    RenderRequest request;
    request.site = &site;
    request.feed = &site.config.feeds.front();
    for (const auto& item : site.items) request.items.push_back(&item);
    if (view_zone) request.view.zone = *find_zone(*view_zone);
    request.self_url = "https://example.org/events.ics";
    request.updated = date::sys_days{date::year{2025} / 1 / 1};
    return render_ics(request).str();
}

std::string event(std::string_view front_matter, std::string_view body = "") {
    return "---\n" + std::string(front_matter) + "---\n" + std::string(body);
}

// The content lines of a document: unfolded, without CRLF.
std::vector<std::string> content_lines(const std::string& ics) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < ics.size()) {
        const auto end = ics.find("\r\n", start);
        const auto line = ics.substr(start, end - start);
        if (!line.empty() && line.front() == ' ' && !lines.empty())
            lines.back() += line.substr(1);
        else
            lines.push_back(line);
        start = end == std::string::npos ? ics.size() : end + 2;
    }
    return lines;
}

// The content lines of the VEVENT with this UID.
std::vector<std::string> vevent(const std::string& ics, std::string_view uid) {
    const auto lines = content_lines(ics);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] != "BEGIN:VEVENT") continue;
        const auto end = std::find(lines.begin() + static_cast<std::ptrdiff_t>(i), lines.end(), "END:VEVENT");
        std::vector<std::string> component(lines.begin() + static_cast<std::ptrdiff_t>(i), end);
        if (std::find(component.begin(), component.end(), "UID:" + std::string(uid)) != component.end()) return component;
    }
    return {};
}

bool has(const std::vector<std::string>& lines, std::string_view line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::size_t count_prefix(const std::vector<std::string>& lines, std::string_view prefix) {
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.starts_with(prefix); }));
}

std::string dump(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2
                                         : (c >> 4) == 0xE   ? 3
                                         : (c >> 3) == 0x1E  ? 4
                                                             : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

const std::string weekly_ny = event(
    "title: Weekly\nstart: 2025-02-04T10:00\nduration: PT30M\ntimezone: America/New_York\n"
    "rrule: FREQ=WEEKLY;UNTIL=2025-11-25T10:00\nexdate: [2025-07-01T10:00]\n");
const std::string single_berlin =
    event("title: Single\nstart: 2025-03-29T10:00\nend: 2025-03-29T11:30\ntimezone: Europe/Berlin\n");

TEST(IcsWriter, CalendarProperties) {
    const auto site = make_site({{"a.md", single_berlin}});
    const auto lines = content_lines(render(site));
    const std::vector<std::string> head(lines.begin(), lines.begin() + 11);
    EXPECT_EQ(head, (std::vector<std::string>{"BEGIN:VCALENDAR", "PRODID:-//almanac//almanac//EN", "VERSION:2.0",
                                              "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "NAME:Events\\, all of them",
                                              "X-WR-CALNAME:Events\\, all of them",
                                              "URL:https://example.org/events.ics",
                                              "REFRESH-INTERVAL;VALUE=DURATION:PT12H", "X-PUBLISHED-TTL:PT12H",
                                              "BEGIN:VTIMEZONE"}))
        << dump(lines);
    EXPECT_EQ(count_prefix(lines, "X-WR-TIMEZONE"), 0u);
    EXPECT_EQ(lines.back(), "END:VCALENDAR");
    const auto ev = vevent(render(site), "events/a@example.org");
    EXPECT_TRUE(has(ev, "DTSTART;TZID=Europe/Berlin:20250329T100000")) << dump(ev);
    EXPECT_TRUE(has(ev, "DTEND;TZID=Europe/Berlin:20250329T113000")) << dump(ev);
    EXPECT_TRUE(has(ev, "DTSTAMP:20250101T000000Z")) << "no lastmod: the request's updated\n"
                                                     << dump(ev);
    EXPECT_EQ(count_prefix(ev, "LAST-MODIFIED"), 0u);
    EXPECT_TRUE(has(ev, "URL:https://example.org/events/a/"));
    EXPECT_TRUE(has(ev, "STATUS:CONFIRMED"));
}

// A single event's lines up to its times are written without libical's property objects: these
// are libical's bytes (almanac wrote them through libical before), folding and escaping included.
TEST(IcsWriter, SingleEventHeadsAreLibicalsBytes) {
    const Site site = make_site(
        {{"long.md", event("title: Long\nuid: \"a-very-long-uid,with;commas;and\\\\backslashes-and-more-text-to-fold-beyond-"
                           "seventy-five-octets@example.org\"\nstart: 2024-03-01T10:00\nduration: PT1H\nsequence: 3\n"
                           "status: tentative\n")},
         {"day.md", event("title: Day\nstart: 2024-05-01\n")},
         {"utc.md", event("title: Utc\nstart: 2024-05-01T10:00Z\nend: 2024-05-01T11:30:15Z\nlastmod: 2024-04-01T08:09:10Z\n")},
         {"cancel.md", event("title: Cancelled\nstart: 2024-06-01T10:00\ntimezone: America/Argentina/ComodRivadavia\n"
                             "duration: PT2H\nstatus: cancelled\n")}});
    const std::string view = render(site, "America/Argentina/ComodRivadavia");
    for (const char* head : {
             "BEGIN:VEVENT\r\nUID:a-very-long-uid\\,with\\;commas\\;and\\\\backslashes-and-more-text-to-fold-b\r\n "
             "eyond-seventy-five-octets@example.org\r\nDTSTAMP:20250101T000000Z\r\nSEQUENCE:3\r\nSTATUS:TENTATIVE\r\n"
             "DTSTART;TZID=America/Argentina/ComodRivadavia:20240301T060000\r\n"
             "DTEND;TZID=America/Argentina/ComodRivadavia:20240301T070000\r\nSUMMARY:Long\r\n",
             "BEGIN:VEVENT\r\nUID:events/day@example.org\r\nDTSTAMP:20250101T000000Z\r\nSEQUENCE:0\r\n"
             "STATUS:CONFIRMED\r\nDTSTART;VALUE=DATE:20240501\r\nDTEND;VALUE=DATE:20240502\r\nSUMMARY:Day\r\n",
             "BEGIN:VEVENT\r\nUID:events/utc@example.org\r\nDTSTAMP:20240401T080910Z\r\nSEQUENCE:0\r\n"
             "STATUS:CONFIRMED\r\nDTSTART;TZID=America/Argentina/ComodRivadavia:20240501T070000\r\n"
             "DTEND;TZID=America/Argentina/ComodRivadavia:20240501T083015\r\nSUMMARY:Utc\r\n",
             "BEGIN:VEVENT\r\nUID:events/cancel@example.org\r\nDTSTAMP:20250101T000000Z\r\nSEQUENCE:0\r\n"
             "STATUS:CANCELLED\r\nDTSTART;TZID=America/Argentina/ComodRivadavia:20240601T100000\r\n"
             "DTEND;TZID=America/Argentina/ComodRivadavia:20240601T120000\r\nSUMMARY:Cancelled\r\n"})
        EXPECT_NE(view.find(head), std::string::npos) << head;
    const std::string own = render(site);
    EXPECT_NE(own.find("DTSTART:20240501T100000Z\r\nDTEND:20240501T113015Z\r\n"), std::string::npos);
    EXPECT_NE(own.find("DTSTART;TZID=Europe/Berlin:20240301T100000\r\nDTEND;TZID=Europe/Berlin:20240301T110000\r\n"),
              std::string::npos);
}

// A VEVENT without GEO, CONFERENCE or ORGANIZER has its lines from SUMMARY on written without
// libical's objects; one with an ORGANIZER still goes through them. The same event both ways gives
// the same lines but that one: escaping, folding (across UTF-8), the HTML body, CATEGORIES and
// LAST-MODIFIED alike.
TEST(IcsWriter, TailsWrittenDirectlyAreLibicalsBytes) {
    std::string long_title;
    while (long_title.size() < 160) long_title += "Süd, Ost; \\\\ and 東京 ";
    const std::string fields = "title: \"" + long_title +
                               "\"\nstart: 2024-03-01T10:00\nduration: PT1H\n"
                               "location: \"Hall 3, Floor 2; Room \\\\7\"\nurl: https://example.org/a,b;c?d=e&f\n"
                               "tags: [\"one, two\", \"semi;colon\", back\\\\slash]\nkind: \"Meet-up\"\n"
                               "lastmod: 2024-02-01T08:09:10Z\n";
    const std::string body =
        "A paragraph with *emphasis*, a [link](https://example.org/x?y=1&z=2) and a comma, "
        "a semicolon; a backslash \\\\ and a line\nthat goes on, long enough to be folded more "
        "than once: " +
        std::string(200, 'x') + " 終わり.\n\n- a list\n- of items\n";
    const auto site = make_site({{"plain.md", event(fields + "uid: plain@example.org\n", body)},
                                 {"organized.md", event(fields + "uid: organized@example.org\norganizer: { email: j@example.org }\n", body)}});
    const std::string ics = render(site);
    const auto tail = [&](std::string_view uid) {
        const auto begin = ics.find("UID:" + std::string(uid));
        const auto from = ics.find("\r\nSUMMARY:", begin) + 2;
        std::string lines = ics.substr(from, ics.find("END:VEVENT", from) + 12 - from);
        if (const auto organizer = lines.find("ORGANIZER:"); organizer != std::string::npos)
            lines.erase(organizer, lines.find("\r\n", organizer) + 2 - organizer);
        return lines;
    };
    const std::string plain = tail("plain@example.org");
    EXPECT_NE(ics.find("ORGANIZER:mailto:j@example.org"), std::string::npos);
    EXPECT_NE(plain.find("X-ALT-DESC;FMTTYPE=text/html:"), std::string::npos);
    EXPECT_NE(plain.find("CATEGORIES:one\\, two\r\n"), std::string::npos);
    EXPECT_NE(plain.find("LAST-MODIFIED:20240201T080910Z\r\n"), std::string::npos);
    EXPECT_EQ(plain, tail("organized@example.org"));
}

TEST(IcsWriter, CrlfAndFoldingNeverSplitUtf8) {
    std::string title;
    while (title.size() < 200) title += "東京";
    const auto site = make_site({{"a.md", event("title: \"" + title + "\"\nstart: 2025-03-29T10:00\n")}});
    const auto ics = render(site);
    std::size_t start = 0;
    bool saw_fold = false;
    while (start < ics.size()) {
        const auto end = ics.find("\r\n", start);
        ASSERT_NE(end, std::string::npos) << "every line ends with CRLF";
        const auto line = std::string_view(ics).substr(start, end - start);
        EXPECT_LE(line.size(), 75u) << line;
        EXPECT_EQ(line.find('\n'), std::string_view::npos);
        EXPECT_TRUE(valid_utf8(line.starts_with(' ') ? line.substr(1) : line)) << "split UTF-8 sequence: " << line;
        saw_fold = saw_fold || line.starts_with(' ');
        start = end + 2;
    }
    EXPECT_TRUE(saw_fold);
    EXPECT_TRUE(has(vevent(ics, "events/a@example.org"), "SUMMARY:" + title));
}

TEST(IcsWriter, TextEscaping) {
    struct Case {
        const char* title;  // as YAML double-quoted text
        const char* summary;
    };
    const Case cases[] = {
        {"a, b", "SUMMARY:a\\, b"},
        {"a; b", "SUMMARY:a\\; b"},
        {"back\\\\slash", "SUMMARY:back\\\\slash"},
        {"line\\nbreak", "SUMMARY:line\\nbreak"},
        {"colon: \\\"quoted\\\"", "SUMMARY:colon: \"quoted\""},
        {"emoji 🎉 and 日本", "SUMMARY:emoji 🎉 and 日本"},
    };
    for (const auto& c : cases) {
        const auto site = make_site({{"a.md", event(std::string("title: \"") + c.title + "\"\nstart: 2025-03-29T10:00\n")}});
        const auto ev = vevent(render(site), "events/a@example.org");
        EXPECT_TRUE(has(ev, c.summary)) << c.title << "\n"
                                        << dump(ev);
    }
    const auto site = make_site({{"a.md", event("title: T\nstart: 2025-03-29T10:00\nkind: talk\ntags: [x, \"a,b\", \"c;d\"]\n"
                                                "location: \"Room 1, 2nd floor; East\"\n",
                                                "First, line.\\\nSecond; line \\ here.\n")}});
    const auto ev = vevent(render(site), "events/a@example.org");
    EXPECT_TRUE(has(ev, "CATEGORIES:talk")) << dump(ev);
    EXPECT_TRUE(has(ev, "CATEGORIES:x"));
    EXPECT_TRUE(has(ev, "CATEGORIES:a\\,b")) << "a comma inside a tag is escaped\n"
                                             << dump(ev);
    EXPECT_TRUE(has(ev, "CATEGORIES:c\\;d"));
    EXPECT_TRUE(has(ev, "LOCATION:Room 1\\, 2nd floor\\; East"));
    EXPECT_EQ(count_prefix(ev, "DESCRIPTION:First\\, line.\\nSecond\\; line \\\\ here."), 1u) << dump(ev);
    EXPECT_EQ(count_prefix(ev, "X-ALT-DESC;FMTTYPE=text/html:<p>First\\, line."), 1u) << dump(ev);
}

TEST(IcsWriter, CategoriesEachOnce) {
    // kind: bof with tags: [bof] showed "bof, bof" in calendar clients.
    const auto site = make_site({{"a.md", event("title: T\nstart: 2025-03-29T10:00\nkind: bof\ntags: [bof, x, x]\n")}});
    const auto ev = vevent(render(site), "events/a@example.org");
    EXPECT_EQ(count_prefix(ev, "CATEGORIES:bof"), 1u) << dump(ev);
    EXPECT_EQ(count_prefix(ev, "CATEGORIES:x"), 1u) << dump(ev);
    EXPECT_EQ(count_prefix(ev, "CATEGORIES:"), 2u) << dump(ev);
}

TEST(IcsWriter, AllDayHasExclusiveEnd) {
    const auto site = make_site({{"a.md", event("title: Fest\nstart: 2025-04-16\nend: 2025-04-18\n")}});
    const auto ics = render(site);
    const auto ev = vevent(ics, "events/a@example.org");
    EXPECT_TRUE(has(ev, "DTSTART;VALUE=DATE:20250416")) << dump(ev);
    EXPECT_TRUE(has(ev, "DTEND;VALUE=DATE:20250419")) << dump(ev);
    EXPECT_EQ(ics.find("BEGIN:VTIMEZONE"), std::string::npos) << "dates need no VTIMEZONE";
    // The same in a zone view: dates stay dates.
    EXPECT_TRUE(has(vevent(render(site, "Asia/Tokyo"), "events/a@example.org"), "DTEND;VALUE=DATE:20250419"));
}

TEST(IcsWriter, RecurrenceUntilInUtcAndExdateInOwnZone) {
    const auto site = make_site({{"w.md", weekly_ny}});
    const auto ev = vevent(render(site), "events/w@example.org");
    EXPECT_TRUE(has(ev, "RRULE:FREQ=WEEKLY;UNTIL=20251125T150000Z")) << dump(ev);
    EXPECT_TRUE(has(ev, "EXDATE;TZID=America/New_York:20250701T100000")) << dump(ev);
    EXPECT_TRUE(has(ev, "DTSTART;TZID=America/New_York:20250204T100000")) << dump(ev);
}

TEST(IcsWriter, RdateTheRuleAlreadyYieldsIsLeftOut) {
    // ical.js (Thunderbird) would show such an occurrence twice.
    const auto site = make_site({{"l.md", event("title: L\nstart: 2024-02-08T18:00\nduration: PT1H30M\n"
                                                "timezone: America/Mexico_City\nrrule: FREQ=WEEKLY;INTERVAL=4;BYDAY=TH\n"
                                                "rdate: [2024-12-12T18:00, 2024-12-19T18:00]\n")}});
    const auto ev = vevent(render(site), "events/l@example.org");
    EXPECT_EQ(count_prefix(ev, "RDATE"), 1u) << dump(ev);
    EXPECT_TRUE(has(ev, "RDATE;TZID=America/Mexico_City:20241219T180000")) << dump(ev);
}

TEST(IcsWriter, RdateWithoutRruleBecomesSeparateEvents) {
    const auto site = make_site({{"r.md", event("title: Talks\nstart: 2025-05-06T18:30\nend: 2025-05-06T20:00\n"
                                                "rdate: [2025-06-03T18:30, 2025-10-28T18:30]\nexdate: [2025-06-03T18:30]\n")}});
    const auto ics = render(site);
    const auto lines = content_lines(ics);
    EXPECT_EQ(count_prefix(lines, "RDATE"), 0u) << dump(lines);
    EXPECT_EQ(count_prefix(lines, "EXDATE"), 0u);
    EXPECT_EQ(count_prefix(lines, "BEGIN:VEVENT"), 2u);
    EXPECT_TRUE(has(vevent(ics, "events/r@example.org"), "DTSTART;TZID=Europe/Berlin:20250506T183000"));
    const auto extra = vevent(ics, "events/r@example.org-rdate-20251028T183000");
    EXPECT_TRUE(has(extra, "DTSTART;TZID=Europe/Berlin:20251028T183000")) << dump(lines);
    EXPECT_TRUE(has(extra, "DTEND;TZID=Europe/Berlin:20251028T200000")) << dump(extra);
    EXPECT_TRUE(vevent(ics, "events/r@example.org-rdate-20250603T183000").empty()) << "excluded by EXDATE";
}

TEST(IcsWriter, CancelledStaysWithSequenceAndDtstampFromLastmod) {
    const auto site = make_site({{"c.md", event("title: Off\nstart: 2025-06-12T10:00\ntimezone: America/Bogota\n"
                                                "status: cancelled\nsequence: 3\nlastmod: 2025-05-20T15:00:00Z\n"
                                                "organizer: { name: \"Doe, J\", email: j@example.org }\n"
                                                "online: https://meet.example.org/x\ngeo: { lat: 4.6, lon: -74.08 }\n")}});
    const auto ev = vevent(render(site), "events/c@example.org");
    EXPECT_TRUE(has(ev, "STATUS:CANCELLED")) << dump(ev);
    EXPECT_TRUE(has(ev, "SEQUENCE:3"));
    EXPECT_TRUE(has(ev, "DTSTAMP:20250520T150000Z"));
    EXPECT_TRUE(has(ev, "LAST-MODIFIED:20250520T150000Z"));
    EXPECT_TRUE(has(ev, "ORGANIZER;CN=\"Doe, J\":mailto:j@example.org")) << dump(ev);
    EXPECT_TRUE(has(ev, "CONFERENCE;VALUE=URI;FEATURE=VIDEO:https://meet.example.org/x"));
    EXPECT_TRUE(has(ev, "GEO:4.600000;-74.080000"));
}

TEST(IcsWriter, ZoneViewConvertsSingleEventsAndKeepsRecurringOnes) {
    const auto site = make_site({{"a.md", single_berlin},
                                 {"w.md", weekly_ny},
                                 {"i.md", event("title: Abs\nstart: 2025-09-01T15:00:00Z\nend: 2025-09-01T16:00:00Z\n")}});
    const auto ics = render(site, "Australia/Sydney");
    const auto lines = content_lines(ics);
    EXPECT_TRUE(has(lines, "X-WR-TIMEZONE:Australia/Sydney"));
    EXPECT_TRUE(has(lines, "TZID:Australia/Sydney"));
    EXPECT_TRUE(has(lines, "TZID:America/New_York"));
    EXPECT_FALSE(has(lines, "TZID:Europe/Berlin")) << "no event is written in Berlin time any more";
    // 10:00 CET = 09:00Z = 20:00 AEDT.
    EXPECT_TRUE(has(vevent(ics, "events/a@example.org"), "DTSTART;TZID=Australia/Sydney:20250329T200000")) << ics;
    EXPECT_TRUE(has(vevent(ics, "events/a@example.org"), "DTEND;TZID=Australia/Sydney:20250329T213000"));
    EXPECT_TRUE(has(vevent(ics, "events/w@example.org"), "DTSTART;TZID=America/New_York:20250204T100000"));
    EXPECT_TRUE(has(vevent(ics, "events/i@example.org"), "DTSTART;TZID=Australia/Sydney:20250902T010000"));

    const auto utc_view = render(site, "UTC");
    EXPECT_TRUE(has(vevent(utc_view, "events/a@example.org"), "DTSTART:20250329T090000Z"));
    EXPECT_EQ(count_prefix(content_lines(utc_view), "TZID:UTC"), 0u);

    // Default view: absolute instants in UTC.
    EXPECT_TRUE(has(vevent(render(site), "events/i@example.org"), "DTSTART:20250901T150000Z"));
}

TEST(IcsWriter, ZoneViewFallsBackToUtcForTheSecondHalfOfAnOverlap) {
    // 06:30Z on 2 Nov 2025 is the second 01:30 in New York; TZID=America/New_York would mean the first.
    const auto site = make_site({{"o.md", event("title: O\nstart: 2025-11-02T06:30:00Z\nend: 2025-11-02T07:30:00Z\n")}});
    const auto ev = vevent(render(site, "America/New_York"), "events/o@example.org");
    EXPECT_TRUE(has(ev, "DTSTART:20251102T063000Z")) << dump(ev);
    EXPECT_TRUE(has(ev, "DTEND:20251102T073000Z")) << dump(ev);
}

TEST(IcsWriter, SingleEventsInGapsAndOverlapsAreWrittenAtTheirRfc5545Instant) {
    // ical.js and libical read a gap time with the later offset and an overlap time as the second
    // one; the instant RFC 5545 §3.3.5 gives is written so that no client can read it otherwise.
    const auto site = make_site({{"g.md", event("title: G\nstart: 2025-03-30T02:30\nduration: PT1H\n")},
                                 {"o.md", event("title: O\nstart: 2025-10-26T02:30\nduration: PT1H\n")},
                                 {"r.md", event("title: R\nstart: 2025-03-30T02:30\nduration: PT1H\nrrule: FREQ=DAILY;COUNT=3\n")}});
    const auto ics = render(site);
    EXPECT_TRUE(has(vevent(ics, "events/g@example.org"), "DTSTART;TZID=Europe/Berlin:20250330T033000")) << ics;
    EXPECT_TRUE(has(vevent(ics, "events/o@example.org"), "DTSTART:20251026T003000Z")) << ics;
    // A recurring event keeps its wall time: the rule is about 02:30 on every other day.
    EXPECT_TRUE(has(vevent(ics, "events/r@example.org"), "DTSTART;TZID=Europe/Berlin:20250330T023000")) << ics;
    EXPECT_TRUE(has(vevent(render(site, "UTC"), "events/g@example.org"), "DTSTART:20250330T013000Z"));
}

TEST(IcsWriter, LongCountsAreCoveredLikeRulesWithoutEnd) {
    // Finding the last of a long COUNT cost every render one libical step per occurrence (50 rules of
    // COUNT=99999 took half a minute a view): past 1,000 the zone is covered as for a rule without an
    // end. Casablanca lists its Ramadan transitions one by one, so the coverage shows in its RDATEs.
    const auto zone_lines = [](const std::string& rrule) {
        const auto site = make_site({{"r.md", event("title: R\nstart: 2024-01-10T18:00\nduration: PT1H\n"
                                                    "timezone: Africa/Casablanca\nrrule: " +
                                                    rrule + "\n")}});
        const auto lines = content_lines(render(site));
        const auto begin = std::find(lines.begin(), lines.end(), "BEGIN:VTIMEZONE");
        return std::vector<std::string>(begin, std::find(begin, lines.end(), "END:VTIMEZONE"));
    };
    const auto without_end = zone_lines("FREQ=DAILY");
    EXPECT_TRUE(has(without_end, "RDATE:20371115T020000")) << dump(without_end);
    const auto exact = zone_lines("FREQ=DAILY;COUNT=1000");  // the last one on 2026-10-05
    EXPECT_TRUE(has(exact, "RDATE:20260322T020000")) << dump(exact);
    EXPECT_FALSE(has(exact, "RDATE:20270314T020000")) << dump(exact);
    EXPECT_EQ(zone_lines("FREQ=DAILY;COUNT=1001"), without_end);
    EXPECT_EQ(zone_lines("FREQ=DAILY;COUNT=99999"), without_end);
}

TEST(IcsWriter, DeterministicWhateverTheEnvironment) {
    const auto site = make_site({{"a.md", single_berlin}, {"w.md", weekly_ny}});
    const auto first = render(site, "Europe/Berlin");
    const char* old_tz = std::getenv("TZ");
    const std::string saved_tz = old_tz ? old_tz : "";
    setenv("TZ", "Pacific/Auckland", 1);
    tzset();
    setenv("LC_ALL", "C.UTF-8", 1);
    std::setlocale(LC_ALL, "");
    const auto second = render(site, "Europe/Berlin");
    std::setlocale(LC_ALL, "C");
    unsetenv("LC_ALL");
    if (old_tz) setenv("TZ", saved_tz.c_str(), 1);
    else unsetenv("TZ");
    tzset();
    EXPECT_EQ(first, second);
    EXPECT_EQ(render(site), render(site));
}

// The fixture site of tests/conformance/ics, rendered in its default view and its pre-rendered
// zones; written to $ALMANAC_ICS_OUT (as `almanac build` lays them out) for check_ics.sh.
TEST(IcsWriter, ConformanceFixture) {
    const fs::path root = fs::path(ALMANAC_SOURCE_DIR) / "tests/conformance/ics/site";
    auto config = test_config();
    config.site.title = "almanac iCalendar conformance";
    config.site.base_url = "https://cal.example.org/";
    config.feeds.front().title = "Conformance events; tricky, on purpose";
    config.feeds.front().description = "Every case the iCalendar writer must get right, checked by third-party parsers";
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(root / "content/events")) {
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        files[entry.path().filename().string()] = text.str();
    }
    const auto site = make_site(files, config);
    ASSERT_EQ(site.items.size(), files.size());

    std::map<std::string, std::string> outputs{{"events.ics", render(site)}};
    for (const auto* zone : {"UTC", "Europe/Berlin", "Australia/Sydney", "America/Los_Angeles", "Asia/Kathmandu"})
        outputs[std::string("tz/") + zone + "/events.ics"] = render(site, zone);
    for (const auto& [path, ics] : outputs) {
        const auto lines = content_lines(ics);
        EXPECT_EQ(count_prefix(lines, "BEGIN:VEVENT"), files.size() + 2) << path << ": two extra RDATE events";
        EXPECT_EQ(count_prefix(lines, "RDATE;"), 1u) << path << ": only the RRULE+RDATE event keeps an RDATE";
    }
    if (const char* out = std::getenv("ALMANAC_ICS_OUT")) {
        for (const auto& [path, ics] : outputs) {
            const auto target = fs::path(out) / path;
            fs::create_directories(target.parent_path());
            std::ofstream(target, std::ios::binary) << ics;
        }
    }
}

}  // namespace
}  // namespace almanac
