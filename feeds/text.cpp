#include "feeds/text.hpp"

#include <cstdint>
#include <cstdio>

#include "feeds/byte_runs.hpp"

namespace almanac {

Utf8Sequence decode_utf8(std::string_view s, std::size_t at) {
    const auto b = static_cast<unsigned char>(s[at]);
    const std::size_t length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3
                                           : b >= 0xC2   ? 2
                                                         : 0;
    // C0/C1 are overlong leads, F5..FF lead past U+10FFFF, 80..BF continue without a lead.
    if (length == 0 || b > 0xF4 || at + length > s.size()) return {};
    char32_t code_point = b & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
        const auto c = static_cast<unsigned char>(s[at + k]);
        if ((c & 0xC0) != 0x80) return {};
        code_point = (code_point << 6) | (c & 0x3F);
    }
    const char32_t least = length == 2 ? 0x80 : length == 3 ? 0x800
                                                            : 0x10000;
    if (code_point < least || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return {};
    return {code_point, length};
}

std::size_t find_invalid_utf8(std::string_view s) {
    std::size_t i = 0;
    while ((i = run_end<false, true>(s, i)) < s.size()) {
        const auto sequence = decode_utf8(s, i);
        if (sequence.length == 0) return i;
        i += sequence.length;
    }
    return std::string_view::npos;
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    for (std::size_t bad; (bad = find_invalid_utf8(s)) != std::string_view::npos; s.remove_prefix(bad + 1)) {
        out.append(s.substr(0, bad));
        out.append("\xEF\xBF\xBD");
    }
    out.append(s);
    return out;
}

std::string yaml_scalar_utf8(std::string_view s) {
    std::string out;
    for (std::size_t bad; (bad = find_invalid_utf8(s)) != std::string_view::npos; s.remove_prefix(bad + 1)) {
        out.append(s.substr(0, bad));
        const auto byte = static_cast<unsigned char>(s[bad]);
        out.append(byte == 0x85 ? "\xC2\x85" : byte == 0xA0 ? "\xC2\xA0"
                                                            : "\xEF\xBF\xBD");
    }
    out.append(s);
    return out;
}

NormalizedText normalize_text(std::string_view bytes, const std::string& path) {
    NormalizedText out;
    if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
    if (const auto bad = find_invalid_utf8(bytes); bad != std::string_view::npos) {
        int line = 1;
        std::size_t line_start = 0;
        for (std::size_t i = 0; i < bad; ++i) {
            if (bytes[i] == '\n') {
                ++line;
                line_start = i + 1;
            }
        }
        // Columns count characters, and everything before `bad` on this line is valid UTF-8.
        int column = 1;
        for (std::size_t i = line_start; i < bad; ++i)
            if ((static_cast<unsigned char>(bytes[i]) & 0xC0u) != 0x80u) ++column;
        char hex[8];
        // NOLINTNEXTLINE(cert-err33-c): "0x" and one byte in hex fit in 8 bytes
        std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(bytes[bad]));
        out.ok = false;
        out.error = Diagnostic{path, line, column, Severity::error,
                               std::string("invalid UTF-8 (byte ") + hex + "); the file must be UTF-8"};
        return out;
    }
    out.text.reserve(bytes.size());
    // CRLF and a lone CR become LF; the text between is copied whole, not byte by byte.
    for (std::size_t cr; (cr = bytes.find('\r')) != std::string_view::npos;) {
        out.text.append(bytes.substr(0, cr));
        out.text += '\n';
        bytes.remove_prefix(cr + 1 < bytes.size() && bytes[cr + 1] == '\n' ? cr + 2 : cr + 1);
    }
    out.text.append(bytes);
    return out;
}

std::string slugify(std::string_view s) {
    std::string out;
    bool dash = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        // NOLINTNEXTLINE(bugprone-branch-clone): the same action, but for two reasons each with its own comment
        if (c >= 0x80) {  // keep non-ASCII letters as they are (Hugo keeps them too)
            out += static_cast<char>(c);
            dash = false;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out += static_cast<char>(c);
            dash = false;
        } else if (c >= 'A' && c <= 'Z') {
            out += static_cast<char>(c - 'A' + 'a');
            dash = false;
        } else if (!out.empty() && !dash) {
            out += '-';
            dash = true;
        }
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string_view trim(std::string_view s) {
    const auto ws = " \t\n\r\f\v";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = ascii_lower(c);
    return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

std::vector<std::string_view> split(std::string_view s, char separator) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const auto end = s.find(separator, start);
        parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

bool has_control_chars(std::string_view s) {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) return true;
    }
    return false;
}

}  // namespace almanac
