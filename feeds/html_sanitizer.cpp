// The sanitizer walks gumbo's parse tree with an explicit stack (nesting depth is up to the author)
// and writes a new fragment: elements by allow-list, attributes by a per-element table, text escaped
// as cmark escapes it, URLs resolved and checked. The plain-text walk shares the element classes.
#include "feeds/html_sanitizer.hpp"

#include <gumbo.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "feeds/byte_runs.hpp"
#include "feeds/markdown.hpp"
#include "feeds/text.hpp"

namespace almanac {

namespace {

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

constexpr std::size_t max_open_elements = 512;

bool is_void_name(std::string_view name) {
    for (std::string_view v : {"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img",
                               "input", "keygen", "link", "meta", "param", "source", "track", "wbr"})
        if (name == v) return true;
    return false;
}

// Elements a start tag of the same name closes (an estimate of the HTML5 rules, for counting only).
bool closes_its_sibling(std::string_view name) {
    for (std::string_view v : {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rt", "rp", "thead",
                               "tbody", "tfoot", "caption", "colgroup"})
        if (name == v) return true;
    return false;
}

// gumbo checks its stack of open elements at every tag, so thousands of unclosed elements (200,000
// "<div>" in a 1 MiB file) take it minutes. A quick pass follows the tags as HTML5's tokenizer
// reads them and turns every start tag that would open more than max_open_elements elements into
// text ("&lt;div>"): markup can only become text this way, never the other way round.
std::string limit_nesting(std::string_view html) {
    std::string out;
    out.reserve(html.size());
    std::vector<std::string> open;
    const auto lower_name_at = [&](std::size_t p) {
        std::string name;
        while (p < html.size() && !is_html_space(html[p]) && html[p] != '/' && html[p] != '>') name += ascii_lower(html[p++]);
        return name;
    };
    std::size_t p = 0;
    while (p < html.size()) {
        const std::size_t lt = html.find('<', p);
        out.append(html.substr(p, lt == std::string_view::npos ? std::string_view::npos : lt - p));
        if (lt == std::string_view::npos) break;
        p = lt;
        const char next = lt + 1 < html.size() ? html[lt + 1] : '\0';
        std::size_t end;  // just after the tag or comment
        if (html.substr(lt).starts_with("<!--")) {
            const std::size_t close = html.find("-->", lt + 4);
            end = close == std::string_view::npos ? html.size() : close + 3;
        } else if (next == '/' || next == '!' || next == '?') {
            if (next == '/' && lt + 2 < html.size() && is_ascii_alpha(html[lt + 2])) {
                const std::string name = lower_name_at(lt + 2);
                const auto it = std::find(open.rbegin(), open.rend(), name);
                if (it != open.rend()) open.erase(std::next(it).base(), open.end());
            }
            const std::size_t close = html.find('>', lt);
            end = close == std::string_view::npos ? html.size() : close + 1;
        } else if (is_ascii_alpha(next)) {
            const std::string name = lower_name_at(lt + 1);
            // The attributes, with quoted values skipped as the tokenizer skips them.
            std::size_t q = lt + 1 + name.size();
            bool self_closing = false;
            while (q < html.size() && html[q] != '>') {
                if (html[q] == '=') {
                    ++q;
                    while (q < html.size() && is_html_space(html[q])) ++q;
                    if (q < html.size() && (html[q] == '"' || html[q] == '\'')) {
                        const std::size_t close = html.find(html[q], q + 1);
                        q = close == std::string_view::npos ? html.size() : close + 1;
                        continue;
                    }
                }
                self_closing = html[q] == '/' && q + 1 < html.size() && html[q + 1] == '>';
                ++q;
            }
            end = std::min(q + 1, html.size());
            if (!is_void_name(name) && !self_closing) {
                if (!open.empty() && open.back() == name && closes_its_sibling(name)) open.pop_back();
                if (open.size() >= max_open_elements) {
                    out += "&lt;";
                    p = lt + 1;
                    continue;
                }
                open.push_back(name);
            }
        } else {
            end = lt + 1;
        }
        out.append(html.substr(lt, end - lt));
        p = end;
    }
    return out;
}

// A parsed fragment, as the HTML5 algorithm parses the inside of a <body>.
class ParsedFragment {
public:
    explicit ParsedFragment(std::string_view html) : html_(limit_nesting(html)), options_(kGumboDefaultOptions) {
        options_.fragment_context = GUMBO_TAG_BODY;
        options_.max_errors = 0;  // errors are not reported; recording them only costs memory
        output_ = gumbo_parse_with_options(&options_, html_.data(), html_.size());
    }
    ~ParsedFragment() { gumbo_destroy_output(&options_, output_); }
    ParsedFragment(const ParsedFragment&) = delete;
    ParsedFragment& operator=(const ParsedFragment&) = delete;

