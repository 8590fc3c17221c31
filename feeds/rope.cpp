#include "feeds/rope.hpp"

#include <algorithm>
#include <array>
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

namespace {

Block make_block(std::vector<Piece> pieces) {
    auto block = std::make_shared<RopeBlock>();
    std::array<std::uint64_t, 3 * block_pieces> words{};
    std::size_t n = 0;
    for (const auto& piece : pieces) {
        block->size += piece->size();
        if (n + 3 > words.size()) continue;  // never: a run holds at most block_pieces pieces
        words[n++] = little_endian(piece->hash().low);
        words[n++] = little_endian(piece->hash().high);
        words[n++] = little_endian(static_cast<std::uint64_t>(piece->size()));
    }
    const XXH128_hash_t h = XXH3_128bits(words.data(), n * sizeof(std::uint64_t));
    block->hash = {h.low64, h.high64};
    block->pieces = std::move(pieces);
    return block;
}

}  // namespace

Rope::Rope(std::string text) : Rope(text.empty() ? nullptr : make_piece(std::move(text))) {}

Rope::Rope(Piece piece) {
    if (!piece || piece->empty()) return;
    size_ = piece->size();
    piece_count_ = 1;
    blocks_.push_back(make_block({std::move(piece)}));
}

std::vector<Piece> Rope::pieces() const {
    std::vector<Piece> out;
    out.reserve(piece_count_);
    for_each_piece([&](const Piece& piece) { out.push_back(piece); });
    return out;
}

std::string Rope::str() const {
    std::string out;
    out.reserve(size_);
    for_each_piece([&](const Piece& piece) { out += piece->str(); });
    return out;
}

Piece Rope::flat() const {
    if (piece_count_ == 1) return front();
    return make_piece(str());
}

bool operator==(const Rope& a, std::string_view b) {
    if (a.size_ != b.size()) return false;
    std::size_t at = 0;
    for (const auto& block : a.blocks_) {
        for (const auto& piece : block->pieces) {
            if (b.compare(at, piece->size(), piece->str()) != 0) return false;
            at += piece->size();
        }
    }
    return true;
}

bool operator==(const Rope& a, const Rope& b) {
    if (a.size_ != b.size_) return false;
    if (a.piece_count_ == 1) return b == a.front()->str();
    return a == std::string_view(b.str());
}

std::ostream& operator<<(std::ostream& out, const Rope& rope) {
    rope.for_each_piece([&](const Piece& piece) { out << piece->str(); });
    return out;
}

RopeBuilder& RopeBuilder::append(std::string_view text) {
    pending_ += text;
    return *this;
}

RopeBuilder& RopeBuilder::share(const Piece& piece) {
    if (!piece) return *this;
    flush();
    add(piece);  // which drops an empty piece
    return *this;
}

const RopeBlock* RopeBuilder::candidate() const {
    const std::size_t k = rope_.blocks_.size();
    return previous_ && k < previous_->blocks_.size() ? previous_->blocks_[k].get() : nullptr;
}

void RopeBuilder::flush() {
    if (pending_.empty()) return;
    // The text the previous rope has at this place, when it is the same text: its piece, so that
    // the run can still be that rope's.
    const RopeBlock* c = candidate();
    const std::size_t at = matching_ ? matched_ : run_.size();
    if (c && at < c->pieces.size() && c->pieces[at]->str() == pending_)
        last_text_ = c->pieces[at];
    else if (!last_text_ || last_text_->str() != pending_)
        last_text_ = make_piece(std::move(pending_));
    pending_.clear();
    add(last_text_);
}

