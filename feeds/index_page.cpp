// The index page, written by hand as polyglot HTML5 (void elements closed with " />", attributes
// with values), so that it is also well-formed XML and the tests can check it strictly. Every text
// and attribute value goes through xml_escape, whose five entities HTML5 knows too.
#include "feeds/index_page.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "feeds/event_text.hpp"
#include "feeds/recurrence.hpp"
#include "feeds/render.hpp"
#include "feeds/xml_writer.hpp"

namespace almanac {
namespace {

constexpr std::string_view page_style =
    "body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}"
    "h1{margin:0}h2{margin:2rem 0 .5rem;border-bottom:1px solid #ddd}h3{font-size:1rem;margin:1.25rem 0 .25rem}"
    "ul{list-style:none;padding:0;margin:0}li{margin:.5rem 0}a{color:#0645ad;overflow-wrap:anywhere}"
    ".zone,.description,.when,.where{color:#555}.when{display:block;font-size:.9rem}"
    ".format{display:inline-block;min-width:6.5rem;font-weight:600}"
    "@media (max-width:30rem){.format{display:block}}"
    "#zone form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}#zone select{flex:1 1 12rem}"
    ".status{color:#b00020;font-size:.8rem;font-weight:700;text-transform:uppercase;margin-right:.25rem}"
    "select,button{font:inherit;max-width:100%;padding:.4rem .6rem;min-height:2.5rem}"
    ".subscribe{display:flex;flex-wrap:wrap;gap:.25rem 1rem}.add{display:block;font-size:.9rem}"
    ".copy{display:flex;flex-wrap:wrap;gap:.25rem .5rem;align-items:center}"
    ".copy input{flex:1 1 16rem;min-width:0;font:inherit;font-size:.9rem;padding:.3rem}"
    ".filters{margin-left:1rem}.filter{font-size:.9rem}";

// The zone the page reads times in: the chosen one, else the site's (validated with the config).
Zone view_zone(const Site& site, const IndexOptions& options) {
    if (options.zone) return *options.zone;
    if (auto zone = find_zone(site.config.site.timezone)) return *zone;
    return *find_zone("UTC");
}

// Every zone name of the system tz database that the server accepts in ?tz= and /tz/ paths, sorted.
// Computed once: the list only changes with the tz database, which the process reads once.
const std::vector<std::string>& zone_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& tz : date::get_tzdb().zones)
            if (find_zone(tz.name())) out.emplace_back(tz.name());
        std::sort(out.begin(), out.end());
        return out;
    }();
    return names;
}

std::string_view format_label(FeedFormat format) {
    switch (format) {
        case FeedFormat::ics:
            return "iCalendar";
        case FeedFormat::rss:
            return "RSS";
        case FeedFormat::atom:
            return "Atom";
        case FeedFormat::json:
            return "JSON Feed";
    }
    return "";
}

// The same URL for calendar apps: webcal:// makes a click subscribe instead of download.
std::string webcal_url(const std::string& url) {
    const auto scheme_end = url.find("://");
    return scheme_end == std::string::npos ? url : "webcal" + url.substr(scheme_end);
}

bool holds_events(const SiteConfig& config, const FeedConfig& feed) {
    return std::any_of(feed.sections.begin(), feed.sections.end(), [&](const std::string& name) {
        const auto* section = find_section(config, name);
        return section && section->type == SectionType::event;
    });
}

// The view a feed link points at. Calendar links follow the chosen zone, and so do the other
// formats of a feed holding events, whose items state their times in the feed's zone; a feed of
// posts only keeps its default URL, since a zone view would change nothing but its identity.
std::optional<Zone> link_zone(const SiteConfig& config, const FeedConfig& feed, FeedFormat format,
                              const IndexOptions& options) {
    if (options.zone && (format == FeedFormat::ics || holds_events(config, feed))) return options.zone;
    return std::nullopt;
}