    // The fragment's top-level nodes: the children of the <html> element fragment parsing creates.
    const GumboVector& nodes() const { return output_->root->v.element.children; }

private:
    std::string html_;  // gumbo's tree points into it
    GumboOptions options_;
    GumboOutput* output_;
};

const GumboNode* child_at(const GumboVector& v, std::size_t i) { return static_cast<const GumboNode*>(v.data[i]); }

bool is_element(const GumboNode* n) { return n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE; }

const char* attribute(const GumboElement& e, const char* name) {
    const GumboAttribute* a = gumbo_get_attribute(&e.attributes, name);
    return a ? a->value : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Escaping, as cmark escapes its own output, so that Markdown renders as it always did.

void append_escaped_text(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
}

// cmark's houdini_escape_href: alphanumerics and -_.+!*(),%#@?=;:/$~ as they are, & and ' as
// entities, every other byte percent-encoded (so a URL never holds a space or a raw non-ASCII byte).
void append_escaped_url(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    static constexpr std::string_view safe = "-_.+!*(),%#@?=;:/$~";
    for (char c : s) {
        if (is_ascii_alpha(c) || is_ascii_digit(c) || safe.find(c) != std::string_view::npos) {
            out += c;
        } else if (c == '&') {
            out += "&amp;";
        } else if (c == '\'') {
            out += "&#x27;";
        } else {
            const auto b = static_cast<unsigned char>(c);
            out += '%';
            out += hex[b >> 4];
            out += hex[b & 0xF];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// URLs

// The scheme of an absolute URL, lower-cased; empty for a relative reference (RFC 3986 §3.1).
std::string scheme_of(std::string_view url) {
    const std::size_t colon = url.find_first_of(":/?#");
    if (colon == std::string_view::npos || colon == 0 || url[colon] != ':' || !is_ascii_alpha(url[0])) return {};
    std::string scheme;
    for (char c : url.substr(0, colon)) {
        if (!is_ascii_alpha(c) && !is_ascii_digit(c) && c != '+' && c != '-' && c != '.') return {};
        scheme += ascii_lower(c);
    }
    return scheme;
}

// srcset: "url [descriptor], url [descriptor]…"; each URL resolved and checked, unsafe candidates
// left out. Returns the attribute's escaped text, empty when no candidate is left.
std::string escaped_srcset(std::string_view value, const HtmlPolicy& policy) {
    std::string out;
    std::size_t p = 0;
    while (p < value.size()) {
        while (p < value.size() && (is_html_space(value[p]) || value[p] == ',')) ++p;
        if (p >= value.size()) break;
        std::size_t end = p;
        while (end < value.size() && !is_html_space(value[end])) ++end;
        std::string_view url = value.substr(p, end - p);
        const bool url_ends_candidate = url.ends_with(',');
        while (url.ends_with(',')) url.remove_suffix(1);
        p = end;
        std::string_view descriptor;
        if (!url_ends_candidate) {
            const std::size_t comma = std::min(value.find(',', p), value.size());
            descriptor = value.substr(p, comma - p);
            while (!descriptor.empty() && is_html_space(descriptor.front())) descriptor.remove_prefix(1);
            while (!descriptor.empty() && is_html_space(descriptor.back())) descriptor.remove_suffix(1);
            p = comma;
        }
        const auto safe = safe_url(url, policy);
        if (!safe || url.empty()) continue;
        if (!out.empty()) out += ", ";
        append_escaped_url(out, *safe);
        if (!descriptor.empty()) {
            out += ' ';
            append_escaped_text(out, descriptor);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// What each element becomes

enum class Treatment {
    keep,        // written with its allowed attributes
    unwrap,      // replaced by its content
    drop,        // removed with its content
    frame_link,  // an iframe: a link to the page it frames
};

bool is_void(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_AREA:
        case GUMBO_TAG_BASE:
        case GUMBO_TAG_BASEFONT:
        case GUMBO_TAG_BGSOUND:
        case GUMBO_TAG_BR:
        case GUMBO_TAG_COL:
        case GUMBO_TAG_EMBED:
        case GUMBO_TAG_FRAME:
        case GUMBO_TAG_HR:
        case GUMBO_TAG_IMG:
        case GUMBO_TAG_INPUT:
        case GUMBO_TAG_KEYGEN:
        case GUMBO_TAG_LINK:
        case GUMBO_TAG_META:
        case GUMBO_TAG_PARAM:
        case GUMBO_TAG_SOURCE:
        case GUMBO_TAG_TRACK:
        case GUMBO_TAG_WBR: return true;
        default: return false;
    }
}

// Elements whose content is not text a reader should see: code, styles, embedded objects, forms and
// their fields, document metadata, media fallbacks, SVG and MathML.
bool is_dropped(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_SCRIPT:
        case GUMBO_TAG_STYLE:
        case GUMBO_TAG_TEMPLATE:
        case GUMBO_TAG_NOSCRIPT:
        case GUMBO_TAG_NOEMBED:
        case GUMBO_TAG_NOFRAMES:
        case GUMBO_TAG_FRAMESET:
        case GUMBO_TAG_FRAME:
        case GUMBO_TAG_OBJECT:
        case GUMBO_TAG_EMBED:
        case GUMBO_TAG_APPLET:
        case GUMBO_TAG_PARAM:
        case GUMBO_TAG_FORM:
        case GUMBO_TAG_INPUT:
        case GUMBO_TAG_BUTTON:
        case GUMBO_TAG_SELECT:
        case GUMBO_TAG_OPTION:
        case GUMBO_TAG_OPTGROUP:
        case GUMBO_TAG_DATALIST:
        case GUMBO_TAG_TEXTAREA:
        case GUMBO_TAG_OUTPUT:
        case GUMBO_TAG_KEYGEN:
        case GUMBO_TAG_HEAD:
        case GUMBO_TAG_TITLE:
        case GUMBO_TAG_META:
        case GUMBO_TAG_LINK:
        case GUMBO_TAG_BASE:
        case GUMBO_TAG_XMP:
        case GUMBO_TAG_PLAINTEXT:
        case GUMBO_TAG_AUDIO:
        case GUMBO_TAG_VIDEO:
        case GUMBO_TAG_TRACK:
        case GUMBO_TAG_CANVAS:
        case GUMBO_TAG_MAP:
        case GUMBO_TAG_AREA:
        case GUMBO_TAG_SVG:
        case GUMBO_TAG_MATH:
        case GUMBO_TAG_MENU:
        case GUMBO_TAG_MENUITEM: return true;
        default: return false;
    }
}

bool is_allowed(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_P:
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_SPAN:
        case GUMBO_TAG_BR:
        case GUMBO_TAG_HR:
        case GUMBO_TAG_H1:
        case GUMBO_TAG_H2:
        case GUMBO_TAG_H3:
        case GUMBO_TAG_H4:
        case GUMBO_TAG_H5:
        case GUMBO_TAG_H6:
        case GUMBO_TAG_B:
        case GUMBO_TAG_I:
        case GUMBO_TAG_U:
        case GUMBO_TAG_S:
        case GUMBO_TAG_STRIKE:
        case GUMBO_TAG_EM:
        case GUMBO_TAG_STRONG:
        case GUMBO_TAG_SMALL:
        case GUMBO_TAG_BIG:
        case GUMBO_TAG_MARK:
        case GUMBO_TAG_DEL:
        case GUMBO_TAG_INS:
        case GUMBO_TAG_SUB:
        case GUMBO_TAG_SUP:
        case GUMBO_TAG_CODE:
        case GUMBO_TAG_KBD:
        case GUMBO_TAG_SAMP:
        case GUMBO_TAG_VAR:
        case GUMBO_TAG_TT:
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_Q:
        case GUMBO_TAG_CITE:
        case GUMBO_TAG_ABBR:
        case GUMBO_TAG_DFN:
        case GUMBO_TAG_TIME:
        case GUMBO_TAG_BDI:
        case GUMBO_TAG_BDO:
        case GUMBO_TAG_RUBY:
        case GUMBO_TAG_RT:
        case GUMBO_TAG_RP:
        case GUMBO_TAG_WBR:
        case GUMBO_TAG_UL:
        case GUMBO_TAG_OL:
        case GUMBO_TAG_LI:
        case GUMBO_TAG_DL:
        case GUMBO_TAG_DT:
        case GUMBO_TAG_DD:
        case GUMBO_TAG_A:
        case GUMBO_TAG_IMG:
        case GUMBO_TAG_SOURCE:
        case GUMBO_TAG_FIGURE:
        case GUMBO_TAG_FIGCAPTION:
        case GUMBO_TAG_DETAILS:
        case GUMBO_TAG_SUMMARY:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_COLGROUP:
        case GUMBO_TAG_COL:
        case GUMBO_TAG_THEAD:
        case GUMBO_TAG_TBODY:
        case GUMBO_TAG_TFOOT:
        case GUMBO_TAG_TR:
        case GUMBO_TAG_TH:
        case GUMBO_TAG_TD: return true;
        default: return false;
    }
}

enum class AttrKind { none,
                      text,
                      url,
                      srcset,
                      number,
                      language_class };

// The attributes an element keeps when untrusted, and what their values must be.
AttrKind attribute_kind(GumboTag tag, std::string_view name) {
    if (name == "title" || name == "lang" || name == "dir") return AttrKind::text;
    switch (tag) {
        case GUMBO_TAG_A: return name == "href" ? AttrKind::url : AttrKind::none;
        case GUMBO_TAG_IMG:
            if (name == "src") return AttrKind::url;
            if (name == "alt") return AttrKind::text;
            if (name == "width" || name == "height") return AttrKind::number;
            return AttrKind::none;
        case GUMBO_TAG_SOURCE:
            if (name == "srcset") return AttrKind::srcset;
            if (name == "media" || name == "type" || name == "sizes") return AttrKind::text;
            if (name == "width" || name == "height") return AttrKind::number;
            return AttrKind::none;
        case GUMBO_TAG_TD:
        case GUMBO_TAG_TH:
            if (name == "align" || name == "valign" || (tag == GUMBO_TAG_TH && name == "scope")) return AttrKind::text;
            if (name == "colspan" || name == "rowspan") return AttrKind::number;
            return AttrKind::none;
        case GUMBO_TAG_COL:
        case GUMBO_TAG_COLGROUP: return name == "span" ? AttrKind::number : AttrKind::none;
        case GUMBO_TAG_OL:
            if (name == "start") return AttrKind::number;
            if (name == "type" || name == "reversed") return AttrKind::text;
            return AttrKind::none;
        case GUMBO_TAG_LI: return name == "value" ? AttrKind::number : AttrKind::none;
        case GUMBO_TAG_CODE: return name == "class" ? AttrKind::language_class : AttrKind::none;
        case GUMBO_TAG_DETAILS: return name == "open" ? AttrKind::text : AttrKind::none;
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_Q:
        case GUMBO_TAG_DEL:
        case GUMBO_TAG_INS: return name == "cite" ? AttrKind::url : AttrKind::none;
        case GUMBO_TAG_TIME: return name == "datetime" ? AttrKind::text : AttrKind::none;
        default: return AttrKind::none;
    }
}

// An optional '-', 1 to 9 digits, an optional '%'.
bool is_number(std::string_view s) {
    if (s.starts_with('-')) s.remove_prefix(1);
    if (s.ends_with('%')) s.remove_suffix(1);
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), is_ascii_digit);
}

// cmark writes "language-x" on fenced code; nothing else of a class is kept.
bool is_language_class(std::string_view s) {
    if (!s.starts_with("language-") || s.size() == 9) return false;
    return std::all_of(s.begin() + 9, s.end(), [](char c) {
        return is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' || c == '_' || c == '+' || c == '#' || c == '.';
    });
}

// Attributes whose value is a URL, made absolute even for trusted HTML.
bool is_url_attribute(std::string_view name) {
    for (std::string_view u : {"href", "src", "cite", "action", "formaction", "poster", "background", "longdesc", "data",
                               "xlink:href", "manifest", "codebase"})
        if (name == u) return true;
    return false;
}

// An XML name of ASCII letters, digits and -_.: (what an attribute or element name may be for the
// output to stay well-formed).
bool is_plain_name(std::string_view s) {
    if (s.empty() || !(is_ascii_alpha(s[0]) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' || c == '_' || c == '.' || c == ':';
    });
}

// The element's name as written: the normalized name of a known tag, else the source's spelling
// (lower-cased in HTML, SVG's camelCase restored); empty when it is not a plain name.
std::string element_name(const GumboElement& e) {
    if (e.tag != GUMBO_TAG_UNKNOWN && e.tag_namespace != GUMBO_NAMESPACE_SVG) return gumbo_normalized_tagname(e.tag);
    GumboStringPiece piece = e.original_tag;
    if (!piece.data || piece.length == 0) return e.tag == GUMBO_TAG_UNKNOWN ? "" : gumbo_normalized_tagname(e.tag);
    gumbo_tag_from_original_text(&piece);
    if (e.tag_namespace == GUMBO_NAMESPACE_SVG)
        if (const char* svg = gumbo_normalize_svg_tagname(&piece)) return svg;
    std::string name(piece.data, piece.length);
    if (e.tag_namespace == GUMBO_NAMESPACE_HTML) std::transform(name.begin(), name.end(), name.begin(), [](char c) { return ascii_lower(c); });
    return is_plain_name(name) ? name : "";
}

std::string attribute_name(const GumboAttribute& a) {
    std::string name = a.name;
    switch (a.attr_namespace) {
        case GUMBO_ATTR_NAMESPACE_XLINK: name = "xlink:" + name; break;
        case GUMBO_ATTR_NAMESPACE_XML: name = "xml:" + name; break;
        case GUMBO_ATTR_NAMESPACE_XMLNS:
            if (name != "xmlns") name = "xmlns:" + name;
            break;
        case GUMBO_ATTR_NAMESPACE_NONE: break;
    }
    return name;
}

// gumbo 0.10 predates <picture> and <dialog>: they parse as unknown elements with their own name.
bool is_unknown_named(const GumboElement& e, std::string_view name) {
    return e.tag == GUMBO_TAG_UNKNOWN && e.tag_namespace == GUMBO_NAMESPACE_HTML && element_name(e) == name;
}

bool is_dropped(const GumboElement& e) {
    return e.tag_namespace != GUMBO_NAMESPACE_HTML || is_dropped(e.tag) || is_unknown_named(e, "dialog");
}

bool is_allowed(const GumboElement& e) { return is_allowed(e.tag) || is_unknown_named(e, "picture"); }

// ---------------------------------------------------------------------------------------------
// The sanitizing writer

constexpr std::size_t max_depth = 100;  // deeper elements are replaced by their content

class Sanitizer {
public:
    explicit Sanitizer(const HtmlPolicy& policy) : policy_(policy) {}

    std::string run(const GumboVector& roots) {
        stack_.push_back(Frame{&roots, 0, {}, false, false, 0, 0});
        while (!stack_.empty()) {
            Frame& top = stack_.back();
            if (top.next >= top.children->length) {
                close(top);
                stack_.pop_back();
                continue;
            }
            visit(child_at(*top.children, top.next++));
        }
        return std::move(out_);
    }

private:
    struct Frame {
        const GumboVector* children;
        std::size_t next;
        std::string end_tag;     // written when the frame ends; empty for an unwrapped element
        bool raw_text;           // trusted script or style: text as it is
        bool drop_if_empty;      // an element that means nothing empty (a paragraph left with nothing)
        std::size_t start_at;    // output size before the start tag
        std::size_t content_at;  // output size after the start tag
    };

    void close(const Frame& f) {
        if (f.end_tag.empty()) return;
        if (f.drop_if_empty && out_.size() == f.content_at) {
            out_.resize(f.start_at);
            eat_newline_ = true;  // the line break cmark wrote after the block
            --depth_;
            return;
        }
        out_ += f.end_tag;
        --depth_;
    }

    void visit(const GumboNode* n) {
        const bool eat_newline = std::exchange(eat_newline_, false);
        switch (n->type) {
            case GUMBO_NODE_TEXT:
            case GUMBO_NODE_WHITESPACE:
            case GUMBO_NODE_CDATA: {
                std::string_view text = n->v.text.text;
                if (eat_newline && text.starts_with('\n')) text.remove_prefix(1);
                if (stack_.back().raw_text) {
                    out_ += text;
                } else {
                    append_escaped_text(out_, text);
                }
                break;
            }
            case GUMBO_NODE_ELEMENT:
            case GUMBO_NODE_TEMPLATE: element(n); break;
            case GUMBO_NODE_COMMENT: removed(); break;
            case GUMBO_NODE_DOCUMENT: break;
        }
    }

    // Something removed that stood on lines of its own (a comment, a script block) leaves no blank
    // line: the line break cmark wrote after it goes too.
    void removed() {
        if (out_.empty() || out_.back() == '\n') eat_newline_ = true;
    }

    Treatment treatment(const GumboNode* n) const {
        const GumboElement& e = n->v.element;
        if (policy_.trusted) return element_name(e).empty() ? Treatment::unwrap : Treatment::keep;
        if (is_dropped(e)) return Treatment::drop;
        if (e.tag == GUMBO_TAG_IFRAME) return Treatment::frame_link;
        if (!is_allowed(e)) return Treatment::unwrap;
        if (e.tag == GUMBO_TAG_SOURCE) {
            // A source means something only inside a picture that is written.
            const GumboNode* parent = n->parent;
            const bool in_picture = parent && parent->type == GUMBO_NODE_ELEMENT &&
                                    is_unknown_named(parent->v.element, "picture") && !stack_.back().end_tag.empty();
            return in_picture ? Treatment::keep : Treatment::drop;
        }
        return Treatment::keep;
    }

    void element(const GumboNode* n) {
        const GumboElement& e = n->v.element;
        Treatment t = treatment(n);
        if (t == Treatment::keep && depth_ >= max_depth && !is_void(e.tag)) t = Treatment::unwrap;
        switch (t) {
            case Treatment::drop: removed(); return;
            case Treatment::frame_link: frame_link(e); return;
            case Treatment::unwrap: push_children(e, {}, false, false); return;
            case Treatment::keep: break;
        }
        const std::string name = element_name(e);
        const std::size_t start = out_.size();
        out_ += '<';
        out_ += name;
        if (!(policy_.trusted ? trusted_attributes(e) : safe_attributes(e))) {
            // An image without a safe source, a link without a safe target: nothing to point at.
            out_.resize(start);
            if (e.tag == GUMBO_TAG_A) push_children(e, {}, false, false);
            return;
        }
        if (is_void(e.tag) && e.tag_namespace == GUMBO_NAMESPACE_HTML) {
            out_ += " />";
            return;
        }
        out_ += '>';
        // A line break right after <pre> is eaten by parsers: write one more to keep the text's own.
        if (e.tag == GUMBO_TAG_PRE && e.children.length > 0) {
            const GumboNode* first = child_at(e.children, 0);
            if ((first->type == GUMBO_NODE_TEXT || first->type == GUMBO_NODE_WHITESPACE) && first->v.text.text[0] == '\n')
                out_ += '\n';
        }
        const bool raw = policy_.trusted && (e.tag == GUMBO_TAG_SCRIPT || e.tag == GUMBO_TAG_STYLE ||
                                             e.tag == GUMBO_TAG_XMP || e.tag == GUMBO_TAG_IFRAME ||
                                             e.tag == GUMBO_TAG_NOEMBED || e.tag == GUMBO_TAG_NOFRAMES ||
                                             e.tag == GUMBO_TAG_NOSCRIPT || e.tag == GUMBO_TAG_PLAINTEXT);
        ++depth_;
        push_children(e, "</" + name + ">", raw, e.tag == GUMBO_TAG_P || e.tag == GUMBO_TAG_SPAN, start);
    }

    void push_children(const GumboElement& e, std::string end_tag, bool raw, bool drop_if_empty,
                       std::size_t start_at = 0) {
        stack_.push_back(Frame{&e.children, 0, std::move(end_tag), raw, drop_if_empty, start_at, out_.size()});
    }

    // The untrusted element's attributes; false when a required URL (a link's href, an image's src,
    // a source's srcset) is missing or unsafe.
    bool safe_attributes(const GumboElement& e) {
        bool has_target = e.tag != GUMBO_TAG_A && e.tag != GUMBO_TAG_IMG && e.tag != GUMBO_TAG_SOURCE;
        for (unsigned i = 0; i < e.attributes.length; ++i) {
            const auto* a = static_cast<const GumboAttribute*>(e.attributes.data[i]);
            if (a->attr_namespace != GUMBO_ATTR_NAMESPACE_NONE) continue;
            const std::string_view name = a->name;
            const std::string_view value = a->value;
            switch (attribute_kind(e.tag, name)) {
                case AttrKind::none: break;
                case AttrKind::text: write_attribute(name, value); break;
                case AttrKind::number:
                    if (is_number(value)) write_attribute(name, value);
                    break;
                case AttrKind::language_class:
                    if (is_language_class(value)) write_attribute(name, value);
                    break;
                case AttrKind::url:
                    if (const auto url = safe_url(value, policy_)) {
                        write_attribute(name, *url, true);
                        if (name == "href" || name == "src") has_target = true;
                    }
                    break;
                case AttrKind::srcset:
                    if (const std::string set = escaped_srcset(value, policy_); !set.empty()) {
                        out_ += " srcset=\"";
                        out_ += set;
                        out_ += '"';
                        has_target = true;
                    }
                    break;
            }
        }
        return has_target;
    }

    // Every attribute with a plain name; URLs resolved, nothing else changed.
    bool trusted_attributes(const GumboElement& e) {
        for (unsigned i = 0; i < e.attributes.length; ++i) {
            const auto* a = static_cast<const GumboAttribute*>(e.attributes.data[i]);
            const std::string name = attribute_name(*a);
            if (!is_plain_name(name)) continue;
            if (name == "srcset" || name == "imagesrcset") {
                out_ += ' ' + name + "=\"" + escaped_srcset(a->value, policy_) + '"';
            } else if (is_url_attribute(name)) {
                write_attribute(name, *safe_url(a->value, policy_), true);
            } else {
                write_attribute(name, a->value);
            }
        }
        return true;
    }

    void frame_link(const GumboElement& e) {
        const char* src = attribute(e, "src");
        const auto url = src ? safe_url(src, policy_) : std::nullopt;
        if (!url || url->empty()) return;
        out_ += "<a href=\"";
        append_escaped_url(out_, *url);
        out_ += "\">";
        const char* title = attribute(e, "title");
        append_escaped_text(out_, title && *title ? std::string_view(title) : std::string_view(*url));
        out_ += "</a>";
    }

    void write_attribute(std::string_view name, std::string_view value, bool url = false) {
        out_ += ' ';
        out_ += name;
        out_ += "=\"";
        if (url) {
            append_escaped_url(out_, value);
        } else {
            append_escaped_text(out_, value);
        }
        out_ += '"';
    }

    const HtmlPolicy& policy_;
    std::vector<Frame> stack_;
    std::string out_;
    std::size_t depth_ = 0;
    bool eat_newline_ = false;
};

// ---------------------------------------------------------------------------------------------
// Plain text

// Whitespace collapsed as a browser shows it; breaks requested by blocks and written only before
// the next text, so nothing trails.
class PlainText {
public:
    void text(std::string_view s, bool preformatted) {
        for (char c : s) {
            if (preformatted) {
                flush();
                out_ += c;
            } else if (is_html_space(c)) {
                space_ = true;
            } else {
                flush();
                if (space_ && !out_.empty() && out_.back() != '\n' && out_.back() != ' ') out_ += ' ';
                space_ = false;
                out_ += c;
            }
        }
    }

    // 1: the next text starts a line; 2: it comes after a blank line.
    void request_break(int newlines) {
        pending_ = std::max(pending_, newlines);
        space_ = false;
    }

    void line_break() {
        flush();
        out_ += '\n';
        space_ = false;
    }

    // Joins table cells; nothing before the row's first one.
    void separator(std::string_view s) {
        flush();
        if (!out_.empty() && out_.back() != '\n') out_ += s;
        space_ = false;
    }

    std::size_t size() const { return out_.size(); }
    std::string_view since(std::size_t at) const { return std::string_view(out_).substr(at); }

    std::string finish() {
        std::string result;
        std::size_t start = 0;
        while (start <= out_.size()) {
            std::size_t end = std::min(out_.find('\n', start), out_.size());
            std::string_view line(out_.data() + start, end - start);
            while (!line.empty() && is_html_space(line.back())) line.remove_suffix(1);
            if (start > 0) result += '\n';
            result.append(line);
            start = end + 1;
        }
        while (!result.empty() && result.back() == '\n') result.pop_back();
        return result;
    }

private:
    void flush() {
        if (pending_ > 0 && !out_.empty()) {
            while (!out_.empty() && out_.back() == ' ') out_.pop_back();
            const int have = out_.ends_with("\n\n") ? 2 : out_.ends_with('\n') ? 1
                                                                               : 0;
            for (int i = have; i < pending_; ++i) out_ += '\n';
        }
        pending_ = 0;
    }

    std::string out_;
    int pending_ = 0;
    bool space_ = false;
};

// The blank lines a block element stands apart by: 2 for paragraphs and the like, 1 for lines of a
// list, a table or a figure, 0 for inline elements.
int block_breaks(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_P:
        case GUMBO_TAG_H1:
        case GUMBO_TAG_H2:
        case GUMBO_TAG_H3:
        case GUMBO_TAG_H4:
        case GUMBO_TAG_H5:
        case GUMBO_TAG_H6:
        case GUMBO_TAG_UL:
        case GUMBO_TAG_OL:
        case GUMBO_TAG_DL:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_FIGURE:
        case GUMBO_TAG_DETAILS:
        case GUMBO_TAG_HR:
        case GUMBO_TAG_SECTION:
        case GUMBO_TAG_ARTICLE:
        case GUMBO_TAG_ASIDE:
        case GUMBO_TAG_HEADER:
        case GUMBO_TAG_FOOTER:
        case GUMBO_TAG_NAV:
        case GUMBO_TAG_MAIN:
        case GUMBO_TAG_ADDRESS:
        case GUMBO_TAG_CENTER: return 2;
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_LI:
        case GUMBO_TAG_TR:
        case GUMBO_TAG_DT:
        case GUMBO_TAG_DD:
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_FIGCAPTION:
        case GUMBO_TAG_SUMMARY: return 1;
        default: return 0;
    }
}

class TextWalker {
public:
    explicit TextWalker(const HtmlPolicy& policy) : policy_(policy) {}

    std::string run(const GumboVector& roots) {
        stack_.push_back(Frame{&roots, 0, GUMBO_TAG_UNKNOWN, 0, {}, 0, false});
        while (!stack_.empty()) {
            Frame& top = stack_.back();
            if (top.next >= top.children->length) {
                leave(top);
                stack_.pop_back();
                continue;
            }
            const GumboNode* n = child_at(*top.children, top.next++);
            if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
                out_.text(n->v.text.text, top.preformatted);
            } else if (is_element(n)) {
                enter(n->v.element);
            }
        }
        return out_.finish();
    }

private:
    struct Frame {
        const GumboVector* children;
        std::size_t next;
        GumboTag tag;
        int breaks;
        std::string link;      // an <a>'s URL, written after its label
        std::size_t label_at;  // where the label starts in the output
        bool preformatted;
    };

    void enter(const GumboElement& e) {
        if (e.tag_namespace != GUMBO_NAMESPACE_HTML) return;
        if (e.tag == GUMBO_TAG_IFRAME) {
            if (const char* src = attribute(e, "src"))
                if (const auto url = safe_url(src, policy_)) out_.text(*url, false);
            return;
        }
        if (is_dropped(e)) return;
        switch (e.tag) {
            case GUMBO_TAG_IMG:
                if (const char* alt = attribute(e, "alt")) out_.text(alt, false);
                return;
            case GUMBO_TAG_BR: out_.line_break(); return;
            case GUMBO_TAG_HR:
                out_.request_break(2);
                out_.text("---", false);
                out_.request_break(2);
                return;
            case GUMBO_TAG_TD:
            case GUMBO_TAG_TH: out_.separator(" | "); break;
            default: break;
        }
        const int breaks = is_unknown_named(e, "picture") ? 2 : block_breaks(e.tag);
        if (breaks > 0) out_.request_break(breaks);
        if (e.tag == GUMBO_TAG_LI) out_.text(list_marker() + " ", true);
        Frame f{&e.children, 0, e.tag, breaks, {}, out_.size(), stack_.back().preformatted || e.tag == GUMBO_TAG_PRE};
        if (e.tag == GUMBO_TAG_A)
            if (const char* href = attribute(e, "href"))
                if (const auto url = safe_url(href, policy_)) f.link = *url;
        if (e.tag == GUMBO_TAG_OL) {
            const char* start = attribute(e, "start");
            counters_.push_back(start && is_number(start) ? std::atoi(start) : 1);
        } else if (e.tag == GUMBO_TAG_UL) {
            counters_.push_back(0);
        }
        stack_.push_back(std::move(f));
    }

    void leave(const Frame& f) {
        if (!f.link.empty()) out_.text(link_text_suffix(out_.since(f.label_at), f.link), true);
        if ((f.tag == GUMBO_TAG_OL || f.tag == GUMBO_TAG_UL) && !counters_.empty()) counters_.pop_back();
        if (f.breaks > 0) out_.request_break(f.breaks);
    }

    // "- " in a bulleted list (and outside any list), "N. " in a numbered one.
    std::string list_marker() {
        if (counters_.empty() || counters_.back() == 0) return "-";
        return std::to_string(counters_.back()++) + ".";
    }

    const HtmlPolicy& policy_;
    std::vector<Frame> stack_;
    std::vector<int> counters_;  // per open list: the next number, 0 for a bulleted list
    PlainText out_;
};

std::string_view trim_html_space(std::string_view s) {
    while (!s.empty() && is_html_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_html_space(s.back())) s.remove_suffix(1);
    return s;
}

// ---------------------------------------------------------------------------------------------
// The shape cmark writes

// What an element of cmark's output is to the check: where it may stand and what it holds. Only
// these shapes are accepted, because for them the HTML5 tree builder keeps the nesting as written
// (no open <p> ever meets a block, tables hold only whitespace text, no link in a link).
enum class Kind { block,       // p, h1-h6, blockquote, ul, ol, pre, hr, table: in the root, a quote or an item
                  phrasing,    // em, strong, del, a, img, br, code: in a paragraph, heading, item, cell or phrasing
                  item,        // li: in a list
                  table_part,  // thead, tbody: in a table
                  row,         // tr: in a thead or tbody
                  cell };      // th, td: in a row

struct MarkdownElement {
    std::string_view name;
    Kind kind;
    bool holds_blocks;  // blockquote, li: blocks may stand in it
    bool holds_inline;  // p, h1-h6, li, th, td and phrasing: phrasing may stand in it
    bool void_element;  // br, hr, img: written as "<x ... />"
};

constexpr MarkdownElement markdown_elements[] = {
    {"p", Kind::block, false, true, false},
    {"h1", Kind::block, false, true, false},
    {"h2", Kind::block, false, true, false},
    {"h3", Kind::block, false, true, false},
    {"h4", Kind::block, false, true, false},
    {"h5", Kind::block, false, true, false},
    {"h6", Kind::block, false, true, false},
    {"blockquote", Kind::block, true, false, false},
    {"ul", Kind::block, false, false, false},
    {"ol", Kind::block, false, false, false},
    {"pre", Kind::block, false, false, false},
    {"hr", Kind::block, false, false, true},
    {"table", Kind::block, false, false, false},
    {"li", Kind::item, true, true, false},
    {"thead", Kind::table_part, false, false, false},
    {"tbody", Kind::table_part, false, false, false},
    {"tr", Kind::row, false, false, false},
    {"th", Kind::cell, false, true, false},
    {"td", Kind::cell, false, true, false},
    {"em", Kind::phrasing, false, true, false},
    {"strong", Kind::phrasing, false, true, false},
    {"del", Kind::phrasing, false, true, false},
    {"a", Kind::phrasing, false, true, false},
    {"code", Kind::phrasing, false, false, false},
    {"img", Kind::phrasing, false, false, true},
    {"br", Kind::phrasing, false, false, true},
};

const MarkdownElement* markdown_element(std::string_view name) {
    for (const MarkdownElement& e : markdown_elements)
        if (e.name == name) return &e;
    return nullptr;
}

// Text the parse gives back byte for byte and the sanitizer escapes back to the same bytes: only
// cmark's four entities, no raw < > ", no control character, C1 control or noncharacter (which
// HTML5 parsers report and may replace), valid UTF-8.
bool is_stable_text(std::string_view s) {
    std::size_t p = 0;
    while ((p = run_end<true, true, '&', '<', '>', '"', '\x7f'>(s, p)) < s.size()) {
        const auto b = static_cast<unsigned char>(s[p]);
        if (b < 0x80) {
            if (b == '&') {
                const std::string_view rest = s.substr(p + 1);
                std::size_t length = 0;
                for (std::string_view entity : {"amp;", "lt;", "gt;", "quot;"})
                    if (rest.starts_with(entity)) length = entity.size();
                if (length == 0) return false;
                p += 1 + length;
                continue;
            }
            if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7F || b == '<' || b == '>' || b == '"') return false;
            ++p;
            continue;
        }
        const auto [code_point, length] = decode_utf8(s, p);
        if (length == 0 || code_point <= 0x9F || (code_point >= 0xFDD0 && code_point <= 0xFDEF) ||
            (code_point & 0xFFFE) == 0xFFFE)
            return false;
        p += length;
    }
    return true;
}

// A URL attribute cmark wrote that the sanitizer writes again unchanged: only bytes that neither
// escaping touches, and already what safe_url makes of it.
bool is_stable_url(std::string_view url, const HtmlPolicy& policy) {
    static constexpr std::string_view safe = "-_.+!*(),%#@?=;:/$~";
    const bool plain = std::all_of(url.begin(), url.end(), [](char c) {
        return is_ascii_alpha(c) || is_ascii_digit(c) || safe.find(c) != std::string_view::npos;
    });
    if (!plain) return false;
    const auto resolved = safe_url(url, policy);
    return resolved && *resolved == url;
}

// The attributes cmark writes on an element, in its order, and whether the sanitizer keeps each
// value as it is.
bool is_stable_attribute(std::string_view element, std::string_view name, std::string_view value,
                         const HtmlPolicy& policy) {
    if (element == "a") {
        if (name == "href") return is_stable_url(value, policy);
        return name == "title" && is_stable_text(value);
    }
    if (element == "img") {
        if (name == "src") return is_stable_url(value, policy);
        return (name == "alt" || name == "title") && is_stable_text(value);
    }
    if (element == "ol") return name == "start" && is_number(value);
    if (element == "code") return name == "class" && is_language_class(value);
    if (element == "th" || element == "td") return name == "align" && is_stable_text(value);
    return false;
}

class MarkdownHtmlCheck {
public:
    MarkdownHtmlCheck(std::string_view html, const HtmlPolicy& policy) : html_(html), policy_(policy) {}

