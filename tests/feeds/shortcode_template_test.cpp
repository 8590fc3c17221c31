// Tests for feeds/shortcode_template.cpp: the Hugo template subset a site's shortcodes are written in.
#include "feeds/shortcode_template.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace almanac {
namespace {

std::string render(std::string_view source, const std::vector<ShortcodeArgument>& args, std::string_view inner = {}) {
    const auto parsed = parse_shortcode_template(source);
    if (!parsed) return "error: " + parsed.error();
    return render_shortcode(**parsed, args, inner);
}

const std::vector<ShortcodeArgument> button{{"link", "https://x.org/?a=1&b=2"}, {"text", "Go <now>"}};

TEST(ShortcodeTemplate, GetByNameAndPosition) {
    EXPECT_EQ(render("<a href=\"{{ .Get \"link\" }}\">{{ .Get \"text\" }}</a>", button),
              "<a href=\"https://x.org/?a=1&amp;b=2\">Go &lt;now&gt;</a>");
    EXPECT_EQ(render("{{ .Get 0 }}/{{ .Get 1 }}/{{ .Get 2 }}", {{"", "a"}, {"k", "v"}, {"", "b"}}), "a/b/");
    EXPECT_EQ(render("[{{ .Get `missing` }}]", button), "[]");
}

TEST(ShortcodeTemplate, QuotesAreEscapedForAttributes) {
    EXPECT_EQ(render("<img alt=\"{{ .Get \"alt\" }}\">", {{"alt", "\"><script>x</script>'"}}),
              "<img alt=\"&#34;&gt;&lt;script&gt;x&lt;/script&gt;&#39;\">");
    EXPECT_EQ(render("{{ .Get \"h\" | safeHTML }}", {{"h", "<b>b</b>"}}), "<b>b</b>");
}

TEST(ShortcodeTemplate, InnerIsWrittenAsItIs) {
    EXPECT_EQ(render("<div>{{ .Inner }}</div>", {}, "**md** & <i>x</i>"), "<div>**md** & <i>x</i></div>");
    EXPECT_EQ(render("{{ .Inner | markdownify }}", {}, "*x*"), "*x*");
}

TEST(ShortcodeTemplate, WithBindsDotAndIfTests) {
    const std::string tmpl =
        "{{ with .Get \"alt\" }}alt={{ . }}{{ else }}no alt{{ end }};"
        "{{ if .Get \"src\" }}src{{ end }};{{ with .Get \"a\" }}{{ with $.Get \"b\" }}{{ . }}{{ end }}+{{ . }}{{ end }}";
    EXPECT_EQ(render(tmpl, {{"alt", "A"}, {"src", "s"}, {"a", "1"}, {"b", "2"}}), "alt=A;src;2+1");
    EXPECT_EQ(render(tmpl, {}), "no alt;;");
    EXPECT_EQ(render("{{ if .Inner }}[{{ .Inner }}]{{ end }}", {}, ""), "");
}

TEST(ShortcodeTemplate, TrimMarkersAndComments) {
    EXPECT_EQ(render("a  \n  {{- .Get 0 -}}  \n b{{/* note */}}c{{- /* trimmed */ -}}  d", {{"", "X"}}), "aXbcd");
}

struct BadTemplate {
    const char* source;
    const char* message;  // expected inside the error
};

TEST(ShortcodeTemplate, InvalidTemplatesSayWhatAndWhere) {
    const BadTemplate cases[] = {
        {"a {{ .Get \"x\" ", "line 1, column 3: '{{' without its closing '}}'"},
        {"x\n{{ .Params.title }}", "line 2, column 1: unsupported action '.Params.title'"},
        {"{{ end }}", "'{{ end }}' without an if or with"},
        {"{{ with .Get 0 }}x", "'{{ with }}' without its '{{ end }}'"},
        {"{{ . }}", "'.' is only a value inside {{ with … }}"},
        {"{{ if .Get 0 }}{{ else if .Get 1 }}{{ end }}", "'else if' is not supported"},
        {"{{ .Get \"x\" | upper }}", "unsupported function 'upper'"},
        {"{{ .Get }}", ".Get needs a name in quotes or a position"},
        {"{{ .Get \"x }}", "unterminated string"},
        {"{{ range .Params }}{{ end }}", "unsupported action 'range'"},
    };
    for (const BadTemplate& c : cases) {
        const auto parsed = parse_shortcode_template(c.source);
        ASSERT_FALSE(parsed) << c.source;
        EXPECT_NE(parsed.error().find(c.message), std::string::npos) << c.source << " → " << parsed.error();
    }
}

}  // namespace
}  // namespace almanac
