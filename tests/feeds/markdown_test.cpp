// Tests for feeds/markdown.cpp: HTML and plain text from cmark-gfm, sanitizing, URL resolution
// (RFC 3986 §5.4's examples), titles, summaries and Hugo shortcodes on the corpus pages.
#include "feeds/markdown.hpp"
#include "feeds/text.hpp"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace almanac {
namespace {

const std::string page_url = "https://example.org/blog/post/";

RenderedMarkdown render(std::string_view md, bool unsafe_html = false, bool take_title = false) {
    MarkdownOptions options;
    options.unsafe_html = unsafe_html;
    options.page_url = page_url;
    options.take_title = take_title;
    return render_markdown(md, options, "content/test.md", 1);
}

struct ContentFile {
    std::string body;
    int first_line = 1;  // file line of the body's first line
};

// Reads a page of the repository (the example site, a fixture) and splits off its YAML front matter.
ContentFile read_page(const std::string& relative) {
    std::ifstream in(std::string(ALMANAC_SOURCE_DIR) + "/" + relative, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    ContentFile f;
    f.body = ss.str();
    if (f.body.starts_with("---\n")) {
        const std::size_t end = f.body.find("\n---\n", 3) + 5;
        for (std::size_t i = 0; i < end; ++i)
            if (f.body[i] == '\n') ++f.first_line;
        f.body.erase(0, end);
    }
    return f;
}

// Names parameterized cases after their `name` field.
template <class Case>
std::string case_name(const ::testing::TestParamInfo<Case>& param_info) {
    return param_info.param.name;
}

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// HTML

struct HtmlCase {
    const char* name;
    const char* markdown;
    bool unsafe_html;
    const char* html;
};

class HtmlTest : public ::testing::TestWithParam<HtmlCase> {};

TEST_P(HtmlTest, Renders) {
    const HtmlCase& c = GetParam();
    EXPECT_EQ(render(c.markdown, c.unsafe_html).html, c.html);
}

INSTANTIATE_TEST_SUITE_P(
    Markdown, HtmlTest,
    ::testing::Values(
        HtmlCase{"paragraph", "Hello *world*", false, "<p>Hello <em>world</em></p>\n"},
        HtmlCase{"quotes_kept", "\"quoted\" and 'single'", false, "<p>&quot;quoted&quot; and 'single'</p>\n"},
        HtmlCase{"gfm_table", "| a | b |\n|---|:-:|\n| 1 | 2 |\n", false,
                 "<table>\n<thead>\n<tr>\n<th>a</th>\n<th align=\"center\">b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
                 "<td>1</td>\n<td align=\"center\">2</td>\n</tr>\n</tbody>\n</table>\n"},
        HtmlCase{"autolink_url", "see https://example.com/x", false,
                 "<p>see <a href=\"https://example.com/x\">https://example.com/x</a></p>\n"},
        HtmlCase{"autolink_www", "www.example.com", false,
                 "<p><a href=\"http://www.example.com\">www.example.com</a></p>\n"},
        HtmlCase{"autolink_email", "mail me@example.com", false,
                 "<p>mail <a href=\"mailto:me@example.com\">me@example.com</a></p>\n"},
        HtmlCase{"strikethrough", "~~gone~~ here", false, "<p><del>gone</del> here</p>\n"},
        HtmlCase{"raw_html_block_loses_its_event_attribute", "<div onclick=\"x()\">\n\ntext\n\n</div>\n", false,
                 "<div>\n<p>text</p>\n</div>\n"},
        HtmlCase{"raw_script_removed_formatting_kept", "a <b>bold</b> <script>alert(1)</script> b", false,
                 "<p>a <b>bold</b>  b</p>\n"},
        HtmlCase{"raw_inline_html_kept", "a\n\n<span>x</span> <br>\n\nb", false,
                 "<p>a</p>\n<p><span>x</span> <br /></p>\n<p>b</p>\n"},
        HtmlCase{"paragraph_left_empty_removed", "a\n\n<span onclick=\"x\"><script>y</script></span>\n\nb", false,
                 "<p>a</p>\n<p>b</p>\n"},
        HtmlCase{"raw_html_kept_when_unsafe", "a <b>bold</b>\n\n<div>x</div>\n", true,
                 "<p>a <b>bold</b></p>\n<div>x</div>\n"},
        HtmlCase{"script_kept_when_unsafe", "<script>x</script>\n", true, "<script>x</script>\n"},
        HtmlCase{"javascript_link_removed", "[click](javascript:alert(1)) me", false, "<p>click me</p>\n"},
        HtmlCase{"javascript_link_case_and_entities", "[a](JaVaScRiPt:x) [b](&#106;avascript:x)", false,
                 "<p>a b</p>\n"},
        HtmlCase{"vbscript_file_data_links_removed", "[a](vbscript:x) [b](file:///etc/passwd) [c](data:text/html,x)",
                 false, "<p>a b c</p>\n"},
        HtmlCase{"javascript_image_becomes_alt", "![the alt](javascript:x)", false, "<p>the alt</p>\n"},
        HtmlCase{"data_image_png_removed", "![i](data:image/png;base64,AAAA)", false, "<p>i</p>\n"},
        HtmlCase{"data_image_svg_removed", "![i](data:image/svg+xml;base64,AAAA)", false, "<p>i</p>\n"},
        HtmlCase{"raw_image_kept_and_made_absolute", "<img src=\"../img/a.png\" width=\"360\" onerror=\"x()\" />\n",
                 false, "<img src=\"https://example.org/blog/img/a.png\" width=\"360\" />\n"},
        HtmlCase{"raw_iframe_becomes_a_link", "<iframe src=\"https://docs.example/embed\"></iframe>\n", false,
                 "<a href=\"https://docs.example/embed\">https://docs.example/embed</a>\n"},
        HtmlCase{"unsafe_raw_urls_made_absolute", "<img src=\"img/a.png\">\n\n<a href=\"/x\" onclick=\"f()\">x</a>\n",
                 true,
                 "<img src=\"https://example.org/blog/post/img/a.png\" />\n"
                 "<p><a href=\"https://example.org/x\" onclick=\"f()\">x</a></p>\n"},
        HtmlCase{"unsafe_iframe_kept", "<iframe src=\"/embed/1\" allowfullscreen></iframe>\n", true,
                 "<iframe src=\"https://example.org/embed/1\" allowfullscreen=\"\"></iframe>\n"},
        HtmlCase{"raw_html_across_blocks_well_formed", "<div>\n\n*a*\n\n<b>unclosed\n", false,
                 "<div>\n<p><em>a</em></p>\n<p><b>unclosed</b></p><b>\n</b></div>"},
        HtmlCase{"javascript_kept_when_unsafe", "[a](javascript:x)", true, "<p><a href=\"javascript:x\">a</a></p>\n"},
        HtmlCase{"relative_link", "[a](other/page)", false,
                 "<p><a href=\"https://example.org/blog/post/other/page\">a</a></p>\n"},
        HtmlCase{"relative_image", "![pic](img/p.png \"T\")", false,
                 "<p><img src=\"https://example.org/blog/post/img/p.png\" alt=\"pic\" title=\"T\" /></p>\n"},
        HtmlCase{"parent_link", "[up](../x)", false, "<p><a href=\"https://example.org/blog/x\">up</a></p>\n"},
        HtmlCase{"root_link", "[r](/about/)", false, "<p><a href=\"https://example.org/about/\">r</a></p>\n"},
        HtmlCase{"fragment_link", "[f](#part)", false,
                 "<p><a href=\"https://example.org/blog/post/#part\">f</a></p>\n"},
        HtmlCase{"reference_link", "[a][r]\n\n[r]: ../y", false, "<p><a href=\"https://example.org/blog/y\">a</a></p>\n"},
        HtmlCase{"mailto_unchanged", "[m](mailto:a@b.c)", false, "<p><a href=\"mailto:a@b.c\">m</a></p>\n"},
        HtmlCase{"absolute_unchanged", "[x](https://other.org/a/../b)", false,
                 "<p><a href=\"https://other.org/a/../b\">x</a></p>\n"}),
    case_name<HtmlCase>);

// ---------------------------------------------------------------------------------------------
// Plain text

struct TextCase {
    const char* name;
    const char* markdown;
    const char* text;
};

class TextTest : public ::testing::TestWithParam<TextCase> {};

TEST_P(TextTest, Renders) {
    const TextCase& c = GetParam();
    EXPECT_EQ(render(c.markdown).text, c.text);
}

INSTANTIATE_TEST_SUITE_P(
    Markdown, TextTest,
    ::testing::Values(
        TextCase{"paragraphs", "one\ntwo\n\n\n\nthree  ", "one two\n\nthree"},
        TextCase{"emphasis_and_escapes", "**bold** _it_ \\*not\\* ~~del~~ `co*de`", "bold it *not* del co*de"},
        TextCase{"headings", "# Title\n\n## Sub #\n\nText", "Title\n\nSub\n\nText"},
        TextCase{"setext_heading", "Title\n=====\ntext", "Title\n\ntext"},
        TextCase{"bullet_list", "* a\n* b\n\nafter", "- a\n- b\n\nafter"},
        TextCase{"ordered_list", "3. x\n4. y", "3. x\n4. y"},
        TextCase{"nested_list", "- a\n  - b\n    more\n- c", "- a\n  - b more\n- c"},
        TextCase{"loose_list", "- a\n\n- b", "- a\n\n- b"},
        TextCase{"list_in_list_item_first", "- - x", "- - x"},
        TextCase{"link_label_and_url", "see [the site](https://x.org/)", "see the site (https://x.org/)"},
        TextCase{"relative_link_resolved", "[a](p.html)", "a (https://example.org/blog/post/p.html)"},
        TextCase{"autolink_once", "<https://x.org/> and https://y.org/ and www.z.org", "https://x.org/ and https://y.org/ and www.z.org"},
        TextCase{"email_once", "<a@b.org>", "a@b.org"},
        TextCase{"image_alt", "![a *cat*](cat.png)", "a cat"},
        TextCase{"code_block", "```c\nint x;\n\nint y;\n```\nafter", "int x;\n\nint y;\n\nafter"},
        TextCase{"block_quote", "> quoted\n> more\n>\n> second", "> quoted more\n>\n> second"},
        TextCase{"nested_quote_and_list", "> q:\n> - a\n> - b\n>\n> > inner", "> q:\n>\n> - a\n> - b\n>\n> > inner"},
        TextCase{"loose_item_paragraphs", "1. a\n\n   more\n2. b", "1. a\n\n   more\n\n2. b"},
        TextCase{"empty_item_keeps_marker", "-\n- x", "-\n- x"},
        TextCase{"empty_label_shows_url", "[](https://x.org/)", "https://x.org/"},
        TextCase{"image_inside_link", "[![badge](b.svg)](https://ci.example/)", "badge (https://ci.example/)"},
        TextCase{"table", "| a | b |\n|---|---|\n| 1 | **2** |\n| 3 | |", "a | b\n1 | 2\n3 |"},
        TextCase{"thematic_break", "a\n\n***\n\nb", "a\n\n---\n\nb"},
        TextCase{"raw_html_as_text", "x <b>y</b>\n\n<div>\nz\n</div>", "x y\n\nz"},
        TextCase{"hard_break", "a  \nb", "a\nb"},
        TextCase{"soft_break_is_a_space", "No meetup in August or\nDecember.", "No meetup in August or December."},
        TextCase{"raw_image_alt_and_link",
                 "Join <a href=\"/rsvp\" style=\"x\">us</a>:\n\n<img src=\"a.png\" alt=\"the team\"/><br/>after",
                 "Join us (https://example.org/rsvp):\n\nthe team\nafter"},
        TextCase{"raw_table",
                 "<table>\n  <tr>\n    <td><img src=\"c.png\" alt=\"china\"/><br/>\n      <a href=\"https://c.example/\">China "
                 "RSVP</a></td>\n    <td>Japan</td>\n  </tr>\n</table>\n\nNext",
                 "china\nChina RSVP (https://c.example/) | Japan\n\nNext"},
        TextCase{"entities", "&amp; &copy; &#35;", "& © #"}),
    case_name<TextCase>);

TEST(MarkdownText, HasNoMarkdownSyntaxLeft) {
    const std::string text = render("# Head\n\n**b** __c__ *d* \\# \\[x\\]\n\n## Sub").text;
    EXPECT_EQ(text, "Head\n\nb c d # [x]\n\nSub");
}

// ---------------------------------------------------------------------------------------------
// Title and summary

TEST(MarkdownTitle, TakesTheFirstLevelOneHeading) {
    const auto r = render("Intro\n\n## Not this\n\n# The *Title*\n\nBody\n\n# Second", false, true);
    EXPECT_EQ(r.title, "The Title");
    EXPECT_FALSE(contains(r.html, "<h1>The"));
    EXPECT_TRUE(contains(r.html, "<h1>Second</h1>"));
    EXPECT_EQ(r.text, "Intro\n\nNot this\n\nBody\n\nSecond");
}

TEST(MarkdownTitle, LeftAloneWithoutTakeTitle) {
    const auto r = render("# Title\n\nBody");
    EXPECT_EQ(r.title, "");
    EXPECT_EQ(r.html, "<h1>Title</h1>\n<p>Body</p>\n");
}

TEST(MarkdownTitle, EmptyWhenThereIsNone) {
    const auto r = render("## Sub\n\nBody", false, true);
    EXPECT_EQ(r.title, "");
    EXPECT_EQ(r.text, "Sub\n\nBody");
}

TEST(MarkdownSummary, FirstParagraphSkippingHeadings) {
    const auto r = render("# Head\n\n![only an image](x.png)\n\nFirst  *para*\nwith [a link](https://x.org).\n\nSecond.");
    EXPECT_EQ(r.summary, "First para with a link.");
}

TEST(MarkdownSummary, CutAtAWordBoundary) {
    std::string words;
    while (words.size() < 400) words += "lorem ipsum ";
    const auto r = render(words);
    ASSERT_TRUE(r.summary.ends_with("…"));
    const std::string cut = r.summary.substr(0, r.summary.size() - std::string("…").size());
    EXPECT_LE(cut.size(), 300u);
    EXPECT_GT(cut.size(), 290u);
    EXPECT_TRUE(cut.ends_with("lorem") || cut.ends_with("ipsum")) << cut;
}

TEST(MarkdownSummary, CountsCharactersNotBytes) {
    std::string text;
    for (int i = 0; i < 150; ++i) text += "éé ";  // 450 characters, 750 bytes
    const auto r = render(text);
    ASSERT_TRUE(r.summary.ends_with("…"));
    EXPECT_EQ(r.summary, text.substr(0, 100 * 5 - 1) + "…");  // 100 words: 299 characters
}

TEST(MarkdownSummary, ALongWordIsCutHard) {
    const std::string word(400, 'x');
    EXPECT_EQ(render(word).summary, std::string(300, 'x') + "…");
}

TEST(MarkdownSummary, ShortTextIsNotCut) { EXPECT_EQ(render("Short one.").summary, "Short one."); }

// ---------------------------------------------------------------------------------------------
// Shortcodes

TEST(Shortcodes, EventsPageComesOutClean) {
    const ContentFile page = read_page("tests/fixtures/seeds/events-page.md");
    ASSERT_FALSE(page.body.empty());
    const auto r = render(page.body);
    EXPECT_TRUE(contains(r.html, "<h2>OSPOCon</h2>")) << r.html;
    EXPECT_TRUE(contains(r.html, "<h2>OSPOlogy Live Europe</h2>"));
    EXPECT_TRUE(contains(r.html, "<h3>Past Events - Recorded Sessions</h3>"));
    EXPECT_FALSE(contains(r.html, "{{"));
    EXPECT_FALSE(contains(r.html, "}}"));
    EXPECT_FALSE(contains(r.text, "{{"));
    EXPECT_FALSE(contains(r.text, "<"));
    EXPECT_FALSE(contains(r.text, "##"));
    EXPECT_TRUE(contains(r.text, "\nOSPOCon\n"));
    EXPECT_TRUE(contains(r.text, "Europe 2024 (https://events.linuxfoundation.org/open-source-summit-europe/)"));
    EXPECT_TRUE(r.summary.starts_with("TODO Group collaborates")) << r.summary;
    EXPECT_TRUE(r.diagnostics.empty()) << format_text(r.diagnostics.front());
}

TEST(Shortcodes, UnknownOnesWarnAtTheirFileLine) {
    const ContentFile page = read_page("examples/content/pages/meetings.md");
    ASSERT_EQ(page.first_line, 5);
    const auto r = expand_shortcodes(page.body, "content/pages/meetings.md", page.first_line);
    const std::string wg = "unknown shortcode 'wg-card' removed (its arguments are not rendered)";
    const Diagnostics expected = {
        {"content/pages/meetings.md", 10, 1, Severity::warning, wg},
        {"content/pages/meetings.md", 16, 1, Severity::warning, wg},
        {"content/pages/meetings.md", 23, 1, Severity::warning, wg},
        {"content/pages/meetings.md", 29, 1, Severity::warning, wg},
        {"content/pages/meetings.md", 53, 1, Severity::warning,
         "unknown shortcode 'todo_community_calendar' removed (its arguments are not rendered)"},
    };
    EXPECT_EQ(r.diagnostics, expected);
    EXPECT_FALSE(contains(r.markdown, "{{"));
    EXPECT_FALSE(contains(r.markdown, "gh_url"));
    EXPECT_EQ(std::count(r.markdown.begin(), r.markdown.end(), '\n'),
              std::count(page.body.begin(), page.body.end(), '\n'));
}

ShortcodeDefinitions site_shortcodes(std::initializer_list<std::pair<const char*, const char*>> templates) {
    ShortcodeDefinitions defs;
    for (const auto& [name, source] : templates) {
        auto parsed = parse_shortcode_template(source);
        EXPECT_TRUE(parsed) << name << ": " << parsed.error();
        if (parsed) defs.push_back({name, source, std::move(parsed).value()});
    }
    return defs;
}

RenderedMarkdown render_with(std::string_view md, ShortcodeDefinitions defs) {
    MarkdownOptions options;
    options.page_url = page_url;
    options.shortcodes = std::move(defs);
    return render_markdown(md, options, "content/test.md", 1);
}

TEST(SiteShortcodes, RenderTheirTemplateThroughTheSanitizer) {
    const auto defs = site_shortcodes({
        {"button", "<a href=\"{{ .Get \"link\" }}\" class=\"btn\" onclick=\"x()\">{{ .Get \"text\" }}</a>"},
        {"img", "<img src=\"{{ .Get \"src\" }}\"{{ with .Get \"alt\" }} alt=\"{{ . }}\"{{ end }} />"},
    });
    const auto r = render_with("Intro\n\n{{< button link=\"/join\" text=\"Join us\" >}}\n\n{{< img src=\"/i.png\" >}}\n", defs);
    EXPECT_EQ(r.html,
              "<p>Intro</p>\n<p><a href=\"https://example.org/join\">Join us</a></p>\n"
              "<img src=\"https://example.org/i.png\" />\n");
    EXPECT_EQ(r.text, "Intro\n\nJoin us (https://example.org/join)");
    EXPECT_TRUE(r.diagnostics.empty()) << format_text(r.diagnostics.front());
}

TEST(SiteShortcodes, InnerHoldsTheContentWithItsShortcodesExpanded) {
    const auto defs = site_shortcodes({
        {"card", "<div class=\"card\">\n\n{{ .Inner }}\n\n</div>"},
        {"button", "[{{ .Get 0 }}]({{ .Get 1 }})"},
        {"hidden", "nothing"},
    });
    const auto r = render_with(
        "{{< card >}}\n## Title\n{{< button \"Go\" \"/go\" >}}\n{{< /card >}}\n\n"
        "{{< hidden >}}secret {{< mystery >}}{{< /hidden >}}\n",
        defs);
    EXPECT_EQ(r.html, "<div>\n<h2>Title</h2>\n<p><a href=\"https://example.org/go\">Go</a></p>\n</div>\n<p>nothing</p>\n");
    // The unused content is gone; its unknown shortcode still warns, at its line and column.
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].line, 6);
    EXPECT_EQ(r.diagnostics[0].column, 22);
}

