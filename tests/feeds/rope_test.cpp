#include "feeds/rope.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include "feeds/publisher.hpp"

namespace almanac {
namespace {

Piece piece(std::string text) { return make_piece(std::move(text)); }

TEST(Rope, BuilderMergesTextAndSharesPieces) {
    const Piece shared = piece("<item>1</item>");
    RopeBuilder b;
    b.append("<rss>").append("<channel>").share(shared).share(nullptr).share(piece("")).append("</channel>");
    b.share(shared).append("</rss>\n");
    const Rope rope = std::move(b).finish();
    EXPECT_EQ(rope.size(), 5u + 9 + 14 + 10 + 14 + 7);
    // Text next to text is one piece; shared pieces stay themselves; empty ones are dropped.
    ASSERT_EQ(rope.pieces().size(), 5u);
    EXPECT_EQ(rope.pieces()[0]->str(), "<rss><channel>");
    EXPECT_EQ(rope.pieces()[1], shared);
    EXPECT_EQ(rope.pieces()[2]->str(), "</channel>");
    EXPECT_EQ(rope.pieces()[3], shared);
    EXPECT_EQ(rope.str(), "<rss><channel><item>1</item></channel><item>1</item></rss>\n");
    EXPECT_EQ(rope.size(), rope.str().size());
    EXPECT_EQ(rope, "<rss><channel><item>1</item></channel><item>1</item></rss>\n");
    EXPECT_NE(rope, "<rss><channel><item>2</item></channel><item>1</item></rss>\n");
    EXPECT_NE(rope, "<rss>");
    EXPECT_EQ(rope, Rope(rope.str()));
    std::ostringstream printed;
    printed << rope;
    EXPECT_EQ(printed.str(), rope.str());
}

// The text between entries (a JSON feed's ",\n") is one piece shared by every gap it fills, with
// the bytes and the ETag of a piece made for each gap.
TEST(Rope, RepeatedTextBetweenPiecesSharesOnePiece) {
    const Piece a = piece("{\"id\": 1}"), b = piece("{\"id\": 2}"), c = piece("{\"id\": 3}");
    RopeBuilder builder;
    builder.append("[").share(a).append(",\n").share(b).append(",").append("\n").share(c).append(", ").share(a).append(",\n");
    builder.share(b).append("]");
    const Rope rope = std::move(builder).finish();
    ASSERT_EQ(rope.pieces().size(), 11u);
    EXPECT_EQ(rope.pieces()[2]->str(), ",\n");
    EXPECT_EQ(rope.pieces()[4], rope.pieces()[2]) << "the same text, merged from two appends: the same piece";
    EXPECT_EQ(rope.pieces()[6]->str(), ", ");
    EXPECT_EQ(rope.pieces()[8]->str(), ",\n");
    EXPECT_NE(rope.pieces()[8], rope.pieces()[2]) << "only the text gathered last is reused";
    EXPECT_EQ(rope, "[{\"id\": 1},\n{\"id\": 2},\n{\"id\": 3}, {\"id\": 1},\n{\"id\": 2}]");
    RopeBuilder separate;  // every gap's text a piece of its own
    for (const auto& p : std::vector<Piece>{piece("["), a, piece(",\n"), b, piece(",\n"), c, piece(", "), a, piece(",\n"), b, piece("]")})
        separate.share(p);
    EXPECT_EQ(strong_etag(rope), strong_etag(std::move(separate).finish()));
}

// A rope built again with the previous one shares that rope's runs where all their pieces are the
// same, and makes new runs where one differs, was added or removed; the bytes, the pieces and the
// ETag are those of a rope built without it, and where the runs fall does not depend on it.
TEST(Rope, RebuiltRopeSharesTheUnchangedRuns) {
    std::vector<Piece> entries;
    for (int i = 0; i < 1000; ++i) entries.push_back(piece("{\"id\": " + std::to_string(i) + "}"));
    const auto build = [](const std::vector<Piece>& items, const Rope* previous, std::string_view head) {
        RopeBuilder b(previous);
        b.append(head).append("[");
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0) b.append(",\n");
            b.share(items[i]);
        }
        b.append("]");
        return std::move(b).finish();
    };
    const Rope first = build(entries, nullptr, "{\"items\": ");
    ASSERT_EQ(first.piece_count(), 1999u + 2);
    ASSERT_EQ(first.blocks().size(), 16u);  // 2,001 pieces in runs of 128
    for (std::size_t k = 0; k + 1 < first.blocks().size(); ++k) EXPECT_EQ(first.blocks()[k]->pieces.size(), block_pieces);

