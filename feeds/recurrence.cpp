#include "feeds/recurrence.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>

#include <libical/ical.h>

namespace almanac {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Bounds on libical's work, which must not depend on the machine's speed (the output is the same
// everywhere). libical steps one FREQ unit at a time until an occurrence matches, so an endless rule
// that rarely or never matches (FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30) would run until the year 2582:
// we expand at most `max_steps` FREQ intervals past DTSTART (a day of FREQ=SECONDLY, 69 days of
// FREQ=MINUTELY, 11 years of FREQ=HOURLY; a quarter of a second of work), and take at most
// `max_occurrences` of what those steps expand into.
constexpr std::int64_t max_steps = 100'000;
constexpr std::size_t max_occurrences = 1'000'000;

// libical gives up after the year 2582 anyway; bounds are clamped here to keep them representable.
constexpr date::local_days libical_end{date::year{2583} / 1 / 1};

// No zone's clock is further than a day from UTC, so an occurrence whose wall time is later than an
// instant's UTC reading by more than this cannot be before that instant.
constexpr date::days wall_slack{2};

// A wall time maps onto the UTC timeline monotonically except around a forward jump, where a time
// in the gap is shifted forward past later ones by at most the gap's length. The largest jump on
// record is Samoa's skipped day in 2011, so iterating this far past a bound cannot miss anything.
constexpr seconds largest_clock_jump = hours{26};

void make_libical_errors_non_fatal() {
    // With fatal errors (the default in some builds) a malformed rule aborts the process.
    static std::once_flag once;
    std::call_once(once, [] { icalerror_set_errors_are_fatal(0); });
}

struct IteratorFree {
    void operator()(icalrecur_iterator* it) const { icalrecur_iterator_free(it); }
};
using RecurIterator = std::unique_ptr<icalrecur_iterator, IteratorFree>;

date::local_seconds local_of(const EventTime& t) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return date::local_days{d->ymd};
    if (const auto* w = std::get_if<WallTime>(&t)) return w->local;
    return date::local_seconds{std::get<Instant>(t).time_since_epoch()};
}

// DTSTART (or UNTIL) for libical: a wall time is floating, so that the rule steps through the
// event's own wall clock (10:00 stays 10:00 across DST) and we resolve each occurrence ourselves.
icaltimetype to_ical(const EventTime& t) {
    const auto local = local_of(t);
    const auto day = date::floor<date::days>(local);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<seconds> hms{local - day};
    icaltimetype out = icaltime_null_time();
    out.year = int{ymd.year()};
    out.month = static_cast<int>(unsigned{ymd.month()});
    out.day = static_cast<int>(unsigned{ymd.day()});
    out.hour = static_cast<int>(hms.hours().count());
    out.minute = static_cast<int>(hms.minutes().count());
    out.second = static_cast<int>(hms.seconds().count());
    out.is_date = std::holds_alternative<CivilDate>(t) ? 1 : 0;
    if (std::holds_alternative<Instant>(t)) out.zone = icaltimezone_get_utc_timezone();
    return out;
}

date::local_seconds local_of_ical(const icaltimetype& t) {
    const date::year_month_day ymd{date::year{t.year}, date::month(static_cast<unsigned>(t.month)),
                                   date::day(static_cast<unsigned>(t.day))};
    return date::local_days{ymd} + hours{t.hour} + minutes{t.minute} + seconds{t.second};
}

// A local reading in the kind of `like` (DTSTART).
EventTime of_kind(date::local_seconds local, const EventTime& like) {
    if (std::holds_alternative<CivilDate>(like)) return CivilDate{date::year_month_day{date::floor<date::days>(local)}};
    if (std::holds_alternative<WallTime>(like)) return WallTime{local};
    return Instant{local.time_since_epoch()};
}

// The length of one FREQ step in seconds (months and years at their longest), or 0 for none.
std::int64_t step_seconds(icalrecurrencetype_frequency freq) {
    switch (freq) {
        case ICAL_SECONDLY_RECURRENCE: return 1;
        case ICAL_MINUTELY_RECURRENCE: return 60;
        case ICAL_HOURLY_RECURRENCE: return 3600;
        case ICAL_DAILY_RECURRENCE: return 86400;
        case ICAL_WEEKLY_RECURRENCE: return std::int64_t{7} * 86400;
        case ICAL_MONTHLY_RECURRENCE: return std::int64_t{31} * 86400;
        case ICAL_YEARLY_RECURRENCE: return std::int64_t{366} * 86400;
        default: return 0;
    }
}

bool is_empty(const short* by_part) { return by_part[0] == ICAL_RECURRENCE_ARRAY_MAX; }

// True when libical 3.0's icalrecur_iterator_set_start gives every occurrence from a later time on,
// as stepping from DTSTART would: for DAILY and coarser rules without COUNT (which counts from
// DTSTART) and without BYWEEKNO. For finer rules it loses the INTERVAL's phase and BYHOUR.
bool can_set_start(const icalrecurrencetype& rule) {
    const bool coarse = rule.freq == ICAL_DAILY_RECURRENCE || rule.freq == ICAL_WEEKLY_RECURRENCE ||
                        rule.freq == ICAL_MONTHLY_RECURRENCE || rule.freq == ICAL_YEARLY_RECURRENCE;
    return coarse && rule.count == 0 && is_empty(rule.by_week_no);
}

// For a SECONDLY, MINUTELY or HOURLY rule without COUNT: a later DTSTART on the rule's own grid
// (DTSTART plus whole INTERVALs) at least one step before `before`, from which libical gives the same
// occurrences as from DTSTART; nullopt when none is earned or when BYHOUR, BYMINUTE, BYSECOND (which
// libical applies by leaping from wherever it is), BYSETPOS, BYYEARDAY or BYWEEKNO could tell.
std::optional<EventTime> grid_start_before(const icalrecurrencetype& rule, const EventTime& start,
                                           date::local_seconds before) {
    const bool fine = rule.freq == ICAL_SECONDLY_RECURRENCE || rule.freq == ICAL_MINUTELY_RECURRENCE ||
                      rule.freq == ICAL_HOURLY_RECURRENCE;
    if (!fine || rule.count != 0 || std::holds_alternative<CivilDate>(start) || !is_empty(rule.by_hour) ||
        !is_empty(rule.by_minute) || !is_empty(rule.by_second) || !is_empty(rule.by_set_pos) ||
        !is_empty(rule.by_year_day) || !is_empty(rule.by_week_no))
        return std::nullopt;
    const auto first = local_of(start);
    const seconds period{std::max<std::int64_t>(rule.interval, 1) * step_seconds(rule.freq)};
    if (before - first < 2 * period) return std::nullopt;
    const auto periods = (before - first) / period - 1;
    return of_kind(first + periods * period, start);
}

// The UNTIL we hand libical so that it stops by itself: just past `stop` on any zone's clock, and
// no more than `max_steps` steps after DTSTART.
icaltimetype libical_until(const icalrecurrencetype& rule, const EventTime& start, Instant stop) {
    const date::local_seconds end{libical_end};
    auto bound = end;
    if (stop < Instant{end.time_since_epoch() - wall_slack})
        bound = date::local_seconds{stop.time_since_epoch()} + wall_slack;
    const auto first = local_of(start);
    const auto steps = max_steps * std::max<std::int64_t>(rule.interval, 1) * step_seconds(rule.freq);
    if (first < end && steps > 0 && seconds{steps} < end - first) bound = std::min(bound, first + seconds{steps});
    return to_ical(of_kind(bound, start));
}

// The last instant UNTIL allows. We apply UNTIL ourselves: libical would compare our floating
// occurrences with a UTC UNTIL as if they were UTC.
Instant until_bound(const icaltimetype& until, const EventTime& start, const Zone& zone) {
    const auto local = local_of_ical(until);
    if (until.is_date) {
        // An all-day event may start on that day; a timed one may start at any time of it.
        if (std::holds_alternative<CivilDate>(start)) return to_instant(WallTime{local}, zone);
        return to_instant(WallTime{local + hours{23} + minutes{59} + seconds{59}}, zone);
    }
    if (icaltime_is_utc(until)) return Instant{local.time_since_epoch()};
    return to_instant(WallTime{local}, zone);
}

// The end of an occurrence: the event's length added in the start's own kind, so that a wall-time
// event keeps its clock times and an all-day one its number of days.
EventTime end_of(const EventTime& start, const Event& event) {
    if (const auto* d = std::get_if<CivilDate>(&start)) {
        const auto length = date::sys_days{std::get<CivilDate>(event.end).ymd} -
                            date::sys_days{std::get<CivilDate>(event.start).ymd};
        return CivilDate{date::year_month_day{date::sys_days{d->ymd} + length}};
    }
    if (const auto* w = std::get_if<WallTime>(&start)) {
        // A start in a DST gap happens the gap's length later (RFC 5545 §3.3.5): the end moves with
        // it, or an occurrence shorter than the gap (18 minutes in Lord Howe's 30-minute gap) would
        // end before it starts.
        const Instant at = to_instant(*w, event.zone);
        const date::local_seconds actual{at.time_since_epoch() + zone_info_at(event.zone, at).offset};
        return WallTime{actual + (std::get<WallTime>(event.end).local - std::get<WallTime>(event.start).local)};
    }
    return std::get<Instant>(start) + (std::get<Instant>(event.end) - std::get<Instant>(event.start));
}

struct Start {
    Instant instant;
    EventTime time;
    friend bool operator<(const Start& a, const Start& b) {
        return a.instant != b.instant ? a.instant < b.instant : a.time < b.time;
    }
};

// The RRULE's occurrence starts in [from, to), skipping `excluded`, enough of them for `limit`.
std::vector<Start> rule_starts(const Event& event, Instant from, Instant to, std::size_t limit,
                               const std::vector<EventTime>& excluded) {
    std::vector<Start> starts;
    make_libical_errors_non_fatal();
    auto rule = icalrecurrencetype_from_string(event.rrule->text.c_str());
    if (rule.freq == ICAL_NO_RECURRENCE) {
        icalerror_clear_errno();
        return starts;
    }
    std::optional<Instant> until;
    if (!icaltime_is_null_time(rule.until)) until = until_bound(rule.until, event.start, event.zone);
    // Past `stop`, nothing more can be wanted: the window, UNTIL, or the limit-th occurrence.
    Instant stop = until ? std::min(to, *until + seconds{1}) : to;
    rule.until = libical_until(rule, event.start, stop);
    const auto skip_before = from < Instant::min() + wall_slack
                                 ? date::local_seconds::min()
                                 : date::local_seconds{from.time_since_epoch()} - wall_slack;
    // A rule expanded only up to a point before the window has nothing in it: stepping there anyway
    // cost every endless FREQ=SECONDLY event a day of steps on each index page and feed window.
    if (local_of_ical(rule.until) < skip_before) return starts;
    // Years of a rule before the window need not be stepped through: libical starts near the window
    // where it gives the same occurrences as from DTSTART (decades of a daily rule expanded into every
    // hour took about a second per event and per question).
    const bool after_start = local_of(event.start) < skip_before;
    const auto grid_start = after_start ? grid_start_before(rule, event.start, skip_before) : std::nullopt;
    RecurIterator it{icalrecur_iterator_new(rule, to_ical(grid_start.value_or(event.start)))};
    if (!it) {
        icalerror_clear_errno();
        return starts;
    }
    if (after_start && can_set_start(rule) &&
        !icalrecur_iterator_set_start(it.get(), to_ical(of_kind(skip_before, event.start)))) {
        icalerror_clear_errno();
        it.reset(icalrecur_iterator_new(rule, to_ical(event.start)));
        if (!it) return starts;
    }
    const auto margin = std::holds_alternative<WallTime>(event.start) ? largest_clock_jump : seconds{0};
    std::size_t kept = 0;
    for (std::size_t i = 0; i < max_occurrences; ++i) {
        const auto next = icalrecur_iterator_next(it.get());
        if (icaltime_is_null_time(next)) break;
        const auto local = local_of_ical(next);
        // Resolving a wall time in its zone costs more than libical's step: skip that for the
        // occurrences well before the window.
        if (local < skip_before) continue;
        const auto time = of_kind(local, event.start);
        const auto instant = to_instant(time, event.zone);
        if (instant - margin >= stop) break;
        if (instant < from || instant >= stop || std::binary_search(excluded.begin(), excluded.end(), time)) continue;
        starts.push_back({instant, time});
        if (++kept == limit) stop = std::min(stop, instant + seconds{1});
    }
    return starts;
}

}  // namespace

