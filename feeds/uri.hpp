// URI values are ASCII (RFC 3986): an IRI (RFC 3987) as people write it, https://例え.jp/パス?q=ü,
// becomes the URI every format carries, https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%BC.
#pragma once

#include <string>
#include <string_view>

#include "feeds/expected.hpp"

namespace almanac {

// The ASCII URI of `iri`: a non-ASCII host in IDNA form (punycode, UTS #46 non-transitional,
// libidn2), and every byte of the rest that a URI cannot hold (non-ASCII, space, controls, "<>\^`{|})
// percent-encoded as UTF-8. A URI that is already ASCII comes back unchanged (escapes are kept, not
// encoded twice). Fails, with a message saying what is wrong, on a host IDNA rejects, an empty host
// after "//", a port that is not a number, an unclosed "[" or a '%' without two hex digits.
Expected<std::string> to_ascii_uri(std::string_view iri);

}  // namespace almanac
