#include "feeds/ics_writer.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "feeds/byte_runs.hpp"
#include "feeds/recurrence.hpp"
#include "feeds/text.hpp"
#include "feeds/vtimezone.hpp"

namespace almanac {
namespace {

using std::chrono::seconds;

// ---- text ------------------------------------------------------------------------------------------

// RFC 5545 §3.3.11 TEXT. libical 3.0.16 escapes SUMMARY this way but leaves commas and semicolons
// bare in CATEGORIES and X- properties (X-WR-CALNAME, X-ALT-DESC), so we escape every TEXT value
// ourselves. Line breaks become \n; other control characters are not allowed in TEXT and dropped.
void append_escaped_text(std::string& out, std::string_view s) {
    // The bytes that are not copied as they are, looked up rather than compared: HTML descriptions
    // make this the loop every byte of a calendar goes through.
    static constexpr auto special = [] {
        std::array<bool, 256> t{};
        for (std::size_t c = 0; c < 0x20; ++c) t[c] = c != '\t';
        t[0x7f] = t['\\'] = t[';'] = t[','] = true;
        return t;
    }();
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; (i = run_end<true, false, '\x7f', '\\', ';', ','>(s, i)) < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (!special[c]) continue;  // tab
        out.append(s.data() + run, i - run);
        if (c == '\\' || c == ';' || c == ',') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += "\\n";
        }
        run = i + 1;
    }
    out.append(s.data() + run, s.size() - run);
}

// One content line, folded (RFC 5545 §3.1): physical lines of at most 75 octets plus CRLF, each
// continuation starting with a space, never breaking inside a UTF-8 sequence.
void append_folded(std::string& out, std::string_view line) {
    std::size_t limit = 75;
    while (line.size() > limit) {
        std::size_t cut = limit;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        out.append(line.data(), cut);
        out += "\r\n ";
        line.remove_prefix(cut);
        limit = 74;
    }
    out.append(line);
    out += "\r\n";
}

struct FreeString {
    void operator()(char* s) const { std::free(s); }
};
using OwnedString = std::unique_ptr<char, FreeString>;

// A URI or CAL-ADDRESS value as it is (these have no escaping), with control characters made spaces:
// one would end the content line and let the rest of the value become properties of its own. The
// parser rejects them; this is the writer's own guarantee.
void append_uri_value(std::string& line, std::string_view value) {
    const std::size_t from = line.size();
    line += value;
    std::replace_if(
        line.begin() + static_cast<std::ptrdiff_t>(from), line.end(),
        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }, ' ');
}

// The content line NAME:VALUE folded into `out`, its value escaped as TEXT, as write_properties
// writes a TEXT or X- property of libical's; `line` is room to make it in, reused line after line.
void append_text_line(std::string& out, std::string& line, std::string_view name, std::string_view value) {
    line = name;
    line += ':';
    append_escaped_text(line, value);
    append_folded(out, line);
}

// The same with a URI value (append_uri_value).
void append_uri_line(std::string& out, std::string& line, std::string_view name, std::string_view value) {
    line = name;
    line += ':';
    append_uri_value(line, value);
    append_folded(out, line);
}

void append_value_text(std::string& line, icalproperty* property) {
    const icalvalue* value = icalproperty_get_value(property);
    if (!value) return;
    switch (icalvalue_isa(value)) {
        case ICAL_TEXT_VALUE: return append_escaped_text(line, icalvalue_get_text(value));
        case ICAL_X_VALUE: return append_escaped_text(line, icalvalue_get_x(value));
        default: {
            const OwnedString text{icalvalue_as_ical_string_r(value)};
            return append_uri_value(line, text ? text.get() : "");
        }
    }
}

// The name icalproperty_get_property_name_r gives a property (an X- property's own name, else its
// kind's), without its search through libical's table of names and its copy, once per property.
std::string property_name(icalproperty* p) {
    static const auto names = [] {
        std::array<const char*, 128> by_kind{};
        for (std::size_t k = 0; k < by_kind.size(); ++k)
            by_kind[k] = icalproperty_kind_to_string(static_cast<icalproperty_kind>(k));
        return by_kind;
    }();
    const icalproperty_kind kind = icalproperty_isa(p);
    if (kind == ICAL_X_PROPERTY)
        if (const char* x_name = icalproperty_get_x_name(p)) return x_name;
    const auto k = static_cast<std::size_t>(kind);
    if (k < names.size() && names[k]) return names[k];
    const OwnedString name{icalproperty_get_property_name_r(p)};
    return name.get();
}

// A component's property lines, each folded by append_folded: names, parameters and non-TEXT values
// are libical's; TEXT values use append_escaped_text.
void write_properties(icalcomponent* component, std::string& out) {
    std::string line;  // one buffer for every line (a description's is long)
    for (auto* p = icalcomponent_get_first_property(component, ICAL_ANY_PROPERTY); p;
         p = icalcomponent_get_next_property(component, ICAL_ANY_PROPERTY)) {
        line = property_name(p);
        for (auto* param = icalproperty_get_first_parameter(p, ICAL_ANY_PARAMETER); param;
             param = icalproperty_get_next_parameter(p, ICAL_ANY_PARAMETER)) {
            const OwnedString text{icalparameter_as_ical_string_r(param)};
            line += ';';
            line += text.get();
        }
        line += ':';
        append_value_text(line, p);
        append_folded(out, line);
    }
}

// Serializes a component tree built with libical: names, parameters and non-TEXT values are
// libical's; TEXT values use append_escaped_text; every line is folded by append_folded.
void write_component(icalcomponent* component, std::string& out) {
    const std::string name = icalcomponent_kind_to_string(icalcomponent_isa(component));
    append_folded(out, "BEGIN:" + name);
    write_properties(component, out);
    for (auto* c = icalcomponent_get_first_component(component, ICAL_ANY_COMPONENT); c;
         c = icalcomponent_get_next_component(component, ICAL_ANY_COMPONENT))
        write_component(c, out);
    append_folded(out, "END:" + name);
}

