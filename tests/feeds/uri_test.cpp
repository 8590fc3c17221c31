#include "feeds/uri.hpp"

#include <gtest/gtest.h>

#include "feeds/content.hpp"
#include "feeds/render.hpp"
#include "feeds/site.hpp"

namespace almanac {
namespace {

TEST(ToAsciiUri, Table) {
    struct Case {
        const char* iri;
        const char* uri;
    };
    const Case cases[] = {
        {"https://例え.jp/パス?q=ü", "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%BC"},
        {"https://Bücher.example/", "https://xn--bcher-kva.example/"},
        {"https://例え.jp", "https://xn--r8jz45g.jp"},
        {"https://例え.jp:8443/x#frag-é", "https://xn--r8jz45g.jp:8443/x#frag-%C3%A9"},
        {"https://user:pässword@例え.jp/", "https://user:p%C3%A4ssword@xn--r8jz45g.jp/"},
        {"https://example.org/a b", "https://example.org/a%20b"},
        {"https://example.org/{x}|<y>^`\\\"", "https://example.org/%7Bx%7D%7C%3Cy%3E%5E%60%5C%22"},
        {"mailto:anne@example.org?subject=Grüße", "mailto:anne@example.org?subject=Gr%C3%BC%C3%9Fe"},
        // ASCII URIs come back as they are: escapes kept, case kept, nothing encoded twice.
        {"https://example.org/caf%C3%A9?q=a%20b&r=1#x", "https://example.org/caf%C3%A9?q=a%20b&r=1#x"},
        {"https://EXAMPLE.org/Path", "https://EXAMPLE.org/Path"},
        {"https://xn--r8jz45g.jp/", "https://xn--r8jz45g.jp/"},
        {"https://[2001:db8::1]:8080/ü", "https://[2001:db8::1]:8080/%C3%BC"},
        {"https://meet.example.com/j/123?pwd=abc", "https://meet.example.com/j/123?pwd=abc"},
    };
    for (const auto& c : cases) {
        const auto uri = to_ascii_uri(c.iri);
        ASSERT_TRUE(uri) << c.iri << ": " << uri.error();
        EXPECT_EQ(*uri, c.uri) << c.iri;
        const auto again = to_ascii_uri(*uri);
        ASSERT_TRUE(again);
        EXPECT_EQ(*again, *uri) << "not idempotent: " << c.iri;
    }
}

TEST(ToAsciiUri, Errors) {
    struct Case {
        const char* iri;
        const char* message;
    };
    const Case cases[] = {
        {"https://例え..jp/", "is not a valid domain name"},
        {"https://☃\u200d.example/", "is not a valid domain name"},
        {"https:///path", "no host after '//'"},
        {"https://例え.jp:80a/", "port '80a' is not a number"},
        {"https://[::1/", "'[' without ']'"},
        {"https://example.org/100%", "is not a percent-escape"},
        {"https://example.org/%zz", "'%zz' is not a percent-escape"},
    };
    for (const auto& c : cases) {
        const auto uri = to_ascii_uri(c.iri);
        ASSERT_FALSE(uri) << c.iri << " gave " << *uri;
        EXPECT_NE(uri.error().find(c.message), std::string::npos) << c.iri << ": " << uri.error();
    }
}

SiteConfig test_config() {
    SiteConfig c;
    c.site.title = "Test site";
    c.site.base_url = "https://example.org/";
    c.site.timezone = "Europe/Berlin";
    c.content.sections = {{"events", SectionType::event, {}, {}, "/events/:slug/"},
                          {"blog", SectionType::post, {}, {}, "/blog/:slug/"}};
    c.content.sections_given = true;
    const std::vector<FeedFormat> all = {FeedFormat::ics, FeedFormat::rss, FeedFormat::atom, FeedFormat::json};
    c.feeds = {{"events", "Events", "", {"events"}, all, {}, {}, std::nullopt, {}},
               {"blog", "Blog", "", {"blog"}, all, {}, {}, std::nullopt, {}}};
    c.feeds_given = true;
    return c;
}

ParsedSource parse(const SiteConfig& config, const std::string& path, const std::string& text) {
    const auto section = path.substr(0, path.find('/'));
    return parse_source(SourceFile{path, "content/" + path, text}, *find_section(config, section), config);
}

TEST(ItemUrls, ReadAsAsciiUris) {
    const auto config = test_config();
    const auto r = parse(config, "events/a.md",
                         "---\ntitle: A\nstart: 2025-03-29T10:00\nend: 2025-03-29T11:00\nurl: https://例え.jp/パス?q=ü\nonline: /ライブ\n---\n");
    ASSERT_EQ(r.items.size(), 1u);
    EXPECT_TRUE(r.diagnostics.empty());
    EXPECT_EQ(r.items[0].event->url, "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%BC");
    EXPECT_EQ(r.items[0].event->online, "https://example.org/%E3%83%A9%E3%82%A4%E3%83%96");
    const auto post = parse(config, "blog/b.md", "---\ntitle: B\ndate: 2025-03-01\nurl: /ブログ/b/\n---\n");
    ASSERT_EQ(post.items.size(), 1u);
    EXPECT_EQ(post.items[0].permalink, "https://example.org/%E3%83%96%E3%83%AD%E3%82%B0/b/");
    // A slug Hugo keeps in Unicode (from the title) is encoded in the permalink too.
    const auto cafe = parse(config, "blog/c.md", "---\ntitle: C\nslug: Café\ndate: 2025-03-01\n---\n");
    ASSERT_EQ(cafe.items.size(), 1u);
    EXPECT_EQ(cafe.items[0].permalink, "https://example.org/blog/caf%C3%A9/");
}

TEST(ItemUrls, InvalidUrlIsAnErrorAtItsLine) {
    const auto config = test_config();
    const auto r = parse(config, "events/a.md",
                         "---\ntitle: A\nstart: 2025-03-29T10:00\nend: 2025-03-29T11:00\nurl: https://x.org/%zz\n"
                         "online: https://例え..jp/\n---\n");
    ASSERT_EQ(r.diagnostics.size(), 2u);
    EXPECT_EQ(r.diagnostics[0].path, "content/events/a.md");
    EXPECT_EQ(r.diagnostics[0].line, 5);
    EXPECT_EQ(r.diagnostics[0].severity, Severity::error);
    EXPECT_NE(r.diagnostics[0].message.find("'%zz' is not a percent-escape"), std::string::npos) << r.diagnostics[0].message;
    EXPECT_EQ(r.diagnostics[1].line, 6);
    EXPECT_NE(r.diagnostics[1].message.find("host '例え..jp' is not a valid domain name"), std::string::npos)
        << r.diagnostics[1].message;
    const auto post = parse(config, "blog/b.md", "---\ntitle: B\ndate: 2025-03-01\nurl: https://例え..jp/b/\n---\n");
    ASSERT_EQ(post.diagnostics.size(), 1u) << post.diagnostics.size();
    EXPECT_EQ(post.diagnostics[0].line, 4);
    EXPECT_NE(post.diagnostics[0].message.find("empty label"), std::string::npos) << post.diagnostics[0].message;
}

TEST(ItemUrls, EveryFormatCarriesTheAsciiUri) {
    auto config = test_config();
    std::map<std::string, ParsedSource> parsed;
    parsed["events/a.md"] = parse(config, "events/a.md",
                                  "---\ntitle: A\nstart: 2025-03-29T10:00\nend: 2025-03-29T11:00\nurl: https://例え.jp/パス?q=ü\n"
                                  "online: https://例え.jp/live\n---\n");
    const auto site = assemble_site(std::move(config), parsed, {});
    for (const auto& format : output_formats()) {
        RenderRequest request;
        request.site = &site;
        request.feed = &site.config.feeds.front();
        for (const auto& item : site.items) request.items.push_back(&item);
        request.self_url = "https://example.org/events." + std::string(format.extension);
        request.updated = date::sys_days{date::year{2025} / 1 / 1};
        const auto text = format.render(request).str();
        EXPECT_NE(text.find("https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%BC"), std::string::npos)
            << format.extension << "\n"
            << text;
        EXPECT_NE(text.find("https://xn--r8jz45g.jp/live"), std::string::npos) << format.extension << "\n"
                                                                               << text;
        EXPECT_EQ(text.find("例え"), std::string::npos) << format.extension << "\n"
                                                        << text;
    }
}

}  // namespace
}  // namespace almanac
