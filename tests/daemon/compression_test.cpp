#include "daemon/compression.hpp"
#include "daemon/snapshot.hpp"

#include <gtest/gtest.h>

#include <brotli/decode.h>
#include <zlib.h>

namespace almanac {
namespace {

// Inflates a whole gzip stream with zlib, which checks the CRC-32 and the length in the trailer.
std::optional<std::string> gunzip(const std::string& data) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
    std::string out;
    char buf[65536];
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof buf - zs.avail_out);
    }
    const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;  // one member, nothing after it
    inflateEnd(&zs);
    if (!whole) return std::nullopt;
    return out;
}

// A calendar-like document: a head, `n` entries of a few hundred bytes each (entry `edited` says
// so), a tail.
Rope document(int n, int edited = -1) {
    RopeBuilder b;
    b.append("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    for (int i = 0; i < n; ++i) {
        std::string entry = "BEGIN:VEVENT\r\nUID:event-" + std::to_string(i) + "@example.org\r\nSUMMARY:" +
                            (i == edited ? "Edited meetup " : "Meetup number ") + std::to_string(i * 7919 % 1000) +
                            "\r\nDESCRIPTION:" + std::string(100 + i % 300, static_cast<char>('a' + i % 26)) +
                            "\r\nEND:VEVENT\r\n";
        b.share(make_piece(std::move(entry)));
    }
    b.append("END:VCALENDAR\r\n");
    return std::move(b).finish();
}

TEST(GzipChunks, AnyGzipReaderReadsTheJoinedChunks) {
    GzipChunks chunks;
    for (const int n : {2, 40, 3000}) {
        const Rope body = document(n);
        const auto gz = chunks.compress(body);
        ASSERT_TRUE(gz) << n;
        const auto back = gunzip(gz->str());
        ASSERT_TRUE(back) << n << " entries: zlib refused the stream";
        EXPECT_TRUE(*back == body.str()) << n;
        if (n > 2) {
            EXPECT_LT(gz->size(), body.size() / 3) << n;
        }
    }
    EXPECT_GT(chunks.size(), 5u);  // 3,000 entries (~1 MB) make several chunks
    // Not much worse than compressing the whole document at once.
    const Rope big = document(3000);
    const auto whole = gzip_compress(big.str());
    ASSERT_TRUE(whole);
    EXPECT_LT(chunks.compress(big)->size(), whole->size() * 11 / 10);
}

// Compressed bytes live as long as their document: the buffers they were written into (sized for
// incompressible input, or grown by appending) must not stay allocated behind them.
TEST(Compression, KeepsNoMoreMemoryThanTheCompressedBytes) {
    const auto slack = [](const std::string& s) { return s.capacity() - s.size(); };
    const Rope big = document(3000);  // ~1 MB, compressing to a small fraction of it
    const std::string flat = big.str();
    const auto gz = gzip_compress(flat);
    ASSERT_TRUE(gz);
    EXPECT_LT(slack(*gz), 64u) << gz->size() << " bytes in " << gz->capacity();
    const auto br = brotli_compress(std::string_view(flat));
    ASSERT_TRUE(br);
    EXPECT_LT(slack(*br), 64u) << br->size() << " bytes in " << br->capacity();
    const auto br_pieces = brotli_compress(big);
    ASSERT_TRUE(br_pieces);
    EXPECT_LT(slack(*br_pieces), 64u) << br_pieces->size() << " bytes in " << br_pieces->capacity();
    GzipChunks chunks;
    const auto joined = chunks.compress(big);
    ASSERT_TRUE(joined);
    std::size_t held = 0;
    for (const auto& piece : joined->pieces()) held += piece->capacity();
    EXPECT_LT(held, joined->size() + 64 * joined->pieces().size()) << joined->size() << " bytes in " << held;
}

// Replicas must send the same bytes under the same tag: what a cache gives after an edit is what a
// new cache gives for the edited document, and most chunks are reused.
TEST(GzipChunks, AnEditRecompressesOnlyItsChunks) {
    GzipChunks kept;
    ASSERT_TRUE(kept.compress(document(3000)));
    const std::size_t chunks = kept.size();
    kept.sweep();
    const Rope edited = document(3000, 1500);
    const auto again = kept.compress(edited);
    ASSERT_TRUE(again);
    EXPECT_GE(kept.misses(), 1u);
    EXPECT_LE(kept.misses(), 2u);
    EXPECT_GE(kept.hits(), chunks - 2);
    GzipChunks fresh;
    const auto from_scratch = fresh.compress(edited);
    ASSERT_TRUE(from_scratch);
    EXPECT_TRUE(again->str() == from_scratch->str());
    EXPECT_TRUE(gunzip(again->str()) == edited.str());
    // The sweep drops the chunk the edit replaced.
    kept.sweep();
    ASSERT_TRUE(kept.compress(edited));
    kept.sweep();
    EXPECT_EQ(kept.size(), fresh.size());
}

