#include "daemon/compression.hpp"

#include <brotli/encode.h>
#include <zlib.h>

namespace almanac {

std::optional<std::string> gzip_compress(std::string_view data) {
    z_stream zs{};
    // windowBits 15 + 16 asks zlib for a gzip header and trailer instead of a zlib one.
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
    std::string out(deflateBound(&zs, data.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    const auto written = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) return std::nullopt;
    out.resize(written);
    return out;
}

std::optional<std::string> brotli_compress(std::string_view data, int quality) {
    std::size_t size = BrotliEncoderMaxCompressedSize(data.size());
    if (size == 0) size = data.size() + 1024;
    std::string out(size, '\0');
    if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, data.size(),
                               reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                               reinterpret_cast<std::uint8_t*>(out.data())))
        return std::nullopt;
    out.resize(size);
    return out;
}

}  // namespace almanac
