// Shared by the libFuzzer targets: a check that aborts with a message (so libFuzzer saves the input
// as a crash), and the invariants more than one target checks on rendered documents.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "feeds/diagnostic.hpp"
#include "feeds/text.hpp"

namespace almanac::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2000)),
                 detail.data());
    std::abort();
}

inline void check(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) fail(what, detail);
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

inline void check_utf8(std::string_view s, const char* what) {
    check(find_invalid_utf8(s) == std::string_view::npos, what, s);
}

// Every diagnostic names `path`, has a sane position and says something.
inline void check_diagnostics(const Diagnostics& ds, std::string_view path) {
    for (const auto& d : ds) {
        check(d.path == path, "diagnostic names another file", d.path);
        check(d.line >= 0 && d.column >= 0, "diagnostic with a negative position", d.message);
        check(!d.message.empty(), "diagnostic without a message", d.path);
        check_utf8(d.message, "diagnostic message is not UTF-8");
    }
}

// RFC 5545 §3.1: CRLF line ends, at most 75 octets a line, folding never inside a UTF-8 sequence.
inline void check_ics(std::string_view ics) {
    check_utf8(ics, "ics is not UTF-8");
    check(ics.starts_with("BEGIN:VCALENDAR\r\n"), "ics does not start with BEGIN:VCALENDAR", ics.substr(0, 200));
    check(ics.ends_with("END:VCALENDAR\r\n"), "ics does not end with END:VCALENDAR", ics.substr(ics.size() > 200 ? ics.size() - 200 : 0));
    std::size_t start = 0;
    while (start < ics.size()) {
        const std::size_t lf = ics.find('\n', start);
        check(lf != std::string_view::npos, "ics line without LF", ics.substr(start, 200));
        check(lf > start && ics[lf - 1] == '\r', "ics line without CRLF", ics.substr(start, lf - start));
        const std::string_view line = ics.substr(start, lf - 1 - start);
        check(line.size() <= 75, "ics line longer than 75 octets", line);
        check(line.find('\r') == std::string_view::npos, "bare CR in an ics line", line);
        for (const char c : line) {
            const auto u = static_cast<unsigned char>(c);
            check(u >= 0x20 || c == '\t', "control character in an ics line", line);
            check(u != 0x7f, "DEL in an ics line", line);
        }
        start = lf + 1;
    }
}

// XML 1.0 (RSS, Atom, HTML-ish output): UTF-8 and no control characters XML forbids.
inline void check_xml_chars(std::string_view xml, const char* what) {
    check_utf8(xml, what);
    for (const char c : xml) {
        const auto u = static_cast<unsigned char>(c);
        check(u >= 0x20 || c == '\t' || c == '\n' || c == '\r', what, xml.substr(0, 400));
    }
}

}  // namespace almanac::fuzz
