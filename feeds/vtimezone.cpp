#include "feeds/vtimezone.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

namespace almanac {
namespace {

using std::chrono::seconds;

// Periods that began before this have no onset worth writing (UTC, Etc/GMT+5: "since forever").
const Instant earliest_onset = date::sys_days{date::year{1800} / date::January / 1};
// zone_info_at marks "no further transition" with an end in the far future.
const Instant latest_onset = date::sys_days{date::year{9000} / date::January / 1};

constexpr std::array<std::string_view, 7> weekday_names = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

struct Transition {
    Instant at;
    seconds from{0};
    seconds to{0};
    std::string abbrev;
    bool from_dst = false;  // the tz database's is-DST flags of the periods before and after
    bool to_dst = false;
    bool daylight = false;

    date::local_seconds local() const { return date::local_seconds{at.time_since_epoch() + from}; }
    date::year_month_day local_date() const { return date::year_month_day{date::floor<date::days>(local())}; }
};

// date/tz.h reports the TZif files' is-DST flag as a `save` of one minute.
bool is_dst(const date::sys_info& info) { return info.save != std::chrono::minutes{0}; }

bool same_period_kind(const date::sys_info& a, const date::sys_info& b) {
    return a.offset == b.offset && a.abbrev == b.abbrev;
}

Transition transition(Instant at, const date::sys_info& before, const date::sys_info& after) {
    return {at, before.offset, after.offset, after.abbrev, is_dst(before), is_dst(after)};
}

// The first period after `info` with another offset or abbreviation (tz data splits periods where
// only the DST flag changes), or nothing when the zone keeps its offset for ever.
std::optional<date::sys_info> next_distinct_period(const Zone& zone, date::sys_info info) {
    for (int i = 0; i < 64 && info.end < latest_onset; ++i) {
        const auto next = zone_info_at(zone, info.end);
        if (!same_period_kind(next, info)) return next;
        if (next.end <= info.end) break;
        info = next;
    }
    return std::nullopt;
}

// The onset of the last standard-time period that began before `t`, if the zone had one.
std::optional<Transition> last_standard_onset(const Zone& zone, Instant t) {
    auto info = zone_info_at(zone, t);
    for (int i = 0; i < 256 && info.begin > earliest_onset; ++i) {
        const auto before = zone_info_at(zone, info.begin - seconds{1});
        if (!is_dst(info) && !same_period_kind(before, info)) return transition(info.begin, before, info);
        info = before;
    }
    return std::nullopt;
}

// Whether each period is written as DAYLIGHT: the tz database's is-DST flag, except that a negative
// DST (Europe/Dublin's GMT winter, Morocco's Ramadan hour, Namibia's winter 1994-2017) is read as
// the tz project's "rearguard" data writes it: the period with the larger offset is the daylight one,
// as in every client's and Windows' model of those zones.
void mark_daylight(std::vector<Transition>& out, const std::optional<date::sys_info>& after_last) {
    // A DST period below the standard time it follows.
    const auto negative = [](bool dst, seconds offset, bool before_dst, seconds before) {
        return dst && !before_dst && before > offset;
    };
    for (std::size_t k = 0; k < out.size(); ++k) {
        auto& t = out[k];
        if (t.to_dst) {
            t.daylight = !negative(true, t.to, t.from_dst, t.from);
            continue;
        }
        // Standard time between two negative DSTs (Dublin's summer), not a standard time that a
        // negative DST only ends or only begins (Namibia's +02 before 1994 and after 2017).
        const bool after_negative = t.from_dst && t.from < t.to;
        if (k + 1 < out.size())
            t.daylight = after_negative && negative(out[k + 1].to_dst, out[k + 1].to, false, t.to);
        else if (after_last)
            t.daylight = after_negative && negative(is_dst(*after_last), after_last->offset, false, t.to);
    }
}

// Every change of offset or abbreviation in (begin, end], preceded by the onset of the period in
// effect at `begin`: the real one, or one at `begin` itself when that period has been in effect
// since before 1800 (Etc/GMT+5, or EET until 1977).
std::vector<Transition> collect_transitions(const Zone& zone, Instant begin, Instant end) {
    std::vector<Transition> out;
    const auto first = zone_info_at(zone, begin);
    auto onset = first.begin;
    for (int i = 0; i < 64 && onset > earliest_onset; ++i) {
        const auto before = zone_info_at(zone, onset - seconds{1});
        if (!same_period_kind(before, first)) {
            out.push_back(transition(onset, before, first));
            break;
        }
        onset = before.begin;
    }
    if (out.empty()) out.push_back(transition(begin, first, first));
    auto current = first;
    while (current.end <= end && current.end < latest_onset) {
        const auto next = zone_info_at(zone, current.end);
        if (next.end <= current.end) break;
        if (!same_period_kind(next, current)) out.push_back(transition(current.end, current, next));
        current = next;
    }
    mark_daylight(out, next_distinct_period(zone, current));
    return out;
}

// The yearly rules a transition's local date satisfies, most specific first: last weekday of the
// month, n-th weekday (n ≤ 4) — the forms Outlook's time-zone model has —, fixed day of the month,
// then "weekday on or after day d" (Chile's Sun>=2, Israel's Fri>=23), as BYDAY + seven BYMONTHDAYs.
std::vector<std::string> yearly_rules(date::year_month_day ymd) {
    const auto day = static_cast<unsigned>(ymd.day());
    const auto last_day = static_cast<unsigned>(date::year_month_day_last{ymd.year() / ymd.month() / date::last}.day());
    const auto weekday = weekday_names[date::weekday{date::sys_days{ymd}}.c_encoding()];
    std::vector<std::string> rules;
    if (day + 7 > last_day) rules.push_back("BYDAY=-1" + std::string(weekday));
    if ((day - 1) / 7 < 4) rules.push_back("BYDAY=" + std::to_string((day - 1) / 7 + 1) + std::string(weekday));
    rules.push_back("BYMONTHDAY=" + std::to_string(day));
    for (unsigned first = day > 6 ? day - 6 : 1; first <= day && first + 6 <= last_day; ++first) {
        if ((first - 1) % 7 == 0) continue;  // the n-th weekday again
        std::string days;
        for (unsigned d = first; d < first + 7; ++d) days += (days.empty() ? "" : ",") + std::to_string(d);
        rules.push_back("BYDAY=" + std::string(weekday) + ";BYMONTHDAY=" + days);
    }
    return rules;
}

std::vector<std::string> intersect(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::vector<std::string> out;
    for (const auto& rule : a)
        if (std::find(b.begin(), b.end(), rule) != b.end()) out.push_back(rule);
    return out;
}

int local_year(const Transition& t) { return static_cast<int>(t.local_date().year()); }

// Transitions that can share one observance: same offsets, name and kind.
using ObservanceKey = std::tuple<seconds, seconds, std::string, bool>;
ObservanceKey observance_key(const Transition& t) { return {t.from, t.to, t.abbrev, t.daylight}; }

Observance observance_of(const Transition& t) {
    Observance o;
    o.daylight = t.daylight;
    o.start = t.local();
    o.offset_from = t.from;
    o.offset_to = t.to;
    o.name = t.abbrev;
    return o;
}

}  // namespace

void init_libical() {
    static std::once_flag once;
    std::call_once(once, [] {
        icalerror_set_errors_are_fatal(0);
        // Built lazily by libical on first use; build it here, once, not in racing renders.
        icaltimezone_get_utc_timezone();
    });
}

icaltimetype ical_local_time(date::local_seconds t) {
    const auto day = date::floor<date::days>(t);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<seconds> hms{t - day};
    auto out = icaltime_null_time();
    out.year = static_cast<int>(ymd.year());
    out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    out.hour = static_cast<int>(hms.hours().count());
    out.minute = static_cast<int>(hms.minutes().count());
    out.second = static_cast<int>(hms.seconds().count());
    return out;
}

icaltimetype ical_utc_time(Instant t) {
    auto out = ical_local_time(date::local_seconds{t.time_since_epoch()});
    out.zone = icaltimezone_get_utc_timezone();
    return out;
}

icaltimetype ical_date(date::year_month_day d) {
    auto out = icaltime_null_date();
    out.year = static_cast<int>(d.year());
    out.month = static_cast<int>(static_cast<unsigned>(d.month()));
    out.day = static_cast<int>(static_cast<unsigned>(d.day()));
    return out;
}

VTimezone make_vtimezone(const Zone& zone, Instant first, Instant last) {
    VTimezone out{zone.name, {}};
    // Whole years, and one more year past the span, so that yearly runs are recognisable and the
    // last ones can be left open-ended: a run reaching into that extra year has no known end.
    const auto first_year = date::year_month_day{date::floor<date::days>(first)}.year();
    const auto lookahead_year = date::year_month_day{date::floor<date::days>(last)}.year() + date::years{1};
    const Instant begin = date::sys_days{first_year / date::January / 1} - date::days{1};
    const Instant span_end = date::sys_days{lookahead_year / date::January / 1} + date::days{1};
    const Instant collect_end = date::sys_days{(lookahead_year + date::years{1}) / date::January / 1} + date::days{1};

    const auto transitions = collect_transitions(zone, begin, collect_end);
    if (transitions.size() == 1 && transitions.front().from == transitions.front().to) {
        const auto info = zone_info_at(zone, begin);
        Observance o;
        const auto start_year = std::min(first_year - date::years{1}, date::year{1970});
        o.start = date::local_seconds{date::local_days{start_year / date::January / 1}};
        o.offset_from = o.offset_to = info.offset;
        o.name = info.abbrev;
        out.observances.push_back(std::move(o));
        return out;
    }

    // Group by everything a yearly RRULE keeps fixed, then cut each group into runs of consecutive
    // years that share a rule.
    std::map<std::tuple<ObservanceKey, unsigned, seconds>, std::vector<const Transition*>> groups;
    for (const auto& t : transitions) {
        const auto local = t.local();
        const auto month = static_cast<unsigned>(t.local_date().month());
        groups[{observance_key(t), month, local - date::floor<date::days>(local)}].push_back(&t);
    }
    std::map<ObservanceKey, std::vector<const Transition*>> irregular;
    for (const auto& [key, members] : groups) {
        for (std::size_t i = 0; i < members.size();) {
            auto rules = yearly_rules(members[i]->local_date());
            std::size_t j = i + 1;
            for (; j < members.size() && local_year(*members[j]) == local_year(*members[j - 1]) + 1; ++j) {
                auto common = intersect(rules, yearly_rules(members[j]->local_date()));
                if (common.empty()) break;
                rules = std::move(common);
            }
            const auto& head = *members[i];
            const auto& tail = *members[j - 1];
            if (head.at <= span_end) {
                if (j - i == 1) {
                    irregular[observance_key(head)].push_back(&head);
                } else {
                    auto o = observance_of(head);
                    o.rrule = "FREQ=YEARLY;BYMONTH=" + std::to_string(std::get<1>(key)) + ";" + rules.front();
                    // A day after the last onset (the next would be a year on), not at it: dateutil's
                    // tzical (and so vobject) compares the UTC UNTIL with local times and would
                    // drop an onset east of Greenwich.
                    if (local_year(tail) < static_cast<int>(lookahead_year))
                        o.rrule += ";UNTIL=" + date::format("%Y%m%dT%H%M%SZ", tail.at + date::days{1});
                    out.observances.push_back(std::move(o));
                }
            }
            i = j;
        }
    }
    for (auto& [key, members] : irregular) {
        std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) { return a->at < b->at; });
        auto o = observance_of(*members.front());
        // The onset before the span alone needs no RDATE: a DTSTART-only observance is what
        // Outlook and ical.js both read. Otherwise every onset is its own RDATE line, DTSTART
        // included, since ical.js ignores DTSTART once RDATEs are present.
        if (members.size() > 1 || members.front()->at > begin)
            for (const auto* t : members) o.rdates.push_back(t->local());
        out.observances.push_back(std::move(o));
    }
    std::sort(out.observances.begin(), out.observances.end(), [](const Observance& a, const Observance& b) {
        return std::tie(a.start, a.daylight) < std::tie(b.start, b.daylight);
    });
    // Outlook needs a STANDARD (MS-OXCICAL): when the whole span is daylight time (Chile kept it
    // through 2015, Cuba through 2004-2006), the standard period before it comes first.
    if (std::none_of(out.observances.begin(), out.observances.end(), [](const Observance& o) { return !o.daylight; })) {
        const auto& first_onset = out.observances.front();
        if (auto standard = last_standard_onset(zone, Instant{first_onset.start.time_since_epoch() - first_onset.offset_from})) {
            standard->daylight = false;
            out.observances.insert(out.observances.begin(), observance_of(*standard));
        } else {
            out.observances.front().daylight = false;
        }
    }
    return out;
}