namespace {

// The instant of `t` to within a day, without a zone: a wall time or a day read as UTC (no zone's
// offset has reached 16 hours).
Instant roughly(const EventTime& t) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return Instant{date::sys_days{d->ymd}};
    if (const auto* w = std::get_if<WallTime>(&t)) return Instant{w->local.time_since_epoch()};
    return std::get<Instant>(t);
}

}  // namespace

std::vector<Occurrence> occurrences(const Event& event, Instant from, Instant to, std::size_t limit) {
    // An event of one occurrence that surely starts outside [from, to) has none there: a large
    // site's thousands of past and distant events cost no zone conversion each.
    if (!event.rrule && event.rdates.empty()) {
        constexpr auto margin = std::chrono::days{2};
        const Instant start = roughly(event.start);
        if ((start < Instant::max() - margin && start + margin <= from) ||
            (start > Instant::min() + margin && start - margin >= to))
            return {};
    }
    auto excluded = event.exdates;
    std::sort(excluded.begin(), excluded.end());
    const auto wanted = [&](const EventTime& t, Instant instant) {
        return instant >= from && instant < to && !std::binary_search(excluded.begin(), excluded.end(), t);
    };

    std::vector<Start> starts;
    if (event.rrule && limit > 0) starts = rule_starts(event, from, to, limit, excluded);
    // RFC 5545 counts DTSTART as the first occurrence even when the rule would not produce it.
    const auto first = to_instant(event.start, event.zone);
    if (wanted(event.start, first)) starts.push_back({first, event.start});
    for (const auto& t : event.rdates) {
        const auto instant = to_instant(t, event.zone);
        if (wanted(t, instant)) starts.push_back({instant, t});
    }
    std::sort(starts.begin(), starts.end());
    // DTSTART and RDATEs repeat rule occurrences, and a wall time in a DST gap resolves to the same
    // instant as the time it is shifted to: one occurrence each.
    starts.erase(std::unique(starts.begin(), starts.end(),
                             [](const Start& a, const Start& b) { return a.instant == b.instant; }),
                 starts.end());
    if (starts.size() > limit) starts.resize(limit);

    std::vector<Occurrence> out;
    out.reserve(starts.size());
    for (const auto& s : starts) {
        const auto end = end_of(s.time, event);
        out.push_back({s.time, end, s.instant, to_instant(end, event.zone)});
    }
    return out;
}