icalproperty* x_property(const char* name, const std::string& value) {
    auto* p = icalproperty_new_x(value.c_str());
    icalproperty_set_x_name(p, name);
    return p;
}

// ---- how each date-time is written -----------------------------------------------------------------

// A DTSTART/DTEND/RDATE/EXDATE value as it will be written.
struct WrittenTime {
    enum class Form { date,
                      utc,
                      zoned } form = Form::utc;
    date::local_seconds local;  // date: its midnight; utc: the UTC clock; zoned: the wall time in `zone`
    Zone zone;                  // zoned only: the TZID
    Instant instant;            // what it means (a date: its midnight in the event's zone)
};

bool is_utc_zone(const Zone& zone) {
    static constexpr std::array<std::string_view, 8> names = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal",
                                                              "Etc/Universal", "Zulu", "Etc/Zulu"};
    return std::find(names.begin(), names.end(), zone.name) != names.end() ||
           (zone.tz && (zone.tz->name() == "Etc/UTC" || zone.tz->name() == "UTC"));
}

WrittenTime utc_time(Instant t) {
    return {WrittenTime::Form::utc, date::local_seconds{t.time_since_epoch()}, {}, t};
}

// The event's own form: dates stay dates, wall times keep the event's TZID, instants are UTC.
WrittenTime own_form(const EventTime& t, const Zone& zone) {
    if (const auto* d = std::get_if<CivilDate>(&t))
        return {WrittenTime::Form::date, date::local_days{d->ymd}, {}, to_instant(t, zone)};
    if (const auto* w = std::get_if<WallTime>(&t)) return {WrittenTime::Form::zoned, w->local, zone, to_instant(*w, zone)};
    return utc_time(std::get<Instant>(t));
}

// Instant `t` as a wall time in `zone`, or in UTC when that wall time happens twice (an overlap:
// RFC 5545 §3.3.5 says the first, but ical.js and libical read the second) or the zone is UTC.
// A wall time is never one inside a gap, since it comes from an instant.
WrittenTime view_form(Instant t, const Zone& zone) {
    if (is_utc_zone(zone)) return utc_time(t);
    const date::local_seconds local{t.time_since_epoch() + zone_info_at(zone, t).offset};
    if (zone_local_info(zone, local).result == date::local_info::ambiguous) return utc_time(t);
    return {WrittenTime::Form::zoned, local, zone, t};
}

// A single event's time: written from its instant, so that a wall time the user put in a DST gap
// or overlap reaches every client at the instant RFC 5545 §3.3.5 gives (ical.js and libical
// resolve gap times the other way).
WrittenTime single_form(const EventTime& t, const Zone& own, const std::optional<Zone>& view) {
    if (std::holds_alternative<CivilDate>(t)) return own_form(t, own);
    if (!view) return std::holds_alternative<WallTime>(t) ? view_form(to_instant(t, own), own) : own_form(t, own);
    return view_form(to_instant(t, own), *view);
}

icaltimetype ical_time(const WrittenTime& t) {
    switch (t.form) {
        case WrittenTime::Form::date: return ical_date(date::year_month_day{date::floor<date::days>(t.local)});
        case WrittenTime::Form::utc: return ical_utc_time(t.instant);
        case WrittenTime::Form::zoned: break;
    }
    return ical_local_time(t.local);
}

// Adds the parameters a value of this form needs (VALUE=DATE or TZID) to a new property.
icalproperty* with_form(icalproperty* p, const WrittenTime& t) {
    if (t.form == WrittenTime::Form::date) icalproperty_add_parameter(p, icalparameter_new_value(ICAL_VALUE_DATE));
    if (t.form == WrittenTime::Form::zoned) icalproperty_add_parameter(p, icalparameter_new_tzid(t.zone.name.c_str()));
    return p;
}

icalproperty* rdate_property(const WrittenTime& t) {
    icaldatetimeperiodtype value{};
    value.time = ical_time(t);
    value.period = icalperiodtype_null_period();
    return with_form(icalproperty_new_rdate(value), t);
}

// ---- planning: which VEVENTs, in which form ---------------------------------------------------------

struct PlannedEvent {
    const Item* item = nullptr;
    std::string uid;
    WrittenTime start;
    WrittenTime end;
    const RecurrenceRule* rrule = nullptr;
    std::vector<WrittenTime> rdates;
    std::vector<WrittenTime> exdates;
    Instant covered_until;  // the last instant the start's TZID must cover
};

