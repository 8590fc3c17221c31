// Markdown rendering: Hugo shortcodes are expanded by a small scanner (a site's own through their
// templates), then cmark-gfm parses the result; link URLs are made absolute in the AST, cmark's HTML
// goes through the HTML sanitizer, and a walker of our own turns the same AST into plain text, a
// summary and a title.
#include "feeds/markdown.hpp"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "feeds/html_sanitizer.hpp"
#include "feeds/text.hpp"

namespace almanac {

namespace {

// ---------------------------------------------------------------------------------------------
// Small string helpers

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ascii_punct(char c) {
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::size_t count_newlines(std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// Runs of whitespace become one space; the ends are trimmed.
std::string collapse_whitespace(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    // Word by word, each appended whole after one space.
    for (std::size_t i = 0;;) {
        while (i < s.size() && is_space(s[i])) ++i;
        if (i == s.size()) break;
        std::size_t end = i;
        while (end < s.size() && !is_space(s[end])) ++end;
        if (!out.empty()) out += ' ';
        out.append(s.data() + i, end - i);
        i = end;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// URL resolution (RFC 3986 §5.2)

struct UriParts {
    std::string_view scheme;  // without ':'
    bool has_scheme = false;
    std::string_view authority;
    bool has_authority = false;
    std::string_view path;
    std::string_view query;  // without '?'
    bool has_query = false;
    std::string_view fragment;  // without '#'
    bool has_fragment = false;
};

// Splits a URI reference as Appendix B's regular expression does, with a valid scheme required.
UriParts split_uri(std::string_view s) {
    UriParts u;
    const std::size_t colon = s.find_first_of(":/?#");
    if (colon != std::string_view::npos && colon > 0 && s[colon] == ':' && is_alpha(s[0]) &&
        std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(colon),
                    [](char c) { return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.'; })) {
        u.has_scheme = true;
        u.scheme = s.substr(0, colon);
        s.remove_prefix(colon + 1);
    }
    if (s.starts_with("//")) {
        s.remove_prefix(2);
        const std::size_t end = std::min(s.find_first_of("/?#"), s.size());
        u.has_authority = true;
        u.authority = s.substr(0, end);
        s.remove_prefix(end);
    }
    if (const std::size_t hash = s.find('#'); hash != std::string_view::npos) {
        u.has_fragment = true;
        u.fragment = s.substr(hash + 1);
        s = s.substr(0, hash);
    }
    if (const std::size_t q = s.find('?'); q != std::string_view::npos) {
        u.has_query = true;
        u.query = s.substr(q + 1);
        s = s.substr(0, q);
    }
    u.path = s;
    return u;
}

// RFC 3986 §5.2.4, step by step.
std::string remove_dot_segments(std::string_view input) {
    std::string output;
    const auto drop_last_segment = [&output] {
        const std::size_t slash = output.rfind('/');
        output.resize(slash == std::string::npos ? 0 : slash);
    };
    while (!input.empty()) {
        if (input.starts_with("../")) {
            input.remove_prefix(3);
            // NOLINTNEXTLINE(bugprone-branch-clone): './' (step 2A) and '/./' (2B) both drop 2 bytes; kept as the RFC's steps
        } else if (input.starts_with("./")) {
            input.remove_prefix(2);
        } else if (input.starts_with("/./")) {
            input.remove_prefix(2);
        } else if (input == "/.") {
            input = "/";
        } else if (input.starts_with("/../")) {
            input.remove_prefix(3);
            drop_last_segment();
        } else if (input == "/..") {
            input = "/";
            drop_last_segment();
        } else if (input == "." || input == "..") {
            input = {};
        } else {
            const std::size_t end = std::min(input.find('/', 1), input.size());
            output.append(input.substr(0, end));
            input.remove_prefix(end);
        }
    }
    return output;
}

// ---------------------------------------------------------------------------------------------
// Shortcodes

enum class TagKind { open,
                     close,
                     self_closing,
                     escaped };

struct ShortcodeTag {
    std::size_t begin = 0;  // offset of "{{"
    std::size_t end = 0;    // offset just after "}}"
    TagKind kind = TagKind::open;
    std::string name;
    std::vector<ShortcodeArgument> args;
    std::string literal;                 // the escaped form's text
    std::optional<std::size_t> partner;  // index of the matching open/close tag
};

std::string_view named_arg(const ShortcodeTag& t, std::string_view key) {
    for (const auto& a : t.args)
        if (a.key == key) return a.value;
    return {};
}

std::string_view positional_arg(const ShortcodeTag& t, std::size_t index) {
    for (const auto& a : t.args) {
        if (!a.key.empty()) continue;
        if (index == 0) return a.value;
        --index;
    }
    return {};
}

std::string_view arg_or(const ShortcodeTag& t, std::string_view key, std::size_t index) {
    const std::string_view v = named_arg(t, key);
    return v.empty() ? positional_arg(t, index) : v;
}

// Hugo's tag grammar: "{{<" ["/"] name args ["/"] ">}}" (or with "%"), quoted arguments may hold
// anything, "{{</*" … "*/>}}" is a comment-escape. The scanner never reads past the end.
class TagScanner {
public:
    explicit TagScanner(std::string_view s) : s_(s) {}

    enum class Result { tag,
                        not_a_tag,
                        unclosed };

    // Reads the tag whose "{{" is at `at` into `tag`.
    Result scan(std::size_t at, ShortcodeTag& tag) {
        const char delim = s_[at + 2];
        close_ = delim == '<' ? ">}}" : "%}}";
        p_ = at + 3;
        tag.begin = at;
        if (at_text("/*")) {
            std::string terminator = "*/";
            terminator += close_;
            const std::size_t q = s_.find(terminator, p_ + 2);
            if (q == std::string_view::npos) return Result::unclosed;
            tag.kind = TagKind::escaped;
            tag.literal = std::string("{{") + delim;
            tag.literal.append(s_.substr(p_ + 2, q - (p_ + 2)));
            tag.literal.append(close_);
            tag.end = q + terminator.size();
            return Result::tag;
        }
        skip_spaces();
        if (p_ >= s_.size()) return Result::unclosed;
        bool closing = false;
        if (s_[p_] == '/' && !at_self_close()) {
            closing = true;
            ++p_;
            skip_spaces();
        }
        while (p_ < s_.size() && is_name_char(s_[p_]) && !at_self_close()) tag.name += s_[p_++];
        if (tag.name.empty()) return Result::not_a_tag;
        for (;;) {
            skip_spaces();
            if (p_ >= s_.size()) return Result::unclosed;
            if (at_text(close_)) {
                tag.kind = closing ? TagKind::close : TagKind::open;
                tag.end = p_ + close_.size();
                return Result::tag;
            }
            if (at_self_close()) {
                tag.kind = closing ? TagKind::close : TagKind::self_closing;
                tag.end = p_ + 1 + close_.size();
                return Result::tag;
            }
            ShortcodeArgument arg;
            if (!read_token(arg.value, false)) return Result::unclosed;
            if (p_ < s_.size() && s_[p_] == '=') {
                ++p_;
                arg.key = std::move(arg.value);
                arg.value.clear();
                if (!read_token(arg.value, true)) return Result::unclosed;
            }
            tag.args.push_back(std::move(arg));
        }
    }

private:
    static bool is_name_char(char c) {
        return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '/' ||
               (static_cast<unsigned char>(c) >= 0x80);
    }

    bool at_text(std::string_view t) const { return s_.substr(p_).starts_with(t); }
    bool at_self_close() const { return p_ < s_.size() && s_[p_] == '/' && s_.substr(p_ + 1).starts_with(close_); }

    void skip_spaces() {
        while (p_ < s_.size() && is_space(s_[p_])) ++p_;
    }

    // A quoted ("…" with backslash escapes, or `…` raw) or bare token; false at an unterminated quote.
    bool read_token(std::string& out, bool value) {
        if (p_ < s_.size() && (s_[p_] == '"' || s_[p_] == '`')) {
            const char quote = s_[p_++];
            while (p_ < s_.size() && s_[p_] != quote) {
                if (quote == '"' && s_[p_] == '\\' && p_ + 1 < s_.size()) ++p_;
                out += s_[p_++];
            }
            if (p_ >= s_.size()) return false;
            ++p_;
            return true;
        }
        while (p_ < s_.size() && !is_space(s_[p_]) && !at_text(close_) && !at_self_close() &&
               (value || s_[p_] != '=') && s_[p_] != '"' && s_[p_] != '`')
            out += s_[p_++];
        return true;
    }

    std::string_view s_;
    std::string_view close_;
    std::size_t p_ = 0;
};

// Line and column of byte offsets, for offsets visited in increasing order.
class LineCounter {
public:
    LineCounter(std::string_view s, int first_line, int first_column = 1)
        : s_(s), line_(first_line), column_(first_column) {}

    std::pair<int, int> at(std::size_t pos) {
        for (; pos_ < pos && pos_ < s_.size(); ++pos_) {
            if (s_[pos_] == '\n') {
                ++line_;
                column_ = 1;
            } else if (!is_utf8_continuation(s_[pos_])) {
                ++column_;
            }
        }
        return {line_, column_};
    }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
    int line_;
    int column_;  // counted in code points
};

// A URL for a Markdown destination: inside <…>, where spaces are allowed and only <, > and \ need
// escaping; line breaks cannot appear there at all.
std::string markdown_destination(std::string_view url) {
    std::string out = "<";
    for (char c : url) {
        if (c == '<' || c == '>' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n' || c == '\r') {
            out += c == '\n' ? "%0A" : "%0D";
        } else {
            out += c;
        }
    }
    out += '>';
    return out;
}

// Text that Markdown must show literally: every ASCII punctuation character escaped.
std::string markdown_literal(std::string_view text) {
    std::string out;
    for (char c : collapse_whitespace(text)) {
        if (is_ascii_punct(c)) out += '\\';
        out += c;
    }
    return out;
}

// Percent-encodes all but RFC 3986 unreserved characters: ids and user names go into URLs as is.
std::string url_component(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            const auto b = static_cast<unsigned char>(c);
            out += '%';
            out += hex[b >> 4];
            out += hex[b & 0xF];
        }
    }
    return out;
}

// `url` is made of encoded components, so the autolink form <…> holds it when there is no label.
std::string markdown_link(std::string_view label, const std::string& url) {
    if (label.empty()) return "<" + url + ">";
    return "[" + markdown_literal(label) + "](" + markdown_destination(url) + ")";
}

// A code fence for highlight: longer than any run of backticks in the whole body, so no run inside
// can close it (one scan serves every highlight), and at most 64 long, so that a body full of
// backticks cannot multiply its size.
std::string code_fence(std::string_view body) {
    if (body.find('`') == std::string_view::npos) return "```";  // most bodies: found by memchr
    std::size_t longest = 0;
    std::size_t run = 0;
    for (char c : body) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    return std::string(std::clamp<std::size_t>(longest + 1, 3, 64), '`');
}

struct Replacement {
    std::string text;
    bool own_lines = false;  // must stand on lines of its own (a fence, a block)
    std::optional<std::string> warning;
};

// A site's shortcodes nest (a card holding a button): each level's inner text is expanded on its own,
// down to this depth; and .Inner written twice at each level must not multiply a file's size.
constexpr int max_template_depth = 8;
constexpr std::size_t min_template_budget = std::size_t{4} * 1024 * 1024;

class ShortcodeExpander {
public:
    // `first_line` and `first_column` place the body's first character in the file (a nested
    // shortcode's content starts after its opening tag).
    ShortcodeExpander(std::string_view body, const std::string& path, int first_line, int first_column,
                      const ShortcodeDefinitions& defs, int depth, std::size_t& budget)
        : body_(body), path_(path), first_line_(first_line), first_column_(first_column), fence_(code_fence(body)),
          defs_(defs), depth_(depth), budget_(budget) {}

    ExpandedShortcodes run() {
        const std::optional<std::size_t> unclosed_at = scan();
        pair_tags();
        ExpandedShortcodes result;
        LineCounter lines(body_, first_line_, first_column_);
        std::size_t cursor = 0;
        for (std::size_t i = 0; i < tags_.size(); ++i) {
            const ShortcodeTag& tag = tags_[i];
            if (const ShortcodeDefinition* def = definition(tag)) {
                i = expand_template(result, lines, cursor, i, *def);
                continue;
            }
            Replacement rep = replacement(i);
            if (rep.warning) warn(result.diagnostics, lines, tag.begin, *rep.warning);
            place(result.markdown, cursor, tag, rep);
        }
        result.markdown.append(body_.substr(cursor));
        if (unclosed_at)
            warn(result.diagnostics, lines, *unclosed_at,
                 "unclosed shortcode: '" + std::string(body_.substr(*unclosed_at, 3)) +
                     "' without its closing delimiter; the text from here on is left as it is");
        return result;
    }

private:
    // The site's definition of an opening or self-closing tag's name, if it declares one.
    const ShortcodeDefinition* definition(const ShortcodeTag& tag) const {
        if (tag.kind != TagKind::open && tag.kind != TagKind::self_closing) return nullptr;
        for (const ShortcodeDefinition& d : defs_)
            if (d.name == tag.name && d.parsed) return &d;
        return nullptr;
    }

    // Replaces tag `index` (with its content and closing tag when paired) by the template's output;
    // returns the index of the last tag used.
    std::size_t expand_template(ExpandedShortcodes& result, LineCounter& lines, std::size_t& cursor, std::size_t index,
                                const ShortcodeDefinition& def) {
        const ShortcodeTag& tag = tags_[index];
        const std::size_t last = tag.partner.value_or(index);
        std::string inner;
        if (tag.partner) {
            const std::string_view inside = body_.substr(tag.end, tags_[last].begin - tag.end);
            if (depth_ >= max_template_depth) {
                warn(result.diagnostics, lines, tag.begin,
                     "shortcode '" + tag.name + "' nested deeper than " + std::to_string(max_template_depth) +
                         " levels: its content is kept without it");
                inner = std::string(inside);
            } else {
                const auto [inner_line, inner_column] = lines.at(tag.end);
                ExpandedShortcodes nested =
                    ShortcodeExpander(inside, path_, inner_line, inner_column, defs_, depth_ + 1, budget_).run();
                result.diagnostics.insert(result.diagnostics.end(), nested.diagnostics.begin(), nested.diagnostics.end());
                inner = std::move(nested.markdown);
            }
        }
        Replacement rep;
        rep.text = render_shortcode(*def.parsed, tag.args, inner);
        if (rep.text.size() > budget_) {
            rep.warning = "shortcode '" + tag.name + "' removed: the site's shortcodes made this file too large";
            rep.text.clear();
        } else {
            budget_ -= rep.text.size();
        }
        // Markdown blocks in the output (a heading, a list, an HTML block) need lines of their own.
        rep.own_lines = rep.text.find('\n') != std::string::npos;
        if (rep.warning) warn(result.diagnostics, lines, tag.begin, *rep.warning);
        place(result.markdown, cursor, tag.begin, tags_[last].end, tag.kind == TagKind::escaped, rep);
        return last;
    }

    // Collects the tags in order; returns where an unclosed one starts. Scanning stops there: every
    // later "{{<" would scan to the end again, and Hugo itself rejects such a page.
    std::optional<std::size_t> scan() {
        TagScanner scanner(body_);
        std::size_t p = 0;
        while ((p = body_.find("{{", p)) != std::string_view::npos) {
            if (p + 2 >= body_.size() || (body_[p + 2] != '<' && body_[p + 2] != '%')) {
                ++p;
                continue;
            }
            ShortcodeTag tag;
            switch (scanner.scan(p, tag)) {
                case TagScanner::Result::unclosed: return p;
                case TagScanner::Result::not_a_tag: p += 3; break;
                case TagScanner::Result::tag:
                    p = tag.end;
                    tags_.push_back(std::move(tag));
                    break;
            }
        }
        return std::nullopt;
    }

    // A closing tag pairs with the nearest open tag of its name; open tags left between them stay
    // unpaired (Hugo's {{< spacer >}} inside a card). Each tag is pushed and popped once: linear.
    void pair_tags() {
        std::vector<std::size_t> open;
        std::unordered_map<std::string, std::size_t> open_count;
        for (std::size_t i = 0; i < tags_.size(); ++i) {
            ShortcodeTag& tag = tags_[i];
            if (tag.kind == TagKind::open) {
                open.push_back(i);
                ++open_count[tag.name];
            } else if (tag.kind == TagKind::close && open_count[tag.name] > 0) {
                while (!open.empty()) {
                    const std::size_t top = open.back();
                    open.pop_back();
                    --open_count[tags_[top].name];
                    if (tags_[top].name == tag.name) {
                        tags_[top].partner = i;
                        tag.partner = top;
                        break;
                    }
                }
            }
        }
    }

    Replacement replacement(std::size_t index) const {
        const ShortcodeTag& tag = tags_[index];
        const std::string& name = tag.name;
        const bool paired = tag.partner.has_value();
        switch (tag.kind) {
            case TagKind::escaped: return {tag.literal, false, std::nullopt};
            case TagKind::close:
                if (!paired) return {{}, false, "closing shortcode '/" + name + "' without an opening one removed"};
                if (name == "highlight") return {fence_, true, std::nullopt};
                return {};
            case TagKind::open:
            case TagKind::self_closing: break;
        }
        if (name == "highlight" || name == "details") {
            if (!paired) return {{}, false, "shortcode '" + name + "' without its closing tag removed"};
            if (name == "highlight") {
                std::string lang;
                for (char c : positional_arg(tag, 0))
                    if (!is_space(c) && c != '`') lang += c;
                return {fence_ + lang, true, std::nullopt};
            }
            std::string summary = collapse_whitespace(named_arg(tag, "summary"));
            if (summary.empty()) summary = "Details";
            return {"\n**" + summary + "**\n", true, std::nullopt};
        }
        if (name == "spacer" || name == "param") return {};
        if (name == "figure") return figure(tag);
        if (name == "youtube" || name == "vimeo" || name.starts_with("youtube_") || name.starts_with("vimeo_")) {
            const std::string_view id = arg_or(tag, "id", 0);
            if (id.empty()) return missing(name, "an id");
            const std::string url = name.starts_with("youtube") ? "https://www.youtube.com/watch?v=" + url_component(id)
                                                                : "https://vimeo.com/" + url_component(id);
            return {markdown_link(named_arg(tag, "title"), url), false, std::nullopt};
        }
        if (name == "gist") {
            const std::string_view user = arg_or(tag, "user", 0);
            const std::string_view id = arg_or(tag, "id", 1);
            if (user.empty() || id.empty()) return missing(name, "a user and an id");
            return {markdown_link({}, "https://gist.github.com/" + url_component(user) + "/" + url_component(id)),
                    false, std::nullopt};
        }
        if (name == "x" || name == "tweet") {
            const std::string_view id = arg_or(tag, "id", 0);
            // x.com/i/status/ID finds a post without its author, as Hugo's old `tweet ID` form needs.
            const std::string_view user = named_arg(tag, "user").empty() ? "i" : named_arg(tag, "user");
            if (id.empty()) return missing(name, "an id");
            return {markdown_link({}, "https://x.com/" + url_component(user) + "/status/" + url_component(id)), false,
                    std::nullopt};
        }
        if (name == "qr") return {std::string(arg_or(tag, "text", 0)), false, std::nullopt};
        if (name == "ref" || name == "relref") {
            // Used inside a link destination ([x]({{< ref "p" >}})): only spaces would break it.
            std::string target;
            for (char c : arg_or(tag, "path", 0)) target += is_space(c) ? std::string("%20") : std::string(1, c);
            return {target, false, std::nullopt};
        }
        if (paired) return {};
        if (auto kept = fallback(tag)) return *kept;
        return {{}, false, "unknown shortcode '" + name + "' removed (its arguments are not rendered)"};
    }

    // An unknown theme shortcode that points somewhere (a button, an image, an embed) keeps its
    // destination as a plain link or image: the reader loses the styling, not the target.
    static std::optional<Replacement> fallback(const ShortcodeTag& tag) {
        for (const std::string_view key : {"link", "href", "url", "src"}) {
            const std::string_view target = named_arg(tag, key);
            if (target.empty()) continue;
            std::string ext;
            if (const auto dot = target.rfind('.'); dot != std::string_view::npos)
                for (char c : target.substr(dot + 1)) ext += to_lower(c);
            const bool image = key == "src" && (ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "gif" ||
                                                ext == "svg" || ext == "webp" || ext == "avif");
            std::string_view label;
            for (const std::string_view l : {"text", "title", "label", "alt", "name", "caption"})
                if (label.empty()) label = named_arg(tag, l);
            const std::string warning = "unknown shortcode '" + tag.name + "' rendered as a plain " +
                                        (image ? "image" : "link") + " to its " + std::string(key) + "= argument";
            if (image)
                return Replacement{"![" + markdown_literal(label) + "](" + markdown_destination(target) + ")", false,
                                   warning};
            return Replacement{markdown_link(label, std::string(target)), false, warning};
        }
        return std::nullopt;
    }

    static Replacement missing(const std::string& name, std::string_view what) {
        return {{}, false, "shortcode '" + name + "' without " + std::string(what) + " removed"};
    }

    static Replacement figure(const ShortcodeTag& tag) {
        const std::string_view src = named_arg(tag, "src");
        if (src.empty()) return missing(tag.name, "src");
        std::string md = "![" + markdown_literal(named_arg(tag, "alt")) + "](" + markdown_destination(src) + ")";
        if (const std::string_view link = named_arg(tag, "link"); !link.empty())
            md = "[" + md + "](" + markdown_destination(link) + ")";
        std::string_view caption = named_arg(tag, "caption");
        if (caption.empty()) caption = named_arg(tag, "title");
        // Hugo renders the caption as Markdown; a hard break keeps it under the image.
        if (!caption.empty()) md += "\\\n" + collapse_whitespace(caption);
        return {md, false, std::nullopt};
    }

    // Writes the text before `tag` and its replacement. A tag alone on its line takes the whole line,
    // so that "{{< card >}}" before "## Title" leaves an empty line and the heading stays a heading;
    // the tag's own line breaks are kept so that later lines keep their numbers.
    void place(std::string& out, std::size_t& cursor, const ShortcodeTag& tag, const Replacement& rep) const {
        place(out, cursor, tag.begin, tag.end, tag.kind == TagKind::escaped, rep);
    }

    // The same for the text from `tag_begin` to `tag_end` (a paired tag with its content).
    void place(std::string& out, std::size_t& cursor, std::size_t tag_begin, std::size_t tag_end, bool escaped,
               const Replacement& rep) const {
        std::size_t line_begin = tag_begin;
        while (line_begin > cursor && (body_[line_begin - 1] == ' ' || body_[line_begin - 1] == '\t')) --line_begin;
        std::size_t line_end = tag_end;
        while (line_end < body_.size() && (body_[line_end] == ' ' || body_[line_end] == '\t' || body_[line_end] == '\r'))
            ++line_end;
        const bool alone = (line_begin == 0 || body_[line_begin - 1] == '\n') &&
                           (line_end == body_.size() || body_[line_end] == '\n') && !escaped;
        std::string text = rep.text;
        if (rep.own_lines && !alone) text = "\n" + text + "\n";
        const std::size_t begin = alone ? line_begin : tag_begin;
        const std::size_t end = alone ? line_end : tag_end;
        out.append(body_.substr(cursor, begin - cursor));
        out += text;
        const std::size_t had = count_newlines(body_.substr(tag_begin, tag_end - tag_begin));
        const std::size_t has = count_newlines(text);
        if (had > has) out.append(had - has, '\n');
        cursor = end;
    }

    void warn(Diagnostics& ds, LineCounter& lines, std::size_t pos, std::string message) const {
        const auto [line, column] = lines.at(pos);
        ds.push_back(Diagnostic{path_, line, column, Severity::warning, std::move(message)});
    }

    std::string_view body_;
    const std::string& path_;
    int first_line_;
    int first_column_;
    std::string fence_;
    const ShortcodeDefinitions& defs_;
    int depth_;
    std::size_t& budget_;  // bytes the site's templates may still write, shared by every level
    std::vector<ShortcodeTag> tags_;
};

// ---------------------------------------------------------------------------------------------
// cmark-gfm

struct ParserFree {
    void operator()(cmark_parser* p) const { cmark_parser_free(p); }
};
struct NodeFree {
    void operator()(cmark_node* n) const { cmark_node_free(n); }
};
struct IterFree {
    void operator()(cmark_iter* i) const { cmark_iter_free(i); }
};

// cmark's allocations while one document is parsed and rendered, taken from a bump arena of the
// thread and given back all at once when the document is done (CmarkArena::Document). cmark makes,
// grows and frees a node, a buffer or a list cell for nearly every run of characters, and those
// malloc and free calls were 3% of a 10k build. A cmark_mem has no context pointer: the arena is
// thread_local, which is right because a document is parsed, walked and rendered on one thread.
class CmarkArena {
public:
    // While one lives, the thread's cmark allocations (through `mem`) are from the arena; when the
    // outermost one ends, all of them are released. Every cmark object must be gone by then.
    class Document {
    public:
        Document() { ++arena().documents_; }
        ~Document() {
            if (--arena().documents_ == 0) arena().reset();
        }
        Document(const Document&) = delete;
        Document& operator=(const Document&) = delete;
    };

    static cmark_mem* mem() {
        static cmark_mem m{&CmarkArena::calloc, &CmarkArena::realloc, &CmarkArena::free};
        return &m;
    }

private:
    // Each block starts after a header with its size (for realloc), 16 bytes to keep malloc's alignment.
    static constexpr std::size_t header = 16;
    static constexpr std::size_t first_chunk = 256 * 1024;  // most documents need no second one
    static constexpr std::size_t kept_limit = 1024 * 1024;  // a thread keeps no larger chunk between documents
    struct Chunk {
        std::unique_ptr<char[]> bytes;
        std::size_t size = 0;
    };

    static CmarkArena& arena() {
        thread_local CmarkArena a;
        return a;
    }

    static std::size_t rounded(std::size_t n) { return (n + header - 1) / header * header; }

    // cmark's own allocator aborts when memory runs out (or a size overflows); so does this one.
    char* allocate(std::size_t size) {
        if (size > (std::size_t{1} << 40)) std::abort();
        const std::size_t need = header + rounded(size);
        if (chunks_.empty() || chunks_.back().size - used_ < need) {
            const std::size_t last = chunks_.empty() ? first_chunk / 2 : chunks_.back().size;
            Chunk c;
            c.size = std::max(2 * last, need);
            c.bytes.reset(new (std::nothrow) char[c.size]);
            if (!c.bytes) std::abort();
            chunks_.push_back(std::move(c));
            used_ = 0;
        }
        char* block = chunks_.back().bytes.get() + used_ + header;
        used_ += need;
        std::memcpy(block - header, &size, sizeof size);
        last_ = block;
        return block;
    }

    static std::size_t size_of(const char* block) {
        std::size_t size = 0;
        std::memcpy(&size, block - header, sizeof size);
        return size;
    }

    static void* calloc(std::size_t count, std::size_t size) {
        if (size != 0 && count > SIZE_MAX / size) std::abort();
        char* block = arena().allocate(count * size);
        std::memset(block, 0, count * size);
        return block;
    }

    static void* realloc(void* p, std::size_t size) {
        CmarkArena& a = arena();
        if (!p) return a.allocate(size);
        char* block = static_cast<char*>(p);
        const std::size_t old = size_of(block);
        // The last block grows where it is when its chunk has room: a growing buffer is not copied.
        if (block == a.last_) {
            const std::size_t start = static_cast<std::size_t>(block - header - a.chunks_.back().bytes.get());
            if (const std::size_t need = header + rounded(size); a.chunks_.back().size - start >= need) {
                a.used_ = start + need;
                std::memcpy(block - header, &size, sizeof size);
                return block;
            }
        }
        char* moved = a.allocate(size);
        std::memcpy(moved, block, std::min(old, size));
        return moved;
    }

    static void free(void*) {}

    // Back to empty, keeping the largest chunk (up to 1 MiB) for the next document.
    void reset() {
        if (chunks_.size() > 1 || (!chunks_.empty() && chunks_.back().size > kept_limit)) {
            auto largest = std::max_element(chunks_.begin(), chunks_.end(),
                                            [](const Chunk& x, const Chunk& y) { return x.size < y.size; });
            Chunk kept = largest->size <= kept_limit ? std::move(*largest) : Chunk{};
            chunks_.clear();
            if (kept.bytes) chunks_.push_back(std::move(kept));
        }
        used_ = 0;
        last_ = nullptr;
    }

    int documents_ = 0;          // Document objects alive on this thread
    std::vector<Chunk> chunks_;  // the last one is being filled
    std::size_t used_ = 0;       // bytes of the last chunk in use
    char* last_ = nullptr;       // the block allocated last
};

// Frees cmark's HTML with the allocator that made it (the arena's free does nothing: its document
// releases it, CmarkArena::Document).
struct BufferFree {
    cmark_mem* mem;
    void operator()(char* s) const { mem->free(s); }
};

// Markdown up to this size is parsed with the thread's arena; larger documents (a long newsletter)
// with cmark's own allocator, which reuses what a parse frees: the arena holds every block until the
// document ends, and for seven documents of 256 KB it took 22 MB more and 30% longer (fresh pages).
constexpr std::size_t arena_markdown_limit = 32 * 1024;

cmark_mem* cmark_allocator_for(std::string_view markdown) {
    return markdown.size() <= arena_markdown_limit ? CmarkArena::mem() : cmark_get_default_mem_allocator();
}

using ParserPtr = std::unique_ptr<cmark_parser, ParserFree>;
using NodePtr = std::unique_ptr<cmark_node, NodeFree>;
using IterPtr = std::unique_ptr<cmark_iter, IterFree>;
using BufferPtr = std::unique_ptr<char, BufferFree>;

void remove_node(cmark_node* node) {
    cmark_node_unlink(node);
    cmark_node_free(node);
}

// A parser for `markdown`, allocating with `mem`.
ParserPtr make_parser(std::string_view markdown, cmark_mem* mem) {
    // The extension registry is global and not locked: register once, thread-safely.
    static const bool registered = (cmark_gfm_core_extensions_ensure_registered(), true);
    (void)registered;
    // VALIDATE_UTF8 replaces invalid sequences and NUL bytes with U+FFFD, so every output is valid
    // UTF-8. Text that has neither (every content file: normalize_text has checked it) is copied
    // as it is by that pass (utf8.c rejects exactly what decode_utf8 does), so it is left out there.
    const bool valid = find_invalid_utf8(markdown) == std::string_view::npos && markdown.find('\0') == std::string_view::npos;
    ParserPtr parser{cmark_parser_new_with_mem(valid ? CMARK_OPT_DEFAULT : CMARK_OPT_VALIDATE_UTF8, mem)};
    // No "tagfilter": raw HTML goes through the sanitizer, which removes what tagfilter escapes.
    for (const char* name : {"table", "autolink", "strikethrough"})
        if (cmark_syntax_extension* ext = cmark_find_syntax_extension(name))
            cmark_parser_attach_syntax_extension(parser.get(), ext);
    return parser;
}

std::string_view literal_of(cmark_node* n) {
    const char* s = cmark_node_get_literal(n);
    return s ? std::string_view(s) : std::string_view();
}

std::string_view url_of(cmark_node* n) {
    const char* s = cmark_node_get_url(n);
    return s ? std::string_view(s) : std::string_view();
}

bool type_is(cmark_node* n, std::string_view type) {
    const char* s = cmark_node_get_type_string(n);
    return s && type == s;
}

// The text of a node's inlines, without URLs or markup: for titles, summaries and link labels.
// Images count by their alt text only when `with_images`.
std::string inline_text(cmark_node* node, bool with_images) {
    std::string out;
    int image_depth = 0;
    IterPtr it{cmark_iter_new(node)};
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
        cmark_node* n = cmark_iter_get_node(it.get());
        const cmark_node_type type = cmark_node_get_type(n);
        if (type == CMARK_NODE_IMAGE) image_depth += ev == CMARK_EVENT_ENTER ? 1 : -1;
        if (ev != CMARK_EVENT_ENTER || (image_depth > 0 && !with_images)) continue;
        switch (type) {
            case CMARK_NODE_TEXT:
            case CMARK_NODE_CODE: out.append(literal_of(n)); break;
            case CMARK_NODE_SOFTBREAK:
            case CMARK_NODE_LINEBREAK: out += ' '; break;
            default: break;
        }
    }
    return out;
}

// Replaces a link or image by its content: the text stays, the URL goes.
void unwrap(cmark_node* node) {
    while (cmark_node* child = cmark_node_first_child(node))
        if (!cmark_node_insert_before(node, child)) break;
    remove_node(node);
}

// Makes link and image URLs absolute and, unless raw HTML is trusted, unwraps those whose scheme
// the HTML sanitizer would remove, so that the plain text does not show them either. The tree is
// only changed after the walk: cmark iterators do not survive edits around them.
void resolve_links(cmark_node* root, const HtmlPolicy& policy) {
    std::vector<cmark_node*> links;
    {
        IterPtr it{cmark_iter_new(root)};
        cmark_event_type ev;
        while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
            if (ev != CMARK_EVENT_ENTER) continue;
            cmark_node* n = cmark_iter_get_node(it.get());
            const cmark_node_type type = cmark_node_get_type(n);
            if (type == CMARK_NODE_LINK || type == CMARK_NODE_IMAGE) links.push_back(n);
        }
    }
    for (cmark_node* n : links) {
        if (const auto url = safe_url(url_of(n), policy)) {
            cmark_node_set_url(n, url->c_str());
        } else {
            unwrap(n);
        }
    }
}

// Plain text output. Prefixes ("> " for quotes, indentation under list items) apply to every line;
// a list item's marker replaces its indentation on the item's first line. Breaks between blocks are
// requested and only written before the next text, so nothing trails the last block.
class TextWriter {
public:
    // A blank line takes the prefix of where it was requested: between a quote's paragraph and a
    // nested quote it belongs to the outer quote only.
    void request_break(int newlines) {
        if (out_.empty() || newlines < pending_) return;
        pending_ = newlines;
        break_prefix_ = prefix_;
    }

    // False when the prefix is already at its longest: deeper levels are flattened, since a prefix
    // on every line would make the text grow with the square of the nesting depth.
    bool push_prefix(std::string_view p) {
        saved_.push_back(prefix_.size());
        if (prefix_.size() + p.size() > max_prefix) return false;
        prefix_ += p;
        return true;
    }

    void pop_prefix() {
        prefix_.resize(saved_.back());
        saved_.pop_back();
    }

    // The marker shows instead of the indentation just pushed, on the next line written.
    void set_marker(std::string marker) { markers_.push_back({prefix_.size() - marker.size(), std::move(marker)}); }

    // An empty item still shows its marker.
    void flush_markers() {
        if (markers_.empty()) return;
        flush_breaks();
        start_line();
    }

    void write(std::string_view s) {
        flush_breaks();
        // Line by line, each appended whole after its prefix (byte by byte, this was a tenth of
        // reading a site).
        while (!s.empty()) {
            const std::size_t end = s.find('\n');
            if (const std::string_view line = s.substr(0, end); !line.empty()) {
                start_line();
                out_ += line;
            }
            if (end == std::string_view::npos) break;
            out_ += '\n';
            at_line_start_ = true;
            s.remove_prefix(end + 1);
        }
    }

    void newline() {
        flush_breaks();
        out_ += '\n';
        at_line_start_ = true;
    }

    // Trailing spaces trimmed, at most one blank line in a row, no blank lines at either end.
    std::string finish() const {
        // Never longer than the text it trims: reserved once, the item keeps no doubled capacity
        // (a fifth of a large site's memory was such slack).
        std::string result;
        result.reserve(out_.size());
        std::size_t blank_run = 0;
        std::size_t start = 0;
        while (start <= out_.size()) {
            std::size_t end = out_.find('\n', start);
            if (end == std::string::npos) end = out_.size();
            std::string_view line(out_.data() + start, end - start);
            while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
            if (line.empty()) {
                ++blank_run;
            } else {
                if (!result.empty()) result.append(blank_run > 0 ? "\n\n" : "\n");
                result.append(line);
                blank_run = 0;
            }
            start = end + 1;
        }
        return result;
    }

private:
    static constexpr std::size_t max_prefix = 48;

    struct Marker {
        std::size_t at;
        std::string text;
    };

    void flush_breaks() {
        if (pending_ == 0) return;
        if (!at_line_start_) out_ += '\n';
        if (pending_ > 1) {
            out_.append(break_prefix_);
            out_ += '\n';
        }
        at_line_start_ = true;
        pending_ = 0;
    }

    void start_line() {
        if (!at_line_start_) return;
        std::string line = prefix_;
        for (const Marker& m : markers_)
            if (m.at + m.text.size() <= line.size()) line.replace(m.at, m.text.size(), m.text);
        markers_.clear();
        out_ += line;
        at_line_start_ = false;
    }

    std::string out_;
    std::string prefix_;
    std::string break_prefix_;
    std::vector<std::size_t> saved_;
    std::vector<Marker> markers_;
    int pending_ = 0;
    bool at_line_start_ = true;
};

bool in_tight_item(cmark_node* n) {
    cmark_node* parent = cmark_node_parent(n);
    if (!parent || cmark_node_get_type(parent) != CMARK_NODE_ITEM) return false;
    cmark_node* list = cmark_node_parent(parent);
    return list && cmark_node_get_list_tight(list);
}

// Walks the tree with cmark's iterator (not recursion: nesting depth is up to the author).
std::string render_text(cmark_node* root, const HtmlPolicy& policy) {
    TextWriter w;
    struct ListState {
        bool ordered;
        int next;
        bool tight;
    };
    std::vector<ListState> lists;
    std::vector<std::string> link_suffixes;
    std::vector<std::string> html_links;  // the URLs of raw <a> tags whose </a> is still to come
    IterPtr it{cmark_iter_new(root)};
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
        cmark_node* n = cmark_iter_get_node(it.get());
        const bool enter = ev == CMARK_EVENT_ENTER;
        const bool has_previous = cmark_node_previous(n) != nullptr;
        // A block after a sibling starts after a blank line (a line break within tight list items).
        const auto separate = [&] {
            if (enter && has_previous) w.request_break(in_tight_item(n) ? 1 : 2);
        };
        switch (cmark_node_get_type(n)) {
            case CMARK_NODE_PARAGRAPH:
            case CMARK_NODE_HEADING: separate(); break;
            case CMARK_NODE_THEMATIC_BREAK:
                separate();
                w.write("---");
                break;
            case CMARK_NODE_CODE_BLOCK: {
                separate();
                std::string_view code = literal_of(n);
                while (!code.empty() && code.back() == '\n') code.remove_suffix(1);
                w.write(code);
                break;
            }
            case CMARK_NODE_BLOCK_QUOTE:
                separate();
                if (enter) {
                    w.push_prefix("> ");
                } else {
                    w.pop_prefix();
                }
                break;
            case CMARK_NODE_LIST:
                separate();
                if (enter) {
                    lists.push_back({cmark_node_get_list_type(n) == CMARK_ORDERED_LIST, cmark_node_get_list_start(n),
                                     cmark_node_get_list_tight(n) != 0});
                } else if (!lists.empty()) {
                    lists.pop_back();
                }
                break;
            case CMARK_NODE_ITEM:
                if (lists.empty()) break;
                if (enter) {
                    if (has_previous) w.request_break(lists.back().tight ? 1 : 2);
                    std::string marker = lists.back().ordered ? std::to_string(lists.back().next++) + ". " : "- ";
                    if (w.push_prefix(std::string(marker.size(), ' '))) w.set_marker(std::move(marker));
                } else {
                    w.flush_markers();
                    w.pop_prefix();
                }
                break;
            case CMARK_NODE_TEXT:
            case CMARK_NODE_CODE: w.write(literal_of(n)); break;
            // A soft break is where the author's editor wrapped the line: a space in the text.
            case CMARK_NODE_SOFTBREAK: w.write(" "); break;
            case CMARK_NODE_LINEBREAK: w.newline(); break;
            case CMARK_NODE_HTML_BLOCK:
                separate();
                w.write(html_text(literal_of(n), policy));
                break;
            case CMARK_NODE_HTML_INLINE: {
                InlineHtmlText t = inline_html_text(literal_of(n), policy);
                switch (t.kind) {
                    case InlineHtmlText::Kind::text: w.write(t.value); break;
                    case InlineHtmlText::Kind::line_break: w.newline(); break;
                    case InlineHtmlText::Kind::link_start: html_links.push_back(std::move(t.value)); break;
                    case InlineHtmlText::Kind::link_end:
                        if (html_links.empty()) break;
                        if (!html_links.back().empty()) w.write(" (" + html_links.back() + ")");
                        html_links.pop_back();
                        break;
                }
                break;
            }
            case CMARK_NODE_LINK:
                if (enter) {
                    const std::string_view url = url_of(n);
                    std::string suffix;
                    if (!url.empty()) suffix = link_text_suffix(collapse_whitespace(inline_text(n, true)), url);
                    link_suffixes.push_back(std::move(suffix));
                } else if (!link_suffixes.empty()) {
                    w.write(link_suffixes.back());
                    link_suffixes.pop_back();
                }
                break;
            default:
                // GFM tables: rows on their own lines, cells separated by " | ".
                if (!enter) break;
                if (type_is(n, "table")) {
                    separate();
                } else if (type_is(n, "table_row") || type_is(n, "table_header")) {
                    if (has_previous) w.request_break(1);
                } else if (type_is(n, "table_cell") && has_previous) {
                    w.write(" | ");
                }
                break;
        }
    }
    return w.finish();
}

template <class Matches>
cmark_node* first_node(cmark_node* root, const Matches& matches) {
    IterPtr it{cmark_iter_new(root)};
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
        cmark_node* n = cmark_iter_get_node(it.get());
        if (ev == CMARK_EVENT_ENTER && matches(n)) return n;
    }
    return nullptr;
}

constexpr std::size_t summary_max_chars = 300;

// At most summary_max_chars code points, cut after a whole word when possible, "…" when cut.
std::string cut_summary(std::string text) {
    std::size_t chars = 0;
    std::size_t cut = text.size();
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_utf8_continuation(text[i])) continue;
        if (chars == summary_max_chars) {
            cut = i;
            break;
        }
        ++chars;
    }
    if (cut == text.size()) return text;
    if (text[cut] != ' ') {
        const std::size_t space = text.rfind(' ', cut);
        if (space != std::string::npos && space > 0) cut = space;
    }
    text.resize(cut);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "…";
}

}  // namespace

