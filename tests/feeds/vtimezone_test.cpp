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
        ASSERT_EQ(tz.observances.size(), 1u) << name << "\n" << serialized(tz);
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
        EXPECT_EQ(o.rdates.front(), o.start) << "DTSTART must be repeated as the first RDATE\n" << text;
        EXPECT_TRUE(std::is_sorted(o.rdates.begin(), o.rdates.end()));
    }
    EXPECT_TRUE(saw_rdates) << text;
    EXPECT_EQ(text.find("RDATE:", 0) == std::string::npos, false);
    EXPECT_EQ(text.find(','), std::string::npos) << "one RDATE value per line\n" << text;
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
                              << "s, VTIMEZONE " << actual.count() << "s\n" << serialized(tz);
            }
        }
    }
}

}  // namespace
}  // namespace almanac