// The rule's last start, with libical's iterator over the start's own form (a floating wall time
// for a zoned start, as RRULEs expand in wall time). An unbounded rule is covered through the later
// of five years after DTSTART and the end of 2037: up to 2037 the tz files list scheduled rule
// changes one by one; after that there is only their POSIX rule, which the open-ended yearly
// observances already repeat for ever.
Instant last_recurrence_start(const Event& event, const WrittenTime& start) {
    const auto recurrence = icalrecurrencetype_from_string(event.rrule->text.c_str());
    if (!icaltime_is_null_time(recurrence.until)) {
        const auto& u = recurrence.until;
        const auto day = date::sys_days{date::year{u.year} / u.month / u.day};
        return u.is_date ? to_instant(CivilDate{date::year_month_day{day}}, event.zone)
                         : day + std::chrono::hours{u.hour} + std::chrono::minutes{u.minute} + seconds{u.second};
    }
    const Instant unbounded =
        std::max(start.instant + date::years{5}, Instant{date::sys_days{date::year{2038} / date::January / 1}});
    if (recurrence.count <= 0) return std::chrono::time_point_cast<seconds>(unbounded);
    // Stepping to the last of a long COUNT costs every render (each zone view, on an I/O thread) one
    // libical step per occurrence: 50 rules of COUNT=99999 took 36 s a view. Past 1,000 steps the rule
    // is covered as one without an end: more than needed when it ends sooner, and when it ends later,
    // the coverage every rule without an end gets.
    constexpr int max_steps = 1000;
    if (recurrence.count > max_steps) return std::chrono::time_point_cast<seconds>(unbounded);
    auto* iterator = icalrecur_iterator_new(recurrence, ical_time(start));
    if (!iterator) return start.instant;
    auto last = ical_time(start);
    for (int i = 0; i < recurrence.count; ++i) {
        const auto next = icalrecur_iterator_next(iterator);
        if (icaltime_is_null_time(next)) break;
        last = next;
    }
    icalrecur_iterator_free(iterator);
    const date::local_seconds local = date::local_days{date::year{last.year} / last.month / last.day} +
                                      std::chrono::hours{last.hour} + std::chrono::minutes{last.minute} +
                                      seconds{last.second};
    switch (start.form) {
        case WrittenTime::Form::date: return to_instant(CivilDate{date::year_month_day{date::floor<date::days>(local)}}, event.zone);
        case WrittenTime::Form::zoned: return to_instant(WallTime{local}, event.zone);
        case WrittenTime::Form::utc: break;
    }
    return Instant{local.time_since_epoch()};
}

// The end of the occurrence starting at `start`: the event's own length, in nominal days and wall
// clock time when the start is a date or a wall time (as a client expanding the set would).
EventTime occurrence_end(const Event& event, const EventTime& start) {
    if (start == event.start) return event.end;
    if (event.duration) return add_duration(start, *event.duration, event.zone);
    if (const auto* d = std::get_if<CivilDate>(&start)) {
        const auto length = date::sys_days{std::get<CivilDate>(event.end).ymd} - date::sys_days{std::get<CivilDate>(event.start).ymd};
        return CivilDate{date::year_month_day{date::sys_days{d->ymd} + length}};
    }
    if (const auto* w = std::get_if<WallTime>(&start))
        return WallTime{w->local + (std::get<WallTime>(event.end).local - std::get<WallTime>(event.start).local)};
    return std::get<Instant>(start) + (std::get<Instant>(event.end) - std::get<Instant>(event.start));
}

std::string compact_time(const EventTime& t) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return date::format("%Y%m%d", d->ymd);
    if (const auto* w = std::get_if<WallTime>(&t)) return date::format("%Y%m%dT%H%M%S", w->local);
    return date::format("%Y%m%dT%H%M%SZ", std::get<Instant>(t));
}

// The VEVENTs of one item. A recurring event is one VEVENT in its own form, so that its instants are
// the same in every view. A set of RDATEs without an RRULE becomes one VEVENT per date (Outlook hides
// RDATE-only events and ical.js drops their DTSTART), the extra ones with derived UIDs.
std::vector<PlannedEvent> plan(const Item& item, const std::optional<Zone>& view) {
    const auto& event = *item.event;
    if (event.rrule) {
        PlannedEvent p{&item, item.uid, own_form(event.start, event.zone), own_form(event.end, event.zone), &*event.rrule, {}, {}, {}};
        // An RDATE the RRULE already yields would show twice in ical.js (Thunderbird): leave it out.
        Event rule_only = event;
        rule_only.rdates.clear();
        rule_only.exdates.clear();
        for (const auto& t : event.rdates) {
            const Instant at = to_instant(t, event.zone);
            if (occurrences(rule_only, at, at + std::chrono::seconds{1}, 1).empty())
                p.rdates.push_back(own_form(t, event.zone));
        }
        for (const auto& t : event.exdates) p.exdates.push_back(own_form(t, event.zone));
        p.covered_until = last_recurrence_start(event, p.start) + (p.end.instant - p.start.instant);
        return {p};
    }
    std::vector<EventTime> starts{event.start};
    starts.insert(starts.end(), event.rdates.begin(), event.rdates.end());
    std::vector<PlannedEvent> out;
    for (const auto& start : starts) {
        auto uid = start == event.start ? item.uid : item.uid + "-rdate-" + compact_time(start);
        const bool excluded = std::find(event.exdates.begin(), event.exdates.end(), start) != event.exdates.end();
        const bool repeated =
            std::any_of(out.begin(), out.end(), [&](const PlannedEvent& p) { return p.uid == uid; });
        if (excluded || repeated) continue;
        PlannedEvent p{&item, std::move(uid), single_form(start, event.zone, view), single_form(occurrence_end(event, start), event.zone, view), nullptr, {}, {}, {}};
        // DTSTART and DTEND in one form: when one of them had to fall back to UTC, both do.
        if ((p.start.form == WrittenTime::Form::utc) != (p.end.form == WrittenTime::Form::utc) &&
            p.start.form != WrittenTime::Form::date) {
            p.start = utc_time(p.start.instant);
            p.end = utc_time(p.end.instant);
        }
        p.covered_until = p.end.instant;
        out.push_back(std::move(p));
    }
    return out;
}

// ---- components ------------------------------------------------------------------------------------

icalproperty_status ical_status(EventStatus s) {
    switch (s) {
        case EventStatus::tentative: return ICAL_STATUS_TENTATIVE;
        case EventStatus::cancelled: return ICAL_STATUS_CANCELLED;
        case EventStatus::confirmed: break;
    }
    return ICAL_STATUS_CONFIRMED;
}