TEST(SiteShortcodes, OverrideBuiltInOnesAndLeaveUnknownOnesWarning) {
    const auto defs = site_shortcodes({{"youtube", "[{{ .Get 0 }}](https://v.example/{{ .Get 0 }})"}});
    const auto r = render_with("{{< youtube abc >}} {{< unknown x >}}\n{{< later >}}", defs);
    EXPECT_EQ(r.html, "<p><a href=\"https://v.example/abc\">abc</a></p>\n");
    ASSERT_EQ(r.diagnostics.size(), 2u);
    EXPECT_EQ(r.diagnostics[0].message, "unknown shortcode 'unknown' removed (its arguments are not rendered)");
    EXPECT_EQ(r.diagnostics[1].line, 2);
}

TEST(SiteShortcodes, LaterLinesKeepTheirNumbers) {
    const auto defs = site_shortcodes({{"one", "x"}});
    const auto r = expand_shortcodes("{{< one\n a=1\n b=2 >}}\n{{< two >}}", "f.md", 10, defs);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].line, 13);
}

TEST(SiteShortcodes, InnerWrittenTwiceCannotExplode) {
    const auto defs = site_shortcodes({{"twice", "{{ .Inner }}{{ .Inner }}"}});
    std::string body;
    for (int i = 0; i < 40; ++i) body += "{{< twice >}}";
    body += std::string(1000, 'x');
    for (int i = 0; i < 40; ++i) body += "{{< /twice >}}";
    const auto r = expand_shortcodes(body, "f.md", 1, defs);
    EXPECT_LT(r.markdown.size(), 16'000'000u);
    EXPECT_FALSE(r.diagnostics.empty());
}

