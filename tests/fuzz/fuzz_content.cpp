// parse_source (front matter, data files, event fields, Markdown) on arbitrary file bytes, then every
// feed format rendered from what it gave, in the default view and in a zone view.
//
// Input: one selector byte, then the file's bytes. The selector's low three bits pick the file
// (see `files`), bit 3 turns on content.unsafe_html, bits 4–5 pick the site's zone.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <iterator>
#include <map>

#include "feeds/content.hpp"
#include "feeds/publisher.hpp"
#include "feeds/site.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace almanac;
using almanac::fuzz::check;

constexpr std::array<const char*, 8> files{
    "events/meetup.md",         // 0: an event page
    "events/_index.md",         // 1: a section page
    "events/calls.yaml",        // 2: event data files
    "events/calls.toml",        // 3
    "events/calls.json",        // 4
    "blog/2024-05-14-post.md",  // 5: a post (its date may come from the name)
    "blog/post.md",             // 6
    "pages/about.md",           // 7: a page
};
constexpr std::array<const char*, 4> zones{"UTC", "America/Los_Angeles", "Europe/Dublin", "Pacific/Apia"};

SiteConfig make_config(bool unsafe_html, const char* zone) {
    SiteConfig c;
    c.site.base_url = "https://example.org/cal/";
    c.site.timezone = zone;
    c.content.unsafe_html = unsafe_html;
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:year/:month/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"},
                          {"pages", SectionType::page, {}, {}, ""}};
    c.content.sections_given = true;
    // The events feed has a window, so publishing expands each event's occurrences.
    FeedConfig events{"events", "Events", "", {"events"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}};
    events.window = {365, 3 * 365};
    c.feeds = {events, {"blog", "Blog", "", {"blog"}, {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}, {}, {}, {}, {}}};
    c.feeds_given = true;
    return c;
}

void check_item(const Item& item, const std::string& path) {
    check(item.path == path, "item path is not the file's", item.path);
    check(!item.uid.empty() && item.uid.size() <= 255 + 64, "item uid empty or runaway", item.uid);
    check(!item.slug.empty(), "item slug is empty", item.title);
    for (const char c : item.slug) check(c != '/' && c != '?' && c != '#' && c != ' ', "slug with a URL delimiter", item.slug);
    check(item.permalink.starts_with("http://") || item.permalink.starts_with("https://"), "permalink not absolute",
          item.permalink);
    for (const auto* s : {&item.title, &item.summary, &item.html, &item.text, &item.uid, &item.permalink, &item.kind})
        almanac::fuzz::check_utf8(*s, "item field is not UTF-8");
    if (item.type == SectionType::page) return;
    check(!item.title.empty(), "a post or event without a title was kept", item.path);
    if (item.type == SectionType::post) check(item.date.has_value(), "a post without a date was kept", item.path);
    if (item.type != SectionType::event) return;
    check(item.event.has_value(), "event item without event fields", item.path);
    const Event& e = *item.event;
    check(e.start.index() == e.end.index(), "event end is not the same kind as its start", item.path);
    check(e.zone.tz != nullptr, "event zone without tz", e.zone.name);
    check(to_instant(e.end, e.zone) >= to_instant(e.start, e.zone), "event ends before it starts", item.path);
    for (const auto& x : e.exdates) check(x.index() == e.start.index(), "exdate of another kind than start", item.path);
    for (const auto& x : e.rdates) check(x.index() == e.start.index(), "rdate of another kind than start", item.path);
}

void check_document(FeedFormat format, const Document& doc) {
    const std::string body = doc.body.str();
    switch (format) {
        case FeedFormat::ics: almanac::fuzz::check_ics(body); break;
        case FeedFormat::rss:
        case FeedFormat::atom: almanac::fuzz::check_xml_chars(body, "feed XML has a forbidden character"); break;
        case FeedFormat::json: {
            almanac::fuzz::check_utf8(body, "JSON feed is not UTF-8");
            const auto json = nlohmann::json::parse(body, nullptr, false);
            check(!json.is_discarded() && json.is_object(), "JSON feed does not parse", body.substr(0, 400));
            break;
        }
    }
    // The tag is the pieces' tag, and a one-piece copy of the bytes has a tag of its own only when
    // the document has more than one piece.
    check(doc.etag == strong_etag(doc.body), "etag is not the body's", doc.etag);
    check((doc.body.pieces().size() <= 1) == (doc.etag == strong_etag(std::string_view(body))),
          "a one-piece document's tag is not its bytes'", doc.etag);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t selector = data[0];
    const std::string path = files[selector & 7];
    const SiteConfig config = make_config((selector & 8) != 0, zones[(selector >> 4) & 3]);
    const std::string section_name = path.substr(0, path.find('/'));
    const SectionConfig& section = *find_section(config, section_name);

    const SourceFile file{path, "content/" + path, std::string(almanac::fuzz::as_text(data + 1, size - 1))};
    ParsedSource parsed = parse_source(file, section, config);
    check(parsed.display_path == file.display_path, "display path changed", parsed.display_path);
    if (has_errors(parsed.diagnostics)) check(parsed.items.empty(), "a file with errors kept items", path);
    almanac::fuzz::check_diagnostics(parsed.diagnostics, file.display_path);
    if (path.ends_with("_index.md") || path.starts_with("pages/"))
        check(parsed.items.size() <= 1, "a page or section page gave several items", path);
    for (const auto& item : parsed.items) check_item(item, path);
    if (parsed.items.empty()) return 0;

    std::map<std::string, ParsedSource> sources{{path, std::move(parsed)}};
    const Site site = assemble_site(config, sources, {});
    const PublishOptions options{date::sys_days{date::year{2026} / 1 / 1}, std::nullopt};
    const Zone view_zone = *find_zone("Asia/Kolkata");
    for (const auto& feed : site.config.feeds) {
        if (std::find(feed.sections.begin(), feed.sections.end(), section_name) == feed.sections.end()) continue;
        for (const FeedFormat format : feed.formats) {
            check_document(format, render_document(site, feed, format, FeedView{}, options));
            if (format == FeedFormat::ics)
                check_document(format, render_document(site, feed, format, FeedView{view_zone, {}, {}}, options));
        }
    }
    return 0;
}
