#include "feeds/uri.hpp"

#include <cstdlib>
#include <memory>

#include <idn2.h>

namespace almanac {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_ascii(std::string_view s) {
    for (const char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// Bytes RFC 3986 has no place for: everything outside printable ASCII, and the printable
// characters it excludes. '%' stays: it starts an escape, checked separately.
bool needs_escape(unsigned char c) {
    if (c <= 0x20 || c >= 0x7f) return true;
    switch (c) {
        case '"':
        case '<':
        case '>':
        case '\\':
        case '^':
        case '`':
        case '{':
        case '|':
        case '}':
            return true;
        default:
            return false;
    }
}

// `part` with the bytes a URI cannot hold percent-encoded; an error message in `error` on a '%'
// that does not start an escape.
std::string escaped(std::string_view part, std::string& error) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < part.size(); ++i) {
        const auto c = static_cast<unsigned char>(part[i]);
        if (c == '%' && !(i + 2 < part.size() && is_hex(part[i + 1]) && is_hex(part[i + 2]))) {
            error = "'" + std::string(part.substr(i, 3)) + "' is not a percent-escape (write %25 for a literal '%')";
            return {};
        }
        if (needs_escape(c)) {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

// The IDNA (punycode) form of a host that has non-ASCII characters.
Expected<std::string> ascii_host(std::string_view host) {
    if (is_ascii(host)) return std::string(host);
    // libidn2 converts label by label and lets an empty one through; only the root's may be empty.
    const auto labels = host.ends_with('.') ? host.substr(0, host.size() - 1) : host;
    if (labels.starts_with('.') || labels.find("..") != std::string_view::npos)
        return unexpected("host '" + std::string(host) + "' is not a valid domain name: it has an empty label");
    char* out = nullptr;
    const int rc = idn2_to_ascii_8z(std::string(host).c_str(), &out,
                                    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES);
    const std::unique_ptr<char, decltype(&std::free)> owned(out, &std::free);
    if (rc != IDN2_OK) return unexpected("host '" + std::string(host) + "' is not a valid domain name: " + idn2_strerror(rc));
    return std::string(out);
}

}  // namespace

Expected<std::string> to_ascii_uri(std::string_view iri) {
    std::string error;
    // scheme ":" [ "//" authority ] rest, where rest is path [ "?" query ] [ "#" fragment ].
    const auto colon = iri.find(':');
    const auto scheme = colon == std::string_view::npos ? std::string_view{} : iri.substr(0, colon + 1);
    auto rest = iri.substr(scheme.size());
    std::string out(scheme);
    if (rest.starts_with("//")) {
        const auto end = rest.find_first_of("/?#", 2);
        const auto authority = rest.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
        const auto at = authority.rfind('@');
        const auto userinfo = at == std::string_view::npos ? std::string_view{} : authority.substr(0, at + 1);
        auto host = authority.substr(userinfo.size());
        std::string_view port;
        if (host.starts_with('[')) {  // an IP literal: [::1]:8080
            const auto close = host.find(']');
            if (close == std::string_view::npos) return unexpected("'[' without ']' in the host of '" + std::string(iri) + "'");
            port = host.substr(close + 1);
            host = host.substr(0, close + 1);
        } else if (const auto p = host.rfind(':'); p != std::string_view::npos) {
            port = host.substr(p);
            host = host.substr(0, p);
        }
        if (host.empty()) return unexpected("no host after '//' in '" + std::string(iri) + "'");
        if (!port.empty() && (port[0] != ':' || port.find_first_not_of("0123456789", 1) != std::string_view::npos))
            return unexpected("port '" + std::string(port.substr(port[0] == ':' ? 1 : 0)) + "' is not a number in '" +
                              std::string(iri) + "'");
        const auto ascii = ascii_host(host);
        if (!ascii) return unexpected(ascii.error());
        out += "//" + escaped(userinfo, error) + *ascii + std::string(port);
    }
    out += escaped(rest, error);
    if (!error.empty()) return unexpected(error + " in '" + std::string(iri) + "'");
    return out;
}

}  // namespace almanac
