#include "tests/feeds/time_helpers.hpp"
#include "feeds/recurrence.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>

namespace almanac {
namespace {

using namespace almanac::test;

using namespace std::chrono_literals;

std::string iso(Instant t) { return date::format("%FT%TZ", t); }

std::vector<std::string> starts_of(const std::vector<Occurrence>& list) {
    std::vector<std::string> out;
    for (const auto& o : list) out.push_back(iso(o.start_instant));
    return out;
}

const Instant long_ago = Instant{date::sys_days{date::year{1900} / 1 / 1}};

// ---- conformance with python3-dateutil --------------------------------------------------------------

struct OracleCase {
    const char* zone;
    const char* start;
    const char* end;
    const char* rrule;
    std::vector<std::string> exdates;
    std::vector<std::string> rdates;
    int until_year;
};

const OracleCase oracle_cases[] = {
    // A weekly meeting in New York across both DST changes of 2024: 10:00 stays 10:00.
    {"America/New_York", "2024-01-09T10:00", "2024-01-09T11:00", "FREQ=WEEKLY;BYDAY=TU;COUNT=40", {}, {}, 2030},
    // The corpus meetups.
    {"Asia/Tokyo", "2024-01-25T19:00", "2024-01-25T21:00", "FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20261231T235959Z", {"2024-08-29T19:00", "2024-12-26T19:00"}, {}, 2030},
    {"Asia/Shanghai", "2024-03-16T14:00", "2024-03-16T17:00", "FREQ=MONTHLY;INTERVAL=2;BYDAY=3SA;COUNT=12", {}, {}, 2030},
    {"Europe/Helsinki", "2024-03-05T17:30", "2024-03-05T19:30", "FREQ=MONTHLY;BYDAY=1TU;BYMONTH=1,2,3,4,5,9,10,11,12", {}, {}, 2027},
    {"America/Mexico_City", "2024-02-08T18:00", "2024-02-08T19:30", "FREQ=WEEKLY;INTERVAL=4;BYDAY=TH", {}, {"2024-12-12T18:00"}, 2026},
    // 02:30 does not exist in Berlin on 31 March (shifted to 03:30) and exists twice on 27 October.
    {"Europe/Berlin", "2024-03-27T02:30", "2024-03-27T03:30", "FREQ=DAILY;COUNT=10", {}, {}, 2030},
    {"Europe/Berlin", "2024-10-24T02:30", "2024-10-24T03:30", "FREQ=DAILY;COUNT=10", {}, {}, 2030},
    {"Europe/Berlin", "2024-03-30T22:30", "2024-03-30T23:00", "FREQ=HOURLY;COUNT=8", {}, {}, 2030},
    {"Europe/Berlin", "2024-10-27T00:30", "2024-10-27T01:00", "FREQ=HOURLY;COUNT=6", {}, {}, 2030},
    // UNTIL that falls exactly on an occurrence includes it.
    {"Europe/Berlin", "2024-03-01T09:00", "2024-03-01T10:00", "FREQ=DAILY;UNTIL=20240310T090000", {}, {}, 2030},
    // Lord Howe Island moves its clocks by half an hour.
    {"Australia/Lord_Howe", "2024-04-04T01:45", "2024-04-04T02:15", "FREQ=DAILY;COUNT=6", {}, {}, 2030},
    {"Australia/Lord_Howe", "2024-10-03T02:15", "2024-10-03T03:00", "FREQ=DAILY;COUNT=6", {}, {}, 2030},
    // After 2037 only the zone file's POSIX footer knows the DST rules.
    {"America/New_York", "2040-02-27T09:00", "2040-02-27T10:00", "FREQ=WEEKLY;BYDAY=MO,FR;COUNT=30", {}, {}, 2045},
    {"America/New_York", "2040-10-01T01:30", "2040-10-01T02:00", "FREQ=DAILY;INTERVAL=3", {}, {}, 2041},
    // The last Sunday of March at 01:30 in London is always inside the gap; the rule reaches 2043.
    {"Europe/London", "2024-03-31T01:30", "2024-03-31T02:30", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=20", {}, {}, 2050},
    {"America/New_York", "2024-11-03T00:40", "2024-11-03T00:50", "FREQ=MINUTELY;INTERVAL=20;COUNT=12", {}, {}, 2030},
    {"Asia/Kathmandu", "2024-01-31T18:00", "2024-01-31T19:00", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=8", {}, {}, 2030},
    // Santiago changes its clocks at midnight.
    {"America/Santiago", "2024-09-05T00:30", "2024-09-05T01:00", "FREQ=DAILY;COUNT=6", {}, {}, 2030},
    {"America/Santiago", "2024-04-04T23:30", "2024-04-05T00:00", "FREQ=DAILY;COUNT=5", {}, {}, 2030},
    // WKST decides which weeks an every-other-week rule uses.
    {"America/Sao_Paulo", "2024-08-04T09:00", "2024-08-04T10:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,TU;WKST=SU;COUNT=8", {}, {}, 2030},
    {"America/Sao_Paulo", "2024-08-04T09:00", "2024-08-04T10:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,TU;WKST=MO;COUNT=8", {}, {}, 2030},
    // Europe/Dublin's DST is a negative offset in winter.
    {"Europe/Dublin", "2024-03-01T12:00", "2024-03-01T13:00", "FREQ=WEEKLY;COUNT=40", {"2024-06-07T12:00"}, {}, 2030},
    // A DTSTART the rule would not produce is still the first occurrence.
    {"Asia/Kolkata", "2024-01-03T10:00", "2024-01-03T11:00", "FREQ=MONTHLY;BYDAY=1MO;COUNT=3", {}, {}, 2030},
    // All-day events start at local midnight; a leap day recurs only in leap years.
    {"Pacific/Kiritimati", "2024-04-16", "2024-04-17", "FREQ=YEARLY;UNTIL=20300416", {}, {"2024-05-01"}, 2035},
    {"Europe/Berlin", "2024-02-29", "2024-03-01", "FREQ=YEARLY;COUNT=4", {"2032-02-29"}, {}, 2050},
};

bool dateutil_available() {
    return std::system("/usr/bin/python3 -c 'import dateutil, zoneinfo' >/dev/null 2>&1") == 0;
}

std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << command;
    return out;
}

TEST(Recurrence, AgreesWithDateutil) {
    if (!dateutil_available()) GTEST_SKIP() << "/usr/bin/python3 cannot import dateutil";

    nlohmann::json cases = nlohmann::json::array();
    std::vector<std::vector<std::string>> ours;
    for (const auto& c : oracle_cases) {
        const auto event = make_event(c.zone, c.start, c.end, c.rrule, c.exdates, c.rdates);
        const bool all_day = std::holds_alternative<CivilDate>(event.start);
        const auto text_of = [](const EventTime& t) { return format_event_time(t); };
        nlohmann::json exdates = nlohmann::json::array(), rdates = nlohmann::json::array();
        for (const auto& t : event.exdates) exdates.push_back(text_of(t));
        for (const auto& t : event.rdates) rdates.push_back(text_of(t));
        cases.push_back({{"zone", c.zone},
                         {"dtstart", text_of(event.start)},
                         {"all_day", all_day},
                         {"rrule", event.rrule ? event.rrule->text : ""},
                         {"exdates", exdates},
                         {"rdates", rdates},
                         {"until_year", c.until_year}});
        const Instant bound{date::sys_days{date::year{c.until_year} / 1 / 1}};
        ours.push_back(starts_of(occurrences(event, long_ago, bound, std::numeric_limits<std::size_t>::max())));
    }

    const auto path = testing::TempDir() + "recurrence_dateutil_" + std::to_string(getpid()) + ".json";
    std::ofstream(path) << cases.dump(1);
    const auto output = run("/usr/bin/python3 " ALMANAC_SOURCE_DIR "/tests/conformance/recurrence_dateutil.py " + path);
    std::remove(path.c_str());
    const auto theirs = nlohmann::json::parse(output, nullptr, false);
    ASSERT_TRUE(theirs.is_array()) << output;
    ASSERT_EQ(theirs.size(), ours.size());

    std::size_t compared = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
        const auto& c = oracle_cases[i];
        EXPECT_EQ(ours[i], theirs[i].get<std::vector<std::string>>()) << c.zone << " " << c.start << " " << c.rrule;
        EXPECT_FALSE(ours[i].empty()) << c.rrule;
        compared += ours[i].size();
    }
    std::printf("dateutil agrees on %zu cases, %zu occurrences\n", ours.size(), compared);
}

// ---- table tests -----------------------------------------------------------------------------------

TEST(Recurrence, NonRecurringEventHasOneOccurrence) {
    const auto e = make_event("Europe/Vienna", "2024-09-16T09:00", "2024-09-18T17:30", "");
    const auto list = occurrences(e, long_ago, utc("2100-01-01T00:00Z"));
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].start, e.start);
    EXPECT_EQ(list[0].end, e.end);
    EXPECT_EQ(iso(list[0].start_instant), "2024-09-16T07:00:00Z");
    EXPECT_EQ(iso(list[0].end_instant), "2024-09-18T15:30:00Z");
    EXPECT_TRUE(occurrences(e, utc("2024-09-16T07:00:01Z"), utc("2100-01-01T00:00Z")).empty());
}

