#include "config/config_loader.hpp"
#include "feeds/text.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace almanac {
namespace {

const std::string base_dir = "/srv/site";

ConfigLoadResult load(std::string_view yaml) { return parse_config(yaml, "almanac.yaml", base_dir); }

std::vector<Diagnostic> errors_of(const ConfigLoadResult& r) {
    std::vector<Diagnostic> out;
    std::copy_if(r.diagnostics.begin(), r.diagnostics.end(), std::back_inserter(out),
                 [](const Diagnostic& d) { return d.severity == Severity::error; });
    return out;
}

std::string dump(const Diagnostics& ds) {
    std::string out;
    for (const auto& d : ds) out += format_text(d) + "\n";
    return out;
}

// Loads `yaml`, expecting no diagnostics at all, and returns the config.
SiteConfig load_clean(std::string_view yaml) {
    const auto r = load(yaml);
    EXPECT_TRUE(r.diagnostics.empty()) << dump(r.diagnostics);
    return r.config.value_or(SiteConfig{});
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(ConfigLoader, ReferenceConfigLoadsWithItsValues) {
    const std::string dir = std::string(ALMANAC_SOURCE_DIR) + "/examples";
    const std::string text = read_file(dir + "/almanac.yaml");
    ASSERT_FALSE(text.empty());
    const auto r = parse_config(text, "almanac.yaml", dir);
    ASSERT_TRUE(r.diagnostics.empty()) << dump(r.diagnostics);
    ASSERT_TRUE(r.config);
    const SiteConfig& c = *r.config;

    EXPECT_EQ(c.path, "almanac.yaml");
    EXPECT_EQ(c.base_dir, dir);
    EXPECT_EQ(c.site.title, "TODO Group");
    EXPECT_EQ(c.site.base_url, "https://todogroup.org/");
    EXPECT_EQ(c.site.timezone, "America/Los_Angeles");
    EXPECT_EQ(c.site.language, "en");
    EXPECT_EQ(c.site.author, "TODO Group");
    EXPECT_EQ(c.site.id_date, "2026");  // the default: ids are tag:todogroup.org,2026:…
    EXPECT_EQ(c.site.ids, EntryIds::tag);

    EXPECT_EQ(c.content.dir, dir + "/content");
    EXPECT_TRUE(c.content.sections_given);
    EXPECT_FALSE(c.content.unsafe_html);
    struct ExpectedSection {
        std::string name;
        SectionType type;
        std::string permalink;
        std::vector<std::string> include;
    };
    const std::vector<ExpectedSection> sections = {
        {"events", SectionType::event, "/community/events/:slug/", {}},
        {"meetups", SectionType::event, "/community/meetups/:slug/", {}},
        {"blog", SectionType::post, "/blog/:slug/", {}},
        {"newsletter", SectionType::post, "https://github.com/todogroup/ospology/blob/main/newsletter/:filename", {"\?\?\?\?-\?\?-\?\?.md"}},
        {"pages", SectionType::page, "/:section/:slug/", {}},
    };
    ASSERT_EQ(c.content.sections.size(), sections.size());
    for (std::size_t i = 0; i < sections.size(); ++i) {
        SCOPED_TRACE(sections[i].name);
        EXPECT_EQ(c.content.sections[i].name, sections[i].name);
        EXPECT_EQ(c.content.sections[i].type, sections[i].type);
        EXPECT_EQ(c.content.sections[i].permalink, sections[i].permalink);
        EXPECT_EQ(c.content.sections[i].include, sections[i].include);
        EXPECT_TRUE(c.content.sections[i].exclude.empty());
    }

    using F = FeedFormat;
    struct ExpectedFeed {
        std::string name;
        std::string title;
        std::vector<std::string> sections;
        std::vector<FeedFormat> formats;
        std::optional<int> limit;
    };
    const std::vector<ExpectedFeed> feeds = {
        {"events", "TODO Group events and meetups", {"events", "meetups"}, {F::ics, F::rss, F::atom, F::json}, {}},
        {"meetups", "OSPO local meetups", {"meetups"}, {F::ics, F::rss, F::atom}, {}},
        {"newsletter", "OSPO Newsletter", {"newsletter"}, {F::rss, F::atom, F::json}, 20},
        {"blog", "TODO Group blog", {"blog"}, {F::rss, F::atom, F::json}, 30},
    };
    EXPECT_TRUE(c.feeds_given);
    ASSERT_EQ(c.feeds.size(), feeds.size());
    for (std::size_t i = 0; i < feeds.size(); ++i) {
        SCOPED_TRACE(feeds[i].name);
        EXPECT_EQ(c.feeds[i].name, feeds[i].name);
        EXPECT_EQ(c.feeds[i].title, feeds[i].title);
        EXPECT_EQ(c.feeds[i].sections, feeds[i].sections);
        EXPECT_EQ(c.feeds[i].formats, feeds[i].formats);
        EXPECT_EQ(c.feeds[i].limit, feeds[i].limit);
        EXPECT_FALSE(c.feeds[i].window.past_days);
        EXPECT_FALSE(c.feeds[i].window.future_days);
    }

    EXPECT_EQ(c.timezones.prerender, (std::vector<std::string>{"UTC", "America/Los_Angeles", "Europe/Stockholm",
                                                               "Asia/Tokyo", "Asia/Shanghai"}));
    EXPECT_TRUE(c.timezones.allow_any);
    EXPECT_EQ(c.server.listen, std::vector<std::string>{"127.0.0.1:8080"});
    EXPECT_EQ(c.log.level, "info");
}

TEST(ConfigLoader, EmptyDocumentsGiveDefaults) {
    for (std::string_view yaml : {"", "\n", "# only a comment\n", "~\n", "---\n", "site:\nserver: ~\n"}) {
        SCOPED_TRACE(yaml);
        const SiteConfig c = load_clean(yaml);
        EXPECT_EQ(c.path, "almanac.yaml");
        EXPECT_EQ(c.base_dir, base_dir);
        EXPECT_EQ(c.content.dir, "/srv/site/content");
        EXPECT_EQ(c.site.title, "almanac");
        EXPECT_EQ(c.site.base_url, "http://127.0.0.1:8080/");
        EXPECT_FALSE(c.content.sections_given);
        EXPECT_FALSE(c.feeds_given);
        EXPECT_EQ(c.server.listen, std::vector<std::string>{"127.0.0.1:8080"});
        EXPECT_EQ(c.server.refresh_interval_seconds, 3600);
        EXPECT_TRUE(c.server.sendfile);
    }
}

TEST(ConfigLoader, EntryIds) {
    const SiteConfig c = load_clean("site:\n  id_date: 2019-04\n  ids: permalink\n");
    EXPECT_EQ(c.site.id_date, "2019-04");
    EXPECT_EQ(c.site.ids, EntryIds::permalink);
    EXPECT_EQ(load_clean("site:\n  id_date: 2024-02-29\n").site.id_date, "2024-02-29");
}

TEST(ConfigLoader, DefaultConfig) {
    const SiteConfig c = default_config("/srv/site/");
    EXPECT_EQ(c.base_dir, "/srv/site/");
    EXPECT_EQ(c.content.dir, "/srv/site/content");
    EXPECT_TRUE(c.path.empty());
    EXPECT_EQ(c.site.timezone, "UTC");
    EXPECT_FALSE(c.feeds_given);
}

TEST(ConfigLoader, ContentDirResolvesAgainstTheConfigFolder) {
    const struct {
        std::string base;
        std::string dir;
        std::string expected;
    } cases[] = {
        {"/srv/site", "content", "/srv/site/content"},
        {"/srv/site/", "content/", "/srv/site/content"},
        {"/srv/site/", "", "/srv/site/content"},  // no content.dir: the default, "content"
        {"/srv/site", "./a/./b/", "/srv/site/a/b"},
        {"/srv/site", "../common/content", "/srv/common/content"},
        {"/srv/site", ".", "/srv/site"},
        {"/srv/site", "/var/lib/almanac/content", "/var/lib/almanac/content"},
        {"/srv/site", "/var//lib/../content/", "/var/content"},
        {"site", "content", "site/content"},
        {"", "content", "content"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.base + " + " + c.dir);
        const std::string yaml = c.dir.empty() ? "" : "content:\n  dir: \"" + c.dir + "\"\n";
        const auto r = parse_config(yaml, "almanac.yaml", c.base);
        ASSERT_TRUE(r.config) << dump(r.diagnostics);
        EXPECT_EQ(r.config->content.dir, c.expected);
    }
}

// One broken key each: the single error's position and message.
TEST(ConfigLoader, ErrorsNameTheKeyPathLineAndColumn) {
    const struct {
        std::string yaml;
        int line;
        int column;
        std::string message;
    } cases[] = {
        // Structure and types.
        {"site:\n  title: [a, b]\n", 2, 10, "site.title: expected a string, got a list"},
        {"site:\n  author: {name: x}\n", 2, 11, "site.author: expected a string, got a map"},
        {"site: [a]\n", 1, 7, "site: expected a map, got a list"},
        {"- a\n- b\n", 1, 1, "expected a map (site:, content:, feeds:, …), got a list"},
        {"just text\n", 1, 1, "expected a map (site:, content:, feeds:, …), got 'just text'"},
        {"sever:\n  listen: []\n", 1, 1,
         "sever: unknown key (expected one of: site, content, feeds, timezones, server, log)"},
        {"site:\n  title: a\n  title: b\n", 3, 3, "site.title: duplicate key (first at line 2)"},
        {"site:\n  ? [a]\n  : b\n", 2, 5, "site: expected a string key, got a list"},
        {"site: {}\n---\nlog: {}\n", 3, 1, "expected one YAML document, found 2"},
        {"site: [a, b\nlog: x\n", 2, 4, "YAML syntax error: end of sequence flow not found"},
        {"site: *nope\n", 1, 7, "YAML syntax error: the referenced anchor is not defined"},
        {"site:\n  title: a\n   base_url: x\n", 3, 12, "YAML syntax error: illegal map value"},
        // site
        {"site:\n  base_url: todogroup.org\n", 2, 13,
         "site.base_url: expected an absolute http:// or https:// URL, got 'todogroup.org'"},
        {"site:\n  base_url: ftp://example.org/\n", 2, 13, "site.base_url: expected an absolute http:// or https://"},
        {"site:\n  base_url: https:///path\n", 2, 13, "site.base_url: expected an absolute http:// or https://"},
        {"site:\n  base_url: https://example.org/?x=1\n", 2, 13,
         "site.base_url: expected a URL without query or fragment"},
        {"site:\n  id_date: 2026-02-30\n", 2, 12, "site.id_date: expected a date 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD', got '2026-02-30'"},
        {"site:\n  id_date: 26\n", 2, 12, "site.id_date: expected a date 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD'"},
        {"site:\n  id_date: 2026-1\n", 2, 12, "site.id_date: expected a date"},
        {"site:\n  ids: uid\n", 2, 8, "site.ids: expected tag or permalink"},
        {"site:\n  timezone: Europe/Pariss\n", 2, 13, "site.timezone: unknown time zone 'Europe/Pariss'"},
        {"site:\n  timezone: localtime\n", 2, 13, "site.timezone: unknown time zone 'localtime'"},
        {"site:\n  language: en_US\n", 2, 13,
         "site.language: expected a language tag like 'en' or 'pt-BR', got 'en_US'"},
        {"site:\n  language: e\n", 2, 13, "site.language: expected a language tag"},
        // content
        {"content:\n  dir: \"\"\n", 2, 8, "content.dir: expected a non-empty string, got ''"},
        {"content:\n  unsafe_html: yes\n", 2, 16, "content.unsafe_html: expected true or false, got 'yes'"},
        {"content:\n  sections: [blog]\n", 2, 13, "content.sections: expected a map, got a list"},
        {"content:\n  sections:\n    blog:\n      tyep: post\n", 4, 7,
         "content.sections.blog.tyep: unknown key (expected one of: type, include, exclude, permalink)"},
        {"content:\n  sections:\n    blog: {type: article}\n", 3, 18,
         "content.sections.blog.type: expected event, post or page, got 'article'"},
        {"content:\n  sections:\n    .git: {}\n", 3, 5,
         "content.sections..git: expected a folder name (not empty, no '/', not starting with '.'), got '.git'"},
        {"content:\n  sections:\n    a/b: {}\n", 3, 5, "content.sections.a/b: expected a folder name"},
        {"content:\n  sections:\n    blog: {include: [\"/abs/*.md\"]}\n", 3, 22,
         "content.sections.blog.include[0]: globs are relative to the section folder, got '/abs/*.md'"},
        {"content:\n  sections:\n    blog: {exclude: [\"drafts/../../x\"]}\n", 3, 22,
         "content.sections.blog.exclude[0]: a glob cannot leave the section folder ('..')"},
        {"content:\n  sections:\n    blog: {include: [\"\"]}\n", 3, 22,
         "content.sections.blog.include[0]: expected a non-empty glob"},
        {"content:\n  sections:\n    blog: {include: \"*.md\"}\n", 3, 21,
         "content.sections.blog.include: expected a list of globs, got '*.md'"},
        {"content:\n  sections:\n    blog: {permalink: \"/blog/:slugg/\"}\n", 3, 23,
         "content.sections.blog.permalink: unknown placeholder ':slugg' (expected one of: :slug, :filename, "
         ":section, :year, :month, :day)"},
        {"content:\n  sections:\n    blog: {permalink: \"blog/:slug/\"}\n", 3, 23,
         "content.sections.blog.permalink: expected a path starting with '/' or an http(s):// URL"},
        {"content:\n  sections:\n    blog: {permalink: \"//cdn.example/:slug/\"}\n", 3, 23,
         "content.sections.blog.permalink: expected a path starting with '/'"},
        {"content:\n  sections:\n    blog: {permalink: \"/blog/\"}\n", 3, 23,
         "content.sections.blog.permalink: needs :slug or :filename"},
        {"content:\n  sections:\n    blog: {permalink: \"/blog/:year/ :slug\"}\n", 3, 23,
         "content.sections.blog.permalink: must not contain spaces"},
        {"content:\n  shortcodes:\n    button: \"<a>{{ .Params.link }}</a>\"\n", 3, 13,
         "content.shortcodes.button: invalid template: line 1, column 4: unsupported action '.Params.link'"},
        {"content:\n  shortcodes:\n    card: |\n      <div>\n      {{ with .Get \"x\" }}\n      </div>\n", 3, 11,
         "content.shortcodes.card: invalid template: line 2, column 1: '{{ with }}' without its '{{ end }}'"},
        {"content:\n  shortcodes:\n    \"a b\": x\n", 3, 5,
         "content.shortcodes.a b: invalid shortcode name 'a b' (letters, digits, '_', '-', '.', '/')"},
        {"content:\n  shortcodes:\n    btn: [x]\n", 3, 10, "content.shortcodes.btn: expected a template (a string), got a list"},
        {"content:\n  shortcodes: [btn]\n", 2, 15, "content.shortcodes: expected a map, got a list"},
        // feeds
        {"feeds: {name: blog}\n", 1, 8, "feeds: expected a list of feeds, got a map"},
        {"feeds:\n  - events\n", 2, 5, "feeds[0]: expected a feed (a map with name, sections, …), got 'events'"},
        {"feeds:\n  - sections: [blog]\n", 2, 5, "feeds[0]: missing required key 'name'"},
        {"feeds:\n  - name: blog\n", 2, 5, "feeds[0]: missing required key 'sections'"},
        {"feeds:\n  - {name: blog, sections: []}\n", 2, 28, "feeds[0].sections: expected at least one section"},
        {"feeds:\n  - {name: My Feed, sections: [blog]}\n", 2, 12,
         "feeds[0].name: expected a name of lowercase letters, digits, '_' and '-'"},
        {"feeds:\n  - {name: metrics, sections: [blog]}\n", 2, 12,
         "feeds[0].name: 'metrics' is reserved for the server's own paths (tz, healthz, metrics, index)"},
        {"feeds:\n  - {name: index, sections: [blog]}\n", 2, 12, "feeds[0].name: 'index' is reserved"},
        {"feeds:\n  - {name: blog, sections: [blog]}\n  - {name: blog, sections: [news]}\n", 3, 12,
         "feeds[1].name: duplicate feed name 'blog' (first at line 2)"},
        {"content:\n  sections:\n    events: {type: event}\n"
         "feeds:\n  - name: all\n    sections: [events, evnts]\n",
         6, 24, "feeds[0].sections[1]: unknown section 'evnts' (configured: events)"},
        {"feeds:\n  - name: all\n    sections: [blog]\ncontent:\n  sections:\n    events: {type: event}\n", 3, 16,
         "feeds[0].sections[0]: unknown section 'blog'"},
        {"feeds:\n  - {name: all, sections: [blog, blog]}\n", 2, 34, "feeds[0].sections[1]: duplicate section 'blog'"},
        {"content:\n  sections:\n    about: {type: page}\nfeeds:\n  - {name: about, sections: [about]}\n", 5, 30,
         "feeds[0].sections[0]: section 'about' holds pages, and pages feed nothing"},
        {"feeds:\n  - {name: blog, sections: [blog], formats: [ics, rss]}\n", 2, 46,
         "feeds[0].formats[0]: ics needs an event section"},
        {"content:\n  sections:\n    news: {type: post}\n"
         "feeds:\n  - {name: news, sections: [news], formats: [rss, ics]}\n",
         5, 51, "feeds[0].formats[1]: ics needs an event section"},
        {"feeds:\n  - {name: blog, sections: [blog], formats: [rss, rss]}\n", 2, 51,
         "feeds[0].formats[1]: duplicate format 'rss'"},
        {"feeds:\n  - {name: blog, sections: [blog], formats: [pdf]}\n", 2, 46,
         "feeds[0].formats[0]: expected ics, rss, atom or json, got 'pdf'"},
        {"feeds:\n  - {name: blog, sections: [blog], formats: []}\n", 2, 45,
         "feeds[0].formats: expected at least one of ics, rss, atom, json"},
        {"feeds:\n  - {name: a, sections: [blog]}\n  - {name: b, sections: [blog], limit: ten}\n", 3, 40,
         "feeds[1].limit: expected an integer ≥ 1, got 'ten'"},
        {"feeds:\n  - {name: a, sections: [blog], limit: 0}\n", 2, 40,
         "feeds[0].limit: expected an integer ≥ 1, got '0'"},
        {"feeds:\n  - {name: a, sections: [blog], limit: 12abc}\n", 2, 40, "feeds[0].limit: expected an integer ≥ 1"},
        {"feeds:\n  - {name: a, sections: [blog], limit: 0x10}\n", 2, 40, "feeds[0].limit: expected an integer ≥ 1"},
        {"feeds:\n  - {name: a, sections: [blog], limit: 99999999999}\n", 2, 40,
         "feeds[0].limit: expected an integer ≥ 1"},
        {"feeds:\n  - {name: a, sections: [blog], limit: 2.5}\n", 2, 40, "feeds[0].limit: expected an integer ≥ 1"},
        {"feeds:\n  - name: a\n    sections: [blog]\n    window: {past_days: -1}\n", 4, 25,
         "feeds[0].window.past_days: expected an integer ≥ 0, got '-1'"},
        {"feeds:\n  - name: a\n    sections: [blog]\n    window: {past: 3}\n", 4, 14,
         "feeds[0].window.past: unknown key (expected one of: past_days, future_days)"},
        {"feeds:\n  - name: a\n    sections: [blog]\n    tags: [a, \"\"]\n", 4, 15,
         "feeds[0].tags[1]: expected a non-empty string"},
        {"feeds:\n  - name: a\n    sections: [blog]\n    kinds: meetup\n", 4, 12,
         "feeds[0].kinds: expected a list of strings, got 'meetup'"},
        // timezones
        {"timezones:\n  prerender: [UTC, Mars/Olympus]\n", 2, 20,
         "timezones.prerender[1]: unknown time zone 'Mars/Olympus'"},
        {"timezones:\n  prerender: UTC\n", 2, 14, "timezones.prerender: expected a list of time zone names, got 'UTC'"},
        {"timezones:\n  allow_any: 1\n", 2, 14, "timezones.allow_any: expected true or false, got '1'"},
        // server
        {"server:\n  listen: [\"8080\"]\n", 2, 12, "server.listen[0]: expected ADDR:PORT, got '8080'"},
        {"server:\n  listen: [\"127.0.0.1:8080\", \"127.0.0.1:0\"]\n", 2, 30,
         "server.listen[1]: expected a port from 1 to 65535, got '127.0.0.1:0'"},
        {"server:\n  listen: [\"::1:8080\"]\n", 2, 12, "server.listen[0]: an IPv6 address needs brackets"},
        {"server:\n  listen: [\"[::1]:8080\", \"[::1]:8080\"]\n", 2, 26,
         "server.listen[1]: duplicate address '[::1]:8080'"},
        {"server:\n  listen: []\n", 2, 11, "server.listen: expected at least one ADDR:PORT"},
        {"server:\n  listen: 127.0.0.1:8080\n", 2, 11,
         "server.listen: expected a list of ADDR:PORT, got '127.0.0.1:8080'"},
        {"server:\n  cache_max_age: 0\n", 2, 18, "server.cache_max_age: expected a duration > 0, got '0'"},
        {"server:\n  cache_max_age: soon\n", 2, 18,
         "server.cache_max_age: expected a duration (seconds, or like 30s, 5m, 1h, 1d, PT1H), got 'soon'"},
        {"server:\n  refresh_interval: 30s\n", 2, 21,
         "server.refresh_interval: expected a duration of at least 60 seconds, got '30s'"},
        {"server:\n  access_log: on\n", 2, 15, "server.access_log: expected true or false, got 'on'"},
        {"server:\n  sendfile: maybe\n", 2, 13, "server.sendfile: expected true or false, got 'maybe'"},
        {"server:\n  limits:\n    max_header_bytes: 100\n", 3, 23,
         "server.limits.max_header_bytes: expected an integer from 1024 to 1048576, got '100'"},
        {"server:\n  limits:\n    max_connections: 0\n", 3, 22,
         "server.limits.max_connections: expected an integer from 1 to 1000000, got '0'"},
        {"server:\n  limits:\n    max_cached_zones: -1\n", 3, 23,
         "server.limits.max_cached_zones: expected an integer from 0 to 100000"},
        {"server:\n  limits:\n    header_timeout: 0s\n", 3, 21,
         "server.limits.header_timeout: expected a duration > 0"},
        {"server:\n  limits:\n    idle: 5\n", 3, 5,
         "server.limits.idle: unknown key (expected one of: max_header_bytes,"},
        // log
        {"log:\n  level: verbose\n", 2, 10,
         "log.level: expected trace, debug, info, warn, error or off, got 'verbose'"},
        {"log:\n  format: xml\n", 2, 11, "log.format: expected text, journal or json, got 'xml'"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.yaml);
        const auto r = load(c.yaml);
        EXPECT_FALSE(r.config);
        const auto errors = errors_of(r);
        ASSERT_EQ(errors.size(), 1u) << dump(r.diagnostics);
        EXPECT_EQ(errors[0].path, "almanac.yaml");
        EXPECT_EQ(errors[0].line, c.line) << errors[0].message;
        EXPECT_EQ(errors[0].column, c.column) << errors[0].message;
        EXPECT_EQ(errors[0].message.substr(0, c.message.size()), c.message);
    }
}

TEST(ConfigLoader, ReportsEveryErrorInLineOrder) {
    const auto r = load(
        "log: {level: loud}\n"
        "site:\n"
        "  timezone: Nowhere/City\n"
        "  colour: blue\n"
        "server:\n"
        "  listen: [\"80\", \"[::1]:99999\"]\n");
    EXPECT_FALSE(r.config);
    const std::vector<std::pair<int, std::string>> expected = {
        {1, "log.level: "},
        {3, "site.timezone: "},
        {4, "site.colour: "},
        {6, "server.listen[0]: "},
        {6, "server.listen[1]: "},
    };
    ASSERT_EQ(r.diagnostics.size(), expected.size()) << dump(r.diagnostics);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(r.diagnostics[i].line, expected[i].first);
        EXPECT_TRUE(r.diagnostics[i].message.starts_with(expected[i].second)) << r.diagnostics[i].message;
    }
}

TEST(ConfigLoader, Shortcodes) {
    const SiteConfig c = load_clean(
        "content:\n"
        "  shortcodes:\n"
        "    button: '<a href=\"{{ .Get \"link\" }}\">{{ .Get \"text\" }}</a>'\n"
        "    wg-card: |\n"
        "      ### {{ .Get \"title\" }}\n"
        "      {{ with .Get \"url\" }}[site]({{ . }}){{ end }}\n");
    ASSERT_EQ(c.content.shortcodes.size(), 2u);
    EXPECT_EQ(c.content.shortcodes[0].name, "button");
    EXPECT_EQ(c.content.shortcodes[1].name, "wg-card");
    EXPECT_EQ(c.content.shortcodes[1].source, "### {{ .Get \"title\" }}\n{{ with .Get \"url\" }}[site]({{ . }}){{ end }}\n");
    ASSERT_TRUE(c.content.shortcodes[0].parsed);
    EXPECT_EQ(render_shortcode(*c.content.shortcodes[0].parsed, {{"link", "/x"}, {"text", "X"}}, ""),
              "<a href=\"/x\">X</a>");
}

TEST(ConfigLoader, ValuesAndNormalization) {
    const SiteConfig c = load_clean(
        "site:\n"
        "  base_url: https://example.org/calendar\n"
        "  timezone: US/Eastern\n"
        "  language: pt-BR\n"
        "content:\n"
        "  unsafe_html: true\n"
        "  sections:\n"
        "    zeta: {type: event, permalink: \"https://example.org:8443/:section/:year/:month/:day/:slug/\"}\n"
        "    alpha:\n"
        "      include: [\"**/*.md\", \"*.yaml\"]\n"
        "      exclude: [\"drafts/**\"]\n"
        "    events:\n"
        "    notes: {}\n"
        "timezones:\n"
        "  prerender: [Etc/UTC, UTC, Europe/Dublin]\n"
        "  allow_any: false\n"
        "server:\n"
        "  listen: [\"[::1]:8080\", \"localhost:9000\", \"0.0.0.0:80\"]\n"
        "  cache_max_age: 5m\n"
        "  refresh_interval: PT1H30M\n"
        "  access_log: true\n"
        "  sendfile: false\n"
        "  limits: {max_header_bytes: 8192, header_timeout: 5, idle_timeout: \"2m\", max_connections: 50,"
        " max_cached_zones: 0}\n"
        "log: {level: debug, format: journal}\n");
    EXPECT_EQ(c.site.base_url, "https://example.org/calendar/");
    EXPECT_EQ(c.site.timezone, "US/Eastern");
    EXPECT_EQ(c.site.language, "pt-BR");
    EXPECT_TRUE(c.content.unsafe_html);
    // Map order is file order, and untyped sections get the type their folder name implies.
    ASSERT_EQ(c.content.sections.size(), 4u);
    EXPECT_EQ(c.content.sections[0].name, "zeta");
    EXPECT_EQ(c.content.sections[0].type, SectionType::event);
    EXPECT_EQ(c.content.sections[0].permalink, "https://example.org:8443/:section/:year/:month/:day/:slug/");
    EXPECT_EQ(c.content.sections[1].name, "alpha");
    EXPECT_EQ(c.content.sections[1].type, SectionType::post);
    EXPECT_EQ(c.content.sections[1].permalink, "/:section/:slug/");
    EXPECT_EQ(c.content.sections[1].include, (std::vector<std::string>{"**/*.md", "*.yaml"}));
    EXPECT_EQ(c.content.sections[1].exclude, std::vector<std::string>{"drafts/**"});
    EXPECT_EQ(c.content.sections[2].name, "events");
    EXPECT_EQ(c.content.sections[2].type, SectionType::event);
    EXPECT_EQ(c.content.sections[3].name, "notes");
    EXPECT_EQ(c.content.sections[3].type, SectionType::post);
    EXPECT_EQ(c.timezones.prerender, (std::vector<std::string>{"Etc/UTC", "UTC", "Europe/Dublin"}));
    EXPECT_FALSE(c.timezones.allow_any);
    EXPECT_EQ(c.server.listen, (std::vector<std::string>{"[::1]:8080", "localhost:9000", "0.0.0.0:80"}));
    EXPECT_EQ(c.server.cache_max_age_seconds, 300);
    EXPECT_EQ(c.server.refresh_interval_seconds, 5400);
    EXPECT_TRUE(c.server.access_log);
    EXPECT_FALSE(c.server.sendfile);
    EXPECT_EQ(c.server.limits.max_header_bytes, 8192);
    EXPECT_EQ(c.server.limits.header_timeout_seconds, 5);
    EXPECT_EQ(c.server.limits.idle_timeout_seconds, 120);
    EXPECT_EQ(c.server.limits.max_connections, 50);
    EXPECT_EQ(c.server.limits.max_cached_zones, 0);
    EXPECT_EQ(c.log.level, "debug");
    EXPECT_EQ(c.log.format, "journal");
}

TEST(ConfigLoader, NullValuesKeepDefaults) {
    const SiteConfig c = load_clean(
        "site:\n  title:\n  timezone: ~\ncontent:\n  sections:\nfeeds:\nserver:\n  listen:\n  limits:\n");
    EXPECT_EQ(c.site.title, "almanac");
    EXPECT_EQ(c.site.timezone, "UTC");
    EXPECT_FALSE(c.content.sections_given);
    EXPECT_FALSE(c.feeds_given);
    EXPECT_EQ(c.server.listen, std::vector<std::string>{"127.0.0.1:8080"});
    EXPECT_EQ(c.server.limits.max_connections, 10000);
}

TEST(ConfigLoader, FeedDefaults) {
    const struct {
        std::string yaml;
        std::vector<FeedFormat> formats;
    } cases[] = {
        // Configured sections: the configured type decides.
        {"content:\n  sections:\n    talks: {type: event}\n    blog: {type: post}\n"
         "feeds:\n  - {name: f, sections: [talks]}\n",
         {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}},
        {"content:\n  sections:\n    talks: {type: event}\n    blog: {type: post}\n"
         "feeds:\n  - {name: f, sections: [blog, talks]}\n",
         {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}},
        {"content:\n  sections:\n    talks: {type: event}\n    blog: {type: post}\n"
         "feeds:\n  - {name: f, sections: [blog]}\n",
         {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}},
        // Detected sections: the folder name decides, as it will when the site is built.
        {"feeds:\n  - {name: f, sections: [meetups]}\n",
         {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json}},
        {"feeds:\n  - {name: f, sections: [news]}\n", {FeedFormat::rss, FeedFormat::atom, FeedFormat::json}},
        {"feeds:\n  - {name: f, sections: [events], formats: [json, ics]}\n", {FeedFormat::json, FeedFormat::ics}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.yaml);
        const SiteConfig config = load_clean(c.yaml);
        ASSERT_EQ(config.feeds.size(), 1u);
        EXPECT_EQ(config.feeds[0].formats, c.formats);
    }
}

TEST(ConfigLoader, FeedTitleDefaultsToSiteTitleWhereverSiteIs) {
    const SiteConfig c = load_clean(
        "feeds:\n"
        "  - name: blog\n"
        "    sections: [blog]\n"
        "    tags: [oss, ospo]\n"
        "    kinds: [meetup]\n"
        "    window: {past_days: 0, future_days: 365}\n"
        "  - {name: news, title: Newsletter, description: Monthly, sections: [news]}\n"
        "site:\n"
        "  title: Example\n");
    ASSERT_EQ(c.feeds.size(), 2u);
    EXPECT_TRUE(c.feeds_given);
    EXPECT_EQ(c.feeds[0].title, "Example — blog");
    EXPECT_EQ(c.feeds[0].tags, (std::vector<std::string>{"oss", "ospo"}));
    EXPECT_EQ(c.feeds[0].kinds, std::vector<std::string>{"meetup"});
    EXPECT_EQ(c.feeds[0].window.past_days, 0);
    EXPECT_EQ(c.feeds[0].window.future_days, 365);
    EXPECT_EQ(c.feeds[1].title, "Newsletter");
    EXPECT_EQ(c.feeds[1].description, "Monthly");
}

TEST(ConfigLoader, WarningsKeepTheConfig) {
    const struct {
        std::string yaml;
        int line;
        std::string message;
    } cases[] = {
        {"timezones:\n  prerender: [UTC, Asia/Tokyo, UTC]\n", 2,
         "timezones.prerender[2]: duplicate time zone 'UTC' ignored"},
        {"feeds: []\n", 1, "feeds: no feeds"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.yaml);
        const auto r = load(c.yaml);
        ASSERT_TRUE(r.config) << dump(r.diagnostics);
        ASSERT_EQ(r.diagnostics.size(), 1u);
        EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
        EXPECT_EQ(r.diagnostics[0].line, c.line);
        EXPECT_TRUE(r.diagnostics[0].message.starts_with(c.message)) << r.diagnostics[0].message;
    }
    const auto zones = load(cases[0].yaml);
    EXPECT_EQ(zones.config->timezones.prerender, (std::vector<std::string>{"UTC", "Asia/Tokyo"}));
    const auto feeds = load(cases[1].yaml);
    EXPECT_TRUE(feeds.config->feeds_given);
    EXPECT_TRUE(feeds.config->feeds.empty());
}

TEST(ConfigLoader, ParseDuration) {
    const struct {
        std::string_view text;
        std::optional<int> seconds;
    } cases[] = {
        {"3600", 3600},
        {"0", 0},
        {"30s", 30},
        {"5m", 300},
        {"1h", 3600},
        {"1d", 86400},
        {"1w", 604800},
        {"1h30m", 5400},
        {"1d12h", 129600},
        {"PT1H", 3600},
        {"PT90S", 90},
        {"PT1H30M", 5400},
        {"P1D", 86400},
        {"P1DT12H", 129600},
        {"P2W", 1209600},
        {"2147483647", INT_MAX},
        {"", {}},
        {"12abc", {}},
        {"1x", {}},
        {"30m1h", {}},
        {"1h1h", {}},
        {"P", {}},
        {"PT", {}},
        {"P1DT", {}},
        {"P1M", {}},
        {"P1Y", {}},
        {"1.5h", {}},
        {"-5", {}},
        {"h", {}},
        {"1H", {}},
        {"pt1h", {}},
        {"2147483648", {}},
        {"99999999999", {}},
        {"9999999999d", {}},
        {"100000w", {}},
        {" 5m", {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(parse_duration_seconds(c.text), c.seconds);
    }
}

TEST(ConfigLoader, ListenAddresses) {
    for (std::string_view ok : {"127.0.0.1:8080", "[::1]:8080", "localhost:8080", "0.0.0.0:1", "[::]:65535",
                                "[fe80::1%eth0]:80", "example.org:443", "my-host.local:8080"}) {
        SCOPED_TRACE(ok);
        EXPECT_EQ(listen_address_problem(ok), std::nullopt);
    }
    for (std::string_view bad : {"8080", ":8080", "::1:8080", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http",
                                 "127.0.0.1:", "999.1.1.1:80", "[::1]", "[zz]:80", "[]:80", "host name:80",
                                 "-bad:80", "a..b:80", "[fe80::1%]:80", "127.0.0.1:+80", ""}) {
        SCOPED_TRACE(bad);
        EXPECT_NE(listen_address_problem(bad), std::nullopt);
    }
}

TEST(ConfigLoader, TimeZones) {
    for (std::string_view zone : {"UTC", "Etc/UTC", "US/Eastern", "America/Los_Angeles", "Europe/Dublin", "Etc/GMT+5"})
        EXPECT_TRUE(is_known_time_zone(zone)) << zone;
    for (std::string_view zone :
         {"", "Europe/Pariss", "localtime", "posixrules", "../UTC", "/UTC", "right/UTC", "utc "})
        EXPECT_FALSE(is_known_time_zone(zone)) << zone;
}

// Classic "billion laughs": nine levels of nine aliases. yaml-cpp shares aliased nodes, and the
// walker does not descend into values of the wrong type, so this is cheap.
TEST(ConfigLoader, NestedAliasesDoNotExpand) {
    std::string yaml = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i <= 9; ++i) {
        yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int j = 0; j < 9; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
        yaml += "]\n";
    }
    yaml += "timezones:\n  prerender: *a9\n";
    const auto r = load(yaml);
    EXPECT_FALSE(r.config);
    // Ten unknown top-level keys and nine list items that are not zone names.
    EXPECT_EQ(r.diagnostics.size(), 19u) << dump(r.diagnostics);
}

// Aliases multiplied by the schema itself (feeds × tags) would make the walk quadratic in the
// file's size; the node budget stops it with one error.
TEST(ConfigLoader, AliasBlowUpIsBounded) {
    std::string tags = "[";
    for (int i = 0; i < 500; ++i) tags += i ? ", x" : "x";
    tags += "]";
    std::string yaml = "feeds:\n  - &f {name: a, sections: [blog], tags: " + tags + "}\n";
    for (int i = 0; i < 500; ++i) yaml += "  - *f\n";
    const auto r = load(yaml);
    EXPECT_FALSE(r.config);
    const auto too_large = std::count_if(r.diagnostics.begin(), r.diagnostics.end(), [](const Diagnostic& d) {
        return d.message.starts_with("config too large: more than 100000 YAML nodes");
    });
    EXPECT_EQ(too_large, 1);
    // The other errors are duplicate feed names, one per feed visited before the budget ran out.
    EXPECT_LT(r.diagnostics.size(), 500u);
}

TEST(ConfigLoader, DeepNestingIsAnErrorNotACrash) {
    std::string block = "site:\n";
    for (int i = 1; i <= 3000; ++i) block += std::string(2 * i, ' ') + "a:\n";
    for (const std::string& yaml : {std::string(10000, '['), std::string(10000, '{'), "site: " + std::string(5000, '['),
                                    block}) {
        SCOPED_TRACE(yaml.substr(0, 20));
        const auto r = load(yaml);
        EXPECT_FALSE(r.config);
        ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
        EXPECT_EQ(r.diagnostics[0].message, "YAML syntax error: nested too deeply");
    }
    // Nesting the parser accepts is not walked: one error for the unexpected list.
    const auto r = load("site:\n  title: " + std::string(100, '[') + std::string(100, ']') + "\n");
    ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(r.diagnostics[0].message, "site.title: expected a string, got a list");
}

// Found by fuzz_config: yaml-cpp 0.7's LoadAll looped for ever, allocating, on a lone ',' (it kept
// reporting one more empty document without reading on).
TEST(ConfigLoader, StuckParserIsASyntaxErrorNotAHang) {
    for (const std::string yaml : {",", ",\n", "site: {}\n---\n,\n", "- a\n,"}) {
        SCOPED_TRACE(yaml);
        const auto r = load(yaml);
        EXPECT_FALSE(r.config);
        ASSERT_FALSE(r.diagnostics.empty());
        EXPECT_EQ(r.diagnostics.back().message, "YAML syntax error: unexpected ','") << dump(r.diagnostics);
    }
    // Several real documents are still counted, at the second one's root.
    const auto r = load("site: {}\n---\nlog: {}\n---\n");
    ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(r.diagnostics[0].message, "expected one YAML document, found 3");
    EXPECT_EQ(r.diagnostics[0].line, 3);
}

// Found by fuzz_config: a NUL among the first bytes made yaml-cpp read the file as UTF-16, and the
// messages quoting its values were not UTF-8. YAML allows no control characters but tab and breaks.
TEST(ConfigLoader, ControlCharactersAreRefused) {
    struct Case {
        std::string yaml;
        int line;
        int column;
        const char* message;
    };
    const Case cases[] = {
        {std::string("\0\xEF\xBB\xBF", 4), 1, 1, "YAML syntax error: control character U+0000 is not allowed"},
        {std::string("a\0b: c", 6), 1, 2, "YAML syntax error: control character U+0000 is not allowed"},
        {"site:\n  title: \xC3\xA9t\x01\n", 2, 12, "YAML syntax error: control character U+0001 is not allowed"},
        {"site:\n  title: x\x7f\n", 2, 11, "YAML syntax error: control character U+007F is not allowed"},
    };
    for (const auto& c : cases) {
        const auto r = load(c.yaml);
        EXPECT_FALSE(r.config);
        ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
        EXPECT_EQ(r.diagnostics[0].message, c.message);
        EXPECT_EQ(r.diagnostics[0].line, c.line) << c.message;
        EXPECT_EQ(r.diagnostics[0].column, c.column) << c.message;
    }
    // Tabs, CR and LF are fine.
    EXPECT_TRUE(load("site:\r\n  title: \"a\tb\"\r\n").config);
}

// Found by fuzz_content (the same yaml-cpp message in front matter): an escape before a multi-byte
// character is reported with only the character's first byte, which is not UTF-8 on its own.
TEST(ConfigLoader, YamlMessagesAreUtf8) {
    const auto r = load("site:\n  title: \"\\\xC3\xBC\"\n");
    ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(r.diagnostics[0].message, "YAML syntax error: unknown escape character: \xEF\xBF\xBD");
    EXPECT_EQ(find_invalid_utf8(r.diagnostics[0].message), std::string_view::npos);
}

// Found by fuzz_config: yaml-cpp 0.7 decodes the YAML escapes \_ and \N (U+00A0, U+0085) to the
// single bytes 0xA0 and 0x85, so a title "a\_b" reached every feed (and the ics NAME) as invalid UTF-8.
TEST(ConfigLoader, YamlEscapesGiveUtf8) {
    const SiteConfig c = load_clean("site:\n  title: \"a\\_b\\Nc\\Ld\"\n");
    EXPECT_EQ(c.site.title,
              "a\xC2\xA0"
              "b\xC2\x85"
              "c\xE2\x80\xA8"
              "d");
    const auto r = load("site:\n  \"ti\\_tle\": x\n");
    ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r.diagnostics);
    EXPECT_EQ(find_invalid_utf8(r.diagnostics[0].message), std::string_view::npos) << r.diagnostics[0].message;
}

// Mutations of the reference config: never a crash, and a config exactly when there is no error.
TEST(ConfigLoader, MutatedConfigsNeverCrash) {
    const std::string original = read_file(std::string(ALMANAC_SOURCE_DIR) + "/examples/almanac.yaml");
    ASSERT_FALSE(original.empty());
    const std::string alphabet = ":-[]{}&*!|>'\"#%@ \n\t,?0a\xff";
    std::uint32_t state = 12345;
    const auto next = [&state] {
        state = state * 1664525u + 1013904223u;
        return state >> 8;
    };
    for (int i = 0; i < 400; ++i) {
        std::string text = original;
        for (int edits = 1 + static_cast<int>(next() % 4); edits > 0; --edits) {
            const std::size_t at = next() % text.size();
            switch (next() % 3) {
                case 0: text[at] = alphabet[next() % alphabet.size()]; break;
                case 1: text.insert(at, 1, alphabet[next() % alphabet.size()]); break;
                default: text.erase(at, 1 + next() % 8); break;
            }
        }
        const auto r = parse_config(text, "almanac.yaml", "/srv/site");
        EXPECT_EQ(r.config.has_value(), !has_errors(r.diagnostics)) << text;
    }
}

}  // namespace
}  // namespace almanac