std::string plural(int n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// "Thu 6 Jun 2024": date's C-locale names (ONLY_C_LOCALE), so the page does not follow the host's locale.
std::string day_heading(date::year_month_day day) {
    const date::sys_days d{day};
    return date::format("%a ", d) + std::to_string(unsigned{day.day()}) + date::format(" %b %Y", d);
}

struct Upcoming {
    const Item* item;
    Occurrence occurrence;
    date::year_month_day day;  // the day it is listed under, in the view
};

// An all-day occurrence keeps its date in every zone (SPEC §4.1); a timed one falls on the view's
// local date of its start.
date::year_month_day listed_day(const Occurrence& occurrence, const Zone& view) {
    if (const auto* d = std::get_if<CivilDate>(&occurrence.start)) return d->ymd;
    const auto t = occurrence.start_instant;
    return date::year_month_day{date::floor<date::days>(t + zone_info_at(view, t).offset)};
}

struct UpcomingList {
    std::vector<Upcoming> entries;
    bool truncated = false;  // more occurrences than the limit fell in the period
};

UpcomingList upcoming(const Site& site, const IndexOptions& options, const Zone& view) {
    UpcomingList list;
    if (options.upcoming_days <= 0 || options.upcoming_limit <= 0) return list;
    const auto limit = static_cast<std::size_t>(options.upcoming_limit);
    const Instant to = options.now + date::days{options.upcoming_days};
    // By start instant, then title; the day comes first so that an all-day event from a zone ahead
    // of the view still sits under its own date's heading. The uid makes equal titles deterministic.
    const auto before = [](const Upcoming& a, const Upcoming& b) {
        return std::tie(a.day, a.occurrence.start_instant, a.item->title, a.item->uid) <
               std::tie(b.day, b.occurrence.start_instant, b.item->title, b.item->uid);
    };
    // The limit + 1 first entries so far (a heap, the last of them on top): one more than the limit
    // tells whether the list was cut. An occurrence starting 3 days after the last of them has a
    // later day (no zone's offset reaches 16 hours, and an all-day date lies within a day of its
    // start), so it cannot be among the first: later events are asked only up to there, and a
    // large site's recurring events are not stepped through the whole period each. (The memo of a
    // server is asked for the whole period: it keeps a window per event for the next rebuilds.)
    std::vector<Upcoming> first;
    Instant until = to;
    for (const auto& item : site.items) {
        if (!item.event || !is_visible(item, options.now)) continue;
        auto found = item.event->rrule && options.occurrences
                         ? options.occurrences->occurrences(item, options.now, to, limit + 1)
                         : occurrences(*item.event, options.now, until, limit + 1);
        for (auto& occurrence : found) {
            const Upcoming entry{&item, occurrence, listed_day(occurrence, view)};
            list.entries.push_back(entry);
            first.push_back(entry);
            std::push_heap(first.begin(), first.end(), before);
            if (first.size() > limit + 1) {
                std::pop_heap(first.begin(), first.end(), before);
                first.pop_back();
            }
            if (first.size() == limit + 1) until = std::min(until, first.front().occurrence.start_instant + date::days{3});
        }
    }
    std::sort(list.entries.begin(), list.entries.end(), before);
    if (list.entries.size() > limit) {
        list.entries.resize(limit);
        list.truncated = true;
    }
    return list;
}

void write_head(std::string& out, const Site& site) {
    const auto& config = site.config;
    out += "<!DOCTYPE html>\n<html lang=\"" + xml_escape(config.site.language) + "\">\n<head>\n";
    out += "<meta charset=\"utf-8\" />\n";
    // No favicon to fetch: browsers would otherwise ask for /favicon.ico and log its 404.
    out += "<link rel=\"icon\" href=\"data:,\" />\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n";
    out += "<title>" + xml_escape(config.site.title) + "</title>\n";
    // Feed readers find the default views from the page itself (RSS/Atom autodiscovery).
    for (const auto& feed : config.feeds) {
        for (const auto format : feed.formats) {
            if (format == FeedFormat::ics) continue;
            const auto media_type = output_format(format).media_type;
            out += "<link rel=\"alternate\" type=\"" + xml_escape(media_type.substr(0, media_type.find(';'))) +
                   "\" title=\"" + xml_escape(feed.title) + "\" href=\"" +
                   xml_escape(feed_url(config, feed, format, std::nullopt)) + "\" />\n";
        }
    }
    out += "<style>" + std::string(page_style) + "</style>\n</head>\n";
}

// Outlook.com and Microsoft 365 take the https:// address and a name; Google takes the webcal:// one
// (its subscribe dialog, `cid`); Apple Calendar and most desktop clients open webcal:// themselves.
struct SubscribeLinks {
    std::string https, webcal, google, outlook, office;
};

SubscribeLinks subscribe_links(const std::string& url, const std::string& name) {
    const auto webcal = webcal_url(url);
    const auto add_from_web = "/calendar/0/addfromweb?url=" + percent_encode(url) + "&name=" + percent_encode(name);
    return {url, webcal, "https://calendar.google.com/calendar/r?cid=" + percent_encode(webcal),
            "https://outlook.live.com" + add_from_web, "https://outlook.office.com" + add_from_web};
}

// The one-click links and a read-only field holding the address, which needs no script to copy.
void write_subscribe(std::string& out, const std::string& url, const std::string& name) {
    const auto links = subscribe_links(url, name);
    out += "<span class=\"subscribe\"><a class=\"apple\" href=\"" + xml_escape(links.webcal) + "\">Apple Calendar</a>";
    out += "<a class=\"google\" href=\"" + xml_escape(links.google) + "\">Google Calendar</a>";
    out += "<a class=\"outlook\" href=\"" + xml_escape(links.outlook) + "\">Outlook.com</a>";
    out += "<a class=\"office\" href=\"" + xml_escape(links.office) + "\">Microsoft 365</a></span>\n";
    out += "<label class=\"copy\">Copy address <input type=\"text\" readonly=\"readonly\" value=\"" +
           xml_escape(links.https) + "\" /></label>\n";
}

// The tags and kinds of a calendar's events, each a filtered calendar (?tag=, ?kind=) to follow one series.
void write_filters(std::string& out, const SiteConfig& config, const FeedConfig& feed, const std::string& name,
                   const std::vector<const Item*>& items, const IndexOptions& options) {
    CalendarFilters gathered;
    const CalendarFilters* filters = nullptr;
    if (options.filters)
        if (const auto it = options.filters->find(feed.name); it != options.filters->end()) filters = &it->second;
    if (!filters) filters = &(gathered = calendar_filters(items));
    const auto& tags = filters->tags;
    const auto& kinds = filters->kinds;
    if (tags.empty() && kinds.empty()) return;
    // Plain lists, no <details>: the page stays HTML that every parser knows, and nothing is hidden
    // from a reader without CSS.
    out += "<p>Follow one series:</p>\n<ul class=\"filters\">\n";
    const auto write = [&](std::string_view label, std::string_view value, FeedView view) {
        view.zone = options.zone;
        out += "<li class=\"filter\">" + std::string(label) + " <strong>" + xml_escape(value) + "</strong>\n";
        write_subscribe(out, view_url(config, feed, FeedFormat::ics, view), name + " (" + std::string(value) + ")");
        out += "</li>\n";
    };
    for (const auto& [kind, count] : kinds) write("Kind", kind, FeedView{std::nullopt, {}, {kind}});
    for (const auto& [tag, count] : tags) write("Tag", tag, FeedView{std::nullopt, {tag}, {}});
    out += "</ul>\n";
}

void write_feeds(std::string& out, const Site& site, const IndexOptions& options,
                 const std::map<std::string, std::vector<const Item*>>& calendars) {
    const auto& config = site.config;
    out += "<div id=\"feeds\">\n<h2>Feeds</h2>\n";
    if (config.feeds.empty()) out += "<p>This site has no feeds.</p>\n";
    for (const auto& feed : config.feeds) {
        const auto& name = feed.title.empty() ? (config.site.title.empty() ? feed.name : config.site.title) : feed.title;
        out += "<div class=\"feed\">\n<h3>" + xml_escape(feed.title.empty() ? feed.name : feed.title) + "</h3>\n";
        if (!feed.description.empty()) out += "<p class=\"description\">" + xml_escape(feed.description) + "</p>\n";
        out += "<ul>\n";
        for (const auto format : feed.formats) {
            const auto url = feed_url(config, feed, format, link_zone(config, feed, format, options));
            out += "<li><span class=\"format\">" + xml_escape(format_label(format)) + "</span> ";
            if (format == FeedFormat::ics) {
                out += "<a href=\"" + xml_escape(webcal_url(url)) + "\">Subscribe in your calendar app</a> · ";
                out += "<a href=\"" + xml_escape(url) + "\">" + xml_escape(url) + "</a>\n";
                write_subscribe(out, url, name);
                if (const auto it = calendars.find(feed.name); it != calendars.end())
                    write_filters(out, config, feed, name, it->second, options);
                out += "</li>\n";
                continue;
            }
            out += "<a href=\"" + xml_escape(url) + "\">" + xml_escape(url) + "</a></li>\n";
        }
        out += "</ul>\n</div>\n";
    }
    out += "</div>\n";
}

void write_option(std::string& out, const std::string& name, const std::string& chosen, bool& selected_written) {
    out += "<option value=\"" + xml_escape(name) + "\"";
    // Only the first option of the chosen zone is selected: a single select allows one.
    if (!selected_written && name == chosen) {
        out += " selected=\"selected\"";
        selected_written = true;
    }
    out += ">" + xml_escape(name) + "</option>\n";
}

void write_zone_picker(std::string& out, const SiteConfig& config, const Zone& view) {
    out += "<div id=\"zone\">\n<h2>Time zone</h2>\n";
    // No action: the form comes back to the server the page was loaded from, whatever base_url says
    // (a replica, a preview on 127.0.0.1, a proxy's path prefix).
    out += "<form method=\"get\">\n";
    out += "<label for=\"tz\">Show times and calendar links in</label>\n<select id=\"tz\" name=\"tz\">\n";
    bool selected_written = false;
    const auto& prerender = config.timezones.prerender;
    if (!prerender.empty()) out += "<optgroup label=\"Suggested\">\n";
    for (const auto& name : prerender) write_option(out, name, view.name, selected_written);
    if (!prerender.empty()) out += "</optgroup>\n<optgroup label=\"All time zones\">\n";
    for (const auto& name : zone_names()) write_option(out, name, view.name, selected_written);
    if (!prerender.empty()) out += "</optgroup>\n";
    out += "</select>\n<button type=\"submit\">Show</button>\n</form>\n</div>\n";
}

// "20240516T093000Z", "20240516T093000" (a wall time), "20240516" (a date): Google's `dates` forms.
std::string compact(const EventTime& t) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return date::format("%Y%m%d", d->ymd);
    if (const auto* w = std::get_if<WallTime>(&t)) return date::format("%Y%m%dT%H%M%S", w->local);
    return date::format("%Y%m%dT%H%M%SZ", std::get<Instant>(t));
}