// An event of one occurrence far from a window is answered without a zone conversion: wherever the
// window's edges fall around it, in zones as far from UTC as any has been (Kiritimati at +14, Baker
// Island at -12, Manila's local mean time of 1844 at +15:56, Sitka's of 1867 at -14:58 after +14:58),
// for a day, a wall time and an instant, it occurs in [from, to) exactly when its start does.
TEST(Recurrence, OneOccurrenceIsInAWindowExactlyWhenItsStartIs) {
    struct Case {
        const char* zone;
        const char* start;
        const char* end;
    };
    for (const Case c : {Case{"Pacific/Kiritimati", "2024-05-01T00:30", "2024-05-01T01:30"},
                         Case{"Etc/GMT+12", "2024-05-01T23:30", "2024-05-02T00:30"},
                         Case{"Asia/Manila", "1844-06-01T12:00", "1844-06-01T13:00"},
                         Case{"America/Sitka", "1860-06-01T12:00", "1860-06-01T13:00"},
                         Case{"Pacific/Kiritimati", "2024-05-01", "2024-05-02"},
                         Case{"Etc/GMT+12", "2024-05-01", "2024-05-02"},
                         Case{"UTC", "2024-05-01T10:00Z", "2024-05-01T11:00Z"}}) {
        const auto e = make_event(c.zone, c.start, c.end);
        const Instant start = to_instant(e.start, e.zone);
        for (int from_hours = -80; from_hours <= 80; from_hours += 1)
            for (const int span_hours : {1, 20, 50}) {
                const Instant from = start + std::chrono::hours{from_hours};
                const Instant to = from + std::chrono::hours{span_hours};
                const bool in = from <= start && start < to;
                EXPECT_EQ(occurrences(e, from, to, 10).size(), in ? 1u : 0u) << c.zone << " " << c.start << " " << from_hours;
            }
    }
}