    const auto shared_runs = [](const Rope& a, const Rope& b) {
        std::size_t n = 0;
        for (std::size_t k = 0; k < std::min(a.blocks().size(), b.blocks().size()); ++k) n += a.blocks()[k] == b.blocks()[k];
        return n;
    };
    const auto same_as_fresh = [&](const Rope& rebuilt, const std::vector<Piece>& items, std::string_view head) {
        const Rope fresh = build(items, nullptr, head);
        EXPECT_EQ(rebuilt, fresh.str());
        EXPECT_EQ(rebuilt.piece_count(), fresh.piece_count());
        EXPECT_EQ(strong_etag(rebuilt), strong_etag(fresh));
        ASSERT_EQ(rebuilt.blocks().size(), fresh.blocks().size());
        for (std::size_t k = 0; k < fresh.blocks().size(); ++k) EXPECT_EQ(rebuilt.blocks()[k]->hash, fresh.blocks()[k]->hash) << k;
    };

    // The same pieces: every run is the previous rope's (the head and the separators included).
    const Rope again = build(entries, &first, "{\"items\": ");
    EXPECT_EQ(shared_runs(again, first), first.blocks().size());
    same_as_fresh(again, entries, "{\"items\": ");

    // One entry changed (entry 500 is piece 1,001 with the head and separators: run 7): one new run.
    auto edited = entries;
    edited[500] = piece("{\"id\": \"five hundred\"}");
    const Rope one = build(edited, &first, "{\"items\": ");
    EXPECT_EQ(shared_runs(one, first), first.blocks().size() - 1);
    EXPECT_NE(one.blocks()[7], first.blocks()[7]);
    EXPECT_NE(strong_etag(one), strong_etag(first));
    same_as_fresh(one, edited, "{\"items\": ");

    // Another head: the first run is new, the others are still shared.
    const Rope head = build(entries, &first, "{\"title\": \"x\", \"items\": ");
    EXPECT_EQ(shared_runs(head, first), first.blocks().size() - 1);
    same_as_fresh(head, entries, "{\"title\": \"x\", \"items\": ");

    // An entry removed near the end: the runs before it are shared, the ones after are new, and the
    // rope ends with fewer pieces than the previous one's last run.
    auto removed = entries;
    removed.erase(removed.begin() + 990);
    const Rope shorter = build(removed, &first, "{\"items\": ");
    EXPECT_EQ(shared_runs(shorter, first), 15u);
    same_as_fresh(shorter, removed, "{\"items\": ");
    // The previous rope ending inside a run of the new one, and a rope that is a prefix of it.
    same_as_fresh(build(entries, &shorter, "{\"items\": "), entries, "{\"items\": ");
    const std::vector<Piece> prefix(entries.begin(), entries.begin() + 64);
    same_as_fresh(build(prefix, &first, "{\"items\": "), prefix, "{\"items\": ");

    // A rope that ends while its last run still matches the previous rope's, a shorter run: a run
    // of its own, with those pieces.
    RopeBuilder cut(&first);
    cut.append("{\"items\": [").share(entries[0]).append(",\n").share(entries[1]);
    const Rope ended = std::move(cut).finish();
    ASSERT_EQ(ended.blocks().size(), 1u);
    EXPECT_EQ(ended.piece_count(), 4u);
    EXPECT_EQ(ended.blocks()[0]->pieces[1], first.blocks()[0]->pieces[1]);
    EXPECT_EQ(ended, "{\"items\": [{\"id\": 0},\n{\"id\": 1}");
    RopeBuilder cut_fresh;
    cut_fresh.append("{\"items\": [").share(entries[0]).append(",\n").share(entries[1]);
    EXPECT_EQ(strong_etag(ended), strong_etag(std::move(cut_fresh).finish()));

