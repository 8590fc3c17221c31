#include "tests/feeds/time_helpers.hpp"
#include "feeds/event_text.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <cstdlib>
#include <ctime>
#include <optional>

namespace almanac {
namespace {

using namespace almanac::test;

struct WhenCase {
    const char* zone;  // the event's
    const char* start;
    const char* end;  // exclusive, as in Event
    const char* view;
    const char* expected;
};

const WhenCase when_cases[] = {
    {"Europe/Berlin", "2024-05-16T09:30", "2024-05-16T16:00", "Europe/Berlin",
     "Thu 16 May 2024, 09:30–16:00 CEST (UTC+02:00)"},
    {"Europe/Vienna", "2024-09-16T09:00", "2024-09-18T17:30", "Europe/Berlin",
     "Mon 16 Sep 2024, 09:00 – Wed 18 Sep 2024, 17:30 CEST (UTC+02:00)"},
    {"Europe/Berlin", "2024-05-16T09:30", "2024-05-16T09:30", "Europe/Berlin", "Thu 16 May 2024, 09:30 CEST (UTC+02:00)"},
    {"Europe/Berlin", "2024-05-16T09:30", "2024-05-16T16:00", "UTC", "Thu 16 May 2024, 07:30–14:00 UTC (UTC+00:00)"},
    // Zones whose abbreviation is just the offset still show it.
    {"UTC", "2024-05-16T07:30Z", "2024-05-16T09:00Z", "Asia/Kathmandu", "Thu 16 May 2024, 13:15–14:45 +0545 (UTC+05:45)"},
    {"UTC", "2024-05-16T12:00Z", "2024-05-16T13:00Z", "America/Sao_Paulo", "Thu 16 May 2024, 09:00–10:00 -03 (UTC-03:00)"},
    {"UTC", "2024-05-16T07:30Z", "2024-05-16T08:30Z", "Pacific/Kiritimati", "Thu 16 May 2024, 21:30–22:30 +14 (UTC+14:00)"},
    {"UTC", "2024-05-16T09:30Z", "2024-05-16T10:30Z", "Pacific/Kiritimati",
     "Thu 16 May 2024, 23:30 – Fri 17 May 2024, 00:30 +14 (UTC+14:00)"},
    // A DST change during the event: each end with its own zone label.
    {"UTC", "2024-04-06T14:00Z", "2024-04-06T16:00Z", "Australia/Lord_Howe",
     "Sun 7 Apr 2024, 01:00 +11 (UTC+11:00) – 02:30 +1030 (UTC+10:30)"},
    {"America/New_York", "2024-11-03T00:30", "2024-11-03T03:00", "America/New_York",
     "Sun 3 Nov 2024, 00:30 EDT (UTC-04:00) – 03:00 EST (UTC-05:00)"},
    {"Europe/Berlin", "2024-03-30T20:00", "2024-03-31T10:00", "Europe/Berlin",
     "Sat 30 Mar 2024, 20:00 CET (UTC+01:00) – Sun 31 Mar 2024, 10:00 CEST (UTC+02:00)"},
    // After 2037 the zone's POSIX rule still gives summer time.
    {"America/New_York", "2040-07-04T18:00", "2040-07-04T21:00", "America/New_York",
     "Wed 4 Jul 2040, 18:00–21:00 EDT (UTC-04:00)"},
    // All-day: the exclusive end is shown as the inclusive last day; zones play no part.
    {"Europe/Berlin", "2024-04-16", "2024-04-17", "America/New_York", "Tue 16 Apr 2024"},
    {"Europe/Berlin", "2024-04-16", "2024-04-19", "Pacific/Kiritimati", "Tue 16 Apr – Thu 18 Apr 2024"},
    {"Asia/Tokyo", "2024-12-30", "2025-01-03", "UTC", "Mon 30 Dec 2024 – Thu 2 Jan 2025"},
    {"Asia/Tokyo", "2024-02-28", "2024-03-02", "UTC", "Wed 28 Feb – Fri 1 Mar 2024"},
};

TEST(EventText, DescribeWhen) {
    for (const auto& c : when_cases)
        EXPECT_EQ(describe_when(at(c.start), at(c.end), zone(c.zone), zone(c.view)), c.expected)
            << c.start << " in " << c.view;
}

TEST(EventText, DescribeEventWhen) {
    const struct {
        Event event;
        const char* view;
        const char* expected;
    } cases[] = {
        {make_event("Europe/Vienna", "2024-09-16T09:00", "2024-09-18T17:30"), "America/New_York",
         "Mon 16 Sep 2024, 03:00 – Wed 18 Sep 2024, 11:30 EDT (UTC-04:00) (Europe/Vienna: Mon 16 Sep 2024, 09:00 CEST)"},
        // Same clocks, different name: nothing to add.
        {make_event("Europe/Vienna", "2024-09-16T09:00", "2024-09-18T17:30"), "Europe/Berlin",
         "Mon 16 Sep 2024, 09:00 – Wed 18 Sep 2024, 17:30 CEST (UTC+02:00)"},
        {make_event("Asia/Kathmandu", "2024-05-16T09:00", "2024-05-16T10:00"), "Asia/Kolkata",
         "Thu 16 May 2024, 08:45–09:45 IST (UTC+05:30) (Asia/Kathmandu: Thu 16 May 2024, 09:00 +0545)"},
        // UNTIL is in UTC; in Tokyo its last moment is already 1 January.
        {make_event("Asia/Tokyo", "2024-01-25T19:00", "2024-01-25T21:00",
                    "FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20261231T235959Z", {"2024-08-29T19:00", "2024-12-26T19:00"}),
         "Asia/Tokyo",
         "Thu 25 Jan 2024, 19:00–21:00 JST (UTC+09:00). Repeats monthly on the last Thursday until 1 Jan 2027; not on "
         "Thu 29 Aug 2024, 19:00 and Thu 26 Dec 2024, 19:00"},
        {make_event("Europe/Helsinki", "2024-03-05T17:30", "2024-03-05T19:30",
                    "FREQ=MONTHLY;BYDAY=1TU;BYMONTH=1,2,3,4,5,9,10,11,12"),
         "Europe/Helsinki",
         "Tue 5 Mar 2024, 17:30–19:30 EET (UTC+02:00). Repeats monthly on the first Tuesday, except in June, July and "
         "August"},
        {make_event("America/Mexico_City", "2024-02-08T18:00", "2024-02-08T19:30", "FREQ=WEEKLY;INTERVAL=4;BYDAY=TH",
                    {}, {"2024-12-12T18:00"}),
         "UTC",
         "Fri 9 Feb 2024, 00:00–01:30 UTC (UTC+00:00) (America/Mexico_City: Thu 8 Feb 2024, 18:00 CST). Repeats every 4 "
         "weeks on Thursday; also on Fri 13 Dec 2024, 00:00"},
        {make_event("Asia/Shanghai", "2024-03-16T14:00", "2024-03-16T17:00",
                    "FREQ=MONTHLY;INTERVAL=2;BYDAY=3SA;COUNT=12"),
         "Asia/Shanghai",
         "Sat 16 Mar 2024, 14:00–17:00 CST (UTC+08:00). Repeats every 2 months on the third Saturday, 12 times"},
        {make_event("Europe/Berlin", "2024-04-16", "2024-04-17", "FREQ=YEARLY;UNTIL=20300416"), "America/New_York",
         "Tue 16 Apr 2024. Repeats yearly until 16 Apr 2030"},
        {make_event("Europe/Berlin", "2024-04-16", "2024-04-17", "", {}, {"2024-05-01", "2024-06-01"}), "Europe/Berlin",
         "Tue 16 Apr 2024. Also on Wed 1 May 2024 and Sat 1 Jun 2024"},
    };
    for (const auto& c : cases) EXPECT_EQ(describe_event_when(c.event, zone(c.view)), c.expected);
}

TEST(EventText, DescribeRrule) {
    const std::pair<const char*, const char*> cases[] = {
        {"FREQ=DAILY", "daily"},
        {"FREQ=DAILY;INTERVAL=2", "every 2 days"},
        {"FREQ=WEEKLY;BYDAY=TH", "weekly on Thursday"},
        {"FREQ=WEEKLY;INTERVAL=4;BYDAY=TH", "every 4 weeks on Thursday"},
        {"FREQ=WEEKLY;BYDAY=TU,TH;COUNT=12", "weekly on Tuesday and Thursday, 12 times"},
        {"FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,TU;WKST=SU", "every 2 weeks on Sunday and Tuesday"},
        {"FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "daily on Monday, Tuesday, Wednesday, Thursday and Friday"},
        {"FREQ=MONTHLY;BYDAY=3SA", "monthly on the third Saturday"},
        {"FREQ=MONTHLY;BYDAY=-1TH", "monthly on the last Thursday"},
        {"FREQ=MONTHLY;BYDAY=-2FR", "monthly on the second-to-last Friday"},
        {"FREQ=MONTHLY;BYDAY=1MO,3MO", "monthly on the first Monday and the third Monday"},
        {"FREQ=MONTHLY;INTERVAL=2;BYDAY=3SA", "every 2 months on the third Saturday"},
        {"FREQ=MONTHLY;BYDAY=MO", "monthly on every Monday"},
        {"FREQ=MONTHLY;BYMONTHDAY=1,15", "monthly on the 1st and 15th"},
        {"FREQ=MONTHLY;BYMONTHDAY=-1", "monthly on the last day"},
        {"FREQ=MONTHLY;BYDAY=1TU;BYMONTH=1,2,3,4,5,9,10,11,12",
         "monthly on the first Tuesday, except in June, July and August"},
        {"FREQ=MONTHLY;BYMONTH=1,7", "monthly in January and July"},
        {"FREQ=YEARLY", "yearly"},
        {"FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "yearly on the last Sunday in March"},
        {"FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU", "yearly on the last Sunday in March and October"},
        {"FREQ=HOURLY;INTERVAL=6", "every 6 hours"},
        {"FREQ=MINUTELY", "every minute"},
        {"FREQ=DAILY;COUNT=1", "daily, once"},
        {"FREQ=DAILY;COUNT=2", "daily, twice"},
        {"FREQ=MONTHLY;BYDAY=2TH;UNTIL=20261231T235959Z", "monthly on the second Thursday until 31 Dec 2026"},
        {"FREQ=MONTHLY;BYDAY=2TH;UNTIL=20260630T230000Z", "monthly on the second Thursday until 1 Jul 2026"},
        // What a phrase would get wrong is given as the rule itself.
        {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "by the rule FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
        {"FREQ=DAILY;BYHOUR=9,17", "by the rule FREQ=DAILY;BYHOUR=9,17"},
        {"FREQ=YEARLY;BYWEEKNO=20", "by the rule FREQ=YEARLY;BYWEEKNO=20"},
        {"FREQ=YEARLY;BYDAY=20MO", "by the rule FREQ=YEARLY;BYDAY=20MO"},
        {"FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "by the rule FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13"},
    };
    const auto london = zone("Europe/London");
    for (const auto& [rule, expected] : cases)
        EXPECT_EQ(describe_rrule(RecurrenceRule{rule}, london), expected) << rule;
}

TEST(EventText, FeedDates) {
    const std::tuple<const char*, const char*, const char*> cases[] = {
        {"2024-05-16T07:30:00Z", "Thu, 16 May 2024 07:30:00 GMT", "2024-05-16T07:30:00Z"},
        {"2024-01-01T00:00:05Z", "Mon, 01 Jan 2024 00:00:05 GMT", "2024-01-01T00:00:05Z"},
        {"1970-01-01T00:00:00Z", "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z"},
        {"1969-12-31T23:59:59Z", "Wed, 31 Dec 1969 23:59:59 GMT", "1969-12-31T23:59:59Z"},
        {"2040-02-29T23:59:59Z", "Wed, 29 Feb 2040 23:59:59 GMT", "2040-02-29T23:59:59Z"},
        {"2024-05-16T09:30:00+02:00", "Thu, 16 May 2024 07:30:00 GMT", "2024-05-16T07:30:00Z"},
    };
    for (const auto& [text, rfc822, rfc3339] : cases) {
        EXPECT_EQ(format_rfc822(utc(text)), rfc822) << text;
        EXPECT_EQ(format_rfc3339(utc(text)), rfc3339) << text;
    }
}

// Years outside 1000..9999 take the general path, which writes them as they are.
TEST(EventText, FeedDatesAtTheEdgesOfFourDigitYears) {
    const auto at = [](int y, unsigned m, unsigned d, int seconds) {
        return Instant{date::sys_days{date::year{y} / m / d}} + std::chrono::seconds{seconds};
    };
    EXPECT_EQ(format_rfc3339(at(9999, 12, 31, 86399)), "9999-12-31T23:59:59Z");
    EXPECT_EQ(format_rfc3339(at(10000, 1, 1, 0)), "10000-01-01T00:00:00Z");
    EXPECT_EQ(format_rfc3339(at(999, 3, 4, 5 * 3600 + 6 * 60 + 7)), "0999-03-04T05:06:07Z");
    EXPECT_EQ(format_rfc822(at(1000, 1, 1, 0)), "Wed, 01 Jan 1000 00:00:00 GMT");
    EXPECT_EQ(format_rfc822(at(999, 12, 31, 86399)), "Tue, 31 Dec 999 23:59:59 GMT");
    EXPECT_EQ(format_rfc822(at(9999, 12, 31, 61)), "Fri, 31 Dec 9999 00:01:01 GMT");
}

// Feeds are served to everyone and cached by CDNs: the host's TZ and locale must not show.
TEST(EventText, IndependentOfTzAndLocale) {
    const auto render = [] {
        std::string out;
        for (const auto& c : when_cases)
            out += describe_when(at(c.start), at(c.end), zone(c.zone), zone(c.view)) + "\n";
        const auto e =
            make_event("Europe/Vienna", "2024-09-16T09:00", "2024-09-18T17:30", "FREQ=MONTHLY;BYDAY=3MO;COUNT=3");
        out += describe_event_when(e, zone("America/New_York")) + "\n";
        out += format_rfc822(utc("2024-05-16T07:30:00Z")).str() + format_rfc3339(utc("2024-05-16T07:30:00Z")).str();
        return out;
    };
    const auto saved = [](const char* name) -> std::optional<std::string> {
        const char* value = std::getenv(name);
        return value ? std::optional<std::string>(value) : std::nullopt;
    };
    const auto restore = [](const char* name, const std::optional<std::string>& value) {
        if (value)
            setenv(name, value->c_str(), 1);
        else
            unsetenv(name);
    };
    const auto tz = saved("TZ");
    const auto lc_all = saved("LC_ALL");
    const auto reference = render();

    const std::pair<const char*, const char*> environments[] = {
        {"Asia/Kathmandu", "de_DE.UTF-8"}, {"America/St_Johns", "fr_FR.UTF-8"}, {"Pacific/Kiritimati", "ja_JP.UTF-8"}};
    for (const auto& [tz_value, locale] : environments) {
        setenv("TZ", tz_value, 1);
        setenv("LC_ALL", locale, 1);
        tzset();
        std::setlocale(LC_ALL, "");
        EXPECT_EQ(render(), reference) << tz_value << " " << locale;
    }
    restore("TZ", tz);
    restore("LC_ALL", lc_all);
    tzset();
    std::setlocale(LC_ALL, "C");
}

}  // namespace
}  // namespace almanac
