// gzip (zlib) and brotli encodings of a response body, computed once per snapshot (SPEC §5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "feeds/rope.hpp"

namespace almanac {

// The gzip (RFC 1952) encoding of `data` at the best compression level, or nullopt on a zlib failure.
std::optional<std::string> gzip_compress(std::string_view data);

// The brotli (RFC 7932) encoding of `data` at `quality` (0–11), or nullopt on failure.
// Quality 6 is nginx's default: quality 9 costs ten times the time for 2% on feed-sized text.
std::optional<std::string> brotli_compress(std::string_view data, int quality = 6);
// The same for the bytes of `data`, read piece by piece (no flat copy).
std::optional<std::string> brotli_compress(const Rope& data, int quality = 6);

// gzip for large documents, kept between snapshots so that an edit compresses again only what it
// changed. A document's pieces are grouped into chunks of 64 KiB to 1 MiB whose ends are chosen by
// the bytes of the pieces (so after an edit the chunks realign after the changed one), each chunk
// is deflated on its own at the best level and ends byte-aligned (a sync flush), and the chunks are
// joined as pigz joins its blocks: one gzip header, the chunks, a final empty block, the CRC-32
// combined from the chunks' and the length. Any gzip reader reads it as one member; the bytes are
// the same on every machine for the same document. Not thread-safe: the encoder owns one.
class GzipChunks {
public:
    // The gzip encoding of `body`, or nullopt on a zlib failure. With a `document` name (its path),
    // the chunks that document's previous body used and this one does not, and no other document
    // uses, are dropped at once: an encoder that newer snapshots keep interrupting never comes to a
    // sweep, and kept every chunk an edit replaced (about 90 KB an edit on the 10k site).
    std::optional<Rope> compress(const Rope& body, std::string_view document = {});
    // Drops the chunks not used since the previous sweep.
    void sweep();
    std::size_t size() const { return chunks_.size(); }
    std::size_t hits() const { return hits_; }
    std::size_t misses() const { return misses_; }

private:
    struct Key {
        std::uint64_t low;
        std::uint64_t high;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const { return static_cast<std::size_t>(k.low); }
    };
    struct Chunk {
        Piece deflated;
        unsigned long crc = 0;
        std::size_t length = 0;
        // zlib's operator for appending this chunk's CRC to another (crc32_combine_gen): made once,
        // not worked out again from the length each time a document uses the chunk.
        unsigned long combine_op = 0;
        bool used = true;
        std::size_t documents = 0;  // uses by the named documents' bodies (documents_)
    };
    const Chunk* chunk(const std::vector<const Piece*>& pieces, Key& key);

    std::unordered_map<Key, Chunk, KeyHash> chunks_;
    std::unordered_map<std::string, std::vector<Key>> documents_;  // the chunks each named document's body uses
    std::size_t hits_ = 0;
    std::size_t misses_ = 0;
};

}  // namespace almanac