TEST(Shortcodes, KeepLinesInPlace) {
    const std::string body = "a\n{{< x\n  k=\"v\"\n>}}\n## H\n{{< y />}}\nb\n";
    const auto r = expand_shortcodes(body, "f.md", 1);
    EXPECT_EQ(r.markdown, "a\n\n\n\n## H\n\nb\n");
    ASSERT_EQ(r.diagnostics.size(), 2u);
    EXPECT_EQ(r.diagnostics[0].line, 2);
    EXPECT_EQ(r.diagnostics[1].line, 6);
}

TEST(Shortcodes, ColumnCountsCharacters) {
    const auto r = expand_shortcodes("line\nÄö {{< mystery >}}", "f.md", 7);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].line, 8);
    EXPECT_EQ(r.diagnostics[0].column, 4);
    EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
    EXPECT_EQ(r.markdown, "line\nÄö ");
}

struct ExpandCase {
    const char* name;
    const char* body;
    const char* markdown;
    int warnings;
};

class ExpandTest : public ::testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandTest, Expands) {
    const ExpandCase& c = GetParam();
    const auto r = expand_shortcodes(c.body, "f.md", 1);
    EXPECT_EQ(r.markdown, c.markdown);
    EXPECT_EQ(static_cast<int>(r.diagnostics.size()), c.warnings);
}

