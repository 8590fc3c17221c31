// Hugo shortcode expansion and Markdown rendering (cmark-gfm, sanitizing, URL resolution, the
// plain-text walker, summaries and titles), and resolve_url on its own.
//
// Input: one flag byte (bit 0: unsafe_html, bit 1: take_title, bit 2: no page URL), then the
// Markdown body. Bodies that are not valid UTF-8 are normalized first, as parse_source does.
#include <string>
#include <vector>

#include "feeds/markdown.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace almanac;
using almanac::fuzz::check;

std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

std::string lower(std::string_view s) { return ascii_lower(s); }

// The href and src values of the tags in safe-mode `html`. All of it is cmark's output: '<' starts a
// tag (text has &lt;) and attribute values are double-quoted with '"' escaped, so a scan that skips
// quoted values finds every attribute and only attributes.
std::vector<std::string> url_attributes(std::string_view html) {
    std::vector<std::string> out;
    bool in_tag = false;
    for (std::size_t i = 0; i < html.size(); ++i) {
        const char c = html[i];
        if (!in_tag) {
            in_tag = c == '<';
            continue;
        }
        if (c == '>') {
            in_tag = false;
        } else if (c == '"') {
            const std::size_t end = html.find('"', i + 1);
            check(end != std::string_view::npos, "unterminated attribute value", html.substr(i, 200));
            const std::string_view before = html.substr(0, i);
            if (before.ends_with(" href=") || before.ends_with(" src=")) out.emplace_back(html.substr(i + 1, end - i - 1));
            i = end;
        }
    }
    return out;
}

// In safe mode no URL may run script, and with a page URL every one must be absolute (a scheme).
void check_urls(const std::string& html, bool absolute) {
    for (const auto& value : url_attributes(html)) {
        const std::string url = ascii_lower(value);
        for (const std::string_view bad : {"javascript:", "vbscript:", "file:"})
            check(!url.starts_with(bad), "dangerous URL kept in safe mode", url);
        if (!absolute || url.empty()) continue;
        const std::size_t colon = url.find(':');
        check(colon != std::string::npos && colon > 0 && url.find_first_of("/?#") > colon, "relative URL left in the HTML",
              url);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t flags = data[0];
    const auto normalized = normalize_text(almanac::fuzz::as_text(data + 1, size - 1), "content/x.md");
    if (!normalized.ok) return 0;
    const std::string& body = normalized.text;
    const std::string path = "content/blog/x.md";
    constexpr int first_line = 7;
    const int last_line = first_line + static_cast<int>(std::count(body.begin(), body.end(), '\n'));

    const ExpandedShortcodes expanded = expand_shortcodes(body, path, first_line);
    almanac::fuzz::check_utf8(expanded.markdown, "expanded Markdown is not UTF-8");
    for (const auto& d : expanded.diagnostics) {
        check(d.severity == Severity::warning, "shortcodes gave an error", d.message);
        check(d.line >= first_line && d.line <= last_line, "shortcode warning outside the body", d.message);
        check(d.column >= 1, "shortcode warning without a column", d.message);
    }
    almanac::fuzz::check_diagnostics(expanded.diagnostics, path);

    MarkdownOptions options;
    options.unsafe_html = (flags & 1) != 0;
    options.take_title = (flags & 2) != 0;
    if ((flags & 4) == 0) options.page_url = "https://example.org/blog/2024/05/x/";
    const RenderedMarkdown r = render_markdown(body, options, path, first_line);
    // Besides the shortcode warnings, one error when the Markdown nests too deep: nothing is rendered.
    const bool too_deep = r.diagnostics.size() == expanded.diagnostics.size() + 1 &&
                          r.diagnostics.back().severity == Severity::error &&
                          r.diagnostics.back().message.starts_with("Markdown nested deeper than");
    Diagnostics warnings = r.diagnostics;
    if (too_deep) {
        const Diagnostic& d = r.diagnostics.back();
        check(d.line >= first_line && d.line <= last_line, "nesting error outside the body", d.message);
        check(r.html.empty() && r.text.empty() && r.summary.empty() && r.title.empty(), "too deep, yet rendered",
              r.text.substr(0, 400));
        warnings.pop_back();
    }
    check(warnings == expanded.diagnostics, "render_markdown's warnings differ from expand_shortcodes'");
    for (const auto* s : {&r.html, &r.text, &r.summary, &r.title})
        almanac::fuzz::check_utf8(*s, "rendered Markdown is not UTF-8");
    check(code_points(r.summary) <= 301, "summary longer than 300 characters and an ellipsis", r.summary);
    check(r.summary.find('\n') == std::string::npos, "summary spans lines", r.summary);
    check(r.title.find('\n') == std::string::npos, "title spans lines", r.title);
    if (!options.take_title) check(r.title.empty(), "a title without take_title", r.title);
    if (!options.unsafe_html) {
        const std::string l = lower(r.html);
        // The HTML sanitizer removes these elements (with their content) and comments.
        for (const std::string_view tag : {"<script", "<iframe", "<style", "<object", "<embed", "<!--"})
            check(l.find(tag) == std::string::npos, "raw HTML kept in safe mode", r.html);
        check_urls(r.html, !options.page_url.empty());
    }

    // resolve_url against the page URL, with the body's first line as the reference.
    const std::string_view reference = std::string_view(body).substr(0, std::min<std::size_t>(body.find('\n'), 512));
    const std::string resolved = resolve_url("https://example.org/a/b/c?q#f", reference);
    check(resolved.find(':') != std::string::npos, "resolve_url gave a relative URL", resolved);
    return 0;
}