std::string resolve_url(std::string_view base, std::string_view reference) {
    const UriParts r = split_uri(reference);
    if (r.has_scheme || base.empty()) return std::string(reference);
    const UriParts b = split_uri(base);
    if (!b.has_scheme) return std::string(reference);

    std::string authority;
    bool has_authority = false;
    std::string path;
    std::string_view query;
    bool has_query = false;
    if (r.has_authority) {
        has_authority = true;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
        has_query = r.has_query;
    } else {
        has_authority = b.has_authority;
        authority = b.authority;
        if (r.path.empty()) {
            path = b.path;
            query = r.has_query ? r.query : b.query;
            has_query = r.has_query || b.has_query;
        } else {
            if (r.path.starts_with('/')) {
                path = remove_dot_segments(r.path);
            } else {
                // §5.2.3 merge: the base path up to its last "/", or "/" under a bare authority.
                std::string merged;
                if (b.has_authority && b.path.empty()) {
                    merged = "/";
                } else if (const std::size_t slash = b.path.rfind('/'); slash != std::string_view::npos) {
                    merged = b.path.substr(0, slash + 1);
                }
                merged.append(r.path);
                path = remove_dot_segments(merged);
            }
            query = r.query;
            has_query = r.has_query;
        }
    }

    std::string out(b.scheme);
    out += ':';
    if (has_authority) {
        out += "//";
        out += authority;
    }
    out += path;
    if (has_query) {
        out += '?';
        out += query;
    }
    if (r.has_fragment) {
        out += '#';
        out += r.fragment;
    }
    return out;
}