void RopeBuilder::add(const Piece& piece) {
    const RopeBlock* c = matching_ ? candidate() : nullptr;
    // The candidate's piece: not empty, and its size is counted with its run's. Only the pointers
    // are compared, so an unchanged piece's bytes are not even read.
    if (c && matched_ < c->pieces.size() && c->pieces[matched_].get() == piece.get()) {
        if (++matched_ == block_pieces) close_run();
        return;
    }
    if (piece->empty()) return;  // nothing, and no reason for a new run
    if (matching_) {
        // Another piece: the run is a new one, starting with what matched so far.
        matching_ = false;
        run_.reserve(block_pieces);
        if (c) {
            run_.assign(c->pieces.begin(), c->pieces.begin() + static_cast<std::ptrdiff_t>(matched_));
            for (const auto& p : run_) run_size_ += p->size();
        }
    }
    run_.push_back(piece);
    run_size_ += piece->size();
    if (run_.size() == block_pieces) close_run();
}

void RopeBuilder::close_run() {
    std::size_t count = 0;
    if (matching_) {
        count = matched_;
        if (count == 0) return;
        const RopeBlock* c = candidate();
        if (count == c->pieces.size()) {
            rope_.blocks_.push_back(previous_->blocks_[rope_.blocks_.size()]);
        } else {  // the rope ends inside the previous rope's run: a run of its own
            rope_.blocks_.push_back(
                make_block(std::vector<Piece>(c->pieces.begin(), c->pieces.begin() + static_cast<std::ptrdiff_t>(count))));
        }
        run_size_ = rope_.blocks_.back()->size;
    } else {
        count = run_.size();
        if (count == 0) {  // never left matching but for empty pieces: no run
            matching_ = true;
            return;
        }
        rope_.blocks_.push_back(make_block(std::move(run_)));
        run_ = {};
    }
    rope_.size_ += run_size_;
    rope_.piece_count_ += count;
    run_size_ = 0;
    matched_ = 0;
    matching_ = true;
}

std::size_t RopeBuilder::mark() {
    flush();
    return rope_.piece_count_ + (matching_ ? matched_ : run_.size());
}

Rope RopeBuilder::finish() && {
    flush();
    close_run();
    return std::move(rope_);
}

std::size_t kept_pieces(const std::vector<Piece>& pieces) {
    return static_cast<std::size_t>(
        std::count_if(pieces.begin(), pieces.end(), [](const Piece& piece) { return piece && !piece->empty(); }));
}

Rope patch_rope(const Rope& base, const std::vector<RopeEdit>& edits) {
    const bool same_places = std::all_of(edits.begin(), edits.end(),
                                         [](const RopeEdit& e) { return kept_pieces(e.pieces) == e.end - e.begin; });
    if (!same_places) {
        // Every piece from the first edit on moves: built again, sharing the runs before it.
        RopeBuilder builder(&base);
        const auto add = [&](const std::vector<Piece>& pieces) {
            for (const auto& p : pieces) builder.share(p);
        };
        std::size_t at = 0;
        auto edit = edits.begin();
        base.for_each_piece([&](const Piece& piece) {
            for (; edit != edits.end() && edit->begin == at && edit->end == at; ++edit) add(edit->pieces);  // insertions
            if (edit != edits.end() && edit->begin <= at && at < edit->end) {
                if (at == edit->begin) add(edit->pieces);
                if (at + 1 == edit->end) ++edit;
            } else {
                builder.share(piece);
            }
            ++at;
        });
        for (; edit != edits.end(); ++edit) add(edit->pieces);  // insertions at the end
        return std::move(builder).finish();
    }
    // The same number of pieces everywhere: each run stays where it is, and those an edit touches
    // are made again.
    Rope rope = base;
    for (const auto& edit : edits) {
        if (edit.begin == edit.end) continue;
        std::size_t at = edit.begin;
        auto piece = edit.pieces.begin();
        while (at < edit.end) {
            const std::size_t k = at / block_pieces;
            std::vector<Piece> pieces = rope.blocks_[k]->pieces;
            for (; at < edit.end && at < (k + 1) * block_pieces; ++at) {
                while (!*piece || (*piece)->empty()) ++piece;
                pieces[at - k * block_pieces] = *piece++;
            }
            rope.size_ -= rope.blocks_[k]->size;
            rope.blocks_[k] = make_block(std::move(pieces));
            rope.size_ += rope.blocks_[k]->size;
        }
    }
    return rope;
}

}  // namespace almanac