    // Empty pieces are nothing, with or without a previous rope: no empty run, no run given up.
    RopeBuilder empties(&first);
    empties.share(piece("")).append("{\"items\": [");
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) empties.append(",\n");
        empties.share(entries[i]).share(piece(""));
    }
    empties.append("]").share(piece(""));
    const Rope with_empties = std::move(empties).finish();
    EXPECT_EQ(shared_runs(with_empties, first), first.blocks().size());
    EXPECT_EQ(with_empties.piece_count(), first.piece_count());
    const Rope only_empty = std::move(RopeBuilder(&first).share(piece(""))).finish();
    EXPECT_TRUE(only_empty.blocks().empty());
    EXPECT_FALSE(only_empty.front());
    EXPECT_TRUE(std::move(RopeBuilder().share(piece(""))).finish().blocks().empty());
}

// The tag of a rope of several runs, pinned: XXH3-64 of the runs' XXH3-128 (of their pieces' hashes
// and lengths) and lengths, little-endian. A change here changes every large document's ETag. The
// value was computed apart from this code, with Debian's python3-xxhash (struct.pack("<QQQ", ...)).
TEST(Rope, EtagOfSeveralRunsIsPinned) {
    RopeBuilder b;
    for (int i = 0; i < 300; ++i) b.share(piece("BEGIN:VEVENT\r\nUID:" + std::to_string(i) + "\r\nEND:VEVENT\r\n"));
    const Rope rope = std::move(b).finish();
    ASSERT_EQ(rope.blocks().size(), 3u);
    EXPECT_EQ(strong_etag(rope), "\"34465b5e09521aae-2896\"");
}

// Pieces live as long as every document sharing them: what appending left spare must not stay
// allocated with them (rendered entries kept up to twice their bytes).
TEST(Rope, PiecesHoldNoSpareCapacity) {
    std::string grown;
    for (int i = 0; i < 300; ++i) grown += "DESCRIPTION:folded line " + std::to_string(i) + "\r\n";
    std::string spare = grown;
    spare.reserve(2 * grown.size());  // as appending leaves it
    const Piece piece = make_piece(std::move(spare));
    EXPECT_LT(piece->capacity(), piece->size() + 16) << piece->size() << " bytes in " << piece->capacity();
    EXPECT_EQ(piece->str(), grown);

    RopeBuilder b;
    for (int i = 0; i < 300; ++i) b.append("<entry>" + std::to_string(i) + "</entry>\n");
    b.share(make_piece("shared"));
    const Rope rope = std::move(b).finish();
    ASSERT_EQ(rope.pieces().size(), 2u);
    EXPECT_LT(rope.pieces().front()->capacity(), rope.pieces().front()->size() + 16);
    spare = grown;
    spare.reserve(2 * grown.size());
    EXPECT_LT(Rope(std::move(spare)).pieces().front()->capacity(), grown.size() + 16);
}

TEST(Rope, EmptyAndSinglePiece) {
    EXPECT_TRUE(Rope().empty());
    EXPECT_TRUE(Rope("").pieces().empty());
    EXPECT_EQ(Rope(""), "");
    EXPECT_EQ(std::move(RopeBuilder()).finish().size(), 0u);
    const Rope one("abc");
    ASSERT_EQ(one.pieces().size(), 1u);
    EXPECT_EQ(one.flat(), one.pieces().front());  // the piece itself, not a copy
    const Rope two = std::move(RopeBuilder().share(piece("a")).share(piece("bc"))).finish();
    EXPECT_EQ(two.flat()->str(), "abc");
    EXPECT_EQ(two, one);
}

