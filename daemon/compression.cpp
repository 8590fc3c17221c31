#include "daemon/compression.hpp"

#include <algorithm>
#include <memory>

#include <brotli/encode.h>
#include <xxhash.h>
#include <zlib.h>

namespace almanac {

namespace {

// The first `size` bytes of `buffer` in a string of that capacity. Compressors write into a buffer
// sized for incompressible input, and the result is kept as long as its document: resize() alone
// would keep the whole buffer (the gzip chunks of a 28 MB calendar held 320 MB this way).
std::string exactly(std::string buffer, std::size_t size) {
    buffer.resize(size);
    buffer.shrink_to_fit();
    return buffer;
}

}  // namespace

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
    return exactly(std::move(out), written);
}

std::optional<std::string> brotli_compress(std::string_view data, int quality) {
    std::size_t size = BrotliEncoderMaxCompressedSize(data.size());
    if (size == 0) size = data.size() + 1024;
    std::string out(size, '\0');
    if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, data.size(),
                               reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                               reinterpret_cast<std::uint8_t*>(out.data())))
        return std::nullopt;
    return exactly(std::move(out), size);
}

std::optional<std::string> brotli_compress(const Rope& data, int quality) {
    if (data.piece_count() <= 1) return brotli_compress(data.empty() ? std::string_view() : data.front()->str(), quality);
    const std::unique_ptr<BrotliEncoderState, decltype(&BrotliEncoderDestroyInstance)> state(
        BrotliEncoderCreateInstance(nullptr, nullptr, nullptr), &BrotliEncoderDestroyInstance);
    if (!state || !BrotliEncoderSetParameter(state.get(), BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(quality)) ||
        !BrotliEncoderSetParameter(state.get(), BROTLI_PARAM_MODE, BROTLI_MODE_TEXT) ||
        !BrotliEncoderSetParameter(state.get(), BROTLI_PARAM_SIZE_HINT,
                                   static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), 1u << 30))))
        return std::nullopt;
    std::string out;
    const auto feed = [&](const std::uint8_t* in, std::size_t length, BrotliEncoderOperation op) {
        for (;;) {
            std::size_t available_out = 0;
            if (!BrotliEncoderCompressStream(state.get(), op, &length, &in, &available_out, nullptr, nullptr)) return false;
            while (BrotliEncoderHasMoreOutput(state.get())) {
                std::size_t produced = 0;
                const std::uint8_t* bytes = BrotliEncoderTakeOutput(state.get(), &produced);
                out.append(reinterpret_cast<const char*>(bytes), produced);
            }
            if (op == BROTLI_OPERATION_FINISH ? BrotliEncoderIsFinished(state.get()) : length == 0) return true;
        }
    };
    for (const auto& block : data.blocks())
        for (const auto& piece : block->pieces)
            if (!feed(reinterpret_cast<const std::uint8_t*>(piece->data()), piece->size(), BROTLI_OPERATION_PROCESS))
                return std::nullopt;
    if (!feed(nullptr, 0, BROTLI_OPERATION_FINISH)) return std::nullopt;
    const std::size_t size = out.size();
    return exactly(std::move(out), size);  // appends leave up to half the capacity unused
}

namespace {

constexpr std::size_t min_chunk = std::size_t{64} * 1024;
constexpr std::size_t max_chunk = std::size_t{1024} * 1024;
// A chunk may end after a piece whose hash has these bits clear (one piece in eight), once it holds
// min_chunk bytes.
constexpr std::uint64_t boundary_mask = 7;

// Raw deflate (no header) of `pieces` at the best level, ending with a sync flush: byte-aligned and
// not final, so that chunks can follow one another. nullopt on a zlib failure.
std::optional<std::string> deflate_chunk(const std::vector<const Piece*>& pieces, std::size_t length) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
    std::string out(deflateBound(&zs, length) + 16, '\0');
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    bool ok = true;
    for (std::size_t i = 0; ok && i < pieces.size(); ++i) {
        const PieceText& piece = **pieces[i];
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
        zs.avail_in = static_cast<uInt>(piece.size());
        ok = deflate(&zs, i + 1 == pieces.size() ? Z_SYNC_FLUSH : Z_NO_FLUSH) == Z_OK && zs.avail_in == 0;
    }
    const auto written = zs.total_out;
    deflateEnd(&zs);
    if (!ok || zs.avail_out == 0) return std::nullopt;
    return exactly(std::move(out), written);
}

