// gzip (zlib) and brotli encodings of a response body, computed once per snapshot (SPEC §5).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace almanac {

// The gzip (RFC 1952) encoding of `data` at the best compression level, or nullopt on a zlib failure.
std::optional<std::string> gzip_compress(std::string_view data);

// The brotli (RFC 7932) encoding of `data` at `quality` (0–11), or nullopt on failure.
// Quality 6 is nginx's default: quality 9 costs ten times the time for 2% on feed-sized text.
std::optional<std::string> brotli_compress(std::string_view data, int quality = 6);

}  // namespace almanac