// The encoder names each document: the chunks an edit replaced go when the document's new body is
// compressed, without a sweep (which an encoder interrupted by newer snapshots never reaches), and
// those another document still uses stay.
TEST(GzipChunks, ANamedDocumentsReplacedChunksGoAtOnce) {
    GzipChunks kept;
    ASSERT_TRUE(kept.compress(document(3000), "events.ics"));
    ASSERT_TRUE(kept.compress(document(3000), "tz/UTC/events.ics"));  // the same bytes, the same chunks
    const std::size_t chunks = kept.size();
    for (int edit = 0; edit < 20; ++edit) {
        const auto gz = kept.compress(document(3000, 100 * edit), "events.ics");
        ASSERT_TRUE(gz);
        EXPECT_TRUE(gunzip(gz->str()) == document(3000, 100 * edit).str());
    }
    // The last edit's chunk, beside every chunk the other document still uses.
    EXPECT_LE(kept.size(), chunks + 2);
    ASSERT_TRUE(kept.compress(document(3000), "events.ics"));
    EXPECT_EQ(kept.size(), chunks);
    ASSERT_TRUE(kept.compress(document(3000, 5), "tz/UTC/events.ics"));
    ASSERT_TRUE(kept.compress(document(3000, 5), "events.ics"));
    EXPECT_LE(kept.size(), chunks + 1);
    EXPECT_GE(kept.size(), chunks);
}

TEST(Brotli, PiecesGiveTheSameDocument) {
    const Rope body = document(500);
    const auto br = brotli_compress(body);
    ASSERT_TRUE(br);
    std::string out(body.size() + 16, '\0');
    std::size_t size = out.size();
    ASSERT_EQ(BrotliDecoderDecompress(br->size(), reinterpret_cast<const std::uint8_t*>(br->data()), &size,
                                      reinterpret_cast<std::uint8_t*>(out.data())),
              BROTLI_DECODER_RESULT_SUCCESS);
    out.resize(size);
    EXPECT_TRUE(out == body.str());
    EXPECT_EQ(brotli_compress(body), brotli_compress(body));  // deterministic
}

// Large documents get gzip at once and brotli in a later pass; small ones get both at once.
TEST(EncodeSnapshot, LargeDocumentsBrotliCanWait) {
    Snapshot plain(4);
    plain.site = std::make_shared<const Site>();
    Rope big = document(8000);  // ~2.5 MB in pieces
    ASSERT_GT(big.size(), 1u << 20);
    const std::string big_tag = strong_etag(big);
    plain.documents.emplace("big.ics", make_representation(Document{std::move(big), "text/calendar", big_tag}, Instant{}, false));
    Rope small = document(40);
    const std::string small_tag = strong_etag(small);
    plain.documents.emplace("small.ics", make_representation(Document{std::move(small), "text/calendar", small_tag}, Instant{}, false));
    EXPECT_FALSE(is_gzip_encoded(plain));

    GzipChunks chunks;
    const auto first = encode_snapshot(plain, nullptr, &chunks, true);
    EXPECT_TRUE(is_gzip_encoded(*first));
    EXPECT_FALSE(is_encoded(*first));
    const auto& big_first = *first->documents.at("big.ics");
    ASSERT_TRUE(big_first.gzip);
    EXPECT_TRUE(gunzip(big_first.gzip->str()) == big_first.identity->str());
    EXPECT_FALSE(big_first.brotli);
    EXPECT_TRUE(big_first.brotli_deferred);
    EXPECT_TRUE(first->documents.at("small.ics")->brotli);

    const auto second = encode_snapshot(*first, nullptr, &chunks, false);
    EXPECT_TRUE(is_encoded(*second));
    EXPECT_TRUE(second->documents.at("big.ics")->brotli);
    EXPECT_EQ(second->documents.at("big.ics")->gzip, big_first.gzip);                // not compressed again
    EXPECT_EQ(second->documents.at("small.ics"), first->documents.at("small.ics"));  // nothing to do
    EXPECT_EQ(second->documents.at("big.ics")->etag, big_tag);
}

}  // namespace
}  // namespace almanac