TEST(Recurrence, WindowIsHalfOpenAndLimitTakesTheEarliest) {
    const auto e = make_event("UTC", "2024-01-01T10:00", "2024-01-01T11:00", "FREQ=WEEKLY");
    const auto from = utc("2024-01-08T10:00Z");  // the second occurrence: included
    const auto to = utc("2024-01-29T10:00Z");    // the fifth: excluded
    EXPECT_EQ(starts_of(occurrences(e, from, to)),
              (std::vector<std::string>{"2024-01-08T10:00:00Z", "2024-01-15T10:00:00Z", "2024-01-22T10:00:00Z"}));
    EXPECT_EQ(starts_of(occurrences(e, from, to, 2)),
              (std::vector<std::string>{"2024-01-08T10:00:00Z", "2024-01-15T10:00:00Z"}));
    EXPECT_TRUE(occurrences(e, from, to, 0).empty());
    // An endless rule stops at the window's end, and an unbounded window at the limit.
    EXPECT_EQ(occurrences(e, Instant::min(), Instant::max(), 5).size(), 5u);
    EXPECT_EQ(occurrences(e, long_ago, utc("2034-01-01T00:00Z")).size(), 522u);
}

TEST(Recurrence, WallTimeEventKeepsItsClockAcrossDst) {
    // 22:00–06:00 overnight in Berlin: 7 hours in the night the clocks go forward, 8 otherwise.
    const auto e = make_event("Europe/Berlin", "2024-03-29T22:00", "2024-03-30T06:00", "FREQ=DAILY;COUNT=3");
    const auto list = occurrences(e, long_ago, utc("2030-01-01T00:00Z"));
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[1].start, at("2024-03-30T22:00"));
    EXPECT_EQ(list[1].end, at("2024-03-31T06:00"));
    EXPECT_EQ(list[0].end_instant - list[0].start_instant, 8h);
    EXPECT_EQ(list[1].end_instant - list[1].start_instant, 7h);
    EXPECT_EQ(list[2].end_instant - list[2].start_instant, 8h);
    EXPECT_EQ(iso(list[2].start_instant), "2024-03-31T20:00:00Z");
}