INSTANTIATE_TEST_SUITE_P(
    Markdown, ExpandTest,
    ::testing::Values(
        ExpandCase{"no_shortcodes", "plain {{ not }} {x}", "plain {{ not }} {x}", 0},
        ExpandCase{"escape_angle", "use {{</* figure src=\"a\" */>}} here", "use {{< figure src=\"a\" >}} here", 0},
        ExpandCase{"escape_percent", "{{%/* note */%}}", "{{% note %}}", 0},
        ExpandCase{"unknown_paired_kept", "{{< note >}}\n**Inner** text\n{{< /note >}}\n", "\n**Inner** text\n\n", 0},
        ExpandCase{"percent_paired_kept", "{{% aside %}}x{{% /aside %}}", "x", 0},
        ExpandCase{"nested_pairs", "{{< a >}}\n{{< b >}}\nx\n{{< /b >}}\n{{< /a >}}", "\n\nx\n\n", 0},
        ExpandCase{"spacer_dropped", "a\n{{< spacer >}}\nb", "a\n\nb", 0},
        ExpandCase{"self_closing_spacer", "a {{< spacer />}} b", "a  b", 0},
        ExpandCase{"param_dropped", "v{{< param \"x\" >}}.", "v.", 0},
        ExpandCase{"unknown_self_closing", "a {{< widget k=1 />}} b", "a  b", 1},
        ExpandCase{"stray_closing", "a {{< /widget >}} b", "a  b", 1},
        ExpandCase{"quoted_gt_inside", "{{< figure src=\"a.png\" alt=\"x >}} y\" >}}", "![x \\>\\}\\} y](<a.png>)", 0},
        ExpandCase{"figure_full", "{{< figure src=\"/i.png\" alt=\"A\" caption=\"Cap\" link=\"https://x.org\" >}}",
                   "[![A](</i.png>)](<https://x.org>)\\\nCap", 0},
        ExpandCase{"figure_without_src", "{{< figure alt=\"A\" >}}", "", 1},
        ExpandCase{"youtube_positional", "{{< youtube w7Ft2ymGmfc >}}", "<https://www.youtube.com/watch?v=w7Ft2ymGmfc>", 0},
        ExpandCase{"youtube_named_with_title", "{{< youtube id=\"abc\" title=\"Talk\" >}}",
                   "[Talk](<https://www.youtube.com/watch?v=abc>)", 0},
        ExpandCase{"youtube_without_id", "{{< youtube >}}", "", 1},
        ExpandCase{"vimeo", "{{< vimeo 146022717 >}}", "<https://vimeo.com/146022717>", 0},
        ExpandCase{"gist", "{{< gist spf13 7896402 >}}", "<https://gist.github.com/spf13/7896402>", 0},
        ExpandCase{"x", "{{< x user=\"SanDiegoZoo\" id=\"1453110110599868418\" >}}",
                   "<https://x.com/SanDiegoZoo/status/1453110110599868418>", 0},
        ExpandCase{"tweet_id_only", "{{< tweet 877500564405444608 >}}", "<https://x.com/i/status/877500564405444608>",
                   0},
        ExpandCase{"qr", "{{< qr text=\"https://gohugo.io\" />}}", "https://gohugo.io", 0},
        ExpandCase{"qr_paired", "{{< qr >}}\nhello\n{{< /qr >}}", "\nhello\n", 0},
        ExpandCase{"ref_in_link", "[About]({{< ref \"about us.md\" >}})", "[About](about%20us.md)", 0},
        ExpandCase{"relref", "[x]({{< relref path=\"/a.md\" >}})", "[x](/a.md)", 0},
        ExpandCase{"highlight", "{{< highlight go \"linenos=table\" >}}\nfunc f() {}\n{{< /highlight >}}",
                   "```go\nfunc f() {}\n```", 0},
        ExpandCase{"highlight_inline_with_backticks", "x {{< highlight >}}a ``` b{{< /highlight >}}",
                   "x \n````\na ``` b\n````\n", 0},
        ExpandCase{"highlight_unpaired", "{{< highlight go >}}", "", 1},
        ExpandCase{"details", "{{< details summary=\"More\" >}}\nhidden\n{{< /details >}}", "\n**More**\n\nhidden\n", 0},
        ExpandCase{"unclosed_left_as_is", "a {{< b >}} c {{< d e=\"x\n\nf", "a  c {{< d e=\"x\n\nf", 2},
        ExpandCase{"unclosed_tag", "text {{< oops", "text {{< oops", 1},
        ExpandCase{"not_a_name", "{{< >}} {{<", "{{< >}} {{<", 1},
        ExpandCase{"truncated_delimiters", "{{", "{{", 0},
        ExpandCase{"indented_tag_alone", "para\n   {{< card >}}\n    code?\n{{< /card >}}", "para\n\n    code?\n", 0}),
    case_name<ExpandCase>);