IcalComponent vtimezone_component(const VTimezone& tz) {
    init_libical();
    IcalComponent component{icalcomponent_new_vtimezone()};
    icalcomponent_add_property(component.get(), icalproperty_new_tzid(tz.tzid.c_str()));
    for (const auto& o : tz.observances) {
        auto* sub = o.daylight ? icalcomponent_new_xdaylight() : icalcomponent_new_xstandard();
        icalcomponent_add_property(sub, icalproperty_new_dtstart(ical_local_time(o.start)));
        icalcomponent_add_property(sub, icalproperty_new_tzoffsetfrom(static_cast<int>(o.offset_from.count())));
        icalcomponent_add_property(sub, icalproperty_new_tzoffsetto(static_cast<int>(o.offset_to.count())));
        icalcomponent_add_property(sub, icalproperty_new_tzname(o.name.c_str()));
        if (!o.rrule.empty())
            icalcomponent_add_property(sub, icalproperty_new_rrule(icalrecurrencetype_from_string(o.rrule.c_str())));
        for (const auto& rdate : o.rdates) {
            icaldatetimeperiodtype value{};
            value.time = ical_local_time(rdate);
            value.period = icalperiodtype_null_period();
            icalcomponent_add_property(sub, icalproperty_new_rdate(value));
        }
        icalcomponent_add_component(component.get(), sub);
    }
    return component;
}

}  // namespace almanac