// `t` as libical writes its value: YYYYMMDD for a date, YYYYMMDDTHHMMSS for a wall time, with a Z
// in UTC. False (nothing written) for a year outside 1-9999, which libical may write otherwise.
bool append_ical_time(std::string& out, const WrittenTime& t) {
    const auto day = date::floor<date::days>(t.local);
    const date::year_month_day ymd{day};
    const int year = static_cast<int>(ymd.year());
    if (year < 1 || year > 9999) return false;
    char buf[24];
    put_two_digits(buf, year / 100);
    put_two_digits(buf + 2, year % 100);
    put_two_digits(buf + 4, static_cast<unsigned>(ymd.month()));
    put_two_digits(buf + 6, static_cast<unsigned>(ymd.day()));
    std::size_t n = 8;
    if (t.form != WrittenTime::Form::date) {
        const date::hh_mm_ss<seconds> hms{t.local - day};
        buf[n++] = 'T';
        put_two_digits(buf + n, hms.hours().count());
        put_two_digits(buf + n + 2, hms.minutes().count());
        put_two_digits(buf + n + 4, hms.seconds().count());
        n += 6;
        if (t.form == WrittenTime::Form::utc) buf[n++] = 'Z';
    }
    out.append(buf, n);
    return true;
}

// DTSTART or DTEND's line as with_form and libical write it; false for what append_ical_time leaves
// to libical, and for a TZID libical would quote.
bool append_time_line(std::string& out, std::string_view name, const WrittenTime& t) {
    std::string line(name);
    if (t.form == WrittenTime::Form::date) line += ";VALUE=DATE";
    if (t.form == WrittenTime::Form::zoned) {
        if (t.zone.name.find_first_of(";:,\"") != std::string::npos) return false;
        line += ";TZID=";
        line += t.zone.name;
    }
    line += ':';
    if (!append_ical_time(line, t)) return false;
    append_folded(out, line);
    return true;
}

std::string_view status_text(EventStatus s) {
    switch (s) {
        case EventStatus::tentative: return "TENTATIVE";
        case EventStatus::cancelled: return "CANCELLED";
        case EventStatus::confirmed: break;
    }
    return "CONFIRMED";
}

// vevent_head's lines for a VEVENT without RRULE, RDATE and EXDATE (each single event's, in every
// view), written here rather than through libical's property objects, which cost more than the
// rest of the VEVENT in a zone view. The same bytes: checked against libical's on every VEVENT of
// examples/, the conformance site and the bench sites when written, and pinned by ics_writer_test's
// SingleEventHeadsAreLibicalsBytes (libical's bytes, folding and escaping included); nullopt where
// libical is left to write them.
std::optional<std::string> single_vevent_head(const PlannedEvent& p, Instant fallback_updated, Instant now) {
    if (p.rrule || !p.rdates.empty() || !p.exdates.empty() || p.uid.find('\0') != std::string::npos) return std::nullopt;
    const auto& item = *p.item;
    std::string out;
    append_folded(out, "BEGIN:VEVENT");
    std::string line;
    append_text_line(out, line, "UID", p.uid);
    line = "DTSTAMP:";
    if (!append_ical_time(line, utc_time(item_updated(item, now).value_or(fallback_updated)))) return std::nullopt;
    append_folded(out, line);
    append_folded(out, "SEQUENCE:" + std::to_string(item.event->sequence));
    append_folded(out, "STATUS:" + std::string(status_text(item.event->status)));
    if (!append_time_line(out, "DTSTART", p.start) || !append_time_line(out, "DTEND", p.end)) return std::nullopt;
    return out;
}

// A VEVENT's lines up to its times, BEGIN:VEVENT to its EXDATEs: the part a zone view changes.
std::string vevent_head(const PlannedEvent& p, Instant fallback_updated, Instant now) {
    if (auto head = single_vevent_head(p, fallback_updated, now)) return std::move(*head);
    const auto& item = *p.item;
    const auto& event = *item.event;
    const IcalComponent component{icalcomponent_new_vevent()};
    auto* c = component.get();
    icalcomponent_add_property(c, icalproperty_new_uid(p.uid.c_str()));
    icalcomponent_add_property(c, icalproperty_new_dtstamp(ical_utc_time(item_updated(item, now).value_or(fallback_updated))));
    icalcomponent_add_property(c, icalproperty_new_sequence(event.sequence));
    icalcomponent_add_property(c, icalproperty_new_status(ical_status(event.status)));
    icalcomponent_add_property(c, with_form(icalproperty_new_dtstart(ical_time(p.start)), p.start));
    icalcomponent_add_property(c, with_form(icalproperty_new_dtend(ical_time(p.end)), p.end));
    if (p.rrule) icalcomponent_add_property(c, icalproperty_new_rrule(icalrecurrencetype_from_string(p.rrule->text.c_str())));
    for (const auto& t : p.rdates) icalcomponent_add_property(c, rdate_property(t));
    for (const auto& t : p.exdates) icalcomponent_add_property(c, with_form(icalproperty_new_exdate(ical_time(t)), t));
    std::string out;
    append_folded(out, "BEGIN:VEVENT");
    write_properties(c, out);
    return out;
}

// An empty string with room for a VEVENT's lines from SUMMARY on: its text and HTML bodies, escaped
// and folded, are most of them.
std::string tail_buffer(const Item& item) {
    std::string out;
    out.reserve(item.text.size() + item.html.size() + (item.text.size() + item.html.size()) / 8 + 512);
    return out;
}

