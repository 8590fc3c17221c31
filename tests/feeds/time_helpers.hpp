// Test helpers shared by the time-related tests: zones and times from text, failing the test (not
// crashing it) when the text does not parse.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>

#include "feeds/event_time.hpp"
#include "feeds/item.hpp"

namespace almanac::test {

inline Zone zone(std::string_view name) {
    const auto z = find_zone(name);
    EXPECT_TRUE(z) << name << ": " << (z ? "" : z.error());
    return z ? *z : Zone{};
}

inline EventTime at(std::string_view text) {
    const auto t = parse_event_time(text);
    EXPECT_TRUE(t) << text << ": " << (t ? "" : t.error());
    return t ? *t : EventTime{};
}

template <class T>
T as(std::string_view text) {
    const auto t = at(text);
    EXPECT_TRUE(std::holds_alternative<T>(t)) << text;
    return std::holds_alternative<T>(t) ? std::get<T>(t) : T{};
}

inline WallTime wall(std::string_view text) { return as<WallTime>(text); }
inline Instant utc(std::string_view text) { return as<Instant>(text); }
inline date::local_seconds local(std::string_view text) { return wall(text).local; }

// An event as content.cpp would build it: the rule normalized by parse_rrule (UNTIL in UTC).
inline Event make_event(std::string_view zone_name, std::string_view start, std::string_view end,
                        std::string_view rrule = "", const std::vector<std::string>& exdates = {},
                        const std::vector<std::string>& rdates = {}) {
    Event e;
    e.zone = zone(zone_name);
    e.start = at(start);
    e.end = at(end);
    if (!rrule.empty()) {
        const auto rule = parse_rrule(rrule, e.start, e.zone);
        EXPECT_TRUE(rule) << rrule << ": " << (rule ? "" : rule.error());
        if (rule) e.rrule = *rule;
    }
    for (const auto& t : exdates) e.exdates.push_back(at(t));
    for (const auto& t : rdates) e.rdates.push_back(at(t));
    return e;
}

}  // namespace almanac::test
