// A document's bytes as a sequence of shared, immutable pieces. A feed of ten thousand entries is
// its head, each entry's cached bytes and its tail: assembling it after an edit shares the entries
// that did not change instead of copying tens of megabytes, and the server writes the pieces with
// scatter-gather I/O. The bytes are the concatenation of the pieces. Each piece is hashed once, when
// it is made: a document's ETag (feeds/publisher.hpp) and its gzip chunks (daemon/compression.hpp)
// are computed from its pieces' hashes, so an edit hashes the entries it changed, not 25 MB again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace almanac {

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

class Rope {
public:
    Rope() = default;
    // One piece holding `text`.
    explicit Rope(std::string text);
    explicit Rope(Piece piece);

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // Never empty pieces.
    const std::vector<Piece>& pieces() const { return pieces_; }

    // The bytes in one string (a copy).
    std::string str() const;
    // The bytes as one piece: the only piece itself when there is one, else a copy.
    Piece flat() const;

    friend bool operator==(const Rope& a, const Rope& b);
    friend bool operator==(const Rope& a, std::string_view b);

private:
    friend class RopeBuilder;
    std::vector<Piece> pieces_;
    std::size_t size_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Rope& rope);

// Appends text and shared pieces. Short text between shared pieces is gathered into pieces of its
// own; text next to text is merged, so a rope built from many small appends has few pieces. Text
// equal to the text gathered last (the ",\n" between a JSON feed's entries) shares that piece
// instead of making one more: the same bytes and hashes, 10,000 fewer allocations a document.
class RopeBuilder {
public:
    // Copies `text` into the rope.
    RopeBuilder& append(std::string_view text);
    // Shares `piece` (null or empty: nothing).
    RopeBuilder& share(Piece piece);
    // Room for `pieces` pieces, where the caller knows how many will come.
    void reserve(std::size_t pieces) { rope_.pieces_.reserve(pieces); }
    std::size_t size() const { return rope_.size_ + pending_.size(); }
    Rope finish() &&;

private:
    void flush();
    Rope rope_;
    std::string pending_;
    Piece last_text_;  // the piece flush() made last
};

}  // namespace almanac