    bool run() {
        while (p_ < html_.size()) {
            const std::size_t lt = std::min(html_.find('<', p_), html_.size());
            if (lt > p_ && !text(html_.substr(p_, lt - p_))) return false;
            p_ = lt;
            if (p_ == html_.size()) break;
            if (!(p_ + 1 < html_.size() && html_[p_ + 1] == '/' ? end_tag() : start_tag())) return false;
        }
        return open_.empty();
    }

private:
    struct Open {
        const MarkdownElement* element;
        std::size_t content_at;  // just after its start tag
    };

    const MarkdownElement* current() const { return open_.empty() ? nullptr : open_.back().element; }

    bool text(std::string_view s) {
        const MarkdownElement* parent = current();
        // Text in a table outside its cells is moved out of the table by the parse.
        if (parent && (parent->name == "table" || parent->kind == Kind::table_part || parent->kind == Kind::row) &&
            !std::all_of(s.begin(), s.end(), is_html_space))
            return false;
        return is_stable_text(s);
    }

    // Whether `e` may stand in the current element as cmark nests them.
    bool may_open(const MarkdownElement& e) const {
        const MarkdownElement* parent = current();
        switch (e.kind) {
            case Kind::block: return !parent || parent->holds_blocks;
            case Kind::item: return parent && (parent->name == "ul" || parent->name == "ol");
            case Kind::table_part: return parent && parent->name == "table";
            case Kind::row: return parent && parent->kind == Kind::table_part;
            case Kind::cell: return parent && parent->kind == Kind::row;
            case Kind::phrasing:
                if (e.name == "code" && parent && parent->name == "pre") return true;
                if (e.name == "a" && links_ > 0) return false;
                return parent && parent->holds_inline;
        }
        return false;
    }