namespace {

constexpr std::size_t max_markdown_depth = 100;

// The body line (1-based) of the first node inside more than max_markdown_depth nodes below the
// document, or 0. Depth is followed through each node's parent on ENTER events alone: an empty
// container gets an EXIT without having anything inside, so counting ENTERs against EXITs would let
// a run of empty list items hide the depth that follows them.
int too_deep_at(cmark_node* root) {
    IterPtr it{cmark_iter_new(root)};
    std::vector<cmark_node*> enclosing;  // the current node's ancestors below the document, outermost first
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
        cmark_node* node = cmark_iter_get_node(it.get());
        if (ev != CMARK_EVENT_ENTER || node == root) continue;
        cmark_node* parent = cmark_node_parent(node);
        while (!enclosing.empty() && enclosing.back() != parent) enclosing.pop_back();
        if (enclosing.size() > max_markdown_depth) {
            for (cmark_node* n = node; n; n = cmark_node_parent(n))
                if (const int line = cmark_node_get_start_line(n); line > 0) return line;
            return 1;
        }
        enclosing.push_back(node);
    }
    return 0;
}

}  // namespace

ExpandedShortcodes expand_shortcodes(std::string_view body, const std::string& path, int first_line,
                                     const ShortcodeDefinitions& shortcodes) {
    std::size_t budget = std::max(min_template_budget, 4 * body.size());
    return ShortcodeExpander(body, path, first_line, 1, shortcodes, 0, budget).run();
}