std::string cut(const std::string& text, std::size_t max) {
    if (text.size() <= max) return text;
    std::size_t at = max;
    while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0u) == 0x80u) --at;
    return text.substr(0, at) + "…";
}

// Google Calendar's "add event" form. A single occurrence goes as UTC instants shown in the view's
// zone; a series as its first start in its own wall time and zone with its RRULE, which Google
// expands in that zone as the feed's clients do (EXDATE and RDATE have no parameter there: the
// .ics link carries them).
std::string google_event_url(const Item& item, const Occurrence& occurrence, const Zone& view) {
    const Event& event = *item.event;
    std::string url = "https://calendar.google.com/calendar/render?action=TEMPLATE&text=" + percent_encode(item.title);
    if (event.rrule) {
        url += "&dates=" + compact(event.start) + "/" + compact(event.end);
        if (std::holds_alternative<WallTime>(event.start)) url += "&ctz=" + percent_encode(event.zone.name);
        auto rule = event.rrule->text;
        if (!rule.starts_with("RRULE:")) rule.insert(0, "RRULE:");
        url += "&recur=" + percent_encode(rule);
    } else if (std::holds_alternative<CivilDate>(occurrence.start)) {
        url += "&dates=" + compact(occurrence.start) + "/" + compact(occurrence.end);
    } else {
        url += "&dates=" + compact(EventTime{occurrence.start_instant}) + "/" + compact(EventTime{occurrence.end_instant});
        url += "&ctz=" + percent_encode(view.name);
    }
    const auto& link = event.url.empty() ? item.permalink : event.url;
    std::string details = cut(item.text, 600);
    if (!link.empty()) details += (details.empty() ? "" : "\n\n") + link;
    if (!details.empty()) url += "&details=" + percent_encode(details);
    const auto& where = event.location.empty() ? event.online : event.location;
    if (!where.empty()) url += "&location=" + percent_encode(where);
    return url;
}