    bool start_tag() {
        std::size_t q = p_ + 1;
        while (q < html_.size() && (is_ascii_alpha(html_[q]) || is_ascii_digit(html_[q]))) ++q;
        const MarkdownElement* e = markdown_element(html_.substr(p_ + 1, q - p_ - 1));
        if (!e || !may_open(*e) || open_.size() >= max_depth) return false;
        // A link or image keeps its element only with its URL; the parse keeps only the first of
        // two attributes of one name.
        bool has_target = e->name != "a" && e->name != "img";
        std::vector<std::string_view> names;
        while (q < html_.size() && html_[q] == ' ' && q + 1 < html_.size() && is_ascii_alpha(html_[q + 1])) {
            const std::size_t name_at = q + 1;
            const std::size_t eq = html_.find("=\"", name_at);
            if (eq == std::string_view::npos) return false;
            const std::size_t close = html_.find('"', eq + 2);
            if (close == std::string_view::npos) return false;
            const std::string_view name = html_.substr(name_at, eq - name_at);
            if (!std::all_of(name.begin(), name.end(), is_ascii_alpha) ||
                !is_stable_attribute(e->name, name, html_.substr(eq + 2, close - eq - 2), policy_) ||
                std::find(names.begin(), names.end(), name) != names.end())
                return false;
            names.push_back(name);
            has_target = has_target || name == "href" || name == "src";
            q = close + 1;
        }
        if (!has_target) return false;
        const std::string_view end = e->void_element ? " />" : ">";
        if (html_.substr(q, end.size()) != end) return false;
        p_ = q + end.size();
        if (e->void_element) return true;
        // The parse drops a line break right after <pre>; cmark's is always inside the <code>.
        if (e->name == "pre" && !html_.substr(p_).starts_with("<code")) return false;
        if (e->name == "a") ++links_;
        open_.push_back(Open{e, p_});
        return true;
    }