// vevent_tail's lines written here rather than through libical's objects, for the VEVENTs most
// sites have: without GEO, CONFERENCE or ORGANIZER (whose values and parameters libical formats),
// and without a NUL, which libical's C strings would cut at. The same bytes: each line is the one
// write_properties makes of libical's property (TEXT and X- values escaped, a URI as it is with
// control characters made spaces, LAST-MODIFIED in UTC): ics_writer_test's
// TailsWrittenDirectlyAreLibicalsBytes compares them with libical's for the same event, and the
// conformance goldens hold them. nullopt: libical writes them.
std::optional<std::string> plain_vevent_tail(const Item& item, const std::optional<Instant>& updated) {
    const auto& event = *item.event;
    if (event.geo || !event.online.empty() || event.organizer) return std::nullopt;
    const auto& url = event.url.empty() ? item.permalink : event.url;
    const auto categories = item_categories(item);
    const auto has_nul = [](std::string_view text) { return text.find('\0') != std::string_view::npos; };
    if (has_nul(item.title) || has_nul(item.text) || has_nul(item.html) || has_nul(event.location) || has_nul(url) ||
        std::any_of(categories.begin(), categories.end(), has_nul))
        return std::nullopt;
    std::string out = tail_buffer(item);
    std::string line;
    append_text_line(out, line, "SUMMARY", item.title);
    if (!item.text.empty()) append_text_line(out, line, "DESCRIPTION", item.text);
    if (!item.html.empty()) append_text_line(out, line, "X-ALT-DESC;FMTTYPE=text/html", item.html);
    if (!event.location.empty()) append_text_line(out, line, "LOCATION", event.location);
    if (!url.empty()) append_uri_line(out, line, "URL", url);
    for (const auto& category : categories) append_text_line(out, line, "CATEGORIES", category);
    if (updated) {
        line = "LAST-MODIFIED:";
        if (!append_ical_time(line, utc_time(*updated))) return std::nullopt;
        append_folded(out, line);
    }
    append_folded(out, "END:VEVENT");
    return out;
}

// The rest of the item's VEVENTs, SUMMARY to END:VEVENT: the same in every view and in each of them.
std::string vevent_tail(const Item& item, Instant now) {
    const auto& event = *item.event;
    const auto updated = item_updated(item, now);
    if (auto tail = plain_vevent_tail(item, updated)) return std::move(*tail);
    const IcalComponent component{icalcomponent_new_vevent()};
    auto* c = component.get();
    icalcomponent_add_property(c, icalproperty_new_summary(item.title.c_str()));
    if (!item.text.empty()) icalcomponent_add_property(c, icalproperty_new_description(item.text.c_str()));
    if (!item.html.empty()) {
        auto* alt = x_property("X-ALT-DESC", item.html);
        icalproperty_add_parameter(alt, icalparameter_new_fmttype("text/html"));
        icalcomponent_add_property(c, alt);
    }
    if (!event.location.empty()) icalcomponent_add_property(c, icalproperty_new_location(event.location.c_str()));
    if (event.geo) icalcomponent_add_property(c, icalproperty_new_geo(icalgeotype{event.geo->lat, event.geo->lon}));
    const auto& url = event.url.empty() ? item.permalink : event.url;
    if (!url.empty()) icalcomponent_add_property(c, icalproperty_new_url(url.c_str()));
    if (!event.online.empty()) {
        auto* conference = icalproperty_new_conference(event.online.c_str());
        icalproperty_add_parameter(conference, icalparameter_new_value(ICAL_VALUE_URI));
        icalproperty_add_parameter(conference, icalparameter_new_feature(ICAL_FEATURE_VIDEO));
        icalcomponent_add_property(c, conference);
    }
    if (event.organizer && !event.organizer->email.empty()) {
        auto* organizer = icalproperty_new_organizer(("mailto:" + event.organizer->email).c_str());
        if (!event.organizer->name.empty())
            icalproperty_add_parameter(organizer, icalparameter_new_cn(event.organizer->name.c_str()));
        icalcomponent_add_property(c, organizer);
    }
    // One CATEGORIES per value: libical holds one TEXT value per property, which lets append_escaped_text
    // keep a comma inside a tag from splitting it.
    for (const auto& category : item_categories(item)) icalcomponent_add_property(c, icalproperty_new_categories(category.c_str()));
    if (updated) icalcomponent_add_property(c, icalproperty_new_lastmodified(ical_utc_time(*updated)));
    std::string out = tail_buffer(item);
    write_properties(c, out);
    append_folded(out, "END:VEVENT");
    return out;
}

void cover(std::vector<IcsZoneUse>& zones, const WrittenTime& t, Instant until) {
    if (t.form != WrittenTime::Form::zoned) return;
    const auto it = std::find_if(zones.begin(), zones.end(), [&](const IcsZoneUse& u) { return u.zone.name == t.zone.name; });
    if (it == zones.end()) {
        zones.push_back({t.zone, t.instant, until});
        return;
    }
    it->first = std::min(it->first, t.instant);
    it->last = std::max(it->last, until);
}

// An item's VEVENTs in `view` and the zones they use.
// A VEVENT's lines from SUMMARY on state nothing in the view's zone (the times come before them):
// they are a piece of their own, which the zone views of a feed share through `cache` when it keeps
// them (a 10,000-event calendar's three views held 79 MB of VEVENTs, two thirds of it the same
// lines). The cut depends only on the bytes, so a render without a cache cuts the same pieces and
// the document's ETag (made from its pieces' hashes, or its runs') is the same.
std::vector<Piece> vevent_pieces(const Item& item, std::size_t n, std::string text, FragmentCache* cache) {
    const std::size_t at = text.find("\r\nSUMMARY");
    if (at == std::string::npos) return {make_piece(std::move(text))};
    const std::string_view tail = std::string_view(text).substr(at + 2);
    // Kept per item and VEVENT.
    Piece shared = cache ? cache->shared_part(item, "#vevent-" + std::to_string(n), tail) : make_piece(std::string(tail));
    text.resize(at + 2);
    return {make_piece(std::move(text)), std::move(shared)};
}

