#include "tests/feeds/time_helpers.hpp"
#include "feeds/event_time.hpp"

#include <gtest/gtest.h>
#include <libical/ical.h>

#include <thread>

namespace almanac {
namespace {

using namespace almanac::test;

using namespace std::chrono_literals;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// ---- zones -----------------------------------------------------------------------------------------

TEST(FindZone, CanonicalNamesAndLinks) {
    for (const char* name : {"America/New_York", "Europe/Berlin", "Asia/Kolkata", "US/Eastern", "GMT", "Etc/UTC", "UTC",
                             "Asia/Calcutta", "Etc/GMT+5", "America/Argentina/Buenos_Aires"}) {
        const auto z = find_zone(name);
        ASSERT_TRUE(z) << name << ": " << z.error();
        EXPECT_EQ(z->name, name);  // a link keeps the name the user wrote
        EXPECT_NE(z->tz, nullptr);
    }
    // A link means the same as its target.
    const auto summer = utc("2024-07-01T12:00Z");
    EXPECT_EQ(zone_info_at(zone("US/Eastern"), summer).offset, -4h);
    EXPECT_EQ(zone_info_at(zone("Asia/Calcutta"), summer).offset, 5h + 30min);
    EXPECT_EQ(zone_info_at(zone("GMT"), summer).offset, 0s);
}

TEST(FindZone, Errors) {
    const std::pair<std::string, const char*> cases[] = {
        {"Europe/Pariss", "unknown time zone 'Europe/Pariss'"},
        {"america/new_york", "unknown time zone 'america/new_york'"},
        {"Europe", "unknown time zone 'Europe'"},
        {"right/UTC", "unknown time zone"},
        {"posixrules", "unknown time zone"},
        {"", "empty time zone name"},
        {"/etc/passwd", "invalid time zone name '/etc/passwd'"},
        {"../../etc/passwd", "invalid time zone name"},
        {"Europe/../UTC", "invalid time zone name"},
        {"Europe/Paris ", "invalid time zone name"},
        {"Europe\\Paris", "invalid time zone name"},
        {"zone.tab", "invalid time zone name"},
        {std::string("UTC\0x", 5), "invalid time zone name"},
        {"localtime", "'localtime' is not an IANA time zone name"},
    };
    for (const auto& [name, message] : cases) {
        const auto z = find_zone(name);
        ASSERT_FALSE(z) << name;
        EXPECT_TRUE(contains(z.error(), message)) << name << ": " << z.error();
    }
}

// ---- parse_event_time ------------------------------------------------------------------------------

TEST(ParseEventTime, Valid) {
    struct Case {
        const char* text;
        std::size_t kind;  // index in EventTime: 0 date, 1 wall time, 2 instant
        const char* formatted;
    };
    const Case cases[] = {
        {"2024-05-14", 0, "2024-05-14"},
        {"2024-02-29", 0, "2024-02-29"},
        {"2000-02-29", 0, "2000-02-29"},
        {"1000-01-01", 0, "1000-01-01"},
        {"2024-05-14T09:30", 1, "2024-05-14T09:30:00"},
        {"2024-05-14T09:30:15", 1, "2024-05-14T09:30:15"},
        {"2024-05-14 09:30", 1, "2024-05-14T09:30:00"},
        {"2024-05-14t09:30", 1, "2024-05-14T09:30:00"},
        {"2024-05-14T00:00:00", 1, "2024-05-14T00:00:00"},
        {"9999-12-31T23:59:59", 1, "9999-12-31T23:59:59"},
        {"2024-05-14T09:30Z", 2, "2024-05-14T09:30:00Z"},
        {"2024-05-14T09:30:00z", 2, "2024-05-14T09:30:00Z"},
        {"2024-05-14T09:30:00+02:00", 2, "2024-05-14T07:30:00Z"},
        {"2024-05-14T09:30-0530", 2, "2024-05-14T15:00:00Z"},
        {"2024-05-14T23:30-01:00", 2, "2024-05-15T00:30:00Z"},
        {"2024-05-14T00:15+05:45", 2, "2024-05-13T18:30:00Z"},
        {"2024-01-01T00:00-00:00", 2, "2024-01-01T00:00:00Z"},
        {"2024-01-01 12:00+14:00", 2, "2023-12-31T22:00:00Z"},
    };
    for (const auto& c : cases) {
        const auto t = parse_event_time(c.text);
        ASSERT_TRUE(t) << c.text << ": " << t.error();
        EXPECT_EQ(t->index(), c.kind) << c.text;
        EXPECT_EQ(format_event_time(*t), c.formatted) << c.text;
    }
}

TEST(ParseEventTime, Errors) {
    const std::string expected = "expected a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]), got ";
    const std::pair<std::string, std::string> cases[] = {
        {"2024/01/01", expected + "'2024/01/01'"},
        {"", expected + "''"},
        {"2024-1-01", expected},
        {"24-01-01", expected},
        {"20240101", expected},  // the compact form is for EXDATE/RDATE/UNTIL only
        {"2024-01-01T9:30", expected},
        {"2024-01-01T09", expected},
        {"2024-01-01T09:", expected},
        {"2024-01-01T0930", expected},
        {"2024-01-01T09:30:1", expected},
        {"2024-01-01T", expected},
        {"2024-01-01 ", expected},
        {" 2024-01-01", expected},
        {"2024-01-01X09:30", expected},
        {"2024-01-01T09:30+2", expected},
        {"2024-01-01T09:30+02:0", expected},
        {"2024-01-01T09:30+02", expected},
        {"2024-01-01T09:30 Z", expected},
        {"2024-01-01T09:30ZZ", expected},
        {"2024-01-01T09:30UTC", expected},
        {"+2024-01-01", expected},
        {"2024-01-0a", expected},
        {"2024-13-01", "month 13 out of range (1-12) in '2024-13-01'"},
        {"2024-00-10", "month 0 out of range"},
        {"2023-02-29", "2023-02-29 is not a valid date"},
        {"1900-02-29T10:00", "1900-02-29 is not a valid date"},
        {"2024-04-31", "2024-04-31 is not a valid date"},
        {"2024-01-00", "2024-01-00 is not a valid date"},
        {"0999-01-01", "year 999 out of range (1000-9999)"},
        {"0000-01-01", "year 0 out of range"},
        {"2024-01-01T24:00", "hour 24 out of range (0-23)"},
        {"2024-01-01T12:60", "minute 60 out of range (0-59)"},
        {"2024-01-01T12:00:60", "second 60 out of range (0-59; leap seconds are not supported)"},
        {"2024-01-01T12:00:00.5", "fractional seconds are not supported, got '2024-01-01T12:00:00.5'"},
        {"2024-01-01T12:00:00,5Z", "fractional seconds are not supported"},
        {"2024-01-01T12:00+24:00", "UTC offset +24:00 out of range"},
        {"2024-01-01T12:00-05:60", "UTC offset -05:60 out of range"},
    };
    for (const auto& [text, message] : cases) {
        const auto t = parse_event_time(text);
        ASSERT_FALSE(t) << text << " parsed as " << format_event_time(*t);
        EXPECT_TRUE(contains(t.error(), message)) << text << ": " << t.error();
    }
}

// ---- wall time → instant ---------------------------------------------------------------------------

TEST(ToInstant, GapsOverlapsAndOddOffsets) {
    struct Case {
        const char* zone;
        const char* local;
        WallTimeKind kind;
        const char* instant;
    };
    using K = WallTimeKind;
    const Case cases[] = {
        {"America/New_York", "2024-07-01T12:00", K::unique, "2024-07-01T16:00:00Z"},
        {"America/New_York", "2024-01-15T12:00", K::unique, "2024-01-15T17:00:00Z"},
        {"America/New_York", "2024-03-10T01:59:59", K::unique, "2024-03-10T06:59:59Z"},
        {"America/New_York", "2024-03-10T02:00", K::nonexistent, "2024-03-10T07:00:00Z"},
        {"America/New_York", "2024-03-10T02:30", K::nonexistent, "2024-03-10T07:30:00Z"},  // = 03:30 EDT
        {"America/New_York", "2024-03-10T03:00", K::unique, "2024-03-10T07:00:00Z"},
        {"America/New_York", "2024-11-03T00:59:59", K::unique, "2024-11-03T04:59:59Z"},
        {"America/New_York", "2024-11-03T01:30", K::ambiguous, "2024-11-03T05:30:00Z"},  // EDT, the first
        {"America/New_York", "2024-11-03T02:00", K::unique, "2024-11-03T07:00:00Z"},
        {"US/Eastern", "2024-11-03T01:30", K::ambiguous, "2024-11-03T05:30:00Z"},
        // Lord Howe's DST is 30 minutes: 02:00 → 02:30 in October, 02:00 → 01:30 in April.
        {"Australia/Lord_Howe", "2024-10-06T02:15", K::nonexistent, "2024-10-05T15:45:00Z"},  // = 02:45 +11
        {"Australia/Lord_Howe", "2024-04-07T01:45", K::ambiguous, "2024-04-06T14:45:00Z"},
        {"Australia/Lord_Howe", "2024-07-01T12:00", K::unique, "2024-07-01T01:30:00Z"},
        // Dublin's tzdb DST is negative (IST is "standard", GMT the winter "DST"); offsets as usual.
        {"Europe/Dublin", "2024-07-01T12:00", K::unique, "2024-07-01T11:00:00Z"},
        {"Europe/Dublin", "2024-01-15T12:00", K::unique, "2024-01-15T12:00:00Z"},
        {"Europe/Dublin", "2024-03-31T01:30", K::nonexistent, "2024-03-31T01:30:00Z"},  // = 02:30 IST
        {"Europe/Dublin", "2024-10-27T01:30", K::ambiguous, "2024-10-27T00:30:00Z"},
        {"Asia/Kathmandu", "2024-06-01T12:00", K::unique, "2024-06-01T06:15:00Z"},
        {"Pacific/Kiritimati", "2024-06-01T12:00", K::unique, "2024-05-31T22:00:00Z"},
        {"Pacific/Chatham", "2024-07-01T12:00", K::unique, "2024-06-30T23:15:00Z"},
        {"UTC", "2024-06-01T12:00", K::unique, "2024-06-01T12:00:00Z"},
        // After 2037, where the TZif footer rule takes over.
        {"America/New_York", "2040-03-11T02:30", K::nonexistent, "2040-03-11T07:30:00Z"},
        {"America/New_York", "2040-07-01T12:00", K::unique, "2040-07-01T16:00:00Z"},
        {"America/New_York", "2040-11-04T01:30", K::ambiguous, "2040-11-04T05:30:00Z"},
        {"America/New_York", "2040-12-01T12:00", K::unique, "2040-12-01T17:00:00Z"},
        {"America/New_York", "2038-03-14T02:30", K::nonexistent, "2038-03-14T07:30:00Z"},
        {"Europe/Berlin", "2045-07-01T12:00", K::unique, "2045-07-01T10:00:00Z"},
        {"Europe/Berlin", "2045-03-26T02:30", K::nonexistent, "2045-03-26T01:30:00Z"},
        {"Europe/Berlin", "2045-10-29T02:30", K::ambiguous, "2045-10-29T00:30:00Z"},
        {"Europe/Dublin", "2040-07-01T12:00", K::unique, "2040-07-01T11:00:00Z"},
        {"Europe/Dublin", "2040-03-25T01:30", K::nonexistent, "2040-03-25T01:30:00Z"},
        {"Europe/Dublin", "2040-10-28T01:30", K::ambiguous, "2040-10-28T00:30:00Z"},
        {"Australia/Sydney", "2040-01-15T12:00", K::unique, "2040-01-15T01:00:00Z"},
        {"Australia/Lord_Howe", "2040-10-07T02:15", K::nonexistent, "2040-10-06T15:45:00Z"},
        {"Asia/Kolkata", "2040-01-01T05:30", K::unique, "2040-01-01T00:00:00Z"},
        // Footer rules with transition times outside 0-24 h (RFC 8536 §3.3.1): Greenland changes at
        // -1:00 and 0:00 ("M3.5.0/-1,M10.5.0/0"), Gaza on Saturday 02:00 written as Thursday 50:00.
        {"America/Nuuk", "2039-06-01T10:00", K::unique, "2039-06-01T11:00:00Z"},
        {"America/Nuuk", "2039-12-01T10:00", K::unique, "2039-12-01T12:00:00Z"},
        {"America/Nuuk", "2039-03-26T23:30", K::nonexistent, "2039-03-27T01:30:00Z"},
        {"America/Nuuk", "2039-10-29T23:30", K::ambiguous, "2039-10-30T00:30:00Z"},
        {"America/Scoresbysund", "2039-06-01T10:00", K::unique, "2039-06-01T11:00:00Z"},
        {"Asia/Gaza", "2090-03-25T02:30", K::nonexistent, "2090-03-25T00:30:00Z"},
        {"Asia/Gaza", "2090-10-28T01:30", K::ambiguous, "2090-10-27T22:30:00Z"},
        {"Asia/Gaza", "2090-10-28T00:30", K::unique, "2090-10-27T21:30:00Z"},
    };
    for (const auto& c : cases) {
        const auto z = zone(c.zone);
        const auto w = wall(c.local);
        EXPECT_EQ(classify(w, z), c.kind) << c.zone << " " << c.local;
        EXPECT_EQ(format_event_time(to_instant(w, z)), c.instant) << c.zone << " " << c.local;
        EXPECT_EQ(format_event_time(to_instant(EventTime{w}, z)), c.instant) << c.zone << " " << c.local;
    }
}

TEST(ToInstant, DatesAndInstants) {
    const auto ny = zone("America/New_York");
    EXPECT_EQ(format_event_time(to_instant(at("2024-05-14"), ny)), "2024-05-14T04:00:00Z");
    EXPECT_EQ(format_event_time(to_instant(at("2024-05-14"), zone("Asia/Kathmandu"))), "2024-05-13T18:15:00Z");
    EXPECT_EQ(format_event_time(to_instant(at("2024-05-14T09:30Z"), ny)), "2024-05-14T09:30:00Z");
    // A zone without a tz (never returned by find_zone) behaves as UTC rather than crashing.
    EXPECT_EQ(format_event_time(to_instant(at("2024-05-14T09:30"), Zone{})), "2024-05-14T09:30:00Z");
    EXPECT_EQ(classify(wall("2024-03-10T02:30"), Zone{}), WallTimeKind::unique);
}

// ---- zone_info_at / zone_local_info ----------------------------------------------------------------

TEST(ZoneInfoAt, CorrectAfter2037) {
    struct Case {
        const char* zone;
        const char* instant;
        std::chrono::minutes offset;
        const char* abbrev;
    };
    const Case cases[] = {
        {"America/New_York", "2024-07-01T12:00Z", -4h, "EDT"},
        {"America/New_York", "2040-07-01T12:00Z", -4h, "EDT"},
        {"America/New_York", "2040-01-15T12:00Z", -5h, "EST"},
        {"America/New_York", "2099-07-01T12:00Z", -4h, "EDT"},
        {"Europe/Berlin", "2045-07-01T12:00Z", 2h, "CEST"},
        {"Europe/Berlin", "2045-12-01T12:00Z", 1h, "CET"},
        {"Europe/Dublin", "2040-07-01T12:00Z", 1h, "IST"},
        {"Europe/Dublin", "2040-01-15T12:00Z", 0h, "GMT"},
        {"Australia/Sydney", "2040-01-15T12:00Z", 11h, "AEDT"},
        {"Australia/Sydney", "2040-07-01T12:00Z", 10h, "AEST"},
        {"Australia/Lord_Howe", "2040-01-15T12:00Z", 11h, "+11"},
        {"Australia/Lord_Howe", "2040-07-01T12:00Z", 10h + 30min, "+1030"},
        {"Asia/Kathmandu", "2040-07-01T12:00Z", 5h + 45min, "+0545"},
        {"Asia/Kolkata", "2040-07-01T12:00Z", 5h + 30min, "IST"},
        {"UTC", "2040-07-01T12:00Z", 0h, "UTC"},
        {"America/Nuuk", "2039-07-01T12:00Z", -1h, "-01"},
        {"America/Nuuk", "2039-12-01T12:00Z", -2h, "-02"},
        {"America/Nuuk", "2039-03-27T00:59:59Z", -2h, "-02"},
        {"America/Nuuk", "2039-03-27T01:00:00Z", -1h, "-01"},
        {"Asia/Gaza", "2090-07-01T12:00Z", 3h, "EEST"},
        {"Asia/Gaza", "2090-10-27T23:00:00Z", 2h, "EET"},
    };
    for (const auto& c : cases) {
        const auto info = zone_info_at(zone(c.zone), utc(c.instant));
        EXPECT_EQ(info.offset, c.offset) << c.zone << " " << c.instant;
        EXPECT_EQ(info.abbrev, c.abbrev) << c.zone << " " << c.instant;
    }
}

TEST(ZoneInfoAt, PeriodBoundsAfter2037) {
    const auto ny = zone("America/New_York");
    const auto summer = zone_info_at(ny, utc("2040-07-01T12:00Z"));
    EXPECT_EQ(format_event_time(summer.begin), "2040-03-11T07:00:00Z");
    EXPECT_EQ(format_event_time(summer.end), "2040-11-04T06:00:00Z");
    // The winter that straddles the last transition in the file (2037-11-01) and the footer's first.
    const auto winter = zone_info_at(ny, utc("2037-12-01T12:00Z"));
    EXPECT_EQ(format_event_time(winter.begin), "2037-11-01T06:00:00Z");
    EXPECT_EQ(format_event_time(winter.end), "2038-03-14T07:00:00Z");
    // A zone without DST since 1945 keeps its real start.
    const auto kolkata = zone_info_at(zone("Asia/Kolkata"), utc("2040-07-01T12:00Z"));
    EXPECT_EQ(format_event_time(kolkata.begin), "1945-10-14T17:30:00Z");
}

TEST(ZoneLocalInfo, GapIn2040) {
    const auto ny = zone("America/New_York");
    const auto gap = zone_local_info(ny, wall("2040-03-11T02:30").local);
    ASSERT_EQ(gap.result, date::local_info::nonexistent);
    EXPECT_EQ(gap.first.offset, -5h);
    EXPECT_EQ(gap.second.offset, -4h);
    const auto after = zone_local_info(ny, wall("2040-03-11T03:30").local);
    ASSERT_EQ(after.result, date::local_info::unique);
    EXPECT_EQ(after.first.offset, -4h);
    // The overlap at the file's last transition: the period after it ends at the footer's first.
    const auto overlap = zone_local_info(ny, wall("2037-11-01T01:30").local);
    ASSERT_EQ(overlap.result, date::local_info::ambiguous);
    EXPECT_EQ(format_event_time(overlap.second.begin), "2037-11-01T06:00:00Z");
    EXPECT_EQ(format_event_time(overlap.second.end), "2038-03-14T07:00:00Z");
}

TEST(ZoneInfoAt, ConcurrentFirstUse) {
    const auto z = zone("America/Chicago");
    std::vector<std::thread> threads;
    std::array<std::chrono::seconds, 8> offsets{};
    for (std::size_t i = 0; i < offsets.size(); ++i)
        threads.emplace_back([&, i] { offsets[i] = zone_info_at(z, utc("2050-07-01T12:00Z")).offset; });
    for (auto& t : threads) t.join();
    for (const auto offset : offsets) EXPECT_EQ(offset, -5h);
}

// ---- durations -------------------------------------------------------------------------------------

TEST(ParseDuration, Valid) {
    const std::pair<const char*, Duration> cases[] = {
        {"PT1H30M", {0, 5400s}},
        {"P2D", {2, 0s}},
        {"P1W", {7, 0s}},
        {"P10W", {70, 0s}},
        {"P1DT12H", {1, 43200s}},
        {"PT90M", {0, 5400s}},
        {"PT45S", {0, 45s}},
        {"PT36H", {0, 129600s}},  // exact hours stay exact; not 1 day 12 hours
        {"P1DT2H3M4S", {1, 7384s}},
        {"PT1H5S", {0, 3605s}},
        {"P0DT1H", {0, 3600s}},
        {"+PT1H", {0, 3600s}},
        {"pt1h30m", {0, 5400s}},
        {"PT999999S", {0, 999999s}},
    };
    for (const auto& [text, want] : cases) {
        const auto d = parse_duration(text);
        ASSERT_TRUE(d) << text << ": " << d.error();
        EXPECT_EQ(d->days, want.days) << text;
        EXPECT_EQ(d->seconds, want.seconds) << text;
    }
}

TEST(ParseDuration, Errors) {
    const std::pair<const char*, const char*> cases[] = {
        {"PT0S", "duration must be positive, got 'PT0S'"},
        {"P0D", "duration must be positive"},
        {"P0W", "duration must be positive"},
        {"-PT1H", "duration must be positive"},
        {"P1Y", "years and months have no fixed length"},
        {"P1M", "years and months have no fixed length"},
        {"P1Y2M", "years and months"},
        {"1H", "expected an ISO 8601 duration such as PT1H30M, P2D or P1W, got '1H'"},
        {"", "expected an ISO 8601 duration"},
        {"90", "expected an ISO 8601 duration"},
        {"PT", "no hours, minutes or seconds after 'T'"},
        {"P1DT", "no hours, minutes or seconds after 'T'"},
        {"P", "duration has no value"},
        {"PT1.5H", "fractional values are not supported"},
        {"PT1,5H", "fractional values are not supported"},
        {"P1W2D", "a week duration (PnW) cannot have other units"},
        {"P1WT1H", "a week duration (PnW) cannot have other units"},
        {"P1D1W", "units out of order or repeated"},
        {"PT1M1H", "units out of order or repeated"},
        {"PT1H1H", "units out of order or repeated"},
        {"P1H", "unknown unit 'H'"},
        {"PT1D", "unknown unit 'D'"},
        {"PTT1H", "'T' appears twice"},
        {"P1DT1HT", "'T' appears twice"},
        {"P1", "missing unit after 1"},
        {"PTH", "expected a number before 'H'"},
        {"P1D ", "expected a number before ' '"},
        {"PT1000000H", "too large"},
        {"PT99999999999999999999H", "too large"},
    };
    for (const auto& [text, message] : cases) {
        const auto d = parse_duration(text);
        ASSERT_FALSE(d) << text << " parsed as " << format_duration(*d);
        EXPECT_TRUE(contains(d.error(), message)) << text << ": " << d.error();
    }
}

TEST(FormatDuration, Table) {
    const std::pair<Duration, const char*> cases[] = {
        {{0, 0s}, "PT0S"},
        {{2, 0s}, "P2D"},
        {{7, 0s}, "P7D"},
        {{0, 5400s}, "PT1H30M"},
        {{1, 7200s}, "P1DT2H"},
        {{0, 45s}, "PT45S"},
        {{0, 3601s}, "PT1H1S"},
        {{1, 7384s}, "P1DT2H3M4S"},
        {{0, 129600s}, "PT36H"},
    };
    for (const auto& [d, want] : cases) {
        EXPECT_EQ(format_duration(d), want);
        if (d.days != 0 || d.seconds != 0s) {
            const auto back = parse_duration(format_duration(d));
            ASSERT_TRUE(back) << want;
            EXPECT_EQ(*back, d) << want;
        }
    }
}

TEST(AddDuration, Table) {
    struct Case {
        const char* start;
        const char* duration;
        const char* end;
    };
    const Case cases[] = {
        {"2024-05-14", "P1D", "2024-05-15"},
        {"2024-05-14", "P2D", "2024-05-16"},
        {"2024-12-31", "P1D", "2025-01-01"},
        {"2024-02-28", "P1W", "2024-03-06"},
        {"2024-05-14", "PT1H", "2024-05-15"},  // part of a day occupies the day
        {"2024-05-14", "P1DT1H", "2024-05-16"},
        {"2024-03-09T12:00", "P1D", "2024-03-10T12:00:00"},    // nominal day across spring-forward
        {"2024-03-09T12:00", "PT24H", "2024-03-10T13:00:00"},  // exact hours
        {"2024-03-10T01:30", "PT1H", "2024-03-10T03:30:00"},
        // Ends in the repeated hour, at 01:30 EST; "01:30" would name 01:30 EDT, an hour early.
        {"2024-11-03T00:30", "PT2H", "2024-11-03T02:00:00"},
        {"2024-11-03T00:30", "PT1H", "2024-11-03T01:30:00"},  // ends in the first pass: exact
        {"2024-11-02T12:00", "P1DT1H", "2024-11-03T13:00:00"},
        {"2024-05-14T09:00", "PT1H30M", "2024-05-14T10:30:00"},
        {"2040-03-10T12:00", "PT24H", "2040-03-11T13:00:00"},
        {"2024-03-09T17:00Z", "P1D", "2024-03-10T17:00:00Z"},  // UTC has no DST: a day is 24 hours
        {"2024-03-09T17:00Z", "P1DT1H", "2024-03-10T18:00:00Z"},
    };
    const auto ny = zone("America/New_York");
    for (const auto& c : cases) {
        const auto d = parse_duration(c.duration);
        ASSERT_TRUE(d) << c.duration;
        EXPECT_EQ(format_event_time(add_duration(at(c.start), *d, ny)), c.end) << c.start << " + " << c.duration;
    }
}

// Found by fuzz_rrule: a start in the first pass of a repeated hour plus a few minutes ended in the
// second pass, whose wall time names the first pass, so the event ended before it started.
TEST(AddDuration, EndInRepeatedHourIsNeverEarlierThanExactEnd) {
    struct Case {
        const char* zone;
        const char* start;
        const char* duration;
        const char* end;
    };
    const Case cases[] = {
        {"Europe/Berlin", "2024-10-27T02:30", "PT30M", "2024-10-27T03:00:00"},
        {"Europe/Berlin", "2024-10-27T02:59", "PT1M", "2024-10-27T03:00:00"},
        {"Europe/Berlin", "2024-10-27T01:45", "PT1H30M", "2024-10-27T03:00:00"},
        {"Europe/Berlin", "2024-10-27T02:30", "PT2H", "2024-10-27T03:30:00"},         // past the repeat: exact
        {"Europe/Dublin", "2024-10-27T01:30", "PT45M", "2024-10-27T02:00:00"},        // Dublin's negative DST
        {"Australia/Lord_Howe", "2024-04-07T01:40", "PT30M", "2024-04-07T02:00:00"},  // a 30-minute repeat
        {"America/New_York", "2040-11-04T01:30", "PT45M", "2040-11-04T02:00:00"},     // from the POSIX rule
    };
    for (const auto& c : cases) {
        const auto z = zone(c.zone);
        const auto d = parse_duration(c.duration);
        ASSERT_TRUE(d) << c.duration;
        const auto start = at(c.start);
        const auto end = add_duration(start, *d, z);
        EXPECT_EQ(format_event_time(end), c.end) << c.zone << ' ' << c.start << " + " << c.duration;
        EXPECT_GE(to_instant(end, z), to_instant(start, z) + d->seconds) << c.zone << ' ' << c.start;
    }
}

// ---- RRULE -----------------------------------------------------------------------------------------

TEST(ParseRrule, Valid) {
    struct Case {
        const char* start;
        const char* rule;
        const char* normalized;
    };
    const Case cases[] = {
        // The rules in the corpus.
        {"2024-01-20T10:00", "FREQ=MONTHLY;INTERVAL=2;BYDAY=3SA;COUNT=12", "FREQ=MONTHLY;INTERVAL=2;BYDAY=3SA;COUNT=12"},
        {"2024-01-02T10:00", "FREQ=MONTHLY;BYDAY=1TU;BYMONTH=1,2,3,4,5,9,10,11,12",
         "FREQ=MONTHLY;BYDAY=1TU;BYMONTH=1,2,3,4,5,9,10,11,12"},
        {"2024-01-25T10:00", "FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20261231T235959Z", "FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20261231T235959Z"},
        {"2024-01-04T10:00", "FREQ=WEEKLY;INTERVAL=4;BYDAY=TH", "FREQ=WEEKLY;INTERVAL=4;BYDAY=TH"},
        {"2024-01-11T10:00", "FREQ=MONTHLY;BYDAY=2TH", "FREQ=MONTHLY;BYDAY=2TH"},
        // Prefix, case, order.
        {"2024-01-20T10:00", "RRULE:FREQ=WEEKLY", "FREQ=WEEKLY"},
        {"2024-01-20T10:00", "rrule:freq=weekly;byday=mo,we", "FREQ=WEEKLY;BYDAY=MO,WE"},
        {"2024-01-20T10:00", "COUNT=3;FREQ=DAILY", "COUNT=3;FREQ=DAILY"},
        // UNTIL for a wall-time start becomes UTC.
        {"2024-01-20T10:00", "FREQ=WEEKLY;UNTIL=20240630T100000", "FREQ=WEEKLY;UNTIL=20240630T140000Z"},
        {"2024-01-20T10:00", "FREQ=WEEKLY;UNTIL=2024-06-30T10:00", "FREQ=WEEKLY;UNTIL=20240630T140000Z"},
        {"2024-01-20T10:00", "FREQ=WEEKLY;UNTIL=2024-06-30T10:00+02:00", "FREQ=WEEKLY;UNTIL=20240630T080000Z"},
        {"2024-01-20T10:00", "FREQ=WEEKLY;UNTIL=20240630", "FREQ=WEEKLY;UNTIL=20240701T035959Z"},
        {"2024-01-20T10:00", "FREQ=WEEKLY;UNTIL=2024-12-31", "FREQ=WEEKLY;UNTIL=20250101T045959Z"},
        {"2024-01-20T10:00", "FREQ=WEEKLY;UNTIL=20240120T150000Z", "FREQ=WEEKLY;UNTIL=20240120T150000Z"},  // = start
        // ... and for an instant start.
        {"2024-01-20T15:00Z", "FREQ=DAILY;UNTIL=20240125", "FREQ=DAILY;UNTIL=20240126T045959Z"},
        // UNTIL for a date start becomes a date (in the event's zone).
        {"2024-01-20", "FREQ=YEARLY;UNTIL=20261231T235959Z", "FREQ=YEARLY;UNTIL=20261231"},
        {"2024-01-20", "FREQ=YEARLY;UNTIL=20270101T030000Z", "FREQ=YEARLY;UNTIL=20261231"},
        {"2024-01-20", "FREQ=DAILY;UNTIL=20240125T100000", "FREQ=DAILY;UNTIL=20240125"},
        {"2024-01-20", "FREQ=DAILY;UNTIL=2024-01-20", "FREQ=DAILY;UNTIL=20240120"},
        // The other parts.
        {"2024-01-31", "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=MONTHLY;BYMONTHDAY=-1"},
        {"2024-05-13T10:00", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"},
        {"2024-01-31T10:00", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
        {"2024-01-01T10:00", "FREQ=YEARLY;BYYEARDAY=1,100,-1", "FREQ=YEARLY;BYYEARDAY=1,100,-1"},
        {"2024-01-01T09:00", "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0,30", "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0,30"},
        {"2024-01-02T09:00", "FREQ=WEEKLY;WKST=SU;BYDAY=TU,TH", "FREQ=WEEKLY;WKST=SU;BYDAY=TU,TH"},
        {"2024-03-10T09:00", "FREQ=YEARLY;BYMONTH=3;BYDAY=+2SU", "FREQ=YEARLY;BYMONTH=3;BYDAY=+2SU"},
        {"2024-01-01T00:00", "FREQ=HOURLY;INTERVAL=6;BYSECOND=0", "FREQ=HOURLY;INTERVAL=6;BYSECOND=0"},
        {"2024-01-01T00:00", "FREQ=MINUTELY;INTERVAL=15;COUNT=4", "FREQ=MINUTELY;INTERVAL=15;COUNT=4"},
        {"2024-01-01T00:00", "FREQ=MINUTELY;BYSECOND=0,60", "FREQ=MINUTELY;BYSECOND=0,60"},
        {"2024-01-01", "FREQ=YEARLY;BYDAY=-53MO,+1FR;BYSETPOS=-366,366", "FREQ=YEARLY;BYDAY=-53MO,+1FR;BYSETPOS=-366,366"},
        {"2024-01-01", "FREQ=YEARLY;BYWEEKNO=-53,53;BYYEARDAY=-366", "FREQ=YEARLY;BYWEEKNO=-53,53;BYYEARDAY=-366"},
        {"2024-01-01", "FREQ=DAILY;COUNT=999999;INTERVAL=9999", "FREQ=DAILY;COUNT=999999;INTERVAL=9999"},
    };
    const auto ny = zone("America/New_York");
    for (const auto& c : cases) {
        const auto r = parse_rrule(c.rule, at(c.start), ny);
        ASSERT_TRUE(r) << c.rule << ": " << r.error();
        EXPECT_EQ(r->text, c.normalized) << c.rule;
        // libical, as an oracle we did not write, reads the normalized text back.
        icalerror_clear_errno();
        const auto parsed = icalrecurrencetype_from_string(r->text.c_str());
        EXPECT_NE(parsed.freq, ICAL_NO_RECURRENCE) << r->text;
        EXPECT_EQ(icalerrno, ICAL_NO_ERROR) << r->text;
    }
}

TEST(ParseRrule, Errors) {
    struct Case {
        const char* start;
        std::string rule;
        const char* message;
    };
    const char* t = "2024-01-20T10:00";
    const Case cases[] = {
        {t, "", "RRULE is empty"},
        {t, "RRULE:", "RRULE is empty"},
        {t, "FREQ=WEEKLY;BYDAY=XX", "RRULE part 'BYDAY=XX': unknown weekday 'XX'"},
        {t, "FREQ=WEEKLY;BYDAY=MO,XX", "RRULE part 'BYDAY=MO,XX': unknown weekday 'XX'"},
        {t, "FREQ=MONTHLY;BYDAY=1M", "unknown weekday '1M'"},
        {t, "FREQ=MONTHLY;BYDAY=M", "unknown weekday 'M'"},
        {t, "FREQ=MONTHLY;BYDAY=MO,", "empty item in the list"},
        {t, "BYDAY=MO", "has no FREQ"},
        {t, "FREQ=FORTNIGHTLY", "RRULE part 'FREQ=FORTNIGHTLY': unknown frequency 'FORTNIGHTLY'"},
        {t, "FREQ=WEEKLY=DAILY", "unknown frequency 'WEEKLY=DAILY'"},
        {t, "FREQ=WEEKLY;COUNT=0", "RRULE part 'COUNT=0': COUNT must be a positive integer"},
        {t, "FREQ=WEEKLY;COUNT=-1", "COUNT must be a positive integer"},
        {t, "FREQ=WEEKLY;COUNT=abc", "COUNT must be a positive integer"},
        {t, "FREQ=WEEKLY;COUNT=10000000", "is too large"},
        {t, "FREQ=WEEKLY;COUNT=99999999999999999999", "COUNT must be a positive integer"},
        {t, "FREQ=WEEKLY;INTERVAL=0", "RRULE part 'INTERVAL=0': INTERVAL must be a positive integer"},
        {t, "FREQ=WEEKLY;INTERVAL=1.5", "INTERVAL must be a positive integer"},
        {t, "FREQ=WEEKLY;INTERVAL=40000", "is too large"},
        {t, "FREQ=WEEKLY;COUNT=3;UNTIL=20250101T000000Z", "COUNT and UNTIL cannot both be given"},
        {t, "FREQ=WEEKLY;FREQ=DAILY", "RRULE part 'FREQ=DAILY': FREQ is given twice"},
        {t, "FREQ=WEEKLY;BYDAY=MO;BYDAY=TU", "BYDAY is given twice"},
        {t, "FREQ=WEEKLY;;BYDAY=MO", "has an empty part"},
        {t, "FREQ=WEEKLY;", "has an empty part"},
        {t, ";FREQ=WEEKLY", "has an empty part"},
        {t, "FREQ=WEEKLY;FOO=BAR", "RRULE part 'FOO=BAR': unknown rule part 'FOO'"},
        {t, "FREQ=WEEKLY;X-NAME=1", "unknown rule part 'X-NAME'"},
        {t, "FREQ=WEEKLY;RSCALE=GREGORIAN", "unknown rule part 'RSCALE'"},
        {t, "FREQ=WEEKLY;BYDAY", "RRULE part 'BYDAY': expected NAME=VALUE"},
        {t, "garbage", "RRULE part 'GARBAGE': expected NAME=VALUE"},
        {t, "FREQ=WEEKLY;BYDAY=", "RRULE part 'BYDAY=': empty value"},
        {t, "=WEEKLY", "unknown rule part ''"},
        {t, "FREQ=WEEKLY; BYDAY=MO", "contains spaces"},
        {t, "FREQ=WEEKLY\n", "contains spaces"},
        {t, "FREQ=MONTHLY;BYMONTH=13", "RRULE part 'BYMONTH=13': 13 is out of range (1 to 12)"},
        {t, "FREQ=MONTHLY;BYMONTH=0", "0 is out of range (1 to 12)"},
        {t, "FREQ=MONTHLY;BYMONTH=-1", "'-1' is not a non-negative integer"},
        {t, "FREQ=MONTHLY;BYMONTHDAY=32", "32 is out of range (1 to 31 or -31 to -1)"},
        {t, "FREQ=MONTHLY;BYMONTHDAY=-32", "-32 is out of range"},
        {t, "FREQ=MONTHLY;BYMONTHDAY=0", "0 is out of range"},
        {t, "FREQ=MONTHLY;BYMONTHDAY=1,,2", "empty item in the list"},
        {t, "FREQ=MONTHLY;BYMONTHDAY=first", "'FIRST' is not an integer"},
        {t, "FREQ=MONTHLY;BYDAY=0MO", "week number 0 in '0MO' is out of range"},
        {t, "FREQ=MONTHLY;BYDAY=54MO", "week number 54"},
        {t, "FREQ=MONTHLY;BYDAY=+MO", "expected [+|-]n before the weekday"},
        {t, "FREQ=MONTHLY;BYDAY=1.5MO", "expected [+|-]n before the weekday"},
        {t, "FREQ=WEEKLY;BYDAY=1MO", "RRULE part 'BYDAY=1MO': a numbered weekday needs FREQ=MONTHLY or FREQ=YEARLY"},
        {t, "FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "cannot be combined with BYWEEKNO"},
        {t, "FREQ=WEEKLY;BYMONTHDAY=1", "RRULE part 'BYMONTHDAY=1': not allowed with FREQ=WEEKLY"},
        {t, "FREQ=MONTHLY;BYYEARDAY=1", "not allowed with FREQ=MONTHLY"},
        {t, "FREQ=MONTHLY;BYWEEKNO=1", "RRULE part 'BYWEEKNO=1': needs FREQ=YEARLY"},
        {t, "FREQ=MONTHLY;BYSETPOS=1", "RRULE part 'BYSETPOS=1': needs another BYxxx part"},
        {t, "FREQ=DAILY;BYHOUR=24", "24 is out of range (0 to 23)"},
        {t, "FREQ=DAILY;BYMINUTE=60", "60 is out of range (0 to 59)"},
        {t, "FREQ=DAILY;BYSECOND=61", "61 is out of range (0 to 60)"},
        {t, "FREQ=YEARLY;BYYEARDAY=367", "367 is out of range"},
        {t, "FREQ=YEARLY;BYWEEKNO=54", "54 is out of range"},
        {t, "FREQ=WEEKLY;WKST=XX", "RRULE part 'WKST=XX': unknown weekday 'XX'"},
        {t, "FREQ=WEEKLY;UNTIL=2024-13-01", "RRULE part 'UNTIL=2024-13-01': month 13 out of range"},
        {t, "FREQ=WEEKLY;UNTIL=TOMORROW", "RRULE part 'UNTIL=TOMORROW': expected a date"},
        {t, "FREQ=WEEKLY;UNTIL=20230101T000000Z", "RRULE part 'UNTIL=20230101T000000Z': UNTIL is before the event's start"},
        {t, "FREQ=WEEKLY;UNTIL=20240119", "UNTIL is before the event's start"},
        {t, "FREQ=WEEKLY;UNTIL=20240120T095959", "UNTIL is before the event's start"},
        {"2024-01-20", "FREQ=DAILY;UNTIL=20240119", "UNTIL is before the event's start"},
        {"2024-01-20", "FREQ=DAILY;BYHOUR=9", "RRULE part 'BYHOUR=9': not allowed for an all-day event"},
        {"2024-01-20", "FREQ=DAILY;BYMINUTE=0", "not allowed for an all-day event"},
        {t, std::string("FREQ=WEEKLY\0;BYDAY=MO", 21), "unknown frequency"},
        // Each value is fine, but there are more than libical's BYMONTHDAY array holds.
        {t,
         "FREQ=MONTHLY;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,"
         "-1,-2,-3",
         "is not valid (rejected by libical)"},
    };
    const auto ny = zone("America/New_York");
    for (const auto& c : cases) {
        const auto r = parse_rrule(c.rule, at(c.start), ny);
        ASSERT_FALSE(r) << c.rule << " parsed as " << r->text;
        EXPECT_TRUE(contains(r.error(), c.message)) << c.rule << ": " << r.error();
    }
}

// Found by fuzz_rrule: libical looks for a monthly rule's first occurrence month by month up to the
// year 2582 before it gives an iterator (seconds on every expansion, half a minute under ASan), so
// a monthly rule that can never occur is refused; one that can, however rarely, is kept.
TEST(ParseRrule, MonthlyRulesThatNeverOccurAreRefused) {
    struct Case {
        const char* start;
        const char* rule;
        const char* message;  // empty: valid
    };
    const Case cases[] = {
        {"2040-03-01T09:00", "FREQ=MONTHLY;BYDAY=8SU",
         "RRULE part 'BYDAY=8SU': '8SU' never occurs: a month has at most 5 of each weekday (1 to 5 or -5 to -1)"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYDAY=MO,-6FR", "'-6FR' never occurs: a month has at most 5"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
         "RRULE part 'BYSETPOS=6': 6 never occurs: the rule gives at most 5 occurrences a month"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYMONTHDAY=1;BYSETPOS=2", "2 never occurs: the rule gives at most 1 occurrence a month"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYDAY=1SU;BYHOUR=9,18;BYSETPOS=-3", "at most 2 occurrences a month"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31;BYDAY=MO",
         "RRULE part 'BYMONTHDAY=31': no month it visits has a day matching BYMONTH=4;BYMONTHDAY=31;BYDAY=MO, so the "
         "rule never occurs"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30,-30", "no month it visits has a day matching"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYMONTHDAY=8;BYDAY=1MO", "no month it visits has a day matching"},
        {"2024-01-31T10:00", "FREQ=MONTHLY;BYMONTH=4,6",
         "RRULE part 'BYMONTH=4,6': no month it visits has day 31 (the start's day), so the rule never occurs"},
        {"2024-01-20T10:00", "FREQ=MONTHLY;INTERVAL=12;BYMONTH=2;BYDAY=MO", "INTERVAL=12;BYMONTH=2;BYDAY=MO"},
        {"2025-02-01", "FREQ=MONTHLY;INTERVAL=48;BYMONTHDAY=29", "no month it visits has a day matching"},
        // Rare but real: kept.
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYDAY=5SU", ""},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYDAY=-5FR,1MO;BYSETPOS=2", ""},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29", ""},
        {"2026-02-01T10:00", "FREQ=MONTHLY;INTERVAL=12;BYDAY=5SU", ""},  // Feb 2032 has five Sundays
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", ""},
        {"2024-01-31T10:00", "FREQ=MONTHLY", ""},
        {"2024-01-20T10:00", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1,23", ""},
        {"2024-01-20T10:00", "FREQ=YEARLY;BYDAY=53SU", ""},
    };
    const auto ny = zone("America/New_York");
    for (const auto& c : cases) {
        const auto r = parse_rrule(c.rule, at(c.start), ny);
        if (std::string_view(c.message).empty()) {
            EXPECT_TRUE(r) << c.rule << ": " << (r ? "" : r.error());
        } else {
            ASSERT_FALSE(r) << c.rule << " parsed as " << r->text;
            EXPECT_TRUE(contains(r.error(), c.message)) << c.rule << ": " << r.error();
        }
    }
}

// ---- EXDATE / RDATE --------------------------------------------------------------------------------

TEST(ParseRecurrenceDate, Table) {
    struct Case {
        const char* start;
        const char* text;
        const char* result;  // formatted, or a substring of the error
        bool ok;
    };
    const Case cases[] = {
        // A wall-time start: wall times stay, instants become wall times in the zone.
        {"2024-08-15T19:00", "20240829T190000", "2024-08-29T19:00:00", true},
        {"2024-08-15T19:00", "2024-08-29T19:00", "2024-08-29T19:00:00", true},
        {"2024-08-15T19:00", "2024-08-29 19:00:00", "2024-08-29T19:00:00", true},
        {"2024-08-15T19:00", "20240829T230000Z", "2024-08-29T19:00:00", true},
        {"2024-08-15T19:00", "2024-08-29T23:00:00Z", "2024-08-29T19:00:00", true},
        {"2024-08-15T19:00", "2024-08-29T19:00-04:00", "2024-08-29T19:00:00", true},
        {"2024-08-15T19:00", "20240829", "EXDATE/RDATE 2024-08-29 is a date but the event has a time", false},
        {"2024-08-15T19:00", "2024-08-29", "EXDATE/RDATE 2024-08-29 is a date but the event has a time", false},
        // A date start: only dates.
        {"2024-08-15", "20240829", "2024-08-29", true},
        {"2024-08-15", "2024-08-29", "2024-08-29", true},
        {"2024-08-15", "20240829T190000", "EXDATE/RDATE 2024-08-29T19:00:00 has a time but the event is all-day", false},
        {"2024-08-15", "2024-08-29T19:00Z", "has a time but the event is all-day", false},
        // An instant start: wall times are resolved in the zone.
        {"2024-08-15T23:00Z", "20240829T190000", "2024-08-29T23:00:00Z", true},
        {"2024-08-15T23:00Z", "20240829T230000Z", "2024-08-29T23:00:00Z", true},
        {"2024-08-15T23:00Z", "20240829", "is a date but the event has a time", false},
        // Malformed.
        {"2024-08-15T19:00", "2024-08-29T19", "expected a date (YYYY-MM-DD or YYYYMMDD) or date-time", false},
        {"2024-08-15T19:00", "20240829T1900", "expected a date (YYYY-MM-DD or YYYYMMDD)", false},
        {"2024-08-15T19:00", "20240829T190000+0200", "expected a date", false},
        {"2024-08-15T19:00", "20240829X190000", "expected a date", false},
        {"2024-08-15T19:00", "2024082", "expected a date", false},
        {"2024-08-15T19:00", "", "got ''", false},
        {"2024-08-15T19:00", "20240230", "2024-02-30 is not a valid date", false},
        {"2024-08-15T19:00", "20240829T250000", "hour 25 out of range", false},
        {"2024-08-15T19:00", "09990829T190000", "year 999 out of range", false},
    };
    const auto ny = zone("America/New_York");
    for (const auto& c : cases) {
        const auto t = parse_recurrence_date(c.text, at(c.start), ny);
        if (c.ok) {
            ASSERT_TRUE(t) << c.text << ": " << t.error();
            EXPECT_EQ(format_event_time(*t), c.result) << c.text;
            EXPECT_EQ(t->index(), at(c.start).index()) << c.text;
        } else {
            ASSERT_FALSE(t) << c.text << " parsed as " << format_event_time(*t);
            EXPECT_TRUE(contains(t.error(), c.result)) << c.text << ": " << t.error();
        }
    }
}

// ---- formatting and robustness ---------------------------------------------------------------------

TEST(FormatEventTime, Table) {
    using date::year;
    const std::pair<EventTime, const char*> cases[] = {
        {CivilDate{year{2024} / 5 / 14}, "2024-05-14"},
        {WallTime{date::local_days{year{2024} / 5 / 14} + 9h + 30min}, "2024-05-14T09:30:00"},
        {Instant{date::sys_days{year{2024} / 5 / 14} + 7h + 30min}, "2024-05-14T07:30:00Z"},
        {Instant{date::sys_days{year{1000} / 1 / 1}}, "1000-01-01T00:00:00Z"},
    };
    for (const auto& [t, want] : cases) EXPECT_EQ(format_event_time(t), want);
}

// Truncations and one-character changes of valid values must give a value or a message, never a
// crash or an exception (run under ASan/UBSan).
TEST(EventTimeParsers, NeverCrash) {
    const std::string seeds[] = {"2024-05-14T09:30:00+05:45", "20240829T190000Z", "P1DT2H3M4S",
                                 "FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20261231T235959Z",
                                 "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;BYSETPOS=1,-1;WKST=SU", "America/New_York"};
    const std::string replacements = std::string("0129-+:;=,.TZPWDHMSxX/ \xff") + '\0';
    const auto ny = zone("America/New_York");
    const EventTime starts[] = {at("2024-01-20"), at("2024-01-20T10:00"), at("2024-01-20T10:00Z")};
    const auto exercise = [&](const std::string& s) {
        if (const auto t = parse_event_time(s)) {
            (void)format_event_time(*t);
            (void)to_instant(*t, ny);
        }
        (void)parse_duration(s);
        (void)find_zone(s);
        for (const auto& start : starts) {
            (void)parse_rrule(s, start, ny);
            (void)parse_recurrence_date(s, start, ny);
        }
    };
    for (const auto& seed : seeds) {
        for (std::size_t n = 0; n <= seed.size(); ++n) exercise(seed.substr(0, n));
        for (std::size_t i = 0; i < seed.size(); ++i) {
            for (const char c : replacements) {
                auto s = seed;
                s[i] = c;
                exercise(s);
            }
        }
    }
}

}  // namespace
}  // namespace almanac