// The tag is computed from the pieces' own hashes, made once with each piece: the same pieces give
// the same tag on every machine, any changed byte changes it, and a one-piece document's tag is its
// bytes' (strong_etag(string_view)).
TEST(Rope, EtagComesFromThePiecesHashes) {
    RopeBuilder a, b;
    for (int i = 0; i < 500; ++i) {
        const std::string entry = "BEGIN:VEVENT\r\nUID:" + std::to_string(i) + "\r\nEND:VEVENT\r\n";
        a.share(piece(entry));
        b.share(piece(i == 250 ? "BEGIN:VEVENT\r\nUID:250\r\nEND:VEVENS\r\n" : entry));
    }
    const Rope rope = std::move(a).finish();
    ASSERT_EQ(rope.pieces().size(), 500u);
    EXPECT_EQ(rope.pieces()[7]->hash(), piece(rope.pieces()[7]->str())->hash());
    EXPECT_NE(rope.pieces()[7]->hash(), rope.pieces()[8]->hash());
    const Rope same = std::move(RopeBuilder().share(piece(rope.pieces()[0]->str()))).finish();
    RopeBuilder copy;
    for (const auto& p : rope.pieces()) copy.share(piece(p->str()));
    EXPECT_EQ(strong_etag(rope), strong_etag(std::move(copy).finish()));
    EXPECT_NE(strong_etag(rope), strong_etag(std::move(b).finish()));  // one byte of 25,000
    EXPECT_EQ(strong_etag(same), strong_etag(std::string_view(rope.pieces()[0]->str())));
    // Pinned: XXH3-64 of the little-endian words XXH3-128("abc").low, .high, 3.
    EXPECT_EQ(strong_etag(Rope("abc")), "\"c2406917ed28dc80-3\"");
    EXPECT_EQ(strong_etag(std::string_view("abc")), "\"c2406917ed28dc80-3\"");
    EXPECT_EQ(strong_etag(Rope()), "\"2d06800538d394c2-0\"");  // XXH3-64 of nothing
    EXPECT_EQ(strong_etag(Rope()), strong_etag(std::string_view()));
}

// A patch is the rope a builder makes of the patched sequence of pieces: the same pieces, the same
// runs (so the same ETag), whether the edits keep their ranges' sizes or not, and it shares every run
// the edits leave where it was.
TEST(Rope, PatchIsTheRopeBuiltFromThePatchedPieces) {
    std::vector<Piece> pieces;
    for (int i = 0; i < 1000; ++i) pieces.push_back(make_piece("p" + std::to_string(i) + ";"));
    const auto build = [](const std::vector<Piece>& sequence) {
        RopeBuilder b;
        for (const auto& p : sequence) b.share(p);
        return std::move(b).finish();
    };
    const auto runs = [](const Rope& rope) {
        std::vector<std::pair<std::size_t, PieceHash>> out;
        for (const auto& block : rope.blocks()) out.emplace_back(block->size, block->hash);
        return out;
    };
    const Rope base = build(pieces);
    const auto check = [&](const std::vector<RopeEdit>& edits) {
        std::vector<Piece> expected;
        std::size_t at = 0;
        for (const auto& e : edits) {
            expected.insert(expected.end(), pieces.begin() + static_cast<std::ptrdiff_t>(at), pieces.begin() + static_cast<std::ptrdiff_t>(e.begin));
            for (const auto& p : e.pieces)
                if (p && !p->empty()) expected.push_back(p);
            at = e.end;
        }
        expected.insert(expected.end(), pieces.begin() + static_cast<std::ptrdiff_t>(at), pieces.end());
        const Rope patched = patch_rope(base, edits);
        const Rope built = build(expected);
        EXPECT_EQ(patched.str(), built.str());
        EXPECT_EQ(patched.size(), built.size());
        EXPECT_EQ(patched.piece_count(), built.piece_count());
        EXPECT_EQ(patched.pieces(), built.pieces());
        EXPECT_EQ(runs(patched), runs(built));
        return patched;
    };
    const Piece x = make_piece("x"), yy = make_piece("yy"), empty = make_piece("");
    // The same number of pieces: only the runs touched are new.
    const Rope same = check({{5, 6, {x}}, {300, 302, {yy, empty, x}}, {999, 1000, {yy}}});
    ASSERT_EQ(same.blocks().size(), base.blocks().size());
    for (std::size_t k = 0; k < base.blocks().size(); ++k)
        EXPECT_EQ(same.blocks()[k] == base.blocks()[k], k != 0 && k != 2 && k != 7) << k;
    // More or fewer pieces: the runs before the first edit are shared, the later ones move.
    const Rope more = check({{700, 701, {x, yy}}});
    for (std::size_t k = 0; k < 5; ++k) EXPECT_EQ(more.blocks()[k], base.blocks()[k]) << k;
    check({{0, 3, {x}}, {500, 500, {yy}}, {998, 1000, {}}});
    check({{1000, 1000, {x, yy}}});
    check({});
}

}  // namespace
}  // namespace almanac