void put_le32(std::string& out, unsigned long value) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

}  // namespace

const GzipChunks::Chunk* GzipChunks::chunk(const std::vector<const Piece*>& pieces, Key& key) {
    // The chunk's key: a hash of its pieces' hashes (made with the pieces, feeds/rope.hpp) and
    // lengths, so equal keys mean equal bytes.
    std::vector<std::uint64_t> words;
    words.reserve(3 * pieces.size());
    std::size_t length = 0;
    for (const auto* piece : pieces) {
        const PieceHash& h = (*piece)->hash();
        words.insert(words.end(), {h.low, h.high, static_cast<std::uint64_t>((*piece)->size())});
        length += (*piece)->size();
    }
    const XXH128_hash_t h = XXH3_128bits(words.data(), words.size() * sizeof(std::uint64_t));
    key = Key{h.low64, h.high64};
    if (const auto it = chunks_.find(key); it != chunks_.end()) {
        ++hits_;
        it->second.used = true;
        return &it->second;
    }
    ++misses_;
    auto deflated = deflate_chunk(pieces, length);
    if (!deflated) return nullptr;
    Chunk c;
    c.deflated = make_piece(std::move(*deflated));
    c.length = length;
    c.combine_op = crc32_combine_gen(static_cast<z_off_t>(length));
    c.crc = crc32_z(0L, Z_NULL, 0);
    for (const auto* piece : pieces)
        c.crc = crc32_z(c.crc, reinterpret_cast<const Bytef*>((*piece)->data()), (*piece)->size());
    return &chunks_.emplace(key, std::move(c)).first->second;
}

std::optional<Rope> GzipChunks::compress(const Rope& body, std::string_view document) {
    // RFC 1952 header: deflate, no flags, no mtime, "maximum compression", Unix.
    static const std::string header("\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03", 10);
    RopeBuilder out;
    out.append(header);
    unsigned long crc = crc32_z(0L, Z_NULL, 0);
    std::vector<const Piece*> pieces;
    std::vector<Key> keys;
    std::size_t length = 0;
    const auto close_chunk = [&] {
        if (pieces.empty()) return true;
        Key key{};
        const Chunk* c = chunk(pieces, key);
        if (!c) return false;
        keys.push_back(key);
        out.share(c->deflated);
        crc = crc32_combine_op(crc, c->crc, c->combine_op);
        pieces.clear();
        length = 0;
        return true;
    };
    for (const auto& block : body.blocks()) {
        for (const auto& piece : block->pieces) {
            pieces.push_back(&piece);
            length += piece->size();
            if (length >= max_chunk || (length >= min_chunk && (piece->hash().low & boundary_mask) == 0))
                if (!close_chunk()) return std::nullopt;
        }
    }
    if (!close_chunk()) return std::nullopt;
    // A final, empty block with fixed codes (BFINAL 1, BTYPE 01, end-of-block), then the trailer.
    std::string trailer("\x03\x00", 2);
    put_le32(trailer, crc);
    put_le32(trailer, static_cast<unsigned long>(body.size() & 0xFFFFFFFFu));
    out.append(trailer);
    if (!document.empty()) {
        // This body's chunks replace the document's previous ones: those no named document uses now go.
        for (const Key& k : keys) ++chunks_.at(k).documents;
        auto& previous = documents_[std::string(document)];
        for (const Key& k : previous) {
            const auto it = chunks_.find(k);  // a sweep may have dropped it
            if (it != chunks_.end() && --it->second.documents == 0) chunks_.erase(it);
        }
        previous = std::move(keys);
    }
    return std::move(out).finish();
}

void GzipChunks::sweep() {
    std::erase_if(chunks_, [](auto& entry) { return !entry.second.used; });
    // The documents whose chunks all went (a feed no longer published) are forgotten.
    std::erase_if(documents_, [&](const auto& d) {
        return std::none_of(d.second.begin(), d.second.end(), [&](const Key& k) { return chunks_.contains(k); });
    });
    for (auto& [key, c] : chunks_) c.used = false;
    hits_ = misses_ = 0;
}

}  // namespace almanac