std::vector<Occurrence> OccurrenceMemo::occurrences(const Item& item, Instant from, Instant to, std::size_t limit) {
    const Event& event = *item.event;
    std::string key = item.path;
    key += '\0';
    key += std::to_string(item.index);
    key += '\0';
    key += std::to_string(item.revision);
    Entry& e = entries_[std::move(key)];
    e.used = true;
    // What is kept answers when the window lies inside the kept one and the kept list reaches past
    // what is asked: it is complete, or it holds `limit` occurrences of the window, or its last
    // occurrence starts at or after `to` (the list is every occurrence up to its last one).
    const auto answer = [&]() -> std::optional<std::vector<Occurrence>> {
        if (e.list.empty() && !e.complete) return std::nullopt;
        if (from < e.from || e.to < to) return std::nullopt;
        std::vector<Occurrence> out;
        for (const auto& o : e.list) {
            if (o.start_instant < from) continue;
            if (o.start_instant >= to || out.size() == limit) break;
            out.push_back(o);
        }
        if (e.complete || out.size() == limit || (!e.list.empty() && e.list.back().start_instant >= to)) return out;
        return std::nullopt;
    };
    if (auto kept = answer()) return std::move(*kept);
    constexpr auto day = std::chrono::days{1};
    // A day-aligned start a day before `from`, and a day more at the end: the same window serves
    // every call of the next day.
    const auto floor_day = [&](Instant t) { return std::chrono::floor<std::chrono::days>(t); };
    const auto span = to - from;
    if (from < Instant::min() + 2 * day || to > Instant::max() - 2 * day || span > std::chrono::years{20})
        return almanac::occurrences(event, from, to, limit);
    e.from = floor_day(from) - day;
    e.to = e.from + std::chrono::ceil<std::chrono::days>(span) + 3 * day;
    const std::size_t cap = 2 * limit + 64;
    e.list = almanac::occurrences(event, e.from, e.to, cap);
    e.complete = e.list.size() < cap;
    if (auto kept = answer()) return std::move(*kept);
    return almanac::occurrences(event, from, to, limit);
}

void OccurrenceMemo::sweep() {
    std::erase_if(entries_, [](const auto& entry) { return !entry.second.used; });
    for (auto& [key, e] : entries_) e.used = false;
}

bool occurs_between(const Event& event, Instant from, Instant to) {
    // An occurrence that started before `from` may still be going on: look back by the event's
    // length, which a DST change can stretch by up to a clock jump.
    // One occurrence starting inside the window answers it; only the short lookback is scanned whole.
    if (!occurrences(event, from, to, 1).empty()) return true;
    const auto length = to_instant(event.end, event.zone) - to_instant(event.start, event.zone);
    const auto lookback = std::max(length, seconds{0}) + largest_clock_jump;
    const auto earliest = from < Instant::min() + lookback ? Instant::min() : from - lookback;
    const auto found = occurrences(event, earliest, from, std::numeric_limits<std::size_t>::max());
    return std::any_of(found.begin(), found.end(), [&](const Occurrence& o) { return o.end_instant > from; });
}

}  // namespace almanac