TEST(Recurrence, AnOccurrenceInADstGapEndsAfterItStarts) {
    // Lord Howe moves its clocks half an hour, from 02:00 to 02:30, on 2025-10-05. The Sunday 02:15
    // occurrence of an 18-minute event happens at 02:45 (RFC 5545 §3.3.5) and ends at 03:03, not at
    // 02:33, before it starts (a fuzzing finding: tests/fuzz/seeds/fuzz_rrule/lord-howe-gap-short).
    const auto e = make_event("Australia/Lord_Howe", "2024-10-13T02:15", "2024-10-13T02:33", "FREQ=WEEKLY;COUNT=60");
    const auto list = occurrences(e, utc("2025-10-01T00:00Z"), utc("2025-10-10T00:00Z"));
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].start, at("2025-10-05T02:15"));
    EXPECT_EQ(iso(list[0].start_instant), "2025-10-04T15:45:00Z");  // 02:45 at +11:00
    EXPECT_EQ(list[0].end_instant - list[0].start_instant, 18min);
    EXPECT_EQ(list[0].end, at("2025-10-05T03:03"));
}

TEST(Recurrence, AllDayOccurrencesAreDates) {
    const auto e = make_event("Asia/Tokyo", "2024-12-30", "2025-01-01", "FREQ=WEEKLY;COUNT=2");
    const auto list = occurrences(e, long_ago, utc("2030-01-01T00:00Z"));
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1].start, at("2025-01-06"));
    EXPECT_EQ(list[1].end, at("2025-01-08"));
    EXPECT_EQ(iso(list[1].start_instant), "2025-01-05T15:00:00Z");  // midnight in Tokyo
    EXPECT_EQ(list[1].end_instant - list[1].start_instant, 48h);
}

TEST(Recurrence, InstantStartsStepOnTheUtcTimeline) {
    // An event written with Z does not follow the clocks of its zone.
    const auto e = make_event("America/New_York", "2024-03-09T15:00Z", "2024-03-09T16:00Z", "FREQ=DAILY;COUNT=3");
    const auto list = occurrences(e, long_ago, utc("2030-01-01T00:00Z"));
    EXPECT_EQ(starts_of(list), (std::vector<std::string>{"2024-03-09T15:00:00Z", "2024-03-10T15:00:00Z",
                                                         "2024-03-11T15:00:00Z"}));
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[2].start, EventTime{utc("2024-03-11T15:00Z")});
}

