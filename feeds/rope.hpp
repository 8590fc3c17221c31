// A document's bytes as a sequence of shared, immutable pieces. A feed of ten thousand entries is
// its head, each entry's cached bytes and its tail: assembling it after an edit shares the entries
// that did not change instead of copying tens of megabytes, and the server writes the pieces with
// scatter-gather I/O. The bytes are the concatenation of the pieces. Each piece is hashed once, when
// it is made, and each run of pieces (RopeBlock) when it is made: a document's ETag
// (feeds/publisher.hpp) comes from its runs' hashes (a rope of one run: its pieces') and its gzip
// chunks (daemon/compression.hpp) from its pieces' hashes, so an edit hashes the entries it
// changed, not 25 MB again.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace almanac {

// `v` as a little-endian word: hashes of hashes are made of these, so they are the same on every
// machine.
inline std::uint64_t little_endian(std::uint64_t v) {
    if constexpr (std::endian::native == std::endian::little) return v;
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= ((v >> (8 * i)) & 0xFF) << (8 * (7 - i));
    return r;
}

// XXH3-128 of a piece's bytes: the same on every machine.
struct PieceHash {
    std::uint64_t low = 0;
    std::uint64_t high = 0;
    friend bool operator==(const PieceHash&, const PieceHash&) = default;
};

// Immutable bytes and their hash.
class PieceText {
public:
    explicit PieceText(std::string text);
    const std::string& str() const { return text_; }
    operator std::string_view() const { return text_; }  // NOLINT(google-explicit-constructor): reads as the bytes
    const char* data() const { return text_.data(); }
    std::size_t size() const { return text_.size(); }
    bool empty() const { return text_.empty(); }
    std::size_t capacity() const { return text_.capacity(); }
    const PieceHash& hash() const { return hash_; }

private:
    std::string text_;
    PieceHash hash_;
};

using Piece = std::shared_ptr<const PieceText>;

// A piece holding `text`, without the spare capacity appending left in it: a piece lives as long as
// the documents sharing it, and rendered entries grown by appends kept up to twice their size.
Piece make_piece(std::string text);

// Pieces in runs of at most block_pieces, each run shared between the ropes that hold it: a
// document rendered again after an edit keeps every run whose pieces are all the same (RopeBuilder's
// `previous`), instead of copying the 30,000 piece pointers of a 10,000-event calendar, and its ETag
// and destruction walk the runs, not the pieces. Runs start every block_pieces pieces, so where
// they fall depends only on the sequence of pieces, never on what was built before.
struct RopeBlock {
    std::vector<Piece> pieces;  // never empty pieces
    std::size_t size = 0;       // bytes
    PieceHash hash;             // XXH3-128 of the pieces' hashes and lengths
};
using Block = std::shared_ptr<const RopeBlock>;
constexpr std::size_t block_pieces = 128;

struct RopeEdit;

class Rope {
public:
    Rope() = default;
    // One piece holding `text`.
    explicit Rope(std::string text);
    explicit Rope(Piece piece);

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::size_t piece_count() const { return piece_count_; }
    const std::vector<Block>& blocks() const { return blocks_; }
    // Calls f(const Piece&) for each piece, in order.
    template <class F>
    void for_each_piece(F&& f) const {
        for (const auto& block : blocks_)
            for (const auto& piece : block->pieces) f(piece);
    }
    // The pieces, copied into one list: for tests and for ropes of a few pieces.
    std::vector<Piece> pieces() const;
    // The first piece (null when empty): the whole rope when piece_count() is 1.
    Piece front() const { return blocks_.empty() ? nullptr : blocks_.front()->pieces.front(); }

    // The bytes in one string (a copy).
    std::string str() const;
    // The bytes as one piece: the only piece itself when there is one, else a copy.
    Piece flat() const;

    friend bool operator==(const Rope& a, const Rope& b);
    friend bool operator==(const Rope& a, std::string_view b);

private:
    friend class RopeBuilder;
    friend Rope patch_rope(const Rope& base, const std::vector<RopeEdit>& edits);
    std::vector<Block> blocks_;
    std::size_t size_ = 0;
    std::size_t piece_count_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Rope& rope);

// Appends text and shared pieces. Short text between shared pieces is gathered into pieces of its
// own; text next to text is merged, so a rope built from many small appends has few pieces. Text
// equal to the text gathered last (the ",\n" between a JSON feed's entries) shares that piece
// instead of making one more: the same bytes and hashes, 10,000 fewer allocations a document.
//
// Given the rope built before for the same document, a run of the new rope whose pieces are the
// same pieces, at the same place, is that rope's run, shared whole; a text equal to the text there
// shares its piece. The bytes, the pieces and so the ETag are those of a rope built without it.
class RopeBuilder {
public:
    explicit RopeBuilder(const Rope* previous = nullptr) : previous_(previous) {}
    // Copies `text` into the rope.
    RopeBuilder& append(std::string_view text);
    // Shares `piece` (null or empty: nothing).
    RopeBuilder& share(const Piece& piece);
    // The number of pieces so far, the text appended since the last piece made into one first: where
    // the next shared piece will be (a patch of this rope, patch_rope, is given such places).
    std::size_t mark();
    Rope finish() &&;

private:
    void flush();
    void add(const Piece& piece);
    // The previous rope's run at this run's place, or null.
    const RopeBlock* candidate() const;
    void close_run();

    Rope rope_;
    std::string pending_;
    Piece last_text_;  // the piece flush() made last
    const Rope* previous_;
    // The run being built: while its pieces are the candidate's (matched_ of them), none is copied.
    std::vector<Piece> run_;
    std::size_t matched_ = 0;
    bool matching_ = true;
    std::size_t run_size_ = 0;
};

// Pieces [begin, end) of a rope replaced by `pieces` (patch_rope).
struct RopeEdit {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::vector<Piece> pieces;
};

// The pieces of `pieces` a rope holds: those not null and not empty.
std::size_t kept_pieces(const std::vector<Piece>& pieces);

// `base` with each edit's pieces in place of its range (edits in order, not overlapping, inside the
// rope; empty pieces dropped): the rope a RopeBuilder makes of that sequence of pieces, runs and
// ETag included, sharing base's runs where their pieces stay at the same place. An edit that keeps
// its range's number of pieces makes only the runs it falls in; one that does not makes every later
// run new, as a render does. An entry edited in a 10,000-entry document costs a run, not a walk of
// its 30,000 pieces.
Rope patch_rope(const Rope& base, const std::vector<RopeEdit>& edits);

}  // namespace almanac
