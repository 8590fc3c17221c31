#include "tests/feeds/time_helpers.hpp"
#include "feeds/vtimezone.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace almanac {
namespace {

using namespace almanac::test;

using std::chrono::hours;
using std::chrono::minutes;

const Observance* find(const VTimezone& tz, bool daylight) {
    for (const auto& o : tz.observances)
        if (o.daylight == daylight) return &o;
    return nullptr;
}

std::string serialized(const VTimezone& tz) {
    const auto component = vtimezone_component(tz);
    char* text = icalcomponent_as_ical_string_r(component.get());
    std::string out = text;
    std::free(text);
    return out;
}

// libical (a parser we did not write) holding our VTIMEZONE.
struct LibicalZone {
    icaltimezone* zone = icaltimezone_new();
    explicit LibicalZone(const VTimezone& tz) { icaltimezone_set_component(zone, vtimezone_component(tz).release()); }
    LibicalZone(const LibicalZone&) = delete;
    LibicalZone& operator=(const LibicalZone&) = delete;
    ~LibicalZone() { icaltimezone_free(zone, 1); }

    std::chrono::seconds offset_at(Instant t) const {
        auto tt = ical_utc_time(t);
        tt.zone = nullptr;
        int is_daylight = 0;
        return std::chrono::seconds{icaltimezone_get_utc_offset_of_utc_time(zone, &tt, &is_daylight)};
    }
};

TEST(VTimezone, NewYorkFoldsIntoTwoYearlyRules) {
    const auto tz = make_vtimezone(zone("America/New_York"), utc("2024-05-01T00:00:00Z"), utc("2026-02-01T00:00:00Z"));
    EXPECT_EQ(tz.tzid, "America/New_York");
    ASSERT_EQ(tz.observances.size(), 2u) << serialized(tz);
    const auto* daylight = find(tz, true);
    const auto* standard = find(tz, false);
    ASSERT_TRUE(daylight && standard);
    EXPECT_EQ(daylight->offset_from, hours{-5});
    EXPECT_EQ(daylight->offset_to, hours{-4});
    EXPECT_EQ(daylight->name, "EDT");
    EXPECT_EQ(daylight->rrule, "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU");
    EXPECT_EQ(daylight->start, local("2024-03-10T02:00"));
    EXPECT_EQ(standard->offset_from, hours{-4});
    EXPECT_EQ(standard->offset_to, hours{-5});
    EXPECT_EQ(standard->name, "EST");
    EXPECT_EQ(standard->rrule, "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU");
    EXPECT_EQ(standard->start, local("2023-11-05T02:00"));  // in effect when the span starts
    EXPECT_TRUE(daylight->rdates.empty());
    EXPECT_TRUE(standard->rdates.empty());

    const auto text = serialized(tz);
    EXPECT_NE(text.find("BEGIN:DAYLIGHT\r\nDTSTART:20240310T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
                        "TZNAME:EDT\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT"),
              std::string::npos)
        << text;
}

TEST(VTimezone, DublinDaylightIsTheLargerOffset) {
    // The tz database makes Irish Standard Time (+01:00, summer) standard and GMT a negative DST.
    const auto tz = make_vtimezone(zone("Europe/Dublin"), utc("2025-01-01T00:00:00Z"), utc("2025-12-31T00:00:00Z"));
    ASSERT_EQ(tz.observances.size(), 2u) << serialized(tz);
    const auto* daylight = find(tz, true);
    const auto* standard = find(tz, false);
    ASSERT_TRUE(daylight && standard);
    EXPECT_EQ(daylight->offset_to, hours{1});
    EXPECT_EQ(daylight->name, "IST");
    EXPECT_EQ(daylight->rrule, "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU");
    EXPECT_EQ(standard->offset_to, hours{0});
    EXPECT_EQ(standard->name, "GMT");
    EXPECT_EQ(standard->rrule, "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU");
}

TEST(VTimezone, ZonesWithoutTransitionsGetOneStandard) {
    for (const auto* name : {"Asia/Tokyo", "UTC", "Etc/UTC", "GMT", "Asia/Kathmandu"}) {
        const auto tz = make_vtimezone(zone(name), utc("2025-03-01T00:00:00Z"), utc("2025-09-01T00:00:00Z"));
        ASSERT_EQ(tz.observances.size(), 1u) << name << "\n"
                                             << serialized(tz);
        const auto& o = tz.observances.front();
        EXPECT_FALSE(o.daylight) << name;
        EXPECT_TRUE(o.rrule.empty()) << name;
        EXPECT_TRUE(o.rdates.empty()) << name;  // DTSTART-only: RDATE-only observances are lost on Outlook
        EXPECT_EQ(tz.tzid, name);
    }
    const auto tokyo = make_vtimezone(zone("Asia/Tokyo"), utc("2025-03-01T00:00:00Z"), utc("2025-09-01T00:00:00Z"));
    EXPECT_EQ(tokyo.observances.front().offset_to, hours{9});
    EXPECT_EQ(tokyo.observances.front().name, "JST");
    const auto kathmandu = make_vtimezone(zone("Asia/Kathmandu"), utc("2025-03-01T00:00:00Z"), utc("2025-09-01T00:00:00Z"));
    EXPECT_EQ(kathmandu.observances.front().offset_to, hours{5} + minutes{45});
    const auto utc_zone = make_vtimezone(zone("UTC"), utc("2025-03-01T00:00:00Z"), utc("2025-09-01T00:00:00Z"));
    EXPECT_EQ(utc_zone.observances.front().offset_from, hours{0});
    EXPECT_EQ(utc_zone.observances.front().start, local("1970-01-01T00:00"));
}

TEST(VTimezone, LordHoweHalfHourDaylight) {
    const auto tz = make_vtimezone(zone("Australia/Lord_Howe"), utc("2025-01-01T00:00:00Z"), utc("2025-12-31T00:00:00Z"));
    ASSERT_EQ(tz.observances.size(), 2u) << serialized(tz);
    const auto* daylight = find(tz, true);
    const auto* standard = find(tz, false);
    ASSERT_TRUE(daylight && standard);
    EXPECT_EQ(daylight->offset_from, hours{10} + minutes{30});
    EXPECT_EQ(daylight->offset_to, hours{11});
    EXPECT_EQ(daylight->rrule, "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU");
    EXPECT_EQ(standard->offset_to, hours{10} + minutes{30});
    EXPECT_EQ(standard->rrule, "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU");
}

TEST(VTimezone, IrregularHistoryBecomesOneRdatePerLine) {
    // Iran's DST followed the Persian calendar (21 or 22 March and September) until it ended in 2022.
    const auto tz = make_vtimezone(zone("Asia/Tehran"), utc("2019-01-01T00:00:00Z"), utc("2023-06-01T00:00:00Z"));
    const auto text = serialized(tz);
    bool saw_rdates = false;
    for (const auto& o : tz.observances) {
        if (o.rdates.empty()) continue;
        saw_rdates = true;
        EXPECT_EQ(o.rdates.front(), o.start) << "DTSTART must be repeated as the first RDATE\n"
                                             << text;
        EXPECT_TRUE(std::is_sorted(o.rdates.begin(), o.rdates.end()));
    }
    EXPECT_TRUE(saw_rdates) << text;
    EXPECT_EQ(text.find("RDATE:", 0) == std::string::npos, false);
    EXPECT_EQ(text.find(','), std::string::npos) << "one RDATE value per line\n"
                                                 << text;
    // After September 2022 Tehran stays at +03:30: the last observance is that one.
    const LibicalZone libical(tz);
    EXPECT_EQ(libical.offset_at(utc("2023-05-01T12:00:00Z")), hours{3} + minutes{30});
    EXPECT_EQ(libical.offset_at(utc("2021-07-01T12:00:00Z")), hours{4} + minutes{30});
}

TEST(VTimezone, NewYork2040FollowsTheFooterRule) {
    const auto tz = make_vtimezone(zone("America/New_York"), utc("2040-07-04T16:00:00Z"), utc("2040-07-04T19:00:00Z"));
    const auto* daylight = find(tz, true);
    const auto* standard = find(tz, false);
    ASSERT_TRUE(daylight && standard) << serialized(tz);
    EXPECT_EQ(tz.observances.size(), 2u) << serialized(tz);
    EXPECT_EQ(daylight->offset_to, hours{-4});
    EXPECT_EQ(daylight->rrule, "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU");
    EXPECT_EQ(daylight->start, local("2040-03-11T02:00"));
    EXPECT_EQ(standard->rrule, "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU");
}

TEST(VTimezone, LinkNameKeepsItsTzid) {
    const auto tz = make_vtimezone(zone("US/Eastern"), utc("2025-01-01T00:00:00Z"), utc("2025-12-31T00:00:00Z"));
    EXPECT_EQ(tz.tzid, "US/Eastern");
    const auto ny = make_vtimezone(zone("America/New_York"), utc("2025-01-01T00:00:00Z"), utc("2025-12-31T00:00:00Z"));
    ASSERT_EQ(tz.observances.size(), ny.observances.size());
    for (std::size_t i = 0; i < ny.observances.size(); ++i) EXPECT_EQ(tz.observances[i].rrule, ny.observances[i].rrule);
    EXPECT_NE(serialized(tz).find("TZID:US/Eastern\r\n"), std::string::npos);
}

TEST(VTimezone, RuleChangeInsideTheSpanGetsUntil) {
    // The US moved its DST dates in 2007: the old April/October runs must stop, the new ones go on.
    const auto tz = make_vtimezone(zone("America/New_York"), utc("2005-01-01T00:00:00Z"), utc("2009-12-31T00:00:00Z"));
    EXPECT_EQ(tz.observances.size(), 4u) << serialized(tz);
    int open_ended = 0;
    for (const auto& o : tz.observances) {
        EXPECT_FALSE(o.rrule.empty());
        if (o.rrule.find("UNTIL=") == std::string::npos) ++open_ended;
    }
    EXPECT_EQ(open_ended, 2);
}

// libical reads every VTIMEZONE back to the tz database's offset, every 6 hours over the span.
TEST(VTimezone, LibicalAgreesWithTheTzDatabase) {
    struct Case {
        const char* zone;
        const char* from;
        const char* to;
    };
    const Case cases[] = {
        {"America/New_York", "2024-01-01T00:00:00Z", "2026-12-31T00:00:00Z"},
        {"Europe/Dublin", "2024-01-01T00:00:00Z", "2026-12-31T00:00:00Z"},
        {"Australia/Lord_Howe", "2024-01-01T00:00:00Z", "2026-12-31T00:00:00Z"},
        {"America/Santiago", "2010-01-01T00:00:00Z", "2026-12-31T00:00:00Z"},
        {"Africa/Casablanca", "2024-01-01T00:00:00Z", "2026-12-31T00:00:00Z"},
        {"Asia/Tehran", "2015-01-01T00:00:00Z", "2024-12-31T00:00:00Z"},
        {"Pacific/Kiritimati", "2024-01-01T00:00:00Z", "2025-12-31T00:00:00Z"},
    };
    for (const auto& c : cases) {
        const auto z = zone(c.zone);
        const auto tz = make_vtimezone(z, utc(c.from), utc(c.to));
        const LibicalZone libical(tz);
        int mismatches = 0;
        for (auto t = utc(c.from); t < utc(c.to) && mismatches < 3; t += hours{6}) {
            const auto expected = zone_info_at(z, t).offset;
            const auto actual = libical.offset_at(t);
            if (expected != actual) {
                ++mismatches;
                ADD_FAILURE() << c.zone << " at " << date::format("%FT%TZ", t) << ": tz " << expected.count()
                              << "s, VTIMEZONE " << actual.count() << "s\n"
                              << serialized(tz);
            }
        }
    }
}

// MS-OXCICAL: Outlook needs a STANDARD. Every zone of the tz database, every year 1970-2100.
TEST(VTimezone, EveryZoneAndYearHasAStandard) {
    for (const auto& tzdb_zone : date::get_tzdb().zones) {
        const auto z = find_zone(tzdb_zone.name());
        if (!z) continue;  // 'Factory'
        for (int y = 1970; y <= 2100; ++y) {
            const auto tz = make_vtimezone(*z, date::sys_days{date::year{y} / 3 / 1}, date::sys_days{date::year{y} / 9 / 1});
            ASSERT_TRUE(find(tz, false)) << tzdb_zone.name() << " " << y << "\n"
                                         << serialized(tz);
        }
    }
}

TEST(VTimezone, StandardTimeAboveThePreviousOffsetIsStandard) {
    // The tz database flags these periods as standard time (Moscow's "permanent summer time" was
    // legally standard time); an offset above the previous one does not make them DAYLIGHT.
    struct Case {
        const char* zone;
        const char* from;
        const char* to;
        std::chrono::seconds offset;
    };
    const Case cases[] = {
        {"Europe/Moscow", "2012-03-01T00:00:00Z", "2012-09-01T00:00:00Z", hours{4}},
        {"Europe/Kaliningrad", "2012-03-01T00:00:00Z", "2012-09-01T00:00:00Z", hours{3}},
        {"Europe/Volgograd", "2019-03-01T00:00:00Z", "2019-09-01T00:00:00Z", hours{4}},
    };
    for (const auto& c : cases) {
        const auto tz = make_vtimezone(zone(c.zone), utc(c.from), utc(c.to));
        ASSERT_EQ(tz.observances.size(), 1u) << serialized(tz);
        EXPECT_FALSE(tz.observances.front().daylight) << serialized(tz);
        EXPECT_EQ(tz.observances.front().offset_to, c.offset) << c.zone;
    }
}

TEST(VTimezone, DaylightAllYearKeepsTheStandardBefore) {
    // Chile stayed on daylight time (-03, DST in the tz database) from September 2014 to May 2016.
    const auto tz = make_vtimezone(zone("America/Santiago"), utc("2015-03-01T00:00:00Z"), utc("2015-09-01T00:00:00Z"));
    ASSERT_EQ(tz.observances.size(), 2u) << serialized(tz);
    EXPECT_FALSE(tz.observances[0].daylight);
    EXPECT_EQ(tz.observances[0].offset_to, hours{-4});
    EXPECT_EQ(tz.observances[0].start, local("2014-04-27T00:00"));
    EXPECT_TRUE(tz.observances[1].daylight);
    EXPECT_EQ(tz.observances[1].offset_to, hours{-3});
    const LibicalZone libical(tz);
    EXPECT_EQ(libical.offset_at(utc("2015-07-01T12:00:00Z")), hours{-3});
}

TEST(VTimezone, NuukAfter2037FollowsTheFooterRule) {
    // "<-02>2<-01>,M3.5.0/-1,M10.5.0/0": at -1:00 on the last Sunday of March (Saturday 23:00) and
    // at 0:00 on the last Sunday of October, in the time before the change.
    const auto tz = make_vtimezone(zone("America/Nuuk"), utc("2039-01-01T00:00:00Z"), utc("2041-12-31T00:00:00Z"));
    const auto* daylight = find(tz, true);
    const auto* standard = find(tz, false);
    ASSERT_TRUE(daylight && standard) << serialized(tz);
    EXPECT_EQ(tz.observances.size(), 2u) << serialized(tz);
    EXPECT_EQ(daylight->start, local("2039-03-26T23:00"));
    // The Saturday before the last Sunday, which is not always the last Saturday (31 March 2040).
    EXPECT_EQ(daylight->rrule, "FREQ=YEARLY;BYMONTH=3;BYDAY=SA;BYMONTHDAY=24,25,26,27,28,29,30");
    EXPECT_EQ(daylight->offset_to, hours{-1});
    EXPECT_EQ(standard->start, local("2038-10-31T00:00"));
    EXPECT_EQ(standard->rrule, "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU");
    EXPECT_EQ(standard->offset_to, hours{-2});
}

TEST(VTimezone, PeriodWithoutOnsetCoversTheSpanStart) {
    // EET has no transition before 1977: the span from 1975 still needs its +02:00.
    const auto tz = make_vtimezone(zone("EET"), utc("1975-01-01T00:00:00Z"), utc("1978-12-31T00:00:00Z"));
    ASSERT_FALSE(tz.observances.empty());
    EXPECT_LE(tz.observances.front().start, local("1975-01-01T00:00")) << serialized(tz);
    EXPECT_EQ(tz.observances.front().offset_to, hours{2});
}

}  // namespace
}  // namespace almanac