TEST(Recurrence, RdatesAndExdates) {
    const std::pair<Event, std::vector<std::string>> cases[] = {
        // EXDATE may remove DTSTART itself.
        {make_event("UTC", "2024-01-01T10:00", "2024-01-01T11:00", "FREQ=DAILY;COUNT=3", {"2024-01-01T10:00"}),
         {"2024-01-02T10:00:00Z", "2024-01-03T10:00:00Z"}},
        // An RDATE before DTSTART, one repeating a rule occurrence (merged), one excluded again.
        {make_event("UTC", "2024-01-01T10:00", "2024-01-01T11:00", "FREQ=DAILY;COUNT=2", {"2024-03-01T10:00"},
                    {"2023-12-25T10:00", "2024-01-02T10:00", "2024-03-01T10:00"}),
         {"2023-12-25T10:00:00Z", "2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"}},
        // An EXDATE matches by value: a different time of day removes nothing.
        {make_event("UTC", "2024-01-01T10:00", "2024-01-01T11:00", "FREQ=DAILY;COUNT=2", {"2024-01-02T11:00"}),
         {"2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"}},
        // RDATEs without a rule.
        {make_event("UTC", "2024-01-01", "2024-01-02", "", {}, {"2024-02-01", "2024-01-15"}),
         {"2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"}},
        // DTSTART counts even when the rule would not produce it (RFC 5545).
        {make_event("UTC", "2024-01-03T10:00", "2024-01-03T11:00", "FREQ=MONTHLY;BYDAY=1MO;COUNT=2"),
         {"2024-01-03T10:00:00Z", "2024-02-05T10:00:00Z", "2024-03-04T10:00:00Z"}},
    };
    for (const auto& [event, expected] : cases)
        EXPECT_EQ(starts_of(occurrences(event, long_ago, utc("2030-01-01T00:00Z"))), expected)
            << (event.rrule ? event.rrule->text : "no rule");
}

TEST(Recurrence, RuleLibicalRejectsLeavesDtstart) {
    auto e = make_event("UTC", "2024-01-01T10:00", "2024-01-01T11:00", "");
    e.rrule = RecurrenceRule{"FREQ=FORTNIGHTLY"};
    EXPECT_EQ(starts_of(occurrences(e, long_ago, utc("2030-01-01T00:00Z"))),
              (std::vector<std::string>{"2024-01-01T10:00:00Z"}));
}

TEST(Recurrence, OccursBetween) {
    const auto conference = make_event("Europe/Vienna", "2024-09-16T09:00", "2024-09-18T17:30", "");
    const auto weekly = make_event("America/New_York", "2024-01-09T22:00", "2024-01-10T01:00", "FREQ=WEEKLY;COUNT=10");
    const auto holiday = make_event("Asia/Tokyo", "2024-04-29", "2024-05-07", "FREQ=YEARLY");
    const struct {
        const Event& event;
        const char* from;
        const char* to;
        bool expected;
    } cases[] = {
        {conference, "2024-09-17T00:00Z", "2024-09-17T01:00Z", true},   // inside, started before `from`
        {conference, "2024-09-18T15:30Z", "2024-09-19T00:00Z", false},  // begins as it ends
        {conference, "2024-09-16T06:00Z", "2024-09-16T07:00Z", false},  // ends as it begins
        {conference, "2024-09-16T06:00Z", "2024-09-16T07:00:01Z", true},
        {weekly, "2024-01-24T05:30Z", "2024-01-24T05:45Z", true},  // the third occurrence, past midnight
        {weekly, "2024-01-24T06:00Z", "2024-01-31T03:00Z", false},
        {weekly, "2024-03-20T05:00Z", "2024-03-20T05:01Z", false},   // after COUNT ran out
        {holiday, "2031-05-06T12:00Z", "2031-05-06T13:00Z", true},   // the last day, years later
        {holiday, "2031-05-06T15:00Z", "2031-05-06T16:00Z", false},  // midnight in Tokyo
    };
    for (const auto& c : cases)
        EXPECT_EQ(occurs_between(c.event, utc(c.from), utc(c.to)), c.expected) << c.from << " " << c.to;
}