void write_event(std::string& out, const Upcoming& entry, const Zone& view, const std::string& heading,
                 const std::string& ics_url) {
    const Item& item = *entry.item;
    const Event& event = *item.event;
    const bool cancelled = event.status == EventStatus::cancelled;
    out += cancelled ? "<li class=\"event cancelled\">" : "<li class=\"event\">";
    // Under its day's heading an entry does not repeat that date; one that spans days keeps its end's.
    std::string when = describe_when(entry.occurrence.start, entry.occurrence.end, event.zone, view);
    if (when.starts_with(heading + ", ")) when.erase(0, heading.size() + 2);
    out += "<span class=\"when\">" + xml_escape(when) + "</span>";
    if (cancelled) out += "<span class=\"status\">Cancelled</span><del>";
    if (event.status == EventStatus::tentative) out += "<span class=\"status\">Tentative</span>";
    const auto& link = event.url.empty() ? item.permalink : event.url;
    if (link.empty()) out += "<strong>" + xml_escape(item.title) + "</strong>";
    else out += "<a href=\"" + xml_escape(link) + "\"><strong>" + xml_escape(item.title) + "</strong></a>";
    if (cancelled) out += "</del>";
    if (!event.location.empty()) out += " <span class=\"where\">· " + xml_escape(event.location) + "</span>";
    if (!event.online.empty()) out += " · <a href=\"" + xml_escape(event.online) + "\">Join online</a>";
    if (!cancelled) {
        out += "<span class=\"add\">Add to calendar: ";
        if (!ics_url.empty()) out += "<a class=\"ics\" href=\"" + xml_escape(ics_url) + "\">.ics file</a> · ";
        out += "<a class=\"google\" href=\"" + xml_escape(google_event_url(item, entry.occurrence, view)) +
               "\">Google Calendar</a></span>";
    }
    out += "</li>\n";
}

