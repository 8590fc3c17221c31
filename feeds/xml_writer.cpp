#include "feeds/xml_writer.hpp"

namespace almanac {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto continuation = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
    const unsigned char b0 = byte(0);
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(1) ? 2 : 0;
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (!continuation(1) || !continuation(2)) return 0;
        if (b0 == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
        if (b0 == 0xED && byte(1) >= 0xA0) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
        if (b0 == 0xF0 && byte(1) < 0x90) return 0;  // overlong
        if (b0 == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        switch (c) {
        case '&': out += "&amp;"; ++i; continue;
        case '<': out += "&lt;"; ++i; continue;
        case '>': out += "&gt;"; ++i; continue;  // so that "]]>" can never appear in text
        case '"': out += "&quot;"; ++i; continue;
        case '\'': out += "&apos;"; ++i; continue;
        default: break;
        }
        const std::size_t n = utf8_sequence_length(text.substr(i));
        if (n == 0) {
            out += replacement_character;
            ++i;
            continue;
        }
        const std::string_view sequence = text.substr(i, n);
        i += n;
        const bool forbidden_control = n == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r';
        const bool noncharacter = sequence == "\xEF\xBF\xBE" || sequence == "\xEF\xBF\xBF";  // U+FFFE, U+FFFF
        if (!forbidden_control && !noncharacter) out += sequence;
    }
    return out;
}

XmlWriter::XmlWriter() : out_(R"(<?xml version="1.0" encoding="utf-8"?>)") {}

void XmlWriter::start_tag(std::string_view name, XmlAttributes attributes) {
    out_ += '\n';
    out_.append(2 * open_.size(), ' ');
    out_ += '<';
    out_ += name;
    for (const auto& [key, value] : attributes) {
        out_ += ' ';
        out_ += key;
        out_ += "=\"";
        out_ += xml_escape(value);
        out_ += '"';
    }
}

void XmlWriter::open(std::string_view name, XmlAttributes attributes) {
    start_tag(name, attributes);
    out_ += '>';
    open_.emplace_back(name);
}

void XmlWriter::close() {
    const std::string name = std::move(open_.back());
    open_.pop_back();
    out_ += '\n';
    out_.append(2 * open_.size(), ' ');
    out_ += "</";
    out_ += name;
    out_ += '>';
}

void XmlWriter::text_element(std::string_view name, std::string_view text, XmlAttributes attributes) {
    start_tag(name, attributes);
    out_ += '>';
    out_ += xml_escape(text);
    out_ += "</";
    out_ += name;
    out_ += '>';
}

void XmlWriter::empty_element(std::string_view name, XmlAttributes attributes) {
    start_tag(name, attributes);
    out_ += "/>";
}

std::string XmlWriter::finish() && {
    while (!open_.empty()) close();
    out_ += '\n';
    return std::move(out_);
}

}  // namespace almanac