// The zones `p` states its times in, with the span each must cover.
void cover_planned(std::vector<IcsZoneUse>& zones, const PlannedEvent& p) {
    cover(zones, p.start, std::max(p.start.instant, p.covered_until));
    cover(zones, p.end, p.end.instant);
    for (const auto& t : p.rdates) cover(zones, t, t.instant);
    for (const auto& t : p.exdates) cover(zones, t, t.instant);
}

std::string vevent_text(const PlannedEvent& p, Instant updated, Instant now) {
    return vevent_head(p, updated, now) + vevent_tail(*p.item, now);
}

Fragment render_item(const Item& item, const std::optional<Zone>& view, Instant updated, Instant now,
                     FragmentCache* cache = nullptr) {
    Fragment f;
    for (const auto& p : plan(item, view)) {
        cover_planned(f.zones, p);
        f.events.push_back({p.start.instant, p.uid, vevent_pieces(item, f.events.size(), vevent_text(p, updated, now), cache)});
    }
    return f;
}

// Whether the item's VEVENTs are the same in every view: a recurring event keeps its own form, and
// dates stay dates (plan()).
bool view_independent(const Item& item) {
    return item.event->rrule || std::holds_alternative<CivilDate>(item.event->start);
}

// The lines of the VTIMEZONE `use` needs. make_vtimezone depends only on the zone and the years of
// the span's ends, so `cache` keeps the lines by those: a build's 10,000 event documents need a few.
std::string vtimezone_text(const IcsZoneUse& use, FragmentCache* cache) {
    const auto year = [](Instant t) { return static_cast<int>(date::year_month_day{date::floor<date::days>(t)}.year()); };
    std::string key;
    if (cache) {
        key = "VTIMEZONE " + use.zone.name + " " + std::to_string(year(use.first)) + " " + std::to_string(year(use.last));
        if (const std::string* text = cache->kept_text(key)) return *text;
    }
    std::string text;
    write_component(vtimezone_component(make_vtimezone(use.zone, use.first, use.last)).get(), text);
    if (cache) cache->keep_text(std::move(key), text);
    return text;
}

using Coverage = std::map<std::string, IcsZoneUse>;  // by TZID, so VTIMEZONEs come out sorted

void add_zones(Coverage& coverage, const std::vector<IcsZoneUse>& zones) {
    for (const auto& use : zones) {
        const auto [it, inserted] = coverage.try_emplace(use.zone.name, use);
        if (inserted) continue;
        it->second.first = std::min(it->second.first, use.first);
        it->second.last = std::max(it->second.last, use.last);
    }
}

// The lines of a calendar's first four properties, as libical writes them (calendar_head).
constexpr std::string_view calendar_start =
    "BEGIN:VCALENDAR\r\nPRODID:-//almanac//almanac//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n";

// The calendar's own properties, then its VTIMEZONEs: everything before its first VEVENT.
std::string calendar_head(const RenderRequest& request, bool whole_calendar, const Coverage& coverage) {
    const auto& view = request.view.zone;
    if (!whole_calendar) {
        // An event's own document (a build writes one per event): its few lines written here, as
        // write_properties writes them from libical's objects below (a URI value as it is, with
        // control characters made spaces; an X- value escaped as TEXT). render_test's
        // EventDocumentsHoldTheFeedsVevents pins them, in the default view and a zone's.
        std::string head(calendar_start);
        std::string line;
        if (!request.self_url.empty()) append_uri_line(head, line, "URL", request.self_url);
        if (view) append_text_line(head, line, "X-WR-TIMEZONE", view->name);
        for (const auto& [name, use] : coverage) head += vtimezone_text(use, request.fragments);
        return head;
    }
    const IcalComponent calendar{icalcomponent_new_vcalendar()};
    auto* cal = calendar.get();
    icalcomponent_add_property(cal, icalproperty_new_prodid("-//almanac//almanac//EN"));
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
    icalcomponent_add_property(cal, icalproperty_new_method(ICAL_METHOD_PUBLISH));
    const auto& site = request.site->config;
    const auto& title = request.feed->title.empty() ? site.site.title : request.feed->title;
    icalcomponent_add_property(cal, icalproperty_new_name(title.c_str()));
    icalcomponent_add_property(cal, x_property("X-WR-CALNAME", title));
    if (!request.feed->description.empty()) {
        icalcomponent_add_property(cal, icalproperty_new_description(request.feed->description.c_str()));
        icalcomponent_add_property(cal, x_property("X-WR-CALDESC", request.feed->description));
    }
    if (!request.self_url.empty()) icalcomponent_add_property(cal, icalproperty_new_url(request.self_url.c_str()));
    const auto refresh = icaldurationtype_from_int(site.server.refresh_interval_seconds);
    auto* refresh_interval = icalproperty_new_refreshinterval(refresh);
    icalproperty_add_parameter(refresh_interval, icalparameter_new_value(ICAL_VALUE_DURATION));
    icalcomponent_add_property(cal, refresh_interval);
    const OwnedString ttl{icaldurationtype_as_ical_string_r(refresh)};
    icalcomponent_add_property(cal, x_property("X-PUBLISHED-TTL", ttl.get()));
    if (view) icalcomponent_add_property(cal, x_property("X-WR-TIMEZONE", view->name));
    std::string head;
    append_folded(head, "BEGIN:VCALENDAR");
    write_properties(cal, head);
    for (const auto& [name, use] : coverage) head += vtimezone_text(use, request.fragments);
    return head;
}

constexpr std::string_view calendar_end = "END:VCALENDAR\r\n";

// The zone a kept entry of `item` is keyed by in `view`.
std::string_view entry_zone(const Item& item, const std::optional<Zone>& view) {
    if (view_independent(item)) return {};
    return view ? std::string_view(view->name) : "-";
}