TEST(Shortcodes, RenderedThroughMarkdown) {
    const auto r = render(
        "Intro\n{{< youtube abc >}}\n\n{{< highlight cpp >}}\nint *p = 0; // <b>\n{{< /highlight >}}\n"
        "{{< details summary=\"Why?\" >}}\nBecause.\n{{< /details >}}\n"
        "{{< figure src=\"img/a.png\" alt=\"A pic\" caption=\"The *caption*\" >}}\n");
    EXPECT_EQ(r.html,
              "<p>Intro\n<a href=\"https://www.youtube.com/watch?v=abc\">https://www.youtube.com/watch?v=abc</a></p>\n"
              "<pre><code class=\"language-cpp\">int *p = 0; // &lt;b&gt;\n</code></pre>\n"
              "<p><strong>Why?</strong></p>\n<p>Because.</p>\n"
              "<p><img src=\"https://example.org/blog/post/img/a.png\" alt=\"A pic\" /><br />\nThe <em>caption</em></p>\n");
    EXPECT_EQ(r.text,
              "Intro https://www.youtube.com/watch?v=abc\n\nint *p = 0; // <b>\n\nWhy?\n\nBecause.\n\nA pic\nThe caption");
}

// ---------------------------------------------------------------------------------------------
// URL resolution: RFC 3986 §5.4

