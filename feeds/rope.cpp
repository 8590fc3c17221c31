#include "feeds/rope.hpp"

#include <ostream>
#include <utility>

#include <xxhash.h>

namespace almanac {

PieceText::PieceText(std::string text) : text_(std::move(text)) {
    text_.shrink_to_fit();
    const XXH128_hash_t h = XXH3_128bits(text_.data(), text_.size());
    hash_ = {h.low64, h.high64};
}

Piece make_piece(std::string text) { return std::make_shared<const PieceText>(std::move(text)); }

Rope::Rope(std::string text) {
    if (text.empty()) return;
    size_ = text.size();
    pieces_.push_back(make_piece(std::move(text)));
}

Rope::Rope(Piece piece) {
    if (!piece || piece->empty()) return;
    size_ = piece->size();
    pieces_.push_back(std::move(piece));
}

std::string Rope::str() const {
    std::string out;
    out.reserve(size_);
    for (const auto& piece : pieces_) out += piece->str();
    return out;
}

Piece Rope::flat() const {
    if (pieces_.size() == 1) return pieces_.front();
    return make_piece(str());
}

bool operator==(const Rope& a, std::string_view b) {
    if (a.size_ != b.size()) return false;
    std::size_t at = 0;
    for (const auto& piece : a.pieces_) {
        if (b.compare(at, piece->size(), piece->str()) != 0) return false;
        at += piece->size();
    }
    return true;
}

bool operator==(const Rope& a, const Rope& b) {
    if (a.size_ != b.size_) return false;
    if (a.pieces_.size() == 1) return b == a.pieces_.front()->str();
    return a == std::string_view(b.str());
}

std::ostream& operator<<(std::ostream& out, const Rope& rope) {
    for (const auto& piece : rope.pieces()) out << piece->str();
    return out;
}

RopeBuilder& RopeBuilder::append(std::string_view text) {
    pending_ += text;
    return *this;
}

RopeBuilder& RopeBuilder::share(Piece piece) {
    if (!piece || piece->empty()) return *this;
    flush();
    rope_.size_ += piece->size();
    rope_.pieces_.push_back(std::move(piece));
    return *this;
}

void RopeBuilder::flush() {
    if (pending_.empty()) return;
    rope_.size_ += pending_.size();
    if (!last_text_ || last_text_->str() != pending_) last_text_ = make_piece(std::move(pending_));
    rope_.pieces_.push_back(last_text_);
    pending_.clear();
}

Rope RopeBuilder::finish() && {
    flush();
    return std::move(rope_);
}

}  // namespace almanac