namespace {

// Everything cmark does for render_markdown: parse, check depth, take the title, resolve links, write
// the plain text and summary into `result`; returns cmark's HTML, raw HTML included, for the sanitizer.
std::string render_with_cmark(const std::string& markdown, const MarkdownOptions& options, const HtmlPolicy& policy,
                              const std::string& path, int first_line, RenderedMarkdown& result) {
    // cmark-gfm keeps global state that its parsers change: the inline parser's table of special
    // characters. cmark_parser_finish adds each attached extension's characters (autolink's ':'
    // and 'w', strikethrough's '~') when it starts parsing inlines and removes them when it is
    // done (blocks.c, process_inlines), so a document finished on another thread at the same time
    // could lose its autolinks. The shell parses files on several threads: finishing goes one
    // document at a time. Feeding (the blocks) never reaches inline parsing nor reads that table:
    // in Debian's 0.29.0.gfm.6 the only code that touches it is cmark_parse_inlines and the two
    // functions finish calls to change it (objdump of libcmark-gfm.a; the reference definitions
    // feed parses use none of it), and the table extension's arena calls do nothing without cmark's
    // own (global) arena allocator, which almanac does not use (CmarkArena is another, per thread).
    // So feeding runs unlocked, as does everything after finish, which works on this document's own
    // tree (the renderers' state is on their stack).
    const CmarkArena::Document arena;  // first made, so last gone: after every cmark object below
    cmark_mem* const mem = cmark_allocator_for(markdown);
    ParserPtr parser = make_parser(markdown, mem);
    cmark_parser_feed(parser.get(), markdown.data(), markdown.size());
    NodePtr doc;
    {
        static std::mutex cmark_mutex;
        const std::lock_guard lock(cmark_mutex);
        doc.reset(cmark_parser_finish(parser.get()));
    }
    // Thousands of nested block quotes, lists or emphasis make HTML forty times the size of the text
    // (a 1 MiB file of '>' gave 40 MB feeds); no page nests that deep. Nothing is rendered then.
    if (const int line = too_deep_at(doc.get())) {
        result.diagnostics.push_back({path, first_line + line - 1, 1, Severity::error,
                                      "Markdown nested deeper than " + std::to_string(max_markdown_depth) +
                                          " levels (block quotes, lists or emphasis)"});
        return {};
    }

    if (options.take_title) {
        if (cmark_node* heading = first_node(doc.get(), [](cmark_node* n) {
                return cmark_node_get_type(n) == CMARK_NODE_HEADING && cmark_node_get_heading_level(n) == 1;
            })) {
            result.title = collapse_whitespace(inline_text(heading, true));
            remove_node(heading);
        }
    }
    resolve_links(doc.get(), policy);
    result.text = render_text(doc.get(), policy);
    // The summary is the first paragraph with text (its text made once).
    std::string paragraph;
    if (first_node(doc.get(), [&](cmark_node* n) {
            if (cmark_node_get_type(n) != CMARK_NODE_PARAGRAPH) return false;
            paragraph = collapse_whitespace(inline_text(n, false));
            return !paragraph.empty();
        }))
        result.summary = cut_summary(std::move(paragraph));
    BufferPtr html{cmark_render_html_with_mem(doc.get(), CMARK_OPT_UNSAFE, cmark_parser_get_syntax_extensions(parser.get()), mem),
                   BufferFree{mem}};
    return html ? std::string(html.get()) : std::string();
}

}  // namespace

RenderedMarkdown render_markdown(std::string_view body, const MarkdownOptions& options, const std::string& path,
                                 int first_line) {
    RenderedMarkdown result;
    ExpandedShortcodes expanded = expand_shortcodes(body, path, first_line, options.shortcodes);
    result.diagnostics = std::move(expanded.diagnostics);
    const HtmlPolicy policy{options.unsafe_html, options.page_url};
    // cmark writes raw HTML as it is; the sanitizer then rebuilds the whole document from an HTML5
    // parse (outside cmark's lock), so raw HTML that opens in one block and closes in another still
    // comes out well-formed.
    std::string html = render_with_cmark(expanded.markdown, options, policy, path, first_line, result);
    // Most pages have no raw HTML, and then cmark's HTML usually is what the sanitizer would write:
    // the HTML5 parse (three quarters of the cost of a page) is only needed when it is not.
    if (is_sanitized_markdown_html(html, policy)) {
        result.html = std::move(html);
    } else {
        result.html = sanitize_html(html, policy);
    }
    return result;
}

}  // namespace almanac
