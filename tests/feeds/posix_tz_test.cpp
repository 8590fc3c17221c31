#include "feeds/posix_tz.hpp"

#include <gtest/gtest.h>

#include "tests/feeds/time_helpers.hpp"

namespace almanac {
namespace {

using namespace almanac::test;
using namespace std::chrono_literals;

std::string onset(const PosixTz& tz, const char* utc_text) {
    return format_event_time(EventTime{tz.info_at(utc(utc_text)).begin});
}

TEST(PosixTz, ParsesTheWholeGrammar) {
    const auto ny = parse_posix_tz("EST5EDT,M3.2.0,M11.1.0");
    ASSERT_TRUE(ny);
    EXPECT_EQ(ny->std_abbrev, "EST");
    EXPECT_EQ(ny->std_offset, -5h);
    EXPECT_EQ(ny->dst_abbrev, "EDT");
    EXPECT_EQ(ny->dst_offset, -4h);  // one hour ahead when not written
    EXPECT_EQ(ny->start.time, 2h);
    const auto nuuk = parse_posix_tz("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    ASSERT_TRUE(nuuk);
    EXPECT_EQ(nuuk->std_abbrev, "-02");
    EXPECT_EQ(nuuk->start.time, -1h);
    EXPECT_EQ(nuuk->end.time, 0h);
    const auto chatham = parse_posix_tz("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45");
    ASSERT_TRUE(chatham);
    EXPECT_EQ(chatham->std_offset, 12h + 45min);
    EXPECT_EQ(chatham->start.time, 2h + 45min);
    const auto extremes = parse_posix_tz("AAA-1:02:03BBB,J60/167,300/-167:59:59");
    ASSERT_TRUE(extremes);
    EXPECT_EQ(extremes->std_offset, 1h + 2min + 3s);
    EXPECT_EQ(extremes->start.kind, PosixRuleDate::Kind::julian_no_leap);
    EXPECT_EQ(extremes->start.time, 167h);
    EXPECT_EQ(extremes->end.kind, PosixRuleDate::Kind::julian_zero);
    EXPECT_EQ(extremes->end.time, -(167h + 59min + 59s));
    EXPECT_TRUE(parse_posix_tz("<+01>-1"));
    EXPECT_TRUE(parse_posix_tz("JST-9"));
}

TEST(PosixTz, RejectsWhatIsNotARule) {
    for (const char* text : {"", "EST", "ES5", "<AB>5", "<-02>2<-01", "EST5EDT", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
                             "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365", "EST5EDT,366,1",
                             "EST5EDT,M3.2.0/168,M11.1.0", "EST25", "EST5EDT,M3.2.0,M11.1.0x", "EST5:60"})
        EXPECT_FALSE(parse_posix_tz(text)) << text;
}

TEST(PosixTz, RuleDates) {
    PosixRuleDate d;
    d.kind = PosixRuleDate::Kind::julian_no_leap;
    d.day = 60;  // 1 March in every year
    EXPECT_EQ(d.date_in(date::year{2024}), date::local_days{date::year{2024} / 3 / 1});
    EXPECT_EQ(d.date_in(date::year{2023}), date::local_days{date::year{2023} / 3 / 1});
    d.kind = PosixRuleDate::Kind::julian_zero;
    d.day = 59;  // counts 29 February
    EXPECT_EQ(d.date_in(date::year{2024}), date::local_days{date::year{2024} / 2 / 29});
    EXPECT_EQ(d.date_in(date::year{2023}), date::local_days{date::year{2023} / 3 / 1});
    d = {PosixRuleDate::Kind::month_week_day, 0, 3, 5};  // last Sunday of March
    EXPECT_EQ(d.date_in(date::year{2039}), date::local_days{date::year{2039} / 3 / 27});
    d = {PosixRuleDate::Kind::month_week_day, 4, 3, 4};  // fourth Thursday of March
    EXPECT_EQ(d.date_in(date::year{2090}), date::local_days{date::year{2090} / 3 / 23});
}

TEST(PosixTz, NegativeAndLongTransitionTimes) {
    // Greenland: the last Sunday of March at -1:00 is Saturday 23:00 local (-02), 01:00 UTC.
    const auto nuuk = parse_posix_tz("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    ASSERT_TRUE(nuuk);
    EXPECT_EQ(onset(*nuuk, "2039-06-01T12:00Z"), "2039-03-27T01:00:00Z");
    EXPECT_EQ(nuuk->info_at(utc("2039-06-01T12:00Z")).offset, -1h);
    EXPECT_EQ(nuuk->info_at(utc("2039-06-01T12:00Z")).save, 1min);
    EXPECT_EQ(format_event_time(EventTime{nuuk->info_at(utc("2039-06-01T12:00Z")).end}), "2039-10-30T01:00:00Z");
    EXPECT_EQ(nuuk->info_at(utc("2039-12-01T12:00Z")).save, 0min);
    // Gaza: Thursday 50:00 is Saturday 02:00.
    const auto gaza = parse_posix_tz("EET-2EEST,M3.4.4/50,M10.4.4/50");
    ASSERT_TRUE(gaza);
    EXPECT_EQ(onset(*gaza, "2090-06-01T12:00Z"), "2090-03-25T00:00:00Z");
    EXPECT_EQ(onset(*gaza, "2090-12-01T12:00Z"), "2090-10-27T23:00:00Z");
}

TEST(PosixTz, SouthernHemisphereAndNegativeDst) {
    const auto sydney = parse_posix_tz("AEST-10AEDT,M10.1.0,M4.1.0/3");
    ASSERT_TRUE(sydney);
    EXPECT_EQ(sydney->info_at(utc("2040-01-15T12:00Z")).offset, 11h);
    EXPECT_EQ(sydney->info_at(utc("2040-07-01T12:00Z")).offset, 10h);
    const auto dublin = parse_posix_tz("IST-1GMT0,M10.5.0,M3.5.0/1");
    ASSERT_TRUE(dublin);
    EXPECT_EQ(dublin->info_at(utc("2040-07-01T12:00Z")).abbrev, "IST");
    EXPECT_EQ(dublin->info_at(utc("2040-07-01T12:00Z")).save, 0min);
    EXPECT_EQ(dublin->info_at(utc("2040-01-15T12:00Z")).abbrev, "GMT");
    EXPECT_EQ(dublin->info_at(utc("2040-01-15T12:00Z")).save, 1min);
    EXPECT_EQ(dublin->local_info(local("2040-10-28T01:30")).result, date::local_info::ambiguous);
    EXPECT_EQ(dublin->local_info(local("2040-03-25T01:30")).result, date::local_info::nonexistent);
}

TEST(PosixTz, DaylightAllYear) {
    // RFC 8536 §3.3.1: DST from 1 January 00:00 to 31 December 24:00 plus the DST amount is all year.
    const auto tz = parse_posix_tz("EST5EDT,0/0,J365/25");
    ASSERT_TRUE(tz);
    for (const char* t : {"2040-01-01T05:00Z", "2040-06-01T12:00Z", "2040-12-31T23:59Z", "2041-01-01T05:00Z"}) {
        const auto info = tz->info_at(utc(t));
        EXPECT_EQ(info.abbrev, "EDT") << t;
        EXPECT_EQ(info.offset, -4h) << t;
    }
    EXPECT_EQ(tz->local_info(local("2040-01-01T00:30")).result, date::local_info::unique);
}

}  // namespace
}  // namespace almanac
