// Markdown to HTML and to plain text with cmark-gfm (GFM tables, autolinks, strikethrough), after
// Hugo shortcodes are expanded (SPEC §2.1, §2.4), raw HTML through feeds/html_sanitizer. Pure: text
// in, text and diagnostics out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "feeds/diagnostic.hpp"
#include "feeds/shortcode_template.hpp"

namespace almanac {

using ShortcodeDefinitions = std::vector<ShortcodeDefinition>;

struct MarkdownOptions {
    bool unsafe_html = false;         // trust raw HTML: keep all of it and any link scheme (URLs still made absolute)
    std::string page_url;             // absolute URL of the item's page; relative links resolve against it
    bool take_title = false;          // remove the first level-1 heading and return its text as `title`
    ShortcodeDefinitions shortcodes;  // the site's own (content.shortcodes); they override the built-in ones
};

struct RenderedMarkdown {
    std::string html;         // safe HTML fragment, every link and image URL absolute
    std::string text;         // readable plain text; a link keeps its URL as text: "label (https://…)"
    std::string summary;      // plain text of the first paragraph, at most ~300 characters, cut at a word
    std::string title;        // with take_title: the first "# " heading's text, else empty
    Diagnostics diagnostics;  // shortcode warnings and nesting errors, at their line in the file
};

// Renders `body`. `path` and `first_line` (the 1-based file line of the body's first line) are used
// only to place diagnostics. Broken Markdown is still Markdown; only nesting deeper than 100 levels
// (block quotes, lists, emphasis) is an error, and then nothing is rendered.
RenderedMarkdown render_markdown(std::string_view body, const MarkdownOptions& options,
                                 const std::string& path, int first_line);

struct ExpandedShortcodes {
    std::string markdown;
    Diagnostics diagnostics;
};

// Replaces Hugo shortcodes: one the site declares becomes its template's output (a paired one's
// content, its own shortcodes expanded, is the template's .Inner); any other paired
// {{< name >}}…{{< /name >}} or {{% name %}}…{{% /name %}} keeps its inner Markdown; a self-closing
// layout one (spacer) is dropped; known content ones
// (figure, youtube, vimeo, gist, x/tweet, highlight, details, ref/relref, param, qr) become the
// equivalent Markdown; any other self-closing one is dropped with a warning naming it and its line.
// {{</* … */>}} is Hugo's escape and comes out literally as {{< … >}}. Lines stay in place so that
// Markdown line numbers match the file.
ExpandedShortcodes expand_shortcodes(std::string_view body, const std::string& path, int first_line,
                                     const ShortcodeDefinitions& shortcodes = {});

// `reference` resolved against the absolute `base` (RFC 3986 §5.2). Absolute references, fragments
// ("#x") and scheme-relative ones ("//host/x") are handled; mailto:/tel: are left as they are.
std::string resolve_url(std::string_view base, std::string_view reference);

}  // namespace almanac