// "2024-05-16T09:30:00+02:00" in `view`; a date stays "2024-05-16" (schema.org's Date).
std::string schema_time(const EventTime& t, Instant instant, const Zone& view) {
    if (const auto* d = std::get_if<CivilDate>(&t)) return date::format("%Y-%m-%d", d->ymd);
    const auto offset = zone_info_at(view, instant).offset;
    const date::local_seconds local{instant.time_since_epoch() + offset};
    const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(offset).count();
    const auto a = minutes < 0 ? -minutes : minutes;
    char zone[8];
    // NOLINTNEXTLINE(cert-err33-c): "+hh:mm" of a UTC offset (under 26 hours) fits in 8 bytes
    std::snprintf(zone, sizeof zone, "%c%02d:%02d", minutes < 0 ? '-' : '+', static_cast<int>(a / 60), static_cast<int>(a % 60));
    return date::format("%Y-%m-%dT%H:%M:%S", local) + zone;
}

// schema.org Event JSON-LD for the upcoming occurrences, so that search engines can list them. The
// JSON escapes '<', '>' and '&', so the script holds no markup and the page stays well-formed XML.
void write_structured_data(std::string& out, const std::vector<Upcoming>& entries, const Zone& view) {
    using nlohmann::ordered_json;
    auto events = ordered_json::array();
    for (const auto& entry : entries) {
        const Item& item = *entry.item;
        const Event& event = *item.event;
        const auto& o = entry.occurrence;
        ordered_json e;
        e["@context"] = "https://schema.org";
        e["@type"] = "Event";
        e["name"] = item.title;
        e["startDate"] = schema_time(o.start, o.start_instant, view);
        // A date's end is the last day (schema.org), not the exclusive DTEND.
        if (const auto* d = std::get_if<CivilDate>(&o.end))
            e["endDate"] = date::format("%Y-%m-%d", date::sys_days{d->ymd} - date::days{1});
        else
            e["endDate"] = schema_time(o.end, o.end_instant, view);
        e["eventStatus"] = event.status == EventStatus::cancelled ? "https://schema.org/EventCancelled"
                                                                  : "https://schema.org/EventScheduled";
        const bool here = !event.location.empty(), online = !event.online.empty();
        e["eventAttendanceMode"] = here && online ? "https://schema.org/MixedEventAttendanceMode"
                                   : online       ? "https://schema.org/OnlineEventAttendanceMode"
                                                  : "https://schema.org/OfflineEventAttendanceMode";
        auto locations = ordered_json::array();
        if (here) {
            ordered_json place{{"@type", "Place"}, {"name", event.location}, {"address", event.location}};
            if (event.geo)
                place["geo"] = {{"@type", "GeoCoordinates"}, {"latitude", event.geo->lat}, {"longitude", event.geo->lon}};
            locations.push_back(std::move(place));
        }
        if (online) locations.push_back({{"@type", "VirtualLocation"}, {"url", event.online}});
        if (locations.size() == 1) e["location"] = locations.front();
        else if (!locations.empty()) e["location"] = std::move(locations);
        if (const auto& url = event.url.empty() ? item.permalink : event.url; !url.empty()) e["url"] = url;
        if (!item.text.empty()) e["description"] = cut(item.text, 1000);
        if (event.organizer && !event.organizer->name.empty()) {
            ordered_json organizer{{"@type", "Organization"}, {"name", event.organizer->name}};
            if (!event.organizer->email.empty()) organizer["email"] = event.organizer->email;
            e["organizer"] = std::move(organizer);
        }
        events.push_back(std::move(e));
    }
    std::string json;
    for (const char c : events.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
        if (c == '<') json += "\\u003c";
        else if (c == '>') json += "\\u003e";
        else if (c == '&') json += "\\u0026";
        else json += c;
    }
    out += "<script type=\"application/ld+json\">" + json + "</script>\n";
}

