// Tests for feeds/html_sanitizer.cpp: what raw HTML keeps and loses, URLs, trusted HTML, plain text.
// The XSS vectors are also checked by a second parser (html5lib) in tests/conformance/html/.
#include "feeds/html_sanitizer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace almanac {
namespace {

const HtmlPolicy safe{false, "https://example.org/news/issue/"};
const HtmlPolicy trusted{true, "https://example.org/news/issue/"};

struct Case {
    const char* name;
    const char* html;
    const char* expected;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

class SanitizeTest : public ::testing::TestWithParam<Case> {};

TEST_P(SanitizeTest, Sanitizes) { EXPECT_EQ(sanitize_html(GetParam().html, safe), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    HtmlSanitizer, SanitizeTest,
    ::testing::Values(
        Case{"newsletter_image", "<img src=\"https://i.example/a.png\" width=\"360\" height=\"200\" />",
             "<img src=\"https://i.example/a.png\" width=\"360\" height=\"200\" />"},
        Case{"relative_image_made_absolute", "<img src=\"../img/a.png\" alt=\"A\">",
             "<img src=\"https://example.org/news/img/a.png\" alt=\"A\" />"},
        Case{"image_without_source_removed", "a<img alt=\"x\">b", "ab"},
        Case{"table_with_align_kept_style_removed",
             "<table><tr><td align=\"left\" style=\"color:red\">x<br/><a href=\"/r\" style=\"x\">RSVP</a></td></tr></table>",
             "<table><tbody><tr><td align=\"left\">x<br /><a href=\"https://example.org/r\">RSVP</a></td></tr></tbody>"
             "</table>"},
        Case{"figure_details_picture",
             "<figure><picture><source srcset=\"a.webp 1x, /b.webp 2x\" type=\"image/webp\"><img src=\"a.png\"></picture>"
             "<figcaption>C</figcaption></figure><details open><summary>S</summary>D</details>",
             "<figure><picture><source srcset=\"https://example.org/news/issue/a.webp 1x, https://example.org/b.webp 2x\" "
             "type=\"image/webp\" /><img src=\"https://example.org/news/issue/a.png\" /></picture><figcaption>C</figcaption>"
             "</figure><details open=\"\"><summary>S</summary>D</details>"},
        Case{"source_outside_picture_removed", "<source srcset=\"a.png\">x", "x"},
        Case{"source_without_safe_srcset_removed", "<picture><source srcset=\"javascript:x 1x\"><img src=\"a.png\"></picture>",
             "<picture><img src=\"https://example.org/news/issue/a.png\" /></picture>"},
        Case{"iframe_becomes_link", "<iframe src=\"https://docs.example/embed?a=1&b=2\" width=\"480\"></iframe>",
             "<a href=\"https://docs.example/embed?a=1&amp;b=2\">https://docs.example/embed?a=1&amp;b=2</a>"},
        Case{"iframe_title_is_the_label", "<iframe src=\"/v\" title=\"Talk\"></iframe>",
             "<a href=\"https://example.org/v\">Talk</a>"},
        Case{"script_style_removed_with_content", "a<script>alert(1)</script><style>p{}</style>b", "ab"},
        // gumbo 0.10 moves the text right before </form> out of the form: text, never markup, can leak.
        Case{"object_embed_form_removed",
             "<object data=\"x\">o</object><embed src=\"y\"><form><input value=\"v\">"
             "<button>B</button><label>L</label><br>f</form>t",
             "ft"},
        Case{"unknown_elements_unwrapped", "<center><font color=\"red\">hi</font></center>", "hi"},
        Case{"event_and_style_attributes_removed", "<p onclick=\"x()\" style=\"a\" class=\"c\" title=\"t\">p</p>",
             "<p title=\"t\">p</p>"},
        Case{"javascript_link_unwrapped", "<a href=\"javascript:alert(1)\">x</a>", "x"},
        Case{"entity_encoded_javascript", "<a href=\"&#106;ava&#x73;cript&colon;alert(1)\">x</a>", "x"},
        Case{"tab_inside_scheme", "<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "x"},
        Case{"leading_control_characters", "<a href=\"&#x01; javascript:alert(1)\">x</a>", "x"},
        Case{"data_and_vbscript", "<img src=\"data:image/png;base64,AA\"><a href=\"VBScript:x\">v</a>", "v"},
        Case{"mailto_kept", "<a href=\"mailto:a@b.org\">m</a>", "<a href=\"mailto:a@b.org\">m</a>"},
        Case{"svg_and_math_removed",
             "<svg><script>alert(1)</script><a xlink:href=\"javascript:x\">s</a></svg>"
             "<math><mi xlink:href=\"javascript:x\">m</mi></math>t",
             "t"},
        Case{"unclosed_tags_closed", "<p><b>bold<i>both</p>after", "<p><b>bold<i>both</i></b></p><b><i>after</i></b>"},
        Case{"attribute_breaking_stays_in_the_value", "<img src=\"x.png\" alt='\"><script>alert(1)</script>'>",
             "<img src=\"https://example.org/news/issue/x.png\" alt=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\" />"},
        Case{"comments_removed", "a<!-- <script>x</script> -->b<!--[if IE]><script>y</script><![endif]-->c", "abc"},
        Case{"text_escaped", "1 &lt; 2 &amp; \"q\"", "1 &lt; 2 &amp; &quot;q&quot;"},
        Case{"url_percent_encoded", "<a href=\"/a b/é\">x</a>", "<a href=\"https://example.org/a%20b/%C3%A9\">x</a>"},
        Case{"pre_keeps_its_first_line_break", "<pre>\n\ncode</pre>", "<pre>\n\ncode</pre>"},
        Case{"numbers_checked", "<img src=\"a\" width=\"100%\" height=\"1;x\">",
             "<img src=\"https://example.org/news/issue/a\" width=\"100%\" />"},
        Case{"only_language_classes", "<code class=\"language-c++\">x</code><code class=\"evil x\">y</code>",
             "<code class=\"language-c++\">x</code><code>y</code>"}),
    case_name);

TEST(HtmlSanitizer, DeepNestingIsCutAndWellFormed) {
    std::string html;
    for (int i = 0; i < 100'000; ++i) html += "<div>";
    const std::string out = sanitize_html(html + "x", safe);
    EXPECT_NE(out.find('x'), std::string::npos);
    EXPECT_LT(out.size(), 2'000'000u);
    std::size_t opened = 0;
    std::size_t closed = 0;
    for (std::size_t p = 0; (p = out.find("<div>", p)) != std::string::npos; ++p) ++opened;
    for (std::size_t p = 0; (p = out.find("</div>", p)) != std::string::npos; ++p) ++closed;
    EXPECT_EQ(opened, closed);
    EXPECT_LE(opened, 512u);
}

TEST(HtmlSanitizer, TrustedKeepsEverythingButMakesUrlsAbsolute) {
    EXPECT_EQ(sanitize_html("<iframe src=\"/embed/1\" allowfullscreen></iframe>", trusted),
              "<iframe src=\"https://example.org/embed/1\" allowfullscreen=\"\"></iframe>");
    EXPECT_EQ(sanitize_html("<a href=\"x\" onclick=\"f()\" style=\"s\">a</a><script>if (a < b) f();</script>", trusted),
              "<a href=\"https://example.org/news/issue/x\" onclick=\"f()\" style=\"s\">a</a>"
              "<script>if (a < b) f();</script>");
    EXPECT_EQ(sanitize_html("<a href=\"javascript:f()\">j</a>", trusted), "<a href=\"javascript:f()\">j</a>");
    EXPECT_EQ(sanitize_html("<svg viewBox=\"0 0 1 1\"><foreignObject>x</foreignObject></svg>", trusted),
              "<svg viewBox=\"0 0 1 1\"><foreignObject>x</foreignObject></svg>");
}

TEST(HtmlSanitizer, WithoutBaseRelativeUrlsStayRelative) {
    EXPECT_EQ(sanitize_html("<a href=\"/x\">x</a>", HtmlPolicy{}), "<a href=\"/x\">x</a>");
}

// HTML the check accepts is returned by the sanitizer unchanged; what it refuses is left to the
// sanitizer, which changes it (or might).
struct ShapeCase {
    const char* name;
    const char* html;
    bool accepted;
};

std::string shape_name(const ::testing::TestParamInfo<ShapeCase>& info) { return info.param.name; }

class MarkdownHtmlTest : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(MarkdownHtmlTest, AcceptsOnlyWhatTheSanitizerKeeps) {
    const std::string html = GetParam().html;
    EXPECT_EQ(is_sanitized_markdown_html(html, safe), GetParam().accepted);
    // Trusted HTML keeps more (any scheme), but what is accepted must still come back unchanged.
    for (const HtmlPolicy& policy : {safe, trusted}) {
        if (is_sanitized_markdown_html(html, policy)) {
            EXPECT_EQ(sanitize_html(html, policy), html);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    HtmlSanitizer, MarkdownHtmlTest,
    ::testing::Values(
        ShapeCase{"empty", "", true},
        ShapeCase{"paragraphs_and_entities", "<h1>T &amp; &lt;b&gt;</h1>\n<p>&quot;Ä&quot; it's <em>x</em> <strong>y</strong></p>\n",
                  true},
        ShapeCase{"lists_quotes_code",
                  "<blockquote>\n<ol start=\"3\">\n<li>a<ul>\n<li>\n<p>b</p>\n</li>\n</ul>\n</li>\n</ol>\n</blockquote>\n"
                  "<pre><code class=\"language-c++\">\nint a &lt; b;\n</code></pre>\n<hr />\n",
                  true},
        ShapeCase{"links_and_images",
                  "<p><a href=\"https://example.org/a?b=1\" title=\"T &amp; U\">l</a><br />\n"
                  "<img src=\"https://example.org/i.png\" alt=\"A\" /> <del>d</del> <code>c</code></p>\n",
                  true},
        ShapeCase{"table",
                  "<table>\n<thead>\n<tr>\n<th align=\"left\">a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>b</td>\n"
                  "</tr>\n</tbody>\n</table>\n",
                  true},
        ShapeCase{"relative_url", "<p><a href=\"x\">l</a></p>", false},
        ShapeCase{"url_with_entity", "<p><a href=\"https://example.org/?a=1&amp;b=2\">l</a></p>", false},
        ShapeCase{"unsafe_scheme", "<p><a href=\"ftp://example.org/\">l</a></p>", false},
        ShapeCase{"link_without_url", "<p><a title=\"t\">l</a></p>", false},
        ShapeCase{"duplicate_attribute", "<p><img src=\"https://example.org/a\" src=\"https://example.org/b\" /></p>",
                  false},
        ShapeCase{"empty_paragraph", "<p></p>\n<p>x</p>", false},
        ShapeCase{"block_in_paragraph", "<p>a<ul><li>b</li></ul></p>", false},
        ShapeCase{"link_in_link", "<p><a href=\"https://a.org/\">a<a href=\"https://b.org/\">b</a></a></p>", false},
        ShapeCase{"text_in_table", "<table>x<tbody><tr><td>y</td></tr></tbody></table>", false},
        ShapeCase{"line_break_after_pre", "<pre>\n<code>x</code></pre>", false},
        ShapeCase{"unclosed", "<p><em>x</p>", false},
        ShapeCase{"raw_html", "<div>x</div><!-- c -->", false},
        ShapeCase{"other_class", "<pre><code class=\"evil x\">y</code></pre>", false},
        ShapeCase{"control_characters", "<p>a\x01b\rc</p>", false},
        ShapeCase{"c1_control",
                  "<p>a\xC2\x85"
                  "b</p>",
                  false},
        ShapeCase{"noncharacter",
                  "<p>a\xEF\xB7\x90"
                  "b</p>",
                  false},
        ShapeCase{"invalid_utf8", "<p>a\xC3(b</p>", false},
        ShapeCase{"other_entity", "<p>&nbsp;</p>", false},
        ShapeCase{"raw_greater_than", "<p>a > b</p>", false}),
    shape_name);

TEST(HtmlSanitizer, MarkdownHtmlDeeperThanTheSanitizerKeepsIsRefused) {
    std::string html;
    for (int i = 0; i < 100; ++i) html += "<blockquote>\n";
    std::string deep = html + "<p>x</p>\n";
    for (int i = 0; i < 100; ++i) deep += "</blockquote>\n";
    EXPECT_FALSE(is_sanitized_markdown_html(deep, safe));
    std::string shallow;
    for (int i = 0; i < 98; ++i) shallow += "<blockquote>\n";
    shallow += "<p>x</p>\n";
    for (int i = 0; i < 98; ++i) shallow += "</blockquote>\n";
    EXPECT_TRUE(is_sanitized_markdown_html(shallow, safe));
    EXPECT_EQ(sanitize_html(shallow, safe), shallow);
}

class HtmlTextTest : public ::testing::TestWithParam<Case> {};

TEST_P(HtmlTextTest, Renders) { EXPECT_EQ(html_text(GetParam().html, safe), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    HtmlText, HtmlTextTest,
    ::testing::Values(
        Case{"image_alt", "<img src=\"a.png\" alt=\"The  team\">", "The team"},
        Case{"table_rows_and_cells",
             "<table>\n  <tr>\n    <td><img src=\"c.png\" alt=\"china\"/><br/>\n      <a href=\"https://c.example/\">China "
             "RSVP</a>\n    </td>\n    <td>Japan</td>\n  </tr>\n  <tr><td>2</td><td>3</td></tr>\n</table>",
             "china\nChina RSVP (https://c.example/) | Japan\n2 | 3"},
        Case{"paragraphs_and_lists", "<p>one\ntwo</p><ul><li>a</li><li>b</li></ul><ol start=\"3\"><li>c</li></ol>",
             "one two\n\n- a\n- b\n\n3. c"},
        Case{"relative_link_resolved", "<a href=\"/r\">go</a>", "go (https://example.org/r)"},
        Case{"autolink_label", "<a href=\"https://x.org/\">https://x.org/</a>", "https://x.org/"},
        Case{"iframe_url", "<p>Slides:</p><iframe src=\"https://s.example/e\"></iframe>", "Slides:\n\nhttps://s.example/e"},
        Case{"nothing_of_scripts_or_forms", "a<script>x</script><style>y</style><form><p>z</p><input value=\"v\"></form>b",
             "ab"},
        Case{"dangerous_link_shows_label_only", "<a href=\"javascript:x\">a</a>", "a"},
        Case{"preformatted", "<pre>a\n  b</pre>", "a\n  b"}),
    case_name);

TEST(HtmlText, InlineTags) {
    EXPECT_EQ(inline_html_text("<br/>", safe).kind, InlineHtmlText::Kind::line_break);
    const InlineHtmlText a = inline_html_text("<a href=\"/x\" style=\"s\">", safe);
    EXPECT_EQ(a.kind, InlineHtmlText::Kind::link_start);
    EXPECT_EQ(a.value, "https://example.org/x");
    EXPECT_EQ(inline_html_text("<a href=\"javascript:x\">", safe).value, "");
    EXPECT_EQ(inline_html_text("</A>", safe).kind, InlineHtmlText::Kind::link_end);
    EXPECT_EQ(inline_html_text("</abbr>", safe).kind, InlineHtmlText::Kind::text);
    const InlineHtmlText img = inline_html_text("<img src=\"a.png\" alt=\"pic\">", safe);
    EXPECT_EQ(img.kind, InlineHtmlText::Kind::text);
    EXPECT_EQ(img.value, "pic");
}

}  // namespace
}  // namespace almanac
