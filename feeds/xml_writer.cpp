#include "feeds/xml_writer.hpp"

#include <array>

#include "feeds/byte_runs.hpp"
#include "feeds/text.hpp"

namespace almanac {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

// Bytes that pass through unchanged: printable ASCII other than the five specials, tab, LF, CR.
// Everything else takes the slow path (an entity, a dropped control, or a UTF-8 sequence to check).
constexpr std::array<bool, 256> plain_bytes = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[c] = true;
    for (const char c : {'&', '<', '>', '"', '\''}) t[static_cast<unsigned char>(c)] = false;
    t[0x7F] = true;  // DEL is a valid XML 1.0 character
    t['\t'] = t['\n'] = t['\r'] = true;
    return t;
}();

}  // namespace

void append_xml_escaped(std::string& out, std::string_view text) {
    std::size_t i = 0;
    std::size_t run = 0;  // start of the bytes not yet copied
    const auto flush = [&] { out.append(text.data() + run, i - run); };
    while ((i = run_end<true, true, '&', '<', '>', '"', '\''>(text, i)) < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (plain_bytes[c]) {  // tab, LF, CR
            ++i;
            continue;
        }
        std::string_view entity;
        switch (c) {
            case '&': entity = "&amp;"; break;
            case '<': entity = "&lt;"; break;
            case '>': entity = "&gt;"; break;  // so that "]]>" can never appear in text
            case '"': entity = "&quot;"; break;
            case '\'': entity = "&apos;"; break;
            default: break;
        }
        if (!entity.empty() || c < 0x20) {  // an entity, or a control character XML forbids (dropped)
            flush();
            out += entity;
            run = ++i;
            continue;
        }
        const std::size_t n = decode_utf8(text, i).length;  // c is 0x80 or more here
        if (n == 0) {
            flush();
            out += replacement_character;
            run = ++i;
            continue;
        }
        const std::string_view sequence = text.substr(i, n);
        if (sequence == "\xEF\xBF\xBE" || sequence == "\xEF\xBF\xBF") {  // U+FFFE, U+FFFF: dropped
            flush();
            run = i += n;
            continue;
        }
        i += n;
    }
    flush();
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    append_xml_escaped(out, text);
    return out;
}

XmlWriter::XmlWriter() : out_(R"(<?xml version="1.0" encoding="utf-8"?>)") {}

void XmlWriter::start_tag(std::string_view name, XmlAttributes attributes) {
    out_ += '\n';
    out_.append(2 * depth(), ' ');
    out_ += '<';
    out_ += name;
    for (const auto& [key, value] : attributes) {
        out_ += ' ';
        out_ += key;
        out_ += "=\"";
        append_xml_escaped(out_, value);
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
    out_.append(2 * depth(), ' ');
    out_ += "</";
    out_ += name;
    out_ += '>';
}

void XmlWriter::text_element(std::string_view name, std::string_view text, XmlAttributes attributes) {
    start_tag(name, attributes);
    out_ += '>';
    append_xml_escaped(out_, text);
    out_ += "</";
    out_ += name;
    out_ += '>';
}

void XmlWriter::empty_element(std::string_view name, XmlAttributes attributes) {
    start_tag(name, attributes);
    out_ += "/>";
}

XmlWriter XmlWriter::fragment(std::size_t depth, std::string buffer) { return XmlWriter(FragmentTag{}, depth, std::move(buffer)); }

std::string XmlWriter::take() && {
    while (!open_.empty()) close();
    return std::move(out_);
}

std::string XmlWriter::flush() {
    std::string out = std::move(out_);
    out_.clear();
    return out;
}

std::string XmlWriter::finish() && {
    while (!open_.empty()) close();
    out_ += '\n';
    return std::move(out_);
}

}  // namespace almanac