    bool end_tag() {
        const std::size_t gt = html_.find('>', p_);
        if (gt == std::string_view::npos || open_.empty()) return false;
        const Open& top = open_.back();
        if (html_.substr(p_ + 2, gt - p_ - 2) != top.element->name) return false;
        // The sanitizer drops a paragraph left empty, with the line break after it.
        if (top.element->name == "p" && top.content_at == p_) return false;
        if (top.element->name == "a") --links_;
        open_.pop_back();
        p_ = gt + 1;
        return true;
    }

    std::string_view html_;
    const HtmlPolicy& policy_;
    std::size_t p_ = 0;
    std::vector<Open> open_;
    int links_ = 0;  // open <a> elements
};

}  // namespace

std::optional<std::string> safe_url(std::string_view url, const HtmlPolicy& policy) {
    while (!url.empty() && static_cast<unsigned char>(url.front()) <= ' ') url.remove_prefix(1);
    while (!url.empty() && static_cast<unsigned char>(url.back()) <= ' ') url.remove_suffix(1);
    std::string cleaned;
    for (char c : url)
        if (c != '\t' && c != '\n' && c != '\r') cleaned += c;
    std::string resolved = policy.base_url.empty() ? cleaned : resolve_url(policy.base_url, cleaned);
    if (policy.trusted) return resolved;
    const std::string scheme = scheme_of(resolved);
    if (scheme.empty() || scheme == "http" || scheme == "https" || scheme == "mailto") return resolved;
    return std::nullopt;
}