// The same VEVENTs at the same places in the calendar, and the same VTIMEZONEs: the entries of one
// item that a patch may swap (patch_calendar).
bool same_places(const Fragment& a, const Fragment& b) {
    if (a.events.size() != b.events.size() || a.zones.size() != b.zones.size()) return false;
    for (std::size_t k = 0; k < a.events.size(); ++k)
        if (a.events[k].start != b.events[k].start || a.events[k].uid != b.events[k].uid) return false;
    for (std::size_t k = 0; k < a.zones.size(); ++k)
        if (a.zones[k].zone.name != b.zones[k].zone.name || a.zones[k].first != b.zones[k].first ||
            a.zones[k].last != b.zones[k].last)
            return false;
    return true;
}

// The calendar the request's fragment cache made in its previous pass, with the VEVENTs of the items
// whose stamps changed (FragmentCache::changed_entries) in place of theirs, when they sort to the same
// places and use the same zones over the same spans (so the head and the order are the same): the
// rope a whole render gives. nullopt when it cannot be patched.
std::optional<Rope> patch_calendar(const RenderRequest& request) {
    FragmentCache* cache = request.fragments;
    const Rope* previous = previous_document(request);
    if (!cache || request.out || !previous) return std::nullopt;
    const auto changed = cache->changed_entries();
    if (!changed) return std::nullopt;
    const auto& units = cache->previous_units();
    const auto& events = cache->previous_events();
    if (units.size() != 2 * events.size()) return std::nullopt;
    cache->begin_patch();
    const auto give_up = [&] {
        cache->abandon_patch();
        return std::nullopt;
    };
    std::vector<RopeEdit> edits;
    std::vector<const IcsEvent*> placed = events;
    for (const std::size_t i : *changed) {
        const Item& item = *request.items[i];
        if (!item.event) return give_up();
        const std::string_view zone = entry_zone(item, request.view.zone);
        if (!cache->keeps(zone)) return give_up();
        const Fragment& old = cache->previous_entry(i);
        cache->patch_at(i);
        const Instant dates = entry_date_key(item, request);
        const Fragment* f = cache->find(item, zone, dates);
        if (!f) f = &cache->insert(item, zone, dates, render_item(item, request.view.zone, request.updated, request.now, cache));
        if (!same_places(old, *f)) return give_up();
        for (std::size_t k = 0; k < old.events.size(); ++k) {
            const auto at = std::find(events.begin(), events.end(), &old.events[k]);
            if (at == events.end()) return give_up();
            const auto j = static_cast<std::size_t>(at - events.begin());
            edits.push_back({units[2 * j], units[2 * j + 1], f->events[k].pieces});
            placed[j] = &f->events[k];
        }
    }
    std::sort(edits.begin(), edits.end(), [](const RopeEdit& a, const RopeEdit& b) { return a.begin < b.begin; });
    cache->keep_units(patched_units(units, edits));
    cache->keep_events(std::move(placed));
    return patch_rope(*previous, edits);
}

// The feed (`whole_calendar`) or one event's document, whole.
Rope render_calendar(const RenderRequest& request, bool whole_calendar) {
    init_libical();
    if (auto patched = patch_calendar(request)) return std::move(*patched);
    const auto& view = request.view.zone;

    // Each item's VEVENTs, from the cache when they were rendered before from the same item, zone
    // and dates (entry_date_key).
    std::vector<Fragment> rendered;  // without a cache
    std::vector<const Fragment*> fragments;
    fragments.reserve(request.items.size());
    for (const auto* item : request.items) {
        if (!item->event) continue;
        const std::string_view zone = entry_zone(*item, view);
        if (request.fragments && request.fragments->keeps(zone)) {
            const Instant dates = entry_date_key(*item, request);
            const Fragment* f = request.fragments->find(*item, zone, dates);
            fragments.push_back(f ? f : &request.fragments->insert(*item, zone, dates, render_item(*item, view, request.updated, request.now, request.fragments)));
        } else {
            rendered.push_back(render_item(*item, view, request.updated, request.now));
        }
    }
    for (const auto& f : rendered) fragments.push_back(&f);

    std::vector<const IcsEvent*> events;
    Coverage coverage;
    for (const auto* f : fragments) {
        for (const auto& e : f->events) events.push_back(&e);
        add_zones(coverage, f->zones);
    }
    std::sort(events.begin(), events.end(), [](const IcsEvent* a, const IcsEvent* b) {
        return std::tie(a->start, a->uid) < std::tie(b->start, b->uid);
    });

    // Each VEVENT's pieces are a unit of the cache's pass, which the next pass may patch.
    RopeBuilder rope(previous_document(request));
    rope.append(calendar_head(request, whole_calendar, coverage));
    for (const auto* e : events) {
        const std::size_t begin = rope.mark();
        for (const auto& piece : e->pieces) rope.share(piece);
        if (request.fragments) request.fragments->unit(begin, rope.mark());
    }
    if (request.fragments && rendered.empty()) request.fragments->keep_events(std::move(events));
    rope.append(calendar_end);
    return std::move(rope).finish();
}

// A VEVENT of calendars being streamed: rendered (a kept fragment's), or only planned, and rendered
// as it is written.
struct StreamedEvent {
    Instant start;
    std::string_view uid;  // in `rendered`, `plans` or `planned_uid`
    const IcsEvent* rendered = nullptr;
    const Item* item = nullptr;  // planned: the item, and which of plan()'s VEVENTs it is
    std::size_t n = 0;
    std::size_t of = 0;  // the item's VEVENTs
    std::unique_ptr<std::string> planned_uid;
    // A recurring event's plan (alike in every view, and made by walking its rule), kept from the
    // first pass for the writing, shared by its VEVENTs. Other plans cost little and are made again.
    std::shared_ptr<const std::vector<PlannedEvent>> plans;
};

