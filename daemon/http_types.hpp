// The request and response the request handler sees: plain values with no Beast types, so the
// handler is a pure function of (snapshot, request) and the server only moves bytes.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "daemon/sealed_file.hpp"
#include "feeds/rope.hpp"

namespace almanac {

struct Request {
    std::string method;  // "GET", "HEAD", … as sent
    std::string target;  // as sent: origin-form "/tz/Europe/Berlin/events.ics?tag=x" or absolute-form
    std::string if_none_match;
    std::string if_modified_since;
    std::string accept_encoding;
    // Filled for OPTIONS only: an OPTIONS request with it is a CORS preflight.
    std::string access_control_request_method;
};

// A response body: bytes shared with the snapshot, never copied, either one string or a rope of
// pieces (a large document assembled from cached entries), the rope possibly also in a sealed file
// the server sends with sendfile(2). Null means empty.
class Body {
public:
    Body() = default;
    Body(std::nullptr_t) {}                                                    // NOLINT(google-explicit-constructor)
    Body(std::shared_ptr<const std::string> text) : text_(std::move(text)) {}  // NOLINT(google-explicit-constructor)
    Body(std::shared_ptr<const Rope> rope) : rope_(std::move(rope)) {}         // NOLINT(google-explicit-constructor)
    // `rope`, whose bytes `file` holds too (null: none does).
    Body(std::shared_ptr<const Rope> rope, std::shared_ptr<const SealedFile> file)
        : rope_(std::move(rope)), file_(std::move(file)) {}

    explicit operator bool() const { return text_ || rope_; }
    std::size_t size() const { return text_ ? text_->size() : rope_ ? rope_->size()
                                                                    : 0; }
    // Calls f(std::string_view) for each non-empty piece, in order.
    template <class F>
    void for_each_piece(F&& f) const {
        if (text_ && !text_->empty()) f(std::string_view(*text_));
        if (rope_)
            rope_->for_each_piece([&](const Piece& piece) { f(piece->str()); });
    }
    // The same bytes in a sealed file, or null.
    const std::shared_ptr<const SealedFile>& file() const { return file_; }
    // The bytes in one string (a copy: for tests and small bodies).
    std::string str() const { return text_ ? *text_ : rope_ ? rope_->str()
                                                            : std::string(); }

private:
    std::shared_ptr<const std::string> text_;
    std::shared_ptr<const Rope> rope_;
    std::shared_ptr<const SealedFile> file_;
};

// A header field's value, made without an allocation where it can be: a view of a literal, a view
// of text Response::keep holds (a document's ETag and dates), a short text kept inline (a
// Cache-Control), or else a string of its own.
class FieldValue {
public:
    // Text made at run time: kept inline when short, else in a string.
    FieldValue(std::string text) {  // NOLINT(google-explicit-constructor)
        if (text.size() <= inline_bytes) {
            set_inline(text);
        } else {
            owned_ = std::move(text);
            kind_ = Kind::owned;
        }
    }
    // A string literal's view (it outlives everything). Not for a char array that does not outlive
    // the response: give that to copy().
    template <std::size_t N>
    FieldValue(const char (&literal)[N]) : view_(literal, N - 1), kind_(Kind::view) {}  // NOLINT(google-explicit-constructor)
    // A view of `text`, which must outlive the response: the response's `keep` holds its owner.
    static FieldValue borrow(std::string_view text) {
        FieldValue v;
        v.view_ = text;
        v.kind_ = Kind::view;
        return v;
    }
    // A copy of short text (inline when it fits: no allocation).
    static FieldValue copy(std::string_view text) {
        if (text.size() > inline_bytes) return FieldValue(std::string(text));
        FieldValue v;
        v.set_inline(text);
        return v;
    }

    std::string_view view() const {
        switch (kind_) {
            case Kind::view: return view_;
            case Kind::short_text: return {short_.data(), short_size_};
            case Kind::owned: break;
        }
        return owned_;
    }
    std::string str() const { return std::string(view()); }

private:
    static constexpr std::size_t inline_bytes = 40;
    enum class Kind : unsigned char { view,
                                      short_text,
                                      owned };
    FieldValue() = default;
    void set_inline(std::string_view text) {
        text.copy(short_.data(), text.size());
        short_size_ = static_cast<unsigned char>(text.size());
        kind_ = Kind::short_text;
    }

    std::string_view view_;
    std::string owned_;
    std::array<char, inline_bytes> short_{};
    unsigned char short_size_ = 0;
    Kind kind_ = Kind::view;
};

struct Response {
    unsigned status = 200;
    // Every header except Content-Length, Connection, Date and Server, which the server adds. The
    // names are string literals (they outlive the response), so that naming a field allocates nothing;
    // a feed's answer (ten fields at most) is held inline, so that the list allocates nothing either.
    boost::container::small_vector<std::pair<std::string_view, FieldValue>, 10> headers;
    // What borrowed field values point into (FieldValue::borrow): kept until the head is written.
    std::shared_ptr<const void> keep;
    // The representation's bytes (shared with the snapshot, never copied); null means empty. For HEAD
    // the server sends Content-Length of this body but not the body itself.
    Body body;
    bool head = false;
    std::string route;  // metrics label: "feed", "index", "healthz", "metrics", "other"
};

}  // namespace almanac