// The calendar each listed event's own document is published under: the first calendar feed (in
// the config's order) whose default view holds it; null for none. Only the listed events are kept,
// not every event of every calendar.
std::unordered_map<const Item*, const FeedConfig*> event_feeds(const Site& site,
                                                               const std::map<std::string, std::vector<const Item*>>& calendars,
                                                               const std::vector<Upcoming>& entries) {
    std::unordered_map<const Item*, const FeedConfig*> out;
    for (const auto& entry : entries) out.emplace(entry.item, nullptr);
    std::size_t left = out.size();
    for (const auto& feed : site.config.feeds) {
        const auto it = calendars.find(feed.name);
        if (it == calendars.end()) continue;
        for (const auto* item : it->second) {
            if (left == 0) return out;
            if (const auto found = out.find(item); found != out.end() && !found->second) {
                found->second = &feed;
                --left;
            }
        }
    }
    return out;
}

void write_upcoming(std::string& out, const Site& site, const IndexOptions& options, const Zone& view,
                    const std::map<std::string, std::vector<const Item*>>& calendars) {
    const auto list = upcoming(site, options, view);
    const auto period = plural(options.upcoming_days, "day");
    out += "<div id=\"upcoming\">\n<h2>Upcoming events</h2>\n";
    if (list.entries.empty()) {
        out += "<p>No events in the next " + period + ".</p>\n</div>\n";
        return;
    }
    out += "<p>Starting in the next " + period + ", times in " + xml_escape(view.name) + ".";
    if (list.truncated) out += " Listing the first " + plural(options.upcoming_limit, "event") + ".";
    out += "</p>\n";
    const auto feeds = event_feeds(site, calendars, list.entries);
    for (std::size_t i = 0; i < list.entries.size(); ++i) {
        const auto& entry = list.entries[i];
        const std::string heading = day_heading(entry.day);
        if (i == 0 || entry.day != list.entries[i - 1].day) out += "<h3>" + xml_escape(heading) + "</h3>\n<ul>\n";
        const FeedConfig* feed = feeds.at(entry.item);
        const auto ics = !feed ? std::string() : event_url(site.config, *feed, event_slug(entry.item->uid), options.zone);
        write_event(out, entry, view, heading, ics);
        if (i + 1 == list.entries.size() || list.entries[i + 1].day != entry.day) out += "</ul>\n";
    }
    write_structured_data(out, list.entries, view);
    out += "</div>\n";
}