// An event's own document (render_event_ics in the default view) from its only VEVENT's lines.
void write_own_document(const RenderRequest& feed_view, const PlannedEvent& p, std::string_view head, std::string_view tail,
                        ByteSink& out) {
    RenderRequest request;
    request.site = feed_view.site;
    request.feed = feed_view.feed;
    request.fragments = feed_view.fragments;
    request.self_url = event_url(request.site->config, *request.feed, event_slug(p.item->uid), std::nullopt);
    std::vector<IcsZoneUse> zones;
    cover_planned(zones, p);
    Coverage coverage;
    add_zones(coverage, zones);
    out.write(calendar_head(request, false, coverage));
    out.write(head);
    out.write(tail);
    out.write(calendar_end);
}

// The calendars of `requests` (one feed's views: the same items, dates and cache), streamed to their
// outputs at once. A VEVENT not kept in the cache is only planned first (its place and the zones it
// uses), then rendered as it is written: a 100,000-event calendar is never held whole. Its lines
// from SUMMARY on are the same in every view and are made once for all of them; the views differ
// in the lines up to its times (VEVENTs keep the same order in every view: they are sorted by
// instant and UID).
void stream_calendars(const std::vector<RenderRequest>& requests, bool whole_calendar, const FormatViews* pass = nullptr) {
    init_libical();
    const RenderRequest& first = requests.front();
    std::vector<StreamedEvent> events;
    std::vector<Coverage> coverage(requests.size());
    for (const auto* item : first.items) {
        if (!item->event) continue;
        const std::string_view zone = entry_zone(*item, first.view.zone);
        if (zone.empty() && first.fragments && first.fragments->keeps(zone)) {
            // The same VEVENTs in every view, kept.
            const Instant dates = entry_date_key(*item, first);
            const Fragment* f = first.fragments->find(*item, zone, dates);
            if (!f) f = &first.fragments->insert(*item, zone, dates, render_item(*item, first.view.zone, first.updated, first.now, first.fragments));
            for (auto& c : coverage) add_zones(c, f->zones);
            for (const auto& e : f->events) events.push_back({e.start, e.uid, &e, nullptr, 0, 0, nullptr, nullptr});
            continue;
        }
        // A recurring event's plan walks its rule to its last start: it is made once, in the first
        // view (it is alike in all), and kept for the writing.
        if (item->event->rrule) {
            auto plans = std::make_shared<const std::vector<PlannedEvent>>(plan(*item, first.view.zone));
            std::vector<IcsZoneUse> zones;
            for (const auto& p : *plans) cover_planned(zones, p);
            for (auto& c : coverage) add_zones(c, zones);
            for (std::size_t n = 0; n < plans->size(); ++n)
                events.push_back({(*plans)[n].start.instant, (*plans)[n].uid, nullptr, item, n, plans->size(), nullptr, plans});
            continue;
        }
        // One on dates is planned alike in every view: planned once.
        const bool same_in_views = view_independent(*item);
        std::vector<PlannedEvent> planned;
        for (std::size_t v = 0; v < requests.size(); ++v) {
            if (v == 0 || !same_in_views) planned = plan(*item, requests[v].view.zone);
            std::vector<IcsZoneUse> zones;
            for (const auto& p : planned) cover_planned(zones, p);
            add_zones(coverage[v], zones);
            if (v > 0) continue;
            for (std::size_t n = 0; n < planned.size(); ++n) {
                auto uid = std::make_unique<std::string>(std::move(planned[n].uid));
                events.push_back({planned[n].start.instant, *uid, nullptr, item, n, planned.size(), std::move(uid), nullptr});
            }
        }
    }
    std::sort(events.begin(), events.end(), [](const StreamedEvent& a, const StreamedEvent& b) {
        return std::tie(a.start, a.uid) < std::tie(b.start, b.uid);
    });

    for (std::size_t v = 0; v < requests.size(); ++v) requests[v].out->write(calendar_head(requests[v], whole_calendar, coverage[v]));
    for (const auto& e : events) {
        if (e.rendered) {
            for (const auto& request : requests)
                for (const auto& piece : e.rendered->pieces) request.out->write(*piece);
            continue;
        }
        const std::string tail = vevent_tail(*e.item, first.now);
        const bool same_in_views = view_independent(*e.item);
        const std::vector<PlannedEvent>* planned = e.plans.get();
        std::vector<PlannedEvent> in_view;  // the item's plan made again, in the view being written
        std::string head = planned ? vevent_head((*planned)[e.n], first.updated, first.now) : std::string();
        for (const auto& request : requests) {
            if (!planned || (!e.plans && !same_in_views)) {
                in_view = plan(*e.item, request.view.zone);
                planned = &in_view;
                head = vevent_head(in_view.at(e.n), first.updated, first.now);
            }
            request.out->write(head);
            request.out->write(tail);
            // The event's own document shares these lines (its view is the default one).
            if (pass && pass->own_document && e.of == 1 && !request.view.zone)
                pass->own_document(*e.item, [&](ByteSink& out) { write_own_document(request, planned->front(), head, tail, out); });
        }
    }
    for (const auto& request : requests) request.out->write(calendar_end);
}

}  // namespace

Rope render_ics(const RenderRequest& request) {
    if (!request.out) return render_calendar(request, true);
    stream_calendars({request}, true);
    return {};
}

void render_ics_views(const std::vector<FormatViews>& formats) {
    for (const auto& f : formats)
        if (!f.views.empty()) stream_calendars(f.views, true, &f);
}

Rope render_event_ics(const RenderRequest& request) {
    if (!request.out) return render_calendar(request, false);
    stream_calendars({request}, false);
    return {};
}

}  // namespace almanac
