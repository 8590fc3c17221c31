#include "feeds/front_matter.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <toml++/toml.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "feeds/text.hpp"

namespace almanac {

const FmNode* FmNode::find(std::string_view key) const {
    // Hugo reads front matter keys case-insensitively (Title, publishdate, publishDate).
    for (const auto& e : map)
        if (ascii_iequals(e.key, key)) return &e.value;
    return nullptr;
}

std::string_view kind_name(FmNode::Kind k) {
    switch (k) {
        case FmNode::Kind::null: return "nothing";
        case FmNode::Kind::scalar: return "a value";
        case FmNode::Kind::list: return "a list";
        case FmNode::Kind::map: return "a map";
    }
    return "?";
}

namespace {

constexpr int max_nodes = 100'000;
constexpr int max_depth = 64;

// Text reached through aliases is copied for every alias, so the bytes are bounded as well as the
// values: at most the file's own size again plus this much. Without it, a 1 MiB scalar aliased 64
// times made a 64 MiB list of tags, and every calendar view of it 67 MB more.
constexpr std::size_t alias_text_allowance = std::size_t{64} * 1024;

struct Budget {
    std::size_t max_bytes = 0;
    int nodes = 0;
    std::size_t bytes = 0;
    bool exceeded = false;
    std::string why;
    int line = 0;
    int column = 0;
    std::string key;  // the innermost key whose value went past the limits

    explicit Budget(std::size_t input_bytes) : max_bytes(2 * input_bytes + alias_text_allowance) {}

    // False (and remembers where) when the tree grows past the limits.
    bool take(int depth, int at_line, int at_column) {
        if (exceeded) return false;
        if (++nodes > max_nodes) {
            exceeded = true;
            why = "more than 100000 values (alias expansion or a runaway file)";
        } else if (depth > max_depth) {
            exceeded = true;
            why = "nesting deeper than 64 levels";
        }
        if (exceeded) {
            line = at_line;
            column = at_column;
        }
        return !exceeded;
    }

    std::string message() const { return (key.empty() ? "" : key + ": ") + "too complex: " + why; }

