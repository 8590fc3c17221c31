// parse_config on arbitrary YAML, the schema helpers on its first line, and — for a config that
// loads — every feed of an empty site rendered from it (titles, names and zones reach the output).
#include <nlohmann/json.hpp>

#include <set>

#include "config/config_loader.hpp"
#include "feeds/publisher.hpp"
#include "feeds/site.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace almanac;
using almanac::fuzz::check;

void check_loaded(const SiteConfig& c, const std::string& path, const std::string& base_dir) {
    check(c.path == path && c.base_dir == base_dir, "path or base_dir not kept");
    check(c.site.base_url.ends_with('/'), "base_url does not end with '/'", c.site.base_url);
    const std::string scheme = ascii_lower(c.site.base_url.substr(0, 8));  // schemes ignore case (RFC 3986 §3.1)
    check(scheme.starts_with("http://") || scheme.starts_with("https://"), "base_url not http(s)", c.site.base_url);
    check(c.content.dir.starts_with('/'), "content.dir not absolute", c.content.dir);
    check(is_known_time_zone(c.site.timezone), "site.timezone unknown", c.site.timezone);
    for (const auto& z : c.timezones.prerender) check(is_known_time_zone(z), "prerender zone unknown", z);
    std::set<std::string> names;
    for (const auto& f : c.feeds) {
        check(names.insert(f.name).second, "duplicate feed name kept", f.name);
        check(!f.name.empty(), "empty feed name");
        if (f.limit) check(*f.limit >= 0, "negative feed limit", f.name);
        if (c.content.sections_given)
            for (const auto& s : f.sections) check(find_section(c, s) != nullptr, "feed names an unknown section", s);
    }
    std::set<std::string> sections;
    for (const auto& s : c.content.sections) check(sections.insert(s.name).second, "duplicate section kept", s.name);
    for (const auto& l : c.server.listen) check(!listen_address_problem(l), "bad listen address kept", l);
}

void render_empty_site(SiteConfig c) {
    complete_config(c, {"events", "blog"});
    const Site site = assemble_site(std::move(c), std::map<std::string, ParsedSource>{}, {});
    const PublishOptions options{date::sys_days{date::year{2026} / 1 / 1}, std::nullopt};
    for (const auto& feed : site.config.feeds) {
        for (const FeedFormat format : feed.formats) {
            const std::string body = render_document(site, feed, format, FeedView{}, options).body.str();
            switch (format) {
                case FeedFormat::ics: almanac::fuzz::check_ics(body); break;
                case FeedFormat::rss:
                case FeedFormat::atom: almanac::fuzz::check_xml_chars(body, "feed XML has a forbidden character"); break;
                case FeedFormat::json:
                    check(!nlohmann::json::parse(body, nullptr, false).is_discarded(), "JSON feed does not parse",
                          body.substr(0, 400));
                    break;
            }
        }
    }
    const Document index = render_index_document(site, std::nullopt, options);
    almanac::fuzz::check_xml_chars(index.body.str(), "index page has a forbidden character");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // As site_loader does: the config is read as UTF-8 text with LF line ends, or refused.
    const auto normalized = normalize_text(almanac::fuzz::as_text(data, size), "almanac.yaml");
    if (!normalized.ok) return 0;
    const std::string_view text = normalized.text;
    const std::string path = "almanac.yaml";
    const std::string base_dir = "/srv/site";

    const std::string_view first_line = text.substr(0, text.find('\n'));
    (void)listen_address_problem(first_line);
    (void)is_known_time_zone(first_line);
    if (const auto seconds = parse_duration_seconds(first_line)) check(*seconds >= 0, "negative duration", first_line);

    const ConfigLoadResult result = parse_config(text, path, base_dir);
    for (const auto& d : result.diagnostics) {
        check(d.path == path, "diagnostic names another file", d.path);
        check(d.line >= 0 && d.column >= 0 && !d.message.empty(), "diagnostic without position or message", d.message);
        almanac::fuzz::check_utf8(d.message, "diagnostic is not UTF-8");
    }
    check(result.config.has_value() == !has_errors(result.diagnostics), "config given despite errors, or withheld without");
    if (!result.config) return 0;
    check_loaded(*result.config, path, base_dir);
    render_empty_site(*result.config);
    return 0;
}