struct UrlCase {
    const char* reference;
    const char* expected;
};

class ResolveUrlTest : public ::testing::TestWithParam<UrlCase> {};

TEST_P(ResolveUrlTest, Rfc3986Examples) {
    EXPECT_EQ(resolve_url("http://a/b/c/d;p?q", GetParam().reference), GetParam().expected)
        << "reference: " << GetParam().reference;
}

INSTANTIATE_TEST_SUITE_P(
    Normal, ResolveUrlTest,
    ::testing::Values(UrlCase{"g:h", "g:h"}, UrlCase{"g", "http://a/b/c/g"}, UrlCase{"./g", "http://a/b/c/g"},
                      UrlCase{"g/", "http://a/b/c/g/"}, UrlCase{"/g", "http://a/g"}, UrlCase{"//g", "http://g"},
                      UrlCase{"?y", "http://a/b/c/d;p?y"}, UrlCase{"g?y", "http://a/b/c/g?y"},
                      UrlCase{"#s", "http://a/b/c/d;p?q#s"}, UrlCase{"g#s", "http://a/b/c/g#s"},
                      UrlCase{"g?y#s", "http://a/b/c/g?y#s"}, UrlCase{";x", "http://a/b/c/;x"},
                      UrlCase{"g;x", "http://a/b/c/g;x"}, UrlCase{"g;x?y#s", "http://a/b/c/g;x?y#s"},
                      UrlCase{"", "http://a/b/c/d;p?q"}, UrlCase{".", "http://a/b/c/"}, UrlCase{"./", "http://a/b/c/"},
                      UrlCase{"..", "http://a/b/"}, UrlCase{"../", "http://a/b/"}, UrlCase{"../g", "http://a/b/g"},
                      UrlCase{"../..", "http://a/"}, UrlCase{"../../", "http://a/"},
                      UrlCase{"../../g", "http://a/g"}));

INSTANTIATE_TEST_SUITE_P(
    Abnormal, ResolveUrlTest,
    ::testing::Values(UrlCase{"../../../g", "http://a/g"}, UrlCase{"../../../../g", "http://a/g"},
                      UrlCase{"/./g", "http://a/g"}, UrlCase{"/../g", "http://a/g"}, UrlCase{"g.", "http://a/b/c/g."},
                      UrlCase{".g", "http://a/b/c/.g"}, UrlCase{"g..", "http://a/b/c/g.."},
                      UrlCase{"..g", "http://a/b/c/..g"}, UrlCase{"./../g", "http://a/b/g"},
                      UrlCase{"./g/.", "http://a/b/c/g/"}, UrlCase{"g/./h", "http://a/b/c/g/h"},
                      UrlCase{"g/../h", "http://a/b/c/h"}, UrlCase{"g;x=1/./y", "http://a/b/c/g;x=1/y"},
                      UrlCase{"g;x=1/../y", "http://a/b/c/y"}, UrlCase{"g?y/./x", "http://a/b/c/g?y/./x"},
                      UrlCase{"g?y/../x", "http://a/b/c/g?y/../x"}, UrlCase{"g#s/./x", "http://a/b/c/g#s/./x"},
                      UrlCase{"g#s/../x", "http://a/b/c/g#s/../x"}, UrlCase{"http:g", "http:g"}));

TEST(ResolveUrl, OtherBases) {
    EXPECT_EQ(resolve_url("https://example.org/blog/post/", "../x"), "https://example.org/blog/x");
    EXPECT_EQ(resolve_url("https://example.org/blog/post/", "//cdn.example.org/a.png"), "https://cdn.example.org/a.png");
    EXPECT_EQ(resolve_url("https://example.org", "a/b"), "https://example.org/a/b");
    EXPECT_EQ(resolve_url("https://example.org/p", "mailto:x@y.z"), "mailto:x@y.z");
    EXPECT_EQ(resolve_url("https://example.org/p", "tel:+123"), "tel:+123");
    EXPECT_EQ(resolve_url("", "a/../b"), "a/../b");
    EXPECT_EQ(resolve_url("not a base", "x"), "x");
}

// ---------------------------------------------------------------------------------------------
// Robustness

TEST(MarkdownRobustness, InvalidUtf8BecomesReplacementCharacters) {
    static constexpr char raw[] = "bad \xff\xfe byte\0nul";
    const auto r = render(std::string_view(raw, sizeof raw - 1));
    EXPECT_TRUE(contains(r.html, "\xEF\xBF\xBD")) << r.html;
    EXPECT_FALSE(contains(r.html, "\xff"));
    EXPECT_FALSE(contains(r.text, "\xff"));
}

