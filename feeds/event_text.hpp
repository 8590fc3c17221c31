// Human-readable text about events for feeds and the index page: when, in which zone, how often.
// English only, independent of the machine's locale.
#pragma once

#include <algorithm>
#include <array>
#include <iosfwd>
#include <string>
#include <string_view>

#include "feeds/event_time.hpp"
#include "feeds/item.hpp"

namespace almanac {

// "Thu 16 May 2024, 09:30–16:00 CEST (UTC+02:00)" for a timed event in `view`'s zone;
// "Tue 16 Apr – Thu 18 Apr 2024" for an all-day one (the inclusive last day); an event spanning
// days shows both dates: "Mon 16 Sep 2024, 09:00 – Wed 18 Sep 2024, 17:30 CEST (UTC+02:00)".
std::string describe_when(const EventTime& start, const EventTime& end, const Zone& event_zone, const Zone& view);

// The full "when" of an event for a feed item in `view`: describe_when of its first occurrence,
// then "(Europe/Vienna: Mon 16 Sep 2024, 09:00 CEST)" when the event's zone differs from `view`,
// then "Repeats monthly on the second Thursday until 31 Dec 2026" for a recurring event.
std::string describe_event_when(const Event& event, const Zone& view);

// "monthly on the second Thursday", "every 4 weeks on Thursday", "weekly on Tuesday and Thursday,
// 12 times"; falls back to the RRULE text for rules it cannot say simply.
std::string describe_rrule(const RecurrenceRule& rule, const Zone& event_zone);

// A feed date's text, held inline: every entry of every view writes two, and a std::string of
// their length would be an allocation each.
class DateText {
public:
    std::string_view view() const { return {bytes_.data(), size_}; }
    operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
    std::string str() const { return std::string(view()); }
    friend bool operator==(const DateText& a, std::string_view b) { return a.view() == b; }
    friend std::ostream& operator<<(std::ostream& out, const DateText& text);  // for test messages

    // Appends `text`; what does not fit is dropped (the longest date, with a six-digit year, is 31 bytes).
    void append(std::string_view text) {
        const auto n = std::min(text.size(), bytes_.size() - size_);
        text.copy(bytes_.data() + size_, n);
        size_ += n;
    }

private:
    std::array<char, 40> bytes_{};
    std::size_t size_ = 0;
};

// RFC 822 date for RSS: "Thu, 16 May 2024 07:30:00 GMT".
DateText format_rfc822(Instant t);

// RFC 3339 date for Atom and JSON Feed, in UTC: "2024-05-16T07:30:00Z".
DateText format_rfc3339(Instant t);

}  // namespace almanac
