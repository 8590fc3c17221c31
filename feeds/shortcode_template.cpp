// The template parser reads text and {{ actions }} into a small tree (text, output, if, with), keeping
// the nesting on an explicit stack; rendering walks that tree with the tag's arguments.
#include "feeds/shortcode_template.hpp"

#include <optional>
#include <utility>

namespace almanac {

// What an action reads: an argument, the inner content, or the value `with` bound to ".".
struct TemplateValue {
    enum class Kind { named,
                      positional,
                      inner,
                      dot } kind = Kind::named;
    std::string name;
    std::size_t index = 0;
    bool safe = false;  // `| safeHTML`: written without escaping
};

struct TemplateNode {
    enum class Kind { text,
                      output,
                      if_block,
                      with_block } kind = Kind::text;
    std::string text;
    TemplateValue value;
    std::vector<TemplateNode> then;
    std::vector<TemplateNode> otherwise;
};

struct ShortcodeTemplate {
    std::vector<TemplateNode> nodes;
};

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

constexpr std::string_view supported =
    "almanac supports {{ .Get \"name\" }}, {{ .Get 0 }}, {{ .Inner }}, {{ . }} inside with, "
    "{{ if … }}, {{ with … }}, {{ else }}, {{ end }} and {{/* comments */}}";

// "line L, column C" of a byte offset in the template.
std::string position(std::string_view source, std::size_t offset) {
    int line = 1;
    int column = 1;
    for (std::size_t i = 0; i < offset && i < source.size(); ++i) {
        if (source[i] == '\n') {
            ++line;
            column = 1;
        } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// Splits an action's text into words; a "quoted" or `raw` string is one word, kept with its quotes.
std::optional<std::vector<std::string>> words_of(std::string_view s) {
    std::vector<std::string> words;
    std::size_t p = 0;
    while (p < s.size()) {
        if (is_space(s[p])) {
            ++p;
            continue;
        }
        std::string word;
        if (s[p] == '"' || s[p] == '`') {
            const char quote = s[p];
            word += s[p++];
            while (p < s.size() && s[p] != quote) {
                if (quote == '"' && s[p] == '\\' && p + 1 < s.size()) word += s[p++];
                word += s[p++];
            }
            if (p >= s.size()) return std::nullopt;
            word += s[p++];
        } else if (s[p] == '|') {
            word = "|";
            ++p;
        } else {
            while (p < s.size() && !is_space(s[p]) && s[p] != '|') word += s[p++];
        }
        words.push_back(std::move(word));
    }
    return words;
}

// The text of a quoted word, escapes resolved; nullopt when the word is not a string.
std::optional<std::string> unquote(const std::string& word) {
    if (word.size() < 2 || (word.front() != '"' && word.front() != '`') || word.back() != word.front())
        return std::nullopt;
    std::string out;
    for (std::size_t i = 1; i + 1 < word.size(); ++i) {
        if (word.front() == '"' && word[i] == '\\') {
            const char c = word[++i];
            out += c == 'n' ? '\n' : c == 't' ? '\t'
                                              : c;
        } else {
            out += word[i];
        }
    }
    return out;
}

class Parser {
public:
    explicit Parser(std::string_view source) : source_(source) {}

    Expected<std::shared_ptr<const ShortcodeTemplate>> run() {
        auto tmpl = std::make_shared<ShortcodeTemplate>();
        open_.push_back({&tmpl->nodes, nullptr, 0});
        std::size_t p = 0;
        bool trim_next = false;
        while (p <= source_.size()) {
            const std::size_t open = source_.find("{{", p);
            std::string_view text = source_.substr(p, open == std::string_view::npos ? std::string_view::npos : open - p);
            if (trim_next)
                while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
            if (open == std::string_view::npos) {
                add_text(text);
                break;
            }
            const bool trim_before = source_.substr(open + 2).starts_with("- ") || source_.substr(open + 2).starts_with("-\n");
            if (trim_before)
                while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
            add_text(text);
            const std::size_t close = source_.find("}}", open + 2);
            if (close == std::string_view::npos) return fail(open, "'{{' without its closing '}}'");
            std::string_view action = source_.substr(open + 2, close - open - 2);
            if (trim_before) action.remove_prefix(1);
            trim_next = action.size() >= 2 && action.back() == '-' && is_space(action[action.size() - 2]);
            if (trim_next) action.remove_suffix(1);
            if (auto error = add_action(action, open)) return unexpected(*error);
            p = close + 2;
        }
        if (open_.size() > 1)
            return fail(open_.back().at, "'{{ " + std::string(open_.back().node->kind == TemplateNode::Kind::if_block ? "if" : "with") +
                                             " }}' without its '{{ end }}'");
        return std::shared_ptr<const ShortcodeTemplate>(std::move(tmpl));
    }

private:
    struct Open {
        std::vector<TemplateNode>* into;  // where nodes go now: the block's then or otherwise
        TemplateNode* node;               // the if/with block, null at the top
        std::size_t at;                   // the block's offset, for errors
        bool in_else = false;
    };

    Unexpected fail(std::size_t at, const std::string& message) const {
        return unexpected(position(source_, at) + ": " + message);
    }

    std::optional<std::string> error(std::size_t at, const std::string& message) const {
        return position(source_, at) + ": " + message;
    }

    void add_text(std::string_view text) {
        if (text.empty()) return;
        TemplateNode n;
        n.text = std::string(text);
        open_.back().into->push_back(std::move(n));
    }

    bool inside_with() const {
        for (const Open& o : open_)
            if (o.node && o.node->kind == TemplateNode::Kind::with_block && !o.in_else) return true;
        return false;
    }

    // A value: `.Get "name"`, `.Get 0`, `.Inner`, `.` (inside with), `$.` forms; `| safeHTML` or
    // `| markdownify` may follow.
    std::optional<std::string> read_value(const std::vector<std::string>& w, std::size_t from, std::size_t at,
                                          TemplateValue& value) const {
        std::size_t i = from;
        if (i >= w.size()) return error(at, "an argument is missing; " + std::string(supported));
        std::string head = w[i];
        if (head.starts_with("$.")) head.erase(0, 1);
        if (head == ".Get") {
            if (i + 1 >= w.size()) return error(at, ".Get needs a name in quotes or a position (0, 1, …)");
            const std::string& arg = w[i + 1];
            if (const auto name = unquote(arg)) {
                value.kind = TemplateValue::Kind::named;
                value.name = *name;
            } else if (!arg.empty() && arg.size() <= 3 && arg.find_first_not_of("0123456789") == std::string::npos) {
                value.kind = TemplateValue::Kind::positional;
                value.index = static_cast<std::size_t>(std::stoi(arg));
            } else {
                return error(at, ".Get needs a name in quotes or a position (0, 1, …), got '" + arg + "'");
            }
            i += 2;
        } else if (head == ".Inner") {
            value.kind = TemplateValue::Kind::inner;
            ++i;
        } else if (head == "." && w[i] == ".") {
            if (!inside_with()) return error(at, "'.' is only a value inside {{ with … }}");
            value.kind = TemplateValue::Kind::dot;
            ++i;
        } else {
            return error(at, "unsupported action '" + w[i] + "'; " + std::string(supported));
        }
        while (i < w.size()) {
            if (w[i] != "|" || i + 1 >= w.size()) return error(at, "unexpected '" + w[i] + "'; " + std::string(supported));
            if (w[i + 1] == "safeHTML") {
                value.safe = true;
            } else if (w[i + 1] != "markdownify") {
                return error(at, "unsupported function '" + w[i + 1] + "' (only safeHTML and markdownify)");
            }
            i += 2;
        }
        return std::nullopt;
    }

    std::optional<std::string> add_action(std::string_view action, std::size_t at) {
        std::string_view trimmed = action;
        while (!trimmed.empty() && is_space(trimmed.front())) trimmed.remove_prefix(1);
        while (!trimmed.empty() && is_space(trimmed.back())) trimmed.remove_suffix(1);
        if (trimmed.starts_with("/*")) {
            if (!trimmed.ends_with("*/")) return error(at, "a comment must end with '*/}}'");
            return std::nullopt;
        }
        const auto words = words_of(trimmed);
        if (!words) return error(at, "unterminated string");
        const std::vector<std::string>& w = *words;
        if (w.empty()) return error(at, "empty action '{{}}'");
        if (w[0] == "if" || w[0] == "with") {
            TemplateNode n;
            n.kind = w[0] == "if" ? TemplateNode::Kind::if_block : TemplateNode::Kind::with_block;
            if (auto e = read_value(w, 1, at, n.value)) return e;
            auto& into = *open_.back().into;
            into.push_back(std::move(n));
            if (open_.size() > 32) return error(at, "blocks nested deeper than 32 levels");
            open_.push_back({&into.back().then, &into.back(), at});
            return std::nullopt;
        }
        if (w[0] == "else") {
            if (w.size() > 1) return error(at, "'else " + w[1] + "' is not supported; nest an if inside the else");
            if (!open_.back().node || open_.back().in_else) return error(at, "'{{ else }}' outside an if or with");
            open_.back().into = &open_.back().node->otherwise;
            open_.back().in_else = true;
            return std::nullopt;
        }
        if (w[0] == "end") {
            if (w.size() > 1) return error(at, "unexpected '" + w[1] + "' after end");
            if (!open_.back().node) return error(at, "'{{ end }}' without an if or with");
            open_.pop_back();
            return std::nullopt;
        }
        TemplateNode n;
        n.kind = TemplateNode::Kind::output;
        if (auto e = read_value(w, 0, at, n.value)) return e;
        open_.back().into->push_back(std::move(n));
        return std::nullopt;
    }

    std::string_view source_;
    std::vector<Open> open_;
};

void append_escaped(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
}

class Renderer {
public:
    Renderer(const std::vector<ShortcodeArgument>& args, std::string_view inner) : args_(args), inner_(inner) {}

    // Iterative over an explicit stack of node lists: templates are small, but nothing here recurses.
    std::string run(const std::vector<TemplateNode>& nodes) {
        struct Level {
            const std::vector<TemplateNode>* nodes;
            std::size_t next;
            bool pops_dot;
        };
        std::vector<Level> stack{{&nodes, 0, false}};
        while (!stack.empty()) {
            Level& top = stack.back();
            if (top.next >= top.nodes->size()) {
                if (top.pops_dot) dots_.pop_back();
                stack.pop_back();
                continue;
            }
            const TemplateNode& n = (*top.nodes)[top.next++];
            switch (n.kind) {
                case TemplateNode::Kind::text: out_ += n.text; break;
                case TemplateNode::Kind::output: {
                    const auto [text, raw] = value(n.value);
                    if (raw || n.value.safe) {
                        out_ += text;
                    } else {
                        append_escaped(out_, text);
                    }
                    break;
                }
                case TemplateNode::Kind::if_block:
                case TemplateNode::Kind::with_block: {
                    const auto v = value(n.value);
                    const bool truthy = !v.first.empty();
                    const bool with = n.kind == TemplateNode::Kind::with_block;
                    if (truthy && with) dots_.push_back(v);
                    stack.push_back({truthy ? &n.then : &n.otherwise, 0, truthy && with});
                    break;
                }
            }
        }
        return std::move(out_);
    }

private:
    // The value's text and whether it is written as it is (the inner content).
    std::pair<std::string_view, bool> value(const TemplateValue& v) const {
        switch (v.kind) {
            case TemplateValue::Kind::named:
                for (const auto& a : args_)
                    if (a.key == v.name) return {a.value, false};
                return {{}, false};
            case TemplateValue::Kind::positional: {
                std::size_t index = v.index;
                for (const auto& a : args_) {
                    if (!a.key.empty()) continue;
                    if (index == 0) return {a.value, false};
                    --index;
                }
                return {{}, false};
            }
            case TemplateValue::Kind::inner: return {inner_, true};
            case TemplateValue::Kind::dot: return dots_.empty() ? std::pair<std::string_view, bool>{} : dots_.back();
        }
        return {};
    }

    const std::vector<ShortcodeArgument>& args_;
    std::string_view inner_;
    std::vector<std::pair<std::string_view, bool>> dots_;
    std::string out_;
};

}  // namespace

Expected<std::shared_ptr<const ShortcodeTemplate>> parse_shortcode_template(std::string_view source) {
    return Parser(source).run();
}

std::string render_shortcode(const ShortcodeTemplate& tmpl, const std::vector<ShortcodeArgument>& args,
                             std::string_view inner) {
    return Renderer(args, inner).run(tmpl.nodes);
}

}  // namespace almanac