// Each alone: a text with only a NUL byte or only a bad byte is checked by cmark too.
TEST(MarkdownRobustness, ANulOrABadByteAloneIsReplaced) {
    static constexpr char nul[] = "caf\xC3\xA9 with a\0nul";
    for (const std::string_view body : {std::string_view(nul, sizeof nul - 1), std::string_view("caf\xC3\xA9 \xC3 cut")}) {
        const auto r = render(body);
        EXPECT_TRUE(contains(r.html, "\xEF\xBF\xBD")) << r.html;
        EXPECT_TRUE(contains(r.html, "caf\xC3\xA9")) << r.html;
        EXPECT_EQ(find_invalid_utf8(r.html), std::string_view::npos) << r.html;
        EXPECT_FALSE(contains(r.html, std::string_view("\0", 1))) << r.html;
    }
}

TEST(MarkdownRobustness, DeepNestingDoesNotOverflowTheStack) {
    // Refused (see NestingDeeperThan100LevelsIsAnErrorAtItsLine) after parsing, which is iterative:
    // neither the parse nor the check may recurse per level.
    const std::string quotes(100'000, '>');
    const std::string lists = [] {
        std::string s;
        for (int i = 0; i < 2000; ++i) s += std::string(static_cast<std::size_t>(i) * 2, ' ') + "- x\n";
        return s;
    }();
    for (const auto& body : {quotes + " deep", lists}) {
        const auto r = render(body);
        ASSERT_EQ(r.diagnostics.size(), 1u);
        EXPECT_EQ(r.diagnostics[0].severity, Severity::error);
        EXPECT_EQ(r.diagnostics[0].message, "Markdown nested deeper than 100 levels (block quotes, lists or emphasis)");
        EXPECT_TRUE(r.html.empty());
        EXPECT_TRUE(r.text.empty());
    }
    EXPECT_EQ(render(quotes + " deep").diagnostics[0].line, 1);
    EXPECT_EQ(render(lists).diagnostics[0].line, 50);  // item 50's text lies in 50 lists, 50 items, a paragraph
    // Lazy continuation lines inside 99 quotes: the text must not repeat 99 prefixes per line.
    std::string lazy = std::string(99, '>') + " x\n";
    for (int i = 0; i < 5000; ++i) lazy += "y\n";
    const auto r = render(lazy);
    EXPECT_TRUE(r.diagnostics.empty());
    EXPECT_FALSE(r.text.empty());
    EXPECT_LT(r.text.size(), 500'000u);
}

TEST(MarkdownRobustness, NestingDeeperThan100LevelsIsAnErrorAtItsLine) {
    // 1 MiB of '>' made 40 MB feeds. The paragraph counts as a level: 99 quotes hold it at 100.
    const auto at = [](std::string_view body) {
        const auto r = render_markdown(body, MarkdownOptions{}, "content/blog/p.md", 10);
        return r.diagnostics.empty() ? 0 : r.diagnostics.front().line;
    };
    EXPECT_EQ(at(std::string(99, '>') + " fine\n"), 0);
    EXPECT_EQ(at("Intro.\n\n" + std::string(100, '>') + " too deep\n"), 12);
    // Emphasis nests too, inside a paragraph and a list item.
    std::string emphasis;
    for (int i = 0; i < 60; ++i) emphasis += "*a _b ";
    for (int i = 0; i < 60; ++i) emphasis += "c_ d*";
    EXPECT_EQ(at("text\n\n- " + emphasis + "\n"), 12);
    // Empty containers (2,500 empty list items) count for nothing and hide no depth that follows.
    std::string empty_items;
    for (int i = 0; i < 2500; ++i) empty_items += "-\n";
    EXPECT_EQ(at(empty_items), 0);
    EXPECT_EQ(at(empty_items + "\n" + std::string(101, '>') + " x\n"), 10 + 2501);
}

TEST(MarkdownRobustness, ManyBrokenShortcodesStayFast) {
    std::string body;
    for (int i = 0; i < 50'000; ++i) body += "{{< a \"";
    const auto r = expand_shortcodes(body, "f.md", 1);
    EXPECT_EQ(r.markdown, body);
    EXPECT_EQ(r.diagnostics.size(), 1u);
    std::string stray;
    for (int i = 0; i < 20'000; ++i) stray += "{{< open >}}";
    for (int i = 0; i < 20'000; ++i) stray += "{{< /other >}}";
    EXPECT_EQ(expand_shortcodes(stray, "f.md", 1).diagnostics.size(), 40'000u);
    std::string nested = std::string(100'000, '`');
    for (int i = 0; i < 10'000; ++i) nested += "{{< highlight >}}";
    for (int i = 0; i < 10'000; ++i) nested += "{{< /highlight >}}";
    EXPECT_LT(expand_shortcodes(nested, "f.md", 1).markdown.size(), 2'000'000u);
}

TEST(MarkdownRobustness, ArbitraryBytesNeverCrashAndAreDeterministic) {
    // A fixed linear congruential generator: the same inputs on every run.
    std::uint32_t state = 12345;
    const auto next = [&state] {
        state = state * 1103515245u + 12345u;
        return state >> 16;
    };
    const std::vector<std::string> pieces = {"{{<", ">}}", "{{%", "%}}", "/>}}", "{{</*", "*/>}}", "\"", "`", "\n",
                                             "# ", "- ", "[", "](", ")", "![", "<b>", "|", "---", "*", "\\", "=",
                                             "/", " ", "a", "\xff", "\xc3", "é", "```", ">", "1. ", "javascript:"};
    for (int round = 0; round < 300; ++round) {
        std::string body;
        const auto length = next() % 60;
        for (std::uint32_t i = 0; i < length; ++i) body += pieces[next() % pieces.size()];
        const auto a = render(body, round % 2 == 0, round % 3 == 0);
        const auto b = render(body, round % 2 == 0, round % 3 == 0);
        EXPECT_EQ(a.html, b.html);
        EXPECT_EQ(a.text, b.text);
        EXPECT_EQ(a.diagnostics, b.diagnostics);
    }
}

// cmark-gfm's inline parser reads a process-wide table of special characters that each parser's
// finish adds its extensions' characters to and removes them from again. Documents rendered on
// several threads at once must come out as they do one at a time: every autolink, strikethrough and
// table kept.
TEST(MarkdownThreads, DocumentsRenderedAtOnceMatchThoseRenderedAlone) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 24; ++i) {
        std::string body = "# Meetup " + std::to_string(i) + "\n\n";
        for (int line = 0; line < 40 + i; ++line)
            body += "See www.example.org/p" + std::to_string(line) + " and https://example.com/" + std::to_string(i) +
                    " or ~~old~~ text, mail a" + std::to_string(line) + "@example.net.\n";
        body += "\n| a | b |\n|---|---|\n| ~~x~~ | https://t.example/" + std::to_string(i) + " |\n";
        // Parsed while the blocks are fed (reference definitions, table rows), on every thread at once.
        for (int row = 0; row < 20; ++row) body += "| r" + std::to_string(row) + " | *c* |\n";
        body += "\n[ref" + std::to_string(i) + "]: https://ref.example/" + std::to_string(i) + " \"Title\"\n\nUse [the ref][ref" +
                std::to_string(i) + "].\n";
        bodies.push_back(std::move(body));
    }
    std::vector<RenderedMarkdown> alone;
    for (const auto& body : bodies) alone.push_back(render(body));
    for (const auto& r : alone) {
        ASSERT_NE(r.html.find("<a href=\"http://www.example.org/p0\">"), std::string::npos) << r.html;
        ASSERT_NE(r.html.find("<del>old</del>"), std::string::npos);
        ASSERT_NE(r.html.find("<table>"), std::string::npos);
        ASSERT_NE(r.html.find("<td>r19</td>"), std::string::npos) << r.html;
        ASSERT_NE(r.html.find("title=\"Title\">the ref</a>"), std::string::npos) << r.html;
    }
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < 30; ++round)
                for (std::size_t i = 0; i < bodies.size(); ++i) {
                    const std::size_t k = (i + static_cast<std::size_t>(t) * 7 + static_cast<std::size_t>(round)) % bodies.size();
                    const auto r = render(bodies[k]);
                    if (r.html != alone[k].html || r.text != alone[k].text || r.summary != alone[k].summary) ++mismatches;
                }
        });
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(mismatches.load(), 0);
}

// cmark's HTML for `md` with its own allocator (malloc), the extensions render_markdown attaches.
std::string cmark_html(const std::string& md) {
    cmark_gfm_core_extensions_ensure_registered();
    cmark_parser* parser = cmark_parser_new(CMARK_OPT_DEFAULT);
    for (const char* name : {"table", "autolink", "strikethrough"})
        cmark_parser_attach_syntax_extension(parser, cmark_find_syntax_extension(name));
    cmark_parser_feed(parser, md.data(), md.size());
    cmark_node* doc = cmark_parser_finish(parser);
    char* html = cmark_render_html(doc, CMARK_OPT_UNSAFE, cmark_parser_get_syntax_extensions(parser));
    std::string out(html);
    cmark_get_default_mem_allocator()->free(html);
    cmark_node_free(doc);
    cmark_parser_free(parser);
    return out;
}

// render_markdown gives cmark an arena of its own per thread for documents up to 32 KB (reset after
// each document, growing in chunks, a growing buffer extended in place), and cmark's own allocator
// for larger ones: the HTML must be cmark's with malloc, for documents that fit in the first chunk,
// small ones that need many (dense inline markup), a text node that outgrows chunks, and large
// documents, in any order on one thread.
TEST(MarkdownArena, HtmlIsCmarksWithItsOwnAllocator) {
    std::vector<std::string> bodies;
    bodies.push_back("Short *one* with ~~two~~.\n");
    std::string dense;  // under 32 KB, over a megabyte of nodes
    while (dense.size() < 30000) dense += "*a* **b** ~~c~~ `d` _e_ ";
    bodies.push_back(dense + "\n");
    std::string text_node;  // one text node of 30 KB grown in place
    while (text_node.size() < 30000) text_node += "word ";
    bodies.push_back(text_node + "\n");
    std::string many;
    for (int i = 0; i < 4000; ++i)
        many += "## Part " + std::to_string(i) + "\n\n- item *" + std::to_string(i) + "*\n- `code` and **bold**\n\n| a | b |\n|---|---|\n| " +
                std::to_string(i) + " | ~~x~~ |\n\n";
    bodies.push_back(many);  // about 300,000 nodes: many chunks
    std::string one_line;
    for (int i = 0; i < 150000; ++i) one_line += "word" + std::to_string(i % 10) + " ";
    bodies.push_back(one_line + "\n");  // one text node of 1 MB: a buffer grown past every chunk
    bodies.push_back("Short again, **after** the large ones.\n");
    for (int round = 0; round < 2; ++round)
        for (const auto& body : bodies) {
            const auto r = render(body);
            const auto expected = cmark_html(body);
            ASSERT_EQ(r.html.size(), expected.size()) << body.substr(0, 80);
            EXPECT_TRUE(r.html == expected) << body.substr(0, 80);
        }
}

}  // namespace
}  // namespace almanac