std::string sanitize_html(std::string_view html, const HtmlPolicy& policy) {
    const ParsedFragment parsed(html);
    return Sanitizer(policy).run(parsed.nodes());
}

bool is_sanitized_markdown_html(std::string_view html, const HtmlPolicy& policy) {
    return MarkdownHtmlCheck(html, policy).run();
}

std::string link_text_suffix(std::string_view label, std::string_view url) {
    label = trim_html_space(label);
    if (label.empty()) return std::string(url);
    for (std::string_view scheme : {"", "mailto:", "http://", "https://"})
        if (url.size() == scheme.size() + label.size() && url.starts_with(scheme) && url.ends_with(label)) return {};
    return " (" + std::string(url) + ")";
}

std::string html_text(std::string_view html, const HtmlPolicy& policy) {
    const ParsedFragment parsed(html);
    return TextWalker(policy).run(parsed.nodes());
}

InlineHtmlText inline_html_text(std::string_view tag, const HtmlPolicy& policy) {
    tag = trim_html_space(tag);
    if (tag.starts_with("</")) {
        const bool link = tag.size() >= 3 && ascii_lower(tag[2]) == 'a' && (tag.size() == 3 || !is_ascii_alpha(tag[3]));
        return {link ? InlineHtmlText::Kind::link_end : InlineHtmlText::Kind::text, {}};
    }
    const ParsedFragment parsed(tag);
    const GumboVector& nodes = parsed.nodes();
    if (nodes.length > 0 && child_at(nodes, 0)->type == GUMBO_NODE_ELEMENT) {
        const GumboElement& e = child_at(nodes, 0)->v.element;
        if (e.tag == GUMBO_TAG_BR) return {InlineHtmlText::Kind::line_break, {}};
        if (e.tag == GUMBO_TAG_A) {
            const char* href = attribute(e, "href");
            const auto url = href ? safe_url(href, policy) : std::nullopt;
            return {InlineHtmlText::Kind::link_start, url.value_or("")};
        }
    }
    return {InlineHtmlText::Kind::text, html_text(tag, policy)};
}

}  // namespace almanac
