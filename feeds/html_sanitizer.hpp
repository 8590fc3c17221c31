// The allow-list HTML sanitizer for rendered Markdown and its raw HTML (SPEC §2.4): the HTML is parsed
// by gumbo (an HTML5 parser, as browsers parse it) and written again from the parse tree, so the result
// is well-formed, holds only what a newsletter needs, and every URL is absolute. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace almanac {

struct HtmlPolicy {
    bool trusted = false;       // content.unsafe_html: every element and attribute kept, URLs still made absolute
    std::string_view base_url;  // relative URLs resolve against it; left relative when empty
};

// The fragment rebuilt from its parse tree. Untrusted: text formatting, headings, lists, links,
// images, tables, figures, details, pictures with their safe attributes; an iframe becomes a link to
// its page; script, style, object, embed, forms, SVG, MathML and comments are removed with their
// content; any other element is replaced by its content; `on*` and `style` attributes go, and so does
// any URL that is not http, https, mailto or relative. Never fails: broken HTML is repaired as
// browsers repair it.
std::string sanitize_html(std::string_view html, const HtmlPolicy& policy);

// True when sanitize_html(html, policy) is `html` itself: a fragment of the shape cmark writes for
// Markdown without raw HTML (well-nested paragraphs, headings, lists, quotes, code, emphasis, links,
// images and tables; their own attributes only; text escaped as cmark escapes it; every URL already
// safe and absolute), which the HTML5 parse would not restructure. False for anything else, and then
// only the sanitizer can tell what it becomes.
bool is_sanitized_markdown_html(std::string_view html, const HtmlPolicy& policy);

// `url` as an attribute value may carry it: resolved against the base, with tabs and line breaks
// removed and the ends trimmed as browsers do; nullopt (untrusted) when its scheme is not http, https
// or mailto.
std::optional<std::string> safe_url(std::string_view url, const HtmlPolicy& policy);

// The readable plain text of an HTML fragment: blocks apart by a blank line, list items, table rows
// and <br> on lines of their own, cells joined by " | ", a link as "label (URL)", an image by its alt
// text, an iframe by its URL; nothing of scripts, styles or forms.
std::string html_text(std::string_view html, const HtmlPolicy& policy);

// What one raw inline HTML tag inside a Markdown paragraph stands for in plain text.
struct InlineHtmlText {
    enum class Kind { text,
                      line_break,
                      link_start,
                      link_end } kind = Kind::text;
    std::string value;  // text: the text; link_start: the link's URL (empty when it has none)
};
InlineHtmlText inline_html_text(std::string_view tag, const HtmlPolicy& policy);

// A link in plain text: "label (URL)", the label alone when it already says the URL (autolinks), the
// URL alone when there is no label.
std::string link_text_suffix(std::string_view label, std::string_view url);

}  // namespace almanac