    // False (and remembers where) when the text of all values together grows past the limit.
    bool take_bytes(std::size_t n, int at_line, int at_column) {
        if (exceeded) return false;
        bytes += n;
        if (bytes > max_bytes) {
            exceeded = true;
            why = "aliases repeat more than " + std::to_string(max_bytes) +
                  " bytes of text (twice the file, plus 64 KiB)";
            line = at_line;
            column = at_column;
        }
        return !exceeded;
    }
};

FmNode from_yaml(const YAML::Node& n, int line_offset, int depth, Budget& budget) {
    FmNode out;
    const auto mark = n.Mark();
    out.line = mark.line >= 0 ? mark.line + 1 + line_offset : 0;
    out.column = mark.column >= 0 ? mark.column + 1 : 0;
    if (!budget.take(depth, out.line, out.column)) return out;
    switch (n.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            out.kind = FmNode::Kind::null;
            break;
        case YAML::NodeType::Scalar:
            out.kind = FmNode::Kind::scalar;
            if (!budget.take_bytes(n.Scalar().size(), out.line, out.column)) return out;
            out.scalar = yaml_scalar_utf8(n.Scalar());
            out.quoted = n.Tag() == "!";  // yaml-cpp tags non-plain (quoted) scalars "!"
            break;
        case YAML::NodeType::Sequence:
            out.kind = FmNode::Kind::list;
            for (const auto& child : n) {
                out.list.push_back(from_yaml(child, line_offset, depth + 1, budget));
                if (budget.exceeded) break;
            }
            break;
        case YAML::NodeType::Map:
            out.kind = FmNode::Kind::map;
            for (const auto& kv : n) {
                FmEntry e;
                const auto km = kv.first.Mark();
                e.line = km.line + 1 + line_offset;
                e.column = km.column + 1;
                e.key = kv.first.IsScalar() ? yaml_scalar_utf8(kv.first.Scalar()) : std::string("?");
                e.value = from_yaml(kv.second, line_offset, depth + 1, budget);
                // An alias has the mark of the text it repeats: point at the key that uses it.
                if (budget.exceeded && budget.key.empty()) {
                    budget.key = e.key;
                    budget.line = e.line;
                    budget.column = e.column;
                }
                // A key with no value ("key:") has no useful mark of its own: point at the key.
                if (e.value.kind == FmNode::Kind::null || e.value.line == 0) {
                    e.value.line = e.line;
                    e.value.column = e.column;
                }
                out.map.push_back(std::move(e));
                if (budget.exceeded) break;
            }
            break;
    }
    return out;
}

std::string two(int v) {
    char buf[8];
    // NOLINTNEXTLINE(cert-err33-c): callers pass parts of a TOML time or offset, all under 100
    std::snprintf(buf, sizeof buf, "%02d", v);
    return buf;
}

std::string toml_date(const toml::date& d) {
    char buf[16];
    // NOLINTNEXTLINE(cert-err33-c): a TOML date (year 0-9999) fits in 16 bytes
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", int{d.year}, int{d.month}, int{d.day});
    return buf;
}

std::string toml_time(const toml::time& t) {
    return two(t.hour) + ':' + two(t.minute) + ':' + two(t.second);
}

FmNode from_toml(const toml::node& n, int line_offset, int depth, Budget& budget) {
    FmNode out;
    const auto& src = n.source();
    out.line = static_cast<int>(src.begin.line) + line_offset;
    out.column = static_cast<int>(src.begin.column);
    if (!budget.take(depth, out.line, out.column)) return out;
    out.kind = FmNode::Kind::scalar;
    if (const auto* t = n.as_table()) {
        out.kind = FmNode::Kind::map;
        for (const auto& [key, value] : *t) {
            FmEntry e;
            e.key = std::string(key.str());
            e.line = static_cast<int>(key.source().begin.line) + line_offset;
            e.column = static_cast<int>(key.source().begin.column);
            e.value = from_toml(value, line_offset, depth + 1, budget);
            if (budget.exceeded && budget.key.empty()) {
                budget.key = e.key;
                budget.line = e.line;
                budget.column = e.column;
            }
            out.map.push_back(std::move(e));
            if (budget.exceeded) break;
        }
    } else if (const auto* a = n.as_array()) {
        out.kind = FmNode::Kind::list;
        for (const auto& value : *a) {
            out.list.push_back(from_toml(value, line_offset, depth + 1, budget));
            if (budget.exceeded) break;
        }
    } else if (const auto* s = n.as_string()) {
        out.scalar = s->get();
        out.quoted = true;
    } else if (const auto* i = n.as_integer()) {
        out.scalar = std::to_string(i->get());
    } else if (const auto* f = n.as_floating_point()) {
        char buf[64];
        // NOLINTNEXTLINE(cert-err33-c): %.17g of a double is at most 24 bytes
        std::snprintf(buf, sizeof buf, "%.17g", f->get());
        out.scalar = buf;
    } else if (const auto* b = n.as_boolean()) {
        out.scalar = b->get() ? "true" : "false";
    } else if (const auto* d = n.as_date()) {
        out.scalar = toml_date(d->get());
    } else if (const auto* tm = n.as_time()) {
        out.scalar = toml_time(tm->get());
    } else if (const auto* dt = n.as_date_time()) {
        const auto& v = dt->get();
        out.scalar = toml_date(v.date) + 'T' + toml_time(v.time);
        if (v.offset) {
            const int minutes = v.offset->minutes;
            if (minutes == 0) {
                out.scalar += 'Z';
            } else {
                const int m = minutes < 0 ? -minutes : minutes;
                out.scalar += (minutes < 0 ? '-' : '+') + two(m / 60) + ':' + two(m % 60);
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Flat front matter without yaml-cpp

bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// The plain scalars yaml-cpp reads as null; they are left to it.
bool is_null_word(std::string_view s) { return s == "null" || s == "Null" || s == "NULL" || s == "~"; }

// A plain block scalar of letters, digits and . _ - + / = ; , @ and inner spaces, a ':' never last
// or before a space: nothing YAML reads as an indicator, a comment or a key, nothing it trims.
bool is_simple_plain(std::string_view s) {
    if (s.empty() || !is_alnum(s.front()) || s.back() == ' ' || s.back() == ':' || is_null_word(s)) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '/' || c == '=' || c == ';' ||
            c == ',' || c == '@' || c == ' ')
            continue;
        if (c == ':' && s[i + 1] != ' ') continue;
        return false;
    }
    return true;
}

// The inside of a one-line double-quoted scalar without escapes: printable ASCII but '"' and '\',
// and UTF-8 characters other than those YAML 1.1 reads as line breaks (U+0085, U+2028, U+2029) or
// a byte order mark.
bool is_simple_quoted(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7F) return false;
        if (c < 0x80) continue;
        const std::string_view rest = s.substr(i);
        if (rest.starts_with("\xC2\x85") || rest.starts_with("\xE2\x80\xA8") || rest.starts_with("\xE2\x80\xA9") ||
            rest.starts_with("\xEF\xBB\xBF"))
            return false;
    }
    return true;
}

FmNode simple_scalar(std::string_view text, bool quoted, int line, int column) {
    FmNode node;
    node.kind = FmNode::Kind::scalar;
    node.scalar = yaml_scalar_utf8(text);
    node.quoted = quoted;
    node.line = line;
    node.column = column;
    return node;
}

// Front matter that is only "key: value" lines, unindented, where a value is nothing, a plain
// scalar (is_simple_plain), a double-quoted one (is_simple_quoted) or a flow list of plain words
// ("[a, b]"), read without yaml-cpp into the tree from_yaml would make of it: the same values,
// lines and columns. nullopt for anything else (comments, indentation, blank or repeated keys,
// escapes, block lists...), which yaml-cpp then reads, errors included. Most front matter is of
// this shape, and yaml-cpp takes some 300,000 instructions for a dozen lines of it.
std::optional<FmNode> parse_simple_yaml(std::string_view text, int line_offset) {
    if (text.empty()) return std::nullopt;
    FmNode root;
    root.kind = FmNode::Kind::map;
    root.line = 1 + line_offset;
    root.column = 1;
    int line = line_offset;
    int nodes = 1;
    while (!text.empty()) {
        ++line;
        const std::size_t nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        std::size_t k = 0;
        while (k < l.size() && is_key_char(l[k])) ++k;
        if (k == 0 || !is_alnum(l[0]) || k >= l.size() || l[k] != ':') return std::nullopt;
        FmEntry e;
        e.key = std::string(l.substr(0, k));
        e.line = line;
        e.column = 1;
        // A key twice, even in another case, is left to yaml-cpp and FmNode::find.
        if (is_null_word(e.key) || root.find(e.key) != nullptr || ++nodes > max_nodes) return std::nullopt;
        std::size_t v = k + 1;
        if (v < l.size() && l[v] != ' ') return std::nullopt;
        while (v < l.size() && l[v] == ' ') ++v;
        const std::string_view value = l.substr(v);
        const int column = static_cast<int>(v) + 1;
        if (value.empty()) {
            if (v != k + 1) return std::nullopt;  // "key: " with trailing spaces
            e.value.line = line;
            e.value.column = 1;
        } else if (value.front() == '"') {
            if (value.size() < 2 || value.back() != '"' || !is_simple_quoted(value.substr(1, value.size() - 2)))
                return std::nullopt;
            e.value = simple_scalar(value.substr(1, value.size() - 2), true, line, column);
        } else if (value.front() == '[') {
            if (value.back() != ']') return std::nullopt;
            e.value.kind = FmNode::Kind::list;
            e.value.line = line;
            e.value.column = column;
            std::string_view items = value.substr(1, value.size() - 2);
            std::size_t at = v + 1;  // the column (0-based) of the item
            while (!items.empty()) {
                const std::size_t comma = items.find(',');
                const std::string_view item = items.substr(0, comma);
                if (item.empty() || !is_alnum(item.front()) || is_null_word(item) ||
                    !std::all_of(item.begin(), item.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }))
                    return std::nullopt;
                if (++nodes > max_nodes) return std::nullopt;
                e.value.list.push_back(simple_scalar(item, false, line, static_cast<int>(at) + 1));
                if (comma == std::string_view::npos) break;
                if (!items.substr(comma).starts_with(", ")) return std::nullopt;
                items.remove_prefix(comma + 2);
                at += comma + 2;
                if (items.empty()) return std::nullopt;
            }
        } else {
            if (!is_simple_plain(value)) return std::nullopt;
            e.value = simple_scalar(value, false, line, column);
        }
        root.map.push_back(std::move(e));
    }
    return root;
}

ParsedData parse_yaml(std::string_view text, const std::string& path, int first_line) {
    ParsedData out;
    if (auto refused = yaml_control_character(text, path, first_line)) {
        out.diagnostics.push_back(std::move(*refused));
        return out;
    }
    const int offset = first_line - 1;
    if (auto simple = parse_simple_yaml(text, offset)) {
        out.root = std::move(*simple);
        return out;
    }
    try {
        const YAML::Node root = YAML::Load(std::string(text));
        Budget budget(text.size());
        out.root = from_yaml(root, offset, 0, budget);
        if (budget.exceeded) {
            out.diagnostics.push_back({path, budget.line, budget.column, Severity::error, budget.message()});
            out.root = FmNode{};
        }
    } catch (const YAML::Exception& e) {
        const int line = e.mark.line >= 0 ? e.mark.line + 1 + offset : first_line;
        const int column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
        // yaml-cpp's own depth guard says only "bad file".
        const bool too_deep = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr;
        out.diagnostics.push_back(
            {path, line, column, Severity::error,
             // yaml-cpp quotes the byte it stopped at, which may be the first byte of a character.
             too_deep ? "too complex: nesting deeper than 64 levels" : "YAML syntax error: " + valid_utf8(e.msg)});
    }
    return out;
}

ParsedData parse_toml(std::string_view text, const std::string& path, int first_line) {
    ParsedData out;
    try {
        const toml::table table = toml::parse(text, path);
        Budget budget(text.size());
        out.root = from_toml(table, first_line - 1, 0, budget);
        out.root.line = first_line;
        out.root.column = 1;
        if (budget.exceeded) {
            out.diagnostics.push_back({path, budget.line, budget.column, Severity::error, budget.message()});
            out.root = FmNode{};
        }
    } catch (const toml::parse_error& e) {
        const auto& src = e.source();
        out.diagnostics.push_back({path, static_cast<int>(src.begin.line) + first_line - 1,
                                   static_cast<int>(src.begin.column), Severity::error,
                                   "TOML syntax error: " + std::string(e.description())});
    }
    return out;
}

// The line ends right after `pos`'s line, or npos.
std::size_t next_line(std::string_view text, std::size_t pos) {
    const auto nl = text.find('\n', pos);
    return nl == std::string_view::npos ? std::string_view::npos : nl + 1;
}

bool is_fence_line(std::string_view line, std::string_view fence) {
    return line.starts_with(fence) && trim(line.substr(fence.size())).empty();
}

}  // namespace