TEST(Recurrence, SubDailyRulesTakeBoundedTime) {
    const auto started = std::chrono::steady_clock::now();
    const auto every_second = make_event("Europe/Berlin", "2024-01-01T00:00", "2024-01-01T00:00:01", "FREQ=SECONDLY");
    EXPECT_EQ(occurrences(every_second, long_ago, utc("2024-01-01T00:00Z")).size(), 3600u);
    EXPECT_EQ(occurrences(every_second, long_ago, Instant::max()).size(), 10000u);  // the default limit
    // Years after DTSTART, past how far we expand: nothing, rather than hours of work.
    EXPECT_TRUE(occurrences(every_second, utc("2030-01-01T00:00Z"), utc("2030-01-02T00:00Z")).empty());
    EXPECT_FALSE(occurs_between(every_second, utc("2030-01-01T00:00Z"), utc("2030-01-02T00:00Z")));
    // Rules that never match anything after DTSTART: libical would step until the year 2582.
    for (const char* rule : {"FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30",
                             "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30"}) {
        const auto e = make_event("UTC", "2024-01-01T00:00", "2024-01-01T01:00", rule);
        EXPECT_EQ(occurrences(e, long_ago, Instant::max()).size(), 1u) << rule;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
}

TEST(Recurrence, EndlessSubDailyRulesCostNothingPastTheirReach) {
    // An index page or a feed window asks every event about the coming weeks. A FREQ=SECONDLY rule
    // from years ago is expanded only a day past DTSTART, so it has nothing there; finding that out
    // used to take a day of libical steps per event and per question (50 such events: 14 s).
    std::vector<Event> events;
    for (int i = 0; i < 100; ++i) {
        events.push_back(make_event("Europe/Berlin", "2024-01-10T18:00", "2024-01-10T18:00:01", "FREQ=SECONDLY"));
        events.push_back(make_event("UTC", "2020-01-10T18:00", "2020-01-10T18:01", "FREQ=MINUTELY"));
        events.push_back(make_event("UTC", "2024-01-10T18:00", "2024-01-10T18:00:01", "FREQ=SECONDLY;COUNT=999999"));
    }
    const auto started = std::chrono::steady_clock::now();
    for (const auto& e : events) {
        EXPECT_TRUE(occurrences(e, utc("2026-11-23T00:00Z"), utc("2027-02-21T00:00Z"), 51).empty());
        EXPECT_FALSE(occurs_between(e, utc("2026-11-23T00:00Z"), utc("2027-02-21T00:00Z")));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Recurrence, DailyAndCoarserRulesStartNearTheWindow) {
    // Decades of a daily rule expanded into every hour, stepped through before reaching the window:
    // about a second per event and per question before.
    std::vector<Event> events;
    const std::string hours = "BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";
    for (int i = 0; i < 20; ++i) {
        events.push_back(make_event("America/New_York", "1850-01-01T00:30", "1850-01-01T00:45", "FREQ=DAILY;" + hours));
        events.push_back(make_event("Asia/Tokyo", "2000-01-01T09:00", "2000-01-01T10:00",
                                    "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY=1,8,15,22;" + hours));
    }
    const auto started = std::chrono::steady_clock::now();
    for (const auto& e : events) {
        const auto list = occurrences(e, utc("2026-11-23T00:00Z"), utc("2027-02-21T00:00Z"), 51);
        ASSERT_EQ(list.size(), 51u);
        EXPECT_GE(list.front().start_instant, utc("2026-11-23T00:00Z"));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Recurrence, HourlyRulesRestartNearTheWindow) {
    // An endless hourly rule from ten years ago: 90,000 steps per event and per question before.
    std::vector<Event> events;
    for (int i = 0; i < 50; ++i)
        events.push_back(make_event("Europe/Berlin", "2016-01-10T18:00", "2016-01-10T18:30", "FREQ=HOURLY;BYDAY=MO"));
    const auto started = std::chrono::steady_clock::now();
    for (const auto& e : events) {
        const auto list = occurrences(e, utc("2026-11-23T00:00Z"), utc("2027-02-21T00:00Z"), 51);
        ASSERT_EQ(list.size(), 51u);
        EXPECT_EQ(iso(list.front().start_instant), "2026-11-23T00:00:00Z");  // Monday 01:00 in Berlin
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Recurrence, StartingNearTheWindowGivesWhatSteppingFromDtstartGives) {
    // The same occurrences whether the window starts before DTSTART (libical steps from DTSTART) or
    // long after it (libical is started near the window), for rules libical can start late.
    const struct {
        const char* zone;
        const char* start;
        const char* end;
        const char* rule;
    } rules[] = {
        {"Europe/Berlin", "2001-03-25T02:30", "2001-03-25T03:30", "FREQ=DAILY"},
        {"America/New_York", "1999-12-31T23:59:59", "2000-01-01T00:30", "FREQ=DAILY;INTERVAL=3;BYHOUR=1,23"},
        {"Australia/Lord_Howe", "2010-04-04T01:45", "2010-04-04T02:15", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,TU;WKST=SU"},
        {"America/Sao_Paulo", "2005-08-04T09:00", "2005-08-04T10:00", "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,WE,FR;WKST=MO"},
        {"Asia/Tokyo", "2004-01-31T19:00", "2004-01-31T21:00", "FREQ=MONTHLY;BYMONTHDAY=31"},
        {"Asia/Shanghai", "2003-03-16T14:00", "2003-03-16T17:00", "FREQ=MONTHLY;INTERVAL=2;BYDAY=3SA"},
        {"Europe/Helsinki", "2002-03-05T17:30", "2002-03-05T19:30", "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1"},
        {"Europe/Dublin", "2000-01-10T12:00", "2000-01-10T13:00", "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=1,-1"},
        {"Europe/London", "1995-03-26T01:30", "1995-03-26T02:30", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"},
        {"Europe/Berlin", "2000-02-29", "2000-03-01", "FREQ=YEARLY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29"},
        {"UTC", "1990-01-01", "1990-01-02", "FREQ=YEARLY;BYYEARDAY=100,-1"},
        {"America/Mexico_City", "1998-02-08T18:00Z", "1998-02-08T19:30Z", "FREQ=WEEKLY;INTERVAL=4;BYDAY=TH"},
        {"Pacific/Kiritimati", "1994-12-30", "1995-01-01", "FREQ=DAILY;INTERVAL=10;BYMONTH=1,7"},
        {"America/Santiago", "2008-09-05T00:30", "2008-09-05T01:00", "FREQ=DAILY;UNTIL=20400101T000000Z"},
        // Finer rules restart on their own grid, across the DST changes of their zone.
        {"Europe/Berlin", "2021-01-01T00:20", "2021-01-01T00:30", "FREQ=HOURLY;INTERVAL=5"},
        {"America/New_York", "2020-02-29T23:59:59", "2020-03-01T00:30", "FREQ=HOURLY;INTERVAL=25;BYDAY=SA,SU"},
        {"Europe/London", "2022-03-27T00:10", "2022-03-27T00:20", "FREQ=HOURLY;BYMONTH=3,10;BYDAY=SU"},
        {"Australia/Lord_Howe", "2023-01-05T09:00", "2023-01-05T09:10",
         "FREQ=MINUTELY;INTERVAL=1441;BYMONTHDAY=1,2,-1"},
        {"UTC", "2024-03-29T12:00:01Z", "2024-03-29T12:00:02Z", "FREQ=SECONDLY;INTERVAL=37"},
        {"Asia/Kathmandu", "2026-10-01T08:00", "2026-10-01T09:00", "FREQ=MINUTELY;INTERVAL=59;BYDAY=MO,FR"},
        // BYHOUR makes libical's path depend on where it starts: these step from DTSTART.
        {"Europe/Berlin", "2021-01-01T00:20", "2021-01-01T00:30", "FREQ=HOURLY;INTERVAL=5;BYHOUR=5,15"},
        {"America/New_York", "2024-01-01T00:00", "2024-01-01T00:05", "FREQ=MINUTELY;INTERVAL=13;BYHOUR=9"},
    };
    const char* windows[][2] = {{"2024-03-30T00:00Z", "2024-04-02T00:00Z"},
                                {"2026-10-20T00:00Z", "2027-01-05T00:00Z"},
                                {"2031-12-31T12:00Z", "2032-03-02T00:00Z"}};
    std::size_t compared = 0;
    for (const auto& r : rules) {
        const auto e = make_event(r.zone, r.start, r.end, r.rule);
        const auto all = occurrences(e, long_ago, utc("2033-01-01T00:00Z"), std::numeric_limits<std::size_t>::max());
        for (const auto& w : windows) {
            std::vector<std::string> expected;
            for (const auto& o : all)
                if (o.start_instant >= utc(w[0]) && o.start_instant < utc(w[1]))
                    expected.push_back(iso(o.start_instant));
            EXPECT_EQ(starts_of(occurrences(e, utc(w[0]), utc(w[1]))), expected)
                << r.zone << " " << r.start << " " << r.rule << " in " << w[0];
            compared += expected.size();
        }
    }
    EXPECT_GT(compared, 400u);
}

// The memo gives what occurrences() gives, whatever the window's moves, the limit, or how many
// occurrences a day the rule has (a kept list cut by its cap must not answer past its end); an
// edited event (new revision) is expanded afresh.
TEST(OccurrenceMemo, GivesWhatOccurrencesGives) {
    const struct {
        const char* zone;
        const char* start;
        const char* end;
        const char* rule;
    } rules[] = {
        {"America/New_York", "2024-01-09T10:00", "2024-01-09T11:00", "FREQ=WEEKLY;BYDAY=TU"},
        {"Asia/Tokyo", "2024-01-25T19:00", "2024-01-25T21:00", "FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20261231T235959Z"},
        {"Europe/Berlin", "2021-01-01T00:20", "2021-01-01T00:30", "FREQ=HOURLY;INTERVAL=5"},
        {"UTC", "2024-03-29T12:00:01Z", "2024-03-29T12:00:02Z", "FREQ=SECONDLY;INTERVAL=37"},
        {"Asia/Kathmandu", "2026-10-01T08:00", "2026-10-01T09:00", "FREQ=MINUTELY;INTERVAL=59;BYDAY=MO,FR"},
        {"Europe/Berlin", "2026-10-21", "2026-10-22", "FREQ=DAILY;COUNT=3"},
        {"Australia/Lord_Howe", "2026-10-03T02:15", "2026-10-03T03:00", "FREQ=DAILY;COUNT=6"},
    };
    OccurrenceMemo memo;
    std::vector<Item> items;
    for (const auto& r : rules) {
        Item item;
        item.path = std::string("events/") + r.rule + ".md";
        item.revision = items.size();
        item.event = make_event(r.zone, r.start, r.end, r.rule);
        items.push_back(std::move(item));
    }
    std::size_t compared = 0;
    for (auto now = utc("2026-09-30T23:00Z"); now < utc("2026-10-05T00:00Z"); now += 7h + 13min) {
        for (const std::size_t limit : {std::size_t{51}, std::size_t{3}}) {
            for (const auto& item : items) {
                const auto to = now + date::days{90};
                const auto expected = occurrences(*item.event, now, to, limit);
                const auto got = memo.occurrences(item, now, to, limit);
                ASSERT_EQ(starts_of(got), starts_of(expected)) << item.path << " at " << iso(now) << " limit " << limit;
                for (std::size_t i = 0; i < got.size(); ++i) {
                    EXPECT_EQ(got[i].end_instant, expected[i].end_instant);
                    EXPECT_EQ(got[i].start, expected[i].start);
                    EXPECT_EQ(got[i].end, expected[i].end);
                }
                compared += got.size();
            }
        }
        memo.sweep();
    }
    EXPECT_GT(compared, 1000u);
    EXPECT_EQ(memo.size(), items.size());

    Item edited = items.front();
    edited.revision = 100;
    edited.event = make_event("UTC", "2026-10-06T08:00", "2026-10-06T09:00", "FREQ=DAILY");
    const auto now = utc("2026-10-04T00:00Z");
    EXPECT_EQ(starts_of(memo.occurrences(edited, now, now + date::days{3}, 10)),
              (std::vector<std::string>{"2026-10-06T08:00:00Z"}));
    memo.sweep();
    EXPECT_EQ(memo.size(), 1u);  // only the edited event was asked for
}

}  // namespace
}  // namespace almanac
