// Text hygiene for content files: UTF-8 validation, BOM and CRLF handling, small string helpers
// shared by the parsers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "feeds/diagnostic.hpp"
#include "feeds/expected.hpp"

namespace almanac {

struct NormalizedText {
    std::string text;  // valid UTF-8, no BOM, LF line ends
    bool ok = true;
    Diagnostic error;  // when !ok: the line and column of the first invalid byte
};

// Checks UTF-8 (rejecting overlongs, surrogates and code points above U+10FFFF), strips a leading
// BOM, turns CRLF and lone CR into LF. Invalid UTF-8 is an error for the file, never a crash.
NormalizedText normalize_text(std::string_view bytes, const std::string& path);

// Offset of the first invalid UTF-8 byte, or npos when the text is valid.
std::size_t find_invalid_utf8(std::string_view s);

// The code point of the multi-byte UTF-8 sequence that starts at s[at] (a byte of 0x80 or more) and
// its length; length 0 when the bytes there are not one (a continuation byte without a lead, an
// overlong form, a surrogate, a code point above U+10FFFF, a sequence cut short).
struct Utf8Sequence {
    char32_t code_point = 0;
    std::size_t length = 0;
};
Utf8Sequence decode_utf8(std::string_view s, std::size_t at);

// `s` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD: for text from
// libraries that may quote a byte out of the middle of a character (yaml-cpp's messages).
std::string valid_utf8(std::string_view s);

// A scalar as yaml-cpp 0.7 decoded it from UTF-8 text, made UTF-8 again: it writes the escapes \N
// and \_ (U+0085, U+00A0) as the single bytes 0x85 and 0xA0, which are encoded here as they should
// be; any other stray byte becomes U+FFFD.
std::string yaml_scalar_utf8(std::string_view s);

// Lowercase ASCII letters, digits and '-' from `s` (Hugo's urlize for slugs); other letters kept.
std::string slugify(std::string_view s);

std::string_view trim(std::string_view s);

// `n` (0 to 99) as two digits at `p`; the position after them. For dates and times written into
// fixed-width buffers.
inline char* put_two_digits(char* p, long n) {
    p[0] = static_cast<char>('0' + n / 10);
    p[1] = static_cast<char>('0' + n % 10);
    return p + 2;
}

// `s` with ASCII letters lowercased (keys, schemes, extensions: never locale-dependent).
std::string ascii_lower(std::string_view s);
char ascii_lower(char c);

// True when `a` and `b` differ at most in the case of ASCII letters; allocates nothing.
bool ascii_iequals(std::string_view a, std::string_view b);

// The parts of `s` between separators; "a,,b" gives three parts, "" gives one empty part.
std::vector<std::string_view> split(std::string_view s, char separator);

// True when `s` contains a control character other than tab/newline.
bool has_control_chars(std::string_view s);

}  // namespace almanac