ParsedData parse_data(std::string_view text, DataFormat format, const std::string& path, int first_line) {
    if (format == DataFormat::toml) return parse_toml(text, path, first_line);
    return parse_yaml(text, path, first_line);  // JSON is read as YAML 1.2 (a superset) for line marks
}

SplitDocument split_front_matter(std::string_view text, const std::string& path) {
    SplitDocument out;
    out.body = text;
    // Like Hugo, blank lines may come before the front matter.
    int opening_line = 1;
    std::string_view rest = text;
    for (auto nl = rest.find('\n'); nl != std::string_view::npos && trim(rest.substr(0, nl)).empty();
         nl = rest.find('\n')) {
        rest.remove_prefix(nl + 1);
        ++opening_line;
    }
    const auto first_end = rest.find('\n');
    const std::string_view first = rest.substr(0, first_end);
    std::string_view fence;
    if (is_fence_line(first, "---")) {
        fence = "---";
        out.format = FrontMatterFormat::yaml;
    } else if (is_fence_line(first, "+++")) {
        fence = "+++";
        out.format = FrontMatterFormat::toml;
    } else {
        out.front_matter.kind = FmNode::Kind::map;
        return out;
    }
    const auto never_closed = [&] {
        out.diagnostics.push_back({path, opening_line, 1, Severity::error,
                                   "front matter opened by " + std::string(fence) + " on line " +
                                       std::to_string(opening_line) + " is never closed"});
        return out;
    };
    if (first_end == std::string_view::npos) return never_closed();
    const std::size_t fm_start = first_end + 1;
    int line = opening_line + 1;
    for (std::size_t pos = fm_start; pos != std::string_view::npos && pos <= rest.size();
         pos = next_line(rest, pos), ++line) {
        const auto end = rest.find('\n', pos);
        const std::string_view l = rest.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (!is_fence_line(l, fence) && !(fence == "---" && is_fence_line(l, "..."))) continue;
        const std::string_view fm = rest.substr(fm_start, pos - fm_start);
        const auto after = next_line(rest, pos);
        out.body = after == std::string_view::npos ? std::string_view{} : rest.substr(after);
        out.body_first_line = line + 1;
        ParsedData parsed = parse_data(fm, out.format == FrontMatterFormat::toml ? DataFormat::toml : DataFormat::yaml,
                                       path, opening_line + 1);
        out.diagnostics = std::move(parsed.diagnostics);
        if (has_errors(out.diagnostics)) return out;
        if (parsed.root.kind == FmNode::Kind::null) {
            parsed.root.kind = FmNode::Kind::map;  // "---\n---": empty front matter
            parsed.root.line = opening_line + 1;
        }
        if (parsed.root.kind != FmNode::Kind::map) {
            out.diagnostics.push_back({path, parsed.root.line, parsed.root.column, Severity::error,
                                       "front matter must be a map of keys, got " + std::string(kind_name(parsed.root.kind))});
        } else {
            out.front_matter = std::move(parsed.root);
        }
        return out;
    }
    return never_closed();
}

std::optional<Diagnostic> yaml_control_character(std::string_view text, const std::string& path, int first_line) {
    const auto control = std::find_if(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
    });
    if (control == text.end()) return std::nullopt;
    const std::string_view before = text.substr(0, static_cast<std::size_t>(control - text.begin()));
    const std::size_t line_start = before.rfind('\n') + 1;  // npos + 1 == 0
    const auto column = std::count_if(before.begin() + static_cast<std::ptrdiff_t>(line_start), before.end(),
                                      [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
    char code[8];
    // NOLINTNEXTLINE(cert-err33-c): "U+" and one byte in hex fit in 8 bytes
    std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(static_cast<unsigned char>(*control)));
    return Diagnostic{path, first_line + static_cast<int>(std::count(before.begin(), before.end(), '\n')),
                      static_cast<int>(column) + 1, Severity::error,
                      std::string("YAML syntax error: control character ") + code + " is not allowed"};
}

}  // namespace almanac