// Each calendar feed's default-view events at `now`, by feed name: what its filters and events' own
// documents are drawn from.
std::map<std::string, std::vector<const Item*>> calendar_items(const Site& site, Instant now) {
    std::map<std::string, std::vector<const Item*>> out;
    for (const auto& feed : site.config.feeds)
        if (publishes(feed, FeedFormat::ics))
            out.emplace(feed.name, select_items(site, feed, FeedView{}, now));
    return out;
}

}  // namespace

void CalendarFilters::add(const Item& item) {
    if (!item.event) return;
    for (const auto& tag : item.tags) {
        const auto it = tags.find(tag);
        if (it != tags.end()) ++it->second;
        else tags.emplace(tag, 1);
    }
    if (item.kind.empty()) return;
    const auto it = kinds.find(item.kind);
    if (it != kinds.end()) ++it->second;
    else kinds.emplace(item.kind, 1);
}

void CalendarFilters::remove(const Item& item) {
    if (!item.event) return;
    const auto drop = [](auto& counts, const std::string& name) {
        const auto it = counts.find(name);
        if (it != counts.end() && --it->second == 0) counts.erase(it);
    };
    for (const auto& tag : item.tags) drop(tags, tag);
    if (!item.kind.empty()) drop(kinds, item.kind);
}

CalendarFilters calendar_filters(const std::vector<const Item*>& items) {
    CalendarFilters filters;
    for (const auto* item : items) filters.add(*item);
    return filters;
}

std::string render_index_page(const Site& site, const IndexOptions& options) {
    const Zone view = view_zone(site, options);
    std::string out;
    write_head(out, site);
    out += "<body>\n<h1>" + xml_escape(site.config.site.title) + "</h1>\n";
    out += "<p class=\"zone\">Times in <strong>" + xml_escape(view.name) + "</strong></p>\n";
    std::map<std::string, std::vector<const Item*>> selected;
    const auto& calendars = options.calendars ? *options.calendars : (selected = calendar_items(site, options.now));
    write_feeds(out, site, options, calendars);
    write_zone_picker(out, site.config, view);
    write_upcoming(out, site, options, view, calendars);
    out += "</body>\n</html>\n";
    return out;
}

}  // namespace almanac
